/*
 * netns_test.cpp — integration tests of pgaf_netns on the real kernel (root only).
 *
 * Each test builds its own network with a prefix unique to the process and the test
 * ("pgaf-tn<pid><tag>-"), so ctest may run them in parallel with each other and with the lab's
 * tests; the ctest fixture netns.reap_leftovers_* reaps dead "pgaf-tn" leftovers before and after.
 * Traffic only flows between addresses inside those namespaces; the "no route out" test asks the
 * kernel for a route (RTM_GETROUTE) and sends nothing. Every wait is bounded: connects use a 300 ms
 * timeout, processes are waited for at most a few seconds. Invariant: every test leaves no
 * namespace with its prefix behind (checked in TearDown).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory> /* before Boost.Process */
#include <sstream>
#include <thread>

// clang-format off
#include <boost/process.hpp>
// clang-format on
#include <gtest/gtest.h>

#include "pgaf/netns/boost_process.hpp"
#include "pgaf/netns/capabilities.hpp"
#include "pgaf/netns/network.hpp"
#include "pgaf/netns/reaper.hpp"

using namespace std::chrono_literals;
using pgaf::ErrorCode;
using pgaf::netns::Action;
using pgaf::netns::ConnectOutcome;
using pgaf::netns::Direction;
using pgaf::netns::LinkSide;
using pgaf::netns::Network;
using pgaf::netns::NetworkSpec;
using pgaf::netns::PartitionSpec;

