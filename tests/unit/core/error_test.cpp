/* error_test.cpp — the error code table: SQLSTATEs and pg_autoctl exit codes. */
#include <gtest/gtest.h>

#include "pgaf/core/error.hpp"

namespace pgaf {
namespace {

TEST(Error, ExitCodesMatchTheReference) {
  EXPECT_EQ(exit_code(ErrorCode::InvalidArgument), 1);
  EXPECT_EQ(exit_code(ErrorCode::OutOfRange), 1);
  EXPECT_EQ(exit_code(ErrorCode::BadConfig), 2);
  EXPECT_EQ(exit_code(ErrorCode::BadState), 3);
  EXPECT_EQ(exit_code(ErrorCode::Pgsql), 4);
  EXPECT_EQ(exit_code(ErrorCode::Pgctl), 5);
  EXPECT_EQ(exit_code(ErrorCode::Monitor), 6);
  EXPECT_EQ(exit_code(ErrorCode::Keeper), 8);
  EXPECT_EQ(exit_code(ErrorCode::Reload), 9);
  EXPECT_EQ(exit_code(ErrorCode::Internal), 12);
  EXPECT_EQ(exit_code(ErrorCode::ExtensionMissing), 13);
  EXPECT_EQ(exit_code(ErrorCode::Dropped), 121);
  EXPECT_EQ(exit_code(ErrorCode::Fatal), 122);
}

TEST(Error, EveryCodeHasAFiveCharacterSqlstate) {
  for (int c = 0; c <= static_cast<int>(ErrorCode::Unsupported); ++c) {
    const auto& info = error_code_info(static_cast<ErrorCode>(c));
    EXPECT_EQ(std::string(info.sqlstate).size(), 5u) << info.name;
    EXPECT_EQ(static_cast<int>(info.code), c);
  }
  EXPECT_STREQ(sqlstate(ErrorCode::UnknownNode), "42704");
  EXPECT_STREQ(sqlstate(ErrorCode::OutOfRange), "22003");
}

TEST(Error, PostgresStyleRendering) {
  Error e = make_error(ErrorCode::UnknownNode, "node 4 is not registered", "check the id",
                       "group 0");
  EXPECT_EQ(e.to_string(), "node 4 is not registered\nDETAIL: group 0\nHINT: check the id");
}

TEST(Error, ResultHoldsValueOrError) {
  Result<int> ok = 3;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 3);
  Result<int> bad = make_error(ErrorCode::BadState, "nope");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::BadState);
  Status st;
  EXPECT_TRUE(st.ok());
}

TEST(ErrorDeathTest, AssertionCrashesLoudly) {
  EXPECT_DEATH(PGAF_ASSERT(1 == 2, "two writable primaries"), "two writable primaries");
}

struct AssertThrown {
  std::string msg;
};

TEST(Error, AssertHandlerCanThrowInsteadOfAborting) {
  set_assert_handler([](const char*, const char*, int, const char* msg) {
    throw AssertThrown{msg};
  });
  bool caught = false;
  try {
    PGAF_ASSERT(false, "invariant");
  } catch (const AssertThrown& e) {
    caught = e.msg == "invariant";
  }
  set_assert_handler(nullptr);
  EXPECT_TRUE(caught);
}

}  // namespace
}  // namespace pgaf
