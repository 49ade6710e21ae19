/*
 * runner.cpp — builds a formation in namespace hosts, runs the workload, sampler and monitor
 * recorder, injects the scenario's faults, heals, waits for convergence, reads the final data,
 * tears everything down and hands the History to the checkers. See runner.hpp for invariants.
 *
 * Threads: one per client (inside the client host), one per node sampler (inside that node's
 * host, loopback only), one monitor recorder (inside the monitor host), and the main thread which
 * drives phases and faults. Shared state lives in Recorder behind one mutex.
 */
#include "pgaf/lab/runner.hpp"

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
#include "pgaf/netns/network.hpp"
#include "pgaf/netns/reaper.hpp"
#include "pgaf/netns/user.hpp"

namespace pgaf::lab {

std::atomic<bool> g_interrupted{false};

namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kLabRunRoot = "/run/pgaf-lab";
constexpr const char* kNetnsFamily = "pgaf-lab-";
constexpr int kBasePort = 5400;
constexpr TimeMs kSampleIntervalMs = 100;

TimeMs steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

void on_signal(int) {
  g_interrupted.store(true);
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

void unmount_all_under(const std::string& dir) {
  for (const auto& mp : mounts_under(dir)) {
    if (::umount2(mp.c_str(), 0) != 0) ::umount2(mp.c_str(), MNT_DETACH);
  }
}

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

Status ScenarioRun::setup_hosts() {
  std::ostringstream pfx;
  pfx << "pgaf-lab-" << std::hex << (static_cast<unsigned>(::getpid()) & 0xffffu) << std::dec << "-"
      << index_ << "-";
  prefix_ = pfx.str();
  run_root_ = std::string(kLabRunRoot) + "/" + prefix_;
  std::vector<std::string> names = {"monitor"};
  for (int i = 1; i <= sc_.formation.nodes; ++i) names.push_back("node" + std::to_string(i));
  names.push_back("client");
  netns::NetworkSpec spec;
  spec.prefix = prefix_;
  spec.subnet = "198.18.0.0/24";
  spec.hosts = names;
  auto net = netns::Network::create(spec);
  if (!net.ok()) return net.error();
  net_ = std::move(net).value();

  auto user = netns::lookup_user(opt_.user);
  if (!user.ok()) return user.error();
  std::error_code ec;
  /* The run directory appears with its owner file already in it (made under a hidden name, then
   * renamed): another lab process that starts meanwhile reaps the directories of dead runs, and
   * took one without an owner for a dead one — it unmounted the live run's disks (lazily) and
   * removed its files, and that run's agents then saw an empty PGDATA (CI flake: the writes
   * reached a server without the lab's table). */
  const std::string staging = std::string(kLabRunRoot) + "/.staging-" + prefix_;
  fs::create_directories(staging, ec);
  if (ec)
    return make_error(ErrorCode::Internal, "could not create \"" + staging + "\": " + ec.message());
  {
    std::ofstream owner(staging + "/owner");
    owner << ::getpid() << " " << proc_start_time(::getpid()) << "\n";
    owner.close();
    if (!owner) return make_error(ErrorCode::Internal, "could not write \"" + staging + "/owner\"");
  }
  if (::rename(staging.c_str(), run_root_.c_str()) != 0)
    return make_error(ErrorCode::Internal,
                      "could not rename \"" + staging + "\" to \"" + run_root_ + "\"", {},
                      std::strerror(errno));
  /* The postgres user must be able to execute pg_autoctl whatever the permissions of the tree
   * it was built in: run a copy from the run's directory (0755 path). */
  fs::create_directories(run_root_ + "/bin", ec);
  agent_bin_ = run_root_ + "/bin/" + fs::path(opt_.pg_autoctl).filename().string();
  fs::copy_file(opt_.pg_autoctl, agent_bin_, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return make_error(ErrorCode::Internal,
                      "could not copy \"" + opt_.pg_autoctl + "\" to \"" + agent_bin_ + "\"", {},
                      ec.message());
  }
  (void)::chmod(kLabRunRoot, 0755);
  (void)::chmod(run_root_.c_str(), 0755);
  (void)::chmod((run_root_ + "/bin").c_str(), 0755);
  (void)::chmod(agent_bin_.c_str(), 0755);
  logs_dir_ = report_dir_ + "/logs";
  fs::create_directories(logs_dir_, ec);
  if (ec)
    return make_error(ErrorCode::Internal,
                      "could not create \"" + logs_dir_ + "\": " + ec.message());
  (void)::chown(logs_dir_.c_str(), user->uid, user->gid);

  int port = kBasePort;
  for (const auto& name : names) {
    auto host = net_.host(name);
    if (!host.ok()) return host.error();
    HostDirs d;
    d.name = name;
    d.address = host->address;
    d.port = port++;
    d.dir = run_root_ + "/" + name;
    d.mount = d.dir + "/disk";
    d.pgdata = d.mount + "/pgdata";
    d.home = d.dir + "/home";
    for (const auto& p : {d.dir, d.mount, d.home, d.home + "/config", d.home + "/share",
                          d.home + "/run", d.dir + "/sock"}) {
      fs::create_directories(p, ec);
      if (ec)
        return make_error(ErrorCode::Internal, "could not create \"" + p + "\": " + ec.message());
    }
    if (name != "client") {
      const std::string opts = "size=" + std::to_string(sc_.formation.node_disk_mb) +
                               "m,mode=0700,uid=" + std::to_string(user->uid) +
                               ",gid=" + std::to_string(user->gid);
      if (::mount("tmpfs", d.mount.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
        return make_error(ErrorCode::Internal, "could not mount a tmpfs on \"" + d.mount + "\"", {},
                          std::strerror(errno));
      }
    }
    for (const auto& p : {d.dir, d.mount, d.home, d.home + "/config", d.home + "/share",
                          d.home + "/run", d.dir + "/sock"}) {
      (void)::chown(p.c_str(), user->uid, user->gid);
    }
    (void)::chmod((d.home + "/run").c_str(), 0700);
    hosts_[name] = d;
  }
  return Status::Ok();
}

Status ScenarioRun::build_formation() {
  const TimeMs until = steady_ms() + sc_.formation.stable_timeout_ms;
  auto left = [&] { return std::max<TimeMs>(1000, until - steady_ms()); };
  const HostDirs& mon = dirs("monitor");
  const std::string ctl = opt_.pg_bindir + "/pg_ctl";
  log_line(sc_.name, "creating the monitor on " + mon.address + ":" + std::to_string(mon.port));
  if (Status s = run_cmd(mon,
                         {agent_bin_, "create", "monitor", "--pgdata", mon.pgdata, "--pgport",
                          std::to_string(mon.port), "--hostname", mon.address, "--auth", "trust",
                          "--no-ssl", "--pgctl", ctl},
                         "monitor-create", left());
      !s.ok())
    return s;
  for (const auto& [k, v] : sc_.formation.settings) {
    if (Status s =
            run_cmd(mon, {agent_bin_, "config", "set", "--pgdata", mon.pgdata, "pgaf." + k, v},
                    "monitor-config", left());
        !s.ok())
      return s;
  }
  if (Status s = start_service(mon); !s.ok()) return s;
  monitor_uri_ = "postgres://autoctl_node@" + mon.address + ":" + std::to_string(mon.port) +
                 "/pg_auto_failover?sslmode=disable";
  /* the recorder thread reports monitor_ok once it can read the node table */
  threads_.emplace_back([this] { (void)net_.run_in("monitor", [this] { monitor_loop(); }); });
  if (Status s = wait_for(
          [&] {
            std::lock_guard<std::mutex> g(rec_.mu);
            return rec_.monitor_ok;
          },
          left(), "waiting for the monitor to answer");
      !s.ok())
    return s;

  for (int i = 1; i <= sc_.formation.nodes; ++i) {
    const HostDirs& n = dirs("node" + std::to_string(i));
    const size_t k = static_cast<size_t>(i - 1);
    log_line(sc_.name, "creating " + n.name + " on " + n.address + ":" + std::to_string(n.port));
    if (Status s = run_cmd(n,
                           {agent_bin_,
                            "create",
                            "postgres",
                            "--pgdata",
                            n.pgdata,
                            "--pgport",
                            std::to_string(n.port),
                            "--hostname",
                            n.address,
                            "--name",
                            n.name,
                            "--monitor",
                            monitor_uri_,
                            "--auth",
                            "trust",
                            "--no-ssl",
                            "--pgctl",
                            ctl,
                            "--dbname",
                            "postgres",
                            "--candidate-priority",
                            std::to_string(sc_.formation.candidate_priorities[k]),
                            "--replication-quorum",
                            sc_.formation.replication_quorum[k] ? "true" : "false"},
                           n.name + "-create", left());
        !s.ok())
      return s;
    for (const auto& [key, v] : sc_.formation.settings) {
      if (Status s =
              run_cmd(n, {agent_bin_, "config", "set", "--pgdata", n.pgdata, "pgaf." + key, v},
                      n.name + "-config", left());
          !s.ok())
        return s;
    }
    if (Status s = start_service(n); !s.ok()) return s;
    if (i == 1) {
      if (Status s = wait_for(
              [&] {
                auto f = rec_.fsm_snapshot();
                return f.count("node1") && pgaf::can_take_writes_in_state(f["node1"].reported) &&
                       f["node1"].reported == f["node1"].goal;
              },
              left(), "waiting for node1 to become a writable primary");
          !s.ok())
        return s;
      /* allow the lab's client host in (the subnet is the lab's own), then create the table */
      {
        std::ofstream hba(n.pgdata + "/pg_hba.conf", std::ios::app);
        hba << "host all all 198.18.0.0/24 trust # pgaf lab clients\n";
      }
      /* the primary may still be read-only (its agent fences until it holds a lease): retry */
      Status setup = Status::Ok();
      const TimeMs setup_until = steady_ms() + left();
      bool reloaded = false;
      while (true) {
        setup = net_.run_in(n.name, [&] {
          auto c = PgConn::connect(
              "host=127.0.0.1 port=" + std::to_string(n.port) +
              " user=postgres dbname=postgres connect_timeout=5 application_name=lab-setup");
          if (!c.ok()) throw std::runtime_error(c.error().message);
          if (!reloaded) {
            auto r = c->query("select pg_reload_conf()", 5000);
            if (!r.ok()) throw std::runtime_error(r.error().message);
            reloaded = true;
          }
          auto r = c->query(
              "create table if not exists lab_writes (value bigint primary key, client int not "
              "null, "
              "at timestamptz not null default clock_timestamp())",
              10000);
          if (!r.ok()) throw std::runtime_error(r.error().message);
        });
        if (setup.ok() || expired() || steady_ms() >= setup_until) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      if (!setup.ok()) return setup;
    } else {
      const std::string name = n.name;
      if (Status s = wait_for(
              [&] {
                auto f = rec_.fsm_snapshot();
                return f.count(name) && f[name].reported == "secondary" &&
                       f[name].goal == "secondary";
              },
              left(), "waiting for " + name + " to become a secondary");
          !s.ok())
        return s;
    }
  }
  if (sc_.formation.number_sync_standbys != 0) {
    /* the monitor's SQL API (pgautofailover.set_formation_number_sync_standbys), as the agents use
     * it */
    const std::string n = std::to_string(sc_.formation.number_sync_standbys);
    Status s = net_.run_in("monitor", [&] {
      auto c = PgConn::connect("host=127.0.0.1 port=" + std::to_string(mon.port) +
                               " user=autoctl_node dbname=pg_auto_failover connect_timeout=5 "
                               "application_name=lab-setup");
      if (!c.ok()) throw std::runtime_error(c.error().message);
      auto r =
          c->query("select pgautofailover.set_formation_number_sync_standbys('default', $1::int)",
                   10000, {n});
      if (!r.ok()) throw std::runtime_error(r.error().message);
    });
    if (!s.ok()) return s;
    log_line(sc_.name, "number_sync_standbys set to " + n);
  }
  std::map<std::string, int> initial = {{"primary", 1}};
  if (sc_.formation.nodes > 1)
    initial["secondary"] = sc_.formation.nodes - 1;
  else
    initial = {{"single", 1}};
  if (Status s = wait_for(
          [&] {
            auto f = rec_.fsm_snapshot();
            if (static_cast<int>(f.size()) != sc_.formation.nodes) return false;
            std::map<std::string, int> counts;
            for (const auto& [n, fs] : f) {
              if (fs.reported != fs.goal) return false;
              counts[fs.reported]++;
            }
            return counts == initial;
          },
          left(), "waiting for the formation to be stable");
      !s.ok())
    return s;
  for (const auto& [n, s] : rec_.fsm_snapshot()) {
    if (pgaf::can_take_writes_in_state(s.reported)) rec_.h.initial_primary = n;
  }
  std::string uri = "postgresql://";
  for (int i = 1; i <= sc_.formation.nodes; ++i) {
    const HostDirs& n = dirs("node" + std::to_string(i));
    uri += (i > 1 ? "," : "") + n.address + ":" + std::to_string(n.port);
  }
  const TimeMs ct = std::max<TimeMs>(2, sc_.workload.connect_timeout_ms / 1000);
  uri += "/postgres?user=postgres&target_session_attrs=read-write&connect_timeout=" +
         std::to_string(ct) + "&options=-c%20synchronous_commit%3D" +
         to_string(sc_.formation.synchronous_commit);
  formation_uri_ = uri;
  return Status::Ok();
}

void ScenarioRun::monitor_loop() {
  const HostDirs& mon = dirs("monitor");
  const std::string conninfo =
      "host=127.0.0.1 port=" + std::to_string(mon.port) +
      " user=autoctl_node dbname=pg_auto_failover connect_timeout=2 application_name=lab-recorder";
  std::map<std::string, std::string> by_hostport;
  for (const auto& [name, d] : hosts_) by_hostport[d.address + ":" + std::to_string(d.port)] = name;
  PgConn q, listen;
  std::int64_t last_event = 0;
  bool event_base_known = false;
  while (!stop_.load()) {
    const TimeMs tick = steady_ms();
    if (!q.connected()) {
      auto c = PgConn::connect(conninfo);
      if (c.ok()) q = std::move(c).value();
    }
    if (q.connected() && !listen.connected()) {
      auto c = PgConn::connect(conninfo);
      if (c.ok()) {
        listen = std::move(c).value();
        (void)listen.query("listen state", 2000);
      }
    }
    if (q.connected()) {
      auto rows = q.query(
          "select nodehost, nodeport::text, reportedstate::text, goalstate::text, health::text "
          "from pgautofailover.node order by nodeid",
          1000);
      if (rows.ok()) {
        std::vector<FsmSample> v;
        const TimeMs t = rec_.now();
        for (const auto& r : *rows) {
          const std::string hp = r[0].value_or("") + ":" + r[1].value_or("");
          auto it = by_hostport.find(hp);
          if (it == by_hostport.end()) continue;
          const std::string health = r[4].value_or("-1");
          v.push_back({t, it->second, r[2].value_or("unknown"), r[3].value_or("unknown"),
                       health == "1"   ? "good"
                       : health == "0" ? "bad"
                                       : "unknown"});
        }
        rec_.fsm(v);
      }
      if (!event_base_known) {
        auto r = q.query("select coalesce(max(eventid), 0)::text from pgautofailover.event", 1000);
        if (r.ok() && !r->empty()) {
          last_event = std::stoll(r->at(0)[0].value_or("0"));
          event_base_known = true;
        }
      }
      if (event_base_known) {
        auto ev = q.query(
            "select eventid::text, nodehost, nodeport::text, reportedstate::text, goalstate::text, "
            "coalesce(description, '') from pgautofailover.event where eventid > $1 order by "
            "eventid",
            1000, {std::to_string(last_event)});
        if (ev.ok()) {
          auto fsm = rec_.fsm_snapshot();
          for (const auto& r : *ev) {
            last_event = std::max<std::int64_t>(last_event, std::stoll(r[0].value_or("0")));
            const std::string hp = r[1].value_or("") + ":" + r[2].value_or("");
            auto it = by_hostport.find(hp);
            const std::string node = it == by_hostport.end() ? hp : it->second;
            if (it == by_hostport.end()) continue;
            rec_.event({rec_.now(), node, r[3].value_or(""), r[4].value_or(""),
                        fsm.count(node) ? fsm[node].health : "", r[5].value_or("")});
          }
        }
      }
    }
    /* sleep until the next tick, waking early on a NOTIFY */
    while (!stop_.load() && steady_ms() < tick + kSampleIntervalMs) {
      if (listen.connected()) {
        pollfd pfd{listen.socket(), POLLIN, 0};
        const int rc = ::poll(
            &pfd, 1, static_cast<int>(std::max<TimeMs>(1, tick + kSampleIntervalMs - steady_ms())));
        if (rc > 0 && !listen.notifications().empty()) break;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
}

void ScenarioRun::sampler_loop(const HostDirs& h) {
  const std::string conninfo =
      "host=127.0.0.1 port=" + std::to_string(h.port) +
      " user=postgres dbname=postgres connect_timeout=2 application_name=lab-sampler";
  const std::string sql =
      "select pg_is_in_recovery()::text, current_setting('transaction_read_only'), "
      "case when pg_is_in_recovery() then coalesce((select received_tli from "
      "pg_stat_wal_receiver), "
      "(pg_control_checkpoint()).timeline_id) "
      "else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end::text, "
      "case when pg_is_in_recovery() then coalesce(pg_last_wal_replay_lsn(), "
      "pg_last_wal_receive_lsn())::text "
      "else pg_current_wal_lsn()::text end";
  PgConn c;
  while (!stop_.load()) {
    const TimeMs tick = steady_ms();
    Sample s;
    s.node = h.name;
    if (!c.connected()) {
      auto r = PgConn::connect(conninfo);
      if (r.ok()) c = std::move(r).value();
    }
    if (c.connected()) {
      auto rows = c.query(sql, 500);
      if (rows.ok() && !rows->empty()) {
        const Row& r = rows->at(0);
        s.reachable = true;
        s.in_recovery = r[0].value_or("") == "true";
        s.read_only = r[1].value_or("") == "on";
        s.timeline = r[2] ? std::atoi(r[2]->c_str()) : 0;
        s.lsn = r[3] ? parse_lsn(*r[3]).value_or(0) : 0; /* NULL or malformed: 0, unknown */
      }
    }
    s.t_ms = rec_.now();
    rec_.sample(s);
    while (!stop_.load() && steady_ms() < tick + kSampleIntervalMs)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void ScenarioRun::client_loop(int client) {
  std::map<std::string, std::string> by_address;
  for (const auto& [name, d] : hosts_) by_address[d.address] = name;
  std::mt19937_64 rng(sc_.seed ^
                      (std::uint64_t{0x9e3779b97f4a7c15} * static_cast<std::uint64_t>(client + 1)));
  const TimeMs period = std::max<TimeMs>(1, 1000 / sc_.workload.rate_per_client);
  std::uniform_int_distribution<TimeMs> jitter(0, period / 4);
  const std::string sql =
      "insert into lab_writes(value, client) values ($1::bigint, $2::int) "
      "returning host(inet_server_addr()), pg_walfile_name(pg_current_wal_lsn()), "
      "pg_current_wal_lsn()::text";
  PgConn c;
  bool diagnosed_missing_table = false;
  std::int64_t seq = 0;
  TimeMs next = steady_ms() + jitter(rng);
  while (!stop_.load()) {
    while (!stop_.load() && steady_ms() < next)
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min<TimeMs>(10, next - steady_ms())));
    if (stop_.load()) break;
    next += period;
    if (next < steady_ms()) next = steady_ms() + jitter(rng);
    Op op;
    op.id = next_op_id_.fetch_add(1);
    op.client = client;
    op.value = static_cast<std::int64_t>(client + 1) * 1000000000LL + (++seq);
    op.invoke_ms = rec_.now();
    if (!c.connected()) {
      auto r = PgConn::connect(formation_uri_);
      if (!r.ok()) {
        op.outcome = OpOutcome::Fail;
        op.error = r.error().message;
        op.complete_ms = rec_.now();
        rec_.op(op);
        continue;
      }
      c = std::move(r).value();
    }
    QueryOutcome o =
        c.exec(sql, {std::to_string(op.value), std::to_string(client)}, sc_.workload.op_timeout_ms);
    op.complete_ms = rec_.now();
    switch (o.kind) {
      case QueryOutcome::Kind::Ok: {
        op.outcome = OpOutcome::Ok;
        if (!o.rows.empty()) {
          const Row& r = o.rows[0];
          auto it = by_address.find(r[0].value_or(""));
          op.node = it == by_address.end() ? r[0].value_or("?") : it->second;
          op.timeline = r[1] ? timeline_of_walfile(*r[1]) : 0;
          op.lsn = r[2] ? parse_lsn(*r[2]).value_or(0) : 0; /* NULL or malformed: 0, unknown */
        }
        if (op.node.rfind("node", 0) != 0 || op.timeline < 1) {
          /* an answer we cannot attribute is recorded as unknown, never as a clean ok */
          op.outcome = OpOutcome::Unknown;
          op.error = "acknowledged by an unidentified server \"" + op.node + "\"";
          op.node.clear();
        }
        for (const auto& w : o.warnings) {
          /* "canceling wait for synchronous replication ...": the server itself says the
           * commit may exist on this node only, so it is not an acknowledged durable write */
          if (op.outcome == OpOutcome::Ok &&
              w.find("synchronous replication") != std::string::npos) {
            op.outcome = OpOutcome::Unknown;
            op.error = "committed locally on " + op.node + " without the synchronous standby: " + w;
          }
        }
        break;
      }
      case QueryOutcome::Kind::ServerError:
        op.outcome = OpOutcome::Fail;
        op.error = (o.sqlstate.empty() ? "" : o.sqlstate + ": ") + o.message;
        if (o.sqlstate == "42P01" && !diagnosed_missing_table) {
          /* the table the lab created is not where the writes go (seen once in CI): name the
           * server that answered, so the report says which one it was */
          diagnosed_missing_table = true;
          auto who = c.query(
              "select coalesce(inet_server_addr()::text, 'local'), inet_server_port()::text, "
              "(select system_identifier::text from pg_control_system()), current_database(), "
              "pg_is_in_recovery()::text, current_setting('data_directory')",
              2000);
          std::string desc = who.ok() && !who->empty() ? "" : "(could not ask it)";
          if (who.ok() && !who->empty())
            for (const auto& f : (*who)[0]) desc += (desc.empty() ? "" : " ") + f.value_or("-");
          log_line(sc_.name, "client " + std::to_string(client) +
                                 ": lab_writes is missing on the server that answered: " + desc);
        }
        break;
      case QueryOutcome::Kind::Lost:
      case QueryOutcome::Kind::Timeout:
        op.outcome = OpOutcome::Unknown;
        op.error = o.message;
        break;
    }
    rec_.op(op);
    if (sc_.workload.connect_per_write) c = PgConn{}; /* a new session for the next write */
  }
}

void ScenarioRun::start_threads() {
  for (int i = 1; i <= sc_.formation.nodes; ++i) {
    const std::string name = "node" + std::to_string(i);
    threads_.emplace_back(
        [this, name] { (void)net_.run_in(name, [this, name] { sampler_loop(dirs(name)); }); });
  }
  for (int c = 0; c < sc_.workload.clients; ++c) {
    threads_.emplace_back(
        [this, c] { (void)net_.run_in("client", [this, c] { client_loop(c); }); });
  }
}

void ScenarioRun::stop_threads() {
  stop_.store(true);
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  for (auto& t : side_threads_) {
    if (t.joinable()) t.join();
  }
  side_threads_.clear();
}

std::string ScenarioRun::resolve_target(const Target& t) {
  auto fsm = rec_.fsm_snapshot();
  switch (t.kind) {
    case Target::Kind::Monitor:
      return "monitor";
    case Target::Kind::Clients:
      return "client";
    case Target::Kind::Node:
      return "node" + std::to_string(t.node_index + 1);
    case Target::Kind::Primary: {
      std::string best;
      for (const auto& [n, s] : fsm) {
        if (pgaf::can_take_writes_in_state(s.reported) && (best.empty() || s.goal == s.reported))
          best = n;
      }
      if (!best.empty()) return best;
      for (const auto& [n, s] : rec_.sample_snapshot()) {
        if (s.reachable && !s.in_recovery && !s.read_only) return n;
      }
      return rec_.h.initial_primary.empty() ? "node1" : rec_.h.initial_primary;
    }
    case Target::Kind::Standby: {
      const std::string primary = resolve_target(Target{Target::Kind::Primary, -1});
      std::vector<std::string> c;
      for (const auto& [n, s] : fsm) {
        if (n != primary && s.reported == "secondary") c.push_back(n);
      }
      if (c.empty()) {
        for (const auto& n : rec_.h.nodes) {
          if (n != primary) c.push_back(n);
        }
      }
      if (c.empty()) return primary;
      return c[static_cast<size_t>(rng_() % c.size())];
    }
    case Target::Kind::AnyNode:
      return rec_.h.nodes[static_cast<size_t>(rng_() % rec_.h.nodes.size())];
  }
  return "node1";
}

std::vector<std::string> ScenarioRun::other_hosts(const std::string& host, bool include_clients) {
  std::vector<std::string> out;
  for (const auto& [name, d] : hosts_) {
    if (name == host) continue;
    if (name == "client" && !include_clients) continue;
    out.push_back(name);
  }
  return out;
}

bool ScenarioRun::when_matches(const Trigger::When& w) {
  auto fsm = rec_.fsm_snapshot();
  if (w.node.kind == Target::Kind::Node) {
    const std::string n = "node" + std::to_string(w.node.node_index + 1);
    return fsm.count(n) && fsm[n].reported == w.state;
  }
  if (w.node.kind == Target::Kind::Primary) {
    const std::string n = resolve_target(w.node);
    return fsm.count(n) && fsm[n].reported == w.state;
  }
  for (const auto& [n, s] : fsm) {
    if (s.reported != w.state) continue;
    if (w.node.kind == Target::Kind::Standby && n == rec_.h.initial_primary) continue;
    return true;
  }
  return false;
}

Status ScenarioRun::fire(size_t fi) {
  const Fault& f = sc_.faults[fi];
  FaultRecord r;
  r.name = f.name;
  r.action = to_string(f.action);
  r.start_ms = rec_.now();
  const std::string target =
      f.action == FaultAction::Switchover ? "monitor" : resolve_target(f.target);
  r.targets = {target};
  ActiveFault af;
  af.heal_at = f.duration_ms ? steady_ms() + *f.duration_ms : -1;
  const netns::Action action =
      f.mode == FaultMode::Reject ? netns::Action::Reject : netns::Action::Drop;
  Status st;
  auto take = [&](Result<netns::Fault> x) {
    if (!x.ok()) {
      st = x.error();
      return;
    }
    r.detail = x->description();
    af.net = std::move(x).value();
  };
  switch (f.action) {
    case FaultAction::IfDown:
      take(net_.link_down(target, netns::LinkSide::Both));
      break;
    case FaultAction::Partition: {
      if (f.to) {
        netns::PartitionSpec p;
        p.from = {target};
        const std::string to = resolve_target(*f.to);
        p.to = {to};
        r.targets.push_back(to);
        p.action = action;
        take(net_.partition(p));
      } else if (f.include_clients) {
        take(net_.isolate(target, action));
      } else {
        netns::PartitionSpec p;
        p.from = {target};
        p.to = other_hosts(target, false);
        p.action = action;
        take(net_.partition(p));
      }
      break;
    }
    case FaultAction::OneWay: {
      netns::PartitionSpec p;
      p.from = {target};
      const std::string to = resolve_target(*f.to);
      p.to = {to};
      r.targets.push_back(to);
      p.action = action;
      p.one_way = true;
      p.strict = true; /* every packet target → to, including replies within to's connections */
      take(net_.partition(p));
      break;
    }
    case FaultAction::Loss:
      take(net_.packet_loss(target, f.loss_percent));
      break;
    case FaultAction::Latency:
      take(net_.latency(target, std::chrono::milliseconds(f.delay_ms)));
      break;
    case FaultAction::Bandwidth:
      take(net_.bandwidth(target, static_cast<std::uint64_t>(f.rate_kbit) * 1000 / 8));
      break;
    case FaultAction::MonitorLoss:
    case FaultAction::Reboot: {
      kill_host(target);
      r.detail = "SIGKILL every process of " + target;
      TimeMs restart =
          f.restart_after_ms ? *f.restart_after_ms : (f.action == FaultAction::Reboot ? 0 : -1);
      restarts_.push_back({restart >= 0 ? steady_ms() + restart : -1, target, false});
      r.end_ms = -1;
      break;
    }
    case FaultAction::Kill: {
      if (f.process == ProcessKind::Postmaster) {
        const std::string& pgdata = dirs(target).pgdata;
        /* prevent_restart: Postgres refuses a data directory with group/other permissions,
         * so every restart fails until heal gives back 0700 */
        if (f.prevent_restart && ::chmod(pgdata.c_str(), 0777) == 0) af.pgdata_mode = pgdata;
        const pid_t pm = postmaster_pid(pgdata);
        if (pm <= 0 || ::kill(pm, SIGKILL) != 0) {
          st = make_error(ErrorCode::BadState, "could not find the postmaster of " + target);
        } else {
          r.detail = "SIGKILL postmaster pid " + std::to_string(pm) +
                     (af.pgdata_mode.empty() ? "" : " (restarts fail until heal)");
        }
      } else {
        auto pids =
            host_pids_matching(target, [&](const std::string& e) { return is_agent_exe(e); });
        for (pid_t p : pids) ::kill(p, SIGKILL);
        auto it = services_.find(target);
        if (it != services_.end()) {
          (void)it->second.wait_for(std::chrono::milliseconds(1000));
          services_.erase(it);
        }
        r.detail = "SIGKILL " + std::to_string(pids.size()) + " agent process(es)";
        restarts_.push_back(
            {f.restart_after_ms ? steady_ms() + *f.restart_after_ms : -1, target, false});
      }
      break;
    }
    case FaultAction::Freeze: {
      std::vector<pid_t> pids;
      if (f.process == ProcessKind::Postmaster) {
        const pid_t pm = postmaster_pid(dirs(target).pgdata);
        if (pm > 0) pids.push_back(pm);
      } else if (f.process == ProcessKind::Agent) {
        pids = host_pids_matching(target, [&](const std::string& e) { return is_agent_exe(e); });
      } else {
        pids = host_pids(target);
      }
      for (pid_t p : pids) ::kill(p, SIGSTOP);
      af.stopped = pids;
      r.detail = "SIGSTOP " + std::to_string(pids.size()) + " process(es)";
      break;
    }
    case FaultAction::DiskFull: {
      const std::string filler = dirs(target).mount + "/lab-disk-filler";
      const int fd = ::open(filler.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) {
        st = make_error(ErrorCode::Internal, "could not create \"" + filler + "\"");
        break;
      }
      std::vector<char> buf(1 << 20, 0);
      std::uint64_t written = 0;
      while (true) {
        const ssize_t n = ::write(fd, buf.data(), buf.size());
        if (n <= 0) break;
        written += static_cast<std::uint64_t>(n);
      }
      ::close(fd);
      af.filler = filler;
      r.detail =
          "filled " + std::to_string(written >> 20) + " MiB of " + target + "'s PGDATA filesystem";
      break;
    }
    case FaultAction::Switchover: {
      const HostDirs& mon = dirs("monitor");
      r.detail = "pg_autoctl perform switchover";
      const size_t rec_index = rec_.h.faults.size();
      auto child = spawn(mon,
                         {agent_bin_, "perform", "switchover", "--monitor", monitor_uri_,
                          "--formation", "default", "--wait", "60"},
                         "switchover");
      if (!child.ok()) {
        st = child.error();
        break;
      }
      auto shared = std::make_shared<netns::ChildProcess>(std::move(child).value());
      side_threads_.emplace_back([this, shared, rec_index] {
        const TimeMs until = steady_ms() + 90000;
        int status = -1;
        while (!stop_.load() && steady_ms() < until) {
          auto w = shared->wait_for(std::chrono::milliseconds(100));
          if (w.ok()) {
            status = *w;
            break;
          }
        }
        if (status == -1) (void)shared->kill();
        std::lock_guard<std::mutex> g(rec_.mu);
        auto& fr = rec_.h.faults[rec_index];
        fr.end_ms = rec_.now();
        fr.detail += status == -1 ? " (did not finish)"
                     : WIFEXITED(status)
                         ? " (exit code " + std::to_string(WEXITSTATUS(status)) + ")"
                         : " (killed)";
      });
      break;
    }
  }
  if (!st.ok()) {
    r.skipped = true;
    r.detail = st.error().message + (st.error().detail.empty() ? "" : ": " + st.error().detail);
  }
  {
    std::lock_guard<std::mutex> g(rec_.mu);
    af.record = rec_.h.faults.size();
    rec_.h.faults.push_back(r);
  }
  log_line(sc_.name, "fault " + f.name + " (" + r.action + ") on " + target +
                         (r.skipped ? ": FAILED " : ": ") + r.detail);
  if (!af.pgdata_mode.empty() && r.skipped) ::chmod(af.pgdata_mode.c_str(), 0700);
  if (!r.skipped &&
      (af.net || !af.stopped.empty() || !af.filler.empty() || !af.pgdata_mode.empty()))
    active_.push_back(std::move(af));
  return st;
}

void ScenarioRun::heal(ActiveFault& af) {
  if (af.healed) return;
  af.healed = true;
  if (af.net) (void)af.net->heal();
  for (pid_t p : af.stopped) ::kill(p, SIGCONT);
  if (!af.filler.empty()) ::unlink(af.filler.c_str());
  if (!af.pgdata_mode.empty()) ::chmod(af.pgdata_mode.c_str(), 0700);
  std::lock_guard<std::mutex> g(rec_.mu);
  rec_.h.faults[af.record].end_ms = rec_.now();
}

Status ScenarioRun::fault_phase() {
  fired_.assign(sc_.faults.size(), false);
  when_seen_.assign(sc_.faults.size(), std::nullopt);
  const TimeMs start = steady_ms();
  const TimeMs end = start + sc_.phases.faults_ms;
  Status first_error;
  while (!expired() && steady_ms() < end) {
    const TimeMs now = steady_ms();
    for (size_t i = 0; i < sc_.faults.size(); ++i) {
      if (fired_[i]) continue;
      const Trigger& t = sc_.faults[i].trigger;
      bool go = false;
      if (t.at_ms) {
        go = now >= start + *t.at_ms;
      } else if (t.when) {
        if (!when_seen_[i] && when_matches(*t.when)) {
          when_seen_[i] = now;
          log_line(sc_.name,
                   "trigger of " + sc_.faults[i].name + ": a node entered " + t.when->state);
        }
        go = when_seen_[i] && now >= *when_seen_[i] + t.when->delay_ms;
      }
      if (go) {
        fired_[i] = true;
        Status s = fire(i);
        if (!s.ok() && first_error.ok()) first_error = s;
      }
    }
    for (auto& af : active_) {
      if (!af.healed && af.heal_at >= 0 && now >= af.heal_at) heal(af);
    }
    for (auto& r : restarts_) {
      if (!r.done && r.at >= 0 && now >= r.at) {
        r.done = true;
        Status s = start_service(dirs(r.host));
        rec_.note("restarted pg_autoctl run on " + r.host +
                  (s.ok() ? "" : ": " + s.error().message));
        end_process_faults(r.host);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (size_t i = 0; i < sc_.faults.size(); ++i) {
    if (!fired_[i])
      rec_.note("fault " + sc_.faults[i].name + " never fired (its trigger did not happen)");
  }
  return first_error;
}

void ScenarioRun::heal_all() {
  for (auto& af : active_) heal(af);
  for (auto& r : restarts_) {
    if (r.done) continue;
    r.done = true;
    Status s = start_service(dirs(r.host));
    rec_.note("restarted pg_autoctl run on " + r.host + " at heal" +
              (s.ok() ? "" : ": " + s.error().message));
    end_process_faults(r.host);
  }
  /* a restart that fired during the fault phase ends its fault there */
  std::lock_guard<std::mutex> g(rec_.mu);
  for (auto& fr : rec_.h.faults) {
    if (fr.end_ms < 0 && fr.action != "switchover") fr.end_ms = rec_.now();
  }
}

void ScenarioRun::end_process_faults(const std::string& host) {
  std::lock_guard<std::mutex> g(rec_.mu);
  for (auto& fr : rec_.h.faults) {
    if (fr.end_ms < 0 && !fr.targets.empty() && fr.targets[0] == host &&
        (fr.action == "monitor_loss" || fr.action == "kill" || fr.action == "reboot")) {
      fr.end_ms = rec_.now();
    }
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
