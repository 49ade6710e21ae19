/*
 * network.hpp — a hermetic virtual network of hosts on one machine, and the faults that break it.
 *
 * Topology (docs/lab-network.md has the diagram):
 *   - one "switch" network namespace <prefix>switch holding a Linux bridge "br0";
 *   - one network namespace <prefix><host> per host, holding "lo" (up) and "eth0" (up, with the
 *     host's address), joined to the bridge by a veth pair whose switch side is "sw-<host>".
 * Namespaces are created the way `ip netns add` does (unshare + bind mount on /run/netns/<name>),
 * links, addresses and qdiscs through libnl-route-3, firewall rules through libnftables.
 *
 * Invariants:
 *   - Hermetic by construction: no veth end ever lives in the root namespace, no host has a
 *     default route (only the connected route of its subnet), the switch has no address.
 *   - Every name carries the run's prefix ("pgaf-<tag>-"), so reap(prefix) (reaper.hpp) finds
 *     leftovers of a crashed run. Host names contain no '-', so a namespace name splits uniquely
 *     into prefix and host name at its last '-'.
 *   - RAII: destroying a Network heals its faults, kills every process still inside its
 *     namespaces and removes the namespaces (and with them every link, qdisc and nft table).
 *   - Every failure is a pgaf::Error naming the object (namespace, link, host) and carrying the
 *     netlink / nft / errno text in its detail. Nothing is delegated to a shell or to the
 *     iproute2/nftables command-line tools (a ctest greps the sources).
 *   - All methods are thread-safe (one mutex per network); a moved-from Network is empty.
 */
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgaf/core/error.hpp"
#include "pgaf/netns/fd.hpp"
#include "pgaf/netns/topology.hpp"

namespace pgaf::netns {

/* ---------------------------------------------------------------------------------------------
 * Specification and hosts
 * ------------------------------------------------------------------------------------------- */

struct NetworkSpec {
  /* Per-run prefix of every namespace name: ^pgaf-[a-z0-9-]{1,24}-$ e.g. "pgaf-lab-20261126a-".
   * Must be unique among concurrently running networks (tests: one per test). */
  std::string prefix;
  /* IPv4 subnet of the hosts, CIDR, prefix length 16..29. Host i (0-based, in `hosts` order) gets
   * the address network + i + 1. Default: a /24 inside 198.18.0.0/15 (RFC 2544 benchmarking range,
   * reserved for network test labs). Different networks may reuse a subnet: they never touch. */
  std::string subnet = "198.18.0.0/24";
  /* Host names: ^[a-z][a-z0-9_]{0,11}$, unique, not "switch". At most 64 hosts. */
  std::vector<std::string> hosts;
  /* Zones joined by routers instead of the single switch (topology.hpp); `subnet` is then
   * ignored. Absent: one switch, one subnet, as described above. */
  std::optional<TopologySpec> topology;
};

/* A host of a network: a value, cheap to copy. */
struct Host {
  std::string name;         /* "node1" */
  std::string netns;        /* namespace name: "<prefix>node1" (file /run/netns/<netns>) */
  std::string address;      /* "198.18.0.1" */
  int prefix_length = 24;   /* of the subnet */
  std::string interface;    /* in the host namespace: "eth0" */
  std::string switch_port;  /* in the switch namespace: "sw-node1" */
  std::string zone;         /* "lan" for the single-switch network */
  std::string switch_netns; /* namespace of the zone's bridge: "<prefix>switch", "<prefix>z_dc1" */

