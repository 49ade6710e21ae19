/*
 * pg_cluster.cpp — implementation of the shared PostgreSQL test fixture (see pg_cluster.hpp).
 *
 * Processes: fork + (setgroups, setgid, setuid when root) + execve, with everything the child needs
 * (argv, envp, group list) prepared before fork so the child only calls async-signal-safe
 * functions. Each child gets its own process group (setpgid) so a timed-out tool is killed with
 * its children. Invariants: every wait is bounded; the destructor leaves no process carrying our
 * token and no directory behind.
 */
#include "pgaf/test/pg_cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;

namespace pgaf::test {

namespace {

using Clock = std::chrono::steady_clock;

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

std::string random_token() {
  std::random_device rd;
  std::ostringstream o;
  o << std::hex << rd() << rd();
  return o.str();
}

/* Everything a child needs, built before fork. */
struct SpawnPlan {
  std::vector<std::string> argv;
  std::vector<std::string> envv;
  std::string cwd;
  int out_fd = -1; /* stdout+stderr target, or -1 for /dev/null */
  RunAs as{};
};

std::vector<std::string> base_env(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env = {
      {"PATH", pg_bindir() + ":/usr/local/bin:/usr/bin:/bin"},
      {"LANG", "C.UTF-8"},
      {"LC_ALL", "C.UTF-8"},
  };
  if (const char* tz = std::getenv("TZ")) env["TZ"] = tz;
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

/* fork + exec; returns the child's pid. The child is a process-group leader. */
pid_t spawn(const SpawnPlan& plan) {
  std::vector<char*> argv;
  for (const auto& a : plan.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : plan.envv) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  std::vector<gid_t> groups;
  if (plan.as.drop) {
    struct passwd* pw = getpwuid(plan.as.uid);
    int n = 32;
    groups.resize(static_cast<std::size_t>(n));
    if (pw != nullptr &&
        getgrouplist(pw->pw_name, plan.as.gid, groups.data(), &n) < 0) {
      groups.resize(static_cast<std::size_t>(n));
      getgrouplist(pw->pw_name, plan.as.gid, groups.data(), &n);
    }
    groups.resize(pw != nullptr ? static_cast<std::size_t>(n) : 0);
    if (groups.empty()) groups.push_back(plan.as.gid);
  }
  const char* cwd = plan.cwd.empty() ? "/" : plan.cwd.c_str();
  int devnull = plan.out_fd < 0 ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;

  pid_t pid = fork();
  if (pid < 0) {
    if (devnull >= 0) close(devnull);
    throw FixtureError(errno_text("fork failed"));
  }
  if (pid == 0) {
    setpgid(0, 0);
    int out = plan.out_fd >= 0 ? plan.out_fd : devnull;
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0) dup2(in, 0);
    if (out >= 0) {
      dup2(out, 1);
      dup2(out, 2);
    }
    syscall(SYS_close_range, 3U, ~0U, 0U);
    if (plan.as.drop) {
      if (setgroups(groups.size(), groups.data()) != 0 || setgid(plan.as.gid) != 0 ||
          setuid(plan.as.uid) != 0) {
        const char msg[] = "pgaf fixture: cannot drop privileges\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(126);
      }
    }
    if (chdir(cwd) != 0) _exit(126);
    signal(SIGPIPE, SIG_DFL);
    execve(argv[0], argv.data(), envp.data());
    const char msg[] = "pgaf fixture: exec failed\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  if (devnull >= 0) close(devnull);
  return pid;
}

/* Reap pid within timeout_ms; returns true and sets status when it exited. */
bool wait_pid(pid_t pid, int timeout_ms, int* status) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true; /* not our child any more */
    if (Clock::now() >= deadline) return false;
    sleep_ms(5);
  }
}

/* Whole file (empty if unreadable), via read(2): also works for /proc files. */
std::string read_file(const std::string& path) {
  std::string s;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return s;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      s.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fd);
  return s;
}

std::string read_file_tail(const std::string& path, std::size_t max_bytes) {
  std::string s = read_file(path);
  if (s.size() > max_bytes) s = s.substr(s.size() - max_bytes);
  return s;
}