namespace {

constexpr auto kConnectTimeout = 300ms;  /* bound of connects expected to fail */
constexpr auto kSuccessTimeout = 2000ms; /* bound of connects expected to succeed */
constexpr std::uint16_t kPort = 5432;

#define REQUIRE_ROOT()                                                       \
  do {                                                                       \
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)"; \
  } while (0)

std::string unique_prefix(const std::string& tag) {
  return "pgaf-tn" + std::to_string(::getpid()) + tag + "-";
}

ino_t netns_inode_of(const std::string& proc_path) {
  struct stat st {};
  if (::stat(proc_path.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string tag;
    for (char c : std::string(info->name()))
      if (std::isalnum(static_cast<unsigned char>(c)) && tag.size() < 10)
        tag += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    prefix_ = unique_prefix(tag);
    pgaf::netns::ReapOptions all;
    all.include_live = true; /* our own pid: anything left is from an earlier, crashed process */
    ASSERT_TRUE(pgaf::netns::reap(prefix_, all).ok());
    NetworkSpec spec;
    spec.prefix = prefix_;
    spec.subnet = "198.18.7.0/24";
    spec.hosts = {"a", "b", "c"};
    auto net = Network::create(spec);
    ASSERT_TRUE(net.ok()) << net.error().to_string();
    net_ = std::move(net).value();
    for (const auto& h : net_.hosts()) {
      auto l = net_.tcp_listen(h.name, kPort);
      ASSERT_TRUE(l.ok()) << l.error().to_string();
      listeners_.push_back(std::move(l).value());
    }
  }

  void TearDown() override {
    if (prefix_.empty()) return;
    listeners_.clear();
    auto st = net_.destroy();
    EXPECT_TRUE(st.ok()) << st.error().to_string();
    EXPECT_TRUE(pgaf::netns::list_namespaces(prefix_).empty());
  }

  std::string addr(const std::string& host) { return net_.host(host)->address; }

  /* Expected failures use the short timeout; expected successes a generous one (CI load). */
  ConnectOutcome connect(const std::string& from, const std::string& to,
                         std::chrono::milliseconds timeout = kConnectTimeout) {
    return net_.tcp_connect(from, addr(to), kPort, timeout).outcome;
  }

  std::string prefix_;
  Network net_;
  std::vector<pgaf::netns::UniqueFd> listeners_;
};

/* ---- topology ---- */

TEST_F(NetnsTest, ThreeHostNetwork) {
  ASSERT_EQ(net_.hosts().size(), 3u);
  EXPECT_EQ(net_.subnet(), "198.18.7.0/24");
  EXPECT_EQ(addr("a"), "198.18.7.1");
  EXPECT_EQ(addr("b"), "198.18.7.2");
  EXPECT_EQ(addr("c"), "198.18.7.3");
  auto names = pgaf::netns::list_namespaces(prefix_);
  std::vector<std::string> expected = {prefix_ + "a", prefix_ + "b", prefix_ + "c",
                                       prefix_ + "switch"};
  EXPECT_EQ(names, expected);
  for (const auto& h : net_.hosts()) {
    auto links = net_.links(h.name);
    ASSERT_TRUE(links.ok()) << links.error().to_string();
    /* exactly loopback and the veth end: no link to the root namespace */
    EXPECT_EQ(*links, (std::vector<std::string>{"eth0", "lo"})) << h.name;
    EXPECT_EQ(h.switch_port, "sw-" + h.name);
  }
  auto unknown = net_.host("zz");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::UnknownNode);
  EXPECT_NE(unknown.error().message.find("zz"), std::string::npos);
}

TEST_F(NetnsTest, TcpConnectBetweenAllHosts) {
  for (const char* from : {"a", "b", "c"})
    for (const char* to : {"a", "b", "c"}) {
      if (std::string(from) == to) continue;
      auto r = net_.tcp_connect(from, addr(to), kPort, kSuccessTimeout);
      EXPECT_EQ(r.outcome, ConnectOutcome::Connected)
          << from << " -> " << to << ": " << pgaf::netns::to_string(r.outcome) << " errno "
          << r.error_number;
      EXPECT_TRUE(r.fd.valid());
    }
  /* A closed port answers with a reset: the network itself is fine. */
  auto closed = net_.tcp_connect("a", addr("b"), 1, kSuccessTimeout);
  EXPECT_EQ(closed.outcome, ConnectOutcome::Refused);
}

TEST_F(NetnsTest, NoRouteOutOfTheLab) {
  for (const auto& h : net_.hosts()) {
    /* Route lookups only (RTM_GETROUTE); no packet is sent anywhere. */
    for (const char* outside : {"192.0.2.1", "8.8.8.8", "10.0.0.1", "198.18.8.1"}) {
      auto r = net_.route_get(h.name, outside);
      ASSERT_FALSE(r.ok()) << h.name << " has a route to " << outside << " via " << *r;
      EXPECT_NE(r.error().detail.find("ENETUNREACH"), std::string::npos) << r.error().to_string();
    }
    auto in = net_.route_get(h.name, addr("b"));
    ASSERT_TRUE(in.ok()) << in.error().to_string();
    EXPECT_TRUE(*in == "eth0" || *in == "lo") << *in;
  }
  auto r = net_.route_get("a", addr("c"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "eth0");
}

/* ---- partitions ---- */

TEST_F(NetnsTest, OneWayPartitionBlocksOnlyThatDirection) {
  PartitionSpec spec;
  spec.from = {"a"};
  spec.to = {"b"};
  spec.one_way = true;
  auto fault = net_.partition(spec);
  ASSERT_TRUE(fault.ok()) << fault.error().to_string();
  EXPECT_TRUE(fault->active());
  EXPECT_EQ(connect("a", "b"), ConnectOutcome::TimedOut);
  EXPECT_EQ(connect("b", "a", kSuccessTimeout), ConnectOutcome::Connected);
  EXPECT_EQ(connect("a", "c", kSuccessTimeout), ConnectOutcome::Connected);
  EXPECT_EQ(connect("c", "b", kSuccessTimeout), ConnectOutcome::Connected);
  ASSERT_TRUE(fault->heal().ok());
  EXPECT_FALSE(fault->active());
  EXPECT_EQ(connect("a", "b", kSuccessTimeout), ConnectOutcome::Connected);
}

TEST_F(NetnsTest, StrictOneWayPartitionAlsoBreaksReverseTcp) {
  PartitionSpec spec;
  spec.from = {"a"};
  spec.to = {"b"};
  spec.one_way = true;
  spec.strict = true; /* packet level: b's SYN reaches a, a's SYN-ACK never reaches b */
  auto fault = net_.partition(spec);
  ASSERT_TRUE(fault.ok()) << fault.error().to_string();
  EXPECT_EQ(connect("a", "b"), ConnectOutcome::TimedOut);
  EXPECT_EQ(connect("b", "a"), ConnectOutcome::TimedOut);
  ASSERT_TRUE(fault->heal().ok());
  EXPECT_EQ(connect("b", "a", kSuccessTimeout), ConnectOutcome::Connected);
}

TEST_F(NetnsTest, DropAndRejectBehaveDifferently) {
  {
    auto drop = net_.isolate("b", Action::Drop);
    ASSERT_TRUE(drop.ok()) << drop.error().to_string();
    auto r = net_.tcp_connect("a", addr("b"), kPort, kConnectTimeout);
    EXPECT_EQ(r.outcome, ConnectOutcome::TimedOut);
    EXPECT_GE(r.elapsed, kConnectTimeout - 10ms);
  } /* RAII heal */
  {
    auto reject = net_.isolate("b", Action::Reject);
    ASSERT_TRUE(reject.ok()) << reject.error().to_string();
    auto r = net_.tcp_connect("a", addr("b"), kPort, kConnectTimeout);
    EXPECT_EQ(r.outcome, ConnectOutcome::Refused) << "errno " << r.error_number;
    EXPECT_EQ(r.error_number, ECONNREFUSED);
    EXPECT_LT(r.elapsed, kConnectTimeout - 50ms); /* the reset comes back at once */
    auto back = net_.tcp_connect("b", addr("c"), kPort, kSuccessTimeout);
    EXPECT_EQ(back.outcome, ConnectOutcome::Refused);
  }
  EXPECT_EQ(connect("a", "b", kSuccessTimeout), ConnectOutcome::Connected);
}

TEST_F(NetnsTest, RejectResetsAnEstablishedConnection) {
  auto conn = net_.tcp_connect("a", addr("b"), kPort, kSuccessTimeout);
  ASSERT_EQ(conn.outcome, ConnectOutcome::Connected);
  auto reject = net_.isolate("a", Action::Reject);
  ASSERT_TRUE(reject.ok()) << reject.error().to_string();
  const char msg[] = "x";
  ASSERT_EQ(::send(conn.fd.get(), msg, 1, MSG_NOSIGNAL), 1); /* buffered; the reset follows */
  pollfd p{conn.fd.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 1000), 1) << "no reset within 1 s";
  char buf[8];
  EXPECT_EQ(::recv(conn.fd.get(), buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
}

TEST_F(NetnsTest, PartitionSetsAndValidation) {
  PartitionSpec spec;
  spec.from = {"a"};
  spec.to = {"b", "c"};
  auto f = net_.partition(spec);
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(connect("a", "b"), ConnectOutcome::TimedOut);
  EXPECT_EQ(connect("c", "a"), ConnectOutcome::TimedOut);
  EXPECT_EQ(connect("b", "c", kSuccessTimeout), ConnectOutcome::Connected);
  ASSERT_EQ(net_.active_faults().size(), 1u);
  EXPECT_NE(net_.active_faults()[0].find("partition"), std::string::npos);

  PartitionSpec bad;
  bad.from = {"a"};
  bad.to = {"a"};
  auto e = net_.partition(bad);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::InvalidArgument);
  bad.to = {"nope"};
  e = net_.partition(bad);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::UnknownNode);
  EXPECT_NE(e.error().message.find("nope"), std::string::npos);
  ASSERT_TRUE(f->heal().ok());
  EXPECT_TRUE(net_.active_faults().empty());
  EXPECT_EQ(connect("a", "b", kSuccessTimeout), ConnectOutcome::Connected);
}

/* ---- interface down ---- */

TEST_F(NetnsTest, InterfaceDownIsolatesOnlyThatHost) {
  for (LinkSide side : {LinkSide::Host, LinkSide::Switch, LinkSide::Both}) {
    SCOPED_TRACE(static_cast<int>(side));
    auto down = net_.link_down("c", side);
    ASSERT_TRUE(down.ok()) << down.error().to_string();
    EXPECT_NE(connect("a", "c"), ConnectOutcome::Connected);
    EXPECT_NE(connect("c", "a"), ConnectOutcome::Connected);
    EXPECT_EQ(connect("a", "b", kSuccessTimeout), ConnectOutcome::Connected);
    EXPECT_EQ(connect("b", "a", kSuccessTimeout), ConnectOutcome::Connected);
    /* The same link cannot be taken down twice. */
    auto again = net_.link_down("c", side);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::BadState);
    ASSERT_TRUE(down->heal().ok());
    /* Healed: connectivity back (bounded retry while the port comes back up). */
    ConnectOutcome o = ConnectOutcome::Failed;
    for (int i = 0; i < 20 && o != ConnectOutcome::Connected; ++i) {
      o = connect("a", "c", kSuccessTimeout);
      if (o != ConnectOutcome::Connected) std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(o, ConnectOutcome::Connected);
    EXPECT_EQ(connect("c", "b", kSuccessTimeout), ConnectOutcome::Connected);
  }
}

/* ---- loss, bandwidth, latency ---- */

TEST_F(NetnsTest, TotalPacketLossAndHeal) {
  auto loss = net_.packet_loss("b", 100.0, Direction::Both);
  ASSERT_TRUE(loss.ok()) << loss.error().to_string();
  EXPECT_EQ(connect("a", "b"), ConnectOutcome::TimedOut);
  EXPECT_EQ(connect("a", "c", kSuccessTimeout), ConnectOutcome::Connected);
  ASSERT_TRUE(loss->heal().ok());
  EXPECT_EQ(connect("a", "b", kSuccessTimeout), ConnectOutcome::Connected);
  auto bad = net_.packet_loss("b", 0.0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::OutOfRange);
}

TEST_F(NetnsTest, PartialPacketLossDropsAboutThatShare) {
  /* 400 UDP datagrams a -> b through 50 % ingress loss on b. Kernel randomness (numgen random)
   * has no seed, so the test prints the counts; the bounds (25 %..75 % delivered) are 10 standard
   * deviations wide, so they hold on every run while still failing if loss were 0 % or 100 %. */
  constexpr int kCount = 400;
  pgaf::netns::UniqueFd rx, tx;
  const std::string b = addr("b");
  ASSERT_TRUE(net_.run_in("b",
                          [&] {
                            rx.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
                            sockaddr_in sa{};
                            sa.sin_family = AF_INET;
                            sa.sin_port = htons(7000);
                            ::inet_pton(AF_INET, b.c_str(), &sa.sin_addr);
                            if (::bind(rx.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
                              throw std::runtime_error("bind failed");
                            int big = 8 << 20; /* keep every datagram: read after the burst */
                            ::setsockopt(rx.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
                          })
                  .ok());
  ASSERT_TRUE(
      net_.run_in("a", [&] { tx.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); }).ok());
  auto count_delivered = [&] {
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(7000);
    ::inet_pton(AF_INET, b.c_str(), &dst.sin_addr);
    char byte = 'x';
    for (int i = 0; i < kCount; ++i) {
      ::sendto(tx.get(), &byte, 1, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
      if (i % 50 == 49) std::this_thread::sleep_for(1ms); /* stay under socket buffers */
    }
    int got = 0;
    char buf[16];
    pollfd p{rx.get(), POLLIN, 0};
    while (::poll(&p, 1, 200) == 1 && ::recv(rx.get(), buf, sizeof buf, 0) > 0) ++got;
    return got;
  };
  const int clean = count_delivered();
  EXPECT_EQ(clean, kCount);
  auto loss = net_.packet_loss("b", 50.0, Direction::Ingress);
  ASSERT_TRUE(loss.ok()) << loss.error().to_string();
  const int lossy = count_delivered();
  std::printf("UDP datagrams delivered: %d/%d without loss, %d/%d with 50%% loss\n", clean, kCount,
              lossy, kCount);
  EXPECT_GT(lossy, kCount / 4);
  EXPECT_LT(lossy, kCount * 3 / 4);
  ASSERT_TRUE(loss->heal().ok());
  EXPECT_EQ(count_delivered(), kCount);
}

/* Transfer `bytes` from a to b; returns the time until b has read them all. */
std::chrono::milliseconds transfer(Network& net, const std::string& to_addr, std::size_t bytes) {
  auto l = net.tcp_listen("b", 6000);
  EXPECT_TRUE(l.ok());
  std::atomic<std::size_t> got{0};
  std::thread reader([&] {
    pollfd lp{l->get(), POLLIN, 0};
    if (::poll(&lp, 1, 5000) != 1) return; /* bounded: no connection within 5 s */
    int c = ::accept(l->get(), nullptr, nullptr);
    if (c < 0) return;
    timeval tv{10, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    ::close(c);
  });
  const auto start = std::chrono::steady_clock::now();
  auto conn = net.tcp_connect("a", to_addr, 6000, 2000ms);
  EXPECT_EQ(conn.outcome, ConnectOutcome::Connected)
      << pgaf::netns::to_string(conn.outcome) << " errno " << conn.error_number;
  timeval stv{10, 0};
  ::setsockopt(conn.fd.get(), SOL_SOCKET, SO_SNDTIMEO, &stv, sizeof stv);
  std::vector<char> data(bytes, 'x');
  std::size_t sent = 0;
  while (conn.fd.valid() && sent < bytes) {
    ssize_t n = ::send(conn.fd.get(), data.data() + sent, bytes - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(conn.fd.get(), SHUT_WR);
  reader.join();
  EXPECT_EQ(got.load(), bytes);
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

TEST_F(NetnsTest, BandwidthLimitSlowsTransfer) {
  constexpr std::size_t kBytes = 300 * 1000;
  constexpr std::uint64_t kRate = 250 * 1000; /* bytes/s: ~1.2 s for kBytes */
  auto fast = transfer(net_, addr("b"), kBytes);
  auto limit = net_.bandwidth("a", kRate, Direction::Egress);
  if (!limit.ok() && limit.error().code == ErrorCode::Unsupported)
    GTEST_SKIP() << limit.error().to_string();
  ASSERT_TRUE(limit.ok()) << limit.error().to_string();
  auto slow = transfer(net_, addr("b"), kBytes);
  std::printf("transfer of %zu bytes: unlimited %lld ms, at %llu B/s %lld ms\n", kBytes,
              static_cast<long long>(fast.count()), static_cast<unsigned long long>(kRate),
              static_cast<long long>(slow.count()));
  EXPECT_GE(slow, 800ms); /* (bytes - bucket) / rate with slack */
  EXPECT_LT(fast, 800ms);
  auto twice = net_.bandwidth("a", kRate, Direction::Egress);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::BadState);
  ASSERT_TRUE(limit->heal().ok());
  EXPECT_LT(transfer(net_, addr("b"), kBytes), 800ms);
}

TEST_F(NetnsTest, LatencyWorksOrIsReportedUnsupported) {
  auto caps = pgaf::netns::probe_capabilities();
  ASSERT_TRUE(caps.ok()) << caps.error().to_string();
  auto lat = net_.latency("b", 100ms, 0ms, Direction::Both);
  if (!caps->netem && !caps->nfqueue_delay) {
    ASSERT_FALSE(lat.ok()) << "latency must not pretend to work without netem or NFQUEUE";
    EXPECT_EQ(lat.error().code, ErrorCode::Unsupported);
    EXPECT_NE(lat.error().to_string().find("netem"), std::string::npos) << lat.error().to_string();
    EXPECT_EQ(caps->check(pgaf::netns::FaultKind::Latency).error().code, ErrorCode::Unsupported);
    EXPECT_TRUE(net_.active_faults().empty());
    return;
  }
  ASSERT_TRUE(lat.ok()) << lat.error().to_string();
  std::printf("fault: %s\n", lat->description().c_str());
  EXPECT_NE(lat->description().find(caps->netem ? "netem" : "nfqueue"), std::string::npos);
  /* SYN delayed entering b, SYN-ACK delayed leaving b: about 200 ms for the handshake. */
  auto r = net_.tcp_connect("a", addr("b"), kPort, 2000ms);
  EXPECT_EQ(r.outcome, ConnectOutcome::Connected);
  EXPECT_GE(r.elapsed, 190ms);
  EXPECT_LT(r.elapsed, 1000ms);
  /* Other hosts are not delayed. */
  auto other = net_.tcp_connect("a", addr("c"), kPort, 2000ms);
  EXPECT_EQ(other.outcome, ConnectOutcome::Connected);
  EXPECT_LT(other.elapsed, 150ms);
  /* Data flows (delayed) on an established connection. */
  ASSERT_EQ(r.outcome, ConnectOutcome::Connected);
  auto twice = net_.latency("b", 10ms);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::BadState);
  ASSERT_TRUE(lat->heal().ok());
  auto healed = net_.tcp_connect("a", addr("b"), kPort, 2000ms);
  EXPECT_EQ(healed.outcome, ConnectOutcome::Connected);
  EXPECT_LT(healed.elapsed, 150ms);
  std::printf("connect a->b: %lld ms with latency, %lld ms healed\n",
              static_cast<long long>(r.elapsed.count()),
              static_cast<long long>(healed.elapsed.count()));
}

TEST_F(NetnsTest, LatencyWithJitterDeliversEverything) {
  auto lat = net_.latency("b", 30ms, 20ms, Direction::Ingress);
  if (!lat.ok() && lat.error().code == ErrorCode::Unsupported)
    GTEST_SKIP() << lat.error().to_string();
  ASSERT_TRUE(lat.ok()) << lat.error().to_string();
  /* 100 kB through a jittered (reordering) path arrives complete: the delayer never drops. */
  auto t = transfer(net_, addr("b"), 100 * 1000);
  std::printf("100 kB with 30±20 ms ingress latency: %lld ms\n", static_cast<long long>(t.count()));
  EXPECT_GE(t, 10ms);
  EXPECT_LT(t, 10000ms);
  /* Teardown with the fault still in force: the delayer stops, the handle becomes a no-op. */
  ASSERT_TRUE(net_.destroy().ok());
  EXPECT_FALSE(lat->active());
  EXPECT_TRUE(lat->heal().ok());
  EXPECT_TRUE(pgaf::netns::list_namespaces(prefix_).empty());
}

TEST(NetnsProbe, CapabilitiesAreProbedForReal) {
  REQUIRE_ROOT();
  auto caps = pgaf::netns::probe_capabilities();
  ASSERT_TRUE(caps.ok()) << caps.error().to_string();
  std::printf("%s", caps->to_string().c_str());
  EXPECT_TRUE(caps->netns);
  EXPECT_TRUE(caps->nft_inet);
  EXPECT_TRUE(caps->nft_bridge);
  EXPECT_TRUE(caps->nft_numgen);
  EXPECT_TRUE(caps->check(pgaf::netns::FaultKind::Partition).ok());
  EXPECT_EQ(caps->check(pgaf::netns::FaultKind::Latency).ok(), caps->netem || caps->nfqueue_delay);
  EXPECT_EQ(caps->check(pgaf::netns::FaultKind::Bandwidth).ok(), caps->tbf);
}

/* ---- code inside hosts ---- */

TEST_F(NetnsTest, RunInEntersOnlyTheHelperThread) {
  const ino_t mine = netns_inode_of("/proc/thread-self/ns/net");
  ino_t inside = 0;
  auto st = net_.run_in("b", [&] { inside = netns_inode_of("/proc/thread-self/ns/net"); });
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  struct stat nsst {};
  ASSERT_EQ(::stat(net_.host("b")->netns_path().c_str(), &nsst), 0);
  EXPECT_EQ(inside, nsst.st_ino);
  EXPECT_EQ(netns_inode_of("/proc/thread-self/ns/net"), mine);
  auto thrown = net_.run_in("b", [] { throw std::runtime_error("boom"); });
  ASSERT_FALSE(thrown.ok());
  EXPECT_NE(thrown.error().detail.find("boom"), std::string::npos);
}

TEST_F(NetnsTest, SpawnRunsInHostAsUser) {
  passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) GTEST_SKIP() << "no postgres user (ci/bootstrap creates it)";
  pgaf::netns::SpawnOptions o;
  o.argv = {"sleep", "30"};
  o.user = "postgres";
  auto child = net_.spawn("c", o);
  ASSERT_TRUE(child.ok()) << child.error().to_string();
  const std::string proc = "/proc/" + std::to_string(child->pid());
  struct stat nsst {};
  ASSERT_EQ(::stat(net_.host("c")->netns_path().c_str(), &nsst), 0);
  EXPECT_EQ(netns_inode_of(proc + "/ns/net"), nsst.st_ino);
  const std::string status = read_all(proc + "/status");
  EXPECT_NE(status.find("Uid:\t" + std::to_string(pw->pw_uid) + "\t"), std::string::npos) << status;
  EXPECT_TRUE(child->running());
  auto early = child->wait_for(50ms);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ErrorCode::Timeout);
  ASSERT_TRUE(child->signal_group(SIGTERM).ok()); /* own session: pgid == pid */
  auto ws = child->wait_for(2000ms);
  ASSERT_TRUE(ws.ok());
  EXPECT_TRUE(WIFSIGNALED(*ws) && WTERMSIG(*ws) == SIGTERM);
  EXPECT_FALSE(child->running());
  EXPECT_EQ(child->kill().error().code, ErrorCode::BadState); /* already reaped */

  /* stdout goes to the log file, owned by the user. */
  char tmpl[] = "/tmp/pgaf-netns-logXXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  ASSERT_EQ(::chmod(tmpl, 0777), 0);
  const std::string log = std::string(tmpl) + "/echo.log";
  pgaf::netns::SpawnOptions e;
  e.argv = {"/bin/echo", "hello from c"};
  e.user = "postgres";
  e.log_file = log;
  auto echo = net_.spawn("c", e);
  ASSERT_TRUE(echo.ok()) << echo.error().to_string();
  auto es = echo->wait_for(2000ms);
  ASSERT_TRUE(es.ok());
  EXPECT_TRUE(WIFEXITED(*es) && WEXITSTATUS(*es) == 0);
  EXPECT_EQ(read_all(log), "hello from c\n");
  ::unlink(log.c_str());
  ::rmdir(tmpl);

  pgaf::netns::SpawnOptions missing;
  missing.argv = {"/nonexistent/pgaf-binary"};
  auto m = net_.spawn("c", missing);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("/nonexistent/pgaf-binary"), std::string::npos);
  pgaf::netns::SpawnOptions nouser;
  nouser.argv = {"/bin/true"};
  nouser.user = "pgaf-no-such-user";
  auto u = net_.spawn("c", nouser);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().message.find("pgaf-no-such-user"), std::string::npos);
}

TEST_F(NetnsTest, BoostProcessInitializerEntersHost) {
  passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) GTEST_SKIP() << "no postgres user (ci/bootstrap creates it)";
  auto enter = pgaf::netns::enter_host(net_, "a", "postgres");
  ASSERT_TRUE(enter.ok()) << enter.error().to_string();
  boost::process::child c("/bin/sleep", "30", *enter);
  const std::string proc = "/proc/" + std::to_string(c.id());
  struct stat nsst {};
  ASSERT_EQ(::stat(net_.host("a")->netns_path().c_str(), &nsst), 0);
  EXPECT_EQ(netns_inode_of(proc + "/ns/net"), nsst.st_ino);
  EXPECT_NE(read_all(proc + "/status").find("Uid:\t" + std::to_string(pw->pw_uid) + "\t"),
            std::string::npos);
  c.terminate();
  c.wait();
}

TEST_F(NetnsTest, TeardownKillsProcessesInTheNetwork) {
  pgaf::netns::SpawnOptions o;
  o.argv = {"sleep", "60"};
  auto child = net_.spawn("a", o);
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE(net_.destroy().ok());
  auto ws = child->wait_for(2000ms);
  ASSERT_TRUE(ws.ok()) << "the process survived teardown";
  EXPECT_TRUE(WIFSIGNALED(*ws) && WTERMSIG(*ws) == SIGKILL);
  EXPECT_TRUE(pgaf::netns::list_namespaces(prefix_).empty());
}

TEST_F(NetnsTest, TeardownLeavesNoDaemonBehindNotEvenAZombie) {
  /* a child that daemonizes (as pg_ctl starts a postmaster) leaves an orphan in the network;
   * the lab is a subreaper, so after teardown the orphan is its zombie until reaped */
  ASSERT_TRUE(pgaf::netns::become_subreaper().ok());
  pgaf::netns::SpawnOptions o;
  o.argv = {"sh", "-c", "sleep 60 & exit 0"};
  auto launcher = net_.spawn("a", o);
  ASSERT_TRUE(launcher.ok());
  ASSERT_TRUE(launcher->wait_for(5000ms).ok());
  pgaf::netns::SpawnOptions keep;
  keep.argv = {"sleep", "60"};
  auto tracked = net_.spawn("b", keep); /* a ChildProcess keeps its own child */
  ASSERT_TRUE(tracked.ok());
  ASSERT_TRUE(net_.destroy().ok());
  auto reaped = pgaf::netns::reap_orphans(3000ms);
  ASSERT_TRUE(reaped.ok()) << reaped.error().to_string();
  EXPECT_EQ(*reaped, 1) << "the daemonized sleep";
  auto ws = tracked->wait_for(2000ms);
  ASSERT_TRUE(ws.ok()) << "reap_orphans must not reap a tracked child";
  EXPECT_TRUE(WIFSIGNALED(*ws));
  auto again = pgaf::netns::reap_orphans(100ms);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
}

/* ---- input validation ---- */

TEST(NetnsValidation, BadSpecsAreRejectedNamingTheField) {
  REQUIRE_ROOT();
  auto make = [](std::string prefix, std::vector<std::string> hosts, std::string subnet) {
    NetworkSpec s;
    s.prefix = std::move(prefix);
    s.hosts = std::move(hosts);
    s.subnet = std::move(subnet);
    return Network::create(s);
  };
  const std::string p = unique_prefix("val");
  struct Case {
    std::string prefix;
    std::vector<std::string> hosts;
    std::string subnet;
    std::string mention;
  };
  std::vector<Case> cases = {
      {"lab-1-", {"a"}, "198.18.0.0/24", "lab-1-"},
      {"pgaf-UPPER-", {"a"}, "198.18.0.0/24", "pgaf-UPPER-"},
      {p, {"node-1"}, "198.18.0.0/24", "node-1"},
      {p, {"switch"}, "198.18.0.0/24", "switch"},
      {p, {"a", "a"}, "198.18.0.0/24", "\"a\""},
      {p, {}, "198.18.0.0/24", p},
      {p, {"a"}, "198.18.0.0", "198.18.0.0"},
      {p, {"a"}, "198.18.0.0/8", "198.18.0.0/8"},
      {p, {"a"}, "300.1.1.1/24", "300.1.1.1/24"},
      {p, {"a", "b", "c", "d", "e", "f", "g"}, "198.18.0.0/29", "198.18.0.0/29"},
  };
  for (const auto& c : cases) {
    auto r = make(c.prefix, c.hosts, c.subnet);
    ASSERT_FALSE(r.ok()) << c.prefix << " " << c.subnet;
    EXPECT_NE(r.error().to_string().find(c.mention), std::string::npos) << r.error().to_string();
  }
  EXPECT_TRUE(pgaf::netns::list_namespaces(p).empty());

  /* Same prefix twice: AlreadyExists, and the first network is untouched. */
  auto first = make(p, {"a", "b"}, "198.18.9.0/24");
  ASSERT_TRUE(first.ok()) << first.error().to_string();
  auto second = make(p, {"a"}, "198.18.9.0/24");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::AlreadyExists);
  EXPECT_EQ(pgaf::netns::list_namespaces(p).size(), 3u);
  ASSERT_TRUE(first->destroy().ok());
  EXPECT_TRUE(pgaf::netns::list_namespaces(p).empty());

