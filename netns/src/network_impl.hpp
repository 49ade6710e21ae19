/*
 * network_impl.hpp — the state behind a Network (not installed): namespaces and their handles,
 * zones and routers as built, the faults in force. Shared by network.cpp (hosts, host faults),
 * topology.cpp (building single-switch and zoned networks) and zone_faults.cpp (router faults).
 *
 * Invariants:
 *   - every member is guarded by `mu`, except where noted; callers hold it while they use the
 *     namespace handles;
 *   - `namespaces` lists every namespace created, in creation order, so destroy_locked() removes
 *     exactly those (and moves external interfaces back to the root namespace first);
 *   - a host's `switch_netns` is the namespace of its zone's bridge (one per zone).
 */
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "internal.hpp"
#include "pgaf/netns/network.hpp"
#include "pgaf/netns/topology.hpp"

namespace pgaf::netns {

namespace detail {

struct Subnet {
  std::uint32_t network = 0; /* host byte order */
  int length = 0;
  std::uint32_t broadcast() const { return network | ~(~std::uint32_t{0} << (32 - length)); }
};
Result<Subnet> parse_subnet(const std::string& cidr);
std::string ipv4_text(std::uint32_t host_order);
std::string join(const std::vector<std::string>& v, const char* sep);
void disable_ipv6_here();
const RouterSpec* router_joining(const TopologySpec& t, const std::string& a, const std::string& b);
const RouterSpec* router_named(const TopologySpec& t, const std::string& name);
/* Conntrack flush (ctnetlink IPCTNL_MSG_CT_DELETE without attributes) in this thread's netns. */
Status ct_flush();

inline constexpr const char* kBridge = "br0";
inline constexpr const char* kHostIf = "eth0";
inline constexpr std::chrono::milliseconds kLinkUpTimeout{5000};

}  // namespace detail

class NetworkImpl {
 public:
  struct FaultRecord {
    std::string description;
    std::function<Status()> heal;
    std::vector<std::string> busy_keys;
  };
  struct ZoneState {
    Zone info;
    detail::Subnet subnet;
    UniqueFd fd;
  };
  struct RouterState {
    Router info;
    std::vector<RouterInterfaceSpec> interfaces;
    UniqueFd fd;
  };

  mutable std::mutex mu;
  std::string prefix;
  std::string subnet; /* the first zone's */
  std::vector<Host> hosts;
  std::map<std::string, UniqueFd, std::less<>> host_fds;
  std::vector<ZoneState> zones;
  std::vector<RouterState> routers;
  /* "zone>to" -> router the hosts of zone use to reach `to` now */
  std::map<std::string, std::string> route_via;
  std::vector<std::string> warnings;
  std::vector<Zone> zone_list; /* copies of zones[].info, routers[].info (public accessors) */
  std::vector<Router> router_list;
  /* external interfaces moved into zone namespaces: (zone, interface) */
  std::vector<std::pair<std::string, std::string>> externals;
  UniqueFd root_ns; /* the creator's network namespace, where external interfaces return */
  std::vector<std::string> namespaces; /* created, in creation order */
  bool destroyed = false;
  std::uint64_t next_fault = 1;
  std::map<std::uint64_t, FaultRecord> faults;
  std::set<std::string> busy;

  std::string switch_ns() const { return zones.empty() ? prefix + "switch" : zones[0].info.netns; }

  const Host* find(std::string_view name) const {
    for (const auto& h : hosts)
      if (h.name == name) return &h;
    return nullptr;
  }
  ZoneState* zone(std::string_view name) {
    for (auto& z : zones)
      if (z.info.name == name) return &z;
    return nullptr;
  }
  RouterState* router(std::string_view name) {
    for (auto& r : routers)
      if (r.info.name == name) return &r;
    return nullptr;
  }

  Result<const Host*> need(std::string_view name) const {
    if (destroyed)
      return make_error(ErrorCode::BadState, "network \"" + prefix + "\" is destroyed");
    const Host* h = find(name);
    if (h == nullptr)
      return make_error(ErrorCode::UnknownNode,
                        "host \"" + std::string(name) + "\" is not in network \"" + prefix + "\"");
    return h;
  }

  Status in_host(const Host& h, const std::function<Status()>& fn) const {
    auto it = host_fds.find(h.name);
    PGAF_ASSERT(it != host_fds.end(), "every host has a namespace handle");
    return detail::on_thread_in(it->second.get(), h.netns, fn);
  }
  /* The namespace of the host's zone bridge. */
  Status in_switch(const Host& h, const std::function<Status()>& fn) const {
    for (const auto& z : zones)
      if (z.info.name == h.zone) return detail::on_thread_in(z.fd.get(), z.info.netns, fn);
    PGAF_ASSERT(false, "every host is in a zone");
    return Status::Ok();
  }
  /* Run in the namespace that holds `link`: host namespace for eth0, its zone's for its port. */
  Status in_side(const Host& h, bool switch_side, const std::function<Status()>& fn) const {
    return switch_side ? in_switch(h, fn) : in_host(h, fn);
  }

  Result<std::pair<Host, UniqueFd>> entry(std::string_view name) const;
  Status heal(std::uint64_t id);
  bool active(std::uint64_t id) const;
  Status claim(const std::vector<std::string>& keys) const;
  Fault record(const std::shared_ptr<NetworkImpl>& self, std::string description,
               std::function<Status()> heal_fn, std::vector<std::string> keys);
  /* Build every namespace, link, address, route and ruleset (topology.cpp). On failure the
   * caller runs destroy_locked(). `topology` is the single-switch one for a plain spec. */
  Status build(const NetworkSpec& spec, const TopologySpec& topology);
  Status destroy_locked();
};

}  // namespace pgaf::netns
