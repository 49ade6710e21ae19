/*
 * fuzz_state.cpp — libFuzzer target: the keeper state file (pg_autoctl.state, JSON) as read by
 * pgaf/agent/src/config.cpp (KeeperState::from_json).
 *
 * Checked: from_json never crashes, throws or trips a sanitizer (JSON numbers of any size or
 * type in any field); a rejection names the file; an accepted state has known states (no
 * "unknown" role) and writes back (to_json) to a file that is accepted again and writes the same
 * text (a save/load cycle changes nothing).
 */
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "pgaf/agent/config.hpp"

namespace {

using pgaf::agent::KeeperState;

const char* const kOrigin = "/fuzz/pg_autoctl.state";

[[noreturn]] void violated(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_state: invariant violated: %s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto s = KeeperState::from_json(text, kOrigin);
  if (!s.ok()) {
    if (s.error().message.find(kOrigin) == std::string::npos)
      violated("a rejection names the file", s.error().to_string());
    return 0;
  }
  if (s->current_role == pgaf::NodeState::Unknown || s->assigned_role == pgaf::NodeState::Unknown)
    violated("roles are known states", text);
  const std::string saved = s->to_json();
  auto back = KeeperState::from_json(saved, kOrigin);
  if (!back.ok()) violated("a saved state loads", saved + "\n" + back.error().to_string());
  if (back->to_json() != saved) violated("save/load/save is stable", saved);
  return 0;
}
