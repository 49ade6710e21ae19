/*
 * zone_faults.cpp — faults of a routed network (topology.hpp): a cut between zones, an MTU black
 * hole on a router leg, the loss of a firewall's connection-tracking table, a route change that
 * makes routing asymmetric. Each is one nft transaction, one ctnetlink message or a set of
 * netlink changes per namespace; each Fault heals exactly what it changed.
 *
 * Invariants: faults that would fight over the same object (the MTU of one leg, the route of one
 * zone pair) are refused with BadState, never stacked; a failure part-way undoes what was done.
 */
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>

#include <ctime>

#include "network_impl.hpp"
#include "pgaf/netns/network.hpp"

namespace pgaf::netns {

using namespace detail;

namespace detail {

Status ct_flush() {
  mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == nullptr)
    return sys_error(ErrorCode::Unsupported, "could not open a netfilter netlink socket", errno);
  std::unique_ptr<mnl_socket, int (*)(mnl_socket*)> guard(nl, mnl_socket_close);
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
    return sys_error(ErrorCode::Internal, "could not bind a netfilter netlink socket", errno);
  std::vector<char> buf(static_cast<std::size_t>(MNL_SOCKET_BUFFER_SIZE));
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = static_cast<unsigned>(std::time(nullptr));
  auto* nfh = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfh->nfgen_family = AF_INET;
  nfh->version = NFNETLINK_V0;
  nfh->res_id = 0;
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
    return sys_error(ErrorCode::Internal, "could not send the conntrack flush", errno);
  const unsigned seq = nlh->nlmsg_seq;
  const unsigned portid = mnl_socket_get_portid(nl);
  ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
  if (n < 0) return sys_error(ErrorCode::Internal, "no answer to the conntrack flush", errno);
  if (mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, nullptr, nullptr) < 0)
    return sys_error(
        errno == ENOENT || errno == EOPNOTSUPP ? ErrorCode::Unsupported : ErrorCode::Internal,
        "the kernel refused the conntrack flush", errno, "needs nf_conntrack_netlink (ctnetlink)");
  return Status::Ok();
}

}  // namespace detail

namespace {

Status nft_in(int fd, const std::string& ns, const std::string& script) {
  return on_thread_in(fd, ns, [&]() -> Status {
    auto r = nft_run(script);
    return r.ok() ? Status::Ok() : Status(r.error());
  });
}

}  // namespace

const std::vector<Zone>& Network::zones() const {
  return impl_->zone_list;
}
const std::vector<Router>& Network::routers() const {
  return impl_->router_list;
}
const std::vector<std::string>& Network::warnings() const {
  return impl_->warnings;
}

Status Network::run_in_router(std::string_view router, const std::function<void()>& fn) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  int fd = -1;
  std::string ns;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto* r = impl_->router(router);
    if (r == nullptr || impl_->destroyed)
      return make_error(ErrorCode::UnknownNode, "no router \"" + std::string(router) + "\"");
    fd = ::fcntl(r->fd.get(), F_DUPFD_CLOEXEC, 0);
    ns = r->info.netns;
  }
  UniqueFd own(fd);
  return on_thread_in(own.get(), ns, [&] {
    fn();
    return Status::Ok();
  });
}

Result<Fault> Network::zone_partition(std::string_view zone_a, std::string_view zone_b,
                                      Action action) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto* a = impl_->zone(zone_a);
  auto* b = impl_->zone(zone_b);
  if (a == nullptr || b == nullptr || a == b)
    return make_error(ErrorCode::InvalidArgument, "zone partition: \"" + std::string(zone_a) +
                                                      "\" and \"" + std::string(zone_b) +
                                                      "\" are not two zones of this network");
  if (impl_->routers.empty())
    return make_error(ErrorCode::BadState, "zone partition: this network has no router");
  const std::string table = "pgaf_f" + std::to_string(impl_->next_fault);
  const std::string verdict = action == Action::Drop
                                  ? std::string(" drop\n")
                                  : std::string(" meta l4proto tcp reject with tcp reset\n");
  std::string script = "table inet " + table +
                       " {\n  chain forward {\n    type filter hook forward priority -300; "
                       "policy accept;\n";
  for (const auto& [from, to] : {std::pair{a, b}, std::pair{b, a}}) {
    const std::string match = "    ip saddr " + from->info.subnet + " ip daddr " + to->info.subnet;
    script += match + verdict;
    if (action == Action::Reject) script += match + " reject with icmpx type admin-prohibited\n";
  }
  script += "  }\n}\n";
  std::vector<NetworkImpl::RouterState*> applied;
  NetworkImpl* net = impl_.get();
  auto remove = [net, table](const std::vector<std::string>& names) -> Status {
    Status first;
    for (const auto& n : names) {
      auto* r = net->router(n);
      if (r == nullptr) continue;
      Status st = nft_in(r->fd.get(), r->info.netns, "delete table inet " + table + "\n");
      if (!st.ok() && first.ok()) first = st;
    }
    return first;
  };
  std::vector<std::string> done;
  for (auto& r : impl_->routers) {
    if (Status st = nft_in(r.fd.get(), r.info.netns, script); !st.ok()) {
      (void)remove(done);
      Error e = st.error();
      e.message = "zone partition: router \"" + r.info.name + "\": " + e.message;
      return e;
    }
    done.push_back(r.info.name);
  }
  return impl_->record(impl_,
                       "zone partition " + a->info.name + " <-/-> " + b->info.name + " (" +
                           (action == Action::Drop ? "drop" : "reject") + ", at every router)",
                       [remove, done] { return remove(done); }, {});
}