/* True when nothing listens on 127.0.0.1:port (we can bind it ourselves, with SO_REUSEADDR). */
bool port_free(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true; /* cannot tell: let postgres report it */
  /* as postgres does: connections of an earlier server in TIME_WAIT must not count */
  int one = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

/* postmaster.pid says `pid` runs this data directory and accepts connections (status "ready",
 * or "standby" for a hot standby). */
bool postmaster_ready(const std::string& data_dir, pid_t pid) {
  const std::string s = read_file(data_dir + "/postmaster.pid");
  if (s.empty()) return false;
  const std::size_t eol = s.find('\n');
  if (s.substr(0, eol) != std::to_string(pid)) return false;
  return s.find("\nready") != std::string::npos || s.find("\nstandby") != std::string::npos;
}

void chown_tree(const fs::path& p, const RunAs& as) {
  if (!as.drop) return;
  if (lchown(p.c_str(), as.uid, as.gid) != 0) throw FixtureError(errno_text("chown " + p.string()));
  if (fs::is_directory(p) && !fs::is_symlink(p)) {
    for (const auto& e : fs::recursive_directory_iterator(p)) {
      if (lchown(e.path().c_str(), as.uid, as.gid) != 0)
        throw FixtureError(errno_text("chown " + e.path().string()));
    }
  }
}

QueryResult collect(PGresult* res, PGconn* conn) {
  QueryResult out;
  if (res == nullptr) {
    out.ok = false;
    out.message = PQerrorMessage(conn);
    return out;
  }
  ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
    out.ok = false;
    const char* code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char* msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    out.sqlstate = code != nullptr ? code : "";
    out.message = msg != nullptr ? msg : PQresultErrorMessage(res);
    PQclear(res);
    return out;
  }
  int nf = PQnfields(res);
  for (int c = 0; c < nf; ++c) out.columns.emplace_back(PQfname(res, c));
  int nt = PQntuples(res);
  out.rows.reserve(static_cast<std::size_t>(nt));
  for (int r = 0; r < nt; ++r) {
    Row row;
    row.reserve(static_cast<std::size_t>(nf));
    for (int c = 0; c < nf; ++c) row.emplace_back(PQgetisnull(res, r, c) ? "" : PQgetvalue(res, r, c));
    out.rows.push_back(std::move(row));
  }
  PQclear(res);
  return out;
}

}  // namespace

/* ---- free functions ---- */

std::string pg_bindir() {
  if (const char* e = std::getenv("PGAF_PG_BINDIR")) return e;
  return "/usr/lib/postgresql/15/bin";
}

RunAs postgres_identity() {
  if (geteuid() != 0) return RunAs{geteuid(), getegid(), false};
  struct passwd* pw = getpwnam("postgres");
  if (pw == nullptr) throw FixtureError("user \"postgres\" does not exist");
  return RunAs{pw->pw_uid, pw->pw_gid, true};
}

CommandResult run_command(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env, int timeout_ms,
                          bool as_postgres) {
  if (argv.empty()) throw FixtureError("run_command: empty argv");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw FixtureError(errno_text("pipe failed"));
  SpawnPlan plan;
  plan.argv = argv;
  plan.envv = base_env(env);
  plan.out_fd = fds[1];
  plan.as = as_postgres ? postgres_identity() : RunAs{geteuid(), getegid(), false};
  plan.cwd = "/";
  pid_t pid;
  try {
    pid = spawn(plan);
  } catch (...) {
    close(fds[0]);
    close(fds[1]);
    throw;
  }
  close(fds[1]);

  CommandResult result;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  bool eof = false;
  char buf[4096];
  while (!eof) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    struct pollfd p{fds[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 100)));
    if (r > 0) {
      ssize_t n = read(fds[0], buf, sizeof buf);
      if (n > 0)
        result.output.append(buf, static_cast<std::size_t>(n));
      else if (n == 0 || errno != EINTR)
        eof = true;
    }
  }
  close(fds[0]);
  int status = 0;
  if (result.timed_out || !wait_pid(pid, std::max(0, static_cast<int>(
                                               std::chrono::duration_cast<std::chrono::milliseconds>(
                                                   deadline - Clock::now()).count())),
                                    &status)) {
    result.timed_out = true;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    wait_pid(pid, 5000, &status);
    result.exit_code = -1;
    return result;
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::vector<pid_t> surviving_processes(const std::string& token) {
  std::vector<pid_t> out;
  const std::string needle = "PGAF_TEST_FIXTURE=" + token;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string env = read_file((e.path() / "environ").string());
    std::size_t pos = 0;
    while (pos < env.size()) {
      std::size_t end = env.find('\0', pos);
      if (end == std::string::npos) end = env.size();
      if (env.compare(pos, end - pos, needle) == 0) {
        /* a zombie has an empty environ, so a match is a live process */
        out.push_back(static_cast<pid_t>(std::stol(name)));
        break;
      }
      pos = end + 1;
    }
  }
  return out;
}

/* ---- PgConnection ---- */

