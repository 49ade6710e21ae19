/*
 * capabilities.hpp — what this kernel can emulate, probed once at start.
 *
 * probe_capabilities() builds a throw-away network namespace on a private thread (never mounted,
 * gone when the thread ends), creates a veth pair in it and tries each feature for real: qdiscs
 * (tbf, htb, netem) via libnl, nftables tables/rules per family and expression via libnftables,
 * the xt NFQUEUE target through nft_compat and binding a queue (the latency fallback when there
 * is no netem). Nothing leaves that
 * namespace. Invariant: a capability is reported true only if the probe actually succeeded;
 * `notes` holds the kernel's error text for each failed probe.
 */
#pragma once

#include <string>
#include <vector>

#include "pgaf/core/error.hpp"

namespace pgaf::netns {

enum class FaultKind { LinkDown, Partition, PacketLoss, Bandwidth, Latency };
const char* to_string(FaultKind kind);

struct Capabilities {
  bool netns = false;           /* can create network namespaces and veth pairs */
  bool nft_inet = false;        /* inet filter tables with ct + reject with tcp reset */
  bool nft_bridge = false;      /* bridge family forward hook */
  bool nft_netdev = false;      /* netdev family ingress hook on a veth */
  bool nft_numgen = false;      /* numgen random (packet loss) */
  bool nft_queue = false;       /* nft queue expression */
  bool nfnetlink_queue = false; /* kernel NFQUEUE side present */
  bool xt_nfqueue = false;      /* xt NFQUEUE target usable from nf_tables (nft_compat) */
  bool nfqueue_delay = false;   /* the NFQUEUE delayer works end to end (latency without netem) */
  bool tbf = false;
  bool htb = false;
  bool netem = false;
  std::vector<std::string> notes; /* "netem: <kernel error text>" for each failed probe */

  /* Ok, or Unsupported naming the missing kernel feature (the lab skips such scenarios). */
  Status check(FaultKind kind) const;
  /* Multi-line human summary: "netem: no (Operation not supported)" ... */
  std::string to_string() const;
};

/* Probe (takes ~50 ms). Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN). */
Result<Capabilities> probe_capabilities();

}  // namespace pgaf::netns
