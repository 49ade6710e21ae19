/*
 * config.cpp — pg_autoctl.cfg and pg_autoctl.state. See config.hpp for the invariants.
 */
#include "pgaf/agent/config.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "pgaf/agent/http_endpoint.hpp"
#include "pgaf/agent/tls.hpp"
#include "pgaf/core/sync_names.hpp"

namespace pgaf::agent {

namespace {

Result<int> parse_int(const std::string& v, const std::string& field, const std::string& origin) {
  int out = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size()) {
    return make_error(ErrorCode::BadConfig,
                      "invalid value \"" + v + "\" for " + field + " in \"" + origin + "\"",
                      "expected an integer");
  }
  return out;
}

Result<bool> parse_bool(const std::string& v, const std::string& field, const std::string& origin) {
  if (v == "1" || v == "true" || v == "on" || v == "yes") return true;
  if (v == "0" || v == "false" || v == "off" || v == "no") return false;
  return make_error(ErrorCode::BadConfig,
                    "invalid value \"" + v + "\" for " + field + " in \"" + origin + "\"",
                    "expected true or false");
}

/* fuzz_config finding: `pg_autoctl config set` stored any value and Ini::serialize() wrote it as
 * is, so a value with a newline injected other keys into the file (or made it unreadable), and
 * leading or trailing blanks were lost on reload. A value is one line without surrounding
 * blanks. */
Status check_value(const std::string& field, const std::string& v, const std::string& origin) {
  const bool breaks = v.find_first_of(std::string("\n\r\0", 3)) != std::string::npos;
  const bool blanks =
      !v.empty() && (v.front() == ' ' || v.front() == '\t' || v.back() == ' ' || v.back() == '\t');
  if (breaks || blanks) {
    return make_error(ErrorCode::BadConfig, "invalid value for " + field + " in \"" + origin + "\"",
                      "a value is one line, without leading or trailing blanks");
  }
  return Status::Ok();
}

/* An integer field of the state file within [lo, hi]. A float, a string or an out-of-range number
 * is refused: nlohmann's get<int>() would convert 1e300 with undefined behaviour (fuzz_state). */
Result<std::int64_t> int_field(const nlohmann::json& j, const char* key, std::int64_t lo,
                               std::int64_t hi, const std::string& origin) {
  const nlohmann::json& v = j.at(key);
  bool ok = false;
  std::int64_t out = 0;
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    ok = u <= static_cast<std::uint64_t>(hi);
    out = ok ? static_cast<std::int64_t>(u) : 0;
  } else if (v.is_number_integer()) {
    out = v.get<std::int64_t>();
    ok = out >= lo && out <= hi;
  }
  if (!ok) {
    return make_error(ErrorCode::BadState, "state file \"" + origin + "\" is corrupt",
                      "restore it, or drop and re-create the node",
                      std::string("\"") + key + "\" must be an integer between " +
                          std::to_string(lo) + " and " + std::to_string(hi));
  }
  return out;
}

}  // namespace

std::string current_user_name() {
  struct passwd* pw = getpwuid(geteuid());
  if (pw != nullptr && pw->pw_name != nullptr) return pw->pw_name;
  return "postgres";
}

std::string Config::bindir() const {
  return std::filesystem::path(pg_ctl).parent_path().string();
}

std::string Config::local_conninfo(const std::string& db) const {
  std::string s = "port=" + std::to_string(port) + " dbname=" + db;
  if (!host.empty()) s += " host=" + host;
  if (!username.empty()) s += " user=" + username;
  return s;
}

std::vector<std::pair<std::string, std::string>> Config::ssl_params() const {
  std::vector<std::pair<std::string, std::string>> p = {
      {"sslmode", ssl_active ? sslmode : std::string("prefer")}};
  if (ssl_active && !ssl_ca_file.empty()) p.emplace_back("sslrootcert", ssl_ca_file);
  if (ssl_active && !ssl_crl_file.empty()) p.emplace_back("sslcrl", ssl_crl_file);
  return p;
}

std::string Config::ssl_conninfo() const {
  std::string s;
  for (const auto& [k, v] : ssl_params()) s += " " + k + "=" + v;
  return s;
}

/* fuzz_uri finding: an IPv6 hostname went in unbracketed ("autoctl_node@::1:5432"), which
 * libpq reads as host ":" — pgaf/core's uri_host() brackets it. */
