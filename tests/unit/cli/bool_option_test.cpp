/*
 * bool_option_test.cpp — boolean option values are read as pg_auto_failover reads them (any case of
 * true/false, yes/no, on/off, 1/0 and unique prefixes), so scripts written for it work unchanged.
 */
#include <gtest/gtest.h>

#include "pgaf/cli/cli.hpp"

namespace pgaf::cli {
namespace {

TEST(BoolOption, AcceptsWhatPgAutoFailoverAccepts) {
  for (const char* t : {"true", "True", "TRUE", "t", "tr", "yes", "Y", "on", "ON", "1"})
    EXPECT_EQ(parse_bool_option(t), std::optional<bool>(true)) << t;
  for (const char* f : {"false", "False", "FALSE", "f", "fal", "no", "N", "off", "OfF", "of", "0"})
    EXPECT_EQ(parse_bool_option(f), std::optional<bool>(false)) << f;
}

TEST(BoolOption, RefusesEverythingElse) {
  for (const char* bad : {"", "o", "2", "truee", "yess", "nope", "-1", " true", "true ", "onn"})
    EXPECT_FALSE(parse_bool_option(bad).has_value()) << "\"" << bad << "\"";
}

}  // namespace
}  // namespace pgaf::cli
