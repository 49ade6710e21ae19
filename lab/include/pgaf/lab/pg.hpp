/*
 * pg.hpp — the lab's small libpq client: bounded connects, bounded queries, and an outcome that
 * tells "the server said no" (definite failure) from "we do not know" (connection lost or timed
 * out while the statement was in flight). The workload's ok/fail/unknown classification rests
 * on that distinction, so it lives here, in one place.
 *
 * Invariants: every call is bounded by a deadline (connect_timeout in the conninfo, a poll()
 * deadline for queries); a PgConn that hit a timeout or lost its connection is closed and must
 * be reconnected; a PgConn is used by one thread at a time (the thread that created it, which for
 * the lab is a thread inside the target host's network namespace).
 */
#pragma once

#include <libpq-fe.h>

#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "pgaf/core/error.hpp"
#include "pgaf/core/lsn.hpp"
#include "pgaf/core/settings.hpp"

namespace pgaf::lab {

using Row = std::vector<std::optional<std::string>>;

struct QueryOutcome {
  enum class Kind {
    Ok,          /* the statement completed: rows hold its result */
    ServerError, /* the server reported an error and the session is still alive: it did not commit
                  */
    Lost,        /* the connection broke while the statement was in flight: outcome unknown */
    Timeout,     /* no answer before the deadline: outcome unknown (connection closed) */
  } kind = Kind::Lost;
  std::string sqlstate;
  std::string message;
  std::vector<Row> rows;
  /* WARNING-level notices the server sent while running the statement (e.g. "canceling wait
   * for synchronous replication ...": committed locally, maybe not replicated) */
  std::vector<std::string> warnings;
  bool ok() const { return kind == Kind::Ok; }
};

class PgConn {
 public:
  PgConn() = default;
  ~PgConn();
  PgConn(PgConn&& o) noexcept;
  PgConn& operator=(PgConn&& o) noexcept;
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  /* Blocking connect bounded by conninfo's connect_timeout (which callers must set). */
  static Result<PgConn> connect(const std::string& conninfo);

  bool connected() const;
  void close();
  /* Run one statement (with text parameters) and wait at most timeout_ms. On Timeout or Lost
   * the connection is closed. */
  QueryOutcome exec(const std::string& sql, const std::vector<std::string>& params,
                    TimeMs timeout_ms);
  /* Convenience: Ok rows or an Error. */
  Result<std::vector<Row>> query(const std::string& sql, TimeMs timeout_ms,
                                 const std::vector<std::string>& params = {});
  /* LISTEN support: drain pending notifications (non-blocking); returns payloads. */
  std::vector<std::string> notifications();
  int socket() const;

 private:
  explicit PgConn(PGconn* c);
  PGconn* conn_ = nullptr;
  /* heap-held so libpq's notice receiver keeps a stable pointer across moves */
  std::unique_ptr<std::vector<std::string>> warnings_;
};

/* LSN text: pgaf::parse_lsn / format_lsn (pgaf/core/lsn.hpp). */

/* "000000020000000000000003" (a WAL file name) → timeline 2; malformed → 0. */
int timeline_of_walfile(const std::string& walfile);

}  // namespace pgaf::lab
