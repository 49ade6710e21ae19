/*
 * runner_threads.cpp — the threads of a run: the monitor recorder (states and events), one
 * sampler per node over loopback, one client per workload client writing through the
 * formation's multi-host URI. Every loop polls stop_ and records through the Recorder.
 */
#include <httplib.h>

#include "runner_internal.hpp"

namespace pgaf::lab::runner_detail {

void ScenarioRun::monitor_loop() {
  const HostDirs& mon = dirs("monitor");
  const std::string conninfo =
      "host=127.0.0.1 port=" + std::to_string(mon.port) +
      " user=autoctl_node dbname=pg_auto_failover connect_timeout=2 application_name=lab-recorder";
  std::map<std::string, std::string> by_hostport;
  for (const auto& [name, d] : hosts_) by_hostport[d.address + ":" + std::to_string(d.port)] = name;
  PgConn q, listen;
  std::int64_t last_event = 0;
  bool event_base_known = false;
  while (!stop_.load()) {
    const TimeMs tick = steady_ms();
    if (!q.connected()) {
      auto c = PgConn::connect(conninfo);
      if (c.ok()) q = std::move(c).value();
    }
    if (q.connected() && !listen.connected()) {
      auto c = PgConn::connect(conninfo);
      if (c.ok()) {
        listen = std::move(c).value();
        (void)listen.query("listen state", 2000);
      }
    }
    if (q.connected()) {
      auto rows = q.query(
          "select nodehost, nodeport::text, reportedstate::text, goalstate::text, health::text "
          "from pgautofailover.node order by nodeid",
          1000);
      if (rows.ok()) {
        std::vector<FsmSample> v;
        const TimeMs t = rec_.now();
        for (const auto& r : *rows) {
          const std::string hp = r[0].value_or("") + ":" + r[1].value_or("");
          auto it = by_hostport.find(hp);
          if (it == by_hostport.end()) continue;
          const std::string health = r[4].value_or("-1");
          v.push_back({t, it->second, r[2].value_or("unknown"), r[3].value_or("unknown"),
                       health == "1"   ? "good"
                       : health == "0" ? "bad"
                                       : "unknown"});
        }
        rec_.fsm(v);
      }
      if (!event_base_known) {
        auto r = q.query("select coalesce(max(eventid), 0)::text from pgautofailover.event", 1000);
        if (r.ok() && !r->empty()) {
          last_event = std::stoll(r->at(0)[0].value_or("0"));
          event_base_known = true;
        }
      }
      if (event_base_known) {
        auto ev = q.query(
            "select eventid::text, nodehost, nodeport::text, reportedstate::text, goalstate::text, "
            "coalesce(description, '') from pgautofailover.event where eventid > $1 order by "
            "eventid",
            1000, {std::to_string(last_event)});
        if (ev.ok()) {
          auto fsm = rec_.fsm_snapshot();
          for (const auto& r : *ev) {
            last_event = std::max<std::int64_t>(last_event, std::stoll(r[0].value_or("0")));
            const std::string hp = r[1].value_or("") + ":" + r[2].value_or("");
            auto it = by_hostport.find(hp);
            const std::string node = it == by_hostport.end() ? hp : it->second;
            if (it == by_hostport.end()) continue;
            rec_.event({rec_.now(), node, r[3].value_or(""), r[4].value_or(""),
                        fsm.count(node) ? fsm[node].health : "", r[5].value_or("")});
          }
        }
      }
    }
    /* sleep until the next tick, waking early on a NOTIFY */
    while (!stop_.load() && steady_ms() < tick + kSampleIntervalMs) {
      if (listen.connected()) {
        pollfd pfd{listen.socket(), POLLIN, 0};
        const int rc = ::poll(
            &pfd, 1, static_cast<int>(std::max<TimeMs>(1, tick + kSampleIntervalMs - steady_ms())));
        if (rc > 0 && !listen.notifications().empty()) break;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
}

/* `GET /primary` of the agent on this host (the sampler runs in the node's namespace): the HTTP
 * status, or -1 when the endpoint does not answer within kHttpProbeTimeoutMs. */
int ScenarioRun::http_primary_status() {
  httplib::Client cli("127.0.0.1", kLabHttpPort);
  const auto t = std::chrono::milliseconds(kHttpProbeTimeoutMs);
  cli.set_connection_timeout(t);
  cli.set_read_timeout(t);
  cli.set_write_timeout(t);
  auto res = cli.Get("/primary");
  return res ? res->status : -1;
}

void ScenarioRun::sampler_loop(const HostDirs& h) {
  const std::string conninfo =
      "host=127.0.0.1 port=" + std::to_string(h.port) +
      " user=postgres dbname=postgres connect_timeout=2 application_name=lab-sampler";
  const std::string sql =
      "select pg_is_in_recovery()::text, current_setting('transaction_read_only'), "
      "case when pg_is_in_recovery() then coalesce((select received_tli from "
      "pg_stat_wal_receiver), "
      "(pg_control_checkpoint()).timeline_id) "
      "else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end::text, "
      "case when pg_is_in_recovery() then coalesce(pg_last_wal_replay_lsn(), "
      "pg_last_wal_receive_lsn())::text "
      "else pg_current_wal_lsn()::text end";
  PgConn c;
  while (!stop_.load()) {
    const TimeMs tick = steady_ms();
    Sample s;
    s.node = h.name;
    if (!c.connected()) {
      auto r = PgConn::connect(conninfo);
      if (r.ok()) c = std::move(r).value();
    }
    if (c.connected()) {
      auto rows = c.query(sql, 500);
      if (rows.ok() && !rows->empty()) {
        const Row& r = rows->at(0);
        s.reachable = true;
        s.in_recovery = r[0].value_or("") == "true";
        s.read_only = r[1].value_or("") == "on";
        s.timeline = r[2] ? std::atoi(r[2]->c_str()) : 0;
        s.lsn = r[3] ? parse_lsn(*r[3]).value_or(0) : 0; /* NULL or malformed: 0, unknown */
      }
    }
    if (sc_.formation.http_endpoint) s.http_primary = http_primary_status();
    s.t_ms = rec_.now();
    rec_.sample(s);
    while (!stop_.load() && steady_ms() < tick + kSampleIntervalMs)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void ScenarioRun::client_loop(int client) {
  std::map<std::string, std::string> by_address;
  for (const auto& [name, d] : hosts_) by_address[d.address] = name;
  std::mt19937_64 rng(sc_.seed ^
                      (std::uint64_t{0x9e3779b97f4a7c15} * static_cast<std::uint64_t>(client + 1)));
  const TimeMs period = std::max<TimeMs>(1, 1000 / sc_.workload.rate_per_client);
  std::uniform_int_distribution<TimeMs> jitter(0, period / 4);
  const std::string sql =
      "insert into lab_writes(value, client) values ($1::bigint, $2::int) "
      "returning host(inet_server_addr()), pg_walfile_name(pg_current_wal_lsn()), "
      "pg_current_wal_lsn()::text";
  PgConn c;
  bool diagnosed_missing_table = false;
  std::int64_t seq = 0;
  TimeMs next = steady_ms() + jitter(rng);
  while (!stop_.load()) {
    while (!stop_.load() && steady_ms() < next)
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min<TimeMs>(10, next - steady_ms())));
    if (stop_.load()) break;
    next += period;
    if (next < steady_ms()) next = steady_ms() + jitter(rng);
    Op op;
    op.id = next_op_id_.fetch_add(1);
    op.client = client;
    op.value = static_cast<std::int64_t>(client + 1) * 1000000000LL + (++seq);
    op.invoke_ms = rec_.now();
    if (!c.connected()) {
      auto r = PgConn::connect(formation_uri_);
      if (!r.ok()) {
        op.outcome = OpOutcome::Fail;
        op.error = r.error().message;
        op.complete_ms = rec_.now();
        rec_.op(op);
        continue;
      }
      c = std::move(r).value();
    }
    QueryOutcome o =
        c.exec(sql, {std::to_string(op.value), std::to_string(client)}, sc_.workload.op_timeout_ms);
    op.complete_ms = rec_.now();
    switch (o.kind) {
      case QueryOutcome::Kind::Ok: {
        op.outcome = OpOutcome::Ok;
        if (!o.rows.empty()) {
          const Row& r = o.rows[0];
          auto it = by_address.find(r[0].value_or(""));
          op.node = it == by_address.end() ? r[0].value_or("?") : it->second;
          op.timeline = r[1] ? timeline_of_walfile(*r[1]) : 0;
          op.lsn = r[2] ? parse_lsn(*r[2]).value_or(0) : 0; /* NULL or malformed: 0, unknown */
        }
        if (op.node.rfind("node", 0) != 0 || op.timeline < 1) {
          /* an answer we cannot attribute is recorded as unknown, never as a clean ok */
          op.outcome = OpOutcome::Unknown;
          op.error = "acknowledged by an unidentified server \"" + op.node + "\"";
          op.node.clear();
        }
        for (const auto& w : o.warnings) {
          /* "canceling wait for synchronous replication ...": the server itself says the
           * commit may exist on this node only, so it is not an acknowledged durable write */
          if (op.outcome == OpOutcome::Ok &&
              w.find("synchronous replication") != std::string::npos) {
            op.outcome = OpOutcome::Unknown;
            op.error = "committed locally on " + op.node + " without the synchronous standby: " + w;
          }
        }
        break;
      }
      case QueryOutcome::Kind::ServerError:
        op.outcome = OpOutcome::Fail;
        op.error = (o.sqlstate.empty() ? "" : o.sqlstate + ": ") + o.message;
        if (o.sqlstate == "42P01" && !diagnosed_missing_table) {
          /* the table the lab created is not where the writes go (seen once in CI): name the
           * server that answered, so the report says which one it was */
          diagnosed_missing_table = true;
          auto who = c.query(
              "select coalesce(inet_server_addr()::text, 'local'), inet_server_port()::text, "
              "(select system_identifier::text from pg_control_system()), current_database(), "
              "pg_is_in_recovery()::text, current_setting('data_directory')",
              2000);
          std::string desc = who.ok() && !who->empty() ? "" : "(could not ask it)";
          if (who.ok() && !who->empty())
            for (const auto& f : (*who)[0]) desc += (desc.empty() ? "" : " ") + f.value_or("-");
          log_line(sc_.name, "client " + std::to_string(client) +
                                 ": lab_writes is missing on the server that answered: " + desc);
        }
        break;
      case QueryOutcome::Kind::Lost:
      case QueryOutcome::Kind::Timeout:
        op.outcome = OpOutcome::Unknown;
        op.error = o.message;
        break;
    }
    rec_.op(op);
    if (sc_.workload.connect_per_write) c = PgConn{}; /* a new session for the next write */
  }
}

void ScenarioRun::start_threads() {
  for (int i = 1; i <= sc_.formation.nodes; ++i) {
    const std::string name = "node" + std::to_string(i);
    threads_.emplace_back(
        [this, name] { (void)net_.run_in(name, [this, name] { sampler_loop(dirs(name)); }); });
  }
  for (int c = 0; c < sc_.workload.clients; ++c) {
    threads_.emplace_back(
        [this, c] { (void)net_.run_in("client", [this, c] { client_loop(c); }); });
  }
}

void ScenarioRun::stop_threads() {
  stop_.store(true);
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  for (auto& t : side_threads_) {
    if (t.joinable()) t.join();
  }
  side_threads_.clear();
}

}  // namespace pgaf::lab::runner_detail
