/*
 * cli_internal.hpp — what the pg_autoctl command groups share: the parsed options, the context
 * each CLI11 callback runs its command in, and the helpers several groups use (errors, monitor
 * connection, bounded waits on the monitor's state).
 *
 * The tree is split the way pg_auto_failover splits its CLI: one file per command group
 * (cli_create, cli_service, cli_show, cli_get_set, cli_perform, cli_enable_disable, cli_drop,
 * cli_config, cli_do); cli.cpp wires them. Each group's add_*_commands() declares its commands and
 * binds each one's callback to its command function through Context::command.
 *
 * Invariants:
 *  - a command function returns the process exit code and reports failures through fail();
 *  - when Context::parse_only is set (parse_cli), callbacks record the action and run nothing.
 */
#pragma once

#include <CLI/CLI.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "pgaf/agent/config.hpp"
#include "pgaf/agent/interfaces.hpp"
#include "pgaf/cli/ops_options.hpp"
#include "pgaf/core/error.hpp"

namespace pgaf::cli::detail {

/* What `pg_autoctl version` reports: the reference release we are compatible with, and ours. */
inline constexpr const char* kPgAutoctlVersion = "2.2";
inline constexpr const char* kExtensionVersion = "2.2";
inline constexpr const char* kPgafVersion = "0.1.0";

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
  int events_group = -1; /* show events --group: -1 = every group, as the reference */
  int count = 10;
  bool local = false, watch = false; /* show state --local; show state|events --watch */
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

/* What one parse of the command line needs: the options the tree writes into, and what the chosen
 * command's callback did. */
struct Context {
  Options o;
  Globals g;
  bool parse_only = false; /* parse_cli: record the action, run nothing */
  std::string action;      /* e.g. "create postgres" once its callback ran */
  int exit_code = 0;       /* the command's exit code once it ran */
  bool ran = false;
  std::deque<std::string> positionals; /* storage of commands' positional arguments (stable) */

