/*
 * tls_test.cpp — self-signed certificates (pgaf/agent tls.hpp): the key and certificate written
 * parse back with OpenSSL, belong together, carry the CN asked for, have the modes PostgreSQL
 * requires; two generations give two different keys; bad input is refused; sslmode validation;
 * the SSL-only rewrite of initdb's pg_hba.conf.
 */
#include "pgaf/agent/tls.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "pgaf/agent/files.hpp"

namespace fs = std::filesystem;
using namespace pgaf::agent;

namespace {
struct TmpDir {
  std::string path;
  TmpDir() {
    char t[] = "/tmp/pgaf-tls-XXXXXX";
    path = mkdtemp(t);
  }
  ~TmpDir() { fs::remove_all(path); }
};
unsigned mode_of(const std::string& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}
}  // namespace

TEST(Tls, SelfSignedCertificateIsValidAndMatchesItsKey) {
  TmpDir d;
  const std::string crt = d.path + "/server.crt", key = d.path + "/server.key";
  ASSERT_TRUE(write_self_signed_certificate(crt, key, "node1.example").ok());
  EXPECT_EQ(certificate_common_name(crt), "node1.example");
  EXPECT_TRUE(key_matches_certificate(crt, key));
  EXPECT_EQ(mode_of(key), 0600u);
  EXPECT_EQ(mode_of(crt), 0644u);
  EXPECT_NE(read_file(crt)->find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  EXPECT_NE(read_file(key)->find("PRIVATE KEY-----"), std::string::npos);

  /* another certificate: another key, which does not match the first certificate */
  const std::string crt2 = d.path + "/b.crt", key2 = d.path + "/b.key";
  ASSERT_TRUE(write_self_signed_certificate(crt2, key2, "node2").ok());
  EXPECT_NE(*read_file(key), *read_file(key2));
  EXPECT_FALSE(key_matches_certificate(crt, key2));
  EXPECT_FALSE(key_matches_certificate(crt2, key));
}

TEST(Tls, BadInputIsRefused) {
  TmpDir d;
  EXPECT_FALSE(write_self_signed_certificate(d.path + "/c", d.path + "/k", "").ok());
  EXPECT_FALSE(
      write_self_signed_certificate(d.path + "/c", d.path + "/k", std::string(65, 'x')).ok());
  EXPECT_FALSE(fs::exists(d.path + "/c"));
  EXPECT_EQ(certificate_common_name(d.path + "/missing.crt"), "");
  EXPECT_FALSE(key_matches_certificate(d.path + "/missing.crt", d.path + "/missing.key"));
  ASSERT_TRUE(atomic_write_file(d.path + "/garbage.crt", "not a certificate\n", 0644).ok());
  EXPECT_EQ(certificate_common_name(d.path + "/garbage.crt"), "");
}

TEST(Tls, SslModes) {
  for (const char* m : {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})
    EXPECT_TRUE(validate_sslmode(m).ok()) << m;
  auto bad = validate_sslmode("required");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("--ssl-mode"), std::string::npos);
}

TEST(Tls, HbaRequireSslTurnsOnlyHostLinesIntoHostssl) {
  const std::string in =
      "# TYPE  DATABASE        USER            ADDRESS                 METHOD\n"
      "# host all all 0.0.0.0/0 md5 (a comment stays a comment)\n"
      "local   all             all                                     trust\n"
      "host    all             all             127.0.0.1/32            trust\n"
      "\thost\treplication all ::1/128 trust\n"
      "hostssl all all 10.0.0.0/8 md5\n"
      "hostnossl all all 10.0.0.0/8 reject\n"
      "hostgssenc all all 10.0.0.0/8 gss\n"
      "host all all 192.168.0.0/16 trust";
  const std::string want =
      "# TYPE  DATABASE        USER            ADDRESS                 METHOD\n"
      "# host all all 0.0.0.0/0 md5 (a comment stays a comment)\n"
      "local   all             all                                     trust\n"
      "hostssl    all             all             127.0.0.1/32            trust\n"
      "\thostssl\treplication all ::1/128 trust\n"
      "hostssl all all 10.0.0.0/8 md5\n"
      "hostnossl all all 10.0.0.0/8 reject\n"
      "hostgssenc all all 10.0.0.0/8 gss\n"
      "hostssl all all 192.168.0.0/16 trust";
  EXPECT_EQ(hba_require_ssl(in), want);
  EXPECT_EQ(hba_require_ssl(want), want) << "idempotent";
  EXPECT_EQ(hba_require_ssl(""), "");

  TmpDir d;
  const std::string path = d.path + "/pg_hba.conf";
  ASSERT_TRUE(atomic_write_file(path, in, 0644).ok());
  ASSERT_TRUE(hba_file_require_ssl(path).ok());
  EXPECT_EQ(*read_file(path), want);
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_FALSE(hba_file_require_ssl(d.path + "/missing.conf").ok());
}

namespace pgaf::agent {
namespace {

/* disable ssl: hostssl lines (ours and initdb's, made hostssl at create) match again without TLS;
 * the inverse of hba_require_ssl, other lines byte for byte */
TEST(Tls, HbaAllowClearTextUndoesRequireSsl) {
  const std::string hba =
      "# comment hostssl\n"
      "local   all all trust\n"
      "host    all all 127.0.0.1/32 trust\n"
      "  hostssl\treplication all ::1/128 trust\n"
      "hostnossl all all 0.0.0.0/0 reject\n";
  const std::string strict = hba_require_ssl(hba);
  EXPECT_EQ(hba_allow_clear_text(strict),
            "# comment hostssl\n"
            "local   all all trust\n"
            "host    all all 127.0.0.1/32 trust\n"
            "  host\treplication all ::1/128 trust\n"
            "hostnossl all all 0.0.0.0/0 reject\n");
}

}  // namespace
}  // namespace pgaf::agent
