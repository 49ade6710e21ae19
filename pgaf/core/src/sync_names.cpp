/*
 * sync_names.cpp — synchronous_standby_names and formation_uri, as the reference computes them.
 */
#include "pgaf/core/sync_names.hpp"

#include <algorithm>

namespace pgaf {

std::string standby_name(NodeId id) { return "pgautofailover_standby_" + std::to_string(id); }

Result<std::string> synchronous_standby_names(const GroupSnapshot& g) {
  std::vector<const Node*> live;
  for (const auto& n : g.nodes)
    if (n.goal_state != NodeState::Dropped) live.push_back(&n);
  if (live.empty()) {
    return make_error(ErrorCode::UnknownNode,
                      "group " + std::to_string(g.group_id) + " in formation \"" + g.formation.id +
                          "\" has no nodes",
                      "register a node first");
  }
  if (live.size() == 1) return std::string();

  const Node* primary = nullptr;
  for (const Node* n : live)
    if (can_take_writes_in_state(n->goal_state)) {
      primary = n;
      break;
    }
  if (primary == nullptr) return std::string();

  if (live.size() == 2) {
    const Node* standby = live[0] == primary ? live[1] : live[0];
    if (standby->replication_quorum && standby->goal_state == NodeState::Secondary)
      return "ANY 1 (" + standby_name(standby->id) + ")";
    return std::string();
  }

  if (primary->converged(NodeState::WaitPrimary)) return std::string();
  std::vector<const Node*> list;
  for (const Node* n : live)
    if (n != primary && n->replication_quorum && !is_maintenance_goal(n->goal_state))
      list.push_back(n);
  if (list.empty()) return std::string();
  std::stable_sort(list.begin(), list.end(), [](const Node* a, const Node* b) {
    return a->candidate_priority > b->candidate_priority;
  });
  const int k = g.formation.number_sync_standbys > 0 ? g.formation.number_sync_standbys : 1;
  std::string s = "ANY " + std::to_string(k) + " (";
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i > 0) s += ", ";
    s += standby_name(list[i]->id);
  }
  return s + ")";
}

namespace {
std::string escape(std::string_view v, bool keep_colon) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const char c : v) {
    const auto ch = static_cast<unsigned char>(c);
    const bool unreserved = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                            (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
                            ch == '~' || ch == '/';
    if (unreserved || (keep_colon && ch == ':')) {
      out += c;
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}
}  // namespace

std::string uri_escape(std::string_view v) {
  return escape(v, false);
}

std::string uri_host(std::string_view host) {
  if (host.find(':') == std::string_view::npos) return escape(host, false);
  return "[" + escape(host, true) + "]";
}

/* fuzz_uri finding: hosts, the database name and TLS paths went into the URI unescaped, so an
 * IPv6 host, a path with '&' or '=' or a space gave a URI libpq refuses or reads differently. */
std::optional<std::string> formation_uri(const GroupSnapshot& g, const UriOptions& o) {
  std::string hosts;
  for (const auto& n : g.nodes) {
    if (n.goal_state == NodeState::Dropped || n.node_cluster != o.cluster_name) continue;
    if (!hosts.empty()) hosts += ",";
    hosts += uri_host(n.host) + ":" + std::to_string(n.port);
  }
  if (hosts.empty()) return std::nullopt;
  std::string uri = "postgres://" + hosts + "/" + uri_escape(g.formation.dbname) + "?";
  if (o.cluster_name == "default") uri += "target_session_attrs=read-write&";
  uri += "sslmode=" + uri_escape(o.sslmode);
  if (!o.sslrootcert.empty()) uri += "&sslrootcert=" + uri_escape(o.sslrootcert);
  if (!o.sslcrl.empty()) uri += "&sslcrl=" + uri_escape(o.sslcrl);
  return uri;
}

}  // namespace pgaf
