/*
 * campaign_cmd.cpp — `lab campaign` (generate, run each seed as a child `lab run`, shrink
 * violations, report) and `lab merge`. See campaign_cmd.hpp for the layout and invariants.
 */
#include "pgaf/lab/campaign_cmd.hpp"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/process.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "pgaf/lab/campaign_report.hpp"
#include "pgaf/lab/report.hpp"
#include "pgaf/lab/runner.hpp"
#include "pgaf/lab/shrink.hpp"

namespace pgaf::lab {
namespace {

namespace fs = std::filesystem;
namespace bp = boost::process;
using Clock = std::chrono::steady_clock;

/* A child beyond its scenario's own timeout plus this is stuck: SIGTERM, then SIGKILL. */
constexpr TimeMs kChildMarginMs = 120000;
constexpr TimeMs kChildTermGraceMs = 30000;

std::mutex g_out_mu;

void say(const std::string& line) {
  std::lock_guard<std::mutex> g(g_out_mu);
  std::cout << line << std::endl;
}

struct ChildRun {
  int exit_code = -1;
  bool timed_out = false;
};

/* Run `lab run` on one scenario file in its own process; bounded. */
ChildRun run_child(const CampaignOptions& o, const std::string& binary, const std::string& file,
                   const std::string& run_id, const std::string& log, TimeMs bound_ms) {
  ChildRun r;
  std::error_code ec;
  fs::create_directories(fs::path(log).parent_path(), ec);
  try {
    bp::child ch(o.lab_exe,
                 bp::args({"run", "--pg-autoctl", binary, "--report-dir", o.out_dir + "/runs",
                           "--run-id", run_id, file}),
                 (bp::std_out & bp::std_err) > log, bp::std_in < bp::null);
    const auto until = Clock::now() + std::chrono::milliseconds(bound_ms);
    bool forwarded = false;
    while (ch.running()) {
      if (g_interrupted.load() && !forwarded) {
        ::kill(ch.id(), SIGTERM); /* the child tears down and exits 130 */
        forwarded = true;
      }
      if (Clock::now() > until) {
        r.timed_out = true;
        ::kill(ch.id(), SIGTERM);
        const auto grace = Clock::now() + std::chrono::milliseconds(kChildTermGraceMs);
        while (ch.running() && Clock::now() < grace)
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (ch.running()) ch.terminate();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ch.wait();
    r.exit_code = ch.exit_code();
  } catch (const std::exception& e) {
    std::ofstream(log, std::ios::app)
        << "lab campaign: could not start lab run: " << e.what() << "\n";
  }
  return r;
}

/* Write the schedule's scenario file; its parse must succeed (a generator bug otherwise). */
Result<std::string> write_schedule(const Schedule& s, const std::string& dir, TimeMs* timeout) {
  const std::string file = dir + "/" + s.name + ".yaml";
  auto sc = schedule_scenario(s, file);
  if (!sc.ok()) return sc.error();
  *timeout = sc->timeout_ms;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (Status st = write_atomically(file, render_schedule_yaml(s)); !st.ok()) return st.error();
  return file;
}

/* Run one schedule with one binary and read its verdict. */
SeedResult run_schedule(const CampaignOptions& o, const Schedule& s, const std::string& file,
                        TimeMs timeout, const std::string& binary, const std::string& run_id,
                        const std::string& log) {
  SeedResult r;
  r.seed = s.seed;
  r.binary = binary;
  const ChildRun cr = run_child(o, binary, file, run_id, log, timeout + kChildMarginMs);
  const fs::path res = fs::path(o.out_dir) / "runs" / run_id / s.name / "result.json";
  std::ifstream in(res);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  auto parsed = j.is_discarded() ? Result<SeedResult>(make_error(ErrorCode::Internal, "no result"))
                                 : seed_result_from_scenario(j);
  if (parsed.ok()) {
    r.outcome = parsed->outcome;
    r.message = parsed->message;
    r.failed_checkers = parsed->failed_checkers;
    r.duration_ms = parsed->duration_ms;
    r.acked = parsed->acked;
    r.lost_writes = parsed->lost_writes;
    r.faults = parsed->faults;
    r.report = fs::relative(res.parent_path() / "report.html", o.out_dir).string();
  } else {
    r.outcome = "ERROR";
    r.message = std::string(cr.timed_out ? "lab run did not finish in time"
                                         : "lab run exited " + std::to_string(cr.exit_code)) +
                " without a result; see " + log;
  }
  r.scenario = fs::relative(file, o.out_dir).string();
  return r;
}

class Campaigner {
 public:
  Campaigner(const Campaign& c, const CampaignOptions& o) : c_(c), o_(o) {}

  int run() {
    const auto started = Clock::now();
    next_ = o_.seeds.first + (o_.shard.index - 1);
    std::vector<std::thread> workers;
    for (int i = 0; i < std::max(1, o_.jobs); ++i) workers.emplace_back([this] { work(); });
    for (auto& t : workers) t.join();
    const double hours = std::chrono::duration<double>(Clock::now() - started).count() / 3600.0;
    auto all = read_seed_results(o_.out_dir);
    if (!all.ok()) {
      std::cerr << "lab: " << all.error().to_string() << std::endl;
      return 2;
    }
    CampaignSummary s = summarize(c_.name, *all);
    s.jobs = o_.jobs;
    s.schedules_per_hour = ran_ > 0 && hours > 0 ? ran_ / hours : 0;
    if (Status st = write_campaign_report(o_.out_dir, s, *all); !st.ok())
      std::cerr << "lab: " << st.error().to_string() << std::endl;
    char rate[96];
    std::snprintf(rate, sizeof rate, "%d schedule(s) run in %.1f min at -j %d: %.1f schedules/hour",
                  ran_.load(), hours * 60.0, o_.jobs, s.schedules_per_hour);
    std::cout << "\ncampaign " << c_.name << ": " << s.seeds << " seed(s) — " << s.passed
              << " passed, " << s.violations << " violation(s), " << s.errors << " error(s), "
              << s.skipped << " skipped (" << skipped_done_ << " already done, skipped)\n"
              << "throughput: " << rate << "\n"
              << "report: " << fs::absolute(o_.out_dir + "/index.html").string() << "\n"
              << "JUnit: " << fs::absolute(o_.out_dir + "/junit.xml").string() << std::endl;
    for (const auto& r : *all)
      if (r.reproducer)
        std::cout << "reproducer of seed " << r.seed << ": " << r.reproducer->replay << std::endl;
    if (g_interrupted.load()) return 130;
    return s.violations > 0 || s.errors > 0 ? 1 : 0;
  }

 private:
  bool out_of_budget() const {
    return g_interrupted.load() ||
           (o_.budget_ms && Clock::now() - start_ > std::chrono::milliseconds(*o_.budget_ms));
  }

  std::optional<std::uint64_t> take() {
    std::lock_guard<std::mutex> g(mu_);
    if (out_of_budget()) return std::nullopt;
    if (o_.seeds.last && next_ > *o_.seeds.last) return std::nullopt;
    const std::uint64_t s = next_;
    next_ += o_.shard.count;
    return s;
  }

  bool done(std::uint64_t seed, const std::string& variant) const {
    std::error_code ec;
    return fs::exists(fs::path(o_.out_dir) / "results" / result_file_name(seed, variant), ec);
  }

  void work() {
    while (auto seed = take()) {
      const bool main_done = done(*seed, "main");
      const bool cmp_done = o_.compare.empty() || done(*seed, "compare");
      if (main_done && cmp_done) {
        ++skipped_done_;
        continue;
      }
      const Schedule s = generate_schedule(c_, *seed);
      TimeMs timeout = 0;
      auto file = write_schedule(s, o_.out_dir + "/scenarios", &timeout);
      if (!file.ok()) {
        SeedResult r;
        r.seed = *seed;
        r.outcome = "ERROR";
        r.message = file.error().message;
        (void)write_seed_result(o_.out_dir, r);
        say("seed " + std::to_string(*seed) + ": ERROR: " + r.message);
        continue;
      }
      say("seed " + std::to_string(*seed) + ": " + std::to_string(s.nodes) + " nodes, " +
          std::to_string(s.faults.size()) + " fault(s) — " + *file);
      if (!main_done) one(s, *file, timeout, "main", o_.pg_autoctl);
      if (!cmp_done && !g_interrupted.load()) one(s, *file, timeout, "compare", o_.compare);
    }
  }

  void one(const Schedule& s, const std::string& file, TimeMs timeout, const std::string& variant,
           const std::string& binary) {
    const std::string id =
        "seed-" + std::to_string(s.seed) + (variant == "main" ? "" : "." + variant);
    SeedResult r =
        run_schedule(o_, s, file, timeout, binary, id, o_.out_dir + "/logs/" + id + ".log");
    r.variant = variant;
    if (g_interrupted.load()) return; /* not recorded: a rerun runs it again */
    ++ran_;
    std::string line = "seed " + std::to_string(s.seed) + (variant == "main" ? "" : " (compare)") +
                       ": " + r.outcome;
    for (const auto& c : r.failed_checkers) line += " " + c;
    say(line + " — " + o_.out_dir + "/" + r.report);
    if (r.violation() && variant == "main" && o_.shrink && c_.shrink_max_runs > 0)
      r.reproducer = shrink(s, r);
    if (g_interrupted.load()) return; /* a shrink cut short: the rerun does it again */
    if (Status st = write_seed_result(o_.out_dir, r); !st.ok())
      say("lab: " + st.error().to_string());
  }

  Reproducer shrink(const Schedule& s, const SeedResult& failed) {
    const std::string checker = failed.failed_checkers.empty() ? "" : failed.failed_checkers[0];
    say("seed " + std::to_string(s.seed) + ": shrinking (" + checker + " failed; budget " +
        std::to_string(c_.shrink_max_runs) + " runs)");
    int k = 0;
    auto still_fails = [&](const Schedule& cand) {
      if (g_interrupted.load()) return false;
      Schedule c = cand;
      c.name = s.name + "-t" + std::to_string(++k);
      c.note = "shrink candidate " + std::to_string(k) + " of seed " + std::to_string(s.seed);
      const std::string dir = o_.out_dir + "/shrink/seed-" + std::to_string(s.seed);
      TimeMs timeout = 0;
      auto file = write_schedule(c, dir, &timeout);
      if (!file.ok()) return false;
      const std::string id = "shrink-" + std::to_string(s.seed) + "-" + std::to_string(k);
      SeedResult r =
          run_schedule(o_, c, *file, timeout, o_.pg_autoctl, id, dir + "/" + c.name + ".log");
      const bool fails =
          r.violation() && std::find(r.failed_checkers.begin(), r.failed_checkers.end(), checker) !=
                               r.failed_checkers.end();
      say("seed " + std::to_string(s.seed) + ": candidate " + std::to_string(k) + " (" +
          std::to_string(c.faults.size()) + " fault(s), " + std::to_string(c.nodes) +
          " nodes): " + (fails ? "still fails " + checker : r.outcome));
      return fails;
    };
    ShrinkResult sr = shrink_schedule(s, still_fails, c_.shrink_max_runs);
    Schedule m = sr.minimal;
    m.name = s.name + "-min";
    m.note = "shrunk from seed " + std::to_string(s.seed) + " in " + std::to_string(sr.runs) +
             " run(s); fails " + checker;
    TimeMs timeout = 0;
    auto file = write_schedule(m, o_.out_dir + "/scenarios", &timeout);
    Reproducer p;
    p.faults = static_cast<int>(m.faults.size());
    p.original_faults = static_cast<int>(s.faults.size());
    p.runs = sr.runs;
    p.steps = sr.steps;
    /* the minimal schedule is the original or a candidate that failed the same checker */
    p.reproduced = true;
    if (file.ok()) {
      p.file = fs::relative(*file, o_.out_dir).string();
      p.replay = "lab run " + fs::absolute(*file).string();
    }
    say("seed " + std::to_string(s.seed) + ": minimal reproducer " + std::to_string(p.faults) +
        " of " + std::to_string(p.original_faults) + " fault(s): " + p.replay);
    return p;
  }

  const Campaign& c_;
  const CampaignOptions& o_;
  std::mutex mu_;
  std::uint64_t next_ = 1;
  const Clock::time_point start_ = Clock::now();
  std::atomic<int> ran_{0};
  std::atomic<int> skipped_done_{0};
};

}  // namespace

int run_campaign(const Campaign& c, const CampaignOptions& o) {
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) {
    std::cerr << "lab: could not create \"" << o.out_dir << "\": " << ec.message() << std::endl;
    return 2;
  }
  std::cout << "campaign " << c.name << " (" << c.file << "): seeds " << o.seeds.first << ".."
            << (o.seeds.last ? std::to_string(*o.seeds.last) : std::string("∞")) << ", shard "
            << o.shard.index << "/" << o.shard.count << ", -j " << o.jobs
            << (o.budget_ms ? ", for " + duration_text(*o.budget_ms) : "") << " → " << o.out_dir
            << "\n  replay a seed: lab run " << o.out_dir << "/scenarios/" << c.name
            << "-<seed>.yaml" << std::endl;
  Campaigner run(c, o);
  return run.run();
}

int merge_campaigns(const std::vector<std::string>& dirs, const std::string& out_dir) {
  auto all = merge_seed_results(dirs);
  if (!all.ok()) {
    std::cerr << "lab: " << all.error().to_string() << std::endl;
    return 1;
  }
  std::string name = "merged";
  for (const auto& d : dirs) {
    std::ifstream in(fs::path(d) / "campaign.json");
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_discarded() && j.contains("campaign")) name = j["campaign"].get<std::string>();
  }
  CampaignSummary s = summarize(name, *all);
  if (Status st = write_campaign_report(out_dir, s, *all); !st.ok()) {
    std::cerr << "lab: " << st.error().to_string() << std::endl;
    return 2;
  }
  std::cout << "merged " << dirs.size() << " director(ies): " << s.seeds << " seed(s) — "
            << s.passed << " passed, " << s.violations << " violation(s), " << s.errors
            << " error(s)\nreport: " << fs::absolute(out_dir + "/index.html").string() << std::endl;
  return s.violations > 0 || s.errors > 0 ? 1 : 0;
}

}  // namespace pgaf::lab
