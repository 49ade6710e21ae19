/*
 * campaign_report.cpp — per-seed result files (JSON), merging shard directories, and the campaign
 * report (HTML with inline SVG, JSON, JUnit). See campaign_report.hpp for the invariants.
 */
#include "pgaf/lab/campaign_report.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "pgaf/lab/report.hpp"

namespace pgaf::lab {

namespace fs = std::filesystem;

nlohmann::json to_json(const SeedResult& r) {
  nlohmann::json j;
  j["seed"] = r.seed;
  j["variant"] = r.variant;
  j["binary"] = r.binary;
  j["outcome"] = r.outcome;
  j["message"] = r.message;
  j["failed_checkers"] = r.failed_checkers;
  j["duration_ms"] = r.duration_ms;
  j["acked"] = r.acked;
  j["lost_writes"] = r.lost_writes;
  auto& f = j["faults"] = nlohmann::json::array();
  for (const auto& x : r.faults)
    f.push_back({{"name", x.name},
                 {"action", x.action},
                 {"target", x.target},
                 {"rto_ms", x.rto_ms},
                 {"recovered", x.recovered}});
  j["scenario"] = r.scenario;
  j["report"] = r.report;
  if (r.reproducer) {
    const auto& p = *r.reproducer;
    j["reproducer"] = {
        {"file", p.file},  {"faults", p.faults},         {"original_faults", p.original_faults},
        {"runs", p.runs},  {"reproduced", p.reproduced}, {"replay", p.replay},
        {"steps", p.steps}};
  }
  return j;
}

Result<SeedResult> seed_result_from_json(const nlohmann::json& j) {
  try {
    SeedResult r;
    r.seed = j.at("seed").get<std::uint64_t>();
    r.variant = j.value("variant", "main");
    r.binary = j.value("binary", "");
    r.outcome = j.at("outcome").get<std::string>();
    r.message = j.value("message", "");
    r.failed_checkers = j.value("failed_checkers", std::vector<std::string>{});
    r.duration_ms = j.value("duration_ms", TimeMs{0});
    r.acked = j.value("acked", 0);
    r.lost_writes = j.value("lost_writes", 0);
    for (const auto& x : j.value("faults", nlohmann::json::array()))
      r.faults.push_back({x.at("name").get<std::string>(), x.at("action").get<std::string>(),
                          x.value("target", ""), x.value("rto_ms", TimeMs{0}),
                          x.value("recovered", true)});
    r.scenario = j.value("scenario", "");
    r.report = j.value("report", "");
    if (j.contains("reproducer")) {
      const auto& p = j["reproducer"];
      Reproducer x;
      x.file = p.value("file", "");
      x.faults = p.value("faults", 0);
      x.original_faults = p.value("original_faults", 0);
      x.runs = p.value("runs", 0);
      x.reproduced = p.value("reproduced", false);
      x.replay = p.value("replay", "");
      x.steps = p.value("steps", std::vector<std::string>{});
      r.reproducer = x;
    }
    return r;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::InvalidArgument,
                      std::string("malformed campaign result: ") + e.what());
  }
}

Result<SeedResult> seed_result_from_scenario(const nlohmann::json& j) {
  try {
    SeedResult r;
    r.seed = j.at("seed").get<std::uint64_t>();
    r.outcome = j.at("outcome").get<std::string>();
    r.message = j.value("message", "");
    r.duration_ms = j.value("duration_ms", TimeMs{0});
    r.acked = j.at("counts").value("acked", 0);
    r.lost_writes = j.at("counts").value("lost_writes", 0);
    for (const auto& v : j.at("verdicts"))
      if (v.at("verdict").get<std::string>() == "fail")
        r.failed_checkers.push_back(v.at("checker").get<std::string>());
    std::map<std::string, std::pair<std::string, std::string>> kinds; /* name → action, target */
    for (const auto& f : j.at("history").value("faults", nlohmann::json::array())) {
      const auto targets = f.value("targets", std::vector<std::string>{});
      kinds[f.at("name").get<std::string>()] = {f.at("action").get<std::string>(),
                                                targets.empty() ? "" : targets[0]};
    }
    for (const auto& x : j.value("rto", nlohmann::json::array())) {
      SeedFault f;
      f.name = x.at("fault").get<std::string>();
      f.action = kinds.count(f.name) ? kinds[f.name].first : "?";
      f.target = kinds.count(f.name) ? kinds[f.name].second : "";
      f.rto_ms = x.value("unavailable_ms", TimeMs{0});
      f.recovered = x.value("recovered", true);
      r.faults.push_back(f);
    }
    return r;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::InvalidArgument,
                      std::string("malformed scenario result.json: ") + e.what());
  }
}

