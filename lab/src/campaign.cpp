/*
 * campaign.cpp — campaign files (YAML → Campaign, validated, every rejection naming file, line and
 * field), the seeded schedule generator, its scenario YAML, seed ranges and shards. See
 * campaign.hpp for the invariants (portable determinism above all).
 */
#include "pgaf/lab/campaign.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "yaml_fields.hpp"

namespace pgaf::lab {

/* ---------------- PRNG ---------------- */

std::uint64_t CampaignRng::below(std::uint64_t n) {
  if (n <= 1) return 0;
  /* reject the top partial block so every residue is equally likely */
  const std::uint64_t limit =
      std::numeric_limits<std::uint64_t>::max() - (std::numeric_limits<std::uint64_t>::max() % n);
  std::uint64_t x = g_();
  while (x >= limit) x = g_();
  return x % n;
}

std::int64_t CampaignRng::between(std::int64_t lo, std::int64_t hi) {
  if (hi <= lo) return lo;
  const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
  return lo + static_cast<std::int64_t>(below(span));
}

bool CampaignRng::percent(int p) {
  return static_cast<int>(below(100)) < p;
}

size_t CampaignRng::weighted(const std::vector<int>& weights) {
  std::uint64_t total = 0;
  for (int w : weights) total += static_cast<std::uint64_t>(std::max(0, w));
  std::uint64_t x = below(total);
  for (size_t i = 0; i < weights.size(); ++i) {
    const auto w = static_cast<std::uint64_t>(std::max(0, weights[i]));
    if (x < w) return i;
    x -= w;
  }
  return weights.empty() ? 0 : weights.size() - 1;
}

/* ---------------- parsing ---------------- */

namespace {

using yamlf::fail;
using yamlf::ParseError;
using yamlf::sub;

/* [lo, hi] of durations or integers; a single value means lo == hi. */
template <class F>
IntRange range_of(const YAML::Node& n, const std::string& field, F one) {
  IntRange r;
  if (n.IsSequence()) {
    if (n.size() != 2) fail(n, field, "must be [min, max] or one value");
    r.lo = one(n[0], field + "[0]");
    r.hi = one(n[1], field + "[1]");
    if (r.hi < r.lo) fail(n, field, "max is below min");
  } else {
    r.lo = r.hi = one(n, field);
  }
  return r;
}

IntRange duration_range(const YAML::Node& n, const std::string& field, TimeMs lo, TimeMs hi) {
  return range_of(n, field, [&](const YAML::Node& x, const std::string& f) {
    return yamlf::get_duration(x, f, lo, hi);
  });
}

IntRange int_range(const YAML::Node& n, const std::string& field, std::int64_t lo,
                   std::int64_t hi) {
  return range_of(n, field, [&](const YAML::Node& x, const std::string& f) {
    return yamlf::get_int(x, f, lo, hi);
  });
}

/* A non-empty list of names from `allowed` (one name alone is a list of one). */
std::vector<std::string> choices(const YAML::Node& n, const std::string& field,
                                 const std::vector<std::string>& allowed) {
  std::vector<std::string> out;
  auto one = [&](const YAML::Node& x, const std::string& f) {
    const std::string s = yamlf::get_string(x, f);
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
      fail(x, f, "\"" + s + "\" is not one of " + yamlf::join(allowed));
    }
    out.push_back(s);
  };
  if (n.IsSequence()) {
    if (n.size() == 0) fail(n, field, "must not be empty");
    for (size_t i = 0; i < n.size(); ++i) one(n[i], field + "[" + std::to_string(i) + "]");
  } else {
    one(n, field);
  }
  return out;
}

const std::vector<std::pair<std::string, FaultAction>> kActionNames = {
    {"ifdown", FaultAction::IfDown},       {"partition", FaultAction::Partition},
    {"oneway", FaultAction::OneWay},       {"monitor_loss", FaultAction::MonitorLoss},
    {"disk_full", FaultAction::DiskFull},  {"reboot", FaultAction::Reboot},
    {"kill", FaultAction::Kill},           {"freeze", FaultAction::Freeze},
    {"loss", FaultAction::Loss},           {"latency", FaultAction::Latency},
    {"bandwidth", FaultAction::Bandwidth}, {"switchover", FaultAction::Switchover},
};
const std::vector<std::string> kSyncNames = {"off", "local", "remote_write", "on", "remote_apply"};

SyncCommit sync_of(const std::string& s) {
  if (s == "off") return SyncCommit::Off;
  if (s == "local") return SyncCommit::Local;
  if (s == "remote_write") return SyncCommit::RemoteWrite;
  if (s == "remote_apply") return SyncCommit::RemoteApply;
  return SyncCommit::On;
}

bool heals(FaultAction a) {
  return a == FaultAction::IfDown || a == FaultAction::Partition || a == FaultAction::OneWay ||
         a == FaultAction::DiskFull || a == FaultAction::Freeze || a == FaultAction::Loss ||
         a == FaultAction::Latency || a == FaultAction::Bandwidth;
}

PaletteEntry parse_entry(const YAML::Node& e, const std::string& F) {
  yamlf::check_keys(
      e, F,
      {"action", "weight", "target", "to", "mode", "process", "include_clients", "duration",
       "restart_after", "percent", "delay", "rate_kbit", "prevent_restart_percent"});
  PaletteEntry p;
  if (!e["action"]) fail(e, sub(F, "action"), "is required");
  std::vector<std::string> names;
  for (const auto& [n, a] : kActionNames) names.push_back(n);
  const std::string action = choices(e["action"], sub(F, "action"), names).at(0);
  for (const auto& [n, a] : kActionNames)
    if (n == action) p.action = a;
  if (e["weight"])
    p.weight = static_cast<int>(yamlf::get_int(e["weight"], sub(F, "weight"), 1, 1000));
  const auto A = p.action;
  const bool node_only =
      A == FaultAction::Kill || A == FaultAction::Reboot || A == FaultAction::DiskFull;
  if (A == FaultAction::MonitorLoss) {
    p.targets = {"monitor"};
  } else if (A == FaultAction::Switchover) {
    p.targets = {"primary"};
  } else {
    if (!e["target"]) fail(e, sub(F, "target"), "is required for " + action);
    p.targets =
        choices(e["target"], sub(F, "target"),
                node_only ? std::vector<std::string>{"primary", "standby", "any"}
                          : std::vector<std::string>{"primary", "standby", "any", "monitor"});
  }
  if (e["target"] && (A == FaultAction::MonitorLoss || A == FaultAction::Switchover))
    fail(e["target"], sub(F, "target"), "is implied for " + action);
  if (e["to"]) {
    if (A != FaultAction::Partition && A != FaultAction::OneWay)
      fail(e["to"], sub(F, "to"), "is only valid for partition and oneway");
    p.to =
        choices(e["to"], sub(F, "to"),
                A == FaultAction::Partition
                    ? std::vector<std::string>{"none", "primary", "standby", "monitor", "clients"}
                    : std::vector<std::string>{"primary", "standby", "monitor", "clients"});
  } else if (A == FaultAction::OneWay) {
    fail(e, sub(F, "to"), "is required for oneway");
  } else if (A == FaultAction::Partition) {
    p.to = {"none"};
  }
  if (e["mode"]) {
    if (A != FaultAction::Partition && A != FaultAction::OneWay)
      fail(e["mode"], sub(F, "mode"), "is only valid for partition and oneway");
    p.modes = choices(e["mode"], sub(F, "mode"), {"drop", "reject"});
  }
  if (e["process"]) {
    if (A != FaultAction::Kill && A != FaultAction::Freeze)
      fail(e["process"], sub(F, "process"), "is only valid for kill and freeze");
    p.processes =
        choices(e["process"], sub(F, "process"),
                A == FaultAction::Kill ? std::vector<std::string>{"postmaster", "agent"}
                                       : std::vector<std::string>{"node", "postmaster", "agent"});
  } else if (A == FaultAction::Kill) {
    fail(e, sub(F, "process"), "is required for kill (postmaster, agent)");
  }
  if (e["include_clients"]) {
    if (A != FaultAction::Partition)
      fail(e["include_clients"], sub(F, "include_clients"), "is only valid for partition");
    for (const auto& s :
         choices(e["include_clients"], sub(F, "include_clients"), {"true", "false"}))
      p.include_clients.push_back(s == "true");
  }
  if (e["duration"]) {
    if (!heals(A)) fail(e["duration"], sub(F, "duration"), "is not valid for " + action);
    p.duration_ms = duration_range(e["duration"], sub(F, "duration"), 100, 1800000);
  }
  if (e["restart_after"]) {
    if (A != FaultAction::MonitorLoss && A != FaultAction::Reboot && A != FaultAction::Kill)
      fail(e["restart_after"], sub(F, "restart_after"),
           "is only valid for monitor_loss, reboot and kill");
    p.restart_after_ms = duration_range(e["restart_after"], sub(F, "restart_after"), 0, 1800000);
  }
  if (e["percent"]) {
    if (A != FaultAction::Loss) fail(e["percent"], sub(F, "percent"), "is only valid for loss");
    p.percent = int_range(e["percent"], sub(F, "percent"), 1, 100);
  }
  if (e["delay"]) {
    if (A != FaultAction::Latency) fail(e["delay"], sub(F, "delay"), "is only valid for latency");
    p.delay_ms = duration_range(e["delay"], sub(F, "delay"), 1, 10000);
  }
  if (e["rate_kbit"]) {
    if (A != FaultAction::Bandwidth)
      fail(e["rate_kbit"], sub(F, "rate_kbit"), "is only valid for bandwidth");
    p.rate_kbit = int_range(e["rate_kbit"], sub(F, "rate_kbit"), 8, 10000000);
  }
  if (e["prevent_restart_percent"]) {
    if (A != FaultAction::Kill)
      fail(e["prevent_restart_percent"], sub(F, "prevent_restart_percent"),
           "is only valid for kill");
    p.prevent_restart_percent = static_cast<int>(
        yamlf::get_int(e["prevent_restart_percent"], sub(F, "prevent_restart_percent"), 0, 100));
  }
  return p;
}

void parse_pairs(const YAML::Node& n, const std::string& field,
                 std::vector<std::pair<std::string, std::string>>& out) {
  if (!n.IsMap()) fail(n, field, "must be a mapping");
  for (const auto& kv : n)
    out.emplace_back(kv.first.as<std::string>(),
                     yamlf::get_string(kv.second, sub(field, kv.first.as<std::string>())));
}

Campaign parse_root(const YAML::Node& root, const std::string& file) {
  Campaign c;
  c.file = file;
  if (!root.IsDefined() || root.IsNull()) throw ParseError{1, "", "the file is empty"};
  yamlf::check_keys(root, "",
                    {"version", "name", "description", "formation", "workload", "phases", "faults",
                     "expect", "shrink"});
  if (!root["version"]) fail(root, "version", "is required (version: 1)");
  yamlf::get_int(root["version"], "version", 1, 1);
  if (!root["name"]) fail(root, "name", "is required");
  c.name = yamlf::get_string(root["name"], "name");
  if (c.name.empty() || c.name.size() > 40 ||
      !std::all_of(c.name.begin(), c.name.end(), [](char ch) {
        return std::islower(static_cast<unsigned char>(ch)) ||
               std::isdigit(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
      }))
    fail(root["name"], "name", "must be 1..40 characters of [a-z0-9_-]");
  if (root["description"]) c.description = yamlf::get_string(root["description"], "description");

  if (!root["formation"]) fail(root, "formation", "is required");
  const auto f = root["formation"];
  yamlf::check_keys(f, "formation",
                    {"nodes", "synchronous_commit", "number_sync_standbys", "standby_priorities",
                     "settings", "agent_env", "node_disk_mb", "stable_timeout"});
  if (f["nodes"]) c.nodes = int_range(f["nodes"], "formation.nodes", 2, 5);
  if (f["synchronous_commit"]) {
    c.synchronous_commit.clear();
    for (const auto& s :
         choices(f["synchronous_commit"], "formation.synchronous_commit", kSyncNames))
      c.synchronous_commit.push_back(sync_of(s));
  }
  if (f["number_sync_standbys"])
    c.number_sync_standbys =
        int_range(f["number_sync_standbys"], "formation.number_sync_standbys", 0, 3);
  if (const auto p = f["standby_priorities"]) {
    c.standby_priorities.clear();
    if (!p.IsSequence() || p.size() == 0)
      fail(p, "formation.standby_priorities", "must be a non-empty list of 0..100");
    for (size_t i = 0; i < p.size(); ++i)
      c.standby_priorities.push_back(static_cast<int>(
          yamlf::get_int(p[i], "formation.standby_priorities[" + std::to_string(i) + "]", 0, 100)));
  }
  if (f["settings"]) parse_pairs(f["settings"], "formation.settings", c.settings);
  if (f["agent_env"]) parse_pairs(f["agent_env"], "formation.agent_env", c.agent_env);
  if (f["node_disk_mb"])
    c.node_disk_mb =
        static_cast<int>(yamlf::get_int(f["node_disk_mb"], "formation.node_disk_mb", 64, 4096));
  if (f["stable_timeout"])
    c.stable_timeout_ms =
        yamlf::get_duration(f["stable_timeout"], "formation.stable_timeout", 1000, 600000);

  if (const auto w = root["workload"]) {
    yamlf::check_keys(w, "workload",
                      {"clients", "rate", "op_timeout", "connect_timeout", "connection"});
    if (w["clients"])
      c.workload.clients =
          static_cast<int>(yamlf::get_int(w["clients"], "workload.clients", 1, 16));
    if (w["rate"])
      c.workload.rate_per_client =
          static_cast<int>(yamlf::get_int(w["rate"], "workload.rate", 1, 1000));
    if (w["op_timeout"])
      c.workload.op_timeout_ms =
          yamlf::get_duration(w["op_timeout"], "workload.op_timeout", 100, 60000);
    if (w["connect_timeout"])
      c.workload.connect_timeout_ms =
          yamlf::get_duration(w["connect_timeout"], "workload.connect_timeout", 1000, 60000);
    if (w["connection"])
      c.workload.connect_per_write =
          choices(w["connection"], "workload.connection", {"persistent", "per_write"}).at(0) ==
          "per_write";
  }
  if (const auto p = root["phases"]) {
    yamlf::check_keys(p, "phases", {"warmup", "faults", "converge_within", "cooldown"});
    if (p["warmup"])
      c.phases.warmup_ms = yamlf::get_duration(p["warmup"], "phases.warmup", 1000, 600000);
    if (p["faults"])
      c.phases.faults_ms = yamlf::get_duration(p["faults"], "phases.faults", 1000, 1800000);
    if (p["converge_within"])
      c.phases.converge_within_ms =
          yamlf::get_duration(p["converge_within"], "phases.converge_within", 1000, 1800000);
    if (p["cooldown"])
      c.phases.cooldown_ms = yamlf::get_duration(p["cooldown"], "phases.cooldown", 0, 600000);
  }
  if (!root["faults"]) fail(root, "faults", "is required (count and palette)");
  const auto fl = root["faults"];
  yamlf::check_keys(fl, "faults", {"count", "overlap_percent", "palette"});
  if (fl["count"]) c.faults_per_schedule = int_range(fl["count"], "faults.count", 1, kMaxFaults);
  if (fl["overlap_percent"])
    c.overlap_percent =
        static_cast<int>(yamlf::get_int(fl["overlap_percent"], "faults.overlap_percent", 0, 100));
  const auto pal = fl["palette"];
  if (!pal || !pal.IsSequence() || pal.size() == 0)
    fail(pal ? pal : fl, "faults.palette", "is required: a non-empty list of actions");
  for (size_t i = 0; i < pal.size(); ++i)
    c.palette.push_back(parse_entry(pal[i], "faults.palette[" + std::to_string(i) + "]"));
  for (size_t i = 0; i < c.palette.size(); ++i) {
    const auto& d = c.palette[i].duration_ms;
    if (d && d->hi > c.phases.faults_ms)
      fail(pal[i]["duration"], "faults.palette[" + std::to_string(i) + "].duration",
           "is longer than phases.faults (" + duration_text(c.phases.faults_ms) + ")");
  }
  if (const auto e = root["expect"]) {
    yamlf::check_keys(e, "expect", {"rto_max", "lost_writes_max", "failover_required_after"});
    if (e["rto_max"])
      c.rto_max_ms = yamlf::get_duration(e["rto_max"], "expect.rto_max", 100, 1800000);
    if (e["lost_writes_max"])
      c.lost_writes_max = static_cast<int>(
          yamlf::get_int(e["lost_writes_max"], "expect.lost_writes_max", 0, 1000000000));
    if (e["failover_required_after"])
      c.failover_required_after_ms = yamlf::get_duration(
          e["failover_required_after"], "expect.failover_required_after", 1000, 1800000);
  }
  if (const auto s = root["shrink"]) {
    yamlf::check_keys(s, "shrink", {"max_runs"});
    if (s["max_runs"])
      c.shrink_max_runs =
          static_cast<int>(yamlf::get_int(s["max_runs"], "shrink.max_runs", 0, 1000));
  }
  return c;
}

}  // namespace

Result<Campaign> parse_campaign(const std::string& yaml_text, const std::string& file) {
  try {
    return parse_root(YAML::Load(yaml_text), file);
  } catch (const ParseError& e) {
    return yamlf::parse_error(e, file, "see docs/campaigns.md for the campaign format");
  } catch (const YAML::Exception& e) {
    return yamlf::yaml_error(e, file, "see docs/campaigns.md for the campaign format");
  }
}

Result<Campaign> parse_campaign_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return make_error(ErrorCode::InvalidArgument, "could not open campaign file \"" + path + "\"");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_campaign(ss.str(), path);
}

