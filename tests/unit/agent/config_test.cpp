/*
 * config_test.cpp — pg_autoctl.cfg and pg_autoctl.state: round trips, atomic writes, and clear
 * errors naming the file (and line or key) for missing, corrupt or invalid files.
 */
#include "pgaf/agent/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

namespace pgaf::agent {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgaf-agent-config-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
  std::string dir_;
};

Config sample() {
  Config c;
  c.pgdata = "/var/lib/pgaf/node1";
  c.monitor = "postgres://autoctl_node@127.0.0.1:25500/pg_auto_failover?sslmode=prefer";
  c.hostname = "127.0.0.1";
  c.port = 25501;
  c.name = "node_1";
  c.group = 0;
  c.username = "postgres";
  c.settings.lease_ms = 3000;
  return c;
}

TEST_F(ConfigTest, RoundTrip) {
  Config c = sample();
  std::string path = dir_ + "/pg_autoctl.cfg";
  ASSERT_TRUE(c.save(path).ok());
  auto back = Config::load(path);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->pgdata, c.pgdata);
  EXPECT_EQ(back->monitor, c.monitor);
  EXPECT_EQ(back->port, 25501);
  EXPECT_EQ(back->name, "node_1");
  EXPECT_EQ(back->settings.lease_ms, 3000);
  EXPECT_EQ(back->role, Role::Keeper);
  /* no temp file left behind */
  int files = 0;
  for (auto& e : fs::directory_iterator(dir_)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

/* [ssl]: every key survives save + load; a file from before [ssl] existed loads as "no SSL". */
TEST_F(ConfigTest, SslSectionRoundTripAndOlderFiles) {
  Config c = sample();
  c.ssl_active = true;
  c.sslmode = "verify-full";
  c.ssl_ca_file = "/etc/pgaf/ca.crt";
  c.ssl_crl_file = "/etc/pgaf/ca.crl";
  c.ssl_cert_file = "/etc/pgaf/server.crt";
  c.ssl_key_file = "/etc/pgaf/server.key";
  const std::string path = dir_ + "/ssl.cfg";
  ASSERT_TRUE(c.save(path).ok());
  auto back = Config::load(path);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_TRUE(back->ssl_active);
  EXPECT_EQ(back->sslmode, "verify-full");
  EXPECT_EQ(back->ssl_ca_file, "/etc/pgaf/ca.crt");
  EXPECT_EQ(back->ssl_crl_file, "/etc/pgaf/ca.crl");
  EXPECT_EQ(back->ssl_cert_file, "/etc/pgaf/server.crt");
  EXPECT_EQ(back->ssl_key_file, "/etc/pgaf/server.key");
  EXPECT_FALSE(back->ssl_self_signed());
  const std::string ci = back->ssl_conninfo();
  EXPECT_NE(ci.find("sslmode=verify-full"), std::string::npos) << ci;
  EXPECT_NE(ci.find("sslrootcert=/etc/pgaf/ca.crt"), std::string::npos) << ci;
  EXPECT_NE(ci.find("sslcrl=/etc/pgaf/ca.crl"), std::string::npos) << ci;
  EXPECT_EQ(back->monitor_uri(),
            "postgres://autoctl_node@127.0.0.1:25501/pg_auto_failover?sslmode=verify-full"
            "&sslrootcert=/etc/pgaf/ca.crt&sslcrl=/etc/pgaf/ca.crl");
  back->ssl_ca_file = "/etc/my certs/ca&1.crt";
  EXPECT_NE(back->monitor_uri().find("&sslrootcert=/etc/my%20certs/ca%261.crt"), std::string::npos)
      << back->monitor_uri();

  /* self-signed: pgdata's server.crt/key, recognised as ours after a reload */
  Config ss = sample();
  ss.ssl_active = true;
  ss.sslmode = "require";
  ss.ssl_cert_file = ss.pgdata + "/server.crt";
  ss.ssl_key_file = ss.pgdata + "/server.key";
  ASSERT_TRUE(ss.save(path).ok());
  back = Config::load(path);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_TRUE(back->ssl_self_signed());
  EXPECT_EQ(back->ssl_conninfo(), " sslmode=require");

  /* a file without [ssl] (older pg_autoctl) still loads: SSL off, sslmode prefer */
  Ini ini = sample().to_ini();
  std::string text = ini.serialize();
  const auto at = text.find("[ssl]");
  ASSERT_NE(at, std::string::npos);
  const auto next = text.find("\n[", at + 1);
  text.erase(at, next == std::string::npos ? std::string::npos : next + 1 - at);
  ASSERT_EQ(text.find("ssl"), text.find("sslmode=prefer")) << text;
  write(path, text);
  back = Config::load(path);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_FALSE(back->ssl_active);
  EXPECT_EQ(back->ssl_conninfo(), " sslmode=prefer");

  /* a bad sslmode in the file is named */
  ini = c.to_ini();
  ini.set("ssl", "sslmode", "required");
  auto bad = Config::from_ini(ini, "x.cfg");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("ssl.sslmode"), std::string::npos) << bad.error().message;
}

