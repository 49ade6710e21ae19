/*
 * monitor_client.cpp — the libpqxx MonitorClient: the monitor SQL API of upstream-design.md §5.2.
 *
 * Invariants: one connection for calls and one for LISTEN, both re-established on failure; every
 * connection attempt is bounded by connect_timeout = monitor_call_timeout_ms rounded up to whole
 * seconds (unless the URI sets its own; libpq 15 reads 1 as 2, its minimum) and every statement
 * is bounded by statement_timeout = monitor_call_timeout_ms. Server errors map back to our error
 * codes through their SQLSTATE (the monitor raises them from the same table).
 */
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "pgaf/agent/interfaces.hpp"
#include "pgaf/agent/postgres.hpp"

namespace pgaf::agent {

namespace {

std::string with_param(const std::string& uri, const std::string& kv) {
  if (uri.rfind("postgres://", 0) == 0 || uri.rfind("postgresql://", 0) == 0) {
    return uri + (uri.find('?') == std::string::npos ? "?" : "&") + kv;
  }
  std::string k = kv.substr(0, kv.find('='));
  return uri + " " + kv;
}

ErrorCode code_for_sqlstate(const std::string& st, const std::string& msg) {
  if (st == "42704") {
    return msg.find("formation") != std::string::npos && msg.find("node") == std::string::npos
               ? ErrorCode::UnknownFormation
               : ErrorCode::UnknownNode;
  }
  if (st == "55006") return ErrorCode::NoPrimary;
  if (st == "23505") return ErrorCode::AlreadyExists;
  if (st == "22023" || st == "22P02") return ErrorCode::InvalidArgument;
  if (st == "22003") return ErrorCode::OutOfRange;
  if (st == "55000") return ErrorCode::BadState;
  if (st == "42883" || st == "3F000") return ErrorCode::ExtensionMissing;
  return ErrorCode::Monitor;
}

}  // namespace

Result<StateNotification> parse_state_notification(const std::string& payload) {
  nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorCode::InvalidArgument, "the notification is not a JSON object");
  }
  if (j.value("type", std::string()) != "state") {
    return make_error(ErrorCode::InvalidArgument, "the notification is not of type \"state\"");
  }
  StateNotification n;
  try {
    n.formation = j.at("formation").get<std::string>();
    n.group_id = j.at("groupId").get<GroupId>();
    n.node_id = j.at("nodeId").get<NodeId>();
    n.name = j.value("name", std::string());
    n.host = j.value("host", std::string());
    n.port = j.value("port", 0);
    n.reported = j.value("reportedState", std::string());
    n.goal = j.value("goalState", std::string());
    n.health = j.value("health", std::string());
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::InvalidArgument,
                      std::string("the state notification lacks a field: ") + e.what());
  }
  return n;
}

namespace {

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, std::string formation, GroupId group)
      : pqxx::notification_receiver(c, "state"), formation_(std::move(formation)), group_(group) {}
  void operator()(const std::string& payload, int /*backend_pid*/) override {
    auto n = parse_state_notification(payload);
    if (n && n->formation == formation_ && n->group_id == group_) relevant = true;
  }
  bool relevant = false;

 private:
  std::string formation_;
  GroupId group_;
};

/* Any message on the monitor's `log` channel (free text, no formation in it). */
class LogReceiver final : public pqxx::notification_receiver {
 public:
  explicit LogReceiver(pqxx::connection_base& c) : pqxx::notification_receiver(c, "log") {}
  void operator()(const std::string& /*payload*/, int /*backend_pid*/) override { heard = true; }
  bool heard = false;
};

class PqxxMonitorClient final : public MonitorClient {
 public:
  PqxxMonitorClient(std::string uri, const Settings& s) : uri_(std::move(uri)), s_(s) {}

  void set_uri(const std::string& uri) override {
    if (uri == uri_) return;
    uri_ = uri;
    receiver_.reset(); /* before the connection it listens on */
    listen_.reset();
    conn_.reset();
  }

