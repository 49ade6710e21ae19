/*
 * monitor_fixture.hpp — a real PostgreSQL 15 with the pgautofailover extension, for the monitor's
 * integration tests (tests/support's PgCluster underneath).
 *
 * The server preloads pgautofailover; the database pg_auto_failover has the extension (CASCADE
 * installs btree_gist). Health checks are off unless the test turns them on (they would make
 * results depend on timing). Ports: 25400-25489 (25490-25499 are the fixture's own tests).
 */
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pgaf/test/pg_cluster.hpp"

namespace pgaf::test {

inline std::unique_ptr<PgCluster> start_monitor(int port, bool health_checks = false,
                                                const std::vector<std::string>& conf_lines = {}) {
  PgClusterOptions c;
  c.port = port;
  c.name = "pgaf-monitor";
  c.conf_lines = {"shared_preload_libraries = 'pgautofailover'",
                  std::string("pgautofailover.enable_health_checks = ") +
                      (health_checks ? "on" : "off"),
                  "max_connections = 100"};
  c.conf_lines.insert(c.conf_lines.end(), conf_lines.begin(), conf_lines.end());
  auto pg = std::make_unique<PgCluster>(c);
  pg->exec("CREATE DATABASE pg_auto_failover");
  pg->exec("CREATE EXTENSION pgautofailover CASCADE", "pg_auto_failover");
  return pg;
}

}  // namespace pgaf::test
