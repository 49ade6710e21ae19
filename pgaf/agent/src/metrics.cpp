/*
 * metrics.cpp — Prometheus text rendering of a node snapshot and of the monitor's tables. See
 * metrics.hpp for the invariants.
 */
#include "pgaf/agent/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <pqxx/pqxx>

namespace pgaf::agent {

std::string escape_label_value(const std::string& v) {
  std::string o;
  for (char c : v) {
    if (c == '\\') {
      o += "\\\\";
    } else if (c == '"') {
      o += "\\\"";
    } else if (c == '\n') {
      o += "\\n";
    } else {
      o += c;
    }
  }
  return o;
}

std::string format_metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 9.0e15) {
    return std::to_string(static_cast<std::int64_t>(v));
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void MetricsWriter::family(const std::string& name, const std::string& type,
                           const std::string& help) {
  out_ += "# HELP " + name + " " + help + "\n";
  out_ += "# TYPE " + name + " " + type + "\n";
}

void MetricsWriter::sample(const std::string& name, const Labels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += "{";
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out_ += ",";
      first = false;
      out_ += k + "=\"" + escape_label_value(v) + "\"";
    }
    out_ += "}";
  }
  out_ += " " + format_metric_value(value) + "\n";
}

std::string node_metrics(const NodeSnapshot& s, TimeMs now_ms) {
  MetricsWriter w;
  const Labels node = {{"formation", s.formation},
                       {"group", std::to_string(s.state.group_id)},
                       {"node_id", std::to_string(s.state.node_id)},
                       {"name", s.name}};
  auto with = [&node](const std::string& k, const std::string& v) {
    Labels l = node;
    l.emplace_back(k, v);
    return l;
  };
  w.family("pgaf_up", "gauge", "1 once the agent completed a round");
  w.sample("pgaf_up", node, s.valid ? 1 : 0);
  w.family("pgaf_node_state", "gauge", "1 for the state this node reports (current), 0 others");
  for (NodeState st : all_node_states())
    w.sample("pgaf_node_state", with("state", std::string(to_string(st))),
             st == s.state.current_role ? 1 : 0);
  w.family("pgaf_node_assigned_state", "gauge", "1 for the state the monitor assigned, 0 others");
  for (NodeState st : all_node_states())
    w.sample("pgaf_node_assigned_state", with("state", std::string(to_string(st))),
             st == s.state.assigned_role ? 1 : 0);
  w.family("pgaf_primary", "gauge",
           "1 while this node is the writable primary holding its lease (GET /primary = 200)");
  w.sample("pgaf_primary", node, is_writable_primary(s, now_ms) ? 1 : 0);
  w.family("pgaf_postgres_running", "gauge", "1 while the local Postgres accepts connections");
  w.sample("pgaf_postgres_running", node, s.pg.running ? 1 : 0);
  w.family("pgaf_postgres_in_recovery", "gauge", "1 while the local Postgres is a standby");
  w.sample("pgaf_postgres_in_recovery", node, s.pg.running && s.pg.in_recovery ? 1 : 0);
  w.family("pgaf_timeline", "gauge", "timeline of the local Postgres (0 when not running)");
  w.sample("pgaf_timeline", node, s.pg.running ? s.pg.tli : 0);
  w.family("pgaf_wal_lsn_bytes", "gauge",
           "WAL position (flush LSN on a primary, receive or replay LSN on a standby), in bytes");
  w.sample("pgaf_wal_lsn_bytes", node, s.pg.running ? static_cast<double>(s.pg.lsn) : 0);
  if (s.lag_bytes >= 0) {
    w.family("pgaf_replication_lag_bytes", "gauge",
             "standby: the primary's last reported LSN minus this node's LSN");
    w.sample("pgaf_replication_lag_bytes", node, static_cast<double>(s.lag_bytes));
  }
  w.family("pgaf_lease_remaining_seconds", "gauge", "write lease time left (0 when none)");
  w.sample("pgaf_lease_remaining_seconds", node,
           static_cast<double>(lease_remaining_ms(s, now_ms)) / 1000.0);
  w.family("pgaf_fenced", "gauge", "1 after the fence made Postgres refuse writes");
  w.sample("pgaf_fenced", node, s.fenced ? 1 : 0);
  w.family("pgaf_monitor_last_report_age_seconds", "gauge",
           "time since the monitor last answered a report (+Inf: never)");
  w.sample("pgaf_monitor_last_report_age_seconds", node,
           s.last_monitor_ok_ms < 0 ? std::numeric_limits<double>::infinity()
                                    : static_cast<double>(now_ms - s.last_monitor_ok_ms) / 1000.0);
  w.family("pgaf_snapshot_age_seconds", "gauge",
           "time since the keeper loop last published (a stuck keeper grows it)");
  w.sample("pgaf_snapshot_age_seconds", node,
           s.published_ms < 0 ? std::numeric_limits<double>::infinity()
                              : static_cast<double>(now_ms - s.published_ms) / 1000.0);
  w.family("pgaf_state_transitions_total", "counter",
           "state changes completed by this agent since it started");
  w.sample("pgaf_state_transitions_total", node, static_cast<double>(s.transitions));
  w.family("pgaf_promotions_total", "counter",
           "failovers and switchovers to this node (into a writable state) since it started");
  w.sample("pgaf_promotions_total", node, static_cast<double>(s.promotions));
  w.family("pgaf_monitor_report_failures_total", "counter", "node_active calls that failed");
  w.sample("pgaf_monitor_report_failures_total", node, static_cast<double>(s.monitor_failures));
  return w.text();
}

