/*
 * watch_render_test.cpp — the layout of `pg_autoctl watch` without a terminal
 * (pgaf/cli/watch_render.hpp): lag computation, column sets chosen by width, truncation on
 * narrow and short windows, events newest last.
 */
#include "pgaf/cli/watch_render.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pgaf::cli {
namespace {

agent::StateRow row(const std::string& name, NodeId id, NodeState reported, NodeState goal,
                    const std::string& lsn, int health = 1, GroupId group = 0) {
  agent::StateRow r;
  r.name = name;
  r.host = "10.0.0." + std::to_string(id);
  r.port = 5432;
  r.group_id = group;
  r.node_id = id;
  r.reported = reported;
  r.goal = goal;
  r.tli = 1;
  r.lsn = lsn;
  r.health = health;
  return r;
}

agent::EventRow event(NodeId id, const std::string& time, const std::string& description) {
  agent::EventRow e;
  e.node_id = id;
  e.time = time;
  e.description = description;
  return e;
}

WatchData formation() {
  WatchData d;
  d.formation = "default";
  d.monitor = "10.0.0.9:5432";
  d.time = "12:34:56";
  d.number_sync_standbys = 1;
  d.rows = {row("node_1", 1, NodeState::Primary, NodeState::Primary, "0/5000000"),
            row("node_2", 2, NodeState::Secondary, NodeState::Secondary, "0/4FFFC00"),
            row("node_3", 3, NodeState::Catchingup, NodeState::Secondary, "0/3000000", 0)};
  for (int i = 0; i < 30; ++i)
    d.events.push_back(event(
        2, "2026-12-07 10:00:" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ".123+00",
        "event number " + std::to_string(i)));
  return d;
}

void expect_fits(const WatchScreen& s, int height, int width) {
  EXPECT_EQ(s.lines.size(), static_cast<std::size_t>(height));
  for (const auto& l : s.lines) EXPECT_LE(l.size(), static_cast<std::size_t>(width)) << l;
}

bool contains(const std::vector<std::string>& lines, const std::string& what) {
  for (const auto& l : lines)
    if (l.find(what) != std::string::npos) return true;
  return false;
}

TEST(WatchRender, LagIsBytesBehindThePrimaryOfTheGroup) {
  auto lags = lag_bytes(formation().rows);
  ASSERT_EQ(lags.size(), 3u);
  EXPECT_EQ(lags[0], 0u);
  EXPECT_EQ(lags[1], 0x400u);
  EXPECT_EQ(lags[2], 0x2000000u);
}

TEST(WatchRender, LagIsUnknownWithoutAPrimaryOrAnLsn) {
  std::vector<agent::StateRow> rows = {
      row("a", 1, NodeState::Demoted, NodeState::Catchingup, "0/10"),
      row("b", 2, NodeState::Secondary, NodeState::PreparePromotion, "0/20"),
      /* another group, with its own primary; a standby ahead of it counts 0 */
      row("c", 3, NodeState::Primary, NodeState::Primary, "0/100", 1, 1),
      row("d", 4, NodeState::Secondary, NodeState::Secondary, "0/180", 1, 1),
      row("e", 5, NodeState::Secondary, NodeState::Secondary, "not an lsn", 1, 1)};
  auto lags = lag_bytes(rows);
  EXPECT_FALSE(lags[0]);
  EXPECT_FALSE(lags[1]);
  EXPECT_EQ(lags[2], 0u);
  EXPECT_EQ(lags[3], 0u);
  EXPECT_FALSE(lags[4]);
}

TEST(WatchRender, PrettyBytes) {
  EXPECT_EQ(pretty_bytes(0), "0 B");
  EXPECT_EQ(pretty_bytes(1023), "1023 B");
  EXPECT_EQ(pretty_bytes(1536), "1.5 kB");
  EXPECT_EQ(pretty_bytes(32ull << 20), "32 MB");
  EXPECT_EQ(pretty_bytes(3ull << 40), "3.0 TB");
}

TEST(WatchRender, ConnectionColumnAsShowState) {
  EXPECT_EQ(node_connection(row("a", 1, NodeState::Primary, NodeState::Primary, "0/1")),
            "read-write");
  EXPECT_EQ(node_connection(row("a", 1, NodeState::Secondary, NodeState::Secondary, "0/1", -1)),
            "read-only ?");
  EXPECT_EQ(node_connection(row("a", 1, NodeState::Draining, NodeState::Demoted, "0/1", 0)),
            "none !");
}

TEST(WatchRender, WideWindowShowsEveryColumnAndTheNewestEvents) {
  const auto s = render_watch(formation(), 30, 160);
  expect_fits(s, 30, 160);
  EXPECT_EQ(s.columns, "full");
  EXPECT_NE(s.lines[0].find("Formation: default - Sync Standbys: 1 - Monitor: 10.0.0.9:5432"),
            std::string::npos);
  EXPECT_EQ(s.lines[0].substr(160 - 8), "12:34:56") << "the time at the right";
  ASSERT_GE(s.column_header_row, 0);
  const std::string& h = s.lines[static_cast<std::size_t>(s.column_header_row)];
  for (const char* col : {"Name", "Node", "Host:Port", "TLI: LSN", "Lag", "Connection",
                          "Reported State", "Assigned State"})
    EXPECT_NE(h.find(col), std::string::npos) << col;
  const std::string& n3 = s.lines[static_cast<std::size_t>(s.column_header_row) + 3];
  EXPECT_NE(n3.find("node_3"), std::string::npos);
  EXPECT_NE(n3.find("10.0.0.3:5432"), std::string::npos);
  EXPECT_NE(n3.find("1: 0/3000000"), std::string::npos);
  EXPECT_NE(n3.find("32 MB"), std::string::npos);
  EXPECT_NE(n3.find("read-only !"), std::string::npos);
  EXPECT_NE(n3.find("catchingup"), std::string::npos);
  /* events fill the rows left, the newest at the bottom, above the help line */
  EXPECT_NE(s.lines[28].find("event number 29"), std::string::npos) << s.lines[28];
  EXPECT_NE(s.lines[28].find("2026-12-07 10:00:29"), std::string::npos) << s.lines[28];
  EXPECT_NE(s.lines[29].find("Press q to quit"), std::string::npos);
  EXPECT_FALSE(contains(s.lines, "event number 0 ")) << "older events do not fit";
  int shown = 0;
  for (const auto& l : s.lines)
    if (l.find("event number") != std::string::npos) ++shown;
  /* 30 rows: header, message, table (4), blank, events header, help line */
  EXPECT_EQ(shown, 30 - 9);
}

TEST(WatchRender, NarrowerWindowsDropColumnsNotNodes) {
  const auto d = formation();
  std::string last = "full";
  for (int width : {160, 100, 80, 60, 40}) {
    const auto s = render_watch(d, 20, width);
    expect_fits(s, 20, width);
    for (const char* n : {"node_1", "node_2", "node_3"})
      EXPECT_TRUE(contains(s.lines, n)) << n << " at width " << width;
    EXPECT_TRUE(contains(s.lines, "secondary")) << width;
    last = s.columns;
  }
  EXPECT_EQ(last, "minimal");
  const auto mid = render_watch(d, 20, 80);
  EXPECT_TRUE(mid.columns == "verbose" || mid.columns == "terse") << mid.columns;
  const std::string& h = mid.lines[static_cast<std::size_t>(mid.column_header_row)];
  EXPECT_EQ(h.find("Host:Port"), std::string::npos) << "the widest column goes first";
  EXPECT_NE(h.find("Lag"), std::string::npos);
}

TEST(WatchRender, TooNarrowForAnyColumnSetIsCut) {
  const auto s = render_watch(formation(), 10, 12);
  expect_fits(s, 10, 12);
  EXPECT_EQ(s.columns, "minimal");
  EXPECT_TRUE(contains(s.lines, "node_1"));
}

TEST(WatchRender, ShortWindowKeepsTheNodesBeforeEvents) {
  const auto s = render_watch(formation(), 6, 160);
  expect_fits(s, 6, 160);
  EXPECT_TRUE(contains(s.lines, "node_2"));
  EXPECT_FALSE(contains(s.lines, "event number")) << "no room left for events";
  const auto tiny = render_watch(formation(), 2, 160);
  expect_fits(tiny, 2, 160);
  EXPECT_EQ(render_watch(formation(), 0, 80).lines.size(), 0u);
}

TEST(WatchRender, AMonitorErrorIsShownAndTheLastRowsStay) {
  auto d = formation();
  d.error = "could not connect to the monitor";
  const auto s = render_watch(d, 20, 120);
  EXPECT_EQ(s.lines[1], "monitor: could not connect to the monitor");
  EXPECT_TRUE(contains(s.lines, "node_1"));
}

TEST(WatchRender, NarrowWindowShowsTheEventClockOnly) {
  const auto s = render_watch(formation(), 20, 70);
  EXPECT_TRUE(contains(s.lines, "10:00:29  "));
  EXPECT_FALSE(contains(s.lines, "2026-12-07"));
}

}  // namespace
}  // namespace pgaf::cli
