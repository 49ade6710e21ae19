/*
 * report.cpp — result.json, junit.xml, report.html (with an SVG timeline drawn here), the run
 * index and the summary table. See report.hpp for the invariants.
 */
#include "pgaf/lab/report.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace pgaf::lab {
namespace {

namespace fs = std::filesystem;

std::string fmt_ms(TimeMs ms) {
  return seconds_text(ms);
}

std::string opt_ms(const std::optional<TimeMs>& v) {
  return v ? fmt_ms(*v) : "—";
}

const char* state_colour(const std::string& s) {
  static const std::map<std::string, const char*> colours = {{"primary", "#d62728"},
                                                             {"wait_primary", "#ff9896"},
                                                             {"single", "#e377c2"},
                                                             {"join_primary", "#f7b6d2"},
                                                             {"apply_settings", "#f4a6a6"},
                                                             {"secondary", "#2ca02c"},
                                                             {"catchingup", "#98df8a"},
                                                             {"wait_standby", "#bcbd22"},
                                                             {"report_lsn", "#9467bd"},
                                                             {"prepare_promotion", "#c5b0d5"},
                                                             {"stop_replication", "#8c564b"},
                                                             {"draining", "#ff7f0e"},
                                                             {"demote_timeout", "#ffbb78"},
                                                             {"demoted", "#7f7f7f"},
                                                             {"fast_forward", "#17becf"},
                                                             {"join_secondary", "#9edae5"},
                                                             {"init", "#c7c7c7"},
                                                             {"maintenance", "#dbdb8d"},
                                                             {"wait_maintenance", "#dbdb8d"},
                                                             {"prepare_maintenance", "#dbdb8d"},
                                                             {"dropped", "#444444"}};
  auto it = colours.find(s);
  return it == colours.end() ? "#aaaaaa" : it->second;
}

const char* outcome_colour(OpOutcome o) {
  switch (o) {
    case OpOutcome::Ok:
      return "#2ca02c";
    case OpOutcome::Fail:
      return "#d62728";
    case OpOutcome::Unknown:
      return "#ff7f0e";
  }
  return "#000";
}

std::string outcome_class(ScenarioOutcome o) {
  switch (o) {
    case ScenarioOutcome::Passed:
      return "pass";
    case ScenarioOutcome::Failed:
      return "fail";
    case ScenarioOutcome::Skipped:
      return "skip";
    case ScenarioOutcome::Error:
      return "fail";
  }
  return "fail";
}

}  // namespace

Status write_atomically(const std::filesystem::path& path, const std::string& content) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return make_error(ErrorCode::Internal, "could not create \"" + tmp.string() + "\"");
    out << content;
    out.flush();
    if (!out) return make_error(ErrorCode::Internal, "could not write \"" + tmp.string() + "\"");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec)
    return make_error(ErrorCode::Internal,
                      "could not rename \"" + tmp.string() + "\": " + ec.message());
  return Status::Ok();
}

std::string seconds_text(TimeMs ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string to_string(ScenarioOutcome o) {
  switch (o) {
    case ScenarioOutcome::Passed:
      return "PASSED";
    case ScenarioOutcome::Failed:
      return "FAILED";
    case ScenarioOutcome::Skipped:
      return "SKIPPED";
    case ScenarioOutcome::Error:
      return "ERROR";
  }
  return "?";
}

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        /* drop control characters XML 1.0 forbids */
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') break;
        out += c;
    }
  }
  return out;
}

std::string render_result_json(const ScenarioReport& r) {
  nlohmann::json j;
  j["scenario"] = r.name;
  j["file"] = r.file;
  j["description"] = r.description;
  j["seed"] = r.seed;
  j["outcome"] = to_string(r.outcome);
  j["message"] = r.message;
  j["duration_ms"] = r.duration_ms;
  j["counts"] = {{"acked", r.checks.acked},
                 {"failed", r.checks.failed},
                 {"unknown", r.checks.unknown},
                 {"lost_writes", r.checks.lost_writes},
                 {"recovered_unknown", r.checks.recovered_unknown}};
  auto& vs = j["verdicts"] = nlohmann::json::array();
  for (const auto& v : r.checks.verdicts) vs.push_back(to_json(v));
  auto& rto = j["rto"] = nlohmann::json::array();
  for (const auto& x : r.checks.rto) rto.push_back(to_json(x));
  j["history"] = to_json(r.history);
  return j.dump(1) + "\n";
}

