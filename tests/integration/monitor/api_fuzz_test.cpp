/*
 * api_fuzz_test.cpp — every function of the monitor's SQL API, called with hostile arguments
 * against a real PostgreSQL 15 with the pgautofailover extension. Port 25470.
 *
 * The functions are enumerated from pg_proc (every function of schema pgautofailover, every
 * overload), so a function added later is fuzzed without editing this file. Each argument type
 * has a pool of values: NULL, empty and 1 MB strings, quotes and backslashes, zero, negative,
 * extreme and unknown ids, unknown formations, every replication_state label, odd LSNs. For every
 * function: all arguments at a baseline value (one that passes the first checks: a free port, a
 * known node name...), all NULL, each argument through its whole pool with the others at
 * baseline, then 40 seeded random combinations (PGAF_SEED=<n> replays them;
 * PGAF_API_FUZZ_CALLS=<n> makes it n per function).
 * Before each function the monitor holds a converged formation (primary + secondary) and a
 * second, empty formation, so calls also meet "wrong states" (a node already primary, a
 * formation with nodes, a formation that does not exist).
 *
 * Checked:
 *  - every call ends in a valid answer or a clean SQL error: a five-character SQLSTATE outside
 *    class XX (internal error) and 58 (system error), never a statement timeout, and the session
 *    survives (same backend, connection OK);
 *  - the server never crashes: the postmaster PID is unchanged and its log has no PANIC, no
 *    "terminated by signal", no "server process ... was terminated", no reinitialisation, no TRAP;
 *  - after each function, the tables satisfy the monitor's invariants: at most one writable goal
 *    per group (the invariant decide() asserts), every node's formation exists, no node is in goal
 *    state unknown, number_sync_standbys is not negative, node names are unique per formation and
 *    host:port pairs are unique.
 * The figures (calls, answers, errors per SQLSTATE, per function and in all) are printed;
 * PGAF_API_FUZZ_VERBOSE=1 also prints the first error of each SQLSTATE of each function.
 */
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "monitor_fixture.hpp"

using namespace pgaf::test;

namespace {

constexpr int kPort = 25470;
constexpr int kRandomCallsPerFunction = 40; /* PGAF_API_FUZZ_CALLS=<n> for a longer run */

struct Function {
  std::string name;
  std::string identity; /* pg_get_function_identity_arguments */
  std::vector<std::string> types;
  std::vector<std::string> names; /* input argument names ("" when unnamed) */
};

/* Values (SQL literals) for one argument type; the first one is the baseline. */
std::vector<std::string> pool_for(const std::string& type) {
  const std::string huge = "repeat('x', 1048576)";
  if (type == "text")
    return {"'default'",
            "NULL",
            "''",
            huge,
            "'nope'",
            "'node_1'",
            "'f2'",
            "'h1'",
            "'pgsql'",
            "E'q''uote\\\\back\\nslash'",
            "'default;DROP TABLE pgautofailover.node'"};
  if (type == "name") return {"'postgres'", "NULL", "''", "repeat('n', 200)", "'pg_auto_failover'"};
  if (type == "integer")
    return {"0", "NULL", "-1", "1", "2", "5432", "65536", "101", "2147483647", "-2147483648"};
  if (type == "bigint")
    return {
        "1", "NULL", "0", "-1", "2", "3", "424242", "9223372036854775807", "-9223372036854775808"};
  if (type == "boolean") return {"true", "NULL", "false"};
  if (type == "pg_lsn") return {"'0/0'", "NULL", "'0/3000000'", "'FFFFFFFF/FFFFFFFF'"};
  if (type == "pgautofailover.replication_state") {
    std::vector<std::string> v = {"'init'", "NULL"};
    for (const char* s : {"unknown",          "single",
                          "wait_primary",     "primary",
                          "draining",         "demote_timeout",
                          "demoted",          "catchingup",
                          "secondary",        "prepare_promotion",
                          "stop_replication", "wait_standby",
                          "maintenance",      "join_primary",
                          "apply_settings",   "prepare_maintenance",
                          "wait_maintenance", "report_lsn",
                          "fast_forward",     "join_secondary",
                          "dropped"})
      v.push_back(std::string("'") + s + "'");
    return v;
  }
  return {"NULL"};
}

/* A baseline that lets the call get past its first check, by argument name (else the pool's
 * first value). */
std::string baseline(const std::string& function, const std::string& name,
                     const std::vector<std::string>& pool) {
  if (function == "register_node" && name == "node_name") return "''"; /* a new node: node_<id> */
  static const std::map<std::string, std::string> by_name = {
      {"node_port", "5433"},         {"candidate_priority", "50"},
      {"node_host", "'h9'"},         {"sysidentifier", "42"},
      {"node_sysidentifier", "42"},  {"desired_node_id", "-1"},
      {"desired_group_id", "-1"},    {"count", "10"},
      {"node_name", "'node_1'"},     {"number_sync_standbys", "0"},
      {"node_kind", "'standalone'"}, {"node_cluster", "'default'"},
      {"kind", "'pgsql'"},           {"cluster_name", "'default'"},
      {"sslmode", "'prefer'"}};
  auto it = by_name.find(name);
  return it != by_name.end() ? it->second : pool.front();
}

/* Positional, or named notation ("formation_id" => ('x')::text, ...): overloads of the API that
 * differ only by a defaulted argument (last_events, current_state) are ambiguous (42725) in one
 * notation or the other. */
std::string call_sql(const Function& f, const std::vector<std::string>& args, bool named) {
  std::string sql = "SELECT * FROM pgautofailover." + f.name + "(";
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i > 0) sql += ", ";
    if (named && i < f.names.size() && !f.names[i].empty()) sql += "\"" + f.names[i] + "\" => ";
    sql += "(" + args[i] + ")::" + f.types[i];
  }
  return sql + ")";
}

