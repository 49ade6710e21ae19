/*
 * cli_do.cpp — pg_autoctl do …: the internal and debugging tree, present only when PG_AUTOCTL_DEBUG
 * is set (to any value). `do service postgres|node-active` are what the supervisor starts.
 */

#include "cli_internal.hpp"
#include "pgaf/agent/service.hpp"

namespace pgaf::cli::detail {

namespace {

int cmd_do_service(const std::string& which, const Options& o, const Globals& g) {
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return fail(cfg.error());
  auto paths = agent::paths_for(cfg->pgdata);
  if (!paths) return fail(paths.error());
  agent::setup_logging(g.verbosity(), paths->log);
  if (which == "postgres") return agent::run_postgres_controller(*cfg);
  return agent::run_node_active(*cfg);
}

}  // namespace

void add_do_commands(CLI::App& app, Context& ctx) {
  Options& o = ctx.o;
  Globals& g = ctx.g;
  auto* d = app.add_subcommand("do", "internal commands and testing/QA tools");
  d->require_subcommand(1);
  auto* svc = d->add_subcommand("service", "run individual services");
  svc->require_subcommand(1);
  for (const char* which : {"postgres", "node-active"}) {
    auto* s = svc->add_subcommand(which, std::string("run the ") + which + " service");
    add_pgdata(s, o);
    const std::string w = which;
    ctx.command(s, "do service " + w, [&o, &g, w] { return cmd_do_service(w, o, g); });
  }
}
}  // namespace pgaf::cli::detail
