/*
 * history_builder.hpp — builds synthetic histories for checker and report tests: a 2- or 3-node
 * formation, a steady client load, a failover at a chosen time, monitor events and samples.
 * Each test then bends one fact (a lost write, an overlapping ack) to make a checker fail.
 */
#pragma once

#include <string>

#include "pgaf/lab/history.hpp"

namespace labtest {

using namespace pgaf::lab;
using pgaf::TimeMs;

struct Builder {
  History h;
  std::int64_t next_id = 1;

  explicit Builder(int nodes = 3) {
    h.scenario = "synthetic";
    h.seed = 7;
    for (int i = 1; i <= nodes; ++i) h.nodes.push_back("node" + std::to_string(i));
    h.initial_primary = "node1";
    h.phases = {0, 1000, 5000, 20000, 40000, 30000};
  }

  Op& op(TimeMs invoke, TimeMs complete, OpOutcome out, const std::string& node = "", int tl = 0,
         pgaf::Lsn lsn = 0) {
    Op o;
    o.id = next_id;
    o.value = 1000 + next_id;
    ++next_id;
    o.client = static_cast<int>(o.id % 2);
    o.invoke_ms = invoke;
    o.complete_ms = complete;
    o.outcome = out;
    o.node = node;
    o.timeline = tl;
    o.lsn = lsn;
    if (out != OpOutcome::Ok)
      o.error = out == OpOutcome::Fail ? "connection refused"
                                       : "server closed the connection unexpectedly";
    h.ops.push_back(o);
    return h.ops.back();
  }

  void fsm_all(TimeMs t, const std::vector<std::string>& states) {
    for (size_t i = 0; i < states.size(); ++i)
      h.fsm.push_back({t, h.nodes[i], states[i], states[i], "good"});
  }

  /* node1 primary tl1 until the fault at 10 s (kill), node2 promoted at 13 s on tl2; writes every
   * 100 ms; everything acked is kept on the final primary node2. */
  static Builder clean_failover() {
    Builder b(3);
    for (TimeMs t = 1000; t < 10000; t += 100)
      b.op(t, t + 20, OpOutcome::Ok, "node1", 1, static_cast<pgaf::Lsn>(t));
    b.op(10000, 12000, OpOutcome::Unknown);
    b.op(12000, 12100, OpOutcome::Fail);
    for (TimeMs t = 13500; t < 30000; t += 100)
      b.op(t, t + 20, OpOutcome::Ok, "node2", 2, static_cast<pgaf::Lsn>(t));
    for (const auto& o : b.h.ops) {
      if (o.outcome == OpOutcome::Ok) b.h.final.values.insert(o.value);
    }
    b.h.final.read_ok = true;
    b.h.final.primary = "node2";
    b.h.final.timeline = 2;
    b.h.faults.push_back(
        {"kill-primary", "kill", {"node1"}, 10000, -1, "SIGKILL postmaster", false});
    for (TimeMs t = 0; t < 30000; t += 500) {
      if (t < 11000)
        b.fsm_all(t, {"primary", "secondary", "secondary"});
      else if (t < 13000)
        b.fsm_all(t, {"draining", "report_lsn", "report_lsn"});
      else if (t < 21000)
        b.fsm_all(t, {"demoted", "primary", "secondary"});
      else
        b.fsm_all(t, {"secondary", "primary", "secondary"});
      for (size_t i = 0; i < 3; ++i) {
        const bool primary = (i == 0 && t < 10000) || (i == 1 && t >= 13000);
        b.h.samples.push_back({t, b.h.nodes[i], !(i == 0 && t >= 10000 && t < 20000), !primary,
                               false, t >= 13000 ? 2 : 1, static_cast<pgaf::Lsn>(t)});
      }
    }
    b.h.events.push_back(
        {10800, "node1", "primary", "draining", "bad", "node 1 is marked as unhealthy"});
    b.h.events.push_back({11000, "node2", "secondary", "report_lsn", "good", "failover"});
    b.h.events.push_back({12000, "node2", "report_lsn", "prepare_promotion", "good", "promote"});
    b.h.events.push_back({13000, "node2", "primary", "primary", "good", "promoted"});
    return b;
  }
};

}  // namespace labtest
