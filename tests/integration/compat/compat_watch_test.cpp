/*
 * compat_watch_test.cpp — the reference's watching habits against pgaf, with real PostgreSQL 15
 * and the real monitor on 127.0.0.1: `pg_autoctl watch` in a pseudo-terminal (drawn, resized,
 * quit with q or Ctrl-C, exit 0), `show state|events --watch` in a pipe (reprinted on change,
 * SIGINT exits 0), `show state --local`, and golden files of `show events` (text and --json).
 *
 * Ports: 26200-26219. One formation (a monitor and node_1) serves every test of the suite.
 */
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "agent_lab.hpp"
#include "golden.hpp"

namespace pgaf::agent_it {
namespace {

using Clock = std::chrono::steady_clock;

long ms_since(Clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

/* pg_autoctl run as postgres with its output on a pseudo-terminal (TERM=xterm, rows x cols) or
 * on a pipe; every wait bounded. */
class Child {
 public:
  Child(AgentLab& lab, const std::vector<std::string>& args, bool pty, int rows = 0, int cols = 0) {
    std::vector<std::string> argv = {pg_autoctl_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto envmap = lab.env();
    envmap["TERM"] = "xterm";
    std::vector<std::string> envs;
    for (auto& [k, v] : envmap) envs.push_back(k + "=" + v);
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : envs) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    const auto id = pgaf::test::postgres_identity();
    int pipefd[2] = {-1, -1};
    if (pty) {
      winsize ws{};
      ws.ws_row = static_cast<unsigned short>(rows);
      ws.ws_col = static_cast<unsigned short>(cols);
      pid_ = ::forkpty(&fd_, nullptr, nullptr, &ws);
    } else {
      if (::pipe(pipefd) != 0) throw pgaf::test::FixtureError("pipe failed");
      pid_ = ::fork();
    }
    if (pid_ < 0) throw pgaf::test::FixtureError("fork failed");
    if (pid_ == 0) {
      if (!pty) {
        ::setpgid(0, 0);
        ::dup2(pipefd[1], 1);
        ::close(pipefd[0]);
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, 0);
      }
      if (id.drop &&
          (::setgroups(0, nullptr) != 0 || ::setgid(id.gid) != 0 || ::setuid(id.uid) != 0))
        _exit(125);
      ::execve(cargv[0], cargv.data(), cenv.data());
      _exit(127);
    }
    if (!pty) {
      ::close(pipefd[1]);
      fd_ = pipefd[0];
    }
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /* Read until done(output read since the last mark) holds, at most timeout_ms. */
  bool read_until(const std::function<bool(const std::string&)>& done, int timeout_ms) {
    const auto t0 = Clock::now();
    while (!done(out_.substr(mark_))) {
      const long left = timeout_ms - ms_since(t0);
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::min(left, 200L))) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return done(out_.substr(mark_)); /* closed: the child has gone */
      out_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  bool read_until_has(const std::string& what, int timeout_ms) {
    return read_until([&](const std::string& s) { return s.find(what) != std::string::npos; },
                      timeout_ms);
  }
  void mark() { mark_ = out_.size(); }
  std::string since_mark() const { return out_.substr(mark_); }
  const std::string& output() const { return out_; }
  void write(const std::string& s) { (void)!::write(fd_, s.data(), s.size()); }
  void resize(int rows, int cols) {
    winsize ws{};
    ws.ws_row = static_cast<unsigned short>(rows);
    ws.ws_col = static_cast<unsigned short>(cols);
    ::ioctl(fd_, TIOCSWINSZ, &ws); /* the kernel sends SIGWINCH to the child */
  }
  void signal(int sig) { ::kill(pid_, sig); }
  /* The exit code, or -1 when it did not exit within timeout_ms (or died of a signal). */
  int wait_exit(int timeout_ms) {
    const auto t0 = Clock::now();
    while (ms_since(t0) < timeout_ms) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        exited_ = true;
        /* drain what is left */
        (void)read_until([](const std::string&) { return false; }, 200);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      }
      char buf[4096];
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) {
        const ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n > 0) out_.append(buf, static_cast<std::size_t>(n));
      }
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool exited_ = false;
  std::string out_;
  std::size_t mark_ = 0;
};

/* show events output with what changes from run to run replaced: times, event ids, LSNs. The
 * text form keeps its column widths (the time is right-aligned in 30 characters). */
std::string normalized_events(const std::string& text) {
  static const std::regex time_text(
      R"(^ *\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}(:\d{2})?)");
  static const std::regex time_json(R"("eventtime": "[^"]*")");
  static const std::regex id_json(R"("eventid": \d+)");
  static const std::regex lsn(R"("reportedlsn": "[0-9A-F]+/[0-9A-F]+")");
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    line = std::regex_replace(line, time_text, std::string(24, ' ') + "<TIME>");
    line = std::regex_replace(line, time_json, "\"eventtime\": \"<TIME>\"");
    line = std::regex_replace(line, id_json, "\"eventid\": <ID>");
    line = std::regex_replace(line, lsn, "\"reportedlsn\": \"<LSN>\"");
    out += line + "\n";
  }
  return out;
}

using pgaf::compat::expect_golden_file;

class CompatWatch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    lab_ = std::make_unique<AgentLab>(26200);
    lab_->start_monitor();
    lab_->start_node("node_1", 1);
    ready_ = lab_->wait_states({{"node_1", "single"}}, 90000) >= 0;
    if (!ready_) dump_ = lab_->state_dump();
  }
  static void TearDownTestSuite() {
    if (!lab_) return;
    const auto left = lab_->teardown();
    EXPECT_TRUE(left.empty());
    lab_.reset();
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (runs Postgres as postgres)";
    ASSERT_TRUE(ready_) << dump_;
  }
  static AgentLab& lab() { return *lab_; }
  static std::string node1() { return lab_->pgdata("node_1"); }

  static std::unique_ptr<AgentLab> lab_;
  static bool ready_;
  static std::string dump_;
};
std::unique_ptr<AgentLab> CompatWatch::lab_;
bool CompatWatch::ready_ = false;
std::string CompatWatch::dump_;

