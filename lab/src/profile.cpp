/*
 * profile.cpp — network profiles (profile.hpp): YAML → netns::TopologySpec, the vendor's ruleset
 * files read, the whole validated by netns::validate_topology, whose field paths are mapped back
 * to YAML lines; and the check of a scenario's zone faults against a profile.
 */
#include "pgaf/lab/profile.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "pgaf/lab/scenario.hpp"
#include "yaml_fields.hpp"

namespace pgaf::lab {

using namespace yamlf;

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxRulesetBytes = 1 << 20;

/* The YAML node a validate_topology field path ("routers[0].zones[1]") points at, or the deepest
 * one that exists. */
YAML::Node node_at(const YAML::Node& root, const std::string& path) {
  YAML::Node n = root;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) {
    std::string key = part;
    int index = -1;
    if (auto b = part.find('['); b != std::string::npos) {
      key = part.substr(0, b);
      index = std::atoi(part.c_str() + b + 1);
    }
    if (!n.IsMap() || !n[key]) return n;
    YAML::Node next = n[key];
    if (index >= 0) {
      if (!next.IsSequence() || static_cast<std::size_t>(index) >= next.size()) return next;
      next = next[static_cast<std::size_t>(index)];
    }
    n = next;
  }
  return n;
}

netns::LinkProfile parse_link(const YAML::Node& l, const std::string& F) {
  check_keys(l, F, {"mtu", "bandwidth_kbit", "loss", "latency", "jitter"});
  netns::LinkProfile p;
  if (l["mtu"]) p.mtu = static_cast<int>(get_int(l["mtu"], sub(F, "mtu"), 576, 9000));
  if (l["bandwidth_kbit"])
    p.bandwidth_bytes_per_second = static_cast<std::uint64_t>(
        get_int(l["bandwidth_kbit"], sub(F, "bandwidth_kbit"), 8, 10'000'000) * 1000 / 8);
  if (l["loss"]) p.loss_percent = get_double(l["loss"], sub(F, "loss"), 0.01, 100.0);
  if (l["latency"])
    p.latency = std::chrono::milliseconds(get_duration(l["latency"], sub(F, "latency"), 1, 60000));
  if (l["jitter"])
    p.jitter = std::chrono::milliseconds(get_duration(l["jitter"], sub(F, "jitter"), 0, 60000));
  if (p.jitter > p.latency) fail(l["jitter"], sub(F, "jitter"), "must not exceed latency");
  if (p.latency.count() > 0 && p.bandwidth_bytes_per_second > 0)
    fail(l, F, "bandwidth and latency on the same link are not supported (each is a root qdisc)");
  return p;
}

std::string read_ruleset(const YAML::Node& n, const std::string& F, const std::string& file,
                         std::string* path_out) {
  const std::string name = get_string(n, F);
  fs::path p(name);
  if (p.is_relative()) p = fs::path(file).parent_path() / p;
  std::ifstream in(p);
  if (!in) fail(n, F, "cannot read ruleset file \"" + p.string() + "\"");
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > kMaxRulesetBytes) fail(n, F, "ruleset file is larger than 1 MiB");
  *path_out = p.string();
  return ss.str();
}

}  // namespace

std::vector<std::string> lab_host_names(int nodes) {
  std::vector<std::string> names = {"monitor"};
  for (int i = 1; i <= nodes; ++i) names.push_back("node" + std::to_string(i));
  names.push_back("client");
  return names;
}

