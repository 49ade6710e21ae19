/*
 * service.cpp — supervisor, Postgres controller and node-active services, and monitor creation.
 * See service.hpp for the invariants.
 */
#include "pgaf/agent/service.hpp"

#include <signal.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "pgaf/agent/keeper.hpp"
#include "pgaf/agent/monitor_listener.hpp"
#include "pgaf/agent/monitor_swap.hpp"
#include "pgaf/agent/ops.hpp"
#include "pgaf/agent/postgres.hpp"
#include "pgaf/agent/process.hpp"
#include "pgaf/agent/tls.hpp"

namespace pgaf::agent {

namespace bp = boost::process;
namespace fs = std::filesystem;

namespace {

volatile std::sig_atomic_t g_signal = 0; /* last stop signal received */
volatile std::sig_atomic_t g_reload = 0;

void on_signal(int sig) {
  if (sig == SIGHUP) {
    g_reload = 1;
  } else {
    g_signal = sig;
  }
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP}) sigaction(s, &sa, nullptr);
}

std::string self_exe() {
  const char* dbg = std::getenv("PG_AUTOCTL_DEBUG_BIN_PATH");
  if (dbg != nullptr && *dbg != '\0') return dbg;
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("pg_autoctl") : p.string();
}

std::vector<std::string> verbosity_args(int v) {
  if (v < 0) return {"-q"};
  if (v == 1) return {"-v"};
  if (v >= 2) return {"-vv"};
  return {};
}

int g_verbosity = 0;

struct Service {
  std::string name;
  std::vector<std::string> args;
  std::unique_ptr<bp::child> child;
  std::vector<TimeMs> restarts;
};

Status start_service(Service& s) {
  try {
    bp::environment env = boost::this_process::environment();
    env["PG_AUTOCTL_DEBUG"] = "1";
    s.child =
        std::make_unique<bp::child>(self_exe(), bp::args(s.args), env, DieWithParent(SIGKILL));
    spdlog::info("Started pg_autoctl {} service with pid {}", s.name, s.child->id());
  } catch (const std::exception& e) {
    return make_error(ErrorCode::Internal,
                      "could not start the " + s.name + " service: " + e.what());
  }
  return Status::Ok();
}

Status write_pid_file(const std::string& path, const Config& cfg,
                      const std::vector<Service>& services) {
  std::ostringstream o;
  o << getpid() << "\n"
    << cfg.pgdata << "\n"
    << "pgaf 0.1.0\n2.2\n0\n";
  o << getpid() << " postgres\n"; /* the controller runs in the supervisor */
  for (auto& s : services) {
    if (s.child) o << s.child->id() << " " << s.name << "\n";
  }
  if (Status d = make_dirs(fs::path(path).parent_path().string()); !d) return d;
  return atomic_write_file(path, o.str(), 0644);
}

}  // namespace

namespace {
/* %* — the level as pg_auto_failover prints it: TRACE DEBUG INFO WARN ERROR FATAL */
class UpperLevel final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*tm*/,
              spdlog::memory_buf_t& dest) override {
    static const char* names[] = {"TRACE", "DEBUG", "INFO ", "WARN ", "ERROR", "FATAL", "     "};
    auto i = static_cast<size_t>(msg.level);
    const char* n = names[i < 7 ? i : 6];
    dest.append(n, n + std::strlen(n));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return spdlog::details::make_unique<UpperLevel>();
  }
};
}  // namespace

void setup_logging(int verbosity, const std::string& log_file) {
  g_verbosity = verbosity;
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (!log_file.empty()) {
    try {
      fs::create_directories(fs::path(log_file).parent_path());
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_file, false));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "could not open log file \"%s\": %s\n", log_file.c_str(), e.what());
    }
  }
  auto logger = std::make_shared<spdlog::logger>("pg_autoctl", sinks.begin(), sinks.end());
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<UpperLevel>('*').set_pattern("%H:%M:%S.%e %P %^%*%$ %v");
  logger->set_formatter(std::move(formatter));
  spdlog::level::level_enum lvl = spdlog::level::info;
  if (verbosity < 0) lvl = spdlog::level::warn;
  if (verbosity == 1) lvl = spdlog::level::debug;
  if (verbosity >= 2) lvl = spdlog::level::trace;
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