std::string result_file_name(std::uint64_t seed, const std::string& variant) {
  return "seed-" + std::to_string(seed) + (variant == "main" ? "" : "." + variant) + ".json";
}

Status write_seed_result(const std::string& out_dir, const SeedResult& r) {
  const fs::path dir = fs::path(out_dir) / "results";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return make_error(ErrorCode::Internal,
                      "could not create \"" + dir.string() + "\": " + ec.message());
  return write_atomically(dir / result_file_name(r.seed, r.variant), to_json(r).dump(1) + "\n");
}

Result<std::vector<SeedResult>> read_seed_results(const std::string& dir) {
  std::vector<SeedResult> out;
  const fs::path rd = fs::path(dir) / "results";
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return make_error(ErrorCode::InvalidArgument, "\"" + dir + "\" is not a directory",
                      "pass campaign output directories (--out of lab campaign)");
  if (!fs::is_directory(rd, ec)) return out;
  for (const auto& e : fs::directory_iterator(rd, ec)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream in(e.path());
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded())
      return make_error(ErrorCode::InvalidArgument,
                        "\"" + e.path().string() + "\" is not valid JSON");
    auto r = seed_result_from_json(j);
    if (!r.ok())
      return make_error(ErrorCode::InvalidArgument,
                        "\"" + e.path().string() + "\": " + r.error().message);
    r->dir = dir;
    out.push_back(std::move(r).value());
  }
  std::sort(out.begin(), out.end(), [](const SeedResult& a, const SeedResult& b) {
    return std::tie(a.variant, a.seed) < std::tie(b.variant, b.seed);
  });
  return out;
}

Result<std::vector<SeedResult>> merge_seed_results(const std::vector<std::string>& dirs) {
  std::vector<SeedResult> all;
  std::map<std::pair<std::string, std::uint64_t>, std::string> seen;
  for (const auto& d : dirs) {
    auto rs = read_seed_results(d);
    if (!rs.ok()) return rs.error();
    for (auto& r : *rs) {
      auto [it, fresh] = seen.emplace(std::make_pair(r.variant, r.seed), d);
      if (!fresh)
        return make_error(ErrorCode::InvalidArgument,
                          "seed " + std::to_string(r.seed) + " is in both \"" + it->second +
                              "\" and \"" + d + "\"",
                          "merge the directories of disjoint shards");
      all.push_back(std::move(r));
    }
  }
  std::sort(all.begin(), all.end(), [](const SeedResult& a, const SeedResult& b) {
    return std::tie(a.variant, a.seed) < std::tie(b.variant, b.seed);
  });
  return all;
}

CampaignSummary summarize(const std::string& campaign, const std::vector<SeedResult>& rs) {
  CampaignSummary s;
  s.campaign = campaign;
  for (const auto& r : rs) {
    if (r.variant != "main") continue;
    ++s.seeds;
    if (r.outcome == "PASSED") ++s.passed;
    if (r.violation()) ++s.violations;
    if (r.error()) ++s.errors;
    if (r.outcome == "SKIPPED") ++s.skipped;
  }
  return s;
}

