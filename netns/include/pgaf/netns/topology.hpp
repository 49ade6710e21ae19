/*
 * topology.hpp — a routed lab network: zones (L2 segments, each a bridge in its own namespace,
 * with its own subnet and MTU) joined by router namespaces, instead of the single switch.
 * A vendor describes their network with it (docs/vendor.md): subnets, MTU per link, a
 * bandwidth/loss/latency profile per router link, their nftables ruleset on a router, where the
 * monitor, nodes and clients sit, and optionally a zone bridged to a real host interface.
 *
 * Names and addresses (docs/lab-network.md, "Zones and routers"):
 *   - zone Z: namespace <prefix>z_<Z> with bridge br0; host H in Z: eth0 in <prefix><H>, switch
 *     port sw-<H>; router R: namespace <prefix><R>, one interface per zone named after the zone
 *     (so a ruleset can say iifname "dc1"), switch port sw-<R> in the zone.
 *   - hosts of a zone get network+1, +2, ... in the order given; routers get the top addresses
 *     (broadcast-1, -2, ...) in each zone they join, in router order.
 *   - hosts reach another zone through the first router that joins both (or an explicit route);
 *     no host and no router has a default route: nothing leaves the lab except through a zone's
 *     `external` interface, which the vendor names on purpose.
 *
 * Invariant: validate_topology() is pure (no kernel access) and names the offending field
 * ("zones[1].subnet", "routers[0].interfaces[1].zone"); Network::create runs it and, before
 * building anything, check_external_interfaces() (root namespace lookup).
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pgaf/core/error.hpp"

namespace pgaf::netns {

/* Properties of one link (a router's leg into a zone). Zero/empty means "not set". */
struct LinkProfile {
  int mtu = 0;                                  /* both ends of the link; 0: the zone's MTU */
  std::uint64_t bandwidth_bytes_per_second = 0; /* tbf on both ends (each end's egress) */
  double loss_percent = 0;                      /* nft numgen on the router, both directions */
  std::chrono::milliseconds latency{0}; /* netem on both ends; skipped (warning) without netem */
  std::chrono::milliseconds jitter{0};
};

struct ZoneSpec {
  std::string name;   /* ^[a-z][a-z0-9_]{0,11}$, not "lo" or "eth0" */
  std::string subnet; /* IPv4 CIDR, prefix length 16..29, disjoint from the other zones */
  int mtu = 1500;     /* 576..9000: every host link of the zone */
  /* A host interface (root namespace) moved into the zone's namespace and enslaved to its bridge
   * for the run, then moved back. Empty: none. */
  std::string external;
};

struct RouterInterfaceSpec {
  std::string zone;
  LinkProfile link;
};

struct RouterSpec {
  std::string name;                            /* a host-name-like name, distinct from every host */
  std::vector<RouterInterfaceSpec> interfaces; /* at least 2 zones, each at most once */
  /* nftables script (the vendor's firewall policy) loaded in the router's namespace after its
   * interfaces are up. Preceded by `define pgaf_<zone>_net = <subnet>` for every zone. */
  std::string ruleset;
  std::string ruleset_source; /* file name, for messages */
};

/* Hosts of `zone` reach `to` through router `via` (instead of the first router joining both). */
struct RouteSpec {
  std::string zone;
  std::string to;
  std::string via;
};

struct TopologySpec {
  std::vector<ZoneSpec> zones;
  std::vector<RouterSpec> routers;
  std::vector<RouteSpec> routes;
  /* host -> zone; hosts not listed go to default_zone (empty: the first zone). */
  std::map<std::string, std::string> placement;
  std::string default_zone;
};

/* Limits. */
inline constexpr std::size_t kMaxZones = 8;
inline constexpr std::size_t kMaxRouters = 8;

/* Pure validation (names the field). `hosts`: the host names that will be placed. */
Status validate_topology(const TopologySpec& topology, const std::vector<std::string>& hosts);

/* Every `external` interface exists in the root namespace and is not a lab link; NotFound is
 * reported as InvalidArgument naming "zones[i].external". Needs no root. */
Status check_external_interfaces(const TopologySpec& topology);

/* The zone of a host under this topology (placement or default). */
std::string zone_of(const TopologySpec& topology, const std::string& host);

/* A router as built. */
struct Router {
  std::string name;
  std::string netns;                            /* <prefix><name> */
  std::map<std::string, std::string> addresses; /* zone -> address in that zone */
};

/* A zone as built. */
struct Zone {
  std::string name;
  std::string netns; /* <prefix>z_<name>, or <prefix>switch for the single-switch network */
  std::string subnet;
  int mtu = 1500;
  std::string external;
};

}  // namespace pgaf::netns