std::string render_junit(const std::vector<ScenarioReport>& rs) {
  std::ostringstream o;
  int tests = 0, failures = 0, skipped = 0, errors = 0;
  std::ostringstream body;
  for (const auto& r : rs) {
    int t = 0, f = 0, s = 0, e = 0;
    std::ostringstream cases;
    const std::string cls = "lab." + xml_escape(r.name);
    if (r.outcome == ScenarioOutcome::Skipped || r.outcome == ScenarioOutcome::Error ||
        r.checks.verdicts.empty()) {
      ++t;
      cases << "    <testcase classname=\"" << cls << "\" name=\"run\" time=\""
            << static_cast<double>(r.duration_ms) / 1000.0 << "\">\n";
      if (r.outcome == ScenarioOutcome::Skipped) {
        ++s;
        cases << "      <skipped message=\"" << xml_escape(r.message) << "\"/>\n";
      } else {
        ++e;
        cases << "      <error message=\"" << xml_escape(r.message) << "\"/>\n";
      }
      cases << "    </testcase>\n";
    }
    for (const auto& v : r.checks.verdicts) {
      ++t;
      cases << "    <testcase classname=\"" << cls << "\" name=\"" << xml_escape(v.checker)
            << "\">\n";
      if (v.status == VerdictStatus::Fail) {
        ++f;
        cases << "      <failure message=\"" << xml_escape(v.summary) << "\">"
              << xml_escape(v.witnesses.dump(1)) << "</failure>\n";
      } else if (v.status == VerdictStatus::Skipped) {
        ++s;
        cases << "      <skipped message=\"" << xml_escape(v.summary) << "\"/>\n";
      } else {
        cases << "      <system-out>" << xml_escape(v.summary) << "</system-out>\n";
      }
      cases << "    </testcase>\n";
    }
    body << "  <testsuite name=\"" << cls << "\" tests=\"" << t << "\" failures=\"" << f
         << "\" errors=\"" << e << "\" skipped=\"" << s << "\" time=\""
         << static_cast<double>(r.duration_ms) / 1000.0 << "\">\n"
         << "    <properties><property name=\"seed\" value=\"" << r.seed
         << "\"/><property name=\"file\" value=\"" << xml_escape(r.file) << "\"/></properties>\n"
         << cases.str() << "  </testsuite>\n";
    tests += t;
    failures += f;
    skipped += s;
    errors += e;
  }
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<testsuites name=\"lab\" tests=\"" << tests << "\" failures=\"" << failures
    << "\" errors=\"" << errors << "\" skipped=\"" << skipped << "\">\n"
    << body.str() << "</testsuites>\n";
  return o.str();
}

/* The agent's `GET /primary` answers of one node (formation.http_endpoint), below its lane: green
 * 200, grey 503 (or another status), black no answer. Nothing when the node was not probed. */
template <typename X>
void render_http_strip(std::ostringstream& o, const std::string& node,
                       const std::vector<const Sample*>& sm, int y, TimeMs t_end, const X& x) {
  auto answer = [](const Sample* s) {
    if (s->http_primary < 0) return std::string("no answer");
    return std::to_string(s->http_primary);
  };
  for (size_t k = 0; k < sm.size();) {
    if (sm[k]->http_primary == 0) {
      ++k;
      continue;
    }
    size_t j = k;
    while (j + 1 < sm.size() && sm[j + 1]->http_primary == sm[k]->http_primary) ++j;
    const TimeMs t0 = sm[k]->t_ms;
    const TimeMs t1 = j + 1 < sm.size() ? sm[j + 1]->t_ms : t_end;
    const std::string a = answer(sm[k]);
    const char* colour = a == "200" ? "#2ca02c" : a == "no answer" ? "#000000" : "#bbbbbb";
    o << "<rect class=\"http-primary\" x=\"" << x(t0) << "\" y=\"" << y << "\" width=\""
      << std::max(1.0, std::stod(x(t1)) - std::stod(x(t0))) << "\" height=\"5\" fill=\"" << colour
      << "\"><title>"
      << xml_escape(node + " GET /primary: " + a + " " + fmt_ms(t0) + " → " + fmt_ms(t1))
      << "</title></rect>\n";
    k = j + 1;
  }
}

