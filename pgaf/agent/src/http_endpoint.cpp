/*
 * http_endpoint.cpp — the HTTP endpoint on cpp-httplib. See http_endpoint.hpp for the invariants.
 */
#include "pgaf/agent/http_endpoint.hpp"

#include <httplib.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace pgaf::agent {

Result<ListenAddress> parse_listen_address(const std::string& text) {
  const std::string hint = "use host:port, e.g. 127.0.0.1:8008 or [::1]:8008";
  ListenAddress a;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return make_error(ErrorCode::InvalidArgument, "invalid listen address \"" + text + "\"",
                        hint);
    }
    a.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      return make_error(ErrorCode::InvalidArgument, "invalid listen address \"" + text + "\"",
                        hint + " (an IPv6 address goes in brackets)");
    }
    a.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (a.host.empty() || a.host.find_first_of(" \t/") != std::string::npos) {
    return make_error(ErrorCode::InvalidArgument, "invalid host in listen address \"" + text + "\"",
                      hint);
  }
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), a.port);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || a.port < 1 ||
      a.port > 65535) {
    return make_error(ErrorCode::InvalidArgument,
                      "invalid port \"" + port + "\" in listen address \"" + text + "\"",
                      "a port is between 1 and 65535");
  }
  return a;
}

Status check_listen_available(const ListenAddress& a) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const int gai = ::getaddrinfo(a.host.c_str(), std::to_string(a.port).c_str(), &hints, &res);
  if (gai != 0 || res == nullptr) {
    return make_error(
        ErrorCode::InvalidArgument,
        "cannot resolve the HTTP listen host \"" + a.host + "\": " + ::gai_strerror(gai),
        "use an address of this host, e.g. 127.0.0.1");
  }
  int err = 0;
  const int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
  if (fd < 0) {
    err = errno;
  } else {
    int one = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 1) != 0) err = errno;
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (err == 0) return Status::Ok();
  const std::string where = a.host + ":" + std::to_string(a.port);
  if (err == EADDRINUSE) {
    return make_error(ErrorCode::InvalidArgument,
                      "cannot listen on " + where + " for HTTP: the port is already in use",
                      "choose another port with --http-listen or http.listen");
  }
  return make_error(ErrorCode::InvalidArgument,
                    "cannot listen on " + where + " for HTTP: " + std::strerror(err),
                    err == EADDRNOTAVAIL ? "the address is not one of this host's"
                                         : "check the address and your permissions");
}

struct HttpEndpoint::Impl {
  Handler handler;
  TimeMs timeout_ms;
  httplib::Server server;
  std::thread thread;
};

HttpEndpoint::HttpEndpoint(Handler handler, TimeMs request_timeout_ms)
    : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  impl_->timeout_ms = request_timeout_ms;
}

HttpEndpoint::~HttpEndpoint() {
  stop();
}

Status HttpEndpoint::start(const ListenAddress& a) {
  auto& s = impl_->server;
  const time_t sec = static_cast<time_t>(impl_->timeout_ms / 1000);
  const time_t usec = static_cast<time_t>((impl_->timeout_ms % 1000) * 1000);
  /* 16 workers: an idle or half-sent connection holds one for at most the request timeout */
  s.new_task_queue = [] { return new httplib::ThreadPool(16); };
  s.set_read_timeout(sec, usec);
  s.set_write_timeout(sec, usec);
  s.set_keep_alive_timeout(std::max<time_t>(1, sec));
  s.set_keep_alive_max_count(100);
  s.set_payload_max_length(4096);
  Handler* h = &impl_->handler;
  s.Get(".*", [h](const httplib::Request& req, httplib::Response& res) {
    std::map<std::string, std::string> params;
    for (const auto& [k, v] : req.params) params.emplace(k, v);
    HttpAnswer ans = (*h)(req.path, params);
    res.status = ans.status;
    res.set_content(ans.body, ans.content_type.c_str());
  });
  if (!s.bind_to_port(a.host, a.port)) {
    /* the same checks as at create, for the message */
    if (Status c = check_listen_available(a); !c) return c;
    return make_error(ErrorCode::InvalidArgument,
                      "cannot listen on " + a.host + ":" + std::to_string(a.port) + " for HTTP");
  }
  impl_->thread = std::thread([&s] { s.listen_after_bind(); });
  spdlog::info("HTTP endpoint listening on {}:{} (/primary /replica /health /state /metrics)",
               a.host, a.port);
  return Status::Ok();
}

void HttpEndpoint::stop() {
  if (!impl_) return;
  if (impl_->thread.joinable()) {
    impl_->server.stop();
    impl_->thread.join();
  }
}

}  // namespace pgaf::agent
