/*
 * compat_test.cpp — a pg_auto_failover user's habits against pgaf, on 127.0.0.1 with real
 * PostgreSQL 15 and the real monitor: only the reference's commands and options, their outputs
 * and exit codes.
 *
 * Ports: 26100-26199, one block of 10 per test.
 */
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "agent_lab.hpp"

namespace pgaf::agent_it {
namespace {

#define REQUIRE_ROOT()                                                            \
  do {                                                                            \
    if (geteuid() != 0) GTEST_SKIP() << "needs root (runs Postgres as postgres)"; \
  } while (0)

/* What a Postgres server answers to a startup packet (protocol 3.0, no SSL) from a client bound
 * to `source` (an address of this host): "ok" (AuthenticationOk), or the server's error text.
 * libpq cannot choose its source address, hence this small client. */
std::string startup_from(const std::string& source, int port, const std::string& user,
                         const std::string& db) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "socket failed";
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    ::close(fd);
    return std::string("connect failed: ") + std::strerror(errno);
  }
  std::string body;
  const uint32_t proto = htonl(196608);
  body.append(reinterpret_cast<const char*>(&proto), 4);
  for (const std::string& kv : {std::string("user"), user, std::string("database"), db}) {
    body += kv;
    body.push_back('\0');
  }
  body.push_back('\0');
  const uint32_t len = htonl(static_cast<uint32_t>(body.size() + 4));
  std::string msg(reinterpret_cast<const char*>(&len), 4);
  msg += body;
  (void)!::write(fd, msg.data(), msg.size());
  char buf[1024] = {};
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n < 9) return "no answer";
  if (buf[0] == 'R') {
    uint32_t code = 0;
    std::memcpy(&code, buf + 5, 4);
    return ntohl(code) == 0 ? "ok" : "authentication requested";
  }
  /* 'E': fields (type byte, text) — keep the message field 'M' */
  for (ssize_t i = 5; i < n; ++i) {
    if (buf[i] == 'M') return std::string(buf + i + 1);
    while (i < n && buf[i] != '\0') ++i;
  }
  return "error";
}

TEST(Compat, PgHbaLanAdmitsTheNodesNetwork) {
  REQUIRE_ROOT();
  AgentLab lab(26100);
  lab.start_monitor();
  lab.start_node("node_1", 1, {"--pg-hba-lan"});
  ASSERT_GE(lab.wait_states({{"node_1", "single"}}, 60000), 0) << lab.state_dump();
  /* 127.0.0.2 is on the node's network (127.0.0.0/8) but matches no rule initdb wrote */
  EXPECT_EQ(startup_from("127.0.0.2", lab.node_port(1), "postgres", "postgres"), "ok");
  /* the monitor got no such rule for the postgres database: the same client is refused there */
  const std::string refused = startup_from("127.0.0.2", lab.monitor_port(), "postgres", "postgres");
  EXPECT_NE(refused.find("pg_hba.conf"), std::string::npos) << refused;
  const auto left = lab.teardown();
  EXPECT_TRUE(left.empty());
}

}  // namespace
}  // namespace pgaf::agent_it
