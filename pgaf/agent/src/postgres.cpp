/*
 * postgres.cpp — the real PostgresControl (the server: start, stop, queries, promotion, standby
 * setup). Its files and managed configuration: postgres_files.cpp. See postgres.hpp for the
 * invariants.
 */
#include "pgaf/agent/postgres.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <string_view>

#include "pgaf/agent/files.hpp"
#include "pgaf/agent/network.hpp"
#include "pgaf/agent/tls.hpp"

namespace pgaf::agent {

namespace fs = std::filesystem;

namespace {

/* SQL and postgresql.conf quote string literals the same way */
std::string quote_literal(const std::string& s) {
  return conf_literal(s);
}

std::string hba_address(const std::string& host) {
  if (host.find(':') != std::string::npos) return host + "/128";
  bool ipv4 = !host.empty() && host.find_first_not_of("0123456789.") == std::string::npos;
  return ipv4 ? host + "/32" : host;
}

}  // namespace

Result<std::string> lan_cidr_of(const std::string& hostname) {
  auto ip = hostname_local_address(hostname);
  if (!ip) return ip.error();
  return local_cidr(*ip);
}

namespace {

class RealPostgres final : public PostgresControl {
 public:
  RealPostgres(const Config& cfg, Clock& clock, ProcessRunner& runner)
      : cfg_(cfg), clock_(clock), runner_(runner) {
    auto p = paths_for(cfg.pgdata);
    if (p) paths_ = *p;
  }

  bool pgdata_initialized() override { return file_exists(cfg_.pgdata + "/PG_VERSION"); }

  Status initdb() override {
    ProcessSpec spec;
    spec.program = cfg_.bindir() + "/initdb";
    spec.args = {"-D", cfg_.pgdata, "-U", cfg_.username, "-E", "UTF8", "--locale=C"};
    if (std::getenv("PG_REGRESS_SOCK_DIR") != nullptr) spec.args.push_back("--no-sync");
    spec.timeout_ms = 120000;
    auto r = runner_.run(spec);
    if (r.exit_code != 0) {
      return make_error(ErrorCode::Pgctl, "initdb failed for \"" + cfg_.pgdata + "\"", {},
                        r.output);
    }
    /* with SSL on, initdb's TCP lines too accept only TLS connections */
    if (cfg_.ssl_active && cfg_.hba_level != "skip") {
      return hba_file_require_ssl(cfg_.pgdata + "/pg_hba.conf");
    }
    return Status::Ok();
  }

  Status write_managed_config() override { return write_managed_config_files(cfg_); }

  Status ensure_running(TimeMs timeout_ms) override {
    if (read_expected_status(paths_.pg_expected) != PgExpected::Running) {
      Status w = write_expected_status(paths_.pg_expected, PgExpected::Running);
      if (!w) return w;
    }
    TimeMs deadline = clock_.now_ms() + timeout_ms;
    while (true) {
      if (ping()) return Status::Ok();
      if (stop_requested()) return make_error(ErrorCode::Keeper, "stop requested");
      if (clock_.now_ms() >= deadline) {
        return make_error(ErrorCode::Pgctl,
                          "PostgreSQL did not start within " + std::to_string(timeout_ms) + " ms",
                          "see " + cfg_.pgdata + "/startup.log");
      }
      clock_.sleep_ms(20);
    }
  }

  Status ensure_stopped(TimeMs timeout_ms) override {
    if (read_expected_status(paths_.pg_expected) != PgExpected::Stopped) {
      Status w = write_expected_status(paths_.pg_expected, PgExpected::Stopped);
      if (!w) return w;
    }
    conn_.reset();
    TimeMs deadline = clock_.now_ms() + timeout_ms;
    while (running_postmaster_pid(cfg_.pgdata) > 0) {
      if (stop_requested()) return make_error(ErrorCode::Keeper, "stop requested");
      if (clock_.now_ms() >= deadline) {
        return make_error(ErrorCode::Pgctl,
                          "PostgreSQL did not stop within " + std::to_string(timeout_ms) + " ms");
      }
      clock_.sleep_ms(20);
    }
    return Status::Ok();
  }

  Status release_to_operator() override {
    std::error_code ec;
    fs::remove(paths_.pg_expected, ec);
    return Status::Ok();
  }

