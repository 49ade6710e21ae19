/*
 * health.cpp — the health-check rounds of the background worker (C++ side; entry.c runs the
 * worker loop, the transactions and the signals).
 *
 * A round: load the nodes (in a transaction), probe them all concurrently with non-blocking
 * libpq connection attempts (outside any transaction; no PostgreSQL call at all), then in a
 * transaction send each result through decide() as a HealthCheckEvent, and a TickEvent to every
 * group (so an expired lease is acted on even when no node reports). The worker also sends the
 * TickEvents every monitor_tick_interval_ms between and during rounds (the probe runs in slices,
 * pgaf_health_probe_step), so the end of a lease or vouch wait is acted on within that bound.
 *
 * Per node: attempt → OK (health good) or failure/timeout → retry after retry_delay; after
 * max_retries + 1 failed attempts the node is bad. Each attempt is bounded by
 * health_check_timeout; should_stop() is polled at least every 100 ms.
 *
 * Connection string as the reference: user and password pgautofailover_monitor, dbname postgres.
 */
#include <libpq-fe.h>
#include <poll.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "bridge.h"
#include "db.hpp"
#include "group_store.hpp"

using Clock = std::chrono::steady_clock;

namespace {

struct Target {
  pgaf::NodeId id = 0;
  std::string formation;
  pgaf::GroupId group = 0;
  std::string host;
  int port = 0;

  enum class Phase { Connecting, Waiting, Done } phase = Phase::Waiting;
  PGconn* conn = nullptr;
  PostgresPollingStatusType poll_status = PGRES_POLLING_WRITING;
  int tries = 0;
  Clock::time_point deadline{};
  Clock::time_point next_attempt{};
  pgaf::Health result = pgaf::Health::Unknown;
};

void close_conn(Target& t) {
  if (t.conn != nullptr) PQfinish(t.conn);
  t.conn = nullptr;
}

}  // namespace

struct PgafHealthRound {
  std::vector<Target> targets;
  /* the decisions of the apply phase, one transaction each: a HealthCheckEvent per probed node,
   * then a TickEvent per group. `next` is the first one not yet applied. */
  struct Step {
    bool tick = false;
    std::size_t target = 0;  /* !tick: index into targets */
    std::string formation;   /* tick */
    pgaf::GroupId group = 0; /* tick */
  };
  std::vector<Step> steps;
  std::size_t next = 0;
  ~PgafHealthRound() {
    for (auto& t : targets) close_conn(t);
  }
};

