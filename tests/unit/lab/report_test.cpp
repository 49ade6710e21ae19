/*
 * report_test.cpp — reports generated from a synthetic history are complete and well-formed:
 * result.json parses and carries verdicts, witnesses and RTO figures; junit.xml and the SVG of
 * report.html are well-formed XML (checked by a small strict checker below); the HTML fetches
 * nothing from the network; hostile strings are escaped.
 */
#include "pgaf/lab/report.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "history_builder.hpp"

using namespace pgaf::lab;
using labtest::Builder;
using pgaf::TimeMs;

namespace {

/* Strict enough XML well-formedness: balanced, properly nested tags; attributes quoted; '&'
 * only in the five entities or numeric references; no '<' in text. Returns "" or the problem. */
std::string xml_problem(const std::string& s) {
  std::vector<std::string> stack;
  size_t i = 0;
  if (s.rfind("<?xml", 0) == 0) i = s.find("?>") + 2;
  bool root_seen = false;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '<') {
      if (s.compare(i, 4, "<!--") == 0) {
        i = s.find("-->", i);
        if (i == std::string::npos) return "unterminated comment";
        i += 3;
        continue;
      }
      const size_t end = s.find('>', i);
      if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
      std::string tag = s.substr(i + 1, end - i - 1);
      if (tag.empty()) return "empty tag";
      if (tag[0] == '/') {
        const std::string name = tag.substr(1);
        if (stack.empty() || stack.back() != name) return "mismatched </" + name + ">";
        stack.pop_back();
      } else {
        const bool self = tag.back() == '/';
        if (self) tag.pop_back();
        const std::string name = tag.substr(0, tag.find_first_of(" \n\t"));
        /* attributes: name="value" with no '<' or raw '&' inside */
        size_t q = 0;
        int quotes = 0;
        while ((q = tag.find('"', q)) != std::string::npos) {
          ++quotes;
          ++q;
        }
        if (quotes % 2) return "unbalanced quotes in <" + name + ">";
        if (tag.find('<') != std::string::npos) return "'<' inside tag " + name;
        if (stack.empty() && root_seen) return "second root element <" + name + ">";
        if (stack.empty()) root_seen = true;
        if (!self) stack.push_back(name);
      }
      i = end + 1;
    } else if (c == '&') {
      const size_t semi = s.find(';', i);
      if (semi == std::string::npos) return "bare '&'";
      const std::string ent = s.substr(i, semi - i + 1);
      if (ent != "&amp;" && ent != "&lt;" && ent != "&gt;" && ent != "&quot;" && ent != "&apos;" &&
          ent.rfind("&#", 0) != 0)
        return "unknown entity " + ent;
      i = semi + 1;
    } else {
      if (c == '>' && false) return "";
      ++i;
    }
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  if (!root_seen) return "no root element";
  return "";
}

