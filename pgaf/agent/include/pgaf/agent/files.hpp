/*
 * files.hpp — small, careful file I/O for pg_autoctl: atomic writes, an INI reader/writer, and the
 * reference file locations.
 *
 * Invariants:
 *  - every file we own is replaced atomically: write a temp file in the same directory, fsync it,
 *    rename it over the target, fsync the directory. A crash leaves the old or the new file, never
 * a torn one;
 *  - a missing or malformed file is an error naming the file (and line), never a silent default.
 */
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "pgaf/core/error.hpp"

namespace pgaf::agent {

/* Write `contents` to `path` atomically (temp + fsync + rename + fsync(dir)); mode is the file
 * mode. */
Status atomic_write_file(const std::string& path, const std::string& contents,
                         unsigned mode = 0600);
/* Whole file, or a BadConfig error naming it ("could not open file \"...\": ..."). */
Result<std::string> read_file(const std::string& path);
bool file_exists(const std::string& path);
/* mkdir -p with mode 0700 for created directories. */
Status make_dirs(const std::string& path);

/* An INI document: ordered sections of ordered key = value pairs. */
class Ini {
 public:
  /* Parse; `origin` names the file in error messages. Lines: [section], key = value, # or ;
   * comments, blank. Anything else, a key outside a section, or a duplicate key is an error. */
  static Result<Ini> parse(const std::string& text, const std::string& origin);

  bool has(const std::string& section, const std::string& key) const;
  /* nullptr if absent */
  const std::string* get(const std::string& section, const std::string& key) const;
  void set(const std::string& section, const std::string& key, const std::string& value);
  std::string serialize() const;
  const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>&
  sections() const {
    return sections_;
  }

 private:
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> sections_;
};

/* Reference file locations (upstream-design.md §7.5, §7.6). `pgdata` must be absolute; the path
 * component is pgdata without its leading slash. */
struct Paths {
  std::string config; /* ${XDG_CONFIG_HOME:-$HOME/.config}/pg_autoctl/<pgdata>/pg_autoctl.cfg */
  std::string state; /* ${XDG_DATA_HOME:-$HOME/.local/share}/pg_autoctl/<pgdata>/pg_autoctl.state */
  std::string init;  /* same dir: pg_autoctl.init (create not finished) */
  std::string log;   /* same dir: pg_autoctl.log */
  std::string pid;   /* ${XDG_RUNTIME_DIR:-/tmp}/pg_autoctl/<pgdata>/pg_autoctl.pid */
  std::string pg_expected; /* runtime dir: pg_autoctl.pg (expected Postgres status) */
};
Result<Paths> paths_for(const std::string& pgdata);
/* Absolute, normalised PGDATA (need not exist). */
Result<std::string> absolute_pgdata(const std::string& pgdata);

}  // namespace pgaf::agent
