/*
 * lab_it_support.hpp — helpers of the lab's end-to-end tests: run a command with its output in a
 * log file (bounded: SIGTERM, then SIGKILL), read a file, and tell whether a lab mount remains.
 */
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace pgaf::lab_it {

/* Start argv with stdout/stderr to log; returns the child's pid. */
inline pid_t start(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    FILE* f = std::fopen(log.c_str(), "w");
    if (f) {
      ::dup2(fileno(f), 1);
      ::dup2(fileno(f), 2);
    }
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  return pid;
}

/* Run argv with stdout/stderr to log; SIGKILL after timeout. Returns the exit code or -1. */
inline int run(const std::vector<std::string>& argv, const std::string& log,
               std::chrono::seconds timeout) {
  const pid_t pid = start(argv, log);
  const auto until = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGTERM);
      std::this_thread::sleep_for(std::chrono::seconds(20));
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool lab_mounts_left() {
  std::ifstream in("/proc/self/mounts");
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("/run/pgaf-lab/") != std::string::npos) return true;
  }
  return false;
}

}  // namespace pgaf::lab_it
