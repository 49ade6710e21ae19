/*
 * keeper_steps.cpp — Keeper::run_step: what each KeeperStep of the transition table
 * (pgaf/core keeper_table.hpp) does to the local Postgres. Every step is idempotent and checks
 * its own preconditions, so a failed transition is retried from its first step (keeper.hpp).
 * The loop, the reports and the transitions' order: keeper.cpp; the rewind fallback:
 * keeper_rewind.cpp.
 */
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>

#include "pgaf/agent/keeper.hpp"
#include "pgaf/agent/monitor_swap.hpp"
#include "pgaf/core/sync_names.hpp"

namespace pgaf::agent {

Status Keeper::run_step(KeeperStep step) {
  if (step_observer_) step_observer_(step);
  step_log_.emplace_back(to_string(step));
  spdlog::debug("step {}", to_string(step));
  const TimeMs start_timeout = cfg_.settings.postgres_start_timeout_ms;
  switch (step) {
    case KeeperStep::InitPrimary: {
      if (!pg_.pgdata_initialized()) {
        spdlog::info("initialising PostgreSQL in \"{}\"", cfg_.pgdata);
        Status s = pg_.initdb();
        if (!s) return s;
      }
      if (Status s = pg_.write_managed_config(); !s) return s;
      if (Status s = pg_.ensure_running(start_timeout); !s) return s;
      auto st = pg_.status();
      if (!st) return st.error();
      if (st->in_recovery) {
        if (Status s = pg_.promote(start_timeout); !s) return s;
        if (Status s = pg_.cleanup_standby_setup(); !s) return s;
      }
      /* initdb and the first start often outlast the lease granted by the report that assigned
       * this goal: renew it before the writes below rather than failing the step */
      if (!guard_.may_write()) {
        if (Status r = renew_lease(); !r)
          spdlog::warn("could not renew the write lease: {}", r.error().message);
      }
      /* arm first: a Postgres started armed (pgaf_fence.start_armed) commits the roles and the
       * database below only under a lease deadline */
      if (guard_.may_write()) {
        if (Status s = pg_.set_read_only(false); !s) return s;
        guard_.set_armed(true);
      } else {
        if (Status s = pg_.set_read_only(true); !s) return s;
      }
      if (Status s = pg_.create_roles_and_db(cfg_.dbname); !s) return s;
      if (Status s = pg_.set_synchronous_standby_names(""); !s) return s;
      auto st2 = pg_.status();
      if (st2 && st2->system_identifier != 0) {
        state_.system_identifier = st2->system_identifier;
        if (Status s = monitor_.set_node_system_identifier(state_.node_id, st2->system_identifier);
            !s)
          return s;
      }
      (void)refresh_other_nodes();
      return Status::Ok();
    }
    case KeeperStep::InitStandby: {
      auto up = primary_upstream();
      if (!up) return up.error();
      if (!pg_.pgdata_initialized()) {
        /* our slot must exist on the primary first (the primary maintains it) */
        spdlog::info("initialising a standby from {}:{} with pg_basebackup", up->host, up->port);
        if (Status s = pg_.base_backup(*up, slot_name(state_.node_id)); !s) return s;
      }
      if (Status s = pg_.write_managed_config(); !s) return s;
      if (Status s = pg_.write_standby_setup(standby_setup(*up)); !s) return s;
      following_ = up->node_id;
      if (Status s = pg_.ensure_running(start_timeout); !s) return s;
      auto st = pg_.status();
      if (st && st->system_identifier != 0) {
        state_.system_identifier = st->system_identifier;
        (void)monitor_.set_node_system_identifier(state_.node_id, st->system_identifier);
      }
      (void)refresh_other_nodes();
      return Status::Ok();
    }
    case KeeperStep::InitFromStandby: {
      auto mas = monitor_.get_most_advanced_standby(cfg_.formation, state_.group_id);
      if (!mas) return mas.error();
      if (!*mas) return make_error(ErrorCode::Keeper, "no standby has reported its LSN yet");
      Upstream up{(*mas)->host, (*mas)->port, (*mas)->node_id};
      if (!pg_.pgdata_initialized()) {
        if (Status s = pg_.base_backup(up, ""); !s) return s;
      }
      if (Status s = pg_.write_managed_config(); !s) return s;
      auto setup = standby_setup(up, (*mas)->lsn);
      setup.slot_name = "";
      if (Status s = pg_.write_standby_setup(setup); !s) return s;
      return pg_.ensure_running(start_timeout);
    }
    case KeeperStep::StartPostgres:
      return pg_.ensure_running(start_timeout);
    case KeeperStep::StopPostgres:
    case KeeperStep::DropNode:
      guard_.set_armed(false);
      return pg_.ensure_stopped(start_timeout);
    case KeeperStep::CheckpointAndStop:
    case KeeperStep::StopForMaintenance: {
      guard_.set_armed(false);
      auto st = pg_.status();
      if (st && st->running) {
        if (!st->in_recovery) {
          (void)pg_.checkpoint();
          if (step == KeeperStep::StopForMaintenance) (void)pg_.checkpoint();
        }
      }
      return pg_.ensure_stopped(start_timeout);
    }
    case KeeperStep::SetupStandbyNoUpstream:
      return pg_.write_standby_setup(standby_setup(std::nullopt));
    case KeeperStep::DisableSyncRep:
      if (Status s = pg_.ensure_running(start_timeout); !s) return s;
      return pg_.set_synchronous_standby_names("");
    case KeeperStep::EnableSyncRep:
      if (Status s = pg_.ensure_running(start_timeout); !s) return s;
      return apply_sync_names(true);
    case KeeperStep::ApplySettings:
      return apply_sync_names(false);
    case KeeperStep::MaintainSlots: {
      if (Status s = refresh_other_nodes(); !s) return s;
      auto st = pg_.status();
      if (!st || !st->running) return Status::Ok();
      return maintain_slots(st->in_recovery);
    }
    case KeeperStep::StopWalReceiver:
    case KeeperStep::RestartWithoutUpstream: {
      auto setup = standby_setup(std::nullopt);
      setup.slot_name = "";
      if (Status s = pg_.write_standby_setup(setup); !s) return s;
      auto st = pg_.status();
      if (!st || !st->running) return pg_.ensure_running(start_timeout);
      if (Status s = pg_.reload(); !s) return s;
      /* L6 (fencing.md): report only once the WAL receiver is really gone */
      TimeMs deadline = clock_.now_ms() + cfg_.settings.prepare_promotion_walreceiver_ms;
      while (true) {
        auto now_st = pg_.status();
        if (now_st && now_st->running && !now_st->wal_receiver_active) return Status::Ok();
        if (clock_.now_ms() >= deadline || stop_requested()) {
          return make_error(ErrorCode::Timeout,
                            "the WAL receiver did not stop within " +
                                std::to_string(cfg_.settings.prepare_promotion_walreceiver_ms) +
                                " ms");
        }
        clock_.sleep_ms(10);
      }
    }
    case KeeperStep::SetReadOnly:
      guard_.set_armed(false);
      return pg_.set_read_only(true);
    case KeeperStep::SetReadWrite:
      if (!guard_.may_write()) {
        return make_error(ErrorCode::Keeper,
                          "cannot enable writes: no valid lease from the monitor",
                          "the transition is retried at the next round");
      }
      if (Status s = pg_.set_read_only(false); !s) return s;
      guard_.set_armed(true);
      return Status::Ok();
    case KeeperStep::Promote: {
      if (Status s = pg_.ensure_running(start_timeout); !s) return s;
      auto st = pg_.status();
      if (!st) return st.error();
      if (st->in_recovery) {
        /* Promote read-only: writes are enabled by SetReadWrite under a lease. */
        if (!st->read_only) {
          if (Status s = pg_.set_read_only(true); !s) return s;
        }
        if (Status s = pg_.promote(start_timeout); !s) return s;
        spdlog::info("PostgreSQL promoted");
      }
      return Status::Ok();
    }
    case KeeperStep::CleanupStandbySetup: {
      auto st = pg_.status();
      if (st && st->running && st->in_recovery) {
        /* still a standby: clear the recovery settings but keep standby.signal, so a restart
         * before the promotion can never bring it up as a primary (promote removes it) */
        auto none = standby_setup(std::nullopt);
        none.slot_name = "";
        return pg_.write_standby_setup(none);
      }
      return pg_.cleanup_standby_setup();
    }
    case KeeperStep::RewindOrBaseBackup:
      return rewind_or_base_backup(); /* keeper_rewind.cpp */
    case KeeperStep::DropLocalSlots: {
      auto st0 = pg_.status();
      if (!st0 || !st0->running) {
        /* never start an old primary as a primary: start it as a standby with no upstream */
        auto setup = standby_setup(std::nullopt);
        setup.slot_name = "";
        if (Status s = pg_.write_standby_setup(setup); !s) return s;
        if (Status s = pg_.ensure_running(start_timeout); !s) return s;
      }
      auto slots = pg_.list_slots();
      if (!slots) return slots.error();
      for (auto& sl : *slots) {
        if (Status s = pg_.drop_slot(sl.name); !s) return s;
      }
      return Status::Ok();
    }
    case KeeperStep::FollowPrimary: {
      auto up = primary_upstream();
      if (!up) return up.error();
      if (Status s = pg_.write_standby_setup(standby_setup(*up)); !s) return s;
      following_ = up->node_id;
      auto st = pg_.status();
      if (st && st->running) {
        if (!st->in_recovery) {
          return make_error(ErrorCode::BadState,
                            "cannot follow a primary: PostgreSQL is not a standby",
                            "pg_rewind is needed");
        }
        return pg_.reload();
      }
      return pg_.ensure_running(start_timeout);
    }
    case KeeperStep::CheckTimeline: {
      auto up = primary_upstream();
      if (!up) return up.error();
      auto theirs = pg_.upstream_timeline(*up);
      if (!theirs) return theirs.error();
      auto st = pg_.status();
      if (!st) return st.error();
      if (st->tli != *theirs) {
        return make_error(ErrorCode::Keeper,
                          "local timeline " + std::to_string(st->tli) +
                              " differs from the primary's timeline " + std::to_string(*theirs),
                          "waiting for the standby to follow the primary's timeline");
      }
      return Status::Ok();
    }
    case KeeperStep::FastForward: {
      auto mas = monitor_.get_most_advanced_standby(cfg_.formation, state_.group_id);
      if (!mas) return mas.error();
      auto st = pg_.status();
      if (!st) return st.error();
      if (!*mas || (*mas)->node_id == state_.node_id || (*mas)->lsn <= st->lsn) {
        return Status::Ok(); /* we are the most advanced: nothing to fetch */
      }
      Upstream up{(*mas)->host, (*mas)->port, (*mas)->node_id};
      Lsn target = (*mas)->lsn;
      if (Status s = pg_.write_standby_setup(standby_setup(up, target)); !s) return s;
      if (Status s = pg_.restart(start_timeout); !s) return s;
      TimeMs deadline = clock_.now_ms() + cfg_.settings.prepare_promotion_catchup_ms;
      while (true) {
        auto r = pg_.replay_lsn();
        if (r && *r >= target) break;
        if (clock_.now_ms() >= deadline) {
          return make_error(ErrorCode::Timeout,
                            "fast-forward did not reach the target LSN in time");
        }
        clock_.sleep_ms(50);
      }
      /* recovery_target_* only change at a restart: restart as a standby with no upstream and
       * no target, so the promotion that follows does not stop short of a stale target */
      auto none = standby_setup(std::nullopt);
      none.slot_name = "";
      if (Status s = pg_.write_standby_setup(none); !s) return s;
      return pg_.restart(start_timeout);
    }
    case KeeperStep::ReleaseToOperator:
      guard_.set_armed(false);
      return pg_.release_to_operator();
  }
  return make_error(ErrorCode::Internal, "unknown keeper step");
}

}  // namespace pgaf::agent