namespace {

void set_error(PgafStatus* st, const pgaf::Error& e) {
  st->failed = 1;
  std::strncpy(st->sqlstate, pgaf::sqlstate(e.code), 5);
  st->sqlstate[5] = '\0';
  st->message = strdup(e.message.c_str());
}

void set_exception(PgafStatus* st, const char* what) {
  st->failed = 1;
  std::memcpy(st->sqlstate, "XX000", 6);
  st->message = strdup(what);
}

void fail_attempt(Target& t, const PgafGucs& g, Clock::time_point now) {
  close_conn(t);
  ++t.tries;
  if (t.tries >= g.health_check_max_retries + 1) {
    t.result = pgaf::Health::Bad;
    t.phase = Target::Phase::Done;
  } else {
    t.phase = Target::Phase::Waiting;
    t.next_attempt = now + std::chrono::milliseconds(g.health_check_retry_delay_ms);
  }
}

/* A conninfo value in single quotes, with ' and \ escaped as libpq wants. */
std::string conninfo_quote(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

void start_attempt(Target& t, const PgafGucs& g, Clock::time_point now) {
  const int timeout_s = std::max(1, (g.health_check_timeout_ms + 999) / 1000);
  const std::string conninfo = "host=" + conninfo_quote(t.host) + " port=" + std::to_string(t.port) +
                               " user=pgautofailover_monitor password=pgautofailover_monitor"
                               " dbname=postgres connect_timeout=" +
                               std::to_string(timeout_s) +
                               " application_name='pg_auto_failover health check'";
  t.conn = PQconnectStart(conninfo.c_str());
  t.deadline = now + std::chrono::milliseconds(g.health_check_timeout_ms);
  t.poll_status = PGRES_POLLING_WRITING;
  if (t.conn == nullptr || PQstatus(t.conn) == CONNECTION_BAD) {
    fail_attempt(t, g, now);
    return;
  }
  t.phase = Target::Phase::Connecting;
}

void probe_start(PgafHealthRound& round) {
  const PgafGucs g = *pgaf_gucs();
  const auto now = Clock::now();
  for (auto& t : round.targets) {
    t.tries = 0;
    t.result = pgaf::Health::Unknown;
    start_attempt(t, g, now);
  }
}

/* Drive the connection attempts for at most max_ms (bounded waits of ≤ 100 ms each). Returns
 * true while some target is still pending. */
bool probe_step(PgafHealthRound& round, int (*should_stop)(), int max_ms) {
  const PgafGucs g = *pgaf_gucs();
  const auto until = Clock::now() + std::chrono::milliseconds(std::max(1, max_ms));
  for (;;) {
    if (should_stop != nullptr && should_stop() != 0) return false;
    auto now = Clock::now();
    std::vector<pollfd> fds;
    std::vector<Target*> polled;
    auto wake = std::min(until, now + std::chrono::milliseconds(100));
    bool pending = false;
    for (auto& t : round.targets) {
      if (t.phase == Target::Phase::Done) continue;
      pending = true;
      if (t.phase == Target::Phase::Waiting) {
        if (t.next_attempt <= now) {
          start_attempt(t, g, now);
        } else {
          wake = std::min(wake, t.next_attempt);
          continue;
        }
      }
      if (t.phase != Target::Phase::Connecting) continue;
      wake = std::min(wake, t.deadline);
      pollfd p{};
      p.fd = PQsocket(t.conn);
      p.events = t.poll_status == PGRES_POLLING_READING ? POLLIN : POLLOUT;
      fds.push_back(p);
      polled.push_back(&t);
    }
    if (!pending) return false;
    const auto wait_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now()).count();
    (void)poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(0, wait_ms)));
    now = Clock::now();
    for (std::size_t i = 0; i < polled.size(); ++i) {
      Target& t = *polled[i];
      if (fds[i].revents != 0) {
        t.poll_status = PQconnectPoll(t.conn);
        if (t.poll_status == PGRES_POLLING_OK) {
          close_conn(t);
          t.result = pgaf::Health::Good;
          t.phase = Target::Phase::Done;
          continue;
        }
        if (t.poll_status == PGRES_POLLING_FAILED) {
          fail_attempt(t, g, now);
          continue;
        }
      }
      if (now >= t.deadline) fail_attempt(t, g, now);
    }
    if (now >= until) return true;
  }
}

/* The groups of the loaded targets, in order, once each. */
std::vector<std::pair<std::string, pgaf::GroupId>> groups_of(const PgafHealthRound& round) {
  std::vector<std::pair<std::string, pgaf::GroupId>> groups;
  for (const auto& t : round.targets) {
    bool seen = false;
    for (const auto& g : groups) seen = seen || (g.first == t.formation && g.second == t.group);
    if (!seen) groups.emplace_back(t.formation, t.group);
  }
  return groups;
}

void add_ticks(PgafHealthRound& round) {
  for (const auto& [formation, group] : groups_of(round)) {
    PgafHealthRound::Step s;
    s.tick = true;
    s.formation = formation;
    s.group = group;
    round.steps.push_back(s);
  }
}

/* Build the apply steps of a probed round. */
void plan(PgafHealthRound& round) {
  round.steps.clear();
  round.next = 0;
  for (std::size_t i = 0; i < round.targets.size(); ++i) {
    const auto& t = round.targets[i];
    if (t.phase != Target::Phase::Done || t.result == pgaf::Health::Unknown) continue;
    PgafHealthRound::Step s;
    s.target = i;
    round.steps.push_back(s);
  }
  add_ticks(round);
}

/* Apply ONE step (the caller runs each in its own transaction). One transaction for the whole
 * round would keep the row lock of an early health update while a later step of the same group
 * waits for the exclusive group lock, which a node_active of that node — holding the group lock
 * in share mode and waiting for that row — never releases: a deadlock that PostgreSQL breaks
 * only after deadlock_timeout, by aborting one of them. */
