/*
 * agent_lab.cpp — see agent_lab.hpp.
 */
#include "agent_lab.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#ifndef PG_AUTOCTL_BIN
#error "PG_AUTOCTL_BIN must be defined"
#endif

namespace fs = std::filesystem;

namespace pgaf::agent_it {

namespace {
using SteadyClock = std::chrono::steady_clock;
long ms_since(SteadyClock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t).count());
}
void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}
}  // namespace

AgentLab::AgentLab(int base_port) : base_port_(base_port) {
  char tmpl[] = "/tmp/pgaf-agent-it-XXXXXX";
  char* d = mkdtemp(tmpl);
  if (d == nullptr) throw pgaf::test::FixtureError("mkdtemp failed");
  dir_ = d;
  std::random_device rd;
  std::ostringstream t;
  t << "agent-it-" << std::hex << rd() << rd();
  token_ = t.str();
  auto id = pgaf::test::postgres_identity();
  for (const char* sub : {"", "/home", "/run", "/sock"}) {
    std::string p = dir_ + sub;
    fs::create_directories(p);
    if (::chown(p.c_str(), id.uid, id.gid) != 0) {
      throw pgaf::test::FixtureError("chown " + p + " failed");
    }
    ::chmod(p.c_str(), 0755);
  }
}

AgentLab::~AgentLab() {
  if (!torn_down_) (void)teardown();
  if (std::getenv("AGENT_IT_KEEP") != nullptr) {
    std::fprintf(stderr, "AGENT_IT_KEEP: kept %s\n", dir_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string AgentLab::monitor_uri() const {
  return "postgres://autoctl_node@127.0.0.1:" + std::to_string(base_port_) + "/pg_auto_failover?" +
         uri_ssl_;
}

std::map<std::string, std::string> AgentLab::env() const {
  return {{"HOME", dir_ + "/home"},
          {"XDG_RUNTIME_DIR", dir_ + "/run"},
          {"PG_REGRESS_SOCK_DIR", dir_ + "/sock"},
          {"PGAF_TEST_FIXTURE", token_},
          {"PATH", "/usr/bin:/bin"},
          {"LC_ALL", "C"}};
}

/* The postgres user runs pg_autoctl: the build tree may not be reachable for it (a clone in a
 * `mktemp -d` directory is 0700), so the built binary runs from a copy in a 0755 directory of
 * this process, as the lab does. PGAF_PG_AUTOCTL (another pg_autoctl) is used as it is. */
std::string pg_autoctl_bin() {
  const char* e = std::getenv("PGAF_PG_AUTOCTL");
  if (e != nullptr && *e != '\0') return std::string(e);
  static const std::string copy = [] {
    namespace fs = std::filesystem;
    const std::string dir = "/tmp/pgaf-agent-it-bin-" + std::to_string(::getpid());
    std::error_code ec;
    fs::create_directories(dir, ec);
    const std::string bin = dir + "/pg_autoctl";
    if (!ec) fs::copy_file(PG_AUTOCTL_BIN, bin, fs::copy_options::overwrite_existing, ec);
    if (ec) return std::string(PG_AUTOCTL_BIN);
    (void)::chmod(dir.c_str(), 0755);
    (void)::chmod(bin.c_str(), 0755);
    return bin;
  }();
  return copy;
}

pgaf::test::CommandResult AgentLab::ctl(const std::vector<std::string>& args, int timeout_ms) {
  std::vector<std::string> argv = {pg_autoctl_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return pgaf::test::run_command(argv, env(), timeout_ms, true);
}

pid_t AgentLab::spawn(const std::string& name, const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& extra_env) {
  std::vector<std::string> argv = {pg_autoctl_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> envs;
  auto all = env();
  for (auto& [k, v] : extra_env) all[k] = v;
  for (auto& [k, v] : all) envs.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  std::string logpath = dir_ + "/" + name + ".log";
  int fd = ::open(logpath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw pgaf::test::FixtureError("open " + logpath);
  auto id = pgaf::test::postgres_identity();
  pid_t pid = ::fork();
  if (pid < 0) throw pgaf::test::FixtureError("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (::chdir(dir_.c_str()) != 0) _exit(126);
    if (id.drop) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(id.gid) != 0 || ::setuid(id.uid) != 0) {
        _exit(125);
      }
    }
    ::execve(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  ::setpgid(pid, pid);
  ::close(fd);
  groups_.push_back(pid);
  return pid;
}

void AgentLab::kill_group(pid_t pgid, int sig) {
  ::kill(-pgid, sig);
}

bool AgentLab::wait_exit(pid_t pid, int timeout_ms, int* status) {
  auto t0 = SteadyClock::now();
  while (ms_since(t0) < timeout_ms) {
    int st = 0;
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
      if (status != nullptr) *status = st;
      return true;
    }
    sleep_ms(20);
  }
  return false;
}

void AgentLab::start_monitor(const std::vector<std::string>& extra) {
  std::string port = std::to_string(base_port_);
  /* loopback only; and a port held by someone's ephemeral socket then makes Postgres exit
   * (and be retried) instead of silently listening on IPv6 only */
  std::vector<std::string> create = {"create",   "monitor",   "--pgdata",   pgdata("monitor"),
                                     "--pgport", port,        "--hostname", "127.0.0.1",
                                     "--listen", "127.0.0.1", "--auth",     "trust"};
  create.insert(create.end(), ssl_args_.begin(), ssl_args_.end());
  create.insert(create.end(), extra.begin(), extra.end());
  auto r = ctl(create, 120000);
  if (r.exit_code != 0) {
    throw pgaf::test::FixtureError("create monitor failed: " + r.output);
  }
  spawn("monitor", {"run", "--pgdata", pgdata("monitor")});
  auto t0 = SteadyClock::now();
  std::string last_error;
  while (ms_since(t0) < 30000) {
    try {
      pgaf::test::PgConnection c(conninfo(base_port_, "pg_auto_failover") + " user=autoctl_node");
      c.query("SELECT count(*) FROM pgautofailover.node");
      return;
    } catch (const std::exception& e) {
      last_error = e.what();
      sleep_ms(50);
    }
  }
  std::ifstream in(pgdata("monitor") + "/startup.log");
  std::ostringstream pglog;
  pglog << in.rdbuf();
  std::string tail = pglog.str();
  if (tail.size() > 3000) tail = tail.substr(tail.size() - 3000);
  throw pgaf::test::FixtureError("the monitor did not answer within 30 s: " + last_error + "\n" +
                                 log("monitor") + "\nstartup.log:\n" + tail);
}

pid_t AgentLab::start_node(const std::string& name, int index,
                           const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"create",     "postgres",  "--pgdata",
                                   pgdata(name), "--pgport",  std::to_string(node_port(index)),
                                   "--hostname", "127.0.0.1", "--name",
                                   name,         "--monitor", monitor_uri(),
                                   "--auth",     "trust",     "--run"};
  args.insert(args.end(), ssl_args_.begin(), ssl_args_.end());
  args.push_back("--listen");
  args.push_back("127.0.0.1");
  args.insert(args.end(), extra.begin(), extra.end());
  return spawn(name, args);
}

pid_t AgentLab::run_node(const std::string& name) {
  return spawn(name, {"run", "--pgdata", pgdata(name)});
}

std::string AgentLab::conninfo(int port, const std::string& db) const {
  return "host=127.0.0.1 port=" + std::to_string(port) + " dbname=" + db + " connect_timeout=2";
}

std::string AgentLab::rw_conninfo(const std::vector<int>& ports) const {
  std::string hosts, ps;
  for (int p : ports) {
    hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1");
    ps += (ps.empty() ? "" : ",") + std::to_string(p);
  }
  return "host=" + hosts + " port=" + ps +
         " dbname=postgres user=postgres connect_timeout=2 target_session_attrs=read-write";
}

std::vector<NodeRow> AgentLab::nodes() {
  std::vector<NodeRow> out;
  try {
    pgaf::test::PgConnection c(conninfo(base_port_, "pg_auto_failover") + " user=autoctl_node");
    auto rows = c.query(
        "SELECT nodeid, nodename, nodeport, reportedstate, goalstate FROM pgautofailover.node "
        "ORDER BY nodeid");
    for (auto& r : rows) {
      NodeRow n;
      n.id = std::atol(r[0].c_str());
      n.name = r[1];
      n.port = std::atoi(r[2].c_str());
      n.reported = r[3];
      n.goal = r[4];
      out.push_back(n);
    }
  } catch (const std::exception&) {
  }
  return out;
}

long AgentLab::wait_states(const std::map<std::string, std::string>& want, int timeout_ms) {
  auto t0 = SteadyClock::now();
  while (ms_since(t0) < timeout_ms) {
    auto ns = nodes();
    size_t ok = 0;
    for (auto& [name, st] : want) {
      for (auto& n : ns) {
        if (n.name == name && n.reported == st && n.goal == st) ++ok;
      }
    }
    if (ok == want.size()) return ms_since(t0);
    sleep_ms(50);
  }
  return -1;
}

std::string AgentLab::state_dump() {
  std::string s;
  for (auto& n : nodes()) {
    s += std::to_string(n.id) + " " + n.name + " :" + std::to_string(n.port) + " " + n.reported +
         " -> " + n.goal + "\n";
  }
  return s;
}

std::string AgentLab::log(const std::string& name) const {
  std::ifstream in(dir_ + "/" + name + ".log");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  return t.size() > 6000 ? t.substr(t.size() - 6000) : t;
}

std::vector<pid_t> AgentLab::teardown() {
  torn_down_ = true;
  for (pid_t g : groups_) kill_group(g, SIGTERM);
  for (pid_t g : groups_) {
    if (!wait_exit(g, 30000)) {
      kill_group(g, SIGKILL);
      wait_exit(g, 5000);
    }
  }
  /* Postgres backends exit on their own once the postmaster is gone: allow a bounded wait. */
  std::vector<pid_t> left;
  auto t0 = SteadyClock::now();
  do {
    left = pgaf::test::surviving_processes(token_);
    if (left.empty()) break;
    sleep_ms(100);
  } while (ms_since(t0) < 10000);
  for (pid_t p : left) ::kill(p, SIGKILL);
  groups_.clear();
  return left;
}

/* ---------------- Writer ---------------- */

Writer::Writer(std::string conninfo, std::string table)
    : conninfo_(std::move(conninfo)), table_(std::move(table)) {}

Writer::~Writer() {
  stop();
}

void Writer::start() {
  thread_ = std::thread([this] { loop(); });
}

void Writer::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

std::vector<long> Writer::acked() {
  std::lock_guard<std::mutex> l(mu_);
  return acked_;
}

long Writer::max_gap_ms() {
  std::lock_guard<std::mutex> l(mu_);
  return max_gap_ms_;
}

void Writer::loop() {
  long next = 1;
  auto last_ok = SteadyClock::now();
  std::optional<pgaf::test::PgConnection> conn;
  while (!stop_.load()) {
    try {
      if (!conn) conn.emplace(conninfo_);
      auto r = conn->try_query("INSERT INTO " + table_ + " VALUES (" + std::to_string(next) + ")");
      if (!r.ok) throw std::runtime_error(r.message);
      bool unsure = false;
      for (auto& n : r.notices) unsure = unsure || n.find("replicated") != std::string::npos;
      if (unsure) { /* committed locally only: not an acknowledged replicated write */
        ++next;
        continue;
      }
      auto now = SteadyClock::now();
      std::lock_guard<std::mutex> l(mu_);
      acked_.push_back(next);
      long gap = static_cast<long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(now - last_ok).count());
      if (gap > max_gap_ms_) max_gap_ms_ = gap;
      last_ok = now;
      ++next;
    } catch (const std::exception&) {
      errors_.fetch_add(1);
      conn.reset();
      ++next; /* the outcome of that id is unknown: never reuse it */
      sleep_ms(20);
    }
  }
}

}  // namespace pgaf::agent_it
