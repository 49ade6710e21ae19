/* settings_test.cpp — Settings defaults, validation, named access and lease arithmetic. */
#include <gtest/gtest.h>

#include "pgaf/core/settings.hpp"

namespace pgaf {
namespace {

TEST(Settings, DefaultsAreValid) { EXPECT_TRUE(Settings{}.validate().ok()); }

TEST(Settings, LeaseArithmeticIsDriftScaledPlusMargin) {
  Settings s;
  s.lease_ms = 1000;
  s.clock_drift_ppm = 0;
  s.lease_margin_ms = 0;
  EXPECT_EQ(s.monitor_lease_wait_ms(), 1000);
  s.clock_drift_ppm = 1000; /* 0.1%: 1000 * 1.001 / 0.999 = 1002.002 → 1003 */
  EXPECT_EQ(s.monitor_lease_wait_ms(), 1003);
  s.lease_margin_ms = 250;
  EXPECT_EQ(s.monitor_lease_wait_ms(), 1253);
  s.standby_vouch_ms = 1500;
  EXPECT_GE(s.monitor_vouch_wait_ms(), 1500 + 250);
}

TEST(Settings, DefaultFailoverArithmeticFitsFiveSeconds) {
  /* detection (lease wait + one health-check round) + vouch wait + report and promote slack */
  Settings s;
  const TimeMs bound = s.monitor_lease_wait_ms() + s.health_check_period_ms +
                       s.monitor_vouch_wait_ms() + s.node_active_interval_ms;
  EXPECT_LE(bound, 5000) << "defaults no longer allow a 5 s failover";
}

TEST(Settings, SetKnownField) {
  Settings s;
  ASSERT_TRUE(s.set("lease_ms", "3000").ok());
  EXPECT_EQ(s.lease_ms, 3000);
  ASSERT_TRUE(s.set("health_check_max_retries", "3").ok());
  EXPECT_EQ(s.health_check_max_retries, 3);
}

TEST(Settings, UnknownFieldIsNamed) {
  Settings s;
  Status st = s.set("lease", "3000");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("\"lease\""), std::string::npos);
}

TEST(Settings, MalformedAndOutOfRangeValues) {
  Settings s;
  Status a = s.set("lease_ms", "3s");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(a.error().message.find("lease_ms"), std::string::npos);
  Status b = s.set("lease_ms", "-5");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, ErrorCode::OutOfRange);
  EXPECT_EQ(s.lease_ms, Settings{}.lease_ms) << "a rejected value must not be half-applied";
}

TEST(Settings, ValidateRejectsInconsistentLease) {
  Settings s;
  s.fence_guard_ms = s.lease_ms;
  EXPECT_FALSE(s.validate().ok());
  Settings t;
  t.node_active_interval_ms = t.lease_ms;
  Status st = t.validate();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("node_active_interval_ms"), std::string::npos);
  Settings u;
  u.health_check_period_ms = -1;
  EXPECT_FALSE(u.validate().ok());
}

TEST(Settings, ConnectTimeoutIsWholeSecondsRoundedUpAtLeastOne) {
  EXPECT_EQ(Settings::connect_timeout_seconds(0), 1) << "0 would mean: wait forever";
  EXPECT_EQ(Settings::connect_timeout_seconds(1), 1);
  EXPECT_EQ(Settings::connect_timeout_seconds(999), 1);
  EXPECT_EQ(Settings::connect_timeout_seconds(1000), 1);
  EXPECT_EQ(Settings::connect_timeout_seconds(1001), 2);
  EXPECT_EQ(Settings::connect_timeout_seconds(2000), 2);
  EXPECT_EQ(Settings::connect_timeout_seconds(10000), 10);
  EXPECT_EQ(Settings::connect_timeout_seconds(3600000), 3600);
}

TEST(Settings, AgentTimeoutsAreNamedAndChecked) {
  for (const char* name :
       {"prepare_promotion_walreceiver_ms", "node_active_retry_delay_ms",
        "standby_heartbeat_interval_ms", "fence_stop_timeout_ms", "postgres_start_timeout_ms",
        "postgres_running_check_ms", "postgres_stop_timeout_ms", "stop_escalation_ms",
        "service_stop_timeout_ms", "pg_ctl_timeout_ms", "initdb_timeout_ms",
        "pg_controldata_timeout_ms", "local_connect_timeout_ms", "http_request_timeout_ms",
        "hook_timeout_ms", "watch_refresh_ms", "watch_poll_ms"}) {
    Settings s;
    EXPECT_TRUE(s.set(name, "1234").ok()) << name;
    EXPECT_FALSE(s.set(name, "-1").ok()) << name;
    bool listed = false;
    for (const auto& [k, v] : s.list()) {
      if (k == name) {
        listed = true;
        EXPECT_EQ(v, "1234") << name;
      }
    }
    EXPECT_TRUE(listed) << name;
  }
}

TEST(Settings, ListNamesEveryField) {
  Settings s;
  auto l = s.list();
  EXPECT_GE(l.size(), 19u);
  for (const auto& [k, v] : l) {
    Settings t;
    EXPECT_TRUE(t.set(k, v).ok()) << k;
  }
}

}  // namespace
}  // namespace pgaf
