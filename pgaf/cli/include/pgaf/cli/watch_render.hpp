/*
 * watch_render.hpp — what `pg_autoctl watch` shows, as a pure function: the monitor's rows and
 * events, the header facts and the window size in, lines of text out. The ncurses part
 * (cli_watch.cpp) only draws these lines, so the layout is tested without a terminal
 * (tests/unit/cli/watch_render_test.cpp).
 *
 * Layout (as the reference's dashboard, docs/ref/pg_autoctl_watch.rst): a header line (formation,
 * number_sync_standbys, monitor; the time at the right), the nodes table, then the most recent
 * events (the latest at the bottom), and a help line at the bottom row.
 *
 * Invariants: render_watch returns at most `height` lines, none longer than `width` characters;
 * the nodes table uses the widest column set that fits the width (columns are dropped, never
 * squeezed), and is cut at the width when even the narrowest set does not fit; events fill the
 * rows left, newest last.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pgaf/agent/interfaces.hpp"

namespace pgaf::cli {

/* The Connection column of `show state` and `watch`: read-write / read-only / none from the
 * reported state, then " ?" when the monitor has not checked the node yet, " !" when its health
 * check fails. */
std::string node_connection(const agent::StateRow& r);

/* Bytes each row is behind the primary of its group (the node whose reported state takes
 * writes), in the order of rows: 0 for the primary itself and for a node at or past its LSN;
 * nullopt when the group has no such primary or an LSN is not one. */
std::vector<std::optional<std::uint64_t>> lag_bytes(const std::vector<agent::StateRow>& rows);

/* 0 → "0 B", 1536 → "1.5 kB", as a dashboard shows a size (powers of 1024, one decimal below 10,
 * none above). */
std::string pretty_bytes(std::uint64_t bytes);

struct WatchData {
  std::string formation;
  std::string monitor;           /* host:port shown in the header */
  std::string time;              /* the clock at the right of the header, e.g. "15:04:05" */
  int number_sync_standbys = -1; /* -1: unknown (not shown) */
  std::vector<agent::StateRow> rows;
  std::vector<agent::EventRow> events; /* oldest first, as last_events returns them */
  std::string error;                   /* the last failure talking to the monitor, or "" */
};

struct WatchScreen {
  std::vector<std::string> lines;
  int column_header_row = -1; /* the nodes table's header line (drawn highlighted), or -1 */
  std::string columns;        /* the column set chosen: "full", "verbose", "terse", "minimal" */
};

WatchScreen render_watch(const WatchData& d, int height, int width);

}  // namespace pgaf::cli
