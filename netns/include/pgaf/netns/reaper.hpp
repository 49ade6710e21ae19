/*
 * reaper.hpp — find and remove the leftovers of crashed runs, by prefix.
 *
 * A run that dies without its destructor (SIGKILL, power loss) leaves namespaces pinned by their
 * bind mounts on /run/netns, processes still running in them, and possibly links and nft tables
 * in the root namespace whose names start with the prefix. reap(prefix) removes, in order:
 * processes whose network namespace is one of the prefix's (SIGKILL, bounded wait), the bind
 * mounts and files /run/netns/<prefix>*, root-namespace links named <prefix>*, and root-namespace
 * nft tables named <prefix>* (any family). Each Network writes an owner file
 * /run/pgaf-netns/<prefix>owner with its pid and start time: networks whose owner is alive are
 * skipped (and listed) unless ReapOptions::include_live is set, so a lab may reap a family prefix
 * ("pgaf-lab-") while another run is going.
 *
 * Invariant: only names starting with the given prefix are touched, and the prefix must itself
 * start with "pgaf-" (validate_family_prefix), so the reaper can never remove foreign objects.
 */
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "pgaf/core/error.hpp"

namespace pgaf::netns {

struct ReapOptions {
  bool include_live = false; /* also remove networks whose owner process is still running */
  std::chrono::milliseconds kill_timeout{2000};
};

struct ReapReport {
  std::vector<std::string> namespaces;   /* removed namespace names */
  std::vector<std::string> processes;    /* "pid 123 (postgres) in pgaf-x-node1" killed */
  std::vector<std::string> mounts;       /* unmounted paths */
  std::vector<std::string> links;        /* removed root-namespace links */
  std::vector<std::string> nft_tables;   /* removed root-namespace tables "inet pgaf-x-t" */
  std::vector<std::string> skipped_live; /* network prefixes skipped: owner alive */
  bool empty() const;
  std::string to_string() const;
};

/* Prefix for reap(): ^pgaf-[a-z0-9-]*$ (a run prefix or a family prefix such as "pgaf-lab-"). */
Status validate_family_prefix(std::string_view prefix);

Result<ReapReport> reap(std::string_view prefix, const ReapOptions& options = {});

/* Names of namespaces in /run/netns starting with prefix, sorted (no validation needed). */
std::vector<std::string> list_namespaces(std::string_view prefix);

}  // namespace pgaf::netns
