/*
 * group_store.cpp — snapshot load, decide(), write-back, events and NOTIFY (see group_store.hpp
 * for the locking protocol).
 *
 * Invariants:
 *  - goal states, priorities, quorum flags, number_sync_standbys and deletions are written only
 *    while holding the group lock in exclusive mode;
 *  - every goal assignment, reported-state change, health change and settings change inserts
 *    one event row and sends one NOTIFY state (JSON) in the same statement; every LOG-level
 *    message of the Decision is also sent on channel log;
 *  - a stale node_active (Decision::stale_report) writes no row, no event, no NOTIFY;
 *  - the shared path writes only the row version it loaded (xmin check, see run_shared).
 */
#include "group_store.hpp"

#include <cstring>
#include <optional>

namespace pgaf::monitor {

namespace {

bool parse_bool(const char* v) { return v != nullptr && (v[0] == 't' || v[0] == 'T'); }

Result<NodeState> parse_state(const char* v) {
  if (v == nullptr) return NodeState::Unknown;
  return parse_node_state(v);
}

Result<Node> node_from_row(const Rows& r, int i) {
  Node n;
  auto id = parse_int64(r.at(i, 5), "nodeid");
  if (!id.ok()) return id.error();
  n.id = *id;
  n.group_id = static_cast<GroupId>(std::atoi(r.at(i, 6)));
  n.name = r.str(i, 7);
  n.host = r.str(i, 8);
  n.port = std::atoi(r.at(i, 9));
  n.node_cluster = r.str(i, 10);
  n.sysidentifier = r.null(i, 11) ? 0 : std::atoll(r.at(i, 11));
  n.candidate_priority = std::atoi(r.at(i, 12));
  n.replication_quorum = parse_bool(r.at(i, 13));
  auto rs = parse_state(r.at(i, 14));
  if (!rs.ok()) return rs.error();
  n.reported_state = *rs;
  auto gs = parse_state(r.at(i, 15));
  if (!gs.ok()) return gs.error();
  n.goal_state = *gs;
  n.pg_is_running = r.null(i, 16) ? true : parse_bool(r.at(i, 16));
  n.reported_tli = std::atoi(r.at(i, 17));
  if (r.null(i, 18)) /* reportedlsn is NOT NULL: a NULL here is a broken table */
    return make_error(ErrorCode::Internal,
                      "reportedlsn of node " + std::to_string(n.id) + " is NULL");
  auto lsn = parse_lsn_or_error(r.at(i, 18));
  if (!lsn.ok()) return lsn.error();
  n.reported_lsn = *lsn;
  n.sync_state = r.str(i, 19);
  const int h = std::atoi(r.at(i, 20));
  n.health = h == 1 ? Health::Good : h == 0 ? Health::Bad : Health::Unknown;
  auto ms = [&](int col, TimeMs if_null) -> TimeMs {
    return r.null(i, col) ? if_null : static_cast<TimeMs>(std::atoll(r.at(i, col)));
  };
  n.report_time_ms = ms(21, 0);
  n.health_check_time_ms = ms(22, 0);
  n.state_change_time_ms = ms(23, 0);
  n.wal_report_time_ms = ms(24, 0);
  n.stream_stop_time_ms = ms(25, -1);
  n.lease_granted_ms = ms(26, -1);
  n.last_report_seq = std::atoll(r.at(i, 27));
  n.wal_ack_stale_by = std::atoll(r.at(i, 28));
  return n;
}

bool node_differs(const Node& a, const Node& b) {
  return a.goal_state != b.goal_state || a.reported_state != b.reported_state ||
         a.pg_is_running != b.pg_is_running || a.sync_state != b.sync_state ||
         a.report_time_ms != b.report_time_ms || a.reported_tli != b.reported_tli ||
         a.reported_lsn != b.reported_lsn || a.wal_report_time_ms != b.wal_report_time_ms ||
         a.health != b.health || a.health_check_time_ms != b.health_check_time_ms ||
         a.state_change_time_ms != b.state_change_time_ms ||
         a.candidate_priority != b.candidate_priority ||
         a.replication_quorum != b.replication_quorum ||
         a.stream_stop_time_ms != b.stream_stop_time_ms ||
         a.lease_granted_ms != b.lease_granted_ms || a.last_report_seq != b.last_report_seq ||
         a.wal_ack_stale_by != b.wal_ack_stale_by;
}

/* Differences that matter to other nodes' decisions: never written in the shared path. */
bool node_decision_differs(const Node& a, const Node& b) {
  return a.goal_state != b.goal_state || a.reported_state != b.reported_state ||
         a.pg_is_running != b.pg_is_running || a.health != b.health ||
         a.candidate_priority != b.candidate_priority ||
         a.replication_quorum != b.replication_quorum;
}

std::string health_int(Health h) { return std::to_string(static_cast<int>(h)); }

/* Write node n. When `if_xmin` is given, the row is written only if it is still the version
 * loaded (xmin unchanged): returns false when a concurrent transaction changed it meanwhile. */
Result<bool> update_node(Db& db, const Node& n, const Arg& if_xmin = Arg{}) {
  auto r = db.query(Stmt::UpdateNode,
                    {std::to_string(n.id), std::string(to_string(n.goal_state)),
                     std::string(to_string(n.reported_state)), n.pg_is_running ? "t" : "f",
                     n.sync_state, ms_arg(n.report_time_ms, false),
                     std::to_string(n.reported_tli > 0 ? n.reported_tli : 1),
                     format_lsn(n.reported_lsn), ms_arg(n.wal_report_time_ms, false),
                     health_int(n.health), ms_arg(n.health_check_time_ms, false),
                     ms_arg(n.state_change_time_ms, false), std::to_string(n.candidate_priority),
                     n.replication_quorum ? "t" : "f", ms_arg(n.stream_stop_time_ms, true),
                     ms_arg(n.lease_granted_ms, true), std::to_string(n.last_report_seq),
                     std::to_string(n.wal_ack_stale_by), if_xmin});
  if (!r.ok()) return r.error();
  return !r->empty();
}

Status insert_node(Db& db, const std::string& formation, const Node& n) {
  Arg sysid = n.sysidentifier == 0 ? Arg{} : Arg{std::to_string(n.sysidentifier)};
  auto r = db.query(
      Stmt::InsertNode,
      {formation, std::to_string(n.id), std::to_string(n.group_id), n.name, n.host,
       std::to_string(n.port), sysid, std::string(to_string(n.goal_state)),
       std::string(to_string(n.reported_state)), n.pg_is_running ? "t" : "f", n.sync_state,
       ms_arg(n.report_time_ms, false), std::to_string(n.reported_tli > 0 ? n.reported_tli : 1),
       format_lsn(n.reported_lsn), ms_arg(n.wal_report_time_ms, false), health_int(n.health),
       ms_arg(n.health_check_time_ms, false), ms_arg(n.state_change_time_ms, false),
       std::to_string(n.candidate_priority), n.replication_quorum ? "t" : "f", n.node_cluster,
       ms_arg(n.stream_stop_time_ms, true), ms_arg(n.lease_granted_ms, true),
       std::to_string(n.last_report_seq), std::to_string(n.wal_ack_stale_by)});
  if (!r.ok()) return r.error();
  return Status::Ok();
}

Status insert_event(Db& db, const std::string& formation, const Node& n, NodeState goal,
                    const std::string& description) {
  auto r = db.query(Stmt::InsertEvent,
                    {formation, std::to_string(n.id), std::to_string(n.group_id), n.name, n.host,
                     std::to_string(n.port), std::string(to_string(n.reported_state)),
                     std::string(to_string(goal)), n.sync_state,
                     std::to_string(n.reported_tli > 0 ? n.reported_tli : 1),
                     format_lsn(n.reported_lsn), std::to_string(n.candidate_priority),
                     n.replication_quorum ? "t" : "f", description,
                     state_json(formation, n, goal)});
  if (!r.ok()) return r.error();
  return Status::Ok();
}

Status emit_messages(Db& db, const Decision& d) {
  for (const auto& m : d.messages) {
    if (Status st = db.message(m.level, m.text); !st.ok()) return st;
  }
  return Status::Ok();
}

bool is_noop(const GroupSnapshot& before, const Decision& d, NodeId own) {
  if (!d.assignments.empty() || !d.deleted.empty() || d.reported_state_changed ||
      d.health_changed)
    return false;
  if (d.after.formation.number_sync_standbys != before.formation.number_sync_standbys)
    return false;
  if (d.after.nodes.size() != before.nodes.size()) return false;
  for (const auto& a : d.after.nodes) {
    const Node* b = before.find(a.id);
    if (b == nullptr) return false;
    if (a.id == own ? node_decision_differs(a, *b) : node_differs(a, *b)) return false;
  }
  return true;
}

/* Write everything the Decision changed, then its events. */
Status write_back(Db& db, const GroupSnapshot& before, const Decision& d, const Event& event,
                  const RunOptions& o) {
  const std::string& formation = before.formation.id;
  for (const auto& a : d.after.nodes) {
    const Node* b = before.find(a.id);
    if (b == nullptr) {
      if (Status st = insert_node(db, formation, a); !st.ok()) return st;
    } else if (node_differs(a, *b)) {
      /* exclusive group lock: no one else writes this group's rows (no xmin check) */
      if (auto w = update_node(db, a); !w.ok()) return w.error();
    }
  }
  if (d.after.formation.number_sync_standbys != before.formation.number_sync_standbys) {
    auto r = db.query(Stmt::UpdateFormationNss,
                      {formation, std::to_string(d.after.formation.number_sync_standbys)});
    if (!r.ok()) return r.error();
  }

  auto node_now = [&](NodeId id) -> const Node* {
    if (const Node* n = d.after.find(id)) return n;
    return before.find(id);
  };

  /* events: reported state, health, settings, then the assignments in order */
  if (d.reported_state_changed) {
    if (const auto* e = std::get_if<NodeActiveEvent>(&event)) {
      const Node* b = before.find(e->node_id);
      const Node* n = node_now(e->node_id);
      if (b != nullptr && n != nullptr) {
        /* a node that reached dropped is deleted from `after`: report what it said */
        Node reported = *n;
        reported.reported_state = e->reported_state;
        const std::string desc = "New state is reported by " + describe(reported) + ": \"" +
                                 std::string(to_string(e->reported_state)) + "\"";
        if (Status st = insert_event(db, formation, reported, b->goal_state, desc); !st.ok())
          return st;
      }
    }
  }
  if (d.health_changed) {
    if (const auto* e = std::get_if<HealthCheckEvent>(&event)) {
      const Node* b = before.find(e->node_id);
      const Node* n = node_now(e->node_id);
      if (b != nullptr && n != nullptr) {
        const std::string desc = "Node " + describe(*n).substr(5) + " is marked as " +
                                 (n->health == Health::Good ? "healthy" : "unhealthy") +
                                 " by the monitor";
        if (Status st = insert_event(db, formation, *n, b->goal_state, desc); !st.ok()) return st;
      }
    }
  }
  if (o.settings_event) {
    for (const auto& a : d.after.nodes) {
      const Node* b = before.find(a.id);
      if (b == nullptr) continue;
      std::string desc;
      if (a.candidate_priority != b->candidate_priority)
        desc = "Updating candidate priority to " + std::to_string(a.candidate_priority) +
               " for " + describe(a);
      else if (a.replication_quorum != b->replication_quorum)
        desc = std::string("Updating replicationQuorum to ") +
               (a.replication_quorum ? "true" : "false") + " for " + describe(a);
      if (desc.empty()) continue;
      if (Status st = insert_event(db, formation, a, b->goal_state, desc); !st.ok()) return st;
    }
  }
  for (const auto& as : d.assignments) {
    const Node* n = node_now(as.node_id);
    if (n == nullptr) continue;
    if (Status st = insert_event(db, formation, *n, as.goal, as.description); !st.ok()) return st;
  }
  for (NodeId id : d.deleted) {
    auto r = db.query(Stmt::DeleteNode, {std::to_string(id)});
    if (!r.ok()) return r.error();
  }
  return emit_messages(db, d);
}

void json_string(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace

std::string state_json(const std::string& formation, const Node& n, NodeState goal) {
  std::string out = "{\"type\": \"state\", \"formation\": ";
  json_string(out, formation);
  out += ", \"groupId\": " + std::to_string(n.group_id);
  out += ", \"nodeId\": " + std::to_string(n.id);
  out += ", \"name\": ";
  json_string(out, n.name);
  out += ", \"host\": ";
  json_string(out, n.host);
  out += ", \"port\": " + std::to_string(n.port);
  out += ", \"reportedState\": \"" + std::string(to_string(n.reported_state)) + "\"";
  out += ", \"goalState\": \"" + std::string(to_string(goal)) + "\"";
  out += ", \"health\":\"" + std::string(to_string(n.health)) + "\"}";
  return out;
}

namespace {

/* xmin of each loaded node row (the row version the snapshot holds), by node id. */
using RowVersions = std::vector<std::pair<NodeId, std::string>>;

Result<GroupSnapshot> load_group_versions(Db& db, const std::string& formation, GroupId group,
                                          RowVersions* versions) {
  auto rows = db.query(Stmt::LoadGroup, {formation, std::to_string(group)});
  if (!rows.ok()) return rows.error();
  const Rows& r = *rows;
  if (r.empty()) {
    return make_error(ErrorCode::UnknownFormation,
                      "formation \"" + formation + "\" does not exist",
                      "create it with pg_autoctl create formation, or use \"default\"");
  }
  GroupSnapshot g;
  g.formation.id = r.str(0, 0);
  auto kind = parse_formation_kind(r.str(0, 1));
  if (!kind.ok()) return kind.error();
  g.formation.kind = *kind;
  g.formation.dbname = r.str(0, 2);
  g.formation.opt_secondary = parse_bool(r.at(0, 3));
  g.formation.number_sync_standbys = std::atoi(r.at(0, 4));
  g.group_id = group;
  g.monitor_start_ms = db.monitor_start_ms();
  g.nodes.reserve(static_cast<std::size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) {
    if (r.null(i, 5)) continue; /* formation without nodes in this group */
    auto n = node_from_row(r, i);
    if (!n.ok()) return n.error();
    /* Steady-state reports commit asynchronously, so a crash may lose the latest lease grant
     * of a node with a writable goal. Every lost commit predates the monitor's (re)start:
     * taking the restart time as the grant is never earlier than the lost one. */
    if (can_take_writes_in_state(n->goal_state) && n->lease_granted_ms < g.monitor_start_ms)
      n->lease_granted_ms = g.monitor_start_ms;
    if (versions != nullptr) versions->emplace_back(n->id, r.str(i, 29));
    g.nodes.push_back(std::move(*n));
  }
  return g;
}

Arg row_version(const RowVersions& versions, NodeId id) {
  for (const auto& [nid, xmin] : versions)
    if (nid == id) return xmin;
  PGAF_ASSERT(false, "a loaded node has a row version");
  return Arg{};
}

/* A stale report (see NodeActiveEvent::report_seq) changes nothing: no row, no event, no
 * NOTIFY; its messages go to the server log only. */
Status log_stale(Db& db, const Decision& d) {
  for (const auto& m : d.messages)
    if (Status st = db.server_log(m.text); !st.ok()) return st;
  return Status::Ok();
}

}  // namespace

Result<GroupSnapshot> load_group(Db& db, const std::string& formation, GroupId group) {
  return load_group_versions(db, formation, group, nullptr);
}

/* The shared (cheap) path. Returns the result, or nullopt when the caller must upgrade to the
 * exclusive lock (nothing written, no row lock held). */
Result<std::optional<Ran>> run_shared(Db& db, const std::string& formation, GroupId group,
                                      const Event& event, const RunOptions& o,
                                      const Settings& settings) {
  /* Another share holder may write the reporter's row between our load and our write (a
   * concurrent report of the same node, the health worker). The write is conditional on the row
   * still being the version we decided on (xmin), else a stale report's columns or an older
   * lease grant could overwrite newer ones. When it was changed, PostgreSQL may leave us holding
   * the row lock of its newest version (READ COMMITTED re-check): from then on we must not wait
   * for the exclusive group lock (a share holder could be waiting for that row: deadlock), so we
   * decide again in share mode, and refuse the call if that needs the exclusive lock. */
  constexpr int kMaxAttempts = 3;
  bool may_hold_row_lock = false;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    RowVersions versions;
    auto snap = load_group_versions(db, formation, group, &versions);
    if (!snap.ok()) return snap.error();
    auto d = decide(*snap, event, settings, db.now_ms());
    if (!d.ok()) return d.error();
    if (d->stale_report) {
      if (Status st = log_stale(db, *d); !st.ok()) return st.error();
      return std::optional<Ran>(Ran{std::move(*snap), std::move(*d)});
    }
    if (!is_noop(*snap, *d, o.own_node)) {
      if (!may_hold_row_lock) return std::optional<Ran>{}; /* upgrade, nothing written yet */
      break;
    }
    if (o.own_node != 0) {
      const Node* a = d->after.find(o.own_node);
      const Node* b = snap->find(o.own_node);
      if (a != nullptr && b != nullptr && node_differs(*a, *b)) {
        auto w = update_node(db, *a, row_version(versions, a->id));
        if (!w.ok()) return w.error();
        if (!*w) {
          may_hold_row_lock = true;
          continue;
        }
        /* nothing but this node's report columns change: no need to wait for the WAL flush
         * (see load_group for the lease, and docs/monitor.md) */
        if (o.async_commit_ok) {
          if (Status st = db.async_commit(); !st.ok()) return st.error();
        }
      }
    }
    if (Status st = emit_messages(db, *d); !st.ok()) return st.error();
    return std::optional<Ran>(Ran{std::move(*snap), std::move(*d)});
  }
  return make_error(ErrorCode::BadState,
                    "node " + std::to_string(o.own_node) +
                        " was updated concurrently while its report was being applied",
                    "retry: the next report of the node will be applied");
}

Result<Ran> run_decision(Db& db, const std::string& formation, GroupId group,
                              const Event& event, const RunOptions& o) {
  const Settings settings = current_settings();
  if (o.try_shared) {
    if (Status st = db.lock_group(formation, group, false); !st.ok()) return st.error();
    auto shared = run_shared(db, formation, group, event, o, settings);
    if (!shared.ok()) return shared.error();
    if (*shared) return std::move(**shared);
    /* something changes: upgrade, with nothing written yet */
    if (Status st = db.unlock_group(formation, group, false); !st.ok()) return st.error();
  }
  if (Status st = db.lock_group(formation, group, true); !st.ok()) return st.error();
  auto snap = load_group(db, formation, group);
  if (!snap.ok()) return snap.error();
  auto d = decide(*snap, event, settings, db.now_ms());
  if (!d.ok()) return d.error();
  if (d->stale_report) {
    if (Status st = log_stale(db, *d); !st.ok()) return st.error();
    return Ran{std::move(*snap), std::move(*d)};
  }
  if (Status st = write_back(db, *snap, *d, event, o); !st.ok()) return st.error();
  return Ran{std::move(*snap), std::move(*d)};
}

}  // namespace pgaf::monitor