NetworkProfile yamlf::parse_network_node(const YAML::Node& n, const std::string& F,
                                         const std::string& file) {
  check_keys(n, F, {"name", "description", "zones", "routers", "routes", "placement"});
  NetworkProfile p;
  p.file = file;
  if (!n["name"]) fail(n, sub(F, "name"), "is required");
  p.name = get_string(n["name"], sub(F, "name"));
  if (n["description"]) p.description = get_string(n["description"], sub(F, "description"));
  auto& t = p.topology;
  const YAML::Node zones = n["zones"];
  if (!zones || !zones.IsSequence() || zones.size() == 0)
    fail(zones ? zones : n, sub(F, "zones"), "is required: a list of zones");
  for (std::size_t i = 0; i < zones.size(); ++i) {
    const std::string Z = sub(F, "zones[" + std::to_string(i) + "]");
    const YAML::Node z = zones[i];
    check_keys(z, Z, {"name", "subnet", "mtu", "external"});
    netns::ZoneSpec zs;
    if (!z["name"]) fail(z, sub(Z, "name"), "is required");
    zs.name = get_string(z["name"], sub(Z, "name"));
    if (!z["subnet"]) fail(z, sub(Z, "subnet"), "is required (e.g. 198.18.1.0/24)");
    zs.subnet = get_string(z["subnet"], sub(Z, "subnet"));
    if (z["mtu"]) zs.mtu = static_cast<int>(get_int(z["mtu"], sub(Z, "mtu"), 576, 9000));
    if (z["external"]) zs.external = get_string(z["external"], sub(Z, "external"));
    t.zones.push_back(zs);
  }
  if (const YAML::Node routers = n["routers"]) {
    if (!routers.IsSequence()) fail(routers, sub(F, "routers"), "must be a list");
    for (std::size_t i = 0; i < routers.size(); ++i) {
      const std::string R = sub(F, "routers[" + std::to_string(i) + "]");
      const YAML::Node r = routers[i];
      check_keys(r, R, {"name", "zones", "links", "ruleset"});
      netns::RouterSpec rs;
      if (!r["name"]) fail(r, sub(R, "name"), "is required");
      rs.name = get_string(r["name"], sub(R, "name"));
      if (!r["zones"] || !r["zones"].IsSequence())
        fail(r["zones"] ? r["zones"] : r, sub(R, "zones"), "is required: the zones it joins");
      for (std::size_t j = 0; j < r["zones"].size(); ++j)
        rs.interfaces.push_back(
            {get_string(r["zones"][j], sub(R, "zones[" + std::to_string(j) + "]")), {}});
      if (const YAML::Node links = r["links"]) {
        if (!links.IsMap()) fail(links, sub(R, "links"), "must be a mapping zone: {mtu, ...}");
        for (const auto& kv : links) {
          const std::string zone = kv.first.as<std::string>();
          const std::string L = sub(R, "links." + zone);
          auto it = std::find_if(rs.interfaces.begin(), rs.interfaces.end(),
                                 [&](const auto& itf) { return itf.zone == zone; });
          if (it == rs.interfaces.end()) fail(kv.first, L, "is not one of the router's zones");
          it->link = parse_link(kv.second, L);
        }
      }
      if (r["ruleset"]) {
        std::string path;
        rs.ruleset = read_ruleset(r["ruleset"], sub(R, "ruleset"), file, &path);
        rs.ruleset_source = path;
        p.ruleset_files.push_back(path);
      }
      t.routers.push_back(rs);
    }
  }
  if (const YAML::Node routes = n["routes"]) {
    if (!routes.IsSequence()) fail(routes, sub(F, "routes"), "must be a list");
    for (std::size_t i = 0; i < routes.size(); ++i) {
      const std::string RT = sub(F, "routes[" + std::to_string(i) + "]");
      check_keys(routes[i], RT, {"zone", "to", "via"});
      netns::RouteSpec rs;
      for (auto [key, out] : {std::pair{"zone", &rs.zone}, {"to", &rs.to}, {"via", &rs.via}}) {
        if (!routes[i][key]) fail(routes[i], sub(RT, key), "is required");
        *out = get_string(routes[i][key], sub(RT, key));
      }
      t.routes.push_back(rs);
    }
  }
  const std::vector<std::string> hosts = lab_host_names(kMaxNodes);
  if (const YAML::Node placement = n["placement"]) {
    if (!placement.IsMap()) fail(placement, sub(F, "placement"), "must be a mapping host: zone");
    for (const auto& kv : placement) {
      const std::string host = kv.first.as<std::string>();
      const std::string PF = sub(F, "placement." + host);
      if (host == "default") {
        t.default_zone = get_string(kv.second, PF);
        continue;
      }
      if (std::find(hosts.begin(), hosts.end(), host) == hosts.end())
        fail(kv.first, PF, "unknown host (expected monitor, node1..node8, client or default)");
      t.placement[host] = get_string(kv.second, PF);
    }
  }
  if (Status st = netns::validate_topology(t, hosts); !st.ok()) {
    const std::string& m = st.error().message;
    const auto colon = m.find(": ");
    const std::string path = colon == std::string::npos ? std::string() : m.substr(0, colon);
    fail(node_at(n, path), sub(F, path), colon == std::string::npos ? m : m.substr(colon + 2));
  }
  return p;
}

