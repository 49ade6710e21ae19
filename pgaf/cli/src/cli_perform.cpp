/*
 * cli_perform.cpp — pg_autoctl perform failover | switchover | promotion: ask the monitor, then
 * wait (bounded by --wait) until the new primary has converged.
 */
#include <spdlog/spdlog.h>

#include "cli_internal.hpp"

namespace pgaf::cli::detail {

namespace {

int cmd_perform_failover(const Options& o, const Globals& g, bool switchover) {
  (void)g;
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  auto before = (*m)->current_state(o.formation);
  if (!before) return fail(before.error());
  NodeId old_primary = -1;
  for (auto& r : *before) {
    if (r.group_id == o.group && can_take_writes_in_state(r.goal)) old_primary = r.node_id;
  }
  if (Status s = (*m)->perform_failover(o.formation, o.group); !s) return fail(s.error());
  spdlog::info("{} requested for formation \"{}\" group {}", switchover ? "switchover" : "failover",
               o.formation, o.group);
  const bool promoted = wait_for_rows(**m, o.formation, o.group, o.wait_s, [&](const auto& rows) {
    for (auto& r : rows) {
      if (r.group_id == o.group && r.node_id != old_primary && converged_primary(r)) {
        spdlog::info("node {} \"{}\" ({}:{}) is now the primary, in state \"{}\"", r.node_id,
                     r.name, r.host, r.port, to_string(r.goal));
        return true;
      }
    }
    return false;
  });
  if (promoted) return 0;
  return fail(make_error(ErrorCode::Timeout,
                         "no new primary within " + std::to_string(o.wait_s) + " s",
                         "see pg_autoctl show state"));
}

int cmd_perform_promotion(const Options& o) {
  auto n = locate_node(o);
  if (!n) return fail(n.error());
  if (can_take_writes_in_state(n->row.goal) && n->row.reported == n->row.goal) {
    spdlog::info("node \"{}\" is already the primary", n->name);
    return 0;
  }
  if (auto asked = n->monitor->perform_promotion(n->formation, n->name); !asked)
    return fail(asked.error());
  const bool promoted =
      wait_for_rows(*n->monitor, n->formation, n->row.group_id, o.wait_s, [&](const auto& rows) {
        for (auto& r : rows) {
          if (r.name == n->name && converged_primary(r)) {
            spdlog::info("node \"{}\" is now the primary, in state \"{}\"", n->name,
                         to_string(r.goal));
            return true;
          }
        }
        return false;
      });
  if (promoted) return 0;
  return fail(make_error(
      ErrorCode::Timeout,
      "node \"" + n->name + "\" did not become primary within " + std::to_string(o.wait_s) + " s",
      "see pg_autoctl show state"));
}

}  // namespace

void add_perform_commands(CLI::App& app, Context& ctx) {
  Options& o = ctx.o;
  Globals& g = ctx.g;
  auto* perform = app.add_subcommand("perform", "perform an action orchestrated by the monitor");
  perform->require_subcommand(1);
  for (const char* which : {"failover", "switchover"}) {
    auto* p = perform->add_subcommand(
        which, std::string("perform a ") + which + " for given formation and group");
    add_pgdata(p, o);
    p->add_option("--monitor", o.monitor, "monitor uri")->envname("PG_AUTOCTL_MONITOR");
    p->add_option("--formation", o.formation, "formation to target, defaults to 'default'");
    p->add_option("--group", o.group, "group to target, defaults to 0");
    p->add_option("--wait", o.wait_s, "how many seconds to wait, default to 60");
    const bool switchover = std::string(which) == "switchover";
    ctx.command(p, std::string("perform ") + which,
                [&o, &g, switchover] { return cmd_perform_failover(o, g, switchover); });
  }
  auto* pprom =
      perform->add_subcommand("promotion", "perform a failover that promotes a target node");
  add_pgdata(pprom, o);
  pprom->add_option("--monitor", o.monitor, "monitor uri")->envname("PG_AUTOCTL_MONITOR");
  pprom->add_option("--formation", o.formation, "formation to target, defaults to 'default'");
  pprom->add_option("--name", o.name, "node name to target, defaults to current node");
  pprom->add_option("--wait", o.wait_s, "how many seconds to wait, default to 60");
  ctx.command(pprom, "perform promotion", [&] { return cmd_perform_promotion(o); });
}
}  // namespace pgaf::cli::detail