std::string Config::monitor_uri() const {
  std::string h = hostname.empty() ? std::string("localhost") : hostname;
  std::string uri =
      "postgres://autoctl_node@" + uri_host(h) + ":" + std::to_string(port) + "/pg_auto_failover";
  char sep = '?';
  for (const auto& [k, v] : ssl_params()) {
    uri += sep + k + "=" + uri_escape(v);
    sep = '&';
  }
  return uri;
}

Ini Config::to_ini() const {
  Ini ini;
  ini.set("pg_autoctl", "role", role == Role::Monitor ? "monitor" : "keeper");
  if (role == Role::Keeper) {
    ini.set("pg_autoctl", "monitor", monitor);
    ini.set("pg_autoctl", "formation", formation);
    ini.set("pg_autoctl", "group", std::to_string(group));
    ini.set("pg_autoctl", "name", name);
  }
  ini.set("pg_autoctl", "hostname", hostname);
  if (role == Role::Keeper) ini.set("pg_autoctl", "nodekind", nodekind);
  ini.set("postgresql", "pgdata", pgdata);
  ini.set("postgresql", "pg_ctl", pg_ctl);
  ini.set("postgresql", "username", username);
  ini.set("postgresql", "dbname", dbname);
  ini.set("postgresql", "host", host);
  ini.set("postgresql", "port", std::to_string(port));
  ini.set("postgresql", "listen_addresses", listen_addresses);
  ini.set("postgresql", "auth_method", auth_method);
  ini.set("postgresql", "hba_level", hba_level);
  ini.set("ssl", "active", ssl_active ? "1" : "0");
  ini.set("ssl", "sslmode", sslmode);
  if (!ssl_ca_file.empty()) ini.set("ssl", "ca_file", ssl_ca_file);
  if (!ssl_crl_file.empty()) ini.set("ssl", "crl_file", ssl_crl_file);
  if (!ssl_cert_file.empty()) ini.set("ssl", "cert_file", ssl_cert_file);
  if (!ssl_key_file.empty()) ini.set("ssl", "key_file", ssl_key_file);
  if (role == Role::Keeper) {
    ini.set("replication", "password", replication_password);
    ini.set("replication", "maximum_backup_rate", maximum_backup_rate);
    ini.set("replication", "backup_directory", backup_directory);
    ini.set("replication", "candidate_priority", std::to_string(candidate_priority));
    ini.set("replication", "replication_quorum", replication_quorum ? "true" : "false");
  }
  ini.set("http", "listen", http_listen);
  ini.set("hooks", "on_state_change", hook_on_state_change);
  ini.set("hooks", "on_role_change", hook_on_role_change);
  for (auto& [k, v] : settings.list()) ini.set("pgaf", k, v);
  return ini;
}

