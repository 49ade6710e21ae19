/*
 * nfqueue.cpp — latency without netem: an NFQUEUE delayer.
 *
 * This kernel has no sch_netem and no nft `queue` expression, but it has x_tables' NFQUEUE target
 * (reachable from nf_tables through nft_compat) and nfnetlink_queue. So:
 *   1. nft_add_xt_nfqueue_rule() appends, to an nft chain made by libnftables, one rule whose only
 *      expression is the compat target NFQUEUE (rev 3, flag bypass: if no delayer listens, packets
 *      pass). libnftables cannot express an xt target, so this one message is built with libmnl.
 *   2. Delayer binds that queue (libnetfilter_queue, COPY_META: no payload is copied) on a thread
 *      inside the host's namespace and gives each packet its verdict NF_ACCEPT at
 *      arrival + delay ± jitter. Jitter comes from a seeded mt19937 (seed in the fault's
 *      description), so a run replays with the same offsets for the same packet sequence.
 * Invariants: every queued packet gets exactly one verdict — on stop, all pending packets are
 * accepted before the queue is unbound; the queue is fail-open (a full queue passes packets
 * instead of dropping them) and the rule has the bypass flag (no listener: packets pass), so the
 * delayer adds latency and never silently adds loss. Heal stops the delayer *before* deleting the
 * rule: deleting a hook with packets still queued makes the kernel drop them.
 */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>

#include <atomic>
#include <cstring>
#include <future>
#include <map>
#include <random>
#include <thread>

#include "internal.hpp"

/* libnfnetlink's old copy of nfnetlink.h (pulled in by libnetfilter_queue) shadows the kernel's
 * and lacks these; values from linux/netfilter/nfnetlink.h (kernel ABI, stable). */
#ifndef NFNL_MSG_BATCH_BEGIN
#define NFNL_MSG_BATCH_BEGIN NLMSG_MIN_TYPE
#define NFNL_MSG_BATCH_END (NLMSG_MIN_TYPE + 1)
#endif
#ifndef NFNL_SUBSYS_NFTABLES
#define NFNL_SUBSYS_NFTABLES 10
#endif

namespace pgaf::netns::detail {

Status nft_add_xt_nfqueue_rule(int family, const std::string& table, const std::string& chain,
                               std::uint16_t queue) {
  const std::string what = "NFQUEUE rule in table " + table + " chain " + chain;
  mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == nullptr)
    return sys_error(ErrorCode::Internal, "could not open nfnetlink for " + what, errno);
  std::unique_ptr<mnl_socket, int (*)(mnl_socket*)> guard(nl, mnl_socket_close);
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
    return sys_error(ErrorCode::Internal, "could not bind nfnetlink for " + what, errno);

