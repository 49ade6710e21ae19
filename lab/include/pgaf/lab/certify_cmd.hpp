/*
 * certify_cmd.hpp — `lab certify --network PROFILE [--pack DIR] [--out DIR]`: validate the
 * profile (external interfaces must exist) and every pack scenario against it before anything
 * is built, run the pack under the profile, write certificate.html/.json (certify.hpp) and print
 * the verdict. Exit status: 0 certified, 1 not certified or bad input, 2 the lab could not start.
 */
#pragma once

#include <string>

#include "pgaf/lab/runner.hpp"

namespace pgaf::lab {

struct CertifyOptions {
  std::string network_file;
  std::string pack_dir = "scenarios/vendor/pack";
  std::string out_dir; /* default: <report_dir>/certify-<profile>-<UTC time> */
};

int run_certify(const CertifyOptions& c, RunOptions opt);

/* `<pg_autoctl> --version`, first line (run as a process, bounded); "unknown (...)" on failure. */
std::string pgaf_version(const std::string& pg_autoctl);

}  // namespace pgaf::lab