Result<Config> Config::from_ini(const Ini& ini, const std::string& origin) {
  Config c;
  const std::string* role = ini.get("pg_autoctl", "role");
  if (role == nullptr) {
    return make_error(ErrorCode::BadConfig, "missing key pg_autoctl.role in \"" + origin + "\"");
  }
  if (*role == "keeper") {
    c.role = Role::Keeper;
  } else if (*role == "monitor") {
    c.role = Role::Monitor;
  } else {
    return make_error(ErrorCode::BadConfig,
                      "invalid value \"" + *role + "\" for pg_autoctl.role in \"" + origin + "\"",
                      "expected keeper or monitor");
  }
  using Setter = std::function<Status(const std::string&)>;
  auto str = [](std::string& dst) -> Setter {
    return [&dst](const std::string& v) {
      dst = v;
      return Status::Ok();
    };
  };
  auto integer = [&origin](std::string field, int& dst) -> Setter {
    return [&dst, field, &origin](const std::string& v) -> Status {
      auto r = parse_int(v, field, origin);
      if (!r) return r.error();
      dst = *r;
      return Status::Ok();
    };
  };
  auto boolean = [&origin](std::string field, bool& dst) -> Setter {
    return [&dst, field, &origin](const std::string& v) -> Status {
      auto r = parse_bool(v, field, origin);
      if (!r) return r.error();
      dst = *r;
      return Status::Ok();
    };
  };
  std::string ignored;
  std::map<std::string, Setter> keys = {
      {"pg_autoctl.role", str(ignored)},
      {"pg_autoctl.monitor", str(c.monitor)},
      {"pg_autoctl.formation", str(c.formation)},
      {"pg_autoctl.group", integer("pg_autoctl.group", c.group)},
      {"pg_autoctl.name", str(c.name)},
      {"pg_autoctl.hostname", str(c.hostname)},
      {"pg_autoctl.nodename", str(c.hostname)},
      {"pg_autoctl.nodekind", str(c.nodekind)},
      {"postgresql.pgdata", str(c.pgdata)},
      {"postgresql.pg_ctl", str(c.pg_ctl)},
      {"postgresql.username", str(c.username)},
      {"postgresql.dbname", str(c.dbname)},
      {"postgresql.host", str(c.host)},
      {"postgresql.port", integer("postgresql.port", c.port)},
      {"postgresql.listen_addresses", str(c.listen_addresses)},
      {"postgresql.auth_method", str(c.auth_method)},
      {"postgresql.hba_level", str(c.hba_level)},
      {"ssl.active", boolean("ssl.active", c.ssl_active)},
      {"ssl.sslmode", str(c.sslmode)},
      {"ssl.ca_file", str(c.ssl_ca_file)},
      {"ssl.crl_file", str(c.ssl_crl_file)},
      {"ssl.cert_file", str(c.ssl_cert_file)},
      {"ssl.key_file", str(c.ssl_key_file)},
      {"replication.password", str(c.replication_password)},
      {"replication.maximum_backup_rate", str(c.maximum_backup_rate)},
      {"replication.backup_directory", str(c.backup_directory)},
      {"replication.candidate_priority",
       integer("replication.candidate_priority", c.candidate_priority)},
      {"replication.replication_quorum",
       boolean("replication.replication_quorum", c.replication_quorum)},
      {"http.listen", str(c.http_listen)},
      {"hooks.on_state_change", str(c.hook_on_state_change)},
      {"hooks.on_role_change", str(c.hook_on_role_change)},
  };
  for (auto& [section, kvs] : ini.sections()) {
    for (auto& [k, v] : kvs) {
      std::string field = section + "." + k;
      if (Status vs = check_value(field, v, origin); !vs) return vs.error();
      if (section == "pgaf") {
        Status st = c.settings.set(k, v);
        if (!st) {
          Error e = st.error();
          e.code = ErrorCode::BadConfig;
          e.message = "invalid setting " + field + " in \"" + origin + "\": " + e.message;
          return e;
        }
        continue;
      }
      if (section == "timeout" || section == "ssl" || section == "citus") {
        /* reference keys we accept but do not use (timeouts live in [pgaf]) */
        auto it = keys.find(field);
        if (it == keys.end()) continue;
      }
      auto it = keys.find(field);
      if (it == keys.end()) {
        return make_error(ErrorCode::BadConfig,
                          "unknown setting " + field + " in \"" + origin + "\"");
      }
      Status st = it->second(v);
      if (!st) return st.error();
    }
  }
  if (c.port <= 0 || c.port > 65535) {
    return make_error(ErrorCode::BadConfig, "invalid value " + std::to_string(c.port) +
                                                " for postgresql.port in \"" + origin + "\"");
  }
  if (c.pgdata.empty()) {
    return make_error(ErrorCode::BadConfig, "missing key postgresql.pgdata in \"" + origin + "\"");
  }
  if (c.role == Role::Keeper && c.monitor.empty()) {
    return make_error(ErrorCode::BadConfig, "missing key pg_autoctl.monitor in \"" + origin + "\"");
  }
  if (c.ssl_active) {
    if (Status m = validate_sslmode(c.sslmode); !m) {
      return make_error(ErrorCode::BadConfig,
                        "invalid value \"" + c.sslmode + "\" for ssl.sslmode in \"" + origin + "\"",
                        m.error().hint);
    }
  }
  if (!c.http_listen.empty()) {
    if (auto l = parse_listen_address(c.http_listen); !l) {
      return make_error(ErrorCode::BadConfig,
                        "invalid value \"" + c.http_listen + "\" for http.listen in \"" + origin +
                            "\": " + l.error().message,
                        l.error().hint);
    }
  }
  for (const auto& [field, path] : {std::pair{"hooks.on_state_change", &c.hook_on_state_change},
                                    std::pair{"hooks.on_role_change", &c.hook_on_role_change}}) {
    if (!path->empty() && path->front() != '/') {
      return make_error(ErrorCode::BadConfig,
                        "invalid value \"" + *path + "\" for " + field + " in \"" + origin + "\"",
                        "a hook is an absolute path to an executable program (run without a "
                        "shell)");
    }
  }
  Status v = c.settings.validate();
  if (!v) {
    Error e = v.error();
    e.code = ErrorCode::BadConfig;
    e.message = "invalid settings in \"" + origin + "\": " + e.message;
    return e;
  }
  return c;
}

