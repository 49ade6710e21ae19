/*
 * cli_ssl.cpp — the TLS choice of `create monitor|postgres` and `pg_autoctl enable|disable ssl`
 * on a node or a monitor, created or running (the reference's cli_enable_ssl).
 *
 * enable ssl: the explicit choice is checked as at create (exit 1 naming the option); a keeper's
 * monitor URI gets the new sslmode/sslrootcert/sslcrl only if the monitor answers with them (else
 * it is kept, as the reference does); PGDATA gets its certificate, settings and primary_conninfo
 * and Postgres reloads (ssl_setup.hpp); pg_autoctl.cfg is written; a running service is sent
 * SIGHUP and applies the new connection parameters without a restart. `disable ssl` is
 * `enable ssl --no-ssl`.
 *
 * Invariant: nothing is changed before every option has been validated.
 */
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>

#include "cli_internal.hpp"
#include "pgaf/agent/service.hpp"
#include "pgaf/agent/ssl_setup.hpp"
#include "pgaf/agent/tls.hpp"

namespace pgaf::cli::detail {

namespace fs = std::filesystem;

Status check_ssl_choice(const Options& o) {
  bool certs = !o.server_cert.empty() || !o.server_key.empty() || !o.ssl_ca.empty();
  int n = (o.ssl_self_signed ? 1 : 0) + (o.no_ssl ? 1 : 0) + (certs ? 1 : 0);
  if (n == 0) {
    return make_error(ErrorCode::InvalidArgument, "explicit SSL choice is required",
                      "use --ssl-self-signed, or --no-ssl, or --ssl-ca-file, --server-cert and "
                      "--server-key");
  }
  if (n > 1) {
    return make_error(ErrorCode::InvalidArgument,
                      "--ssl-self-signed, --no-ssl and certificate files are mutually exclusive");
  }
  if (!o.ssl_mode.empty()) {
    if (Status m = agent::validate_sslmode(o.ssl_mode); !m) return m;
  }
  if (!o.ssl_crl.empty() && o.ssl_ca.empty()) {
    return make_error(ErrorCode::InvalidArgument, "--ssl-crl-file needs --ssl-ca-file",
                      "a certificate revocation list belongs to a certificate authority");
  }
  if (certs) {
    if (o.server_cert.empty() || o.server_key.empty()) {
      return make_error(ErrorCode::InvalidArgument,
                        "--server-cert and --server-key must be given together",
                        "with --ssl-ca-file when clients verify the server");
    }
    const std::pair<const char*, const std::string*> files[] = {{"--ssl-ca-file", &o.ssl_ca},
                                                                {"--ssl-crl-file", &o.ssl_crl},
                                                                {"--server-cert", &o.server_cert},
                                                                {"--server-key", &o.server_key}};
    for (const auto& [opt, path] : files) {
      if (path->empty()) continue;
      if (!fs::path(*path).is_absolute() || ::access(path->c_str(), R_OK) != 0) {
        return make_error(
            ErrorCode::InvalidArgument,
            std::string("cannot read the file given with ") + opt + ": \"" + *path + "\"",
            "give an absolute path to a readable file");
      }
    }
  }
  if (!o.ssl_mode.empty() && o.ssl_mode != "disable" && o.ssl_mode != "allow" &&
      o.ssl_mode != "prefer" && o.no_ssl) {
    return make_error(ErrorCode::InvalidArgument,
                      "--ssl-mode " + o.ssl_mode + " needs SSL, which --no-ssl turns off");
  }
  if ((o.ssl_mode == "verify-ca" || o.ssl_mode == "verify-full") && o.ssl_ca.empty()) {
    return make_error(ErrorCode::InvalidArgument,
                      "--ssl-mode " + o.ssl_mode + " needs --ssl-ca-file",
                      "clients verify the server against that certificate authority");
  }
  return Status::Ok();
}

/* Defaults as the reference: self-signed → require; a CA → verify-full; otherwise require;
 * --no-ssl → prefer. Every [ssl] key is set, so a previous choice leaves nothing behind. */
void apply_ssl_choice(agent::Config& c, const Options& o) {
  c.ssl_active = !o.no_ssl;
  c.ssl_ca_file.clear();
  c.ssl_crl_file.clear();
  c.ssl_cert_file.clear();
  c.ssl_key_file.clear();
  if (o.no_ssl) {
    c.sslmode = o.ssl_mode.empty() ? "prefer" : o.ssl_mode;
  } else if (o.ssl_self_signed) {
    c.ssl_cert_file = c.pgdata + "/server.crt";
    c.ssl_key_file = c.pgdata + "/server.key";
    c.sslmode = o.ssl_mode.empty() ? "require" : o.ssl_mode;
  } else {
    c.ssl_ca_file = o.ssl_ca;
    c.ssl_crl_file = o.ssl_crl;
    c.ssl_cert_file = o.server_cert;
    c.ssl_key_file = o.server_key;
    c.sslmode = o.ssl_mode.empty() ? (o.ssl_ca.empty() ? "require" : "verify-full") : o.ssl_mode;
  }
}

namespace {

/* The keeper's monitor URI with the new TLS parameters, if the monitor accepts a connection made
 * with them (the reference tries "SELECT 1" first); nullopt keeps the current one. */
std::optional<std::string> checked_monitor_uri(const agent::Config& next,
                                               const std::string& current) {
  const std::string uri = agent::conninfo_with_ssl(current, next);
  if (uri == current) return uri;
  auto probe = agent::make_monitor_client(uri, next.settings)->extension_version();
  if (!probe) {
    spdlog::error("could not connect to the monitor with the new SSL parameters: {}",
                  probe.error().message);
    spdlog::error(
        "the monitor URI is not changed: run this command again once the monitor "
        "accepts them (pg_autoctl enable ssl on the monitor)");
    return std::nullopt;
  }
  return uri;
}

int cmd_enable_ssl(Options o, bool disable) {
  if (disable) {
    /* pg_autoctl disable ssl == pg_autoctl enable ssl --no-ssl */
    o.no_ssl = true;
    o.ssl_self_signed = false;
    o.ssl_mode.clear();
  }
  if (Status s = check_ssl_choice(o); !s) return fail(s.error());
  auto paths = agent::paths_for(o.pgdata);
  if (!paths) return fail(paths.error());
  auto cfg = agent::load_config_for(o.pgdata);
  if (!cfg) return fail(cfg.error());
  agent::Config next = *cfg;
  apply_ssl_choice(next, o);
  bool monitor_updated = false;
  if (next.role == agent::Role::Keeper) {
    if (auto uri = checked_monitor_uri(next, cfg->monitor)) {
      monitor_updated = true;
      if (*uri != next.monitor) spdlog::info("updating the monitor URI to \"{}\"", *uri);
      next.monitor = *uri;
    }
  }
  agent::SslApplied none;
  Result<agent::SslApplied> applied = none;
  if (agent::file_exists(next.pgdata + "/PG_VERSION")) {
    applied = agent::apply_ssl_to_pgdata(next);
    if (!applied) return fail(applied.error());
  } else {
    /* not initialised yet (create was interrupted): initdb writes the settings and certificate */
    spdlog::info("\"{}\" is not initialised yet: the new SSL settings apply when it is",
                 next.pgdata);
  }
  if (Status s = next.save(paths->config); !s) return fail(s.error());
  const long pid = agent::read_supervisor_pid(paths->pid);
  const bool signaled =
      pid > 0 && agent::process_alive(pid) && ::kill(static_cast<pid_t>(pid), SIGHUP) == 0;

  spdlog::info("successfully enabled new SSL configuration:");
  spdlog::info("  SSL is now {}", next.ssl_active ? "active" : "disabled");
  if (applied->certificate_created) {
    spdlog::info(
        "  self-signed certificates have been created and deployed in Postgres "
        "configuration settings ssl_key_file and ssl_cert_file");
  }
  spdlog::info("  Postgres settings {}",
               applied->reloaded ? "have been reloaded" : "apply when Postgres starts");
  if (next.role == agent::Role::Keeper) {
    if (monitor_updated) {
      spdlog::info("  Postgres connection string to the monitor uses sslmode \"{}\"",
                   next.ssl_params().front().second);
    } else {
      spdlog::error(
          "  Postgres connection string to the monitor could not be updated, see "
          "above for details");
    }
    spdlog::info("  replication connection string primary_conninfo uses sslmode \"{}\"",
                 next.ssl_params().front().second);
  }
  if (signaled) {
    spdlog::info("  pg_autoctl service has been signaled to reload its configuration");
  } else {
    spdlog::warn(
        "  pg_autoctl service is not running, changes will only apply at next start "
        "of pg_autoctl");
  }
  if (!next.ssl_active) {
    spdlog::warn("HBA rules in \"{}/pg_hba.conf\" accept connections without SSL (\"host\")",
                 next.pgdata);
  } else {
    spdlog::warn(
        "HBA rules in \"{}/pg_hba.conf\" have NOT been edited: \"host\" records match "
        "either SSL or non-SSL connection attempts",
        next.pgdata);
  }
  return 0;
}

}  // namespace

void add_ssl_command(CLI::App* parent, bool enable, Context& ctx) {
  Options& o = ctx.o;
  auto* c = parent->add_subcommand("ssl", enable ? "enable SSL configuration on this node"
                                                 : "disable SSL configuration on this node");
  add_pgdata(c, o);
  if (enable) add_ssl_options(c, o);
  ctx.command(c, enable ? "enable ssl" : "disable ssl",
              [&o, enable] { return cmd_enable_ssl(o, !enable); });
}

}  // namespace pgaf::cli::detail
