/*
 * process.cpp — users, the spawn helper and ChildProcess.
 *
 * spawn_in_netns() prepares everything in the parent (path lookup, environment, user lookup, log
 * file, error pipe), then fork()s; the child makes only async-signal-safe calls: setns, setsid,
 * dup2, chdir, setgroups/setgid/setuid, sigaction, close_range, execve. A failure before exec is
 * written to a CLOEXEC pipe as {step, errno}; EOF on the pipe means exec succeeded.
 * Invariant: the child never execs outside the host's namespace or with root rights it was told
 * to drop — every step that fails ends in _exit(127) after reporting.
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "internal.hpp"
#include "pgaf/netns/network.hpp"
#include "pgaf/netns/user.hpp"

extern char** environ;

namespace pgaf::netns {

using detail::errno_text;
using detail::sys_error;

Result<UserCredentials> lookup_user(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr)
    return make_error(ErrorCode::InvalidArgument, "user \"" + name + "\" does not exist",
                      "create it (ci/bootstrap creates the postgres user)",
                      rc != 0 ? errno_text(rc) : std::string());
  UserCredentials u;
  u.name = name;
  u.uid = pw.pw_uid;
  u.gid = pw.pw_gid;
  u.home = pw.pw_dir != nullptr ? pw.pw_dir : "/";
  int n = 64;
  for (int attempt = 0; attempt < 8; ++attempt) {
    u.groups.assign(static_cast<std::size_t>(n), 0);
    int count = n;
    if (::getgrouplist(name.c_str(), u.gid, u.groups.data(), &count) >= 0) {
      u.groups.resize(static_cast<std::size_t>(count));
      return u;
    }
    n = count > n ? count : n * 2;
  }
  return make_error(ErrorCode::Internal, "could not list the groups of user \"" + name + "\"");
}

int drop_to(const UserCredentials& user) noexcept {
  if (::setgroups(user.groups.size(), user.groups.data()) != 0) return errno;
  if (::setgid(user.gid) != 0) return errno;
  if (::setuid(user.uid) != 0) return errno;
  if (user.uid != 0 && ::setuid(0) == 0) return EPERM; /* could regain root: refuse */
  return 0;
}

/* ---- ChildProcess ---- */

namespace {
/* pids of the children some ChildProcess still has to reap (reap_orphans leaves them alone) */
std::mutex g_tracked_mu;
std::set<pid_t> g_tracked;
void track(pid_t pid, bool on) {
  if (pid <= 0) return;
  std::lock_guard<std::mutex> l(g_tracked_mu);
  if (on)
    g_tracked.insert(pid);
  else
    g_tracked.erase(pid);
}
bool tracked(pid_t pid) {
  std::lock_guard<std::mutex> l(g_tracked_mu);
  return g_tracked.count(pid) != 0;
}
/* Our children (PPid == self) that no ChildProcess tracks, with their state letter. */
std::vector<std::pair<pid_t, char>> untracked_children() {
  std::vector<std::pair<pid_t, char>> out;
  const pid_t self = ::getpid();
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    /* pid (comm) state ppid ...: comm may hold spaces and parentheses, the last ')' ends it */
    const auto close = line.rfind(')');
    if (close == std::string::npos || close + 4 > line.size()) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    long ppid = 0;
    if (!(rest >> state >> ppid) || ppid != self) continue;
    const auto pid = static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10));
    if (!tracked(pid)) out.emplace_back(pid, state);
  }
  ::closedir(d);
  return out;
}
}  // namespace

Status become_subreaper() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    return sys_error(ErrorCode::Internal, "could not become a child subreaper", errno);
  return Status::Ok();
}

Result<int> reap_orphans(std::chrono::milliseconds bound) {
  int reaped = 0;
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    auto children = untracked_children();
    if (children.empty()) return reaped;
    for (const auto& [pid, state] : children) {
      if (state != 'Z') {
        (void)::kill(pid, SIGKILL);
        continue;
      }
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) ++reaped;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string left;
  for (const auto& [pid, state] : untracked_children())
    left += (left.empty() ? "" : ", ") + std::to_string(pid) + " (" + state + ")";
  if (left.empty()) return reaped;
  return make_error(
      ErrorCode::Timeout,
      "orphaned processes still there after " + std::to_string(bound.count()) + " ms: " + left,
      "they ignore SIGKILL only while in uninterruptible sleep (state D)");
}

