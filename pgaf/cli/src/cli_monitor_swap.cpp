/*
 * cli_monitor_swap.cpp — pg_autoctl disable monitor [--force] | enable monitor <uri>: replace a
 * lost monitor under a live formation (reference: cli_enable_disable.c, keeper_register_again;
 * docs/operations.md "Replacing a lost monitor").
 *
 * Invariants: disable monitor removes the node from a monitor that answers only with --force
 * (and the monitor refuses to forget a node that may still write: fencing.md), then writes
 * pg_autoctl.monitor = PG_AUTOCTL_DISABLED and reloads the service; enable monitor registers
 * the live node from its local state (agent/monitor_swap.hpp), writes the state file, then the
 * configuration, then reloads the service — in that order, since the reload reads both.
 */
#include <signal.h>
#include <spdlog/spdlog.h>

#include "cli_do_internal.hpp"
#include "cli_internal.hpp"
#include "pgaf/agent/keeper.hpp"
#include "pgaf/agent/monitor_swap.hpp"
#include "pgaf/agent/service.hpp"

namespace pgaf::cli::detail {

namespace {

/* The keeper configuration of --pgdata (a monitor's PGDATA is refused). */
Result<agent::Config> keeper_config(const Options& o) {
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return cfg.error();
  if (cfg->role != agent::Role::Keeper) {
    return make_error(ErrorCode::InvalidArgument, "\"" + cfg->pgdata + "\" is a monitor",
                      "run this command with the --pgdata of a Postgres node");
  }
  return cfg;
}

/* SIGHUP to the running service, if any: its node-active service re-reads the configuration
 * (and, when the monitor changed, the state file). */
void reload_service(const agent::Paths& paths) {
  const long pid = agent::read_supervisor_pid(paths.pid);
  if (pid > 0 && agent::process_alive(pid)) {
    (void)::kill(static_cast<pid_t>(pid), SIGHUP);
    spdlog::info("signalled pg_autoctl (pid {}) to reload its configuration", pid);
  }
}

int cmd_disable_monitor(const Options& o) {
  auto paths = agent::paths_for(o.pgdata);
  if (!paths) return fail(paths.error());
  auto cfg = keeper_config(o);
  if (!cfg) return fail(cfg.error());
  if (agent::monitor_disabled(cfg->monitor)) {
    return fail(make_error(ErrorCode::BadConfig, "the monitor is already disabled for this node",
                           "pg_autoctl enable monitor <uri> registers it with a new monitor"));
  }
  auto st = agent::KeeperState::load(paths->state);
  if (!st) return fail(st.error());
  Settings s;
  auto m = agent::make_monitor_client(cfg->monitor, s);
  auto rows = m->current_state(cfg->formation);
  if (!rows) {
    if (!o.force) {
      return fail(make_error(ErrorCode::Monitor,
                             "could not contact the monitor: " + rows.error().message,
                             "use --force to disable it anyway"));
    }
    spdlog::warn("could not contact the monitor: {}", rows.error().message);
    spdlog::info("disabling the monitor as requested (--force)");
  } else {
    for (const auto& r : *rows) {
      if (r.node_id != st->node_id) continue;
      if (!o.force) {
        return fail(make_error(ErrorCode::BadState,
                               "node " + std::to_string(r.node_id) + " \"" + r.name + "\" (" +
                                   r.host + ":" + std::to_string(r.port) +
                                   ") is registered on the monitor",
                               "use --force to remove the node from the monitor"));
      }
      spdlog::info("removing node {} \"{}\" ({}:{}) from the monitor", r.node_id, r.name, r.host,
                   r.port);
      auto removed = m->remove_node(r.node_id, true);
      if (!removed) return fail(removed.error());
    }
  }
  cfg->monitor = agent::kMonitorDisabled;
  if (Status w = cfg->save(paths->config); !w) return fail(w.error());
  spdlog::info("the monitor is disabled for node {}: no failover until pg_autoctl enable monitor",
               st->node_id);
  reload_service(*paths);
  return 0;
}

int cmd_enable_monitor(const Options& o, const std::string& uri) {
  auto paths = agent::paths_for(o.pgdata);
  if (!paths) return fail(paths.error());
  auto cfg = keeper_config(o);
  if (!cfg) return fail(cfg.error());
  if (!agent::monitor_disabled(cfg->monitor)) {
    return fail(
        make_error(ErrorCode::BadConfig,
                   "failed to enable monitor \"" + uri + "\": there is already a monitor enabled",
                   "pg_autoctl disable monitor first"));
  }
  if (uri.empty() || agent::monitor_disabled(uri) || agent::monitor_host_of(uri).empty()) {
    return bad_args("invalid monitor URI \"" + uri + "\"",
                    "expected postgres://autoctl_node@host:port/pg_auto_failover");
  }
  auto st = agent::KeeperState::load(paths->state);
  if (!st) return fail(st.error());
  auto lp = local_postgres(o);
  if (!lp) return fail(lp.error());
  Settings s;
  auto m = agent::make_monitor_client(uri, s);
  auto fresh =
      agent::register_again(*cfg, *st, *m, *lp->pg, *lp->clock, s.listen_notifications_timeout_ms);
  if (!fresh) return fail(fresh.error());
  if (Status w = fresh->save(paths->state); !w) return fail(w.error());
  cfg->monitor = uri;
  cfg->group = fresh->group_id;
  if (Status w = cfg->save(paths->config); !w) return fail(w.error());
  spdlog::info("node {} is registered with the new monitor in state \"{}\"", fresh->node_id,
               to_string(fresh->current_role));
  reload_service(*paths);
  return 0;
}

}  // namespace

void add_monitor_swap_commands(CLI::App* enable, CLI::App* disable, Context& ctx) {
  Options& o = ctx.o;
  auto* en =
      enable->add_subcommand("monitor", "enable a monitor for this node to be orchestrated from");
  add_pgdata(en, o);
  en->add_flag("--allow-failover", o.allow_failover,
               "allow failover (accepted, as the reference, without effect)");
  const Positionals uri = positional(en, ctx, {"monitor-uri"});
  ctx.command(en, "enable monitor", [&o, uri] { return cmd_enable_monitor(o, *uri[0]); });

  auto* dis = disable->add_subcommand("monitor", "disable the monitor for this node");
  add_pgdata(dis, o);
  dis->add_flag("--force", o.force, "force unregistering from the monitor");
  ctx.command(dis, "disable monitor", [&o] { return cmd_disable_monitor(o); });
}

}  // namespace pgaf::cli::detail
