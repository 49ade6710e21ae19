/*
 * steps.hpp — test steps shared by the agent integration tests (gtest assertions, so not in the
 * gtest-free harness agent_lab that bench-failover also uses).
 */
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "agent_lab.hpp"

namespace pgaf::agent_it {

/* Milliseconds since t, and a sleep (for the tests' bounded polling loops). */
inline long ms_since(std::chrono::steady_clock::time_point t) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - t)
                               .count());
}
inline void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

/* monitor + node_1 (primary) + node_2 (secondary); a fatal failure when it does not converge */
inline void birth(AgentLab& lab) {
  lab.start_monitor();
  lab.start_node("node_1", 1);
  ASSERT_GE(lab.wait_states({{"node_1", "single"}}, 30000), 0)
      << lab.state_dump() << lab.log("node_1");
  lab.start_node("node_2", 2);
  ASSERT_GE(lab.wait_states({{"node_1", "primary"}, {"node_2", "secondary"}}, 45000), 0)
      << lab.state_dump() << lab.log("node_1") << lab.log("node_2");
}

/* The value of `sql` once it equals `want`, polling every 50 ms for at most 5 s; else the last
 * value seen. */
inline std::string poll_value(pgaf::test::PgConnection& c, const std::string& sql,
                              const std::string& want) {
  std::string v;
  for (int i = 0; i < 100; ++i) {
    v = c.query_value(sql);
    if (v == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return v;
}

}  // namespace pgaf::agent_it
