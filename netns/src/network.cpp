/*
 * network.cpp — Network: build the topology, run code in hosts, apply and heal faults, tear down.
 *
 * Invariants:
 *   - create() is all-or-nothing: any failure destroys what was made so far.
 *   - The impl mutex serialises topology and fault changes; code supplied by the caller (run_in)
 *     runs without it, on a private duplicate of the namespace handle, so it may call back.
 *   - Faults are recorded with their heal action; a fault that would fight another over the same
 *     object (a link already down, a root qdisc already in use) is refused, never stacked.
 *   - Every host namespace carries table inet pgaf_base with a ct rule, so conntrack tracks all
 *     connections from the start and connection-level partitions classify them correctly.
 */
#include "pgaf/netns/network.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include "internal.hpp"
#include "network_impl.hpp"
#include "pgaf/netns/reaper.hpp"

namespace pgaf::netns {

using namespace detail;

namespace {

constexpr std::size_t kMaxHosts = 64;

const char* action_text(Action a) {
  return a == Action::Drop ? "drop" : "reject";
}

}  // namespace

/* ---- validation ---- */

Status validate_prefix(std::string_view prefix) {
  static const std::regex re("^pgaf-[a-z0-9-]{1,24}-$");
  if (!std::regex_match(prefix.begin(), prefix.end(), re))
    return make_error(ErrorCode::InvalidArgument,
                      "invalid network prefix \"" + std::string(prefix) + "\"",
                      "use pgaf-<tag>- with tag of 1..24 characters [a-z0-9-], e.g. pgaf-lab-7-");
  return Status::Ok();
}

Status validate_host_name(std::string_view name) {
  static const std::regex re("^[a-z][a-z0-9_]{0,11}$");
  if (!std::regex_match(name.begin(), name.end(), re) || name == "switch")
    return make_error(ErrorCode::InvalidArgument, "invalid host name \"" + std::string(name) + "\"",
                      "use 1..12 characters [a-z0-9_] starting with a letter, not \"switch\"");
  return Status::Ok();
}

const char* to_string(ConnectOutcome outcome) {
  switch (outcome) {
    case ConnectOutcome::Connected:
      return "connected";
    case ConnectOutcome::Refused:
      return "refused";
    case ConnectOutcome::TimedOut:
      return "timed out";
    case ConnectOutcome::Unreachable:
      return "unreachable";
    case ConnectOutcome::Failed:
      return "failed";
  }
  return "?";
}

/* ---- impl ---- */

Result<std::pair<Host, UniqueFd>> NetworkImpl::entry(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu);
  auto h = need(name);
  if (!h.ok()) return h.error();
  int fd = ::fcntl(host_fds.find(name)->second.get(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    return sys_error(ErrorCode::Internal, "could not duplicate a namespace handle", errno);
  return std::make_pair(**h, UniqueFd(fd));
}

Status NetworkImpl::heal(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = faults.find(id);
  if (it == faults.end()) return Status::Ok();
  Status st = it->second.heal();
  if (!st.ok()) return st; /* stays recorded: heal may be retried, teardown removes it anyway */
  for (const auto& k : it->second.busy_keys) busy.erase(k);
  faults.erase(it);
  return Status::Ok();
}

bool NetworkImpl::active(std::uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu);
  return faults.count(id) != 0;
}

Status NetworkImpl::claim(const std::vector<std::string>& keys) const {
  for (const auto& k : keys)
    if (busy.count(k) != 0)
      return make_error(ErrorCode::BadState, "\"" + k + "\" is already used by another fault",
                        "heal that fault first");
  return Status::Ok();
}

Fault NetworkImpl::record(const std::shared_ptr<NetworkImpl>& self, std::string description,
                          std::function<Status()> heal_fn, std::vector<std::string> keys) {
  const std::uint64_t id = next_fault++;
  for (const auto& k : keys) busy.insert(k);
  faults.emplace(id, FaultRecord{description, std::move(heal_fn), std::move(keys)});
  return Fault(self, id, std::move(description));
}

Status NetworkImpl::destroy_locked() {
  if (destroyed) return Status::Ok();
  destroyed = true;
  faults.clear(); /* the namespaces take every rule, qdisc and link state with them */
  busy.clear();
  Status first;
  /* External interfaces go back to the root namespace before their zone disappears (a physical
   * NIC would return by itself, a VLAN or veth would be deleted with the namespace). */
  for (const auto& [zone_name, ifname] : externals) {
    ZoneState* z = zone(zone_name);
    if (z == nullptr || !z->fd || !root_ns) continue;
    const int root = root_ns.get();
    const std::string name = ifname;
    Status st = on_thread_in(z->fd.get(), z->info.netns, [&]() -> Status {
      (void)nl_set_up(name, false);
      return nl_move_link(name, root);
    });
    if (!st.ok() && first.ok()) first = st;
  }
  externals.clear();
  std::vector<NsId> ids;
  std::vector<std::string> names;
  for (const auto& n : namespaces) {
    if (auto id = named_netns_id(n); id.ok()) {
      ids.push_back(*id);
      names.push_back(n);
    }
  }
  Killed k = kill_processes_in(ids, names, std::chrono::milliseconds(3000));
  if (!k.all_gone && first.ok())
    first = make_error(ErrorCode::Timeout,
                       "processes in network \"" + prefix + "\" survived SIGKILL for 3000 ms");
  host_fds.clear();
  for (auto& z : zones) z.fd.reset();
  for (auto& r : routers) r.fd.reset();
  for (auto it = namespaces.rbegin(); it != namespaces.rend(); ++it) {
    Status st = remove_named_netns(*it);
    if (!st.ok() && first.ok()) first = st;
  }
  namespaces.clear();
  remove_owner_file(prefix);
  return first;
}

/* ---- Fault ---- */

Fault::Fault(std::shared_ptr<NetworkImpl> network, std::uint64_t id, std::string description)
    : network_(network), id_(id), description_(std::move(description)) {}

Fault::Fault(Fault&& o) noexcept
    : network_(std::move(o.network_)),
      id_(std::exchange(o.id_, 0)),
      description_(std::move(o.description_)) {}

Fault& Fault::operator=(Fault&& o) noexcept {
  if (this != &o) {
    (void)heal();
    network_ = std::move(o.network_);
    id_ = std::exchange(o.id_, 0);
    description_ = std::move(o.description_);
  }
  return *this;
}

Fault::~Fault() {
  Status st = heal();
  if (!st.ok())
    std::fprintf(stderr, "netns: healing fault \"%s\" failed: %s\n", description_.c_str(),
                 st.error().to_string().c_str());
}

Status Fault::heal() {
  if (id_ == 0) return Status::Ok();
  auto net = network_.lock();
  if (!net) {
    id_ = 0;
    return Status::Ok();
  }
  Status st = net->heal(id_);
  if (st.ok()) id_ = 0;
  return st;
}

bool Fault::active() const {
  if (id_ == 0) return false;
  auto net = network_.lock();
  return net && net->active(id_);
}

/* ---- Network: lifecycle ---- */

Result<Network> Network::create(NetworkSpec spec) {
  if (auto st = validate_prefix(spec.prefix); !st.ok()) return st.error();
  if (spec.hosts.empty())
    return make_error(ErrorCode::InvalidArgument, "network \"" + spec.prefix + "\" has no hosts");
  if (spec.hosts.size() > kMaxHosts)
    return make_error(
        ErrorCode::OutOfRange,
        "network \"" + spec.prefix + "\" has " + std::to_string(spec.hosts.size()) + " hosts",
        "at most " + std::to_string(kMaxHosts));
  std::set<std::string> seen;
  for (const auto& h : spec.hosts) {
    if (auto st = validate_host_name(h); !st.ok()) return st.error();
    if (!seen.insert(h).second)
      return make_error(ErrorCode::AlreadyExists, "host \"" + h + "\" is listed twice");
  }
  TopologySpec topology;
  if (spec.topology) {
    topology = *spec.topology;
    if (auto st = validate_topology(topology, spec.hosts); !st.ok()) return st.error();
    /* Before anything is built: a missing interface must not leave half a network. */
    if (auto st = check_external_interfaces(topology); !st.ok()) return st.error();
  } else {
    auto subnet = parse_subnet(spec.subnet);
    if (!subnet.ok()) return subnet.error();
    const std::uint64_t capacity = (std::uint64_t{1} << (32 - subnet->length)) - 2;
    if (spec.hosts.size() > capacity)
      return make_error(ErrorCode::OutOfRange, "subnet " + spec.subnet + " has room for " +
                                                   std::to_string(capacity) + " hosts only");
    topology.zones.push_back(ZoneSpec{"lan", spec.subnet, 1500, {}});
  }
  if (auto existing = list_namespaces(spec.prefix); !existing.empty())
    return make_error(ErrorCode::AlreadyExists,
                      "network namespaces with prefix \"" + spec.prefix + "\" already exist",
                      "reap the prefix first (pgaf::netns::reap or lab-net reap)",
                      join(existing, ", "));

  auto impl = std::make_shared<NetworkImpl>();
  impl->prefix = spec.prefix;
  std::lock_guard<std::mutex> lock(impl->mu);
  if (Status st = impl->build(spec, topology); !st.ok()) {
    (void)impl->destroy_locked();
    return st.error();
  }
  return Network(std::move(impl));
}

Network& Network::operator=(Network&& other) noexcept {
  if (this != &other) {
    (void)destroy();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

Network::~Network() {
  Status st = destroy();
  if (!st.ok()) std::fprintf(stderr, "netns: teardown: %s\n", st.error().to_string().c_str());
}

Status Network::destroy() {
  if (!impl_) return Status::Ok();
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->destroy_locked();
}

const std::string& Network::prefix() const {
  return impl_->prefix;
}
const std::string& Network::subnet() const {
  return impl_->subnet;
}
const std::vector<Host>& Network::hosts() const {
  return impl_->hosts;
}
std::string Network::switch_netns() const {
  return impl_->switch_ns();
}

Result<Host> Network::host(std::string_view name) const {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto h = impl_->need(name);
  if (!h.ok()) return h.error();
  return **h;
}

/* ---- running code inside hosts ---- */

Result<UniqueFd> Network::open_netns(std::string_view host) const {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  auto e = impl_->entry(host);
  if (!e.ok()) return e.error();
  return std::move(e->second);
}

Result<ChildProcess> Network::spawn(std::string_view host, const SpawnOptions& options) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  auto e = impl_->entry(host);
  if (!e.ok()) return e.error();
  return spawn_in_netns(e->second.get(), e->first.netns, options);
}

Status Network::run_in(std::string_view host, const std::function<void()>& fn) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  auto e = impl_->entry(host);
  if (!e.ok()) return e.error();
  return on_thread_in(e->second.get(), e->first.netns, [&] {
    fn();
    return Status::Ok();
  });
}

ConnectResult Network::tcp_connect(std::string_view host, const std::string& address,
                                   std::uint16_t port, std::chrono::milliseconds timeout) {
  ConnectResult result;
  if (!impl_) return result;
  auto e = impl_->entry(host);
  if (!e.ok()) {
    result.error_number = EINVAL;
    return result;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    result.error_number = EINVAL;
    return result;
  }
  auto classify = [&](int err) {
    result.error_number = err;
    switch (err) {
      case 0:
        result.outcome = ConnectOutcome::Connected;
        break;
      case ECONNREFUSED:
      case ECONNRESET:
        result.outcome = ConnectOutcome::Refused;
        break;
      case ETIMEDOUT:
        result.outcome = ConnectOutcome::TimedOut;
        break;
      case EHOSTUNREACH:
      case ENETUNREACH:
        result.outcome = ConnectOutcome::Unreachable;
        break;
      default:
        result.outcome = ConnectOutcome::Failed;
        break;
    }
  };
  (void)on_thread_in(e->second.get(), e->first.netns, [&]() -> Status {
    const auto start = std::chrono::steady_clock::now();
    auto done = [&] {
      result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
    };
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
      classify(errno);
      return Status::Ok();
    }
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
      classify(0);
    } else if (errno != EINPROGRESS) {
      classify(errno);
    } else {
      pollfd p{fd.get(), POLLOUT, 0};
      int n;
      do {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            start + timeout - std::chrono::steady_clock::now());
        n = ::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 0)));
      } while (n < 0 && errno == EINTR);
      if (n == 0) {
        classify(ETIMEDOUT);
      } else {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        classify(err);
      }
    }
    done();
    if (result.outcome == ConnectOutcome::Connected) {
      int flags = ::fcntl(fd.get(), F_GETFL);
      ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
      result.fd = std::move(fd);
    }
    return Status::Ok();
  });
  return result;
}