  std::vector<char> buf(static_cast<std::size_t>(MNL_SOCKET_BUFFER_SIZE));
  mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(buf.data(), buf.size());
  std::uint32_t seq = static_cast<std::uint32_t>(time(nullptr));
  auto put = [&](std::uint16_t type, std::uint16_t flags, std::uint8_t fam, std::uint16_t res_id) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(batch));
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    nlh->nlmsg_seq = seq++;
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = fam;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = htons(res_id);
    return nlh;
  };
  put(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  mnl_nlmsg_batch_next(batch);
  nlmsghdr* rule = put(static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE),
                       NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK,
                       static_cast<std::uint8_t>(family), 0);
  mnl_attr_put_strz(rule, NFTA_RULE_TABLE, table.c_str());
  mnl_attr_put_strz(rule, NFTA_RULE_CHAIN, chain.c_str());
  nlattr* exprs = mnl_attr_nest_start(rule, NFTA_RULE_EXPRESSIONS);
  nlattr* elem = mnl_attr_nest_start(rule, NFTA_LIST_ELEM);
  mnl_attr_put_strz(rule, NFTA_EXPR_NAME, "target");
  nlattr* data = mnl_attr_nest_start(rule, NFTA_EXPR_DATA);
  mnl_attr_put_strz(rule, NFTA_TARGET_NAME, "NFQUEUE");
  mnl_attr_put_u32(rule, NFTA_TARGET_REV, htonl(3));
  xt_NFQ_info_v3 info{};
  info.queuenum = queue;
  info.queues_total = 1;
  info.flags = NFQ_FLAG_BYPASS;
  mnl_attr_put(rule, NFTA_TARGET_INFO, sizeof info, &info);
  mnl_attr_nest_end(rule, data);
  mnl_attr_nest_end(rule, elem);
  mnl_attr_nest_end(rule, exprs);
  mnl_nlmsg_batch_next(batch);
  put(NFNL_MSG_BATCH_END, NLM_F_REQUEST, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  mnl_nlmsg_batch_next(batch);

  const std::size_t len = mnl_nlmsg_batch_size(batch);
  const bool sent = mnl_socket_sendto(nl, mnl_nlmsg_batch_head(batch), len) >= 0;
  mnl_nlmsg_batch_stop(batch);
  if (!sent) return sys_error(ErrorCode::Internal, "could not send " + what, errno);

  const unsigned portid = mnl_socket_get_portid(nl);
  pollfd p{mnl_socket_get_fd(nl), POLLIN, 0};
  if (::poll(&p, 1, 2000) != 1)
    return make_error(ErrorCode::Timeout, "no answer from the kernel for " + what);
  ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
  if (n < 0) return sys_error(ErrorCode::Internal, "could not read the answer for " + what, errno);
  if (mnl_cb_run(buf.data(), static_cast<std::size_t>(n), 0, portid, nullptr, nullptr) < 0) {
    Error e = sys_error(ErrorCode::Internal, "the kernel refused the " + what, errno);
    if (errno == ENOENT || errno == EOPNOTSUPP) {
      e.code = ErrorCode::Unsupported;
      e.hint = "this kernel lacks nft_compat or the NFQUEUE target (xt_NFQUEUE)";
    }
    return e;
  }
  return Status::Ok();
}

namespace {

struct Pending {
  std::uint32_t id;
};

class DelayerImpl final : public Delayer {
 public:
  DelayerImpl(std::uint16_t queue, std::uint32_t delay_us, std::uint32_t jitter_us,
              std::uint64_t seed)
      : queue_(queue), delay_us_(delay_us), jitter_us_(jitter_us), rng_(seed) {}

  ~DelayerImpl() override { stop(); }

  void stop() override {
    if (thread_.joinable()) {
      std::uint64_t one = 1;
      [[maybe_unused]] ssize_t w = ::write(stop_.get(), &one, sizeof one);
      thread_.join();
    }
  }

