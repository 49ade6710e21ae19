/* keeper_table_test.cpp — lookups in the keeper transition table. */
#include <gtest/gtest.h>

#include <set>

#include "pgaf/core/keeper_table.hpp"

namespace pgaf {
namespace {
using S = NodeState;
using K = KeeperStep;

TEST(KeeperTable, TwoNodeFailoverEdges) {
  auto pp = find_keeper_transition(S::Secondary, S::PreparePromotion);
  ASSERT_TRUE(pp.has_value());
  EXPECT_EQ(pp->steps, std::vector<K>{K::StopWalReceiver});
  auto sr = find_keeper_transition(S::PreparePromotion, S::StopReplication);
  ASSERT_TRUE(sr.has_value());
  EXPECT_EQ(sr->steps.front(), K::SetReadOnly);
  auto wp = find_keeper_transition(S::StopReplication, S::WaitPrimary);
  ASSERT_TRUE(wp.has_value());
  EXPECT_EQ(wp->steps.front(), K::SetReadWrite);
  EXPECT_TRUE(find_keeper_transition(S::Primary, S::Draining).has_value());
  EXPECT_TRUE(find_keeper_transition(S::WaitPrimary, S::Draining).has_value())
      << "upstream #1168: wait_primary must be able to drain";
  EXPECT_TRUE(find_keeper_transition(S::Demoted, S::Catchingup).has_value());
}

TEST(KeeperTable, AnyStateCanBeDropped) {
  for (auto s : all_node_states()) {
    auto t = find_keeper_transition(s, S::Dropped);
    ASSERT_TRUE(t.has_value()) << to_string(s);
    EXPECT_EQ(t->steps, std::vector<K>{K::DropNode});
  }
}

TEST(KeeperTable, UnknownPairHasNoEdge) {
  EXPECT_FALSE(find_keeper_transition(S::Secondary, S::Primary).has_value());
  EXPECT_FALSE(find_keeper_transition(S::Catchingup, S::Primary).has_value());
}

TEST(KeeperTable, OldPrimaryNeverRestartsAsPrimaryWhenDemoted) {
  for (auto from : {S::Primary, S::WaitPrimary, S::Draining, S::DemoteTimeout}) {
    auto t = find_keeper_transition(from, S::Demoted);
    ASSERT_TRUE(t.has_value()) << to_string(from);
    EXPECT_EQ(t->steps, std::vector<K>{K::StopPostgres});
  }
}

TEST(KeeperTable, StepNamesAreUnique) {
  std::set<std::string_view> names;
  for (int k = 0; k <= static_cast<int>(K::DropNode); ++k)
    EXPECT_TRUE(names.insert(to_string(static_cast<K>(k))).second);
}

TEST(KeeperTable, MermaidHasEveryEdge) {
  const std::string m = keeper_table_mermaid();
  EXPECT_EQ(m.rfind("stateDiagram-v2", 0), 0u);
  EXPECT_NE(m.find("stop_replication --> wait_primary : set_read_write"), std::string::npos);
  EXPECT_NE(m.find("any_state --> dropped : drop_node"), std::string::npos);
}

TEST(KeeperTable, TestHookRemovesAndRestoresAnEdge) {
  keeper_table_remove_edge_for_test(S::Catchingup, S::Secondary);
  EXPECT_FALSE(find_keeper_transition(S::Catchingup, S::Secondary).has_value());
  keeper_table_reset_for_test();
  EXPECT_TRUE(find_keeper_transition(S::Catchingup, S::Secondary).has_value());
}

}  // namespace
}  // namespace pgaf
