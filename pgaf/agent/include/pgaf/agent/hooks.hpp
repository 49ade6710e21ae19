/*
 * hooks.hpp — `[hooks] on_state_change` and `on_role_change`: programs the agent runs when its
 * node changes state or role (primary / standby / none), like Patroni's callbacks.
 *
 * A hook runs without a shell (ProcessRunner, Boost.Process) as
 *   <program> <event> <old state> <new state>
 * with PGAF_EVENT, PGAF_OLD_STATE, PGAF_NEW_STATE, PGAF_OLD_ROLE, PGAF_NEW_ROLE, PGAF_NODE_ID,
 * PGAF_NODE_NAME, PGAF_FORMATION and PGAF_GROUP in its environment.
 *
 * Invariants:
 *  - hooks never block the keeper loop: on_transition() only queues (bounded: at most
 *    kMaxPending waiting, the oldest is dropped with a warning), one worker thread runs them in
 *    order;
 *  - each run is bounded by Settings::hook_timeout_ms, then the hook is killed (SIGKILL);
 *  - a hook that fails, is killed, or cannot start is logged, never fatal;
 *  - a hook path that is not an absolute path to an executable regular file is refused at
 *    create and config set (check_hook_program), naming the key.
 */
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "pgaf/agent/interfaces.hpp"

namespace pgaf::agent {

/* "primary" (a writable state), "standby" (following or about to follow a primary), "none". */
std::string_view role_of(NodeState s);

/* The path must be absolute, exist, be a regular file and be executable by us. */
Status check_hook_program(const std::string& key, const std::string& path);

struct HookNode {
  NodeId node_id = 0;
  std::string name, formation;
  GroupId group = 0;
};

class HookRunner {
 public:
  static constexpr size_t kMaxPending = 32;
  struct Stats {
    long started = 0, succeeded = 0, failed = 0, killed = 0, dropped = 0;
  };

  HookRunner(std::string on_state_change, std::string on_role_change, TimeMs timeout_ms,
             std::unique_ptr<ProcessRunner> runner);
  ~HookRunner(); /* waits for a running hook (bounded by its timeout), drops the queue */
  HookRunner(const HookRunner&) = delete;
  HookRunner& operator=(const HookRunner&) = delete;

  /* Queue the hooks for a completed transition old -> new (no-op if none configured). */
  void on_transition(NodeState old_state, NodeState new_state, const HookNode& node);
  /* Wait until the queue is empty and nothing runs, at most timeout_ms; true if idle. */
  bool wait_idle(TimeMs timeout_ms);
  Stats stats();

 private:
  struct Job {
    std::string program, event;
    NodeState old_state, new_state;
    HookNode node;
  };
  void loop();
  void run(const Job& j);

  std::string on_state_change_, on_role_change_;
  TimeMs timeout_ms_;
  std::unique_ptr<ProcessRunner> runner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool running_job_ = false;
  bool stop_ = false;
  Stats stats_;
  std::thread worker_;
};

}  // namespace pgaf::agent
