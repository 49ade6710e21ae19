/*
 * node.cpp — node/formation helpers: health and kind names, lookups, node descriptions.
 */
#include "pgaf/core/node.hpp"

namespace pgaf {

std::string_view to_string(Health h) {
  switch (h) {
    case Health::Bad: return "bad";
    case Health::Good: return "good";
    case Health::Unknown: break;
  }
  return "unknown";
}

std::string_view to_string(FormationKind k) { return k == FormationKind::Citus ? "citus" : "pgsql"; }

Result<FormationKind> parse_formation_kind(std::string_view s) {
  if (s == "pgsql") return FormationKind::Pgsql;
  if (s == "citus") return FormationKind::Citus;
  return make_error(ErrorCode::InvalidArgument, "invalid formation kind \"" + std::string(s) + "\"",
                    "valid kinds are pgsql and citus");
}

const Node* GroupSnapshot::find(NodeId id) const {
  for (const auto& n : nodes)
    if (n.id == id) return &n;
  return nullptr;
}

Node* GroupSnapshot::find(NodeId id) {
  for (auto& n : nodes)
    if (n.id == id) return &n;
  return nullptr;
}

std::string describe(const Node& n) {
  return "node " + std::to_string(n.id) + " \"" + n.name + "\" (" + n.host + ":" +
         std::to_string(n.port) + ")";
}

}  // namespace pgaf