  Result<NodeAssignment> register_node(const RegisterArgs& a) override {
    auto r = call(
        "SELECT assigned_node_id, assigned_group_id, assigned_group_state::text, "
        "assigned_candidate_priority, assigned_replication_quorum, assigned_node_name "
        "FROM pgautofailover.register_node($1, $2, $3, $4, $5, $6, $10::bigint, -1, "
        "$7::pgautofailover.replication_state, 'standalone', $8, $9, 'default')",
        a.formation, a.host, a.port, a.dbname, a.name, a.sysidentifier,
        std::string(to_string(a.initial_state)), a.candidate_priority, a.replication_quorum,
        static_cast<std::int64_t>(a.desired_node_id));
    if (!r) return r.error();
    return assignment((*r)[0], true);
  }

  Result<NodeAssignment> node_active(const NodeActiveArgs& a) override {
    const std::string cols =
        "SELECT assigned_node_id, assigned_group_id, assigned_group_state::text, "
        "assigned_candidate_priority, assigned_replication_quorum ";
    const std::string args8 =
        "$1::text, $2::bigint, $3::int, $4::pgautofailover.replication_state, $5::bool, "
        "$6::int, $7::pg_lsn, $8::text";
    if (acks_supported_ && a.report_seq > 0 && a.stale_standbys) {
      /* a primary's verdict on its standbys (10-argument overload, pgaf monitors only) */
      std::string ids = "{";
      for (std::size_t i = 0; i < a.stale_standbys->size(); ++i)
        ids += (i ? "," : "") + std::to_string((*a.stale_standbys)[i]);
      ids += "}";
      auto r =
          call(cols + "FROM pgautofailover.node_active(" + args8 + ", $9::bigint, $10::bigint[])",
               a.formation, a.node_id, a.group_id, std::string(to_string(a.current)),
               a.pg_is_running, a.tli, format_lsn(a.lsn), a.sync_state, a.report_seq, ids);
      if (r) return assignment((*r)[0], false);
      if (r.error().code != ErrorCode::ExtensionMissing) return r.error();
      spdlog::info("the monitor takes no WAL acknowledgement verdicts: using the 9-argument form");
      acks_supported_ = false;
    }
    if (seq_supported_ && a.report_seq > 0) {
      /* pgaf monitors number the reports (9-argument overload); fall back to the reference's
       * 8-argument form when the monitor does not have it */
      auto r = call(cols + "FROM pgautofailover.node_active(" + args8 + ", $9::bigint)",
                    a.formation, a.node_id, a.group_id, std::string(to_string(a.current)),
                    a.pg_is_running, a.tli, format_lsn(a.lsn), a.sync_state, a.report_seq);
      if (r) return assignment((*r)[0], false);
      if (r.error().code != ErrorCode::ExtensionMissing) return r.error();
      spdlog::info("the monitor does not number node_active reports: using the 8-argument form");
      seq_supported_ = false;
    }
    auto r = call(cols + "FROM pgautofailover.node_active(" + args8 + ")", a.formation, a.node_id,
                  a.group_id, std::string(to_string(a.current)), a.pg_is_running, a.tli,
                  format_lsn(a.lsn), a.sync_state);
    if (!r) return r.error();
    return assignment((*r)[0], false);
  }

  Result<NodeAddress> get_primary(const std::string& formation, GroupId group) override {
    auto r = call(
        "SELECT primary_node_id, primary_name, primary_host, primary_port "
        "FROM pgautofailover.get_primary($1::text, $2::int)",
        formation, group);
    if (!r) return r.error();
    if (r->empty()) return make_error(ErrorCode::NoPrimary, "the group has no primary right now");
    NodeAddress n;
    const auto& row = (*r)[0];
    n.node_id = row[0].as<NodeId>();
    n.name = row[1].c_str();
    n.host = row[2].c_str();
    n.port = row[3].as<int>();
    n.is_primary = true;
    return n;
  }

