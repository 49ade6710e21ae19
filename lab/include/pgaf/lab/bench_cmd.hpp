/*
 * bench_cmd.hpp — `lab bench FILE... [--runs N] [--load N] [--markdown FILE --label L]`: each
 * scenario run N times, the client-observed recovery table printed (and written into a marked
 * section of a markdown file). See bench.hpp for what the figures are.
 */
#pragma once
#include <string>
#include <vector>

#include "pgaf/lab/runner.hpp"

namespace pgaf::lab {

struct BenchOptions {
  int runs = 5;
  int load_threads = 0;       /* busy threads spinning for the whole bench */
  std::string markdown_file;  /* empty: print only */
  std::string label = "idle"; /* section label in the markdown file */
  std::string command_files;  /* the files as given, for the table's note */
};

/* Returns the exit status: 0 when every run ran and no acknowledged write was lost. */
int run_bench(const std::vector<Scenario>& cases, const BenchOptions& b, RunOptions opt);

}  // namespace pgaf::lab