/* ---------------- generation ---------------- */

std::string duration_text(TimeMs ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

namespace {

/* Durations are drawn in 100 ms steps: shorter text, same coverage. */
TimeMs draw_ms(CampaignRng& rng, const IntRange& r) {
  return rng.between(r.lo / 100, r.hi / 100) * 100;
}

}  // namespace

Schedule generate_schedule(const Campaign& c, std::uint64_t seed) {
  CampaignRng rng(seed);
  Schedule s;
  s.campaign = c.name;
  s.name = c.name + "-" + std::to_string(seed);
  s.seed = seed;
  s.nodes = static_cast<int>(rng.between(c.nodes.lo, c.nodes.hi));
  s.priorities.push_back(50);
  bool promotable = false;
  for (int i = 1; i < s.nodes; ++i) {
    s.priorities.push_back(rng.pick(c.standby_priorities));
    promotable = promotable || s.priorities.back() > 0;
  }
  if (!promotable) s.priorities[1] = 50; /* keep a candidate: failover must stay possible */
  s.synchronous_commit = rng.pick(c.synchronous_commit);
  /* n > 0 needs n + 1 quorum standbys (all standbys are quorum standbys here) */
  const std::int64_t nss_max = std::max<std::int64_t>(0, s.nodes - 2);
  s.number_sync_standbys = static_cast<int>(
      std::min(nss_max, rng.between(c.number_sync_standbys.lo,
                                    std::min(c.number_sync_standbys.hi,
                                             std::max(c.number_sync_standbys.lo, nss_max)))));
  s.settings = c.settings;
  s.agent_env = c.agent_env;
  s.node_disk_mb = c.node_disk_mb;
  s.stable_timeout_ms = c.stable_timeout_ms;
  s.workload = c.workload;
  s.phases = c.phases;
  s.rto_max_ms = c.rto_max_ms;
  s.lost_writes_max = c.lost_writes_max;
  s.failover_required_after_ms = c.failover_required_after_ms;

  std::vector<int> weights;
  for (const auto& p : c.palette) weights.push_back(p.weight);
  const int count =
      static_cast<int>(rng.between(c.faults_per_schedule.lo, c.faults_per_schedule.hi));
  TimeMs prev_at = 0;
  TimeMs prev_end = 0;
  for (int i = 0; i < count; ++i) {
    const PaletteEntry& p = c.palette[rng.weighted(weights)];
    ScheduleFault f;
    f.action = p.action;
    f.name = "f" + std::to_string(i + 1) + "-" + to_string(p.action);
    f.target = rng.pick(p.targets);
    if (!p.to.empty()) {
      std::vector<std::string> peers;
      for (const auto& t : p.to)
        if (t != f.target) peers.push_back(t);
      if (peers.empty()) peers.push_back(p.action == FaultAction::OneWay ? "monitor" : "none");
      const std::string to = rng.pick(peers);
      if (to != "none") f.to = to;
    }
    if (!p.modes.empty()) f.mode = rng.pick(p.modes);
    if (!p.processes.empty()) f.process = rng.pick(p.processes);
    if (!p.include_clients.empty() && f.to.empty()) f.include_clients = rng.pick(p.include_clients);
    if (p.duration_ms) f.duration_ms = std::max<TimeMs>(100, draw_ms(rng, *p.duration_ms));
    if (p.restart_after_ms && !(f.action == FaultAction::Kill && f.process == "postmaster"))
      f.restart_after_ms = draw_ms(rng, *p.restart_after_ms);
    if (f.action == FaultAction::Loss)
      f.percent = static_cast<int>(rng.between(p.percent.lo, p.percent.hi));
    if (f.action == FaultAction::Latency) f.delay_ms = rng.between(p.delay_ms.lo, p.delay_ms.hi);
    if (f.action == FaultAction::Bandwidth)
      f.rate_kbit = static_cast<int>(rng.between(p.rate_kbit.lo, p.rate_kbit.hi));
    if (f.action == FaultAction::Kill && f.process == "postmaster")
      f.prevent_restart = rng.percent(p.prevent_restart_percent);
    /* when: concurrent with the previous fault, or after it ended; always inside the phase */
    const TimeMs length = f.duration_ms.value_or(0);
    const TimeMs latest = std::max<TimeMs>(0, c.phases.faults_ms - length);
    TimeMs at = 0;
    if (i > 0 && rng.percent(c.overlap_percent)) {
      at = std::min(latest, rng.between(prev_at / 100, std::max(prev_at, prev_end) / 100) * 100);
    } else {
      const TimeMs from = std::min(latest, i == 0 ? 0 : prev_end);
      at = rng.between(from / 100, latest / 100) * 100;
    }
    f.at_ms = at;
    prev_at = at;
    prev_end = at + (length > 0 ? length : std::min<TimeMs>(3000, c.phases.faults_ms - at));
    s.faults.push_back(std::move(f));
  }
  return s;
}

FailoverExpectation derived_failover(const Schedule& s) {
  if (!s.failover_required_after_ms || s.faults.size() != 1 || s.nodes < 2)
    return FailoverExpectation::Allowed;
  const ScheduleFault& f = s.faults[0];
  const bool isolates =
      f.target == "primary" &&
      (f.action == FaultAction::IfDown ||
       (f.action == FaultAction::Partition && f.to.empty() && f.include_clients.value_or(true)));
  bool candidate = false;
  for (size_t i = 1; i < s.priorities.size(); ++i) candidate = candidate || s.priorities[i] > 0;
  const TimeMs length = f.duration_ms.value_or(s.phases.faults_ms - f.at_ms);
  return isolates && candidate && length >= *s.failover_required_after_ms
             ? FailoverExpectation::Required
             : FailoverExpectation::Allowed;
}

std::string render_schedule_yaml(const Schedule& s) {
  std::ostringstream o;
  o << "# generated by `lab campaign` from campaign " << s.campaign << ", seed " << s.seed
    << (s.note.empty() ? "" : " (" + s.note + ")") << "\n"
    << "# replay: lab run " << s.name << ".yaml\n";
  o << "version: 1\n"
    << "name: " << s.name << "\n"
    << "description: \"campaign " << s.campaign << " seed " << s.seed
    << (s.note.empty() ? "" : ", " + s.note) << "\"\n"
    << "tags: [campaign]\n"
    << "seed: " << s.seed << "\n";
  const TimeMs needed = s.stable_timeout_ms + s.phases.warmup_ms + s.phases.faults_ms +
                        s.phases.converge_within_ms + s.phases.cooldown_ms + 60000;
  o << "timeout: " << duration_text(std::max<TimeMs>(needed, 10000)) << "\n";
  o << "formation:\n  nodes: " << s.nodes << "\n  candidate_priorities: [";
  for (size_t i = 0; i < s.priorities.size(); ++i) o << (i ? ", " : "") << s.priorities[i];
  o << "]\n  number_sync_standbys: " << s.number_sync_standbys
    << "\n  synchronous_commit: " << to_string(s.synchronous_commit)
    << "\n  node_disk_mb: " << s.node_disk_mb
    << "\n  stable_timeout: " << duration_text(s.stable_timeout_ms) << "\n";
  if (!s.settings.empty()) {
    o << "  settings:\n";
    for (const auto& [k, v] : s.settings) o << "    " << k << ": \"" << v << "\"\n";
  }
  if (!s.agent_env.empty()) {
    o << "  agent_env:\n";
    for (const auto& [k, v] : s.agent_env) o << "    " << k << ": \"" << v << "\"\n";
  }
  o << "workload: {clients: " << s.workload.clients << ", rate: " << s.workload.rate_per_client
    << ", op_timeout: " << duration_text(s.workload.op_timeout_ms)
    << ", connect_timeout: " << duration_text(s.workload.connect_timeout_ms)
    << ", connection: " << (s.workload.connect_per_write ? "per_write" : "persistent") << "}\n";
  o << "phases: {warmup: " << duration_text(s.phases.warmup_ms)
    << ", faults: " << duration_text(s.phases.faults_ms)
    << ", converge_within: " << duration_text(s.phases.converge_within_ms)
    << ", cooldown: " << duration_text(s.phases.cooldown_ms) << "}\n";
  o << "faults:" << (s.faults.empty() ? " []" : "") << "\n";
  for (const auto& f : s.faults) {
    o << "  - name: " << f.name << "\n    action: " << to_string(f.action)
      << "\n    at: " << duration_text(f.at_ms) << "\n";
    if (f.action != FaultAction::MonitorLoss && f.action != FaultAction::Switchover)
      o << "    target: " << f.target << "\n";
    if (!f.to.empty()) o << "    to: " << f.to << "\n";
    if (!f.mode.empty()) o << "    mode: " << f.mode << "\n";
    if (!f.process.empty()) o << "    process: " << f.process << "\n";
    if (f.include_clients)
      o << "    include_clients: " << (*f.include_clients ? "true" : "false") << "\n";
    if (f.duration_ms) o << "    duration: " << duration_text(*f.duration_ms) << "\n";
    if (f.restart_after_ms)
      o << "    restart_after: " << duration_text(*f.restart_after_ms) << "\n";
    if (f.action == FaultAction::Loss) o << "    percent: " << f.percent << "\n";
    if (f.action == FaultAction::Latency) o << "    delay: " << duration_text(f.delay_ms) << "\n";
    if (f.action == FaultAction::Bandwidth) o << "    rate_kbit: " << f.rate_kbit << "\n";
    if (f.prevent_restart) o << "    prevent_restart: true\n";
  }
  o << "expect:\n  failover: " << to_string(derived_failover(s)) << "\n";
  if (s.rto_max_ms) o << "  rto_max: " << duration_text(*s.rto_max_ms) << "\n";
  if (s.lost_writes_max) o << "  lost_writes_max: " << *s.lost_writes_max << "\n";
  return o.str();
}

Result<Scenario> schedule_scenario(const Schedule& s, const std::string& file) {
  auto sc = parse_scenario(render_schedule_yaml(s), file);
  if (!sc.ok())
    return make_error(
        ErrorCode::Internal,
        "the campaign generated a scenario that does not parse: " + sc.error().message,
        "this is a bug of the generator; the seed replays it");
  return sc;
}

/* ---------------- seeds and shards ---------------- */

namespace {

std::optional<std::uint64_t> to_u64(const std::string& s) {
  if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), [](char ch) {
        return std::isdigit(static_cast<unsigned char>(ch));
      }))
    return std::nullopt;
  return std::stoull(s);
}

}  // namespace

