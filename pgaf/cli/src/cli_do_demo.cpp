/*
 * cli_do_demo.cpp — pg_autoctl do demo run|uri|ping|summary (PG_AUTOCTL_DEBUG set): the
 * reference's demo application. `uri` prints the formation URI the monitor gives; `ping`
 * connects through it and tells how long it took and which server answered; `run` creates the
 * demo schema, runs --clients client threads that each loop (a new connection and transaction
 * per loop) inserting through the formation URI and retrying their connection, and a failover
 * thread (perform_failover on the monitor at --first-failover seconds, then every
 * --failover-freq) for --duration seconds, then prints the summary; `summary` prints it again.
 *
 * Invariants: every wait is bounded (a connection by connect_timeout, its retries by the run's
 * end plus kDemoRetryBudgetS, the wait for a new primary by listen_notifications_timeout_ms),
 * except a COMMIT the server holds while it waits for a synchronous standby: cancelling it would
 * make the server report a commit that is not replicated, so the client waits for the server
 * (pgaf's fence terminates the sessions of a node that lost its lease, docs/design/fencing.md);
 * clients are threads, each with its own connection and a random generator seeded from the
 * printed seed (--seed replays it); a client counts a loop as acknowledged only when its commit
 * returned, and stores those loops in demo.client at its end so `summary` can check them.
 * Exit codes are the reference's: bad arguments 1, monitor unreachable 6, Postgres failing 4,
 * the failover thread failing 12.
 */
#include <libpq-fe.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "cli_do_internal.hpp"
#include "pgaf/cli/demo_summary.hpp"

namespace pgaf::cli {

/* ---------------- the summary, pure functions (demo_summary.hpp) ---------------- */

double percentile_cont(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double pos = p * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = static_cast<std::size_t>(std::ceil(pos));
  return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

namespace {

DemoClientStats stats_of(const std::string& label, const std::vector<const DemoConnection*>& rs) {
  DemoClientStats s;
  s.label = label;
  std::vector<double> ms;
  for (const DemoConnection* r : rs) {
    const double v = static_cast<double>(r->us) / 1000.0;
    s.min_ms = s.connections == 0 ? v : std::min(s.min_ms, v);
    s.max_ms = s.connections == 0 ? v : std::max(s.max_ms, v);
    ++s.connections;
    s.retries += r->retries;
    ms.push_back(v);
  }
  s.p95_ms = percentile_cont(ms, 0.95);
  s.p99_ms = percentile_cont(ms, 0.99);
  return s;
}

std::string ms3(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

}  // namespace

std::vector<DemoClientStats> demo_statistics(const std::vector<DemoConnection>& rows) {
  std::map<int, std::vector<const DemoConnection*>> by_client;
  std::vector<const DemoConnection*> all;
  for (const auto& r : rows) {
    by_client[r.client].push_back(&r);
    all.push_back(&r);
  }
  std::vector<DemoClientStats> out;
  for (const auto& [client, rs] : by_client)
    out.push_back(stats_of("Client " + std::to_string(client), rs));
  if (!all.empty()) out.push_back(stats_of("All Clients Combined", all));
  return out;
}

std::vector<DemoInsertStats> demo_insert_stats(const std::vector<DemoConnection>& rows,
                                               const std::vector<DemoClientReport>& reports) {
  std::map<int, std::set<int>> loops;
  std::map<int, std::int64_t> counts;
  for (const auto& r : rows) {
    loops[r.client].insert(r.loop);
    ++counts[r.client];
  }
  std::map<int, DemoInsertStats> out;
  for (const auto& [client, n] : counts) {
    out[client].client = client;
    out[client].rows = n;
  }
  for (const auto& rep : reports) {
    DemoInsertStats& s = out[rep.client];
    s.client = rep.client;
    s.acked = static_cast<std::int64_t>(rep.acked.size());
    s.failed = rep.failed;
    const auto& have = loops[rep.client];
    for (int loop : rep.acked)
      if (!have.count(loop)) ++s.lost;
  }
  std::vector<DemoInsertStats> v;
  for (const auto& [client, s] : out) v.push_back(s);
  return v;
}

std::string psql_table(const std::vector<std::string>& headers,
                       const std::vector<std::vector<std::string>>& rows,
                       const std::vector<bool>& right_aligned) {
  std::vector<std::size_t> width(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i) width[i] = headers[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells, bool header) {
    std::string s;
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string c = i < cells.size() ? cells[i] : "";
      const std::size_t pad = width[i] - c.size();
      const bool last = i + 1 == width.size();
      std::size_t left = header ? pad / 2 : (right_aligned[i] ? pad : 0);
      std::size_t right = pad - left;
      if (last && (header || !right_aligned[i])) right = 0; /* psql drops trailing spaces */
      s += (i == 0 ? " " : "| ") + std::string(left, ' ') + c + std::string(right, ' ');
      if (!last) s += " ";
    }
    return s + "\n";
  };
  std::string out = line(headers, true);
  for (std::size_t i = 0; i < width.size(); ++i)
    out += (i == 0 ? "" : "+") + std::string(width[i] + 2, '-');
  out += "\n";
  for (const auto& r : rows) out += line(r, false);
  out += "(" + std::to_string(rows.size()) + (rows.size() == 1 ? " row)\n" : " rows)\n");
  return out + "\n";
}

std::string demo_summary_text(const std::vector<DemoClientStats>& stats,
                              const std::vector<DemoInsertStats>& inserts) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : stats) {
    rows.push_back({s.label, std::to_string(s.connections), std::to_string(s.retries),
                    ms3(s.min_ms), ms3(s.max_ms), ms3(s.p95_ms), ms3(s.p99_ms)});
  }
  std::string out =
      psql_table({"Client", "Connections", "Retries", "Min Connect Time (ms)", "max", "p95", "p99"},
                 rows, {false, true, true, true, true, true, true});
  rows.clear();
  for (const auto& s : inserts) {
    rows.push_back({"Client " + std::to_string(s.client), std::to_string(s.rows),
                    std::to_string(s.acked), std::to_string(s.failed), std::to_string(s.lost)});
  }
  return out + psql_table({"Client", "Inserts", "Acked", "Failed", "Lost Acked"}, rows,
                          {false, true, true, true, true});
}

