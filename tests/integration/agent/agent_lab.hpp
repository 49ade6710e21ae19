/*
 * agent_lab.hpp — integration-test harness for pg_autoctl: a monitor and Postgres nodes on
 * 127.0.0.1 in one temporary directory, every process run as `postgres` (when we are root) in
 * its own process group, carrying PGAF_TEST_FIXTURE=<token> so teardown can prove nothing
 * survived (pgaf::test::surviving_processes from the shared fixture, tests/support).
 *
 * Invariants: every wait is bounded; the destructor stops everything (SIGTERM, then SIGKILL of the
 * process groups), records survivors in leftover_ (tests assert it is empty via check_teardown())
 * and removes the directory.
 */
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pgaf/test/pg_cluster.hpp"

namespace pgaf::agent_it {

struct NodeRow {
  long id = 0;
  std::string name;
  int port = 0;
  std::string reported, goal;
};

/* The pg_autoctl binary: $PGAF_PG_AUTOCTL, else the one built with this tree. */
std::string pg_autoctl_bin();

class AgentLab {
 public:
  /* Ports base_port (monitor), base_port+1.. (nodes). */
  explicit AgentLab(int base_port);
  ~AgentLab();
  AgentLab(const AgentLab&) = delete;
  AgentLab& operator=(const AgentLab&) = delete;

  /* Create the monitor and nodes with --ssl-self-signed instead of --no-ssl (call first). */
  void use_self_signed_tls() { use_tls_options({"--ssl-self-signed"}, "sslmode=require"); }
  /* Create them with these SSL options instead (call first); the monitor URI the nodes get then
   * ends with "?<uri_ssl>", e.g. "sslmode=verify-full&sslrootcert=/path/ca.crt". */
  void use_tls_options(std::vector<std::string> args, std::string uri_ssl) {
    ssl_args_ = std::move(args);
    uri_ssl_ = std::move(uri_ssl);
  }
  const std::string& dir() const { return dir_; }
  std::string pgdata(const std::string& name) const { return dir_ + "/" + name; }
  int monitor_port() const { return base_port_; }
  std::string monitor_uri() const;
  std::map<std::string, std::string> env() const;

  /* Run pg_autoctl to completion (as postgres). */
  pgaf::test::CommandResult ctl(const std::vector<std::string>& args, int timeout_ms = 60000);
  /* Start pg_autoctl in the background in its own process group; output to <dir>/<name>.log. */
  pid_t spawn(const std::string& name, const std::vector<std::string>& args,
              const std::map<std::string, std::string>& extra_env = {});
  void kill_group(pid_t pgid, int sig);
  bool wait_exit(pid_t pid, int timeout_ms, int* status = nullptr);

  /* create monitor (with extra options) + run (spawned); waits until the monitor answers. */
  void start_monitor(const std::vector<std::string>& extra = {});
  /* create postgres --run for node <name> on base_port+index. */
  pid_t start_node(const std::string& name, int index, const std::vector<std::string>& extra = {});
  /* pg_autoctl run for an existing node. */
  pid_t run_node(const std::string& name);
  int node_port(int index) const { return base_port_ + index; }

  std::vector<NodeRow> nodes();
  /* Wait until each named node has reported == goal == state. Returns ms waited, or -1. */
  long wait_states(const std::map<std::string, std::string>& want, int timeout_ms);
  std::string state_dump();
  std::string log(const std::string& name) const;

  std::string conninfo(int port, const std::string& db = "postgres") const;
  /* libpq multi-host URI with target_session_attrs=read-write over the given node ports. */
  std::string rw_conninfo(const std::vector<int>& ports) const;

  /* Stop everything now; returns the surviving pids (must be empty). */
  std::vector<pid_t> teardown();

 private:
  std::vector<std::string> ssl_args_ = {"--no-ssl"};
  std::string uri_ssl_ = "sslmode=prefer";
  int base_port_;
  std::string dir_;
  std::string token_;
  std::vector<pid_t> groups_;
  bool torn_down_ = false;
};

/* A client that inserts increasing ids through a read-write multi-host connection and records
 * which ones were acknowledged, and the longest gap between two acknowledged writes. */
class Writer {
 public:
  Writer(std::string conninfo, std::string table);
  ~Writer();
  void start();
  void stop();
  std::vector<long> acked();
  /* Longest time without an acknowledged write, in ms, measured while running. */
  long max_gap_ms();
  long errors() const { return errors_.load(); }

 private:
  void loop();
  std::string conninfo_, table_;
  std::atomic<bool> stop_{false};
  std::atomic<long> errors_{0};
  std::thread thread_;
  std::mutex mu_;
  std::vector<long> acked_;
  long max_gap_ms_ = 0;
};

}  // namespace pgaf::agent_it
