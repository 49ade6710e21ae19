/*
 * ssl_setup_test.cpp — enable|disable ssl's rewriting (ssl_setup.hpp): the monitor URI and
 * primary_conninfo keep every parameter but the TLS ones, which follow the new [ssl] section;
 * PGDATA gets the reference's SSL settings (its ssl_ciphers with and without --no-ssl), a
 * certificate when self-signed, and HBA lines that still match once SSL is off.
 */
#include "pgaf/agent/ssl_setup.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "pgaf/agent/files.hpp"
#include "pgaf/agent/postgres.hpp"
#include "pgaf/agent/tls.hpp"

namespace pgaf::agent {
namespace {

namespace fs = std::filesystem;

/* spelled out here (not kSslCiphers): the reference's DEFAULT_SSL_CIPHERS, defaults.h */
const char* const kReferenceCiphers =
    "ssl_ciphers = 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA256:"
    "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384'\n";

Config ssl_on(const std::string& mode) {
  Config c;
  c.pgdata = "/data/node_1";
  c.ssl_active = true;
  c.sslmode = mode;
  return c;
}

TEST(SslSettings, ReferenceCiphersWithAndWithoutSsl) {
  Config off;
  off.pgdata = "/data/node_1";
  const std::string t_off = managed_config_text(off);
  EXPECT_NE(t_off.find("\nssl = off\n"), std::string::npos) << t_off;
  EXPECT_NE(t_off.find(kReferenceCiphers), std::string::npos) << t_off;
  EXPECT_EQ(t_off.find("ssl_cert_file"), std::string::npos) << t_off;

  Config on = ssl_on("verify-full");
  on.ssl_ca_file = "/etc/pgaf/ca.crt";
  on.ssl_crl_file = "/etc/pgaf/ca.crl";
  on.ssl_cert_file = "/etc/pgaf/server.crt";
  on.ssl_key_file = "/etc/pgaf/server.key";
  const std::string t_on = managed_config_text(on);
  /* the reference's order: ssl, ca, crl, cert, key, ciphers */
  const char* const in_order[] = {"\nssl = on\n",
                                  "\nssl_ca_file = '/etc/pgaf/ca.crt'\n",
                                  "\nssl_crl_file = '/etc/pgaf/ca.crl'\n",
                                  "\nssl_cert_file = '/etc/pgaf/server.crt'\n",
                                  "\nssl_key_file = '/etc/pgaf/server.key'\n",
                                  kReferenceCiphers};
  std::size_t at = 0;
  for (const char* line : in_order) {
    const std::size_t found = t_on.find(line);
    ASSERT_NE(found, std::string::npos) << line << " missing in\n" << t_on;
    EXPECT_GE(found, at) << line << " out of order in\n" << t_on;
    at = found;
  }
  EXPECT_EQ(t_on.find("TLS_AES"), std::string::npos) << "TLS 1.3 suites are not ssl_ciphers";
}

TEST(SslConninfo, UriKeepsItsParametersAndGetsTheNewTlsOnes) {
  const std::string uri =
      "postgres://autoctl_node@127.0.0.1:5000/pg_auto_failover?sslmode=prefer&connect_timeout=5";
  EXPECT_EQ(conninfo_with_ssl(uri, ssl_on("require")),
            "postgres://autoctl_node@127.0.0.1:5000/pg_auto_failover?connect_timeout=5"
            "&sslmode=require");
  Config ca = ssl_on("verify-full");
  ca.ssl_ca_file = "/etc/my certs/ca.crt";
  ca.ssl_crl_file = "/etc/ca.crl";
  const std::string verified = conninfo_with_ssl(uri, ca);
  EXPECT_EQ(verified,
            "postgres://autoctl_node@127.0.0.1:5000/pg_auto_failover?connect_timeout=5"
            "&sslmode=verify-full&sslrootcert=/etc/my%20certs/ca.crt&sslcrl=/etc/ca.crl");
  /* disable: the CA parameters go, sslmode is prefer */
  Config off;
  EXPECT_EQ(conninfo_with_ssl(verified, off),
            "postgres://autoctl_node@127.0.0.1:5000/pg_auto_failover?connect_timeout=5"
            "&sslmode=prefer");
  /* a URI without parameters gets a query string */
  EXPECT_EQ(conninfo_with_ssl("postgresql://m:5432/pg_auto_failover", ssl_on("require")),
            "postgresql://m:5432/pg_auto_failover?sslmode=require");
}

TEST(SslConninfo, KeyValueConninfoKeepsQuotedValues) {
  const std::string ci =
      "host=10.0.0.1 port=5432 sslmode=disable password='it\\'s x' application_name=a "
      "sslcrl=/c";
  const std::string out = conninfo_with_ssl(ci, ssl_on("require"));
  EXPECT_EQ(out, "host=10.0.0.1 port=5432 password='it\\'s x' application_name=a sslmode=require");
  Config ca = ssl_on("verify-ca");
  ca.ssl_ca_file = "/etc/my ca.crt";
  EXPECT_EQ(conninfo_with_ssl("host=h", ca),
            "host=h sslmode=verify-ca sslrootcert='/etc/my ca.crt'");
}

TEST(SslConninfo, StandbyConfGetsTheNewSslmode) {
  const std::string text =
      "# written by pg_autoctl: standby setup\n"
      "primary_conninfo = 'host=10.0.0.1 port=5432 user=pgautofailover_replicator "
      "application_name=pgautofailover_standby_2 sslmode=prefer password=a''b'\n"
      "primary_slot_name = 'pgautofailover_standby_2'\n"
      "recovery_target_timeline = 'latest'\n";
  const std::string out = standby_conf_with_ssl(text, ssl_on("require"));
  EXPECT_EQ(out,
            "# written by pg_autoctl: standby setup\n"
            "primary_conninfo = 'host=10.0.0.1 port=5432 user=pgautofailover_replicator "
            "application_name=pgautofailover_standby_2 password=a''b sslmode=require'\n"
            "primary_slot_name = 'pgautofailover_standby_2'\n"
            "recovery_target_timeline = 'latest'\n");
  /* no upstream: nothing to change */
  const std::string none = "primary_conninfo = ''\nprimary_slot_name = ''\n";
  EXPECT_EQ(standby_conf_with_ssl(none, ssl_on("require")), none);
}

class SslPgdata : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pgaf-ssl-setup-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_TRUE(atomic_write_file(pgdata() + "/postgresql.conf", "port = 5432\n"));
    ASSERT_TRUE(atomic_write_file(pgdata() + "/pg_hba.conf",
                                  "local all all trust\n"
                                  "hostssl all all 127.0.0.1/32 trust\n"
                                  "hostssl replication pgautofailover_replicator 10.0.0.1/32 "
                                  "trust # Auto-generated by pg_auto_failover\n"));
    ASSERT_TRUE(atomic_write_file(pgdata() + "/postgresql-auto-failover-standby.conf",
                                  "primary_conninfo = 'host=10.0.0.1 sslmode=require'\n"));
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string pgdata() const { return dir_.string(); }
  fs::path dir_;
};

TEST_F(SslPgdata, DisableTurnsSslOffEverywhere) {
  Config c;
  c.pgdata = pgdata();
  auto done = apply_ssl_to_pgdata(c);
  ASSERT_TRUE(done) << done.error().to_string();
  EXPECT_FALSE(done->reloaded) << "no postmaster runs here";
  EXPECT_FALSE(done->certificate_created);
  auto conf = read_file(pgdata() + "/postgresql-auto-failover.conf");
  ASSERT_TRUE(conf);
  EXPECT_NE(conf->find("\nssl = off\n"), std::string::npos);
  EXPECT_EQ(*read_file(pgdata() + "/postgresql-auto-failover-standby.conf"),
            "primary_conninfo = 'host=10.0.0.1 sslmode=prefer'\n");
  EXPECT_EQ(*read_file(pgdata() + "/pg_hba.conf"),
            "local all all trust\n"
            "host all all 127.0.0.1/32 trust\n"
            "host replication pgautofailover_replicator 10.0.0.1/32 "
            "trust # Auto-generated by pg_auto_failover\n");
  EXPECT_NE(read_file(pgdata() + "/postgresql.conf")->find("postgresql-auto-failover.conf"),
            std::string::npos);
}

TEST_F(SslPgdata, EnableSelfSignedCreatesTheCertificate) {
  Config c = ssl_on("require");
  c.pgdata = pgdata();
  c.hostname = "node1.example";
  c.ssl_cert_file = c.pgdata + "/server.crt";
  c.ssl_key_file = c.pgdata + "/server.key";
  auto done = apply_ssl_to_pgdata(c);
  ASSERT_TRUE(done) << done.error().to_string();
  EXPECT_TRUE(done->certificate_created);
  EXPECT_EQ(certificate_common_name(c.ssl_cert_file), "node1.example");
  EXPECT_TRUE(key_matches_certificate(c.ssl_cert_file, c.ssl_key_file));
  const std::string conf = *read_file(pgdata() + "/postgresql-auto-failover.conf");
  EXPECT_NE(conf.find("\nssl = on\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("ssl_cert_file = '" + c.ssl_cert_file + "'"), std::string::npos) << conf;
  /* enabling leaves HBA alone (the reference's warning: host lines match SSL too) */
  EXPECT_NE(read_file(pgdata() + "/pg_hba.conf")->find("hostssl all all"), std::string::npos);
  /* a second run keeps the certificate */
  auto again = apply_ssl_to_pgdata(c);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->certificate_created);
}

}  // namespace
}  // namespace pgaf::agent
