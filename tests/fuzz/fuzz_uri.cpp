/*
 * fuzz_uri.cpp — libFuzzer target: postgres:// URIs and conninfo strings, where pgaf reads or
 * writes them, checked against libpq's own parser (PQconninfoParse), the one that will
 * eventually use them.
 *
 * Modes (first byte):
 *  - read: the rest is a monitor URI or conninfo string (pg_autoctl --monitor, the config's
 *    pg_autoctl.monitor). pgaf::agent::monitor_host_of() (HBA rules, pg_autoctl's local address
 *    discovery) never crashes and, whenever libpq accepts the string, names the same host as
 *    libpq (the first one of a multi-host list), or "" when libpq has none.
 *  - monitor_uri: a monitor's hostname, port and TLS file paths from the input;
 *    Config::monitor_uri() (what `pg_autoctl show uri` prints for the nodes) must be accepted by
 *    libpq and give back that very host, port, user, dbname, sslmode and file paths.
 *  - formation_uri: node hosts, ports, dbname and TLS paths from the input; pgaf::formation_uri()
 *    (the monitor's formation_uri(), what applications connect with) must be accepted by libpq
 *    and give back every host and port in order, the dbname and the TLS paths.
 * Hosts are drawn from the characters of DNS names and IP addresses (letters, digits, '.', '-',
 * ':'); paths and database names are arbitrary bytes except NUL.
 */
#include <fuzzer/FuzzedDataProvider.h>
#include <libpq-fe.h>

#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pgaf/agent/config.hpp"
#include "pgaf/agent/keeper.hpp"
#include "pgaf/core/sync_names.hpp"

namespace {

[[noreturn]] void violated(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_uri: invariant violated: %s\n%s\n", what, detail.c_str());
  std::abort();
}

/* libpq's reading of a conninfo/URI: keyword → value (only the ones set), or nullopt. */
std::optional<std::map<std::string, std::string>> libpq_parse(const std::string& s) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(s.c_str(), &err);
  if (err != nullptr) PQfreemem(err);
  if (opts == nullptr) return std::nullopt;
  std::map<std::string, std::string> out;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o)
    if (o->val != nullptr) out[o->keyword] = o->val;
  PQconninfoFree(opts);
  return out;
}

std::string get(const std::map<std::string, std::string>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? std::string() : it->second;
}

std::string no_nul(std::string s) {
  std::string out;
  for (char c : s)
    if (c != '\0') out += c;
  return out;
}

std::string host_chars(FuzzedDataProvider& in, std::size_t max_len) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789.-:ABCDEF";
  const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(1, max_len);
  std::string h;
  for (std::size_t i = 0; i < n; ++i)
    h += kChars[in.ConsumeIntegralInRange<std::size_t>(0, sizeof kChars - 2)];
  return h;
}

void fuzz_read(const std::string& raw) {
  const std::string s = no_nul(raw);
  const std::string ours = pgaf::agent::monitor_host_of(s);
  auto lp = libpq_parse(s);
  if (!lp) return;
  std::string host = get(*lp, "host");
  if (auto comma = host.find(','); comma != std::string::npos) host = host.substr(0, comma);
  if (ours != host)
    violated("monitor_host_of agrees with libpq",
             "input: [" + s + "]\nmonitor_host_of: [" + ours + "]\nlibpq host: [" + host + "]");
  std::string port = get(*lp, "port");
  port = port.substr(0, port.find(','));
  /* libpq's reading of a port (parse_int_param): strtol, trailing blanks allowed */
  char* end = nullptr;
  errno = 0;
  const long p = std::strtol(port.c_str(), &end, 10);
  const bool parsed = errno == 0 && end != port.c_str();
  while (end != nullptr && std::isspace(static_cast<unsigned char>(*end))) ++end;
  const int want = parsed && *end == '\0' && p > 0 && p <= 65535 ? static_cast<int>(p) : 5432;
  if (pgaf::agent::monitor_port_of(s) != want)
    violated("monitor_port_of agrees with libpq",
             "input: [" + s + "]\nmonitor_port_of: " +
                 std::to_string(pgaf::agent::monitor_port_of(s)) + "\nlibpq port: [" + port + "]");
}

