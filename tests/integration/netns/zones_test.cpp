/*
 * zones_test.cpp — routed lab networks (topology.hpp) on the real kernel (root only; the pure
 * validation tests run anywhere): two zones joined by a router that applies a vendor's nftables
 * ruleset, cross-zone partitions, an MTU black hole, the loss of a firewall's state table,
 * asymmetric routing, and a zone bridged to an external interface (a veth standing in for a NIC).
 *
 * Each test uses its own prefix ("pgaf-tn<pid><tag>-") and subnets 198.18.2x.0/24; traffic only
 * flows between the lab's own namespaces. Invariant: every test leaves no namespace with its
 * prefix (checked in TearDown) and no interface in the root namespace it created.
 */
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "pgaf/netns/network.hpp"
#include "pgaf/netns/reaper.hpp"
#include "pgaf/netns/topology.hpp"

using namespace std::chrono_literals;
using pgaf::ErrorCode;
using pgaf::netns::Action;
using pgaf::netns::ConnectOutcome;
using pgaf::netns::Network;
using pgaf::netns::NetworkSpec;
using pgaf::netns::RouterInterfaceSpec;
using pgaf::netns::RouterSpec;
using pgaf::netns::TopologySpec;
using pgaf::netns::UniqueFd;
using pgaf::netns::ZoneSpec;

namespace {

constexpr auto kFail = 300ms; /* bound of connects expected to fail */
constexpr auto kOk = 2000ms;  /* bound of connects expected to succeed */
constexpr std::uint16_t kAllowed = 5432;
constexpr std::uint16_t kForbidden = 6000;

/* A stateful vendor policy: only Postgres from zone to zone, new connections must start with a
 * SYN, replies only inside tracked connections. */
constexpr const char* kRuleset = R"(table inet vendor {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    ip saddr $pgaf_dc1_net ip daddr $pgaf_dc2_net tcp dport 5432 tcp flags & (syn|ack) == syn ct state new accept
    ip saddr $pgaf_dc2_net ip daddr $pgaf_dc1_net tcp dport 5432 tcp flags & (syn|ack) == syn ct state new accept
  }
}
)";

TopologySpec two_zones(int routers, const std::string& ruleset) {
  TopologySpec t;
  t.zones = {ZoneSpec{"dc1", "198.18.21.0/24", 1500, {}},
             ZoneSpec{"dc2", "198.18.22.0/24", 1500, {}}};
  for (int i = 1; i <= routers; ++i) {
    RouterSpec r;
    r.name = "fw" + std::to_string(i);
    r.interfaces = {RouterInterfaceSpec{"dc1", {}}, RouterInterfaceSpec{"dc2", {}}};
    r.ruleset = ruleset;
    r.ruleset_source = "test.nft";
    t.routers.push_back(r);
  }
  t.placement = {{"monitor", "dc1"}, {"node1", "dc1"}, {"node2", "dc2"}};
  return t;
}

class ZonesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string tag = "z";
    for (char c : std::string(info->name()))
      if (std::isalnum(static_cast<unsigned char>(c)) && tag.size() < 8)
        tag += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    prefix_ = "pgaf-tn" + std::to_string(::getpid()) + tag + "-";
    pgaf::netns::ReapOptions all;
    all.include_live = true;
    ASSERT_TRUE(pgaf::netns::reap(prefix_, all).ok());
  }
  void TearDown() override {
    if (prefix_.empty()) return;
    listeners_.clear();
    EXPECT_TRUE(net_.destroy().ok());
    EXPECT_TRUE(pgaf::netns::list_namespaces(prefix_).empty());
  }
  void build(TopologySpec t, std::vector<std::string> hosts = {"monitor", "node1", "node2"}) {
    NetworkSpec spec;
    spec.prefix = prefix_;
    spec.hosts = std::move(hosts);
    spec.topology = std::move(t);
    auto net = Network::create(spec);
    ASSERT_TRUE(net.ok()) << net.error().to_string();
    net_ = std::move(net).value();
    for (const auto& h : net_.hosts())
      for (std::uint16_t port : {kAllowed, kForbidden}) {
        auto l = net_.tcp_listen(h.name, port);
        ASSERT_TRUE(l.ok()) << l.error().to_string();
        listeners_.push_back(std::move(l).value());
      }
  }
  ConnectOutcome connect(const std::string& from, const std::string& to, std::uint16_t port,
                         std::chrono::milliseconds timeout) {
    return net_.tcp_connect(from, net_.host(to)->address, port, timeout).outcome;
  }
  std::string prefix_;
  Network net_;
  std::vector<UniqueFd> listeners_;
};

