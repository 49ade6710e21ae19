/*
 * cli.cpp — pg_autoctl commands. See cli.hpp for the invariants.
 *
 * Commands covered: create monitor, create postgres, run, stop, reload, status, show state,
 * show events, show uri, perform failover, perform switchover, drop node, and the debug tree
 * `do service postgres|node-active` used by the supervisor.
 */
#include "pgaf/cli/cli.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cctype>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "pgaf/agent/config.hpp"
#include "pgaf/agent/interfaces.hpp"
#include "pgaf/agent/keeper.hpp"
#include "pgaf/agent/postgres.hpp"
#include "pgaf/agent/service.hpp"
#include "pgaf/agent/tls.hpp"
#include "pgaf/cli/ops_options.hpp"
#include "pgaf/core/error.hpp"

namespace pgaf::cli {

namespace fs = std::filesystem;
using agent::Config;
using agent::Role;

namespace {

struct Globals {
  int verbose = 0;
  bool quiet = false;
  bool json = false;
  int verbosity() const { return quiet ? -1 : verbose; }
};

struct Options {
  std::string pgdata, pgctl, pghost, listen = "*", username, dbname = "postgres", name, hostname,
                                     formation = "default", monitor, auth, ssl_mode, ssl_ca,
                                     ssl_crl, server_cert, server_key, max_backup_rate = "100M";
  int pgport = 5432;
  bool skip_hba = false, pg_hba_lan = false, ssl_self_signed = false, no_ssl = false, run = false,
       disable_monitor = false;
  int candidate_priority = 50;
  std::string replication_quorum = "true";
  long node_id = -1;
  /* stop */
  bool fast = false, immediate = false;
  /* show / perform / drop */
  int group = 0;
  int count = 10;
  int wait_s = 60;
  bool destroy = false, force = false;
  /* config get / set */
  std::string config_key, config_value;
  /* enable maintenance */
  bool allow_failover = false;
  /* get / set */
  std::string set_value;
  /* create formation */
  std::string kind = "pgsql";
  bool enable_secondary = false, disable_secondary = false;
  int number_sync_standbys = 0;
  OpsOptions ops; /* --http-listen, hooks (ops_options.hpp) */
  /* show file */
  bool file_all = false, file_config = false, file_state = false, file_init = false,
       file_pid = false, file_contents = false;
};

int fail(const Error& e) {
  spdlog::error("{}", e.message);
  if (!e.detail.empty()) spdlog::error("DETAIL: {}", e.detail);
  if (!e.hint.empty()) spdlog::error("HINT: {}", e.hint);
  return exit_code(e.code);
}

int bad_args(const std::string& msg, const std::string& hint = {}) {
  return fail(make_error(ErrorCode::InvalidArgument, msg, hint));
}

/* Local address used to reach host:port (UDP connect sends no packet). */
std::string discover_hostname(const std::string& host, int port) {
  if (host.empty()) return "127.0.0.1";
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) {
    return "127.0.0.1";
  }
  std::string out = "127.0.0.1";
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
    sockaddr_in local{};
    socklen_t len = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      char buf[INET_ADDRSTRLEN];
      if (inet_ntop(AF_INET, &local.sin_addr, buf, sizeof buf)) out = buf;
    }
  }
  if (fd >= 0) ::close(fd);
  freeaddrinfo(res);
  return out;
}

Status check_ssl_choice(const Options& o) {
  bool certs = !o.server_cert.empty() || !o.server_key.empty() || !o.ssl_ca.empty();
  int n = (o.ssl_self_signed ? 1 : 0) + (o.no_ssl ? 1 : 0) + (certs ? 1 : 0);
  if (n == 0) {
    return make_error(ErrorCode::InvalidArgument, "explicit SSL choice is required",
                      "use --ssl-self-signed, or --no-ssl, or --ssl-ca-file, --server-cert and "
                      "--server-key");
  }
  if (n > 1) {
    return make_error(ErrorCode::InvalidArgument,
                      "--ssl-self-signed, --no-ssl and certificate files are mutually exclusive");
  }
  if (!o.ssl_mode.empty()) {
    if (Status m = agent::validate_sslmode(o.ssl_mode); !m) return m;
  }
  if (!o.ssl_crl.empty() && o.ssl_ca.empty()) {
    return make_error(ErrorCode::InvalidArgument, "--ssl-crl-file needs --ssl-ca-file",
                      "a certificate revocation list belongs to a certificate authority");
  }
  if (certs) {
    if (o.server_cert.empty() || o.server_key.empty()) {
      return make_error(ErrorCode::InvalidArgument,
                        "--server-cert and --server-key must be given together",
                        "with --ssl-ca-file when clients verify the server");
    }
    const std::pair<const char*, const std::string*> files[] = {{"--ssl-ca-file", &o.ssl_ca},
                                                                {"--ssl-crl-file", &o.ssl_crl},
                                                                {"--server-cert", &o.server_cert},
                                                                {"--server-key", &o.server_key}};
    for (const auto& [opt, path] : files) {
      if (path->empty()) continue;
      if (!fs::path(*path).is_absolute() || ::access(path->c_str(), R_OK) != 0) {
        return make_error(
            ErrorCode::InvalidArgument,
            std::string("cannot read the file given with ") + opt + ": \"" + *path + "\"",
            "give an absolute path to a readable file");
      }
    }
  }
  if (!o.ssl_mode.empty() && o.ssl_mode != "disable" && o.ssl_mode != "allow" &&
      o.ssl_mode != "prefer" && o.no_ssl) {
    return make_error(ErrorCode::InvalidArgument,
                      "--ssl-mode " + o.ssl_mode + " needs SSL, which --no-ssl turns off");
  }
  if ((o.ssl_mode == "verify-ca" || o.ssl_mode == "verify-full") && o.ssl_ca.empty()) {
    return make_error(ErrorCode::InvalidArgument,
                      "--ssl-mode " + o.ssl_mode + " needs --ssl-ca-file",
                      "clients verify the server against that certificate authority");
  }
  return Status::Ok();
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
  c.auth_method = o.auth.empty() ? "trust" : o.auth;
  c.hba_level = o.skip_hba ? "skip" : (o.pg_hba_lan ? "app" : "minimal");
  /* TLS (check_ssl_choice has validated the combination). Defaults as the reference:
   * self-signed → require; a CA → verify-full; otherwise require. */
  c.ssl_active = !o.no_ssl;
  if (o.no_ssl) {
    c.sslmode = o.ssl_mode.empty() ? "prefer" : o.ssl_mode;
  } else if (o.ssl_self_signed) {
    c.ssl_cert_file = c.pgdata + "/server.crt";
    c.ssl_key_file = c.pgdata + "/server.key";
    c.sslmode = o.ssl_mode.empty() ? "require" : o.ssl_mode;
  } else {
    c.ssl_ca_file = o.ssl_ca;
    c.ssl_crl_file = o.ssl_crl;
    c.ssl_cert_file = o.server_cert;
    c.ssl_key_file = o.server_key;
    c.sslmode = o.ssl_mode.empty() ? (o.ssl_ca.empty() ? "require" : "verify-full") : o.ssl_mode;
  }
  c.maximum_backup_rate = o.max_backup_rate;
  return c;
}

