/*
 * topology_spec.cpp — the pure half of topology.hpp: validating a TopologySpec (every rejection
 * names its field), placement, subnet arithmetic. No kernel access beyond if_nametoindex and no
 * library beyond libc, so the lab's model library (scenario and profile parsing, no root) links
 * it without libnl or libnftables (target pgaf_netns_spec).
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <regex>
#include <set>

#include "network_impl.hpp"
#include "pgaf/netns/topology.hpp"

namespace pgaf::netns {

using namespace detail;

namespace detail {

Result<Subnet> parse_subnet(const std::string& cidr) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::InvalidArgument, "invalid subnet \"" + cidr + "\": " + why,
                      "use an IPv4 CIDR with prefix length 16..29, e.g. 198.18.0.0/24");
  };
  auto slash = cidr.find('/');
  if (slash == std::string::npos) return bad("missing /prefix-length");
  in_addr a{};
  if (::inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &a) != 1) return bad("bad address");
  const std::string len_text = cidr.substr(slash + 1);
  if (len_text.empty() || len_text.size() > 2 ||
      !std::all_of(len_text.begin(), len_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return bad("bad prefix length");
  int len = std::stoi(len_text);
  if (len < 16 || len > 29) return bad("prefix length must be 16..29");
  Subnet s;
  const std::uint32_t mask = ~std::uint32_t{0} << (32 - len);
  s.network = ntohl(a.s_addr) & mask;
  s.length = len;
  return s;
}

std::string ipv4_text(std::uint32_t host_order) {
  in_addr a{};
  a.s_addr = htonl(host_order);
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

/* The first router that joins zones a and b, or nullptr. */
const RouterSpec* router_joining(const TopologySpec& t, const std::string& a,
                                 const std::string& b) {
  for (const auto& r : t.routers) {
    bool has_a = false, has_b = false;
    for (const auto& i : r.interfaces) {
      has_a = has_a || i.zone == a;
      has_b = has_b || i.zone == b;
    }
    if (has_a && has_b) return &r;
  }
  return nullptr;
}

const RouterSpec* router_named(const TopologySpec& t, const std::string& name) {
  for (const auto& r : t.routers)
    if (r.name == name) return &r;
  return nullptr;
}

}  // namespace detail

namespace {

Error field_error(const std::string& field, const std::string& what, std::string hint = {}) {
  return make_error(ErrorCode::InvalidArgument, field + ": " + what, std::move(hint));
}

bool valid_name(const std::string& n) {
  static const std::regex re("^[a-z][a-z0-9_]{0,11}$");
  return std::regex_match(n, re);
}

bool valid_ifname(const std::string& n) {
  if (n.empty() || n.size() >= IF_NAMESIZE || n == "." || n == "..") return false;
  return std::none_of(n.begin(), n.end(), [](char c) {
    return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c));
  });
}

Status validate_link(const LinkProfile& l, const std::string& f) {
  if (l.mtu != 0 && (l.mtu < 576 || l.mtu > 9000))
    return field_error(f + ".mtu", std::to_string(l.mtu) + " is out of range [576, 9000]");
  if (!(l.loss_percent >= 0 && l.loss_percent <= 100))
    return field_error(f + ".loss", "must be 0..100 percent");
  if (l.latency.count() < 0 || l.latency.count() > 60000)
    return field_error(f + ".latency", "must be 0..60000 ms");
  if (l.jitter.count() < 0 || l.jitter > l.latency)
    return field_error(f + ".jitter", "must be 0..latency");
  if (l.bandwidth_bytes_per_second != 0 && l.latency.count() != 0)
    return field_error(f, "bandwidth and latency on the same link are not supported",
                       "put them on different links (each is a root qdisc)");
  return Status::Ok();
}

}  // namespace

std::string zone_of(const TopologySpec& t, const std::string& host) {
  if (auto it = t.placement.find(host); it != t.placement.end()) return it->second;
  if (!t.default_zone.empty()) return t.default_zone;
  return t.zones.empty() ? std::string() : t.zones.front().name;
}

