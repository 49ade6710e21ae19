/*
 * ssl_setup.hpp — changing a node's TLS setup while it runs (pg_autoctl enable|disable ssl, the
 * reference's cli_enable_ssl): the connection strings pg_autoctl keeps (the monitor URI in
 * pg_autoctl.cfg, primary_conninfo in postgresql-auto-failover-standby.conf) get the new sslmode,
 * sslrootcert and sslcrl; PGDATA gets the new managed settings and Postgres reloads them.
 *
 * Invariants:
 *  - a connection string keeps every parameter it had except sslmode/sslrootcert/sslcrl, which
 *    are replaced by Config::ssl_params() (no duplicate keys, nothing else reordered);
 *  - nothing here restarts Postgres: settings are reloaded (ssl, ssl_*_file and primary_conninfo
 *    are all reloadable in PostgreSQL 15);
 *  - files are written atomically (files.hpp).
 */
#pragma once

#include <string>

#include "pgaf/agent/config.hpp"
#include "pgaf/core/error.hpp"

namespace pgaf::agent {

/* `conninfo` (a postgres:// URI or a key=value string) with its TLS parameters replaced by
 * cfg.ssl_params(). URI values are percent-encoded; key=value values are quoted when needed. */
std::string conninfo_with_ssl(const std::string& conninfo, const Config& cfg);

/* The text of postgresql-auto-failover-standby.conf with primary_conninfo's TLS parameters
 * replaced by cfg.ssl_params(); other lines unchanged (an empty primary_conninfo stays empty). */
std::string standby_conf_with_ssl(const std::string& text, const Config& cfg);

/* What changing the TLS setup of PGDATA did. */
struct SslApplied {
  bool certificate_created = false; /* --ssl-self-signed wrote a new server.crt/server.key */
  bool reloaded = false;            /* Postgres was running and reloaded its settings */
};

/* Apply cfg's TLS setup to its PGDATA: a self-signed certificate when asked and missing,
 * postgresql-auto-failover.conf rewritten, primary_conninfo updated, and with SSL off every
 * "hostssl" HBA line made "host" again (it could match no connection any more); then, when
 * Postgres runs, reload it (pg_ctl reload's signal, SIGHUP to the postmaster). */
Result<SslApplied> apply_ssl_to_pgdata(const Config& cfg);

}  // namespace pgaf::agent