/* Bytes readable on fd within `wait`. */
std::size_t drain(int fd, std::chrono::milliseconds wait) {
  std::size_t got = 0;
  char buf[4096];
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, static_cast<int>(wait.count())) == 1) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

TEST_F(ZonesTest, TwoZonesWithARouterApplyTheVendorRuleset) {
  build(two_zones(1, kRuleset));
  EXPECT_EQ(net_.host("node1")->address, "198.18.21.2");
  EXPECT_EQ(net_.host("node2")->address, "198.18.22.1");
  EXPECT_EQ(net_.host("node2")->zone, "dc2");
  ASSERT_EQ(net_.routers().size(), 1u);
  EXPECT_EQ(net_.routers()[0].addresses.at("dc1"), "198.18.21.254");
  EXPECT_EQ(net_.routers()[0].addresses.at("dc2"), "198.18.22.254");
  EXPECT_TRUE(net_.warnings().empty());
  /* Hermetic: two links per host, a route to the other zone, none out of the lab. */
  EXPECT_EQ(*net_.links("node1"), (std::vector<std::string>{"eth0", "lo"}));
  EXPECT_EQ(*net_.route_get("node1", "198.18.22.1"), "eth0");
  EXPECT_FALSE(net_.route_get("node1", "192.0.2.1").ok());
  /* What the ruleset allows passes, both ways; what it does not is dropped. */
  EXPECT_EQ(connect("node1", "node2", kAllowed, kOk), ConnectOutcome::Connected);
  EXPECT_EQ(connect("node2", "monitor", kAllowed, kOk), ConnectOutcome::Connected);
  EXPECT_EQ(connect("node1", "node2", kForbidden, kFail), ConnectOutcome::TimedOut);
  EXPECT_EQ(connect("node2", "node1", kForbidden, kFail), ConnectOutcome::TimedOut);
  /* Inside a zone the router is not in the path. */
  EXPECT_EQ(connect("node1", "monitor", kForbidden, kOk), ConnectOutcome::Connected);
}

TEST_F(ZonesTest, ZonePartitionCutsOnlyCrossZoneTraffic) {
  build(two_zones(1, ""));
  auto cut = net_.zone_partition("dc1", "dc2", Action::Reject);
  ASSERT_TRUE(cut.ok()) << cut.error().to_string();
  EXPECT_EQ(connect("node1", "node2", kAllowed, kFail), ConnectOutcome::Refused);
  EXPECT_EQ(connect("node1", "monitor", kAllowed, kOk), ConnectOutcome::Connected);
  ASSERT_TRUE(cut->heal().ok());
  EXPECT_EQ(connect("node1", "node2", kAllowed, kOk), ConnectOutcome::Connected);
}

TEST_F(ZonesTest, AsymmetricRoutingThroughAStatefulFirewallBreaksConnections) {
  build(two_zones(2, kRuleset));
  EXPECT_EQ(connect("node1", "node2", kAllowed, kOk), ConnectOutcome::Connected);
  /* Replies from dc2 now return through fw2, which never saw the SYN. */
  auto asym = net_.reroute("dc2", "dc1", "fw2");
  ASSERT_TRUE(asym.ok()) << asym.error().to_string();
  EXPECT_EQ(connect("node1", "node2", kAllowed, kFail), ConnectOutcome::TimedOut);
  ASSERT_TRUE(asym->heal().ok());
  EXPECT_EQ(connect("node1", "node2", kAllowed, kOk), ConnectOutcome::Connected);
  EXPECT_FALSE(net_.reroute("dc2", "dc1", "nosuch").ok());
}