  /* Bind c's callback to run `fn` as the command named `name`. */
  void command(CLI::App* c, std::string name, std::function<int()> fn);
};

/* ---- errors ---- */
int fail(const Error& e);
int bad_args(const std::string& msg, const std::string& hint = {});

/* ---- options shared by groups ---- */
void add_pgdata(CLI::App* c, Options& o);
/* The reference's SSL options (create monitor|postgres, enable ssl): --ssl-self-signed, --no-ssl,
 * --ssl-ca-file, --ssl-crl-file, --server-cert, --server-key, --ssl-mode. Returns the
 * --ssl-self-signed flag (create postgres also reads it from the environment). */
CLI::Option* add_ssl_options(CLI::App* c, Options& o);
void add_monitor_opts(CLI::App* c, Context& ctx); /* --pgdata --monitor --formation --json */

/* ---- the monitor ---- */
/* "the monitor is disabled for the node at …" (disable monitor), with the enable monitor hint. */
Error monitor_disabled_error(const std::string& pgdata);
Result<std::string> resolve_monitor_uri(const Options& o);
/* The host a command on the monitor's own PGDATA connects to (PGHOST, socket dir or loopback). */
std::string monitor_local_host(const agent::Config& cfg);
Result<std::unique_ptr<agent::MonitorClient>> monitor_for(const Options& o);

/* A node that is a primary for good: its goal is a primary state and it reports it. */
bool converged_primary(const agent::StateRow& r);

/* Poll current_state — woken early by the monitor's NOTIFY on `state` — until done(rows) holds;
 * at most wait_s seconds. True when it held. The one wait loop of the CLI's commands. */
bool wait_for_rows(agent::MonitorClient& m, const std::string& formation, GroupId group, int wait_s,
                   const std::function<bool(const std::vector<agent::StateRow>&)>& done);

/* This node's configuration, id and a monitor client, from --pgdata (a Postgres node). */
struct LocalNode {
  agent::Config cfg;
  NodeId node_id = -1;
  std::unique_ptr<agent::MonitorClient> monitor;
};
Result<LocalNode> local_node(const Options& o);

/* The node a get/set/perform command is about: --name (or this node's name from --pgdata), its
 * formation, the monitor to ask, and the node's row there. */
struct TargetNode {
  std::string formation, name;
  std::unique_ptr<agent::MonitorClient> monitor;
  agent::StateRow row;
};
Result<TargetNode> locate_node(const Options& o);

/* ---- the local Postgres ---- */
/* "pg_ctl (PostgreSQL) 15.4" → {"15.4", 150004}; {"", 0} when pg_ctl cannot tell. */
std::pair<std::string, long> postgres_version(const std::string& pg_ctl);
/* pg_ctl must be an executable that reports a PostgreSQL version (the reference refuses others). */
Status check_pg_ctl(const std::string& pg_ctl);
/* What the reference's pgsetup reports about the local Postgres (config check, do pgsetup). */
nlohmann::json pgsetup_json(const agent::Config& cfg);

/* Update this node's name, hostname and port on the monitor and in its configuration ('' / 0:
 * unchanged): `set node metadata` and `run --name --hostname --pgport`. */
int update_node_metadata(const Options& o, const std::string& name, const std::string& hostname,
                         int port, const Globals& g, bool print);

/* Register this node (files written by create postgres, state node id -1) with the monitor; on
 * success the configuration and state hold the assignment and pg_autoctl.init is removed. Used
 * by create postgres and by run after an interrupted create. */
int register_local_node(agent::Config& cfg, const agent::Paths& paths);

/* One value, as text or as {"key": value} with --json. */
void print_value(const Globals& g, const std::string& key, const nlohmann::json& v);

/* ---- TLS (cli_ssl.cpp) ---- */
/* The explicit SSL choice of create and enable ssl: exit 1 naming the option when wrong. */
Status check_ssl_choice(const Options& o);
/* The [ssl] keys for that (validated) choice; every key set, nothing left from a previous one. */
void apply_ssl_choice(agent::Config& c, const Options& o);
/* `enable ssl` / `disable ssl` under `parent` (enable or disable). */
void add_ssl_command(CLI::App* parent, bool enable, Context& ctx);

/* ---- the command groups (one file each) ---- */
void add_root_commands(CLI::App& app, Context& ctx);       /* cli_root.cpp: version, help */
int cmd_show_settings(const Options& o, const Globals& g); /* cli_show.cpp */
/* `pg_autoctl help`: the tree as the parser sees it ("+" a group, "-" a command). */
void print_command_tree(const CLI::App& root, std::ostream& out);
void add_create_commands(CLI::App& app, Context& ctx);         /* cli_create.cpp */
void add_service_commands(CLI::App& app, Context& ctx);        /* cli_service.cpp */
void add_show_commands(CLI::App& app, Context& ctx);           /* cli_show.cpp */
void add_perform_commands(CLI::App& app, Context& ctx);        /* cli_perform.cpp */
void add_enable_disable_commands(CLI::App& app, Context& ctx); /* cli_enable_disable.cpp */
/* enable|disable monitor (cli_monitor_swap.cpp) */
void add_monitor_swap_commands(CLI::App* enable, CLI::App* disable, Context& ctx);
void add_get_set_commands(CLI::App& app, Context& ctx); /* cli_get_set.cpp */
void add_config_commands(CLI::App& app, Context& ctx);  /* cli_config.cpp */
void add_drop_commands(CLI::App& app, Context& ctx);    /* cli_drop.cpp */
void add_do_commands(CLI::App& app, Context& ctx);      /* cli_do.cpp */
void add_watch_commands(CLI::App& app, Context& ctx);   /* cli_watch.cpp */

/* ---- show state | events, shared with watch (cli_show.cpp) ---- */
/* A row of show state --json (the reference's keys). */
nlohmann::json state_row_json(const agent::StateRow& r);
/* The show state table (header, rule, one line per row). */
std::string state_table(const std::vector<agent::StateRow>& rows);
/* What show state / show events print (text or --json), from one monitor call. */
Result<std::string> show_state_output(agent::MonitorClient& m, const Options& o, const Globals& g);
Result<std::string> show_events_output(agent::MonitorClient& m, const Options& o, const Globals& g);

/* ---- watch (cli_watch.cpp) ---- */
enum class WatchOf { Dashboard, State, Events };
/* `watch`: the ncurses dashboard (a terminal is required: exit 1 otherwise). `show state|events
 * --watch`: the dashboard on a terminal; elsewhere the command's output again on each change.
 * Both refresh on the monitor's notifications and at least every watch_refresh_ms, and exit 0 on
 * `q` / F1 (dashboard) or SIGINT / SIGTERM. */
int watch_command(const Options& o, const Globals& g, WatchOf what);

}  // namespace pgaf::cli::detail