TEST_F(ConfigTest, ReferenceKeysAreThere) {
  std::string text = sample().to_ini().serialize();
  for (const char* k : {"[pg_autoctl]", "role = keeper", "monitor = ", "formation = default",
                        "[postgresql]", "pgdata = ", "pg_ctl = ", "port = 25501", "[ssl]",
                        "[replication]", "maximum_backup_rate = 100M"}) {
    EXPECT_NE(text.find(k), std::string::npos) << k;
  }
}

TEST_F(ConfigTest, MissingFileNamesTheFile) {
  auto r = Config::load(dir_ + "/nope.cfg");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::BadConfig);
  EXPECT_NE(r.error().message.find(dir_ + "/nope.cfg"), std::string::npos);
}

TEST_F(ConfigTest, MalformedLineNamesFileAndLine) {
  std::string path = dir_ + "/bad.cfg";
  write(path, "[pg_autoctl]\nrole = keeper\nthis line is garbage\n");
  auto r = Config::load(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(path), std::string::npos);
  EXPECT_NE(r.error().message.find("line 3"), std::string::npos) << r.error().message;
}

TEST_F(ConfigTest, UnknownKeyAndBadValuesAreNamed) {
  Config c = sample();
  Ini ini = c.to_ini();
  ini.set("postgresql", "colour", "blue");
  auto r = Config::from_ini(ini, "x.cfg");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("postgresql.colour"), std::string::npos);

  ini = c.to_ini();
  ini.set("postgresql", "port", "54x");
  r = Config::from_ini(ini, "x.cfg");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("postgresql.port"), std::string::npos);

  ini = c.to_ini();
  ini.set("pgaf", "lease_ms", "-5");
  r = Config::from_ini(ini, "x.cfg");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("lease_ms"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().code, ErrorCode::BadConfig);
}

TEST_F(ConfigTest, DuplicateKeyIsAnError) {
  auto r = Ini::parse("[a]\nk = 1\nk = 2\n", "dup.cfg");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("a.k"), std::string::npos);
}

TEST_F(ConfigTest, PathsFollowTheReference) {
  setenv("XDG_CONFIG_HOME", "/cfg", 1);
  setenv("XDG_DATA_HOME", "/data", 1);
  setenv("XDG_RUNTIME_DIR", "/run/u", 1);
  auto p = paths_for("/var/lib/pg/node1/");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->config, "/cfg/pg_autoctl/var/lib/pg/node1/pg_autoctl.cfg");
  EXPECT_EQ(p->state, "/data/pg_autoctl/var/lib/pg/node1/pg_autoctl.state");
  EXPECT_EQ(p->pid, "/run/u/pg_autoctl/var/lib/pg/node1/pg_autoctl.pid");
  unsetenv("XDG_CONFIG_HOME");
  unsetenv("XDG_DATA_HOME");
  unsetenv("XDG_RUNTIME_DIR");
}

TEST_F(ConfigTest, StateRoundTripAndCorruption) {
  KeeperState s;
  s.node_id = 4;
  s.group_id = 0;
  s.current_role = NodeState::Secondary;
  s.assigned_role = NodeState::PreparePromotion;
  std::string path = dir_ + "/pg_autoctl.state";
  ASSERT_TRUE(s.save(path).ok());
  auto back = KeeperState::load(path);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->node_id, 4);
  EXPECT_EQ(back->current_role, NodeState::Secondary);
  EXPECT_EQ(back->assigned_role, NodeState::PreparePromotion);

  write(path, "{\"version\": 1, \"nodeId\": 4");
  auto bad = KeeperState::load(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(path), std::string::npos);

  write(path,
        "{\"version\":1,\"nodeId\":4,\"groupId\":0,\"current_role\":\"bogus\","
        "\"assigned_role\":\"single\",\"system_identifier\":0,"
        "\"last_monitor_contact\":0,\"last_secondary_contact\":0}");
  bad = KeeperState::load(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bogus"), std::string::npos) << bad.error().message;

  auto missing = KeeperState::load(dir_ + "/none.state");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("none.state"), std::string::npos);
}