  Result<PgStatus> status() override {
    PgStatus st;
    auto r = query(
        "SELECT pg_is_in_recovery(),"
        " coalesce((SELECT setting FROM pg_file_settings WHERE name = "
        "'default_transaction_read_only' AND applied ORDER BY seqno DESC LIMIT 1), 'off'),"
        " CASE WHEN pg_is_in_recovery()"
        "  THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver),"
        "                (SELECT timeline_id FROM pg_control_checkpoint()))"
        "  ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END,"
        " (CASE WHEN pg_is_in_recovery()"
        "  THEN coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"
        "  ELSE pg_current_wal_flush_lsn() END)::text,"
        " (SELECT system_identifier FROM pg_control_system()),"
        " coalesce((SELECT sync_state FROM pg_stat_replication"
        "   WHERE application_name LIKE 'pgautofailover_standby_%'"
        "   ORDER BY CASE sync_state WHEN 'quorum' THEN 4 WHEN 'sync' THEN 3"
        "   WHEN 'potential' THEN 2 WHEN 'async' THEN 1 ELSE 0 END DESC LIMIT 1), ''),"
        " EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE pid IS NOT NULL)");
    if (!r) return st; /* not running */
    const auto& row = (*r)[0];
    st.running = true;
    st.in_recovery = row[0].as<bool>();
    std::string ro = row[1].c_str();
    st.read_only = (ro == "on" || ro == "true" || ro == "1");
    st.tli = row[2].is_null() ? 0 : row[2].as<int>();
    if (!row[3].is_null()) {
      auto l = parse_lsn_or_error(row[3].c_str());
      if (!l) return l.error();
      st.lsn = *l;
    }
    st.system_identifier = row[4].as<std::int64_t>();
    st.sync_state = row[5].c_str();
    st.wal_receiver_active = row[6].as<bool>();
    return st;
  }

  Status set_read_only(bool on) override {
    Status s = exec(std::string("ALTER SYSTEM SET default_transaction_read_only TO ") +
                    (on ? "on" : "off"));
    if (!s) return s;
    return exec("SELECT pg_reload_conf()");
  }

  Status set_fence_deadline(TimeMs deadline_ms) override {
    const std::string call = "SELECT pgaf_fence_set_deadline(" + std::to_string(deadline_ms) + ")";
    Status s = exec(call);
    if (s) return s;
    /* First use on this primary: the extension may not be created yet. One implicit transaction
     * (a multi-statement simple query): a Postgres started armed (pgaf_fence.start_armed) would
     * refuse to commit CREATE EXTENSION alone, with the deadline still expired; here the
     * deadline is set before the commit is checked. */
    return exec("CREATE EXTENSION IF NOT EXISTS pgaf_fence; " + call);
  }

  bool postmaster_starting() override { return running_postmaster_pid(cfg_.pgdata) > 0; }

  std::uint64_t session_epoch() override { return session_epoch_; }

  Status terminate_client_backends() override {
    return exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client "
        "backend' AND pid <> pg_backend_pid() AND coalesce(application_name, '') NOT LIKE "
        "'pg_autoctl%'");
  }

