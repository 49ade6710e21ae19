/*
 * internal.hpp — helpers shared by the netns sources (not installed, not public).
 *
 *   - on_thread_in(): run a function on a fresh thread that first setns()'d into a namespace.
 *     setns(CLONE_NEWNET) changes only the calling thread, so the caller's own threads never
 *     move; netlink and nft sockets created on that thread belong to the namespace.
 *   - named namespaces the way `ip netns add` makes them (bind mount of the thread's ns file on
 *     /run/netns/<name>, /run/netns made a shared mount point), and their removal.
 *   - processes inside namespaces (by nsfs inode) for teardown and the reaper.
 *   - libnl and libnftables wrappers that turn every failure into a pgaf::Error naming the
 *     object and carrying the library's error text.
 * Invariant: every function here either succeeds completely or returns an Error; none throws.
 */
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pgaf/core/error.hpp"
#include "pgaf/netns/fd.hpp"
#include "pgaf/netns/network.hpp"

namespace pgaf::netns::detail {

inline constexpr const char* kNetnsDir = "/run/netns";
inline constexpr const char* kOwnerDir = "/run/pgaf-netns";

std::string errno_text(int err); /* "No such file or directory (ENOENT)" */
Error sys_error(ErrorCode code, std::string message, int err, std::string hint = {});

/* ---- threads in namespaces ---- */
/* Runs fn on a new thread after setns(nsfd); joins it. ns_name only names errors. */
Status on_thread_in(int nsfd, const std::string& ns_name, const std::function<Status()>& fn);
/* Runs fn on a new thread in a brand-new, unnamed network namespace (gone when fn returns). */
Status on_thread_in_new_netns(const std::function<Status()>& fn);

/* ---- named namespaces ---- */
std::string netns_path(const std::string& name);
Status create_named_netns(const std::string& name);
Result<UniqueFd> open_named_netns(const std::string& name);
/* umount (MNT_DETACH) and unlink; missing is fine. */
Status remove_named_netns(const std::string& name);
/* Namespace identity of a named namespace or of /proc/<pid>/ns/net. */
struct NsId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const NsId&) const = default;
};
Result<NsId> named_netns_id(const std::string& name);

/* SIGKILL every process whose network namespace is in `ids`; wait (bounded) until none is left.
 * Returns "pid N (comm)" for each process signalled. */
struct Killed {
  std::vector<std::string> processes;
  bool all_gone = true;
};
Killed kill_processes_in(const std::vector<NsId>& ids, const std::vector<std::string>& names,
                         std::chrono::milliseconds timeout);

/* ---- owner files: /run/pgaf-netns/<prefix>owner = "pid starttime" ---- */
Status write_owner_file(const std::string& prefix);
void remove_owner_file(const std::string& prefix);
/* Prefixes (with owner files) starting with family, and whether their owner still runs. */
struct Owner {
  std::string prefix;
  bool alive = false;
};
std::vector<Owner> list_owners(std::string_view family);

/* ---- libnl (call on a thread inside the namespace) ---- */
/* Each opens its own rtnetlink socket in the calling thread's namespace. */
Status nl_create_bridge(const std::string& name);
Status nl_create_veth(const std::string& name, const std::string& peer_name, int peer_netns_fd);
Status nl_set_master(const std::string& link, const std::string& master);
Status nl_set_up(const std::string& link, bool up);
Status nl_add_address(const std::string& link, const std::string& cidr);
Result<std::vector<std::string>> nl_link_names();
Status nl_delete_link(const std::string& name);
Status nl_set_mtu(const std::string& link, int mtu);
/* Route dst (CIDR) via gateway; replace: NLM_F_REPLACE instead of NLM_F_EXCL. */
Status nl_add_route(const std::string& dst_cidr, const std::string& gateway, bool replace);
/* Move a link of this namespace into the namespace behind ns_fd. */
Status nl_move_link(const std::string& link, int ns_fd);
/* Wait (bounded) until every link is operationally up. Until the kernel's linkwatch has run for a
 * fresh link, its qdisc is noop and drops every packet, so callers wait before returning. */
Status nl_wait_oper_up(const std::vector<std::string>& links, std::chrono::milliseconds timeout);
Result<std::string> nl_route_get(const std::string& address);
/* Root qdisc on link: kind "tbf" (rate bytes/s) or "netem" (delay/jitter us). */
struct QdiscSpec {
  std::string kind;
  std::uint64_t rate_bytes_per_second = 0;
  std::uint32_t delay_us = 0;
  std::uint32_t jitter_us = 0;
};
Status nl_add_root_qdisc(const std::string& link, const QdiscSpec& spec);
Status nl_delete_root_qdisc(const std::string& link);

/* ---- libnftables (call on a thread inside the namespace) ---- */
/* Runs one nft script as one transaction; returns the output (JSON when json). */
Result<std::string> nft_run(const std::string& script, bool json = false);

/* ---- NFQUEUE delayer (nfqueue.cpp; call the rule adder on a thread inside the namespace) ---- */
/* Append to family/table/chain a rule whose only expression is xt NFQUEUE (rev 3, bypass). */
Status nft_add_xt_nfqueue_rule(int family, const std::string& table, const std::string& chain,
                               std::uint16_t queue);
class Delayer {
 public:
  virtual ~Delayer() = default; /* stop() */
  /* Accept every pending packet, unbind the queue, end the thread. Idempotent. */
  virtual void stop() = 0;
  virtual std::uint64_t packets() const = 0;
};
/* Bind `queue` inside the namespace and delay each packet by delay ± jitter (seeded). */
Result<std::unique_ptr<Delayer>> start_delayer(int nsfd, const std::string& ns_name,
                                               std::uint16_t queue, std::uint32_t delay_us,
                                               std::uint32_t jitter_us, std::uint64_t seed);

/* ---- processes (process.cpp) ---- */
Result<ChildProcess> spawn_in_netns(int nsfd, const std::string& ns_name, const SpawnOptions& o);

/* ---- misc ---- */
void set_sysctl(const std::string& path, const std::string& value); /* best effort */
std::string read_file(const std::string& path);                     /* "" on error */

}  // namespace pgaf::netns::detail