  std::string netns_path() const { return "/run/netns/" + netns; }
  std::string cidr() const { return address + "/" + std::to_string(prefix_length); }
};

/* ---------------------------------------------------------------------------------------------
 * Processes inside a host
 * ------------------------------------------------------------------------------------------- */

struct SpawnOptions {
  /* argv[0] is the program: an absolute path, or a name looked up in PATH (by the parent). */
  std::vector<std::string> argv;
  /* Extra environment "KEY=VALUE"; added to (and overriding) the parent's when inherit_env. */
  std::vector<std::string> env;
  bool inherit_env = true;
  /* Drop to this user before exec (setgroups from initgroups' list, setgid, setuid; HOME, USER
   * and LOGNAME are set). Empty: keep the caller's identity. */
  std::string user;
  /* Append stdout and stderr to this file (created 0640, owned by `user` when set).
   * Empty: inherit the caller's stdout/stderr. stdin is always /dev/null. */
  std::string log_file;
  /* Working directory of the child; empty: "/". */
  std::string cwd;
};

/* A child process running in a host's namespace. Move-only. The child runs in its own session
 * (setsid), so signal_group() reaches its whole process tree unless it moved on.
 * The destructor SIGKILLs and reaps the child if it is still running (bounded: 2 s). */
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(pid_t pid, UniqueFd pidfd, std::string description);
  ChildProcess(ChildProcess&&) noexcept;
  ChildProcess& operator=(ChildProcess&&) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  const std::string& description() const { return description_; }
  /* True until the child has been reaped by wait_for(). */
  bool running();
  Status signal(int sig);       /* to the child (pidfd_send_signal: no pid-reuse race) */
  Status signal_group(int sig); /* to the child's process group */
  Status kill() { return signal(9); }
  /* Wait up to `timeout` for the child to exit; returns the raw wait status (WIFEXITED...).
   * ErrorCode::Timeout if it is still running. Once reaped, returns the same status again. */
  Result<int> wait_for(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  std::string description_;
  std::optional<int> status_;
};

/* Make this process the subreaper of its descendants (PR_SET_CHILD_SUBREAPER): a daemon one of
 * our children starts (pg_ctl's postmaster) is re-parented to us, not to PID 1, so that
 * reap_orphans() can make sure it is gone. */
Status become_subreaper();

/* Reap our children that no ChildProcess tracks (orphans re-parented to us): SIGKILL the live
 * ones, reap the zombies, until none is left or `bound` passes. Returns how many were reaped;
 * ErrorCode::Timeout naming the survivors if some are left. ChildProcess objects keep their own
 * children: they are never reaped here. */
Result<int> reap_orphans(std::chrono::milliseconds bound);

/* ---------------------------------------------------------------------------------------------
 * TCP helpers (sockets are created inside the host's namespace, then usable from any thread)
 * ------------------------------------------------------------------------------------------- */

enum class ConnectOutcome {
  Connected,   /* handshake completed */
  Refused,     /* ECONNREFUSED / ECONNRESET: a reset came back */
  TimedOut,    /* no answer within the timeout (silence) */
  Unreachable, /* EHOSTUNREACH / ENETUNREACH */
  Failed,      /* any other errno */
};
const char* to_string(ConnectOutcome outcome);

struct ConnectResult {
  ConnectOutcome outcome = ConnectOutcome::Failed;
  int error_number = 0;                 /* errno of the failure, 0 when Connected */
  std::chrono::milliseconds elapsed{0}; /* time until the outcome was known */
  UniqueFd fd;                          /* the connected socket when Connected */
};

/* ---------------------------------------------------------------------------------------------
 * Faults
 * ------------------------------------------------------------------------------------------- */

enum class Action {
  Drop,   /* silence: packets vanish, TCP connects time out */
  Reject, /* TCP: reset (new connects get ECONNREFUSED at once); other: ICMP admin-prohibited */
};

enum class LinkSide { Host, Switch, Both };

/* Direction seen from the host: Egress = packets the host sends, Ingress = packets it receives. */
enum class Direction { Egress, Ingress, Both };

/* Cut traffic from the hosts in `from` to the hosts in `to` (and back unless one_way).
 * Connection-level by default: `from` cannot open connections (or send datagrams) to `to`, and
 * every packet of a connection `from` opened is blocked, while replies within connections that
 * `to` opened still pass — so with one_way, A->B connects fail while B->A connects work.
 * strict = true blocks every packet from `from` to `to` regardless of connection (then B->A TCP
 * also breaks, since A's SYN-ACK cannot reach B). Rules live in the receivers' namespaces
 * (nft inet table, input hook, conntrack direction). */
struct PartitionSpec {
  std::vector<std::string> from;
  std::vector<std::string> to;
  Action action = Action::Drop;
  bool one_way = false;
  bool strict = false;
};

class NetworkImpl;

/* A fault in force. Move-only. heal() undoes it (idempotent); the destructor heals it too.
 * If the network is gone, healing is a no-op (the namespaces took the fault with them). */
class Fault {
 public:
  Fault() = default;
  Fault(std::shared_ptr<NetworkImpl> network, std::uint64_t id, std::string description);
  Fault(Fault&&) noexcept;
  Fault& operator=(Fault&&) noexcept;
  Fault(const Fault&) = delete;
  Fault& operator=(const Fault&) = delete;
  ~Fault();