std::string render_svg_timeline(const ScenarioReport& r) {
  const History& h = r.history;
  TimeMs t_end = std::max<TimeMs>(h.phases.end_ms, 1);
  for (const auto& op : h.ops) t_end = std::max(t_end, op.complete_ms);
  for (const auto& s : h.fsm) t_end = std::max(t_end, s.t_ms);
  const int left = 120, width = 1100, lane_h = 30, top = 40;
  const int n = static_cast<int>(h.nodes.size());
  const int ops_top = top + n * (lane_h + 8) + 10;
  const int ops_h = 66;
  const int height = ops_top + ops_h + 40;
  auto x = [&](TimeMs t) {
    const double v =
        static_cast<double>(left) + static_cast<double>(width) *
                                        static_cast<double>(std::clamp<TimeMs>(t, 0, t_end)) /
                                        static_cast<double>(t_end);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return std::string(buf);
  };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" width=\"" << left + width + 20
    << "\" height=\"" << height << "\" viewBox=\"0 0 " << left + width + 20 << " " << height
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<rect x=\"0\" y=\"0\" width=\"" << left + width + 20 << "\" height=\"" << height
    << "\" fill=\"#ffffff\"/>\n";
  /* time axis */
  TimeMs step = 1000;
  for (TimeMs s : {1000, 2000, 5000, 10000, 20000, 30000, 60000, 120000, 300000}) {
    step = s;
    if (t_end / s <= 20) break;
  }
  for (TimeMs t = 0; t <= t_end; t += step) {
    o << "<line x1=\"" << x(t) << "\" y1=\"" << top - 8 << "\" x2=\"" << x(t) << "\" y2=\""
      << height - 25 << "\" stroke=\"#eeeeee\"/>\n";
    o << "<text x=\"" << x(t) << "\" y=\"" << height - 10
      << "\" text-anchor=\"middle\" fill=\"#555\">" << t / 1000 << "s</text>\n";
  }
  /* fault bands */
  int fi = 0;
  for (const auto& f : h.faults) {
    const TimeMs end = f.end_ms >= 0 ? f.end_ms : t_end;
    const double w = std::max(2.0, std::stod(x(end)) - std::stod(x(f.start_ms)));
    o << "<g class=\"fault\"><title>"
      << xml_escape(f.name + " (" + f.action + ") " + fmt_ms(f.start_ms) + " → " +
                    (f.end_ms >= 0 ? fmt_ms(f.end_ms) : std::string("end")) +
                    (f.skipped ? " SKIPPED: " + f.detail : ""))
      << "</title><rect x=\"" << x(f.start_ms) << "\" y=\"" << top - 6 << "\" width=\"" << w
      << "\" height=\"" << ops_top + ops_h - top + 6 << "\" fill=\""
      << (f.skipped ? "#999999" : "#ff0000")
      << "\" fill-opacity=\"0.10\" stroke=\"#ff0000\" stroke-opacity=\"0.4\"/>"
      << "<text x=\"" << x(f.start_ms) << "\" y=\"" << 12 + 12 * (fi % 2) << "\" fill=\"#b00\">"
      << xml_escape(f.name) << "</text></g>\n";
    ++fi;
  }
  /* phase markers */
  const std::pair<const char*, TimeMs> marks[] = {
      {"warm-up", h.phases.warmup_start_ms},
      {"faults", h.phases.faults_start_ms},
      {"heal", h.phases.heal_ms},
      {"converge bound", h.phases.converge_deadline_ms}};
  for (const auto& [label, t] : marks) {
    if (t < 0) continue;
    o << "<line class=\"phase\" x1=\"" << x(t) << "\" y1=\"" << top - 8 << "\" x2=\"" << x(t)
      << "\" y2=\"" << height - 25 << "\" stroke=\"#333\" stroke-dasharray=\"4,3\"><title>" << label
      << " at " << fmt_ms(t) << "</title></line>\n";
  }
  /* node swimlanes: monitor FSM state (top band), sampler role (bottom strip) */
  for (int i = 0; i < n; ++i) {
    const std::string& node = h.nodes[static_cast<size_t>(i)];
    const int y = top + i * (lane_h + 8);
    o << "<text x=\"8\" y=\"" << y + 18 << "\" font-weight=\"bold\">" << xml_escape(node)
      << "</text>\n";
    o << "<rect x=\"" << left << "\" y=\"" << y << "\" width=\"" << width << "\" height=\""
      << lane_h << "\" fill=\"none\" stroke=\"#cccccc\"/>\n";
    std::vector<const FsmSample*> ss;
    for (const auto& s : h.fsm) {
      if (s.node == node) ss.push_back(&s);
    }
    std::stable_sort(ss.begin(), ss.end(), [](auto* a, auto* b) { return a->t_ms < b->t_ms; });
    /* merge runs of the same reported state */
    for (size_t k = 0; k < ss.size();) {
      size_t j = k;
      while (j + 1 < ss.size() && ss[j + 1]->reported == ss[k]->reported &&
             ss[j + 1]->goal == ss[k]->goal)
        ++j;
      const TimeMs t0 = ss[k]->t_ms;
      const TimeMs t1 = j + 1 < ss.size() ? ss[j + 1]->t_ms : t_end;
      const double w = std::max(1.0, std::stod(x(t1)) - std::stod(x(t0)));
      o << "<g class=\"state\"><title>"
        << xml_escape(node + ": " + ss[k]->reported + " (goal " + ss[k]->goal + ", health " +
                      ss[k]->health + ") " + fmt_ms(t0) + " → " + fmt_ms(t1))
        << "</title><rect x=\"" << x(t0) << "\" y=\"" << y << "\" width=\"" << w << "\" height=\""
        << lane_h - 8 << "\" fill=\"" << state_colour(ss[k]->reported) << "\"/>";
      if (w > 60) {
        o << "<text x=\"" << std::stod(x(t0)) + 3 << "\" y=\"" << y + 15 << "\" fill=\"#000\">"
          << xml_escape(ss[k]->reported) << "</text>";
      }
      o << "</g>\n";
      k = j + 1;
    }
    std::vector<const Sample*> sm;
    for (const auto& s : h.samples) {
      if (s.node == node) sm.push_back(&s);
    }
    std::stable_sort(sm.begin(), sm.end(), [](auto* a, auto* b) { return a->t_ms < b->t_ms; });
    auto role = [](const Sample* s) {
      if (!s->reachable) return std::string("down");
      if (s->in_recovery) return std::string("standby");
      return std::string(s->read_only ? "read-only primary" : "writable");
    };
    for (size_t k = 0; k < sm.size();) {
      size_t j = k;
      while (j + 1 < sm.size() && role(sm[j + 1]) == role(sm[k]) &&
             sm[j + 1]->timeline == sm[k]->timeline)
        ++j;
      const TimeMs t0 = sm[k]->t_ms;
      const TimeMs t1 = j + 1 < sm.size() ? sm[j + 1]->t_ms : t_end;
      const std::string rl = role(sm[k]);
      const char* colour = rl == "down"       ? "#000000"
                           : rl == "standby"  ? "#1f77b4"
                           : rl == "writable" ? "#d62728"
                                              : "#ffbf00";
      o << "<rect class=\"role\" x=\"" << x(t0) << "\" y=\"" << y + lane_h - 7 << "\" width=\""
        << std::max(1.0, std::stod(x(t1)) - std::stod(x(t0))) << "\" height=\"6\" fill=\"" << colour
        << "\"><title>"
        << xml_escape(node + " sampled " + rl + ", timeline " + std::to_string(sm[k]->timeline) +
                      " " + fmt_ms(t0) + " → " + fmt_ms(t1))
        << "</title></rect>\n";
      k = j + 1;
    }
    render_http_strip(o, node, sm, y + lane_h + 1, t_end, x);
  }
  /* client operations: rows ok / fail / unknown, x = completion time */
  o << "<text x=\"8\" y=\"" << ops_top + 14 << "\" font-weight=\"bold\">client ops</text>\n";
  const char* rows[] = {"ok", "fail", "unknown"};
  for (int k = 0; k < 3; ++k) {
    o << "<text x=\"70\" y=\"" << ops_top + 12 + k * 22 << "\" fill=\"#555\">" << rows[k]
      << "</text>\n";
  }
  o << "<rect x=\"" << left << "\" y=\"" << ops_top << "\" width=\"" << width << "\" height=\""
    << ops_h << "\" fill=\"none\" stroke=\"#cccccc\"/>\n";
  for (const auto& op : h.ops) {
    const int row = op.outcome == OpOutcome::Ok ? 0 : op.outcome == OpOutcome::Fail ? 1 : 2;
    o << "<rect class=\"op op-" << to_string(op.outcome) << "\" x=\"" << x(op.invoke_ms)
      << "\" y=\"" << ops_top + 4 + row * 22 << "\" width=\""
      << std::max(1.0, std::stod(x(op.complete_ms)) - std::stod(x(op.invoke_ms)))
      << "\" height=\"12\" fill=\"" << outcome_colour(op.outcome) << "\" fill-opacity=\"0.6\"/>\n";
  }
  /* RTO gaps */
  for (const auto& rto : r.checks.rto) {
    o << "<g class=\"rto\"><title>"
      << xml_escape("write unavailability after " + rto.fault + ": " + fmt_ms(rto.unavailable_ms))
      << "</title><line x1=\"" << x(rto.gap_from_ms) << "\" y1=\"" << ops_top + ops_h + 6
      << "\" x2=\"" << x(rto.gap_to_ms) << "\" y2=\"" << ops_top + ops_h + 6
      << "\" stroke=\"#000\" stroke-width=\"3\"/></g>\n";
  }
  o << "</svg>\n";
  return o.str();
}