void fuzz_monitor_uri(FuzzedDataProvider& in) {
  pgaf::agent::Config c;
  c.role = pgaf::agent::Role::Monitor;
  c.hostname = host_chars(in, 40);
  c.port = in.ConsumeIntegralInRange<int>(1, 65535);
  c.ssl_active = in.ConsumeBool();
  static const char* const kModes[] = {"disable", "allow",     "prefer",
                                       "require", "verify-ca", "verify-full"};
  c.sslmode = kModes[in.ConsumeIntegralInRange<int>(0, 5)];
  c.ssl_ca_file = no_nul(in.ConsumeRandomLengthString(64));
  c.ssl_crl_file = no_nul(in.ConsumeRandomLengthString(64));
  const std::string uri = c.monitor_uri();
  auto lp = libpq_parse(uri);
  if (!lp) violated("libpq accepts Config::monitor_uri()", uri);
  const std::string want_mode = c.ssl_active ? c.sslmode : "prefer";
  const std::string want_ca = c.ssl_active ? c.ssl_ca_file : "";
  const std::string want_crl = c.ssl_active ? c.ssl_crl_file : "";
  if (get(*lp, "host") != c.hostname || get(*lp, "port") != std::to_string(c.port) ||
      get(*lp, "user") != "autoctl_node" || get(*lp, "dbname") != "pg_auto_failover" ||
      get(*lp, "sslmode") != want_mode || get(*lp, "sslrootcert") != want_ca ||
      get(*lp, "sslcrl") != want_crl)
    violated("Config::monitor_uri() reads back as written",
             uri + "\nhost [" + get(*lp, "host") + "] want [" + c.hostname + "], port [" +
                 get(*lp, "port") + "], sslrootcert [" + get(*lp, "sslrootcert") + "] want [" +
                 want_ca + "], sslcrl [" + get(*lp, "sslcrl") + "] want [" + want_crl + "]");
}

void fuzz_formation_uri(FuzzedDataProvider& in) {
  pgaf::GroupSnapshot g;
  g.formation.dbname = no_nul(in.ConsumeRandomLengthString(32));
  if (g.formation.dbname.empty()) g.formation.dbname = "postgres";
  const int n = in.ConsumeIntegralInRange<int>(1, 4);
  std::string want_hosts, want_ports;
  for (int i = 0; i < n; ++i) {
    pgaf::Node node;
    node.id = i + 1;
    node.host = host_chars(in, 40);
    node.port = in.ConsumeIntegralInRange<int>(1, 65535);
    want_hosts += (i ? "," : "") + node.host;
    want_ports += (i ? "," : "") + std::to_string(node.port);
    g.nodes.push_back(node);
  }
  pgaf::UriOptions o;
  o.sslrootcert = no_nul(in.ConsumeRandomLengthString(64));
  o.sslcrl = no_nul(in.ConsumeRandomLengthString(64));
  auto uri = pgaf::formation_uri(g, o);
  if (!uri) violated("a group with nodes has a formation URI", "");
  auto lp = libpq_parse(*uri);
  if (!lp) violated("libpq accepts formation_uri()", *uri);
  if (get(*lp, "host") != want_hosts || get(*lp, "port") != want_ports ||
      get(*lp, "dbname") != g.formation.dbname || get(*lp, "sslrootcert") != o.sslrootcert ||
      get(*lp, "sslcrl") != o.sslcrl || get(*lp, "target_session_attrs") != "read-write")
    violated("formation_uri() reads back as written",
             *uri + "\nhosts [" + get(*lp, "host") + "] want [" + want_hosts + "], ports [" +
                 get(*lp, "port") + "] want [" + want_ports + "], dbname [" + get(*lp, "dbname") +
                 "] want [" + g.formation.dbname + "], sslrootcert [" + get(*lp, "sslrootcert") +
                 "] want [" + o.sslrootcert + "]");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegral<std::uint8_t>() % 3) {
    case 0:
      fuzz_read(in.ConsumeRemainingBytesAsString());
      break;
    case 1:
      fuzz_monitor_uri(in);
      break;
    default:
      fuzz_formation_uri(in);
      break;
  }
  return 0;
}
