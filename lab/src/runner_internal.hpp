/*
 * runner_internal.hpp — what the runner's translation units share (runner.cpp: orchestration and
 * teardown; runner_formation.cpp: hosts and the formation; runner_threads.cpp: workload, sampler
 * and monitor recorder; runner_faults.cpp: the fault engine). Not a public header: only lab/src
 * includes it. ScenarioRun is one scenario's run; its invariants are those of runner.hpp.
 */
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
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
#include "pgaf/lab/runner.hpp"
#include "pgaf/netns/network.hpp"
#include "pgaf/netns/reaper.hpp"
#include "pgaf/netns/user.hpp"

namespace pgaf::lab::runner_detail {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

inline constexpr const char* kLabRunRoot = "/run/pgaf-lab";
inline constexpr const char* kNetnsFamily = "pgaf-lab-";
inline constexpr int kBasePort = 5400;
inline constexpr TimeMs kSampleIntervalMs = 100;
/* bound on one `GET /primary` of a node's agent (formation.http_endpoint) */
inline constexpr TimeMs kHttpProbeTimeoutMs = 80;

TimeMs steady_ms();
void log_line(const std::string& scenario, const std::string& msg);

/* processes by network namespace (/proc scan) */
ino_t inode_of(const std::string& path);
std::vector<pid_t> pids_in_netns(ino_t ns);
std::string exe_of(pid_t pid);
std::string proc_start_time(pid_t pid);
pid_t postmaster_pid(const std::string& pgdata);

/* mounts */
std::vector<std::string> mounts_under(const std::string& dir);
void unmount_all_under(const std::string& dir);

/* Reap our zombie children named "postgres". A killed postmaster (and its backends) was
 * re-parented to the lab (the subreaper) when pg_ctl exited, so it stays a zombie until reaped:
 * its pid still exists, and a restarted agent that reads postmaster.pid believes Postgres is
 * still running and waits for it to stop, forever — something a real crash or reboot never
 * does. Only postgres processes are reaped (never a ChildProcess the lab waits for: those run
 * pg_autoctl). Returns how many were reaped. */
int reap_postgres_zombies();

/* ---- shared recorder ---- */

struct Recorder {
  std::mutex mu;
  History h;
  TimeMs t0 = steady_ms();
  std::map<std::string, FsmSample> fsm_now; /* latest monitor view per node */
  std::map<std::string, Sample> sample_now; /* latest sampler view per node */
  bool monitor_ok = false;
  TimeMs last_ok_invoke = -1; /* invoke time of the latest acknowledged write */

  TimeMs now() const { return steady_ms() - t0; }
  void op(const Op& o) {
    std::lock_guard<std::mutex> g(mu);
    h.ops.push_back(o);
    if (o.outcome == OpOutcome::Ok) last_ok_invoke = std::max(last_ok_invoke, o.invoke_ms);
  }
  TimeMs last_ok() {
    std::lock_guard<std::mutex> g(mu);
    return last_ok_invoke;
  }
  void sample(const Sample& s) {
    std::lock_guard<std::mutex> g(mu);
    h.samples.push_back(s);
    sample_now[s.node] = s;
  }
  void fsm(const std::vector<FsmSample>& v) {
    std::lock_guard<std::mutex> g(mu);
    for (const auto& s : v) {
      h.fsm.push_back(s);
      fsm_now[s.node] = s;
    }
    monitor_ok = true;
  }
  void event(const MonitorEvent& e) {
    std::lock_guard<std::mutex> g(mu);
    h.events.push_back(e);
  }
  void note(const std::string& n) {
    std::lock_guard<std::mutex> g(mu);
    h.notes.push_back(n);
  }
  std::map<std::string, FsmSample> fsm_snapshot() {
    std::lock_guard<std::mutex> g(mu);
    return fsm_now;
  }
  std::map<std::string, Sample> sample_snapshot() {
    std::lock_guard<std::mutex> g(mu);
    return sample_now;
  }
};

struct HostDirs {
  std::string name;
  std::string address;
  int port = 0;
  std::string dir;    /* /run/pgaf-lab/<prefix>/<host> */
  std::string mount;  /* dir/disk: the tmpfs */
  std::string pgdata; /* mount/pgdata */
  std::string home;   /* dir/home: XDG config/data/runtime of pg_autoctl */
};

struct ActiveFault {
  size_t record = 0;   /* index into history faults */
  TimeMs heal_at = -1; /* -1: at the heal phase */
  std::optional<netns::Fault> net;
  std::vector<pid_t> stopped; /* SIGSTOPped pids to SIGCONT */
  std::string filler;         /* disk-full filler file to remove */
  std::string pgdata_mode;    /* kill with prevent_restart: PGDATA to give back mode 0700 */
  bool healed = false;
};

struct PendingRestart {
  TimeMs at = -1; /* -1: at the heal phase */
  std::string host;
  bool done = false;
};

class ScenarioRun {
 public:
  ScenarioRun(const Scenario& sc, const RunOptions& opt, int index, TimeMs deadline_abs,
              std::string report_dir)
      : sc_(sc),
        opt_(opt),
        index_(index),
        deadline_abs_(deadline_abs),
        report_dir_(std::move(report_dir)),
        rng_(sc.seed) {}