ChildProcess::ChildProcess(pid_t pid, UniqueFd pidfd, std::string description)
    : pid_(pid), pidfd_(std::move(pidfd)), description_(std::move(description)) {
  track(pid_, true);
}

ChildProcess::ChildProcess(ChildProcess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      pidfd_(std::move(o.pidfd_)),
      description_(std::move(o.description_)),
      status_(std::exchange(o.status_, std::nullopt)) {}

namespace {
/* SIGKILL and reap a child still running (bounded); used before a handle is overwritten. */
void kill_and_reap(ChildProcess& c) {
  if (!c.running()) return;
  (void)c.signal(SIGKILL);
  auto r = c.wait_for(std::chrono::milliseconds(2000));
  if (!r.ok()) std::fprintf(stderr, "netns: %s\n", r.error().to_string().c_str());
}
}  // namespace

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    kill_and_reap(*this);
    pid_ = std::exchange(o.pid_, -1);
    pidfd_ = std::move(o.pidfd_);
    description_ = std::move(o.description_);
    status_ = std::exchange(o.status_, std::nullopt);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  kill_and_reap(*this);
}

bool ChildProcess::running() {
  if (pid_ <= 0 || status_) return false;
  auto r = wait_for(std::chrono::milliseconds(0));
  return !r.ok();
}

Status ChildProcess::signal(int sig) {
  if (pid_ <= 0) return make_error(ErrorCode::BadState, "no child process");
  if (status_)
    return make_error(ErrorCode::BadState,
                      "process " + std::to_string(pid_) + " (" + description_ + ") has exited");
  int rc = pidfd_.valid()
               ? static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0))
               : ::kill(pid_, sig);
  if (rc != 0)
    return sys_error(ErrorCode::Internal,
                     "could not signal process " + std::to_string(pid_) + " (" + description_ + ")",
                     errno);
  return Status::Ok();
}

Status ChildProcess::signal_group(int sig) {
  if (pid_ <= 0) return make_error(ErrorCode::BadState, "no child process");
  if (::kill(-pid_, sig) != 0)
    return sys_error(
        ErrorCode::Internal,
        "could not signal process group " + std::to_string(pid_) + " (" + description_ + ")",
        errno);
  return Status::Ok();
}

Result<int> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return make_error(ErrorCode::BadState, "no child process");
  if (status_) return *status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = st;
      pidfd_.reset();
      track(pid_, false);
      return st;
    }
    if (r < 0 && errno != EINTR)
      return sys_error(
          ErrorCode::Internal,
          "could not wait for process " + std::to_string(pid_) + " (" + description_ + ")", errno);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return make_error(ErrorCode::Timeout, "process " + std::to_string(pid_) + " (" +
                                                description_ + ") still running after " +
                                                std::to_string(timeout.count()) + " ms");
    if (pidfd_.valid()) {
      pollfd p{pidfd_.get(), POLLIN, 0};
      (void)::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 1000)));
    } else {
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(10)));
    }
  }
}

/* ---- spawn ---- */

