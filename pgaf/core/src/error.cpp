/*
 * error.cpp — the error code table (SQLSTATE and pg_autoctl exit code for each ErrorCode).
 */
#include "pgaf/core/error.hpp"

#include <array>

namespace pgaf {

namespace {
constexpr std::array<ErrorCodeInfo, 20> kTable = {{
    {ErrorCode::InvalidArgument, "invalid_argument", "22023", ExitCode::BadArgs},
    {ErrorCode::OutOfRange, "out_of_range", "22003", ExitCode::BadArgs},
    {ErrorCode::UnknownState, "unknown_state", "22P02", ExitCode::BadArgs},
    {ErrorCode::UnknownFormation, "unknown_formation", "42704", ExitCode::Monitor},
    {ErrorCode::UnknownNode, "unknown_node", "42704", ExitCode::Monitor},
    {ErrorCode::AlreadyExists, "already_exists", "23505", ExitCode::Monitor},
    {ErrorCode::BadState, "bad_state", "55000", ExitCode::BadState},
    {ErrorCode::NoPrimary, "no_primary", "55006", ExitCode::Monitor},
    {ErrorCode::BadConfig, "bad_config", "F0000", ExitCode::BadConfig},
    {ErrorCode::Pgsql, "pgsql", "58000", ExitCode::Pgsql},
    {ErrorCode::Pgctl, "pgctl", "58000", ExitCode::Pgctl},
    {ErrorCode::Monitor, "monitor", "08006", ExitCode::Monitor},
    {ErrorCode::Keeper, "keeper", "XX000", ExitCode::Keeper},
    {ErrorCode::Reload, "reload", "XX000", ExitCode::Reload},
    {ErrorCode::Timeout, "timeout", "57014", ExitCode::BadState},
    {ErrorCode::Internal, "internal", "XX000", ExitCode::InternalError},
    {ErrorCode::ExtensionMissing, "extension_missing", "58P01", ExitCode::ExtensionMissing},
    {ErrorCode::Dropped, "dropped", "55000", ExitCode::Dropped},
    {ErrorCode::Fatal, "fatal", "XX000", ExitCode::Fatal},
    {ErrorCode::Unsupported, "unsupported", "0A000", ExitCode::BadArgs},
}};
}  // namespace

const ErrorCodeInfo& error_code_info(ErrorCode code) {
  for (const auto& e : kTable) {
    if (e.code == code) return e;
  }
  PGAF_ASSERT(false, "error code missing from the table");
}

std::string Error::to_string() const {
  std::string s = message;
  if (!detail.empty()) s += "\nDETAIL: " + detail;
  if (!hint.empty()) s += "\nHINT: " + hint;
  return s;
}

namespace {
AssertHandler g_assert_handler = nullptr;
}

void set_assert_handler(AssertHandler handler) { g_assert_handler = handler; }

void assert_fail(const char* expr, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "pgaf: assertion failed: %s (%s) at %s:%d\n", msg, expr, file, line);
  std::fflush(stderr);
  if (g_assert_handler != nullptr) g_assert_handler(expr, file, line, msg);
  std::abort(); /* a handler must not return */
}

}  // namespace pgaf
