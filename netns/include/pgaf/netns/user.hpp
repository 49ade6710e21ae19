/*
 * user.hpp — look a user up before fork, switch to it after fork.
 *
 * After fork() in a multi-threaded program only async-signal-safe calls are allowed, so
 * everything that reads /etc/passwd or /etc/group (getpwnam, initgroups) happens in the parent:
 * lookup_user() returns plain numbers, and drop_to() only calls setgroups/setgid/setuid.
 * Invariant: drop_to() sets groups, then gid, then uid (the only order that works), and fails if
 * the uid could be regained (setuid(0) succeeding after the drop).
 */
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "pgaf/core/error.hpp"

namespace pgaf::netns {

struct UserCredentials {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups; /* supplementary groups, as initgroups() would set them */
  std::string home;
};

/* UnknownNode-free: InvalidArgument if the user does not exist. */
Result<UserCredentials> lookup_user(const std::string& name);

/* Async-signal-safe. Returns 0, or the errno of the failed step. */
int drop_to(const UserCredentials& user) noexcept;

}  // namespace pgaf::netns