  auto bad_reap = pgaf::netns::reap("");
  ASSERT_FALSE(bad_reap.ok());
  EXPECT_EQ(bad_reap.error().code, ErrorCode::InvalidArgument);
  EXPECT_FALSE(pgaf::netns::reap("netns-").ok());
}

/* ---- the reaper ---- */

std::vector<std::string> root_links_with(const std::string& prefix) {
  std::vector<std::string> out;
  nl_sock* sk = nl_socket_alloc();
  nl_connect(sk, NETLINK_ROUTE);
  nl_cache* cache = nullptr;
  if (rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache) == 0) {
    for (nl_object* o = nl_cache_get_first(cache); o != nullptr; o = nl_cache_get_next(o)) {
      std::string n = rtnl_link_get_name(reinterpret_cast<rtnl_link*>(o));
      if (n.rfind(prefix, 0) == 0) out.push_back(n);
    }
    nl_cache_free(cache);
  }
  nl_socket_free(sk);
  return out;
}

std::string root_nft(const std::string& cmd) {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  int rc = nft_run_cmd_from_buffer(ctx, cmd.c_str());
  std::string out = rc == 0 ? nft_ctx_get_output_buffer(ctx)
                            : std::string("ERROR ") + nft_ctx_get_error_buffer(ctx);
  nft_ctx_free(ctx);
  return out;
}

