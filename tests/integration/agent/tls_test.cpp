/*
 * tls_test.cpp — pg_autoctl --ssl-self-signed on a real formation: monitor + primary + secondary
 * created with self-signed certificates (each node's own: the standby replaces the primary's
 * files that pg_basebackup copied), every pg_autoctl connection made with sslmode=require, HBA
 * lines of type hostssl (initdb's TCP lines too: clear-text connections are refused), and the
 * replication and monitor connections really encrypted (pg_stat_ssl). Then the same with
 * certificate files and a CA: sslmode=verify-full everywhere. Ports 25590-25592 (the agent_it
 * tests run one at a time).
 */
#include "pgaf/agent/tls.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "agent_lab.hpp"
#include "steps.hpp"

namespace pgaf::agent_it {
namespace {

/* "t" once every standby streams over TLS */
const char* const kReplicationEncrypted =
    "SELECT coalesce(bool_and(s.ssl), false) FROM pg_stat_replication r "
    "JOIN pg_stat_ssl s USING (pid) WHERE r.application_name LIKE 'pgautofailover_standby_%'";
/* "2" once both keepers talk to the monitor over TLS */
const char* const kKeepersOverTls =
    "SELECT least(count(*), 2) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
    "WHERE a.usename = 'autoctl_node' AND s.ssl";

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Tls, SelfSignedFormationEncryptsEveryConnection) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (runs Postgres as postgres)";
  AgentLab lab(25590);
  lab.use_self_signed_tls();
  birth(lab);
  if (HasFatalFailure()) return;

  /* every node has its own certificate; configs say so */
  for (const char* n : {"monitor", "node_1", "node_2"}) {
    const std::string conf = slurp(lab.pgdata(n) + "/postgresql-auto-failover.conf");
    EXPECT_NE(conf.find("ssl = on"), std::string::npos) << n << ": " << conf;
    EXPECT_NE(slurp(lab.pgdata(n) + "/server.crt").find("BEGIN CERTIFICATE"), std::string::npos);
    EXPECT_NE(slurp(lab.pgdata(n) + "/pg_hba.conf").find("hostssl "), std::string::npos) << n;
  }
  EXPECT_NE(slurp(lab.pgdata("node_1") + "/server.crt"),
            slurp(lab.pgdata("node_2") + "/server.crt"))
      << "the standby must not keep the primary's certificate and key";