Result<PidFileInfo> read_pid_file(const std::string& pid_file) {
  auto t = read_file(pid_file);
  if (!t) return t.error();
  PidFileInfo info;
  std::istringstream in(*t);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (n == 1) info.pid = std::strtol(line.c_str(), nullptr, 10);
    if (n == 2) info.pgdata = line;
    if (n >= 6) {
      auto sp = line.find(' ');
      if (sp != std::string::npos) {
        info.services.push_back({std::strtol(line.c_str(), nullptr, 10), line.substr(sp + 1)});
      }
    }
  }
  if (info.pid <= 0) {
    return make_error(ErrorCode::BadState, "pid file \"" + pid_file + "\" is corrupt");
  }
  return info;
}

bool process_alive(long pid) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  /* a zombie (exited, not yet reaped by its parent) is gone for us */
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (stat) {
    auto close = stat->rfind(')');
    if (close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] == 'Z') {
      return false;
    }
  }
  return true;
}

long read_supervisor_pid(const std::string& pid_file) {
  auto info = read_pid_file(pid_file);
  if (!info) return -1;
  return process_alive(info->pid) ? info->pid : -1;
}

/* ---------------- Postgres controller ---------------- */

namespace {

class Postmaster {
 public:
  explicit Postmaster(const Config& cfg) : cfg_(cfg) {}

  bool running() {
    if (child_ && child_->running()) return true;
    if (child_) {
      child_->wait();
      spdlog::warn("postgres exited with code {}", child_->exit_code());
      child_.reset();
    }
    return running_postmaster_pid(cfg_.pgdata) > 0; /* adopted (not our child) */
  }

  Status start() {
    if (running()) return Status::Ok();
    std::vector<std::string> args = {"-D", cfg_.pgdata,          "-p", std::to_string(cfg_.port),
                                     "-h", cfg_.listen_addresses};
    const char* sock = std::getenv("PG_REGRESS_SOCK_DIR");
    if (sock != nullptr) {
      args.push_back("-k");
      args.push_back(sock);
    } else if (!cfg_.host.empty() && cfg_.host[0] == '/') {
      args.push_back("-k");
      args.push_back(cfg_.host);
    }
    std::string log = cfg_.pgdata + "/startup.log";
    try {
      FILE* f = std::fopen(log.c_str(), "a");
      if (f == nullptr) {
        return make_error(ErrorCode::Pgctl, "could not open \"" + log + "\"");
      }
      child_ = std::make_unique<bp::child>(cfg_.bindir() + "/postgres", bp::args(args),
                                           bp::std_in<bp::null, bp::std_out> f, bp::std_err > f,
                                           DieWithParent(SIGQUIT));
      std::fclose(f);
      spdlog::info("Postgres is now serving PGDATA \"{}\" on port {} with pid {}", cfg_.pgdata,
                   cfg_.port, child_->id());
    } catch (const std::exception& e) {
      return make_error(ErrorCode::Pgctl, std::string("could not start postgres: ") + e.what());
    }
    return Status::Ok();
  }

  /* SIGINT = fast, SIGQUIT = immediate; bounded, then SIGKILL. */
  void stop(int sig, TimeMs timeout_ms) {
    SystemClock clock;
    pid_t pid = -1;
    if (child_ && child_->running()) {
      pid = child_->id();
    } else {
      long p = running_postmaster_pid(cfg_.pgdata);
      if (p > 0) pid = static_cast<pid_t>(p);
    }
    if (pid <= 0) return;
    spdlog::info("stopping postgres (pid {}) with {}", pid, strsignal(sig));
    ::kill(pid, sig);
    TimeMs deadline = clock.now_ms() + timeout_ms;
    while (running()) {
      if (clock.now_ms() > deadline) {
        if (sig != SIGKILL) {
          sig = sig == SIGINT ? SIGQUIT : SIGKILL;
          ::kill(pid, sig);
          deadline = clock.now_ms() + cfg_.settings.stop_escalation_ms;
        }
      }
      clock.sleep_ms(20);
    }
  }