Result<UniqueFd> Network::tcp_listen(std::string_view host, std::uint16_t port, int backlog) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  auto e = impl_->entry(host);
  if (!e.ok()) return e.error();
  UniqueFd out;
  const Host& h = e->first;
  Status st = on_thread_in(e->second.get(), h.netns, [&]() -> Status {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
      return sys_error(ErrorCode::Internal, "could not create a socket in " + h.netns, errno);
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, h.address.c_str(), &sa.sin_addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      return sys_error(ErrorCode::Internal,
                       "could not bind " + h.address + ":" + std::to_string(port) + " in host \"" +
                           h.name + "\"",
                       errno);
    if (::listen(fd.get(), backlog) != 0)
      return sys_error(ErrorCode::Internal, "could not listen in host \"" + h.name + "\"", errno);
    out = std::move(fd);
    return Status::Ok();
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<std::string> Network::route_get(std::string_view host, const std::string& address) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  auto e = impl_->entry(host);
  if (!e.ok()) return e.error();
  Result<std::string> out = std::string();
  Status st = on_thread_in(e->second.get(), e->first.netns, [&] {
    out = nl_route_get(address);
    return Status::Ok();
  });
  if (!st.ok()) return st.error();
  if (!out.ok()) {
    Error err = out.error();
    err.message = "host \"" + std::string(host) + "\": " + err.message;
    return err;
  }
  return out;
}

Result<std::vector<std::string>> Network::links(std::string_view host) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  auto e = impl_->entry(host);
  if (!e.ok()) return e.error();
  Result<std::vector<std::string>> out = std::vector<std::string>{};
  Status st = on_thread_in(e->second.get(), e->first.netns, [&] {
    out = nl_link_names();
    return Status::Ok();
  });
  if (!st.ok()) return st.error();
  return out;
}

