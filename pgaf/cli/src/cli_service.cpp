/*
 * cli_service.cpp — pg_autoctl run | stop | reload | status: the service's life cycle, through the
 * supervisor's pid file and signals.
 */
#include <signal.h>

#include <iostream>

#include "cli_internal.hpp"
#include "pgaf/agent/keeper.hpp"
#include "pgaf/agent/service.hpp"

namespace pgaf::cli::detail {

namespace {

/* pg_autoctl run: finish an interrupted create (registration), apply --name/--hostname/--pgport
 * (monitor metadata and configuration, as the reference), then supervise. */
int cmd_run(const Options& o, const Globals& g, const std::string& name,
            const std::string& hostname, int port) {
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return fail(cfg.error());
  if (cfg->role == agent::Role::Keeper) {
    auto paths = agent::paths_for(cfg->pgdata);
    if (!paths) return fail(paths.error());
    auto st = agent::KeeperState::load(paths->state);
    if (!st) return fail(st.error());
    if (st->node_id < 0) {
      if (int rc = register_local_node(*cfg, *paths); rc != 0) return rc;
    }
  }
  if (!name.empty() || !hostname.empty() || port != 0) {
    if (int rc = update_node_metadata(o, name, hostname, port, g, false); rc != 0) return rc;
    cfg = agent::load_config_for(o.pgdata);
    if (!cfg) return fail(cfg.error());
  }
  if (!o.ops.http_listen.empty() && o.ops.http_listen != cfg->http_listen) {
    if (Status s = apply_ops_options(o.ops, *cfg); !s) return fail(s.error());
    if (Status s = cfg->save(agent::paths_for(cfg->pgdata)->config); !s) return fail(s.error());
  }
  return agent::run_supervisor(*cfg, g.verbosity());
}

int send_signal(const Options& o, int sig, bool wait) {
  auto paths = agent::paths_for(o.pgdata);
  if (!paths) return fail(paths.error());
  long pid = agent::read_supervisor_pid(paths->pid);
  if (pid <= 0) {
    return fail(make_error(ErrorCode::BadState,
                           "pg_autoctl is not running for \"" + o.pgdata + "\"",
                           "pid file \"" + paths->pid + "\" not found or stale"));
  }
  if (::kill(static_cast<pid_t>(pid), sig) != 0) {
    return fail(make_error(ErrorCode::Internal, "could not signal pid " + std::to_string(pid)));
  }
  if (!wait) return 0;
  agent::SystemClock clock;
  TimeMs deadline = clock.now_ms() + 90000;
  while (agent::process_alive(pid)) {
    if (clock.now_ms() > deadline) {
      return fail(make_error(ErrorCode::Timeout,
                             "pg_autoctl (pid " + std::to_string(pid) + ") did not stop in 90 s"));
    }
    clock.sleep_ms(50);
  }
  return 0;
}

int cmd_status(const Options& o, const Globals& g) {
  auto paths = agent::paths_for(o.pgdata);
  if (!paths) return fail(paths.error());
  long pid = agent::read_supervisor_pid(paths->pid);
  if (pid <= 0) {
    if (g.json) std::cout << nlohmann::json{{"running", false}}.dump(2) << std::endl;
    return fail(make_error(ErrorCode::BadState, "pg_autoctl is not running"));
  }
  auto info = agent::read_pid_file(paths->pid);
  if (!info) return fail(info.error());
  if (g.json) {
    nlohmann::json j;
    j["running"] = true;
    j["pid"] = info->pid;
    j["pgdata"] = info->pgdata;
    nlohmann::json svcs = nlohmann::json::array();
    for (auto& [p, n] : info->services) svcs.push_back({{"name", n}, {"pid", p}});
    j["services"] = svcs;
    std::cout << j.dump(2) << std::endl;
  } else {
    std::cout << "pg_autoctl is running with pid " << info->pid << "\n";
    for (auto& [p, n] : info->services) std::cout << "  " << n << " pid " << p << "\n";
  }
  return 0;
}

}  // namespace

void add_service_commands(CLI::App& app, Context& ctx) {
  Options& o = ctx.o;
  Globals& g = ctx.g;
  auto* run = app.add_subcommand("run", "run the pg_autoctl service (monitor or keeper)");
  add_pgdata(run, o);
  auto* rname = run->add_option("--name", o.name, "pg_auto_failover node name");
  auto* rhost =
      run->add_option("--hostname", o.hostname, "hostname used to connect from other nodes");
  auto* rport = run->add_option("--pgport", o.pgport, "PostgreSQL's port number");
  add_ops_options(run, o.ops, false);
  ctx.command(run, "run", [&o, &g, rname, rhost, rport] {
    return cmd_run(o, g, rname->count() ? o.name : std::string(),
                   rhost->count() ? o.hostname : std::string(), rport->count() ? o.pgport : 0);
  });

  auto* stop = app.add_subcommand("stop", "signal the pg_autoctl service for it to stop");
  add_pgdata(stop, o);
  auto* fast = stop->add_flag("--fast", o.fast, "fast shutdown mode for the keeper");
  stop->add_flag("--immediate", o.immediate, "immediate shutdown mode for the keeper")
      ->excludes(fast);
  ctx.command(stop, "stop", [&] {
    return send_signal(o, o.immediate ? SIGQUIT : (o.fast ? SIGINT : SIGTERM), true);
  });

  auto* reload =
      app.add_subcommand("reload", "signal the pg_autoctl for it to reload its configuration");
  add_pgdata(reload, o);
  ctx.command(reload, "reload", [&] { return send_signal(o, SIGHUP, false); });

  auto* status =
      app.add_subcommand("status", "display the current status of the pg_autoctl service");
  add_pgdata(status, o);
  status->add_flag("--json", g.json, "output data in the JSON format");
  ctx.command(status, "status", [&] { return cmd_status(o, g); });
}
}  // namespace pgaf::cli::detail
