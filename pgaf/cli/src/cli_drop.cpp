/*
 * cli_drop.cpp — pg_autoctl drop node | formation | monitor: remove from the monitor, wait
 * (bounded) for the service to stop, and with --destroy remove PGDATA and the node's files.
 */
#include <signal.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "cli_internal.hpp"
#include "pgaf/agent/keeper.hpp"
#include "pgaf/agent/postgres.hpp"
#include "pgaf/agent/service.hpp"

namespace pgaf::cli::detail {

namespace fs = std::filesystem;
using agent::Config;
using agent::Role;

namespace {

/* Wait up to wait_s for the service to stop by itself, then SIGTERM it (bounded); with destroy,
 * remove PGDATA and the configuration, state and init files. */
int stop_and_destroy(const Config& cfg, const agent::Paths& paths, int wait_s, bool destroy) {
  agent::SystemClock clock;
  const TimeMs deadline = clock.now_ms() + static_cast<TimeMs>(wait_s) * 1000;
  const long pid = agent::read_supervisor_pid(paths.pid);
  while (agent::process_alive(pid) && clock.now_ms() < deadline) clock.sleep_ms(100);
  if (agent::process_alive(pid)) {
    if (wait_s > 0)
      spdlog::warn("pg_autoctl did not stop by itself within {} s: stopping it", wait_s);
    ::kill(static_cast<pid_t>(pid), SIGTERM);
    while (agent::process_alive(pid) && clock.now_ms() < deadline + 90000) clock.sleep_ms(50);
  }
  if (agent::process_alive(pid)) {
    return fail(make_error(ErrorCode::Timeout,
                           "pg_autoctl (pid " + std::to_string(pid) + ") did not stop",
                           "stop it with pg_autoctl stop --immediate, then retry"));
  }
  if (destroy) {
    if (agent::running_postmaster_pid(cfg.pgdata) > 0) {
      return fail(make_error(ErrorCode::BadState,
                             "PostgreSQL is still running in \"" + cfg.pgdata + "\"",
                             "stop it first; nothing was removed"));
    }
    std::error_code ec;
    fs::remove_all(cfg.pgdata, ec);
    fs::remove(paths.config, ec);
    fs::remove(paths.state, ec);
    fs::remove(paths.init, ec);
    spdlog::info("removed \"{}\" and its configuration", cfg.pgdata);
  }
  return 0;
}

int cmd_drop_node(const Options& o, const Globals& g) {
  (void)g;
  if (!o.monitor.empty() && !o.hostname.empty()) {
    auto m = monitor_for(o);
    if (!m) return fail(m.error());
    auto r = (*m)->remove_node_by_host(o.hostname, o.pgport, o.force);
    if (!r) return fail(r.error());
    spdlog::info("node {}:{} is being dropped", o.hostname, o.pgport);
    return 0;
  }
  if (o.pgdata.empty()) {
    return bad_args("drop node needs --pgdata, or --monitor with --hostname and --pgport");
  }
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return fail(cfg.error());
  auto paths = agent::paths_for(cfg->pgdata);
  if (!paths) return fail(paths.error());
  auto st = agent::KeeperState::load(paths->state);
  if (!st) return fail(st.error());
  auto m = agent::make_monitor_client(cfg->monitor, cfg->settings);
  auto r = m->remove_node(st->node_id, o.force);
  if (!r && r.error().code != ErrorCode::UnknownNode) return fail(r.error());
  spdlog::info("node {} is being dropped from the monitor", st->node_id);
  /* the running service reaches "dropped" and stops by itself */
  return stop_and_destroy(*cfg, *paths, o.wait_s, o.destroy);
}

/* pg_autoctl drop monitor: stop the monitor's service; --destroy removes its PGDATA and files.
 * The nodes keep their configuration (they keep serving; see `disable monitor` upstream). */
int cmd_drop_monitor(const Options& o) {
  if (o.pgdata.empty()) return bad_args("drop monitor needs --pgdata (or PGDATA)");
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return fail(cfg.error());
  if (cfg->role != Role::Monitor) {
    return fail(make_error(ErrorCode::InvalidArgument, "\"" + cfg->pgdata + "\" is not a monitor",
                           "use pg_autoctl drop node for a Postgres node"));
  }
  auto paths = agent::paths_for(cfg->pgdata);
  if (!paths) return fail(paths.error());
  long pid = agent::read_supervisor_pid(paths->pid);
  if (agent::process_alive(pid)) ::kill(static_cast<pid_t>(pid), SIGTERM);
  return stop_and_destroy(*cfg, *paths, 0, o.destroy);
}

int cmd_drop_formation(const Options& o) {
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  if (Status s = (*m)->drop_formation(o.formation); !s) return fail(s.error());
  spdlog::info("dropped formation \"{}\"", o.formation);
  return 0;
}

}  // namespace

void add_drop_commands(CLI::App& app, Context& ctx) {
  Options& o = ctx.o;
  Globals& g = ctx.g;
  auto* drop = app.add_subcommand("drop", "drop a pg_auto_failover node, or formation");
  drop->require_subcommand(1);
  auto* dnode = drop->add_subcommand("node", "drop a node from the pg_auto_failover monitor");
  add_pgdata(dnode, o);
  dnode->add_option("--monitor", o.monitor, "pg_auto_failover Monitor Postgres URL")
      ->envname("PG_AUTOCTL_MONITOR");
  dnode->add_option("--formation", o.formation, "pg_auto_failover formation");
  dnode->add_option("--name", o.name, "drop the node with the given node name");
  dnode->add_option("--hostname", o.hostname, "drop the node with given hostname and pgport");
  dnode->add_option("--pgport", o.pgport, "drop the node with given hostname and pgport");
  dnode->add_flag("--destroy", o.destroy, "also destroy Postgres database");
  dnode->add_flag("--force", o.force, "force dropping the node from the monitor");
  dnode->add_option("--wait", o.wait_s, "how many seconds to wait, default to 60");
  ctx.command(dnode, "drop node", [&] { return cmd_drop_node(o, g); });
  auto* dform =
      drop->add_subcommand("formation", "drop a formation on the pg_auto_failover monitor");
  add_monitor_opts(dform, ctx);
  ctx.command(dform, "drop formation", [&] { return cmd_drop_formation(o); });
  auto* dmon = drop->add_subcommand("monitor", "drop the pg_auto_failover monitor");
  add_pgdata(dmon, o);
  dmon->add_flag("--destroy", o.destroy, "also destroy the monitor's Postgres database");
  ctx.command(dmon, "drop monitor", [&] { return cmd_drop_monitor(o); });
}
}  // namespace pgaf::cli::detail
