/*
 * postgres_files.cpp — the local files of a managed Postgres: the expected-status file the
 * supervisor's controller follows (pg_autoctl.pg), the postmaster pid, the system identifier,
 * the own-server check, and the configuration pg_autoctl manages (postgresql-auto-failover.conf,
 * certificates). Every write is atomic (files.hpp). The server itself: postgres.cpp.
 */
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
#include <set>
#include <sstream>
#include <string_view>

#include "pgaf/agent/files.hpp"
#include "pgaf/agent/network.hpp"
#include "pgaf/agent/postgres.hpp"
#include "pgaf/agent/tls.hpp"

namespace pgaf::agent {

namespace fs = std::filesystem;

Status write_expected_status(const std::string& path, PgExpected e) {
  Status d = make_dirs(fs::path(path).parent_path().string());
  if (!d) return d;
  return atomic_write_file(path, std::string(to_string(e)) + "\n", 0644);
}

PgExpected read_expected_status(const std::string& path) {
  auto t = read_file(path);
  if (!t) return PgExpected::Unknown;
  if (t->rfind("running", 0) == 0) return PgExpected::Running;
  if (t->rfind("stopped", 0) == 0) return PgExpected::Stopped;
  return PgExpected::Unknown;
}

long running_postmaster_pid(const std::string& pgdata) {
  auto t = read_file(pgdata + "/postmaster.pid");
  if (!t) return -1;
  long pid = std::strtol(t->c_str(), nullptr, 10);
  if (pid <= 0) return -1;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return -1;
  return pid;
}

#ifndef PGAF_DEFAULT_PGSOCKET_DIR
#error "PGAF_DEFAULT_PGSOCKET_DIR must be defined (pgaf/agent/CMakeLists.txt, from pg_config)"
#endif

std::string default_socket_dir() {
  const char* s = std::getenv("PG_REGRESS_SOCK_DIR");
  if (s != nullptr && *s != '\0') return s;
  return PGAF_DEFAULT_PGSOCKET_DIR;
}

/* The first 8 bytes of global/pg_control are the system identifier (ControlFileData starts with
 * it, in the host's byte order). 0 when the file cannot be read. */
std::int64_t pgdata_system_identifier(const std::string& pgdata) {
  FILE* f = std::fopen((pgdata + "/global/pg_control").c_str(), "rb");
  if (f == nullptr) return 0;
  std::int64_t id = 0;
  const size_t n = std::fread(&id, sizeof id, 1, f);
  std::fclose(f);
  return n == 1 ? id : 0;
}

Status check_own_server(const std::string& pgdata, const std::string& data_directory,
                        std::int64_t server_sysid, std::int64_t expected_sysid) {
  auto canonical = [](const std::string& p) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(p, ec);
    if (ec) c = fs::path(p);
    c = c.lexically_normal();
    if (!c.has_filename() && c.has_parent_path()) c = c.parent_path(); /* "a/" is "a" */
    return c;
  };
  const bool same_dir = canonical(pgdata) == canonical(data_directory);
  if (!same_dir) {
    return make_error(ErrorCode::BadState,
                      "the PostgreSQL server reached at the local address serves \"" +
                          data_directory + "\", not this node's PGDATA \"" + pgdata + "\"",
                      "another server uses the same port and socket directory (a shared /tmp?): "
                      "give each node its own --pghost or --pgport; pg_autoctl does nothing to "
                      "that server");
  }
  if (expected_sysid != 0 && server_sysid != expected_sysid) {
    return make_error(ErrorCode::BadState,
                      "the PostgreSQL server reached at the local address has system identifier " +
                          std::to_string(server_sysid) + ", this node's PGDATA \"" + pgdata +
                          "\" has " + std::to_string(expected_sysid),
                      "another server answers at this node's address; pg_autoctl does nothing to "
                      "that server");
  }
  return Status::Ok();
}

