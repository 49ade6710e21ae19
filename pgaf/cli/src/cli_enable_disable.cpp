/*
 * cli_enable_disable.cpp — pg_autoctl enable | disable maintenance | secondary | ssl (reference:
 * start_maintenance / stop_maintenance, set_formation_secondary); waits are bounded by --wait.
 */
#include <spdlog/spdlog.h>

#include "cli_internal.hpp"

namespace pgaf::cli::detail {

namespace {

Result<agent::StateRow> node_row(LocalNode& n) {
  auto rows = n.monitor->current_state(n.cfg.formation);
  if (!rows) return rows.error();
  for (auto& r : *rows)
    if (r.node_id == n.node_id) return r;
  return make_error(ErrorCode::BadState,
                    "node " + std::to_string(n.node_id) + " is not registered on the monitor");
}

/* Wait (LISTEN + poll, bounded by --wait) until this node reports `want` as its goal. */
int wait_node_reaches(LocalNode& n, int wait_s, const std::vector<NodeState>& want) {
  std::string last = "unknown";
  const bool reached =
      wait_for_rows(*n.monitor, n.cfg.formation, n.cfg.group, wait_s, [&](const auto& rows) {
        for (auto& r : rows) {
          if (r.node_id != n.node_id) continue;
          last = std::string(to_string(r.reported));
          for (NodeState w : want) {
            if (r.reported == w && r.goal == w) {
              spdlog::info("node {} \"{}\" is now in state \"{}\"", r.node_id, r.name,
                           to_string(w));
              return true;
            }
          }
        }
        return false;
      });
  if (reached) return 0;
  return fail(make_error(ErrorCode::Timeout,
                         "node " + std::to_string(n.node_id) + " did not reach state \"" +
                             std::string(to_string(want.front())) + "\" within " +
                             std::to_string(wait_s) + " s (it reports \"" + last + "\")",
                         "see pg_autoctl show state"));
}

int cmd_enable_maintenance(const Options& o) {
  auto n = local_node(o);
  if (!n) return fail(n.error());
  auto row = node_row(*n);
  if (!row) return fail(row.error());
  if (row->reported == NodeState::Maintenance && row->goal == NodeState::Maintenance) {
    spdlog::info("node {} is already in maintenance", n->node_id);
    return 0;
  }
  if (can_take_writes_in_state(row->goal) && !o.allow_failover) {
    return fail(make_error(ErrorCode::InvalidArgument,
                           "node " + std::to_string(n->node_id) + " \"" + row->name +
                               "\" is the primary: maintenance would fail over",
                           "use --allow-failover to fail over to a standby first"));
  }
  auto r = n->monitor->start_maintenance(n->node_id);
  if (!r) return fail(r.error());
  spdlog::info("maintenance requested for node {} \"{}\"", n->node_id, row->name);
  return wait_node_reaches(*n, o.wait_s, {NodeState::Maintenance});
}

int cmd_disable_maintenance(const Options& o) {
  auto n = local_node(o);
  if (!n) return fail(n.error());
  auto r = n->monitor->stop_maintenance(n->node_id);
  if (!r) return fail(r.error());
  spdlog::info("end of maintenance requested for node {}", n->node_id);
  return wait_node_reaches(
      *n, o.wait_s,
      {NodeState::Secondary, NodeState::Primary, NodeState::Single, NodeState::WaitPrimary});
}

int cmd_formation_secondary(const Options& o, bool enabled) {
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  if (Status s = (*m)->set_formation_secondary(o.formation, enabled); !s) return fail(s.error());
  spdlog::info("{} secondaries for formation \"{}\"", enabled ? "enabled" : "disabled",
               o.formation);
  return 0;
}

}  // namespace

void add_enable_disable_commands(CLI::App& app, Context& ctx) {
  Options& o = ctx.o;
  auto* enable = app.add_subcommand("enable", "enable a feature on a formation");
  enable->require_subcommand(1);
  auto* disable = app.add_subcommand("disable", "disable a feature on a formation");
  disable->require_subcommand(1);
  add_monitor_swap_commands(enable, disable, ctx);
  for (CLI::App* parent : {enable, disable}) {
    const bool on = parent == enable;
    auto* m = parent->add_subcommand("maintenance",
                                     on ? "enable Postgres maintenance mode on this node"
                                        : "disable Postgres maintenance mode on this node");
    add_pgdata(m, o);
    if (on) m->add_flag("--allow-failover", o.allow_failover, "allow failover");
    m->add_option("--wait", o.wait_s, "how many seconds to wait, default to 60");
    ctx.command(m, on ? "enable maintenance" : "disable maintenance",
                [&o, on] { return on ? cmd_enable_maintenance(o) : cmd_disable_maintenance(o); });
    auto* sec = parent->add_subcommand("secondary", on ? "enable secondary nodes on a formation"
                                                       : "disable secondary nodes on a formation");
    add_monitor_opts(sec, ctx);
    ctx.command(sec, on ? "enable secondary" : "disable secondary",
                [&o, on] { return cmd_formation_secondary(o, on); });
    add_ssl_command(parent, on, ctx); /* cli_ssl.cpp */
  }
}
}  // namespace pgaf::cli::detail