std::string render_html(const ScenarioReport& r) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>lab: "
    << xml_escape(r.name)
    << "</"
       "title>\n<style>body{font-family:sans-serif;margin:20px;color:#222}table{border-collapse:"
       "collapse;margin:8px 0}"
       "td,th{border:1px solid #ccc;padding:3px "
       "8px;text-align:left;vertical-align:top}.pass{color:#1a7f1a;font-weight:bold}"
       ".fail{color:#c00;font-weight:bold}.skip{color:#888;font-weight:bold}pre{font-size:11px;max-"
       "height:300px;overflow:auto;"
       "background:#f6f6f6;padding:6px}.legend span{display:inline-block;padding:1px "
       "6px;margin:2px;font-size:11px}</style>"
       "</head><body>\n";
  o << "<h1>" << xml_escape(r.name) << " <span class=\"" << outcome_class(r.outcome) << "\">"
    << to_string(r.outcome) << "</span></h1>\n";
  o << "<p>" << xml_escape(r.description) << "</p>\n";
  o << "<p>file <code>" << xml_escape(r.file) << "</code> · seed <code>" << r.seed
    << "</code> · duration " << fmt_ms(r.duration_ms) << " · writes: " << r.checks.acked << " ok, "
    << r.checks.failed << " fail, " << r.checks.unknown
    << " unknown · lost acknowledged writes: " << r.checks.lost_writes << "</p>\n";
  if (!r.message.empty()) o << "<p><b>" << xml_escape(r.message) << "</b></p>\n";
  o << "<h2>Verdicts</h2>\n<table><tr><th>checker</th><th>verdict</th><th>summary</"
       "th><th>witnesses</th></tr>\n";
  for (const auto& v : r.checks.verdicts) {
    const std::string cls = v.status == VerdictStatus::Pass   ? "pass"
                            : v.status == VerdictStatus::Fail ? "fail"
                                                              : "skip";
    o << "<tr class=\"verdict\"><td>" << xml_escape(v.checker) << "</td><td class=\"" << cls
      << "\">" << to_string(v.status) << "</td><td>" << xml_escape(v.summary) << "</td><td>";
    if (!v.witnesses.empty()) {
      o << "<details><summary>" << v.witnesses.size() << " witness(es)</summary><pre>"
        << xml_escape(v.witnesses.dump(1)) << "</pre></details>";
    }
    o << "</td></tr>\n";
  }
  o << "</table>\n<h2>Recovery (client-observed write unavailability per fault)</h2>\n"
       "<table><tr><th>fault</th><th>start</th><th>unavailable</th><th>detect</th><th>decide</"
       "th><th>promote</th>"
       "<th>reconnect</th><th>recovered</th></tr>\n";
  for (const auto& x : r.checks.rto) {
    o << "<tr class=\"rto-row\"><td>" << xml_escape(x.fault) << "</td><td>" << fmt_ms(x.start_ms)
      << "</td><td>" << fmt_ms(x.unavailable_ms) << "</td><td>" << opt_ms(x.detect_ms)
      << "</td><td>" << opt_ms(x.decide_ms) << "</td><td>" << opt_ms(x.promote_ms) << "</td><td>"
      << opt_ms(x.reconnect_ms) << "</td><td>" << (x.recovered ? "yes" : "no") << "</td></tr>\n";
  }
  o << "</table>\n<h2>Timeline</h2>\n<p>Each node lane: the monitor's reported FSM state (wide "
       "band) and the sampler's "
       "view from inside the node (thin strip: red writable, amber read-only primary, blue "
       "standby, black down; below it, when the scenario sets formation.http_endpoint, the "
       "agent's GET /primary: green 200, grey 503, black no answer). Red "
       "bands: faults. Dashed lines: phases. Bottom: client writes by outcome; black bars: the RTO "
       "gaps.</p>\n";
  o << render_svg_timeline(r);
  o << "<div class=\"legend\">";
  for (const char* s :
       {"primary", "wait_primary", "single", "secondary", "catchingup", "wait_standby",
        "report_lsn", "prepare_promotion", "stop_replication", "draining", "demote_timeout",
        "demoted", "fast_forward", "join_secondary", "init"}) {
    o << "<span style=\"background:" << state_colour(s) << "\">" << s << "</span>";
  }
  o << "</div>\n<h2>Faults</h2>\n<table><tr><th>name</th><th>action</th><th>targets</th><th>start</"
       "th><th>end</th><th>detail</th></tr>\n";
  for (const auto& f : r.history.faults) {
    std::string targets;
    for (const auto& t : f.targets) targets += (targets.empty() ? "" : ", ") + t;
    o << "<tr><td>" << xml_escape(f.name) << "</td><td>" << xml_escape(f.action) << "</td><td>"
      << xml_escape(targets) << "</td><td>" << fmt_ms(f.start_ms) << "</td><td>"
      << (f.end_ms >= 0 ? fmt_ms(f.end_ms) : "—") << "</td><td>" << (f.skipped ? "SKIPPED: " : "")
      << xml_escape(f.detail) << "</td></tr>\n";
  }
  o << "</table>\n";
  if (!r.history.notes.empty()) {
    o << "<h2>Notes</h2><ul>";
    for (const auto& n : r.history.notes) o << "<li>" << xml_escape(n) << "</li>";
    o << "</ul>\n";
  }
  o << "<h2>Monitor "
       "events</h2>\n<table><tr><th>t</th><th>node</th><th>reported</th><th>goal</th><th>health</"
       "th><th>description</th></tr>\n";
  size_t shown = 0;
  for (const auto& e : r.history.events) {
    if (++shown > 500) break;
    o << "<tr><td>" << fmt_ms(e.t_ms) << "</td><td>" << xml_escape(e.node) << "</td><td>"
      << xml_escape(e.reported) << "</td><td>" << xml_escape(e.goal) << "</td><td>"
      << xml_escape(e.health) << "</td><td>" << xml_escape(e.description) << "</td></tr>\n";
  }
  o << "</table>\n</body></html>\n";
  return o.str();
}

