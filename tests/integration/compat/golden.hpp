/*
 * golden.hpp — golden-output files of the compatibility suite (tests/integration/compat/golden):
 * a command's normalised output compared with the file; PGAF_UPDATE_GOLDEN=1 rewrites the file
 * instead (after a wanted change, reviewed in the diff).
 */
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#ifndef PGAF_GOLDEN_DIR
#error "PGAF_GOLDEN_DIR must name tests/integration/compat/golden"
#endif

namespace pgaf::compat {

inline void expect_golden_file(const std::string& name, const std::string& text) {
  const std::string path = std::string(PGAF_GOLDEN_DIR) + "/" + name;
  if (const char* u = std::getenv("PGAF_UPDATE_GOLDEN"); u != nullptr && std::string(u) == "1") {
    std::ofstream(path) << text;
    return;
  }
  std::ifstream in(path);
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(text, want.str()) << "golden file " << path
                              << " (PGAF_UPDATE_GOLDEN=1 rewrites it after a wanted change)";
}

}  // namespace pgaf::compat
