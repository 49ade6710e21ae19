/*
 * ssl_setup.cpp — a running node's TLS setup changed in place (see ssl_setup.hpp): connection
 * strings rewritten parameter by parameter, managed settings rewritten, Postgres reloaded.
 */
#include "pgaf/agent/ssl_setup.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <vector>

#include "pgaf/agent/files.hpp"
#include "pgaf/agent/postgres.hpp"
#include "pgaf/agent/tls.hpp"
#include "pgaf/core/sync_names.hpp"

namespace pgaf::agent {
namespace {

const std::set<std::string> kSslKeys = {"sslmode", "sslrootcert", "sslcrl"};

/* key=value tokens of a libpq conninfo: a value is a word or a '…' string with \' and \\ */
struct Token {
  std::string key, raw; /* raw: the token as written, kept byte for byte */
};

std::vector<Token> conninfo_tokens(const std::string& s) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i >= s.size()) break;
    const std::size_t start = i;
    while (i < s.size() && s[i] != '=' && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    Token t;
    t.key = s.substr(start, i - start);
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i < s.size() && s[i] == '=') {
      ++i;
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      if (i < s.size() && s[i] == '\'') {
        ++i;
        while (i < s.size() && s[i] != '\'') {
          const bool escaped = s[i] == '\\' && i + 1 < s.size();
          i += escaped ? std::size_t{2} : std::size_t{1};
        }
        if (i < s.size()) ++i;
      } else {
        while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      }
    }
    t.raw = s.substr(start, i - start);
    out.push_back(std::move(t));
  }
  return out;
}

std::string conninfo_value(const std::string& v) {
  const bool plain = !v.empty() && v.find_first_of(" \t\n'\\") == std::string::npos;
  if (plain) return v;
  std::string q = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') q += '\\';
    q += c;
  }
  return q + "'";
}

std::string uri_with_ssl(const std::string& uri, const Config& cfg) {
  const std::size_t frag = uri.find('#');
  const std::string body = uri.substr(0, frag);
  const std::string tail = frag == std::string::npos ? std::string() : uri.substr(frag);
  const std::size_t q = body.find('?');
  std::string out = body.substr(0, q);
  std::vector<std::string> params;
  if (q != std::string::npos) {
    std::size_t pos = q + 1;
    while (pos <= body.size()) {
      std::size_t amp = body.find('&', pos);
      if (amp == std::string::npos) amp = body.size();
      const std::string p = body.substr(pos, amp - pos);
      if (!p.empty() && kSslKeys.count(p.substr(0, p.find('='))) == 0) params.push_back(p);
      pos = amp + 1;
    }
  }
  for (const auto& [k, v] : cfg.ssl_params()) params.push_back(k + "=" + uri_escape(v));
  char sep = '?';
  for (const auto& p : params) {
    out += sep + p;
    sep = '&';
  }
  return out + tail;
}

/* the value of a postgresql.conf line `name = '…'` ('' doubled inside), or nullopt */
std::optional<std::string> conf_string_value(const std::string& line, const std::string& name) {
  std::size_t i = line.find_first_not_of(" \t");
  if (i == std::string::npos || line.compare(i, name.size(), name) != 0) return std::nullopt;
  i = line.find_first_not_of(" \t", i + name.size());
  if (i == std::string::npos || line[i] != '=') return std::nullopt;
  i = line.find_first_not_of(" \t", i + 1);
  if (i == std::string::npos || line[i] != '\'') return std::nullopt;
  std::string v;
  for (++i; i < line.size(); ++i) {
    if (line[i] == '\'') {
      if (i + 1 < line.size() && line[i + 1] == '\'') {
        v += '\'';
        ++i;
        continue;
      }
      return v;
    }
    v += line[i];
  }
  return std::nullopt;
}

std::string conf_quote(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace

std::string conninfo_with_ssl(const std::string& conninfo, const Config& cfg) {
  if (conninfo.rfind("postgres://", 0) == 0 || conninfo.rfind("postgresql://", 0) == 0)
    return uri_with_ssl(conninfo, cfg);
  std::string out;
  for (const Token& t : conninfo_tokens(conninfo)) {
    if (kSslKeys.count(t.key) != 0) continue;
    out += (out.empty() ? "" : " ") + t.raw;
  }
  for (const auto& [k, v] : cfg.ssl_params())
    out += (out.empty() ? "" : " ") + k + "=" + conninfo_value(v);
  return out;
}

std::string standby_conf_with_ssl(const std::string& text, const Config& cfg) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    const bool nl = end != std::string::npos;
    if (!nl) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    auto v = conf_string_value(line, "primary_conninfo");
    if (v && !v->empty()) {
      out += "primary_conninfo = " + conf_quote(conninfo_with_ssl(*v, cfg));
    } else {
      out += line;
    }
    if (nl) out += '\n';
    pos = end + 1;
  }
  return out;
}

Result<SslApplied> apply_ssl_to_pgdata(const Config& cfg) {
  SslApplied done;
  const bool had_cert = file_exists(cfg.ssl_cert_file) && file_exists(cfg.ssl_key_file);
  /* the certificate (when self-signed and missing or not this host's), then the settings */
  if (Status s = write_managed_config_files(cfg); !s) return s.error();
  done.certificate_created = cfg.ssl_self_signed() && !had_cert;
  const std::string standby = cfg.pgdata + "/postgresql-auto-failover-standby.conf";
  if (file_exists(standby)) {
    auto text = read_file(standby);
    if (!text) return text.error();
    const std::string t = standby_conf_with_ssl(*text, cfg);
    if (t != *text) {
      if (Status s = atomic_write_file(standby, t, 0600); !s) return s.error();
    }
  }
  if (!cfg.ssl_active && cfg.hba_level != "skip") {
    const std::string hba = cfg.pgdata + "/pg_hba.conf";
    auto text = read_file(hba);
    if (!text) return text.error();
    const std::string t = hba_allow_clear_text(*text);
    if (t != *text) {
      spdlog::info("SSL is off: \"hostssl\" lines of \"{}\" are \"host\" lines again", hba);
      if (Status s = atomic_write_file(hba, t, 0600); !s) return s.error();
    }
  }
  const long pid = running_postmaster_pid(cfg.pgdata);
  if (pid > 0) {
    if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
      return make_error(
          ErrorCode::Pgctl,
          "could not reload PostgreSQL (pid " + std::to_string(pid) + "): " + std::strerror(errno),
          "run pg_ctl reload as the PostgreSQL user");
    }
    done.reloaded = true;
  }
  return done;
}

}  // namespace pgaf::agent
