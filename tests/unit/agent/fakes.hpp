/*
 * fakes.hpp — fakes of the agent's I/O interfaces for unit tests of the keeper loop: a manual
 * clock, a scripted monitor, and a Postgres that records every operation and keeps a tiny model
 * of its state (running, in recovery, read-only). Never a stand-in for Postgres itself: the
 * integration tests use the real server.
 */
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "pgaf/agent/config.hpp"
#include "pgaf/agent/interfaces.hpp"

namespace pgaf::agent::testing {

class FakeClock final : public Clock {
 public:
  TimeMs now = 1000000;
  TimeMs now_ms() override { return now; }
  void sleep_ms(TimeMs ms) override { now += ms; }
  std::int64_t wall_clock_us() override { return 1700000000000000 + now * 1000; }
};

class FakePostgres final : public PostgresControl {
 public:
  std::vector<std::string> ops;
  bool initialized = false;
  bool running = false;
  bool in_recovery = false;
  bool read_only = false;
  bool expected_running = false;
  std::string sync_names;
  std::vector<SlotInfo> slots;
  StandbyReplies replies;
  int tli = 1;
  Lsn lsn = 0x3000000;
  std::optional<StandbySetup> standby;
  bool fail_rewind = false;
  bool rewound_cannot_start = false; /* ensure_running fails on a PGDATA pg_rewind just changed */
  bool rewound = false;              /* the last change of PGDATA was pg_rewind */
  std::string reconfigured_sslmode;  /* reconfigure(): the sslmode it was given */

  void op(const std::string& s) { ops.push_back(s); }
  bool has_op(const std::string& s) const {
    for (auto& o : ops)
      if (o == s) return true;
    return false;
  }
  int count_op(const std::string& prefix) const {
    int n = 0;
    for (auto& o : ops)
      if (o.rfind(prefix, 0) == 0) ++n;
    return n;
  }
  /* index of the first op equal to s, or -1 */
  int index_of(const std::string& s) const {
    for (size_t i = 0; i < ops.size(); ++i)
      if (ops[i] == s) return static_cast<int>(i);
    return -1;
  }

  Status set_fence_deadline(TimeMs deadline_ms) override {
    op("set_fence_deadline");
    fence_deadline_ms = deadline_ms;
    return Status::Ok();
  }
  TimeMs fence_deadline_ms = -1;
  bool start_blocked = false; /* ensure_running fails (crash recovery, or cannot start) */
  bool starting = false;      /* postmaster_starting(): a postmaster is in crash recovery */
  std::uint64_t epoch = 1;    /* session_epoch() */
  bool postmaster_starting() override { return starting; }
  std::uint64_t session_epoch() override { return epoch; }