namespace {

std::string link(const SeedResult& r, const std::string& rel, const std::string& out_dir) {
  if (rel.empty()) return "";
  std::error_code ec;
  const fs::path abs = fs::absolute(fs::path(r.dir) / rel, ec);
  const fs::path out = fs::absolute(out_dir, ec);
  const fs::path p = fs::relative(abs, out, ec);
  return ec || p.empty() ? abs.string() : p.string();
}

std::string outcome_css(const std::string& o) {
  return o == "PASSED" ? "pass" : o == "SKIPPED" ? "skip" : "fail";
}

std::map<std::string, std::vector<TimeMs>> rto_by_kind(const std::vector<SeedResult>& rs,
                                                       const std::string& variant) {
  std::map<std::string, std::vector<TimeMs>> m;
  for (const auto& r : rs) {
    if (r.variant != variant || r.outcome == "ERROR" || r.outcome == "SKIPPED") continue;
    for (const auto& f : r.faults) m[f.action].push_back(f.rto_ms);
  }
  for (auto& [k, v] : m) std::sort(v.begin(), v.end());
  return m;
}

}  // namespace

std::string render_rto_cdf_svg(const std::string& kind, const std::vector<SeedResult>& rs) {
  const int W = 420, H = 220, L = 50, B = 30, T = 20, R = 110;
  const auto main_v = rto_by_kind(rs, "main")[kind];
  const auto cmp_v = rto_by_kind(rs, "compare")[kind];
  TimeMs xmax = 1000;
  for (TimeMs v : main_v) xmax = std::max(xmax, v);
  for (TimeMs v : cmp_v) xmax = std::max(xmax, v);
  const double sx = static_cast<double>(W - L - R) / static_cast<double>(xmax);
  const double sy = static_cast<double>(H - T - B);
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" role=\"img\" aria-label=\"RTO CDF of " << xml_escape(kind) << "\">"
    << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>"
    << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B
    << "\" stroke=\"#333\"/><line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\""
    << H - B << "\" stroke=\"#333\"/>";
  for (int i = 0; i <= 4; ++i) {
    const double x = L + sx * static_cast<double>(xmax) * i / 4.0;
    o << "<text x=\"" << x << "\" y=\"" << H - B + 14
      << "\" font-size=\"10\" text-anchor=\"middle\">" << seconds_text(xmax * i / 4) << "</text>";
    const double y = H - B - sy * i / 4.0;
    o << "<text x=\"" << L - 4 << "\" y=\"" << y + 3 << "\" font-size=\"10\" text-anchor=\"end\">"
      << i * 25 << "%</text>";
  }
  auto series = [&](const std::vector<TimeMs>& v, const char* color, const char* label, int row) {
    if (v.empty()) return;
    std::ostringstream pts;
    pts << L << "," << H - B;
    for (size_t i = 0; i < v.size(); ++i) {
      const double x = L + sx * static_cast<double>(v[i]);
      const double y0 = H - B - sy * static_cast<double>(i) / static_cast<double>(v.size());
      const double y1 = H - B - sy * static_cast<double>(i + 1) / static_cast<double>(v.size());
      pts << " " << x << "," << y0 << " " << x << "," << y1;
    }
    o << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\" points=\""
      << pts.str() << "\"/>";
    o << "<text x=\"" << W - R + 8 << "\" y=\"" << T + 12 + row * 14
      << "\" font-size=\"11\" fill=\"" << color << "\">" << label << " (n=" << v.size()
      << ")</text>";
  };
  series(main_v, "#1f5fbf", "main", 0);
  series(cmp_v, "#d9730d", "compare", 1);
  o << "</svg>";
  return o.str();
}