namespace {
void notice_receiver(void* arg, const PGresult* res) {
  auto* notices = static_cast<std::vector<std::string>*>(arg);
  const char* msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  notices->emplace_back(msg != nullptr ? msg : "");
}
}  // namespace

PgConnection::PgConnection(const std::string& conninfo)
    : notices_(std::make_unique<std::vector<std::string>>()) {
  conn_ = PQconnectdb(conninfo.c_str());
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory";
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
    throw PgError("08001", "connection failed (" + conninfo + "): " + msg);
  }
  PQsetNoticeReceiver(conn_, &notice_receiver, notices_.get());
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

PgConnection::PgConnection(PgConnection&& o) noexcept
    : conn_(o.conn_), notices_(std::move(o.notices_)) {
  o.conn_ = nullptr;
}

PgConnection& PgConnection::operator=(PgConnection&& o) noexcept {
  if (this != &o) {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = o.conn_;
    notices_ = std::move(o.notices_);
    o.conn_ = nullptr;
  }
  return *this;
}

QueryResult PgConnection::try_query(const std::string& sql) {
  if (conn_ == nullptr) throw PgError("08003", "connection is closed");
  notices_->clear();
  QueryResult r = collect(PQexec(conn_, sql.c_str()), conn_);
  r.notices = std::move(*notices_);
  notices_->clear();
  return r;
}

Rows PgConnection::query(const std::string& sql) {
  QueryResult r = try_query(sql);
  if (!r.ok) throw PgError(r.sqlstate, r.message + " [SQLSTATE " + r.sqlstate + "] in: " + sql);
  return std::move(r.rows);
}

std::string PgConnection::query_value(const std::string& sql) {
  Rows rows = query(sql);
  if (rows.empty() || rows.front().empty()) throw PgError("", "no row returned by: " + sql);
  return rows.front().front();
}

std::optional<Notification> PgConnection::wait_notification(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (PQconsumeInput(conn_) == 0) throw PgError("08006", PQerrorMessage(conn_));
    if (PGnotify* n = PQnotifies(conn_)) {
      Notification out{n->relname, n->extra, n->be_pid};
      PQfreemem(n);
      return out;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    struct pollfd p{PQsocket(conn_), POLLIN, 0};
    poll(&p, 1, static_cast<int>(left.count()));
  }
}

int PgConnection::backend_pid() const { return conn_ != nullptr ? PQbackendPID(conn_) : 0; }

/* ---- PgCluster ---- */

PgCluster::PgCluster(PgClusterOptions options) : options_(std::move(options)) {
  if (options_.port <= 0 || options_.port > 65535) throw FixtureError("PgCluster: port is required");
  token_ = random_token();
  std::string tmpl = "/tmp/" + options_.name + "-" + std::to_string(options_.port) + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw FixtureError(errno_text("mkdtemp failed"));
  dir_ = buf.data();
  try {
    RunAs as = postgres_identity();
    chmod(dir_.c_str(), 0700);
    chown_tree(dir_, as);
    initdb();
    if (options_.start) start();
  } catch (...) {
    stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw;
  }
}