  Status heal();
  bool active() const;
  std::uint64_t id() const { return id_; }
  const std::string& description() const { return description_; }

 private:
  std::weak_ptr<NetworkImpl> network_;
  std::uint64_t id_ = 0;
  std::string description_;
};

/* ---------------------------------------------------------------------------------------------
 * The network
 * ------------------------------------------------------------------------------------------- */

class Network {
 public:
  /* Build the whole topology or nothing: on any failure, everything created so far is removed.
   * Fails with AlreadyExists if a namespace with this prefix exists (run reap() first). */
  static Result<Network> create(NetworkSpec spec);

  Network() = default;
  Network(Network&&) noexcept = default;
  Network& operator=(Network&&) noexcept;
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;
  ~Network();

  /* Heal all faults, SIGKILL every process in the namespaces, remove the namespaces.
   * Idempotent; the destructor calls it and prints (does not throw) an error. */
  Status destroy();

  bool valid() const { return impl_ != nullptr; }
  const std::string& prefix() const;
  const std::string& subnet() const; /* normalised CIDR, e.g. "198.18.0.0/24" */
  const std::vector<Host>& hosts() const;
  std::string switch_netns() const; /* "<prefix>switch" */
  /* Host by name; UnknownNode if there is none. */
  Result<Host> host(std::string_view name) const;

  /* ---- running code inside a host ---- */

  /* fork; in the child: setns(host), setsid, redirect, drop to options.user, exec. */
  Result<ChildProcess> spawn(std::string_view host, const SpawnOptions& options);
  /* Run fn on a fresh thread that has entered the host's network namespace; waits for it.
   * setns affects only that thread: sockets fn creates belong to the host and may be handed out
   * (they keep their namespace). An exception thrown by fn becomes the returned Error. */
  Status run_in(std::string_view host, const std::function<void()>& fn);
  /* An O_CLOEXEC handle on the host's namespace (for Boost.Process, see boost_process.hpp). */
  Result<UniqueFd> open_netns(std::string_view host) const;

  /* TCP from inside `host` to address:port with a bounded connect (non-blocking + poll). */
  ConnectResult tcp_connect(std::string_view host, const std::string& address, std::uint16_t port,
                            std::chrono::milliseconds timeout);
  /* A listening TCP socket bound to the host's address (port 0: kernel-chosen). */
  Result<UniqueFd> tcp_listen(std::string_view host, std::uint16_t port, int backlog = 64);

  /* Netlink route lookup (RTM_GETROUTE) from inside the host; sends no packet. Returns the
   * output interface name, or an error carrying the kernel's answer (e.g. "network is
   * unreachable") when the host has no route to `address`. */
  Result<std::string> route_get(std::string_view host, const std::string& address);
  /* Names of the links in the host's namespace (e.g. {"eth0", "lo"}), sorted. */
  Result<std::vector<std::string>> links(std::string_view host);

