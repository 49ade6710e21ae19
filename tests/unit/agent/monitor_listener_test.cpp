/*
 * monitor_listener_test.cpp — the monitor listener's log lines: `log` payloads as they are,
 * `state` payloads in the reference's "New state for node …" form, anything else quoted.
 */
#include "pgaf/agent/monitor_listener.hpp"

#include <gtest/gtest.h>

namespace pgaf::agent {
namespace {

TEST(MonitorListener, LogPayloadsAreLoggedAsTheyAre) {
  EXPECT_EQ(listener_log_line("log", "Setting goal state of node 1 \"node_1\" to single"),
            "Setting goal state of node 1 \"node_1\" to single");
}

TEST(MonitorListener, StatePayloadsNameTheNodeAndBothStates) {
  const std::string payload =
      R"({"type": "state", "formation": "default", "groupId": 0, "nodeId": 2, "name": "node_2",)"
      R"( "host": "10.0.0.2", "port": 5432, "reportedState": "catchingup",)"
      R"( "goalState": "secondary", "health": "good"})";
  EXPECT_EQ(listener_log_line("state", payload),
            "New state for node 2 \"node_2\" (10.0.0.2:5432): catchingup \u279c secondary");
}

TEST(MonitorListener, AStatePayloadThatIsNotOneIsQuoted) {
  EXPECT_EQ(listener_log_line("state", "{}"), "received \"{}\"");
}

}  // namespace
}  // namespace pgaf::agent
