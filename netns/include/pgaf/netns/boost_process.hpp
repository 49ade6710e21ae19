/*
 * boost_process.hpp — start a Boost.Process child inside a lab host.
 *
 *   auto enter = pgaf::netns::enter_host(network, "node1", "postgres");   // Result<EnterHost>
 *   boost::process::child c("/usr/lib/postgresql/15/bin/postgres", args, *enter);
 *
 * EnterHost is a Boost.Process initializer: its on_exec_setup() runs in the forked child, before
 * exec, and does setns(CLONE_NEWNET) into the host then (optionally) drops to the user. Both are
 * async-signal-safe; everything that needs libc lookups was done by enter_host() in the parent.
 * Invariant: if either step fails, the child reports the error through Boost.Process (the parent's
 * child constructor throws process_error) and never execs in the wrong namespace or as root.
 * The namespace handle is shared: copies of EnterHost keep it open until the last one goes.
 */
#pragma once

#include <sched.h>

#include <memory> /* before Boost.Process: 1.74's posix/handles.hpp forgets it */
// clang-format off
#include <boost/process/extend.hpp>
// clang-format on
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "pgaf/netns/network.hpp"
#include "pgaf/netns/user.hpp"

namespace pgaf::netns {

struct EnterHostState {
  UniqueFd netns;
  std::string netns_name;
  std::optional<UserCredentials> user;
};

class EnterHost : public boost::process::extend::handler {
 public:
  explicit EnterHost(std::shared_ptr<const EnterHostState> state) : state_(std::move(state)) {}

  template <class Executor>
  void on_exec_setup(Executor& exec) const {
    if (::setns(state_->netns.get(), CLONE_NEWNET) != 0) {
      exec.set_error(std::error_code(errno, std::system_category()), "setns into the lab host");
      return;
    }
    if (state_->user) {
      int err = drop_to(*state_->user);
      if (err != 0) {
        exec.set_error(std::error_code(err, std::system_category()), "dropping privileges");
        return;
      }
    }
  }

 private:
  std::shared_ptr<const EnterHostState> state_;
};

/* Prepare an initializer for `host` of `network`; user empty: keep the caller's identity. */
inline Result<EnterHost> enter_host(const Network& network, std::string_view host,
                                    const std::string& user = {}) {
  auto fd = network.open_netns(host);
  if (!fd.ok()) return fd.error();
  auto state = std::make_shared<EnterHostState>();
  state->netns = std::move(fd).value();
  state->netns_name = std::string(host);
  if (!user.empty()) {
    auto creds = lookup_user(user);
    if (!creds.ok()) return creds.error();
    state->user = std::move(creds).value();
  }
  return EnterHost(std::move(state));
}

}  // namespace pgaf::netns
