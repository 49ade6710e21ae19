/*
 * pgaf_fence.c — the primary's write lease, enforced inside PostgreSQL.
 *
 * pg_autoctl's agent holds a lease from the monitor (docs/design/fencing.md). It also hands the
 * lease's deadline to this module, in shared memory, on the host's CLOCK_MONOTONIC. From then
 * on ("armed"), a transaction that wrote anything cannot commit once the deadline has passed:
 * the check runs at PRE_COMMIT / PRE_PREPARE, before the commit record is written, so nothing
 * is made durable, nor acknowledged, after the lease ended.
 *
 * Why inside Postgres: the agent's own fencing (read-only, stop Postgres) needs the agent to
 * run. If the agent crashes, or is frozen (SIGSTOP, a VM pause) while Postgres is not, the
 * deadline still holds; a frozen Postgres that resumes reads the monotonic clock, which kept
 * running, and refuses.
 *
 * Invariants:
 *  - pgaf_fence.start_armed = on (pg_autoctl's managed config): every start of the server (and
 *    every reinitialisation of shared memory after a backend crash) is armed with an expired
 *    deadline, so no writing transaction commits before the agent hands over a lease deadline;
 *  - not armed (start with start_armed off, or pgaf_fence_disarm()): no effect at all;
 *  - armed: a writing transaction commits only if CLOCK_MONOTONIC < deadline at PRE_COMMIT;
 *  - the deadline only changes through the superuser functions below.
 * GUC pgaf_fence.enforce (sighup, default on) lets an operator switch the check off.
 *
 * Must be loaded with shared_preload_libraries (it needs shared memory).
 */
#include "postgres.h"

#include <time.h>

#include "access/transam.h"
#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

typedef struct FenceShared
{
	pg_atomic_uint64 deadline_ms;	/* CLOCK_MONOTONIC milliseconds */
	pg_atomic_uint32 armed;
} FenceShared;

static FenceShared *fence = NULL;
static bool fence_enforce = true;
static bool fence_start_armed = false;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);
PG_FUNCTION_INFO_V1(pgaf_fence_set_deadline);
PG_FUNCTION_INFO_V1(pgaf_fence_disarm);
PG_FUNCTION_INFO_V1(pgaf_fence_now);
PG_FUNCTION_INFO_V1(pgaf_fence_status);

static int64
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
fence_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(FenceShared)));
}

static void
fence_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	fence = ShmemInitStruct("pgaf_fence", sizeof(FenceShared), &found);
	if (!found)
	{
		/* deadline 0 is in the past of CLOCK_MONOTONIC: armed at start means refusing */
		pg_atomic_init_u64(&fence->deadline_ms, 0);
		pg_atomic_init_u32(&fence->armed, fence_start_armed ? 1 : 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
fence_xact_callback(XactEvent event, void *arg)
{
	int64		now;
	int64		deadline;

	if (event != XACT_EVENT_PRE_COMMIT && event != XACT_EVENT_PRE_PREPARE)
		return;
	if (!fence_enforce || fence == NULL || pg_atomic_read_u32(&fence->armed) == 0)
		return;
	if (!TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return;					/* read-only transaction: nothing to fence */

	now = monotonic_ms();
	deadline = (int64) pg_atomic_read_u64(&fence->deadline_ms);
	if (deadline == 0)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot commit: this node has no write lease since PostgreSQL started"),
				 errdetail("pgaf_fence.start_armed is on: writes commit once pg_autoctl holds a lease from the monitor."),
				 errhint("Retry in a moment, or connect to the current primary.")));
	if (now >= deadline)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot commit: the write lease of this node expired %lld ms ago",
						(long long) (now - deadline)),
				 errdetail("pg_autoctl renews the lease only while the monitor confirms this node as the primary."),
				 errhint("This node may have been fenced during a failover: connect to the current primary.")));
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errmsg("pgaf_fence can only be loaded via shared_preload_libraries"),
				 errhint("Add pgaf_fence to shared_preload_libraries and restart the server.")));

	DefineCustomBoolVariable("pgaf_fence.enforce",
							 "Refuse commits of writing transactions once the write lease expired.",
							 NULL, &fence_enforce, true, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("pgaf_fence.start_armed",
							 "Start armed with an expired deadline: refuse writing commits until the agent sets a lease deadline.",
							 NULL, &fence_start_armed, false, PGC_POSTMASTER, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("pgaf_fence");

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = fence_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = fence_shmem_startup;
	RegisterXactCallback(fence_xact_callback, NULL);
}

static void
require_fence(void)
{
	if (fence == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgaf_fence is not loaded"),
				 errhint("Add pgaf_fence to shared_preload_libraries and restart the server.")));
}

/* pgaf_fence_set_deadline(deadline_ms bigint) → remaining ms (negative: already expired). Arms. */
Datum
pgaf_fence_set_deadline(PG_FUNCTION_ARGS)
{
	int64		deadline = PG_GETARG_INT64(0);

	require_fence();
	if (deadline < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid lease deadline %lld", (long long) deadline),
				 errhint("The deadline is in milliseconds of CLOCK_MONOTONIC, see pgaf_fence_now().")));
	pg_atomic_write_u64(&fence->deadline_ms, (uint64) deadline);
	pg_atomic_write_u32(&fence->armed, 1);
	PG_RETURN_INT64(deadline - monotonic_ms());
}

Datum
pgaf_fence_disarm(PG_FUNCTION_ARGS)
{
	require_fence();
	pg_atomic_write_u32(&fence->armed, 0);
	PG_RETURN_VOID();
}

Datum
pgaf_fence_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(monotonic_ms());
}

/* pgaf_fence_status() → (armed bool, deadline_ms bigint, now_ms bigint, enforce bool) */
Datum
pgaf_fence_status(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	require_fence();
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR, (errmsg("pgaf_fence_status must be called in a context that accepts a record")));
	desc = BlessTupleDesc(desc);
	values[0] = BoolGetDatum(pg_atomic_read_u32(&fence->armed) != 0);
	values[1] = Int64GetDatum((int64) pg_atomic_read_u64(&fence->deadline_ms));
	values[2] = Int64GetDatum(monotonic_ms());
	values[3] = BoolGetDatum(fence_enforce);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
