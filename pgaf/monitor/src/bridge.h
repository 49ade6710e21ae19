/*
 * bridge.h — the extern "C" wall between PostgreSQL (C, longjmp errors) and the monitor's C++.
 *
 * Two directions, plain C types only:
 *   C → C++ : pgaf_call() runs one SQL-callable function; pgaf_worker_*() run health-check work.
 *             They are noexcept: every C++ exception is caught and turned into a PgafStatus.
 *             Their output is malloc'd and freed by pgaf_result_free()/pgaf_status_free().
 *   C++ → C : pgaf_db_*() give the C++ code database access. Each runs inside PG_TRY at the C
 *             level: a PostgreSQL error is copied ("stashed"), the function returns -1, and the
 *             C++ code unwinds normally; the C entry point re-throws the stashed error once the
 *             C++ call has returned (so no longjmp ever crosses a C++ frame). After a stash, every
 *             further pgaf_db_*() call fails immediately.
 *
 * Invariant: C++ code never calls a PostgreSQL function directly; C code never holds a C++
 * object. Values cross as text (the types' output/input functions do the conversions).
 */
#ifndef PGAF_MONITOR_BRIDGE_H
#define PGAF_MONITOR_BRIDGE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The SQL-callable functions implemented in C++ (one C symbol each, see entry.c). */
typedef enum PgafFn {
  PGAF_FN_REGISTER_NODE = 0,
  PGAF_FN_NODE_ACTIVE,
  PGAF_FN_GET_PRIMARY,
  PGAF_FN_REMOVE_NODE_BY_NODEID,
  PGAF_FN_REMOVE_NODE_BY_HOST,
  PGAF_FN_PERFORM_FAILOVER,
  PGAF_FN_PERFORM_PROMOTION,
  PGAF_FN_START_MAINTENANCE,
  PGAF_FN_STOP_MAINTENANCE,
  PGAF_FN_SET_NODE_CANDIDATE_PRIORITY,
  PGAF_FN_SET_NODE_REPLICATION_QUORUM,
  PGAF_FN_SET_FORMATION_NUMBER_SYNC_STANDBYS,
  PGAF_FN_SYNCHRONOUS_STANDBY_NAMES,
  PGAF_FN_FORMATION_URI,
  PGAF_FN_COUNT
} PgafFn;

typedef struct PgafStatus {
  int failed;       /* 0 = success */
  char sqlstate[6]; /* five characters and a NUL, when failed */
  char *message;    /* malloc'd or NULL */
  char *detail;     /* malloc'd or NULL */
  char *hint;       /* malloc'd or NULL */
} PgafStatus;

/* One result: nrows x ncols text cells (NULL = SQL NULL), malloc'd. A scalar function returns
 * one row of one column; a void function returns zero rows. */
typedef struct PgafResult {
  int nrows;
  int ncols;
  char **cells;
} PgafResult;

/* Settings as the GUCs hold them (entry.c owns the variables; C++ reads them through
 * pgaf_gucs()). Units as in the names. */
typedef struct PgafGucs {
  int health_check_period_ms;
  int health_check_timeout_ms;
  int health_check_max_retries;
  int health_check_retry_delay_ms;
  int node_considered_unhealthy_timeout_ms;
  int startup_grace_period_ms;
  int enable_sync_wal_log_threshold_bytes;
  int promote_wal_log_threshold_bytes;
  int primary_demote_timeout_ms; /* kept for compatibility; unused (fencing replaces it) */
  int lease_ms;
  int standby_vouch_ms;
  int clock_drift_ppm;
  int lease_margin_ms;
  int tick_interval_ms;
  int enable_version_checks;  /* bool */
  int enable_health_checks;   /* bool */
} PgafGucs;

/* ---- implemented in C++ (noexcept) ---- */

void pgaf_call(PgafFn fn, int nargs, const char *const *args, PgafResult *out, PgafStatus *status);
void pgaf_result_free(PgafResult *r);
void pgaf_status_free(PgafStatus *s);
/* Defaults of the GUCs, from pgaf::Settings (the one settings struct). */
void pgaf_default_gucs(PgafGucs *g);

