/*
 * certify_cmd.cpp — `lab certify` (certify_cmd.hpp): everything is validated before the first
 * namespace exists; then the pack runs under the profile through run_all (so teardown, reaping
 * and per-scenario reports are the ordinary ones) and the certificate is written beside them.
 */
#include "pgaf/lab/certify_cmd.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory> /* before Boost.Process */

// clang-format off
#include <boost/process.hpp>
// clang-format on

#include "pgaf/lab/certify.hpp"
#include "pgaf/netns/capabilities.hpp"

namespace pgaf::lab {

namespace fs = std::filesystem;
namespace bp = boost::process;

std::string pgaf_version(const std::string& pg_autoctl) {
  try {
    bp::ipstream out;
    bp::child c(pg_autoctl, "--version", bp::std_out > out, bp::std_err > bp::null);
    std::string line, all;
    while (std::getline(out, line)) all += (all.empty() ? "" : " ") + line;
    if (!c.wait_for(std::chrono::seconds(10))) c.terminate();
    return all.empty() ? "unknown (no output from " + pg_autoctl + " --version)" : all;
  } catch (const std::exception& e) {
    return std::string("unknown (") + e.what() + ")";
  }
}

namespace {

/* UTC now: ISO 8601 ("2026-12-07T13:30:00Z") or compact for names ("20261207T133000Z"). */
std::string utc_now(bool compact) {
  std::time_t t = std::time(nullptr);
  char buf[40];
  if (compact)
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", std::gmtime(&t));
  else
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

/* What the profile asks that this kernel cannot emulate (said in the report, never silent). */
std::vector<std::string> kernel_notes(const NetworkProfile& p) {
  std::vector<std::string> notes;
  auto caps = netns::probe_capabilities();
  if (!caps.ok()) return {"capability probe failed: " + caps.error().message};
  for (const auto& r : p.topology.routers)
    for (const auto& itf : r.interfaces)
      if (itf.link.latency.count() > 0 && !caps->netem)
        notes.push_back("latency " + std::to_string(itf.link.latency.count()) + " ms on link " +
                        r.name + "/" + itf.zone +
                        " was skipped: this kernel has no netem qdisc (sch_netem)");
  return notes;
}

}  // namespace

int run_certify(const CertifyOptions& c, RunOptions opt) {
  auto profile = parse_network_profile_file(c.network_file);
  if (!profile.ok()) {
    std::cerr << "lab: " << profile.error().to_string() << std::endl;
    return 1;
  }
  if (Status st = netns::check_external_interfaces(profile->topology); !st.ok()) {
    std::cerr << "lab: " << c.network_file << ": " << st.error().to_string() << std::endl;
    return 1;
  }
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(c.pack_dir, ec))
    if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  if (ec || files.empty()) {
    std::cerr << "lab: no scenario (*.yaml) in the validation pack \"" << c.pack_dir << "\""
              << (ec ? ": " + ec.message() : "") << std::endl;
    return 1;
  }
  std::vector<Scenario> scs;
  int bad = 0;
  for (const auto& f : files) {
    auto sc = parse_scenario_file(f);
    Status st = sc.ok() ? check_scenario_network(*sc, &*profile) : Status(sc.error());
    if (!st.ok()) {
      std::cerr << "lab: " << st.error().to_string() << std::endl;
      ++bad;
      continue;
    }
    scs.push_back(std::move(sc).value());
  }
  if (bad != 0) {
    std::cerr << "lab: nothing was started: the pack does not fit the profile (above)" << std::endl;
    return 1;
  }
  Certification cert;
  cert.profile = *profile;
  cert.pgaf_version = pgaf_version(opt.pg_autoctl);
  cert.generated_at = utc_now(false);
  cert.command = "lab certify --network " + c.network_file + " --pack " + c.pack_dir;
  cert.notes = kernel_notes(*profile);
  const std::string out = c.out_dir.empty() ? opt.report_dir + "/certify-" + profile->name + "-" +
                                                  utc_now(true)
                                            : c.out_dir;
  opt.report_dir = fs::absolute(out).string();
  opt.run_id = "runs";
  opt.network = *profile;
  const int rc = run_all(scs, opt, &cert.results);
  for (const auto& r : cert.results) cert.report_links.push_back("runs/" + r.name + "/report.html");
  if (Status st = write_certification(opt.report_dir, cert); !st.ok()) {
    std::cerr << "lab: " << st.error().to_string() << std::endl;
    return 2;
  }
  const bool ok = certified(cert);
  std::cout << "\ncertification of network profile \"" << profile->name
            << "\": " << (ok ? "CERTIFIED" : "NOT CERTIFIED") << "\n  " << opt.report_dir
            << "/certificate.html\n  " << opt.report_dir << "/certificate.json" << std::endl;
  if (rc == 130) return rc;
  return ok ? 0 : 1;
}

}  // namespace pgaf::lab