  Result<std::vector<NodeAddress>> get_other_nodes(NodeId node_id) override {
    auto r = call(
        "SELECT node_id, node_name, node_host, node_port, node_lsn::text, "
        "node_is_primary FROM pgautofailover.get_other_nodes($1::bigint)",
        node_id);
    if (!r) return r.error();
    return addresses(*r);
  }

  Result<std::optional<NodeAddress>> get_most_advanced_standby(const std::string& formation,
                                                               GroupId group) override {
    auto r = call(
        "SELECT node_id, node_name, node_host, node_port, node_lsn::text, "
        "node_is_primary FROM pgautofailover.get_most_advanced_standby($1::text, $2::int)",
        formation, group);
    if (!r) return r.error();
    auto v = addresses(*r);
    if (!v) return v.error();
    if (v->empty()) return std::optional<NodeAddress>{};
    return std::optional<NodeAddress>{(*v)[0]};
  }

  Result<std::string> synchronous_standby_names(const std::string& formation,
                                                GroupId group) override {
    auto r = call("SELECT pgautofailover.synchronous_standby_names($1::text, $2::int)", formation,
                  group);
    if (!r) return r.error();
    return std::string((*r)[0][0].is_null() ? "" : (*r)[0][0].c_str());
  }

  Status set_node_system_identifier(NodeId node_id, std::int64_t sysid) override {
    auto r =
        call("SELECT 1 FROM pgautofailover.set_node_system_identifier($1, $2)", node_id, sysid);
    if (!r) return r.error();
    return Status::Ok();
  }

  Result<bool> remove_node(NodeId node_id, bool force) override {
    auto r = call("SELECT pgautofailover.remove_node($1::bigint, $2)", node_id, force);
    if (!r) return r.error();
    return (*r)[0][0].as<bool>();
  }

  Result<bool> remove_node_by_host(const std::string& host, int port, bool force) override {
    auto r = call("SELECT pgautofailover.remove_node($1::text, $2, $3)", host, port, force);
    if (!r) return r.error();
    return (*r)[0][0].as<bool>();
  }

  Status perform_failover(const std::string& formation, GroupId group) override {
    auto r = call("SELECT pgautofailover.perform_failover($1::text, $2::int)", formation, group);
    if (!r) return r.error();
    return Status::Ok();
  }

  Result<bool> perform_promotion(const std::string& formation, const std::string& name) override {
    auto r = call("SELECT pgautofailover.perform_promotion($1::text, $2::text)", formation, name);
    if (!r) return r.error();
    return (*r)[0][0].as<bool>();
  }

  Result<bool> start_maintenance(NodeId node_id) override {
    auto r = call("SELECT pgautofailover.start_maintenance($1::bigint)", node_id);
    if (!r) return r.error();
    return (*r)[0][0].as<bool>();
  }

  Status update_node_metadata(NodeId node_id, const std::string& name, const std::string& host,
                              int port) override {
    auto r = call(
        "SELECT pgautofailover.update_node_metadata($1::bigint, NULLIF($2::text, ''), "
        "NULLIF($3::text, ''), NULLIF($4::int, 0))",
        node_id, name, host, port);
    if (!r) return r.error();
    return Status::Ok();
  }

  Result<std::pair<std::string, std::string>> extension_version() override {
    auto r = call(
        "SELECT default_version, coalesce(installed_version, '') FROM pg_available_extensions "
        "WHERE name = 'pgautofailover'");
    if (!r) return r.error();
    if (r->empty()) {
      return make_error(ErrorCode::ExtensionMissing,
                        "the pgautofailover extension is not available on the monitor");
    }
    return std::make_pair(std::string((*r)[0][0].c_str()), std::string((*r)[0][1].c_str()));
  }

  Status set_node_candidate_priority(const std::string& formation, const std::string& name,
                                     int priority) override {
    auto r = call("SELECT pgautofailover.set_node_candidate_priority($1::text, $2::text, $3::int)",
                  formation, name, priority);
    if (!r) return r.error();
    return Status::Ok();
  }

