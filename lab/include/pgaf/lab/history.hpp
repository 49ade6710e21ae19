/*
 * history.hpp — what a lab run recorded, in one value the checkers and reports read.
 *
 * Times are milliseconds on the runner's monotonic clock, relative to the start of the run
 * (t = 0 when the formation build starts). Server clocks are never used for ordering.
 *
 * Invariants (checked by validate()):
 *  - every op has invoke_ms <= complete_ms (complete_ms is the end of the wait for an unknown op);
 *  - an Ok op names the node that answered, with timeline >= 1;
 *  - node names in ops, samples and fsm samples are names listed in `nodes` (or "monitor");
 *  - fault intervals have start_ms <= end_ms (end_ms == -1: never healed before the run ended).
 * An op whose COMMIT outcome is not known is Unknown: never counted as ok nor as lost.
 */
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pgaf/core/error.hpp"
#include "pgaf/core/settings.hpp"

namespace pgaf::lab {

enum class OpOutcome { Ok, Fail, Unknown };
std::string to_string(OpOutcome o);

/* One client write: INSERT of a unique value, COMMIT. */
struct Op {
  std::int64_t id = 0; /* unique in the run */
  int client = 0;
  std::int64_t value = 0; /* the unique value written */
  TimeMs invoke_ms = 0;
  TimeMs complete_ms = 0;
  OpOutcome outcome = OpOutcome::Unknown;
  std::string node;  /* Ok: node that answered (server-side identity) */
  int timeline = 0;  /* Ok: timeline of the answering primary */
  Lsn lsn = 0;       /* Ok: pg_current_wal_lsn() in the same transaction */
  std::string error; /* Fail/Unknown: the client-side error */
};

/* One sampler reading of one node, taken inside the node's namespace over loopback. */
struct Sample {
  TimeMs t_ms = 0;
  std::string node;
  bool reachable = false; /* false: Postgres did not answer locally */
  bool in_recovery = false;
  bool read_only = false; /* default_transaction_read_only / transaction_read_only */
  int timeline = 0;
  Lsn lsn = 0;
  /* The node agent's `GET /primary` (formation.http_endpoint): the HTTP status, -1 when the
   * endpoint did not answer, 0 when not sampled. */
  int http_primary = 0;
};

/* One reading of the monitor's view of a node (current_state), or an event from LISTEN. */
struct FsmSample {
  TimeMs t_ms = 0;
  std::string node;
  std::string reported; /* wire state name */
  std::string goal;
  std::string health; /* unknown | bad | good */
};

struct MonitorEvent {
  TimeMs t_ms = 0;
  std::string node;
  std::string reported;
  std::string goal;
  std::string health;
  std::string description;
};

struct FaultRecord {
  std::string name;
  std::string action;
  std::vector<std::string> targets; /* resolved host names, e.g. {"node1"} */
  TimeMs start_ms = 0;
  TimeMs end_ms = -1; /* -1: not healed before the end of the run */
  std::string detail;
  bool skipped = false; /* the fault could not be applied (witness in detail) */
};

/* What the run observed after heal/converge. */
struct FinalObservation {
  bool read_ok = false;          /* the final primary's table was read */
  std::string primary;           /* node read from */
  std::set<std::int64_t> values; /* values present on the final primary */
  int timeline = 0;
  std::string read_error;
};

struct Phases {
  TimeMs formation_ready_ms = -1;
  TimeMs warmup_start_ms = -1;
  TimeMs faults_start_ms = -1;
  TimeMs heal_ms = -1;
  TimeMs converge_deadline_ms = -1;
  TimeMs end_ms = -1;
};

struct History {
  std::string scenario;
  std::uint64_t seed = 0;
  std::vector<std::string> nodes; /* node1..nodeN */
  std::string initial_primary;
  Phases phases;
  std::vector<Op> ops;
  std::vector<Sample> samples;
  std::vector<FsmSample> fsm;
  std::vector<MonitorEvent> events;
  std::vector<FaultRecord> faults;
  FinalObservation final;
  std::vector<std::string> notes; /* runner remarks shown in reports */

  Status validate() const;
};

nlohmann::json to_json(const Op& op);
nlohmann::json to_json(const History& h);
Result<History> history_from_json(const nlohmann::json& j);

}  // namespace pgaf::lab