  Status set_synchronous_standby_names(const std::string& v) override {
    Status s = exec("ALTER SYSTEM SET synchronous_standby_names TO " + quote_literal(v));
    if (!s) return s;
    s = exec("SELECT pg_reload_conf()");
    if (!s) return s;
    if (v.empty()) {
      return exec(
          "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
    }
    return Status::Ok();
  }

  Result<std::string> synchronous_standby_names() override {
    auto r = query(
        "SELECT coalesce((SELECT setting FROM pg_file_settings WHERE name = "
        "'synchronous_standby_names' AND applied ORDER BY seqno DESC LIMIT 1), '')");
    if (!r) return r.error();
    return std::string((*r)[0][0].c_str());
  }

  Status checkpoint() override { return exec("CHECKPOINT"); }

  Status promote(TimeMs timeout_ms) override {
    /* pg_promote(wait => true) checks every 100 ms; ask without waiting, then watch the end of
     * recovery every 10 ms (a switchover's write window includes this wait) */
    auto r = query("SELECT pg_promote(false)");
    if (!r) return r.error();
    const TimeMs deadline = clock_.now_ms() + timeout_ms;
    while (true) {
      auto rec = query("SELECT pg_is_in_recovery()");
      if (rec && !(*rec)[0][0].as<bool>()) break;
      if (clock_.now_ms() >= deadline)
        return make_error(ErrorCode::Pgctl, "PostgreSQL was not promoted within " +
                                                std::to_string(timeout_ms) + " ms");
      clock_.sleep_ms(10);
    }
    return cleanup_standby_setup();
  }

  Result<std::vector<SlotInfo>> list_slots() override {
    auto r = query(
        "SELECT slot_name, active, coalesce(restart_lsn::text, '0/0') FROM pg_replication_slots "
        "WHERE slot_type = 'physical'");
    if (!r) return r.error();
    std::vector<SlotInfo> out;
    for (const auto& row : *r) {
      SlotInfo s;
      s.name = row[0].c_str();
      s.active = row[1].as<bool>();
      auto l = parse_lsn_or_error(row[2].c_str());
      if (!l) return l.error();
      s.restart_lsn = *l;
      out.push_back(s);
    }
    return out;
  }

  Status create_slot(const std::string& name) override {
    return exec("SELECT pg_create_physical_replication_slot(" + quote_literal(name) +
                ", true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = " +
                quote_literal(name) + ")");
  }

  Status drop_slot(const std::string& name) override {
    return exec(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE "
        "slot_name = " +
        quote_literal(name) + " AND NOT active");
  }

  Status advance_slot(const std::string& name, Lsn lsn) override {
    return exec(
        "SELECT pg_replication_slot_advance(" + quote_literal(name) + ", least(" +
        quote_literal(format_lsn(lsn)) +
        "::pg_lsn, pg_last_wal_replay_lsn())) FROM pg_replication_slots WHERE slot_name = " +
        quote_literal(name) + " AND restart_lsn IS NOT NULL AND restart_lsn < least(" +
        quote_literal(format_lsn(lsn)) + "::pg_lsn, pg_last_wal_replay_lsn())");
  }

  Status write_standby_setup(const StandbySetup& s) override {
    std::ostringstream o;
    o << "# written by pg_autoctl: standby setup\n";
    if (s.upstream) {
      std::string ci = "host=" + s.upstream->host + " port=" + std::to_string(s.upstream->port) +
                       " user=pgautofailover_replicator application_name=" + s.application_name +
                       cfg_.ssl_conninfo();
      if (!cfg_.replication_password.empty()) ci += " password=" + cfg_.replication_password;
      o << "primary_conninfo = " << quote_literal(ci) << "\n";
      if (!s.slot_name.empty()) o << "primary_slot_name = " << quote_literal(s.slot_name) << "\n";
    } else {
      o << "primary_conninfo = ''\n";
      o << "primary_slot_name = ''\n";
    }
    o << "recovery_target_timeline = 'latest'\n";
    if (s.recovery_target_lsn != 0) {
      o << "recovery_target_lsn = '" << format_lsn(s.recovery_target_lsn) << "'\n";
      o << "recovery_target_inclusive = 'true'\n";
      o << "recovery_target_action = 'pause'\n";
    }
    Status w = atomic_write_file(cfg_.pgdata + "/postgresql-auto-failover-standby.conf", o.str());
    if (!w) return w;
    if (!file_exists(cfg_.pgdata + "/standby.signal")) {
      return atomic_write_file(cfg_.pgdata + "/standby.signal", "");
    }
    return Status::Ok();
  }

  Status cleanup_standby_setup() override {
    Status w = atomic_write_file(cfg_.pgdata + "/postgresql-auto-failover-standby.conf", "");
    if (!w) return w;
    std::error_code ec;
    fs::remove(cfg_.pgdata + "/standby.signal", ec);
    return Status::Ok();
  }

  Status reload() override { return exec("SELECT pg_reload_conf()"); }

  void reconfigure(const Config& cfg) override {
    /* what connections to other nodes use; PGDATA and port need a restart (keeper.hpp) */
    const std::string pgdata = cfg_.pgdata;
    const int port = cfg_.port;
    cfg_ = cfg;
    cfg_.pgdata = pgdata;
    cfg_.port = port;
  }

  Status restart(TimeMs timeout_ms) override {
    Status s = ensure_stopped(timeout_ms);
    if (!s) return s;
    return ensure_running(timeout_ms);
  }

  Status base_backup(const Upstream& from, const std::string& slot) override {
    std::string parent = fs::path(cfg_.pgdata).parent_path().string();
    std::string dir = cfg_.backup_directory.empty()
                          ? parent + "/backup/" + fs::path(cfg_.pgdata).filename().string()
                          : cfg_.backup_directory;
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (Status d = make_dirs(fs::path(dir).parent_path().string()); !d) return d;
    ProcessSpec spec;
    spec.program = cfg_.bindir() + "/pg_basebackup";
    spec.args = {"-w",
                 "-d",
                 "host=" + from.host + " port=" + std::to_string(from.port) +
                     " user=pgautofailover_replicator application_name=pgautofailover_basebackup"
                     " connect_timeout=5" +
                     cfg_.ssl_conninfo(),
                 "-D",
                 dir,
                 "--wal-method=stream",
                 "--max-rate=" + cfg_.maximum_backup_rate,
                 "--checkpoint=fast"};
    if (!slot.empty()) spec.args.push_back("--slot=" + slot);
    /* test mode, as for initdb: the server syncs the data directory when it starts from it */
    if (std::getenv("PG_REGRESS_SOCK_DIR") != nullptr) spec.args.push_back("--no-sync");
    if (!cfg_.replication_password.empty()) spec.env_set["PGPASSWORD"] = cfg_.replication_password;
    spec.timeout_ms = 600000;
    auto r = runner_.run(spec);
    if (r.exit_code != 0) {
      fs::remove_all(dir, ec);
      return make_error(
          ErrorCode::Pgctl,
          "pg_basebackup from " + from.host + ":" + std::to_string(from.port) + " failed",
          "the transition is retried at the next round", r.output);
    }
    fs::remove_all(cfg_.pgdata, ec);
    fs::rename(dir, cfg_.pgdata, ec);
    if (ec) {
      return make_error(ErrorCode::Pgctl, "could not rename \"" + dir + "\" to \"" + cfg_.pgdata +
                                              "\": " + ec.message());
    }
    ::chmod(cfg_.pgdata.c_str(), 0700);
    conn_.reset();
    if (cfg_.ssl_self_signed()) {
      /* the copy carries the primary's key: this node gets its own (write_managed_config) */
      fs::remove(cfg_.ssl_cert_file, ec);
      fs::remove(cfg_.ssl_key_file, ec);
    }
    return Status::Ok();
  }

  Status rewind(const Upstream& from) override {
    /* A just-promoted source may not have checkpointed its new timeline into pg_control yet;
     * pg_rewind would then wrongly see "no rewind required". Checkpoint it first. */
    try {
      pqxx::connection c("host=" + from.host + " port=" + std::to_string(from.port) +
                         " user=pgautofailover_replicator dbname=postgres connect_timeout=2"
                         " application_name=pg_autoctl" +
                         cfg_.ssl_conninfo() +
                         (cfg_.replication_password.empty()
                              ? std::string()
                              : " password=" + cfg_.replication_password));
      pqxx::nontransaction tx(c);
      tx.exec("CHECKPOINT");
    } catch (const std::exception& e) {
      return make_error(
          ErrorCode::Pgsql,
          std::string("could not checkpoint the new primary before pg_rewind: ") + e.what());
    }
    ProcessSpec spec;
    spec.program = cfg_.bindir() + "/pg_rewind";
    spec.args = {"--target-pgdata=" + cfg_.pgdata,
                 "--source-server=host=" + from.host + " port=" + std::to_string(from.port) +
                     " user=pgautofailover_replicator dbname=postgres connect_timeout=5" +
                     cfg_.ssl_conninfo()};
    if (!cfg_.replication_password.empty()) spec.env_set["PGPASSWORD"] = cfg_.replication_password;
    spec.output_file = cfg_.pgdata + "/../pg_rewind.log";
    spec.timeout_ms = 300000;
    /* pg_rewind copies the source's server.key/server.crt: keep this node's own */
    std::optional<std::string> own_cert, own_key;
    if (cfg_.ssl_self_signed()) {
      if (auto c = read_file(cfg_.ssl_cert_file)) own_cert = *c;
      if (auto k = read_file(cfg_.ssl_key_file)) own_key = *k;
    }
    auto r = runner_.run(spec);
    if (own_cert && own_key) {
      if (Status s = atomic_write_file(cfg_.ssl_key_file, *own_key, 0600); !s) return s;
      if (Status s = atomic_write_file(cfg_.ssl_cert_file, *own_cert, 0644); !s) return s;
    }
    if (r.exit_code != 0) {
      auto log = read_file(spec.output_file);
      return make_error(ErrorCode::Pgctl, "pg_rewind failed", {}, log ? *log : r.output);
    }
    spdlog::info("pg_rewind from {}:{} done", from.host, from.port);
    return Status::Ok();
  }

  Result<Lsn> replay_lsn() override {
    auto r = query("SELECT coalesce(pg_last_wal_replay_lsn(), '0/0')::text");
    if (!r) return r.error();
    return parse_lsn_or_error((*r)[0][0].c_str());
  }

  Result<int> upstream_timeline(const Upstream& from) override {
    try {
      pqxx::connection c("host=" + from.host + " port=" + std::to_string(from.port) +
                         " user=pgautofailover_replicator dbname=postgres connect_timeout=2"
                         " application_name=pg_autoctl" +
                         cfg_.ssl_conninfo());
      pqxx::nontransaction tx(c);
      auto r = tx.exec(
          "SELECT CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM "
          "pg_control_checkpoint()) ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), "
          "1, 8))::bit(32)::int END");
      return r[0][0].as<int>();
    } catch (const std::exception& e) {
      return make_error(ErrorCode::Pgsql, std::string("could not query the upstream: ") + e.what());
    }
  }

  Status create_roles_and_db(const std::string& dbname) override {
    std::string pw = cfg_.replication_password.empty()
                         ? ""
                         : " PASSWORD " + quote_literal(cfg_.replication_password);
    Status s = exec(
        "DO $$ BEGIN "
        "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgautofailover_monitor') THEN "
        "CREATE ROLE pgautofailover_monitor WITH LOGIN CONNECTION LIMIT 5; END IF; "
        "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgautofailover_replicator') THEN "
        "CREATE ROLE pgautofailover_replicator WITH LOGIN SUPERUSER REPLICATION" +
        pw +
        "; END IF; "
        "END $$");
    if (!s) return s;
    auto r = query("SELECT 1 FROM pg_database WHERE datname = " + quote_literal(dbname));
    if (!r) return r.error();
    if (r->empty()) {
      std::string ident = dbname;
      return exec("CREATE DATABASE \"" + ident + "\"");
    }
    return Status::Ok();
  }

  Status ensure_hba(const std::vector<std::string>& node_hosts,
                    const std::string& monitor_host) override {
    std::string path = cfg_.pgdata + "/pg_hba.conf";
    if (!file_exists(path)) return Status::Ok(); /* not initialised yet */
    auto text = read_file(path);
    if (!text) return text.error();
    std::string t = *text;
    const std::string tag = " # Auto-generated by pg_auto_failover\n";
    std::vector<std::string> lines;
    std::set<std::string> seen;
    const std::string host = cfg_.ssl_active ? "hostssl " : "host ";
    for (auto& h : node_hosts) {
      if (h.empty() || !seen.insert(h).second) continue;
      lines.push_back(host + "replication pgautofailover_replicator " + hba_address(h) + " " +
                      cfg_.auth_method);
      lines.push_back(host + cfg_.dbname + " pgautofailover_replicator " + hba_address(h) + " " +
                      cfg_.auth_method);
      if (cfg_.dbname != "postgres") {
        lines.push_back(host + "postgres pgautofailover_replicator " + hba_address(h) + " " +
                        cfg_.auth_method);
      }
    }
    if (!monitor_host.empty()) {
      lines.push_back(host + "postgres pgautofailover_monitor " + hba_address(monitor_host) +
                      " trust");
    }
    /* --pg-hba-lan (hba_level "app"): clients of --dbname on this node's network, as --username;
     * test mode (PG_REGRESS_SOCK_DIR set and empty): everything from that network, trusted */
    const char* sock = std::getenv("PG_REGRESS_SOCK_DIR");
    const bool test_mode = sock != nullptr && *sock == '\0';
    if (cfg_.hba_level == "app" || test_mode) {
      auto cidr = lan_cidr_of(cfg_.hostname);
      if (!cidr) {
        spdlog::warn("could not find the local network of \"{}\", skipping its HBA rule: {}",
                     cfg_.hostname, cidr.error().message);
      } else {
        if (cfg_.hba_level == "app") {
          lines.push_back(host + cfg_.dbname + " " +
                          (cfg_.username.empty() ? std::string("all") : cfg_.username) + " " +
                          *cidr + " " + cfg_.auth_method);
        }
        if (test_mode) lines.push_back(host + "all all " + *cidr + " trust");
      }
    }
    /* after enable ssl on a node created without it, its "host" lines stay (they match TLS
     * connections too, as in the reference): no "hostssl" twin is added next to them */
    auto present = [&](const std::string& l) {
      if (t.find(l + tag) != std::string::npos) return true;
      return l.rfind("hostssl ", 0) == 0 &&
             t.find("host " + l.substr(8) + tag) != std::string::npos;
    };
    bool changed = false;
    for (auto& l : lines) {
      if (!present(l)) {
        if (!t.empty() && t.back() != '\n') t += "\n";
        t += l + tag;
        changed = true;
      }
    }
    if (!changed) return Status::Ok();
    Status w = atomic_write_file(path, t, 0600);
    if (!w) return w;
    if (ping()) return reload();
    return Status::Ok();
  }

  Result<StandbyReplies> standby_replies() override {
    auto r = query(
        "SELECT application_name, coalesce(reply_time::text, '') FROM pg_stat_replication WHERE "
        "application_name LIKE 'pgautofailover_standby_%' AND state = 'streaming'");
    if (!r) return r.error();
    StandbyReplies out;
    for (const auto& row : *r) out[row[0].c_str()] = row[1].c_str();
    return out;
  }

  Result<WalAcks> wal_acks() override {
    auto r = query(
        "SELECT pg_current_wal_lsn()::text, r.application_name, coalesce(r.flush_lsn::text, '') "
        "FROM (SELECT 1) one LEFT JOIN pg_stat_replication r ON r.application_name LIKE "
        "'pgautofailover_standby_%'");
    if (!r) return r.error();
    WalAcks out;
    for (const auto& row : *r) {
      if (auto cur = parse_lsn(row[0].c_str())) out.current = *cur;
      if (row[1].is_null()) continue;
      const std::string app = row[1].c_str();
      const std::string prefix = "pgautofailover_standby_";
      const std::string id = app.substr(prefix.size());
      if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos)
        continue;
      const std::string flush = row[2].c_str();
      Lsn lsn = 0;
      if (!flush.empty()) {
        auto l = parse_lsn(flush);
        if (!l) continue;
        lsn = *l;
      }
      out.flush[std::stoll(id)] = lsn;
    }
    return out;
  }

