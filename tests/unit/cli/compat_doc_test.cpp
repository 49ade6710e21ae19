/*
 * compat_doc_test.cpp — docs/compatibility.md cannot drift from the CLI: every command and every
 * option of the CLI11 tree (the do tree included) has a row, and every row marked "same" or
 * "better" names a command and option the CLI has. Rows: | `command` | `--option` or — | status |
 * why |, status one of same, better, refused, missing.
 */
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "pgaf/cli/cli.hpp"

#ifndef PGAF_COMPAT_DOC
#error "PGAF_COMPAT_DOC must name docs/compatibility.md"
#endif

namespace {

std::string trim_cell(std::string s) {
  const auto b = s.find_first_not_of(" `");
  const auto e = s.find_last_not_of(" `");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

struct Row {
  std::string command, option, status;
  int line = 0;
};

std::vector<Row> read_rows() {
  std::ifstream in(PGAF_COMPAT_DOC);
  std::vector<Row> rows;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    for (std::string c; std::getline(ss, c, '|');) cells.push_back(c);
    if (cells.size() < 3) continue;
    Row r{trim_cell(cells[0]), trim_cell(cells[1]), trim_cell(cells[2]), n};
    if (r.option == "—" || r.option == "-") r.option.clear();
    r.status = r.status.substr(0, r.status.find(' '));
    rows.push_back(r);
  }
  return rows;
}

TEST(CompatDoc, EveryCommandAndOptionIsDocumented) {
  const auto rows = read_rows();
  ASSERT_FALSE(rows.empty()) << "no table rows in " << PGAF_COMPAT_DOC;
  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& r : rows) documented.insert({r.command, r.option});
  int missing = 0;
  for (const auto& spec : pgaf::cli::command_specs()) {
    const std::string cmd = spec.path.empty() ? "(global)" : spec.path;
    if (!documented.count({cmd, ""})) {
      ADD_FAILURE() << "| `" << cmd << "` | — | same | |   <- missing from the doc";
      ++missing;
    }
    for (const auto& opt : spec.options) {
      if (!documented.count({cmd, opt})) {
        ADD_FAILURE() << "| `" << cmd << "` | `" << opt << "` | same | |   <- missing from the doc";
        ++missing;
      }
    }
  }
  EXPECT_EQ(missing, 0);
}

TEST(CompatDoc, EveryRowIsTrueOfTheCli) {
  std::map<std::string, std::set<std::string>> cli;
  for (const auto& spec : pgaf::cli::command_specs()) {
    auto& opts = cli[spec.path.empty() ? "(global)" : spec.path];
    opts.insert(spec.options.begin(), spec.options.end());
  }
  for (const auto& r : read_rows()) {
    EXPECT_TRUE(r.status == "same" || r.status == "better" || r.status == "refused" ||
                r.status == "missing")
        << "line " << r.line << ": unknown status \"" << r.status << "\"";
    if (r.command.rfind("sql ", 0) == 0) continue; /* monitor SQL API rows */
    if (r.status != "same" && r.status != "better") continue;
    auto it = cli.find(r.command);
    EXPECT_NE(it, cli.end()) << "line " << r.line << ": `" << r.command << "` is documented as "
                             << r.status << " but the CLI lacks it";
    if (it != cli.end() && !r.option.empty()) {
      EXPECT_TRUE(it->second.count(r.option))
          << "line " << r.line << ": `" << r.command << " " << r.option << "` is documented as "
          << r.status << " but the CLI lacks it";
    }
  }
}

}  // namespace
