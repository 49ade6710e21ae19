/*
 * ops_options_test.cpp — ops_options.hpp: the systemd unit `show systemd` prints and the packaged
 * pgaf@.service template agree on every shared [Service] line; --http-listen and hook options are
 * checked before they are set.
 */
#include "pgaf/cli/ops_options.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#ifndef PGAF_SYSTEMD_TEMPLATE
#error "PGAF_SYSTEMD_TEMPLATE must be defined"
#endif

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l))
    if (!l.empty()) out.push_back(l);
  return out;
}

TEST(SystemdUnit, TemplateAndShowSystemdShareTheServiceLines) {
  std::ifstream in(PGAF_SYSTEMD_TEMPLATE);
  ASSERT_TRUE(in.good()) << PGAF_SYSTEMD_TEMPLATE;
  std::ostringstream o;
  o << in.rdbuf();
  const std::string tmpl = o.str();
  const auto common = lines_of(pgaf::cli::systemd_service_common());
  ASSERT_FALSE(common.empty());
  for (const auto& l : common) EXPECT_NE(tmpl.find("\n" + l + "\n"), std::string::npos) << l;
  EXPECT_NE(tmpl.find("Type = notify"), std::string::npos);
  const std::string unit =
      pgaf::cli::systemd_unit("/usr/bin/pg_autoctl", "/var/lib/pg/n1", "postgres", "/home/pg");
  for (const auto& l : common) EXPECT_NE(unit.find("\n" + l + "\n"), std::string::npos) << l;
  EXPECT_NE(unit.find("ExecStart = /usr/bin/pg_autoctl run\n"), std::string::npos) << unit;
  EXPECT_NE(unit.find("Environment = 'PGDATA=/var/lib/pg/n1'\n"), std::string::npos) << unit;
  /* the template runs the same command */
  EXPECT_NE(tmpl.find("ExecStart = /usr/bin/pg_autoctl run\n"), std::string::npos);
}

TEST(OpsOptions, BadValuesAreRefusedBeforeTheyAreSet) {
  pgaf::agent::Config cfg;
  pgaf::cli::OpsOptions o;
  o.http_listen = "nonsense";
  auto s = pgaf::cli::apply_ops_options(o, cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("--http-listen"), std::string::npos) << s.error().message;
  EXPECT_TRUE(cfg.http_listen.empty());
  o = {};
  o.on_role_change = "/no/such/hook";
  s = pgaf::cli::apply_ops_options(o, cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("--on-role-change"), std::string::npos);
  EXPECT_TRUE(cfg.hook_on_role_change.empty());
  o = {};
  o.on_state_change = "/bin/true";
  o.http_listen = "127.0.0.1:26040";
  ASSERT_TRUE(pgaf::cli::apply_ops_options(o, cfg).ok());
  EXPECT_EQ(cfg.hook_on_state_change, "/bin/true");
  EXPECT_EQ(cfg.http_listen, "127.0.0.1:26040");
  /* config set: only changed keys are checked */
  pgaf::agent::Config updated = cfg;
  EXPECT_TRUE(pgaf::cli::check_ops_config(updated, cfg).ok());
  updated.hook_on_role_change = "/etc/passwd"; /* not executable */
  auto c = pgaf::cli::check_ops_config(updated, cfg);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("hooks.on_role_change"), std::string::npos);
}

}  // namespace
