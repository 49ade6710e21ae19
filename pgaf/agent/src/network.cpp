/*
 * network.cpp — local addresses, CIDR of a local network, name lookups (see network.hpp).
 */
#include "pgaf/agent/network.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace pgaf::agent {

namespace {

std::string ntop(const in_addr& a) {
  char buf[INET_ADDRSTRLEN] = {};
  if (inet_ntop(AF_INET, &a, buf, sizeof buf) == nullptr) return {};
  return buf;
}

int prefix_length(std::uint32_t mask_host_order) {
  int n = 0;
  while (n < 32 && (mask_host_order & (0x80000000u >> n)) != 0) ++n;
  return n;
}

}  // namespace

Result<std::string> local_address_to(const std::string& host, int port) {
  addrinfo hints{};
  addrinfo* res = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    return make_error(ErrorCode::InvalidArgument,
                      "could not resolve \"" + host + "\": " + gai_strerror(rc));
  }
  std::string out;
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
    sockaddr_in local{};
    socklen_t len = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0)
      out = ntop(local.sin_addr);
  }
  const int err = errno;
  if (fd >= 0) ::close(fd);
  freeaddrinfo(res);
  if (out.empty()) {
    return make_error(ErrorCode::InvalidArgument,
                      "no local address reaches \"" + host + "\": " + std::strerror(err));
  }
  return out;
}

Result<std::string> local_cidr(const std::string& ip) {
  in_addr want{};
  if (inet_pton(AF_INET, ip.c_str(), &want) != 1) {
    return make_error(ErrorCode::InvalidArgument, "\"" + ip + "\" is not an IPv4 address");
  }
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) {
    return make_error(ErrorCode::Internal,
                      std::string("could not list network interfaces: ") + std::strerror(errno));
  }
  std::string out;
  for (ifaddrs* i = ifs; i != nullptr && out.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_netmask == nullptr) continue;
    if (i->ifa_addr->sa_family != AF_INET) continue;
    const auto* addr = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if (addr->sin_addr.s_addr != want.s_addr) continue;
    const auto* mask = reinterpret_cast<const sockaddr_in*>(i->ifa_netmask);
    in_addr net{};
    net.s_addr = addr->sin_addr.s_addr & mask->sin_addr.s_addr;
    out = ntop(net) + "/" + std::to_string(prefix_length(ntohl(mask->sin_addr.s_addr)));
  }
  freeifaddrs(ifs);
  if (out.empty()) {
    return make_error(ErrorCode::InvalidArgument,
                      "no local network interface holds the address \"" + ip + "\"",
                      "the node's hostname must resolve to one of this host's addresses");
  }
  return out;
}

Result<std::vector<std::string>> lookup_ipv4(const std::string& hostname) {
  addrinfo hints{};
  addrinfo* res = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  const int rc = getaddrinfo(hostname.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return make_error(ErrorCode::InvalidArgument,
                      "could not resolve \"" + hostname + "\": " + gai_strerror(rc));
  }
  std::vector<std::string> out;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    const std::string ip = ntop(reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr);
    bool seen = false;
    for (const auto& o : out) seen = seen || o == ip;
    if (!seen) out.push_back(ip);
  }
  freeaddrinfo(res);
  return out;
}

Result<std::string> hostname_local_address(const std::string& hostname) {
  auto ips = lookup_ipv4(hostname);
  if (!ips) return ips.error();
  for (const auto& ip : *ips) {
    if (local_cidr(ip)) return ip;
  }
  return make_error(ErrorCode::InvalidArgument,
                    "none of the addresses of \"" + hostname + "\" is held by this host",
                    "use --hostname with a name or address of this host");
}

Result<std::string> reverse_lookup(const std::string& ip) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1) {
    return make_error(ErrorCode::InvalidArgument, "\"" + ip + "\" is not an IPv4 address");
  }
  char host[NI_MAXHOST] = {};
  const int rc = getnameinfo(reinterpret_cast<const sockaddr*>(&sa), sizeof sa, host, sizeof host,
                             nullptr, 0, NI_NAMEREQD);
  if (rc != 0) {
    return make_error(ErrorCode::InvalidArgument,
                      "no name for the address \"" + ip + "\": " + gai_strerror(rc));
  }
  return std::string(host);
}

}  // namespace pgaf::agent
