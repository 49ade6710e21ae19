/*
 * db.cpp — the statement table and the thin wrappers over the C wall (see db.hpp).
 *
 * Every parameter is passed as text and cast in the SQL; every timestamp crosses as Unix
 * milliseconds (to_timestamp(ms / 1000.0) in, floor(extract(epoch) * 1000) out), which
 * round-trips exactly for whole milliseconds.
 */
#include "db.hpp"

#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace pgaf::monitor {

namespace {

#define PGAF_MS(col) "floor(extract(epoch from " col ") * 1000)::int8"
#define PGAF_TS(n) "to_timestamp($" n "::float8 / 1000.0)"
#define PGAF_STATE "::pgautofailover.replication_state"

struct StmtDef {
  Stmt id;
  /* read_only = true makes SPI run the statement on the snapshot of the calling SQL statement,
   * taken before any lock this call waited for: only for reads that need no lock (get_primary).
   * Every other statement gets a fresh snapshot, so that what a group-lock holder loads
   * includes every commit of the previous holders. */
  bool read_only;
  const char* sql;
};

const StmtDef kStmts[] = {
    {Stmt::LoadGroup, false,
     "SELECT f.formationid, f.kind, f.dbname, f.opt_secondary, f.number_sync_standbys,"
     " n.nodeid, n.groupid, n.nodename, n.nodehost, n.nodeport, n.nodecluster, n.sysidentifier,"
     " n.candidatepriority, n.replicationquorum, n.reportedstate, n.goalstate,"
     " n.reportedpgisrunning, n.reportedtli, n.reportedlsn, n.reportedrepstate, n.health, " PGAF_MS(
         "n.reporttime") ", " PGAF_MS("n.healthchecktime") ", " PGAF_MS("n.statechangetime") ", " PGAF_MS("n.walreporttime") ", " PGAF_MS("n.streamstoptime") ", " PGAF_MS("n.leasegrantedtime") ", n.lastreportseq, n.walackstaleby, n.xmin FROM pgautofailover.formation f"
                                                                                                                                                                                                   " LEFT JOIN pgautofailover.node n ON n.formationid = f.formationid AND n.groupid = $2::int"
                                                                                                                                                                                                   " WHERE f.formationid = $1 ORDER BY n.nodeid"},
    {Stmt::LoadFormation, false,
     "SELECT kind, dbname, opt_secondary, number_sync_standbys FROM pgautofailover.formation"
     " WHERE formationid = $1"},
    {Stmt::FindNodeById, false,
     "SELECT formationid, groupid, nodename FROM pgautofailover.node WHERE nodeid = $1::int8"},
    {Stmt::FindNodeByHostPort, false,
     "SELECT nodeid, formationid, groupid FROM pgautofailover.node"
     " WHERE nodehost = $1 AND nodeport = $2::int"},
    {Stmt::FindNodeByName, false,
     "SELECT nodeid, groupid FROM pgautofailover.node WHERE formationid = $1 AND nodename = $2"},
    {Stmt::UpdateNode, false,
     "UPDATE pgautofailover.node SET goalstate = $2" PGAF_STATE ", reportedstate = $3" PGAF_STATE
     ", reportedpgisrunning = $4::bool, reportedrepstate = $5, reporttime = " PGAF_TS("6")
     ", reportedtli = $7::int, reportedlsn = $8::pg_lsn, walreporttime = " PGAF_TS("9")
     ", health = $10::int, healthchecktime = " PGAF_TS("11") ", statechangetime = " PGAF_TS("12")
     ", candidatepriority = $13::int, replicationquorum = $14::bool, streamstoptime = " PGAF_TS(
         "15") ", leasegrantedtime = " PGAF_TS("16") ", lastreportseq = greatest(lastreportseq, $17::int8)"
     ", walackstaleby = $18::int8"
     " WHERE nodeid = $1::int8 AND ($19::xid IS NULL OR xmin = $19::xid) RETURNING nodeid"},
    {Stmt::InsertNode, false,
     "INSERT INTO pgautofailover.node (formationid, nodeid, groupid, nodename, nodehost, nodeport,"
     " sysidentifier, goalstate, reportedstate, reportedpgisrunning, reportedrepstate, reporttime,"
     " reportedtli, reportedlsn, walreporttime, health, healthchecktime, statechangetime,"
     " candidatepriority, replicationquorum, nodecluster, streamstoptime, leasegrantedtime,"
     " lastreportseq, walackstaleby)"
     " VALUES ($1, $2::int8, $3::int, $4, $5, $6::int, $7::int8, $8" PGAF_STATE ", $9" PGAF_STATE
     ", $10::bool, $11, " PGAF_TS("12") ", $13::int, $14::pg_lsn, " PGAF_TS("15") ", $16::int, " PGAF_TS(
         "17") ", " PGAF_TS("18") ", $19::int, $20::bool, $21, " PGAF_TS("22") ", " PGAF_TS("23") ", $24::int8, $25::int8)"},
    {Stmt::DeleteNode, false, "DELETE FROM pgautofailover.node WHERE nodeid = $1::int8"},
    {Stmt::UpdateFormationNss, false,
     "UPDATE pgautofailover.formation SET number_sync_standbys = $2::int WHERE formationid = $1"},
    {Stmt::UpdateFormationKind, false,
     "UPDATE pgautofailover.formation SET kind = $2, dbname = $3::name WHERE formationid = $1"},
    {Stmt::InsertEvent, false,
     "WITH ins AS (INSERT INTO pgautofailover.event (formationid, nodeid, groupid, nodename,"
     " nodehost, nodeport, reportedstate, goalstate, reportedrepstate, reportedtli, reportedlsn,"
     " candidatepriority, replicationquorum, description) VALUES ($1, $2::int8, $3::int, $4, $5,"
     " $6::int, $7" PGAF_STATE ", $8" PGAF_STATE ", $9, $10::int, $11::pg_lsn, $12::int,"
     " $13::bool, $14) RETURNING eventid)"
     " SELECT ins.eventid, pg_notify('state', $15) FROM ins"},
    {Stmt::NotifyLog, false, "SELECT pg_notify('log', $1)"},
    {Stmt::NextNodeId, false, "SELECT nextval('pgautofailover.node_nodeid_seq')"},
    {Stmt::SetNodeIdSequence, false,
     "SELECT setval('pgautofailover.node_nodeid_seq',"
     " greatest((SELECT max(nodeid) FROM pgautofailover.node), $1::int8))"},
    {Stmt::CountFormationNodes, false,
     "SELECT count(*) FROM pgautofailover.node WHERE formationid = $1"},
    {Stmt::GetPrimaryCandidates, true,
     "SELECT nodeid, nodename, nodehost, nodeport, goalstate, reportedstate"
     " FROM pgautofailover.node WHERE formationid = $1 AND groupid = $2::int"
     " AND goalstate <> 'dropped' ORDER BY nodeid"},
    {Stmt::HealthTargets, false,
     "SELECT nodeid, formationid, groupid, nodehost, nodeport, health FROM pgautofailover.node"
     " ORDER BY formationid, groupid, nodeid"},
};

static_assert(sizeof(kStmts) / sizeof(kStmts[0]) == static_cast<std::size_t>(Stmt::Count),
              "every Stmt has a definition");
static_assert(static_cast<int>(Stmt::Count) <= PGAF_MAX_PLANS, "too many statements");

}  // namespace

