/*
 * topology.cpp — building a network: the single switch or zones joined by routers
 * (topology.hpp), and the pure validation of a topology.
 *
 * Order of construction (all-or-nothing: Network::create destroys what was made on failure):
 * owner file; namespaces (zones, hosts, routers); loopback, IPv6 off and sysctls (routers
 * forward); per zone its bridge, one veth per host and per router leg (peer born in the host's or
 * router's namespace, so no veth end ever exists in the root namespace), external interfaces
 * moved in and enslaved; host addresses, MTU, conntrack table and routes to the other zones;
 * router addresses, the vendor's ruleset and the link profiles; a bounded wait until every link
 * is operationally up.
 * Invariant: no host and no router gets a default route; the only way out of a zone is an
 * interface the profile names in `external`.
 */
#include "pgaf/netns/topology.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>

#include "network_impl.hpp"

namespace pgaf::netns {

using namespace detail;

namespace detail {

void disable_ipv6_here() {
  set_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
  set_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
}

}  // namespace detail

namespace {

constexpr const char* kBaseTable =
    "table inet pgaf_base {\n"
    "  chain input { type filter hook input priority 0; policy accept; ct state invalid counter; "
    "}\n"
    "  chain output { type filter hook output priority 0; policy accept; ct state invalid counter; "
    "}\n"
    "}\n";

}  // namespace

/* ---- building ---- */

namespace {

Status add_link_profile(NetworkImpl& impl, NetworkImpl::RouterState& r, NetworkImpl::ZoneState& z,
                        const LinkProfile& link) {
  const std::string leg = r.info.name + "/" + z.info.name;
  const std::string port = "sw-" + r.info.name;
  auto both_ends = [&](const QdiscSpec& q) -> Status {
    if (Status st = on_thread_in(r.fd.get(), r.info.netns,
                                 [&] { return nl_add_root_qdisc(z.info.name, q); });
        !st.ok())
      return st;
    return on_thread_in(z.fd.get(), z.info.netns, [&] { return nl_add_root_qdisc(port, q); });
  };
  if (link.bandwidth_bytes_per_second != 0) {
    QdiscSpec q;
    q.kind = "tbf";
    q.rate_bytes_per_second = link.bandwidth_bytes_per_second;
    if (Status st = both_ends(q); !st.ok()) {
      Error e = st.error();
      e.message = "link " + leg + ": bandwidth: " + e.message;
      return e;
    }
  }
  if (link.latency.count() > 0) {
    QdiscSpec q;
    q.kind = "netem";
    q.delay_us = static_cast<std::uint32_t>(link.latency.count() * 1000);
    q.jitter_us = static_cast<std::uint32_t>(link.jitter.count() * 1000);
    Status st = both_ends(q);
    if (!st.ok() && st.error().code == ErrorCode::Unsupported) {
      /* Undo a half-applied pair, then carry on without the latency: said, never silent. */
      (void)on_thread_in(r.fd.get(), r.info.netns,
                         [&] { return nl_delete_root_qdisc(z.info.name); });
      impl.warnings.push_back("latency " + std::to_string(link.latency.count()) + " ms on link " +
                              leg + " skipped: this kernel has no netem qdisc (sch_netem)");
    } else if (!st.ok()) {
      Error e = st.error();
      e.message = "link " + leg + ": latency: " + e.message;
      return e;
    }
  }
  if (link.loss_percent > 0) {
    const long per10k = std::max(1L, std::lround(link.loss_percent * 100.0));
    const std::string cond = per10k >= 10000
                                 ? std::string("drop")
                                 : "numgen random mod 10000 < " + std::to_string(per10k) + " drop";
    const std::string script = "table inet pgaf_link_" + z.info.name +
                               " {\n  chain forward {\n    type filter hook forward priority "
                               "-200; policy accept;\n    iifname \"" +
                               z.info.name + "\" " + cond + "\n    oifname \"" + z.info.name +
                               "\" " + cond + "\n  }\n}\n";
    Status st = on_thread_in(r.fd.get(), r.info.netns, [&]() -> Status {
      auto out = nft_run(script);
      return out.ok() ? Status::Ok() : Status(out.error());
    });
    if (!st.ok()) {
      Error e = st.error();
      e.message = "link " + leg + ": loss: " + e.message;
      return e;
    }
  }
  return Status::Ok();
}

std::string ruleset_defines(const NetworkImpl& impl) {
  std::string d;
  for (const auto& z : impl.zones)
    d += "define pgaf_" + z.info.name + "_net = " + z.info.subnet + "\n";
  return d;
}

}  // namespace

Status NetworkImpl::build(const NetworkSpec& spec, const TopologySpec& t) {
  const bool single_switch = !spec.topology.has_value();
  if (int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC); fd >= 0)
    root_ns = UniqueFd(fd);
  else
    return sys_error(ErrorCode::Internal, "could not open this thread's network namespace", errno);
  if (auto st = write_owner_file(prefix); !st.ok()) return st;

