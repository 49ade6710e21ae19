/*
 * demo_summary_test.cpp — the statistics `do demo summary` prints (pgaf/cli/demo_summary.hpp),
 * as pure functions: percentile_cont as PostgreSQL computes it, per-client and combined rows,
 * acknowledged inserts missing from the table, and psql's aligned layout.
 */
#include "pgaf/cli/demo_summary.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pgaf::cli {
namespace {

TEST(DemoSummary, PercentileContInterpolatesBetweenRanks) {
  /* select percentile_cont(0.95) within group (order by v) from generate_series(1,10) v → 9.55 */
  std::vector<double> v;
  for (int i = 10; i >= 1; --i) v.push_back(i);
  EXPECT_DOUBLE_EQ(percentile_cont(v, 0.95), 9.55);
  EXPECT_DOUBLE_EQ(percentile_cont(v, 0.99), 9.91);
  EXPECT_DOUBLE_EQ(percentile_cont(v, 0.5), 5.5);
  EXPECT_DOUBLE_EQ(percentile_cont({7}, 0.99), 7);
  EXPECT_DOUBLE_EQ(percentile_cont({}, 0.95), 0);
}

TEST(DemoSummary, PerClientThenCombined) {
  const std::vector<DemoConnection> rows = {
      {2, 0, 0, 3000}, {1, 0, 0, 1000}, {1, 1, 2, 5000}, {2, 1, 1, 1500}, {1, 2, 0, 2000}};
  const auto s = demo_statistics(rows);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].label, "Client 1");
  EXPECT_EQ(s[0].connections, 3);
  EXPECT_EQ(s[0].retries, 2);
  EXPECT_DOUBLE_EQ(s[0].min_ms, 1.0);
  EXPECT_DOUBLE_EQ(s[0].max_ms, 5.0);
  EXPECT_DOUBLE_EQ(s[0].p95_ms, 2.0 + 3.0 * 0.9); /* ranks 1,2,5 ms: pos 1.9 */
  EXPECT_EQ(s[1].label, "Client 2");
  EXPECT_EQ(s[1].connections, 2);
  EXPECT_EQ(s[1].retries, 1);
  EXPECT_DOUBLE_EQ(s[1].min_ms, 1.5);
  EXPECT_EQ(s[2].label, "All Clients Combined");
  EXPECT_EQ(s[2].connections, 5);
  EXPECT_EQ(s[2].retries, 3);
  EXPECT_DOUBLE_EQ(s[2].min_ms, 1.0);
  EXPECT_DOUBLE_EQ(s[2].max_ms, 5.0);
  EXPECT_TRUE(demo_statistics({}).empty());
}

TEST(DemoSummary, AcknowledgedInsertsMissingFromTheTableAreLost) {
  const std::vector<DemoConnection> rows = {{1, 0, 0, 1}, {1, 1, 0, 1}, {1, 3, 0, 1}, {2, 0, 0, 1}};
  DemoClientReport c1{1, {0, 1, 2, 3}, 1}; /* loop 2 acknowledged but not in the table */
  DemoClientReport c2{2, {0}, 0};
  const auto s = demo_insert_stats(rows, {c1, c2});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].client, 1);
  EXPECT_EQ(s[0].rows, 3);
  EXPECT_EQ(s[0].acked, 4);
  EXPECT_EQ(s[0].failed, 1);
  EXPECT_EQ(s[0].lost, 1);
  EXPECT_EQ(s[1].lost, 0);
  /* a committed row whose acknowledgement was lost is not "lost" */
  const auto t = demo_insert_stats(rows, {DemoClientReport{1, {0}, 2}});
  EXPECT_EQ(t[0].lost, 0);
  EXPECT_EQ(t[0].rows, 3);
}

TEST(DemoSummary, PsqlAlignedLayout) {
  const std::string t =
      psql_table({"Client", "Connections", "p99"},
                 {{"Client 1", "136", "261.809"}, {"All Clients Combined", "1351", "2.5"}},
                 {false, true, true});
  EXPECT_EQ(t,
            "        Client        | Connections |   p99\n"
            "----------------------+-------------+---------\n"
            " Client 1             |         136 | 261.809\n"
            " All Clients Combined |        1351 |     2.5\n"
            "(2 rows)\n\n");
}

TEST(DemoSummary, TextHasBothTables) {
  const auto text = demo_summary_text(demo_statistics({{1, 0, 3, 58318}}),
                                      demo_insert_stats({{1, 0, 3, 58318}}, {{1, {0}, 0}}));
  EXPECT_NE(text.find(" Client 1             |           1 |       3 |                58.318 | "
                      "58.318 | 58.318 | 58.318\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(" Client 1 |       1 |     1 |      0 |          0\n"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace pgaf::cli
