/*
 * capabilities.cpp — probe what this kernel can emulate (see capabilities.hpp).
 *
 * Every probe runs for real inside a private, unnamed network namespace on a probe thread: a
 * veth pair "pa"/"pb" is created there and each qdisc and nft feature is applied to it. The
 * namespace vanishes with the thread. Invariant: a flag is true only if its probe succeeded.
 */
#include "pgaf/netns/capabilities.hpp"

#include <fcntl.h>
#include <linux/netfilter.h>
#include <unistd.h>

#include "internal.hpp"

namespace pgaf::netns {

using namespace detail;

const char* to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::LinkDown:
      return "link down";
    case FaultKind::Partition:
      return "partition";
    case FaultKind::PacketLoss:
      return "packet loss";
    case FaultKind::Bandwidth:
      return "bandwidth";
    case FaultKind::Latency:
      return "latency";
  }
  return "?";
}

Status Capabilities::check(FaultKind kind) const {
  auto unsupported = [&](const std::string& feature) {
    return make_error(ErrorCode::Unsupported,
                      std::string(pgaf::netns::to_string(kind)) +
                          " faults are unsupported on this machine: the kernel lacks " + feature,
                      "skip this scenario on this machine");
  };
  if (!netns) return unsupported("network namespaces or veth");
  switch (kind) {
    case FaultKind::LinkDown:
      return Status::Ok();
    case FaultKind::Partition:
      return nft_inet ? Status::Ok() : unsupported("nftables inet with ct and reject");
    case FaultKind::PacketLoss:
      return nft_bridge && nft_numgen ? Status::Ok()
                                      : unsupported("nftables bridge family with numgen");
    case FaultKind::Bandwidth:
      return tbf ? Status::Ok() : unsupported("the tbf qdisc");
    case FaultKind::Latency:
      return netem || nfqueue_delay
                 ? Status::Ok()
                 : unsupported("both the netem qdisc (sch_netem) and NFQUEUE via nft_compat");
  }
  return Status::Ok();
}

std::string Capabilities::to_string() const {
  std::string s;
  auto line = [&](const char* name, bool v) {
    s += std::string(name) + ": " + (v ? "yes" : "no") + "\n";
  };
  line("netns+veth", netns);
  line("nft inet (ct, reject)", nft_inet);
  line("nft bridge", nft_bridge);
  line("nft netdev", nft_netdev);
  line("nft numgen", nft_numgen);
  line("nft queue", nft_queue);
  line("nfnetlink_queue", nfnetlink_queue);
  line("xt NFQUEUE via nft_compat", xt_nfqueue);
  line("NFQUEUE delayer (latency without netem)", nfqueue_delay);
  line("tbf", tbf);
  line("htb", htb);
  line("netem", netem);
  for (const auto& n : notes) s += "  note: " + n + "\n";
  return s;
}

Result<Capabilities> probe_capabilities() {
  Capabilities caps;
  Status st = on_thread_in_new_netns([&]() -> Status {
    if (auto s = nl_create_veth("pa", "pb", -1); !s.ok()) {
      caps.notes.push_back("veth: " + s.error().detail);
      return Status::Ok();
    }
    if (!nl_set_up("pa", true).ok() || !nl_set_up("pb", true).ok()) {
      caps.notes.push_back("veth: could not set up");
      return Status::Ok();
    }
    caps.netns = true;
    auto qdisc = [&](const char* kind, bool& flag) {
      QdiscSpec spec;
      spec.kind = kind;
      spec.rate_bytes_per_second = 125000;
      spec.delay_us = 1000;
      Status s = nl_add_root_qdisc("pa", spec);
      if (s.ok()) {
        flag = true;
        (void)nl_delete_root_qdisc("pa");
      } else {
        caps.notes.push_back(std::string(kind) + ": " + s.error().detail);
      }
    };
    qdisc("tbf", caps.tbf);
    qdisc("netem", caps.netem);
    {
      /* htb: libnl needs class setup we do not use; a bare root htb qdisc is enough. */
      QdiscSpec spec;
      spec.kind = "htb";
      Status s = nl_add_root_qdisc("pa", spec);
      caps.htb = s.ok();
      if (s.ok())
        (void)nl_delete_root_qdisc("pa");
      else
        caps.notes.push_back("htb: " + s.error().detail);
    }
    auto nft = [&](const char* name, const std::string& script, bool& flag) {
      auto r = nft_run(script);
      flag = r.ok();
      if (!r.ok()) caps.notes.push_back(std::string(name) + ": " + r.error().detail);
    };
    nft("nft inet",
        "table inet probe {\n chain c { type filter hook input priority 0; policy accept;\n"
        "  ct direction original ct state new counter\n"
        "  ip saddr 198.18.255.1 meta l4proto tcp reject with tcp reset\n"
        "  ip saddr 198.18.255.1 reject with icmpx type admin-prohibited\n }\n}\n",
        caps.nft_inet);
    nft("nft bridge",
        "table bridge probe {\n chain f { type filter hook forward priority 0; policy accept;\n"
        "  iifname \"pa\" oifname \"pb\" counter\n }\n}\n",
        caps.nft_bridge);
    if (caps.nft_bridge)
      nft("nft numgen", "add rule bridge probe f iifname \"pa\" numgen random mod 10000 < 5 drop\n",
          caps.nft_numgen);
    nft("nft netdev",
        "table netdev probe {\n chain i { type filter hook ingress device \"pa\" priority 0; "
        "policy accept; }\n}\n",
        caps.nft_netdev);
    if (caps.nft_inet)
      nft("nft queue", "add rule inet probe c ip saddr 198.18.255.2 queue num 7 bypass\n",
          caps.nft_queue);
    caps.nfnetlink_queue = ::access("/proc/thread-self/net/netfilter/nfnetlink_queue", F_OK) == 0;
    if (!caps.nfnetlink_queue)
      caps.notes.push_back("nfnetlink_queue: /proc/net/netfilter/nfnetlink_queue absent");
    if (auto r = nft_run("table ip probe_q {\n chain delay {\n }\n}\n"); r.ok()) {
      Status s = nft_add_xt_nfqueue_rule(NFPROTO_IPV4, "probe_q", "delay", 9);
      caps.xt_nfqueue = s.ok();
      if (!s.ok())
        caps.notes.push_back("xt NFQUEUE: " + s.error().message + ": " + s.error().detail);
    }
    if (caps.xt_nfqueue) {
      UniqueFd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
      auto d = start_delayer(self.get(), "probe", 9, 1000, 0, 1);
      caps.nfqueue_delay = d.ok();
      if (!d.ok())
        caps.notes.push_back("NFQUEUE delayer: " + d.error().message + ": " + d.error().detail);
    }
    return Status::Ok();
  });
  if (!st.ok()) return st.error();
  return caps;
}

}  // namespace pgaf::netns
