/*
 * cli_common.cpp — helpers the pg_autoctl command groups share: error reporting, the monitor
 * connection, bounded waits on the monitor's state, the local node, boolean option values, and
 * Context::command (how a CLI11 callback runs its command). See cli_internal.hpp.
 */
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cctype>
#include <iostream>
#include <regex>

#include "cli_internal.hpp"
#include "pgaf/agent/keeper.hpp"
#include "pgaf/agent/monitor_swap.hpp"
#include "pgaf/agent/postgres.hpp"
#include "pgaf/agent/service.hpp"
#include "pgaf/cli/cli.hpp"

namespace pgaf::cli {

/* see cli.hpp */
std::optional<bool> parse_bool_option(std::string value) {
  for (auto& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto prefix_of = [&](const char* word) {
    return !value.empty() && std::string(word).compare(0, value.size(), value) == 0;
  };
  if (value == "1" || prefix_of("true") || prefix_of("yes")) return true;
  if (value == "0" || prefix_of("false") || prefix_of("no")) return false;
  if (value.size() >= 2 && prefix_of("on")) return true;
  if (value.size() >= 2 && prefix_of("off")) return false;
  return std::nullopt;
}

namespace detail {

using agent::Config;
using agent::Role;

void Context::command(CLI::App* c, std::string name, std::function<int()> fn) {
  c->callback([this, name = std::move(name), fn = std::move(fn)] {
    action = name;
    if (parse_only) return;
    /* the services started by the supervisor set up their own logging (to the log file) */
    if (name.rfind("do service", 0) != 0) agent::setup_logging(g.verbosity());
    exit_code = fn();
    ran = true;
  });
}

CLI::Option* add_ssl_options(CLI::App* c, Options& o) {
  CLI::Option* self_signed = c->add_flag("--ssl-self-signed", o.ssl_self_signed,
                                         "setup network encryption using self signed certificates");
  c->add_flag("--no-ssl", o.no_ssl, "don't enable network encryption (NOT recommended)");
  c->add_option("--ssl-ca-file", o.ssl_ca, "set the Postgres ssl_ca_file");
  c->add_option("--ssl-crl-file", o.ssl_crl, "set the Postgres ssl_crl_file");
  c->add_option("--server-cert", o.server_cert, "set the Postgres ssl_cert_file");
  c->add_option("--server-key", o.server_key, "set the Postgres ssl_key_file");
  c->add_option("--ssl-mode", o.ssl_mode, "use that sslmode in connection strings");
  return self_signed;
}

void add_pgdata(CLI::App* c, Options& o) {
  c->add_option("--pgdata", o.pgdata, "path to data directory")->envname("PGDATA");
}

void add_monitor_opts(CLI::App* c, Context& ctx) {
  add_pgdata(c, ctx.o);
  c->add_option("--monitor", ctx.o.monitor, "monitor uri")->envname("PG_AUTOCTL_MONITOR");
  c->add_option("--formation", ctx.o.formation, "formation to query, defaults to 'default'");
  c->add_flag("--json", ctx.g.json, "output data in the JSON format");
}

int fail(const Error& e) {
  spdlog::error("{}", e.message);
  if (!e.detail.empty()) spdlog::error("DETAIL: {}", e.detail);
  if (!e.hint.empty()) spdlog::error("HINT: {}", e.hint);
  return exit_code(e.code);
}

int bad_args(const std::string& msg, const std::string& hint) {
  return fail(make_error(ErrorCode::InvalidArgument, msg, hint));
}

/* How a command run on the monitor's PGDATA reaches it, as libpq would: PGHOST first; with
 * PG_REGRESS_SOCK_DIR set and empty (no Unix sockets, the reference's test mode) or no socket in
 * the configured directory, TCP on loopback; else the configured socket directory or host. */
std::string monitor_local_host(const Config& cfg) {
  if (const char* h = std::getenv("PGHOST"); h != nullptr && *h != '\0') return h;
  const char* sock = std::getenv("PG_REGRESS_SOCK_DIR");
  if (sock != nullptr && *sock == '\0') return "127.0.0.1";
  if (cfg.host.empty()) return "127.0.0.1";
  if (cfg.host[0] == '/' &&
      !agent::file_exists(cfg.host + "/.s.PGSQL." + std::to_string(cfg.port))) {
    return "127.0.0.1";
  }
  return cfg.host;
}

/* ---- monitor URI for monitor-querying commands ---- */
Error monitor_disabled_error(const std::string& pgdata) {
  return make_error(ErrorCode::BadConfig,
                    "the monitor is disabled for the node at \"" + pgdata + "\"",
                    "pg_autoctl enable monitor <uri> registers it with a new monitor");
}

Result<std::string> resolve_monitor_uri(const Options& o) {
  if (!o.monitor.empty()) return o.monitor;
  if (o.pgdata.empty()) {
    return make_error(ErrorCode::InvalidArgument, "no monitor given",
                      "use --monitor (or PG_AUTOCTL_MONITOR), or --pgdata (or PGDATA)");
  }
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return cfg.error();
  if (cfg->role == Role::Keeper) {
    if (agent::monitor_disabled(cfg->monitor)) return monitor_disabled_error(cfg->pgdata);
    return cfg->monitor;
  }
  return "host=" + monitor_local_host(*cfg) + " port=" + std::to_string(cfg->port) +
         " dbname=pg_auto_failover user=" + cfg->username + cfg->ssl_conninfo();
}

Result<std::unique_ptr<agent::MonitorClient>> monitor_for(const Options& o) {
  auto uri = resolve_monitor_uri(o);
  if (!uri) return uri.error();
  Settings s;
  return agent::make_monitor_client(*uri, s);
}

/* A node that is a primary for good: its goal is a primary state and it reports it. */
bool converged_primary(const agent::StateRow& r) {
  return r.reported == r.goal && (r.goal == NodeState::Primary ||
                                  r.goal == NodeState::WaitPrimary || r.goal == NodeState::Single);
}

/* Poll current_state — woken early by the monitor's NOTIFY on `state` — until done(rows) holds;
 * at most wait_s seconds. True when it held. The one wait loop of the CLI's commands. */
bool wait_for_rows(agent::MonitorClient& m, const std::string& formation, GroupId group, int wait_s,
                   const std::function<bool(const std::vector<agent::StateRow>&)>& done) {
  agent::SystemClock clock;
  const TimeMs deadline = clock.now_ms() + static_cast<TimeMs>(wait_s) * 1000;
  while (clock.now_ms() < deadline) {
    auto rows = m.current_state(formation);
    if (rows && done(*rows)) return true;
    (void)m.wait_for_state_change(formation, group, 200);
  }
  return false;
}

Result<LocalNode> local_node(const Options& o) {
  auto paths = agent::paths_for(o.pgdata);
  if (!paths) return paths.error();
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return cfg.error();
  if (cfg->role != Role::Keeper) {
    return make_error(ErrorCode::InvalidArgument, "\"" + cfg->pgdata + "\" is a monitor",
                      "run this command with the --pgdata of a Postgres node");
  }
  if (agent::monitor_disabled(cfg->monitor)) return monitor_disabled_error(cfg->pgdata);
  auto st = agent::KeeperState::load(paths->state);
  if (!st) return st.error();
  LocalNode n;
  n.cfg = *cfg;
  n.node_id = st->node_id;
  Settings s;
  n.monitor = agent::make_monitor_client(cfg->monitor, s);
  return n;
}

/* --name (or this node's name from --pgdata) and the formation to use. */
Result<TargetNode> locate_node(const Options& o) {
  TargetNode n;
  n.name = o.name;
  n.formation = o.formation;
  if (n.name.empty() && !o.pgdata.empty()) {
    auto cfg = agent::load_config_for(o.pgdata);
    if (!cfg) return cfg.error();
    if (cfg->role == Role::Keeper) {
      n.name = cfg->name;
      if (n.formation == "default") n.formation = cfg->formation;
    }
  }
  if (n.name.empty()) {
    return make_error(ErrorCode::InvalidArgument, "no node given",
                      "use --name, or --pgdata of a Postgres node");
  }
  auto m = monitor_for(o);
  if (!m) return m.error();
  n.monitor = std::move(*m);
  auto rows = n.monitor->current_state(n.formation);
  if (!rows) return rows.error();
  for (auto& r : *rows) {
    if (r.name != n.name) continue;
    n.row = r;
    return n;
  }
  return make_error(
      ErrorCode::BadState,
      "node \"" + n.name + "\" is not registered in formation \"" + n.formation + "\"",
      "see pg_autoctl show state");
}

std::pair<std::string, long> postgres_version(const std::string& pg_ctl) {
  auto runner = agent::make_process_runner();
  agent::ProcessSpec spec;
  spec.program = pg_ctl;
  spec.args = {"--version"};
  spec.timeout_ms = 10000;
  const agent::ProcessResult r = runner->run(spec);
  std::smatch m;
  static const std::regex re(R"(\(PostgreSQL\) (\d+)(?:\.(\d+))?)");
  if (r.exit_code != 0 || !std::regex_search(r.output, m, re)) return {"", 0};
  const long major = std::stol(m[1].str());
  const long minor = m[2].matched ? std::stol(m[2].str()) : 0;
  return {m[1].str() + (m[2].matched ? "." + m[2].str() : ""), major * 10000 + minor};
}

Status check_pg_ctl(const std::string& pg_ctl) {
  if (pg_ctl.empty() || pg_ctl[0] != '/' || ::access(pg_ctl.c_str(), X_OK) != 0) {
    return make_error(ErrorCode::BadConfig, "pg_ctl \"" + pg_ctl + "\" is not an executable file",
                      "give the absolute path of PostgreSQL's pg_ctl, e.g. "
                      "/usr/lib/postgresql/15/bin/pg_ctl");
  }
  if (postgres_version(pg_ctl).second == 0) {
    return make_error(ErrorCode::BadConfig,
                      "\"" + pg_ctl + " --version\" does not report a PostgreSQL version",
                      "give the absolute path of PostgreSQL's pg_ctl");
  }
  return Status::Ok();
}

nlohmann::json pgsetup_json(const Config& cfg) {
  const auto [version, version_num] = postgres_version(cfg.pg_ctl);
  const long pid = agent::running_postmaster_pid(cfg.pgdata);
  nlohmann::json j = {{"pgdata", cfg.pgdata},
                      {"pg_ctl", cfg.pg_ctl},
                      {"version", version},
                      {"version_num", version_num},
                      {"host", cfg.host},
                      {"port", cfg.port},
                      {"proxyport", 0},
                      {"pid", pid > 0 ? pid : 0},
                      {"listen_addresses", cfg.listen_addresses},
                      {"auth_method", cfg.auth_method},
                      {"hba_level", cfg.hba_level},
                      {"username", cfg.username},
                      {"dbname", cfg.dbname}};
  if (pid > 0) {
    auto clock = std::make_unique<agent::SystemClock>();
    auto runner = agent::make_process_runner();
    auto pg = agent::make_postgres_control(cfg, *clock, *runner);
    if (auto st = pg->status(); st && st->running) {
      j["is_in_recovery"] = st->in_recovery;
      j["control"] = {{"system_identifier", std::to_string(st->system_identifier)},
                      {"timeline", st->tli}};
    }
  }
  return j;
}

int update_node_metadata(const Options& o, const std::string& name, const std::string& hostname,
                         int port, const Globals& g, bool print) {
  auto paths = agent::paths_for(o.pgdata);
  if (!paths) return fail(paths.error());
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return fail(cfg.error());
  if (port < 0 || port > 65535) {
    return bad_args("invalid --pgport " + std::to_string(port), "use a port between 1 and 65535");
  }
  if (cfg->role == Role::Keeper) {
    auto st = agent::KeeperState::load(paths->state);
    if (!st) return fail(st.error());
    if (st->node_id < 0) {
      return fail(
          make_error(ErrorCode::BadState, "this node is not registered on the monitor yet",
                     "pg_autoctl run (or create postgres again) finishes its registration"));
    }
    if (agent::monitor_disabled(cfg->monitor)) return fail(monitor_disabled_error(cfg->pgdata));
    Settings s;
    auto m = agent::make_monitor_client(cfg->monitor, s);
    if (Status u = m->update_node_metadata(st->node_id, name, hostname, port); !u)
      return fail(u.error());
  }
  if (!name.empty()) cfg->name = name;
  if (!hostname.empty()) cfg->hostname = hostname;
  if (port > 0) cfg->port = port;
  if (Status s = cfg->save(paths->config); !s) return fail(s.error());
  if (print) {
    if (g.json) {
      std::cout << nlohmann::json{{"name", cfg->name},
                                  {"hostname", cfg->hostname},
                                  {"port", cfg->port}}
                       .dump(4)
                << std::endl;
    } else {
      std::cout << "name = " << cfg->name << "\nhostname = " << cfg->hostname
                << "\nport = " << cfg->port << std::endl;
    }
  } else {
    spdlog::info("node metadata: name \"{}\", hostname \"{}\", port {}", cfg->name, cfg->hostname,
                 cfg->port);
  }
  return 0;
}

void print_value(const Globals& g, const std::string& key, const nlohmann::json& v) {
  if (g.json) {
    std::cout << nlohmann::json{{key, v}}.dump(4) << std::endl;
  } else if (v.is_string()) {
    std::cout << v.get<std::string>() << std::endl;
  } else {
    std::cout << v.dump() << std::endl;
  }
}

}  // namespace detail
}  // namespace pgaf::cli