std::string pgaf_fence_library(const Config& cfg) {
  const std::string bindir = cfg.bindir();
  const auto slash = bindir.rfind('/');
  return (slash == std::string::npos ? std::string(".") : bindir.substr(0, slash)) +
         "/lib/pgaf_fence.so";
}

/* a postgresql.conf string literal */
std::string conf_literal(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::vector<std::pair<std::string, std::string>> monitor_gucs(const Settings& s) {
  const Settings d;
  std::vector<std::pair<std::string, std::string>> out;
  /* the GUCs are int with a minimum of 1 (clock_drift_ppm, lease_margin_ms: 0) */
  auto add = [&out](const char* guc, std::int64_t v, std::int64_t dv) {
    if (v == dv) return;
    const std::int64_t lo =
        std::string_view(guc) == "clock_drift_ppm" || std::string_view(guc) == "lease_margin_ms"
            ? 0
            : 1;
    out.emplace_back(guc, std::to_string(std::clamp<std::int64_t>(v, lo, INT_MAX)));
  };
  add("health_check_period", s.health_check_period_ms, d.health_check_period_ms);
  add("health_check_timeout", s.health_check_timeout_ms, d.health_check_timeout_ms);
  add("health_check_max_retries", s.health_check_max_retries, d.health_check_max_retries);
  add("health_check_retry_delay", s.health_check_retry_delay_ms, d.health_check_retry_delay_ms);
  add("node_considered_unhealthy_timeout", s.node_considered_unhealthy_timeout_ms,
      d.node_considered_unhealthy_timeout_ms);
  add("startup_grace_period", s.startup_grace_period_ms, d.startup_grace_period_ms);
  add("enable_sync_wal_log_threshold", s.enable_sync_wal_log_threshold_bytes,
      d.enable_sync_wal_log_threshold_bytes);
  add("promote_wal_log_threshold", s.promote_wal_log_threshold_bytes,
      d.promote_wal_log_threshold_bytes);
  add("lease_ms", s.lease_ms, d.lease_ms);
  add("standby_vouch_ms", s.standby_vouch_ms, d.standby_vouch_ms);
  add("clock_drift_ppm", s.clock_drift_ppm, d.clock_drift_ppm);
  add("lease_margin_ms", s.lease_margin_ms, d.lease_margin_ms);
  add("tick_interval", s.monitor_tick_interval_ms, d.monitor_tick_interval_ms);
  return out;
}

std::string managed_config_text(const Config& cfg) {
  std::ostringstream o;
  o << "# postgresql-auto-failover.conf — written by pg_autoctl; edits are overwritten\n";
  o << "listen_addresses = '" << cfg.listen_addresses << "'\n";
  o << "port = " << cfg.port << "\n";
  if (!cfg.host.empty() && cfg.host[0] == '/') {
    o << "unix_socket_directories = '" << cfg.host << "'\n";
  }
  if (cfg.role == Role::Monitor) {
    o << "shared_preload_libraries = 'pgautofailover'\n";
    o << "cluster_name = 'pg_auto_failover monitor'\n";
    /* [pgaf] settings that differ from the defaults become the extension's GUCs (the
     * extension's own defaults equal Settings{}); ALTER SYSTEM still wins. */
    for (const auto& [guc, value] : monitor_gucs(cfg.settings)) {
      o << "pgautofailover." << guc << " = " << value << "\n";
    }
  } else {
    /* fencing.md L4b: the lease deadline enforced inside Postgres, when pgaf_fence is
     * installed next to this Postgres (pgaf/fence) */
    if (file_exists(pgaf_fence_library(cfg))) {
      o << "shared_preload_libraries = 'pgaf_fence'\n";
      /* every start refuses writing commits until the agent hands over a lease deadline (a
       * Postgres restarted after a crash must not write on a lease it never got) */
      o << "pgaf_fence.start_armed = on\n";
    }
    o << "cluster_name = 'pgaf node'\n";
    o << "max_wal_senders = 12\n";
    o << "max_replication_slots = 12\n";
    o << "wal_level = 'replica'\n";
    o << "wal_log_hints = on\n";
    o << "wal_sender_timeout = '30s'\n";
    o << "wal_receiver_status_interval = '1s'\n";
    /* a standby whose primary restarted (crash, restart in place) reconnects within 100 ms: a
     * synchronous commit on the restarted primary waits for that */
    o << "wal_retrieve_retry_interval = '100ms'\n";
    o << "hot_standby = on\n";
    o << "hot_standby_feedback = on\n";
    o << "synchronous_commit = on\n";
    o << "wal_keep_size = '512MB'\n";
    o << "recovery_init_sync_method = syncfs\n";
  }
  /* the reference's SSL settings, in its order: ssl, the files that are set, and its cipher
   * list whether SSL is on or off (with --no-ssl too) */
  o << "ssl = " << (cfg.ssl_active ? "on" : "off") << "\n";
  if (cfg.ssl_active) {
    if (!cfg.ssl_ca_file.empty()) o << "ssl_ca_file = " << conf_literal(cfg.ssl_ca_file) << "\n";
    if (!cfg.ssl_crl_file.empty()) o << "ssl_crl_file = " << conf_literal(cfg.ssl_crl_file) << "\n";
    if (!cfg.ssl_cert_file.empty())
      o << "ssl_cert_file = " << conf_literal(cfg.ssl_cert_file) << "\n";
    if (!cfg.ssl_key_file.empty()) o << "ssl_key_file = " << conf_literal(cfg.ssl_key_file) << "\n";
  }
  o << "ssl_ciphers = '" << kSslCiphers << "'\n";
  o << "logging_collector = off\n";
  o << "log_destination = 'stderr'\n";
  o << "log_line_prefix = '%m [%p] '\n";
  return o.str();
}

/* --ssl-self-signed: a certificate for this node's hostname. A PGDATA copied by pg_basebackup
 * carries the primary's files: those are replaced (the CN names another host). */
Status ensure_self_signed_certificate(const Config& cfg) {
  if (!cfg.ssl_self_signed()) return Status::Ok();
  const std::string cn = cfg.hostname.empty() ? std::string("localhost") : cfg.hostname;
  if (file_exists(cfg.ssl_cert_file) && file_exists(cfg.ssl_key_file) &&
      certificate_common_name(cfg.ssl_cert_file) == cn &&
      key_matches_certificate(cfg.ssl_cert_file, cfg.ssl_key_file))
    return Status::Ok();
  spdlog::info("creating a self-signed certificate for \"{}\" in \"{}\"", cn, cfg.ssl_cert_file);
  return write_self_signed_certificate(cfg.ssl_cert_file, cfg.ssl_key_file, cn);
}

Status write_managed_config_files(const Config& cfg) {
  if (Status c = ensure_self_signed_certificate(cfg); !c) return c;
  Status w = atomic_write_file(cfg.pgdata + "/postgresql-auto-failover.conf",
                               managed_config_text(cfg), 0600);
  if (!w) return w;
  std::string standby = cfg.pgdata + "/postgresql-auto-failover-standby.conf";
  if (!file_exists(standby)) {
    Status s = atomic_write_file(standby, "", 0600);
    if (!s) return s;
  }
  std::string conf = cfg.pgdata + "/postgresql.conf";
  auto text = read_file(conf);
  if (!text) return text.error();
  std::string t = *text;
  bool changed = false;
  if (t.find("include 'postgresql-auto-failover.conf'") == std::string::npos) {
    t += "\ninclude 'postgresql-auto-failover.conf' # added by pg_autoctl\n";
    changed = true;
  }
  if (t.find("include_if_exists 'postgresql-auto-failover-standby.conf'") == std::string::npos) {
    t += "include_if_exists 'postgresql-auto-failover-standby.conf' # added by pg_autoctl\n";
    changed = true;
  }
  if (changed) return atomic_write_file(conf, t, 0600);
  return Status::Ok();
}

}  // namespace pgaf::agent
