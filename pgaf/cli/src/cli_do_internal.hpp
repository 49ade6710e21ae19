/*
 * cli_do_internal.hpp — what the `do` tree's files (cli_do.cpp, cli_do_fsm.cpp) share: the local
 * Postgres control the service uses, positional arguments, and the sub-trees.
 */
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli_internal.hpp"
#include "pgaf/agent/interfaces.hpp"

namespace pgaf::cli::detail {

/* The configuration of --pgdata and the same PostgresControl the service drives. */
struct LocalPostgres {
  agent::Config cfg;
  std::unique_ptr<agent::Clock> clock;
  std::unique_ptr<agent::ProcessRunner> runner;
  std::unique_ptr<agent::PostgresControl> pg;
};
Result<LocalPostgres> local_postgres(const Options& o);

/* Required positional arguments of a command, stored in the Context (stable addresses). */
using Positionals = std::vector<const std::string*>;
Positionals positional(CLI::App* sub, Context& ctx, const std::vector<std::string>& names);
std::vector<std::string> values(const Positionals& p);

/* 0 and an info line when s is ok, else the error's exit code. */
int done(const Status& s, const std::string& what);

void add_do_fsm_commands(CLI::App* d, Context& ctx);     /* cli_do_fsm.cpp */
void add_do_monitor_commands(CLI::App* d, Context& ctx); /* cli_do_fsm.cpp */
void add_do_demo_commands(CLI::App* d, Context& ctx);    /* cli_do_demo.cpp */

}  // namespace pgaf::cli::detail
