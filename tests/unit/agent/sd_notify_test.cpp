/*
 * sd_notify_test.cpp — WatchdogPacer (sd_notify.hpp): pings at half the watchdog period, only
 * while the keeper loop is alive (a round within one period, or inside a bounded step).
 */
#include "pgaf/agent/sd_notify.hpp"

#include <gtest/gtest.h>

namespace {

using pgaf::agent::WatchdogPacer;

TEST(WatchdogPacer, DisabledWithoutAWatchdog) {
  WatchdogPacer p(0);
  EXPECT_FALSE(p.enabled());
  p.on_round(0);
  EXPECT_FALSE(p.should_ping(0));
}

TEST(WatchdogPacer, PingsAtHalfThePeriodWhileRoundsComplete) {
  WatchdogPacer p(30000000); /* WatchdogSec=30 */
  ASSERT_TRUE(p.enabled());
  EXPECT_EQ(p.period_ms(), 30000);
  EXPECT_EQ(p.ping_interval_ms(), 15000);
  EXPECT_FALSE(p.should_ping(0)) << "no round yet: not alive";
  p.on_round(100);
  EXPECT_TRUE(p.should_ping(100));
  p.pinged(100);
  p.on_round(600);
  EXPECT_FALSE(p.should_ping(600)) << "too soon after the last ping";
  p.on_round(15099);
  EXPECT_FALSE(p.should_ping(15099));
  p.on_round(15100);
  EXPECT_TRUE(p.should_ping(15100));
}

TEST(WatchdogPacer, AStuckLoopStopsThePings) {
  WatchdogPacer p(2000000); /* 2 s */
  p.on_round(0);
  p.pinged(0);
  /* no round for longer than the period: systemd must see no ping and restart us */
  EXPECT_TRUE(p.alive(2000));
  EXPECT_FALSE(p.alive(2001));
  EXPECT_FALSE(p.should_ping(2001));
  EXPECT_FALSE(p.should_ping(10000));
  p.on_round(10000);
  EXPECT_TRUE(p.should_ping(10000));
}

TEST(WatchdogPacer, ABoundedStepKeepsTheLoopAlive) {
  WatchdogPacer p(2000000);
  p.on_round(0);
  p.pinged(0);
  p.on_step(500); /* e.g. a base backup */
  EXPECT_TRUE(p.should_ping(60000));
  p.pinged(60000);
  p.on_round(61000); /* the step ended: rounds again */
  EXPECT_TRUE(p.should_ping(62000));
  EXPECT_FALSE(p.should_ping(63001 + 1000));
}

TEST(WatchdogPacer, TinyPeriodsStillPing) {
  WatchdogPacer p(500); /* 0.5 ms rounds up to 1 ms */
  EXPECT_EQ(p.period_ms(), 1);
  EXPECT_EQ(p.ping_interval_ms(), 1);
  p.on_round(5);
  EXPECT_TRUE(p.should_ping(5));
}

}  // namespace