TEST_F(ZonesTest, FirewallStateTableLossStallsEstablishedConnections) {
  build(two_zones(1, kRuleset));
  auto c = net_.tcp_connect("node1", net_.host("node2")->address, kAllowed, kOk);
  ASSERT_EQ(c.outcome, ConnectOutcome::Connected);
  UniqueFd server;
  const int listener = listeners_[4].get(); /* node2, port 5432 (hosts in order, 2 ports each) */
  pollfd p{listener, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  server.reset(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(server);
  ASSERT_EQ(::send(c.fd.get(), "before", 6, MSG_NOSIGNAL), 6);
  EXPECT_EQ(drain(server.get(), 1000ms), 6u);
  ASSERT_TRUE(net_.firewall_reset("fw1").ok());
  /* Mid-stream packets are "new" without SYN for the emptied table: dropped. */
  ASSERT_EQ(::send(c.fd.get(), "after", 5, MSG_NOSIGNAL), 5);
  EXPECT_EQ(drain(server.get(), 500ms), 0u);
  EXPECT_EQ(connect("node1", "node2", kAllowed, kOk), ConnectOutcome::Connected);
  EXPECT_FALSE(net_.firewall_reset("nosuch").ok());
}

/* Send one UDP datagram of `size` bytes with DF from `from` to `to`; true if it arrived. */
bool df_datagram_arrives(Network& net, const std::string& from, const std::string& to,
                         std::size_t size) {
  const std::string dst_addr = net.host(to)->address;
  UniqueFd rx, tx;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(7100);
  ::inet_pton(AF_INET, dst_addr.c_str(), &sa.sin_addr);
  EXPECT_TRUE(net.run_in(to,
                         [&] {
                           rx.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
                           if (::bind(rx.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
                             throw std::runtime_error("bind failed");
                         })
                  .ok());
  EXPECT_TRUE(net.run_in(from,
                         [&] {
                           tx.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
                           int df = IP_PMTUDISC_DO;
                           ::setsockopt(tx.get(), IPPROTO_IP, IP_MTU_DISCOVER, &df, sizeof df);
                         })
                  .ok());
  std::vector<char> payload(size, 'x');
  for (int i = 0; i < 3; ++i)
    (void)::sendto(tx.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&sa),
                   sizeof sa);
  return drain(rx.get(), 300ms) > 0;
}

TEST_F(ZonesTest, PathMtuBlackHolesLargeDfPackets) {
  build(two_zones(1, ""));
  EXPECT_TRUE(df_datagram_arrives(net_, "node1", "node2", 1400));
  auto hole = net_.path_mtu("fw1", "dc2", 1280);
  ASSERT_TRUE(hole.ok()) << hole.error().to_string();
  EXPECT_TRUE(df_datagram_arrives(net_, "node1", "node2", 500));
  EXPECT_FALSE(df_datagram_arrives(net_, "node1", "node2", 1400)); /* router -> dc2, no ICMP */
  EXPECT_FALSE(df_datagram_arrives(net_, "node2", "node1", 1400)); /* dc2 -> router: bridge */
  EXPECT_TRUE(df_datagram_arrives(net_, "node2", "node1", 500));
  EXPECT_FALSE(net_.path_mtu("fw1", "dc2", 1200).ok()); /* one MTU fault per leg */
  ASSERT_TRUE(hole->heal().ok());
  EXPECT_TRUE(df_datagram_arrives(net_, "node1", "node2", 1400));
  EXPECT_TRUE(df_datagram_arrives(net_, "node2", "node1", 1400));
}

/* ---- external interface: a veth in the root namespace stands in for the NIC ---- */

struct NlSock {
  nl_sock* sk = nl_socket_alloc();
  NlSock() { nl_connect(sk, NETLINK_ROUTE); }
  ~NlSock() { nl_socket_free(sk); }
};

int make_veth(const std::string& name, const std::string& peer, int peer_ns) {
  NlSock s;
  rtnl_link* veth = rtnl_link_veth_alloc();
  rtnl_link_set_name(veth, name.c_str());
  rtnl_link* p = rtnl_link_veth_get_peer(veth);
  rtnl_link_set_name(p, peer.c_str());
  rtnl_link_set_ns_fd(p, peer_ns);
  int err = rtnl_link_add(s.sk, veth, NLM_F_CREATE | NLM_F_EXCL);
  rtnl_link_put(p);
  rtnl_link_put(veth);
  return err;
}

int configure(const std::string& link, const std::string& cidr) {
  NlSock s;
  rtnl_link* l = nullptr;
  if (int err = rtnl_link_get_kernel(s.sk, 0, link.c_str(), &l); err < 0) return err;
  rtnl_link* change = rtnl_link_alloc();
  rtnl_link_set_flags(change, IFF_UP);
  int err = rtnl_link_change(s.sk, l, change, 0);
  rtnl_link_put(change);
  nl_addr* local = nullptr;
  nl_addr_parse(cidr.c_str(), AF_INET, &local);
  rtnl_addr* a = rtnl_addr_alloc();
  rtnl_addr_set_ifindex(a, rtnl_link_get_ifindex(l));
  rtnl_addr_set_local(a, local);
  if (err >= 0) err = rtnl_addr_add(s.sk, a, 0);
  rtnl_addr_put(a);
  nl_addr_put(local);
  rtnl_link_put(l);
  return err;
}

void delete_root_link(const std::string& name) {
  NlSock s;
  rtnl_link* l = rtnl_link_alloc();
  rtnl_link_set_name(l, name.c_str());
  (void)rtnl_link_delete(s.sk, l);
  rtnl_link_put(l);
}

TEST_F(ZonesTest, ExternalInterfaceZoneReachesTheLabThroughAVeth) {
  /* The "appliance": a host of another lab network, holding the far end of the stand-in NIC. */
  NetworkSpec appl_spec;
  appl_spec.prefix = prefix_.substr(0, prefix_.size() - 1) + "a-";
  appl_spec.subnet = "198.18.29.0/24";
  appl_spec.hosts = {"appl"};
  auto appl = Network::create(appl_spec);
  ASSERT_TRUE(appl.ok()) << appl.error().to_string();
  const std::string nic = "pgaf-tn" + std::to_string(::getpid() % 10000000) + "x";
  delete_root_link(nic);
  auto appl_ns = appl->open_netns("appl");
  ASSERT_TRUE(appl_ns.ok());
  ASSERT_GE(make_veth(nic, "ext0", appl_ns->get()), 0);
  int cfg = -1;
  ASSERT_TRUE(appl->run_in("appl", [&] { cfg = configure("ext0", "198.18.23.100/24"); }).ok());
  ASSERT_GE(cfg, 0);

  TopologySpec t = two_zones(1, "");
  t.zones.push_back(ZoneSpec{"ext", "198.18.23.0/24", 1500, nic});
  t.routers[0].interfaces.push_back(RouterInterfaceSpec{"ext", {}});
  t.placement["node2"] = "ext";
  build(t);
  EXPECT_EQ(net_.host("node2")->address, "198.18.23.1");
  EXPECT_EQ(::if_nametoindex(nic.c_str()), 0u) << "the NIC lives in the zone during the run";
  auto c = appl->tcp_connect("appl", "198.18.23.1", kAllowed, kOk);
  EXPECT_EQ(c.outcome, ConnectOutcome::Connected) << pgaf::netns::to_string(c.outcome);
  /* And the lab reaches the appliance through the zone. */
  EXPECT_EQ(
      net_.tcp_connect("node2", "198.18.23.100", kForbidden, kFail).outcome,
      ConnectOutcome::Refused); /* nothing listens there: a reset came back, so it is reachable */

  listeners_.clear();
  ASSERT_TRUE(net_.destroy().ok());
  EXPECT_NE(::if_nametoindex(nic.c_str()), 0u) << "the NIC is returned to the host";
  delete_root_link(nic);
  EXPECT_EQ(::if_nametoindex(nic.c_str()), 0u);
}

TEST_F(ZonesTest, UnknownExternalInterfaceIsRejectedBeforeAnythingIsBuilt) {
  TopologySpec t = two_zones(1, "");
  t.zones[1].external = "pgaf-nosuch0";
  NetworkSpec spec;
  spec.prefix = prefix_;
  spec.hosts = {"monitor", "node1", "node2"};
  spec.topology = t;
  auto net = Network::create(spec);
  ASSERT_FALSE(net.ok());
  EXPECT_EQ(net.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(net.error().message.find("zones[1].external"), std::string::npos)
      << net.error().to_string();
  EXPECT_NE(net.error().message.find("pgaf-nosuch0"), std::string::npos);
  EXPECT_TRUE(pgaf::netns::list_namespaces(prefix_).empty());
}

TEST_F(ZonesTest, ARulesetNftablesRefusesNamesTheRouterAndFile) {
  NetworkSpec spec;
  spec.prefix = prefix_;
  spec.hosts = {"monitor", "node1", "node2"};
  spec.topology = two_zones(1, "table inet vendor { chain forward { bogus } }\n");
  auto net = Network::create(spec);
  ASSERT_FALSE(net.ok());
  EXPECT_NE(net.error().message.find("router \"fw1\""), std::string::npos)
      << net.error().to_string();
  EXPECT_NE(net.error().message.find("test.nft"), std::string::npos);
  EXPECT_TRUE(pgaf::netns::list_namespaces(prefix_).empty());
}

/* ---- pure validation (no root) ---- */

TEST(ZonesValidation, NamesTheField) {
  const std::vector<std::string> hosts{"monitor", "node1", "node2"};
  auto field_of = [&](const TopologySpec& t) {
    auto st = pgaf::netns::validate_topology(t, hosts);
    return st.ok() ? std::string("ok") : st.error().message.substr(0, st.error().message.find(':'));
  };
  EXPECT_EQ(field_of(two_zones(1, "")), "ok");
  TopologySpec t = two_zones(1, "");
  t.zones[1].subnet = "198.18.21.128/25";
  EXPECT_EQ(field_of(t), "zones[1].subnet"); /* overlaps dc1 */
  t = two_zones(1, "");
  t.zones[0].mtu = 100;
  EXPECT_EQ(field_of(t), "zones[0].mtu");
  t = two_zones(1, "");
  t.routers[0].interfaces[1].zone = "dc9";
  EXPECT_EQ(field_of(t), "routers[0].zones[1]");
  t = two_zones(1, "");
  t.routers[0].interfaces.pop_back();
  EXPECT_EQ(field_of(t), "routers[0].zones");
  t = two_zones(1, "");
  t.routers[0].name = "node1";
  EXPECT_EQ(field_of(t), "routers[0].name");
  t = two_zones(1, "");
  t.placement["node2"] = "mars";
  EXPECT_EQ(field_of(t), "placement.node2");
  t = two_zones(1, "");
  t.routes.push_back({"dc1", "dc2", "fw9"});
  EXPECT_EQ(field_of(t), "routes[0].via");
  t = two_zones(1, "");
  t.routers[0].interfaces[0].link.bandwidth_bytes_per_second = 1000;
  t.routers[0].interfaces[0].link.latency = 5ms;
  EXPECT_EQ(field_of(t), "routers[0].zones[0]");
}

}  // namespace