std::string shorten(const std::string& s) {
  return s.size() <= 300 ? s : s.substr(0, 300) + "...";
}

const char* kInvariants[][2] = {
    {"at most one writable goal per group",
     "SELECT count(*) FROM (SELECT 1 FROM pgautofailover.node WHERE goalstate IN ('single', "
     "'wait_primary', 'primary', 'join_primary', 'apply_settings') GROUP BY formationid, groupid "
     "HAVING count(*) > 1) x"},
    {"every node's formation exists",
     "SELECT count(*) FROM pgautofailover.node n WHERE NOT EXISTS (SELECT 1 FROM "
     "pgautofailover.formation f WHERE f.formationid = n.formationid)"},
    {"no node has goal state unknown",
     "SELECT count(*) FROM pgautofailover.node WHERE goalstate = 'unknown'"},
    {"number_sync_standbys is not negative",
     "SELECT count(*) FROM pgautofailover.formation WHERE number_sync_standbys < 0"},
    {"node names unique per formation",
     "SELECT count(*) FROM (SELECT 1 FROM pgautofailover.node GROUP BY formationid, nodename "
     "HAVING count(*) > 1) x"},
    {"host:port unique",
     "SELECT count(*) FROM (SELECT 1 FROM pgautofailover.node GROUP BY nodehost, nodeport HAVING "
     "count(*) > 1) x"},
};