namespace detail {
namespace {

constexpr int kMaxClients = 128;      /* the reference's MAX_CLIENTS_COUNT */
constexpr int kRetrySleepMs = 500;    /* first connection retry (the reference's) */
constexpr int kRetryCapMs = 2000;     /* longest sleep between connection retries */
constexpr int kDemoRetryBudgetS = 60; /* retries go on at most this long past the end */
constexpr int kLoopSleepMinMs = 10;   /* a client sleeps 10..200 ms between loops, */
constexpr int kLoopSleepMaxMs = 200;  /* as the reference's */

struct DemoOptions {
  std::string monitor, formation = "default", username;
  int group = 0, clients = 1, duration = 30, first_failover = 10, failover_freq = 45;
  bool no_failover = false;
  std::uint64_t seed = 0;
  bool seed_given = false;
};

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

Status check_options(const DemoOptions& d) {
  auto bad = [](const std::string& msg, const std::string& hint) {
    return make_error(ErrorCode::InvalidArgument, msg, hint);
  };
  if (d.monitor.empty())
    return bad("please provide --monitor", "or set PG_AUTOCTL_MONITOR to the monitor's URI");
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(d.monitor.c_str(), &err);
  std::string why = err != nullptr ? err : "";
  if (err != nullptr) PQfreemem(err);
  if (opts == nullptr) {
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return bad("failed to parse --monitor connection string: " + why,
               "e.g. postgres://autoctl_node@host:5432/pg_auto_failover");
  }
  PQconninfoFree(opts);
  if (d.group < 0) return bad("--group argument is not a valid group ID", "use 0 or more");
  if (d.clients < 1 || d.clients > kMaxClients) {
    return bad("unsupported value for --clients: " + std::to_string(d.clients),
               "use at least 1 and at most " + std::to_string(kMaxClients));
  }
  if (d.duration < 1) return bad("--duration must be at least 1 second", "");
  if (d.first_failover < 0) return bad("--first-failover must be 0 or more seconds", "");
  if (d.failover_freq < 1) return bad("--failover-freq must be at least 1 second", "");
  return Status::Ok();
}

std::string username_of(const DemoOptions& d) {
  if (!d.username.empty()) return d.username;
  if (const char* u = std::getenv("PGUSER"); u != nullptr && *u != '\0') return u;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr) return pw->pw_name;
  return "postgres";
}

/* The formation URI (the monitor's formation_uri), with the demo's user and connect timeout. */
Result<std::string> formation_uri(const DemoOptions& d) {
  Settings s;
  auto m = agent::make_monitor_client(d.monitor, s);
  auto uri = m->formation_uri(d.formation, "prefer", "", "");
  if (!uri) return uri.error();
  if (!*uri) {
    return make_error(
        ErrorCode::Monitor,
        "failed to grab the Postgres URI to connect to formation \"" + d.formation + "\"",
        "see pg_autoctl show state --formation " + d.formation);
  }
  return **uri;
}

std::string with_params(std::string uri, const std::string& user) {
  std::string enc;
  for (const char ch : user) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '_' || c == '-' || c == '.') {
      enc += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      enc += buf;
    }
  }
  const Settings s;
  uri += (uri.find('?') == std::string::npos ? "?" : "&");
  return uri + "user=" + enc + "&connect_timeout=" +
         std::to_string(Settings::connect_timeout_seconds(s.monitor_call_timeout_ms));
}

