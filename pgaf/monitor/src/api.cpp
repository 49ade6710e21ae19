/*
 * api.cpp — the SQL-callable functions of the monitor, in C++ (called from entry.c through
 * pgaf_call(); see bridge.h).
 *
 * Each function: validates its arguments (clear errors naming the argument), takes the formation
 * lock, runs the event through run_decision() (group_store.hpp), and returns its result as text
 * cells. pgaf_call() is the wall: it catches every exception and turns every Error into a
 * PgafStatus with the error's SQLSTATE; nothing it returns references C++ objects.
 */
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <exception>
#include <new>

#include "bridge.h"
#include "db.hpp"
#include "group_store.hpp"
#include "pgaf/core/sync_names.hpp"

namespace pgaf::monitor {

namespace {

using Table = std::vector<std::vector<Arg>>;

class Args {
 public:
  Args(int n, const char* const* v) : n_(n), v_(v) {}

  const char* raw(int i) const { return i < n_ ? v_[i] : nullptr; }
  /* Whether the called SQL signature has argument i (overloads share one C symbol). */
  bool has(int i) const { return i < n_; }

  Result<std::string> text(int i, const char* name) const {
    if (raw(i) == nullptr) return null_error(name);
    return std::string(raw(i));
  }
  std::string text_or(int i, const char* dflt) const {
    return raw(i) != nullptr ? std::string(raw(i)) : std::string(dflt);
  }
  Result<std::int64_t> int64(int i, const char* name) const {
    if (raw(i) == nullptr) return null_error(name);
    return parse_int64(raw(i), name);
  }
  Result<int> int32(int i, const char* name) const {
    auto v = int64(i, name);
    if (!v.ok()) return v.error();
    return static_cast<int>(*v);
  }
  Result<bool> boolean(int i, const char* name) const {
    if (raw(i) == nullptr) return null_error(name);
    return raw(i)[0] == 't';
  }

