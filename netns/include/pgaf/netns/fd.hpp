/*
 * fd.hpp — UniqueFd, an owned file descriptor (sockets, pidfds, namespace handles).
 *
 * Invariant: a UniqueFd closes its descriptor exactly once (on destruction, reset() or
 * assignment); release() hands ownership to the caller. A value < 0 means "empty".
 */
#pragma once

#include <unistd.h>

#include <utility>

namespace pgaf::netns {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace pgaf::netns
