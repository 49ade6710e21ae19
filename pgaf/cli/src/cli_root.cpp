/*
 * cli_root.cpp — pg_autoctl version [--json] and pg_autoctl help: the reference's root commands
 * (cli_root.c). `help` prints the command tree ("+" a group, "-" a command), with the `do` tree
 * when PG_AUTOCTL_DEBUG is set, exactly as the parser sees it (it walks the CLI11 definitions).
 */
#include <cstdio>
#include <iostream>

#include "cli_internal.hpp"
#include "pgaf/agent/interfaces.hpp"

namespace pgaf::cli::detail {

namespace {

int cmd_version(const Globals& g) {
  const agent::Config defaults;
  const auto [pg_version, pg_version_num] = postgres_version(defaults.pg_ctl);
  const std::string pg_major = pg_version.substr(0, pg_version.find('.'));
  if (g.json) {
    nlohmann::json j = {{"pg_autoctl", kPgAutoctlVersion},
                        {"pgaf", kPgafVersion},
                        {"pgautofailover", kExtensionVersion},
                        {"pg_major", pg_major},
                        {"pg_version", pg_version},
                        {"pg_version_str", "PostgreSQL " + pg_version},
                        {"pg_version_num", pg_version_num}};
    std::cout << j.dump(4) << std::endl;
    return 0;
  }
  std::cout << "pg_autoctl version " << kPgAutoctlVersion << "\n"
            << "pg_autoctl extension version " << kExtensionVersion << "\n"
            << "compiled with PostgreSQL " << (pg_version.empty() ? "15" : pg_version) << "\n"
            << "compatible with Postgres 15" << std::endl;
  return 0;
}

void print_tree(const CLI::App& app, int depth, std::ostream& out) {
  std::size_t width = 0;
  const auto subs = app.get_subcommands([](const CLI::App*) { return true; });
  for (const CLI::App* s : subs) width = std::max(width, s->get_name().size());
  for (const CLI::App* s : subs) {
    const bool group = !s->get_subcommands([](const CLI::App*) { return true; }).empty();
    out << std::string(static_cast<std::size_t>(depth) * 2 + 2, ' ') << (group ? "+ " : "- ")
        << s->get_name() << std::string(width - s->get_name().size() + 2, ' ')
        << s->get_description() << "\n";
    if (group) print_tree(*s, depth + 1, out);
  }
}

}  // namespace

void print_command_tree(const CLI::App& root, std::ostream& out) {
  out << "  pg_autoctl\n";
  print_tree(root, 0, out);
}

void add_root_commands(CLI::App& app, Context& ctx) {
  auto* version = app.add_subcommand("version", "display version string");
  version->add_flag("--json", ctx.g.json, "output data in the JSON format");
  ctx.command(version, "version", [&ctx] { return cmd_version(ctx.g); });
  auto* help = app.add_subcommand("help", "print help message");
  ctx.command(help, "help", [&app] {
    print_command_tree(app, std::cout);
    return 0;
  });
}

}  // namespace pgaf::cli::detail