 private:
  Config cfg_;
  std::unique_ptr<bp::child> child_;
};

/* The controller: one step every ~20 ms makes the postmaster match pg_autoctl.pg, restarting
 * a Postgres that died (100 ms backoff growing to 1 s). */
class Controller {
 public:
  Controller(const Config& cfg, std::string expected_path)
      : pm_(cfg),
        expected_path_(std::move(expected_path)),
        stop_timeout_ms_(cfg.settings.postgres_stop_timeout_ms) {}

  void step() {
    PgExpected e = read_expected_status(expected_path_);
    bool running = pm_.running();
    TimeMs now = clock_.now_ms();
    if (e == PgExpected::Running) {
      if (!running) {
        if (was_running_) {
          failures_++;
          next_start_ = now + std::min<TimeMs>(1000, 100 * (failures_ - 1));
          was_running_ = false;
        }
        if (now >= next_start_) {
          Status s = pm_.start();
          if (!s) spdlog::error("{}", s.error().to_string());
          was_running_ = true;
          next_start_ = now + std::min<TimeMs>(1000, 100 * (failures_ + 1));
        }
      } else {
        if (now > next_start_ + 5000) failures_ = 0; /* it ran for a while */
        was_running_ = true;
      }
    } else if (e == PgExpected::Stopped) {
      if (running) pm_.stop(SIGINT, stop_timeout_ms_);
      was_running_ = false;
      failures_ = 0;
    }
  }
  void stop(int sig) { pm_.stop(sig == SIGQUIT ? SIGQUIT : SIGINT, stop_timeout_ms_); }

 private:
  Postmaster pm_;
  std::string expected_path_;
  TimeMs stop_timeout_ms_;
  SystemClock clock_;
  TimeMs next_start_ = 0;
  int failures_ = 0;
  bool was_running_ = false;
};

}  // namespace

int run_postgres_controller(const Config& cfg) {
  install_signal_handlers();
  auto paths = paths_for(cfg.pgdata);
  if (!paths) return exit_code(paths.error().code);
  Controller ctl(cfg, paths->pg_expected);
  SystemClock clock;
  while (g_signal == 0) {
    ctl.step();
    clock.sleep_ms(20);
  }
  ctl.stop(g_signal);
  return 0;
}

int run_monitor_listener(const Config& cfg) {
  install_signal_handlers();
  listen_and_log(cfg, [] { return g_signal != 0; });
  return 0;
}

