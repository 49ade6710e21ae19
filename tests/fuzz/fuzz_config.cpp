/*
 * fuzz_config.cpp — libFuzzer target: the agent's configuration file (pg_autoctl.cfg, INI) as
 * read by pgaf/agent/src/files.cpp (Ini::parse) and config.cpp (Config::from_ini).
 *
 * Two modes, chosen by the first byte:
 *  - file: the rest is the file's text. Ini::parse then Config::from_ini must never crash; a
 *    rejection names the file; an accepted Config saved (to_ini().serialize()) and read back is
 *    accepted again and saves to the same text (a save/load cycle changes nothing).
 *  - config set: the next byte picks a key of a valid keeper configuration, the rest is the new
 *    value, applied as `pg_autoctl config set` does (Ini::set, then Config::from_ini). If the
 *    value is accepted, the file written from it must load back with that key holding exactly
 *    that value (a value cannot inject other keys or change on reload).
 */
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "pgaf/agent/config.hpp"
#include "pgaf/agent/files.hpp"

namespace {

using pgaf::agent::Config;
using pgaf::agent::Ini;

const char* const kOrigin = "/fuzz/pg_autoctl.cfg";

const char* const kBase =
    "[pg_autoctl]\nrole = keeper\nmonitor = postgres://autoctl_node@mon:5432/pg_auto_failover\n"
    "formation = default\ngroup = 0\nname = node_1\nhostname = 10.0.0.1\nnodekind = standalone\n"
    "[postgresql]\npgdata = /var/lib/pgaf/node1\nport = 5432\n"
    "[ssl]\nactive = 0\nsslmode = prefer\n"
    "[replication]\ncandidate_priority = 50\nreplication_quorum = true\n";

[[noreturn]] void violated(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_config: invariant violated: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void require_names_origin(const pgaf::Error& e) {
  if (e.message.find(kOrigin) == std::string::npos)
    violated("a rejection names the file", e.to_string());
}

/* save then load: accepted again, same text */
void check_round_trip(const Config& c) {
  const std::string saved = c.to_ini().serialize();
  auto ini = Ini::parse(saved, kOrigin);
  if (!ini.ok()) violated("a saved configuration parses", saved + "\n" + ini.error().to_string());
  auto back = Config::from_ini(*ini, kOrigin);
  if (!back.ok()) violated("a saved configuration loads", saved + "\n" + back.error().to_string());
  const std::string again = back->to_ini().serialize();
  if (again != saved) violated("save/load/save is stable", saved + "\n----\n" + again);
}

void fuzz_file(const std::string& text) {
  auto ini = Ini::parse(text, kOrigin);
  if (!ini.ok()) {
    require_names_origin(ini.error());
    return;
  }
  auto c = Config::from_ini(*ini, kOrigin);
  if (!c.ok()) {
    require_names_origin(c.error());
    return;
  }
  check_round_trip(*c);
}

void fuzz_config_set(std::uint8_t pick, const std::string& value) {
  auto base_ini = Ini::parse(kBase, kOrigin);
  if (!base_ini.ok()) violated("the base configuration parses", base_ini.error().to_string());
  auto base = Config::from_ini(*base_ini, kOrigin);
  if (!base.ok()) violated("the base configuration loads", base.error().to_string());
  Ini ini = base->to_ini();
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& [section, kvs] : ini.sections())
    for (const auto& kv : kvs) keys.emplace_back(section, kv.first);
  const auto& [section, key] = keys[pick % keys.size()];
  if (section == "pg_autoctl" && key == "role") return; /* config set refuses this key */
  ini.set(section, key, value);
  auto updated = Config::from_ini(ini, kOrigin);
  if (!updated.ok()) return; /* refused before anything is written */
  const Ini updated_ini = updated->to_ini();
  const std::string* stored = updated_ini.get(section, key);
  if (stored == nullptr) return; /* e.g. an optional ssl file set to '' is not written */
  const std::string saved = updated_ini.serialize();
  auto reread = Ini::parse(saved, kOrigin);
  if (!reread.ok())
    violated("an accepted config set writes a file that parses",
             section + "." + key + " = [" + value + "]\n" + reread.error().to_string());
  auto reloaded = Config::from_ini(*reread, kOrigin);
  if (!reloaded.ok())
    violated("an accepted config set writes a file that loads",
             section + "." + key + " = [" + value + "]\n" + reloaded.error().to_string());
  const Ini reloaded_ini = reloaded->to_ini();
  const std::string* v = reloaded_ini.get(section, key);
  if (v == nullptr || *v != *stored)
    violated("an accepted config set value reads back unchanged",
             section + "." + key + " = [" + *stored + "] reads back as [" + (v ? *v : "") + "]");
  check_round_trip(*reloaded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const std::uint8_t mode = in.ConsumeIntegral<std::uint8_t>();
  if (mode % 4 == 0) {
    const std::uint8_t pick = in.ConsumeIntegral<std::uint8_t>();
    fuzz_config_set(pick, in.ConsumeRemainingBytesAsString());
  } else {
    fuzz_file(in.ConsumeRemainingBytesAsString());
  }
  return 0;
}