Result<Fault> Network::path_mtu(std::string_view router, std::string_view zone, int mtu) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  if (mtu < 576 || mtu > 9000)
    return make_error(ErrorCode::OutOfRange, "path MTU " + std::to_string(mtu) + " is out of range",
                      "use 576..9000");
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto* r = impl_->router(router);
  auto* z = impl_->zone(zone);
  if (r == nullptr || z == nullptr || r->info.addresses.count(z->info.name) == 0)
    return make_error(ErrorCode::InvalidArgument, "path MTU: router \"" + std::string(router) +
                                                      "\" has no leg in zone \"" +
                                                      std::string(zone) + "\"");
  int old_mtu = z->info.mtu;
  for (const auto& itf : r->interfaces)
    if (itf.zone == z->info.name && itf.link.mtu != 0) old_mtu = itf.link.mtu;
  std::vector<std::string> keys{"mtu " + r->info.name + "/" + z->info.name};
  if (auto st = impl_->claim(keys); !st.ok()) return st.error();
  const std::string table = "pgaf_f" + std::to_string(impl_->next_fault);
  const std::string leg = z->info.name, port = "sw-" + r->info.name;
  NetworkImpl* net = impl_.get();
  const std::string rname = r->info.name, zname = z->info.name;
  auto set_mtu = [net, rname, zname, leg, port](int value) -> Status {
    auto* rr = net->router(rname);
    auto* zz = net->zone(zname);
    if (rr == nullptr || zz == nullptr) return Status::Ok(); /* network destroyed */
    Status st = on_thread_in(rr->fd.get(), rr->info.netns, [&] { return nl_set_mtu(leg, value); });
    if (!st.ok()) return st;
    return on_thread_in(zz->fd.get(), zz->info.netns, [&] { return nl_set_mtu(port, value); });
  };
  if (Status st = set_mtu(mtu); !st.ok()) {
    (void)set_mtu(old_mtu);
    return st.error();
  }
  /* No "fragmentation needed" from this router: PMTU discovery cannot work around the hole. */
  const std::string script = "table ip " + table +
                             " {\n  chain output {\n    type filter hook output priority 0; "
                             "policy accept;\n    icmp type destination-unreachable icmp code "
                             "frag-needed drop\n  }\n}\n";
  if (Status st = nft_in(r->fd.get(), r->info.netns, script); !st.ok()) {
    (void)set_mtu(old_mtu);
    return st.error();
  }
  return impl_->record(
      impl_,
      "path MTU " + std::to_string(mtu) + " on " + rname + "/" + zname +
          " (DF packets above it black-holed, no ICMP)",
      [net, set_mtu, old_mtu, rname, table]() -> Status {
        Status first = set_mtu(old_mtu);
        auto* rr = net->router(rname);
        if (rr == nullptr) return first;
        Status st = nft_in(rr->fd.get(), rr->info.netns, "delete table ip " + table + "\n");
        return first.ok() ? st : first;
      },
      keys);
}

Status Network::firewall_reset(std::string_view router) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto* r = impl_->router(router);
  if (r == nullptr || impl_->destroyed)
    return make_error(ErrorCode::UnknownNode, "no router \"" + std::string(router) + "\"");
  Status st = on_thread_in(r->fd.get(), r->info.netns, [] { return ct_flush(); });
  if (!st.ok()) {
    Error e = st.error();
    e.message = "router \"" + r->info.name + "\": " + e.message;
    return e;
  }
  return Status::Ok();
}

Result<Fault> Network::reroute(std::string_view zone, std::string_view to, std::string_view via) {
  if (!impl_) return make_error(ErrorCode::BadState, "empty network");
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto* z = impl_->zone(zone);
  auto* dst = impl_->zone(to);
  auto* r = impl_->router(via);
  if (z == nullptr || dst == nullptr || z == dst || r == nullptr ||
      r->info.addresses.count(z->info.name) == 0 || r->info.addresses.count(dst->info.name) == 0)
    return make_error(ErrorCode::InvalidArgument,
                      "reroute: router \"" + std::string(via) + "\" does not join zones \"" +
                          std::string(zone) + "\" and \"" + std::string(to) + "\"");
  const std::string key = z->info.name + ">" + dst->info.name;
  std::vector<std::string> keys{"route " + key};
  if (auto st = impl_->claim(keys); !st.ok()) return st.error();
  const std::string before = impl_->route_via.count(key) ? impl_->route_via[key] : std::string();
  if (before.empty())
    return make_error(ErrorCode::BadState, "reroute: zone \"" + z->info.name +
                                               "\" has no route to \"" + dst->info.name + "\"");
  NetworkImpl* net = impl_.get();
  const std::string subnet = dst->info.subnet, zname = z->info.name;
  auto route_all = [net, subnet, zname, key](const std::string& router_name) -> Status {
    auto* gw_router = net->router(router_name);
    if (gw_router == nullptr) return Status::Ok(); /* network destroyed */
    const std::string gw = gw_router->info.addresses[zname];
    Status first;
    for (const auto& h : net->hosts) {
      if (h.zone != zname) continue;
      Status st = net->in_host(h, [&] { return nl_add_route(subnet, gw, true); });
      if (!st.ok() && first.ok()) first = st;
    }
    if (first.ok()) net->route_via[key] = router_name;
    return first;
  };
  if (Status st = route_all(r->info.name); !st.ok()) {
    (void)route_all(before);
    return st.error();
  }
  return impl_->record(
      impl_,
      "reroute " + zname + " -> " + dst->info.name + " via " + r->info.name + " (was " + before +
          ")",
      [route_all, before] { return route_all(before); }, keys);
}

}  // namespace pgaf::netns
