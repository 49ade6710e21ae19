/*
 * own_server_test.cpp — check_own_server (postgres.hpp): the pure decision of the own-server
 * check; the live check runs in tests/integration/agent/own_server_test.cpp.
 */
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "pgaf/agent/postgres.hpp"

namespace {

TEST(OwnServer, SameDirectoryAndIdentifierIsOurs) {
  EXPECT_TRUE(pgaf::agent::check_own_server("/var/lib/pg/a", "/var/lib/pg/a", 7, 7).ok());
  EXPECT_TRUE(pgaf::agent::check_own_server("/var/lib/pg/a/", "/var/lib/pg/./a", 7, 7).ok());
  /* identifier unknown yet (PGDATA being built): the directory decides */
  EXPECT_TRUE(pgaf::agent::check_own_server("/var/lib/pg/a", "/var/lib/pg/a", 7, 0).ok());
}

TEST(OwnServer, AnotherDirectoryIsRefusedNamingBoth) {
  auto s = pgaf::agent::check_own_server("/var/lib/pg/node", "/var/lib/pg/monitor", 7, 7);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, pgaf::ErrorCode::BadState);
  EXPECT_NE(s.error().message.find("/var/lib/pg/node"), std::string::npos);
  EXPECT_NE(s.error().message.find("/var/lib/pg/monitor"), std::string::npos);
  EXPECT_FALSE(s.error().hint.empty());
}

TEST(OwnServer, SameDirectoryOtherIdentifierIsRefused) {
  /* two hosts (containers) with the same PGDATA path sharing a socket directory */
  auto s = pgaf::agent::check_own_server("/data", "/data", 1111, 2222);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("1111"), std::string::npos);
  EXPECT_NE(s.error().message.find("2222"), std::string::npos);
}

TEST(OwnServer, SymlinkedPgdataIsTheSameDirectory) {
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("pgaf-own-" + std::to_string(::getpid()));
  fs::create_directories(base / "real");
  fs::create_directory_symlink(base / "real", base / "link");
  EXPECT_TRUE(
      pgaf::agent::check_own_server((base / "link").string(), (base / "real").string(), 0, 0).ok());
  fs::remove_all(base);
}

}  // namespace