  Status set_node_replication_quorum(const std::string& formation, const std::string& name,
                                     bool quorum) override {
    auto r = call("SELECT pgautofailover.set_node_replication_quorum($1::text, $2::text, $3::bool)",
                  formation, name, quorum);
    if (!r) return r.error();
    return Status::Ok();
  }

  Status set_formation_number_sync_standbys(const std::string& formation, int n) override {
    auto r = call("SELECT pgautofailover.set_formation_number_sync_standbys($1::text, $2::int)",
                  formation, n);
    if (!r) return r.error();
    return Status::Ok();
  }

  Result<int> formation_number_sync_standbys(const std::string& formation) override {
    auto r = call(
        "SELECT number_sync_standbys FROM pgautofailover.formation "
        "WHERE formationid = $1::text",
        formation);
    if (!r) return r.error();
    if (r->empty()) {
      return make_error(ErrorCode::BadState, "formation \"" + formation + "\" does not exist");
    }
    return (*r)[0][0].as<int>();
  }

  Status create_formation(const std::string& formation, const std::string& kind,
                          const std::string& dbname, bool opt_secondary, int nss) override {
    auto r = call(
        "SELECT * FROM pgautofailover.create_formation($1::text, $2::text, $3::name, "
        "$4::bool, $5::int)",
        formation, kind, dbname, opt_secondary, nss);
    if (!r) return r.error();
    return Status::Ok();
  }

  Status drop_formation(const std::string& formation) override {
    auto r = call("SELECT pgautofailover.drop_formation($1::text)", formation);
    if (!r) return r.error();
    return Status::Ok();
  }

  Status set_formation_secondary(const std::string& formation, bool enabled) override {
    auto r = call(enabled ? "SELECT pgautofailover.enable_secondary($1::text)"
                          : "SELECT pgautofailover.disable_secondary($1::text)",
                  formation);
    if (!r) return r.error();
    return Status::Ok();
  }

  Result<bool> stop_maintenance(NodeId node_id) override {
    auto r = call("SELECT pgautofailover.stop_maintenance($1::bigint)", node_id);
    if (!r) return r.error();
    return (*r)[0][0].as<bool>();
  }

  Result<std::vector<StateRow>> current_state(const std::string& formation) override {
    auto r = call(
        "SELECT nodename, nodehost, nodeport, group_id, node_id, "
        "current_group_state::text, assigned_group_state::text, candidate_priority, "
        "replication_quorum, reported_tli, reported_lsn::text, health "
        "FROM pgautofailover.current_state($1::text)",
        formation);
    if (!r) return r.error();
    std::vector<StateRow> out;
    for (const auto& row : *r) {
      StateRow s;
      s.name = row[0].c_str();
      s.host = row[1].c_str();
      s.port = row[2].as<int>();
      s.group_id = row[3].as<int>();
      s.node_id = row[4].as<NodeId>();
      auto rep = parse_node_state(row[5].c_str());
      auto goal = parse_node_state(row[6].c_str());
      s.reported = rep ? *rep : NodeState::Unknown;
      s.goal = goal ? *goal : NodeState::Unknown;
      s.candidate_priority = row[7].as<int>();
      s.replication_quorum = row[8].as<bool>();
      s.tli = row[9].is_null() ? 0 : row[9].as<int>();
      s.lsn = row[10].is_null() ? format_lsn(0) : row[10].c_str();
      s.health = row[11].is_null() ? -1 : row[11].as<int>();
      out.push_back(s);
    }
    return out;
  }

