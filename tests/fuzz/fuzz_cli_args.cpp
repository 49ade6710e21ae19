/*
 * fuzz_cli_args.cpp — libFuzzer target: pg_autoctl's command line (pgaf/cli, CLI11), parsed
 * through pgaf::cli::parse_cli (the same command tree as run_cli, without running anything).
 *
 * The input is argv after the program name, arguments separated by NUL bytes (the debug `do`
 * subtree is enabled). Checked: parsing never crashes, throws past parse_cli or trips a
 * sanitizer; an accepted command line names exactly one known command; a refused one exits 1
 * (BadArgs, cli.hpp) with a message.
 */
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "pgaf/cli/cli.hpp"

namespace {

[[noreturn]] void violated(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_cli_args: invariant violated: %s\n%s\n", what, detail.c_str());
  std::abort();
}

const std::set<std::string>& known_actions() {
  static const std::set<std::string> k = {"create monitor",
                                          "create postgres",
                                          "create formation",
                                          "run",
                                          "stop",
                                          "reload",
                                          "status",
                                          "show state",
                                          "show events",
                                          "show uri",
                                          "show settings",
                                          "show file",
                                          "show systemd",
                                          "show standby-names",
                                          "perform failover",
                                          "perform switchover",
                                          "perform promotion",
                                          "drop node",
                                          "drop formation",
                                          "drop monitor",
                                          "config get",
                                          "config set",
                                          "get node candidate-priority",
                                          "get node replication-quorum",
                                          "set node candidate-priority",
                                          "set node replication-quorum",
                                          "get formation nss",
                                          "set formation nss",
                                          "enable maintenance",
                                          "disable maintenance",
                                          "enable secondary",
                                          "disable secondary",
                                          "do service postgres",
                                          "do service node-active"};
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("PG_AUTOCTL_DEBUG", "1", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args{"pg_autoctl"};
  std::string cur;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur += static_cast<char>(data[i]);
    }
  }
  if (!cur.empty() || size == 0) args.push_back(cur);
  if (args.size() > 64) return 0;
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  const int argc = static_cast<int>(argv.size());

  const pgaf::cli::ParsedCommand p = pgaf::cli::parse_cli(argc, argv.data());
  std::string line;
  for (const auto& a : args) line += "[" + a + "] ";
  if (p.ok) {
    if (known_actions().count(p.action) == 0)
      violated("an accepted command line names a known command", line + "-> " + p.action);
  } else if (!p.help) {
    if (p.exit_code != 1) violated("a refused command line exits 1", line);
    if (p.error.empty()) violated("a refused command line says why", line);
  }
  return 0;
}
