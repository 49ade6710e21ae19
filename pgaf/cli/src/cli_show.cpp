/*
 * cli_show.cpp — pg_autoctl show state | events | uri | settings | standby-names | file | systemd:
 * read-only views of the monitor and of this node's files, as text or --json.
 */
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>
#include <tuple>

#include "cli_internal.hpp"
#include "pgaf/agent/postgres.hpp"
#include "pgaf/agent/service.hpp"
#include "pgaf/cli/watch_render.hpp"

namespace pgaf::cli::detail {

namespace fs = std::filesystem;
using agent::Config;
using agent::Role;

/* see cli_internal.hpp */
nlohmann::json state_row_json(const agent::StateRow& r) {
  return {{"nodename", r.name},
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
          {"health", r.health}};
}

/* see cli_internal.hpp */
std::string state_table(const std::vector<agent::StateRow>& rows) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%8s | %4s | %21s | %17s | %12s | %19s | %19s\n", "Name", "Node",
                "Host:Port", "TLI: LSN", "Connection", "Reported State", "Assigned State");
  out += line;
  out += std::string(118, '-') + "\n";
  for (auto& r : rows) {
    std::string hp = r.host + ":" + std::to_string(r.port);
    std::string tl = std::to_string(r.tli) + ": " + r.lsn;
    std::snprintf(line, sizeof line, "%8s | %4lld | %21s | %17s | %12s | %19s | %19s\n",
                  r.name.c_str(), static_cast<long long>(r.node_id), hp.c_str(), tl.c_str(),
                  node_connection(r).c_str(), std::string(to_string(r.reported)).c_str(),
                  std::string(to_string(r.goal)).c_str());
    out += line;
  }
  return out;
}

/* see cli_internal.hpp */
Result<std::string> show_state_output(agent::MonitorClient& m, const Options& o, const Globals& g) {
  auto rows = m.current_state(o.formation);
  if (!rows) return rows.error();
  if (!g.json) return state_table(*rows);
  nlohmann::json arr = nlohmann::json::array();
  for (auto& r : *rows) arr.push_back(state_row_json(r));
  return arr.dump(2) + "\n";
}

/* see cli_internal.hpp */
Result<std::string> show_events_output(agent::MonitorClient& m, const Options& o,
                                       const Globals& g) {
  auto ev = m.last_events(o.formation, o.events_group, o.count);
  if (!ev) return ev.error();
  if (g.json) {
    /* the reference prints jsonb_pretty(jsonb_agg(row_to_json(event))): jsonb orders keys by
     * length, then bytes, and indents by 4 */
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (auto& e : *ev) {
      std::vector<std::pair<std::string, nlohmann::json>> kv = {
          {"eventid", e.event_id},
          {"eventtime", e.time_iso},
          {"formationid", e.formation},
          {"nodeid", e.node_id},
          {"groupid", e.group_id},
          {"nodename", e.node_name},
          {"nodehost", e.node_host},
          {"nodeport", e.node_port},
          {"reportedstate", e.reported},
          {"goalstate", e.goal},
          {"reportedrepstate", e.rep_state ? nlohmann::json(*e.rep_state) : nlohmann::json()},
          {"reportedtli", e.tli},
          {"reportedlsn", e.lsn},
          {"candidatepriority",
           e.candidate_priority ? nlohmann::json(*e.candidate_priority) : nlohmann::json()},
          {"replicationquorum",
           e.replication_quorum ? nlohmann::json(*e.replication_quorum) : nlohmann::json()},
          {"description", e.description}};
      std::stable_sort(kv.begin(), kv.end(), [](const auto& a, const auto& b) {
        return a.first.size() != b.first.size() ? a.first.size() < b.first.size()
                                                : a.first < b.first;
      });
      nlohmann::ordered_json obj = nlohmann::ordered_json::object();
      for (auto& [k, v] : kv) obj[k] = v;
      arr.push_back(obj);
    }
    return arr.dump(4) + "\n";
  }
  std::string out;
  char line[1024];
  std::snprintf(line, sizeof line, "%30s | %6s | %19s | %19s | %s\n", "Event Time", "Node",
                "Current State", "Assigned State", "Comment");
  out += line;
  std::snprintf(line, sizeof line, "%30s-+-%6s-+-%19s-+-%19s-+-%10s\n",
                std::string(30, '-').c_str(), "------", std::string(19, '-').c_str(),
                std::string(19, '-').c_str(), "----------");
  out += line;
  for (auto& e : *ev) {
    const std::string node = std::to_string(e.group_id) + "/" + std::to_string(e.node_id);
    out += [&] {
      std::snprintf(line, sizeof line, "%30s | %6s | %19s | %19s | ", e.time.c_str(), node.c_str(),
                    e.reported.c_str(), e.goal.c_str());
      return std::string(line);
    }();
    out += e.description + "\n";
  }
  return out + "\n";
}

