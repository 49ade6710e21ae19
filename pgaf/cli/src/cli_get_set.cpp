/*
 * cli_get_set.cpp — pg_autoctl get | set node candidate-priority | replication-quorum, formation
 * number-sync-standbys: values checked before the monitor is asked; set waits (bounded) until the
 * group has applied the new settings.
 */
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>

#include "cli_internal.hpp"
#include "pgaf/cli/cli.hpp"

namespace pgaf::cli::detail {

using agent::Role;

namespace {

/* The reference exits with its monitor code (6) whenever the monitor refuses a new setting or
 * the group does not settle after it, whatever the monitor's SQLSTATE; the reason is logged
 * first, then the reference's "Failed to set" line. */
int fail_setting(const Error& e, const std::string& what, const std::string& value) {
  (void)fail(e);
  spdlog::error("Failed to set \"{}\" to \"{}\".", what, value);
  return static_cast<int>(ExitCode::Monitor);
}

/* After a settings change, wait (bounded by --wait) as the reference does: until the group's
 * primary has left apply_settings and reports its goal again, primary or wait_primary (a
 * primary that now lacks sync standbys settles in wait_primary; a standby still catching up
 * does not hold the command). */
int wait_group_settled(agent::MonitorClient& m, const std::string& formation, GroupId group,
                       int wait_s) {
  /* let the monitor assign apply_settings first */
  agent::SystemClock().sleep_ms(100);
  const bool settled = wait_for_rows(m, formation, group, wait_s, [&](const auto& rows) {
    int n = 0;
    bool primary = false;
    for (auto& r : rows) {
      if (r.group_id != group) continue;
      ++n;
      if (converged_primary(r)) primary = true;
    }
    return primary || n == 0;
  });
  if (settled) return 0;
  (void)fail(make_error(ErrorCode::Timeout,
                        "the group did not settle within " + std::to_string(wait_s) + " s",
                        "see pg_autoctl show state"));
  spdlog::error("Failed to wait until the new setting has been applied");
  return static_cast<int>(ExitCode::Monitor);
}

int cmd_get_node(const Options& o, const Globals& g, const std::string& what) {
  auto n = locate_node(o);
  if (!n) return fail(n.error());
  if (what == "candidate-priority") {
    print_value(g, "candidate-priority", n->row.candidate_priority);
  } else {
    print_value(g, "replication-quorum", n->row.replication_quorum);
  }
  return 0;
}

int cmd_set_node(const Options& o, const Globals& g, const std::string& what) {
  auto n = locate_node(o);
  if (!n) return fail(n.error());
  Status s = Status::Ok();
  nlohmann::json shown;
  if (what == "candidate-priority") {
    char* end = nullptr;
    const long v = std::strtol(o.set_value.c_str(), &end, 10);
    if (o.set_value.empty() || *end != '\0' || v < 0 || v > 100) {
      return bad_args("invalid candidate priority \"" + o.set_value + "\"",
                      "use a value between 0 and 100");
    }
    s = n->monitor->set_node_candidate_priority(n->formation, n->name, static_cast<int>(v));
    shown = v;
  } else {
    const auto quorum = parse_bool_option(o.set_value);
    if (!quorum) {
      return bad_args("invalid replication quorum \"" + o.set_value + "\"",
                      "use true or false (also yes/no, on/off, 1/0, in any case)");
    }
    s = n->monitor->set_node_replication_quorum(n->formation, n->name, *quorum);
    shown = *quorum;
  }
  if (!s) return fail_setting(s.error(), what, o.set_value);
  /* keep the local configuration in step when the node is this one */
  if (!o.pgdata.empty()) {
    auto paths = agent::paths_for(o.pgdata);
    auto cfg = agent::load_config_for(o.pgdata);
    if (paths && cfg && cfg->role == Role::Keeper && cfg->name == n->name) {
      if (what == "candidate-priority")
        cfg->candidate_priority = shown.get<int>();
      else
        cfg->replication_quorum = shown.get<bool>();
      (void)cfg->save(paths->config);
    }
  }
  if (int rc = wait_group_settled(*n->monitor, n->formation, n->row.group_id, o.wait_s); rc != 0)
    return rc;
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
    return fail_setting(s.error(), "number-sync-standbys", o.set_value);
  if (int rc = wait_group_settled(**m, o.formation, 0, o.wait_s); rc != 0) return rc;
  /* as the reference: log the primary's new synchronous_standby_names, and add it to --json */
  auto names = (*m)->synchronous_standby_names(o.formation, 0);
  if (names) spdlog::info("primary node has now set synchronous_standby_names = '{}'", *names);
  if (g.json) {
    nlohmann::json j{{"number-sync-standbys", v}};
    if (names && !names->empty()) j["synchronous_standby_names"] = *names;
    std::cout << j.dump(4) << std::endl;
  } else {
    print_value(g, "number-sync-standbys", v);
  }
  return 0;
}

}  // namespace

/* get / set node candidate-priority | replication-quorum; formation number-sync-standbys */
void add_get_set_commands(CLI::App& app, Context& ctx) {
  Options& o = ctx.o;
  Globals& g = ctx.g;
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
      add_monitor_opts(c, ctx);
      c->add_option("--name", o.name, "the node name (default: this node, from --pgdata)");
      if (setting) {
        c->add_option("--wait", o.wait_s, "how many seconds to wait, default to 60");
        c->add_option("value", o.set_value, "the new value")->required();
      }
      const std::string w = what;
      ctx.command(c, std::string(setting ? "set node " : "get node ") + what, [&o, &g, setting, w] {
        return setting ? cmd_set_node(o, g, w) : cmd_get_node(o, g, w);
      });
    }
    if (setting) {
      auto* meta = node->add_subcommand("metadata", "set metadata for this node");
      add_pgdata(meta, o);
      meta->add_flag("--json", g.json, "output data in the JSON format");
      auto* mname = meta->add_option("--name", o.name, "the node name");
      auto* mhost = meta->add_option("--hostname", o.hostname, "the node hostname");
      auto* mport = meta->add_option("--pgport", o.pgport, "the node port");
      ctx.command(meta, "set node metadata", [&o, &g, mname, mhost, mport] {
        if (mname->count() + mhost->count() + mport->count() == 0) {
          return bad_args("set node metadata needs --name, --hostname or --pgport");
        }
        return update_node_metadata(o, mname->count() ? o.name : std::string(),
                                    mhost->count() ? o.hostname : std::string(),
                                    mport->count() ? o.pgport : 0, g, true);
      });
    }
    auto* form = parent->add_subcommand("formation", "a pg_auto_failover formation setting");
    form->require_subcommand(1);
    if (!setting) {
      auto* fsettings =
          form->add_subcommand("settings", "get replication settings for a formation");
      add_monitor_opts(fsettings, ctx);
      ctx.command(fsettings, "get formation settings", [&] { return cmd_show_settings(o, g); });
    }
    auto* nss =
        form->add_subcommand("number-sync-standbys", std::string(setting ? "set" : "get") +
                                                         " number_sync_standbys for the formation");
    add_monitor_opts(nss, ctx);
    if (setting) {
      nss->add_option("--wait", o.wait_s, "how many seconds to wait, default to 60");
      nss->add_option("value", o.set_value, "the new value")->required();
    }
    ctx.command(nss, setting ? "set formation nss" : "get formation nss",
                [&o, &g, setting] { return setting ? cmd_set_nss(o, g) : cmd_get_nss(o, g); });
  }
}
}  // namespace pgaf::cli::detail
