/* lsn_test.cpp — the one LSN parser/printer: valid, boundary and malformed text, round trips. */
#include "pgaf/core/lsn.hpp"

#include <gtest/gtest.h>

#include <random>

namespace pgaf {
namespace {

TEST(Lsn, ParsesValidText) {
  EXPECT_EQ(parse_lsn("0/3000060"), Lsn{0x3000060});
  EXPECT_EQ(parse_lsn("16/B374D848"), Lsn{0x16B374D848});
  EXPECT_EQ(parse_lsn("16/b374d848"), Lsn{0x16B374D848}) << "either case, as PostgreSQL";
  EXPECT_EQ(parse_lsn("00000016/0B374D84"), Lsn{0x160B374D84}) << "leading zeros, 8 digits";
  EXPECT_EQ(parse_lsn("1/0"), Lsn{1} << 32);
}

TEST(Lsn, Boundaries) {
  EXPECT_EQ(parse_lsn("0/0"), Lsn{0});
  EXPECT_EQ(parse_lsn("FFFFFFFF/FFFFFFFF"), ~Lsn{0});
  EXPECT_EQ(parse_lsn("ffffffff/0"), Lsn{0xFFFFFFFF00000000});
  EXPECT_EQ(parse_lsn("0/FFFFFFFF"), Lsn{0xFFFFFFFF});
  EXPECT_EQ(format_lsn(0), "0/0");
  EXPECT_EQ(format_lsn(~Lsn{0}), "FFFFFFFF/FFFFFFFF");
  EXPECT_EQ(format_lsn(Lsn{0xFFFFFFFF}), "0/FFFFFFFF");
  EXPECT_EQ(format_lsn(Lsn{1} << 32), "1/0");
}

TEST(Lsn, RejectsMalformedText) {
  for (const char* bad :
       {"", /* empty: not an LSN (NULL is the caller's to map) */
        "/",     "0",     "0/",    "/0",          "garbage",     "1x/2",        "1/2x",
        "1/2/3", " 1/2",  "1/2 ",  "1 /2",        "1/ 2",        "+1/2",        "1/-2",
        "-1/2",  "0x1/2", "1/0x2", "123456789/0", "0/123456789", "100000000/0", "0/100000000",
        "1/2\n", "g/0",   "0/G",   "1\\2",        "1:2",         "1.2"}) {
    EXPECT_FALSE(parse_lsn(bad).has_value()) << '"' << bad << '"';
    auto r = parse_lsn_or_error(bad);
    ASSERT_FALSE(r.ok()) << '"' << bad << '"';
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(r.error().message.find(std::string("\"") + bad + "\""), std::string::npos)
        << r.error().message;
  }
  /* an embedded NUL is not the end of the text */
  EXPECT_FALSE(parse_lsn(std::string_view("1/2\0"
                                          "3",
                                          5))
                   .has_value());
}

TEST(Lsn, ErrorFormReturnsTheValue) {
  auto r = parse_lsn_or_error("16/B374D848");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Lsn{0x16B374D848});
}

TEST(Lsn, FormatIsPostgresText) {
  EXPECT_EQ(format_lsn(Lsn{0x16B374D848}), "16/B374D848");
  EXPECT_EQ(format_lsn(Lsn{0x3000060}), "0/3000060");
  EXPECT_EQ(format_lsn(Lsn{0x0000000A0000000B}), "A/B") << "no leading zeros, upper case";
}

TEST(Lsn, RoundTrip) {
  std::mt19937_64 rng(20261207);
  std::vector<Lsn> values = {
      0, 1, 0xF, 0x10, 0xFFFFFFFF, Lsn{1} << 32, ~Lsn{0}, 0x8000000000000000ULL};
  for (int i = 0; i < 10000; ++i) values.push_back(rng());
  for (Lsn l : values) {
    const std::string t = format_lsn(l);
    ASSERT_EQ(parse_lsn(t), l) << t;
    ASSERT_EQ(format_lsn(*parse_lsn(t)), t);
  }
}

}  // namespace
}  // namespace pgaf
