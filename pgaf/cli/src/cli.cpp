/*
 * cli.cpp — pg_autoctl's command tree wired from its groups (one file each, see cli_internal.hpp),
 * and the two ways to use it: run_cli (parse, then the chosen command's callback runs it) and
 * parse_cli (parse only). See cli.hpp for the invariants.
 */
#include "pgaf/cli/cli.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli_internal.hpp"
#include "pgaf/core/error.hpp"

namespace pgaf::cli {

namespace {

using detail::Context;

/* The whole command tree, in the order `pg_autoctl --help` lists it. */
void build_command_tree(CLI::App& app, Context& ctx,
                        bool debug = std::getenv("PG_AUTOCTL_DEBUG") != nullptr) {
  app.require_subcommand(1);
  app.fallthrough();
  app.add_flag("-v,--verbose", ctx.g.verbose, "increase verbosity (-v, -vv)");
  app.add_flag("-q,--quiet", ctx.g.quiet, "only log warnings and errors");
  app.add_flag("-J,--json", ctx.g.json, "output JSON");
  app.set_version_flag("-V,--version", std::string("pg_autoctl (pgaf) ") + detail::kPgafVersion +
                                           ", compatible with pg_auto_failover " +
                                           detail::kPgAutoctlVersion);
  detail::add_root_commands(app, ctx);
  detail::add_create_commands(app, ctx);
  detail::add_service_commands(app, ctx);
  detail::add_show_commands(app, ctx);
  detail::add_perform_commands(app, ctx);
  detail::add_enable_disable_commands(app, ctx);
  detail::add_get_set_commands(app, ctx);
  detail::add_config_commands(app, ctx);
  detail::add_drop_commands(app, ctx);
  detail::add_watch_commands(app, ctx);
  if (debug) detail::add_do_commands(app, ctx);
}

}  // namespace

ParsedCommand parse_cli(int argc, const char* const* argv) {
  Context ctx;
  ctx.parse_only = true;
  CLI::App app{"pg_autoctl: PostgreSQL high availability (pgaf)", "pg_autoctl"};
  build_command_tree(app, ctx);
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
  p.action = ctx.action;
  return p;
}

int run_cli(int argc, const char* const* argv) {
  Context ctx;
  CLI::App app{"pg_autoctl: PostgreSQL high availability (pgaf)", "pg_autoctl"};
  build_command_tree(app, ctx);
  try {
    app.parse(argc, argv); /* the chosen command's callback runs it (Context::command) */
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
  if (!ctx.ran) return detail::bad_args("no command given", "see pg_autoctl --help");
  return ctx.exit_code;
}

namespace {

void collect(const CLI::App& app, const std::string& prefix, std::vector<CommandSpec>& out) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    const std::string path = prefix.empty() ? sub->get_name() : prefix + " " + sub->get_name();
    CommandSpec spec{path, {}};
    for (const CLI::Option* opt : sub->get_options()) {
      for (const std::string& name : opt->get_lnames()) {
        if (name != "help") spec.options.push_back("--" + name);
      }
    }
    out.push_back(spec);
    collect(*sub, path, out);
  }
}

}  // namespace

std::vector<CommandSpec> command_specs() {
  Context ctx;
  ctx.parse_only = true;
  CLI::App app{"pg_autoctl", "pg_autoctl"};
  build_command_tree(app, ctx, true);
  std::vector<CommandSpec> out;
  CommandSpec root{"", {}};
  for (const CLI::Option* opt : app.get_options()) {
    for (const std::string& name : opt->get_lnames()) {
      if (name != "help") root.options.push_back("--" + name);
    }
  }
  out.push_back(root);
  collect(app, "", out);
  return out;
}

int run_cli(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return run_cli(static_cast<int>(argv.size()), argv.data());
}

}  // namespace pgaf::cli