pgaf::Status apply_one(PgafHealthRound& round) {
  using namespace pgaf;
  using namespace pgaf::monitor;
  if (round.next >= round.steps.size()) return Status::Ok();
  const PgafHealthRound::Step step = round.steps[round.next++];
  Db db;
  RunOptions o;
  o.try_shared = true;
  if (!step.tick) {
    const Target& t = round.targets[step.target];
    if (Status st = db.lock_formation(t.formation, false); !st.ok()) return st;
    o.own_node = t.id;
    auto r = run_decision(db, t.formation, t.group, HealthCheckEvent{t.id, t.result}, o);
    if (!r.ok()) {
      if (pgaf_db_error_stashed()) return r.error();
      /* the node was removed meanwhile, or decide refused: report and go on */
      (void)db.message(MessageLevel::Log, "pgautofailover health check of node " +
                                              std::to_string(t.id) + ": " + r.error().message);
    }
    return Status::Ok();
  }
  if (Status st = db.lock_formation(step.formation, false); !st.ok()) return st;
  auto r = run_decision(db, step.formation, step.group, TickEvent{}, o);
  if (!r.ok()) {
    if (pgaf_db_error_stashed()) return r.error();
    (void)db.message(MessageLevel::Log, "pgautofailover tick of formation \"" + step.formation +
                                            "\" group " + std::to_string(step.group) + ": " +
                                            r.error().message);
  }
  return Status::Ok();
}

pgaf::Status load(PgafHealthRound& round) {
  using namespace pgaf;
  using namespace pgaf::monitor;
  Db db;
  for (auto& t : round.targets) close_conn(t);
  round.targets.clear();
  auto rows = db.query(Stmt::HealthTargets, {});
  if (!rows.ok()) return rows.error();
  for (int i = 0; i < rows->size(); ++i) {
    Target t;
    auto id = parse_int64(rows->at(i, 0), "nodeid");
    if (!id.ok()) return id.error();
    t.id = *id;
    t.formation = rows->str(i, 1);
    t.group = std::atoi(rows->at(i, 2));
    t.host = rows->str(i, 3);
    t.port = std::atoi(rows->at(i, 4));
    round.targets.push_back(std::move(t));
  }
  return Status::Ok();
}

}  // namespace

extern "C" PgafHealthRound* pgaf_health_round_new(void) {
  try {
    return new PgafHealthRound();
  } catch (...) {
    return nullptr;
  }
}

extern "C" void pgaf_health_round_free(PgafHealthRound* round) { delete round; }

extern "C" int pgaf_health_round_node_count(const PgafHealthRound* round) {
  return static_cast<int>(round->targets.size());
}

extern "C" void pgaf_health_load(PgafHealthRound* round, PgafStatus* status) {
  std::memset(status, 0, sizeof *status);
  try {
    if (auto st = load(*round); !st.ok()) set_error(status, st.error());
  } catch (const std::exception& e) {
    set_exception(status, e.what());
  } catch (...) {
    set_exception(status, "unknown exception");
  }
}

namespace {
void abort_probe(PgafHealthRound& round) {
  for (auto& t : round.targets) {
    close_conn(t);
    t.phase = Target::Phase::Waiting; /* nothing applied from an aborted probe */
  }
}
}  // namespace

extern "C" void pgaf_health_probe_start(PgafHealthRound* round) {
  try {
    probe_start(*round);
  } catch (...) {
    abort_probe(*round);
  }
}

extern "C" int pgaf_health_probe_step(PgafHealthRound* round, int (*should_stop)(void),
                                      int max_ms) {
  try {
    return probe_step(*round, should_stop, max_ms) ? 1 : 0;
  } catch (...) {
    abort_probe(*round);
    return 0;
  }
}

extern "C" void pgaf_health_plan(PgafHealthRound* round) {
  try {
    plan(*round);
  } catch (...) {
    round->steps.clear(); /* out of memory: nothing to apply this round */
    round->next = 0;
  }
}

extern "C" void pgaf_health_plan_ticks(PgafHealthRound* round) {
  round->steps.clear();
  round->next = 0;
  try {
    add_ticks(*round);
  } catch (...) {
    round->steps.clear();
  }
}

extern "C" void pgaf_health_probe(PgafHealthRound* round, int (*should_stop)(void)) {
  pgaf_health_probe_start(round);
  while (pgaf_health_probe_step(round, should_stop, 100) != 0) {
  }
  pgaf_health_plan(round);
}

extern "C" int pgaf_health_apply_pending(const PgafHealthRound* round) {
  return round->next < round->steps.size() ? 1 : 0;
}

extern "C" void pgaf_health_apply(PgafHealthRound* round, PgafStatus* status) {
  std::memset(status, 0, sizeof *status);
  try {
    if (auto st = apply_one(*round); !st.ok()) set_error(status, st.error());
  } catch (const std::exception& e) {
    set_exception(status, e.what());
  } catch (...) {
    set_exception(status, "unknown exception");
  }
}