TEST_F(CompatWatch, WatchDrawsResizesAndQuitsOnQ) {
  Child w(lab(), {"watch", "--monitor", lab().monitor_uri()}, true, 30, 160);
  ASSERT_TRUE(w.read_until(
      [](const std::string& s) {
        return s.find("node_1") != std::string::npos && s.find("single") != std::string::npos &&
               s.find("Host:Port") != std::string::npos;
      },
      20000))
      << w.output();
  EXPECT_NE(w.output().find("Formation: default"), std::string::npos) << w.output();
  EXPECT_NE(w.output().find("127.0.0.1:26201"), std::string::npos) << w.output();
  /* narrower: redrawn whole, without the Host:Port column */
  w.mark();
  w.resize(24, 70);
  ASSERT_TRUE(w.read_until(
      [](const std::string& s) {
        return s.find("Reported State") != std::string::npos &&
               s.find("node_1") != std::string::npos;
      },
      10000))
      << w.since_mark();
  EXPECT_EQ(w.since_mark().find("Host:Port"), std::string::npos) << w.since_mark();
  w.write("q");
  EXPECT_EQ(w.wait_exit(5000), 0) << w.output();
}

TEST_F(CompatWatch, WatchExitsZeroOnCtrlC) {
  Child w(lab(), {"watch", "--pgdata", node1()}, true, 25, 120);
  ASSERT_TRUE(w.read_until_has("node_1", 20000)) << w.output();
  w.mark();
  w.write("\x03"); /* the terminal's interrupt character: SIGINT */
  EXPECT_EQ(w.wait_exit(5000), 0) << w.output();
  /* endwin: the cursor is shown again and the alternate screen left (xterm's rmcup) */
  EXPECT_NE(w.since_mark().find("\x1b[?1049l"), std::string::npos) << w.since_mark();
}

TEST_F(CompatWatch, ShowStateWatchOnATerminalIsTheDashboard) {
  Child w(lab(), {"show", "state", "--watch", "--pgdata", node1()}, true, 25, 120);
  ASSERT_TRUE(w.read_until(
      [](const std::string& s) {
        return s.find("node_1") != std::string::npos &&
               s.find("Press q to quit") != std::string::npos;
      },
      20000))
      << w.output();
  w.write("q");
  EXPECT_EQ(w.wait_exit(5000), 0) << w.output();
}

TEST_F(CompatWatch, WatchWithoutATerminalIsRefused) {
  auto r = lab().ctl({"watch", "--pgdata", node1()});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("needs a terminal"), std::string::npos) << r.output;
}

