/*
 * schedule.cpp — seed → schedule (formation shape, settings, clock drifts, fault list), and the
 * text forms of schedules and faults.
 *
 * Invariant: generate_schedule is a pure function of (seed, GenOptions); clock drifts stay within
 * ±clock_drift_ppm/2 so any two hosts differ by at most clock_drift_ppm; number_sync_standbys is
 * valid for the quorum standbys generated (0, or k + 1 ≤ quorum standbys).
 */
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "world.hpp"

namespace pgaf::sim {

std::string_view to_string(Broken b) {
  switch (b) {
    case Broken::None:
      return "none";
    case Broken::AgentIgnoresLease:
      return "agent-ignores-lease";
    case Broken::MonitorSkipsLeaseWait:
      return "monitor-skips-lease-wait";
    case Broken::StandbyAcksEarly:
      return "standby-acks-early";
  }
  return "?";
}

std::optional<Broken> parse_broken(std::string_view s) {
  for (Broken b : {Broken::None, Broken::AgentIgnoresLease, Broken::MonitorSkipsLeaseWait,
                   Broken::StandbyAcksEarly})
    if (to_string(b) == s) return b;
  return std::nullopt;
}

std::string_view to_string(FaultKind k) {
  switch (k) {
    case FaultKind::Partition:
      return "partition";
    case FaultKind::PartitionOneWay:
      return "partition-one-way";
    case FaultKind::Isolate:
      return "isolate";
    case FaultKind::IsolateOut:
      return "isolate-outbound";
    case FaultKind::IsolateIn:
      return "isolate-inbound";
    case FaultKind::Lossy:
      return "lossy";
    case FaultKind::Slow:
      return "slow";
    case FaultKind::CrashPostgres:
      return "crash-postgres";
    case FaultKind::CrashAgent:
      return "crash-agent";
    case FaultKind::FreezeAgent:
      return "freeze-agent";
    case FaultKind::CrashHost:
      return "crash-host";
    case FaultKind::CrashMonitor:
      return "crash-monitor";
    case FaultKind::Switchover:
      return "switchover";
    case FaultKind::Promote:
      return "promote";
    case FaultKind::Maintenance:
      return "maintenance";
    case FaultKind::SetPriority:
      return "set-candidate-priority";
    case FaultKind::SetSyncStandbys:
      return "set-number-sync-standbys";
    case FaultKind::Duplicate:
      return "duplicate";
  }
  return "?";
}

namespace {

std::string target_name(int t, int aux) {
  if (t == kMonitor) return "monitor";
  if (t == kTargetPrimary) return "primary";
  if (t == kTargetStandby) return fmt::format("standby#{}", aux);
  return fmt::format("node{}", t);
}

bool two_ended(FaultKind k) {
  return k == FaultKind::Partition || k == FaultKind::PartitionOneWay || k == FaultKind::Lossy ||
         k == FaultKind::Slow || k == FaultKind::Duplicate;
}

}  // namespace

std::string describe(const Fault& f) {
  std::string what = f.kind == FaultKind::Switchover || f.kind == FaultKind::CrashMonitor
                         ? std::string(to_string(f.kind))
                     : f.kind == FaultKind::SetSyncStandbys
                         ? fmt::format("{} {}", to_string(f.kind), f.value)
                         : fmt::format("{} {}", to_string(f.kind), target_name(f.a, f.aux));
  if (f.kind == FaultKind::SetPriority) what += fmt::format(" {}", f.value);
  if (two_ended(f.kind))
    what += fmt::format(" {} {}", f.kind == FaultKind::PartitionOneWay ? "->" : "<->",
                        target_name(f.b, f.aux + 1));
  if (f.kind == FaultKind::Lossy) what += fmt::format(" loss {}%", f.loss_pct);
  if (f.kind == FaultKind::Slow) what += fmt::format(" +{}ms", f.delay_ms);
  if (f.kind == FaultKind::Duplicate) what += fmt::format(" copies within {}ms", f.delay_ms);
  return fmt::format("{} at +{}ms for {}ms", what, f.start_ms, f.duration_ms);
}

std::string describe(const Schedule& s) {
  std::string prio, quorum;
  for (std::size_t i = 0; i < s.candidate_priority.size(); ++i) {
    prio += fmt::format("{}{}", i ? "," : "", s.candidate_priority[i]);
    quorum += fmt::format("{}{}", i ? "," : "", s.replication_quorum[i] ? 1 : 0);
  }
  std::string out = fmt::format(
      "seed {}: {} nodes, number_sync_standbys {}, priorities [{}], quorum [{}]{}{}", s.seed,
      s.nodes, s.number_sync_standbys, prio, quorum, s.primary_lost ? ", primary-host-lost" : "",
      s.broken != Broken::None ? fmt::format(", BROKEN {}", to_string(s.broken)) : "");
  if (s.faults.empty()) out += "; no faults";
  for (std::size_t i = 0; i < s.faults.size(); ++i)
    out += fmt::format("; fault {}: {}", i + 1, describe(s.faults[i]));
  return out;
}

Schedule generate_schedule(std::uint64_t seed, const GenOptions& o) {
  Rng r(seed * 0x9E3779B97F4A7C15ULL + 0x1234567);
  Schedule s;
  s.seed = seed;
  s.broken = o.broken;
  if (o.nodes >= 1 && o.nodes <= 5) {
    s.nodes = o.nodes;
  } else {
    const auto p = r.range(0, 99);
    s.nodes = p < 5 ? 1 : p < 40 ? 2 : p < 75 ? 3 : p < 90 ? 4 : 5;
  }
  const int N = s.nodes;
  s.primary_lost = N >= 2 && r.chance(o.primary_lost_pct);
  s.candidate_priority.assign(static_cast<std::size_t>(N), 100);
  s.replication_quorum.assign(static_cast<std::size_t>(N), true);
  if (!s.primary_lost) {
    for (int n = 2; n <= N; ++n) {
      if (r.chance(15)) {
        const int choices[] = {0, 50, 90};
        s.candidate_priority[static_cast<std::size_t>(n - 1)] = choices[r.range(0, 2)];
      }
      if (N >= 3 && r.chance(10)) s.replication_quorum[static_cast<std::size_t>(n - 1)] = false;
    }
  }
  int quorum_standbys = 0;
  for (int n = 2; n <= N; ++n)
    quorum_standbys += s.replication_quorum[static_cast<std::size_t>(n - 1)] ? 1 : 0;
  if (N >= 3 && r.chance(30)) s.number_sync_standbys = (N == 5 && r.chance(30)) ? 2 : 1;
  while (s.number_sync_standbys > 0 && s.number_sync_standbys + 1 > quorum_standbys)
    s.number_sync_standbys--;

  const std::int64_t half = s.settings.clock_drift_ppm / 2;
  s.drift_ppm.resize(static_cast<std::size_t>(N + 1));
  for (auto& d : s.drift_ppm)
    d = r.chance(50) ? (r.chance(50) ? half : -half) : r.range(-half, half);

  if (s.primary_lost) {
    Fault f;
    f.kind = FaultKind::CrashHost;
    f.a = kTargetPrimary;
    f.start_ms = r.range(300, 1500);
    f.duration_ms = r.range(8000, 10000);
    s.faults.push_back(f);
    return s;
  }

  auto pick_node = [&]() -> int {
    const auto p = r.range(0, 99);
    if (N == 1 || p < 45) return kTargetPrimary;
    if (p < 80) return kTargetStandby;
    return static_cast<int>(r.range(1, N));
  };
  auto pick_endpoint = [&]() -> int { return r.chance(25) ? kMonitor : pick_node(); };

  struct W {
    FaultKind k;
    int w;
  };
  const W weights[] = {
      {FaultKind::Partition, 15},  {FaultKind::PartitionOneWay, 10}, {FaultKind::Isolate, 12},
      {FaultKind::IsolateOut, 6},  {FaultKind::IsolateIn, 6},        {FaultKind::Lossy, 6},
      {FaultKind::Slow, 6},        {FaultKind::CrashPostgres, 8},    {FaultKind::CrashAgent, 7},
      {FaultKind::FreezeAgent, 6}, {FaultKind::CrashHost, 10},       {FaultKind::CrashMonitor, 8},
      {FaultKind::Switchover, 5},  {FaultKind::Promote, 3},          {FaultKind::Maintenance, 4},
      {FaultKind::SetPriority, 3}, {FaultKind::SetSyncStandbys, 3},  {FaultKind::Duplicate, 4}};
  int total = 0;
  for (const W& w : weights) total += w.w;
  const auto nfaults = r.range(0, 5);
  for (std::int64_t i = 0; i < nfaults; ++i) {
    Fault f;
    auto pick = r.range(0, total - 1);
    for (const W& w : weights) {
      if (pick < w.w) {
        f.kind = w.k;
        break;
      }
      pick -= w.w;
    }
    /* An operator switches over only when another node can be promoted: with fewer than two
     * nodes of non-zero priority, perform_failover parks the group in report_lsn until someone
     * changes a priority (upstream-compatible; docs/simulator.md, finding F5). */
    int promotable = 0;
    for (int p : s.candidate_priority) promotable += p > 0 ? 1 : 0;
    if ((f.kind == FaultKind::Switchover || f.kind == FaultKind::Promote) && promotable < 2)
      f.kind = FaultKind::Partition;
    f.aux = static_cast<int>(r.range(0, 7));
    f.a = pick_node();
    if (two_ended(f.kind)) {
      if (N == 1) {
        f.b = kMonitor;
      } else {
        f.b = pick_endpoint();
        if (f.b == f.a) f.b = f.a == kTargetPrimary ? kTargetStandby : kMonitor;
      }
    }
    if (f.kind == FaultKind::CrashMonitor || f.kind == FaultKind::Switchover) f.a = kMonitor;
    if (f.kind == FaultKind::Promote || f.kind == FaultKind::Maintenance)
      f.a = N == 1 ? 1 : kTargetStandby;
    if (f.kind == FaultKind::SetSyncStandbys) f.a = kMonitor;
    if (f.kind == FaultKind::SetPriority) {
      const int choices[] = {0, 50, 100};
      f.value = choices[r.range(0, 2)];
    }
    if (f.kind == FaultKind::SetSyncStandbys) f.value = static_cast<int>(r.range(0, 2));
    f.start_ms = r.range(0, 6000);
    const auto d = r.range(0, 99);
    f.duration_ms = d < 60   ? r.range(100, 2500)
                    : d < 90 ? r.range(2500, 6000)
                             : r.range(6000, 9000);
    f.loss_pct = static_cast<int>(r.range(20, 80));
    f.delay_ms = r.range(50, 1500);
    s.faults.push_back(f);
  }
  return s;
}

namespace {

template <typename T>
std::string join(const std::vector<T>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i)
    out += fmt::format("{}{}", i ? "," : "", static_cast<std::int64_t>(v[i]));
  return out;
}

bool parse_list(std::string_view text, std::vector<std::int64_t>* out) {
  out->clear();
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    std::int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec != std::errc() || ptr != item.data() + item.size()) return false;
    out->push_back(v);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return true;
}

}  // namespace