class MonitorApiFuzz : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = start_monitor(kPort, false, {"statement_timeout = 10s"});
    postmaster_ = read_postmaster_pid();
    ASSERT_GT(postmaster_, 0);
  }

  long read_postmaster_pid() {
    std::ifstream in(pg_->data_dir() + "/postmaster.pid");
    long pid = -1;
    in >> pid;
    return pid;
  }

  /* Empty the tables, then build formation 'default' (node 1 primary, node 2 secondary) and an
   * empty formation 'f2'. */
  void reset(PgConnection& c) {
    c.exec(
        "DELETE FROM pgautofailover.node; DELETE FROM pgautofailover.event; "
        "DELETE FROM pgautofailover.formation WHERE formationid <> 'default'; "
        "UPDATE pgautofailover.formation SET opt_secondary = true, number_sync_standbys = 0, "
        "kind = 'pgsql', dbname = 'postgres'");
    c.exec("SELECT pgautofailover.create_formation('f2', 'pgsql', 'postgres', true, 0)");
    c.exec(
        "SELECT * FROM pgautofailover.register_node('default', 'h1', 5432, 'postgres', "
        "sysidentifier => 42, desired_node_id => 1)");
    c.exec(
        "SELECT * FROM pgautofailover.node_active('default', 1, 0, 'single', true, 1, "
        "'0/1000000', '')");
    c.exec(
        "SELECT * FROM pgautofailover.register_node('default', 'h2', 5432, 'postgres', "
        "sysidentifier => 42, desired_node_id => 2)");
    std::map<int, std::string> goal = {{1, "single"}, {2, "wait_standby"}};
    for (int round = 0; round < 40; ++round) {
      for (int id : {1, 2}) {
        goal[id] = c.query_value(
            "SELECT assigned_group_state FROM pgautofailover.node_active('default', " +
            std::to_string(id) + ", 0, '" + goal[id] + "', true, 1, '0/1000000', '')");
      }
      if (goal[1] == "primary" && goal[2] == "secondary" &&
          c.query_value("SELECT count(*) FROM pgautofailover.node WHERE reportedstate <> "
                        "goalstate") == "0")
        return;
    }
    FAIL() << "the formation did not converge: node 1 " << goal[1] << ", node 2 " << goal[2];
  }

  void check_invariants(PgConnection& c, const std::string& after) {
    for (const auto& inv : kInvariants)
      EXPECT_EQ(c.query_value(inv[1]), "0") << inv[0] << " (after " << after << ")";
  }

  void check_server(const std::string& after) {
    EXPECT_EQ(read_postmaster_pid(), postmaster_) << "the postmaster changed after " << after;
    std::ifstream in(pg_->log_path());
    std::string line;
    while (std::getline(in, line)) {
      for (const char* bad : {"PANIC", "terminated by signal", "was terminated",
                              "all server processes terminated", "TRAP:"})
        EXPECT_EQ(line.find(bad), std::string::npos)
            << "server log after " << after << ": " << line;
    }
  }

  std::unique_ptr<PgCluster> pg_;
  long postmaster_ = -1;
};