TEST_F(CompatWatch, ShowStateWatchReprintsOnChangeAndExitsOnSigint) {
  Child w(lab(), {"-q", "show", "state", "--watch", "--json", "--pgdata", node1()}, false);
  ASSERT_TRUE(w.read_until_has("\"candidate_priority\": 50", 20000)) << w.output();
  w.mark();
  auto r = lab().ctl({"-q", "set", "node", "candidate-priority", "--pgdata", node1(), "30"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(w.read_until_has("\"candidate_priority\": 30", 10000)) << w.since_mark();
  r = lab().ctl({"-q", "set", "node", "candidate-priority", "--pgdata", node1(), "50"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(w.read_until_has("\"candidate_priority\": 50", 10000)) << w.since_mark();
  w.signal(SIGINT);
  EXPECT_EQ(w.wait_exit(5000), 0) << w.output();
}

TEST_F(CompatWatch, ShowEventsWatchPrintsTheEventsTable) {
  Child w(lab(), {"-q", "show", "events", "--watch", "--pgdata", node1()}, false);
  ASSERT_TRUE(w.read_until_has("Comment", 20000)) << w.output();
  EXPECT_TRUE(w.read_until_has("node 1 \"node_1\"", 5000)) << w.output();
  w.signal(SIGTERM);
  EXPECT_EQ(w.wait_exit(5000), 0) << w.output();
}

TEST_F(CompatWatch, ShowStateLocalReadsOnlyLocalFiles) {
  auto local = lab().ctl({"-q", "show", "state", "--local", "--pgdata", node1()});
  ASSERT_EQ(local.exit_code, 0) << local.output;
  static const std::regex lsn(R"(\d+: [0-9A-F]+/[0-9A-F]+)");
  expect_golden_file("show_state_local.txt", std::regex_replace(local.output, lsn, "<TLI>: <LSN>"));
  auto js = lab().ctl({"-q", "show", "state", "--local", "--json", "--pgdata", node1()});
  ASSERT_EQ(js.exit_code, 0) << js.output;
  const auto row = nlohmann::json::parse(js.output);
  EXPECT_EQ(row["nodename"], "node_1");
  EXPECT_EQ(row["current_group_state"], "single");
  EXPECT_EQ(row["health"], -1) << "only the monitor knows";
  EXPECT_GE(row["reported_tli"].get<int>(), 1);
  /* on the monitor's PGDATA: refused, the reference's exit code (monitor, 6) */
  auto mon = lab().ctl({"-q", "show", "state", "--local", "--pgdata", lab().pgdata("monitor")});
  EXPECT_EQ(mon.exit_code, 6) << mon.output;
}

/* Two settings changes make two events that nothing else interleaves: golden text and --json. */
TEST_F(CompatWatch, ShowEventsGolden) {
  /* the monitor's first health check of node_1 makes an event too: wait for it first */
  const auto t0 = Clock::now();
  while (ms_since(t0) < 30000) {
    auto st = lab().ctl({"-q", "show", "state", "--json", "--pgdata", node1()});
    if (st.exit_code == 0 && nlohmann::json::parse(st.output)[0]["health"] == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (const char* p : {"40", "50"}) {
    auto r = lab().ctl({"-q", "set", "node", "candidate-priority", "--pgdata", node1(), p});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  auto text = lab().ctl({"-q", "show", "events", "--count", "2", "--pgdata", node1()});
  ASSERT_EQ(text.exit_code, 0) << text.output;
  expect_golden_file("show_events.txt", normalized_events(text.output));
  auto js = lab().ctl({"-q", "show", "events", "--count", "2", "--json", "--pgdata", node1()});
  ASSERT_EQ(js.exit_code, 0) << js.output;
  expect_golden_file("show_events.json", normalized_events(js.output));
  const auto arr = nlohmann::json::parse(js.output);
  ASSERT_EQ(arr.size(), 2u);
  /* the reference's keys, every column of pgautofailover.event */
  for (const char* key :
       {"eventid", "eventtime", "formationid", "nodeid", "groupid", "nodename", "nodehost",
        "nodeport", "reportedstate", "goalstate", "reportedrepstate", "reportedtli", "reportedlsn",
        "candidatepriority", "replicationquorum", "description"})
    EXPECT_TRUE(arr[0].contains(key)) << key;
  EXPECT_LT(arr[0]["eventid"].get<long>(), arr[1]["eventid"].get<long>()) << "oldest first";
  /* --group: the events of that group only (the reference's last_events(formation, group,
   * count)); without it, every group */
  auto g0 = lab().ctl(
      {"-q", "show", "events", "--count", "2", "--group", "0", "--json", "--pgdata", node1()});
  ASSERT_EQ(g0.exit_code, 0) << g0.output;
  EXPECT_EQ(nlohmann::json::parse(g0.output), arr);
  auto g1 = lab().ctl({"-q", "show", "events", "--group", "1", "--json", "--pgdata", node1()});
  ASSERT_EQ(g1.exit_code, 0) << g1.output;
  EXPECT_TRUE(g1.output.find("\"eventid\"") == std::string::npos) << g1.output;
}

}  // namespace
}  // namespace pgaf::agent_it
