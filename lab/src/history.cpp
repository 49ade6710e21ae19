/*
 * history.cpp — History validation and JSON (de)serialisation.
 *
 * The JSON form is what result.json embeds and what `lab check` style replays read back; field
 * names are stable. history_from_json() rejects a malformed document naming the field.
 */
#include "pgaf/lab/history.hpp"

#include <algorithm>

namespace pgaf::lab {

std::string to_string(OpOutcome o) {
  switch (o) {
    case OpOutcome::Ok:
      return "ok";
    case OpOutcome::Fail:
      return "fail";
    case OpOutcome::Unknown:
      return "unknown";
  }
  return "?";
}

namespace {

bool known_node(const History& h, const std::string& n) {
  return n == "monitor" || std::find(h.nodes.begin(), h.nodes.end(), n) != h.nodes.end();
}

Error bad(const std::string& what) {
  return make_error(ErrorCode::InvalidArgument, "invalid history: " + what);
}

}  // namespace

Status History::validate() const {
  for (const auto& op : ops) {
    if (op.invoke_ms > op.complete_ms) {
      return bad("op " + std::to_string(op.id) + " completes before it is invoked");
    }
    if (op.outcome == OpOutcome::Ok) {
      if (!known_node(*this, op.node))
        return bad("ok op " + std::to_string(op.id) + " names unknown node \"" + op.node + "\"");
      if (op.timeline < 1) return bad("ok op " + std::to_string(op.id) + " has no timeline");
    }
  }
  for (const auto& s : samples) {
    if (!known_node(*this, s.node)) return bad("sample names unknown node \"" + s.node + "\"");
  }
  for (const auto& s : fsm) {
    if (!known_node(*this, s.node)) return bad("fsm sample names unknown node \"" + s.node + "\"");
  }
  for (const auto& f : faults) {
    if (f.end_ms != -1 && f.end_ms < f.start_ms)
      return bad("fault \"" + f.name + "\" heals before it starts");
  }
  return Status::Ok();
}

nlohmann::json to_json(const Op& op) {
  nlohmann::json j = {{"id", op.id},
                      {"client", op.client},
                      {"value", op.value},
                      {"invoke_ms", op.invoke_ms},
                      {"complete_ms", op.complete_ms},
                      {"outcome", to_string(op.outcome)}};
  if (op.outcome == OpOutcome::Ok) {
    j["node"] = op.node;
    j["timeline"] = op.timeline;
    j["lsn"] = op.lsn;
  }
  if (!op.error.empty()) j["error"] = op.error;
  return j;
}

nlohmann::json to_json(const History& h) {
  nlohmann::json j;
  j["scenario"] = h.scenario;
  j["seed"] = h.seed;
  j["nodes"] = h.nodes;
  j["initial_primary"] = h.initial_primary;
  j["phases"] = {{"formation_ready_ms", h.phases.formation_ready_ms},
                 {"warmup_start_ms", h.phases.warmup_start_ms},
                 {"faults_start_ms", h.phases.faults_start_ms},
                 {"heal_ms", h.phases.heal_ms},
                 {"converge_deadline_ms", h.phases.converge_deadline_ms},
                 {"end_ms", h.phases.end_ms}};
  auto& ops = j["ops"] = nlohmann::json::array();
  for (const auto& op : h.ops) ops.push_back(to_json(op));
  auto& ss = j["samples"] = nlohmann::json::array();
  for (const auto& s : h.samples) {
    ss.push_back({{"t_ms", s.t_ms},
                  {"node", s.node},
                  {"reachable", s.reachable},
                  {"in_recovery", s.in_recovery},
                  {"read_only", s.read_only},
                  {"timeline", s.timeline},
                  {"lsn", s.lsn},
                  {"http_primary", s.http_primary}});
  }
  auto& fs = j["fsm"] = nlohmann::json::array();
  for (const auto& s : h.fsm) {
    fs.push_back({{"t_ms", s.t_ms},
                  {"node", s.node},
                  {"reported", s.reported},
                  {"goal", s.goal},
                  {"health", s.health}});
  }
  auto& es = j["events"] = nlohmann::json::array();
  for (const auto& e : h.events) {
    es.push_back({{"t_ms", e.t_ms},
                  {"node", e.node},
                  {"reported", e.reported},
                  {"goal", e.goal},
                  {"health", e.health},
                  {"description", e.description}});
  }
  auto& fl = j["faults"] = nlohmann::json::array();
  for (const auto& f : h.faults) {
    fl.push_back({{"name", f.name},
                  {"action", f.action},
                  {"targets", f.targets},
                  {"start_ms", f.start_ms},
                  {"end_ms", f.end_ms},
                  {"detail", f.detail},
                  {"skipped", f.skipped}});
  }
  j["final"] = {
      {"read_ok", h.final.read_ok},
      {"primary", h.final.primary},
      {"timeline", h.final.timeline},
      {"read_error", h.final.read_error},
      {"values_count", h.final.values.size()},
      {"values", std::vector<std::int64_t>(h.final.values.begin(), h.final.values.end())}};
  j["notes"] = h.notes;
  return j;
}

Result<History> history_from_json(const nlohmann::json& j) {
  std::string field;
  try {
    History h;
    field = "scenario";
    h.scenario = j.at("scenario").get<std::string>();
    field = "seed";
    h.seed = j.at("seed").get<std::uint64_t>();
    field = "nodes";
    h.nodes = j.at("nodes").get<std::vector<std::string>>();
    field = "initial_primary";
    h.initial_primary = j.value("initial_primary", "");
    field = "phases";
    const auto& p = j.at("phases");
    h.phases.formation_ready_ms = p.at("formation_ready_ms");
    h.phases.warmup_start_ms = p.at("warmup_start_ms");
    h.phases.faults_start_ms = p.at("faults_start_ms");
    h.phases.heal_ms = p.at("heal_ms");
    h.phases.converge_deadline_ms = p.at("converge_deadline_ms");
    h.phases.end_ms = p.at("end_ms");
    field = "ops";
    for (const auto& o : j.at("ops")) {
      Op op;
      op.id = o.at("id");
      op.client = o.at("client");
      op.value = o.at("value");
      op.invoke_ms = o.at("invoke_ms");
      op.complete_ms = o.at("complete_ms");
      const auto out = o.at("outcome").get<std::string>();
      if (out == "ok")
        op.outcome = OpOutcome::Ok;
      else if (out == "fail")
        op.outcome = OpOutcome::Fail;
      else if (out == "unknown")
        op.outcome = OpOutcome::Unknown;
      else
        return bad("ops: unknown outcome \"" + out + "\"");
      op.node = o.value("node", "");
      op.timeline = o.value("timeline", 0);
      op.lsn = o.value("lsn", Lsn{0});
      op.error = o.value("error", "");
      h.ops.push_back(op);
    }
    field = "samples";
    for (const auto& s : j.at("samples")) {
      h.samples.push_back(Sample{s.at("t_ms"), s.at("node"), s.at("reachable"), s.at("in_recovery"),
                                 s.at("read_only"), s.at("timeline"), s.at("lsn"),
                                 s.value("http_primary", 0)});
    }
    field = "fsm";
    for (const auto& s : j.at("fsm")) {
      h.fsm.push_back(FsmSample{s.at("t_ms"), s.at("node"), s.at("reported"), s.at("goal"),
                                s.value("health", "")});
    }
    field = "events";
    for (const auto& e : j.at("events")) {
      h.events.push_back(MonitorEvent{e.at("t_ms"), e.at("node"), e.at("reported"), e.at("goal"),
                                      e.value("health", ""), e.value("description", "")});
    }
    field = "faults";
    for (const auto& f : j.at("faults")) {
      h.faults.push_back(FaultRecord{f.at("name"), f.at("action"), f.at("targets"),
                                     f.at("start_ms"), f.at("end_ms"), f.value("detail", ""),
                                     f.value("skipped", false)});
    }
    field = "final";
    const auto& fin = j.at("final");
    h.final.read_ok = fin.at("read_ok");
    h.final.primary = fin.value("primary", "");
    h.final.timeline = fin.value("timeline", 0);
    h.final.read_error = fin.value("read_error", "");
    for (const auto& v : fin.at("values")) h.final.values.insert(v.get<std::int64_t>());
    field = "notes";
    h.notes = j.value("notes", std::vector<std::string>{});
    Status st = h.validate();
    if (!st.ok()) return st.error();
    return h;
  } catch (const nlohmann::json::exception& e) {
    return bad("field \"" + field + "\": " + e.what());
  }
}

}  // namespace pgaf::lab
