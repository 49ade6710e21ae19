/*
 * reaper.cpp — remove the leftovers of crashed runs by prefix (see reaper.hpp).
 *
 * Order matters: processes first (they pin namespaces and could respawn things), then the bind
 * mounts and files on /run/netns, then stray mounts under /run/netns/<prefix>* whose file is gone,
 * then root-namespace links and nft tables named with the prefix, then owner files.
 * Invariant: nothing whose name does not start with the validated "pgaf-" prefix is touched, and
 * networks whose owner process is alive are skipped unless asked.
 */
#include "pgaf/netns/reaper.hpp"

#include <dirent.h>
#include <sys/mount.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "internal.hpp"

namespace pgaf::netns {

using namespace detail;

namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

/* The network prefix of a namespace name: everything up to and including its last '-'. */
std::string network_prefix_of(const std::string& ns) {
  auto pos = ns.rfind('-');
  return pos == std::string::npos ? ns : ns.substr(0, pos + 1);
}

/* Mount points (from /proc/self/mountinfo) under /run/netns/ that start with prefix. */
std::vector<std::string> stray_mounts(std::string_view prefix) {
  std::vector<std::string> out;
  std::istringstream in(read_file("/proc/self/mountinfo"));
  std::string line;
  const std::string want = std::string(kNetnsDir) + "/" + std::string(prefix);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, mountpoint;
    if (!(f >> id >> parent >> devno >> root >> mountpoint)) continue;
    if (starts_with(mountpoint, want)) out.push_back(mountpoint);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

bool ReapReport::empty() const {
  return namespaces.empty() && processes.empty() && mounts.empty() && links.empty() &&
         nft_tables.empty();
}

std::string ReapReport::to_string() const {
  std::string s;
  auto section = [&](const char* title, const std::vector<std::string>& v) {
    for (const auto& x : v) s += std::string(title) + ": " + x + "\n";
  };
  section("killed process", processes);
  section("removed namespace", namespaces);
  section("unmounted", mounts);
  section("removed link", links);
  section("removed nft table", nft_tables);
  section("skipped live network", skipped_live);
  if (s.empty()) s = "nothing to reap\n";
  return s;
}

Status validate_family_prefix(std::string_view prefix) {
  static const std::regex re("^pgaf-[a-z0-9-]*$");
  if (!std::regex_match(prefix.begin(), prefix.end(), re))
    return make_error(ErrorCode::InvalidArgument,
                      "invalid reap prefix \"" + std::string(prefix) + "\"",
                      "the prefix must start with \"pgaf-\" and contain only [a-z0-9-]");
  return Status::Ok();
}

std::vector<std::string> list_namespaces(std::string_view prefix) {
  std::vector<std::string> out;
  DIR* d = ::opendir(kNetnsDir);
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (starts_with(n, prefix)) out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Result<ReapReport> reap(std::string_view prefix, const ReapOptions& options) {
  if (auto st = validate_family_prefix(prefix); !st.ok()) return st.error();
  ReapReport report;

  std::vector<std::string> live;
  std::vector<std::string> dead_owners;
  for (const auto& o : list_owners(prefix)) {
    if (o.alive && !options.include_live) {
      live.push_back(o.prefix);
      report.skipped_live.push_back(o.prefix);
    } else {
      dead_owners.push_back(o.prefix);
    }
  }
  auto is_live = [&](const std::string& name) {
    return std::find(live.begin(), live.end(), network_prefix_of(name)) != live.end();
  };

  /* 1. processes in the namespaces */
  std::vector<std::string> victims;
  std::vector<NsId> ids;
  std::vector<std::string> id_names;
  for (const auto& n : list_namespaces(prefix)) {
    if (is_live(n)) continue;
    victims.push_back(n);
    if (auto id = named_netns_id(n); id.ok()) {
      ids.push_back(*id);
      id_names.push_back(n);
    }
  }
  Killed k = kill_processes_in(ids, id_names, options.kill_timeout);
  report.processes = k.processes;
  if (!k.all_gone)
    return make_error(ErrorCode::Timeout,
                      "processes in namespaces \"" + std::string(prefix) + "*\" survived SIGKILL",
                      "look for processes in uninterruptible sleep (state D)");

  /* 2. namespaces */
  for (const auto& n : victims) {
    if (auto st = remove_named_netns(n); !st.ok()) return st.error();
    report.namespaces.push_back(n);
  }
  /* 3. stray mounts (file gone, mount left) */
  for (const auto& m : stray_mounts(prefix)) {
    const std::string name = m.substr(std::string(kNetnsDir).size() + 1);
    if (is_live(name)) continue;
    if (::umount2(m.c_str(), MNT_DETACH) == 0) report.mounts.push_back(m);
  }

  /* 4. root-namespace links (only names that fit IFNAMSIZ can match) */
  auto names = nl_link_names();
  if (!names.ok()) return names.error();
  for (const auto& l : *names) {
    if (!starts_with(l, prefix) || is_live(l)) continue;
    Status st = nl_delete_link(l);
    if (!st.ok() && st.error().code == ErrorCode::UnknownNode) continue; /* went with its peer */
    if (!st.ok()) return st.error();
    report.links.push_back(l);
  }

  /* 5. root-namespace nft tables, deleted by handle (names may need quoting) */
  auto listing = nft_run("list tables\n", /*json=*/true);
  if (!listing.ok()) return listing.error();
  nlohmann::json j = nlohmann::json::parse(*listing, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("nftables") && j["nftables"].is_array()) {
    for (const auto& item : j["nftables"]) {
      if (!item.contains("table")) continue;
      const auto& t = item["table"];
      const std::string name = t.value("name", "");
      const std::string family = t.value("family", "");
      if (!starts_with(name, prefix) || is_live(name)) continue;
      const auto handle = t.value("handle", 0LL);
      auto r = nft_run("delete table " + family + " handle " + std::to_string(handle) + "\n");
      if (!r.ok()) return r.error();
      report.nft_tables.push_back(family + " " + name);
    }
  }

  /* 6. owner files of the networks we reaped */
  for (const auto& p : dead_owners) remove_owner_file(p);
  return report;
}

}  // namespace pgaf::netns
