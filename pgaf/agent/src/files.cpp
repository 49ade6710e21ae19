/*
 * files.cpp — atomic file writes, the INI format and the reference file locations.
 * See files.hpp for the invariants.
 */
#include "pgaf/agent/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace pgaf::agent {

namespace fs = std::filesystem;

namespace {
std::string errno_text() {
  return std::strerror(errno);
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::string(v) : fallback;
}
}  // namespace

Status atomic_write_file(const std::string& path, const std::string& contents, unsigned mode) {
  fs::path p(path);
  std::string dir = p.parent_path().string();
  if (dir.empty()) dir = ".";
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return make_error(ErrorCode::BadConfig,
                      "could not create file \"" + tmp + "\": " + errno_text());
  }
  size_t off = 0;
  while (off < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + off, contents.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = errno_text();
      ::close(fd);
      ::unlink(tmp.c_str());
      return make_error(ErrorCode::BadConfig, "could not write file \"" + tmp + "\": " + err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    std::string err = errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    return make_error(ErrorCode::BadConfig, "could not fsync file \"" + tmp + "\": " + err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = errno_text();
    ::unlink(tmp.c_str());
    return make_error(ErrorCode::BadConfig,
                      "could not rename \"" + tmp + "\" to \"" + path + "\": " + err);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::BadConfig,
                      "could not open file \"" + path + "\": " + errno_text());
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

Status make_dirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) {
    return make_error(ErrorCode::BadConfig,
                      "could not create directory \"" + path + "\": " + ec.message());
  }
  return Status::Ok();
}

Result<Ini> Ini::parse(const std::string& text, const std::string& origin) {
  Ini ini;
  std::istringstream in(text);
  std::string raw;
  int lineno = 0;
  std::string section;
  while (std::getline(in, raw)) {
    ++lineno;
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    auto where = [&] { return "\"" + origin + "\" line " + std::to_string(lineno); };
    if (line.front() == '[') {
      if (line.back() != ']' || line.size() < 3) {
        return make_error(ErrorCode::BadConfig, "malformed section header in " + where(),
                          "a section header looks like [postgresql]", "line: " + raw);
      }
      section = trim(line.substr(1, line.size() - 2));
      bool found = false;
      for (auto& s : ini.sections_) found = found || s.first == section;
      if (!found) ini.sections_.push_back({section, {}});
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      return make_error(ErrorCode::BadConfig, "malformed line in " + where(),
                        "expected \"key = value\"", "line: " + raw);
    }
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (key.empty()) {
      return make_error(ErrorCode::BadConfig, "empty key in " + where(), {}, "line: " + raw);
    }
    if (section.empty()) {
      return make_error(ErrorCode::BadConfig,
                        "key \"" + key + "\" outside of any section in " + where());
    }
    if (ini.has(section, key)) {
      return make_error(ErrorCode::BadConfig,
                        "duplicate key \"" + section + "." + key + "\" in " + where());
    }
    ini.set(section, key, value);
  }
  return ini;
}

bool Ini::has(const std::string& section, const std::string& key) const {
  return get(section, key) != nullptr;
}

const std::string* Ini::get(const std::string& section, const std::string& key) const {
  for (auto& s : sections_) {
    if (s.first != section) continue;
    for (auto& kv : s.second) {
      if (kv.first == key) return &kv.second;
    }
  }
  return nullptr;
}

void Ini::set(const std::string& section, const std::string& key, const std::string& value) {
  for (auto& s : sections_) {
    if (s.first != section) continue;
    for (auto& kv : s.second) {
      if (kv.first == key) {
        kv.second = value;
        return;
      }
    }
    s.second.push_back({key, value});
    return;
  }
  sections_.push_back({section, {{key, value}}});
}

std::string Ini::serialize() const {
  std::string out;
  for (auto& s : sections_) {
    if (!out.empty()) out += "\n";
    out += "[" + s.first + "]\n";
    for (auto& kv : s.second) out += kv.first + " = " + kv.second + "\n";
  }
  return out;
}

Result<std::string> absolute_pgdata(const std::string& pgdata) {
  if (pgdata.empty()) {
    return make_error(ErrorCode::InvalidArgument, "no PGDATA given",
                      "use --pgdata or set the environment variable PGDATA");
  }
  std::error_code ec;
  fs::path p = fs::absolute(fs::path(pgdata), ec);
  if (ec) {
    return make_error(ErrorCode::InvalidArgument,
                      "could not resolve PGDATA \"" + pgdata + "\": " + ec.message());
  }
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

Result<Paths> paths_for(const std::string& pgdata_in) {
  auto pgdata = absolute_pgdata(pgdata_in);
  if (!pgdata) return pgdata.error();
  std::string rel = pgdata->substr(1);
  std::string home = env_or("HOME", "");
  if (home.empty() &&
      (std::getenv("XDG_CONFIG_HOME") == nullptr || std::getenv("XDG_DATA_HOME") == nullptr)) {
    return make_error(ErrorCode::BadConfig, "environment variable HOME is not set",
                      "set HOME, or XDG_CONFIG_HOME and XDG_DATA_HOME");
  }
  std::string cfg = env_or("XDG_CONFIG_HOME", home + "/.config") + "/pg_autoctl/" + rel;
  std::string data = env_or("XDG_DATA_HOME", home + "/.local/share") + "/pg_autoctl/" + rel;
  std::string run = env_or("XDG_RUNTIME_DIR", "/tmp") + "/pg_autoctl/" + rel;
  Paths p;
  p.config = cfg + "/pg_autoctl.cfg";
  p.state = data + "/pg_autoctl.state";
  p.init = data + "/pg_autoctl.init";
  p.log = data + "/pg_autoctl.log";
  p.pid = run + "/pg_autoctl.pid";
  p.pg_expected = run + "/pg_autoctl.pg";
  return p;
}

}  // namespace pgaf::agent