  pgaf::test::PgConnection p(lab.conninfo(lab.node_port(1)) + " user=postgres");
  /* the standby streams over TLS */
  EXPECT_EQ(poll_value(p, kReplicationEncrypted, "t"), "t") << "replication is not encrypted";
  pgaf::test::PgConnection s(lab.conninfo(lab.node_port(2)) + " user=postgres");
  EXPECT_NE(s.query_value("SHOW primary_conninfo").find("sslmode=require"), std::string::npos);
  /* the keepers' monitor connections are encrypted */
  pgaf::test::PgConnection m(lab.conninfo(lab.monitor_port(), "pg_auto_failover") +
                             " user=postgres");
  EXPECT_EQ(poll_value(m, kKeepersOverTls, "2"), "2")
      << "the keepers' monitor connections are not all over TLS";
  EXPECT_EQ(m.query_value("SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING "
                          "(pid) WHERE a.usename = 'autoctl_node' AND NOT s.ssl"),
            "0");
  /* HBA is hostssl only over TCP, initdb's loopback lines included: a clear-text connection
   * from 127.0.0.1 is refused by pg_hba.conf (28000), on the monitor and on both nodes */
  const std::pair<int, const char*> targets[] = {{lab.monitor_port(), "pg_auto_failover"},
                                                 {lab.node_port(1), "postgres"},
                                                 {lab.node_port(2), "postgres"}};
  for (const auto& [port, db] : targets) {
    for (const char* user : {"postgres", "autoctl_node", "pgautofailover_replicator"}) {
      try {
        pgaf::test::PgConnection c(lab.conninfo(port, db) + " user=" + user + " sslmode=disable");
        ADD_FAILURE() << "a connection without TLS was accepted on port " << port << " as " << user;
      } catch (const pgaf::test::PgError& e) {
        EXPECT_NE(std::string(e.what()).find("no pg_hba.conf entry"), std::string::npos)
            << port << " " << user << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find("no encryption"), std::string::npos) << e.what();
      }
    }
    /* the same connection with TLS is accepted */
    pgaf::test::PgConnection ok(lab.conninfo(port, db) + " user=postgres sslmode=require");
    EXPECT_EQ(ok.query_value("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), "t");
  }
  /* replication over a clear-text connection is refused too */
  try {
    pgaf::test::PgConnection c(lab.conninfo(lab.node_port(1), "postgres") +
                               " user=pgautofailover_replicator replication=true sslmode=disable");
    ADD_FAILURE() << "a replication connection without TLS was accepted";
  } catch (const pgaf::test::PgError& e) {
    EXPECT_NE(std::string(e.what()).find("no pg_hba.conf entry"), std::string::npos) << e.what();
  }

  /* show uri: the formation URI carries this node's sslmode; a monitor shows the nodes' URI */
  auto u = lab.ctl({"show", "uri", "--pgdata", lab.pgdata("node_1"), "--json"});
  EXPECT_EQ(u.exit_code, 0) << u.output;
  EXPECT_NE(u.output.find("target_session_attrs=read-write&sslmode=require"), std::string::npos)
      << u.output;
  u = lab.ctl({"show", "uri", "--pgdata", lab.pgdata("monitor"), "--formation", "monitor"});
  EXPECT_EQ(u.exit_code, 0) << u.output;
  EXPECT_NE(u.output.find("postgres://autoctl_node@127.0.0.1:"), std::string::npos) << u.output;
  EXPECT_NE(u.output.find("sslmode=require"), std::string::npos) << u.output;
  /* a switchover over TLS; node_1 keeps its own key through pg_rewind */
  auto r = lab.ctl({"perform", "switchover", "--monitor", lab.monitor_uri()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ASSERT_GE(lab.wait_states({{"node_2", "primary"}, {"node_1", "secondary"}}, 45000), 0)
      << lab.state_dump() << lab.log("node_1") << lab.log("node_2");
  EXPECT_NE(slurp(lab.pgdata("node_1") + "/server.key"),
            slurp(lab.pgdata("node_2") + "/server.key"))
      << "pg_rewind must not leave the new primary's key on node_1";
  EXPECT_TRUE(lab.teardown().empty());
}

/* Certificate files: --ssl-ca-file/--server-cert/--server-key (one certificate for 127.0.0.1, its
 * own CA) give sslmode=verify-full by default; every node connection verifies the server against
 * the CA, and a client trusting another CA is refused. */
TEST(Tls, CaFilesGiveVerifyFullEverywhere) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (runs Postgres as postgres)";
  AgentLab lab(25590);
  const std::string tls = lab.dir() + "/tls";
  const std::string crt = tls + "/server.crt", key = tls + "/server.key";
  const std::string other = tls + "/other.crt", other_key = tls + "/other.key";
  std::filesystem::create_directories(tls);
  ASSERT_TRUE(pgaf::agent::write_self_signed_certificate(crt, key, "127.0.0.1").ok());
  ASSERT_TRUE(pgaf::agent::write_self_signed_certificate(other, other_key, "127.0.0.1").ok());
  const auto id = pgaf::test::postgres_identity();
  for (const std::string& p : {tls, crt, key, other, other_key})
    ASSERT_EQ(::chown(p.c_str(), id.uid, id.gid), 0) << p;

  lab.use_tls_options({"--ssl-ca-file", crt, "--server-cert", crt, "--server-key", key},
                      "sslmode=verify-full&sslrootcert=" + crt);
  birth(lab);
  if (HasFatalFailure()) return;

  const std::string verify = " user=postgres sslmode=verify-full sslrootcert=" + crt;
  pgaf::test::PgConnection p(lab.conninfo(lab.node_port(1)) + verify);
  EXPECT_EQ(p.query_value("SHOW ssl_ca_file"), crt);
  EXPECT_EQ(p.query_value("SHOW ssl_cert_file"), crt);
  EXPECT_EQ(p.query_value("SHOW ssl_key_file"), key);
  EXPECT_EQ(poll_value(p, kReplicationEncrypted, "t"), "t") << "replication is not encrypted";
  pgaf::test::PgConnection s(lab.conninfo(lab.node_port(2)) + verify);
  const std::string pci = s.query_value("SHOW primary_conninfo");
  EXPECT_NE(pci.find("sslmode=verify-full"), std::string::npos) << pci;
  EXPECT_NE(pci.find("sslrootcert=" + crt), std::string::npos) << pci;

  pgaf::test::PgConnection m(lab.conninfo(lab.monitor_port(), "pg_auto_failover") + verify);
  EXPECT_EQ(poll_value(m, kKeepersOverTls, "2"), "2")
      << "the keepers' monitor connections are not all over TLS";

  /* the servers really present the certificate: a client trusting another CA is refused */
  for (int port : {lab.monitor_port(), lab.node_port(1), lab.node_port(2)}) {
    try {
      pgaf::test::PgConnection c(lab.conninfo(port) +
                                 " user=postgres sslmode=verify-ca sslrootcert=" + other);
      ADD_FAILURE() << "port " << port << " passed verification against another CA";
    } catch (const pgaf::test::PgError& e) {
      EXPECT_NE(std::string(e.what()).find("certificate verify failed"), std::string::npos)
          << port << ": " << e.what();
    }
  }
  EXPECT_TRUE(lab.teardown().empty());
}

}  // namespace
}  // namespace pgaf::agent_it
