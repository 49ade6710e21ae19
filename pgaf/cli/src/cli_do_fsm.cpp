/*
 * cli_do_fsm.cpp — pg_autoctl do fsm init|state|list|gv|assign|step|nodes get|set and
 * do monitor get|register|active|version|parse-notification: the keeper's state file, its
 * transition table (pgaf/core keeper_table) and one node-active round (Keeper::iterate), and the
 * monitor client's calls, by hand.
 */
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli_do_internal.hpp"
#include "pgaf/agent/keeper.hpp"
#include "pgaf/agent/monitor_swap.hpp"
#include "pgaf/agent/postgres.hpp"
#include "pgaf/core/keeper_table.hpp"

namespace pgaf::cli::detail {

namespace {

struct LocalState {
  agent::Config cfg;
  agent::Paths paths;
  agent::KeeperState state;
};

Result<LocalState> local_state(const Options& o) {
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return cfg.error();
  if (cfg->role != agent::Role::Keeper) {
    return make_error(ErrorCode::BadConfig, "\"" + cfg->pgdata + "\" is a monitor",
                      "the do fsm commands apply to a Postgres node");
  }
  auto paths = agent::paths_for(cfg->pgdata);
  if (!paths) return paths.error();
  auto st = agent::KeeperState::load(paths->state);
  if (!st) return st.error();
  return LocalState{*cfg, *paths, *st};
}

/* The reference's `do fsm state` document: {"postgres": pgsetup, "state": keeper state}. */
nlohmann::json state_json(const LocalState& l) {
  const auto& s = l.state;
  return {{"postgres", pgsetup_json(l.cfg)},
          {"state",
           {{"current_role", std::string(to_string(s.current_role))},
            {"assigned_role", std::string(to_string(s.assigned_role))},
            {"version", 1},
            {"groupId", s.group_id},
            {"nodeId", s.node_id},
            {"system_identifier", std::to_string(s.system_identifier)},
            {"last_monitor_contact", s.last_monitor_contact},
            {"last_secondary_contact", s.last_secondary_contact},
            {"pgversion", postgres_version(l.cfg.pg_ctl).second}}}};
}

int cmd_fsm(const std::string& what, const Options& o, const Globals& g,
            const std::vector<std::string>& args) {
  if (what == "list" || what == "gv") {
    if (what == "gv") std::cout << "digraph pg_autoctl_fsm {\n";
    for (const auto& t : keeper_transitions()) {
      const std::string from = t.from == NodeState::Unknown ? "*" : std::string(to_string(t.from));
      if (what == "gv") {
        std::cout << "  \"" << from << "\" -> \"" << to_string(t.to) << "\" [label=\"" << t.comment
                  << "\"];\n";
      } else {
        std::cout << from << " -> " << to_string(t.to) << ": " << t.comment << "\n";
      }
    }
    if (what == "gv") std::cout << "}\n";
    std::cout.flush();
    return 0;
  }
  if (what == "init") {
    auto cfg = agent::load_config_for(o.pgdata);
    if (!cfg) return fail(cfg.error());
    auto paths = agent::paths_for(cfg->pgdata);
    if (!paths) return fail(paths.error());
    if (agent::file_exists(paths->state)) {
      return fail(make_error(ErrorCode::BadState,
                             "the state file \"" + paths->state + "\" already exists",
                             "pg_autoctl do fsm state shows it"));
    }
    return done(agent::KeeperState{}.save(paths->state), "initialised " + paths->state);
  }
  auto l = local_state(o);
  if (!l) return fail(l.error());
  if (what == "state") {
    std::cout << state_json(*l).dump(4) << std::endl;
    return 0;
  }
  if (what == "assign") {
    auto st = parse_node_state(args.at(0));
    if (!st) return bad_args("unknown state \"" + args[0] + "\"", "see pg_autoctl do fsm list");
    l->state.assigned_role = *st;
    if (Status s = l->state.save(l->paths.state); !s) return fail(s.error());
    std::cout << state_json(*l)["state"].dump(4) << std::endl;
    return 0;
  }
  if (what == "nodes get") {
    if (agent::monitor_disabled(l->cfg.monitor)) return fail(monitor_disabled_error(l->cfg.pgdata));
    auto m = agent::make_monitor_client(l->cfg.monitor, l->cfg.settings);
    auto others = m->get_other_nodes(l->state.node_id);
    if (!others) return fail(others.error());
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& n : *others) {
      arr.push_back({{"node_id", n.node_id},
                     {"node_name", n.name},
                     {"node_host", n.host},
                     {"node_port", n.port},
                     {"node_lsn", format_lsn(n.lsn)},
                     {"node_is_primary", n.is_primary}});
    }
    std::cout << arr.dump(4) << std::endl;
    return 0;
  }
  if (what == "nodes set") {
    return fail(make_error(
        ErrorCode::InvalidArgument, "do fsm nodes set needs a node running without a monitor",
        "pgaf refuses --disable-monitor: a node without a monitor cannot "
        "hold the lease that keeps two primaries apart (docs/compatibility.md)"));
  }
  /* step: one node-active round of the keeper, as the node-active service runs it */
  auto clock = std::make_unique<agent::SystemClock>();
  auto runner = agent::make_process_runner();
  auto pg = agent::make_postgres_control(l->cfg, *clock, *runner);
  auto pg_guard = agent::make_postgres_control(l->cfg, *clock, *runner);
  if (agent::monitor_disabled(l->cfg.monitor)) return fail(monitor_disabled_error(l->cfg.pgdata));
  auto monitor = agent::make_monitor_client(l->cfg.monitor, l->cfg.settings);
  agent::FenceGuard guard(l->cfg.settings, *clock, *pg_guard);
  const std::string state_path = l->paths.state;
  agent::Keeper keeper(l->cfg, l->state, *clock, *pg, *monitor, guard,
                       [state_path](const agent::KeeperState& s) { return s.save(state_path); });
  const agent::IterationResult r = keeper.iterate();
  l->state = keeper.state();
  std::cout << state_json(*l)["state"].dump(4) << std::endl;
  if (!r.monitor_ok) return exit_code(ErrorCode::Monitor);
  if (r.failed) return exit_code(ErrorCode::Keeper);
  (void)g;
  return 0;
}

int cmd_monitor(const std::string& what, const Options& o, const Globals& g,
                const std::vector<std::string>& args) {
  if (what == "parse-notification") {
    auto n = agent::parse_state_notification(args.at(0));
    if (!n) return fail(n.error());
    std::cout << nlohmann::json{{"formation", n->formation},
                                {"groupId", n->group_id},
                                {"nodeId", n->node_id},
                                {"name", n->name},
                                {"host", n->host},
                                {"port", n->port},
                                {"reportedState", n->reported},
                                {"goalState", n->goal},
                                {"health", n->health}}
                     .dump(4)
              << std::endl;
    return 0;
  }
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  if (what == "version") {
    auto v = (*m)->extension_version();
    if (!v) return fail(v.error());
    if (g.json) {
      std::cout
          << nlohmann::json{{"default_version", v->first}, {"installed_version", v->second}}.dump(4)
          << std::endl;
    } else {
      std::cout << v->second << std::endl;
    }
    if (v->second != kExtensionVersion) {
      return fail(make_error(ErrorCode::ExtensionMissing,
                             "the monitor runs pgautofailover \"" + v->second + "\", expected \"" +
                                 kExtensionVersion + "\"",
                             "ALTER EXTENSION pgautofailover UPDATE on the monitor"));
    }
    return 0;
  }
  if (what == "get primary") {
    auto p = (*m)->get_primary(o.formation, o.group);
    if (!p) return fail(p.error());
    std::cout << nlohmann::json{{"node_id", p->node_id},
                                {"node_name", p->name},
                                {"node_host", p->host},
                                {"node_port", p->port}}
                     .dump(4)
              << std::endl;
    return 0;
  }
  if (what == "get candidate-count") {
    auto rows = (*m)->current_state(o.formation);
    if (!rows) return fail(rows.error());
    int n = 0;
    for (const auto& r : *rows)
      if (r.group_id == o.group && r.candidate_priority > 0 && !can_take_writes_in_state(r.goal))
        ++n;
    std::cout << n << std::endl;
    return 0;
  }
  if (what == "get coordinator") {
    return fail(make_error(ErrorCode::InvalidArgument, "pgaf has no Citus coordinator",
                           "pgaf supports formations of kind pgsql"));
  }
  /* the rest act for this node: others | register | active */
  auto l = local_state(o);
  if (!l) return fail(l.error());
  if (what == "get others") {
    Options copy = o;
    return cmd_fsm("nodes get", copy, g, {});
  }
  if (what == "register") {
    auto st = parse_node_state(args.at(0));
    if (!st) return bad_args("unknown state \"" + args[0] + "\"", "see pg_autoctl do fsm list");
    if (l->state.node_id >= 0) {
      return fail(make_error(ErrorCode::BadState, "this node is already registered as node " +
                                                      std::to_string(l->state.node_id)));
    }
    l->state.current_role = *st;
    if (Status s = l->state.save(l->paths.state); !s) return fail(s.error());
    return register_local_node(l->cfg, l->paths);
  }
  /* active: one node_active call reporting the local state and Postgres as they are */
  auto local = local_postgres(o);
  if (!local) return fail(local.error());
  agent::NodeActiveArgs a;
  a.formation = l->cfg.formation;
  a.node_id = l->state.node_id;
  a.group_id = l->state.group_id;
  a.current = l->state.current_role;
  if (auto st = local->pg->status(); st && st->running) {
    a.pg_is_running = true;
    a.tli = st->tli;
    a.lsn = st->lsn;
    a.sync_state = st->sync_state;
  }
  if (agent::monitor_disabled(l->cfg.monitor)) return fail(monitor_disabled_error(l->cfg.pgdata));
  auto monitor = agent::make_monitor_client(l->cfg.monitor, l->cfg.settings);
  auto r = monitor->node_active(a);
  if (!r) return fail(r.error());
  std::cout << nlohmann::json{{"node_id", r->node_id},
                              {"group_id", r->group_id},
                              {"assigned_group_state", std::string(to_string(r->goal))},
                              {"candidate_priority", r->candidate_priority},
                              {"replication_quorum", r->replication_quorum}}
                   .dump(4)
            << std::endl;
  return 0;
}

}  // namespace