PgCluster::~PgCluster() {
  try {
    stop();
  } catch (...) {
  }
  /* Last resort: anything still carrying our token (a backend orphaned by a SIGKILLed
   * postmaster, a tool a test forgot) is killed. */
  for (int round = 0; round < 100; ++round) {
    auto pids = surviving_processes(token_);
    if (pids.empty()) break;
    for (pid_t p : pids) kill(p, SIGKILL);
    sleep_ms(10);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void PgCluster::initdb() {
  CommandResult r = run_command({pg_bindir() + "/initdb", "-D", data_dir(), "-U", options_.superuser,
                                 "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"},
                                {{"PGAF_TEST_FIXTURE", token_}}, options_.initdb_timeout_ms);
  if (r.exit_code != 0)
    throw FixtureError("initdb failed (exit " + std::to_string(r.exit_code) +
                       (r.timed_out ? ", timed out" : "") + "):\n" + r.output);
  std::vector<std::string> conf = {
      "# pgaf test fixture",
      "port = " + std::to_string(options_.port),
      "listen_addresses = '127.0.0.1'",
      "unix_socket_directories = '" + dir_ + "'",
      "fsync = off",
      "synchronous_commit = off",
      "full_page_writes = off",
      "shared_buffers = 32MB",
      "max_connections = 60",
      "max_wal_senders = 10",
      "max_replication_slots = 10",
      "wal_level = replica",
      "log_min_messages = warning",
      "log_line_prefix = '%m [%p] '",
      "dynamic_shared_memory_type = posix",
  };
  conf.insert(conf.end(), options_.conf_lines.begin(), options_.conf_lines.end());
  append_conf(conf);
  if (!options_.hba_lines.empty()) {
    std::string hba_path = data_dir() + "/pg_hba.conf";
    std::string old = read_file_tail(hba_path, 1 << 20);
    std::ofstream f(hba_path, std::ios::trunc);
    for (const auto& l : options_.hba_lines) f << l << "\n";
    f << old;
  }
}

void PgCluster::append_conf(const std::vector<std::string>& lines) {
  std::ofstream f(data_dir() + "/postgresql.conf", std::ios::app);
  if (!f) throw FixtureError("cannot open postgresql.conf in " + data_dir());
  for (const auto& l : lines) f << l << "\n";
}

void PgCluster::start() {
  if (running()) return;
  if (!port_free(options_.port))
    throw FixtureError("port " + std::to_string(options_.port) +
                       " on 127.0.0.1 is already in use (another test or server?)");
  int log = open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) throw FixtureError(errno_text("cannot open " + log_path()));
  RunAs as = postgres_identity();
  if (as.drop && fchown(log, as.uid, as.gid) != 0) {
    close(log);
    throw FixtureError(errno_text("chown " + log_path()));
  }
  SpawnPlan plan;
  plan.argv = {pg_bindir() + "/postgres", "-D", data_dir()};
  plan.envv = base_env({{"PGAF_TEST_FIXTURE", token_}});
  plan.out_fd = log;
  plan.as = as;
  plan.cwd = dir_;
  try {
    postmaster_pid_ = spawn(plan);
  } catch (...) {
    close(log);
    throw;
  }
  close(log);
  wait_ready();
}

void PgCluster::wait_ready() {
  std::string ping = "host=127.0.0.1 port=" + std::to_string(options_.port) +
                     " dbname=postgres user=" + options_.superuser + " connect_timeout=2";
  auto deadline = Clock::now() + std::chrono::milliseconds(options_.start_timeout_ms);
  for (;;) {
    int status = 0;
    if (waitpid(postmaster_pid_, &status, WNOHANG) == postmaster_pid_) {
      postmaster_pid_ = -1;
      throw FixtureError("postgres exited during startup on port " + std::to_string(options_.port) +
                         "; log:\n" + log_tail());
    }
    /* ours, not some other server on the port: postmaster.pid names our child */
    if (postmaster_ready(data_dir(), postmaster_pid_) && PQping(ping.c_str()) == PQPING_OK)
      return;
    if (Clock::now() >= deadline) {
      stop();
      throw FixtureError("postgres did not accept connections within " +
                         std::to_string(options_.start_timeout_ms) + " ms; log:\n" + log_tail());
    }
    sleep_ms(20);
  }
}

bool PgCluster::wait_exit(int timeout_ms) {
  int status = 0;
  if (wait_pid(postmaster_pid_, timeout_ms, &status)) {
    postmaster_pid_ = -1;
    return true;
  }
  return false;
}

void PgCluster::stop() {
  if (!running()) return;
  kill(postmaster_pid_, SIGINT); /* fast shutdown */
  if (wait_exit(options_.stop_timeout_ms)) return;
  kill(postmaster_pid_, SIGQUIT); /* immediate shutdown */
  if (wait_exit(5000)) return;
  kill(postmaster_pid_, SIGKILL);
  wait_exit(5000);
  postmaster_pid_ = -1;
}

void PgCluster::restart() {
  stop();
  start();
}

void PgCluster::reload() {
  if (running()) kill(postmaster_pid_, SIGHUP);
}

std::string PgCluster::log_tail(std::size_t max_bytes) const {
  return read_file_tail(log_path(), max_bytes);
}

std::string PgCluster::conninfo(const std::string& dbname, const std::string& user) const {
  return "host=127.0.0.1 port=" + std::to_string(options_.port) + " dbname=" + dbname +
         " user=" + (user.empty() ? options_.superuser : user) + " connect_timeout=10";
}

PgConnection PgCluster::connect(const std::string& dbname, const std::string& user) {
  return PgConnection(conninfo(dbname, user));
}

QueryResult PgCluster::try_query(const std::string& sql, const std::string& dbname) {
  PgConnection c = connect(dbname);
  return c.try_query(sql);
}

Rows PgCluster::query(const std::string& sql, const std::string& dbname) {
  PgConnection c = connect(dbname);
  return c.query(sql);
}

std::string PgCluster::query_value(const std::string& sql, const std::string& dbname) {
  PgConnection c = connect(dbname);
  return c.query_value(sql);
}

}  // namespace pgaf::test
