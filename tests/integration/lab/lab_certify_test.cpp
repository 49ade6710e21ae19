/*
 * lab_certify_test.cpp — `lab certify` end to end, as root: a profile whose external interface
 * does not exist is refused before anything is built (no namespace, no output); the shipped
 * two-zones profile with a one-scenario pack (tests/integration/lab/data/vendor-pack) builds the
 * zones, routers and the vendor's ruleset, runs the formation across them, writes a certificate
 * (verdict, RTO of the fault, the pgaf version, the profile) and leaves no namespace, mount or
 * lab process behind.
 */
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "lab_it_support.hpp"
#include "pgaf/netns/reaper.hpp"

namespace fs = std::filesystem;

namespace {

using pgaf::lab_it::lab_mounts_left;
using pgaf::lab_it::run;
using pgaf::lab_it::slurp;

/* Processes running the lab's copy of pg_autoctl or a postgres under /run/pgaf-lab. */
int lab_processes_left() {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec;
    const auto exe = fs::read_symlink(e.path() / "exe", ec);
    if (!ec && exe.string().rfind("/run/pgaf-lab/", 0) == 0) ++n;
    const std::string cmd = slurp(e.path() / "cmdline");
    if (cmd.find("/run/pgaf-lab/") != std::string::npos && cmd.find("postgres") == 0) ++n;
  }
  return n;
}

fs::path fresh_dir(const std::string& tag) {
  const fs::path dir = fs::temp_directory_path() / (tag + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST(LabCertify, UnknownExternalInterfaceIsRefusedBeforeAnythingIsBuilt) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  const fs::path dir = fresh_dir("lab-it-cert-ext-");
  std::ofstream(dir / "p.yaml")
      << "version: 1\nnetwork:\n  name: ext\n  zones:\n"
         "    - {name: zextq1, subnet: 198.18.1.0/24}\n"
         "    - {name: zextq2, subnet: 198.18.2.0/24, external: pgaf-nosuch0}\n"
         "  routers:\n    - {name: fw1, zones: [zextq1, zextq2]}\n";
  const std::string log = (dir / "lab.log").string();
  const int rc = run({LAB_BIN, "certify", "--network", (dir / "p.yaml").string(), "--pack",
                      std::string(LAB_IT_DATA_DIR) + "/vendor-pack", "--pg-autoctl", PG_AUTOCTL_BIN,
                      "--out", (dir / "out").string()},
                     log, std::chrono::seconds(60));
  const std::string out = slurp(log);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("zones[1].external: host interface \"pgaf-nosuch0\" does not exist"),
            std::string::npos)
      << out;
  EXPECT_FALSE(fs::exists(dir / "out")) << "nothing is written before the profile is valid";
  /* no zone of this profile was built (other lab runs may be going: look for its names only) */
  for (const auto& ns : pgaf::netns::list_namespaces("pgaf-lab-"))
    EXPECT_EQ(ns.find("zextq"), std::string::npos) << ns;
  fs::remove_all(dir);
}

TEST(LabCertify, TwoZonesProfileCertifiesAndLeavesNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, tmpfs mounts)";
  if (!fs::exists("/usr/share/postgresql/15/extension/pgautofailover.control"))
    GTEST_SKIP() << "the pgautofailover extension is not installed (run ctest -R monitor.install)";
  const fs::path dir = fresh_dir("lab-it-cert-");
  const std::string log = (dir / "lab.log").string();
  const int rc = run(
      {LAB_BIN, "certify", "--network", std::string(LAB_SCENARIOS_DIR) + "/vendor/two-zones.yaml",
       "--pack", std::string(LAB_IT_DATA_DIR) + "/vendor-pack", "--pg-autoctl", PG_AUTOCTL_BIN,
       "--out", (dir / "out").string(), "--timeout", "5m"},
      log, std::chrono::seconds(330));
  const std::string out = slurp(log);
  EXPECT_NE(out.find("network profile \"two-zones\": monitor@dc1=198.18.1.1"), std::string::npos)
      << out;
  ASSERT_TRUE(fs::exists(dir / "out" / "certificate.json")) << out;
  EXPECT_TRUE(fs::exists(dir / "out" / "certificate.html"));
  EXPECT_TRUE(fs::exists(dir / "out" / "runs" / "vendor-it-zone-cut" / "report.html"));
  const auto c = nlohmann::json::parse(slurp(dir / "out" / "certificate.json"));
  EXPECT_EQ(rc, 0) << c.dump(1) << "\n" << out;
  EXPECT_EQ(c["verdict"], "certified") << c.dump(1);
  EXPECT_NE(c["pgaf_version"].get<std::string>().find("pgaf"), std::string::npos);
  EXPECT_EQ(c["profile"]["name"], "two-zones");
  EXPECT_EQ(c["profile"]["rulesets"].size(), 1u); /* fw1 and fw2 share two-zones.nft */
  ASSERT_EQ(c["invariants"].size(), 1u);
  const auto& inv = c["invariants"][0];
  ASSERT_FALSE(inv["rto"].empty()) << inv.dump(1);
  EXPECT_EQ(inv["rto"][0]["fault"], "wan-cut");
  EXPECT_EQ(inv["writes"]["lost"], 0);
  EXPECT_GT(inv["writes"]["acked"].get<int>(), 50);
  /* nothing of the lab remains */
  EXPECT_TRUE(pgaf::netns::list_namespaces("pgaf-lab-").empty());
  EXPECT_FALSE(lab_mounts_left());
  EXPECT_EQ(lab_processes_left(), 0);
  fs::remove_all(dir);
}
