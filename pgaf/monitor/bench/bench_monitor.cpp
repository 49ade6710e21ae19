/*
 * bench_monitor.cpp — the monitor benchmark (a command, not a test): prints node_active/s and
 * get_primary/s measured by pgbench against a real PostgreSQL 15 with the pgautofailover
 * extension (started through the tests/support fixture, as postgres, on loopback).
 *
 * Workload: G formations of 2 nodes, converged primary/secondary. node_active: each transaction
 * is one steady-state report of a random existing node (its converged state; nothing changes but
 * its report columns). get_primary: each transaction asks the primary of a random formation.
 * pgbench -M prepared -c <clients> -j <threads> -T <seconds>.
 *
 * By default the server is durable (fsync and synchronous_commit on, as a real monitor);
 * --no-fsync measures the CPU path only. The extension must be installed (ctest -R
 * monitor.install, or pgaf/monitor/bench/bench-monitor which does it).
 *
 * Usage: pgaf-bench-monitor [--clients N] [--threads N] [--seconds N] [--groups N] [--port N]
 *                           [--no-fsync]
 */
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>

#include "pgaf/test/pg_cluster.hpp"

namespace {

struct Options {
  int clients = 8;
  int threads = 2;
  int seconds = 10;
  int groups = 50;
  int port = 25480;
  bool fsync = true;
};

int parse_int(const char* flag, const char* v) {
  if (v == nullptr) {
    std::fprintf(stderr, "pgaf-bench-monitor: %s needs a value\n", flag);
    std::exit(1);
  }
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || n <= 0 || n > 100000) {
    std::fprintf(stderr, "pgaf-bench-monitor: invalid value for %s: \"%s\"\n", flag, v);
    std::exit(1);
  }
  return static_cast<int>(n);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--clients") {
      o.clients = parse_int("--clients", v);
      ++i;
    } else if (a == "--threads") {
      o.threads = parse_int("--threads", v);
      ++i;
    } else if (a == "--seconds") {
      o.seconds = parse_int("--seconds", v);
      ++i;
    } else if (a == "--groups") {
      o.groups = parse_int("--groups", v);
      ++i;
    } else if (a == "--port") {
      o.port = parse_int("--port", v);
      ++i;
    } else if (a == "--no-fsync") {
      o.fsync = false;
    } else {
      std::fprintf(stderr,
                   "usage: pgaf-bench-monitor [--clients N] [--threads N] [--seconds N] "
                   "[--groups N] [--port N] [--no-fsync]\n");
      std::exit(a == "--help" ? 0 : 1);
    }
  }
  return o;
}

/* Bring formation b<k> to primary (node 2k-1) + secondary (node 2k). */
void setup_group(pgaf::test::PgConnection& c, int k) {
  const std::string f = "'b" + std::to_string(k) + "'";
  const std::string p = std::to_string(2 * k - 1);
  const std::string s = std::to_string(2 * k);
  auto active = [&](const std::string& id, const char* state) {
    return c.query_value("SELECT assigned_group_state FROM pgautofailover.node_active(" + f + ", " +
                         id + ", 0, '" + state + "', true, 1, '0/3000000')");
  };
  c.exec("SELECT pgautofailover.create_formation(" + f + ", 'pgsql', 'postgres', true, 0)");
  c.exec("SELECT pgautofailover.register_node(" + f + ", '127.0.0.1', " +
         std::to_string(30000 + 2 * k - 1) + ", 'postgres', sysidentifier => " +
         std::to_string(k) + ", desired_node_id => " + p + ")");
  active(p, "single");
  c.exec("SELECT pgautofailover.register_node(" + f + ", '127.0.0.1', " +
         std::to_string(30000 + 2 * k) + ", 'postgres', sysidentifier => " + std::to_string(k) +
         ", desired_node_id => " + s + ")");
  active(s, "wait_standby");
  active(p, "single");
  active(p, "wait_primary");
  active(s, "wait_standby");
  active(s, "catchingup");
  active(s, "secondary");
  active(p, "wait_primary");
  const std::string goal = active(p, "primary");
  if (goal != "primary") throw std::runtime_error("group " + f + " did not converge: " + goal);
}