/* ---- monitor URI for monitor-querying commands ---- */
Result<std::string> resolve_monitor_uri(const Options& o) {
  if (!o.monitor.empty()) return o.monitor;
  if (o.pgdata.empty()) {
    return make_error(ErrorCode::InvalidArgument, "no monitor given",
                      "use --monitor (or PG_AUTOCTL_MONITOR), or --pgdata (or PGDATA)");
  }
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return cfg.error();
  if (cfg->role == Role::Keeper) return cfg->monitor;
  std::string h = cfg->host.empty() ? std::string("127.0.0.1") : cfg->host;
  return "host=" + h + " port=" + std::to_string(cfg->port) +
         " dbname=pg_auto_failover user=" + cfg->username;
}

Result<std::unique_ptr<agent::MonitorClient>> monitor_for(const Options& o) {
  auto uri = resolve_monitor_uri(o);
  if (!uri) return uri.error();
  Settings s;
  return agent::make_monitor_client(*uri, s);
}

/* ---- commands ---- */

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
}  // namespace

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

namespace {


int cmd_create_postgres(Options o, const Globals& g) {
  if (Status s = check_auth_choice(o); !s) return fail(s.error());
  if (Status s = check_ssl_choice(o); !s) return fail(s.error());
  if (o.disable_monitor) {
    return fail(make_error(ErrorCode::Unsupported, "--disable-monitor is not supported yet"));
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
    spdlog::info("node {} is already registered in \"{}\"", st->node_id, paths->config);
    if (o.run) return agent::run_supervisor(*existing, g.verbosity());
    return 0;
  }

  /* Existing PGDATA: a running primary registers as single; a stopped one as init. */
  NodeState initial = NodeState::Init;
  std::int64_t sysid = 0;
  if (fs::exists(cfg->pgdata) && !fs::is_directory(cfg->pgdata)) {
    return bad_args("PGDATA \"" + cfg->pgdata + "\" is not a directory");
  }
  if (agent::file_exists(cfg->pgdata + "/PG_VERSION")) {
    sysid = agent::read_system_identifier(*cfg);
    if (agent::running_postmaster_pid(cfg->pgdata) > 0) {
      if (agent::file_exists(cfg->pgdata + "/standby.signal")) {
        return fail(make_error(ErrorCode::BadState,
                               "PostgreSQL in \"" + cfg->pgdata + "\" is a running standby",
                               "stop it first, or create the node from an empty PGDATA"));
      }
      initial = NodeState::Single;
    }
  }

  Settings settings;
  auto monitor = agent::make_monitor_client(cfg->monitor, settings);
  agent::RegisterArgs ra;
  ra.formation = cfg->formation;
  ra.host = cfg->hostname;
  ra.port = cfg->port;
  ra.dbname = cfg->dbname;
  ra.name = cfg->name;
  ra.sysidentifier = sysid;
  ra.initial_state = initial;
  ra.candidate_priority = cfg->candidate_priority;
  ra.replication_quorum = cfg->replication_quorum;
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
  cfg->group = reg->group_id;
  cfg->name = reg->name;
  if (Status s = cfg->save(paths->config); !s) return fail(s.error());
  agent::KeeperState st;
  st.node_id = reg->node_id;
  st.group_id = reg->group_id;
  st.current_role = initial;
  st.assigned_role = reg->goal;
  st.system_identifier = sysid;
  if (Status s = st.save(paths->state); !s) return fail(s.error());
  spdlog::info("Registered node {} \"{}\" ({}:{}) in formation \"{}\", group {}, state \"{}\"",
               reg->node_id, reg->name, cfg->hostname, cfg->port, cfg->formation, reg->group_id,
               to_string(reg->goal));
  if (o.run) return agent::run_supervisor(*cfg, g.verbosity());
  return 0;
}

int cmd_run(const Options& o, const Globals& g) {
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return fail(cfg.error());
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

std::string connection_of(const agent::StateRow& r) {
  std::string c =
      can_take_writes_in_state(r.reported) ? "read-write"
      : (r.reported == NodeState::Secondary || r.reported == NodeState::Catchingup ||
         r.reported == NodeState::PreparePromotion || r.reported == NodeState::StopReplication ||
         r.reported == NodeState::ReportLsn || r.reported == NodeState::FastForward)
          ? "read-only"
          : "none";
  if (r.health == -1) c += " ?";
  if (r.health == 0) c += " !";
  return c;
}

int cmd_show_state(const Options& o, const Globals& g) {
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  auto rows = (*m)->current_state(o.formation);
  if (!rows) return fail(rows.error());
  if (g.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (auto& r : *rows) {
      arr.push_back({{"nodename", r.name},
                     {"nodehost", r.host},
                     {"nodeport", r.port},
                     {"group_id", r.group_id},
                     {"node_id", r.node_id},
                     {"current_group_state", std::string(to_string(r.reported))},
                     {"assigned_group_state", std::string(to_string(r.goal))},
                     {"candidate_priority", r.candidate_priority},
                     {"replication_quorum", r.replication_quorum},
                     {"reported_tli", r.tli},
                     {"reported_lsn", r.lsn},
                     {"health", r.health}});
    }
    std::cout << arr.dump(2) << std::endl;
    return 0;
  }
  std::printf("%8s | %4s | %21s | %17s | %12s | %19s | %19s\n", "Name", "Node", "Host:Port",
              "TLI: LSN", "Connection", "Reported State", "Assigned State");
  std::printf("%s\n", std::string(118, '-').c_str());
  for (auto& r : *rows) {
    std::string hp = r.host + ":" + std::to_string(r.port);
    std::string tl = std::to_string(r.tli) + ": " + r.lsn;
    std::printf("%8s | %4lld | %21s | %17s | %12s | %19s | %19s\n", r.name.c_str(),
                static_cast<long long>(r.node_id), hp.c_str(), tl.c_str(), connection_of(r).c_str(),
                std::string(to_string(r.reported)).c_str(), std::string(to_string(r.goal)).c_str());
  }
  return 0;
}

int cmd_show_events(const Options& o, const Globals& g) {
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  auto ev = (*m)->last_events(o.formation, o.count);
  if (!ev) return fail(ev.error());
  if (g.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (auto& e : *ev) {
      arr.push_back({{"eventtime", e.time},
                     {"nodeid", e.node_id},
                     {"nodename", e.node_name},
                     {"reportedstate", e.reported},
                     {"goalstate", e.goal},
                     {"description", e.description}});
    }
    std::cout << arr.dump(2) << std::endl;
    return 0;
  }
  for (auto& e : *ev) {
    std::cout << e.time << " | " << e.node_id << " | " << e.node_name << " | " << e.description
              << "\n";
  }
  return 0;
}

int cmd_show_uri(const Options& o, const Globals& g) {
  auto uri = resolve_monitor_uri(o);
  if (!uri) return fail(uri.error());
  /* with --pgdata: this node's TLS settings go into the formation URI, and a monitor shows the
   * URI the nodes use (not the local conninfo used to reach it) */
  std::string sslmode = "prefer", rootcert, crl;
  if (!o.pgdata.empty() && o.monitor.empty()) {
    if (auto cfg = agent::load_config_for(o.pgdata)) {
      if (cfg->ssl_active) {
        sslmode = cfg->sslmode;
        rootcert = cfg->ssl_ca_file;
        crl = cfg->ssl_crl_file;
      }
      if (cfg->role == Role::Monitor) uri = cfg->monitor_uri();
    }
  }
  std::optional<std::string> furi;
  if (o.formation != "monitor") {
    auto m = monitor_for(o);
    if (!m) return fail(m.error());
    auto f = (*m)->formation_uri(o.formation, sslmode, rootcert, crl);
    if (!f) return fail(f.error());
    furi = *f;
  }
  if (g.json) {
    nlohmann::json j = {{"monitor", *uri}};
    if (furi) j["formation"] = {{"name", o.formation}, {"uri", *furi}};
    std::cout << j.dump(2) << std::endl;
    return 0;
  }
  if (o.formation == "monitor") {
    std::cout << *uri << std::endl;
    return 0;
  }
  std::printf("%9s | %9s | %s\n", "Type", "Name", "Connection String");
  std::printf("   monitor |   monitor | %s\n", uri->c_str());
  std::printf(" formation | %9s | %s\n", o.formation.c_str(), furi ? furi->c_str() : "");
  return 0;
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

/* ---- enable / disable maintenance (reference: start_maintenance / stop_maintenance) ---- */

/* This node's id, its row in current_state, and a monitor client, from --pgdata. */
struct LocalNode {
  Config cfg;
  NodeId node_id = -1;
  std::unique_ptr<agent::MonitorClient> monitor;
};

Result<LocalNode> local_node(const Options& o) {
  auto paths = agent::paths_for(o.pgdata);
  if (!paths) return paths.error();
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return cfg.error();
  if (cfg->role != Role::Keeper) {
    return make_error(ErrorCode::InvalidArgument, "\"" + cfg->pgdata + "\" is a monitor",
                      "run this command with the --pgdata of a Postgres node");
  }
  auto st = agent::KeeperState::load(paths->state);
  if (!st) return st.error();
  LocalNode n;
  n.cfg = *cfg;
  n.node_id = st->node_id;
  Settings s;
  n.monitor = agent::make_monitor_client(cfg->monitor, s);
  return n;
}

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

/* ---- get / set node and formation properties, show standby-names ---- */

/* --name (or this node's name from --pgdata) and the formation to use. */
Result<std::pair<std::string, std::string>> target_node(const Options& o) {
  std::string name = o.name, formation = o.formation;
  if (name.empty() && !o.pgdata.empty()) {
    auto cfg = agent::load_config_for(o.pgdata);
    if (!cfg) return cfg.error();
    if (cfg->role == Role::Keeper) {
      name = cfg->name;
      if (formation == "default") formation = cfg->formation;
    }
  }
  if (name.empty()) {
    return make_error(ErrorCode::InvalidArgument, "no node given",
                      "use --name, or --pgdata of a Postgres node");
  }
  return std::make_pair(formation, name);
}

Result<agent::StateRow> find_row(agent::MonitorClient& m, const std::string& formation,
                                 const std::string& name) {
  auto rows = m.current_state(formation);
  if (!rows) return rows.error();
  for (auto& r : *rows)
    if (r.name == name) return r;
  return make_error(ErrorCode::BadState,
                    "node \"" + name + "\" is not registered in formation \"" + formation + "\"",
                    "see pg_autoctl show state");
}

/* After a settings change, wait until every node of `group` reports its goal and the group has
 * a converged primary (apply_settings done), bounded by --wait. */
int wait_group_settled(agent::MonitorClient& m, const std::string& formation, GroupId group,
                       int wait_s) {
  /* let the monitor assign apply_settings first */
  agent::SystemClock().sleep_ms(100);
  const bool settled = wait_for_rows(m, formation, group, wait_s, [&](const auto& rows) {
    bool all_at_goal = true, primary = false;
    int n = 0;
    for (auto& r : rows) {
      if (r.group_id != group) continue;
      ++n;
      if (r.reported != r.goal) all_at_goal = false;
      if (converged_primary(r)) primary = true;
    }
    return all_at_goal && (primary || n == 0);
  });
  if (settled) return 0;
  return fail(make_error(ErrorCode::Timeout,
                         "the group did not settle within " + std::to_string(wait_s) + " s",
                         "see pg_autoctl show state"));
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

int cmd_get_node(const Options& o, const Globals& g, const std::string& what) {
  auto t = target_node(o);
  if (!t) return fail(t.error());
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  auto row = find_row(**m, t->first, t->second);
  if (!row) return fail(row.error());
  if (what == "candidate-priority") {
    print_value(g, "candidate-priority", row->candidate_priority);
  } else {
    print_value(g, "replication-quorum", row->replication_quorum);
  }
  return 0;
}

int cmd_set_node(const Options& o, const Globals& g, const std::string& what) {
  auto t = target_node(o);
  if (!t) return fail(t.error());
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  auto row = find_row(**m, t->first, t->second);
  if (!row) return fail(row.error());
  Status s = Status::Ok();
  nlohmann::json shown;
  if (what == "candidate-priority") {
    char* end = nullptr;
    const long v = std::strtol(o.set_value.c_str(), &end, 10);
    if (o.set_value.empty() || *end != '\0' || v < 0 || v > 100) {
      return bad_args("invalid candidate priority \"" + o.set_value + "\"",
                      "use a value between 0 and 100");
    }
    s = (*m)->set_node_candidate_priority(t->first, t->second, static_cast<int>(v));
    shown = v;
  } else {
    const auto quorum = parse_bool_option(o.set_value);
    if (!quorum) {
      return bad_args("invalid replication quorum \"" + o.set_value + "\"",
                      "use true or false (also yes/no, on/off, 1/0, in any case)");
    }
    s = (*m)->set_node_replication_quorum(t->first, t->second, *quorum);
    shown = *quorum;
  }
  if (!s) return fail(s.error());
  /* keep the local configuration in step when the node is this one */
  if (!o.pgdata.empty()) {
    auto paths = agent::paths_for(o.pgdata);
    auto cfg = agent::load_config_for(o.pgdata);
    if (paths && cfg && cfg->role == Role::Keeper && cfg->name == t->second) {
      if (what == "candidate-priority")
        cfg->candidate_priority = shown.get<int>();
      else
        cfg->replication_quorum = shown.get<bool>();
      (void)cfg->save(paths->config);
    }
  }
  if (int rc = wait_group_settled(**m, t->first, row->group_id, o.wait_s); rc != 0) return rc;
  print_value(g, what, shown);
  return 0;
}

int cmd_get_nss(const Options& o, const Globals& g) {
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  auto n = (*m)->formation_number_sync_standbys(o.formation);
  if (!n) return fail(n.error());
  print_value(g, "number-sync-standbys", *n);
  return 0;
}

int cmd_set_nss(const Options& o, const Globals& g) {
  char* end = nullptr;
  const long v = std::strtol(o.set_value.c_str(), &end, 10);
  if (o.set_value.empty() || *end != '\0' || v < 0 || v > 100) {
    return bad_args("invalid number of sync standbys \"" + o.set_value + "\"",
                    "use a non-negative integer");
  }
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  if (Status s = (*m)->set_formation_number_sync_standbys(o.formation, static_cast<int>(v)); !s)
    return fail(s.error());
  if (int rc = wait_group_settled(**m, o.formation, 0, o.wait_s); rc != 0) return rc;
  print_value(g, "number-sync-standbys", v);
  return 0;
}

int cmd_show_standby_names(const Options& o, const Globals& g) {
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  auto names = (*m)->synchronous_standby_names(o.formation, o.group);
  if (!names) return fail(names.error());
  if (g.json) {
    print_value(g, "synchronous_standby_names", *names);
  } else {
    std::cout << "'" << *names << "'" << std::endl;
  }
  return 0;
}

/* ---- formations, promotion ---- */

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

int cmd_drop_formation(const Options& o) {
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  if (Status s = (*m)->drop_formation(o.formation); !s) return fail(s.error());
  spdlog::info("dropped formation \"{}\"", o.formation);
  return 0;
}

int cmd_formation_secondary(const Options& o, bool enabled) {
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  if (Status s = (*m)->set_formation_secondary(o.formation, enabled); !s) return fail(s.error());
  spdlog::info("{} secondaries for formation \"{}\"", enabled ? "enabled" : "disabled",
               o.formation);
  return 0;
}

int cmd_perform_promotion(const Options& o) {
  auto t = target_node(o);
  if (!t) return fail(t.error());
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  auto row = find_row(**m, t->first, t->second);
  if (!row) return fail(row.error());
  if (can_take_writes_in_state(row->goal) && row->reported == row->goal) {
    spdlog::info("node \"{}\" is already the primary", t->second);
    return 0;
  }
  if (auto asked = (*m)->perform_promotion(t->first, t->second); !asked) return fail(asked.error());
  const bool promoted =
      wait_for_rows(**m, t->first, row->group_id, o.wait_s, [&](const auto& rows) {
        for (auto& r : rows) {
          if (r.name == t->second && converged_primary(r)) {
            spdlog::info("node \"{}\" is now the primary, in state \"{}\"", t->second,
                         to_string(r.goal));
            return true;
          }
        }
        return false;
      });
  if (promoted) return 0;
  return fail(make_error(
      ErrorCode::Timeout,
      "node \"" + t->second + "\" did not become primary within " + std::to_string(o.wait_s) + " s",
      "see pg_autoctl show state"));
}

/* ---- show settings | file | systemd ---- */

int cmd_show_settings(const Options& o, const Globals& g) {
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  auto nss = (*m)->formation_number_sync_standbys(o.formation);
  if (!nss) return fail(nss.error());
  auto rows = (*m)->current_state(o.formation);
  if (!rows) return fail(rows.error());
  struct Line {
    std::string context, name, setting, value;
  };
  std::vector<Line> lines = {
      {"formation", o.formation, "number_sync_standbys", std::to_string(*nss)}};
  std::set<GroupId> groups;
  for (auto& r : *rows) groups.insert(r.group_id);
  for (GroupId grp : groups) {
    std::string primary_name;
    for (auto& r : *rows)
      if (r.group_id == grp && can_take_writes_in_state(r.goal)) primary_name = r.name;
    if (primary_name.empty()) continue;
    auto names = (*m)->synchronous_standby_names(o.formation, grp);
    if (!names) return fail(names.error());
    lines.push_back({"primary", primary_name, "synchronous_standby_names", "'" + *names + "'"});
  }
  for (auto& r : *rows) {
    lines.push_back({"node", r.name, "candidate priority", std::to_string(r.candidate_priority)});
    lines.push_back(
        {"node", r.name, "replication quorum", r.replication_quorum ? "true" : "false"});
  }
  if (g.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (auto& l : lines)
      arr.push_back(
          {{"context", l.context}, {"node", l.name}, {"setting", l.setting}, {"value", l.value}});
    std::cout << arr.dump(4) << std::endl;
    return 0;
  }
  std::printf("%9s | %8s | %26s | %s\n", "Context", "Name", "Setting", "Value");
  std::printf("%s\n", std::string(78, '-').c_str());
  for (auto& l : lines)
    std::printf("%9s | %8s | %26s | %s\n", l.context.c_str(), l.name.c_str(), l.setting.c_str(),
                l.value.c_str());
  return 0;
}

int cmd_show_file(const Options& o, const Globals& g) {
  auto paths = agent::paths_for(o.pgdata);
  if (!paths) return fail(paths.error());
  const std::vector<std::pair<std::string, std::string>> all = {{"Config", paths->config},
                                                                {"State", paths->state},
                                                                {"Init", paths->init},
                                                                {"Pid", paths->pid},
                                                                {"Log", paths->log}};
  const int chosen = (o.file_config ? 1 : 0) + (o.file_state ? 1 : 0) + (o.file_init ? 1 : 0) +
                     (o.file_pid ? 1 : 0);
  if (chosen > 1) return bad_args("choose one of --config, --state, --init, --pid");
  if (chosen == 0 || o.file_all) {
    if (o.file_contents)
      return bad_args("--contents needs one of --config, --state, --init, --pid");
    if (g.json) {
      nlohmann::json j = nlohmann::json::object();
      for (auto& [k, v] : all) j[k] = v;
      std::cout << j.dump(4) << std::endl;
    } else {
      std::printf("%7s | %s\n", "File", "Path");
      std::printf("%s\n", std::string(40, '-').c_str());
      for (auto& [k, v] : all) std::printf("%7s | %s\n", k.c_str(), v.c_str());
    }
    return 0;
  }
  const std::string& path = o.file_config  ? paths->config
                            : o.file_state ? paths->state
                            : o.file_init  ? paths->init
                                           : paths->pid;
  if (!o.file_contents) {
    std::cout << path << std::endl;
    return 0;
  }
  auto text = agent::read_file(path);
  if (!text) return fail(text.error());
  std::cout << *text;
  if (!text->empty() && text->back() != '\n') std::cout << std::endl;
  return 0;
}

int cmd_show_systemd(const Options& o) {
  auto pg = agent::absolute_pgdata(o.pgdata);
  if (!pg) return fail(pg.error());
  std::error_code ec;
  std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  if (ec || self.empty()) self = "/usr/bin/pg_autoctl";
  const char* home = std::getenv("HOME");
  std::cout << systemd_unit(self, *pg, agent::current_user_name(),
                            home ? home : "/var/lib/postgresql");
  return 0;
}

/* ---- config get / set (reference: pg_autoctl config get|set section.option [value]) ---- */

Result<std::pair<std::string, std::string>> split_config_key(const std::string& key) {
  const auto dot = key.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == key.size()) {
    return make_error(ErrorCode::InvalidArgument, "invalid configuration key \"" + key + "\"",
                      "keys are section.option, e.g. pgaf.lease_ms or postgresql.port");
  }
  return std::make_pair(key.substr(0, dot), key.substr(dot + 1));
}

int cmd_config_get(const Options& o, const Globals& g) {
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return fail(cfg.error());
  const agent::Ini ini = cfg->to_ini();
  if (o.config_key.empty()) {
    if (g.json) {
      nlohmann::json j = nlohmann::json::object();
      for (const auto& [section, kvs] : ini.sections())
        for (const auto& [k, v] : kvs) j[section][k] = v;
      std::cout << j.dump(4) << std::endl;
    } else {
      std::cout << ini.serialize();
    }
    return 0;
  }
  auto key = split_config_key(o.config_key);
  if (!key) return fail(key.error());
  const std::string* v = ini.get(key->first, key->second);
  if (v == nullptr) {
    return fail(make_error(ErrorCode::BadConfig,
                           "unknown configuration key \"" + o.config_key + "\"",
                           "pg_autoctl config get lists every key"));
  }
  std::cout << *v << std::endl;
  return 0;
}

/* Set one key: the whole configuration is re-validated before anything is written, so a bad
 * value is refused naming the key and the file stays as it was. A running service is told to
 * reload (SIGHUP); a monitor's managed Postgres configuration (pgautofailover.* GUCs) is
 * rewritten from the [pgaf] settings. */
int cmd_config_set(const Options& o, const Globals& g) {
  auto paths = agent::paths_for(o.pgdata);
  if (!paths) return fail(paths.error());
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return fail(cfg.error());
  auto key = split_config_key(o.config_key);
  if (!key) return fail(key.error());
  if (o.config_key == "pg_autoctl.role" || o.config_key == "postgresql.pgdata") {
    return fail(make_error(ErrorCode::InvalidArgument,
                           "configuration key \"" + o.config_key + "\" cannot be changed",
                           "create the node again instead"));
  }
  agent::Ini ini = cfg->to_ini();
  if (ini.get(key->first, key->second) == nullptr) {
    return fail(make_error(ErrorCode::BadConfig,
                           "unknown configuration key \"" + o.config_key + "\"",
                           "pg_autoctl config get lists every key"));
  }
  ini.set(key->first, key->second, o.config_value);
  auto updated = Config::from_ini(ini, paths->config);
  if (!updated) {
    Error e = updated.error();
    e.code = ErrorCode::BadConfig;
    e.message = "invalid value \"" + o.config_value + "\" for " + o.config_key + ": " + e.message;
    return fail(e);
  }
  if (Status s = check_ops_config(*updated, *cfg); !s) return fail(s.error());
  if (Status s = updated->save(paths->config); !s) return fail(s.error());
  if (updated->role == Role::Monitor && agent::file_exists(updated->pgdata + "/PG_VERSION")) {
    if (Status s = agent::write_managed_config_files(*updated); !s) return fail(s.error());
  }
  const std::string* v = updated->to_ini().get(key->first, key->second);
  if (g.json) {
    std::cout << nlohmann::json{{o.config_key, v ? *v : o.config_value}}.dump(4) << std::endl;
  } else {
    std::cout << (v ? *v : o.config_value) << std::endl;
  }
  long pid = agent::read_supervisor_pid(paths->pid);
  if (pid > 0 && agent::process_alive(pid)) (void)::kill(static_cast<pid_t>(pid), SIGHUP);
  return 0;
}

int cmd_do_service(const std::string& which, const Options& o, const Globals& g) {
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return fail(cfg.error());
  auto paths = agent::paths_for(cfg->pgdata);
  if (!paths) return fail(paths.error());
  agent::setup_logging(g.verbosity(), paths->log);
  if (which == "postgres") return agent::run_postgres_controller(*cfg);
  return agent::run_node_active(*cfg);
}

void add_pgdata(CLI::App* c, Options& o) {
  c->add_option("--pgdata", o.pgdata, "path to data directory")->envname("PGDATA");
}

}  // namespace

int run_cli(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return run_cli(static_cast<int>(argv.size()), argv.data());
}

namespace {

/* The whole command tree; each command's callback records its name in `action`. */
void build_command_tree(CLI::App& app, Options& o, Globals& g, std::string& action) {
  const bool debug = std::getenv("PG_AUTOCTL_DEBUG") != nullptr;
  app.require_subcommand(1);
  app.fallthrough();
  app.add_flag("-v,--verbose", g.verbose, "increase verbosity (-v, -vv)");
  app.add_flag("-q,--quiet", g.quiet, "only log warnings and errors");
  app.add_flag("-J,--json", g.json, "output JSON");
  app.set_version_flag("-V,--version",
                       "pg_autoctl (pgaf) 0.1.0, compatible with pg_auto_failover 2.2");

  /* create */
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
  cmon->add_flag("--ssl-self-signed", o.ssl_self_signed,
                 "setup network encryption using self signed certificates");
  cmon->add_flag("--no-ssl", o.no_ssl, "don't enable network encryption (NOT recommended)");
  cmon->add_option("--ssl-ca-file", o.ssl_ca, "set the Postgres ssl_ca_file");
  cmon->add_option("--ssl-crl-file", o.ssl_crl, "set the Postgres ssl_crl_file");
  cmon->add_option("--server-cert", o.server_cert, "set the Postgres ssl_cert_file");
  cmon->add_option("--server-key", o.server_key, "set the Postgres ssl_key_file");
  cmon->add_option("--ssl-mode", o.ssl_mode, "use that sslmode in connection strings");
  add_ops_options(cmon, o.ops, false);
  cmon->callback([&] { action = "create monitor"; });

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
  cpg->add_flag("--pg-hba-lan", o.pg_hba_lan,
                "edit pg_hba.conf rules for --dbname in detected LAN");
  cpg->add_flag("--ssl-self-signed", o.ssl_self_signed,
                "setup network encryption using self signed certificates")
      ->envname("PG_AUTOCTL_SSL_SELF_SIGNED");
  cpg->add_flag("--no-ssl", o.no_ssl, "don't enable network encryption (NOT recommended)");
  cpg->add_option("--ssl-ca-file", o.ssl_ca, "set the Postgres ssl_ca_file");
  cpg->add_option("--ssl-crl-file", o.ssl_crl, "set the Postgres ssl_crl_file");
  cpg->add_option("--server-cert", o.server_cert, "set the Postgres ssl_cert_file");
  cpg->add_option("--server-key", o.server_key, "set the Postgres ssl_key_file");
  cpg->add_option("--ssl-mode", o.ssl_mode, "use that sslmode in connection strings");
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
  cpg->callback([&] { action = "create postgres"; });

  auto* run = app.add_subcommand("run", "run the pg_autoctl service (monitor or keeper)");
  add_pgdata(run, o);
  run->add_option("--name", o.name, "pg_auto_failover node name");
  run->add_option("--hostname", o.hostname, "hostname used to connect from other nodes");
  run->add_option("--pgport", o.pgport, "PostgreSQL's port number");
  add_ops_options(run, o.ops, false);
  run->callback([&] { action = "run"; });

  auto* stop = app.add_subcommand("stop", "signal the pg_autoctl service for it to stop");
  add_pgdata(stop, o);
  auto* fast = stop->add_flag("--fast", o.fast, "fast shutdown mode for the keeper");
  stop->add_flag("--immediate", o.immediate, "immediate shutdown mode for the keeper")
      ->excludes(fast);
  stop->callback([&] { action = "stop"; });

  auto* reload =
      app.add_subcommand("reload", "signal the pg_autoctl for it to reload its configuration");
  add_pgdata(reload, o);
  reload->callback([&] { action = "reload"; });

  auto* status =
      app.add_subcommand("status", "display the current status of the pg_autoctl service");
  add_pgdata(status, o);
  status->add_flag("--json", g.json, "output data in the JSON format");
  status->callback([&] { action = "status"; });

  auto* show = app.add_subcommand("show", "show pg_auto_failover information");
  show->require_subcommand(1);
  auto add_monitor_opts = [&](CLI::App* c) {
    add_pgdata(c, o);
    c->add_option("--monitor", o.monitor, "monitor uri")->envname("PG_AUTOCTL_MONITOR");
    c->add_option("--formation", o.formation, "formation to query, defaults to 'default'");
    c->add_flag("--json", g.json, "output data in the JSON format");
  };
  auto* sstate = show->add_subcommand("state", "print replication state for nodes");
  add_monitor_opts(sstate);
  sstate->add_option("--group", o.group, "group to query formation state");
  sstate->callback([&] { action = "show state"; });
  auto* sevents = show->add_subcommand(
      "events", "prints monitor's state of nodes in a given formation and group");
  add_monitor_opts(sevents);
  sevents->add_option("--group", o.group, "group to query");
  sevents->add_option("--count", o.count, "how many events to fetch, defaults to 10");
  sevents->callback([&] { action = "show events"; });
  auto* suri = show->add_subcommand(
      "uri", "show the postgres uri to use to connect to pg_auto_failover nodes");
  add_monitor_opts(suri);
  suri->callback([&] { action = "show uri"; });

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
    std::string w = which;
    p->callback([&action, w] { action = "perform " + w; });
  }

  auto* cform = create->add_subcommand("formation", "create a new formation on the monitor");
  add_monitor_opts(cform);
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
  cform->callback([&] { action = "create formation"; });
  auto* pprom =
      perform->add_subcommand("promotion", "perform a failover that promotes a target node");
  add_pgdata(pprom, o);
  pprom->add_option("--monitor", o.monitor, "monitor uri")->envname("PG_AUTOCTL_MONITOR");
  pprom->add_option("--formation", o.formation, "formation to target, defaults to 'default'");
  pprom->add_option("--name", o.name, "node name to target, defaults to current node");
  pprom->add_option("--wait", o.wait_s, "how many seconds to wait, default to 60");
  pprom->callback([&] { action = "perform promotion"; });

  auto* enable = app.add_subcommand("enable", "enable a feature on a formation");
  enable->require_subcommand(1);
  auto* disable = app.add_subcommand("disable", "disable a feature on a formation");
  disable->require_subcommand(1);
  for (CLI::App* parent : {enable, disable}) {
    const bool on = parent == enable;
    auto* m = parent->add_subcommand("maintenance",
                                     on ? "enable Postgres maintenance mode on this node"
                                        : "disable Postgres maintenance mode on this node");
    add_pgdata(m, o);
    if (on) m->add_flag("--allow-failover", o.allow_failover, "allow failover");
    m->add_option("--wait", o.wait_s, "how many seconds to wait, default to 60");
    m->callback([&action, on] { action = on ? "enable maintenance" : "disable maintenance"; });
    auto* sec = parent->add_subcommand("secondary", on ? "enable secondary nodes on a formation"
                                                       : "disable secondary nodes on a formation");
    add_monitor_opts(sec);
    sec->callback([&action, on] { action = on ? "enable secondary" : "disable secondary"; });
  }

  /* get / set node candidate-priority | replication-quorum; formation number-sync-standbys */
  auto* get = app.add_subcommand("get", "get a pg_auto_failover node, or formation setting");
  get->require_subcommand(1);
  auto* set = app.add_subcommand("set", "set a pg_auto_failover node, or formation setting");
  set->require_subcommand(1);
  for (CLI::App* parent : {get, set}) {
    const bool setting = parent == set;
    auto* node = parent->add_subcommand("node", "a pg_auto_failover node setting");
    node->require_subcommand(1);
    for (const char* what : {"candidate-priority", "replication-quorum"}) {
      auto* c =
          node->add_subcommand(what, std::string(setting ? "set" : "get") + " the node " + what);
      add_monitor_opts(c);
      c->add_option("--name", o.name, "the node name (default: this node, from --pgdata)");
      if (setting) {
        c->add_option("--wait", o.wait_s, "how many seconds to wait, default to 60");
        c->add_option("value", o.set_value, "the new value")->required();
      }
      const std::string a = std::string(setting ? "set node " : "get node ") + what;
      c->callback([&action, a] { action = a; });
    }
    auto* form = parent->add_subcommand("formation", "a pg_auto_failover formation setting");
    form->require_subcommand(1);
    auto* nss =
        form->add_subcommand("number-sync-standbys", std::string(setting ? "set" : "get") +
                                                         " number_sync_standbys for the formation");
    add_monitor_opts(nss);
    if (setting) {
      nss->add_option("--wait", o.wait_s, "how many seconds to wait, default to 60");
      nss->add_option("value", o.set_value, "the new value")->required();
    }
    const std::string a = setting ? "set formation nss" : "get formation nss";
    nss->callback([&action, a] { action = a; });
  }
  auto* ssettings = show->add_subcommand("settings", "print replication settings for a formation");
  add_monitor_opts(ssettings);
  ssettings->callback([&] { action = "show settings"; });
  auto* sfile = show->add_subcommand("file", "list pg_autoctl internal files (config, state, pid)");
  add_pgdata(sfile, o);
  sfile->add_flag("--all", o.file_all, "show all pg_autoctl files");
  sfile->add_flag("--config", o.file_config, "show pg_autoctl configuration file");
  sfile->add_flag("--state", o.file_state, "show pg_autoctl state file");
  sfile->add_flag("--init", o.file_init, "show pg_autoctl initialisation state file");
  sfile->add_flag("--pid", o.file_pid, "show pg_autoctl PID file");
  sfile->add_flag("--contents", o.file_contents, "show selected file contents");
  sfile->add_flag("--json", g.json, "output data in the JSON format");
  sfile->callback([&] { action = "show file"; });
  auto* ssystemd = show->add_subcommand("systemd", "print systemd service file for this node");
  add_pgdata(ssystemd, o);
  ssystemd->callback([&] { action = "show systemd"; });
  auto* sstandby =
      show->add_subcommand("standby-names", "prints synchronous_standby_names for a given group");
  add_monitor_opts(sstandby);
  sstandby->add_option("--group", o.group, "group to query");
  sstandby->callback([&] { action = "show standby-names"; });

  auto* config = app.add_subcommand("config", "manages the pg_autoctl configuration");
  config->require_subcommand(1);
  auto* cget = config->add_subcommand("get",
                                      "get the value of a given pg_autoctl configuration "
                                      "variable");
  add_pgdata(cget, o);
  cget->add_flag("--json", g.json, "output data in the JSON format");
  cget->add_option("key", o.config_key, "section.option (all of them when omitted)");
  cget->callback([&] { action = "config get"; });
  auto* cset = config->add_subcommand("set",
                                      "set the value of a given pg_autoctl configuration "
                                      "variable");
  add_pgdata(cset, o);
  cset->add_flag("--json", g.json, "output data in the JSON format");
  cset->add_option("key", o.config_key, "section.option")->required();
  cset->add_option("value", o.config_value, "the new value")->required();
  cset->callback([&] { action = "config set"; });

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
  dnode->callback([&] { action = "drop node"; });
  auto* dform =
      drop->add_subcommand("formation", "drop a formation on the pg_auto_failover monitor");
  add_monitor_opts(dform);
  dform->callback([&] { action = "drop formation"; });
  auto* dmon = drop->add_subcommand("monitor", "drop the pg_auto_failover monitor");
  add_pgdata(dmon, o);
  dmon->add_flag("--destroy", o.destroy, "also destroy the monitor's Postgres database");
  dmon->callback([&] { action = "drop monitor"; });

  if (debug) {
    auto* d = app.add_subcommand("do", "internal commands and testing/QA tools");
    d->require_subcommand(1);
    auto* svc = d->add_subcommand("service", "run individual services");
    svc->require_subcommand(1);
    for (const char* which : {"postgres", "node-active"}) {
      auto* s = svc->add_subcommand(which, std::string("run the ") + which + " service");
      add_pgdata(s, o);
      std::string w = which;
      s->callback([&action, w] { action = "do service " + w; });
    }
  }
}

}  // namespace

ParsedCommand parse_cli(int argc, const char* const* argv) {
  Globals g;
  Options o;
  std::string action;
  CLI::App app{"pg_autoctl: PostgreSQL high availability (pgaf)", "pg_autoctl"};
  build_command_tree(app, o, g, action);
  ParsedCommand p;
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) { /* --help, --help-all, --version */
    p.help = true;
    p.exit_code = e.get_exit_code();
    return p;
  } catch (const CLI::ParseError& e) {
    p.exit_code = exit_code(ErrorCode::InvalidArgument);
    p.error = e.what();
    return p;
  }
  p.ok = true;
  p.action = action;
  return p;
}

