/*
 * tls.hpp — TLS material for Postgres nodes and the monitor (pg_autoctl --ssl-self-signed).
 *
 * A self-signed certificate is an EC P-256 key and an X.509 v3 certificate whose CN is the node's
 * hostname, valid 10 years, generated with the OpenSSL library (never by running `openssl`) and
 * written atomically: server.key with mode 0600, server.crt with mode 0644, both owned by the
 * user running pg_autoctl (the Postgres OS user), as PostgreSQL requires for ssl_key_file.
 *
 * Invariant: a key file that is written always matches the certificate written with it.
 */
#pragma once

#include <string>

#include "pgaf/core/error.hpp"

namespace pgaf::agent {

/* Generate a new key + self-signed certificate for `common_name` into key_path / cert_path. */
Status write_self_signed_certificate(const std::string& cert_path, const std::string& key_path,
                                     const std::string& common_name);

/* The subject CN of the PEM certificate at `cert_path` ("" when unreadable). */
std::string certificate_common_name(const std::string& cert_path);

/* True when the PEM key at key_path is the private key of the certificate at cert_path. */
bool key_matches_certificate(const std::string& cert_path, const std::string& key_path);

/* pg_hba.conf text with every "host" line turned into "hostssl" (comments, "local" and other
 * types kept byte for byte). pg_autoctl applies it once, right after its own initdb, when SSL
 * is on and HBA is not skipped: then no TCP connection is accepted in clear text, not even by
 * initdb's default loopback lines (stricter than the reference, which leaves them "host"). */
std::string hba_require_ssl(const std::string& hba);

/* hba_require_ssl() applied to the file at `path`, written back atomically (mode 0600). */
Status hba_file_require_ssl(const std::string& path);

/* pg_hba.conf text with every "hostssl" line made "host" again (the inverse of hba_require_ssl):
 * with ssl = off a hostssl line matches no connection (pg_autoctl disable ssl). */
std::string hba_allow_clear_text(const std::string& hba);

/* libpq's sslmode values; error naming --ssl-mode otherwise. */
Status validate_sslmode(const std::string& mode);

}  // namespace pgaf::agent
