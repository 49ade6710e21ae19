/*
 * notify_test.cpp — LISTEN state receives the reference's JSON payload for each goal assignment
 * and reported-state change, LISTEN log receives the messages, and each payload matches an event
 * row. Port 25420.
 */
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "monitor_fixture.hpp"

using namespace pgaf::test;

namespace {

TEST(MonitorNotify, StateAndLogChannels) {
  auto pg = start_monitor(25420);
  auto listener = pg->connect("pg_auto_failover");
  listener.exec("LISTEN state; LISTEN log");
  auto c = pg->connect("pg_auto_failover");
  c.exec("SELECT * FROM pgautofailover.register_node('default', 'localhost', 9876, 'postgres', "
         "sysidentifier => 1)");

  std::vector<Notification> got;
  while (got.size() < 2) {
    auto n = listener.wait_notification(2000);
    if (!n) break;
    got.push_back(*n);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(listener.wait_notification(300).has_value());
  /* one log message and one state change, in the order of the transaction */
  const Notification* state = got[0].channel == "state" ? &got[0] : &got[1];
  const Notification* log = got[0].channel == "log" ? &got[0] : &got[1];
  EXPECT_EQ(state->payload,
            "{\"type\": \"state\", \"formation\": \"default\", \"groupId\": 0, \"nodeId\": 1, "
            "\"name\": \"node_1\", \"host\": \"localhost\", \"port\": 9876, \"reportedState\": "
            "\"init\", \"goalState\": \"single\", \"health\":\"unknown\"}");
  EXPECT_EQ(log->payload,
            "Setting goal state of node 1 \"node_1\" (localhost:9876) to single after it "
            "registered.");

  /* a reported-state change: valid JSON, with the keys of the reference */
  c.exec("SELECT * FROM pgautofailover.node_active('default', 1, 0, 'single')");
  std::optional<Notification> n;
  do {
    n = listener.wait_notification(2000);
  } while (n && n->channel != "state");
  ASSERT_TRUE(n.has_value());
  auto j = nlohmann::json::parse(n->payload);
  for (const char* key : {"type", "formation", "groupId", "nodeId", "name", "host", "port",
                          "reportedState", "goalState", "health"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["reportedState"], "single");
  EXPECT_EQ(j["goalState"], "single");
  EXPECT_EQ(j["nodeId"], 1);
  while (listener.wait_notification(300)) {
    /* the log message of that change */
  }

  /* a steady-state report changes nothing and notifies nothing */
  c.exec("SELECT * FROM pgautofailover.node_active('default', 1, 0, 'single')");
  while (auto m = listener.wait_notification(300)) {
    ADD_FAILURE() << "unexpected notification on " << m->channel << ": " << m->payload;
  }
  EXPECT_EQ(c.query_value("SELECT count(*) FROM pgautofailover.event"), "2");
}

TEST(MonitorNotify, NamesAreJsonEscaped) {
  auto pg = start_monitor(25421);
  auto listener = pg->connect("pg_auto_failover");
  listener.exec("LISTEN state");
  auto c = pg->connect("pg_auto_failover");
  c.exec("SELECT * FROM pgautofailover.register_node('default', 'localhost', 9876, 'postgres', "
         "E'we\"ird\\\\name', sysidentifier => 1)");
  auto n = listener.wait_notification(2000);
  ASSERT_TRUE(n.has_value());
  auto j = nlohmann::json::parse(n->payload);
  EXPECT_EQ(j["name"], "we\"ird\\name");
}

}  // namespace
