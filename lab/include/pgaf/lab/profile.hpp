/*
 * profile.hpp — a vendor's network as the lab builds it (docs/vendor.md): zones with their
 * subnets and MTU, routers joining them with the vendor's nftables ruleset and per-link
 * bandwidth/loss/latency/MTU, optional external interfaces toward the vendor's appliance, and
 * where the monitor, nodes and client sit. Written either as a profile file (top level
 * `version: 1` + `network:`), passed with `lab run|certify --network FILE`, or as the `network:`
 * section of a scenario.
 *
 * Invariants: a NetworkProfile returned by the parsers is validated (netns::validate_topology
 * against the lab's host names, ruleset files read); a rejection names file, line and field
 * ("two-zones.yaml:12: field \"network.zones[1].subnet\": ..."); ruleset paths are relative to
 * the file that names them.
 */
#pragma once

#include <string>
#include <vector>

#include "pgaf/core/error.hpp"
#include "pgaf/netns/topology.hpp"

namespace pgaf::lab {

struct NetworkProfile {
  std::string file; /* the profile file, or the scenario file holding the section */
  std::string name;
  std::string description;
  netns::TopologySpec topology;
  std::string source_text;                /* the YAML as written (quoted by the report) */
  std::vector<std::string> ruleset_files; /* resolved paths, in router order */
};

/* Parse a profile file's text (top level: version, network). */
Result<NetworkProfile> parse_network_profile(const std::string& yaml_text, const std::string& file);
Result<NetworkProfile> parse_network_profile_file(const std::string& path);

/* The lab's host names for a formation of `nodes` data nodes: monitor, node1..nodeN, client. */
std::vector<std::string> lab_host_names(int nodes);

}  // namespace pgaf::lab
