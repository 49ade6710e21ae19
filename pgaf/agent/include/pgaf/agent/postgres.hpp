/*
 * postgres.hpp — the real PostgresControl: Postgres tools as processes (initdb, pg_basebackup,
 * pg_rewind), SQL through libpqxx, and the expected-status file read by the Postgres controller
 * (service.hpp), which is the only process that starts or stops the postmaster.
 *
 * Invariants:
 *  - the local connection always runs with default_transaction_read_only=off and a statement
 *    timeout, so the agent itself can act on a fenced (read-only) server and never hangs;
 *  - files we manage in PGDATA (postgresql-auto-failover.conf,
 * postgresql-auto-failover-standby.conf, pg_hba.conf edits) are written atomically.
 */
#pragma once

#include <memory>
#include <string>

#include "pgaf/agent/config.hpp"
#include "pgaf/agent/interfaces.hpp"

namespace pgaf::agent {

std::unique_ptr<PostgresControl> make_postgres_control(const Config& cfg, Clock& clock,
                                                       ProcessRunner& runner);

/* The expected-status file shared with the controller. */
Status write_expected_status(const std::string& path, PgExpected e);
PgExpected read_expected_status(const std::string& path);

/* Postmaster pid from PGDATA/postmaster.pid if that process is alive, else -1. */
/* A postgresql.conf string literal (also valid in SQL): single-quoted, quotes doubled. */
std::string conf_literal(const std::string& v);
long running_postmaster_pid(const std::string& pgdata);

/* The CIDR of the local network `hostname` (a name or address of this host) belongs to: what
 * --pg-hba-lan admits (the reference's pghba_enable_lan_cidr). */
Result<std::string> lan_cidr_of(const std::string& hostname);

/* Socket directory for the local Postgres: PG_REGRESS_SOCK_DIR, else the PostgreSQL build's own
 * DEFAULT_PGSOCKET_DIR (read from pg_config_manual.h at configure time; /var/run/postgresql on
 * Debian; CMake cache variable PGAF_DEFAULT_SOCKET_DIR overrides it). */
std::string default_socket_dir();

/* System identifier in PGDATA/global/pg_control, or 0 if it cannot be read. */
std::int64_t pgdata_system_identifier(const std::string& pgdata);

/* The own-server check, run on every new local session before anything else: the server must
 * serve `pgdata` (data_directory, compared canonically) and, when the system identifier of
 * PGDATA is known (expected_sysid != 0), carry it. A mismatch is an error and the session is not
 * used: pg_autoctl never acts on a server that is not its own. */
Status check_own_server(const std::string& pgdata, const std::string& data_directory,
                        std::int64_t server_sysid, std::int64_t expected_sysid);

/* The reference's ssl_ciphers (its DEFAULT_SSL_CIPHERS): ECDHE with AES-GCM or AES-CBC-SHA2,
 * ciphers that exist from TLS 1.2 on only. Written with and without --no-ssl, as the reference does
 * (TLS 1.3 suites are not chosen by ssl_ciphers; PostgreSQL 15's ssl_min_protocol_version default
 * is TLSv1.2). */
inline constexpr const char* kSslCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:"
    "ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384";

/* Text of postgresql-auto-failover.conf for this config (monitor: adds shared_preload_libraries).
 */
std::string managed_config_text(const Config& cfg);

/* Write postgresql-auto-failover.conf and the include lines (also used for the monitor). */
Status write_managed_config_files(const Config& cfg);
/* The monitor's pgautofailover.* GUCs for the [pgaf] settings that differ from the defaults. */
std::vector<std::pair<std::string, std::string>> monitor_gucs(const Settings& s);

}  // namespace pgaf::agent
