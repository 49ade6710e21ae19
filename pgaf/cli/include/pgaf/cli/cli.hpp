/*
 * cli.hpp — pg_autoctl's command tree (CLI11), with the reference's command names, options,
 * environment variables and exit codes (upstream-design.md §8).
 *
 * Invariants:
 *  - argument errors (unknown option, missing required choice, value out of range) exit 1
 *    (BadArgs) with a message naming the option, before anything is touched;
 *  - every other failure is a pgaf::Error whose code gives the exit code (pgaf::exit_code);
 *  - the `do` subtree exists only when PG_AUTOCTL_DEBUG is set.
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pgaf::cli {

/* Parse and run; returns the process exit code. */
int run_cli(int argc, const char* const* argv);
int run_cli(const std::vector<std::string>& args); /* args[0] is the program name */

/* What the command line asks for, without doing it (the seam the fuzzer drives: the same
 * command tree as run_cli, parsed only; nothing printed, nothing touched). */
struct ParsedCommand {
  bool ok = false;    /* the arguments parse; `action` names the command */
  bool help = false;  /* --help or --version was asked for (ok is false) */
  int exit_code = 0;  /* what run_cli would exit with when !ok */
  std::string action; /* e.g. "create postgres", "show uri"; "" when !ok */
  std::string error;  /* CLI11's message when !ok && !help */
};
ParsedCommand parse_cli(int argc, const char* const* argv);

/* Every command of the tree (with the `do` tree, as when PG_AUTOCTL_DEBUG is set): its path
 * ("create postgres", "do fsm state") and its options' long names ("--pgdata"), positional
 * arguments left out. The seam docs/compatibility.md is checked against (cli.CompatDoc). */
struct CommandSpec {
  std::string path;
  std::vector<std::string> options;
};
std::vector<CommandSpec> command_specs();

/* A boolean option value as PostgreSQL (and pg_auto_failover) read one: true/false, yes/no,
 * on/off, 1/0, in any case, and unique prefixes ("t", "fa", "y"; "o" is ambiguous). */
std::optional<bool> parse_bool_option(std::string value);

}  // namespace pgaf::cli