  bool pgdata_initialized() override { return initialized; }
  std::function<void()> on_initdb; /* e.g. let time pass: initdb takes a while */
  Status initdb() override {
    op("initdb");
    if (on_initdb) on_initdb();
    initialized = true;
    return Status::Ok();
  }
  Status write_managed_config() override {
    op("write_managed_config");
    return Status::Ok();
  }
  Status ensure_running(TimeMs) override {
    op("ensure_running");
    expected_running = true;
    if (start_blocked || (rewound_cannot_start && rewound))
      return make_error(ErrorCode::Pgctl, "PostgreSQL did not start (fake)");
    running = true;
    return Status::Ok();
  }
  Status ensure_stopped(TimeMs) override {
    op("ensure_stopped");
    expected_running = false;
    running = false;
    return Status::Ok();
  }
  Status release_to_operator() override {
    op("release_to_operator");
    return Status::Ok();
  }
  Result<PgStatus> status() override {
    PgStatus s;
    s.running = running;
    if (!running) return s;
    s.in_recovery = in_recovery;
    s.read_only = read_only;
    s.tli = tli;
    s.lsn = lsn;
    s.system_identifier = 7000000000000000001;
    /* a standby streams while it has an upstream configured */
    s.wal_receiver_active = in_recovery && standby && standby->upstream.has_value();
    return s;
  }
  Status set_read_only(bool on) override {
    op(on ? "set_read_only(on)" : "set_read_only(off)");
    read_only = on;
    return Status::Ok();
  }
  Status terminate_client_backends() override {
    op("terminate_client_backends");
    return Status::Ok();
  }
  Status set_synchronous_standby_names(const std::string& v) override {
    op("set_sync_names(" + v + ")");
    sync_names = v;
    return Status::Ok();
  }
  Result<std::string> synchronous_standby_names() override { return sync_names; }
  Status checkpoint() override {
    op("checkpoint");
    return Status::Ok();
  }
  Status promote(TimeMs) override {
    op("promote");
    in_recovery = false;
    tli++;
    return Status::Ok();
  }
  Result<std::vector<SlotInfo>> list_slots() override { return slots; }
  Status create_slot(const std::string& n) override {
    op("create_slot(" + n + ")");
    slots.push_back({n, false, 0});
    return Status::Ok();
  }
  Status drop_slot(const std::string& n) override {
    op("drop_slot(" + n + ")");
    std::erase_if(slots, [&](const SlotInfo& s) { return s.name == n; });
    return Status::Ok();
  }
  Status advance_slot(const std::string& n, Lsn) override {
    op("advance_slot(" + n + ")");
    return Status::Ok();
  }
  Status write_standby_setup(const StandbySetup& s) override {
    op(s.upstream
           ? "standby_setup(" + s.upstream->host + ":" + std::to_string(s.upstream->port) + ")"
           : std::string("standby_setup(none)"));
    standby = s;
    in_recovery = true;
    return Status::Ok();
  }
  Status cleanup_standby_setup() override {
    op("cleanup_standby_setup");
    standby.reset();
    return Status::Ok();
  }
  Status reload() override {
    op("reload");
    return Status::Ok();
  }
  void reconfigure(const Config& cfg) override {
    op("reconfigure");
    reconfigured_sslmode = cfg.ssl_params().front().second;
  }
  Status restart(TimeMs) override {
    op("restart");
    running = true;
    return Status::Ok();
  }
  Status base_backup(const Upstream& u, const std::string& slot) override {
    op("base_backup(" + u.host + ":" + std::to_string(u.port) + "," + slot + ")");
    initialized = true;
    rewound = false;
    return Status::Ok();
  }
  Status rewind(const Upstream& u) override {
    op("rewind(" + u.host + ":" + std::to_string(u.port) + ")");
    if (fail_rewind) return make_error(ErrorCode::Pgctl, "pg_rewind failed");
    rewound = true;
    return Status::Ok();
  }
  Result<Lsn> replay_lsn() override { return lsn; }
  Result<int> upstream_timeline(const Upstream&) override { return tli; }
  Status create_roles_and_db(const std::string& db) override {
    op("create_roles_and_db(" + db + ")");
    return Status::Ok();
  }
  Status ensure_hba(const std::vector<std::string>&, const std::string&) override {
    op("ensure_hba");
    return Status::Ok();
  }
  int heartbeats = 0;
  Status emit_heartbeat() override {
    ++heartbeats;
    return Status::Ok();
  }
  Result<StandbyReplies> standby_replies() override {
    if (!running) return make_error(ErrorCode::Pgsql, "not running");
    return replies;
  }
  WalAcks acks; /* what wal_acks() answers (current = lsn) */
  Result<WalAcks> wal_acks() override {
    if (!running || in_recovery) return make_error(ErrorCode::Pgsql, "not a running primary");
    WalAcks a = acks;
    a.current = lsn;
    return a;
  }
};

class FakeMonitor final : public MonitorClient {
 public:
  bool reachable = true;
  bool node_active_down = false;   /* only node_active fails */
  int fail_get_primary_after = -1; /* get_primary fails after this many calls (-1: never) */
  int get_primary_calls = 0;
  NodeState goal = NodeState::Init; /* what node_active answers */
  std::vector<NodeActiveArgs> reports;
  std::vector<NodeAddress> others;
  NodeAddress primary{1, "node_1", "10.0.0.1", 5432, 0, true};
  std::string sync_names;
  std::vector<std::string> uris_set; /* set_uri() calls */
  void set_uri(const std::string& uri) override { uris_set.push_back(uri); }
  /* called on each node_active with the report; may change goal */
  std::function<void(FakeMonitor&, const NodeActiveArgs&)> on_report;