  /* Zones and their namespaces. */
  for (const auto& zs : t.zones) {
    ZoneState z;
    auto s = parse_subnet(zs.subnet);
    PGAF_ASSERT(s.ok(), "subnets are validated");
    z.subnet = *s;
    z.info.name = zs.name;
    z.info.netns = single_switch ? prefix + "switch" : prefix + "z_" + zs.name;
    z.info.subnet = ipv4_text(s->network) + "/" + std::to_string(s->length);
    z.info.mtu = zs.mtu;
    z.info.external = zs.external;
    if (auto st = create_named_netns(z.info.netns); !st.ok()) return st;
    namespaces.push_back(z.info.netns);
    auto fd = open_named_netns(z.info.netns);
    if (!fd.ok()) return fd.error();
    z.fd = std::move(fd).value();
    zones.push_back(std::move(z));
  }
  subnet = zones.front().info.subnet;

  /* Hosts: addresses from the bottom of their zone. */
  std::map<std::string, std::uint32_t> used;
  for (const auto& name : spec.hosts) {
    ZoneState* z = zone(zone_of(t, name));
    if (z == nullptr) return make_error(ErrorCode::Internal, "unknown zone for " + name);
    Host h;
    h.name = name;
    h.netns = prefix + name;
    h.address = ipv4_text(z->subnet.network + ++used[z->info.name]);
    h.prefix_length = z->subnet.length;
    h.interface = kHostIf;
    h.switch_port = "sw-" + name;
    h.zone = z->info.name;
    h.switch_netns = z->info.netns;
    hosts.push_back(std::move(h));
  }
  /* Routers: addresses from the top of each zone they join. */
  std::map<std::string, std::uint32_t> top;
  for (const auto& rs : t.routers) {
    RouterState r;
    r.info.name = rs.name;
    r.info.netns = prefix + rs.name;
    r.interfaces = rs.interfaces;
    for (const auto& itf : rs.interfaces) {
      ZoneState* z = zone(itf.zone);
      if (z == nullptr) return make_error(ErrorCode::Internal, "unknown zone " + itf.zone);
      r.info.addresses[itf.zone] = ipv4_text(z->subnet.broadcast() - 1 - top[itf.zone]++);
    }
    routers.push_back(std::move(r));
  }
  for (const auto& h : hosts) {
    if (auto st = create_named_netns(h.netns); !st.ok()) return st;
    namespaces.push_back(h.netns);
    auto fd = open_named_netns(h.netns);
    if (!fd.ok()) return fd.error();
    host_fds.emplace(h.name, std::move(fd).value());
  }
  for (auto& r : routers) {
    if (auto st = create_named_netns(r.info.netns); !st.ok()) return st;
    namespaces.push_back(r.info.netns);
    auto fd = open_named_netns(r.info.netns);
    if (!fd.ok()) return fd.error();
    r.fd = std::move(fd).value();
  }