  Status start(int nsfd, const std::string& ns_name) {
    stop_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_) return sys_error(ErrorCode::Internal, "could not create an eventfd", errno);
    std::promise<Status> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, nsfd, ns_name, &ready] { run(nsfd, ns_name, ready); });
    Status st = started.get();
    if (!st.ok()) thread_.join();
    return st;
  }

  std::uint64_t packets() const override { return packets_.load(); }

 private:
  static int on_packet(nfq_q_handle*, nfgenmsg*, nfq_data* nfa, void* self_ptr) {
    auto* self = static_cast<DelayerImpl*>(self_ptr);
    nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
    if (ph == nullptr) return 0;
    std::int64_t offset = self->delay_us_;
    if (self->jitter_us_ > 0) {
      std::uniform_int_distribution<std::int64_t> d(-static_cast<std::int64_t>(self->jitter_us_),
                                                    static_cast<std::int64_t>(self->jitter_us_));
      offset += d(self->rng_);
    }
    self->pending_.emplace(std::chrono::steady_clock::now() + std::chrono::microseconds(offset),
                           Pending{ntohl(ph->packet_id)});
    self->packets_++;
    return 0;
  }

  void run(int nsfd, const std::string& ns_name, std::promise<Status>& ready) {
    if (::setns(nsfd, CLONE_NEWNET) != 0) {
      ready.set_value(sys_error(ErrorCode::Internal,
                                "delayer could not enter network namespace \"" + ns_name + "\"",
                                errno));
      return;
    }
    nfq_handle* h = nfq_open();
    if (h == nullptr) {
      ready.set_value(sys_error(ErrorCode::Unsupported, "could not open nfnetlink_queue", errno,
                                "this kernel lacks nfnetlink_queue"));
      return;
    }
    nfq_q_handle* qh = nfq_create_queue(h, queue_, &DelayerImpl::on_packet, this);
    if (qh == nullptr) {
      int err = errno;
      nfq_close(h);
      ready.set_value(sys_error(
          ErrorCode::Internal,
          "could not bind NFQUEUE " + std::to_string(queue_) + " in \"" + ns_name + "\"", err));
      return;
    }
    nfq_set_mode(qh, NFQNL_COPY_META, 0);
    nfq_set_queue_maxlen(qh, 20000);
    nfq_set_queue_flags(qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
    nfnl_rcvbufsiz(nfq_nfnlh(h), 8u << 20);
    ready.set_value(Status::Ok());

    const int fd = nfq_fd(h);
    std::vector<char> buf(65536);
    for (;;) {
      int timeout_ms = 100;
      if (!pending_.empty()) {
        auto left = std::chrono::duration_cast<std::chrono::microseconds>(
            pending_.begin()->first - std::chrono::steady_clock::now());
        timeout_ms = static_cast<int>(std::max<std::int64_t>(0, (left.count() + 999) / 1000));
      }
      pollfd p[2] = {{fd, POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      int n = ::poll(p, 2, timeout_ms);
      if (n > 0 && (p[1].revents & POLLIN) != 0) break;
      if (n > 0 && (p[0].revents & POLLIN) != 0) {
        for (int i = 0; i < 64; ++i) {
          ssize_t r = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
          if (r <= 0) break; /* EAGAIN, or ENOBUFS: fail-open already let those packets pass */
          nfq_handle_packet(h, buf.data(), static_cast<int>(r));
        }
      }
      const auto now = std::chrono::steady_clock::now();
      while (!pending_.empty() && pending_.begin()->first <= now) {
        nfq_set_verdict(qh, pending_.begin()->second.id, NF_ACCEPT, 0, nullptr);
        pending_.erase(pending_.begin());
      }
    }
    /* Stop: drain what the kernel already sent us, accept everything held, unbind. The unbind
     * waits for the kernel's ack on the same socket, so packet messages still buffered there
     * can make it fail: drain and retry (bounded). */
    auto drain_and_accept = [&] {
      for (int i = 0; i < 1024; ++i) {
        ssize_t r = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (r <= 0) break;
        nfq_handle_packet(h, buf.data(), static_cast<int>(r));
      }
      for (const auto& [when, p] : pending_) nfq_set_verdict(qh, p.id, NF_ACCEPT, 0, nullptr);
      pending_.clear();
    };
    for (int attempt = 0; attempt < 10; ++attempt) {
      drain_and_accept();
      if (nfq_destroy_queue(qh) == 0) break;
    }
    nfq_close(h);
  }

  std::uint16_t queue_;
  std::uint32_t delay_us_;
  std::uint32_t jitter_us_;
  std::mt19937_64 rng_;
  UniqueFd stop_;
  std::thread thread_;
  std::multimap<std::chrono::steady_clock::time_point, Pending> pending_;
  std::atomic<std::uint64_t> packets_{0};
};

}  // namespace

Result<std::unique_ptr<Delayer>> start_delayer(int nsfd, const std::string& ns_name,
                                               std::uint16_t queue, std::uint32_t delay_us,
                                               std::uint32_t jitter_us, std::uint64_t seed) {
  auto d = std::make_unique<DelayerImpl>(queue, delay_us, jitter_us, seed);
  if (auto st = d->start(nsfd, ns_name); !st.ok()) return st.error();
  return std::unique_ptr<Delayer>(std::move(d));
}

}  // namespace pgaf::netns::detail