  Error down() const { return make_error(ErrorCode::Monitor, "could not connect to the monitor"); }

  std::vector<RegisterArgs> registrations;
  int register_no_primary = 0;  /* register_node answers NoPrimary this many times first */
  bool register_exists = false; /* register_node answers AlreadyExists */
  std::vector<StateRow> rows;   /* what current_state answers */
  Result<NodeAssignment> register_node(const RegisterArgs& a) override {
    if (!reachable) return down();
    registrations.push_back(a);
    if (register_exists) return make_error(ErrorCode::AlreadyExists, "already registered (fake)");
    if (register_no_primary > 0) {
      --register_no_primary;
      return make_error(ErrorCode::NoPrimary, "couldn't find the primary node (fake)");
    }
    return NodeAssignment{
        a.desired_node_id > 0 ? a.desired_node_id : 2, 0, goal, 50, true, "node_2"};
  }
  Result<NodeAssignment> node_active(const NodeActiveArgs& a) override {
    if (!reachable || node_active_down) return down();
    reports.push_back(a);
    if (on_report) on_report(*this, a);
    return NodeAssignment{a.node_id, a.group_id, goal, 50, true, ""};
  }
  Result<NodeAddress> get_primary(const std::string&, GroupId) override {
    if (!reachable) return down();
    if (fail_get_primary_after >= 0 && get_primary_calls++ >= fail_get_primary_after) return down();
    return primary;
  }
  Result<std::vector<NodeAddress>> get_other_nodes(NodeId) override {
    if (!reachable) return down();
    return others;
  }
  Result<std::optional<NodeAddress>> get_most_advanced_standby(const std::string&,
                                                               GroupId) override {
    return std::optional<NodeAddress>{};
  }
  Result<std::string> synchronous_standby_names(const std::string&, GroupId) override {
    if (!reachable) return down();
    return sync_names;
  }
  Status set_node_system_identifier(NodeId, std::int64_t) override {
    if (!reachable) return down();
    return Status::Ok();
  }
  Result<bool> remove_node(NodeId, bool) override { return true; }
  Result<bool> remove_node_by_host(const std::string&, int, bool) override { return true; }
  Status perform_failover(const std::string&, GroupId) override { return Status::Ok(); }
  Result<bool> perform_promotion(const std::string&, const std::string&) override { return true; }
  Result<bool> start_maintenance(NodeId) override { return true; }
  Result<bool> stop_maintenance(NodeId) override { return true; }
  Status set_node_candidate_priority(const std::string&, const std::string&, int) override {
    return Status::Ok();
  }
  Status set_node_replication_quorum(const std::string&, const std::string&, bool) override {
    return Status::Ok();
  }
  Status set_formation_number_sync_standbys(const std::string&, int) override {
    return Status::Ok();
  }
  Result<int> formation_number_sync_standbys(const std::string&) override { return 0; }
  Status create_formation(const std::string&, const std::string&, const std::string&, bool,
                          int) override {
    return Status::Ok();
  }
  Status drop_formation(const std::string&) override { return Status::Ok(); }
  Status set_formation_secondary(const std::string&, bool) override { return Status::Ok(); }
  Result<std::vector<StateRow>> current_state(const std::string&) override {
    if (!reachable) return down();
    return rows;
  }
  Result<std::vector<EventRow>> last_events(const std::string&, GroupId, int) override {
    return std::vector<EventRow>{};
  }
  Result<std::optional<std::string>> formation_uri(const std::string&, const std::string&,
                                                   const std::string&,
                                                   const std::string&) override {
    return std::optional<std::string>{};
  }
  Result<bool> wait_for_state_change(const std::string&, GroupId, TimeMs) override { return false; }
};

}  // namespace pgaf::agent::testing
