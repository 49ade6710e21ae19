/*
 * scenario.cpp — YAML → Scenario, with validation.
 *
 * Every field is read through one helper that knows its path ("faults[1].when.state") and the
 * YAML mark of its node, so every rejection names file, line and field. Unknown keys are errors
 * (a typo must not silently fall back to a default). Durations are strings with a unit
 * ("500ms", "5s", "2m"); bare numbers are rejected so units are never guessed.
 */
#include "pgaf/lab/scenario.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "pgaf/core/state.hpp"
#include "yaml_fields.hpp"

namespace pgaf::lab {
namespace {

using namespace yamlf;

const std::vector<std::pair<std::string, FaultAction>> kActions = {
    {"ifdown", FaultAction::IfDown},
    {"partition", FaultAction::Partition},
    {"oneway", FaultAction::OneWay},
    {"monitor_loss", FaultAction::MonitorLoss},
    {"disk_full", FaultAction::DiskFull},
    {"reboot", FaultAction::Reboot},
    {"kill", FaultAction::Kill},
    {"freeze", FaultAction::Freeze},
    {"loss", FaultAction::Loss},
    {"latency", FaultAction::Latency},
    {"bandwidth", FaultAction::Bandwidth},
    {"switchover", FaultAction::Switchover},
    {"zone_partition", FaultAction::ZonePartition},
    {"path_mtu", FaultAction::PathMtu},
    {"firewall_reset", FaultAction::FirewallReset},
    {"reroute", FaultAction::Reroute},
};
const std::vector<std::pair<std::string, FaultMode>> kModes = {{"drop", FaultMode::Drop},
                                                               {"reject", FaultMode::Reject}};
const std::vector<std::pair<std::string, ProcessKind>> kProcesses = {
    {"node", ProcessKind::Node},
    {"postmaster", ProcessKind::Postmaster},
    {"agent", ProcessKind::Agent}};
const std::vector<std::pair<std::string, SyncCommit>> kSync = {
    {"off", SyncCommit::Off},
    {"local", SyncCommit::Local},
    {"remote_write", SyncCommit::RemoteWrite},
    {"on", SyncCommit::On},
    {"remote_apply", SyncCommit::RemoteApply}};
const std::vector<std::pair<std::string, FailoverExpectation>> kFailover = {
    {"allowed", FailoverExpectation::Allowed},
    {"required", FailoverExpectation::Required},
    {"forbidden", FailoverExpectation::Forbidden}};

Target get_target(const YAML::Node& n, const std::string& field, int nodes,
                  const std::vector<Target::Kind>& allowed) {
  const auto s = get_string(n, field);
  Target t;
  if (s == "primary") {
    t.kind = Target::Kind::Primary;
  } else if (s == "standby") {
    t.kind = Target::Kind::Standby;
  } else if (s == "any") {
    t.kind = Target::Kind::AnyNode;
  } else if (s == "monitor") {
    t.kind = Target::Kind::Monitor;
  } else if (s == "clients") {
    t.kind = Target::Kind::Clients;
  } else if (s.rfind("node", 0) == 0 && s.size() > 4 &&
             std::all_of(s.begin() + 4, s.end(),
                         [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
             s.size() < 7) {
    const int idx = std::stoi(s.substr(4));
    if (idx < 1 || idx > nodes) {
      fail(n, field,
           "\"" + s + "\" does not exist (the formation has node1..node" + std::to_string(nodes) +
               ")");
    }
    t.kind = Target::Kind::Node;
    t.node_index = idx - 1;
  } else {
    fail(n, field,
         "unknown target \"" + s +
             "\" (expected primary, standby, any, monitor, clients or node1..node" +
             std::to_string(nodes) + ")");
  }
  if (std::find(allowed.begin(), allowed.end(), t.kind) == allowed.end()) {
    fail(n, field, "target \"" + s + "\" is not allowed here");
  }
  return t;
}

void parse_formation(const YAML::Node& f, Scenario& sc) {
  const std::string F = "formation";
  check_keys(f, F,
             {"nodes", "candidate_priorities", "replication_quorum", "number_sync_standbys",
              "synchronous_commit", "node_disk_mb", "settings", "stable_timeout", "agent_env",
              "http_endpoint"});
  auto& fs = sc.formation;
  if (!f["nodes"]) fail(f, sub(F, "nodes"), "is required");
  fs.nodes = static_cast<int>(get_int(f["nodes"], sub(F, "nodes"), 1, kMaxNodes));
  if (const auto cp = f["candidate_priorities"]) {
    if (!cp.IsSequence()) fail(cp, sub(F, "candidate_priorities"), "must be a list");
    if (static_cast<int>(cp.size()) != fs.nodes) {
      fail(cp, sub(F, "candidate_priorities"),
           "has " + std::to_string(cp.size()) + " entries, the formation has " +
               std::to_string(fs.nodes) + " nodes");
    }
    for (size_t i = 0; i < cp.size(); ++i) {
      fs.candidate_priorities.push_back(static_cast<int>(
          get_int(cp[i], sub(F, "candidate_priorities[" + std::to_string(i) + "]"), 0, 100)));
    }
  } else {
    fs.candidate_priorities.assign(static_cast<size_t>(fs.nodes), 50);
  }
  if (const auto rq = f["replication_quorum"]) {
    if (!rq.IsSequence()) fail(rq, sub(F, "replication_quorum"), "must be a list");
    if (static_cast<int>(rq.size()) != fs.nodes) {
      fail(rq, sub(F, "replication_quorum"),
           "has " + std::to_string(rq.size()) + " entries, the formation has " +
               std::to_string(fs.nodes) + " nodes");
    }
    for (size_t i = 0; i < rq.size(); ++i) {
      fs.replication_quorum.push_back(
          get_bool(rq[i], sub(F, "replication_quorum[" + std::to_string(i) + "]")));
    }
  } else {
    fs.replication_quorum.assign(static_cast<size_t>(fs.nodes), true);
  }
  if (const auto n = f["number_sync_standbys"]) {
    fs.number_sync_standbys =
        static_cast<int>(get_int(n, sub(F, "number_sync_standbys"), 0, kMaxNodes - 1));
    int quorum_standbys = 0;
    for (int i = 0; i < fs.nodes; ++i)
      quorum_standbys += fs.replication_quorum[static_cast<size_t>(i)] ? 1 : 0;
    /* one of the quorum nodes is the primary; like pg_auto_failover, n sync standbys need at
     * least n + 1 quorum standbys (so that losing one standby does not block writes) */
    const int standbys = std::max(0, quorum_standbys - 1);
    if (fs.number_sync_standbys > 0 && fs.number_sync_standbys + 1 > standbys) {
      fail(n, sub(F, "number_sync_standbys"),
           std::to_string(fs.number_sync_standbys) + " needs at least " +
               std::to_string(fs.number_sync_standbys + 1) +
               " quorum standbys; the formation has " + std::to_string(standbys));
    }
  }
  if (const auto n = f["synchronous_commit"]) {
    fs.synchronous_commit = get_enum(n, sub(F, "synchronous_commit"), kSync);
  }
  if (const auto n = f["node_disk_mb"]) {
    fs.node_disk_mb = static_cast<int>(get_int(n, sub(F, "node_disk_mb"), 64, 4096));
  }
  if (const auto s = f["settings"]) {
    if (!s.IsMap()) fail(s, sub(F, "settings"), "must be a mapping");
    pgaf::Settings probe;
    for (const auto& kv : s) {
      const auto key = kv.first.as<std::string>();
      const auto field = sub(F, "settings." + key);
      const auto value = get_string(kv.second, field);
      const Status st = probe.set(key, value);
      if (!st.ok()) fail(kv.first, field, st.error().message);
      fs.settings.emplace_back(key, value);
    }
    const Status v = probe.validate();
    if (!v.ok()) fail(s, sub(F, "settings"), v.error().message);
  }
  if (const auto n = f["stable_timeout"]) {
    fs.stable_timeout_ms = get_duration(n, sub(F, "stable_timeout"), 1000, 600000);
  }
  if (const auto e = f["agent_env"]) {
    if (!e.IsMap()) fail(e, sub(F, "agent_env"), "must be a mapping");
    for (const auto& kv : e) {
      const auto key = kv.first.as<std::string>();
      if (key.empty() || !std::all_of(key.begin(), key.end(), [](char c) {
            return std::isupper(static_cast<unsigned char>(c)) ||
                   std::isdigit(static_cast<unsigned char>(c)) || c == '_';
          })) {
        fail(kv.first, sub(F, "agent_env." + key), "must be an upper-case environment name");
      }
      fs.agent_env.emplace_back(key, get_string(kv.second, sub(F, "agent_env." + key)));
    }
  }
  if (const auto h = f["http_endpoint"]) fs.http_endpoint = get_bool(h, sub(F, "http_endpoint"));
}

void parse_workload(const YAML::Node& w, Scenario& sc) {
  const std::string F = "workload";
  check_keys(w, F, {"clients", "rate", "op_timeout", "connect_timeout", "connection"});
  auto& ws = sc.workload;
  if (const auto n = w["clients"])
    ws.clients = static_cast<int>(get_int(n, sub(F, "clients"), 1, kMaxClients));
  if (const auto n = w["rate"])
    ws.rate_per_client = static_cast<int>(get_int(n, sub(F, "rate"), 1, kMaxRatePerClient));
  if (const auto n = w["op_timeout"])
    ws.op_timeout_ms = get_duration(n, sub(F, "op_timeout"), 100, 60000);
  if (const auto n = w["connect_timeout"])
    ws.connect_timeout_ms = get_duration(n, sub(F, "connect_timeout"), 1000, 60000);
  if (const auto n = w["connection"]) {
    static const std::vector<std::pair<std::string, bool>> kConnections = {{"persistent", false},
                                                                           {"per_write", true}};
    ws.connect_per_write = get_enum(n, sub(F, "connection"), kConnections);
  }
}

void parse_phases(const YAML::Node& p, Scenario& sc) {
  const std::string F = "phases";
  check_keys(p, F, {"warmup", "warmup_min_ok_ratio", "faults", "converge_within", "cooldown"});
  auto& ps = sc.phases;
  if (const auto n = p["warmup"]) ps.warmup_ms = get_duration(n, sub(F, "warmup"), 1000, 600000);
  if (const auto n = p["warmup_min_ok_ratio"])
    ps.warmup_min_ok_ratio = get_double(n, sub(F, "warmup_min_ok_ratio"), 0.0, 1.0);
  if (const auto n = p["faults"]) ps.faults_ms = get_duration(n, sub(F, "faults"), 1000, 1800000);
  if (const auto n = p["converge_within"])
    ps.converge_within_ms = get_duration(n, sub(F, "converge_within"), 1000, 1800000);
  if (const auto n = p["cooldown"]) ps.cooldown_ms = get_duration(n, sub(F, "cooldown"), 0, 600000);
}

/* zones / router / zone / to_zone / via / mtu: each required by its action, refused elsewhere.
 * Names are checked against the profile by check_scenario_network(). */
void parse_network_fault(const YAML::Node& f, const std::string& F, Fault& ft) {
  const FaultAction a = ft.action;
  auto need = [&](const char* key, bool wanted) {
    if (wanted && !f[key]) fail(f, sub(F, key), "is required for " + to_string(a));
    if (!wanted && f[key]) fail(f[key], sub(F, key), "is not valid for " + to_string(a));
    return wanted;
  };
  if (need("zones", a == FaultAction::ZonePartition)) {
    const auto z = f["zones"];
    if (!z.IsSequence() || z.size() != 2) fail(z, sub(F, "zones"), "must be a list of two zones");
    ft.zones = {get_string(z[0], sub(F, "zones[0]")), get_string(z[1], sub(F, "zones[1]"))};
    if (ft.zones[0] == ft.zones[1]) fail(z, sub(F, "zones"), "names the same zone twice");
  }
  if (need("router", a == FaultAction::PathMtu || a == FaultAction::FirewallReset))
    ft.router = get_string(f["router"], sub(F, "router"));
  if (need("zone", a == FaultAction::PathMtu || a == FaultAction::Reroute))
    ft.zone = get_string(f["zone"], sub(F, "zone"));
  if (need("mtu", a == FaultAction::PathMtu))
    ft.mtu = static_cast<int>(get_int(f["mtu"], sub(F, "mtu"), 576, 9000));
  if (need("to_zone", a == FaultAction::Reroute))
    ft.to_zone = get_string(f["to_zone"], sub(F, "to_zone"));
  if (need("via", a == FaultAction::Reroute)) ft.via = get_string(f["via"], sub(F, "via"));
}

Fault parse_fault(const YAML::Node& f, const std::string& F, const Scenario& sc) {
  check_keys(f, F, {"name",    "at",     "when",      "action",          "target",
                    "to",      "mode",   "process",   "duration",        "restart_after",
                    "percent", "delay",  "rate_kbit", "include_clients", "prevent_restart",
                    "zones",   "router", "zone",      "to_zone",         "via",
                    "mtu"});
  Fault ft;
  ft.line = line_of(f);
  const int nodes = sc.formation.nodes;
  if (!f["name"]) fail(f, sub(F, "name"), "is required");
  ft.name = get_string(f["name"], sub(F, "name"));
  if (!f["action"]) fail(f, sub(F, "action"), "is required");
  ft.action = get_enum(f["action"], sub(F, "action"), kActions);
  const std::string sub_action = sub(F, "action");

  const bool has_at = static_cast<bool>(f["at"]);
  const bool has_when = static_cast<bool>(f["when"]);
  if (has_at == has_when) fail(f, F, "needs exactly one trigger: `at` or `when`");
  if (has_at) ft.trigger.at_ms = get_duration(f["at"], sub(F, "at"), 0, sc.phases.faults_ms);
  if (has_when) {
    const auto w = f["when"];
    const auto W = sub(F, "when");
    check_keys(w, W, {"node", "state", "delay"});
    Trigger::When when;
    when.node = w["node"] ? get_target(w["node"], sub(W, "node"), nodes,
                                       {Target::Kind::Primary, Target::Kind::Standby,
                                        Target::Kind::AnyNode, Target::Kind::Node})
                          : Target{Target::Kind::AnyNode, -1};
    if (!w["state"]) fail(w, sub(W, "state"), "is required");
    when.state = get_string(w["state"], sub(W, "state"));
    auto st = pgaf::parse_node_state(when.state);
    if (!st.ok() || *st == NodeState::Unknown) {
      fail(w["state"], sub(W, "state"), "unknown FSM state \"" + when.state + "\"");
    }
    if (w["delay"]) when.delay_ms = get_duration(w["delay"], sub(W, "delay"), 0, 600000);
    ft.trigger.when = when;
  }

  using K = Target::Kind;
  const std::vector<K> node_targets = {K::Primary, K::Standby, K::AnyNode, K::Node};
  switch (ft.action) {
    case FaultAction::MonitorLoss:
      ft.target = Target{K::Monitor, -1};
      if (f["target"]) ft.target = get_target(f["target"], sub(F, "target"), nodes, {K::Monitor});
      break;
    case FaultAction::Switchover:
      ft.target = Target{K::Primary, -1};
      if (f["target"]) ft.target = get_target(f["target"], sub(F, "target"), nodes, {K::Primary});
      break;
    case FaultAction::ZonePartition:
    case FaultAction::PathMtu:
    case FaultAction::FirewallReset:
    case FaultAction::Reroute:
      if (f["target"]) fail(f["target"], sub(F, "target"), "is not valid: it names zones/routers");
      ft.target = Target{K::Monitor, -1};
      parse_network_fault(f, F, ft);
      break;
    case FaultAction::Partition:
    case FaultAction::OneWay:
      if (!f["target"]) fail(f, sub(F, "target"), "is required");
      ft.target = get_target(f["target"], sub(F, "target"), nodes,
                             {K::Primary, K::Standby, K::AnyNode, K::Node, K::Monitor});
      break;
    case FaultAction::IfDown:
    case FaultAction::Freeze:
    case FaultAction::Loss:
    case FaultAction::Latency:
    case FaultAction::Bandwidth:
      if (!f["target"]) fail(f, sub(F, "target"), "is required");
      ft.target = get_target(f["target"], sub(F, "target"), nodes,
                             {K::Primary, K::Standby, K::AnyNode, K::Node, K::Monitor});
      break;
    default:
      if (!f["target"]) fail(f, sub(F, "target"), "is required");
      ft.target = get_target(f["target"], sub(F, "target"), nodes, node_targets);
  }

  if (f["to"]) {
    if (ft.action != FaultAction::OneWay && ft.action != FaultAction::Partition) {
      fail(f["to"], sub(F, "to"), "is only valid for oneway and partition");
    }
    ft.to = get_target(f["to"], sub(F, "to"), nodes,
                       {K::Primary, K::Standby, K::AnyNode, K::Node, K::Monitor, K::Clients});
  } else if (ft.action == FaultAction::OneWay) {
    fail(f, sub(F, "to"), "is required for a oneway fault");
  }
  if (ft.to && ft.to->kind == ft.target.kind && ft.to->node_index == ft.target.node_index &&
      ft.target.kind != K::Standby && ft.target.kind != K::AnyNode) {
    fail(f["to"], sub(F, "to"), "is the same host as target");
  }
  if (f["mode"]) {
    if (ft.action != FaultAction::OneWay && ft.action != FaultAction::Partition &&
        ft.action != FaultAction::ZonePartition) {
      fail(f["mode"], sub(F, "mode"), "is only valid for oneway, partition and zone_partition");
    }
    ft.mode = get_enum(f["mode"], sub(F, "mode"), kModes);
  }
  if (f["process"]) {
    if (ft.action != FaultAction::Kill && ft.action != FaultAction::Freeze) {
      fail(f["process"], sub(F, "process"), "is only valid for kill and freeze");
    }
    ft.process = get_enum(f["process"], sub(F, "process"), kProcesses);
  }
  if (ft.action == FaultAction::Kill) {
    if (!f["process"]) fail(f, sub(F, "process"), "is required for kill (postmaster or agent)");
    if (ft.process == ProcessKind::Node) {
      fail(f["process"], sub(F, "process"),
           "kill takes postmaster or agent; use reboot for the whole node");
    }
  }
  if (f["prevent_restart"]) {
    if (ft.action != FaultAction::Kill || ft.process != ProcessKind::Postmaster)
      fail(f["prevent_restart"], sub(F, "prevent_restart"),
           "is only valid for kill of the postmaster");
    ft.prevent_restart = get_bool(f["prevent_restart"], sub(F, "prevent_restart"));
  }
  const bool healing = ft.action == FaultAction::IfDown || ft.action == FaultAction::Partition ||
                       ft.action == FaultAction::OneWay || ft.action == FaultAction::DiskFull ||
                       ft.action == FaultAction::Freeze || ft.action == FaultAction::Loss ||
                       ft.action == FaultAction::Latency || ft.action == FaultAction::Bandwidth ||
                       ft.action == FaultAction::ZonePartition ||
                       ft.action == FaultAction::PathMtu || ft.action == FaultAction::Reroute;
  if (f["duration"]) {
    if (!healing)
      fail(f["duration"], sub(F, "duration"), "is not valid for " + to_string(ft.action));
    ft.duration_ms = get_duration(f["duration"], sub(F, "duration"), 100, 1800000);
  }
  if (f["restart_after"]) {
    if (ft.action != FaultAction::MonitorLoss && ft.action != FaultAction::Reboot &&
        ft.action != FaultAction::Kill) {
      fail(f["restart_after"], sub(F, "restart_after"),
           "is only valid for monitor_loss, reboot and kill");
    }
    ft.restart_after_ms = get_duration(f["restart_after"], sub(F, "restart_after"), 0, 1800000);
  }
  if (ft.action == FaultAction::Loss) {
    if (!f["percent"]) fail(f, sub(F, "percent"), "is required for loss");
    ft.loss_percent = static_cast<int>(get_int(f["percent"], sub(F, "percent"), 1, 100));
  } else if (f["percent"]) {
    fail(f["percent"], sub(F, "percent"), "is only valid for loss");
  }
  if (ft.action == FaultAction::Latency) {
    if (!f["delay"]) fail(f, sub(F, "delay"), "is required for latency");
    ft.delay_ms = get_duration(f["delay"], sub(F, "delay"), 1, 10000);
  } else if (f["delay"]) {
    fail(f["delay"], sub(F, "delay"), "is only valid for latency");
  }
  if (ft.action == FaultAction::Bandwidth) {
    if (!f["rate_kbit"]) fail(f, sub(F, "rate_kbit"), "is required for bandwidth");
    ft.rate_kbit = static_cast<int>(get_int(f["rate_kbit"], sub(F, "rate_kbit"), 8, 10000000));
  } else if (f["rate_kbit"]) {
    fail(f["rate_kbit"], sub(F, "rate_kbit"), "is only valid for bandwidth");
  }
  if (f["include_clients"]) {
    if (ft.action != FaultAction::Partition) {
      fail(f["include_clients"], sub(F, "include_clients"), "is only valid for partition");
    }
    ft.include_clients = get_bool(f["include_clients"], sub(F, "include_clients"));
  }
  return ft;
}

void parse_expect(const YAML::Node& e, Scenario& sc) {
  const std::string F = "expect";
  check_keys(e, F, {"rto_max", "lost_writes_max", "failover", "new_primary", "final_states"});
  auto& ex = sc.expect;
  if (const auto n = e["rto_max"]) ex.rto_max_ms = get_duration(n, sub(F, "rto_max"), 100, 1800000);
  if (const auto n = e["lost_writes_max"])
    ex.lost_writes_max = static_cast<int>(get_int(n, sub(F, "lost_writes_max"), 0, 1000000000));
  if (const auto n = e["failover"]) ex.failover = get_enum(n, sub(F, "failover"), kFailover);
  if (const auto n = e["new_primary"]) {
    ex.new_primary =
        get_target(n, sub(F, "new_primary"), sc.formation.nodes, {Target::Kind::Node}).node_index;
    if (ex.failover == FailoverExpectation::Forbidden)
      fail(n, sub(F, "new_primary"), "contradicts failover: forbidden");
    ex.failover = FailoverExpectation::Required;
  }
  if (const auto fs = e["final_states"]) {
    if (!fs.IsMap()) fail(fs, sub(F, "final_states"), "must be a mapping of state to count");
    int total = 0;
    for (const auto& kv : fs) {
      const auto key = kv.first.as<std::string>();
      const auto field = sub(F, "final_states." + key);
      auto st = pgaf::parse_node_state(key);
      if (!st.ok() || *st == NodeState::Unknown)
        fail(kv.first, field, "unknown FSM state \"" + key + "\"");
      const int count = static_cast<int>(get_int(kv.second, field, 0, kMaxNodes));
      total += count;
      ex.final_states[key] = count;
    }
    if (total != sc.formation.nodes) {
      fail(fs, sub(F, "final_states"),
           "counts add up to " + std::to_string(total) + ", the formation has " +
               std::to_string(sc.formation.nodes) + " nodes");
    }
  } else {
    ex.final_states["primary"] = 1;
    if (sc.formation.nodes > 1)
      ex.final_states["secondary"] = sc.formation.nodes - 1;
    else
      ex.final_states = {{"single", 1}};
  }
}

Scenario parse_root(const YAML::Node& root, const std::string& file) {
  Scenario sc;
  sc.file = file;
  if (!root.IsDefined() || root.IsNull()) throw ParseError{1, "", "the file is empty"};
  check_keys(root, "",
             {"version", "name", "description", "tags", "seed", "timeout", "formation", "workload",
              "phases", "faults", "expect", "network"});
  if (!root["version"]) fail(root, "version", "is required (version: 1)");
  get_int(root["version"], "version", 1, 1);
  if (!root["name"]) fail(root, "name", "is required");
  sc.name = get_string(root["name"], "name");
  if (sc.name.empty() || sc.name.size() > 64 ||
      !std::all_of(sc.name.begin(), sc.name.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) ||
               std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      })) {
    fail(root["name"], "name",
         "must be 1..64 characters of [a-z0-9_-] (it names the report folder)");
  }
  if (root["description"]) sc.description = get_string(root["description"], "description");
  if (const auto t = root["tags"]) {
    if (!t.IsSequence()) fail(t, "tags", "must be a list");
    for (size_t i = 0; i < t.size(); ++i)
      sc.tags.push_back(get_string(t[i], "tags[" + std::to_string(i) + "]"));
  }
  if (root["seed"])
    sc.seed = static_cast<std::uint64_t>(get_int(root["seed"], "seed", 0, (1LL << 62)));
  if (root["timeout"])
    sc.timeout_ms = get_duration(root["timeout"], "timeout", 10000, kMaxScenarioTimeoutMs);
  if (!root["formation"]) fail(root, "formation", "is required");
  parse_formation(root["formation"], sc);
  if (root["workload"]) parse_workload(root["workload"], sc);
  if (root["phases"]) parse_phases(root["phases"], sc);
  if (const auto fl = root["faults"]) {
    if (!fl.IsSequence()) fail(fl, "faults", "must be a list");
    if (static_cast<int>(fl.size()) > kMaxFaults)
      fail(fl, "faults", "has more than " + std::to_string(kMaxFaults) + " entries");
    std::set<std::string> names;
    for (size_t i = 0; i < fl.size(); ++i) {
      const auto field = "faults[" + std::to_string(i) + "]";
      Fault ft = parse_fault(fl[i], field, sc);
      if (!names.insert(ft.name).second)
        fail(fl[i]["name"], field + ".name", "duplicate fault name \"" + ft.name + "\"");
      sc.faults.push_back(std::move(ft));
    }
  }
  if (root["network"]) sc.network = parse_network_node(root["network"], "network", file);
  if (root["expect"]) {
    parse_expect(root["expect"], sc);
  } else {
    parse_expect(YAML::Node(YAML::NodeType::Map), sc);
  }
  const TimeMs needed = sc.formation.stable_timeout_ms + sc.phases.warmup_ms + sc.phases.faults_ms +
                        sc.phases.converge_within_ms + sc.phases.cooldown_ms;
  if (sc.timeout_ms < needed) {
    fail(root["timeout"] ? root["timeout"] : root, "timeout",
         "is " + std::to_string(sc.timeout_ms) + "ms, shorter than its phases need (" +
             std::to_string(needed) +
             "ms: stable_timeout + warmup + faults + converge_within + cooldown)");
  }
  return sc;
}

}  // namespace

std::string Target::to_string() const {
  switch (kind) {
    case Kind::Primary:
      return "primary";
    case Kind::Standby:
      return "standby";
    case Kind::AnyNode:
      return "any";
    case Kind::Node:
      return "node" + std::to_string(node_index + 1);
    case Kind::Monitor:
      return "monitor";
    case Kind::Clients:
      return "clients";
  }
  return "?";
}

bool Scenario::has_tag(const std::string& tag) const {
  return std::find(tags.begin(), tags.end(), tag) != tags.end();
}

bool Scenario::sync_replication() const {
  const auto sc = formation.synchronous_commit;
  if (sc != SyncCommit::On && sc != SyncCommit::RemoteWrite && sc != SyncCommit::RemoteApply)
    return false;
  int quorum = 0;
  for (bool q : formation.replication_quorum) quorum += q ? 1 : 0;
  return formation.nodes > 1 && quorum >= 2;
}

std::optional<int> Scenario::effective_lost_writes_max() const {
  if (expect.lost_writes_max) return expect.lost_writes_max;
  if (sync_replication()) return 0;
  return std::nullopt;
}

std::vector<std::string> Scenario::required_capabilities() const {
  std::vector<std::string> caps;
  for (const auto& f : faults) {
    std::string c;
    if (f.action == FaultAction::Loss) c = "loss";
    if (f.action == FaultAction::Latency) c = "latency";
    if (f.action == FaultAction::Bandwidth) c = "bandwidth";
    if (!c.empty() && std::find(caps.begin(), caps.end(), c) == caps.end()) caps.push_back(c);
  }
  return caps;
}

std::string to_string(FaultAction a) {
  for (const auto& [n, v] : kActions)
    if (v == a) return n;
  return "?";
}
std::string to_string(FaultMode m) {
  for (const auto& [n, v] : kModes)
    if (v == m) return n;
  return "?";
}
std::string to_string(ProcessKind p) {
  for (const auto& [n, v] : kProcesses)
    if (v == p) return n;
  return "?";
}
std::string to_string(SyncCommit s) {
  for (const auto& [n, v] : kSync)
    if (v == s) return n;
  return "?";
}
std::string to_string(FailoverExpectation f) {
  for (const auto& [n, v] : kFailover)
    if (v == f) return n;
  return "?";
}

Result<Scenario> parse_scenario(const std::string& yaml_text, const std::string& file) {
  try {
    YAML::Node root = YAML::Load(yaml_text);
    Scenario sc = parse_root(root, file);
    if (sc.network) {
      sc.network->source_text = YAML::Dump(root["network"]) + "\n";
      if (Status st = check_scenario_network(sc, &*sc.network); !st.ok()) return st.error();
    }
    return sc;
  } catch (const ParseError& e) {
    return parse_error(e, file, "see docs/scenarios.md for the scenario format");
  } catch (const YAML::Exception& e) {
    return yaml_error(e, file, "see docs/scenarios.md for the scenario format");
  }
}

Result<Scenario> parse_scenario_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return make_error(ErrorCode::InvalidArgument, "could not open scenario file \"" + path + "\"");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_scenario(ss.str(), path);
}

}  // namespace pgaf::lab
