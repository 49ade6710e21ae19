/*
 * ops_options.cpp — operations options of pg_autoctl. See ops_options.hpp for the invariants.
 */
#include "pgaf/cli/ops_options.hpp"

#include <CLI/CLI.hpp>

#include "pgaf/agent/hooks.hpp"
#include "pgaf/agent/http_endpoint.hpp"

namespace pgaf::cli {

void add_ops_options(CLI::App* cmd, OpsOptions& o, bool with_hooks) {
  cmd->add_option("--http-listen", o.http_listen,
                  "serve /primary, /replica, /health, /state and /metrics on host:port "
                  "(e.g. 127.0.0.1:8008)")
      ->envname("PG_AUTOCTL_HTTP_LISTEN");
  if (with_hooks) {
    cmd->add_option("--on-state-change", o.on_state_change,
                    "program to run when this node changes state (absolute path)");
    cmd->add_option("--on-role-change", o.on_role_change,
                    "program to run when this node changes role (absolute path)");
  }
}

namespace {
Status check_listen(const std::string& what, const std::string& value) {
  auto a = agent::parse_listen_address(value);
  if (!a) {
    Error e = a.error();
    e.message = "invalid " + what + ": " + e.message;
    return e;
  }
  return agent::check_listen_available(*a);
}
}  // namespace

Status apply_ops_options(const OpsOptions& o, agent::Config& cfg) {
  if (!o.http_listen.empty() && o.http_listen != cfg.http_listen) {
    if (Status s = check_listen("--http-listen", o.http_listen); !s) return s;
    cfg.http_listen = o.http_listen;
  }
  if (!o.on_state_change.empty()) {
    if (Status s = agent::check_hook_program("--on-state-change", o.on_state_change); !s) return s;
    cfg.hook_on_state_change = o.on_state_change;
  }
  if (!o.on_role_change.empty()) {
    if (Status s = agent::check_hook_program("--on-role-change", o.on_role_change); !s) return s;
    cfg.hook_on_role_change = o.on_role_change;
  }
  return Status::Ok();
}

Status check_ops_config(const agent::Config& updated, const agent::Config& before) {
  if (!updated.http_listen.empty() && updated.http_listen != before.http_listen) {
    if (Status s = check_listen("http.listen", updated.http_listen); !s) return s;
  }
  if (updated.hook_on_state_change != before.hook_on_state_change) {
    if (Status s = agent::check_hook_program("hooks.on_state_change", updated.hook_on_state_change);
        !s)
      return s;
  }
  if (updated.hook_on_role_change != before.hook_on_role_change) {
    if (Status s = agent::check_hook_program("hooks.on_role_change", updated.hook_on_role_change);
        !s)
      return s;
  }
  return Status::Ok();
}

std::string systemd_service_common() {
  /* Type=notify: ready when the keeper completed its first round (or the monitor's Postgres
   * runs); the keeper loop, a child of the main process, keeps the watchdog (NotifyAccess=all) */
  return "Type = notify\n"
         "NotifyAccess = all\n"
         "WatchdogSec = 30\n"
         "TimeoutStartSec = 300\n"
         "Restart = always\n"
         "RestartSec = 1\n"
         "StartLimitBurst = 0\n"
         "TimeoutStopSec = 90\n"
         "KillMode = mixed\n";
}

std::string systemd_unit(const std::string& pg_autoctl, const std::string& pgdata,
                         const std::string& user, const std::string& home) {
  return "[Unit]\n"
         "Description = pg_auto_failover\n"
         "After = network-online.target\n"
         "Wants = network-online.target\n\n"
         "[Service]\n"
         "WorkingDirectory = " +
         home +
         "\n"
         "Environment = 'PGDATA=" +
         pgdata +
         "'\n"
         "User = " +
         user +
         "\n"
         "ExecStart = " +
         pg_autoctl +
         " run\n"
         "ExecReload = " +
         pg_autoctl + " reload\n" + systemd_service_common() +
         "\n[Install]\n"
         "WantedBy = multi-user.target\n";
}

}  // namespace pgaf::cli
