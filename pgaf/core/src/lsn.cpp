/*
 * lsn.cpp — the one LSN parser and printer (see lsn.hpp for the accepted text form).
 */
#include "pgaf/core/lsn.hpp"

#include <array>

namespace pgaf {

namespace {

constexpr std::size_t kMaxLsnPartDigits = 8; /* PostgreSQL's MAXPG_LSNCOMPONENT */

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* 1 to 8 hex digits, nothing else. */
std::optional<std::uint32_t> parse_part(std::string_view s) {
  if (s.empty() || s.size() > kMaxLsnPartDigits) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s) {
    const int d = hex_digit(c);
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<std::uint32_t>(d);
  }
  return v;
}

void append_hex(std::string& out, std::uint32_t v) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::array<char, kMaxLsnPartDigits> buf{};
  std::size_t n = 0;
  do {
    buf[n++] = kDigits[v & 0xFU];
    v >>= 4;
  } while (v != 0);
  while (n > 0) out.push_back(buf[--n]);
}

}  // namespace

std::optional<Lsn> parse_lsn(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto hi = parse_part(text.substr(0, slash));
  const auto lo = parse_part(text.substr(slash + 1)); /* a second '/' is not a hex digit */
  if (!hi || !lo) return std::nullopt;
  return (static_cast<Lsn>(*hi) << 32) | *lo;
}

Result<Lsn> parse_lsn_or_error(std::string_view text) {
  if (auto l = parse_lsn(text)) return *l;
  return make_error(ErrorCode::InvalidArgument, "invalid LSN \"" + std::string(text) + "\"",
                    "an LSN is written X/Y, each part 1 to 8 hexadecimal digits, e.g. 16/B374D848");
}

std::string format_lsn(Lsn lsn) {
  std::string out;
  out.reserve(17);
  append_hex(out, static_cast<std::uint32_t>(lsn >> 32));
  out.push_back('/');
  append_hex(out, static_cast<std::uint32_t>(lsn & 0xFFFFFFFFU));
  return out;
}

}  // namespace pgaf
