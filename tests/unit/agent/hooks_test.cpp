/*
 * hooks_test.cpp — hooks.hpp: a hook gets the old and new states in its environment and
 * arguments, runs without a shell, off the caller's thread, and one that hangs is killed at its
 * bound while the caller goes on; bad hook paths are refused naming the key.
 */
#include "pgaf/agent/hooks.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

using namespace pgaf;
using namespace pgaf::agent;
namespace fs = std::filesystem;

class HookDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/pgaf-hooks-XXXXXX";
    dir_ = ::mkdtemp(t);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string script(const std::string& name, const std::string& body) {
    const std::string p = dir_ + "/" + name;
    std::ofstream(p) << "#!/bin/sh\n" << body;
    ::chmod(p.c_str(), 0755);
    return p;
  }
  std::string read(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    std::ostringstream o;
    o << in.rdbuf();
    return o.str();
  }
  std::string dir_;
};

TEST_F(HookDir, StateAndRoleHooksGetTheirEnvironment) {
  const std::string out = dir_ + "/out";
  auto on_state = script("state.sh",
                         "echo \"state $1 $2 $3 $PGAF_OLD_STATE $PGAF_NEW_STATE "
                         "$PGAF_NODE_ID $PGAF_NODE_NAME $PGAF_FORMATION $PGAF_GROUP\" >> " +
                             out + "\n");
  auto on_role = script("role.sh", "echo \"role $PGAF_OLD_ROLE $PGAF_NEW_ROLE\" >> " + out + "\n");
  HookRunner h(on_state, on_role, 5000, make_process_runner());
  HookNode n{7, "node_7", "sales", 2};
  h.on_transition(NodeState::Secondary, NodeState::PreparePromotion, n);
  h.on_transition(NodeState::StopReplication, NodeState::WaitPrimary, n);
  ASSERT_TRUE(h.wait_idle(10000));
  EXPECT_EQ(read("out"),
            "state state_change secondary prepare_promotion secondary prepare_promotion 7 node_7 "
            "sales 2\n"
            "state state_change stop_replication wait_primary stop_replication wait_primary 7 "
            "node_7 sales 2\n"
            "role standby primary\n");
  EXPECT_EQ(h.stats().succeeded, 3);
}

TEST_F(HookDir, AHangingHookIsKilledAtItsBoundAndTheCallerGoesOn) {
  /* no shell is involved: a program that ignores SIGTERM is still killed (SIGKILL) */
  auto hang = script("hang.sh", "trap '' TERM\nexec sleep 60\n");
  auto after = script("after.sh", "echo ran >> " + dir_ + "/after\n");
  HookRunner h(hang, after, 300, make_process_runner());
  const auto t0 = std::chrono::steady_clock::now();
  h.on_transition(NodeState::Primary, NodeState::Draining, HookNode{1, "n", "default", 0});
  const auto queued_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_LT(queued_us, 50000) << "on_transition must not wait for the hook";
  ASSERT_TRUE(h.wait_idle(5000));
  const auto took_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::printf("hanging hook killed after %lld ms (bound 300 ms); queueing took %lld us\n",
              static_cast<long long>(took_ms), static_cast<long long>(queued_us));
  EXPECT_GE(took_ms, 300);
  EXPECT_LT(took_ms, 3000);
  auto st = h.stats();
  EXPECT_EQ(st.killed, 1);
  EXPECT_EQ(st.succeeded, 1) << "the role hook ran after the killed one";
  EXPECT_EQ(read("after"), "ran\n");
}

TEST_F(HookDir, FailuresAreCountedNotFatal) {
  auto fails = script("fail.sh", "echo boom; exit 3\n");
  HookRunner h(fails, "", 2000, make_process_runner());
  h.on_transition(NodeState::Secondary, NodeState::Catchingup, HookNode{});
  h.on_transition(NodeState::Catchingup, NodeState::Secondary, HookNode{});
  ASSERT_TRUE(h.wait_idle(5000));
  EXPECT_EQ(h.stats().failed, 2);
  /* no role change between standby states: no role hook; same state: nothing */
  h.on_transition(NodeState::Secondary, NodeState::Secondary, HookNode{});
  ASSERT_TRUE(h.wait_idle(1000));
  EXPECT_EQ(h.stats().started, 2);
}

TEST_F(HookDir, BadHookPathsAreRefusedNamingTheKey) {
  EXPECT_TRUE(check_hook_program("hooks.on_state_change", "").ok());
  EXPECT_TRUE(check_hook_program("hooks.on_state_change", script("ok.sh", "true\n")).ok());
  auto missing = check_hook_program("hooks.on_state_change", dir_ + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("hooks.on_state_change"), std::string::npos);
  EXPECT_NE(missing.error().message.find("does not exist"), std::string::npos);
  const std::string plain = dir_ + "/plain";
  std::ofstream(plain) << "x";
  auto noexec = check_hook_program("hooks.on_role_change", plain);
  ASSERT_FALSE(noexec.ok());
  EXPECT_NE(noexec.error().message.find("not an executable"), std::string::npos);
  EXPECT_FALSE(check_hook_program("hooks.on_role_change", dir_).ok()) << "a directory";
  EXPECT_FALSE(check_hook_program("hooks.on_role_change", "relative/hook.sh").ok());
}

TEST(HookRoles, RolesOfStates) {
  EXPECT_EQ(role_of(NodeState::Primary), "primary");
  EXPECT_EQ(role_of(NodeState::WaitPrimary), "primary");
  EXPECT_EQ(role_of(NodeState::Secondary), "standby");
  EXPECT_EQ(role_of(NodeState::Catchingup), "standby");
  EXPECT_EQ(role_of(NodeState::Demoted), "none");
  EXPECT_EQ(role_of(NodeState::Maintenance), "none");
}

}  // namespace
