/*
 * cli_watch.cpp — pg_autoctl watch (the ncurses dashboard) and show state|events --watch.
 *
 * The layout is watch_render.cpp's pure function; this file only fetches (the monitor-client calls
 * show state and show events use), waits and draws. One loop serves every form:
 *   - wait at most watch_poll_ms for a notification on the monitor's `state` or `log` channel,
 *   - look at the keyboard (q / F1 quit), the window size (KEY_RESIZE) and SIGINT / SIGTERM,
 *   - fetch again on a notification and at least every watch_refresh_ms.
 *
 * Invariants: every wait is bounded (Settings::watch_poll_ms, the client's call timeouts); the
 * terminal is restored (endwin) on every way out; without a terminal `watch` is refused with exit
 * code 1 (bad arguments) before anything is drawn.
 */
#include <curses.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <iostream>
#include <thread>

#include "cli_internal.hpp"
#include "pgaf/cli/watch_render.hpp"

namespace pgaf::cli::detail {

namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int) {
  g_stop = 1;
}

/* SIGINT and SIGTERM set g_stop (installed before ncurses, so it keeps them); restored after. */
class StopSignals {
 public:
  StopSignals() {
    g_stop = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

TimeMs now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string clock_text() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

/* "postgres://autoctl_node@10.0.0.1:5432/pg_auto_failover?…" → "10.0.0.1:5432". */
std::string monitor_address(const std::string& uri) {
  auto b = uri.find("://");
  if (b == std::string::npos) return uri;
  b += 3;
  if (auto at = uri.find('@', b); at != std::string::npos && at < uri.find('/', b)) b = at + 1;
  return uri.substr(b, uri.find_first_of("/?", b) - b);
}

/* The [pgaf] settings of the node or monitor given with --pgdata (watch_refresh_ms,
 * watch_poll_ms), else the defaults. */
Settings watch_settings(const Options& o) {
  if (o.pgdata.empty()) return Settings{};
  auto cfg = agent::load_config_for(o.pgdata);
  return cfg ? cfg->settings : Settings{};
}

/* Wait for the next notification, at most watch_poll_ms: true when one came. A broken LISTEN
 * connection is retried on the next call; meanwhile the poll interval is slept. */
bool wait_notification(agent::MonitorClient& m, const Options& o, const Settings& s) {
  auto w = m.wait_for_notification(o.formation, o.group, s.watch_poll_ms);
  if (w) return *w;
  std::this_thread::sleep_for(std::chrono::milliseconds(s.watch_poll_ms));
  return false;
}

/* When to fetch again: on a notification (at most once per watch_poll_ms, so a burst of them
 * during a failover costs a few queries, not one per event), and at least every
 * watch_refresh_ms. */
class Pace {
 public:
  explicit Pace(const Settings& s) : s_(s) {}
  bool due() const {
    const TimeMs now = now_ms();
    return now >= last_ + s_.watch_refresh_ms || (pending_ && now >= last_ + s_.watch_poll_ms);
  }
  void fetched() {
    last_ = now_ms();
    pending_ = false;
  }
  void heard(bool notified) { pending_ = pending_ || notified; }

 private:
  const Settings& s_;
  TimeMs last_ = -(TimeMs{1} << 40); /* never: the first round fetches */
  bool pending_ = false;
};

/* The facts the dashboard shows, fetched with show state's and show events' calls; a failure is
 * shown in the dashboard and the last rows stay. */
void fetch(agent::MonitorClient& m, const Options& o, int height, WatchData& d) {
  d.time = clock_text();
  d.error.clear();
  if (auto rows = m.current_state(o.formation))
    d.rows = *rows;
  else
    d.error = rows.error().message;
  /* enough events to fill the window, never more than the window has rows */
  if (auto ev = m.last_events(o.formation, -1, std::max(1, height))) {
    d.events = *ev;
  } else if (d.error.empty()) {
    d.error = ev.error().message;
  }
  if (auto nss = m.formation_number_sync_standbys(o.formation)) d.number_sync_standbys = *nss;
}

/* The lines, then one refresh; `repaint`: the whole screen, not only what changed. */
void draw(const WatchScreen& screen, bool repaint) {
  erase();
  for (std::size_t i = 0; i < screen.lines.size(); ++i) {
    const int row = static_cast<int>(i);
    if (row == screen.column_header_row) attron(A_BOLD | A_UNDERLINE);
    mvaddnstr(row, 0, screen.lines[i].c_str(), COLS);
    if (row == screen.column_header_row) attroff(A_BOLD | A_UNDERLINE);
  }
  if (repaint) clearok(curscr, TRUE);
  refresh();
}

int run_dashboard(const Options& o) {
  if (::isatty(STDOUT_FILENO) == 0 || ::isatty(STDIN_FILENO) == 0) {
    return bad_args("pg_autoctl watch needs a terminal: its standard input or output is not one",
                    "run it in an interactive terminal; pg_autoctl show state and pg_autoctl "
                    "show events print the same facts once");
  }
  const char* term = std::getenv("TERM");
  if (term == nullptr || *term == '\0' || std::string(term) == "dumb") {
    return bad_args("pg_autoctl watch needs a terminal: TERM is " +
                        std::string(term == nullptr || *term == '\0' ? "not set" : "\"dumb\""),
                    "set TERM to your terminal's type, e.g. TERM=xterm");
  }
  auto uri = resolve_monitor_uri(o);
  if (!uri) return fail(uri.error());
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  const Settings settings = watch_settings(o);
  StopSignals signals;
  /* nothing else may write to the terminal while ncurses owns it */
  const auto log_level = spdlog::get_level();
  spdlog::set_level(spdlog::level::off);
  SCREEN* screen = newterm(nullptr, stdout, stdin);
  if (screen == nullptr) {
    spdlog::set_level(log_level);
    return bad_args("cannot use the terminal type \"" + std::string(term) + "\"",
                    "set TERM to a type the terminfo database has, e.g. TERM=xterm");
  }
  cbreak();
  noecho();
  keypad(stdscr, TRUE);
  nodelay(stdscr, TRUE);
  (void)curs_set(0);

  WatchData d;
  d.formation = o.formation;
  d.monitor = monitor_address(*uri);
  Pace pace(settings);
  while (g_stop == 0) {
    bool redraw = false, repaint = false, quit = false;
    for (int ch = getch(); ch != ERR; ch = getch()) {
      if (ch == 'q' || ch == 'Q' || ch == KEY_F(1)) quit = true;
      if (ch == KEY_RESIZE) {
        /* ncurses has updated LINES and COLS; draw before reading on (getch would repaint the
         * old layout), all of it: the terminal may have reflowed */
        repaint = redraw = true;
        break;
      }
    }
    if (quit) break;
    if (pace.due()) {
      fetch(**m, o, LINES, d);
      pace.fetched();
      redraw = true;
    } else {
      const std::string t = clock_text();
      redraw = redraw || t != d.time;
      d.time = t;
    }
    if (redraw) draw(render_watch(d, LINES, COLS), repaint);
    pace.heard(wait_notification(**m, o, settings));
  }
  endwin();
  delscreen(screen);
  spdlog::set_level(log_level);
  return 0;
}

/* show state|events --watch without a terminal: the command's output each time it changes. */
int run_reprint(const Options& o, const Globals& g, WatchOf what) {
  auto m = monitor_for(o);
  if (!m) return fail(m.error());
  const Settings settings = watch_settings(o);
  StopSignals signals;
  std::string last;
  Pace pace(settings);
  while (g_stop == 0) {
    if (pace.due()) {
      auto out =
          what == WatchOf::State ? show_state_output(**m, o, g) : show_events_output(**m, o, g);
      pace.fetched();
      if (!out) {
        (void)fail(out.error()); /* logged; the next round tries again */
      } else if (*out != last) {
        std::cout << (last.empty() ? "" : "\n") << *out << std::flush;
        last = *out;
      }
    }
    pace.heard(wait_notification(**m, o, settings));
  }
  return 0;
}

}  // namespace

int watch_command(const Options& o, const Globals& g, WatchOf what) {
  if (what != WatchOf::Dashboard && (::isatty(STDOUT_FILENO) == 0 || g.json))
    return run_reprint(o, g, what);
  return run_dashboard(o);
}

void add_watch_commands(CLI::App& app, Context& ctx) {
  Options& o = ctx.o;
  auto* watch =
      app.add_subcommand("watch", "display a dashboard to watch monitor's events and state");
  add_pgdata(watch, o);
  watch->add_option("--monitor", o.monitor, "monitor uri")->envname("PG_AUTOCTL_MONITOR");
  watch->add_option("--formation", o.formation, "formation to query, defaults to 'default'");
  watch->add_option("--group", o.group, "group to query formation (pgsql formations: 0)");
  ctx.command(watch, "watch", [&] { return watch_command(o, ctx.g, WatchOf::Dashboard); });
}

}  // namespace pgaf::cli::detail