const char* Rows::at(int row, int col) const {
  PGAF_ASSERT(row >= 0 && row < r_.nrows && col >= 0 && col < r_.ncols, "cell out of range");
  return r_.cells[static_cast<std::size_t>(row) * static_cast<std::size_t>(r_.ncols) +
                  static_cast<std::size_t>(col)];
}

std::string Rows::str(int row, int col) const {
  const char* v = at(row, col);
  return v != nullptr ? std::string(v) : std::string();
}

Error stashed_pg_error() {
  return make_error(ErrorCode::Pgsql, "a database error occurred in the monitor");
}

Result<Rows> Db::query(Stmt s, const std::vector<Arg>& args) {
  const StmtDef& def = kStmts[static_cast<int>(s)];
  PGAF_ASSERT(def.id == s, "statement table out of order");
  std::vector<const char*> argv;
  argv.reserve(args.size());
  for (const auto& a : args) argv.push_back(a ? a->c_str() : nullptr);
  PgafRows out{0, 0, nullptr};
  if (pgaf_db_query(static_cast<int>(s), def.sql, static_cast<int>(argv.size()), argv.data(),
                    def.read_only ? 1 : 0, &out) != 0)
    return stashed_pg_error();
  return Rows(out);
}

Status Db::lock_formation(const std::string& formation, bool exclusive) {
  if (pgaf_db_lock(formation.c_str(), -1, exclusive ? 2 : 1) != 0) return stashed_pg_error();
  return Status::Ok();
}

