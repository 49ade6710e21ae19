/*
 * ops_options.hpp — pg_autoctl's operations options (issue 11): --http-listen on create
 * monitor|postgres and run, the hook options of create, their checks at config set, and the
 * systemd unit `show systemd` prints (the same as the packaged pgaf@.service template).
 *
 * Invariants: an invalid listen address, a port in use, or a hook that is not an executable file
 * is refused naming the option or key, before anything is written.
 */
#pragma once

#include <string>

#include "pgaf/agent/config.hpp"

namespace CLI {
class App;
}

namespace pgaf::cli {

struct OpsOptions {
  std::string http_listen;
  std::string on_state_change, on_role_change;
};

/* --http-listen, and with hooks: --on-state-change, --on-role-change. */
void add_ops_options(CLI::App* cmd, OpsOptions& o, bool with_hooks);
/* Check the options given and set them in cfg (create, run). */
Status apply_ops_options(const OpsOptions& o, agent::Config& cfg);
/* config set: the keys of [http] and [hooks] that changed must work (port free, program
 * executable). */
Status check_ops_config(const agent::Config& updated, const agent::Config& before);

/* The [Service] lines shared by `pg_autoctl show systemd` and the pgaf@.service template. */
std::string systemd_service_common();
/* The unit `pg_autoctl show systemd` prints. */
std::string systemd_unit(const std::string& pg_autoctl, const std::string& pgdata,
                         const std::string& user, const std::string& home);

}  // namespace pgaf::cli