Status write_scenario_report(const std::string& dir, const ScenarioReport& r) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return make_error(ErrorCode::Internal,
                      "could not create report directory \"" + dir + "\": " + ec.message());
  if (Status s = write_atomically(fs::path(dir) / "result.json", render_result_json(r)); !s.ok())
    return s;
  if (Status s = write_atomically(fs::path(dir) / "junit.xml", render_junit({r})); !s.ok())
    return s;
  return write_atomically(fs::path(dir) / "report.html", render_html(r));
}

Status write_run_index(const std::string& run_dir, const std::vector<ScenarioReport>& rs) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec)
    return make_error(ErrorCode::Internal, "could not create \"" + run_dir + "\": " + ec.message());
  if (Status s = write_atomically(fs::path(run_dir) / "junit.xml", render_junit(rs)); !s.ok())
    return s;
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>lab "
       "run</title><style>body{font-family:sans-serif}"
       "td,th{border:1px solid #ccc;padding:3px "
       "8px}table{border-collapse:collapse}.pass{color:#1a7f1a}.fail{color:#c00}.skip{color:#888}"
       "</style></head><body><h1>lab run</h1><table><tr><th>scenario</th><th>outcome</th><th>worst "
       "RTO</th><th>lost writes</th><th>message</th></tr>\n";
  for (const auto& r : rs) {
    TimeMs worst = 0;
    for (const auto& x : r.checks.rto) worst = std::max(worst, x.unavailable_ms);
    o << "<tr><td><a href=\"" << xml_escape(r.name) << "/report.html\">" << xml_escape(r.name)
      << "</a></td><td class=\"" << outcome_class(r.outcome) << "\">" << to_string(r.outcome)
      << "</td><td>" << (r.checks.rto.empty() ? "—" : fmt_ms(worst)) << "</td><td>"
      << r.checks.lost_writes << "</td><td>" << xml_escape(r.message) << "</td></tr>\n";
  }
  o << "</table></body></html>\n";
  return write_atomically(fs::path(run_dir) / "index.html", o.str());
}