Status Db::lock_group(const std::string& formation, int group, bool exclusive) {
  if (pgaf_db_lock(formation.c_str(), group, exclusive ? 2 : 1) != 0) return stashed_pg_error();
  return Status::Ok();
}

Status Db::unlock_group(const std::string& formation, int group, bool exclusive) {
  if (pgaf_db_unlock(formation.c_str(), group, exclusive ? 2 : 1) != 0) return stashed_pg_error();
  return Status::Ok();
}

Status Db::async_commit() {
  if (pgaf_db_async_commit() != 0) return stashed_pg_error();
  return Status::Ok();
}

Status Db::message(MessageLevel level, const std::string& text) {
  const int lvl = level == MessageLevel::Warning ? 2 : level == MessageLevel::Notice ? 1 : 0;
  if (pgaf_db_message(lvl, text.c_str()) != 0) return stashed_pg_error();
  if (level == MessageLevel::Log) {
    auto r = query(Stmt::NotifyLog, {text});
    if (!r.ok()) return r.error();
  }
  return Status::Ok();
}

Status Db::server_log(const std::string& text) {
  if (pgaf_db_message(0, text.c_str()) != 0) return stashed_pg_error();
  return Status::Ok();
}

Settings current_settings() {
  const PgafGucs* g = pgaf_gucs();
  Settings s;
  s.health_check_period_ms = g->health_check_period_ms;
  s.health_check_timeout_ms = g->health_check_timeout_ms;
  s.health_check_max_retries = g->health_check_max_retries;
  s.health_check_retry_delay_ms = g->health_check_retry_delay_ms;
  s.node_considered_unhealthy_timeout_ms = g->node_considered_unhealthy_timeout_ms;
  s.startup_grace_period_ms = g->startup_grace_period_ms;
  s.enable_sync_wal_log_threshold_bytes = g->enable_sync_wal_log_threshold_bytes;
  s.promote_wal_log_threshold_bytes = g->promote_wal_log_threshold_bytes;
  s.lease_ms = g->lease_ms;
  s.standby_vouch_ms = g->standby_vouch_ms;
  s.clock_drift_ppm = g->clock_drift_ppm;
  s.lease_margin_ms = g->lease_margin_ms;
  s.monitor_tick_interval_ms = g->tick_interval_ms;
  return s;
}

Result<std::int64_t> parse_int64(const char* text, const char* what) {
  if (text == nullptr)
    return make_error(ErrorCode::InvalidArgument, std::string(what) + " must not be NULL");
  std::int64_t v = 0;
  const char* end = text + std::strlen(text);
  auto r = std::from_chars(text, end, v);
  if (r.ec != std::errc() || r.ptr != end)
    return make_error(ErrorCode::InvalidArgument,
                      std::string("invalid value for ") + what + ": \"" + text + "\"");
  return v;
}

Arg ms_arg(TimeMs ms, bool null_if_negative) {
  if (null_if_negative && ms < 0) return std::nullopt;
  return std::to_string(ms < 0 ? 0 : ms);
}

}  // namespace pgaf::monitor