void add_do_fsm_commands(CLI::App* d, Context& ctx) {
  Options& o = ctx.o;
  Globals& g = ctx.g;
  auto* fsm = d->add_subcommand("fsm", "manually manage the keeper's state");
  fsm->require_subcommand(1);
  const std::vector<std::pair<const char*, const char*>> cmds = {
      {"init", "initialize the keeper's state on-disk"},
      {"state", "read the keeper's state from disk and display it"},
      {"list", "output the FSM transitions for the local node"},
      {"gv", "output the FSM as a .gv program suitable for graphviz/dot"},
      {"assign", "assign a new goal state to the keeper"},
      {"step", "make a state transition if instructed by the monitor"}};
  for (const auto& [w, help] : cmds) {
    auto* s = fsm->add_subcommand(w, help);
    const std::string what = w;
    Positionals a;
    if (what == "assign") a = positional(s, ctx, {"state"});
    add_pgdata(s, o);
    ctx.command(s, "do fsm " + what, [&o, &g, a, what] { return cmd_fsm(what, o, g, values(a)); });
  }
  auto* nodes = fsm->add_subcommand("nodes", "manually manage the keeper's nodes list");
  nodes->require_subcommand(1);
  auto* nget =
      nodes->add_subcommand("get", "get the list of nodes from file (see --disable-monitor)");
  add_pgdata(nget, o);
  ctx.command(nget, "do fsm nodes get", [&o, &g] { return cmd_fsm("nodes get", o, g, {}); });
  auto* nset =
      nodes->add_subcommand("set", "set the list of nodes to file (see --disable-monitor)");
  const Positionals na = positional(nset, ctx, {"file.json"});
  add_pgdata(nset, o);
  ctx.command(nset, "do fsm nodes set",
              [&o, &g, na] { return cmd_fsm("nodes set", o, g, values(na)); });
}