/* ---- faults ---- */

Result<Fault> Network::link_down(std::string_view host, LinkSide side) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto hp = impl_->need(host);
  if (!hp.ok()) return hp.error();
  const Host h = **hp;
  std::vector<std::pair<bool, std::string>> targets; /* (switch side?, link) */
  if (side != LinkSide::Switch) targets.emplace_back(false, h.interface);
  if (side != LinkSide::Host) targets.emplace_back(true, h.switch_port);
  std::vector<std::string> keys;
  for (const auto& [sw, link] : targets)
    keys.push_back("link " + (sw ? h.switch_netns : h.netns) + "/" + link);
  if (auto st = impl_->claim(keys); !st.ok()) return st.error();
  NetworkImpl* net = impl_.get();
  auto set_all = [net, h, targets](bool up) -> Status {
    Status first;
    for (const auto& [sw, link] : targets) {
      const std::string l = link;
      Status st = net->in_side(h, sw, [&] { return nl_set_up(l, up); });
      if (!st.ok() && first.ok()) first = st;
    }
    /* Healed means usable: both veth ends operationally up (carrier, qdisc attached). */
    if (up && first.ok()) {
      first = net->in_host(h, [&] { return nl_wait_oper_up({h.interface}, kLinkUpTimeout); });
      if (first.ok())
        first = net->in_switch(h, [&] { return nl_wait_oper_up({h.switch_port}, kLinkUpTimeout); });
    }
    return first;
  };
  if (Status st = set_all(false); !st.ok()) {
    (void)set_all(true);
    return st.error();
  }
  const char* side_text = side == LinkSide::Host     ? "host side"
                          : side == LinkSide::Switch ? "switch side"
                                                     : "both sides";
  return impl_->record(
      impl_, "link down " + h.name + " (" + side_text + ")", [set_all] { return set_all(true); },
      keys);
}

