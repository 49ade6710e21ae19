/*
 * cli_runner.hpp — runs pg_autoctl's command tree in-process (pgaf::cli::run_cli) the way a shell
 * would run the binary: a clean environment for the variables pg_autoctl reads (PGDATA,
 * PG_AUTOCTL_*, HOME, XDG_RUNTIME_DIR), stdout and stderr captured at the file-descriptor level
 * (so printf, iostreams and spdlog are all caught), the exit code returned.
 *
 * Invariants: the environment and file descriptors 1 and 2 are restored after each run; runs are
 * sequential (GoogleTest runs one test at a time in this binary).
 */
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "pgaf/cli/cli.hpp"

namespace pgaf::cli::test {

struct CliResult {
  int code = -1;
  std::string out; /* stdout */
  std::string err; /* stderr */
  std::string all() const { return out + err; }
};

/* Words separated by spaces (the tests' arguments hold no quoted spaces). */
inline std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> words;
  std::istringstream in(s);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

class ScopedEnv {
 public:
  void set(const std::string& name, const std::optional<std::string>& value) {
    if (!saved_.count(name)) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    if (value)
      ::setenv(name.c_str(), value->c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
  ~ScopedEnv() {
    for (auto& [name, value] : saved_) {
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

/* Redirects fd `fd` into a temporary file until take() (or destruction). */
class FdCapture {
 public:
  explicit FdCapture(int fd) : fd_(fd) {
    std::fflush(nullptr);
    file_ = std::tmpfile();
    saved_ = ::dup(fd_);
    if (file_ != nullptr && saved_ >= 0) ::dup2(::fileno(file_), fd_);
  }
  std::string take() {
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    restore();
    std::string text;
    if (file_ == nullptr) return text;
    std::rewind(file_);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) text.append(buf, n);
    std::fclose(file_);
    file_ = nullptr;
    return text;
  }
  ~FdCapture() {
    restore();
    if (file_ != nullptr) std::fclose(file_);
  }
  FdCapture(const FdCapture&) = delete;
  FdCapture& operator=(const FdCapture&) = delete;

 private:
  void restore() {
    if (saved_ >= 0) {
      ::dup2(saved_, fd_);
      ::close(saved_);
      saved_ = -1;
    }
  }
  int fd_;
  int saved_ = -1;
  std::FILE* file_ = nullptr;
};

/* Run `pg_autoctl <args>` in-process with HOME=home and the given extra environment
 * ("NAME=value" words); PGDATA, PG_AUTOCTL_MONITOR and PG_AUTOCTL_DEBUG are unset unless given. */
inline CliResult run_pg_autoctl(const std::vector<std::string>& args, const std::string& home,
                                const std::string& env = "") {
  ScopedEnv scoped;
  for (const char* name : {"PGDATA", "PG_AUTOCTL_MONITOR", "PG_AUTOCTL_DEBUG", "PGHOST", "PGPORT",
                           "PG_AUTOCTL_NODE_NAME", "PG_AUTOCTL_AUTH_METHOD"})
    scoped.set(name, std::nullopt);
  scoped.set("HOME", home);
  scoped.set("XDG_RUNTIME_DIR", home + "/run");
  for (const std::string& word : split_words(env)) {
    const auto eq = word.find('=');
    if (eq != std::string::npos) scoped.set(word.substr(0, eq), word.substr(eq + 1));
  }
  std::vector<std::string> argv = {"pg_autoctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  CliResult r;
  FdCapture out(1), err(2);
  r.code = run_cli(argv);
  r.err = err.take();
  r.out = out.take();
  return r;
}

inline CliResult run_pg_autoctl(const std::string& args, const std::string& home,
                                const std::string& env = "") {
  return run_pg_autoctl(split_words(args), home, env);
}

}  // namespace pgaf::cli::test
