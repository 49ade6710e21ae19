/*
 * bench_cmd.cpp — the driver of `lab bench`: runs each benchmark scenario N times (interleaved, a
 * fresh formation each time, seed + run index), optionally under a CPU load of busy threads, and
 * prints the client-observed table (bench.hpp); with --markdown it also rewrites that table's
 * section of a markdown file (docs/benchmarks.md).
 *
 * Invariants: the load threads stop before it returns (also on SIGINT, through the runner's
 * flag); every run's report stays under --report-dir; the table names the load and what the
 * machine's load average was, since a figure without them cannot be compared.
 */
#include "pgaf/lab/bench_cmd.hpp"

#include <unistd.h>

#include <atomic>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "pgaf/lab/bench.hpp"

namespace pgaf::lab {

namespace {

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

/* N threads that spin until stopped: the "--load N busy processes" of the issue, in-process. */
class CpuLoad {
 public:
  explicit CpuLoad(int n) {
    for (int i = 0; i < n; ++i)
      threads_.emplace_back([this] {
        volatile std::uint64_t x = 0;
        while (!stop_.load(std::memory_order_relaxed)) x = x * 6364136223846793005ULL + 1;
      });
  }
  ~CpuLoad() {
    stop_.store(true);
    for (auto& t : threads_) t.join();
  }
  CpuLoad(const CpuLoad&) = delete;
  CpuLoad& operator=(const CpuLoad&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace

int run_bench(const std::vector<Scenario>& cases, const BenchOptions& b, RunOptions opt) {
  if (opt.run_id.empty()) { /* named here, so that the table can say where the reports are */
    std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "bench-%Y%m%dT%H%M%SZ", std::gmtime(&t));
    opt.run_id = buf;
  }
  std::vector<Scenario> runs;
  for (int k = 1; k <= b.runs; ++k) {
    for (const auto& c : cases) {
      Scenario s = c;
      s.name = c.name + "-run" + std::to_string(k);
      s.seed = c.seed + static_cast<std::uint64_t>(k - 1);
      runs.push_back(std::move(s));
    }
  }
  const std::string before = loadavg();
  std::vector<ScenarioReport> reports;
  int status = 0;
  {
    CpuLoad load(b.load_threads);
    std::cout << "lab bench: " << cases.size() << " case(s) x " << b.runs << " run(s), load "
              << b.load_threads << " busy thread(s), " << std::thread::hardware_concurrency()
              << " CPU(s), load average " << before << std::endl;
    status = run_all(runs, opt, &reports);
  }
  const std::string after = loadavg();
  std::map<std::string, BenchCase> by_case;
  for (const auto& c : cases) by_case[c.name] = BenchCase{c.name, c.description, {}};
  for (const auto& r : reports) {
    const auto cut = r.name.rfind("-run");
    auto it = by_case.find(r.name.substr(0, cut));
    if (it != by_case.end()) it->second.runs.push_back(bench_run_of(r));
  }
  std::vector<BenchCase> ordered;
  for (const auto& c : cases) ordered.push_back(by_case[c.name]);
  char host[256] = "?";
  (void)::gethostname(host, sizeof host - 1);
  const std::string note = "`lab bench " + b.command_files + " --runs " + std::to_string(b.runs) +
                           " --load " + std::to_string(b.load_threads) + "` — " +
                           std::to_string(std::thread::hardware_concurrency()) + " CPU(s), " +
                           std::to_string(b.load_threads) +
                           " busy thread(s) added; load average before " + before + ", after " +
                           after + "; pg_autoctl " + opt.pg_autoctl + "; reports " +
                           opt.report_dir + "/" + opt.run_id + "/";
  const std::string table = bench_table_markdown(ordered, note);
  std::cout << "\n" << table << std::flush;
  if (!b.markdown_file.empty()) {
    Status s = update_markdown_section(b.markdown_file, b.label, table);
    if (!s.ok()) {
      std::cerr << "lab: " << s.error().to_string() << std::endl;
      return status == 0 ? 1 : status;
    }
    std::cout << "updated section \"" << b.label << "\" of " << b.markdown_file << std::endl;
  }
  /* the bench reports figures; it fails only when a run could not run or lost a write */
  for (const auto& c : ordered)
    for (const auto& r : c.runs)
      if (!r.ran || r.lost > 0) return status == 0 ? 1 : status;
  return status == 130 ? 130 : 0;
}

}  // namespace pgaf::lab
