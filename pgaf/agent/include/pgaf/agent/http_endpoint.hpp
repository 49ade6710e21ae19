/*
 * http_endpoint.hpp — the agent's HTTP endpoint (cpp-httplib), off by default; `[http] listen =
 * 127.0.0.1:8008` or `--http-listen` turns it on. Paths: /primary, /replica[?lag=16MB], /health,
 * /state, /metrics (node_snapshot.hpp, metrics.hpp; docs/operations.md).
 *
 * Invariants:
 *  - it serves from its own threads (a small fixed pool); a request only copies a snapshot and
 *    renders it (the monitor's /metrics adds one bounded query), so it never blocks or slows the
 *    keeper loop, whatever the clients do;
 *  - every connection is bounded: read/write timeouts and the keep-alive timeout are
 *    Settings::http_request_timeout_ms, so held-open idle connections are closed;
 *  - a listen address that does not parse, is not on this host, or whose port is taken is an error
 *    at create, config set and run start, never a silent endpoint-less agent.
 */
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "pgaf/agent/node_snapshot.hpp"
#include "pgaf/core/error.hpp"

namespace pgaf::agent {

struct ListenAddress {
  std::string host; /* numeric IPv4 / IPv6 (without brackets) or a host name */
  int port = 0;
};

/* "127.0.0.1:8008", "[::1]:8008", "localhost:8008", "0.0.0.0:8008". */
Result<ListenAddress> parse_listen_address(const std::string& text);
/* Bind (and release) the address to prove it can serve: the port must be free and the address
 * this host's. */
Status check_listen_available(const ListenAddress& a);

class HttpEndpoint {
 public:
  using Handler = std::function<HttpAnswer(const std::string& path,
                                           const std::map<std::string, std::string>& params)>;
  HttpEndpoint(Handler handler, TimeMs request_timeout_ms);
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  /* Bind now (an error if it cannot), then serve on a thread until stop(). */
  Status start(const ListenAddress& a);
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgaf::agent