double run_pgbench(const pgaf::test::PgCluster& pg, const Options& o, const std::string& name,
                   const std::string& script) {
  const std::string path = pg.dir() + "/" + name + ".sql";
  {
    std::ofstream f(path);
    f << script;
  }
  const auto as = pgaf::test::postgres_identity();
  if (as.drop && chown(path.c_str(), as.uid, as.gid) != 0)
    throw std::runtime_error("cannot chown " + path);
  auto r = pgaf::test::run_command(
      {pgaf::test::pg_bindir() + "/pgbench", "-n", "-M", "prepared", "-c",
       std::to_string(o.clients), "-j", std::to_string(o.threads), "-T",
       std::to_string(o.seconds), "-f", path, "-h", "127.0.0.1", "-p", std::to_string(o.port),
       "-U", "postgres", "pg_auto_failover"},
      {}, (o.seconds + 60) * 1000);
  std::smatch m;
  static const std::regex tps(R"(tps = ([0-9.]+) \(without initial connection time\))");
  static const std::regex failed(R"(number of failed transactions: ([0-9]+))");
  if (r.exit_code != 0 || !std::regex_search(r.output, m, tps))
    throw std::runtime_error("pgbench failed (" + name + "):\n" + r.output);
  const double value = std::stod(m[1].str());
  std::smatch f;
  if (std::regex_search(r.output, f, failed) && f[1].str() != "0")
    throw std::runtime_error("pgbench reported failed transactions (" + name + "):\n" + r.output);
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    pgaf::test::PgClusterOptions c;
    c.port = o.port;
    c.name = "pgaf-bench-monitor";
    c.conf_lines = {"shared_preload_libraries = 'pgautofailover'",
                    "pgautofailover.enable_health_checks = off",
                    "max_connections = 100",
                    "shared_buffers = 128MB"};
    if (o.fsync) {
      c.conf_lines.push_back("fsync = on");
      c.conf_lines.push_back("synchronous_commit = on");
    }
    pgaf::test::PgCluster pg(c);
    pg.exec("CREATE DATABASE pg_auto_failover");
    pg.exec("CREATE EXTENSION pgautofailover CASCADE", "pg_auto_failover");
    auto conn = pg.connect("pg_auto_failover");
    for (int k = 1; k <= o.groups; ++k) setup_group(conn, k);
    const std::string events_before = conn.query_value("SELECT count(*) FROM pgautofailover.event");

    const std::string g = std::to_string(o.groups);
    const double na = run_pgbench(
        pg, o, "node_active",
        "\\set k random(1, " + g + ")\n\\set s random(0, 1)\n"
        "SELECT * FROM pgautofailover.node_active('b' || :k::text, 2 * :k - 1 + :s, 0, "
        "(CASE WHEN :s = 0 THEN 'primary' ELSE 'secondary' END)::pgautofailover.replication_state, "
        "true, 1, '0/3000000'::pg_lsn, CASE WHEN :s = 0 THEN 'sync' ELSE 'quorum' END);\n");
    const std::string events_after = conn.query_value("SELECT count(*) FROM pgautofailover.event");
    const double gp = run_pgbench(pg, o, "get_primary",
                                  "\\set k random(1, " + g + ")\n"
                                  "SELECT * FROM pgautofailover.get_primary('b' || :k::text, 0);\n");
    const std::string writable = conn.query_value(
        "SELECT count(*) FROM pgautofailover.node WHERE goalstate = 'primary'");

    std::printf("pgaf monitor benchmark: pgbench -M prepared, %d clients, %d threads, %d s, %d "
                "groups of 2 nodes, fsync %s\n",
                o.clients, o.threads, o.seconds, o.groups, o.fsync ? "on" : "off");
    std::printf("node_active/s: %.0f\n", na);
    std::printf("get_primary/s: %.0f\n", gp);
    std::printf("events written during the node_active run: %lld (steady state: expected 0)\n",
                std::atoll(events_after.c_str()) - std::atoll(events_before.c_str()));
    std::printf("primaries after the run: %s of %d groups\n", writable.c_str(), o.groups);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pgaf-bench-monitor: %s\n", e.what());
    return 1;
  }
}