  Result<std::vector<EventRow>> last_events(const std::string& formation, GroupId group,
                                            int count) override {
    const std::string columns =
        "SELECT eventid, eventtime::text, to_json(eventtime) #>> '{}', formationid, nodeid, "
        "groupid, nodename, nodehost, nodeport, reportedstate::text, goalstate::text, "
        "reportedrepstate, reportedtli, reportedlsn::text, candidatepriority, replicationquorum, "
        "description FROM pgautofailover.last_events";
    auto r = group >= 0
                 ? call(columns +
                            "(formation_id => $1::text, group_id => $2::int, count => "
                            "$3::int)",
                        formation, group, count)
                 : call(columns + "(formation_id => $1::text, count => $2::int)", formation, count);
    if (!r) return r.error();
    std::vector<EventRow> out;
    for (const auto& row : *r) {
      EventRow e;
      e.event_id = row[0].as<std::int64_t>();
      e.time = row[1].c_str();
      e.time_iso = row[2].c_str();
      e.formation = row[3].c_str();
      e.node_id = row[4].is_null() ? 0 : row[4].as<NodeId>();
      e.group_id = row[5].is_null() ? 0 : row[5].as<GroupId>();
      e.node_name = row[6].c_str();
      e.node_host = row[7].c_str();
      e.node_port = row[8].is_null() ? 0 : row[8].as<int>();
      e.reported = row[9].c_str();
      e.goal = row[10].c_str();
      if (!row[11].is_null()) e.rep_state = std::string(row[11].c_str());
      e.tli = row[12].is_null() ? 1 : row[12].as<int>();
      e.lsn = row[13].is_null() ? format_lsn(0) : row[13].c_str();
      if (!row[14].is_null()) e.candidate_priority = row[14].as<int>();
      if (!row[15].is_null()) e.replication_quorum = row[15].as<bool>();
      e.description = row[16].is_null() ? "" : row[16].c_str();
      out.push_back(e);
    }
    return out;
  }

  Result<std::optional<std::string>> formation_uri(const std::string& formation,
                                                   const std::string& sslmode,
                                                   const std::string& sslrootcert,
                                                   const std::string& sslcrl) override {
    auto r = call(
        "SELECT pgautofailover.formation_uri($1::text, 'default', $2::text, $3::text, "
        "$4::text)",
        formation, sslmode, sslrootcert, sslcrl);
    if (!r) return r.error();
    if ((*r)[0][0].is_null()) return std::optional<std::string>{};
    return std::optional<std::string>{std::string((*r)[0][0].c_str())};
  }

  Result<bool> wait_for_state_change(const std::string& formation, GroupId group,
                                     TimeMs timeout_ms) override {
    return wait_on_channels(formation, group, timeout_ms, false);
  }

  Result<bool> wait_for_notification(const std::string& formation, GroupId group,
                                     TimeMs timeout_ms) override {
    return wait_on_channels(formation, group, timeout_ms, true);
  }

 private:
  /* LISTEN on `state` (and `log` when with_log) on a connection of its own, made on first use;
   * wait at most timeout_ms for a relevant notification. */
  Result<bool> wait_on_channels(const std::string& formation, GroupId group, TimeMs timeout_ms,
                                bool with_log) {
    try {
      if (!listen_ || receiver_formation_ != formation || receiver_group_ != group) {
        log_receiver_.reset();
        receiver_.reset();
        listen_.reset();
        listen_ = std::make_unique<pqxx::connection>(conninfo());
        receiver_ = std::make_unique<Receiver>(*listen_, formation, group);
        receiver_formation_ = formation;
        receiver_group_ = group;
      }
      if (with_log && !log_receiver_) log_receiver_ = std::make_unique<LogReceiver>(*listen_);
      auto heard = [&] { return receiver_->relevant || (with_log && log_receiver_->heard); };
      receiver_->relevant = false;
      if (log_receiver_) log_receiver_->heard = false;
      /* drain what is already there, then wait */
      listen_->get_notifs();
      if (heard()) return true;
      long sec = static_cast<long>(timeout_ms / 1000);
      long usec = static_cast<long>((timeout_ms % 1000) * 1000);
      listen_->await_notification(sec, usec);
      return heard();
    } catch (const std::exception& e) {
      log_receiver_.reset();
      receiver_.reset();
      listen_.reset();
      return make_error(ErrorCode::Monitor, std::string("LISTEN connection failed: ") + e.what());
    }
  }

