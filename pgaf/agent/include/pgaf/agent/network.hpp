/*
 * network.hpp — what pg_autoctl learns about the local network (the reference's ipaddr.c):
 * the local address used to reach a host, the CIDR of the network an address belongs to (for
 * --pg-hba-lan), and name lookups. Used by `create postgres` (hostname discovery), the keeper's
 * pg_hba.conf edits, and `pg_autoctl do show ipaddr|cidr|lookup|hostname|reverse`.
 *
 * Invariants: IPv4 only, as our nodes are; no packet is sent (a UDP connect only picks a route);
 * every failure is an Error naming the address or name.
 */
#pragma once

#include <string>
#include <vector>

#include "pgaf/core/error.hpp"

namespace pgaf::agent {

/* Local IPv4 address the kernel would use to reach host:port. */
Result<std::string> local_address_to(const std::string& host, int port);

/* The network of a local address, in CIDR notation ("10.0.0.0/24", "127.0.0.0/8"), from the
 * netmask of the interface that holds it. */
Result<std::string> local_cidr(const std::string& ip);

/* The local address a hostname (or address) designates: the first of its IPv4 addresses that is
 * held by a local interface. */
Result<std::string> hostname_local_address(const std::string& hostname);

/* getaddrinfo: every IPv4 address of a name. */
Result<std::vector<std::string>> lookup_ipv4(const std::string& hostname);

/* getnameinfo: the name of an address (NI_NAMEREQD). */
Result<std::string> reverse_lookup(const std::string& ip);

}  // namespace pgaf::agent