int run_supervisor(const Config& cfg, int verbosity, bool postgres_only) {
  auto paths = paths_for(cfg.pgdata);
  if (!paths) {
    spdlog::error("{}", paths.error().to_string());
    return exit_code(paths.error().code);
  }
  long other = read_supervisor_pid(paths->pid);
  if (other > 0 && other != getpid()) {
    spdlog::error("pg_autoctl is already running for \"{}\" with pid {}", cfg.pgdata, other);
    return exit_code(ErrorCode::BadState);
  }
  install_signal_handlers();
  SystemClock ops_clock;
  std::unique_ptr<MonitorOps> monitor_ops;
  if (cfg.role == Role::Keeper && !cfg.http_listen.empty()) {
    /* the node-active service serves it: prove now that it can (issue 11: clear error at start) */
    auto a = parse_listen_address(cfg.http_listen);
    Status ok = a ? check_listen_available(*a) : Status(a.error());
    if (!ok) {
      spdlog::error("{}", ok.error().to_string());
      return exit_code(ErrorCode::BadConfig);
    }
  } else if (cfg.role == Role::Monitor) {
    monitor_ops = std::make_unique<MonitorOps>(cfg, ops_clock);
    if (Status h = monitor_ops->start_http(); !h) {
      spdlog::error("{}", h.error().to_string());
      return exit_code(ErrorCode::BadConfig);
    }
  }
  std::error_code ec;
  if (cfg.role == Role::Keeper) {
    /* Never start Postgres before node-active heard from the monitor (fencing). */
    fs::remove(paths->pg_expected, ec);
  } else {
    Status w = write_expected_status(paths->pg_expected, PgExpected::Running);
    if (!w) {
      spdlog::error("{}", w.error().to_string());
      return exit_code(w.error().code);
    }
  }
  std::vector<Service> services;
  auto base = [&](const std::string& name) {
    std::vector<std::string> a = {"do", "service", name, "--pgdata", cfg.pgdata};
    for (auto& v : verbosity_args(verbosity)) a.push_back(v);
    return a;
  };
  /* The Postgres controller runs in this process (fewer processes, less memory); the keeper
   * loop runs as a child service. */
  Controller controller(cfg, paths->pg_expected);
  if (postgres_only) {
    /* do service pgcontroller: Postgres follows pg_autoctl.pg (do pgctl on|off), nothing else */
  } else if (cfg.role == Role::Keeper) {
    services.push_back(Service{"node-active", base("node-active"), nullptr, {}});
  } else {
    services.push_back(Service{"listener", base("listener"), nullptr, {}});
  }
  for (auto& s : services) {
    if (Status st = start_service(s); !st) {
      spdlog::error("{}", st.error().to_string());
      return exit_code(st.error().code);
    }
  }
  if (Status w = write_pid_file(paths->pid, cfg, services); !w) {
    spdlog::error("{}", w.error().to_string());
    return exit_code(w.error().code);
  }
  spdlog::info("pg_autoctl supervisor started for \"{}\" (pid {})", cfg.pgdata, getpid());
  SystemClock clock;
  int result = 0;
  bool stopping = false;
  int stop_sig = SIGTERM;
  TimeMs stop_deadline = 0;
  while (true) {
    if (g_reload) {
      g_reload = 0;
      spdlog::info("reloading: forwarding SIGHUP to the services");
      for (auto& s : services) {
        if (s.child && s.child->running()) ::kill(s.child->id(), SIGHUP);
      }
    }
    if (!stopping && g_signal != 0) {
      stop_sig = g_signal;
      stopping = true;
      stop_deadline = clock.now_ms() + cfg.settings.service_stop_timeout_ms;
      spdlog::info("stop requested ({}): stopping the services", strsignal(stop_sig));
      sd_notify_stopping();
      /* node-active first, so it does not react to Postgres stopping */
      for (auto it = services.rbegin(); it != services.rend(); ++it) {
        if (it->child && it->child->running()) ::kill(it->child->id(), stop_sig);
      }
    }
    bool any_running = false;
    for (auto& s : services) {
      if (!s.child) continue;
      if (s.child->running()) {
        any_running = true;
        continue;
      }
      s.child->wait();
      int code = s.child->exit_code();
      s.child.reset();
      if (stopping) continue;
      if (code == exit_code(ErrorCode::Dropped)) {
        spdlog::info("the {} service reports this node was dropped: stopping", s.name);
        stopping = true;
        stop_sig = SIGTERM;
        stop_deadline = clock.now_ms() + cfg.settings.service_stop_timeout_ms;
        result = code;
        for (auto& o : services)
          if (o.child && o.child->running()) ::kill(o.child->id(), SIGTERM);
        continue;
      }
      if (code == exit_code(ErrorCode::Fatal)) {
        spdlog::error("the {} service failed fatally: stopping", s.name);
        stopping = true;
        stop_sig = SIGTERM;
        stop_deadline = clock.now_ms() + cfg.settings.service_stop_timeout_ms;
        result = code;
        for (auto& o : services)
          if (o.child && o.child->running()) ::kill(o.child->id(), SIGTERM);
        continue;
      }
      TimeMs now = clock.now_ms();
      std::erase_if(s.restarts, [&](TimeMs t) { return now - t > 300000; });
      if (s.restarts.size() >= 5) {
        spdlog::error("the {} service failed 5 times in 300 s: stopping", s.name);
        stopping = true;
        stop_deadline = now + cfg.settings.service_stop_timeout_ms;
        result = exit_code(ErrorCode::Internal);
        for (auto& o : services)
          if (o.child && o.child->running()) ::kill(o.child->id(), SIGTERM);
        continue;
      }
      s.restarts.push_back(now);
      spdlog::warn("the {} service exited with code {}: restarting it", s.name, code);
      if (Status st = start_service(s); !st) spdlog::error("{}", st.error().to_string());
      (void)write_pid_file(paths->pid, cfg, services);
      any_running = true;
    }
    if (!stopping) controller.step();
    if (monitor_ops && !stopping) monitor_ops->on_loop(running_postmaster_pid(cfg.pgdata) > 0);
    if (stopping && !any_running) break;
    if (stopping && clock.now_ms() > stop_deadline) {
      spdlog::warn("services did not stop in time: killing them");
      for (auto& s : services)
        if (s.child && s.child->running()) ::kill(s.child->id(), SIGKILL);
      stop_deadline = clock.now_ms() + cfg.settings.stop_escalation_ms;
    }
    clock.sleep_ms(20);
  }
  controller.stop(stop_sig);
  fs::remove(paths->pid, ec);
  spdlog::info("pg_autoctl stopped");
  return result;
}

