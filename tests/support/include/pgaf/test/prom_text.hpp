/*
 * prom_text.hpp — a small parser of the Prometheus text exposition format (0.0.4), for tests of
 * /metrics (header only). It is a real parser, not a regex per line: it tokenizes each line
 * (comments, metric name, label set with escapes, value, optional timestamp) and checks the
 * format's rules, so a malformed exposition fails the test instead of being half-read.
 *
 * Rules checked: # TYPE at most once per family and before its samples; a sample's family is
 * the longest declared family its name extends with _total/_sum/_count/_bucket (or the name
 * itself); metric and label names match [a-zA-Z_:][a-zA-Z0-9_:]* and [a-zA-Z_][a-zA-Z0-9_]*;
 * label values are quoted with \\ \" \n escapes; a label appears once per sample; values are
 * floats, NaN, +Inf or -Inf; no duplicate (name, label set).
 */
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgaf::test {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};
struct PromFamily {
  std::string type = "untyped";
  std::string help;
  std::vector<PromSample> samples;
};
struct PromText {
  std::map<std::string, PromFamily> families;
  /* the samples of `name` whose labels include `match` */
  std::vector<PromSample> find(const std::string& name,
                               const std::map<std::string, std::string>& match = {}) const {
    std::vector<PromSample> out;
    for (const auto& [f, fam] : families)
      for (const auto& s : fam.samples) {
        if (s.name != name) continue;
        bool ok = true;
        for (const auto& [k, v] : match) {
          auto it = s.labels.find(k);
          if (it == s.labels.end() || it->second != v) ok = false;
        }
        if (ok) out.push_back(s);
      }
    return out;
  }
  /* the one value of `name` with these labels; throws if none or several */
  double value(const std::string& name,
               const std::map<std::string, std::string>& match = {}) const {
    auto v = find(name, match);
    if (v.size() != 1)
      throw std::runtime_error("expected one sample of " + name + ", found " +
                               std::to_string(v.size()));
    return v[0].value;
  }
};

class PromParseError : public std::runtime_error {
 public:
  PromParseError(int line, const std::string& what)
      : std::runtime_error("line " + std::to_string(line) + ": " + what) {}
};

