/*
 * runner.cpp — builds a formation in namespace hosts, runs the workload, sampler and monitor
 * recorder, injects the scenario's faults, heals, waits for convergence, reads the final data,
 * tears everything down and hands the History to the checkers. See runner.hpp for invariants.
 *
 * Threads: one per client (inside the client host), one per node sampler (inside that node's
 * host, loopback only), one monitor recorder (inside the monitor host), and the main thread which
 * drives phases and faults. Shared state lives in Recorder behind one mutex.
 *
 * This file: orchestration of one run (phases, convergence, final read, teardown) and the public
 * entry points; the formation, the threads and the fault engine are in runner_*.cpp, their
 * shared declarations in runner_internal.hpp.
 */
#include "pgaf/lab/runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "pgaf/core/state.hpp"
#include "pgaf/lab/checkers.hpp"
#include "pgaf/lab/pg.hpp"
#include "pgaf/netns/network.hpp"
#include "pgaf/netns/reaper.hpp"
#include "pgaf/netns/user.hpp"
#include "runner_internal.hpp"

namespace pgaf::lab {

std::atomic<bool> g_interrupted{false};

namespace runner_detail {

TimeMs steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

void log_line(const std::string& scenario, const std::string& msg) {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%S", std::gmtime(&t));
  std::cout << buf << " [" << scenario << "] " << msg << std::endl;
}

/* ---- processes by network namespace (/proc scan) ---- */

ino_t inode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

std::vector<pid_t> pids_in_netns(ino_t ns) {
  std::vector<pid_t> out;
  if (ns == 0) return out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    if (inode_of("/proc/" + name + "/ns/net") == ns)
      out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

std::string exe_of(pid_t pid) {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  return ec ? std::string() : p.string();
}

std::string proc_start_time(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(in, s);
  const auto rp = s.rfind(')');
  if (rp == std::string::npos) return "";
  std::istringstream rest(s.substr(rp + 2));
  std::string f;
  for (int i = 3; i <= 22 && rest >> f; ++i) {
    if (i == 22) return f;
  }
  return "";
}

pid_t postmaster_pid(const std::string& pgdata) {
  std::ifstream in(pgdata + "/postmaster.pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return -1;
  return static_cast<pid_t>(pid);
}

/* ---- mounts ---- */

std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string id, parent, dev, root, mp;
    ss >> id >> parent >> dev >> root >> mp;
    if (mp.rfind(dir + "/", 0) == 0) out.push_back(mp);
  }
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

int reap_postgres_zombies() {
  const pid_t self = ::getpid();
  int reaped = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream in("/proc/" + name + "/stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    /* pid (comm) state ppid ...: the last ')' ends comm */
    const auto open = line.find('(');
    const auto close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 4 > line.size())
      continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    long ppid = 0;
    if (!(rest >> state >> ppid) || ppid != self || state != 'Z') continue;
    if (line.substr(open + 1, close - open - 1) != "postgres") continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) ++reaped;
  }
  return reaped;
}

void unmount_all_under(const std::string& dir) {
  for (const auto& mp : mounts_under(dir)) {
    if (::umount2(mp.c_str(), 0) != 0) ::umount2(mp.c_str(), MNT_DETACH);
  }
}

bool ScenarioRun::fsm_matches_final() {
  auto f = rec_.fsm_snapshot();
  if (static_cast<int>(f.size()) != sc_.formation.nodes) return false;
  std::map<std::string, int> counts;
  for (const auto& [n, s] : f) {
    if (s.reported != s.goal) return false;
    counts[s.reported]++;
  }
  return counts == sc_.expect.final_states;
}

void ScenarioRun::await_convergence() {
  const TimeMs until = steady_ms() + sc_.phases.converge_within_ms;
  /* converged: the monitor reports the final states and a write invoked after the heal was
   * acknowledged */
  const TimeMs heal = rec_.h.phases.heal_ms;
  while (!expired() && steady_ms() < until && !(fsm_matches_final() && rec_.last_ok() >= heal)) {
    (void)reap_postgres_zombies();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  /* keep the workload running a little after convergence: the RTO of the last fault needs it */
  sleep_until(steady_ms() + sc_.phases.cooldown_ms);
}

void ScenarioRun::final_read() {
  std::string primary;
  for (const auto& [n, s] : rec_.fsm_snapshot()) {
    if (pgaf::can_take_writes_in_state(s.reported) && s.reported == s.goal) primary = n;
  }
  if (primary.empty()) {
    for (const auto& [n, s] : rec_.sample_snapshot()) {
      if (s.reachable && !s.in_recovery && !s.read_only) primary = n;
    }
  }
  if (primary.empty()) {
    rec_.h.final.read_error = "no primary at the end of the run";
    return;
  }
  const HostDirs& d = dirs(primary);
  Status s = net_.run_in(primary, [&] {
    auto c = PgConn::connect(
        "host=127.0.0.1 port=" + std::to_string(d.port) +
        " user=postgres dbname=postgres connect_timeout=5 application_name=lab-final");
    if (!c.ok()) throw std::runtime_error(c.error().message);
    auto rows = c->query("select value::text from lab_writes", 30000);
    if (!rows.ok()) throw std::runtime_error(rows.error().message);
    auto tl = c->query("select pg_walfile_name(pg_current_wal_lsn())", 5000);
    std::lock_guard<std::mutex> g(rec_.mu);
    for (const auto& r : *rows) rec_.h.final.values.insert(std::stoll(r[0].value_or("0")));
    if (tl.ok() && !tl->empty())
      rec_.h.final.timeline = timeline_of_walfile(tl->at(0)[0].value_or(""));
    rec_.h.final.primary = primary;
    rec_.h.final.read_ok = true;
  });
  if (!s.ok())
    rec_.h.final.read_error = "reading the final primary " + primary + ": " + s.error().message;
}

Status ScenarioRun::execute() {
  log_line(sc_.name, "seed " + std::to_string(sc_.seed) + " (replay: lab run --seed " +
                         std::to_string(sc_.seed) + " " + sc_.file + ")");
  std::error_code ec;
  fs::create_directories(report_dir_, ec);
  if (Status s = setup_hosts(); !s.ok()) return s;
  if (Status s = build_formation(); !s.ok()) return s;
  rec_.h.phases.formation_ready_ms = rec_.now();
  log_line(sc_.name, "formation stable, primary " + rec_.h.initial_primary + "; warm-up");
  rec_.h.phases.warmup_start_ms = rec_.now();
  start_threads();
  sleep_until(steady_ms() + sc_.phases.warmup_ms);
  if (expired()) return bound_error("warming up");
  rec_.h.phases.faults_start_ms = rec_.now();
  Status faults = fault_phase();
  const bool cut_short = expired();
  rec_.h.phases.heal_ms = rec_.now();
  log_line(sc_.name, "healing");
  heal_all();
  rec_.h.phases.converge_deadline_ms = rec_.now() + sc_.phases.converge_within_ms;
  await_convergence();
  stop_threads();
  if (cut_short) return bound_error("running the fault phase");
  if (expired()) return bound_error("waiting for convergence");
  final_read();
  if (!faults.ok()) return faults;
  return Status::Ok();
}

void ScenarioRun::teardown() {
  stop_threads();
  for (auto& af : active_) {
    if (!af.healed) {
      af.healed = true;
      if (af.net) (void)af.net->heal();
      for (pid_t p : af.stopped) ::kill(p, SIGCONT);
    }
  }
  if (net_.valid()) {
    Status s = net_.destroy();
    if (!s.ok()) log_line(sc_.name, "teardown: " + s.error().message);
  }
  for (auto& [name, c] : services_) (void)c.wait_for(std::chrono::milliseconds(2000));
  services_.clear();
  /* lab run returns only once everything it started is gone: the processes killed above that
   * daemonized (postmasters) are our orphans now — reap them, so none is left even as a zombie */
  auto orphans = netns::reap_orphans(std::chrono::milliseconds(3000));
  if (!orphans.ok()) log_line(sc_.name, "teardown: " + orphans.error().message);
}

void ScenarioRun::collect_logs(bool keep) {
  std::error_code ec;
  if (!keep) {
    fs::remove_all(logs_dir_, ec);
    return;
  }
  for (const auto& [name, d] : hosts_) {
    for (const auto& src : {d.pgdata + "/log", d.pgdata + "/startup.log", d.pgdata + "/pg_log"}) {
      if (!fs::exists(src, ec)) continue;
      const fs::path dst = fs::path(logs_dir_) / (name + "-" + fs::path(src).filename().string());
      fs::copy(src, dst, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
    }
  }
}

void ScenarioRun::cleanup_dirs() {
  if (run_root_.empty()) return;
  unmount_all_under(run_root_);
  std::error_code ec;
  if (mounts_under(run_root_).empty()) fs::remove_all(run_root_, ec);
}

}  // namespace runner_detail

using namespace runner_detail;

namespace {

void on_signal(int) {
  g_interrupted.store(true);
}

}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

Result<std::string> reap_crashed_runs() {
  std::string summary;
  auto r = netns::reap(kNetnsFamily);
  if (!r.ok()) return r.error();
  if (!r->empty()) summary += r->to_string();
  std::error_code ec;
  if (!fs::exists(kLabRunRoot, ec)) return summary;
  for (const auto& e : fs::directory_iterator(kLabRunRoot, ec)) {
    const std::string dir = e.path().string();
    std::ifstream owner(dir + "/owner");
    long pid = 0;
    std::string start;
    owner >> pid >> start;
    const bool alive =
        pid > 0 && proc_start_time(static_cast<pid_t>(pid)) == start && !start.empty();
    if (alive) continue;
    if (pid <= 0 || start.empty()) {
      /* no readable owner: a directory being made right now, or one left by a lab that
       * predates owner files. Only the latter (old) is ours to remove. */
      std::error_code tec;
      const auto age = fs::file_time_type::clock::now() - fs::last_write_time(dir, tec);
      if (tec || age < std::chrono::minutes(10)) continue;
    }
    unmount_all_under(dir);
    if (mounts_under(dir).empty()) fs::remove_all(dir, ec);
    summary += "removed leftover lab directory " + dir + "\n";
  }
  return summary;
}

std::string missing_capability(const Scenario& sc, const netns::Capabilities& caps) {
  for (const auto& f : sc.faults) {
    std::optional<netns::FaultKind> k;
    switch (f.action) {
      case FaultAction::Loss:
        k = netns::FaultKind::PacketLoss;
        break;
      case FaultAction::Latency:
        k = netns::FaultKind::Latency;
        break;
      case FaultAction::Bandwidth:
        k = netns::FaultKind::Bandwidth;
        break;
      case FaultAction::IfDown:
        k = netns::FaultKind::LinkDown;
        break;
      case FaultAction::Partition:
      case FaultAction::OneWay:
        k = netns::FaultKind::Partition;
        break;
      default:
        break;
    }
    if (!k) continue;
    Status s = caps.check(*k);
    if (!s.ok())
      return "fault " + f.name + " needs " + netns::to_string(*k) + ": " + s.error().message;
  }
  return "";
}

ScenarioReport run_scenario(const Scenario& sc, const RunOptions& opt,
                            const netns::Capabilities& caps, int index, TimeMs global_deadline_ms) {
  const std::string dir = opt.report_dir + "/" + opt.run_id + "/" + sc.name;
  const std::string missing = missing_capability(sc, caps);
  if (!missing.empty()) {
    ScenarioReport rep;
    rep.name = sc.name;
    rep.file = sc.file;
    rep.description = sc.description;
    rep.seed = sc.seed;
    rep.outcome = ScenarioOutcome::Skipped;
    rep.message = "this kernel cannot emulate it: " + missing;
    rep.history.scenario = sc.name;
    rep.history.seed = sc.seed;
    return rep;
  }
  const TimeMs deadline = std::min(global_deadline_ms, steady_ms() + sc.timeout_ms);
  ScenarioRun run(sc, opt, index, deadline, dir);
  return run.run();
}

int run_all(const std::vector<Scenario>& scenarios, RunOptions opt,
            std::vector<ScenarioReport>* reports_out) {
  if (opt.run_id.empty()) {
    std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", std::gmtime(&t));
    opt.run_id = buf;
  }
  auto reaped = reap_crashed_runs();
  if (!reaped.ok()) {
    std::cerr << "lab: could not reap earlier runs: " << reaped.error().to_string() << std::endl;
    return 2;
  }
  if (!reaped->empty()) std::cout << "lab: reaped leftovers of crashed runs:\n" << *reaped;
  /* pg_ctl's postmasters are re-parented to us, so teardown can wait until they are gone */
  if (Status sr = netns::become_subreaper(); !sr.ok())
    std::cerr << "lab: " << sr.error().to_string() << std::endl;
  auto caps = netns::probe_capabilities();
  if (!caps.ok()) {
    std::cerr << "lab: could not probe kernel capabilities: " << caps.error().to_string()
              << std::endl;
    return 2;
  }
  const TimeMs global_deadline = steady_ms() + opt.global_timeout_ms;
  std::vector<ScenarioReport> reports;
  int index = 0;
  for (const auto& s0 : scenarios) {
    Scenario sc = s0;
    if (opt.seed_override) sc.seed = *opt.seed_override;
    if (g_interrupted.load()) {
      ScenarioReport rep;
      rep.name = sc.name;
      rep.file = sc.file;
      rep.seed = sc.seed;
      rep.outcome = ScenarioOutcome::Error;
      rep.message = "not run: interrupted";
      reports.push_back(rep);
      continue;
    }
    if (steady_ms() >= global_deadline) {
      ScenarioReport rep;
      rep.name = sc.name;
      rep.file = sc.file;
      rep.seed = sc.seed;
      rep.outcome = ScenarioOutcome::Error;
      rep.message = "not run: the global timeout expired";
      reports.push_back(rep);
      continue;
    }
    ScenarioReport rep = run_scenario(sc, opt, *caps, index++, global_deadline);
    const std::string dir = opt.report_dir + "/" + opt.run_id + "/" + sc.name;
    Status w = write_scenario_report(dir, rep);
    if (!w.ok()) std::cerr << "lab: " << w.error().to_string() << std::endl;
    log_line(sc.name, to_string(rep.outcome) + (rep.message.empty() ? "" : ": " + rep.message) +
                          " — " + dir + "/report.html");
    reports.push_back(std::move(rep));
  }
  const std::string run_dir = opt.report_dir + "/" + opt.run_id;
  Status w = write_run_index(run_dir, reports);
  if (!w.ok()) std::cerr << "lab: " << w.error().to_string() << std::endl;
  std::cout << "\n"
            << summary_table(reports)
            << "\nHTML report: " << fs::absolute(run_dir + "/index.html").string() << "\n";
  for (const auto& r : reports) {
    std::cout << "  " << r.name << ": "
              << fs::absolute(run_dir + "/" + r.name + "/report.html").string() << "\n";
  }
  std::cout << "JUnit: " << fs::absolute(run_dir + "/junit.xml").string() << std::endl;
  int status = 0;
  for (const auto& r : reports) {
    if (r.outcome == ScenarioOutcome::Failed || r.outcome == ScenarioOutcome::Error) status = 1;
  }
  if (g_interrupted.load()) status = 130;
  if (reports_out) *reports_out = std::move(reports);
  return status;
}

}  // namespace pgaf::lab