std::string monitor_metrics(const MonitorTables& t) {
  MetricsWriter w;
  auto labels = [](const MonitorNodeRow& r) {
    return Labels{{"formation", r.formation},
                  {"group", std::to_string(r.group_id)},
                  {"node_id", std::to_string(r.node_id)},
                  {"name", r.name}};
  };
  w.family("pgaf_monitor_up", "gauge", "1: the monitor's tables were read");
  w.sample("pgaf_monitor_up", {}, 1);
  w.family("pgaf_monitor_nodes", "gauge", "nodes registered on the monitor");
  w.sample("pgaf_monitor_nodes", {}, static_cast<double>(t.nodes.size()));
  w.family("pgaf_monitor_node_reported_state", "gauge", "1 for the state each node reported");
  for (const auto& r : t.nodes) {
    Labels l = labels(r);
    l.emplace_back("state", r.reported);
    w.sample("pgaf_monitor_node_reported_state", l, 1);
  }
  w.family("pgaf_monitor_node_goal_state", "gauge", "1 for the state assigned to each node");
  for (const auto& r : t.nodes) {
    Labels l = labels(r);
    l.emplace_back("state", r.goal);
    w.sample("pgaf_monitor_node_goal_state", l, 1);
  }
  w.family("pgaf_monitor_node_health", "gauge", "health check: 1 good, 0 bad, -1 unknown");
  for (const auto& r : t.nodes) w.sample("pgaf_monitor_node_health", labels(r), r.health);
  w.family("pgaf_monitor_node_pg_running", "gauge", "the node's last report: Postgres running");
  for (const auto& r : t.nodes)
    w.sample("pgaf_monitor_node_pg_running", labels(r), r.pg_running ? 1 : 0);
  w.family("pgaf_monitor_node_last_report_age_seconds", "gauge",
           "time since the node's last report reached the monitor");
  for (const auto& r : t.nodes)
    w.sample("pgaf_monitor_node_last_report_age_seconds", labels(r), r.report_age_s);
  w.family("pgaf_monitor_events_total", "counter",
           "events recorded by the monitor, by formation and assigned (goal) state");
  for (const auto& [k, n] : t.events)
    w.sample("pgaf_monitor_events_total", {{"formation", k.first}, {"goal_state", k.second}},
             static_cast<double>(n));
  return w.text();
}

Result<MonitorTables> read_monitor_tables(const std::string& conninfo, TimeMs timeout_ms) {
  MonitorTables t;
  try {
    pqxx::connection c(conninfo + " connect_timeout=" +
                       std::to_string(Settings::connect_timeout_seconds(timeout_ms)) +
                       " application_name=pg_autoctl_http options='-c statement_timeout=" +
                       std::to_string(timeout_ms) + "'");
    pqxx::read_transaction tx(c);
    for (const auto& row : tx.exec(
             "SELECT formationid, nodename, nodeid, groupid, reportedstate::text, goalstate::text,"
             " health, coalesce(reportedpgisrunning, false),"
             " extract(epoch FROM now() - reporttime)::float8"
             " FROM pgautofailover.node ORDER BY formationid, groupid, nodeid")) {
      MonitorNodeRow r;
      r.formation = row[0].c_str();
      r.name = row[1].c_str();
      r.node_id = row[2].as<std::int64_t>();
      r.group_id = row[3].as<int>();
      r.reported = row[4].c_str();
      r.goal = row[5].c_str();
      r.health = row[6].as<int>();
      r.pg_running = row[7].as<bool>();
      r.report_age_s = row[8].as<double>();
      t.nodes.push_back(std::move(r));
    }
    for (const auto& row :
         tx.exec("SELECT formationid, goalstate::text, count(*) FROM pgautofailover.event"
                 " GROUP BY 1, 2 ORDER BY 1, 2")) {
      t.events[{row[0].c_str(), row[1].c_str()}] = row[2].as<std::int64_t>();
    }
  } catch (const std::exception& e) {
    return make_error(ErrorCode::Pgsql,
                      std::string("could not read the monitor's tables: ") + e.what());
  }
  return t;
}

}  // namespace pgaf::agent
