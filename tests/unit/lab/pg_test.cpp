/*
 * pg_test.cpp — the lab's libpq helpers: LSN and WAL-file parsing, and a bounded connect to a
 * loopback port nobody listens on (a definite, quick failure naming the cause).
 */
#include "pgaf/lab/pg.hpp"

#include <gtest/gtest.h>

#include <chrono>

using namespace pgaf::lab;

TEST(Pg, ParsesLsn) {
  EXPECT_EQ(parse_lsn("0/0"), 0u);
  EXPECT_EQ(parse_lsn("0/3000060"), 0x3000060u);
  EXPECT_EQ(parse_lsn("16/B374D848"), 0x16B374D848u);
  EXPECT_EQ(parse_lsn("garbage"), 0u);
  EXPECT_EQ(parse_lsn("1/"), 0u);
  EXPECT_EQ(parse_lsn("/1"), 0u);
  EXPECT_EQ(parse_lsn("1x/2"), 0u);
}

TEST(Pg, TimelineOfWalFile) {
  EXPECT_EQ(timeline_of_walfile("000000010000000000000003"), 1);
  EXPECT_EQ(timeline_of_walfile("0000000A0000000000000003"), 10);
  EXPECT_EQ(timeline_of_walfile("00000001"), 0);
  EXPECT_EQ(timeline_of_walfile("zz0000010000000000000003"), 0);
}

TEST(Pg, ConnectFailureIsBoundedAndNamed) {
  const auto t0 = std::chrono::steady_clock::now();
  /* port 1 on loopback: nothing listens there, the kernel refuses at once */
  auto c = PgConn::connect("host=127.0.0.1 port=1 user=postgres dbname=postgres connect_timeout=2");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("could not connect"), std::string::npos) << c.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  PgConn none;
  EXPECT_FALSE(none.connected());
  const QueryOutcome o = none.exec("select 1", {}, 100);
  EXPECT_EQ(o.kind, QueryOutcome::Kind::Lost);
}