std::string render_campaign_html(const CampaignSummary& s, const std::vector<SeedResult>& rs,
                                 const std::string& out_dir) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>campaign "
    << xml_escape(s.campaign)
    << "</title><style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:3px 8px}"
       "table{border-collapse:collapse}.pass{color:#1a7f1a}.fail{color:#c00}.skip{color:#888}"
       "code{background:#f4f4f4}</style></head><body>\n";
  o << "<h1>campaign " << xml_escape(s.campaign) << "</h1>\n<p>" << s.seeds
    << " seed(s): " << s.passed << " passed, " << s.violations << " violation(s), " << s.errors
    << " error(s), " << s.skipped << " skipped";
  if (s.schedules_per_hour > 0) {
    char b[64];
    std::snprintf(b, sizeof b, "%.1f", s.schedules_per_hour);
    o << "; " << b << " schedules/hour at -j " << s.jobs;
  }
  o << ". <a href=\"campaign.json\">campaign.json</a>, <a href=\"junit.xml\">junit.xml</a></p>\n";

  std::set<std::string> kinds;
  bool compare = false;
  for (const auto& r : rs) {
    for (const auto& f : r.faults) kinds.insert(f.action);
    compare = compare || r.variant == "compare";
  }
  o << "<h2>RTO per fault kind (CDF" << (compare ? ", main vs compare" : "") << ")</h2>\n";
  for (const auto& k : kinds)
    o << "<figure style=\"display:inline-block\"><figcaption>" << xml_escape(k) << "</figcaption>"
      << render_rto_cdf_svg(k, rs) << "</figure>\n";

  struct Worst {
    TimeMs rto;
    const SeedResult* r;
    const SeedFault* f;
  };
  std::vector<Worst> worst;
  for (const auto& r : rs)
    for (const auto& f : r.faults) worst.push_back({f.rto_ms, &r, &f});
  std::sort(worst.begin(), worst.end(), [](const Worst& a, const Worst& b) {
    return std::tie(b.rto, a.r->seed) < std::tie(a.rto, b.r->seed);
  });
  o << "<h2>Worst cases</h2>\n<table><tr><th>seed</th><th>variant</th><th>fault</th><th>"
       "target</th><th>RTO</th></tr>\n";
  for (size_t i = 0; i < worst.size() && i < 10; ++i) {
    const auto& w = worst[i];
    o << "<tr><td><a href=\"" << xml_escape(link(*w.r, w.r->report, out_dir)) << "\">" << w.r->seed
      << "</a></td><td>" << xml_escape(w.r->variant) << "</td><td>" << xml_escape(w.f->name)
      << "</td><td>" << xml_escape(w.f->target) << "</td><td>" << seconds_text(w.rto)
      << (w.f->recovered ? "" : " (not recovered)") << "</td></tr>\n";
  }
  o << "</table>\n<h2>Lost writes</h2>\n";
  bool any_lost = false;
  for (const auto& r : rs) {
    if (r.lost_writes == 0) continue;
    any_lost = true;
    o << "<p>seed " << r.seed << " (" << xml_escape(r.variant) << "): " << r.lost_writes
      << " acknowledged write(s) lost</p>\n";
  }
  if (!any_lost) o << "<p>none</p>\n";

  o << "<h2>Shrunk reproducers</h2>\n";
  bool any_rep = false;
  for (const auto& r : rs) {
    if (!r.reproducer) continue;
    any_rep = true;
    const auto& p = *r.reproducer;
    o << "<p>seed " << r.seed << ": <a href=\"" << xml_escape(link(r, p.file, out_dir)) << "\">"
      << xml_escape(p.file) << "</a> — " << p.faults << " of " << p.original_faults
      << " fault(s) after " << p.runs << " run(s), "
      << (p.reproduced ? "fails again" : "did not fail again") << "; replay: <code>"
      << xml_escape(p.replay) << "</code></p>\n";
  }
  if (!any_rep) o << "<p>none</p>\n";

  o << "<h2>Seeds</h2>\n<table><tr><th>seed</th><th>variant</th><th>outcome</th><th>failed "
       "checkers</th><th>faults</th><th>worst RTO</th><th>lost</th><th>scenario</th><th>"
       "message</th></tr>\n";
  for (const auto& r : rs) {
    TimeMs w = 0;
    std::string fl;
    for (const auto& f : r.faults) {
      w = std::max(w, f.rto_ms);
      fl += (fl.empty() ? "" : ", ") + f.action + "@" + f.target;
    }
    std::string fc;
    for (const auto& c : r.failed_checkers) fc += (fc.empty() ? "" : ", ") + c;
    o << "<tr><td>" << r.seed << "</td><td>" << xml_escape(r.variant) << "</td><td class=\""
      << outcome_css(r.outcome) << "\">";
    if (r.report.empty())
      o << xml_escape(r.outcome);
    else
      o << "<a href=\"" << xml_escape(link(r, r.report, out_dir)) << "\">" << xml_escape(r.outcome)
        << "</a>";
    o << "</td><td>" << xml_escape(fc) << "</td><td>" << xml_escape(fl) << "</td><td>"
      << (r.faults.empty() ? "—" : seconds_text(w)) << "</td><td>" << r.lost_writes
      << "</td><td><a href=\"" << xml_escape(link(r, r.scenario, out_dir)) << "\">yaml</a></td><td>"
      << xml_escape(r.message) << "</td></tr>\n";
  }
  o << "</table>\n</body></html>\n";
  return o.str();
}

