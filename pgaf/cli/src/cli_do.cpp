/*
 * cli_do.cpp — pg_autoctl do …: the reference's internal and debugging tree, present only when
 * PG_AUTOCTL_DEBUG is set (to any value). Every command is a thin call into the code the service
 * uses (PostgresControl, the monitor client, the network helpers): no second implementation of a
 * step. This file: do service, do pgsetup, do primary, do standby, do show; cli_do_fsm.cpp: do fsm
 * and do monitor.
 *
 * Exit codes are the reference's: bad arguments 1, bad configuration 2, Postgres not ready 4.
 */
#include <signal.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "cli_do_internal.hpp"
#include "pgaf/agent/keeper.hpp"
#include "pgaf/agent/network.hpp"
#include "pgaf/agent/postgres.hpp"
#include "pgaf/agent/service.hpp"

namespace pgaf::cli::detail {

Result<LocalPostgres> local_postgres(const Options& o) {
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return cfg.error();
  LocalPostgres l;
  l.cfg = *cfg;
  l.clock = std::make_unique<agent::SystemClock>();
  l.runner = agent::make_process_runner();
  l.pg = agent::make_postgres_control(l.cfg, *l.clock, *l.runner);
  return l;
}

Positionals positional(CLI::App* sub, Context& ctx, const std::vector<std::string>& names) {
  Positionals out;
  for (const auto& name : names) {
    std::string* slot = &ctx.positionals.emplace_back();
    sub->add_option(name, *slot, name)->required();
    out.push_back(slot);
  }
  return out;
}

std::vector<std::string> values(const Positionals& p) {
  std::vector<std::string> out;
  for (const std::string* v : p) out.push_back(*v);
  return out;
}

int done(const Status& s, const std::string& what) {
  if (!s) return fail(s.error());
  spdlog::info("{}", what);
  return 0;
}

namespace {

int cmd_do_service(const std::string& which, const Options& o, const Globals& g) {
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return fail(cfg.error());
  auto paths = agent::paths_for(cfg->pgdata);
  if (!paths) return fail(paths.error());
  agent::setup_logging(g.verbosity(), paths->log);
  if (which == "postgres") return agent::run_postgres_controller(*cfg);
  if (which == "listener") return agent::run_monitor_listener(*cfg);
  if (which == "pgcontroller") return agent::run_supervisor(*cfg, g.verbosity(), true);
  return agent::run_node_active(*cfg);
}

/* The pid of one of the supervisor's services, from the pid file. */
Result<long> service_pid(const Options& o, const std::string& service) {
  auto paths = agent::paths_for(o.pgdata);
  if (!paths) return paths.error();
  if (agent::read_supervisor_pid(paths->pid) <= 0) {
    return make_error(ErrorCode::BadState, "pg_autoctl is not running for \"" + o.pgdata + "\"",
                      "pid file \"" + paths->pid + "\" not found or stale");
  }
  auto info = agent::read_pid_file(paths->pid);
  if (!info) return info.error();
  for (const auto& [pid, name] : info->services)
    if (name == service) return pid;
  return make_error(ErrorCode::BadState, "no service \"" + service + "\" in \"" + paths->pid + "\"",
                    "is pg_autoctl running for this PGDATA?");
}

int cmd_getpid(const Options& o, const std::string& service) {
  auto pid = service_pid(o, service);
  if (!pid) return fail(pid.error());
  std::cout << *pid << std::endl;
  return 0;
}

/* The supervisor restarts a service that exits: stop it and let the supervisor start it again. */
int cmd_restart(const Options& o, const std::string& service) {
  auto pid = service_pid(o, service);
  if (!pid) return fail(pid.error());
  if (::kill(static_cast<pid_t>(*pid), SIGTERM) != 0) {
    return fail(make_error(ErrorCode::Internal, "could not signal pid " + std::to_string(*pid)));
  }
  spdlog::info("sent SIGTERM to the {} service (pid {}): the supervisor restarts it", service,
               *pid);
  return 0;
}

/* do pgctl on|off: the reference's "signal the pg_autoctl postgres service": the same
 * expected-status file the keeper writes (PostgresControl::ensure_running|ensure_stopped), then a
 * bounded wait (pg_ctl_timeout_ms) until the supervisor's postgres service did it. A keeper in a
 * state that needs Postgres starts it again at its next round, as the reference's does. */
int cmd_pgctl(bool on, const Options& o, const Globals& g) {
  auto l = local_postgres(o);
  if (!l) return fail(l.error());
  const TimeMs budget = l->cfg.settings.pg_ctl_timeout_ms;
  Status s = on ? l->pg->ensure_running(budget) : l->pg->ensure_stopped(budget);
  if (!s) {
    (void)fail(s.error());
    return static_cast<int>(ExitCode::Pgctl);
  }
  if (!on) {
    spdlog::info("Postgres has been stopped for PGDATA \"{}\"", l->cfg.pgdata);
    return 0;
  }
  spdlog::info("Postgres is serving PGDATA \"{}\" on port {} with pid {}", l->cfg.pgdata,
               l->cfg.port, agent::running_postmaster_pid(l->cfg.pgdata));
  if (g.json) std::cout << pgsetup_json(l->cfg).dump(4) << std::endl;
  return 0;
}

int cmd_pgsetup(const std::string& what, const Options& o, const Globals& g) {
  auto l = local_postgres(o);
  if (!l) return fail(l.error());
  if (what == "pg_ctl") {
    if (Status s = check_pg_ctl(l->cfg.pg_ctl); !s) return fail(s.error());
    const auto [version, num] = postgres_version(l->cfg.pg_ctl);
    if (g.json) {
      std::cout << nlohmann::json{{"pg_ctl", l->cfg.pg_ctl}, {"version", version}}.dump(4)
                << std::endl;
    } else {
      std::cout << "Found pg_ctl for PostgreSQL " << version << " at " << l->cfg.pg_ctl
                << std::endl;
    }
    return 0;
  }
  if (what == "discover") {
    const nlohmann::json j = pgsetup_json(l->cfg);
    if (g.json) {
      std::cout << j.dump(4) << std::endl;
    } else {
      for (const auto& [k, v] : j.items())
        std::cout << k << " = " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
      std::cout.flush();
    }
    return 0;
  }
  if (what == "ready" || what == "wait") {
    const TimeMs budget = what == "wait" ? l->cfg.settings.pg_ctl_timeout_ms : 0;
    const TimeMs deadline = l->clock->now_ms() + budget;
    while (true) {
      auto st = l->pg->status();
      if (st && st->running) {
        std::cout << "Postgres status is: \"ready\"" << std::endl;
        return 0;
      }
      if (l->clock->now_ms() >= deadline) break;
      l->clock->sleep_ms(100);
    }
    return fail(make_error(ErrorCode::Pgsql,
                           "Postgres in \"" + l->cfg.pgdata + "\" is not ready" +
                               (budget > 0 ? " after " + std::to_string(budget) + " ms" : ""),
                           "see pg_autoctl do pgsetup logs"));
  }
  if (what == "logs") {
    auto text = agent::read_file(l->cfg.pgdata + "/startup.log");
    if (!text) return fail(text.error());
    std::cout << *text;
    std::cout.flush();
    return 0;
  }
  /* tune: the settings pg_autoctl manages in postgresql-auto-failover.conf */
  std::cout << agent::managed_config_text(l->cfg);
  std::cout.flush();
  return 0;
}

int cmd_primary(const std::string& what, const Options& o, const std::vector<std::string>& args) {
  auto l = local_postgres(o);
  if (!l) return fail(l.error());
  if (what == "adduser") {
    return done(l->pg->create_roles_and_db(l->cfg.dbname),
                "roles pgautofailover_monitor and pgautofailover_replicator are in place");
  }
  if (what == "slot create") return done(l->pg->create_slot(args.at(0)), "slot created");
  if (what == "slot drop") return done(l->pg->drop_slot(args.at(0)), "slot dropped");
  if (what == "defaults") {
    return done(l->pg->write_managed_config(), "wrote postgresql-auto-failover.conf");
  }
  /* identify host port: the upstream's timeline over a replication connection */
  char* end = nullptr;
  const long port = std::strtol(args.at(1).c_str(), &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535)
    return bad_args("invalid port \"" + args[1] + "\"");
  auto tli = l->pg->upstream_timeline(agent::Upstream{args[0], static_cast<int>(port), 0});
  if (!tli) return fail(tli.error());
  std::cout << "timeline = " << *tli << std::endl;
  return 0;
}

int cmd_standby(const std::string& what, const Options& o, const std::vector<std::string>& args) {
  auto l = local_postgres(o);
  if (!l) return fail(l.error());
  const TimeMs timeout = l->cfg.settings.pg_ctl_timeout_ms;
  if (what == "promote") return done(l->pg->promote(timeout), "promoted");
  if (what == "crash-recovery") {
    if (Status s = l->pg->write_standby_setup(agent::StandbySetup{}); !s) return fail(s.error());
    return done(l->pg->ensure_running(timeout), "Postgres runs in recovery, with no upstream");
  }
  char* end = nullptr;
  const long port = std::strtol(args.at(1).c_str(), &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535)
    return bad_args("invalid port \"" + args[1] + "\"");
  const agent::Upstream up{args[0], static_cast<int>(port), 0};
  if (what == "rewind") return done(l->pg->rewind(up), "rewound");
  /* init: pg_basebackup from the upstream, then the standby setup (the keeper's init steps) */
  if (!l->pg->pgdata_initialized()) {
    if (Status s = l->pg->base_backup(up, ""); !s) return fail(s.error());
  }
  if (Status s = l->pg->write_managed_config(); !s) return fail(s.error());
  agent::StandbySetup setup;
  setup.upstream = up;
  return done(l->pg->write_standby_setup(setup), "standby initialised");
}

/* do show version: as the reference, run the pg_autoctl binary that is on disk now (it may have
 * been upgraded under a running service) with `version --json` and log what it says. */
int cmd_show_version() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return fail(
        make_error(ErrorCode::Internal, "could not find the pg_autoctl binary: " + ec.message()));
  }
  auto runner = agent::make_process_runner();
  agent::ProcessSpec spec;
  spec.program = self.string();
  spec.args = {"version", "--json"};
  spec.timeout_ms = Settings{}.pg_ctl_timeout_ms;
  const agent::ProcessResult r = runner->run(spec);
  nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  if (r.exit_code != 0 || j.is_discarded() || !j.is_object() || !j.contains("pg_autoctl") ||
      !j.contains("pgautofailover")) {
    return fail(make_error(ErrorCode::Internal,
                           "could not read the version of \"" + self.string() + "\"",
                           "its output was: " + r.output));
  }
  spdlog::info("pg_autoctl \"{}\"", j["pg_autoctl"].get<std::string>());
  spdlog::info("pgautofailover \"{}\"", j["pgautofailover"].get<std::string>());
  return 0;
}