void add_do_monitor_commands(CLI::App* d, Context& ctx) {
  Options& o = ctx.o;
  Globals& g = ctx.g;
  auto* mon = d->add_subcommand("monitor", "query a pg_auto_failover monitor");
  mon->require_subcommand(1);
  auto* get = mon->add_subcommand("get", "get information from the monitor");
  get->require_subcommand(1);
  const std::vector<std::pair<const char*, const char*>> gets = {
      {"primary", "get the primary node from pg_auto_failover in given formation/group"},
      {"others", "get the other nodes from the pg_auto_failover group of hostname/port"},
      {"candidate-count", "get the failover candidate count in the group"},
      {"coordinator", "get the coordinator node from the pg_auto_failover formation"}};
  for (const auto& [w, help] : gets) {
    auto* s = get->add_subcommand(w, help);
    add_monitor_opts(s, ctx);
    s->add_option("--group", o.group, "group to query");
    const std::string what = std::string("get ") + w;
    ctx.command(s, "do monitor " + what, [&o, &g, what] { return cmd_monitor(what, o, g, {}); });
  }
  const std::vector<std::pair<const char*, const char*>> cmds = {
      {"register", "register the current node with the monitor"},
      {"active", "call in the pg_auto_failover node active protocol"},
      {"version", "check that monitor version is 2.2; alter extension update if not"},
      {"parse-notification", "parse a raw notification message"}};
  for (const auto& [w, help] : cmds) {
    auto* s = mon->add_subcommand(w, help);
    const std::string what = w;
    Positionals a;
    if (what == "register") a = positional(s, ctx, {"initial-state"});
    if (what == "parse-notification") a = positional(s, ctx, {"notification"});
    if (what != "parse-notification") add_monitor_opts(s, ctx);
    ctx.command(s, "do monitor " + what,
                [&o, &g, a, what] { return cmd_monitor(what, o, g, values(a)); });
  }
}

}  // namespace pgaf::cli::detail