/* fuzz_uri finding: an IPv6 hostname was written unbracketed into the monitor URI. */
TEST_F(ConfigTest, MonitorUriBracketsIpv6AndEscapesPaths) {
  Config c;
  c.role = Role::Monitor;
  c.hostname = "::1";
  c.port = 5433;
  c.pgdata = "/m";
  c.ssl_active = true;
  c.sslmode = "verify-ca";
  c.ssl_ca_file = "/etc/ssl/root ca.crt";
  EXPECT_EQ(c.monitor_uri(),
            "postgres://autoctl_node@[::1]:5433/pg_auto_failover?sslmode=verify-ca&"
            "sslrootcert=/etc/ssl/root%20ca.crt");
}

/* fuzz_config finding: a value with a line break (as `pg_autoctl config set` may pass) was
 * accepted and saved as is, injecting keys into the file; surrounding blanks were lost on reload.
 * Such values are refused naming the key, before anything is written. */
TEST_F(ConfigTest, ValuesAreOneLineWithoutSurroundingBlanks) {
  const std::string origin = dir_ + "/pg_autoctl.cfg";
  for (const std::string& bad :
       std::vector<std::string>{"node_2\n[pgaf]\nlease_ms = 100", "a\rb", std::string("a\0b", 3),
                                " node_2", "node_2\t"}) {
    Ini ini = sample().to_ini();
    ini.set("pg_autoctl", "name", bad);
    auto r = Config::from_ini(ini, origin);
    ASSERT_FALSE(r.ok()) << "[" << bad << "]";
    EXPECT_NE(r.error().message.find("pg_autoctl.name"), std::string::npos) << r.error().message;
  }
  Ini ok = sample().to_ini();
  ok.set("pg_autoctl", "name", "node 2\twith inner blanks");
  EXPECT_TRUE(Config::from_ini(ok, origin).ok());
}

/* fuzz_state finding: numbers were read with nlohmann's get<int>(), which converts a float
 * (1e300: undefined behaviour, UBSan) or truncates an out-of-range integer (groupId 2^32 read as
 * 0) instead of refusing the file. Every integer field must be an integer within its range. */
TEST_F(ConfigTest, StateNumbersMustBeIntegersInRange) {
  const std::string origin = dir_ + "/pg_autoctl.state";
  auto state = [](const std::string& node_id, const std::string& group_id) {
    return "{\"version\":1,\"nodeId\":" + node_id + ",\"groupId\":" + group_id +
           ",\"current_role\":\"single\",\"assigned_role\":\"single\","
           "\"system_identifier\":0,\"last_monitor_contact\":0,\"last_secondary_contact\":0}";
  };
  ASSERT_TRUE(KeeperState::from_json(state("4", "0"), origin).ok());
  for (const auto& [node_id, group_id] :
       std::vector<std::pair<std::string, std::string>>{{"4.5", "0"},
                                                        {"1e300", "0"},
                                                        {"4", "4294967296"},
                                                        {"4", "-1e300"},
                                                        {"18446744073709551615", "0"},
                                                        {"\"4\"", "0"}}) {
    auto r = KeeperState::from_json(state(node_id, group_id), origin);
    ASSERT_FALSE(r.ok()) << "nodeId " << node_id << " groupId " << group_id;
    EXPECT_NE(r.error().message.find(origin), std::string::npos) << r.error().message;
  }
  auto v = KeeperState::from_json(
      "{\"version\":9.2e19,\"nodeId\":4,\"groupId\":0,\"current_role\":\"single\","
      "\"assigned_role\":\"single\",\"system_identifier\":0,\"last_monitor_contact\":0,"
      "\"last_secondary_contact\":0}",
      origin);
  EXPECT_FALSE(v.ok());
}

TEST_F(ConfigTest, AtomicWriteReplacesWholeFile) {
  std::string path = dir_ + "/f";
  ASSERT_TRUE(atomic_write_file(path, std::string(10000, 'a')).ok());
  ASSERT_TRUE(atomic_write_file(path, "short").ok());
  auto t = read_file(path);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "short");
  EXPECT_FALSE(atomic_write_file(dir_ + "/no/such/dir/f", "x").ok());
}

}  // namespace
}  // namespace pgaf::agent
