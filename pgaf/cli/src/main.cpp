/* main.cpp — pg_autoctl entry point: everything lives in pgaf::cli::run_cli. */
#include "pgaf/cli/cli.hpp"

int main(int argc, char** argv) {
  return pgaf::cli::run_cli(argc, argv);
}