/* Run SQL through the URI with connection retries until `deadline`: the schema and the clients'
 * final reports. */
Status execute_with_retry(const std::string& uri, const std::string& sql,
                          const std::function<void(pqxx::work&)>& run, Clock::time_point deadline) {
  std::string last;
  while (true) {
    try {
      pqxx::connection c(uri);
      pqxx::work tx(c);
      run(tx);
      tx.commit();
      return Status::Ok();
    } catch (const std::exception& e) {
      last = e.what();
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(kRetrySleepMs));
  }
  while (!last.empty() && last.back() == '\n') last.pop_back();
  return make_error(ErrorCode::Pgsql, "demo statement failed: " + last, sql);
}

const std::vector<std::string> kSchema = {
    "drop schema if exists demo cascade", "create schema demo",
    "create table demo.tracking(ts timestamptz default now(), client integer, loop integer, "
    "retries integer, us bigint, recovery bool)",
    "create table demo.client(client integer, pid integer, retry_sleep_ms integer, "
    "retry_cap_ms integer, failover_count integer, acked integer[], failed integer)"};

struct RunState {
  std::atomic<int> failovers{0};
  std::atomic<bool> failover_failed{false};
};

void client_loop(const std::string& uri, int id, const DemoOptions& d, std::uint64_t seed,
                 Clock::time_point start, RunState& run) {
  std::mt19937_64 rng(seed + static_cast<std::uint64_t>(id));
  std::uniform_int_distribution<int> pause(kLoopSleepMinMs, kLoopSleepMaxMs);
  const auto end = start + std::chrono::seconds(d.duration);
  const auto give_up = end + std::chrono::seconds(kDemoRetryBudgetS);
  std::vector<int> acked;
  int failed = 0;
  auto last_log = Clock::time_point{};
  for (int loop = 0;; ++loop) {
    if (loop > 0) std::this_thread::sleep_for(std::chrono::milliseconds(pause(rng)));
    if (Clock::now() >= end) break;
    const auto t0 = Clock::now();
    std::unique_ptr<pqxx::connection> c;
    int retries = 0;
    int sleep_ms = kRetrySleepMs;
    while (!c && Clock::now() < give_up) {
      try {
        c = std::make_unique<pqxx::connection>(uri);
      } catch (const std::exception& e) {
        ++retries;
        std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
        sleep_ms = std::min(kRetryCapMs, sleep_ms * 2);
      }
    }
    if (!c) {
      ++failed;
      spdlog::error("Client {} failed to connect after {} attempts", id, retries);
      break;
    }
    const double connect_ms = ms_since(t0);
    if (retries > 0) {
      spdlog::info("Client {} connected after {} attempts in {:5.3f}ms", id, retries, connect_ms);
      last_log = Clock::now();
    } else if (last_log == Clock::time_point{} ||
               Clock::now() - last_log >= std::chrono::seconds(10)) {
      spdlog::info("Client {} connected in {:5.3f} ms in loop {}", id, connect_ms, loop);
      last_log = Clock::now();
    }
    try {
      pqxx::work tx(*c);
      const bool recovery = tx.exec1("select pg_is_in_recovery()")[0].as<bool>();
      tx.exec_params(
          "insert into demo.tracking(client, loop, retries, us, recovery) "
          "values($1, $2, $3, $4, $5)",
          id, loop, retries, static_cast<long long>(connect_ms * 1000.0), recovery);
      tx.commit();
      acked.push_back(loop);
    } catch (const std::exception& e) {
      ++failed;
      std::string what = e.what();
      while (!what.empty() && what.back() == '\n') what.pop_back();
      spdlog::warn("Client {} insert of loop {} failed: {}", id, loop, what);
    }
  }
  std::string arr = "{";
  for (std::size_t i = 0; i < acked.size(); ++i) arr += (i ? "," : "") + std::to_string(acked[i]);
  arr += "}";
  const int failovers = run.failovers.load();
  const Status s = execute_with_retry(
      uri,
      "insert into demo.client(client, pid, retry_sleep_ms, retry_cap_ms, failover_count, acked, "
      "failed) values($1, $2, $3, $4, $5, $6::int[], $7)",
      [&](pqxx::work& tx) {
        tx.exec_params(
            "insert into demo.client(client, pid, retry_sleep_ms, retry_cap_ms, failover_count, "
            "acked, failed) values($1, $2, $3, $4, $5, $6::int[], $7)",
            id, static_cast<int>(::getpid()), kRetrySleepMs, kRetryCapMs, failovers, arr, failed);
      },
      give_up);
  if (!s) spdlog::error("Client {} could not record its report: {}", id, s.error().message);
}

