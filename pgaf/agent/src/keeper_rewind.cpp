/*
 * keeper_rewind.cpp — the RewindOrBaseBackup step: a node that must follow a (new) primary
 * rewinds its PGDATA with pg_rewind and falls back to a fresh pg_basebackup, as the reference's
 * fsm_rewind_or_init does, when pg_rewind fails or when Postgres does not start on the rewound
 * PGDATA (before: the start failed the step, and every retry rewound the same PGDATA again).
 *
 * Invariants:
 *  - bounded: at most one pg_rewind, one start attempt on its result, one pg_basebackup and one
 *    start on the copy per step; a failed base backup fails the step (retried by the next
 *    transition attempt, from its first step);
 *  - the old PGDATA is kept until the new copy is complete: PostgresControl::base_backup copies
 *    into the backup directory and only then replaces PGDATA (the reference's order);
 *  - Postgres is started only with the standby setup of the upstream it was rewound or copied
 *    from, and the lease guard stays disarmed (a standby takes no writes).
 */
#include <spdlog/spdlog.h>

#include "pgaf/agent/keeper.hpp"

namespace pgaf::agent {

Status Keeper::rewind_or_base_backup() {
  const TimeMs start_timeout = cfg_.settings.postgres_start_timeout_ms;
  guard_.set_armed(false);
  auto up = primary_upstream();
  if (!up) return up.error();
  if (Status s = pg_.ensure_stopped(start_timeout); !s) return s;
  auto start_as_standby = [&]() -> Status {
    if (Status s = pg_.write_managed_config(); !s) return s;
    if (Status s = pg_.write_standby_setup(standby_setup(*up)); !s) return s;
    following_ = up->node_id;
    return pg_.ensure_running(start_timeout);
  };
  if (Status rw = pg_.rewind(*up); !rw) {
    spdlog::warn("pg_rewind failed, using pg_basebackup instead: {}", rw.error().message);
  } else {
    Status started = start_as_standby();
    if (started) return started;
    spdlog::warn("PostgreSQL did not start after pg_rewind, using pg_basebackup instead: {}",
                 started.error().message);
    if (Status s = pg_.ensure_stopped(start_timeout); !s) return s;
  }
  if (Status s = pg_.base_backup(*up, slot_name(state_.node_id)); !s) return s;
  return start_as_standby();
}

}  // namespace pgaf::agent