namespace detail {

namespace {

Result<std::string> resolve_program(const std::string& prog) {
  if (prog.empty()) return make_error(ErrorCode::InvalidArgument, "empty program name");
  if (prog.find('/') != std::string::npos) {
    if (::access(prog.c_str(), X_OK) != 0)
      return sys_error(ErrorCode::InvalidArgument, "cannot execute \"" + prog + "\"", errno);
    return prog;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + prog;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return make_error(ErrorCode::InvalidArgument, "program \"" + prog + "\" not found in PATH");
}

void set_env(std::vector<std::string>& env, const std::string& kv) {
  const std::string key = kv.substr(0, kv.find('=') + 1);
  for (auto& e : env)
    if (e.compare(0, key.size(), key) == 0) {
      e = kv;
      return;
    }
  env.push_back(kv);
}

struct ChildFailure {
  int step;
  int err;
};
const char* step_name(int step) {
  switch (step) {
    case 1:
      return "entering the host's network namespace (setns)";
    case 2:
      return "redirecting stdin/stdout/stderr";
    case 3:
      return "changing directory";
    case 4:
      return "dropping privileges";
    case 5:
      return "exec";
    default:
      return "starting";
  }
}

[[noreturn]] void child_fail(int pipe_fd, int step, int err) {
  ChildFailure f{step, err};
  [[maybe_unused]] ssize_t n = ::write(pipe_fd, &f, sizeof f);
  ::_exit(127);
}

}  // namespace

Result<ChildProcess> spawn_in_netns(int nsfd, const std::string& ns_name, const SpawnOptions& o) {
  if (o.argv.empty()) return make_error(ErrorCode::InvalidArgument, "spawn: argv is empty");
  auto path = resolve_program(o.argv[0]);
  if (!path.ok()) return path.error();

  std::optional<UserCredentials> user;
  if (!o.user.empty()) {
    auto u = lookup_user(o.user);
    if (!u.ok()) return u.error();
    user = std::move(u).value();
  }

  std::vector<std::string> env;
  if (o.inherit_env)
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  if (user) {
    set_env(env, "HOME=" + user->home);
    set_env(env, "USER=" + user->name);
    set_env(env, "LOGNAME=" + user->name);
  }
  for (const auto& kv : o.env) {
    if (kv.find('=') == std::string::npos)
      return make_error(ErrorCode::InvalidArgument,
                        "spawn: environment entry \"" + kv + "\" is not KEY=VALUE");
    set_env(env, kv);
  }

  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull) return sys_error(ErrorCode::Internal, "could not open /dev/null", errno);
  UniqueFd log;
  if (!o.log_file.empty()) {
    log.reset(::open(o.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
    if (!log)
      return sys_error(ErrorCode::InvalidArgument, "could not open log file \"" + o.log_file + "\"",
                       errno);
    if (user && ::fchown(log.get(), user->uid, user->gid) != 0)
      return sys_error(ErrorCode::Internal, "could not chown log file \"" + o.log_file + "\"",
                       errno);
  }
  const std::string cwd = o.cwd.empty() ? "/" : o.cwd;

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path->c_str()));
  for (std::size_t i = 1; i < o.argv.size(); ++i)
    argv.push_back(const_cast<char*>(o.argv[i].c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0)
    return sys_error(ErrorCode::Internal, "could not create a pipe", errno);
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);

  const pid_t pid = ::fork();
  if (pid < 0) return sys_error(ErrorCode::Internal, "could not fork", errno);
  if (pid == 0) {
    const int w = wr.get();
    if (::setns(nsfd, CLONE_NEWNET) != 0) child_fail(w, 1, errno);
    ::setsid();
    if (::dup2(devnull.get(), 0) < 0) child_fail(w, 2, errno);
    if (log && (::dup2(log.get(), 1) < 0 || ::dup2(log.get(), 2) < 0)) child_fail(w, 2, errno);
    if (::chdir(cwd.c_str()) != 0) child_fail(w, 3, errno);
    if (user) {
      if (int err = drop_to(*user); err != 0) child_fail(w, 4, err);
    }
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s) ::sigaction(s, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    /* Descriptors the caller leaked without O_CLOEXEC must not reach the program. */
    ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
    ::execve(argv[0], argv.data(), envp.data());
    child_fail(w, 5, errno);
  }
  wr.reset();
  ChildFailure f{0, 0};
  ssize_t n;
  do {
    n = ::read(rd.get(), &f, sizeof f);
  } while (n < 0 && errno == EINTR);
  const std::string what = o.argv[0] + " in " + ns_name;
  if (n == static_cast<ssize_t>(sizeof f)) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    return sys_error(ErrorCode::Internal,
                     std::string("could not start \"") + *path + "\" in network namespace \"" +
                         ns_name + "\": " + step_name(f.step) + " failed",
                     f.err);
  }
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  return ChildProcess(pid, std::move(pidfd), what);
}

}  // namespace detail

}  // namespace pgaf::netns