int cmd_show(const std::string& what, const Options& o, const std::vector<std::string>& args) {
  if (what == "lookup") {
    auto ips = agent::lookup_ipv4(args.at(0));
    if (!ips) return fail(ips.error());
    for (const auto& ip : *ips) std::cout << ip << "\n";
    std::cout.flush();
    return 0;
  }
  if (what == "reverse") {
    auto name = agent::reverse_lookup(args.at(0));
    if (!name) return fail(name.error());
    std::cout << *name << std::endl;
    return 0;
  }
  /* ipaddr | cidr | hostname: the local address used to reach the monitor (loopback when no
   * monitor is known; no packet is sent) */
  std::string monitor = o.monitor;
  if (monitor.empty() && !o.pgdata.empty()) {
    if (auto cfg = agent::load_config_for(o.pgdata); cfg && cfg->role == agent::Role::Keeper)
      monitor = cfg->monitor;
  }
  const std::string host = monitor.empty() ? "127.0.0.1" : agent::monitor_host_of(monitor);
  const int port = monitor.empty() ? 5432 : agent::monitor_port_of(monitor);
  auto ip = agent::local_address_to(host, port);
  if (!ip) return fail(ip.error());
  if (what == "ipaddr") {
    std::cout << *ip << std::endl;
    return 0;
  }
  if (what == "cidr") {
    auto cidr = agent::local_cidr(*ip);
    if (!cidr) return fail(cidr.error());
    std::cout << *cidr << std::endl;
    return 0;
  }
  auto name = agent::reverse_lookup(*ip);
  std::cout << (name ? *name : *ip) << std::endl;
  return 0;
}

}  // namespace