  ScenarioReport run() {
    ScenarioReport rep;
    rep.name = sc_.name;
    rep.file = sc_.file;
    rep.description = sc_.description;
    rep.seed = sc_.seed;
    const TimeMs started = steady_ms();
    rec_.h.scenario = sc_.name;
    rec_.h.seed = sc_.seed;
    for (int i = 1; i <= sc_.formation.nodes; ++i)
      rec_.h.nodes.push_back("node" + std::to_string(i));
    Status st;
    try {
      st = execute();
    } catch (const std::exception& e) {
      st = make_error(ErrorCode::Internal, std::string("lab runner exception: ") + e.what());
    }
    teardown();
    rec_.h.phases.end_ms = rec_.now();
    rep.history = rec_.h;
    rep.duration_ms = steady_ms() - started;
    if (!st.ok()) {
      rep.outcome = ScenarioOutcome::Error;
      rep.message =
          st.error().message + (st.error().detail.empty() ? "" : " (" + st.error().detail + ")");
      if (!st.error().hint.empty()) rep.message += "; hint: " + st.error().hint;
      rep.checks = check_history(rep.history, check_config_for(sc_));
    } else {
      rep.checks = check_history(rep.history, check_config_for(sc_));
      rep.outcome = rep.checks.passed() ? ScenarioOutcome::Passed : ScenarioOutcome::Failed;
    }
    collect_logs(rep.outcome != ScenarioOutcome::Passed || opt_.keep_logs_on_pass);
    cleanup_dirs();
    return rep;
  }

