/*
 * nl.cpp — libnl-route-3 and libnftables wrappers (links, addresses, routes, qdiscs, nft scripts).
 *
 * Every function opens its own socket on the calling thread, so it acts in that thread's network
 * namespace (callers run these through on_thread_in). Every libnl object is owned by a
 * unique_ptr with its put/free function, so no path leaks. Errors carry nl_geterror() text or
 * nft's error buffer, and name the link or the script.
 * libnftables is used behind one process-wide mutex: its contexts are independent, but we do not
 * rely on the library being reentrant.
 */
#include <arpa/inet.h>
#include <linux/pkt_sched.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/route.h>
#include <netlink/route/tc.h>
#include <nftables/libnftables.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "internal.hpp"

namespace pgaf::netns::detail {

namespace {

struct SockDel {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct LinkDel {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct AddrDel {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct NlAddrDel {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct QdiscDel {
  void operator()(rtnl_qdisc* q) const { rtnl_qdisc_put(q); }
};
struct CacheDel {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
struct MsgDel {
  void operator()(nl_msg* m) const { nlmsg_free(m); }
};
struct RouteDel {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
using Sock = std::unique_ptr<nl_sock, SockDel>;
using Link = std::unique_ptr<rtnl_link, LinkDel>;

Error nl_error(std::string message, int nlerr, std::string hint = {}) {
  return make_error(ErrorCode::Internal, std::move(message), std::move(hint),
                    std::string("netlink: ") + nl_geterror(nlerr));
}

Result<Sock> route_socket() {
  Sock sk(nl_socket_alloc());
  if (!sk) return make_error(ErrorCode::Internal, "could not allocate a netlink socket");
  if (int err = nl_connect(sk.get(), NETLINK_ROUTE); err < 0)
    return nl_error("could not open an rtnetlink socket", err);
  return sk;
}

Result<Link> get_link(nl_sock* sk, const std::string& name) {
  rtnl_link* l = nullptr;
  if (int err = rtnl_link_get_kernel(sk, 0, name.c_str(), &l); err < 0)
    return nl_error("could not find link \"" + name + "\"", err);
  return Link(l);
}

/* IF_OPER_UP from linux/if.h (RFC 2863 operstate); that header clashes with net/if.h. */
constexpr std::uint8_t kOperUp = 6;

rtnl_tc* as_tc(rtnl_qdisc* q) {
  return reinterpret_cast<rtnl_tc*>(q);
}

std::mutex& nft_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

Status nl_create_bridge(const std::string& name) {
  auto sk = route_socket();
  if (!sk.ok()) return sk.error();
  Link br(rtnl_link_bridge_alloc());
  if (!br) return make_error(ErrorCode::Internal, "could not allocate bridge \"" + name + "\"");
  rtnl_link_set_name(br.get(), name.c_str());
  if (int err = rtnl_link_add(sk->get(), br.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
    return nl_error("could not create bridge \"" + name + "\"", err);
  return Status::Ok();
}

Status nl_create_veth(const std::string& name, const std::string& peer_name, int peer_netns_fd) {
  auto sk = route_socket();
  if (!sk.ok()) return sk.error();
  Link veth(rtnl_link_veth_alloc());
  if (!veth) return make_error(ErrorCode::Internal, "could not allocate veth \"" + name + "\"");
  rtnl_link_set_name(veth.get(), name.c_str());
  rtnl_link* peer = rtnl_link_veth_get_peer(veth.get()); /* takes a reference */
  rtnl_link_set_name(peer, peer_name.c_str());
  if (peer_netns_fd >= 0) rtnl_link_set_ns_fd(peer, peer_netns_fd);
  int err = rtnl_link_add(sk->get(), veth.get(), NLM_F_CREATE | NLM_F_EXCL);
  rtnl_link_put(peer);
  if (err < 0)
    return nl_error("could not create veth pair \"" + name + "\" / \"" + peer_name + "\"", err);
  return Status::Ok();
}

Status nl_set_master(const std::string& link, const std::string& master) {
  auto sk = route_socket();
  if (!sk.ok()) return sk.error();
  auto l = get_link(sk->get(), link);
  if (!l.ok()) return l.error();
  auto m = get_link(sk->get(), master);
  if (!m.ok()) return m.error();
  if (int err = rtnl_link_enslave_ifindex(sk->get(), rtnl_link_get_ifindex(m->get()),
                                          rtnl_link_get_ifindex(l->get()));
      err < 0)
    return nl_error("could not attach link \"" + link + "\" to bridge \"" + master + "\"", err);
  return Status::Ok();
}

Status nl_set_up(const std::string& link, bool up) {
  auto sk = route_socket();
  if (!sk.ok()) return sk.error();
  auto l = get_link(sk->get(), link);
  if (!l.ok()) return l.error();
  Link change(rtnl_link_alloc());
  if (up)
    rtnl_link_set_flags(change.get(), IFF_UP);
  else
    rtnl_link_unset_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(sk->get(), l->get(), change.get(), 0); err < 0)
    return nl_error(std::string("could not set link \"") + link + "\" " + (up ? "up" : "down"),
                    err);
  return Status::Ok();
}

Status nl_add_address(const std::string& link, const std::string& cidr) {
  auto sk = route_socket();
  if (!sk.ok()) return sk.error();
  auto l = get_link(sk->get(), link);
  if (!l.ok()) return l.error();
  nl_addr* raw = nullptr;
  if (int err = nl_addr_parse(cidr.c_str(), AF_INET, &raw); err < 0)
    return nl_error("could not parse address \"" + cidr + "\"", err);
  std::unique_ptr<nl_addr, NlAddrDel> local(raw);
  std::unique_ptr<rtnl_addr, AddrDel> addr(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(addr.get(), rtnl_link_get_ifindex(l->get()));
  if (int err = rtnl_addr_set_local(addr.get(), local.get()); err < 0)
    return nl_error("could not set address \"" + cidr + "\"", err);
  if (int err = rtnl_addr_add(sk->get(), addr.get(), 0); err < 0)
    return nl_error("could not add address " + cidr + " to link \"" + link + "\"", err);
  return Status::Ok();
}

Result<std::vector<std::string>> nl_link_names() {
  auto sk = route_socket();
  if (!sk.ok()) return sk.error();
  nl_cache* raw = nullptr;
  if (int err = rtnl_link_alloc_cache(sk->get(), AF_UNSPEC, &raw); err < 0)
    return nl_error("could not list links", err);
  std::unique_ptr<nl_cache, CacheDel> cache(raw);
  std::vector<std::string> names;
  for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
    const char* n = rtnl_link_get_name(reinterpret_cast<rtnl_link*>(o));
    if (n != nullptr) names.emplace_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Status nl_delete_link(const std::string& name) {
  auto sk = route_socket();
  if (!sk.ok()) return sk.error();
  Link l(rtnl_link_alloc());
  rtnl_link_set_name(l.get(), name.c_str());
  if (int err = rtnl_link_delete(sk->get(), l.get()); err < 0) {
    Error e = nl_error("could not delete link \"" + name + "\"", err);
    if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV) e.code = ErrorCode::UnknownNode;
    return e;
  }
  return Status::Ok();
}

Status nl_set_mtu(const std::string& link, int mtu) {
  auto sk = route_socket();
  if (!sk.ok()) return sk.error();
  auto l = get_link(sk->get(), link);
  if (!l.ok()) return l.error();
  Link change(rtnl_link_alloc());
  rtnl_link_set_mtu(change.get(), static_cast<unsigned>(mtu));
  if (int err = rtnl_link_change(sk->get(), l->get(), change.get(), 0); err < 0)
    return nl_error("could not set the MTU of link \"" + link + "\" to " + std::to_string(mtu),
                    err);
  return Status::Ok();
}

Status nl_add_route(const std::string& dst_cidr, const std::string& gateway, bool replace) {
  auto sk = route_socket();
  if (!sk.ok()) return sk.error();
  nl_addr* raw_dst = nullptr;
  if (int err = nl_addr_parse(dst_cidr.c_str(), AF_INET, &raw_dst); err < 0)
    return nl_error("could not parse route destination \"" + dst_cidr + "\"", err);
  std::unique_ptr<nl_addr, NlAddrDel> dst(raw_dst);
  nl_addr* raw_gw = nullptr;
  if (int err = nl_addr_parse(gateway.c_str(), AF_INET, &raw_gw); err < 0)
    return nl_error("could not parse gateway \"" + gateway + "\"", err);
  std::unique_ptr<nl_addr, NlAddrDel> gw(raw_gw);
  std::unique_ptr<rtnl_route, RouteDel> route(rtnl_route_alloc());
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
  rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  if (int err = rtnl_route_set_dst(route.get(), dst.get()); err < 0)
    return nl_error("could not set route destination " + dst_cidr, err);
  rtnl_nexthop* nh = rtnl_route_nh_alloc(); /* owned by the route once added */
  rtnl_route_nh_set_gateway(nh, gw.get());
  rtnl_route_add_nexthop(route.get(), nh);
  const int flags = NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL);
  if (int err = rtnl_route_add(sk->get(), route.get(), flags); err < 0)
    return nl_error("could not add route " + dst_cidr + " via " + gateway, err);
  return Status::Ok();
}

Status nl_move_link(const std::string& link, int ns_fd) {
  auto sk = route_socket();
  if (!sk.ok()) return sk.error();
  auto l = get_link(sk->get(), link);
  if (!l.ok()) return l.error();
  Link change(rtnl_link_alloc());
  rtnl_link_set_ns_fd(change.get(), ns_fd);
  if (int err = rtnl_link_change(sk->get(), l->get(), change.get(), 0); err < 0)
    return nl_error("could not move link \"" + link + "\" to another network namespace", err);
  return Status::Ok();
}

Status nl_wait_oper_up(const std::vector<std::string>& links, std::chrono::milliseconds timeout) {
  auto sk = route_socket();
  if (!sk.ok()) return sk.error();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string waiting;
  for (;;) {
    waiting.clear();
    for (const auto& name : links) {
      auto l = get_link(sk->get(), name);
      if (!l.ok()) return l.error();
      if (rtnl_link_get_operstate(l->get()) != kOperUp)
        waiting += (waiting.empty() ? "" : ", ") + name;
    }
    if (waiting.empty()) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline)
      return make_error(ErrorCode::Timeout,
                        "links did not come up within " + std::to_string(timeout.count()) + " ms",
                        {}, "still down: " + waiting);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

namespace {
struct RouteReply {
  int error = 0;
  int oif = 0;
  bool got = false;
};
int route_valid_cb(nl_msg* msg, void* arg) {
  auto* reply = static_cast<RouteReply*>(arg);
  rtnl_route* raw = nullptr;
  if (rtnl_route_parse(nlmsg_hdr(msg), &raw) >= 0) {
    std::unique_ptr<rtnl_route, RouteDel> route(raw);
    if (rtnl_nexthop* nh = rtnl_route_nexthop_n(route.get(), 0); nh != nullptr)
      reply->oif = rtnl_route_nh_get_ifindex(nh);
    reply->got = true;
  }
  return NL_OK;
}
int route_err_cb(sockaddr_nl*, nlmsgerr* err, void* arg) {
  static_cast<RouteReply*>(arg)->error = -err->error;
  return NL_STOP;
}
}  // namespace

Result<std::string> nl_route_get(const std::string& address) {
  in_addr dst{};
  if (::inet_pton(AF_INET, address.c_str(), &dst) != 1)
    return make_error(ErrorCode::InvalidArgument, "invalid IPv4 address \"" + address + "\"");
  auto sk = route_socket();
  if (!sk.ok()) return sk.error();
  std::unique_ptr<nl_msg, MsgDel> msg(nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_REQUEST));
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  rtm.rtm_dst_len = 32;
  if (nlmsg_append(msg.get(), &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
      nla_put(msg.get(), RTA_DST, sizeof(dst), &dst) < 0)
    return make_error(ErrorCode::Internal, "could not build a route request");
  RouteReply reply;
  nl_socket_modify_cb(sk->get(), NL_CB_VALID, NL_CB_CUSTOM, route_valid_cb, &reply);
  nl_socket_modify_err_cb(sk->get(), NL_CB_CUSTOM, route_err_cb, &reply);
  if (int err = nl_send_auto(sk->get(), msg.get()); err < 0)
    return nl_error("could not send a route request for " + address, err);
  int err = nl_recvmsgs_default(sk->get());
  if (reply.error != 0)
    return make_error(ErrorCode::Internal, "no route to " + address, {},
                      "netlink: " + errno_text(reply.error));
  if (err < 0 && !reply.got) return nl_error("route request for " + address + " failed", err);
  if (!reply.got) return make_error(ErrorCode::Internal, "no route reply for " + address);
  char name[IF_NAMESIZE] = {};
  if (reply.oif <= 0 || ::if_indextoname(static_cast<unsigned>(reply.oif), name) == nullptr)
    return std::string("ifindex ") + std::to_string(reply.oif);
  return std::string(name);
}

Status nl_add_root_qdisc(const std::string& link, const QdiscSpec& spec) {
  auto sk = route_socket();
  if (!sk.ok()) return sk.error();
  auto l = get_link(sk->get(), link);
  if (!l.ok()) return l.error();
  std::unique_ptr<rtnl_qdisc, QdiscDel> q(rtnl_qdisc_alloc());
  rtnl_tc_set_ifindex(as_tc(q.get()), rtnl_link_get_ifindex(l->get()));
  rtnl_tc_set_parent(as_tc(q.get()), TC_H_ROOT);
  rtnl_tc_set_handle(as_tc(q.get()), TC_HANDLE(0x1u, 0u));
  if (int err = rtnl_tc_set_kind(as_tc(q.get()), spec.kind.c_str()); err < 0)
    return nl_error("libnl does not know qdisc kind \"" + spec.kind + "\"", err);
  if (spec.kind == "tbf") {
    if (spec.rate_bytes_per_second == 0 || spec.rate_bytes_per_second > INT_MAX / 2)
      return make_error(
          ErrorCode::OutOfRange,
          "bandwidth " + std::to_string(spec.rate_bytes_per_second) + " bytes/s is out of range",
          "use 1 .. " + std::to_string(INT_MAX / 2) + " bytes/s");
    const int rate = static_cast<int>(spec.rate_bytes_per_second);
    const int bucket = std::max(rate / 100, 3200); /* 10 ms of tokens, at least two MTUs */
    rtnl_qdisc_tbf_set_rate(q.get(), rate, bucket, 0);
    rtnl_qdisc_tbf_set_limit(q.get(), bucket + std::max(rate / 20, 3200)); /* ~50 ms queue */
  } else if (spec.kind == "netem") {
    rtnl_netem_set_limit(q.get(), 10000);
    rtnl_netem_set_delay(q.get(), static_cast<int>(spec.delay_us));
    if (spec.jitter_us > 0) rtnl_netem_set_jitter(q.get(), static_cast<int>(spec.jitter_us));
  }
  if (int err = rtnl_qdisc_add(sk->get(), q.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
    Error e = nl_error("could not add qdisc " + spec.kind + " on link \"" + link + "\"", err);
    if (err == -NLE_OBJ_NOTFOUND || err == -NLE_OPNOTSUPP || err == -NLE_NOATTR) {
      e.code = ErrorCode::Unsupported;
      e.hint = "this kernel has no " + spec.kind + " qdisc (sch_" + spec.kind + ")";
    }
    return e;
  }
  return Status::Ok();
}

Status nl_delete_root_qdisc(const std::string& link) {
  auto sk = route_socket();
  if (!sk.ok()) return sk.error();
  auto l = get_link(sk->get(), link);
  if (!l.ok()) return l.error();
  std::unique_ptr<rtnl_qdisc, QdiscDel> q(rtnl_qdisc_alloc());
  rtnl_tc_set_ifindex(as_tc(q.get()), rtnl_link_get_ifindex(l->get()));
  rtnl_tc_set_parent(as_tc(q.get()), TC_H_ROOT);
  if (int err = rtnl_qdisc_delete(sk->get(), q.get()); err < 0)
    return nl_error("could not delete the root qdisc of link \"" + link + "\"", err);
  return Status::Ok();
}

Result<std::string> nft_run(const std::string& script, bool json) {
  std::lock_guard<std::mutex> lock(nft_mutex());
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) return make_error(ErrorCode::Internal, "could not create an nft context");
  std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> guard(ctx, nft_ctx_free);
  if (json) nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  int rc = nft_run_cmd_from_buffer(ctx, script.c_str());
  if (rc != 0) {
    const char* err = nft_ctx_get_error_buffer(ctx);
    std::string text = err != nullptr ? err : "";
    while (!text.empty() && text.back() == '\n') text.pop_back();
    std::string first_line = script.substr(0, script.find('\n'));
    return make_error(ErrorCode::Internal, "nft transaction failed: " + first_line, {},
                      "nft: " + text);
  }
  const char* out = nft_ctx_get_output_buffer(ctx);
  return std::string(out != nullptr ? out : "");
}

}  // namespace pgaf::netns::detail
