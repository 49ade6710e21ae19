/*
 * error.hpp — pgaf's one error type.
 *
 * Every failure in pgaf is an Error: a code from the table below, a message in PostgreSQL's style
 * (lower case, what failed and why), an optional detail and an optional hint. The code maps to a
 * SQLSTATE (used by the monitor extension when it raises the error) and to a pg_autoctl exit code
 * (the same numbers as pg_auto_failover's defaults.h, so scripts keep working).
 *
 * Invariant: library code never asserts on caller input; it returns an Error. Assertions
 * (PGAF_ASSERT) are reserved for our own invariants.
 */
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace pgaf {

/* pg_autoctl exit codes, as in the reference (defaults.h). */
enum class ExitCode : int {
  Quit = 0,
  BadArgs = 1,
  BadConfig = 2,
  BadState = 3,
  Pgsql = 4,
  Pgctl = 5,
  Monitor = 6,
  Coordinator = 7,
  Keeper = 8,
  Reload = 9,
  InternalError = 12,
  ExtensionMissing = 13,
  Dropped = 121,
  Fatal = 122,
};

enum class ErrorCode {
  InvalidArgument,     /* malformed or missing argument */
  OutOfRange,          /* a number outside its allowed range */
  UnknownState,        /* a state name that does not exist */
  UnknownFormation,    /* formation not found */
  UnknownNode,         /* node not found */
  AlreadyExists,       /* name, host:port or formation already registered */
  BadState,            /* operation not allowed in the current state of the group/node */
  NoPrimary,           /* the group has no primary right now */
  BadConfig,           /* configuration file or setting invalid */
  Pgsql,               /* a SQL query failed */
  Pgctl,               /* a Postgres tool (initdb, pg_ctl, pg_basebackup, pg_rewind) failed */
  Monitor,             /* the monitor could not be reached or refused */
  Keeper,              /* the keeper could not do what was asked */
  Reload,              /* reload failed */
  Timeout,             /* a bounded wait ran out */
  Internal,            /* a bug */
  ExtensionMissing,    /* the monitor extension is missing or has the wrong version */
  Dropped,             /* this node has been dropped from the monitor */
  Fatal,               /* unrecoverable */
  Unsupported,         /* a feature this build or kernel does not have */
};

struct ErrorCodeInfo {
  ErrorCode code;
  const char* name;     /* stable identifier, used in --json output */
  const char* sqlstate; /* five characters */
  ExitCode exit_code;
};

/* The code table. */
const ErrorCodeInfo& error_code_info(ErrorCode code);
inline const char* sqlstate(ErrorCode code) { return error_code_info(code).sqlstate; }
inline int exit_code(ErrorCode code) { return static_cast<int>(error_code_info(code).exit_code); }

struct Error {
  ErrorCode code = ErrorCode::Internal;
  std::string message; /* lower case, no trailing period: "node 4 is not registered" */
  std::string detail;  /* optional: facts */
  std::string hint;    /* optional: what to do */

  /* "message\nDETAIL: ...\nHINT: ..." */
  std::string to_string() const;
};

inline Error make_error(ErrorCode code, std::string message, std::string hint = {},
                        std::string detail = {}) {
  return Error{code, std::move(message), std::move(detail), std::move(hint)};
}

/* Result<T>: a value or an Error. Small on purpose: pgaf/core links only the standard library. */
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit on purpose

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

/* Status: success or an Error (Result<void>). */
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : e_(std::move(error)) {}  // NOLINT: implicit on purpose
  static Status Ok() { return Status(); }
  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *e_; }

 private:
  std::optional<Error> e_;
};

[[noreturn]] void assert_fail(const char* expr, const char* file, int line, const char* msg);

/* What a failed PGAF_ASSERT does after printing: by default abort(). A host process that must
 * not die (the monitor extension: an abort restarts the whole server) installs a handler that
 * throws; it must not return. Not thread-safe: install it once at start-up. */
using AssertHandler = void (*)(const char* expr, const char* file, int line, const char* msg);
void set_assert_handler(AssertHandler handler);

}  // namespace pgaf

/* An invariant of our own code was violated: crash loudly (TigerBeetle style). Always on. */
#define PGAF_ASSERT(expr, msg) \
  ((expr) ? static_cast<void>(0) : ::pgaf::assert_fail(#expr, __FILE__, __LINE__, (msg)))