Result<NetworkProfile> parse_network_profile(const std::string& yaml_text,
                                             const std::string& file) {
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (!root.IsDefined() || root.IsNull()) throw ParseError{1, "", "the file is empty"};
    check_keys(root, "", {"version", "network"});
    if (!root["version"]) fail(root, "version", "is required (version: 1)");
    get_int(root["version"], "version", 1, 1);
    if (!root["network"]) fail(root, "network", "is required");
    NetworkProfile p = parse_network_node(root["network"], "network", file);
    p.source_text = yaml_text;
    return p;
  } catch (const ParseError& e) {
    return parse_error(e, file, "see docs/vendor.md for the network profile format");
  } catch (const YAML::Exception& e) {
    return yaml_error(e, file, "see docs/vendor.md for the network profile format");
  }
}

Result<NetworkProfile> parse_network_profile_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return make_error(ErrorCode::InvalidArgument,
                      "could not open network profile \"" + path + "\"");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_network_profile(ss.str(), path);
}

Status check_scenario_network(const Scenario& sc, const NetworkProfile* net) {
  const auto& t = net != nullptr ? net->topology : netns::TopologySpec{};
  auto zone_ok = [&](const std::string& z) {
    return std::any_of(t.zones.begin(), t.zones.end(), [&](const auto& s) { return s.name == z; });
  };
  auto router = [&](const std::string& r) -> const netns::RouterSpec* {
    for (const auto& rs : t.routers)
      if (rs.name == r) return &rs;
    return nullptr;
  };
  auto joins = [](const netns::RouterSpec* r, const std::string& z) {
    return r != nullptr && std::any_of(r->interfaces.begin(), r->interfaces.end(),
                                       [&](const auto& i) { return i.zone == z; });
  };
  for (std::size_t i = 0; i < sc.faults.size(); ++i) {
    const Fault& f = sc.faults[i];
    const std::string F = "faults[" + std::to_string(i) + "]";
    auto bad = [&](const std::string& field, const std::string& why) {
      return make_error(
          ErrorCode::InvalidArgument,
          sc.file + ":" + std::to_string(f.line) + ": field \"" + F + "." + field + "\": " + why,
          "see docs/vendor.md (faults under a network profile)");
    };
    if (!f.needs_network()) continue;
    if (net == nullptr)
      return bad("action", to_string(f.action) +
                               " needs a network profile (a `network:` section or --network)");
    const std::string in = " in network profile \"" + net->name + "\"";
    for (const auto& z : f.zones)
      if (!zone_ok(z)) return bad("zones", "unknown zone \"" + z + "\"" + in);
    if (!f.zone.empty() && !zone_ok(f.zone))
      return bad("zone", "unknown zone \"" + f.zone + "\"" + in);
    if (!f.to_zone.empty() && !zone_ok(f.to_zone))
      return bad("to_zone", "unknown zone \"" + f.to_zone + "\"" + in);
    if (!f.router.empty() && router(f.router) == nullptr)
      return bad("router", "unknown router \"" + f.router + "\"" + in);
    if (f.action == FaultAction::ZonePartition && t.routers.empty())
      return bad("action", "network profile \"" + net->name + "\" has no router to cut");
    if (f.action == FaultAction::PathMtu && !joins(router(f.router), f.zone))
      return bad("zone", "router \"" + f.router + "\" has no link in zone \"" + f.zone + "\"");
    if (f.action == FaultAction::Reroute) {
      if (router(f.via) == nullptr) return bad("via", "unknown router \"" + f.via + "\"" + in);
      if (!joins(router(f.via), f.zone) || !joins(router(f.via), f.to_zone))
        return bad("via", "router \"" + f.via + "\" does not join \"" + f.zone + "\" and \"" +
                              f.to_zone + "\"");
    }
  }
  return Status::Ok();
}

}  // namespace pgaf::lab
