/*
 * demo_summary.hpp — what `pg_autoctl do demo summary` prints, as pure functions: the demo
 * clients' connection rows (demo.tracking) and their acknowledged inserts (demo.client) in, the
 * reference's per-client statistics table and pgaf's acknowledged-inserts table out. The command
 * (cli_do_demo.cpp) only reads the rows, so the statistics are tested without a server
 * (tests/unit/cli/demo_summary_test.cpp).
 *
 * Invariants: one statistics row per client (ascending), then "All Clients Combined"; times are
 * in milliseconds rounded to 3 decimals; p95 / p99 are PostgreSQL's percentile_cont (linear
 * interpolation between the closest ranks), as the reference's SQL computes them. A client's
 * "lost" acknowledged inserts are the loops it saw committed that the table does not hold.
 */
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace pgaf::cli {

/* One row of demo.tracking: a client's loop that connected and inserted. */
struct DemoConnection {
  int client = 0;
  int loop = 0;
  std::int64_t retries = 0; /* connection attempts that failed before this one succeeded */
  std::int64_t us = 0;      /* time to connect, retries included, in microseconds */
};

/* One row of the reference's summary table. */
struct DemoClientStats {
  std::string label; /* "Client 3" or "All Clients Combined" */
  std::int64_t connections = 0;
  std::int64_t retries = 0;
  double min_ms = 0, max_ms = 0, p95_ms = 0, p99_ms = 0;
};

/* What one client reported at its end (demo.client). */
struct DemoClientReport {
  int client = 0;
  std::set<int> acked;     /* loops whose commit returned */
  std::int64_t failed = 0; /* loops whose connection, insert or commit failed */
};

/* One row of the acknowledged-inserts table. */
struct DemoInsertStats {
  int client = 0;
  std::int64_t rows = 0;   /* rows of this client in demo.tracking */
  std::int64_t acked = 0;  /* commits the client saw succeed */
  std::int64_t failed = 0; /* loops the client saw fail */
  std::int64_t lost = 0;   /* acknowledged loops missing from demo.tracking */
};

/* percentile_cont(p) of values (any order); 0 when empty. */
double percentile_cont(std::vector<double> values, double p);

/* The reference's statistics: per client, then all clients combined (none when rows is empty). */
std::vector<DemoClientStats> demo_statistics(const std::vector<DemoConnection>& rows);

/* Acknowledged inserts against the table's rows, per client that reported or inserted. */
std::vector<DemoInsertStats> demo_insert_stats(const std::vector<DemoConnection>& rows,
                                               const std::vector<DemoClientReport>& reports);

/* psql's aligned format: centred headers, numbers right-aligned, text left-aligned, "(N rows)".
 * right_aligned[i] tells whether column i holds numbers. */
std::string psql_table(const std::vector<std::string>& headers,
                       const std::vector<std::vector<std::string>>& rows,
                       const std::vector<bool>& right_aligned);

/* The reference's summary table ("Client | Connections | Retries | Min Connect Time (ms) | max |
 * p95 | p99"), then the acknowledged inserts ("Client | Inserts | Acked | Failed | Lost Acked"). */
std::string demo_summary_text(const std::vector<DemoClientStats>& stats,
                              const std::vector<DemoInsertStats>& inserts);

}  // namespace pgaf::cli
