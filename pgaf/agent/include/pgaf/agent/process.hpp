/*
 * process.hpp — Boost.Process helpers shared by the process runner, the Postgres controller and
 * the supervisor.
 *
 * Invariant: every child we start dies with its parent (PR_SET_PDEATHSIG), so killing a
 * pg_autoctl process tree never leaves an orphan; children stay in our process group unless asked.
 */
#pragma once

#include <signal.h>
#include <sys/prctl.h>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>

namespace pgaf::agent {

/* Boost.Process initializer: the child gets `sig` when its parent thread dies. */
struct DieWithParent : boost::process::extend::handler {
  int sig = SIGKILL;
  explicit DieWithParent(int s) : sig(s) {}
  template <class Executor>
  void on_exec_setup(Executor& /*unused*/) const {
    ::prctl(PR_SET_PDEATHSIG, sig);
  }
};

}  // namespace pgaf::agent
