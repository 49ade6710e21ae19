/*
 * monitor_listener.hpp — the monitor's `listener` service (the reference's monitor_service_run):
 * LISTENs on the local monitor's `log` and `state` channels and writes each notification to the
 * service log, so that `pg_autoctl run` on a monitor (and its journal) shows every event:
 * `log` payloads as they are, `state` payloads as "New state for node N "name" (host:port):
 * reported ➜ goal". A lost connection is re-established (bounded waits); notifications sent
 * meanwhile are missed, as the reference warns.
 */
#pragma once

#include <functional>
#include <string>

#include "pgaf/agent/config.hpp"
#include "pgaf/agent/interfaces.hpp"

namespace pgaf::agent {

/* The log line for one notification on `channel` ("log" or "state"). */
std::string listener_log_line(const std::string& channel, const std::string& payload);

/* Run until stop() returns true (checked at least every second). */
void listen_and_log(const Config& cfg, const std::function<bool()>& stop);

}  // namespace pgaf::agent