Result<Fault> Network::partition(const PartitionSpec& spec) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (spec.from.empty() || spec.to.empty())
    return make_error(ErrorCode::InvalidArgument, "partition: both host sets must be non-empty");
  std::set<std::string> from_set(spec.from.begin(), spec.from.end());
  for (const auto& t : spec.to)
    if (from_set.count(t) != 0)
      return make_error(ErrorCode::InvalidArgument,
                        "partition: host \"" + t + "\" is on both sides");
  std::vector<Host> from, to;
  for (const auto& n : spec.from) {
    auto h = impl_->need(n);
    if (!h.ok()) return h.error();
    from.push_back(**h);
  }
  for (const auto& n : spec.to) {
    auto h = impl_->need(n);
    if (!h.ok()) return h.error();
    to.push_back(**h);
  }
  const std::uint64_t id = impl_->next_fault;
  const std::string table = "pgaf_f" + std::to_string(id);
  /* receiver -> sources whose packets it refuses */
  std::map<std::string, std::vector<std::string>> refuse;
  for (const auto& r : to)
    for (const auto& s : from) refuse[r.name].push_back(s.address);
  if (!spec.one_way)
    for (const auto& r : from)
      for (const auto& s : to) refuse[r.name].push_back(s.address);

  auto script_for = [&](const std::vector<std::string>& sources) {
    const std::string match =
        "ip saddr { " + join(sources, ", ") + " }" + (spec.strict ? "" : " ct direction original");
    std::string s = "table inet " + table + " {\n  chain input {\n" +
                    "    type filter hook input priority -10; policy accept;\n";
    if (spec.action == Action::Drop) {
      s += "    " + match + " drop\n";
    } else {
      s += "    " + match + " meta l4proto tcp reject with tcp reset\n";
      s += "    " + match + " reject with icmpx type admin-prohibited\n";
    }
    s += "  }\n}\n";
    return s;
  };

  NetworkImpl* net = impl_.get();
  std::vector<Host> applied;
  auto remove_from = [net, table](const std::vector<Host>& hosts) -> Status {
    Status first;
    for (const auto& h : hosts) {
      Status st = net->in_host(h, [&]() -> Status {
        auto r = nft_run("delete table inet " + table + "\n");
        return r.ok() ? Status::Ok() : Status(r.error());
      });
      if (!st.ok() && first.ok()) first = st;
    }
    return first;
  };
  for (const auto& [receiver, sources] : refuse) {
    const Host& h = *impl_->find(receiver);
    const std::string script = script_for(sources);
    Status st = impl_->in_host(h, [&]() -> Status {
      auto r = nft_run(script);
      return r.ok() ? Status::Ok() : Status(r.error());
    });
    if (!st.ok()) {
      (void)remove_from(applied);
      Error e = st.error();
      e.message = "partition: host \"" + h.name + "\": " + e.message;
      return e;
    }
    applied.push_back(h);
  }
  std::vector<std::string> fn, tn;
  for (const auto& h : from) fn.push_back(h.name);
  for (const auto& h : to) tn.push_back(h.name);
  std::string desc = "partition {" + join(fn, ",") + "} " + (spec.one_way ? "-/->" : "<-/->") +
                     " {" + join(tn, ",") + "} (" + action_text(spec.action) +
                     (spec.strict ? ", strict" : "") + ")";
  return impl_->record(impl_, desc, [remove_from, applied] { return remove_from(applied); }, {});
}