TEST(NetnsReaper, LeftoversOfAKilledRunAreRemoved) {
  REQUIRE_ROOT();
  /* Short prefix: root-namespace link names must fit in 15 characters. */
  const std::string prefix = "pgaf-tn" + std::to_string(::getpid() % 1000000) + "-";
  ASSERT_LE(prefix.size() + 1, 15u);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    NetworkSpec spec;
    spec.prefix = prefix;
    spec.hosts = {"n1", "n2"};
    auto net = Network::create(spec);
    if (!net.ok()) ::_exit(2);
    pgaf::netns::SpawnOptions o;
    o.argv = {"sleep", "300"};
    o.log_file = "/dev/null"; /* must not hold the test runner's output pipe open */
    auto sleeper = net->spawn("n1", o);
    if (!sleeper.ok()) ::_exit(3);
    /* Root-namespace leftovers a crashed run could leave: a link and an nft table. */
    nl_sock* sk = nl_socket_alloc();
    nl_connect(sk, NETLINK_ROUTE);
    if (rtnl_link_veth_add(sk, (prefix + "a").c_str(), (prefix + "b").c_str(), ::getpid()) < 0)
      ::_exit(4);
    nl_socket_free(sk);
    if (auto out = root_nft("add table inet " + prefix + "t\n"); out.rfind("ERROR", 0) == 0) {
      std::fprintf(stderr, "child: %s\n", out.c_str());
      ::_exit(5);
    }
    pid_t sp = sleeper->pid();
    if (::write(ready[1], &sp, sizeof sp) != sizeof sp) ::_exit(6);
    for (;;) ::pause(); /* SIGKILLed here, mid-run: no destructor runs */
  }
  ::close(ready[1]);
  pollfd p{ready[0], POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 20000), 1) << "child did not build its network within 20 s";
  pid_t sleeper = 0;
  if (::read(ready[0], &sleeper, sizeof sleeper) != static_cast<ssize_t>(sizeof sleeper)) {
    int cs = 0;
    ::waitpid(child, &cs, 0);
    (void)pgaf::netns::reap(prefix);
    FAIL() << "child failed before it was ready: exit status " << WEXITSTATUS(cs);
  }
  ::close(ready[0]);
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int ws = 0;
  ASSERT_EQ(::waitpid(child, &ws, 0), child);

  /* The crash left everything behind. */
  EXPECT_EQ(pgaf::netns::list_namespaces(prefix).size(), 3u);
  EXPECT_EQ(::kill(sleeper, 0), 0);
  EXPECT_EQ(root_links_with(prefix).size(), 2u);
  EXPECT_NE(root_nft("list tables\n").find(prefix + "t"), std::string::npos);

  auto report = pgaf::netns::reap(prefix);
  ASSERT_TRUE(report.ok()) << report.error().to_string();
  std::printf("%s", report->to_string().c_str());
  EXPECT_EQ(report->namespaces.size(), 3u);
  EXPECT_GE(report->processes.size(), 1u);
  EXPECT_GE(report->links.size(), 1u);
  EXPECT_EQ(report->nft_tables.size(), 1u);
  EXPECT_TRUE(report->skipped_live.empty());

  /* Nothing with the prefix is left: /run/netns, links, nft tables, processes, owner file. */
  EXPECT_TRUE(pgaf::netns::list_namespaces(prefix).empty());
  EXPECT_TRUE(root_links_with(prefix).empty());
  EXPECT_EQ(root_nft("list tables\n").find(prefix), std::string::npos);
  const std::string stat = read_all("/proc/" + std::to_string(sleeper) + "/stat");
  EXPECT_TRUE(stat.empty() || stat.find(") Z ") != std::string::npos) << stat;
  struct stat st {};
  EXPECT_NE(::stat(("/run/pgaf-netns/" + prefix + "owner").c_str(), &st), 0);
  /* A second reap finds nothing. */
  auto again = pgaf::netns::reap(prefix);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty()) << again->to_string();
}

TEST(NetnsReaper, LiveNetworksAreSkippedUnlessAsked) {
  REQUIRE_ROOT();
  const std::string family = "pgaf-tn" + std::to_string(::getpid()) + "live";
  NetworkSpec spec;
  spec.prefix = family + "-x-";
  spec.hosts = {"a"};
  auto net = Network::create(spec);
  ASSERT_TRUE(net.ok()) << net.error().to_string();
  auto r = pgaf::netns::reap(family);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_TRUE(r->namespaces.empty());
  ASSERT_EQ(r->skipped_live.size(), 1u);
  EXPECT_EQ(r->skipped_live[0], spec.prefix);
  EXPECT_EQ(pgaf::netns::list_namespaces(spec.prefix).size(), 2u);
  pgaf::netns::ReapOptions all;
  all.include_live = true;
  auto forced = pgaf::netns::reap(family, all);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->namespaces.size(), 2u);
  EXPECT_TRUE(pgaf::netns::list_namespaces(spec.prefix).empty());
  EXPECT_TRUE(net->destroy().ok()); /* already gone: teardown tolerates it */
}

}  // namespace