std::string encode(const Schedule& s) {
  std::vector<int> q;
  for (bool b : s.replication_quorum) q.push_back(b ? 1 : 0);
  std::string out =
      fmt::format("v1;seed={};n={};nss={};prio={};q={};drift={}", s.seed, s.nodes,
                  s.number_sync_standbys, join(s.candidate_priority), join(q), join(s.drift_ppm));
  for (const Fault& f : s.faults)
    out += fmt::format(";f={},{},{},{},{},{},{},{},{}", static_cast<int>(f.kind), f.a, f.b, f.aux,
                       f.start_ms, f.duration_ms, f.loss_pct, f.delay_ms, f.value);
  out += fmt::format(";pl={};broken={}", s.primary_lost ? 1 : 0, to_string(s.broken));
  return out;
}

Result<Schedule> decode(std::string_view text) {
  auto bad = [](const std::string& field) {
    return make_error(ErrorCode::InvalidArgument,
                      "invalid schedule: malformed field \"" + field + "\"",
                      "pass the token printed after \"replay: pgaf-sim --replay\"");
  };
  Schedule s;
  bool seen_version = false;
  while (!text.empty()) {
    const auto semi = text.find(';');
    const std::string_view part = text.substr(0, semi);
    text.remove_prefix(semi == std::string_view::npos ? text.size() : semi + 1);
    if (part == "v1") {
      seen_version = true;
      continue;
    }
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) return bad(std::string(part));
    const std::string key(part.substr(0, eq));
    const std::string_view val = part.substr(eq + 1);
    std::vector<std::int64_t> nums;
    if (key == "broken") {
      auto b = parse_broken(val);
      if (!b) return bad(key);
      s.broken = *b;
      continue;
    }
    if (!parse_list(val, &nums) || nums.empty()) return bad(key);
    if (key == "seed")
      s.seed = static_cast<std::uint64_t>(nums[0]);
    else if (key == "n")
      s.nodes = static_cast<int>(nums[0]);
    else if (key == "nss")
      s.number_sync_standbys = static_cast<int>(nums[0]);
    else if (key == "pl")
      s.primary_lost = nums[0] != 0;
    else if (key == "prio") {
      s.candidate_priority.clear();
      for (auto v : nums) s.candidate_priority.push_back(static_cast<int>(v));
    } else if (key == "q") {
      s.replication_quorum.clear();
      for (auto v : nums) s.replication_quorum.push_back(v != 0);
    } else if (key == "drift") {
      s.drift_ppm = nums;
    } else if (key == "f") {
      if (nums.size() != 9 || nums[0] < 0 || nums[0] > static_cast<int>(FaultKind::Duplicate))
        return bad(key);
      Fault f;
      f.kind = static_cast<FaultKind>(nums[0]);
      f.a = static_cast<int>(nums[1]);
      f.b = static_cast<int>(nums[2]);
      f.aux = static_cast<int>(nums[3]);
      f.start_ms = nums[4];
      f.duration_ms = nums[5];
      f.loss_pct = static_cast<int>(nums[6]);
      f.delay_ms = nums[7];
      f.value = static_cast<int>(nums[8]);
      if (f.start_ms < 0 || f.duration_ms < 0 || f.loss_pct < 0 || f.loss_pct > 100 ||
          f.delay_ms < 0)
        return bad(key);
      s.faults.push_back(f);
    } else {
      return bad(key);
    }
  }
  const auto N = static_cast<std::size_t>(s.nodes);
  if (!seen_version) return bad("v1");
  if (s.nodes < 1 || s.nodes > 5) return bad("n");
  if (s.candidate_priority.size() != N) return bad("prio");
  if (s.replication_quorum.size() != N) return bad("q");
  if (s.drift_ppm.size() != N + 1) return bad("drift");
  for (auto d : s.drift_ppm)
    if (2 * (d < 0 ? -d : d) > s.settings.clock_drift_ppm) return bad("drift");
  for (const Fault& f : s.faults)
    if (f.a > s.nodes || f.b > s.nodes || f.a < kTargetStandby || f.b < kTargetStandby)
      return bad("f");
  return s;
}

}  // namespace pgaf::sim
