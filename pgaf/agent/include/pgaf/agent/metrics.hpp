/*
 * metrics.hpp — /metrics in the Prometheus text exposition format (version 0.0.4): the node's own
 * metrics from its snapshot, and, on the monitor's agent, per-node formation metrics read from the
 * monitor's tables. docs/operations.md lists every name.
 *
 * Invariants:
 *  - every family is announced once with # HELP and # TYPE before its samples; label values are
 *    escaped (\\, \", \n); names match [a-zA-Z_:][a-zA-Z0-9_:]*;
 *  - rendering is pure; reading the monitor's tables is one bounded query (connect_timeout and
 *    statement_timeout from the caller's deadline).
 */
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pgaf/agent/node_snapshot.hpp"

namespace pgaf::agent {

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsWriter {
 public:
  /* Start a family (type: gauge | counter). */
  void family(const std::string& name, const std::string& type, const std::string& help);
  void sample(const std::string& name, const Labels& labels, double value);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

std::string escape_label_value(const std::string& v);
/* A sample value as Prometheus reads it (NaN, +Inf, -Inf, integers without a fraction). */
std::string format_metric_value(double v);

std::string node_metrics(const NodeSnapshot& s, TimeMs now_ms);

struct MonitorNodeRow {
  std::string formation, name;
  std::int64_t node_id = 0;
  int group_id = 0;
  std::string reported, goal;
  int health = -1;
  bool pg_running = false;
  double report_age_s = 0; /* now() - reporttime on the monitor */
};
struct MonitorTables {
  std::vector<MonitorNodeRow> nodes;
  /* (formation, goal state of the event) -> count of events */
  std::map<std::pair<std::string, std::string>, std::int64_t> events;
};
std::string monitor_metrics(const MonitorTables& t);
/* Read the monitor's tables (database pg_auto_failover) within timeout_ms. */
Result<MonitorTables> read_monitor_tables(const std::string& conninfo, TimeMs timeout_ms);

}  // namespace pgaf::agent
