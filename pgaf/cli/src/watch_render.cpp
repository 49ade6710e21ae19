/*
 * watch_render.cpp — the layout of `pg_autoctl watch` (see pgaf/cli/watch_render.hpp): pure
 * functions of the monitor's rows and events and the window size.
 */
#include "pgaf/cli/watch_render.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <map>

#include "pgaf/core/lsn.hpp"
#include "pgaf/core/state.hpp"

namespace pgaf::cli {

std::string node_connection(const agent::StateRow& r) {
  const NodeState s = r.reported;
  std::string c = can_take_writes_in_state(s) ? "read-write"
                  : (s == NodeState::Secondary || s == NodeState::Catchingup ||
                     s == NodeState::PreparePromotion || s == NodeState::StopReplication ||
                     s == NodeState::ReportLsn || s == NodeState::FastForward)
                      ? "read-only"
                      : "none";
  if (r.health == -1) c += " ?";
  if (r.health == 0) c += " !";
  return c;
}

std::vector<std::optional<std::uint64_t>> lag_bytes(const std::vector<agent::StateRow>& rows) {
  std::map<GroupId, std::optional<Lsn>> primary_lsn; /* nullopt: no usable primary */
  for (const auto& r : rows) {
    if (!can_take_writes_in_state(r.reported)) continue;
    auto lsn = parse_lsn(r.lsn);
    /* two writable nodes in a group (a transition): the most advanced one is the reference */
    auto& p = primary_lsn[r.group_id];
    if (lsn && (!p || *lsn > *p)) p = lsn;
  }
  std::vector<std::optional<std::uint64_t>> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    auto it = primary_lsn.find(r.group_id);
    auto lsn = parse_lsn(r.lsn);
    if (it == primary_lsn.end() || !it->second || !lsn) {
      out.push_back(std::nullopt);
      continue;
    }
    const Lsn p = *it->second;
    out.push_back(p > *lsn ? p - *lsn : 0);
  }
  return out;
}