Result<Fault> Network::isolate(std::string_view host, Action action) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  PartitionSpec spec;
  spec.action = action;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto h = impl_->need(host);
    if (!h.ok()) return h.error();
    spec.from.push_back(std::string(host));
    for (const auto& o : impl_->hosts)
      if (o.name != host) spec.to.push_back(o.name);
  }
  if (spec.to.empty())
    return make_error(ErrorCode::InvalidArgument,
                      "cannot isolate host \"" + std::string(host) + "\": it is the only host");
  auto f = partition(spec);
  return f;
}

Result<Fault> Network::packet_loss(std::string_view host, double percent, Direction direction) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  if (!(percent > 0.0 && percent <= 100.0))
    return make_error(ErrorCode::OutOfRange,
                      "packet loss " + std::to_string(percent) + "% is out of range",
                      "use 0 < percent <= 100");
  const long per10k = std::lround(percent * 100.0);
  if (per10k < 1)
    return make_error(ErrorCode::OutOfRange, "packet loss below 0.01% cannot be expressed");
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto hp = impl_->need(host);
  if (!hp.ok()) return hp.error();
  const Host h = **hp;
  const std::string table = "pgaf_f" + std::to_string(impl_->next_fault);
  const std::string cond = per10k >= 10000
                               ? std::string("drop\n")
                               : "numgen random mod 10000 < " + std::to_string(per10k) + " drop\n";
  std::string script = "table bridge " + table + " {\n  chain forward {\n" +
                       "    type filter hook forward priority -10; policy accept;\n";
  if (direction != Direction::Ingress)
    script += "    iifname \"" + h.switch_port + "\" ether type ip " + cond;
  if (direction != Direction::Egress)
    script += "    oifname \"" + h.switch_port + "\" ether type ip " + cond;
  script += "  }\n}\n";
  Status st = impl_->in_switch(h, [&]() -> Status {
    auto r = nft_run(script);
    return r.ok() ? Status::Ok() : Status(r.error());
  });
  if (!st.ok()) return st.error();
  NetworkImpl* net = impl_.get();
  const char* dir = direction == Direction::Egress    ? "egress"
                    : direction == Direction::Ingress ? "ingress"
                                                      : "both ways";
  char pct[32];
  std::snprintf(pct, sizeof pct, "%.2f", percent);
  return impl_->record(impl_, "packet loss " + std::string(pct) + "% " + h.name + " (" + dir + ")",
                       [net, table, h] {
                         return net->in_switch(h, [&]() -> Status {
                           auto r = nft_run("delete table bridge " + table + "\n");
                           return r.ok() ? Status::Ok() : Status(r.error());
                         });
                       },
                       {});
}

