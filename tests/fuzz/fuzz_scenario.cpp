/*
 * fuzz_scenario.cpp — libFuzzer target: the lab's scenario parser (lab/src/scenario.cpp) on
 * arbitrary bytes.
 *
 * Checked (scenario.hpp's invariants): parse_scenario never crashes, throws or trips a sanitizer;
 * a rejection is an Error whose message starts with "<file>:<line>:"; an accepted Scenario is
 * fully validated (every count inside its documented limit, every per-node list sized to the
 * formation, every node index resolving to a node), and parsing is deterministic.
 */
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "pgaf/lab/scenario.hpp"

namespace {

using namespace pgaf::lab;

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_scenario: invariant violated: %s\n", what);
  std::abort();
}

bool node_ok(const Target& t, int nodes) {
  return t.kind != Target::Kind::Node || (t.node_index >= 0 && t.node_index < nodes);
}

void check_valid(const Scenario& s) {
  const FormationSpec& f = s.formation;
  require(f.nodes >= 1 && f.nodes <= kMaxNodes, "formation.nodes within 1..kMaxNodes");
  require(static_cast<int>(f.candidate_priorities.size()) == f.nodes,
          "one candidate priority per node");
  require(static_cast<int>(f.replication_quorum.size()) == f.nodes, "one quorum flag per node");
  for (int p : f.candidate_priorities) require(p >= 0 && p <= 100, "candidate priority 0..100");
  require(f.number_sync_standbys >= 0 && f.number_sync_standbys < kMaxNodes,
          "number_sync_standbys within range");
  require(s.workload.clients >= 0 && s.workload.clients <= kMaxClients, "clients within limit");
  require(s.workload.rate_per_client >= 0 && s.workload.rate_per_client <= kMaxRatePerClient,
          "rate_per_client within limit");
  require(s.timeout_ms > 0 && s.timeout_ms <= kMaxScenarioTimeoutMs, "timeout within limit");
  require(s.faults.size() <= static_cast<std::size_t>(kMaxFaults), "fault count within limit");
  for (const Fault& ft : s.faults) {
    require(node_ok(ft.target, f.nodes), "fault target resolves to a node");
    require(!ft.to || node_ok(*ft.to, f.nodes), "fault peer resolves to a node");
    if (ft.trigger.when) require(node_ok(ft.trigger.when->node, f.nodes), "trigger node resolves");
    require(ft.trigger.at_ms.has_value() || ft.trigger.when.has_value(), "fault has a trigger");
    if (ft.duration_ms) require(*ft.duration_ms >= 0, "duration is not negative");
  }
  if (s.expect.new_primary)
    require(*s.expect.new_primary >= 0 && *s.expect.new_primary < f.nodes,
            "expect.new_primary resolves to a node");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string file = "fuzz.yaml";
  auto r = parse_scenario(text, file);
  if (!r.ok()) {
    require(r.error().message.rfind(file + ":", 0) == 0,
            "a rejection names the file and line first");
    return 0;
  }
  check_valid(*r);
  auto again = parse_scenario(text, file);
  require(again.ok() && again->name == r->name && again->faults.size() == r->faults.size(),
          "parsing is deterministic");
  return 0;
}