std::string summary_table(const std::vector<ScenarioReport>& rs) {
  std::ostringstream o;
  size_t w = 8;
  for (const auto& r : rs) w = std::max(w, r.name.size());
  char line[512];
  std::snprintf(line, sizeof line, "%-*s  %-8s  %10s  %11s  %s\n", static_cast<int>(w), "scenario",
                "verdict", "worst RTO", "lost writes", "failed checks / reason");
  o << line;
  for (const auto& r : rs) {
    TimeMs worst = 0;
    for (const auto& x : r.checks.rto) worst = std::max(worst, x.unavailable_ms);
    std::string why = r.message;
    for (const auto& v : r.checks.verdicts) {
      if (v.status == VerdictStatus::Fail)
        why += (why.empty() ? "" : "; ") + v.checker + ": " + v.summary;
    }
    if (why.size() > 160) why = why.substr(0, 157) + "...";
    const std::string rto = r.checks.rto.empty() ? "-" : fmt_ms(worst);
    const std::string lost = r.checks.verdicts.empty() || r.outcome == ScenarioOutcome::Error
                                 ? "-"
                                 : std::to_string(r.checks.lost_writes);
    std::snprintf(line, sizeof line, "%-*s  %-8s  %10s  %11s  %s\n", static_cast<int>(w),
                  r.name.c_str(), to_string(r.outcome).c_str(), rto.c_str(), lost.c_str(),
                  why.c_str());
    o << line;
  }
  return o.str();
}

}  // namespace pgaf::lab
