/* sync_names_test.cpp — synchronous_standby_names and formation_uri strings. */
#include <gtest/gtest.h>

#include "group_builder.hpp"
#include "pgaf/core/sync_names.hpp"

namespace pgaf {
namespace {
using test::make_node;
using S = NodeState;

GroupSnapshot group(std::vector<Node> nodes, int nss = 0) {
  GroupSnapshot g;
  g.nodes = std::move(nodes);
  g.formation.number_sync_standbys = nss;
  return g;
}

TEST(SyncNames, SingleNodeIsEmpty) {
  EXPECT_EQ(*synchronous_standby_names(group({make_node(1, S::Single, S::Single)})), "");
}

TEST(SyncNames, EmptyGroupIsAnError) {
  auto r = synchronous_standby_names(group({}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no nodes"), std::string::npos);
}

TEST(SyncNames, TwoNodes) {
  auto g = group({make_node(1, S::Primary, S::Primary), make_node(2, S::Secondary, S::Secondary)});
  EXPECT_EQ(*synchronous_standby_names(g), "ANY 1 (pgautofailover_standby_2)");
  g.nodes[1].goal_state = S::Catchingup;
  EXPECT_EQ(*synchronous_standby_names(g), "");
  g.nodes[1].goal_state = S::Secondary;
  g.nodes[1].replication_quorum = false;
  EXPECT_EQ(*synchronous_standby_names(g), "");
}

TEST(SyncNames, ThreeNodesOrderedByPriority) {
  auto g = group({make_node(1, S::Primary, S::Primary), make_node(2, S::Secondary, S::Secondary),
                  make_node(3, S::Secondary, S::Secondary)});
  EXPECT_EQ(*synchronous_standby_names(g),
            "ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)");
  g.nodes[0].candidate_priority = 90;
  g.nodes[1].candidate_priority = 0;
  g.nodes[2].candidate_priority = 90;
  EXPECT_EQ(*synchronous_standby_names(g),
            "ANY 1 (pgautofailover_standby_3, pgautofailover_standby_2)");
  g.formation.number_sync_standbys = 2;
  EXPECT_EQ(*synchronous_standby_names(g),
            "ANY 2 (pgautofailover_standby_3, pgautofailover_standby_2)");
}

TEST(SyncNames, WaitPrimaryWithManyNodesIsEmpty) {
  auto g = group({make_node(1, S::WaitPrimary, S::WaitPrimary),
                  make_node(2, S::Catchingup, S::Catchingup),
                  make_node(3, S::Catchingup, S::Catchingup)});
  EXPECT_EQ(*synchronous_standby_names(g), "");
}

TEST(SyncNames, NonQuorumStandbysAreLeftOut) {
  auto g = group({make_node(1, S::Primary, S::Primary), make_node(2, S::Secondary, S::Secondary),
                  make_node(3, S::Secondary, S::Secondary)});
  g.nodes[1].replication_quorum = false;
  EXPECT_EQ(*synchronous_standby_names(g), "ANY 1 (pgautofailover_standby_3)");
}

TEST(SyncNames, StandbysGoingToMaintenanceAreLeftOut) {
  auto g = group({make_node(1, S::Primary, S::Primary), make_node(2, S::Secondary, S::Secondary),
                  make_node(3, S::Secondary, S::WaitMaintenance)});
  EXPECT_EQ(*synchronous_standby_names(g), "ANY 1 (pgautofailover_standby_2)");
  g.nodes[2].goal_state = S::Maintenance;
  EXPECT_EQ(*synchronous_standby_names(g), "ANY 1 (pgautofailover_standby_2)");
}

TEST(FormationUri, MultiHostReadWrite) {
  auto g = group({make_node(1, S::Primary, S::Primary), make_node(2, S::Secondary, S::Secondary)});
  g.formation.dbname = "appdb";
  UriOptions o;
  EXPECT_EQ(*formation_uri(g, o),
            "postgres://198.18.0.11:5432,198.18.0.12:5432/appdb?target_session_attrs=read-write&"
            "sslmode=prefer");
  o.sslmode = "verify-ca";
  o.sslrootcert = "/r.pem";
  EXPECT_EQ(*formation_uri(g, o),
            "postgres://198.18.0.11:5432,198.18.0.12:5432/appdb?target_session_attrs=read-write&"
            "sslmode=verify-ca&sslrootcert=/r.pem");
  o.cluster_name = "replicas";
  EXPECT_FALSE(formation_uri(g, o).has_value());
}

/* fuzz_uri finding: hosts, dbname and TLS paths went in unescaped; libpq must read back exactly
 * what the monitor knows (IPv6 hosts in brackets, '&', '=', '%' and spaces escaped). */
TEST(FormationUri, HostsAndValuesAreEscapedForLibpq) {
  auto g = group({make_node(1, S::Primary, S::Primary), make_node(2, S::Secondary, S::Secondary)});
  g.nodes[0].host = "fe80::1";
  g.formation.dbname = "my db";
  UriOptions o;
  o.sslrootcert = "/etc/ssl/a&b=c %d.crt";
  EXPECT_EQ(*formation_uri(g, o),
            "postgres://[fe80::1]:5432,198.18.0.12:5432/my%20db?target_session_attrs=read-write&"
            "sslmode=prefer&sslrootcert=/etc/ssl/a%26b%3Dc%20%25d.crt");
  EXPECT_EQ(uri_host("db.example"), "db.example");
  EXPECT_EQ(uri_escape("a/b-c_d.e~f"), "a/b-c_d.e~f");
}

}  // namespace
}  // namespace pgaf