namespace {

/* The latest checkpoint's {timeline, LSN} of a stopped PGDATA (pg_controldata), or {0, 0/0}. */
std::pair<int, std::string> checkpoint_of(const Config& cfg) {
  auto runner = agent::make_process_runner();
  agent::ProcessSpec spec;
  spec.program = cfg.bindir() + "/pg_controldata";
  spec.args = {cfg.pgdata};
  spec.env_set["LC_ALL"] = "C";
  spec.timeout_ms = cfg.settings.pg_controldata_timeout_ms;
  auto r = runner->run(spec);
  std::pair<int, std::string> out = {0, format_lsn(0)};
  if (r.exit_code != 0) return out;
  auto field = [&](const std::string& name) {
    auto pos = r.output.find(name + ":");
    if (pos == std::string::npos) return std::string();
    pos = r.output.find_first_not_of(' ', pos + name.size() + 1);
    auto end = r.output.find('\n', pos);
    return pos == std::string::npos ? std::string() : r.output.substr(pos, end - pos);
  };
  if (auto lsn = parse_lsn(field("Latest checkpoint location"))) out.second = format_lsn(*lsn);
  out.first = std::atoi(field("Latest checkpoint's TimeLineID").c_str());
  return out;
}

/* show state --local: this node's row from its configuration and state file, and its Postgres
 * (or pg_controldata when stopped), without the monitor; health unknown, as the reference. */
int cmd_show_local_state(const Options& o, const Globals& g) {
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return fail(cfg.error());
  if (cfg->role == Role::Monitor) {
    return fail(make_error(ErrorCode::Monitor,
                           "pg_autoctl show state --local is not supported on a monitor",
                           "use the --pgdata of a Postgres node"));
  }
  auto paths = agent::paths_for(cfg->pgdata);
  if (!paths) return fail(paths.error());
  auto st = agent::KeeperState::load(paths->state);
  if (!st) return fail(st.error());
  agent::StateRow r;
  r.name = cfg->name;
  r.host = cfg->hostname;
  r.port = cfg->port;
  r.group_id = st->group_id < 0 ? 0 : st->group_id;
  r.node_id = st->node_id;
  r.reported = st->current_role;
  r.goal = st->assigned_role;
  r.candidate_priority = cfg->candidate_priority;
  r.replication_quorum = cfg->replication_quorum;
  r.health = -1; /* only the monitor knows */
  bool read = false;
  if (agent::running_postmaster_pid(cfg->pgdata) > 0) {
    agent::SystemClock clock;
    auto runner = agent::make_process_runner();
    auto pg = agent::make_postgres_control(*cfg, clock, *runner);
    if (auto ps = pg->status(); ps && ps->running) {
      r.tli = ps->tli;
      r.lsn = format_lsn(ps->lsn);
      read = true;
    }
  }
  if (!read) std::tie(r.tli, r.lsn) = checkpoint_of(*cfg);
  if (g.json) {
    std::cout << state_row_json(r).dump(2) << std::endl;
    return 0;
  }
  std::cout << state_table({r}) << std::flush;
  return 0;
}

int cmd_show_state(const Options& o, const Globals& g) {
  if (o.local) return cmd_show_local_state(o, g);
  if (o.watch) return watch_command(o, g, WatchOf::State);
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  auto out = show_state_output(**m, o, g);
  if (!out) return fail(out.error());
  std::cout << *out << std::flush;
  return 0;
}

int cmd_show_events(const Options& o, const Globals& g) {
  if (o.watch) return watch_command(o, g, WatchOf::Events);
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  auto out = show_events_output(**m, o, g);
  if (!out) return fail(out.error());
  std::cout << *out << std::flush;
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
  sstate->add_flag("--local", o.local, "show local data, do not connect to the monitor");
  sstate->add_flag("--watch", o.watch, "display an auto-updating dashboard");
  ctx.command(sstate, "show state", [&] { return cmd_show_state(o, g); });
  auto* sevents = show->add_subcommand(
      "events", "prints monitor's state of nodes in a given formation and group");
  add_monitor_opts(sevents, ctx);
  sevents->add_option("--group", o.events_group, "group to query (default: every group)");
  sevents->add_option("--count", o.count, "how many events to fetch, defaults to 10");
  sevents->add_flag("--watch", o.watch, "display an auto-updating dashboard");
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
