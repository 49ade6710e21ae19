/*
 * db.hpp — the monitor's C++ view of its database: prepared statements with text parameters,
 * locks, server messages and the clock, all through the C wall (bridge.h).
 *
 * Invariants:
 *  - every statement the monitor runs is in the Stmt table (db.cpp), prepared once per backend;
 *  - a failed call means a PostgreSQL error is stashed on the C side; the caller returns the Error
 *    up unchanged (the entry point re-throws the original PostgreSQL error);
 *  - Rows point into SPI memory: valid until the C entry point finishes (never store them).
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bridge.h"
#include "pgaf/core/decide.hpp"
#include "pgaf/core/error.hpp"
#include "pgaf/core/lsn.hpp"
#include "pgaf/core/settings.hpp"

namespace pgaf::monitor {

enum class Stmt : int {
  LoadGroup = 0,
  LoadFormation,
  FindNodeById,
  FindNodeByHostPort,
  FindNodeByName,
  UpdateNode,
  InsertNode,
  DeleteNode,
  UpdateFormationNss,
  UpdateFormationKind,
  InsertEvent,
  NotifyLog,
  NextNodeId,
  SetNodeIdSequence,
  CountFormationNodes,
  GetPrimaryCandidates,
  HealthTargets,
  Count
};

/* One cell: nullptr = SQL NULL. */
class Rows {
 public:
  Rows() = default;
  explicit Rows(const PgafRows& r) : r_(r) {}
  int size() const { return r_.nrows; }
  bool empty() const { return r_.nrows == 0; }
  const char* at(int row, int col) const;
  bool null(int row, int col) const { return at(row, col) == nullptr; }
  std::string str(int row, int col) const;

 private:
  PgafRows r_{0, 0, nullptr};
};

using Arg = std::optional<std::string>;

class Db {
 public:
  Result<Rows> query(Stmt s, const std::vector<Arg>& args);
  Status lock_formation(const std::string& formation, bool exclusive);
  Status lock_group(const std::string& formation, int group, bool exclusive);
  Status unlock_group(const std::string& formation, int group, bool exclusive);
  /* LOG also goes to NOTIFY log; NOTICE/WARNING go to the client. */
  Status message(MessageLevel level, const std::string& text);
  /* A LOG line in the server log only (no NOTIFY log). */
  Status server_log(const std::string& text);
  /* This transaction need not wait for its WAL flush (steady-state reports only). */
  Status async_commit();
  TimeMs now_ms() const { return pgaf_db_now_ms(); }
  TimeMs monitor_start_ms() const { return pgaf_db_postmaster_start_ms(); }
};

/* The Settings that decide() gets: pgaf::Settings defaults overridden by the GUCs. */
Settings current_settings();

/* Text conversions for the wire (timestamps as Unix ms; LSNs: pgaf/core/lsn.hpp). */
Result<std::int64_t> parse_int64(const char* text, const char* what);
Arg ms_arg(TimeMs ms, bool null_if_negative);

/* An Error for a PostgreSQL error that is stashed on the C side. */
Error stashed_pg_error();

}  // namespace pgaf::monitor