/* Health-check worker. One round = load targets (inside a transaction, via pgaf_db_*), probe them
 * (outside any transaction: libpq only, no PostgreSQL call), apply results and ticks (inside a
 * transaction). The round state lives in C++ and is opaque to C. */
typedef struct PgafHealthRound PgafHealthRound;
PgafHealthRound *pgaf_health_round_new(void);
void pgaf_health_round_free(PgafHealthRound *round);
/* Inside a transaction with SPI connected. */
void pgaf_health_load(PgafHealthRound *round, PgafStatus *status);
/* Outside any transaction. should_stop() is polled between waits (at least every 100 ms). */
void pgaf_health_probe(PgafHealthRound *round, int (*should_stop)(void));
/* The same in slices: start, then step (at most max_ms each; returns 1 while some node is still
 * being probed), then plan the apply phase. Outside any transaction. */
void pgaf_health_probe_start(PgafHealthRound *round);
int pgaf_health_probe_step(PgafHealthRound *round, int (*should_stop)(void), int max_ms);
void pgaf_health_plan(PgafHealthRound *round);
/* Plan a TickEvent for every group of the last load only (then apply as below). */
void pgaf_health_plan_ticks(PgafHealthRound *round);
/* Inside a transaction with SPI connected: the next step of the apply phase (one node's
 * HealthCheckEvent, or one group's TickEvent). Run each step in its own transaction while
 * pgaf_health_apply_pending() says so; a failed step is skipped (logged). */
void pgaf_health_apply(PgafHealthRound *round, PgafStatus *status);
int pgaf_health_apply_pending(const PgafHealthRound *round);
int pgaf_health_round_node_count(const PgafHealthRound *round);

/* ---- implemented in C (entry.c); callable from C++ ---- */

/* A query result, palloc'd in the current SPI procedure context (valid until SPI_finish). */
typedef struct PgafRows {
  int nrows;
  int ncols;
  char **cells; /* row-major; NULL = SQL NULL */
} PgafRows;

/* Run statement `sql` with text parameters $1..$nargs (declared text; cast in the SQL). plan_id
 * (0..PGAF_MAX_PLANS-1) identifies a statement whose plan is prepared once per backend and
 * kept; -1 means no caching. Returns 0 on success, -1 when a PostgreSQL error was stashed. */
#define PGAF_MAX_PLANS 64
int pgaf_db_query(int plan_id, const char *sql, int nargs, const char *const *args, int read_only,
                  PgafRows *out);

/* Formation lock (key2 = -1) or group lock, transaction-scoped; mode: 1 = share, 2 = exclusive.
 * Returns 0, or -1 when an error (e.g. deadlock, cancel) was stashed. */
int pgaf_db_lock(const char *formation_id, int group_id, int mode);
int pgaf_db_unlock(const char *formation_id, int group_id, int mode);

/* level: 0 = LOG, 1 = NOTICE, 2 = WARNING. Returns 0 or -1 (stashed). */
int pgaf_db_message(int level, const char *text);

/* Clock of the monitor: milliseconds since the Unix epoch. */
int64_t pgaf_db_now_ms(void);
/* When the monitor (re)started: the later of the postmaster start and the last shared-memory
 * initialisation (a crash restart). Every commit lost in a crash happened before it. */
int64_t pgaf_db_postmaster_start_ms(void);

/* SET LOCAL synchronous_commit = off for the current transaction (steady-state reports only;
 * see docs/monitor.md for why that is safe). Returns 0 or -1 (stashed). */
int pgaf_db_async_commit(void);

/* The current GUC values. */
const PgafGucs *pgaf_gucs(void);

/* Whether a PostgreSQL error is stashed (then the current C++ call must unwind). */
int pgaf_db_error_stashed(void);

#ifdef __cplusplus
}
#endif

#endif /* PGAF_MONITOR_BRIDGE_H */
