/*
 * pg_cluster.hpp — THE shared PostgreSQL 15 test fixture (tests/support, library pgaf_test_pg).
 *
 * A PgCluster is one real PostgreSQL 15 server in a fresh temporary directory:
 *   - the directory is created with mkdtemp under $TMPDIR (or /tmp), owned by `postgres` (when we
 *     are root) and mode 0700; the data directory is <dir>/data, the server log <dir>/postgres.log,
 *     the Unix socket lives in <dir>;
 *   - initdb, postgres and every other tool run as the `postgres` user when we are root (the child
 *     drops privileges: setgroups, setgid, setuid, then exec); as a non-root user they run as
 *     that user;
 *   - the server listens on 127.0.0.1:<port> only (tests use loopback only);
 *   - every process the fixture starts carries PGAF_TEST_FIXTURE=<token> in its environment, which
 *     Postgres children inherit: surviving_processes(token) finds them all;
 *   - the destructor stops the server (fast, then immediate, then SIGKILL, each bounded) and removes
 *     the directory. Nothing survives a PgCluster.
 *
 * Errors: query()/exec() throw PgError (a std::runtime_error carrying the SQLSTATE); try_query()
 * returns it instead. Setup failures (initdb, start) throw FixtureError with the log tail.
 *
 * Every wait is bounded (see the *_timeout_ms fields).
 *
 * Port ranges (to run ctest -j safely): monitor tests 25400-25499, agent tests 25500-25699.
 */
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct pg_conn; /* libpq's PGconn */

namespace pgaf::test {

/* A failure of the fixture itself (initdb failed, server did not start in time, ...). */
class FixtureError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/* A failed SQL statement: the server's message and SQLSTATE ("" if not from the server). */
class PgError : public std::runtime_error {
 public:
  PgError(std::string sqlstate, const std::string& message)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

/* Rows as text, as psql -A prints them: a NULL is the empty string (use IS NULL in SQL if the
 * difference matters). */
using Row = std::vector<std::string>;
using Rows = std::vector<Row>;

struct QueryResult {
  bool ok = true;
  std::string sqlstate; /* when !ok */
  std::string message;  /* when !ok: the primary message */
  Rows rows;
  std::vector<std::string> columns;
  std::vector<std::string> notices; /* NOTICE/WARNING messages raised by the statement */
};

struct Notification {
  std::string channel;
  std::string payload;
  int backend_pid = 0;
};

/* ---- processes ---- */

struct CommandResult {
  int exit_code = -1;    /* -1 when killed by a signal or timed out */
  bool timed_out = false;
  std::string output;    /* stdout and stderr, interleaved */
};

/* Run argv[0] (absolute path) to completion, as `postgres` when we are root (or as ourselves),
 * with a clean environment plus `env`, for at most timeout_ms (then SIGKILL). */
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {},
                          int timeout_ms = 60000, bool as_postgres = true);

/* PIDs of live processes whose environment carries PGAF_TEST_FIXTURE=<token>. */
std::vector<pid_t> surviving_processes(const std::string& token);

/* Directory of the PostgreSQL 15 binaries (initdb, pg_ctl, postgres, ...). */
std::string pg_bindir();

/* uid/gid of `postgres`, or our own when not root. */
struct RunAs {
  uid_t uid;
  gid_t gid;
  bool drop; /* true when we are root and must drop to postgres */
};
RunAs postgres_identity();

/* ---- one connection ---- */

class PgConnection {
 public:
  /* Connect with a libpq conninfo string; throws PgError on failure (bounded by connect_timeout,
   * which the fixture always sets). */
  explicit PgConnection(const std::string& conninfo);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  PgConnection(PgConnection&& o) noexcept;
  PgConnection& operator=(PgConnection&& o) noexcept;

  /* Run one statement (or several separated by ';', rows of the last are returned). */
  Rows query(const std::string& sql);
  /* First column of the first row; throws PgError if there is no row. */
  std::string query_value(const std::string& sql);
  void exec(const std::string& sql) { (void)query(sql); }
  QueryResult try_query(const std::string& sql);

  /* Wait up to timeout_ms for one notification (LISTEN first). */
  std::optional<Notification> wait_notification(int timeout_ms);

  int backend_pid() const;
  pg_conn* raw() { return conn_; }

 private:
  pg_conn* conn_ = nullptr;
  /* heap-allocated so the libpq notice receiver's pointer survives a move */
  std::unique_ptr<std::vector<std::string>> notices_;
};

/* ---- one server ---- */

struct PgClusterOptions {
  int port = 0;                        /* required: 25400-25499 for monitor tests */
  std::vector<std::string> conf_lines; /* appended to postgresql.conf, e.g.
                                          "shared_preload_libraries = 'pgautofailover'" */
  std::vector<std::string> hba_lines;  /* prepended to pg_hba.conf */
  std::string superuser = "postgres";
  bool start = true;                   /* start the server in the constructor */
  int initdb_timeout_ms = 60000;
  int start_timeout_ms = 30000;
  int stop_timeout_ms = 30000;
  std::string name = "pgaf";           /* prefix of the temp dir name */
};

class PgCluster {
 public:
  /* initdb (and start, unless options.start is false). Throws FixtureError. */
  explicit PgCluster(PgClusterOptions options);
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  void start();   /* start and wait until it accepts connections; no-op when running */
  void stop();    /* fast shutdown, bounded; no-op when stopped */
  void restart(); /* stop + start */
  /* Send SIGHUP to the postmaster (pg_reload_conf() equivalent). */
  void reload();
  bool running() const { return postmaster_pid_ > 0; }

  /* Append lines to postgresql.conf (take effect at the next reload/restart). */
  void append_conf(const std::vector<std::string>& lines);

  /* Run one statement on a fresh connection to `dbname` as the superuser. Throws PgError. */
  Rows query(const std::string& sql, const std::string& dbname = "postgres");
  std::string query_value(const std::string& sql, const std::string& dbname = "postgres");
  void exec(const std::string& sql, const std::string& dbname = "postgres") {
    (void)query(sql, dbname);
  }
  QueryResult try_query(const std::string& sql, const std::string& dbname = "postgres");

  /* A new connection (as `user`, default the superuser). */
  PgConnection connect(const std::string& dbname = "postgres", const std::string& user = "");
  /* "host=127.0.0.1 port=N dbname=D user=U connect_timeout=10" */
  std::string conninfo(const std::string& dbname = "postgres", const std::string& user = "") const;

  int port() const { return options_.port; }
  const std::string& dir() const { return dir_; }
  std::string data_dir() const { return dir_ + "/data"; }
  std::string log_path() const { return dir_ + "/postgres.log"; }
  std::string log_tail(std::size_t max_bytes = 4000) const;
  const std::string& token() const { return token_; }
  pid_t postmaster_pid() const { return postmaster_pid_; }

 private:
  void initdb();
  void wait_ready();
  bool wait_exit(int timeout_ms);

  PgClusterOptions options_;
  std::string dir_;
  std::string token_;
  pid_t postmaster_pid_ = -1;
};

}  // namespace pgaf::test