 private:
  static Error null_error(const char* name) {
    return make_error(ErrorCode::InvalidArgument, std::string(name) + " must not be NULL");
  }
  int n_;
  const char* const* v_;
};

#define PGAF_TRY(var, expr)                \
  auto var##_r = (expr);                   \
  if (!var##_r.ok()) return var##_r.error(); \
  auto var = std::move(*var##_r)

#define PGAF_EXEC(expr)                                  \
  do {                                                   \
    if (auto r_ = (expr); !r_.ok()) return r_.error();   \
  } while (0)

#define PGAF_CHECK(expr)                       \
  do {                                         \
    if (Status st_ = (expr); !st_.ok()) return st_.error(); \
  } while (0)

std::string b(bool v) { return v ? "t" : "f"; }

struct NodeRef {
  NodeId id = 0;
  std::string formation;
  GroupId group = 0;
};

Result<std::optional<NodeRef>> find_node_by_id(Db& db, NodeId id) {
  PGAF_TRY(rows, db.query(Stmt::FindNodeById, {std::to_string(id)}));
  if (rows.empty()) return std::optional<NodeRef>{};
  return std::optional<NodeRef>{NodeRef{id, rows.str(0, 0), std::atoi(rows.at(0, 1))}};
}

Error unknown_node(NodeId id) {
  return make_error(ErrorCode::UnknownNode, "couldn't find node with nodeid " + std::to_string(id),
                    "check the node id with pg_autoctl show state");
}

Result<NodeRef> find_node_by_name(Db& db, const std::string& formation, const std::string& name) {
  PGAF_TRY(rows, db.query(Stmt::FindNodeByName, {formation, name}));
  if (rows.empty()) {
    return make_error(ErrorCode::UnknownNode,
                      "node \"" + name + "\" is not registered in formation \"" + formation + "\"",
                      "check the node name with pg_autoctl show state");
  }
  PGAF_TRY(id, parse_int64(rows.at(0, 0), "nodeid"));
  return NodeRef{id, formation, std::atoi(rows.at(0, 1))};
}

Status require_formation(Db& db, const std::string& formation) {
  auto rows = db.query(Stmt::LoadFormation, {formation});
  if (!rows.ok()) return rows.error();
  if (rows->empty()) {
    return make_error(ErrorCode::UnknownFormation, "formation \"" + formation + "\" does not exist",
                      "create it with pg_autoctl create formation, or use \"default\"");
  }
  return Status::Ok();
}

/* ---- register_node ---- */

Result<Table> register_node(Db& db, const Args& a) {
  PGAF_TRY(formation, a.text(0, "formation_id"));
  PGAF_TRY(host, a.text(1, "node_host"));
  PGAF_TRY(port, a.int32(2, "node_port"));
  PGAF_TRY(dbname, a.text(3, "dbname"));
  const std::string name = a.text_or(4, "");
  std::int64_t sysid = 0;
  if (a.raw(5) != nullptr) {
    PGAF_TRY(v, a.int64(5, "sysidentifier"));
    sysid = v;
  }
  std::int64_t desired_id = -1;
  if (a.raw(6) != nullptr) {
    PGAF_TRY(v, a.int64(6, "desired_node_id"));
    desired_id = v;
  }
  int desired_group = -1;
  if (a.raw(7) != nullptr) {
    PGAF_TRY(v, a.int32(7, "desired_group_id"));
    desired_group = v;
  }
  NodeState initial = NodeState::Init;
  if (a.raw(8) != nullptr) {
    PGAF_TRY(v, parse_node_state(a.raw(8)));
    initial = v;
  }
  const std::string kind = a.text_or(9, "standalone");
  int prio = 100;
  if (a.raw(10) != nullptr) {
    PGAF_TRY(v, a.int32(10, "candidate_priority"));
    prio = v;
  }
  bool quorum = true;
  if (a.raw(11) != nullptr) {
    PGAF_TRY(v, a.boolean(11, "replication_quorum"));
    quorum = v;
  }
  const std::string cluster = a.text_or(12, "default");

  if (kind == "coordinator" || kind == "worker")
    return make_error(ErrorCode::Unsupported, "citus formations are not supported by pgaf",
                      "register a standalone node");
  if (!(kind == "standalone" || kind.empty() || kind == "unknown"))
    return make_error(ErrorCode::InvalidArgument, "invalid node_kind \"" + kind + "\"",
                      "node_kind is standalone, coordinator or worker");
  if (host.empty())
    return make_error(ErrorCode::InvalidArgument, "node_host must not be empty",
                      "pass the hostname or IP address other nodes use to reach this node");
  if (port <= 0 || port > 65535)
    return make_error(ErrorCode::OutOfRange, "invalid node_port " + std::to_string(port),
                      "a port is between 1 and 65535");
  if (prio < 0 || prio > kMaxCandidatePriority)
    return make_error(ErrorCode::OutOfRange,
                      "invalid value for candidate_priority \"" + std::to_string(prio) + "\"",
                      "candidate_priority must be between 0 and 100");
  if (desired_group != -1 && desired_group != 0)
    return make_error(ErrorCode::InvalidArgument,
                      "invalid group " + std::to_string(desired_group) + " for a pgsql formation",
                      "a pgsql formation has only group 0");
  if (desired_id != -1 && desired_id <= 0)
    return make_error(ErrorCode::InvalidArgument,
                      "invalid desired_node_id " + std::to_string(desired_id),
                      "node ids are positive");

  PGAF_CHECK(db.lock_formation(formation, true));
  PGAF_TRY(frows, db.query(Stmt::LoadFormation, {formation}));
  if (frows.empty())
    return make_error(ErrorCode::UnknownFormation, "formation \"" + formation + "\" does not exist",
                      "create it with pg_autoctl create formation, or use \"default\"");
  const std::string fkind = frows.str(0, 0);
  const std::string fdb = frows.str(0, 1);
  PGAF_TRY(count, db.query(Stmt::CountFormationNodes, {formation}));
  const bool empty_formation = std::atoll(count.at(0, 0)) == 0;
  if (empty_formation) {
    if (fkind != "pgsql" || fdb != dbname) {
      PGAF_EXEC(db.query(Stmt::UpdateFormationKind, {formation, std::string("pgsql"), dbname}));
    }
  } else {
    if (fkind != "pgsql")
      return make_error(ErrorCode::Unsupported, "citus formations are not supported by pgaf");
    if (fdb != dbname)
      return make_error(ErrorCode::InvalidArgument,
                        "node " + host + ":" + std::to_string(port) + " uses database \"" +
                            dbname + "\" but formation \"" + formation + "\" uses database \"" +
                            fdb + "\"",
                        "use --dbname " + fdb);
  }

  PGAF_TRY(hp, db.query(Stmt::FindNodeByHostPort, {host, std::to_string(port)}));
  if (!hp.empty())
    return make_error(ErrorCode::AlreadyExists,
                      "a node is already registered at " + host + ":" + std::to_string(port),
                      "drop that node first, or choose another host/port",
                      "node " + hp.str(0, 0) + " of formation \"" + hp.str(0, 1) + "\"");
  if (!name.empty()) {
    PGAF_TRY(nm, db.query(Stmt::FindNodeByName, {formation, name}));
    if (!nm.empty())
      return make_error(ErrorCode::AlreadyExists,
                        "node name \"" + name + "\" is already registered in formation \"" +
                            formation + "\"",
                        "choose another --name");
  }
  NodeId id = desired_id;
  if (desired_id != -1) {
    PGAF_TRY(existing, find_node_by_id(db, desired_id));
    if (existing)
      return make_error(ErrorCode::AlreadyExists,
                        "node " + std::to_string(desired_id) + " is already registered");
  } else {
    PGAF_TRY(next, db.query(Stmt::NextNodeId, {}));
    PGAF_TRY(v, parse_int64(next.at(0, 0), "nodeid"));
    id = v;
  }

  RegisterEvent ev;
  ev.node.id = id;
  ev.node.group_id = 0;
  ev.node.name = name;
  ev.node.host = host;
  ev.node.port = port;
  ev.node.node_cluster = cluster;
  ev.node.sysidentifier = sysid;
  ev.node.candidate_priority = prio;
  ev.node.replication_quorum = quorum;
  ev.initial_state = initial;
  PGAF_TRY(ran, run_decision(db, formation, 0, ev, RunOptions{}));
  if (desired_id != -1) {
    PGAF_EXEC(db.query(Stmt::SetNodeIdSequence, {std::to_string(id)}));
  }
  const Node* n = ran.decision.after.find(id);
  if (n == nullptr)
    return make_error(ErrorCode::Internal, "node " + std::to_string(id) + " vanished during registration");
  return Table{{std::to_string(n->id), std::to_string(n->group_id),
                std::string(to_string(n->goal_state)), std::to_string(n->candidate_priority),
                b(n->replication_quorum), n->name}};
}

/* ---- node_active ---- */

/* A bigint[] in its text form ("{1,2}", "{}"): at most 64 positive ids. */
Result<std::vector<NodeId>> parse_id_array(const char* text, const char* field) {
  const std::string t = text;
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::InvalidArgument,
                      std::string("invalid value for ") + field + ": \"" + t.substr(0, 64) + "\"",
                      why);
  };
  if (t.size() < 2 || t.front() != '{' || t.back() != '}')
    return bad("give an array of node ids, e.g. '{2,3}'");
  std::vector<NodeId> ids;
  std::string inner = t.substr(1, t.size() - 2);
  if (inner.empty()) return ids;
  std::size_t pos = 0;
  while (pos <= inner.size()) {
    const std::size_t comma = inner.find(',', pos);
    const std::string item =
        inner.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (item.empty() || item.size() > 18 ||
        item.find_first_not_of("0123456789") != std::string::npos)
      return bad("node ids are positive integers (no NULL elements)");
    const NodeId id = std::stoll(item);
    if (id <= 0) return bad("node ids are positive integers (no NULL elements)");
    if (ids.size() >= 64) return bad("at most 64 node ids");
    ids.push_back(id);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return ids;
}

Result<Table> node_active(Db& db, const Args& a) {
  PGAF_TRY(formation, a.text(0, "formation_id"));
  PGAF_TRY(id, a.int64(1, "node_id"));
  PGAF_TRY(group, a.int32(2, "group_id"));
  NodeActiveEvent ev;
  ev.node_id = id;
  ev.reported_state = NodeState::Init;
  if (a.raw(3) != nullptr) {
    PGAF_TRY(v, parse_node_state(a.raw(3)));
    ev.reported_state = v;
  }
  if (ev.reported_state == NodeState::Unknown)
    return make_error(ErrorCode::UnknownState, "node " + std::to_string(id) +
                                                   " reported state \"unknown\"",
                      "a node reports one of the replication states it can be in");
  ev.pg_is_running = a.raw(4) == nullptr || a.raw(4)[0] == 't';
  if (a.raw(5) != nullptr) {
    PGAF_TRY(v, a.int32(5, "current_tli"));
    ev.tli = v;
  }
  if (a.raw(6) != nullptr) {
    PGAF_TRY(v, parse_lsn_or_error(a.raw(6)));
    ev.lsn = v;
  }
  ev.sync_state = a.text_or(7, "");
  if (a.has(8)) { /* the 9-argument overload (pgaf agents): see NodeActiveEvent::report_seq */
    PGAF_TRY(seq, a.int64(8, "report_seq"));
    if (seq < 0)
      return make_error(ErrorCode::InvalidArgument,
                        "invalid value for report_seq: " + std::to_string(seq),
                        "report_seq is a per-node sequence number that strictly increases, or 0 "
                        "when the agent does not number its reports");
    ev.report_seq = seq;
  }
  if (a.has(9) && a.raw(9) != nullptr) { /* the 10-argument overload: a primary's verdicts */
    PGAF_TRY(ids, parse_id_array(a.raw(9), "stale_standbys"));
    ev.stale_standbys = std::move(ids);
  }

  PGAF_CHECK(db.lock_formation(formation, false));
  RunOptions o;
  o.try_shared = true;
  o.own_node = id;
  o.async_commit_ok = true;
  auto ran = run_decision(db, formation, group, ev, o);
  if (!ran.ok() && ran.error().code == ErrorCode::UnknownNode && !pgaf_db_error_stashed()) {
    PGAF_TRY(ref, find_node_by_id(db, id));
    if (!ref) return unknown_node(id);
    if (ref->formation != formation)
      return make_error(ErrorCode::UnknownNode,
                        "node " + std::to_string(id) + " does not belong to formation \"" +
                            formation + "\"",
                        "it is registered in formation \"" + ref->formation + "\"");
    if (ref->group == group) return ran.error();
    ran = run_decision(db, formation, ref->group, ev, o);
  }
  if (!ran.ok()) return ran.error();
  const Node* n = ran->decision.after.find(id);
  if (n == nullptr) n = ran->before.find(id); /* removed: it reached dropped */
  if (n == nullptr) return unknown_node(id);
  const NodeState goal = ran->decision.after.find(id) != nullptr ? n->goal_state : NodeState::Dropped;
  return Table{{std::to_string(n->id), std::to_string(n->group_id), std::string(to_string(goal)),
                std::to_string(n->candidate_priority), b(n->replication_quorum)}};
}

/* ---- get_primary ---- */

Result<Table> get_primary(Db& db, const Args& a) {
  PGAF_TRY(formation, a.text(0, "formation_id"));
  PGAF_TRY(group, a.int32(1, "group_id"));
  PGAF_TRY(rows, db.query(Stmt::GetPrimaryCandidates, {formation, std::to_string(group)}));
  int pick = -1;
  int belongs = -1;
  int demoting = -1;
  int demoted = -1;
  for (int i = 0; i < rows.size(); ++i) {
    PGAF_TRY(goal, parse_node_state(rows.at(i, 4)));
    PGAF_TRY(reported, parse_node_state(rows.at(i, 5)));
    if (can_take_writes_in_state(goal)) {
      pick = i;
      break;
    }
    if (state_belongs_to_primary(reported)) {
      if (belongs < 0) belongs = i;
      if (demoting < 0 && (goal == NodeState::Draining || goal == NodeState::DemoteTimeout ||
                           goal == NodeState::PrepareMaintenance))
        demoting = i;
    }
    if (demoted < 0 && goal == NodeState::Demoted &&
        (state_belongs_to_primary(reported) || reported == NodeState::Demoted))
      demoted = i;
  }
  if (pick < 0) pick = demoting >= 0 ? demoting : belongs >= 0 ? belongs : demoted;
  if (pick < 0)
    return make_error(ErrorCode::NoPrimary, "group has no writable node right now",
                      "retry in a moment", "formation \"" + formation + "\", group " +
                                               std::to_string(group));
  return Table{{rows.str(pick, 0), rows.str(pick, 1), rows.str(pick, 2), rows.str(pick, 3)}};
}

/* ---- remove_node ---- */

Result<Table> remove_node(Db& db, const NodeRef& ref, bool force) {
  PGAF_CHECK(db.lock_formation(ref.formation, false));
  RemoveEvent ev;
  ev.node_id = ref.id;
  ev.force = force;
  PGAF_TRY(ran, run_decision(db, ref.formation, ref.group, ev, RunOptions{}));
  return Table{{b(true)}};
}

Result<Table> remove_node_by_id(Db& db, const Args& a) {
  PGAF_TRY(id, a.int64(0, "node_id"));
  bool force = false;
  if (a.raw(1) != nullptr) {
    PGAF_TRY(v, a.boolean(1, "force"));
    force = v;
  }
  PGAF_TRY(ref, find_node_by_id(db, id));
  if (!ref) return unknown_node(id);
  return remove_node(db, *ref, force);
}

Result<Table> remove_node_by_host(Db& db, const Args& a) {
  PGAF_TRY(host, a.text(0, "node_host"));
  PGAF_TRY(port, a.int32(1, "node_port"));
  bool force = false;
  if (a.raw(2) != nullptr) {
    PGAF_TRY(v, a.boolean(2, "force"));
    force = v;
  }
  PGAF_TRY(rows, db.query(Stmt::FindNodeByHostPort, {host, std::to_string(port)}));
  if (rows.empty())
    return make_error(ErrorCode::UnknownNode,
                      "couldn't find node with host \"" + host + "\" and port " +
                          std::to_string(port),
                      "check the node with pg_autoctl show state");
  PGAF_TRY(id, parse_int64(rows.at(0, 0), "nodeid"));
  return remove_node(db, NodeRef{id, rows.str(0, 1), std::atoi(rows.at(0, 2))}, force);
}

/* ---- failover, promotion, maintenance ---- */

Result<Table> perform_failover(Db& db, const Args& a) {
  PGAF_TRY(formation, a.text(0, "formation_id"));
  PGAF_TRY(group, a.int32(1, "group_id"));
  PGAF_CHECK(db.lock_formation(formation, false));
  PGAF_TRY(ran, run_decision(db, formation, group, PerformFailoverEvent{}, RunOptions{}));
  return Table{};
}

Result<Table> perform_promotion(Db& db, const Args& a) {
  PGAF_TRY(formation, a.text(0, "formation_id"));
  PGAF_TRY(name, a.text(1, "node_name"));
  PGAF_CHECK(require_formation(db, formation));
  PGAF_TRY(ref, find_node_by_name(db, formation, name));
  PGAF_CHECK(db.lock_formation(formation, false));
  PGAF_TRY(ran, run_decision(db, formation, ref.group, PerformPromotionEvent{ref.id}, RunOptions{}));
  return Table{{b(ran.decision.result)}};
}

template <typename E>
Result<Table> maintenance(Db& db, const Args& a) {
  PGAF_TRY(id, a.int64(0, "node_id"));
  PGAF_TRY(ref, find_node_by_id(db, id));
  if (!ref) return Table{{b(false)}};
  PGAF_CHECK(db.lock_formation(ref->formation, false));
  E ev;
  ev.node_id = id;
  PGAF_TRY(ran, run_decision(db, ref->formation, ref->group, ev, RunOptions{}));
  return Table{{b(ran.decision.result)}};
}

/* ---- settings ---- */

Result<Table> set_candidate_priority(Db& db, const Args& a) {
  PGAF_TRY(formation, a.text(0, "formation_id"));
  PGAF_TRY(name, a.text(1, "node_name"));
  PGAF_TRY(prio, a.int32(2, "candidate_priority"));
  if (prio < 0 || prio > kMaxCandidatePriority)
    return make_error(ErrorCode::OutOfRange,
                      "invalid value for candidate_priority \"" + std::to_string(prio) + "\"",
                      "candidate_priority must be between 0 and 100");
  PGAF_CHECK(require_formation(db, formation));
  PGAF_TRY(ref, find_node_by_name(db, formation, name));
  PGAF_CHECK(db.lock_formation(formation, false));
  RunOptions o;
  o.settings_event = true;
  PGAF_TRY(ran, run_decision(db, formation, ref.group, SetCandidatePriorityEvent{ref.id, prio}, o));
  return Table{{b(true)}};
}

Result<Table> set_replication_quorum(Db& db, const Args& a) {
  PGAF_TRY(formation, a.text(0, "formation_id"));
  PGAF_TRY(name, a.text(1, "node_name"));
  PGAF_TRY(quorum, a.boolean(2, "replication_quorum"));
  PGAF_CHECK(require_formation(db, formation));
  PGAF_TRY(ref, find_node_by_name(db, formation, name));
  PGAF_CHECK(db.lock_formation(formation, false));
  RunOptions o;
  o.settings_event = true;
  PGAF_TRY(ran,
           run_decision(db, formation, ref.group, SetReplicationQuorumEvent{ref.id, quorum}, o));
  return Table{{b(true)}};
}

Result<Table> set_number_sync_standbys(Db& db, const Args& a) {
  PGAF_TRY(formation, a.text(0, "formation_id"));
  PGAF_TRY(nss, a.int32(1, "number_sync_standbys"));
  if (nss < 0)
    return make_error(ErrorCode::OutOfRange,
                      "invalid value for number_sync_standbys: " + std::to_string(nss),
                      "number_sync_standbys must be 0 or more");
  PGAF_CHECK(require_formation(db, formation));
  PGAF_CHECK(db.lock_formation(formation, false));
  PGAF_TRY(ran, run_decision(db, formation, 0, SetNumberSyncStandbysEvent{nss}, RunOptions{}));
  return Table{{b(true)}};
}

/* ---- computed values ---- */

Result<Table> sync_standby_names(Db& db, const Args& a) {
  PGAF_TRY(formation, a.text(0, "formation_id"));
  PGAF_TRY(group, a.int32(1, "group_id"));
  PGAF_CHECK(db.lock_formation(formation, false));
  PGAF_CHECK(db.lock_group(formation, group, false));
  PGAF_TRY(g, load_group(db, formation, group));
  PGAF_TRY(names, synchronous_standby_names(g));
  return Table{{names}};
}

Result<Table> formation_uri_fn(Db& db, const Args& a) {
  PGAF_TRY(formation, a.text(0, "formation_id"));
  UriOptions o;
  o.cluster_name = a.text_or(1, "default");
  o.sslmode = a.text_or(2, "prefer");
  o.sslrootcert = a.text_or(3, "");
  o.sslcrl = a.text_or(4, "");
  PGAF_TRY(g, load_group(db, formation, 0));
  auto uri = formation_uri(g, o);
  if (!uri) return Table{{Arg{}}};
  return Table{{*uri}};
}

Result<Table> call(PgafFn fn, const Args& a) {
  Db db;
  switch (fn) {
    case PGAF_FN_REGISTER_NODE: return register_node(db, a);
    case PGAF_FN_NODE_ACTIVE: return node_active(db, a);
    case PGAF_FN_GET_PRIMARY: return get_primary(db, a);
    case PGAF_FN_REMOVE_NODE_BY_NODEID: return remove_node_by_id(db, a);
    case PGAF_FN_REMOVE_NODE_BY_HOST: return remove_node_by_host(db, a);
    case PGAF_FN_PERFORM_FAILOVER: return perform_failover(db, a);
    case PGAF_FN_PERFORM_PROMOTION: return perform_promotion(db, a);
    case PGAF_FN_START_MAINTENANCE: return maintenance<StartMaintenanceEvent>(db, a);
    case PGAF_FN_STOP_MAINTENANCE: return maintenance<StopMaintenanceEvent>(db, a);
    case PGAF_FN_SET_NODE_CANDIDATE_PRIORITY: return set_candidate_priority(db, a);
    case PGAF_FN_SET_NODE_REPLICATION_QUORUM: return set_replication_quorum(db, a);
    case PGAF_FN_SET_FORMATION_NUMBER_SYNC_STANDBYS: return set_number_sync_standbys(db, a);
    case PGAF_FN_SYNCHRONOUS_STANDBY_NAMES: return sync_standby_names(db, a);
    case PGAF_FN_FORMATION_URI: return formation_uri_fn(db, a);
    case PGAF_FN_COUNT: break;
  }
  return make_error(ErrorCode::Internal, "unknown monitor function " + std::to_string(fn));
}

char* dup(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p != nullptr) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

void set_status(PgafStatus* st, const Error& e) {
  st->failed = 1;
  std::strncpy(st->sqlstate, sqlstate(e.code), sizeof st->sqlstate - 1);
  st->sqlstate[5] = '\0';
  st->message = dup(e.message);
  st->detail = e.detail.empty() ? nullptr : dup(e.detail);
  st->hint = e.hint.empty() ? nullptr : dup(e.hint);
}

void set_internal(PgafStatus* st, const char* what) {
  st->failed = 1;
  std::memcpy(st->sqlstate, "XX000", 6);
  st->message = dup(std::string("pgautofailover internal error: ") + what);
  st->detail = nullptr;
  st->hint = nullptr;
}

/* A failed invariant (PGAF_ASSERT) inside the monitor must not abort(): that would restart the
 * whole server. It throws instead; the wall below turns it into an ERROR (XX000) and the
 * transaction, with its half-made decision, is rolled back. */
[[noreturn]] void throw_on_assert(const char* expr, const char* file, int line, const char* msg) {
  throw std::logic_error(std::string("pgaf invariant violated: ") + msg + " (" + expr + ") at " +
                         file + ":" + std::to_string(line));
}
const bool g_assert_handler_installed = (pgaf::set_assert_handler(&throw_on_assert), true);

}  // namespace

}  // namespace pgaf::monitor

extern "C" void pgaf_call(PgafFn fn, int nargs, const char* const* args, PgafResult* out,
                          PgafStatus* status) {
  using namespace pgaf::monitor;
  out->nrows = 0;
  out->ncols = 0;
  out->cells = nullptr;
  std::memset(status, 0, sizeof *status);
  try {
    auto r = call(fn, Args(nargs, args));
    if (!r.ok()) {
      set_status(status, r.error());
      return;
    }
    const auto& t = *r;
    if (t.empty()) return;
    const std::size_t ncols = t.front().size();
    auto** cells = static_cast<char**>(std::calloc(t.size() * ncols + 1, sizeof(char*)));
    if (cells == nullptr) throw std::bad_alloc();
    out->cells = cells;
    out->nrows = static_cast<int>(t.size());
    out->ncols = static_cast<int>(ncols);
    for (std::size_t i = 0; i < t.size(); ++i)
      for (std::size_t c = 0; c < ncols && c < t[i].size(); ++c)
        if (t[i][c]) {
          cells[i * ncols + c] = dup(*t[i][c]);
          if (cells[i * ncols + c] == nullptr) throw std::bad_alloc();
        }
  } catch (const std::exception& e) {
    pgaf_result_free(out);
    pgaf_status_free(status);
    set_internal(status, e.what());
  } catch (...) {
    pgaf_result_free(out);
    pgaf_status_free(status);
    set_internal(status, "unknown exception");
  }
}

extern "C" void pgaf_result_free(PgafResult* r) {
  if (r->cells != nullptr) {
    for (int i = 0; i < r->nrows * r->ncols; ++i) std::free(r->cells[i]);
    std::free(static_cast<void*>(r->cells));
  }
  r->cells = nullptr;
  r->nrows = 0;
  r->ncols = 0;
}

extern "C" void pgaf_status_free(PgafStatus* s) {
  std::free(s->message);
  std::free(s->detail);
  std::free(s->hint);
  s->message = s->detail = s->hint = nullptr;
}

extern "C" void pgaf_default_gucs(PgafGucs* g) {
  const pgaf::Settings s;
  auto ms = [](pgaf::TimeMs v) { return static_cast<int>(v); };
  g->health_check_period_ms = ms(s.health_check_period_ms);
  g->health_check_timeout_ms = ms(s.health_check_timeout_ms);
  g->health_check_max_retries = s.health_check_max_retries;
  g->health_check_retry_delay_ms = ms(s.health_check_retry_delay_ms);
  g->node_considered_unhealthy_timeout_ms = ms(s.node_considered_unhealthy_timeout_ms);
  g->startup_grace_period_ms = ms(s.startup_grace_period_ms);
  g->enable_sync_wal_log_threshold_bytes = static_cast<int>(s.enable_sync_wal_log_threshold_bytes);
  g->promote_wal_log_threshold_bytes = static_cast<int>(s.promote_wal_log_threshold_bytes);
  g->primary_demote_timeout_ms = 30000; /* reference default; unused (fencing replaces it) */
  g->lease_ms = ms(s.lease_ms);
  g->standby_vouch_ms = ms(s.standby_vouch_ms);
  g->clock_drift_ppm = static_cast<int>(s.clock_drift_ppm);
  g->lease_margin_ms = ms(s.lease_margin_ms);
  g->tick_interval_ms = ms(s.monitor_tick_interval_ms);
  g->enable_version_checks = 1;
  g->enable_health_checks = 1;
}
