/*
 * cli_config.cpp — pg_autoctl config get | set section.option [value]: the configuration file is
 * re-validated as a whole before anything is written.
 */
#include <signal.h>

#include <iostream>

#include "cli_internal.hpp"
#include "pgaf/agent/monitor_swap.hpp"
#include "pgaf/agent/postgres.hpp"
#include "pgaf/agent/service.hpp"

namespace pgaf::cli::detail {

using agent::Config;
using agent::Role;

namespace {

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
  if (o.config_key == "postgresql.pg_ctl") {
    if (Status s = check_pg_ctl(updated->pg_ctl); !s) return fail(s.error());
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

/* pg_autoctl config check: the configuration loads, pg_ctl is PostgreSQL's, PGDATA is a
 * cluster, and (a keeper) the monitor answers with the extension version we expect. */
int cmd_config_check(const Options& o, const Globals& g) {
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return fail(cfg.error());
  if (Status s = check_pg_ctl(cfg->pg_ctl); !s) return fail(s.error());
  nlohmann::json pg = pgsetup_json(*cfg);
  if (!agent::file_exists(cfg->pgdata + "/PG_VERSION")) {
    return fail(make_error(ErrorCode::BadConfig,
                           "\"" + cfg->pgdata + "\" is not a PostgreSQL data directory",
                           "pg_autoctl create has not initialised it yet"));
  }
  nlohmann::json out = {{"postgres", pg}};
  const bool no_monitor = cfg->role == Role::Keeper && agent::monitor_disabled(cfg->monitor);
  if (cfg->role == Role::Keeper && !no_monitor) {
    auto m = agent::make_monitor_client(cfg->monitor, cfg->settings);
    auto v = m->extension_version();
    if (!v) return fail(v.error());
    if (v->second != kExtensionVersion) {
      return fail(make_error(ErrorCode::ExtensionMissing,
                             "the monitor runs pgautofailover version \"" + v->second +
                                 "\", expected \"" + kExtensionVersion + "\"",
                             "ALTER EXTENSION pgautofailover UPDATE on the monitor"));
    }
    out["monitor"] = {{"uri", cfg->monitor}, {"version", v->second}};
  }
  if (no_monitor) out["monitor"] = {{"uri", cfg->monitor}}; /* disable monitor: nothing to ask */
  if (g.json) {
    std::cout << out.dump(4) << std::endl;
    return 0;
  }
  const long pid = pg.value("pid", 0L);
  std::cout << "Postgres setup for PGDATA \"" << cfg->pgdata << "\" is ok, "
            << (pid > 0 ? "running with PID " + std::to_string(pid) : std::string("not running"))
            << " and port " << cfg->port << std::endl;
  if (no_monitor) {
    std::cout << "The monitor is disabled for this node (pg_autoctl enable monitor <uri>)"
              << std::endl;
  } else if (out.contains("monitor")) {
    std::cout << "Connection to monitor ok, using \"" << cfg->monitor << "\"\n"
              << "Monitor is running version \"" << out["monitor"]["version"].get<std::string>()
              << "\", as expected" << std::endl;
  }
  return 0;
}

}  // namespace

void add_config_commands(CLI::App& app, Context& ctx) {
  Options& o = ctx.o;
  Globals& g = ctx.g;
  auto* config = app.add_subcommand("config", "manages the pg_autoctl configuration");
  config->require_subcommand(1);
  auto* cget = config->add_subcommand("get",
                                      "get the value of a given pg_autoctl configuration "
                                      "variable");
  add_pgdata(cget, o);
  cget->add_flag("--json", g.json, "output data in the JSON format");
  cget->add_option("key", o.config_key, "section.option (all of them when omitted)");
  auto* ccheck = config->add_subcommand("check", "check pg_autoctl and postgres setup");
  add_pgdata(ccheck, o);
  ccheck->add_flag("--json", g.json, "output data in the JSON format");
  ctx.command(ccheck, "config check", [&] { return cmd_config_check(o, g); });
  ctx.command(cget, "config get", [&] { return cmd_config_get(o, g); });
  auto* cset = config->add_subcommand("set",
                                      "set the value of a given pg_autoctl configuration "
                                      "variable");
  add_pgdata(cset, o);
  cset->add_flag("--json", g.json, "output data in the JSON format");
  cset->add_option("key", o.config_key, "section.option")->required();
  cset->add_option("value", o.config_value, "the new value")->required();
  ctx.command(cset, "config set", [&] { return cmd_config_set(o, g); });
}
}  // namespace pgaf::cli::detail