ScenarioReport sample_report() {
  Builder b = Builder::clean_failover();
  b.h.nodes = {"node1", "node2", "node3"};
  b.h.notes.push_back("note with <markup> & \"quotes\"");
  b.h.faults[0].name = "kill <primary> & co";
  CheckConfig c;
  c.lost_writes_max = 0;
  c.rto_max_ms = 10000;
  c.final_states = {{"primary", 1}, {"secondary", 2}};
  /* one lost write so there is a failing verdict with witnesses */
  b.op(9950, 9990, OpOutcome::Ok, "node1", 1, 42);
  ScenarioReport r;
  r.name = "synthetic";
  r.file = "scenarios/synthetic.yaml";
  r.description = "a <synthetic> history";
  r.seed = 7;
  r.history = b.h;
  r.checks = check_history(r.history, c);
  r.outcome = r.checks.passed() ? ScenarioOutcome::Passed : ScenarioOutcome::Failed;
  r.duration_ms = 30000;
  return r;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST(Report, XmlCheckerCatchesBrokenDocuments) {
  EXPECT_EQ(xml_problem("<a><b x=\"1\"/></a>"), "");
  EXPECT_NE(xml_problem("<a><b></a>"), "");
  EXPECT_NE(xml_problem("<a>x & y</a>"), "");
  EXPECT_NE(xml_problem("<a></a><b></b>"), "");
  EXPECT_NE(xml_problem("<a x=\"1></a>"), "");
}

TEST(Report, ResultJsonCarriesVerdictsWitnessesAndRto) {
  const ScenarioReport r = sample_report();
  ASSERT_EQ(r.outcome, ScenarioOutcome::Failed);
  const auto j = nlohmann::json::parse(render_result_json(r));
  EXPECT_EQ(j["scenario"], "synthetic");
  EXPECT_EQ(j["seed"], 7);
  EXPECT_EQ(j["outcome"], "FAILED");
  EXPECT_EQ(j["counts"]["lost_writes"], 1);
  bool saw_lost = false;
  for (const auto& v : j["verdicts"]) {
    if (v["checker"] == "lost_writes") {
      saw_lost = true;
      EXPECT_EQ(v["verdict"], "fail");
      EXPECT_EQ(v["witnesses"][0]["lsn"], 42);
    }
  }
  EXPECT_TRUE(saw_lost);
  ASSERT_EQ(j["rto"].size(), 1u);
  EXPECT_EQ(j["rto"][0]["unavailable_ms"], 3530); /* 9990 → 13520 */
  EXPECT_EQ(j["rto"][0]["detect_ms"], 800);
  /* the embedded history reads back */
  EXPECT_TRUE(history_from_json(j["history"]).ok());
}

TEST(Report, JunitIsWellFormedAndCountsFailures) {
  ScenarioReport r = sample_report();
  ScenarioReport skipped;
  skipped.name = "latency";
  skipped.outcome = ScenarioOutcome::Skipped;
  skipped.message = "netem: not supported by this kernel <no qdisc>";
  const std::string x = render_junit({r, skipped});
  EXPECT_EQ(xml_problem(x), "") << x;
  EXPECT_NE(
      x.find("<testsuites name=\"lab\" tests=\"9\" failures=\"1\" errors=\"0\" skipped=\"1\">"),
      std::string::npos)
      << x;
  EXPECT_NE(x.find("<testcase classname=\"lab.synthetic\" name=\"lost_writes\">"),
            std::string::npos);
  EXPECT_NE(x.find("&lt;no qdisc&gt;"), std::string::npos);
}

TEST(Report, HtmlIsStaticWithWellFormedSvgSwimlanes) {
  const ScenarioReport r = sample_report();
  const std::string html = render_html(r);
  /* nothing fetched from the network: no scripts, links or remote images */
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  size_t http = 0;
  int http_count = 0;
  while ((http = html.find("http://", http)) != std::string::npos) {
    EXPECT_EQ(html.compare(http, 26, "http://www.w3.org/2000/svg"), 0);
    ++http_count;
    ++http;
  }
  EXPECT_EQ(http_count, 1); /* the SVG namespace only */
  /* hostile strings are escaped */
  EXPECT_EQ(html.find("<primary>"), std::string::npos);
  EXPECT_NE(html.find("kill &lt;primary&gt; &amp; co"), std::string::npos);
  EXPECT_NE(html.find("note with &lt;markup&gt;"), std::string::npos);
  /* the SVG */
  const size_t a = html.find("<svg"), b = html.find("</svg>");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  const std::string svg = html.substr(a, b + 6 - a);
  EXPECT_EQ(xml_problem(svg), "") << svg.substr(0, 2000);
  EXPECT_TRUE(svg + "\n" == render_svg_timeline(r));
  for (const char* node : {">node1<", ">node2<", ">node3<"})
    EXPECT_NE(svg.find(node), std::string::npos) << node;
  auto count = [&](const std::string& needle) {
    int n = 0;
    for (size_t p = 0; (p = svg.find(needle, p)) != std::string::npos; ++p) ++n;
    return n;
  };
  EXPECT_EQ(count("<g class=\"fault\">"), 1);
  EXPECT_EQ(count("class=\"op op-"), static_cast<int>(r.history.ops.size()));
  EXPECT_EQ(count("class=\"op op-unknown\""), 1);
  EXPECT_GE(count("<g class=\"state\">"), 9);                 /* 3 nodes × at least 3 state runs */
  EXPECT_NE(svg.find("fill=\"#d62728\""), std::string::npos); /* a primary band */
  EXPECT_EQ(count("<g class=\"rto\">"), 1);
  EXPECT_EQ(count("class=\"phase\""), 4);
  /* verdict rows and RTO figures */
  int rows = 0;
  for (size_t p = 0; (p = html.find("<tr class=\"verdict\">", p)) != std::string::npos; ++p) ++rows;
  EXPECT_EQ(rows, static_cast<int>(r.checks.verdicts.size()));
  EXPECT_NE(html.find("<td>3.53 s</td>"), std::string::npos);
  EXPECT_NE(html.find("FAILED"), std::string::npos);
}

TEST(Report, WritesTheThreeFilesAndTheRunIndex) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("lab-report-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const ScenarioReport r = sample_report();
  ASSERT_TRUE(write_scenario_report((dir / r.name).string(), r).ok());
  ASSERT_TRUE(write_run_index(dir.string(), {r}).ok());
  for (const char* f : {"result.json", "junit.xml", "report.html"}) {
    EXPECT_TRUE(fs::exists(dir / r.name / f)) << f;
    EXPECT_FALSE(fs::exists(dir / r.name / (std::string(f) + ".tmp"))) << f;
  }
  EXPECT_TRUE(nlohmann::json::accept(slurp(dir / r.name / "result.json")));
  EXPECT_EQ(xml_problem(slurp(dir / r.name / "junit.xml")), "");
  EXPECT_EQ(xml_problem(slurp(dir / "junit.xml")), "");
  EXPECT_NE(slurp(dir / "index.html").find("synthetic/report.html"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Report, SummaryTableHasOneRowPerScenario) {
  ScenarioReport r = sample_report();
  const std::string t = summary_table({r});
  EXPECT_NE(t.find("scenario"), std::string::npos);
  EXPECT_NE(t.find("synthetic"), std::string::npos);
  EXPECT_NE(t.find("FAILED"), std::string::npos);
  EXPECT_NE(t.find("3.53 s"), std::string::npos);
  EXPECT_NE(t.find("lost_writes: 1 of"), std::string::npos) << t;
}

TEST(Report, TheAgentsPrimaryEndpointIsDrawnPerNodeOverTime) {
  ScenarioReport r = sample_report();
  const std::string before = render_svg_timeline(r);
  EXPECT_EQ(before.find("class=\"http-primary\""), std::string::npos) << "not probed: no strip";
  /* node1 answers 200, then 503 (switchover); node2 has no answer, then 200 */
  auto& ss = r.history.samples;
  ss.erase(std::remove_if(ss.begin(), ss.end(),
                          [](const Sample& s) { return s.node == "node1" || s.node == "node2"; }),
           ss.end());
  for (TimeMs t = 1000; t < 3000; t += 100) {
    Sample a{t, "node1", true, false, false, 1, 0, t < 2000 ? 200 : 503};
    Sample b{t, "node2", true, true, false, 1, 0, t < 2200 ? -1 : 200};
    r.history.samples.push_back(a);
    r.history.samples.push_back(b);
  }
  const std::string svg = render_svg_timeline(r);
  EXPECT_EQ(xml_problem(svg), "");
  auto count = [&](const std::string& needle) {
    int n = 0;
    for (size_t p = 0; (p = svg.find(needle, p)) != std::string::npos; ++p) ++n;
    return n;
  };
  EXPECT_EQ(count("class=\"http-primary\""), 4); /* two runs per node */
  EXPECT_NE(svg.find("node1 GET /primary: 200 "), std::string::npos);
  EXPECT_NE(svg.find("node1 GET /primary: 503 "), std::string::npos);
  EXPECT_NE(svg.find("node2 GET /primary: no answer "), std::string::npos);
  EXPECT_NE(svg.find("node2 GET /primary: 200 "), std::string::npos);
  /* the samples keep the answers through result.json */
  const auto j = nlohmann::json::parse(render_result_json(r));
  int with_http = 0;
  for (const auto& s : j.at("history").at("samples"))
    if (s.value("http_primary", 0) != 0) ++with_http;
  EXPECT_EQ(with_http, 40);
}
