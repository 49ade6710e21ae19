/*
 * sync_names.hpp — synchronous_standby_names and the formation URI, computed as the reference does
 * (upstream-design.md §6.4 and §5.2 formation_uri), with one difference: with more than two
 * nodes, a standby whose goal is a maintenance state (wait_maintenance, maintenance,
 * prepare_maintenance) is left out of the list, so the primary stops counting its
 * acknowledgements before the operator gets it (decide() releases it only afterwards).
 */
#pragma once

#include <string>
#include <string_view>

#include "pgaf/core/node.hpp"

namespace pgaf {

/* "pgautofailover_standby_<id>": the application_name and slot name of a standby. */
std::string standby_name(NodeId id);

/* '' or 'ANY k (pgautofailover_standby_2, pgautofailover_standby_3)'. An empty group is an error. */
Result<std::string> synchronous_standby_names(const GroupSnapshot& g);

struct UriOptions {
  std::string cluster_name = "default";
  std::string sslmode = "prefer";
  std::string sslrootcert;
  std::string sslcrl;
};

/* A value for a postgres:// URI (database name or query parameter value): RFC 3986 unreserved
 * characters (letters, digits, - . _ ~) and '/' as they are, every other byte %XX, so that libpq
 * reads back exactly `v` (a path with '&', '=', '%', '?', '#' or a space included). */
std::string uri_escape(std::string_view v);
/* A host for a postgres:// URI: a host with ':' (an IPv6 literal) in brackets, its other
 * characters escaped as uri_escape does; libpq reads back exactly `host`. */
std::string uri_host(std::string_view host);

/* postgres://h1:p1,h2:p2/db?target_session_attrs=read-write&sslmode=prefer — or nullopt if the
 * group (group 0 of the formation) has no node in that cluster. */
std::optional<std::string> formation_uri(const GroupSnapshot& g, const UriOptions& o);

}  // namespace pgaf