namespace prom_detail {
inline bool name_start(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
inline bool name_char(char c, bool colon) {
  return name_start(c, colon) || (c >= '0' && c <= '9');
}
struct Cursor {
  const std::string& s;
  size_t i = 0;
  int line;
  bool done() const { return i >= s.size(); }
  char peek() const { return done() ? '\0' : s[i]; }
  void skip_blanks() {
    while (!done() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
  std::string name(bool colon) {
    if (done() || !name_start(s[i], colon))
      throw PromParseError(line, "expected a name at " + rest());
    size_t b = i;
    while (!done() && name_char(s[i], colon)) ++i;
    return s.substr(b, i - b);
  }
  void expect(char c) {
    if (peek() != c) throw PromParseError(line, std::string("expected '") + c + "' at " + rest());
    ++i;
  }
  std::string quoted() {
    expect('"');
    std::string out;
    while (true) {
      if (done()) throw PromParseError(line, "unterminated label value");
      char c = s[i++];
      if (c == '"') return out;
      if (c == '\\') {
        if (done()) throw PromParseError(line, "dangling escape");
        char e = s[i++];
        if (e == 'n')
          out += '\n';
        else if (e == '\\' || e == '"')
          out += e;
        else
          throw PromParseError(line, std::string("invalid escape \\") + e);
      } else {
        out += c;
      }
    }
  }
  std::string word() {
    size_t b = i;
    while (!done() && s[i] != ' ' && s[i] != '\t') ++i;
    return s.substr(b, i - b);
  }
  std::string rest() const { return "\"" + s.substr(std::min(i, s.size())) + "\""; }
};
inline double parse_value(const std::string& w, int line) {
  if (w == "NaN") return NAN;
  if (w == "+Inf" || w == "Inf") return INFINITY;
  if (w == "-Inf") return -INFINITY;
  if (w.empty()) throw PromParseError(line, "missing value");
  char* end = nullptr;
  double v = std::strtod(w.c_str(), &end);
  if (end != w.c_str() + w.size()) throw PromParseError(line, "invalid value \"" + w + "\"");
  return v;
}
}  // namespace prom_detail

inline PromText parse_prometheus_text(const std::string& text) {
  using namespace prom_detail;
  PromText out;
  std::set<std::string> typed, seen_samples;
  std::set<std::string> sampled_families;
  size_t pos = 0;
  int line_no = 0;
  if (!text.empty() && text.back() != '\n') throw PromParseError(0, "text does not end with \\n");
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.empty()) continue;
    Cursor c{line, 0, line_no};
    if (line[0] == '#') {
      c.i = 1;
      c.skip_blanks();
      std::string kw = c.word();
      if (kw != "HELP" && kw != "TYPE") continue; /* a plain comment */
      c.skip_blanks();
      std::string fam = c.name(true);
      c.skip_blanks();
      std::string rest = line.substr(c.i);
      if (kw == "TYPE") {
        static const std::set<std::string> types = {"counter", "gauge", "histogram", "summary",
                                                    "untyped"};
        if (!types.count(rest)) throw PromParseError(line_no, "unknown type \"" + rest + "\"");
        if (!typed.insert(fam).second) throw PromParseError(line_no, "second TYPE for " + fam);
        if (sampled_families.count(fam))
          throw PromParseError(line_no, "TYPE for " + fam + " after its samples");
        out.families[fam].type = rest;
      } else {
        out.families[fam].help = rest;
      }
      continue;
    }
    PromSample s;
    s.name = c.name(true);
    if (c.peek() == '{') {
      c.expect('{');
      c.skip_blanks();
      while (c.peek() != '}') {
        std::string k = c.name(false);
        c.skip_blanks();
        c.expect('=');
        c.skip_blanks();
        std::string v = c.quoted();
        if (!s.labels.emplace(k, v).second)
          throw PromParseError(line_no, "label " + k + " appears twice");
        c.skip_blanks();
        if (c.peek() == ',') {
          c.expect(',');
          c.skip_blanks();
        } else if (c.peek() != '}') {
          throw PromParseError(line_no, "expected ',' or '}' at " + c.rest());
        }
      }
      c.expect('}');
    }
    if (c.peek() != ' ' && c.peek() != '\t')
      throw PromParseError(line_no, "expected a blank before the value");
    c.skip_blanks();
    s.value = parse_value(c.word(), line_no);
    c.skip_blanks();
    if (!c.done()) {
      std::string ts = c.word();
      char* end = nullptr;
      (void)std::strtoll(ts.c_str(), &end, 10);
      if (end != ts.c_str() + ts.size()) throw PromParseError(line_no, "invalid timestamp");
      c.skip_blanks();
      if (!c.done()) throw PromParseError(line_no, "trailing text " + c.rest());
    }
    std::string fam = s.name;
    for (const char* suffix : {"_total", "_sum", "_count", "_bucket"}) {
      const std::string suf = suffix;
      if (fam.size() > suf.size() && fam.compare(fam.size() - suf.size(), suf.size(), suf) == 0 &&
          typed.count(fam.substr(0, fam.size() - suf.size())) && !typed.count(fam))
        fam = fam.substr(0, fam.size() - suf.size());
    }
    std::string key = s.name + "{";
    for (const auto& [k, v] : s.labels) key += k + "=" + v + ",";
    if (!seen_samples.insert(key).second)
      throw PromParseError(line_no, "duplicate sample " + key + "}");
    sampled_families.insert(fam);
    out.families[fam].samples.push_back(std::move(s));
  }
  return out;
}

}  // namespace pgaf::test
