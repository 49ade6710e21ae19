/*
 * config.hpp — pg_autoctl.cfg (INI, reference keys of upstream-design.md §7.5) and the keeper state
 * file (pg_autoctl.state, JSON).
 *
 * Invariants:
 *  - load() of a missing, unreadable or malformed file is an error naming the file; unknown keys
 *    and malformed values are errors naming section.key; nothing is silently reset;
 *  - save() is atomic (files.hpp);
 *  - pgaf timeouts (pgaf/core Settings) live in section [pgaf] under their Settings names
 *    (e.g. "lease_ms = 2000") and are validated by Settings::validate().
 */
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pgaf/agent/files.hpp"
#include "pgaf/core/node.hpp"
#include "pgaf/core/settings.hpp"
#include "pgaf/core/state.hpp"

namespace pgaf::agent {

enum class Role { Keeper, Monitor };

struct Config {
  Role role = Role::Keeper;
  /* [pg_autoctl] */
  std::string monitor; /* monitor URI (keeper) */
  std::string formation = "default";
  int group = -1;       /* from the monitor */
  std::string name;     /* node name ('' = monitor default) */
  std::string hostname; /* how other nodes and the monitor reach us */
  std::string nodekind = "standalone";
  /* [postgresql] */
  std::string pgdata;
  std::string pg_ctl = "/usr/lib/postgresql/15/bin/pg_ctl";
  std::string username; /* local superuser (the OS user by default) */
  std::string dbname = "postgres";
  std::string host; /* local connection host (socket dir or address) */
  int port = 5432;
  std::string listen_addresses = "*";
  std::string auth_method = "trust";
  std::string hba_level = "minimal"; /* minimal | skip | app */
  /* [ssl] */
  bool ssl_active = false;
  std::string sslmode = "prefer";
  std::string ssl_ca_file, ssl_crl_file;   /* '' = none */
  std::string ssl_cert_file, ssl_key_file; /* server certificate ('' = none) */
  /* --ssl-self-signed: pg_autoctl owns <pgdata>/server.{crt,key} (CN = hostname) */
  bool ssl_self_signed() const {
    return ssl_active && ssl_ca_file.empty() && ssl_cert_file == pgdata + "/server.crt";
  }
  /* {sslmode, …} [, {sslrootcert, …}] [, {sslcrl, …}]: the TLS parameters of every connection
   * pg_autoctl makes (sslmode "prefer" when SSL is off) */
  std::vector<std::pair<std::string, std::string>> ssl_params() const;
  /* " sslmode=… [sslrootcert=…] [sslcrl=…]" for every connection pg_autoctl makes to a node */
  std::string ssl_conninfo() const;
  /* [replication] */
  std::string replication_password;
  std::string maximum_backup_rate = "100M";
  std::string backup_directory;
  /* [http] listen: "host:port" of the HTTP endpoint (http_endpoint.hpp); '' = off */
  std::string http_listen;
  /* [hooks] programs run on state / role changes (hooks.hpp); '' = none */
  std::string hook_on_state_change, hook_on_role_change;
  /* [pgaf] */
  Settings settings;
  /* keeper registration knobs (only used by create) */
  int candidate_priority = 50;
  bool replication_quorum = true;

  std::string bindir() const; /* dirname(pg_ctl) */
  std::string local_conninfo(const std::string& db = "postgres") const;
  /* postgres://autoctl_node@host:port/pg_auto_failover?sslmode=…[&sslrootcert=…][&sslcrl=…]
   * (monitor role; file paths percent-encoded) */
  std::string monitor_uri() const;

  Ini to_ini() const;
  static Result<Config> from_ini(const Ini& ini, const std::string& origin);
  static Result<Config> load(const std::string& path);
  Status save(const std::string& path) const;
};

/* Load the configuration for PGDATA at the reference location; error if absent ("is this node
 * created? ... pg_autoctl create"). */
Result<Config> load_config_for(const std::string& pgdata);

/* The keeper state: what this node is, what it was told to be. */
struct KeeperState {
  NodeId node_id = -1;
  GroupId group_id = -1;
  NodeState current_role = NodeState::Init;
  NodeState assigned_role = NodeState::Init;
  std::int64_t system_identifier = 0;
  std::int64_t last_monitor_contact = 0;   /* unix seconds */
  std::int64_t last_secondary_contact = 0; /* unix seconds */
  bool dropped_confirmed = false;
  std::int64_t last_report_seq = 0; /* node_active report numbering, see interfaces.hpp */

  std::string to_json() const;
  static Result<KeeperState> from_json(const std::string& text, const std::string& origin);
  static Result<KeeperState> load(const std::string& path);
  Status save(const std::string& path) const;
};

/* OS user name of this process. */
std::string current_user_name();

}  // namespace pgaf::agent