 private:
  /* ---------------- time and bounds ---------------- */
  bool expired() const { return g_interrupted.load() || steady_ms() >= deadline_abs_; }
  Status bound_error(const std::string& what) const {
    if (g_interrupted.load()) return make_error(ErrorCode::Timeout, "interrupted while " + what);
    return make_error(ErrorCode::Timeout, "timed out while " + what,
                      "raise the scenario's timeout or stable_timeout");
  }
  /* Sleep until steady time `until` or expiry, in small slices. */
  void sleep_until(TimeMs until_abs) {
    while (!expired() && steady_ms() < until_abs) {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min<TimeMs>(20, until_abs - steady_ms())));
    }
  }
  Status wait_for(const std::function<bool()>& pred, TimeMs bound_ms, const std::string& what) {
    const TimeMs until = steady_ms() + bound_ms;
    while (true) {
      if (pred()) return Status::Ok();
      if (expired() || steady_ms() >= until) return bound_error(what);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  /* ---------------- processes ---------------- */
  std::vector<std::string> base_env(const HostDirs& h) const {
    std::vector<std::string> env = {
        "PATH=" + opt_.pg_bindir + ":/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8",
        "HOME=" + h.home, "XDG_CONFIG_HOME=" + h.home + "/config",
        "XDG_DATA_HOME=" + h.home + "/share", "XDG_RUNTIME_DIR=" + h.home + "/run",
        "PGDATA=" + h.pgdata,
        /* Postgres' unix socket in a per-host directory: ports repeat across runs */
        "PG_REGRESS_SOCK_DIR=" + h.dir + "/sock", "PGCONNECT_TIMEOUT=2"};
    for (const auto& [k, v] : sc_.formation.agent_env) env.push_back(k + "=" + v);
    return env;
  }

  Result<netns::ChildProcess> spawn(const HostDirs& h, std::vector<std::string> argv,
                                    const std::string& log_name) {
    netns::SpawnOptions o;
    o.argv = std::move(argv);
    o.env = base_env(h);
    o.inherit_env = false;
    o.user = opt_.user;
    o.log_file = logs_dir_ + "/" + log_name + ".log";
    o.cwd = h.home;
    return net_.spawn(h.name, o);
  }

  /* Run a command to completion within bound_ms; error unless it exits 0. */
  Status run_cmd(const HostDirs& h, std::vector<std::string> argv, const std::string& log_name,
                 TimeMs bound_ms) {
    std::string shown;
    for (const auto& a : argv) shown += (shown.empty() ? "" : " ") + a;
    auto child = spawn(h, argv, log_name);
    if (!child.ok()) return child.error();
    const TimeMs until = steady_ms() + bound_ms;
    while (true) {
      auto w = child->wait_for(std::chrono::milliseconds(100));
      if (w.ok()) {
        const int status = *w;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
        return make_error(
            ErrorCode::Keeper,
            "\"" + shown + "\" on " + h.name + " failed with " +
                (WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                   : "signal " + std::to_string(WTERMSIG(status))),
            "see " + logs_dir_ + "/" + log_name + ".log");
      }
      if (expired() || steady_ms() >= until) {
        (void)child->kill();
        return make_error(ErrorCode::Timeout,
                          "\"" + shown + "\" on " + h.name + " did not finish in time",
                          "see " + logs_dir_ + "/" + log_name + ".log");
      }
    }
  }

  Status start_service(const HostDirs& h) {
    auto child = spawn(h, {agent_bin_, "run", "--pgdata", h.pgdata}, h.name + "-run");
    if (!child.ok()) return child.error();
    services_[h.name] = std::move(child).value();
    return Status::Ok();
  }

  std::vector<pid_t> host_pids(const std::string& host) {
    auto h = net_.host(host);
    if (!h.ok()) return {};
    return pids_in_netns(inode_of(h->netns_path()));
  }

  std::vector<pid_t> host_pids_matching(const std::string& host,
                                        const std::function<bool(const std::string&)>& exe_pred) {
    std::vector<pid_t> out;
    for (pid_t p : host_pids(host)) {
      if (exe_pred(exe_of(p))) out.push_back(p);
    }
    return out;
  }

  bool is_agent_exe(const std::string& exe) const {
    return !exe.empty() && fs::path(exe).filename() == fs::path(agent_bin_).filename();
  }

  void kill_host(const std::string& host) {
    for (int round = 0; round < 50; ++round) {
      auto pids = host_pids(host);
      if (pids.empty()) break;
      for (pid_t p : pids) ::kill(p, SIGKILL);
      for (auto& [name, c] : services_) {
        if (name == host) (void)c.running();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    (void)reap_postgres_zombies();
    auto it = services_.find(host);
    if (it != services_.end()) {
      (void)it->second.wait_for(std::chrono::milliseconds(1000));
      services_.erase(it);
    }
  }

  /* ---------------- the scenario ---------------- */
  Status execute();
  Status setup_hosts();
  Status build_formation();
  void start_threads();
  void stop_threads();
  void client_loop(int client);
  void sampler_loop(const HostDirs& h);
  int http_primary_status();
  void monitor_loop();
  Status fault_phase();
  void heal_all();
  void await_convergence();
  void final_read();
  void teardown();
  void collect_logs(bool keep);
  void cleanup_dirs();

  std::string resolve_target(const Target& t);
  std::vector<std::string> other_hosts(const std::string& host, bool include_clients);
  Status fire(size_t fi);
  void heal(ActiveFault& af);
  bool when_matches(const Trigger::When& w);
  bool fsm_matches_final();
  void end_process_faults(const std::string& host);

  const HostDirs& dirs(const std::string& host) const { return hosts_.at(host); }

  const Scenario& sc_;
  const RunOptions& opt_;
  int index_;
  TimeMs deadline_abs_;
  std::string report_dir_;
  std::string logs_dir_;
  std::mt19937_64 rng_;
  Recorder rec_;
  netns::Network net_;
  std::string prefix_;
  std::string run_root_;
  std::string agent_bin_; /* the copy of pg_autoctl the postgres user runs */
  std::map<std::string, HostDirs> hosts_;
  std::map<std::string, netns::ChildProcess> services_;
  std::string monitor_uri_;
  std::string formation_uri_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::atomic<std::int64_t> next_op_id_{1};
  std::vector<ActiveFault> active_;
  std::vector<PendingRestart> restarts_;
  std::vector<std::thread> side_threads_; /* switchover commands */
  std::vector<bool> fired_;
  std::vector<std::optional<TimeMs>> when_seen_;
};

}  // namespace pgaf::lab::runner_detail
