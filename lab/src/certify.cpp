/*
 * certify.cpp — the certification report's JSON and one-page HTML (certify.hpp). Pure: it
 * renders what the runs recorded, it runs nothing.
 */
#include "pgaf/lab/certify.hpp"

#include <fstream>
#include <set>
#include <sstream>

namespace pgaf::lab {

namespace {

std::string ms_text(TimeMs ms) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(1);
  o << static_cast<double>(ms) / 1000.0 << " s";
  return o.str();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/* Why a result is not a pass, in one line. */
std::string why_not(const ScenarioReport& r) {
  if (r.outcome == ScenarioOutcome::Passed) return {};
  if (!r.message.empty()) return r.message;
  std::string out;
  for (const auto& v : r.checks.verdicts)
    if (v.status == VerdictStatus::Fail)
      out += (out.empty() ? "" : "; ") + v.checker + ": " + v.summary;
  return out;
}

}  // namespace

bool certified(const Certification& c) {
  if (c.results.empty()) return false;
  for (const auto& r : c.results)
    if (r.outcome != ScenarioOutcome::Passed) return false;
  return true;
}

nlohmann::json certification_json(const Certification& c) {
  nlohmann::json j;
  j["verdict"] = certified(c) ? "certified" : "not certified";
  j["generated_at"] = c.generated_at;
  j["pgaf_version"] = c.pgaf_version;
  j["command"] = c.command;
  j["notes"] = c.notes;
  auto& p = j["profile"];
  p["name"] = c.profile.name;
  p["description"] = c.profile.description;
  p["file"] = c.profile.file;
  p["yaml"] = c.profile.source_text;
  p["rulesets"] = nlohmann::json::object();
  for (const auto& f : c.profile.ruleset_files) p["rulesets"][f] = read_text(f);
  j["invariants"] = nlohmann::json::array();
  for (std::size_t i = 0; i < c.results.size(); ++i) {
    const auto& r = c.results[i];
    nlohmann::json s;
    s["scenario"] = r.name;
    s["description"] = r.description;
    s["outcome"] = to_string(r.outcome);
    s["why"] = why_not(r);
    s["seed"] = r.seed;
    s["report"] = i < c.report_links.size() ? c.report_links[i] : "";
    s["checks"] = nlohmann::json::array();
    for (const auto& v : r.checks.verdicts) s["checks"].push_back(to_json(v));
    s["rto"] = nlohmann::json::array();
    for (const auto& rto : r.checks.rto) s["rto"].push_back(to_json(rto));
    s["writes"] = {{"acked", r.checks.acked},
                   {"failed", r.checks.failed},
                   {"unknown", r.checks.unknown},
                   {"lost", r.checks.lost_writes}};
    j["invariants"].push_back(s);
  }
  return j;
}

std::string render_certification_html(const Certification& c) {
  const bool ok = certified(c);
  std::ostringstream h;
  h << "<!doctype html><html><head><meta charset=\"utf-8\"><title>pgaf certification: "
    << xml_escape(c.profile.name) << "</title><style>"
    << "body{font-family:sans-serif;max-width:1100px;margin:1em auto;color:#222}"
    << "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:4px 6px;"
    << "text-align:left;vertical-align:top;font-size:14px}.pass{color:#17702a;font-weight:bold}"
    << ".fail{color:#b00020;font-weight:bold}.skip{color:#8a6d00;font-weight:bold}"
    << "pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}"
    << ".verdict{font-size:28px;padding:8px 12px;border-radius:6px;display:inline-block}"
    << "</style></head><body>";
  h << "<h1>pgaf network certification — " << xml_escape(c.profile.name) << "</h1>";
  h << "<p class=\"verdict " << (ok ? "pass" : "fail") << "\">"
    << (ok ? "CERTIFIED" : "NOT CERTIFIED") << "</p>";
  h << "<p>" << xml_escape(c.profile.description) << "</p>";
  h << "<table><tr><th>pgaf version</th><td>" << xml_escape(c.pgaf_version) << "</td></tr>"
    << "<tr><th>generated</th><td>" << xml_escape(c.generated_at) << "</td></tr>"
    << "<tr><th>profile</th><td>" << xml_escape(c.profile.file) << "</td></tr>"
    << "<tr><th>reproduce</th><td><code>" << xml_escape(c.command) << "</code></td></tr></table>";
  if (!c.notes.empty()) {
    h << "<h2>Notes</h2><ul>";
    for (const auto& n : c.notes) h << "<li>" << xml_escape(n) << "</li>";
    h << "</ul>";
  }
  h << "<h2>Invariants</h2><table><tr><th>scenario</th><th>result</th><th>checks</th>"
    << "<th>RTO per fault</th><th>writes (acked / failed / lost)</th></tr>";
  for (std::size_t i = 0; i < c.results.size(); ++i) {
    const auto& r = c.results[i];
    const char* cls = r.outcome == ScenarioOutcome::Passed    ? "pass"
                      : r.outcome == ScenarioOutcome::Skipped ? "skip"
                                                              : "fail";
    h << "<tr><td>";
    if (i < c.report_links.size() && !c.report_links[i].empty())
      h << "<a href=\"" << xml_escape(c.report_links[i]) << "\">" << xml_escape(r.name) << "</a>";
    else
      h << xml_escape(r.name);
    h << "<br><small>" << xml_escape(r.description) << "</small></td><td class=\"" << cls << "\">"
      << xml_escape(to_string(r.outcome)) << "<br><small>" << xml_escape(why_not(r))
      << "</small></td><td>";
    for (const auto& v : r.checks.verdicts)
      h << "<span class=\""
        << (v.status == VerdictStatus::Pass   ? "pass"
            : v.status == VerdictStatus::Fail ? "fail"
                                              : "skip")
        << "\">" << xml_escape(to_string(v.status)) << "</span> " << xml_escape(v.checker)
        << "<br>";
    h << "</td><td>";
    for (const auto& rto : r.checks.rto)
      h << xml_escape(rto.fault) << ": " << (rto.recovered ? "" : "not recovered, ")
        << ms_text(rto.unavailable_ms) << " unavailable<br>";
    h << "</td><td>" << r.checks.acked << " / " << r.checks.failed << " / " << r.checks.lost_writes
      << "</td></tr>";
  }
  h << "</table>";
  h << "<h2>Network profile</h2><pre>" << xml_escape(c.profile.source_text) << "</pre>";
  std::set<std::string> shown; /* routers often share one policy file */
  for (const auto& f : c.profile.ruleset_files)
    if (shown.insert(f).second)
      h << "<h3>Ruleset " << xml_escape(f) << "</h3><pre>" << xml_escape(read_text(f)) << "</pre>";
  h << "</body></html>\n";
  return h.str();
}

Status write_certification(const std::string& dir, const Certification& c) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return make_error(ErrorCode::Internal, "could not create \"" + dir + "\": " + ec.message());
  if (Status s = write_atomically(std::filesystem::path(dir) / "certificate.json",
                                  certification_json(c).dump(2) + "\n");
      !s.ok())
    return s;
  return write_atomically(std::filesystem::path(dir) / "certificate.html",
                          render_certification_html(c));
}

}  // namespace pgaf::lab