std::string pretty_bytes(std::uint64_t bytes) {
  static const std::array<const char*, 6> units = {"B", "kB", "MB", "GB", "TB", "PB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  std::size_t u = 0;
  while (v >= 1024.0 && u + 1 < units.size()) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  if (v < 10.0)
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  else
    std::snprintf(buf, sizeof buf, "%.0f %s", v, units[u]);
  return buf;
}

namespace {

enum class Col { Name, Node, HostPort, TliLsn, Lag, Connection, Reported, Assigned };

const char* col_title(Col c) {
  switch (c) {
    case Col::Name:
      return "Name";
    case Col::Node:
      return "Node";
    case Col::HostPort:
      return "Host:Port";
    case Col::TliLsn:
      return "TLI: LSN";
    case Col::Lag:
      return "Lag";
    case Col::Connection:
      return "Connection";
    case Col::Reported:
      return "Reported State";
    case Col::Assigned:
      return "Assigned State";
  }
  return "";
}

struct Policy {
  const char* name;
  std::vector<Col> cols;
};

/* widest first: the first one that fits the window is used */
const std::vector<Policy>& policies() {
  static const std::vector<Policy> p = {
      {"full",
       {Col::Name, Col::Node, Col::HostPort, Col::TliLsn, Col::Lag, Col::Connection, Col::Reported,
        Col::Assigned}},
      {"verbose",
       {Col::Name, Col::Node, Col::TliLsn, Col::Lag, Col::Connection, Col::Reported,
        Col::Assigned}},
      {"terse", {Col::Name, Col::Node, Col::Lag, Col::Connection, Col::Reported, Col::Assigned}},
      {"minimal", {Col::Name, Col::Reported, Col::Assigned}},
  };
  return p;
}

constexpr const char* kSep = "  ";
constexpr int kSepWidth = 2;

std::string cut(std::string s, int width) {
  if (width <= 0) return {};
  if (static_cast<int>(s.size()) > width) s.resize(static_cast<std::size_t>(width));
  return s;
}

std::string right(const std::string& s, std::size_t w) {
  return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
}

/* The cells of every row, per column. */
std::map<Col, std::vector<std::string>> cells(const WatchData& d) {
  std::map<Col, std::vector<std::string>> c;
  const bool groups = std::any_of(d.rows.begin(), d.rows.end(),
                                  [](const agent::StateRow& r) { return r.group_id != 0; });
  const auto lags = lag_bytes(d.rows);
  for (std::size_t i = 0; i < d.rows.size(); ++i) {
    const auto& r = d.rows[i];
    c[Col::Name].push_back(r.name);
    c[Col::Node].push_back(groups ? std::to_string(r.group_id) + "/" + std::to_string(r.node_id)
                                  : std::to_string(r.node_id));
    c[Col::HostPort].push_back(r.host + ":" + std::to_string(r.port));
    c[Col::TliLsn].push_back(std::to_string(r.tli) + ": " + r.lsn);
    c[Col::Lag].push_back(lags[i] ? pretty_bytes(*lags[i]) : "-");
    c[Col::Connection].push_back(node_connection(r));
    c[Col::Reported].push_back(std::string(to_string(r.reported)));
    c[Col::Assigned].push_back(std::string(to_string(r.goal)));
  }
  return c;
}

struct Table {
  std::string policy;
  std::vector<std::string> lines; /* header first */
};

Table nodes_table(const WatchData& d, int width) {
  auto c = cells(d);
  auto col_width = [&](Col col) {
    std::size_t w = std::string(col_title(col)).size();
    for (const auto& s : c[col]) w = std::max(w, s.size());
    return w;
  };
  const Policy* chosen = &policies().back();
  for (const auto& p : policies()) {
    int total = -kSepWidth;
    for (Col col : p.cols) total += static_cast<int>(col_width(col)) + kSepWidth;
    if (total <= width) {
      chosen = &p;
      break;
    }
  }
  Table t;
  t.policy = chosen->name;
  std::vector<std::size_t> widths;
  for (Col col : chosen->cols) widths.push_back(col_width(col));
  auto line = [&](const std::function<std::string(Col)>& cell) {
    std::string s;
    for (std::size_t k = 0; k < chosen->cols.size(); ++k) {
      if (k > 0) s += kSep;
      s += right(cell(chosen->cols[k]), widths[k]);
    }
    return cut(s, width);
  };
  t.lines.push_back(line([](Col col) { return std::string(col_title(col)); }));
  for (std::size_t i = 0; i < d.rows.size(); ++i)
    t.lines.push_back(line([&](Col col) { return c[col][i]; }));
  return t;
}

std::string header_line(const WatchData& d, int width) {
  std::string left = "Formation: " + d.formation;
  if (d.number_sync_standbys >= 0)
    left += " - Sync Standbys: " + std::to_string(d.number_sync_standbys);
  if (!d.monitor.empty()) left += " - Monitor: " + d.monitor;
  const int room = width - static_cast<int>(d.time.size()) - 1;
  if (d.time.empty() || room < 10) return cut(left, width);
  left = cut(left, room);
  return left + std::string(static_cast<std::size_t>(width) - left.size() - d.time.size(), ' ') +
         d.time;
}

/* Events, newest last: "time  node  description", the time shortened to the clock when narrow. */
std::vector<std::string> event_lines(const WatchData& d, int width, std::size_t count) {
  std::vector<std::string> out;
  if (count == 0) return out;
  const bool short_time = width < 80;
  auto time_of = [&](const std::string& t) {
    std::string s = t.substr(0, std::min<std::size_t>(t.size(), 19));
    return short_time && s.size() >= 19 ? s.substr(11, 8) : s;
  };
  const std::size_t first = d.events.size() > count - 1 ? d.events.size() - (count - 1) : 0;
  std::size_t tw = std::string("Event Time").size(), nw = std::string("Node").size();
  for (std::size_t i = first; i < d.events.size(); ++i) {
    const auto& e = d.events[i];
    tw = std::max(tw, time_of(e.time).size());
    nw = std::max(nw, (std::to_string(e.group_id) + "/" + std::to_string(e.node_id)).size());
  }
  out.push_back(
      cut(right("Event Time", tw) + kSep + right("Node", nw) + kSep + "Description", width));
  for (std::size_t i = first; i < d.events.size(); ++i) {
    const auto& e = d.events[i];
    out.push_back(cut(right(time_of(e.time), tw) + kSep +
                          right(std::to_string(e.group_id) + "/" + std::to_string(e.node_id), nw) +
                          kSep + e.description,
                      width));
  }
  return out;
}

}  // namespace

WatchScreen render_watch(const WatchData& d, int height, int width) {
  WatchScreen s;
  if (height <= 0 || width <= 0) return s;
  const std::size_t h = static_cast<std::size_t>(height);
  const bool footer = height >= 4;
  const std::size_t body = footer ? h - 1 : h; /* rows above the help line */
  auto add = [&](std::string line) {
    if (s.lines.size() < body) s.lines.push_back(cut(std::move(line), width));
  };
  add(header_line(d, width));
  add(d.error.empty() ? std::string() : "monitor: " + d.error);
  Table t = nodes_table(d, width);
  s.columns = t.policy;
  if (s.lines.size() < body) s.column_header_row = static_cast<int>(s.lines.size());
  for (auto& l : t.lines) add(l);
  /* the events get what is left below a blank line: their header and the newest ones */
  if (s.lines.size() + 3 <= body && !d.events.empty()) {
    add("");
    for (auto& l : event_lines(d, width, body - s.lines.size())) add(l);
  }
  while (s.lines.size() < body) s.lines.emplace_back();
  if (footer) {
    const std::string help = "Press q to quit";
    s.lines.push_back(static_cast<int>(help.size()) < width
                          ? std::string(static_cast<std::size_t>(width) - help.size() - 1, ' ') +
                                help
                          : cut(help, width));
  }
  return s;
}

}  // namespace pgaf::cli
