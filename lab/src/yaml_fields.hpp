/*
 * yaml_fields.hpp — reading YAML fields for the lab's file formats (scenarios, network profiles):
 * every reader knows the field's path ("faults[1].when.state") and the YAML mark of its node, so
 * every rejection names file, line and field. Unknown keys are errors; durations carry a unit.
 * Internal to the lab (not installed). Invariant: readers throw ParseError, never return junk.
 */
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "pgaf/core/error.hpp"
#include "pgaf/core/settings.hpp"

namespace pgaf::lab::yamlf {

struct ParseError {
  int line;
  std::string field;
  std::string message;
};

inline int line_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.line >= 0 ? m.line + 1 : 0;
}

[[noreturn]] inline void fail(const YAML::Node& n, const std::string& field,
                              const std::string& msg) {
  throw ParseError{line_of(n), field, msg};
}

inline std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

inline void check_keys(const YAML::Node& map, const std::string& field,
                       const std::vector<std::string>& allowed) {
  if (!map.IsMap()) fail(map, field, "must be a mapping");
  for (const auto& kv : map) {
    const auto key = kv.first.as<std::string>();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      fail(kv.first, field.empty() ? key : field + "." + key,
           "unknown field (allowed: " + join(allowed) + ")");
    }
  }
}

inline std::string sub(const std::string& field, const std::string& key) {
  return field.empty() ? key : field + "." + key;
}

inline std::string get_string(const YAML::Node& n, const std::string& field) {
  if (!n.IsScalar()) fail(n, field, "must be a string");
  return n.as<std::string>();
}

inline long long get_int(const YAML::Node& n, const std::string& field, long long lo,
                         long long hi) {
  if (!n.IsScalar()) fail(n, field, "must be an integer");
  const auto s = n.as<std::string>();
  long long v = 0;
  size_t pos = 0;
  try {
    v = std::stoll(s, &pos);
  } catch (...) {
    fail(n, field, "\"" + s + "\" is not an integer");
  }
  if (pos != s.size()) fail(n, field, "\"" + s + "\" is not an integer");
  if (v < lo || v > hi) {
    fail(n, field,
         std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) +
             "]");
  }
  return v;
}

inline double get_double(const YAML::Node& n, const std::string& field, double lo, double hi) {
  if (!n.IsScalar()) fail(n, field, "must be a number");
  const auto s = n.as<std::string>();
  double v = 0;
  size_t pos = 0;
  try {
    v = std::stod(s, &pos);
  } catch (...) {
    fail(n, field, "\"" + s + "\" is not a number");
  }
  if (pos != s.size()) fail(n, field, "\"" + s + "\" is not a number");
  if (v < lo || v > hi) fail(n, field, s + " is out of range");
  return v;
}

inline bool get_bool(const YAML::Node& n, const std::string& field) {
  const auto s = get_string(n, field);
  if (s == "true" || s == "yes") return true;
  if (s == "false" || s == "no") return false;
  fail(n, field, "\"" + s + "\" is not a boolean (true or false)");
}

/* "500ms", "5s", "2m" → milliseconds, within [lo, hi]. */
inline TimeMs get_duration(const YAML::Node& n, const std::string& field, TimeMs lo, TimeMs hi) {
  const auto s = get_string(n, field);
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0 || i > 9) fail(n, field, "\"" + s + "\" is not a duration (e.g. 500ms, 5s, 2m)");
  const TimeMs num = std::stoll(s.substr(0, i));
  const std::string unit = s.substr(i);
  TimeMs ms = 0;
  if (unit == "ms") {
    ms = num;
  } else if (unit == "s") {
    ms = num * 1000;
  } else if (unit == "m" || unit == "min") {
    ms = num * 60000;
  } else if (unit.empty()) {
    fail(n, field, "\"" + s + "\" needs a unit (ms, s or m)");
  } else {
    fail(n, field, "unknown unit \"" + unit + "\" in \"" + s + "\" (ms, s or m)");
  }
  if (ms < lo || ms > hi) {
    fail(n, field,
         "\"" + s + "\" is out of range [" + std::to_string(lo) + "ms, " + std::to_string(hi) +
             "ms]");
  }
  return ms;
}

template <typename E>
E get_enum(const YAML::Node& n, const std::string& field,
           const std::vector<std::pair<std::string, E>>& table) {
  const auto s = get_string(n, field);
  std::vector<std::string> names;
  for (const auto& [name, e] : table) {
    if (name == s) return e;
    names.push_back(name);
  }
  fail(n, field, "unknown value \"" + s + "\" (expected one of: " + join(names) + ")");
}

/* The Error for a rejected file: "<file>:<line>: field \"<path>\": <message>" + hint. */
inline Error parse_error(const ParseError& e, const std::string& file, const std::string& hint) {
  std::string msg = file + ":" + std::to_string(e.line) + ": ";
  if (!e.field.empty()) msg += "field \"" + e.field + "\": ";
  msg += e.message;
  return make_error(ErrorCode::InvalidArgument, msg, hint);
}
inline Error yaml_error(const YAML::Exception& e, const std::string& file,
                        const std::string& hint) {
  return make_error(ErrorCode::InvalidArgument,
                    file + ":" + std::to_string(e.mark.line + 1) + ": malformed YAML: " + e.msg,
                    hint);
}

}  // namespace pgaf::lab::yamlf

#include "pgaf/lab/profile.hpp"

namespace pgaf::lab::yamlf {
/* The mapping of a `network:` section (profile.cpp); `field` is its path ("network"), `file`
 * the file holding it (ruleset paths are relative to its directory). Throws ParseError. */
NetworkProfile parse_network_node(const YAML::Node& n, const std::string& field,
                                  const std::string& file);
}  // namespace pgaf::lab::yamlf
