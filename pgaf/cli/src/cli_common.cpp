/*
 * cli_common.cpp — helpers the pg_autoctl command groups share: error reporting, the monitor
 * connection, bounded waits on the monitor's state, the local node, boolean option values, and
 * Context::command (how a CLI11 callback runs its command). See cli_internal.hpp.
 */
#include <spdlog/spdlog.h>

#include <cctype>
#include <iostream>

#include "cli_internal.hpp"
#include "pgaf/agent/keeper.hpp"
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