/* perform_failover at first_failover, then every failover_freq seconds, while the run lasts;
 * after each, wait (bounded) until another node is a primary. */
void failover_loop(const DemoOptions& d, Clock::time_point start, RunState& run) {
  Settings s;
  auto m = agent::make_monitor_client(d.monitor, s);
  const auto end = start + std::chrono::seconds(d.duration);
  spdlog::info("Failover client is started, will failover in {}s and every {}s after that",
               d.first_failover, d.failover_freq);
  for (int at = d.first_failover;; at += d.failover_freq) {
    const auto when = start + std::chrono::seconds(at);
    if (when >= end) return;
    std::this_thread::sleep_until(when);
    /* the primary before the failover: the wait below is for another node */
    std::string old;
    if (auto rows = m->current_state(d.formation)) {
      for (const auto& r : *rows)
        if (r.group_id == d.group && converged_primary(r)) old = r.name;
    }
    if (old.empty()) {
      spdlog::error("Failed to find the primary of formation \"{}\" group {} before a failover",
                    d.formation, d.group);
      run.failover_failed = true;
      return;
    }
    spdlog::info("pg_autoctl perform failover");
    if (Status st = m->perform_failover(d.formation, d.group); !st) {
      spdlog::error("Failed to perform failover/switchover: {}", st.error().message);
      run.failover_failed = true;
      return;
    }
    const bool ok = wait_for_rows(
        *m, d.formation, d.group, static_cast<int>(s.listen_notifications_timeout_ms / 1000),
        [&](const std::vector<agent::StateRow>& rows) {
          for (const auto& r : rows)
            if (r.group_id == d.group && r.name != old && converged_primary(r)) return true;
          return false;
        });
    if (!ok) {
      spdlog::error("Failed to wait until a new primary has been notified");
      run.failover_failed = true;
      return;
    }
    ++run.failovers;
    spdlog::info("Failover {} done: a new primary serves formation \"{}\"", run.failovers.load(),
                 d.formation);
  }
}

int print_summary(const std::string& uri, const DemoOptions& d) {
  std::vector<DemoConnection> rows;
  std::vector<DemoClientReport> reports;
  try {
    pqxx::connection c(uri);
    pqxx::read_transaction tx(c);
    for (const auto& r : tx.exec("select client, loop, retries, us from demo.tracking")) {
      rows.push_back(
          {r[0].as<int>(), r[1].as<int>(), r[2].as<std::int64_t>(), r[3].as<std::int64_t>()});
    }
    for (const auto& r : tx.exec("select client, coalesce(array_to_string(acked, ','), ''), "
                                 "coalesce(failed, 0) from demo.client order by client")) {
      DemoClientReport rep;
      rep.client = r[0].as<int>();
      std::string list = r[1].as<std::string>();
      for (std::size_t p = 0; p < list.size();) {
        const std::size_t q = std::min(list.find(',', p), list.size());
        rep.acked.insert(std::stoi(list.substr(p, q - p)));
        p = q + 1;
      }
      rep.failed = r[2].as<std::int64_t>();
      reports.push_back(rep);
    }
  } catch (const std::exception& e) {
    std::string what = e.what();
    while (!what.empty() && what.back() == '\n') what.pop_back();
    return fail(make_error(ErrorCode::Pgsql, "could not read the demo tables: " + what,
                           "pg_autoctl do demo run creates them"));
  }
  spdlog::info("Summary for the demo app running with {} clients for {}s", d.clients, d.duration);
  std::cout << demo_summary_text(demo_statistics(rows), demo_insert_stats(rows, reports))
            << std::flush;
  return 0;
}

/* uri, then the lines every command but `uri` logs first. */
Result<std::string> prepare(const DemoOptions& d, bool log) {
  if (Status s = check_options(d); !s) return s.error();
  auto uri = formation_uri(d);
  if (!uri) return uri.error();
  if (log) {
    spdlog::info("Using application connection string \"{}\"", *uri);
    spdlog::info("Using Postgres user PGUSER \"{}\"", username_of(d));
  }
  return *uri;
}

