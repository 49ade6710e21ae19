/*
 * process.cpp — SystemClock and the Boost.Process ProcessRunner (bounded runs of initdb,
 * pg_basebackup, pg_rewind, ...). Output goes to a file (given, or a temp file read back, bounded
 * to the last 64 kB).
 */
#include "pgaf/agent/process.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "pgaf/agent/interfaces.hpp"

namespace pgaf::agent {

namespace bp = boost::process;

namespace {
std::atomic<bool> g_stop_requested{false};
}
void request_stop() {
  g_stop_requested.store(true);
}
bool stop_requested() {
  return g_stop_requested.load();
}

TimeMs SystemClock::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t SystemClock::wall_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SystemClock::sleep_ms(TimeMs ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::string_view to_string(PgExpected e) {
  switch (e) {
    case PgExpected::Running:
      return "running";
    case PgExpected::Stopped:
      return "stopped";
    case PgExpected::Unknown:
      break;
  }
  return "unknown";
}

namespace {

class BoostProcessRunner final : public ProcessRunner {
 public:
  ProcessResult run(const ProcessSpec& spec) override {
    ProcessResult res;
    std::string out = spec.output_file;
    bool temp = false;
    if (out.empty()) {
      out = (std::filesystem::temp_directory_path() /
             ("pg_autoctl." + std::to_string(getpid()) + "." + std::to_string(counter_++) + ".out"))
                .string();
      temp = true;
    }
    auto env = boost::this_process::environment();
    bp::environment child_env = env;
    for (auto& [k, v] : spec.env_set) child_env[k] = v;
    SystemClock clock;
    try {
      FILE* f = std::fopen(out.c_str(), "a");
      if (f == nullptr) {
        res.output = "could not open output file \"" + out + "\"";
        return res;
      }
      bp::child c(spec.program, bp::args(spec.args), bp::std_in<bp::null, bp::std_out> f,
                  bp::std_err > f, child_env, DieWithParent(SIGKILL));
      std::fclose(f);
      TimeMs deadline = clock.now_ms() + spec.timeout_ms;
      while (c.running()) {
        if (clock.now_ms() >= deadline || stop_requested()) {
          c.terminate();
          res.timed_out = true;
          break;
        }
        clock.sleep_ms(10);
      }
      c.wait();
      res.exit_code = res.timed_out ? -1 : c.exit_code();
    } catch (const std::exception& e) {
      res.exit_code = -1;
      res.output = std::string("could not run \"") + spec.program + "\": " + e.what();
      if (temp) std::filesystem::remove(out);
      return res;
    }
    std::ifstream in(out, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string all = ss.str();
    const size_t max = 64 * 1024;
    res.output = all.size() > max ? all.substr(all.size() - max) : all;
    if (temp) {
      std::error_code ec;
      std::filesystem::remove(out, ec);
    }
    return res;
  }

 private:
  int counter_ = 0;
};

}  // namespace

std::unique_ptr<ProcessRunner> make_process_runner() {
  return std::make_unique<BoostProcessRunner>();
}

}  // namespace pgaf::agent