Status validate_topology(const TopologySpec& t, const std::vector<std::string>& hosts) {
  if (t.zones.empty()) return field_error("zones", "at least one zone is required");
  if (t.zones.size() > kMaxZones)
    return field_error("zones", "at most " + std::to_string(kMaxZones) + " zones");
  if (t.routers.size() > kMaxRouters)
    return field_error("routers", "at most " + std::to_string(kMaxRouters) + " routers");
  std::set<std::string> zone_names;
  std::vector<std::pair<Subnet, std::string>> subnets;
  for (size_t i = 0; i < t.zones.size(); ++i) {
    const auto& z = t.zones[i];
    const std::string f = "zones[" + std::to_string(i) + "]";
    if (!valid_name(z.name) || z.name == "lo" || z.name == "eth0")
      return field_error(f + ".name", "invalid zone name \"" + z.name + "\"",
                         "use 1..12 characters [a-z0-9_] starting with a letter");
    if (!zone_names.insert(z.name).second)
      return field_error(f + ".name", "zone \"" + z.name + "\" is listed twice");
    auto s = parse_subnet(z.subnet);
    if (!s.ok()) return field_error(f + ".subnet", s.error().message, s.error().hint);
    for (const auto& [other, name] : subnets) {
      const int len = std::min(other.length, s->length);
      const std::uint32_t mask = ~std::uint32_t{0} << (32 - len);
      if ((other.network & mask) == (s->network & mask))
        return field_error(f + ".subnet", z.subnet + " overlaps zone \"" + name + "\"");
    }
    subnets.emplace_back(*s, z.name);
    if (z.mtu < 576 || z.mtu > 9000)
      return field_error(f + ".mtu", std::to_string(z.mtu) + " is out of range [576, 9000]");
    if (!z.external.empty() && !valid_ifname(z.external))
      return field_error(f + ".external", "\"" + z.external + "\" is not an interface name");
  }
  std::set<std::string> names(hosts.begin(), hosts.end());
  for (const auto& z : t.zones) names.insert("z_" + z.name); /* zone namespaces */
  for (size_t i = 0; i < t.routers.size(); ++i) {
    const auto& r = t.routers[i];
    const std::string f = "routers[" + std::to_string(i) + "]";
    if (!valid_name(r.name) || r.name == "switch")
      return field_error(f + ".name", "invalid router name \"" + r.name + "\"",
                         "use 1..12 characters [a-z0-9_] starting with a letter");
    if (!names.insert(r.name).second)
      return field_error(f + ".name", "\"" + r.name + "\" is already a host, zone or router");
    if (r.interfaces.size() < 2)
      return field_error(f + ".zones", "a router joins at least two zones");
    std::set<std::string> seen;
    for (size_t j = 0; j < r.interfaces.size(); ++j) {
      const std::string fi = f + ".zones[" + std::to_string(j) + "]";
      if (zone_names.count(r.interfaces[j].zone) == 0)
        return field_error(fi, "unknown zone \"" + r.interfaces[j].zone + "\"");
      if (!seen.insert(r.interfaces[j].zone).second)
        return field_error(fi, "zone \"" + r.interfaces[j].zone + "\" is listed twice");
      if (auto st = validate_link(r.interfaces[j].link, fi); !st.ok()) return st;
    }
  }
  for (size_t i = 0; i < t.routes.size(); ++i) {
    const auto& rt = t.routes[i];
    const std::string f = "routes[" + std::to_string(i) + "]";
    if (zone_names.count(rt.zone) == 0)
      return field_error(f + ".zone", "unknown zone \"" + rt.zone + "\"");
    if (zone_names.count(rt.to) == 0 || rt.to == rt.zone)
      return field_error(f + ".to", "\"" + rt.to + "\" is not another zone");
    const RouterSpec* via = router_named(t, rt.via);
    if (via == nullptr) return field_error(f + ".via", "unknown router \"" + rt.via + "\"");
    bool joins_zone = false, joins_to = false;
    for (const auto& itf : via->interfaces) {
      joins_zone = joins_zone || itf.zone == rt.zone;
      joins_to = joins_to || itf.zone == rt.to;
    }
    if (!joins_zone || !joins_to)
      return field_error(f + ".via", "router \"" + rt.via + "\" does not join zones \"" + rt.zone +
                                         "\" and \"" + rt.to + "\"");
  }
  if (!t.default_zone.empty() && zone_names.count(t.default_zone) == 0)
    return field_error("placement.default", "unknown zone \"" + t.default_zone + "\"");
  for (const auto& [host, zone] : t.placement)
    if (zone_names.count(zone) == 0)
      return field_error("placement." + host, "unknown zone \"" + zone + "\"");
  /* Room in every zone for its hosts and router legs. */
  for (size_t i = 0; i < t.zones.size(); ++i) {
    std::size_t n = 0;
    for (const auto& h : hosts) n += zone_of(t, h) == t.zones[i].name ? 1u : 0u;
    for (const auto& r : t.routers)
      for (const auto& itf : r.interfaces) n += itf.zone == t.zones[i].name ? 1u : 0u;
    const std::uint64_t capacity = (std::uint64_t{1} << (32 - subnets[i].first.length)) - 2;
    if (n > capacity)
      return field_error(
          "zones[" + std::to_string(i) + "].subnet",
          "room for " + std::to_string(capacity) + " addresses, " + std::to_string(n) + " needed");
  }
  return Status::Ok();
}

Status check_external_interfaces(const TopologySpec& t) {
  for (size_t i = 0; i < t.zones.size(); ++i) {
    const auto& ext = t.zones[i].external;
    if (ext.empty()) continue;
    if (::if_nametoindex(ext.c_str()) == 0)
      return make_error(ErrorCode::InvalidArgument,
                        "zones[" + std::to_string(i) + "].external: host interface \"" + ext +
                            "\" does not exist",
                        "name an interface of this machine (a NIC or VLAN toward the appliance); "
                        "nothing was built",
                        std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace pgaf::netns
