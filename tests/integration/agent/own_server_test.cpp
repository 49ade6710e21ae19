/*
 * own_server_test.cpp — the agent never acts on a PostgreSQL server that is not its own (issue 11:
 * a monitor and a node on port 5432 sharing /tmp; the node turned the monitor read-only).
 *
 * A real server (the shared fixture) serves one PGDATA; an agent configured with another PGDATA
 * but the same address reaches it: every call fails with a clear error naming both directories,
 * and the server is left untouched (no ALTER SYSTEM). The same agent configuration with the
 * server's own PGDATA works. Port 26000 (issue 11's range 26000-26099).
 */
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "pgaf/agent/config.hpp"
#include "pgaf/agent/interfaces.hpp"
#include "pgaf/agent/postgres.hpp"
#include "pgaf/test/pg_cluster.hpp"

namespace {

pgaf::agent::Config config_for(const pgaf::test::PgCluster& pg, const std::string& pgdata) {
  pgaf::agent::Config c;
  c.pgdata = pgdata;
  c.pg_ctl = pgaf::test::pg_bindir() + "/pg_ctl";
  c.host = "127.0.0.1";
  c.port = pg.port();
  c.username = "postgres";
  return c;
}

std::string auto_conf(const pgaf::test::PgCluster& pg) {
  std::ifstream in(pg.data_dir() + "/postgresql.auto.conf");
  std::ostringstream o;
  o << in.rdbuf();
  return o.str();
}

TEST(OwnServer, AnotherServersPgdataIsRefusedAndLeftUntouched) {
  pgaf::test::PgClusterOptions opt;
  opt.port = 26000;
  opt.name = "pgaf-own-server";
  pgaf::test::PgCluster pg(opt);
  const std::string other = pg.dir() + "/not-this-one";
  std::filesystem::create_directories(other);

  pgaf::agent::SystemClock clock;
  auto runner = pgaf::agent::make_process_runner();
  auto foreign = pgaf::agent::make_postgres_control(config_for(pg, other), clock, *runner);
  const std::string before = auto_conf(pg);

  auto st = foreign->status();
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->running) << "a server that serves another PGDATA is not ours";
  pgaf::Status ro = foreign->set_read_only(true);
  ASSERT_FALSE(ro.ok()) << "the agent acted on a server that is not its own";
  EXPECT_NE(ro.error().message.find(pg.data_dir()), std::string::npos) << ro.error().message;
  EXPECT_NE(ro.error().message.find(other), std::string::npos) << ro.error().message;
  EXPECT_EQ(ro.error().code, pgaf::ErrorCode::BadState);
  std::printf("refused: %s\nHINT: %s\n", ro.error().message.c_str(), ro.error().hint.c_str());
  EXPECT_FALSE(foreign->checkpoint().ok());
  EXPECT_FALSE(foreign->terminate_client_backends().ok());
  EXPECT_EQ(auto_conf(pg), before) << "postgresql.auto.conf of the foreign server changed";
  EXPECT_EQ(pg.query_value("SHOW default_transaction_read_only"), "off");

  /* its own server: the same calls work */
  auto own = pgaf::agent::make_postgres_control(config_for(pg, pg.data_dir()), clock, *runner);
  auto st2 = own->status();
  ASSERT_TRUE(st2.ok());
  EXPECT_TRUE(st2->running);
  EXPECT_EQ(st2->system_identifier, pgaf::agent::pgdata_system_identifier(pg.data_dir()));
  EXPECT_TRUE(own->checkpoint().ok());
}

}  // namespace
