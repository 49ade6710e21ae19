/*
 * nsutil.cpp — threads inside namespaces, named namespaces, processes in namespaces, owner files.
 *
 * Named namespaces follow iproute2's `ip netns add`: /run/netns is made a shared mount point (bind
 * mounted on itself first if it is not one), an empty file /run/netns/<name> is created with
 * O_EXCL, and a thread that unshare()d CLONE_NEWNET bind-mounts /proc/thread-self/ns/net on it.
 * The mount keeps the namespace alive after the thread ends; removal is umount + unlink.
 * Invariant: a file created here is removed again if the bind mount fails.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "internal.hpp"

namespace pgaf::netns::detail {

namespace {

const char* errno_name(int err) {
  switch (err) {
    case EPERM:
      return "EPERM";
    case ENOENT:
      return "ENOENT";
    case ESRCH:
      return "ESRCH";
    case EINTR:
      return "EINTR";
    case EIO:
      return "EIO";
    case EBADF:
      return "EBADF";
    case EAGAIN:
      return "EAGAIN";
    case ENOMEM:
      return "ENOMEM";
    case EACCES:
      return "EACCES";
    case EBUSY:
      return "EBUSY";
    case EEXIST:
      return "EEXIST";
    case ENODEV:
      return "ENODEV";
    case EINVAL:
      return "EINVAL";
    case ENOSPC:
      return "ENOSPC";
    case EOPNOTSUPP:
      return "EOPNOTSUPP";
    case ECONNREFUSED:
      return "ECONNREFUSED";
    case ECONNRESET:
      return "ECONNRESET";
    case ETIMEDOUT:
      return "ETIMEDOUT";
    case EHOSTUNREACH:
      return "EHOSTUNREACH";
    case ENETUNREACH:
      return "ENETUNREACH";
    case EADDRINUSE:
      return "EADDRINUSE";
    default:
      return "errno";
  }
}

std::mutex& shared_mount_mutex() {
  static std::mutex m;
  return m;
}

/* Make /run/netns a shared mount point, as iproute2 does (so mounts propagate to other mount
 * namespaces that see /run). */
Status make_netns_dir_shared() {
  std::lock_guard<std::mutex> lock(shared_mount_mutex());
  if (::mkdir(kNetnsDir, 0755) != 0 && errno != EEXIST)
    return sys_error(ErrorCode::Internal, "could not create directory \"/run/netns\"", errno);
  if (::mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) == 0) return Status::Ok();
  if (errno != EINVAL)
    return sys_error(ErrorCode::Internal, "could not make \"/run/netns\" a shared mount", errno);
  /* Not a mount point yet: bind it on itself, then retry. */
  if (::mount(kNetnsDir, kNetnsDir, "none", MS_BIND | MS_REC, nullptr) != 0)
    return sys_error(ErrorCode::Internal, "could not bind-mount \"/run/netns\" on itself", errno);
  if (::mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) != 0)
    return sys_error(ErrorCode::Internal, "could not make \"/run/netns\" a shared mount", errno);
  return Status::Ok();
}

std::string proc_comm(const std::string& pid) {
  std::string c = read_file("/proc/" + pid + "/comm");
  while (!c.empty() && (c.back() == '\n' || c.back() == ' ')) c.pop_back();
  return c;
}

/* Field 22 of /proc/<pid>/stat: start time in clock ticks since boot (pid-reuse guard). */
std::string proc_starttime(const std::string& pid) {
  std::string s = read_file("/proc/" + pid + "/stat");
  auto close = s.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream in(s.substr(close + 2));
  std::string field;
  /* After ") " comes field 3 (state); starttime is field 22, i.e. the 20th token from here. */
  for (int i = 3; i <= 22 && (in >> field); ++i) {
    if (i == 22) return field;
  }
  return {};
}

}  // namespace

std::string errno_text(int err) {
  return std::string(std::strerror(err)) + " (" + errno_name(err) + ")";
}

Error sys_error(ErrorCode code, std::string message, int err, std::string hint) {
  return make_error(code, std::move(message), std::move(hint), errno_text(err));
}

Status on_thread_in(int nsfd, const std::string& ns_name, const std::function<Status()>& fn) {
  Status result;
  std::thread t([&] {
    if (::setns(nsfd, CLONE_NEWNET) != 0) {
      result = sys_error(ErrorCode::Internal,
                         "could not enter network namespace \"" + ns_name + "\"", errno);
      return;
    }
    try {
      result = fn();
    } catch (const std::exception& e) {
      result =
          make_error(ErrorCode::Internal,
                     "function inside network namespace \"" + ns_name + "\" threw", {}, e.what());
    } catch (...) {
      result = make_error(ErrorCode::Internal,
                          "function inside network namespace \"" + ns_name + "\" threw", {},
                          "unknown exception");
    }
  });
  t.join();
  return result;
}

Status on_thread_in_new_netns(const std::function<Status()>& fn) {
  Status result;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      result = sys_error(ErrorCode::Unsupported, "could not create a network namespace", errno,
                         "run as root (CAP_SYS_ADMIN)");
      return;
    }
    try {
      result = fn();
    } catch (const std::exception& e) {
      result = make_error(ErrorCode::Internal, "function in a probe namespace threw", {}, e.what());
    }
  });
  t.join();
  return result;
}