  /* Loopback up, no IPv6 (links inherit the namespace default), forwarding on routers. */
  for (const auto& h : hosts) {
    Status st = in_host(h, [&] {
      disable_ipv6_here();
      if (!single_switch) {
        set_sysctl("/proc/sys/net/ipv4/conf/all/accept_redirects", "0");
        set_sysctl("/proc/sys/net/ipv4/conf/all/rp_filter", "0");
        set_sysctl("/proc/sys/net/ipv4/conf/default/rp_filter", "0");
      }
      return nl_set_up("lo", true);
    });
    if (!st.ok()) return st;
  }
  for (auto& r : routers) {
    Status st = on_thread_in(r.fd.get(), r.info.netns, [&] {
      disable_ipv6_here();
      set_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
      set_sysctl("/proc/sys/net/ipv4/conf/all/send_redirects", "0");
      set_sysctl("/proc/sys/net/ipv4/conf/default/send_redirects", "0");
      set_sysctl("/proc/sys/net/ipv4/conf/all/rp_filter", "0");
      set_sysctl("/proc/sys/net/ipv4/conf/default/rp_filter", "0");
      return nl_set_up("lo", true);
    });
    if (!st.ok()) return st;
  }

  /* Each zone: bridge, a veth per host and per router leg, the external interface. */
  for (auto& z : zones) {
    for (const auto& h : hosts) {
      if (h.zone != z.info.name) continue;
      const int peer = host_fds[h.name].get();
      Status st = on_thread_in(z.fd.get(), z.info.netns, [&]() -> Status {
        if (auto s = nl_create_veth(h.switch_port, kHostIf, peer); !s.ok()) return s;
        return z.info.mtu != 1500 ? nl_set_mtu(h.switch_port, z.info.mtu) : Status::Ok();
      });
      if (!st.ok()) return st;
    }
    for (auto& r : routers) {
      for (const auto& itf : r.interfaces) {
        if (itf.zone != z.info.name) continue;
        const int mtu = itf.link.mtu != 0 ? itf.link.mtu : z.info.mtu;
        Status st = on_thread_in(z.fd.get(), z.info.netns, [&]() -> Status {
          if (auto s = nl_create_veth("sw-" + r.info.name, z.info.name, r.fd.get()); !s.ok())
            return s;
          return nl_set_mtu("sw-" + r.info.name, mtu);
        });
        if (!st.ok()) return st;
      }
    }
    if (!z.info.external.empty()) {
      const int zfd = z.fd.get();
      const std::string ext = z.info.external;
      Status st = on_thread_in(root_ns.get(), "root", [&] { return nl_move_link(ext, zfd); });
      if (!st.ok()) {
        Error e = st.error();
        e.message = "zone \"" + z.info.name + "\": external interface: " + e.message;
        return e;
      }
      externals.emplace_back(z.info.name, ext);
    }
    Status st = on_thread_in(z.fd.get(), z.info.netns, [&]() -> Status {
      disable_ipv6_here();
      if (auto s = nl_create_bridge(kBridge); !s.ok()) return s;
      if (auto s = nl_set_up(kBridge, true); !s.ok()) return s;
      std::vector<std::string> ports;
      for (const auto& h : hosts)
        if (h.zone == z.info.name) ports.push_back(h.switch_port);
      for (const auto& r : routers)
        if (r.info.addresses.count(z.info.name) != 0) ports.push_back("sw-" + r.info.name);
      if (!z.info.external.empty()) ports.push_back(z.info.external);
      for (const auto& p : ports) {
        if (auto s = nl_set_master(p, kBridge); !s.ok()) return s;
        if (auto s = nl_set_up(p, true); !s.ok()) return s;
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
  }

  /* Host addresses, MTU, conntrack on, routes to the other zones through their router. */
  for (const auto& h : hosts) {
    const ZoneState* hz = zone(h.zone);
    if (hz == nullptr) return make_error(ErrorCode::Internal, "unknown zone " + h.zone);
    std::vector<std::pair<std::string, std::string>> routes; /* subnet, gateway */
    for (const auto& other : zones) {
      if (other.info.name == h.zone) continue;
      const RouterSpec* via = router_joining(t, h.zone, other.info.name);
      for (const auto& rt : t.routes)
        if (rt.zone == h.zone && rt.to == other.info.name) via = router_named(t, rt.via);
      if (via == nullptr) continue; /* no path: the zones never talk */
      route_via[h.zone + ">" + other.info.name] = via->name;
      routes.emplace_back(other.info.subnet, router(via->name)->info.addresses[h.zone]);
    }
    Status hs = in_host(h, [&]() -> Status {
      if (hz->info.mtu != 1500)
        if (auto s = nl_set_mtu(kHostIf, hz->info.mtu); !s.ok()) return s;
      if (auto s = nl_add_address(kHostIf, h.cidr()); !s.ok()) return s;
      if (auto s = nl_set_up(kHostIf, true); !s.ok()) return s;
      if (auto r = nft_run(kBaseTable); !r.ok()) return r.error();
      for (const auto& [dst, gw] : routes)
        if (auto s = nl_add_route(dst, gw, false); !s.ok()) return s;
      return Status::Ok();
    });
    if (!hs.ok()) {
      Error e = hs.error();
      e.message = "could not configure host \"" + h.name + "\": " + e.message;
      return e;
    }
  }

  /* Routers: a leg per zone, then the vendor's ruleset, then the link profiles. */
  for (std::size_t i = 0; i < routers.size(); ++i) {
    RouterState& r = routers[i];
    Status st = on_thread_in(r.fd.get(), r.info.netns, [&]() -> Status {
      for (const auto& itf : r.interfaces) {
        const ZoneState* z = zone(itf.zone);
        if (z == nullptr) return make_error(ErrorCode::Internal, "unknown zone " + itf.zone);
        const int mtu = itf.link.mtu != 0 ? itf.link.mtu : z->info.mtu;
        if (auto s = nl_set_mtu(itf.zone, mtu); !s.ok()) return s;
        const std::string cidr =
            r.info.addresses[itf.zone] + "/" + std::to_string(z->subnet.length);
        if (auto s = nl_add_address(itf.zone, cidr); !s.ok()) return s;
        if (auto s = nl_set_up(itf.zone, true); !s.ok()) return s;
      }
      if (!t.routers[i].ruleset.empty()) {
        auto out = nft_run(ruleset_defines(*this) + t.routers[i].ruleset);
        if (!out.ok()) {
          Error e = out.error();
          e.message = "ruleset \"" + t.routers[i].ruleset_source + "\" was refused: " + e.message;
          e.hint = "check it with `nft -c -f FILE`; zone subnets are $pgaf_<zone>_net";
          return e;
        }
      }
      return Status::Ok();
    });
    if (!st.ok()) {
      Error e = st.error();
      e.message = "router \"" + r.info.name + "\": " + e.message;
      return e;
    }
    for (const auto& itf : r.interfaces) {
      ZoneState* z = zone(itf.zone);
      if (z == nullptr) return make_error(ErrorCode::Internal, "unknown zone " + itf.zone);
      if (Status lp = add_link_profile(*this, r, *z, itf.link); !lp.ok()) return lp;
    }
  }

  /* Bounded wait until every link is operationally up (a fresh link drops packets until the
   * kernel's linkwatch ran). */
  for (const auto& h : hosts) {
    Status up = in_host(h, [&] { return nl_wait_oper_up({kHostIf}, kLinkUpTimeout); });
    if (!up.ok()) return up;
  }
  for (auto& r : routers) {
    std::vector<std::string> legs;
    for (const auto& itf : r.interfaces) legs.push_back(itf.zone);
    Status up = on_thread_in(r.fd.get(), r.info.netns,
                             [&] { return nl_wait_oper_up(legs, kLinkUpTimeout); });
    if (!up.ok()) return up;
  }
  for (auto& z : zones) {
    std::vector<std::string> links{kBridge};
    for (const auto& h : hosts)
      if (h.zone == z.info.name) links.push_back(h.switch_port);
    for (const auto& r : routers)
      if (r.info.addresses.count(z.info.name) != 0) links.push_back("sw-" + r.info.name);
    Status up = on_thread_in(z.fd.get(), z.info.netns,
                             [&] { return nl_wait_oper_up(links, kLinkUpTimeout); });
    if (!up.ok()) return up;
  }
  for (const auto& z : zones) zone_list.push_back(z.info);
  for (const auto& r : routers) router_list.push_back(r.info);
  return Status::Ok();
}

}  // namespace pgaf::netns