int cmd_demo(const std::string& what, const DemoOptions& d) {
  auto uri = prepare(d, what != "uri");
  if (!uri) return fail(uri.error());
  if (what == "uri") {
    std::cout << *uri << std::endl;
    return 0;
  }
  const std::string conn = with_params(*uri, username_of(d));
  if (what == "summary") return print_summary(conn, d);
  if (what == "ping") {
    const auto t0 = Clock::now();
    try {
      pqxx::connection c(conn);
      pqxx::nontransaction tx(c);
      const auto r = tx.exec1(
          "select pg_is_in_recovery(), coalesce(host(inet_server_addr()), 'local'), "
          "current_setting('port')");
      spdlog::info("Connected after 1 attempt(s) in {:g} ms", ms_since(t0));
      spdlog::info("Connected to server {}:{}", r[1].as<std::string>(), r[2].as<std::string>());
      if (r[0].as<bool>()) {
        return fail(make_error(ErrorCode::Pgsql,
                               "Failed to connect to a primary node: Postgres is in recovery"));
      }
      std::cout << r[1].as<std::string>() << ":" << r[2].as<std::string>() << std::endl;
      spdlog::info("Target Postgres is not in recovery, as expected from a primary node");
      return 0;
    } catch (const std::exception& e) {
      std::string why = e.what();
      while (!why.empty() && why.back() == '\n') why.pop_back();
      return fail(make_error(ErrorCode::Pgsql, "could not connect to the formation: " + why,
                             "see pg_autoctl show state"));
    }
  }
  /* run */
  const std::uint64_t seed = d.seed_given ? d.seed : std::random_device{}();
  spdlog::info("Demo clients use seed {} (replay with --seed {})", seed, seed);
  const auto schema_deadline = Clock::now() + std::chrono::seconds(kDemoRetryBudgetS);
  for (const auto& ddl : kSchema) {
    spdlog::info("Preparing demo schema: {}", ddl);
    if (Status s = execute_with_retry(
            conn, ddl, [&ddl](pqxx::work& tx) { tx.exec(ddl); }, schema_deadline);
        !s) {
      (void)fail(s.error());
      spdlog::critical("Failed to install the demo application schema");
      return exit_code(ErrorCode::Internal);
    }
  }
  spdlog::info("Starting {} concurrent clients as threads", d.clients);
  RunState run;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  if (!d.no_failover) threads.emplace_back([&] { failover_loop(d, start, run); });
  for (int i = 1; i <= d.clients; ++i)
    threads.emplace_back([&, i] { client_loop(conn, i, d, seed, start, run); });
  for (auto& t : threads) t.join();
  if (run.failover_failed) {
    spdlog::critical("Failed to run the demo application");
    return exit_code(ErrorCode::Internal);
  }
  spdlog::info("Demo done after {} failover(s)", run.failovers.load());
  return print_summary(conn, d);
}

}  // namespace

void add_do_demo_commands(CLI::App* d, Context& ctx) {
  auto* demo = d->add_subcommand("demo", "use a demo application for pg_auto_failover");
  demo->require_subcommand(1);
  auto opts = std::make_shared<DemoOptions>();
  const std::vector<std::pair<const char*, const char*>> cmds = {
      {"run", "run the pg_auto_failover demo application"},
      {"uri", "grab the application connection string from the monitor"},
      {"ping", "attempt to connect to the application URI"},
      {"summary", "display a summary of the previous demo app run"}};
  for (const auto& [w, help] : cmds) {
    auto* s = demo->add_subcommand(w, help);
    DemoOptions& o = *opts;
    s->add_option("--monitor", o.monitor, "Postgres URI of the pg_auto_failover monitor")
        ->envname("PG_AUTOCTL_MONITOR");
    s->add_option("--formation", o.formation, "formation to use (default)");
    s->add_option("--group", o.group, "group id to failover (0)");
    s->add_option("--username", o.username, "PostgreSQL's username");
    s->add_option("--clients", o.clients, "how many client threads to use (1)");
    s->add_option("--duration", o.duration, "duration of the demo app, in seconds (30)");
    s->add_option("--first-failover", o.first_failover, "timing of the first failover (10)");
    s->add_option("--failover-freq", o.failover_freq, "seconds between failovers (45)");
    s->add_flag("--no-failover", o.no_failover, "do not perform any failover");
    s->add_option("--seed", o.seed, "seed of the clients' random pauses (printed by run)")
        ->each([&o](const std::string&) { o.seed_given = true; });
    const std::string what = w;
    ctx.command(s, "do demo " + what, [opts, what] { return cmd_demo(what, *opts); });
  }
}

}  // namespace detail
}  // namespace pgaf::cli
