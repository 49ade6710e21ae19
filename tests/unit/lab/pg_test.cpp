/*
 * pg_test.cpp — the lab's libpq helpers: WAL-file parsing (LSN text: tests/unit/core/lsn_test.cpp),
 * and a bounded connect to a loopback port nobody listens on (a definite, quick failure naming the
 * cause).
 */
#include "pgaf/lab/pg.hpp"

#include <gtest/gtest.h>

#include <chrono>

using namespace pgaf::lab;

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