TEST_F(MonitorApiFuzz, EveryFunctionEndsInAnAnswerOrACleanError) {
  unsigned seed = static_cast<unsigned>(std::random_device{}());
  if (const char* s = std::getenv("PGAF_SEED"))
    seed = static_cast<unsigned>(std::strtoul(s, nullptr, 10));
  std::cout << "[api-fuzz] seed " << seed << " (PGAF_SEED=" << seed << " replays it)" << std::endl;
  std::mt19937 rng(seed);
  int random_calls = kRandomCallsPerFunction;
  if (const char* n = std::getenv("PGAF_API_FUZZ_CALLS")) random_calls = std::atoi(n);
  /* PGAF_API_FUZZ_VERBOSE: print the first error of each kind */
  const bool verbose = std::getenv("PGAF_API_FUZZ_VERBOSE") != nullptr;

  auto c = pg_->connect("pg_auto_failover");
  const int backend = c.backend_pid();
  std::vector<Function> functions;
  for (const Row& r :
       c.query("SELECT p.proname, pg_get_function_identity_arguments(p.oid), "
               "coalesce((SELECT string_agg(format_type(t.oid, NULL), ',' ORDER BY t.n) FROM "
               "unnest(p.proargtypes::oid[]) WITH ORDINALITY AS t(oid, n)), ''), "
               /* input argument names: proargnames covers every argument (OUT ones too) when
                  proargmodes is set, else only the input ones */
               "coalesce((SELECT string_agg(coalesce(a.name, ''), ',' ORDER BY a.n) FROM "
               "unnest(p.proargnames) WITH ORDINALITY AS a(name, n) WHERE p.proargmodes IS NULL "
               "OR p.proargmodes[a.n] IN ('i', 'b', 'v')), '') "
               "FROM pg_proc p WHERE p.pronamespace = 'pgautofailover'::regnamespace "
               "ORDER BY p.proname, p.oid")) {
    Function f{r[0], r[1], {}, {}};
    std::stringstream ss(r[2]);
    std::string t;
    while (std::getline(ss, t, ',')) f.types.push_back(t);
    std::stringstream ns(r[3]);
    while (std::getline(ns, t, ',')) f.names.push_back(t);
    if (f.names.size() != f.types.size()) f.names.clear(); /* positional then */
    functions.push_back(f);
  }
  ASSERT_GE(functions.size(), 30u) << "the API was not enumerated";

  std::map<std::string, int> outcomes; /* "ok" or SQLSTATE → count */
  int calls = 0;
  for (const Function& f : functions) {
    std::map<std::string, int> mine;
    reset(c);
    if (HasFatalFailure()) return;
    std::vector<std::vector<std::string>> pools;
    for (const auto& t : f.types) pools.push_back(pool_for(t));
    std::vector<std::vector<std::string>> arg_sets;
    std::vector<std::string> base, nulls;
    for (std::size_t i = 0; i < pools.size(); ++i) {
      base.push_back(baseline(f.name, i < f.names.size() ? f.names[i] : "", pools[i]));
      nulls.push_back("NULL");
    }
    arg_sets.push_back(base);
    arg_sets.push_back(nulls);
    for (std::size_t i = 0; i < pools.size(); ++i)
      for (std::size_t v = 0; v < pools[i].size(); ++v) {
        auto a = base;
        a[i] = pools[i][v];
        arg_sets.push_back(a);
      }
    if (!pools.empty())
      for (int k = 0; k < random_calls; ++k) {
        std::vector<std::string> a;
        for (const auto& p : pools) a.push_back(p[rng() % p.size()]);
        arg_sets.push_back(a);
      }
    for (const auto& args : arg_sets) {
      std::string sql = call_sql(f, args, false);
      ++calls;
      QueryResult r = c.try_query(sql);
      ASSERT_EQ(PQstatus(c.raw()), CONNECTION_OK) << "the session died in: " << shorten(sql);
      if (!r.ok && r.sqlstate == "42725") {
        sql = call_sql(f, args, true);
        r = c.try_query(sql);
        ASSERT_EQ(PQstatus(c.raw()), CONNECTION_OK) << "the session died in: " << shorten(sql);
      }
      const std::string outcome = r.ok ? "ok" : r.sqlstate;
      ++outcomes[outcome];
      if (++mine[outcome] == 1 && !r.ok && verbose)
        std::cout << "[api-fuzz]   first " << r.sqlstate << ": " << r.message << " in "
                  << shorten(sql) << std::endl;
      if (r.ok) continue;
      EXPECT_NE(r.sqlstate, "42725") << "ambiguous call (the test's fault): " << shorten(sql);
      ASSERT_EQ(r.sqlstate.size(), 5u) << r.message << " in: " << shorten(sql);
      EXPECT_NE(r.sqlstate.substr(0, 2), "XX") << r.message << " in: " << shorten(sql);
      EXPECT_NE(r.sqlstate.substr(0, 2), "58") << r.message << " in: " << shorten(sql);
      EXPECT_NE(r.sqlstate, "57014") << "a call hung: " << shorten(sql);
    }
    check_invariants(c, f.name + "(" + f.identity + ")");
    std::cout << "[api-fuzz] " << f.name << "(" << f.identity << "):";
    for (const auto& [k, n] : mine) std::cout << " " << k << "=" << n;
    std::cout << std::endl;
  }
  EXPECT_EQ(c.backend_pid(), backend) << "the session was re-established";
  check_server("the whole run");
  std::cout << "[api-fuzz] " << functions.size() << " functions, " << calls << " calls:";
  for (const auto& [k, n] : outcomes) std::cout << " " << k << "=" << n;
  std::cout << std::endl;
}

}  // namespace