int run_cli(int argc, const char* const* argv) {
  Globals g;
  Options o;
  std::string action;
  CLI::App app{"pg_autoctl: PostgreSQL high availability (pgaf)", "pg_autoctl"};
  build_command_tree(app, o, g, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "pg_autoctl: " << e.what() << "\n"
              << "HINT: see pg_autoctl --help" << std::endl;
    return exit_code(ErrorCode::InvalidArgument);
  }

  if (action.rfind("do service", 0) != 0) agent::setup_logging(g.verbosity());

  if (action == "create monitor") return cmd_create_monitor(o, g);
  if (action == "create postgres") return cmd_create_postgres(o, g);
  if (action == "run") return cmd_run(o, g);
  if (action == "stop")
    return send_signal(o, o.immediate ? SIGQUIT : (o.fast ? SIGINT : SIGTERM), true);
  if (action == "reload") return send_signal(o, SIGHUP, false);
  if (action == "status") return cmd_status(o, g);
  if (action == "show state") return cmd_show_state(o, g);
  if (action == "show events") return cmd_show_events(o, g);
  if (action == "show uri") return cmd_show_uri(o, g);
  if (action == "perform failover") return cmd_perform_failover(o, g, false);
  if (action == "perform switchover") return cmd_perform_failover(o, g, true);
  if (action == "drop node") return cmd_drop_node(o, g);
  if (action == "config get") return cmd_config_get(o, g);
  if (action == "get node candidate-priority") return cmd_get_node(o, g, "candidate-priority");
  if (action == "get node replication-quorum") return cmd_get_node(o, g, "replication-quorum");
  if (action == "set node candidate-priority") return cmd_set_node(o, g, "candidate-priority");
  if (action == "set node replication-quorum") return cmd_set_node(o, g, "replication-quorum");
  if (action == "get formation nss") return cmd_get_nss(o, g);
  if (action == "set formation nss") return cmd_set_nss(o, g);
  if (action == "show standby-names") return cmd_show_standby_names(o, g);
  if (action == "show settings") return cmd_show_settings(o, g);
  if (action == "create formation") return cmd_create_formation(o, g);
  if (action == "drop formation") return cmd_drop_formation(o);
  if (action == "drop monitor") return cmd_drop_monitor(o);
  if (action == "enable secondary") return cmd_formation_secondary(o, true);
  if (action == "disable secondary") return cmd_formation_secondary(o, false);
  if (action == "perform promotion") return cmd_perform_promotion(o);
  if (action == "show file") return cmd_show_file(o, g);
  if (action == "show systemd") return cmd_show_systemd(o);
  if (action == "enable maintenance") return cmd_enable_maintenance(o);
  if (action == "disable maintenance") return cmd_disable_maintenance(o);
  if (action == "config set") return cmd_config_set(o, g);
  if (action == "do service postgres") return cmd_do_service("postgres", o, g);
  if (action == "do service node-active") return cmd_do_service("node-active", o, g);
  return bad_args("no command given", "see pg_autoctl --help");
}

}  // namespace pgaf::cli