/* ---------------- node-active ---------------- */

int run_node_active(const Config& cfg) {
  install_signal_handlers();
  auto paths = paths_for(cfg.pgdata);
  if (!paths) return exit_code(paths.error().code);
  auto state = KeeperState::load(paths->state);
  if (!state) {
    spdlog::error("{}", state.error().to_string());
    return exit_code(ErrorCode::Fatal);
  }
  SystemClock clock;
  auto runner = make_process_runner();
  auto pg = make_postgres_control(cfg, clock, *runner);
  auto pg_guard = make_postgres_control(cfg, clock, *runner);
  /* disable|enable monitor change the target at a reload (monitor_swap.hpp) */
  auto monitor = std::make_unique<SwitchableMonitorClient>(
      monitor_disabled(cfg.monitor) ? nullptr : make_monitor_client(cfg.monitor, cfg.settings));
  FenceGuard guard(cfg.settings, clock, *pg_guard);
  if (const char* off = std::getenv("PGAF_TEST_DISABLE_FENCING");
      off != nullptr && std::string(off) == "1")
    guard.disable_fencing_for_tests();
  std::string state_path = paths->state;
  Keeper keeper(cfg, *state, clock, *pg, *monitor, guard,
                [state_path](const KeeperState& s) { return s.save(state_path); });
  /* HTTP endpoint, hooks, systemd (ops.hpp): fed by the loop, never blocking it */
  NodeOps ops(cfg, *state, clock);
  if (Status h = ops.start_http(); !h) {
    spdlog::error("{}", h.error().to_string());
    return exit_code(ErrorCode::Fatal);
  }
  keeper.set_monitor_switch([&monitor, &cfg, state_path](const std::string& uri) {
    auto fresh = KeeperState::load(state_path);
    if (!fresh) return fresh;
    monitor->set_target(monitor_disabled(uri) ? nullptr : make_monitor_client(uri, cfg.settings));
    return fresh;
  });
  keeper.set_tick_observer([&ops](const KeeperTick& t) { ops.on_tick(t); });
  keeper.set_step_observer([&ops](KeeperStep) { ops.on_step(); });
  std::atomic<bool> stop{false};
  std::thread fence([&] {
    while (!stop.load()) {
      guard.tick();
      ops.on_fence_tick(guard.expires_at(), guard.armed(), guard.fenced());
      clock.sleep_ms(50);
    }
  });
  std::thread sig_watch([&] {
    while (!stop.load()) {
      if (g_signal != 0) {
        request_stop();
        stop.store(true);
      }
      if (g_reload) {
        g_reload = 0;
        auto fresh = load_config_for(cfg.pgdata);
        if (fresh) {
          keeper.request_reload(*fresh);
        } else {
          spdlog::error("reload: keeping the current configuration: {}", fresh.error().to_string());
        }
      }
      ops.poll_watchdog();
      clock.sleep_ms(20);
    }
  });
  spdlog::info("node-active service started for node {} in state \"{}\"", state->node_id,
               to_string(state->current_role));
  int rc = keeper.run(stop);
  stop.store(true);
  fence.join();
  sig_watch.join();
  return rc;
}