  /* ---- faults (each needs the capability noted; see capabilities.hpp) ---- */

  /* Clear IFF_UP on the host's eth0 and/or its switch port (rtnetlink). */
  Result<Fault> link_down(std::string_view host, LinkSide side = LinkSide::Both);
  /* Partition (nftables inet, conntrack). */
  Result<Fault> partition(const PartitionSpec& spec);
  /* Cut one host from all others, both ways. */
  Result<Fault> isolate(std::string_view host, Action action = Action::Drop);
  /* Random loss of `percent` (0 < p <= 100, resolution 0.01) of the host's packets, measured at
   * the switch port (nftables bridge family, numgen random). Only IPv4 frames are dropped: ARP
   * still resolves, so healing restores traffic at once. Not seedable: kernel randomness. */
  Result<Fault> packet_loss(std::string_view host, double percent,
                            Direction direction = Direction::Both);
  /* Token-bucket rate limit (tc tbf via libnl): Egress shapes the host's eth0, Ingress the
   * switch port towards the host. One root-qdisc fault per interface at a time. */
  Result<Fault> bandwidth(std::string_view host, std::uint64_t bytes_per_second,
                          Direction direction = Direction::Both);
  /* Added delay ± jitter (uniform). netem (via libnl) where the kernel has it; otherwise an
   * NFQUEUE delayer: nft chains in the host jump to an xt NFQUEUE rule and a thread in the host's
   * namespace releases each packet after delay ± jitter (seeded; seed in the description).
   * Egress delays what the host sends, Ingress what it receives. Unsupported (saying why) when
   * neither works; it never pretends. One latency fault per host at a time. */
  Result<Fault> latency(std::string_view host, std::chrono::milliseconds delay,
                        std::chrono::milliseconds jitter = std::chrono::milliseconds{0},
                        Direction direction = Direction::Both);

  /* Descriptions of the faults in force. */
  std::vector<std::string> active_faults() const;

  /* ---- zones and routers (topology.hpp; zone_faults.cpp) ---- */

  const std::vector<Zone>& zones() const;
  const std::vector<Router>& routers() const;
  /* Parts of the profile this kernel could not build, each saying why (e.g. latency without
   * netem); the network works without them. */
  const std::vector<std::string>& warnings() const;
  /* Run fn on a thread inside the router's namespace. */
  Status run_in_router(std::string_view router, const std::function<void()>& fn);

  /* Cut the routed path between two zones: every router drops (or rejects) forwarded packets
   * between their subnets, both ways (nft inet table, forward hook). */
  Result<Fault> zone_partition(std::string_view zone_a, std::string_view zone_b,
                               Action action = Action::Drop);
  /* An MTU black hole on the router's link into `zone`: both ends of the link get `mtu`, frames
   * above it are dropped by the bridge and the router sends no ICMP "fragmentation needed" (as a
   * firewall filtering ICMP does), so packets with DF set above `mtu` vanish without a trace. */
  Result<Fault> path_mtu(std::string_view router, std::string_view zone, int mtu);
  /* The router loses its connection-tracking state table (ctnetlink flush), as a firewall
   * that reboots or fails over to a peer without state sync. Instantaneous, nothing to heal. */
  Status firewall_reset(std::string_view router);
  /* Hosts of `zone` reach `to` through `via` from now on (route replaced); with the other
   * direction unchanged this makes routing asymmetric. Heal restores the previous route. */
  Result<Fault> reroute(std::string_view zone, std::string_view to, std::string_view via);

 private:
  explicit Network(std::shared_ptr<NetworkImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<NetworkImpl> impl_;
};

/* Validation used by create(); exposed for the lab's scenario checker. */
Status validate_prefix(std::string_view prefix);
Status validate_host_name(std::string_view name);

}  // namespace pgaf::netns