std::string render_campaign_junit(const CampaignSummary& s, const std::vector<SeedResult>& rs) {
  std::ostringstream cases;
  int tests = 0, failures = 0, errors = 0, skipped = 0;
  for (const auto& r : rs) {
    ++tests;
    cases << "    <testcase classname=\"campaign." << xml_escape(s.campaign) << "."
          << xml_escape(r.variant) << "\" name=\"seed-" << r.seed << "\" time=\""
          << static_cast<double>(r.duration_ms) / 1000.0 << "\">\n";
    if (r.violation()) {
      ++failures;
      std::string fc;
      for (const auto& c : r.failed_checkers) fc += (fc.empty() ? "" : ", ") + c;
      cases << "      <failure message=\"" << xml_escape("failed checkers: " + fc) << "\">"
            << xml_escape(r.reproducer ? "replay: " + r.reproducer->replay : r.message)
            << "</failure>\n";
    } else if (r.error()) {
      ++errors;
      cases << "      <error message=\"" << xml_escape(r.message) << "\"/>\n";
    } else if (r.outcome == "SKIPPED") {
      ++skipped;
      cases << "      <skipped message=\"" << xml_escape(r.message) << "\"/>\n";
    }
    cases << "    </testcase>\n";
  }
  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"campaign."
    << xml_escape(s.campaign) << "\" tests=\"" << tests << "\" failures=\"" << failures
    << "\" errors=\"" << errors << "\" skipped=\"" << skipped << "\">\n"
    << cases.str() << "  </testsuite>\n</testsuites>\n";
  return o.str();
}

nlohmann::json render_campaign_json(const CampaignSummary& s, const std::vector<SeedResult>& rs) {
  nlohmann::json j;
  j["campaign"] = s.campaign;
  j["summary"] = {
      {"seeds", s.seeds},   {"passed", s.passed},   {"violations", s.violations},
      {"errors", s.errors}, {"skipped", s.skipped}, {"schedules_per_hour", s.schedules_per_hour},
      {"jobs", s.jobs}};
  auto& a = j["seeds"] = nlohmann::json::array();
  for (const auto& r : rs) a.push_back(to_json(r));
  return j;
}

Status write_campaign_report(const std::string& out_dir, const CampaignSummary& s,
                             const std::vector<SeedResult>& rs) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec)
    return make_error(ErrorCode::Internal, "could not create \"" + out_dir + "\": " + ec.message());
  if (Status st = write_atomically(fs::path(out_dir) / "campaign.json",
                                   render_campaign_json(s, rs).dump(1) + "\n");
      !st.ok())
    return st;
  if (Status st = write_atomically(fs::path(out_dir) / "junit.xml", render_campaign_junit(s, rs));
      !st.ok())
    return st;
  return write_atomically(fs::path(out_dir) / "index.html", render_campaign_html(s, rs, out_dir));
}

}  // namespace pgaf::lab
