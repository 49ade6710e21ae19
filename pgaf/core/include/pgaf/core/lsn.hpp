/*
 * lsn.hpp — the WAL position type (Lsn) and its one text form, used by every component (agent,
 * monitor, lab, CLI): there is exactly one parser and one printer.
 *
 * The text form is PostgreSQL's pg_lsn: "X/Y", X the high and Y the low 32 bits, each 1 to 8
 * hexadecimal digits (either case, leading zeros allowed), nothing before, between or after
 * (no sign, no "0x", no spaces). parse_lsn accepts exactly what PostgreSQL's pg_lsn input
 * accepts, and format_lsn prints what PostgreSQL prints ("%X/%X", upper case, no leading zeros),
 * so parse_lsn(format_lsn(l)) == l for every l, and format_lsn(*parse_lsn(t)) == t for every t
 * that PostgreSQL itself printed.
 *
 * Empty and NULL: the empty string is not an LSN (PostgreSQL rejects ''::pg_lsn): parse_lsn
 * returns nullopt. A SQL NULL is not text, so it never reaches parse_lsn: each caller maps NULL
 * explicitly, and the rule everywhere is NULL → 0, since 0 ("0/0", InvalidXLogRecPtr) already
 * means "no position known" (decide()'s events keep the stored value for 0).
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pgaf/core/error.hpp"

namespace pgaf {

using Lsn = std::uint64_t; /* a WAL position, as pg_lsn; 0 = unknown / none */

/* "16/B374D848" → 0x16B374D848; anything that is not a pg_lsn → nullopt. */
std::optional<Lsn> parse_lsn(std::string_view text);

/* parse_lsn with an ErrorCode::InvalidArgument error quoting the text, for callers that report. */
Result<Lsn> parse_lsn_or_error(std::string_view text);

/* 0x16B374D848 → "16/B374D848"; 0 → "0/0". */
std::string format_lsn(Lsn lsn);

}  // namespace pgaf
