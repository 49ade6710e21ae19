/*
 * cli_create.cpp — pg_autoctl create monitor | postgres | formation: options checked before
 * anything is touched (auth and SSL choices, ranges), then the monitor or node is initialised and
 * registered.
 */
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cli_internal.hpp"
#include "pgaf/agent/keeper.hpp"
#include "pgaf/agent/network.hpp"
#include "pgaf/agent/postgres.hpp"
#include "pgaf/agent/service.hpp"
#include "pgaf/agent/tls.hpp"
#include "pgaf/cli/cli.hpp"

namespace pgaf::cli::detail {

namespace fs = std::filesystem;
using agent::Config;
using agent::Role;

namespace {

/* Local address used to reach the monitor (UDP connect sends no packet); 127.0.0.1 when none. */
std::string discover_hostname(const std::string& host, int port) {
  if (host.empty()) return "127.0.0.1";
  auto ip = agent::local_address_to(host, port);
  return ip ? *ip : std::string("127.0.0.1");
}

Status check_auth_choice(const Options& o) {
  if (o.auth.empty() && !o.skip_hba) {
    return make_error(ErrorCode::InvalidArgument, "one of --auth or --skip-pg-hba is required",
                      "--auth trust, --auth md5, ... sets the HBA method for pg_auto_failover "
                      "connections; --skip-pg-hba leaves pg_hba.conf alone");
  }
  return Status::Ok();
}

Result<Config> base_config(const Options& o, Role role) {
  Config c;
  c.role = role;
  auto pg = agent::absolute_pgdata(o.pgdata);
  if (!pg) return pg.error();
  c.pgdata = *pg;
  if (!o.pgctl.empty()) c.pg_ctl = o.pgctl;
  if (!fs::exists(c.pg_ctl)) {
    return make_error(ErrorCode::InvalidArgument, "pg_ctl not found at \"" + c.pg_ctl + "\"",
                      "use --pgctl");
  }
  c.port = o.pgport;
  c.listen_addresses = o.listen;
  c.username = o.username.empty() ? agent::current_user_name() : o.username;
  c.dbname = o.dbname;
  c.host = o.pghost.empty() ? agent::default_socket_dir() : o.pghost;
  /* the reference reads --auth skip as --skip-pg-hba: pg_hba.conf is left alone */
  const bool skip_hba = o.skip_hba || o.auth == "skip";
  c.auth_method = o.auth.empty() || o.auth == "skip" ? "trust" : o.auth;
  c.hba_level = skip_hba ? "skip" : (o.pg_hba_lan ? "app" : "minimal");
  apply_ssl_choice(c, o); /* check_ssl_choice has validated the combination */
  c.maximum_backup_rate = o.max_backup_rate;
  return c;
}

int cmd_create_monitor(const Options& o, const Globals& g) {
  if (Status s = check_auth_choice(o); !s) return fail(s.error());
  if (Status s = check_ssl_choice(o); !s) return fail(s.error());
  auto cfg = base_config(o, Role::Monitor);
  if (!cfg) return fail(cfg.error());
  if (Status s = apply_ops_options(o.ops, *cfg); !s) return fail(s.error());
  cfg->hostname = o.hostname.empty() ? std::string("localhost") : o.hostname;
  cfg->dbname = "pg_auto_failover";
  auto paths = agent::paths_for(cfg->pgdata);
  if (!paths) return fail(paths.error());
  if (agent::file_exists(paths->config)) {
    auto existing = Config::load(paths->config);
    if (!existing) return fail(existing.error());
    if (existing->role != Role::Monitor) {
      return fail(make_error(ErrorCode::BadConfig,
                             "\"" + cfg->pgdata + "\" is already set up as a Postgres node",
                             "see \"" + paths->config + "\""));
    }
  }
  spdlog::info("Initialising the monitor in \"{}\" on port {}", cfg->pgdata, cfg->port);
  if (Status s = agent::create_monitor(*cfg); !s) return fail(s.error());
  if (Status s = cfg->save(paths->config); !s) return fail(s.error());
  spdlog::info("Monitor has been successfully initialized.");
  std::cout << cfg->monitor_uri() << std::endl;
  if (o.run) return agent::run_supervisor(*cfg, g.verbosity());
  return 0;
}

/* Existing PGDATA: a running primary registers as single; a stopped one, or none, as init. */
Result<std::pair<NodeState, std::int64_t>> initial_state_of(const Config& cfg) {
  NodeState initial = NodeState::Init;
  std::int64_t sysid = 0;
  if (fs::exists(cfg.pgdata) && !fs::is_directory(cfg.pgdata)) {
    return make_error(ErrorCode::InvalidArgument,
                      "PGDATA \"" + cfg.pgdata + "\" is not a directory");
  }
  if (agent::file_exists(cfg.pgdata + "/PG_VERSION")) {
    sysid = agent::read_system_identifier(cfg);
    if (agent::running_postmaster_pid(cfg.pgdata) > 0) {
      if (agent::file_exists(cfg.pgdata + "/standby.signal")) {
        return make_error(ErrorCode::BadState,
                          "PostgreSQL in \"" + cfg.pgdata + "\" is a running standby",
                          "stop it first, or create the node from an empty PGDATA");
      }
      initial = NodeState::Single;
    }
  }
  return std::make_pair(initial, sysid);
}

}  // namespace

/* see cli_internal.hpp */
int register_local_node(Config& cfg, const agent::Paths& paths) {
  auto st = agent::KeeperState::load(paths.state);
  if (!st) return fail(st.error());
  Settings settings;
  auto monitor = agent::make_monitor_client(cfg.monitor, settings);
  agent::RegisterArgs ra;
  ra.formation = cfg.formation;
  ra.host = cfg.hostname;
  ra.port = cfg.port;
  ra.dbname = cfg.dbname;
  ra.name = cfg.name;
  ra.sysidentifier = st->system_identifier;
  ra.initial_state = st->current_role;
  ra.candidate_priority = cfg.candidate_priority;
  ra.replication_quorum = cfg.replication_quorum;
  agent::SystemClock clock;
  TimeMs deadline = clock.now_ms() + settings.listen_notifications_timeout_ms;
  Result<agent::NodeAssignment> reg = make_error(ErrorCode::Internal, "not registered");
  while (true) {
    reg = monitor->register_node(ra);
    if (reg) break;
    /* The monitor asks us to retry while the primary is being set up. */
    if (reg.error().code != ErrorCode::NoPrimary || clock.now_ms() >= deadline) {
      return fail(reg.error());
    }
    spdlog::info("{}: retrying", reg.error().message);
    clock.sleep_ms(200);
  }
  cfg.group = reg->group_id;
  cfg.name = reg->name;
  if (Status s = cfg.save(paths.config); !s) return fail(s.error());
  st->node_id = reg->node_id;
  st->group_id = reg->group_id;
  st->assigned_role = reg->goal;
  if (Status s = st->save(paths.state); !s) return fail(s.error());
  std::error_code ec;
  fs::remove(paths.init, ec);
  spdlog::info("Registered node {} \"{}\" ({}:{}) in formation \"{}\", group {}, state \"{}\"",
               reg->node_id, reg->name, cfg.hostname, cfg.port, cfg.formation, reg->group_id,
               to_string(reg->goal));
  return 0;
}

namespace {

int cmd_create_postgres(Options o, const Globals& g) {
  if (Status s = check_auth_choice(o); !s) return fail(s.error());
  if (Status s = check_ssl_choice(o); !s) return fail(s.error());
  if (o.disable_monitor || o.node_id != -1) {
    /* a node without a monitor never holds a write lease (docs/design/fencing.md L1, M1) */
    return fail(make_error(ErrorCode::Unsupported,
                           std::string(o.disable_monitor ? "--disable-monitor" : "--node-id") +
                               " is refused: a node without a monitor is never granted writes",
                           "create the node with --monitor; replace a lost monitor with pg_autoctl "
                           "disable monitor and enable monitor (docs/compatibility.md)"));
  }
  if (o.monitor.empty()) {
    return bad_args("--monitor is required", "or set PG_AUTOCTL_MONITOR");
  }
  if (o.candidate_priority < 0 || o.candidate_priority > 100) {
    return bad_args("invalid --candidate-priority " + std::to_string(o.candidate_priority),
                    "use a value between 0 and 100");
  }
  const auto parsed_quorum = parse_bool_option(o.replication_quorum);
  if (!parsed_quorum) {
    return bad_args("invalid --replication-quorum \"" + o.replication_quorum + "\"",
                    "use true or false (also yes/no, on/off, 1/0, in any case)");
  }
  const bool quorum = *parsed_quorum;
  auto cfg = base_config(o, Role::Keeper);
  if (!cfg) return fail(cfg.error());
  if (Status s = apply_ops_options(o.ops, *cfg); !s) return fail(s.error());
  cfg->monitor = o.monitor;
  cfg->formation = o.formation;
  cfg->name = o.name;
  cfg->candidate_priority = o.candidate_priority;
  cfg->replication_quorum = quorum;
  cfg->hostname = o.hostname.empty() ? discover_hostname(agent::monitor_host_of(o.monitor),
                                                         agent::monitor_port_of(o.monitor))
                                     : o.hostname;
  auto paths = agent::paths_for(cfg->pgdata);
  if (!paths) return fail(paths.error());

  if (agent::file_exists(paths->config) && agent::file_exists(paths->state)) {
    auto existing = Config::load(paths->config);
    if (!existing) return fail(existing.error());
    auto st = agent::KeeperState::load(paths->state);
    if (!st) return fail(st.error());
    if (st->node_id >= 0) {
      spdlog::info("node {} is already registered in \"{}\"", st->node_id, paths->config);
      if (o.run) return agent::run_supervisor(*existing, g.verbosity());
      return 0;
    }
    /* an interrupted create: its files are there, the registration is not */
    spdlog::info("resuming the creation of \"{}\": registering it", existing->pgdata);
    if (int rc = register_local_node(*existing, *paths); rc != 0) return rc;
    if (o.run) return agent::run_supervisor(*existing, g.verbosity());
    return 0;
  }

  /* As the reference: the configuration and state files (and pg_autoctl.init, "creation under
   * way") exist before the monitor is asked, so `do fsm state` and `show file` find them. */
  auto start = initial_state_of(*cfg);
  if (!start) return fail(start.error());
  if (Status s = cfg->save(paths->config); !s) return fail(s.error());
  agent::KeeperState st;
  st.current_role = start->first;
  st.assigned_role = start->first;
  st.system_identifier = start->second;
  if (Status s = st.save(paths->state); !s) return fail(s.error());
  const nlohmann::json init = {{"pg_autoctl_state_version", 1},
                               {"pre_init_state", std::string(to_string(start->first))}};
  if (Status s = agent::atomic_write_file(paths->init, init.dump() + "\n", 0644); !s)
    return fail(s.error());
  if (int rc = register_local_node(*cfg, *paths); rc != 0) return rc;
  if (o.run) return agent::run_supervisor(*cfg, g.verbosity());
  return 0;
}

int cmd_create_formation(const Options& o, const Globals& g) {
  if (o.kind != "pgsql") {
    return bad_args("unsupported formation kind \"" + o.kind + "\"", "pgaf supports --kind pgsql");
  }
  if (o.number_sync_standbys < 0) return bad_args("--number-sync-standbys must be >= 0");
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  if (Status s = (*m)->create_formation(o.formation, o.kind, o.dbname, !o.disable_secondary,
                                        o.number_sync_standbys);
      !s)
    return fail(s.error());
  nlohmann::json j = {{"name", o.formation},
                      {"kind", o.kind},
                      {"dbname", o.dbname},
                      {"opt_secondary", !o.disable_secondary},
                      {"number_sync_standbys", o.number_sync_standbys}};
  if (g.json) {
    std::cout << j.dump(4) << std::endl;
  } else {
    spdlog::info("created formation \"{}\" of kind \"{}\" (database \"{}\")", o.formation, o.kind,
                 o.dbname);
  }
  return 0;
}

}  // namespace

void add_create_commands(CLI::App& app, Context& ctx) {
  Options& o = ctx.o;
  Globals& g = ctx.g;
  auto* create = app.add_subcommand("create", "create a pg_auto_failover node, or formation");
  create->require_subcommand(1);
  auto* cmon = create->add_subcommand("monitor", "initialize a pg_auto_failover monitor node");
  add_pgdata(cmon, o);
  cmon->add_option("--pgctl", o.pgctl, "path to pg_ctl");
  cmon->add_option("--pgport", o.pgport, "PostgreSQL's port number")->envname("PGPORT");
  cmon->add_option("--hostname", o.hostname, "hostname by which postgres is reachable");
  cmon->add_option("--listen", o.listen, "PostgreSQL's listen_addresses");
  cmon->add_option("--auth", o.auth, "authentication method for connections from data nodes")
      ->envname("PG_AUTOCTL_AUTH_METHOD");
  cmon->add_flag("--skip-pg-hba", o.skip_hba, "skip editing pg_hba.conf rules");
  cmon->add_flag("--run", o.run, "create node then run pg_autoctl service");
  add_ssl_options(cmon, o);
  add_ops_options(cmon, o.ops, false);
  ctx.command(cmon, "create monitor", [&] { return cmd_create_monitor(o, g); });

  auto* cpg =
      create->add_subcommand("postgres", "initialize a pg_auto_failover standalone postgres node");
  add_pgdata(cpg, o);
  cpg->add_option("--pgctl", o.pgctl, "path to pg_ctl");
  cpg->add_option("--pghost", o.pghost, "PostgreSQL's hostname (socket directory)");
  cpg->add_option("--pgport", o.pgport, "PostgreSQL's port number")->envname("PGPORT");
  cpg->add_option("--listen", o.listen, "PostgreSQL's listen_addresses");
  cpg->add_option("--username", o.username, "PostgreSQL's username");
  cpg->add_option("--dbname", o.dbname, "PostgreSQL's database name");
  cpg->add_option("--name", o.name, "pg_auto_failover node name")->envname("PG_AUTOCTL_NODE_NAME");
  cpg->add_option("--hostname", o.hostname, "hostname used to connect from the other nodes");
  cpg->add_option("--formation", o.formation, "pg_auto_failover formation");
  cpg->add_option("--monitor", o.monitor, "pg_auto_failover Monitor Postgres URL")
      ->envname("PG_AUTOCTL_MONITOR");
  cpg->add_option("--auth", o.auth, "authentication method for connections from monitor")
      ->envname("PG_AUTOCTL_AUTH_METHOD");
  cpg->add_flag("--skip-pg-hba", o.skip_hba, "skip editing pg_hba.conf rules");
  cpg->add_flag("--pg-hba-lan", o.pg_hba_lan, "edit pg_hba.conf rules for --dbname in detected LAN")
      ->envname("PG_AUTOCTL_PG_HBA_LAN");
  add_ssl_options(cpg, o)->envname("PG_AUTOCTL_SSL_SELF_SIGNED");
  cpg->add_option("--candidate-priority", o.candidate_priority,
                  "priority of the node to be promoted to become primary")
      ->envname("PG_AUTOCTL_CANDIDATE_PRIORITY");
  cpg->add_option("--replication-quorum", o.replication_quorum,
                  "true if node participates in write quorum")
      ->envname("PG_AUTOCTL_REPLICATION_QUORUM");
  cpg->add_option("--maximum-backup-rate", o.max_backup_rate,
                  "maximum transfer rate of data transferred from the server during initial sync");
  cpg->add_flag("--run", o.run, "create node then run pg_autoctl service");
  cpg->add_flag("--disable-monitor", o.disable_monitor, "ignore pg_auto_failover monitor");
  cpg->add_option("--node-id", o.node_id, "use this node id (only with --disable-monitor)");
  add_ops_options(cpg, o.ops, true);
  ctx.command(cpg, "create postgres", [&] { return cmd_create_postgres(o, g); });

  auto* cform = create->add_subcommand("formation", "create a new formation on the monitor");
  add_monitor_opts(cform, ctx);
  cform->add_option("--kind", o.kind, "formation kind, pgsql");
  cform->add_option("--dbname", o.dbname, "name for postgres database to use in this formation");
  auto* es = cform->add_flag("--enable-secondary", o.enable_secondary,
                             "create a formation that has multiple nodes (default)");
  cform
      ->add_flag("--disable-secondary", o.disable_secondary,
                 "create a citus formation without nodes that can be used for failover")
      ->excludes(es);
  cform->add_option("--number-sync-standbys", o.number_sync_standbys,
                    "minimum number of standbys to confirm write");
  ctx.command(cform, "create formation", [&] { return cmd_create_formation(o, g); });
}
}  // namespace pgaf::cli::detail