void add_do_commands(CLI::App& app, Context& ctx) {
  Options& o = ctx.o;
  Globals& g = ctx.g;
  auto* d = app.add_subcommand("do", "internal commands and testing/QA tools");
  d->require_subcommand(1);

  add_do_monitor_commands(d, ctx);
  add_do_fsm_commands(d, ctx);
  add_do_demo_commands(d, ctx);

  auto* primary = d->add_subcommand("primary", "manage a PostgreSQL primary server");
  primary->require_subcommand(1);
  auto* slot = primary->add_subcommand("slot", "manage replication slot on the primary server");
  slot->require_subcommand(1);
  for (const char* w : {"create", "drop"}) {
    auto* s = slot->add_subcommand(w, std::string(w) + " a replication slot on the primary server");
    const Positionals a = positional(s, ctx, {"slot"});
    add_pgdata(s, o);
    const std::string what = std::string("slot ") + w;
    ctx.command(s, "do primary " + what, [&o, a, what] { return cmd_primary(what, o, values(a)); });
  }
  auto* adduser = primary->add_subcommand("adduser", "create users on primary");
  adduser->require_subcommand(1);
  for (const char* w : {"monitor", "replica"}) {
    auto* s = adduser->add_subcommand(w, std::string("add a local user for the ") + w);
    add_pgdata(s, o);
    ctx.command(s, std::string("do primary adduser ") + w,
                [&o] { return cmd_primary("adduser", o, {}); });
  }
  auto* defaults = primary->add_subcommand("defaults", "add default settings to postgresql.conf");
  add_pgdata(defaults, o);
  ctx.command(defaults, "do primary defaults", [&o] { return cmd_primary("defaults", o, {}); });
  auto* identify =
      primary->add_subcommand("identify", "run the IDENTIFY_SYSTEM replication command on host");
  const Positionals ia = positional(identify, ctx, {"host", "port"});
  add_pgdata(identify, o);
  ctx.command(identify, "do primary identify",
              [&o, ia] { return cmd_primary("identify", o, values(ia)); });

  auto* standby = d->add_subcommand("standby", "manage a PostgreSQL standby server");
  standby->require_subcommand(1);
  const std::vector<std::pair<const char*, const char*>> standby_cmds = {
      {"init", "initialize the standby server using pg_basebackup"},
      {"rewind", "rewind a demoted primary server using pg_rewind"},
      {"crash-recovery", "setup postgres for crash-recovery and start postgres"},
      {"promote", "promote a standby server to become writable"}};
  for (const auto& [w, help] : standby_cmds) {
    auto* s = standby->add_subcommand(w, help);
    const std::string what = w;
    Positionals a;
    if (what == "init" || what == "rewind") a = positional(s, ctx, {"host", "port"});
    add_pgdata(s, o);
    ctx.command(s, "do standby " + what, [&o, a, what] { return cmd_standby(what, o, values(a)); });
  }

  auto* show = d->add_subcommand("show", "show some debug level information");
  show->require_subcommand(1);
  const std::vector<std::pair<const char*, const char*>> show_cmds = {
      {"ipaddr", "print this node's IP address information"},
      {"cidr", "print this node's CIDR information"},
      {"lookup", "print this node's DNS lookup information"},
      {"hostname", "print this node's default hostname"},
      {"reverse", "lookup given hostname and check reverse DNS setup"}};
  for (const auto& [w, help] : show_cmds) {
    auto* s = show->add_subcommand(w, help);
    const std::string what = w;
    Positionals a;
    if (what == "lookup") a = positional(s, ctx, {"hostname"});
    if (what == "reverse") a = positional(s, ctx, {"ipaddr"});
    add_pgdata(s, o);
    s->add_option("--monitor", o.monitor, "monitor uri")->envname("PG_AUTOCTL_MONITOR");
    ctx.command(s, "do show " + what, [&o, a, what] { return cmd_show(what, o, values(a)); });
  }

  auto* version =
      show->add_subcommand("version", "run pg_autoctl version --json and parses the output");
  ctx.command(version, "do show version", [] { return cmd_show_version(); });

  auto* pgsetup = d->add_subcommand("pgsetup", "manage a local Postgres setup");
  pgsetup->require_subcommand(1);
  const std::vector<std::pair<const char*, const char*>> pgsetup_cmds = {
      {"pg_ctl", "find a non-ambiguous pg_ctl program and Postgres version"},
      {"discover", "discover local PostgreSQL instance, if any"},
      {"ready", "return true is the local Postgres server is ready"},
      {"wait", "wait until the local Postgres server is ready"},
      {"logs", "outputs the Postgres startup logs"},
      {"tune", "compute and log some Postgres tuning options"}};
  for (const auto& [w, help] : pgsetup_cmds) {
    auto* s = pgsetup->add_subcommand(w, help);
    add_pgdata(s, o);
    s->add_flag("--json", g.json, "output data in the JSON format");
    const std::string what = w;
    ctx.command(s, "do pgsetup " + what, [&o, &g, what] { return cmd_pgsetup(what, o, g); });
  }

  auto* pgctl = d->add_subcommand("pgctl", "signal the pg_autoctl postgres service");
  pgctl->require_subcommand(1);
  for (const bool on : {true, false}) {
    auto* s = pgctl->add_subcommand(on ? "on" : "off",
                                    std::string("signal pg_autoctl postgres service to ensure "
                                                "Postgres is ") +
                                        (on ? "running" : "stopped"));
    add_pgdata(s, o);
    s->add_flag("--json", g.json, "output data in the JSON format");
    ctx.command(s, std::string("do pgctl ") + (on ? "on" : "off"),
                [&o, &g, on] { return cmd_pgctl(on, o, g); });
  }

  auto* svc = d->add_subcommand("service", "run individual services");
  svc->require_subcommand(1);
  for (const char* which : {"pgcontroller", "postgres", "node-active", "listener"}) {
    auto* s = svc->add_subcommand(which, std::string("run the ") + which + " service");
    add_pgdata(s, o);
    const std::string w = which;
    ctx.command(s, "do service " + w, [&o, &g, w] { return cmd_do_service(w, o, g); });
  }
  auto* getpid =
      svc->add_subcommand("getpid", "get the pid of pg_autoctl sub-processes (services)");
  getpid->require_subcommand(1);
  auto* restart = svc->add_subcommand("restart", "restart pg_autoctl sub-processes (services)");
  restart->require_subcommand(1);
  for (const char* which : {"postgres", "node-active", "listener"}) {
    const std::string w = which;
    auto* gp = getpid->add_subcommand(w, "get the pid of the " + w + " service");
    add_pgdata(gp, o);
    ctx.command(gp, "do service getpid " + w, [&o, w] { return cmd_getpid(o, w); });
    auto* rs = restart->add_subcommand(w, "restart the " + w + " service");
    add_pgdata(rs, o);
    ctx.command(rs, "do service restart " + w, [&o, w] { return cmd_restart(o, w); });
  }
}

}  // namespace pgaf::cli::detail