Result<SeedRange> parse_seed_range(const std::string& text) {
  SeedRange r;
  const auto dots = text.find("..");
  const auto a = to_u64(dots == std::string::npos ? text : text.substr(0, dots));
  std::optional<std::uint64_t> b = a;
  if (dots != std::string::npos) b = to_u64(text.substr(dots + 2));
  if (!a || !b || *b < *a)
    return make_error(ErrorCode::InvalidArgument,
                      "field \"--seeds\": \"" + text + "\" is not a seed range",
                      "use A..B with A <= B, e.g. 1..30, or one seed N");
  r.first = *a;
  r.last = *b;
  return r;
}

Result<Shard> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  const auto i = slash == std::string::npos ? std::nullopt : to_u64(text.substr(0, slash));
  const auto n = slash == std::string::npos ? std::nullopt : to_u64(text.substr(slash + 1));
  if (!i || !n || *n == 0 || *i == 0 || *i > *n)
    return make_error(ErrorCode::InvalidArgument,
                      "field \"--shard\": \"" + text + "\" is not a shard",
                      "use i/n with 1 <= i <= n, e.g. 2/3");
  return Shard{*i, *n};
}

bool seed_in_shard(std::uint64_t seed, const SeedRange& r, const Shard& s) {
  if (seed < r.first || (r.last && seed > *r.last)) return false;
  return (seed - r.first) % s.count == s.index - 1;
}

std::vector<std::uint64_t> shard_seeds(const SeedRange& r, const Shard& s) {
  std::vector<std::uint64_t> out;
  if (!r.last) return out;
  for (std::uint64_t x = r.first + (s.index - 1); x <= *r.last; x += s.count) out.push_back(x);
  return out;
}

}  // namespace pgaf::lab
