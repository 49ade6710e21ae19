/*
 * monitor_listener.cpp — see monitor_listener.hpp. One libpqxx connection to the local monitor
 * database; every wait is bounded (connect_timeout, a 1 s await_notification, a 1 s pause
 * before reconnecting) so that a stop request is honoured within about a second.
 */
#include "pgaf/agent/monitor_listener.hpp"

#include <spdlog/spdlog.h>

#include <memory>
#include <pqxx/pqxx>

namespace pgaf::agent {

std::string listener_log_line(const std::string& channel, const std::string& payload) {
  if (channel != "state") return payload;
  auto n = parse_state_notification(payload);
  if (!n) return "received \"" + payload + "\"";
  return "New state for node " + std::to_string(n->node_id) + " \"" + n->name + "\" (" + n->host +
         ":" + std::to_string(n->port) + "): " + n->reported + " \u279c " + n->goal;
}

namespace {

class ChannelLogger final : public pqxx::notification_receiver {
 public:
  ChannelLogger(pqxx::connection_base& c, const std::string& channel)
      : pqxx::notification_receiver(c, channel) {}
  void operator()(const std::string& payload, int) override {
    spdlog::info("{}", listener_log_line(channel(), payload));
  }
};

/* ticks of 100 ms, checking stop() between them */
void pause_unless_stopped(const std::function<bool()>& stop, int ticks) {
  for (int i = 0; i < ticks && !stop(); ++i) SystemClock().sleep_ms(100);
}

}  // namespace

void listen_and_log(const Config& cfg, const std::function<bool()>& stop) {
  const std::string conninfo =
      cfg.local_conninfo("pg_auto_failover") + " connect_timeout=" +
      std::to_string(Settings::connect_timeout_seconds(cfg.settings.monitor_call_timeout_ms)) +
      " application_name=pg_autoctl_listener";
  bool connected_once = false;
  while (!stop()) {
    try {
      pqxx::connection c(conninfo);
      spdlog::info("Contacting the monitor to LISTEN to its events.");
      connected_once = true;
      ChannelLogger log(c, "log");
      ChannelLogger state(c, "state");
      while (!stop()) c.await_notification(1, 0);
    } catch (const std::exception& e) {
      /* before the first connection Postgres is usually still starting: say it once at debug */
      if (connected_once) {
        spdlog::warn("Re-establishing connection. We might miss notifications: {}", e.what());
      } else {
        spdlog::debug("the monitor does not answer yet: {}", e.what());
      }
      /* retry soon while the monitor starts (events before the LISTEN are missed), then every
       * second */
      pause_unless_stopped(stop, connected_once ? 10 : 1);
    }
  }
}

}  // namespace pgaf::agent