Result<Config> Config::load(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  auto ini = Ini::parse(*text, path);
  if (!ini) return ini.error();
  return from_ini(*ini, path);
}

Status Config::save(const std::string& path) const {
  Status d = make_dirs(std::filesystem::path(path).parent_path().string());
  if (!d) return d;
  return atomic_write_file(path, to_ini().serialize(), 0644);
}

Result<Config> load_config_for(const std::string& pgdata) {
  auto p = paths_for(pgdata);
  if (!p) return p.error();
  if (!file_exists(p->config)) {
    return make_error(ErrorCode::BadConfig,
                      "configuration file \"" + p->config + "\" does not exist",
                      "is this node created? see pg_autoctl create postgres|monitor");
  }
  return Config::load(p->config);
}

std::string KeeperState::to_json() const {
  nlohmann::json j;
  j["version"] = 1;
  j["nodeId"] = node_id;
  j["groupId"] = group_id;
  j["current_role"] = std::string(to_string(current_role));
  j["assigned_role"] = std::string(to_string(assigned_role));
  j["system_identifier"] = system_identifier;
  j["last_monitor_contact"] = last_monitor_contact;
  j["last_secondary_contact"] = last_secondary_contact;
  j["dropped_confirmed"] = dropped_confirmed;
  j["last_report_seq"] = last_report_seq;
  return j.dump(2) + "\n";
}

Result<KeeperState> KeeperState::from_json(const std::string& text, const std::string& origin) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorCode::BadState, "state file \"" + origin + "\" is corrupt",
                      "restore it, or drop and re-create the node", "not a JSON object");
  }
  KeeperState s;
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kIntMin = std::numeric_limits<int>::min();
  constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
  try {
    auto version = int_field(j, "version", kMin, kMax, origin);
    if (!version) return version.error();
    if (*version != 1) {
      return make_error(ErrorCode::BadState,
                        "state file \"" + origin + "\" has an unsupported version");
    }
    auto node_id = int_field(j, "nodeId", kMin, kMax, origin);
    if (!node_id) return node_id.error();
    auto group_id = int_field(j, "groupId", kIntMin, kIntMax, origin);
    if (!group_id) return group_id.error();
    auto sysid = int_field(j, "system_identifier", kMin, kMax, origin);
    if (!sysid) return sysid.error();
    auto monitor_contact = int_field(j, "last_monitor_contact", kMin, kMax, origin);
    if (!monitor_contact) return monitor_contact.error();
    auto secondary_contact = int_field(j, "last_secondary_contact", kMin, kMax, origin);
    if (!secondary_contact) return secondary_contact.error();
    s.node_id = *node_id;
    s.group_id = static_cast<GroupId>(*group_id);
    auto cur = parse_node_state(j.at("current_role").get<std::string>());
    auto asg = parse_node_state(j.at("assigned_role").get<std::string>());
    if (!cur)
      return make_error(ErrorCode::BadState,
                        "state file \"" + origin + "\": " + cur.error().message);
    if (!asg)
      return make_error(ErrorCode::BadState,
                        "state file \"" + origin + "\": " + asg.error().message);
    s.current_role = *cur;
    s.assigned_role = *asg;
    s.system_identifier = *sysid;
    s.last_monitor_contact = *monitor_contact;
    s.last_secondary_contact = *secondary_contact;
    s.dropped_confirmed = j.value("dropped_confirmed", false);
    if (j.contains("last_report_seq")) {
      auto seq = int_field(j, "last_report_seq", kMin, kMax, origin);
      if (!seq) return seq.error();
      s.last_report_seq = *seq;
    }
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::BadState, "state file \"" + origin + "\" is corrupt",
                      "restore it, or drop and re-create the node", e.what());
  }
  return s;
}

Result<KeeperState> KeeperState::load(const std::string& path) {
  auto text = read_file(path);
  if (!text) {
    Error e = text.error();
    e.code = ErrorCode::BadState;
    return e;
  }
  return from_json(*text, path);
}

Status KeeperState::save(const std::string& path) const {
  Status d = make_dirs(std::filesystem::path(path).parent_path().string());
  if (!d) return d;
  return atomic_write_file(path, to_json(), 0644);
}

}  // namespace pgaf::agent
