/*
 * pg.cpp — implementation of the lab's libpq client (see pg.hpp for the invariants).
 */
#include "pgaf/lab/pg.hpp"

#include <poll.h>

#include <chrono>
#include <cstdlib>
#include <utility>

namespace pgaf::lab {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void collect_warning(void* arg, const PGresult* res) {
  auto* out = static_cast<std::vector<std::string>*>(arg);
  const char* sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (out == nullptr || sev == nullptr || std::string(sev) != "WARNING") return;
  if (out->size() < 16) out->push_back(trim(PQresultErrorMessage(res)));
}

/* the rows of one result, NULL as nullopt */
std::vector<Row> rows_of(const PGresult* r) {
  std::vector<Row> rows;
  for (int i = 0; i < PQntuples(r); ++i) {
    Row row;
    for (int j = 0; j < PQnfields(r); ++j) {
      if (PQgetisnull(r, i, j))
        row.emplace_back(std::nullopt);
      else
        row.emplace_back(std::string(PQgetvalue(r, i, j)));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

PgConn::PgConn(PGconn* c) : conn_(c), warnings_(std::make_unique<std::vector<std::string>>()) {
  PQsetNoticeReceiver(conn_, collect_warning, warnings_.get());
}

PgConn::~PgConn() {
  close();
}
PgConn::PgConn(PgConn&& o) noexcept
    : conn_(std::exchange(o.conn_, nullptr)), warnings_(std::move(o.warnings_)) {}
PgConn& PgConn::operator=(PgConn&& o) noexcept {
  if (this != &o) {
    close();
    conn_ = std::exchange(o.conn_, nullptr);
    warnings_ = std::move(o.warnings_);
  }
  return *this;
}

Result<PgConn> PgConn::connect(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (c == nullptr) return make_error(ErrorCode::Pgsql, "could not allocate a libpq connection");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = trim(PQerrorMessage(c));
    PQfinish(c);
    return make_error(ErrorCode::Pgsql, "could not connect: " + msg);
  }
  return PgConn(c);
}

bool PgConn::connected() const {
  return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}

void PgConn::close() {
  if (conn_ != nullptr) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
}

int PgConn::socket() const {
  return conn_ ? PQsocket(conn_) : -1;
}

QueryOutcome PgConn::exec(const std::string& sql, const std::vector<std::string>& params,
                          TimeMs timeout_ms) {
  QueryOutcome out;
  if (!connected()) {
    out.kind = QueryOutcome::Kind::Lost;
    out.message = "not connected";
    return out;
  }
  if (warnings_) warnings_->clear();
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                        nullptr, nullptr, 0) == 0) {
    /* nothing was sent: the server never saw the statement, a definite failure */
    out.kind = QueryOutcome::Kind::ServerError;
    out.message = trim(PQerrorMessage(conn_));
    close();
    return out;
  }
  const std::int64_t deadline = now_ms() + timeout_ms;
  while (PQisBusy(conn_)) {
    const std::int64_t left = deadline - now_ms();
    if (left <= 0) {
      out.kind = QueryOutcome::Kind::Timeout;
      out.message = "no answer within " + std::to_string(timeout_ms) + " ms";
      close();
      return out;
    }
    pollfd pfd{PQsocket(conn_), POLLIN, 0};
    const int rc = ::poll(&pfd, 1, static_cast<int>(std::min<std::int64_t>(left, 100)));
    if (rc < 0 && errno != EINTR) {
      out.kind = QueryOutcome::Kind::Lost;
      out.message = "poll failed";
      close();
      return out;
    }
    if (PQconsumeInput(conn_) == 0) {
      out.kind = QueryOutcome::Kind::Lost;
      out.message = trim(PQerrorMessage(conn_));
      close();
      return out;
    }
  }
  /* Read every result, not only the first: in an implicit transaction the COMMIT runs after
   * the statement's rows were sent, so a commit refused at PRE_COMMIT (pgaf_fence: "cannot
   * commit: the write lease of this node expired") arrives as an error *after* the rows. An
   * error anywhere makes the outcome an error: the write was never acknowledged. */
  bool have_result = false;
  while (PGresult* r = PQgetResult(conn_)) {
    const ExecStatusType st = PQresultStatus(r);
    const bool good = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
    if (!have_result && good) {
      out.kind = QueryOutcome::Kind::Ok;
      out.rows = rows_of(r);
    } else if (!good && out.kind != QueryOutcome::Kind::ServerError) {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      out.sqlstate = state ? state : "";
      out.message = trim(PQresultErrorMessage(r));
      out.kind = QueryOutcome::Kind::ServerError;
      out.rows.clear();
    }
    have_result = true;
    PQclear(r);
  }
  if (warnings_) out.warnings = *warnings_;
  if (!have_result || PQstatus(conn_) != CONNECTION_OK) {
    /* the connection broke: whatever the server did is unknown */
    if (out.kind != QueryOutcome::Kind::Ok) {
      out.kind = QueryOutcome::Kind::Lost;
      if (out.message.empty()) out.message = trim(PQerrorMessage(conn_));
    }
    close();
    return out;
  }
  /* errors that end the session (admin shutdown, crash) leave the outcome unknown */
  if (out.kind == QueryOutcome::Kind::ServerError &&
      (out.sqlstate.rfind("57P", 0) == 0 || out.sqlstate.rfind("08", 0) == 0 ||
       out.sqlstate.empty())) {
    out.kind = QueryOutcome::Kind::Lost;
    close();
  }
  return out;
}

Result<std::vector<Row>> PgConn::query(const std::string& sql, TimeMs timeout_ms,
                                       const std::vector<std::string>& params) {
  QueryOutcome o = exec(sql, params, timeout_ms);
  if (o.ok()) return std::move(o.rows);
  return make_error(
      o.kind == QueryOutcome::Kind::Timeout ? ErrorCode::Timeout : ErrorCode::Pgsql,
      "query failed: " + (o.message.empty() ? std::string("connection lost") : o.message));
}

std::vector<std::string> PgConn::notifications() {
  std::vector<std::string> out;
  if (!connected()) return out;
  if (PQconsumeInput(conn_) == 0) {
    close();
    return out;
  }
  while (PGnotify* n = PQnotifies(conn_)) {
    out.emplace_back(n->extra ? n->extra : "");
    PQfreemem(n);
  }
  return out;
}

int timeline_of_walfile(const std::string& walfile) {
  if (walfile.size() != 24) return 0;
  char* end = nullptr;
  const unsigned long v = std::strtoul(walfile.substr(0, 8).c_str(), &end, 16);
  if (*end != '\0') return 0;
  return static_cast<int>(v);
}

}  // namespace pgaf::lab
