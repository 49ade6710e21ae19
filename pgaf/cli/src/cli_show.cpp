/*
 * cli_show.cpp — pg_autoctl show state | events | uri | settings | standby-names | file | systemd:
 * read-only views of the monitor and of this node's files, as text or --json.
 */
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>

#include "cli_internal.hpp"
#include "pgaf/agent/service.hpp"

namespace pgaf::cli::detail {

namespace fs = std::filesystem;
using agent::Config;
using agent::Role;

namespace {

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

/* ---- show settings | file | systemd ---- */

}  // namespace

/* see cli_internal.hpp (also `get formation settings`) */
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

namespace {

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

}  // namespace

void add_show_commands(CLI::App& app, Context& ctx) {
  Options& o = ctx.o;
  Globals& g = ctx.g;
  auto* show = app.add_subcommand("show", "show pg_auto_failover information");
  show->require_subcommand(1);
  auto* sstate = show->add_subcommand("state", "print replication state for nodes");
  add_monitor_opts(sstate, ctx);
  sstate->add_option("--group", o.group, "group to query formation state");
  ctx.command(sstate, "show state", [&] { return cmd_show_state(o, g); });
  auto* sevents = show->add_subcommand(
      "events", "prints monitor's state of nodes in a given formation and group");
  add_monitor_opts(sevents, ctx);
  sevents->add_option("--group", o.group, "group to query");
  sevents->add_option("--count", o.count, "how many events to fetch, defaults to 10");
  ctx.command(sevents, "show events", [&] { return cmd_show_events(o, g); });
  auto* suri = show->add_subcommand(
      "uri", "show the postgres uri to use to connect to pg_auto_failover nodes");
  add_monitor_opts(suri, ctx);
  ctx.command(suri, "show uri", [&] { return cmd_show_uri(o, g); });
  auto* ssettings = show->add_subcommand("settings", "print replication settings for a formation");
  add_monitor_opts(ssettings, ctx);
  ctx.command(ssettings, "show settings", [&] { return cmd_show_settings(o, g); });
  auto* sfile = show->add_subcommand("file", "list pg_autoctl internal files (config, state, pid)");
  add_pgdata(sfile, o);
  sfile->add_flag("--all", o.file_all, "show all pg_autoctl files");
  sfile->add_flag("--config", o.file_config, "show pg_autoctl configuration file");
  sfile->add_flag("--state", o.file_state, "show pg_autoctl state file");
  sfile->add_flag("--init", o.file_init, "show pg_autoctl initialisation state file");
  sfile->add_flag("--pid", o.file_pid, "show pg_autoctl PID file");
  sfile->add_flag("--contents", o.file_contents, "show selected file contents");
  sfile->add_flag("--json", g.json, "output data in the JSON format");
  ctx.command(sfile, "show file", [&] { return cmd_show_file(o, g); });
  auto* ssystemd = show->add_subcommand("systemd", "print systemd service file for this node");
  add_pgdata(ssystemd, o);
  ctx.command(ssystemd, "show systemd", [&] { return cmd_show_systemd(o); });
  auto* sstandby =
      show->add_subcommand("standby-names", "prints synchronous_standby_names for a given group");
  add_monitor_opts(sstandby, ctx);
  sstandby->add_option("--group", o.group, "group to query");
  ctx.command(sstandby, "show standby-names", [&] { return cmd_show_standby_names(o, g); });
}
}  // namespace pgaf::cli::detail