/* ---------------- create monitor ---------------- */

std::int64_t read_system_identifier(const Config& cfg) {
  if (!file_exists(cfg.pgdata + "/PG_VERSION")) return 0;
  auto runner = make_process_runner();
  ProcessSpec spec;
  spec.program = cfg.bindir() + "/pg_controldata";
  spec.args = {cfg.pgdata};
  spec.env_set["LC_ALL"] = "C";
  spec.timeout_ms = cfg.settings.pg_controldata_timeout_ms;
  auto r = runner->run(spec);
  if (r.exit_code != 0) return 0;
  auto pos = r.output.find("Database system identifier:");
  if (pos == std::string::npos) return 0;
  return std::strtoll(r.output.c_str() + pos + 27, nullptr, 10);
}

Status create_monitor(const Config& cfg) {
  auto runner = make_process_runner();
  SystemClock clock;
  if (running_postmaster_pid(cfg.pgdata) > 0) {
    return make_error(ErrorCode::BadState, "PostgreSQL is running in \"" + cfg.pgdata + "\"",
                      "stop it first: pg_autoctl create monitor adopts only a stopped PGDATA");
  }
  if (!file_exists(cfg.pgdata + "/PG_VERSION")) {
    ProcessSpec spec;
    spec.program = cfg.bindir() + "/initdb";
    spec.args = {"-D", cfg.pgdata, "-U", cfg.username, "-E", "UTF8", "--locale=C"};
    if (std::getenv("PG_REGRESS_SOCK_DIR") != nullptr) spec.args.push_back("--no-sync");
    spec.timeout_ms = cfg.settings.initdb_timeout_ms;
    auto r = runner->run(spec);
    if (r.exit_code != 0) {
      return make_error(ErrorCode::Pgctl, "initdb failed for \"" + cfg.pgdata + "\"", {}, r.output);
    }
    /* with SSL on, initdb's TCP lines too accept only TLS connections */
    if (cfg.ssl_active && cfg.hba_level != "skip") {
      if (Status s = hba_file_require_ssl(cfg.pgdata + "/pg_hba.conf"); !s) return s;
    }
  }
  if (Status s = write_managed_config_files(cfg); !s) return s;
  if (cfg.hba_level != "skip") {
    auto hba = read_file(cfg.pgdata + "/pg_hba.conf");
    if (!hba) return hba.error();
    std::string t = *hba;
    std::vector<std::string> addrs = {"127.0.0.1/32"};
    if (!cfg.hostname.empty() && cfg.hostname != "127.0.0.1" && cfg.hostname != "localhost") {
      /* the nodes of the monitor's own network (the reference's pghba_enable_lan_cidr) */
      auto cidr = lan_cidr_of(cfg.hostname);
      if (cidr) {
        addrs.push_back(*cidr);
      } else {
        bool ipv4 = cfg.hostname.find_first_not_of("0123456789.") == std::string::npos;
        addrs.push_back(ipv4 ? cfg.hostname + "/24" : cfg.hostname);
      }
    }
    for (auto& a : addrs) {
      std::string line = std::string(cfg.ssl_active ? "hostssl" : "host") +
                         " pg_auto_failover autoctl_node " + a + " " + cfg.auth_method +
                         " # Auto-generated by pg_auto_failover\n";
      if (t.find(line) == std::string::npos) t += line;
    }
    if (Status w = atomic_write_file(cfg.pgdata + "/pg_hba.conf", t, 0600); !w) return w;
  }
  /* Start a temporary server for the SQL setup. */
  std::string sock =
      std::getenv("PG_REGRESS_SOCK_DIR") != nullptr
          ? std::string(std::getenv("PG_REGRESS_SOCK_DIR"))
          : (cfg.host.empty() || cfg.host[0] != '/' ? default_socket_dir() : cfg.host);
  /* pg_ctl -t is whole seconds; its process gets 10 s more to report */
  const std::string pg_ctl_seconds =
      std::to_string(Settings::connect_timeout_seconds(cfg.settings.pg_ctl_timeout_ms));
  const TimeMs pg_ctl_process_timeout_ms = cfg.settings.pg_ctl_timeout_ms + 10000;
  ProcessSpec start;
  start.program = cfg.pg_ctl;
  start.args = {"-D",
                cfg.pgdata,
                "-w",
                "-t",
                pg_ctl_seconds,
                "-l",
                cfg.pgdata + "/startup.log",
                "-o",
                "-p " + std::to_string(cfg.port) + " -k '" + sock + "'",
                "start"};
  start.timeout_ms = pg_ctl_process_timeout_ms;
  /* bounded retry: the port may be briefly held (e.g. by an ephemeral client socket) */
  ProcessResult r;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    r = runner->run(start);
    if (r.exit_code == 0) break;
    spdlog::warn("could not start the monitor's PostgreSQL (attempt {} of 3)", attempt);
    clock.sleep_ms(1000);
  }
  if (r.exit_code != 0) {
    auto log = read_file(cfg.pgdata + "/startup.log");
    return make_error(ErrorCode::Pgctl, "could not start the monitor's PostgreSQL", {},
                      r.output + (log ? *log : ""));
  }
  Status result = Status::Ok();
  try {
    std::string base =
        "port=" + std::to_string(cfg.port) +
        " host=" + (sock.empty() ? std::string("127.0.0.1") : sock) + " user=" + cfg.username +
        " connect_timeout=" +
        std::to_string(Settings::connect_timeout_seconds(cfg.settings.local_connect_timeout_ms));
    {
      pqxx::connection c(base + " dbname=postgres");
      pqxx::nontransaction tx(c);
      tx.exec(
          "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'autoctl') THEN "
          "CREATE ROLE autoctl WITH LOGIN CREATEDB; END IF; END $$");
      auto db = tx.exec("SELECT 1 FROM pg_database WHERE datname = 'pg_auto_failover'");
      if (db.empty()) tx.exec("CREATE DATABASE pg_auto_failover OWNER autoctl");
    }
    {
      pqxx::connection c(base + " dbname=pg_auto_failover");
      pqxx::nontransaction tx(c);
      tx.exec("CREATE EXTENSION IF NOT EXISTS pgautofailover CASCADE");
    }
  } catch (const std::exception& e) {
    std::string msg = e.what();
    ErrorCode code = msg.find("pgautofailover") != std::string::npos &&
                             msg.find("not available") != std::string::npos
                         ? ErrorCode::ExtensionMissing
                         : ErrorCode::Pgsql;
    result = make_error(code, "could not set up the monitor database: " + msg,
                        "is the pgautofailover extension installed?");
  }
  ProcessSpec stop;
  stop.program = cfg.pg_ctl;
  stop.args = {"-D", cfg.pgdata, "-w", "-t", pg_ctl_seconds, "-m", "fast", "stop"};
  stop.timeout_ms = pg_ctl_process_timeout_ms;
  (void)runner->run(stop);
  return result;
}

}  // namespace pgaf::agent