  Status emit_heartbeat() override {
    return exec("SELECT pg_logical_emit_message(false, 'pgaf_heartbeat', '')");
  }

 private:
  std::string conninfo() const {
    return cfg_.local_conninfo("postgres") +
           " connect_timeout=2 application_name=pg_autoctl"
           " options='-c default_transaction_read_only=off -c statement_timeout=30000'";
  }

  bool ping() {
    auto r = query("SELECT 1");
    return r.ok();
  }

  Result<pqxx::result> query(const std::string& sql) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        if (!conn_) {
          auto c = std::make_unique<pqxx::connection>(conninfo());
          /* never act on a server that is not ours (issue 11: a shared socket directory) */
          if (Status own = verify_own_server(*c); !own) {
            if (own.error().message != last_foreign_error_) {
              last_foreign_error_ = own.error().message;
              spdlog::error("{}", own.error().to_string());
            }
            return own.error();
          }
          last_foreign_error_.clear();
          conn_ = std::move(c);
          ++session_epoch_;
        }
        pqxx::nontransaction tx(*conn_);
        pqxx::result r = tx.exec(sql);
        return r;
      } catch (const pqxx::broken_connection& e) {
        conn_.reset();
        if (attempt == 1) {
          return make_error(ErrorCode::Pgsql,
                            std::string("could not connect to PostgreSQL: ") + e.what());
        }
      } catch (const pqxx::sql_error& e) {
        if (conn_ && !conn_->is_open()) conn_.reset();
        return make_error(ErrorCode::Pgsql, std::string("query failed: ") + e.what(), {}, sql);
      } catch (const std::exception& e) {
        conn_.reset();
        return make_error(ErrorCode::Pgsql, std::string("PostgreSQL error: ") + e.what());
      }
    }
    return make_error(ErrorCode::Pgsql, "could not connect to PostgreSQL");
  }

  Status verify_own_server(pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec(
        "SELECT current_setting('data_directory'),"
        " (SELECT system_identifier FROM pg_control_system())");
    return check_own_server(cfg_.pgdata, r[0][0].c_str(), r[0][1].as<std::int64_t>(),
                            pgdata_system_identifier(cfg_.pgdata));
  }

  Status exec(const std::string& sql) {
    auto r = query(sql);
    if (!r) return r.error();
    return Status::Ok();
  }

  Config cfg_;
  Paths paths_;
  Clock& clock_;
  ProcessRunner& runner_;
  std::unique_ptr<pqxx::connection> conn_;
  std::uint64_t session_epoch_ = 0; /* sessions opened so far (session_epoch()) */
  std::string last_foreign_error_;  /* logged once while it lasts */
};

}  // namespace

std::unique_ptr<PostgresControl> make_postgres_control(const Config& cfg, Clock& clock,
                                                       ProcessRunner& runner) {
  return std::make_unique<RealPostgres>(cfg, clock, runner);
}

}  // namespace pgaf::agent