std::string netns_path(const std::string& name) {
  return std::string(kNetnsDir) + "/" + name;
}

Status create_named_netns(const std::string& name) {
  if (auto st = make_netns_dir_shared(); !st.ok()) return st;
  const std::string path = netns_path(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST)
      return make_error(ErrorCode::AlreadyExists,
                        "network namespace \"" + name + "\" already exists",
                        "a crashed run left it behind: reap its prefix (pgaf::netns::reap, or "
                        "lab-net reap <prefix>)");
    return sys_error(ErrorCode::Internal, "could not create \"" + path + "\"", err);
  }
  ::close(fd);
  Status result;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      result = sys_error(ErrorCode::Internal, "could not create network namespace \"" + name + "\"",
                         errno, "run as root (CAP_SYS_ADMIN)");
      return;
    }
    if (::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      result =
          sys_error(ErrorCode::Internal,
                    "could not bind-mount network namespace \"" + name + "\" on " + path, errno);
    }
  });
  t.join();
  if (!result.ok()) ::unlink(path.c_str());
  return result;
}

Result<UniqueFd> open_named_netns(const std::string& name) {
  const std::string path = netns_path(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return sys_error(ErrorCode::UnknownNode, "could not open network namespace \"" + name + "\"",
                     errno);
  return UniqueFd(fd);
}

Status remove_named_netns(const std::string& name) {
  const std::string path = netns_path(name);
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return sys_error(ErrorCode::Internal, "could not unmount network namespace \"" + name + "\"",
                     errno);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return sys_error(ErrorCode::Internal, "could not remove \"" + path + "\"", errno);
  return Status::Ok();
}

Result<NsId> named_netns_id(const std::string& name) {
  struct stat st {};
  const std::string path = netns_path(name);
  if (::stat(path.c_str(), &st) != 0)
    return sys_error(ErrorCode::UnknownNode, "could not stat \"" + path + "\"", errno);
  return NsId{st.st_dev, st.st_ino};
}

Killed kill_processes_in(const std::vector<NsId>& ids, const std::vector<std::string>& names,
                         std::chrono::milliseconds timeout) {
  Killed killed;
  if (ids.empty()) return killed;
  const pid_t self = ::getpid();
  auto scan = [&](bool do_kill) {
    int found = 0;
    DIR* d = ::opendir("/proc");
    if (d == nullptr) return 0;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      const std::string pid = e->d_name;
      if (std::stol(pid) == self) continue;
      struct stat st {};
      if (::stat(("/proc/" + pid + "/ns/net").c_str(), &st) != 0) continue;
      for (std::size_t i = 0; i < ids.size(); ++i) {
        if (ids[i].dev != st.st_dev || ids[i].ino != st.st_ino) continue;
        ++found;
        if (do_kill) {
          std::string what = "pid " + pid + " (" + proc_comm(pid) + ") in " + names[i];
          if (::kill(static_cast<pid_t>(std::stol(pid)), SIGKILL) == 0)
            killed.processes.push_back(std::move(what));
        }
        break;
      }
    }
    ::closedir(d);
    return found;
  };
  if (scan(true) == 0) return killed;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    /* Threads of our own process are skipped (self); a forked child that ignored SIGKILL cannot
     * exist, so anything left is exiting, or newly forked: kill again. */
    if (scan(true) == 0) return killed;
  }
  killed.all_gone = scan(false) == 0;
  return killed;
}

Status write_owner_file(const std::string& prefix) {
  if (::mkdir(kOwnerDir, 0755) != 0 && errno != EEXIST)
    return sys_error(ErrorCode::Internal, std::string("could not create ") + kOwnerDir, errno);
  const std::string self = std::to_string(::getpid());
  const std::string path = std::string(kOwnerDir) + "/" + prefix + "owner";
  std::ofstream out(path, std::ios::trunc);
  out << self << " " << proc_starttime(self) << "\n";
  if (!out) return make_error(ErrorCode::Internal, "could not write owner file \"" + path + "\"");
  return Status::Ok();
}

void remove_owner_file(const std::string& prefix) {
  ::unlink((std::string(kOwnerDir) + "/" + prefix + "owner").c_str());
}

std::vector<Owner> list_owners(std::string_view family) {
  std::vector<Owner> owners;
  DIR* d = ::opendir(kOwnerDir);
  if (d == nullptr) return owners;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    const std::string suffix = "owner";
    if (name.size() <= suffix.size() || name.compare(0, family.size(), family) != 0) continue;
    if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    Owner o;
    o.prefix = name.substr(0, name.size() - suffix.size());
    std::istringstream in(read_file(std::string(kOwnerDir) + "/" + name));
    std::string pid, start;
    if (in >> pid >> start) o.alive = !start.empty() && proc_starttime(pid) == start;
    owners.push_back(std::move(o));
  }
  ::closedir(d);
  return owners;
}

void set_sysctl(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  [[maybe_unused]] ssize_t n = ::write(fd, value.data(), value.size());
  ::close(fd);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace pgaf::netns::detail