namespace {
/* Apply a root qdisc fault on the chosen sides; shared by bandwidth and latency. */
Result<Fault> qdisc_fault(const std::shared_ptr<NetworkImpl>& impl, std::string_view host,
                          Direction direction, const QdiscSpec& spec, const std::string& what) {
  std::lock_guard<std::mutex> lock(impl->mu);
  auto hp = impl->need(host);
  if (!hp.ok()) return hp.error();
  const Host h = **hp;
  std::vector<std::pair<bool, std::string>> targets;
  if (direction != Direction::Ingress) targets.emplace_back(false, h.interface);
  if (direction != Direction::Egress) targets.emplace_back(true, h.switch_port);
  std::vector<std::string> keys;
  for (const auto& [sw, link] : targets)
    keys.push_back("root qdisc " + (sw ? h.switch_netns : h.netns) + "/" + link);
  if (auto st = impl->claim(keys); !st.ok()) return st.error();
  NetworkImpl* net = impl.get();
  auto remove = [net, h](const std::vector<std::pair<bool, std::string>>& done) -> Status {
    Status first;
    for (const auto& [sw, link] : done) {
      const std::string l = link;
      Status st = net->in_side(h, sw, [&] { return nl_delete_root_qdisc(l); });
      if (!st.ok() && first.ok()) first = st;
    }
    return first;
  };
  std::vector<std::pair<bool, std::string>> applied;
  for (const auto& t : targets) {
    const std::string l = t.second;
    Status st = net->in_side(h, t.first, [&] { return nl_add_root_qdisc(l, spec); });
    if (!st.ok()) {
      (void)remove(applied);
      return st.error();
    }
    applied.push_back(t);
  }
  const char* dir = direction == Direction::Egress    ? "egress"
                    : direction == Direction::Ingress ? "ingress"
                                                      : "both ways";
  return impl->record(
      impl, what + " " + h.name + " (" + dir + ")", [remove, applied] { return remove(applied); },
      keys);
}
}  // namespace

Result<Fault> Network::bandwidth(std::string_view host, std::uint64_t bytes_per_second,
                                 Direction direction) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  QdiscSpec spec;
  spec.kind = "tbf";
  spec.rate_bytes_per_second = bytes_per_second;
  return qdisc_fault(impl_, host, direction, spec,
                     "bandwidth " + std::to_string(bytes_per_second) + " B/s");
}