  std::string conninfo() const {
    std::string c = uri_;
    if (c.find("connect_timeout") == std::string::npos) {
      c = with_param(c, "connect_timeout=" + std::to_string(Settings::connect_timeout_seconds(
                                                 s_.monitor_call_timeout_ms)));
    }
    if (c.find("application_name") == std::string::npos) {
      c = with_param(c, "application_name=pg_autoctl");
    }
    /* statement_timeout is enforced by the server: when the path drops our packets (a firewall
     * that lost its state table, a cut link) no answer ever comes and recv() would block for
     * TCP's ~15 minutes. tcp_user_timeout bounds the wait for our data to be acknowledged, so
     * the call fails and the next one reconnects (found by the lab's vendor pack,
     * scenarios/vendor/pack/firewall-state-loss.yaml). */
    if (c.find("tcp_user_timeout") == std::string::npos) {
      c = with_param(c, "tcp_user_timeout=" + std::to_string(3 * s_.monitor_call_timeout_ms));
    }
    return c;
  }

  template <typename... Args>
  Result<pqxx::result> call(const std::string& sql, Args&&... args) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        if (!conn_) {
          conn_ = std::make_unique<pqxx::connection>(conninfo());
          pqxx::nontransaction tx(*conn_);
          tx.exec("SET statement_timeout = " + std::to_string(s_.monitor_call_timeout_ms));
        }
        pqxx::nontransaction tx(*conn_);
        return tx.exec_params(sql, std::forward<Args>(args)...);
      } catch (const pqxx::broken_connection& e) {
        conn_.reset();
        if (attempt == 1) {
          return make_error(ErrorCode::Monitor,
                            std::string("could not connect to the monitor: ") + trim(e.what()),
                            "check that the monitor is running and the URI is right");
        }
      } catch (const pqxx::sql_error& e) {
        if (conn_ && !conn_->is_open()) conn_.reset();
        std::string msg = trim(e.what());
        if (msg.rfind("ERROR:", 0) == 0) msg = trim(msg.substr(6));
        return make_error(code_for_sqlstate(e.sqlstate(), msg), "monitor: " + msg);
      } catch (const std::exception& e) {
        conn_.reset();
        return make_error(ErrorCode::Monitor,
                          std::string("monitor call failed: ") + trim(e.what()));
      }
    }
    return make_error(ErrorCode::Monitor, "could not connect to the monitor");
  }

  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  static NodeAssignment assignment(const pqxx::row& row, bool with_name) {
    NodeAssignment a;
    a.node_id = row[0].as<NodeId>();
    a.group_id = row[1].as<int>();
    auto st = parse_node_state(row[2].c_str());
    a.goal = st ? *st : NodeState::Unknown;
    a.candidate_priority = row[3].as<int>();
    a.replication_quorum = row[4].as<bool>();
    if (with_name) a.name = row[5].c_str();
    return a;
  }

  static Result<std::vector<NodeAddress>> addresses(const pqxx::result& r) {
    std::vector<NodeAddress> out;
    for (const auto& row : r) {
      NodeAddress n;
      n.node_id = row[0].as<NodeId>();
      n.name = row[1].c_str();
      n.host = row[2].c_str();
      n.port = row[3].as<int>();
      if (!row[4].is_null()) { /* NULL: no position known (lsn.hpp) */
        auto l = parse_lsn_or_error(row[4].c_str());
        if (!l) return make_error(ErrorCode::Monitor, "monitor: " + l.error().message);
        n.lsn = *l;
      }
      n.is_primary = row[5].as<bool>();
      out.push_back(n);
    }
    return out;
  }

  std::string uri_;
  Settings s_;
  bool seq_supported_ = true;
  bool acks_supported_ = true;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<pqxx::connection> listen_;
  std::unique_ptr<Receiver> receiver_;
  std::unique_ptr<LogReceiver> log_receiver_;
  std::string receiver_formation_;
  GroupId receiver_group_ = -1;
};

}  // namespace

std::unique_ptr<MonitorClient> make_monitor_client(const std::string& uri, const Settings& s) {
  return std::make_unique<PqxxMonitorClient>(uri, s);
}

}  // namespace pgaf::agent