namespace {
/* FNV-1a: a seed that is the same on every run for the same network, host and fault number. */
std::uint64_t stable_seed(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : text) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

/* Latency without netem: nft chains jump to a rule with the xt NFQUEUE target; a delayer
 * thread in the host's namespace holds each packet for delay ± jitter. */
Result<Fault> nfqueue_latency(const std::shared_ptr<NetworkImpl>& impl, std::string_view host,
                              std::chrono::milliseconds delay, std::chrono::milliseconds jitter,
                              Direction direction) {
  std::lock_guard<std::mutex> lock(impl->mu);
  auto hp = impl->need(host);
  if (!hp.ok()) return hp.error();
  const Host h = **hp;
  std::vector<std::string> keys{"latency " + h.netns};
  if (auto st = impl->claim(keys); !st.ok()) return st.error();
  const std::uint64_t id = impl->next_fault;
  const std::string table = "pgaf_f" + std::to_string(id);
  const auto queue = static_cast<std::uint16_t>(id % 65000 + 1);
  const std::uint64_t seed = stable_seed(impl->prefix + h.name + "#" + std::to_string(id));
  auto delayer = start_delayer(impl->host_fds[h.name].get(), h.netns, queue,
                               static_cast<std::uint32_t>(delay.count() * 1000),
                               static_cast<std::uint32_t>(jitter.count() * 1000), seed);
  if (!delayer.ok()) return delayer.error();
  std::string script = "table ip " + table + " {\n  chain delay {\n  }\n";
  if (direction != Direction::Ingress)
    script +=
        "  chain out {\n    type filter hook output priority 10; policy accept;\n"
        "    oifname \"" +
        h.interface + "\" jump delay\n  }\n";
  if (direction != Direction::Egress)
    script +=
        "  chain in {\n    type filter hook input priority 10; policy accept;\n"
        "    iifname \"" +
        h.interface + "\" jump delay\n  }\n";
  script += "}\n";
  Status st = impl->in_host(h, [&]() -> Status {
    if (auto r = nft_run(script); !r.ok()) return r.error();
    Status added = nft_add_xt_nfqueue_rule(NFPROTO_IPV4, table, "delay", queue);
    if (!added.ok()) (void)nft_run("delete table ip " + table + "\n");
    return added;
  });
  if (!st.ok()) return st.error();
  std::shared_ptr<Delayer> running(std::move(delayer).value());
  NetworkImpl* net = impl.get();
  const char* dir = direction == Direction::Egress    ? "egress"
                    : direction == Direction::Ingress ? "ingress"
                                                      : "both ways";
  std::string desc = "latency " + std::to_string(delay.count()) + " ms ± " +
                     std::to_string(jitter.count()) + " ms " + h.name + " (" + dir +
                     ", nfqueue delayer, queue " + std::to_string(queue) + ", seed " +
                     std::to_string(seed) + ")";
  return impl->record(
      impl, desc,
      [net, h, table, running]() -> Status {
        /* Release everything held and unbind first (the rule's bypass flag lets packets pass
         * from then on), then remove the rule: deleting a hook drops packets still queued. */
        running->stop();
        return net->in_host(h, [&]() -> Status {
          auto r = nft_run("delete table ip " + table + "\n");
          return r.ok() ? Status::Ok() : Status(r.error());
        });
      },
      keys);
}
}  // namespace

Result<Fault> Network::latency(std::string_view host, std::chrono::milliseconds delay,
                               std::chrono::milliseconds jitter, Direction direction) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  if (delay.count() <= 0 || delay.count() > 60000 || jitter.count() < 0 ||
      jitter.count() > delay.count())
    return make_error(ErrorCode::OutOfRange,
                      "latency " + std::to_string(delay.count()) + " ms ± " +
                          std::to_string(jitter.count()) + " ms is out of range",
                      "use 0 < delay <= 60000 ms and 0 <= jitter <= delay");
  QdiscSpec spec;
  spec.kind = "netem";
  spec.delay_us = static_cast<std::uint32_t>(delay.count() * 1000);
  spec.jitter_us = static_cast<std::uint32_t>(jitter.count() * 1000);
  auto f = qdisc_fault(impl_, host, direction, spec,
                       "latency " + std::to_string(delay.count()) + " ms ± " +
                           std::to_string(jitter.count()) + " ms (netem)");
  if (f.ok() || f.error().code != ErrorCode::Unsupported) return f;
  const Error netem_error = f.error();
  auto nf = nfqueue_latency(impl_, host, delay, jitter, direction);
  if (nf.ok() || nf.error().code != ErrorCode::Unsupported) return nf;
  Error e = nf.error();
  e.message = "latency fault is unsupported on this machine: " + e.message;
  e.detail += "; netem: " + netem_error.detail;
  e.hint =
      "this kernel has neither the netem qdisc (sch_netem) nor NFQUEUE through nft_compat; "
      "skip the scenario (probe_capabilities() says which)";
  return e;
}

std::vector<std::string> Network::active_faults() const {
  std::vector<std::string> out;
  if (!impl_) return out;
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (const auto& [id, f] : impl_->faults) out.push_back(f.description);
  return out;
}

}  // namespace pgaf::netns
