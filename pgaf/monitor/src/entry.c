/*
 * entry.c — the PostgreSQL side of the pgautofailover extension (C; see bridge.h for the wall).
 *
 * Contents:
 *  - _PG_init: refuses to load outside shared_preload_libraries; defines the pgautofailover.*
 *    GUCs (PGC_SIGHUP, defaults from pgaf::Settings); requests shared memory; registers the
 *    launcher background worker; installs a ProcessUtility hook that stops a database's
 *    health-check worker before DROP/RENAME DATABASE.
 *  - pgaf_db_*(): database access for the C++ code, each wrapped in PG_TRY (errors are stashed
 *    and re-thrown by the entry point once the C++ call has returned).
 *  - The SQL-callable entry points: one symbol per function, all going through dispatch(),
 *    which converts arguments to text, calls pgaf_call() (C++), re-throws a stashed error,
 *    builds the result, and only then raises the C++ error, if any.
 *  - The launcher (one per cluster) and the health-check workers (one per database that has the
 *    extension).
 *
 * Invariants: no C++ frame is ever on the stack when this file raises or re-throws an error;
 * every wait is bounded or interruptible (latch with WL_EXIT_ON_PM_DEATH).
 */
#include "postgres.h"

#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "bridge.h"

PG_MODULE_MAGIC;

#define PGAF_EXTENSION_VERSION "2.2"
#define PGAF_MAX_DATABASES 64
#define PGAF_ABSENT_RECHECK_MS 2000
#define PGAF_DROP_SUPPRESS_MS 10000

void _PG_init(void);
PGDLLEXPORT void pgaf_launcher_main(Datum arg);
PGDLLEXPORT void pgaf_health_worker_main(Datum arg);

/* ------------------------------------------------------------------------------------------ */
/* GUCs                                                                                        */
/* ------------------------------------------------------------------------------------------ */

static PgafGucs guc_values;
static bool guc_enable_version_checks = true;
static bool guc_enable_health_checks = true;

const PgafGucs *
pgaf_gucs(void)
{
	guc_values.enable_version_checks = guc_enable_version_checks ? 1 : 0;
	guc_values.enable_health_checks = guc_enable_health_checks ? 1 : 0;
	return &guc_values;
}

static void
define_int(const char *name, const char *desc, int *var, int min, int max, int flags)
{
	DefineCustomIntVariable(name, desc, NULL, var, *var, min, max, PGC_SIGHUP, flags, NULL, NULL,
							NULL);
}

static void
define_gucs(void)
{
	pgaf_default_gucs(&guc_values);

	DefineCustomBoolVariable("pgautofailover.enable_version_checks",
							 "Enable extension version compatibility checks", NULL,
							 &guc_enable_version_checks, true, PGC_SIGHUP, GUC_NO_SHOW_ALL, NULL,
							 NULL, NULL);
	DefineCustomBoolVariable("pgautofailover.enable_health_checks",
							 "Enable background health checks", NULL, &guc_enable_health_checks,
							 true, PGC_SIGHUP, GUC_NO_SHOW_ALL, NULL, NULL, NULL);
	define_int("pgautofailover.health_check_period", "Duration between each check (in milliseconds).",
			   &guc_values.health_check_period_ms, 1, INT_MAX, GUC_UNIT_MS);
	define_int("pgautofailover.health_check_timeout", "Connect timeout (in milliseconds).",
			   &guc_values.health_check_timeout_ms, 1, INT_MAX, GUC_UNIT_MS);
	define_int("pgautofailover.health_check_max_retries",
			   "Maximum number of re-tries before marking a node as failed.",
			   &guc_values.health_check_max_retries, 1, 100, 0);
	define_int("pgautofailover.health_check_retry_delay",
			   "Delay between consecutive retries (in milliseconds).",
			   &guc_values.health_check_retry_delay_ms, 1, INT_MAX, GUC_UNIT_MS);
	define_int("pgautofailover.node_considered_unhealthy_timeout",
			   "Mark node unhealthy if last ping was over this long ago (in milliseconds).",
			   &guc_values.node_considered_unhealthy_timeout_ms, 1, INT_MAX, GUC_UNIT_MS);
	define_int("pgautofailover.startup_grace_period",
			   "Wait for at least this much time after startup before initiating a failover.",
			   &guc_values.startup_grace_period_ms, 1, INT_MAX, GUC_UNIT_MS);
	define_int("pgautofailover.enable_sync_wal_log_threshold",
			   "Don't enable synchronous replication until secondary xlog is within this many bytes of the primary's.",
			   &guc_values.enable_sync_wal_log_threshold_bytes, 1, INT_MAX, GUC_UNIT_BYTE);
	define_int("pgautofailover.promote_wal_log_threshold",
			   "Don't promote secondary unless xlog is within this many bytes of the master.",
			   &guc_values.promote_wal_log_threshold_bytes, 1, INT_MAX, GUC_UNIT_BYTE);
	define_int("pgautofailover.primary_demote_timeout",
			   "Give the primary this long to drain before promoting the secondary (kept for compatibility; pgaf fences with leases).",
			   &guc_values.primary_demote_timeout_ms, 1, INT_MAX, GUC_UNIT_MS);
	define_int("pgautofailover.lease_ms",
			   "pgaf: a primary may accept writes this long after a report the monitor answered with a writable goal.",
			   &guc_values.lease_ms, 1, INT_MAX, GUC_UNIT_MS);
	define_int("pgautofailover.standby_vouch_ms",
			   "pgaf: how long a primary cut off from the monitor keeps writing after it last saw its quorum standbys streaming.",
			   &guc_values.standby_vouch_ms, 1, INT_MAX, GUC_UNIT_MS);
	define_int("pgautofailover.clock_drift_ppm",
			   "pgaf: bound on the clock rate difference between hosts, parts per million.",
			   &guc_values.clock_drift_ppm, 0, 1000000, 0);
	define_int("pgautofailover.tick_interval",
			   "pgaf: re-evaluate every group this often, also while a health check waits on a dead node (in milliseconds).",
			   &guc_values.tick_interval_ms, 1, INT_MAX, GUC_UNIT_MS);
	define_int("pgautofailover.lease_margin_ms",
			   "pgaf: margin added by the monitor before it treats a lease as expired.",
			   &guc_values.lease_margin_ms, 0, INT_MAX, GUC_UNIT_MS);
	MarkGUCPrefixReserved("pgautofailover");
}

/* ------------------------------------------------------------------------------------------ */
/* Shared memory: which database has a health-check worker                                     */
/* ------------------------------------------------------------------------------------------ */

typedef struct WorkerSlot
{
	Oid			dboid;
	pid_t		pid;				/* 0 when no worker runs */
	TimestampTz suppress_until; /* no new worker before this (database being dropped) */
} WorkerSlot;

typedef struct PgafShared
{
	slock_t		mutex;
	/* when shared memory was (re)initialised: postmaster start or the end of a crash restart.
	 * Any commit lost in a crash (asynchronous commit) happened before this instant. */
	TimestampTz init_time;
	WorkerSlot	slots[PGAF_MAX_DATABASES];
} PgafShared;

static PgafShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;

static void
pgaf_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(PgafShared)));
}

static void
pgaf_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("pgautofailover", sizeof(PgafShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(PgafShared));
		SpinLockInit(&shared->mutex);
		shared->init_time = GetCurrentTimestamp();
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Slot of dboid, creating it when create is true; NULL when full. A slot with no worker and
 * no pending suppression is free for reuse (so dropped databases do not fill the table). Caller
 * holds the mutex and passes the current time (taken before acquiring it). */
static WorkerSlot *
find_slot_at(Oid dboid, bool create, TimestampTz now)
{
	int			i;
	WorkerSlot *free_slot = NULL;

	for (i = 0; i < PGAF_MAX_DATABASES; i++)
	{
		WorkerSlot *s = &shared->slots[i];

		if (s->dboid == dboid)
			return s;
		if (free_slot == NULL &&
			(s->dboid == InvalidOid || (s->pid == 0 && s->suppress_until <= now)))
			free_slot = s;
	}
	if (create && free_slot != NULL)
	{
		free_slot->dboid = dboid;
		free_slot->pid = 0;
		free_slot->suppress_until = 0;
		return free_slot;
	}
	return NULL;
}

/* Stop the health-check worker of a database that is about to be dropped or renamed. */
static void
stop_worker_for_database(const char *dbname)
{
	Oid			dboid;
	pid_t		pid = 0;
	int			waited_ms;
	TimestampTz now = GetCurrentTimestamp();

	if (shared == NULL || dbname == NULL)
		return;
	dboid = get_database_oid(dbname, true);
	if (!OidIsValid(dboid))
		return;
	SpinLockAcquire(&shared->mutex);
	{
		WorkerSlot *slot = find_slot_at(dboid, true, now);

		if (slot != NULL)
		{
			slot->suppress_until = TimestampTzPlusMilliseconds(now, PGAF_DROP_SUPPRESS_MS);
			pid = slot->pid;
		}
	}
	SpinLockRelease(&shared->mutex);
	if (pid == 0)
		return;
	kill(pid, SIGTERM);
	/* bounded: 5 s, then DROP DATABASE reports the usual "being accessed" error itself */
	for (waited_ms = 0; waited_ms < 5000; waited_ms += 10)
	{
		bool		gone;

		SpinLockAcquire(&shared->mutex);
		{
			WorkerSlot *slot = find_slot_at(dboid, false, now);

			gone = slot == NULL || slot->pid == 0;
		}
		SpinLockRelease(&shared->mutex);
		if (gone)
			break;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000L);
	}
}

static void
pgaf_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					 ProcessUtilityContext context, ParamListInfo params,
					 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, DropdbStmt))
		stop_worker_for_database(((DropdbStmt *) parsetree)->dbname);
	else if (IsA(parsetree, RenameStmt) &&
			 ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
		stop_worker_for_database(((RenameStmt *) parsetree)->subname);

	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context, params, queryEnv,
								  dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv,
								dest, qc);
}

/* ------------------------------------------------------------------------------------------ */
/* _PG_init                                                                                    */
/* ------------------------------------------------------------------------------------------ */

void
_PG_init(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgautofailover can only be loaded via shared_preload_libraries"),
				 errhint("Add pgautofailover to shared_preload_libraries configuration "
						 "variable in postgresql.conf.")));

	define_gucs();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgaf_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgaf_shmem_startup;
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = pgaf_process_utility;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pgautofailover");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "pgaf_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_auto_failover monitor");
	snprintf(worker.bgw_type, BGW_MAXLEN, "pgautofailover");
	RegisterBackgroundWorker(&worker);
}

/* ------------------------------------------------------------------------------------------ */
/* Database access for C++ (bridge.h): PG_TRY + stash                                          */
/* ------------------------------------------------------------------------------------------ */

static ErrorData *stashed_error = NULL;
static MemoryContext stash_context = NULL;

static void
stash_current_error(void)
{
	MemoryContextSwitchTo(stash_context != NULL ? stash_context : TopMemoryContext);
	stashed_error = CopyErrorData();
	FlushErrorState();
}

int
pgaf_db_error_stashed(void)
{
	return stashed_error != NULL;
}

static SPIPlanPtr plans[PGAF_MAX_PLANS];

static SPIPlanPtr
prepare_plan(int plan_id, const char *sql, int nargs)
{
	Oid			argtypes[32];
	SPIPlanPtr	plan;
	int			i;

	if (nargs > 32)
		elog(ERROR, "pgautofailover: too many query parameters (%d)", nargs);
	for (i = 0; i < nargs; i++)
		argtypes[i] = TEXTOID;
	if (plan_id >= 0 && plan_id < PGAF_MAX_PLANS && plans[plan_id] != NULL)
		return plans[plan_id];
	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "pgautofailover: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (plan_id >= 0 && plan_id < PGAF_MAX_PLANS)
	{
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "pgautofailover: SPI_keepplan failed");
		plans[plan_id] = plan;
	}
	return plan;
}

int
pgaf_db_query(int plan_id, const char *sql, int nargs, const char *const *args, int read_only,
			  PgafRows *out)
{
	volatile int rc = 0;

	out->nrows = 0;
	out->ncols = 0;
	out->cells = NULL;
	if (stashed_error != NULL)
		return -1;
	PG_TRY();
	{
		Datum		values[32];
		char		nulls[32];
		SPIPlanPtr	plan;
		int			ret;
		int			i;

		plan = prepare_plan(plan_id, sql, nargs);
		for (i = 0; i < nargs; i++)
		{
			values[i] = args[i] != NULL ? CStringGetTextDatum(args[i]) : (Datum) 0;
			nulls[i] = args[i] != NULL ? ' ' : 'n';
		}
		ret = SPI_execute_plan(plan, values, nulls, read_only != 0, 0);
		if (ret < 0)
			elog(ERROR, "pgautofailover: SPI_execute_plan failed: %s",
				 SPI_result_code_string(ret));
		if (SPI_tuptable != NULL && SPI_processed > 0)
		{
			TupleDesc	desc = SPI_tuptable->tupdesc;
			int			nrows = (int) SPI_processed;
			int			ncols = desc->natts;
			char	  **cells = palloc0(sizeof(char *) * (size_t) nrows * (size_t) ncols);
			int			r,
						c;

			for (r = 0; r < nrows; r++)
				for (c = 0; c < ncols; c++)
					cells[r * ncols + c] = SPI_getvalue(SPI_tuptable->vals[r], desc, c + 1);
			out->nrows = nrows;
			out->ncols = ncols;
			out->cells = cells;
		}
		else if (SPI_tuptable != NULL)
			out->ncols = SPI_tuptable->tupdesc->natts;
	}
	PG_CATCH();
	{
		stash_current_error();
		rc = -1;
	}
	PG_END_TRY();
	return rc;
}

static void
lock_tag(LOCKTAG *tag, const char *formation_id, int group_id)
{
	uint32		h = hash_bytes((const unsigned char *) formation_id, (int) strlen(formation_id));

	/* field4 10/11: distinct from pg_advisory_lock's 1 and 2, so user locks never collide */
	if (group_id < 0)
		SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, h, 0, 10);
	else
		SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, h, (uint32) group_id, 11);
}

int
pgaf_db_lock(const char *formation_id, int group_id, int mode)
{
	volatile int rc = 0;

	if (stashed_error != NULL)
		return -1;
	PG_TRY();
	{
		LOCKTAG		tag;

		lock_tag(&tag, formation_id, group_id);
		(void) LockAcquire(&tag, mode == 2 ? ExclusiveLock : ShareLock, false, false);
	}
	PG_CATCH();
	{
		stash_current_error();
		rc = -1;
	}
	PG_END_TRY();
	return rc;
}

int
pgaf_db_unlock(const char *formation_id, int group_id, int mode)
{
	volatile int rc = 0;

	if (stashed_error != NULL)
		return -1;
	PG_TRY();
	{
		LOCKTAG		tag;

		lock_tag(&tag, formation_id, group_id);
		(void) LockRelease(&tag, mode == 2 ? ExclusiveLock : ShareLock, false);
	}
	PG_CATCH();
	{
		stash_current_error();
		rc = -1;
	}
	PG_END_TRY();
	return rc;
}

int
pgaf_db_message(int level, const char *text)
{
	volatile int rc = 0;

	if (stashed_error != NULL)
		return -1;
	PG_TRY();
	{
		int			elevel = level == 2 ? WARNING : level == 1 ? NOTICE : LOG;

		ereport(elevel, (errmsg("%s", text)));
	}
	PG_CATCH();
	{
		stash_current_error();
		rc = -1;
	}
	PG_END_TRY();
	return rc;
}

static int64_t
timestamptz_to_unix_ms(TimestampTz t)
{
	return (int64_t) (t / 1000) +
		(int64_t) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
}

int64_t
pgaf_db_now_ms(void)
{
	return timestamptz_to_unix_ms(GetCurrentTimestamp());
}

int64_t
pgaf_db_postmaster_start_ms(void)
{
	TimestampTz t = PgStartTime;

	if (shared != NULL && shared->init_time > t)
		t = shared->init_time;
	return timestamptz_to_unix_ms(t);
}

int
pgaf_db_async_commit(void)
{
	volatile int rc = 0;

	if (stashed_error != NULL)
		return -1;
	PG_TRY();
	{
		(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
	}
	PG_CATCH();
	{
		stash_current_error();
		rc = -1;
	}
	PG_END_TRY();
	return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* SQL-callable entry points                                                                   */
/* ------------------------------------------------------------------------------------------ */

typedef struct DispatchCache
{
	int			nargs;
	FmgrInfo   *arg_out;		/* output function per argument */
	TypeFuncClass cls;
	Oid			rettype;
	AttInMetadata *attinmeta;	/* composite results */
	FmgrInfo	ret_in;			/* scalar results */
	Oid			ret_ioparam;
} DispatchCache;

static bool version_checked = false;

/* The installed version of the extension in this database, or NULL. Plain C, may elog. */
static char *get_extension_version_string(void);

static void
check_extension_version(void)
{
	char	   *installed;

	if (version_checked || !guc_enable_version_checks)
		return;
	installed = get_extension_version_string();
	if (installed != NULL && strcmp(installed, PGAF_EXTENSION_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("loaded \"pgautofailover\" library version differs from installed "
						"extension version"),
				 errdetail("Loaded library requires %s, but the installed extension version is %s.",
						   PGAF_EXTENSION_VERSION, installed),
				 errhint("Run ALTER EXTENSION pgautofailover UPDATE and try again.")));
	version_checked = true;
}

static char *
get_extension_version_string(void)
{
	int			ret;
	char	   *v = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		return NULL;
	ret = SPI_execute("SELECT extversion FROM pg_catalog.pg_extension "
					  "WHERE extname = 'pgautofailover'", true, 1);
	if (ret == SPI_OK_SELECT && SPI_processed == 1)
	{
		char	   *s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (s != NULL)
			v = SPI_palloc(strlen(s) + 1), strcpy(v, s);
	}
	SPI_finish();
	return v;
}

static DispatchCache *
dispatch_cache(FunctionCallInfo fcinfo)
{
	DispatchCache *cache = (DispatchCache *) fcinfo->flinfo->fn_extra;
	MemoryContext old;
	Oid		   *argtypes;
	int			nargs;
	int			i;
	TupleDesc	tupdesc = NULL;

	if (cache != NULL)
		return cache;
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	cache = palloc0(sizeof(DispatchCache));
	(void) get_func_signature(fcinfo->flinfo->fn_oid, &argtypes, &nargs);
	cache->nargs = nargs;
	cache->arg_out = palloc0(sizeof(FmgrInfo) * (size_t) Max(nargs, 1));
	for (i = 0; i < nargs; i++)
	{
		Oid			outfn;
		bool		isvarlena;

		getTypeOutputInfo(argtypes[i], &outfn, &isvarlena);
		fmgr_info_cxt(outfn, &cache->arg_out[i], fcinfo->flinfo->fn_mcxt);
	}
	cache->cls = get_call_result_type(fcinfo, &cache->rettype, &tupdesc);
	if (cache->cls == TYPEFUNC_COMPOSITE)
		cache->attinmeta = TupleDescGetAttInMetadata(BlessTupleDesc(CreateTupleDescCopy(tupdesc)));
	else if (cache->rettype != VOIDOID)
	{
		Oid			infn;

		getTypeInputInfo(cache->rettype, &infn, &cache->ret_ioparam);
		fmgr_info_cxt(infn, &cache->ret_in, fcinfo->flinfo->fn_mcxt);
	}
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

/* Copy a malloc'd C++ string into palloc (NULL stays NULL). */
static char *
pstrdup_or_null(const char *s)
{
	return s != NULL ? pstrdup(s) : NULL;
}

static Datum
dispatch(FunctionCallInfo fcinfo, PgafFn fn)
{
	DispatchCache *cache;
	const char *args[32];
	PgafResult	result = {0, 0, NULL};
	PgafStatus	status;
	int			i;
	Datum		ret = (Datum) 0;
	bool		ret_null = false;

	check_extension_version();
	cache = dispatch_cache(fcinfo);
	if (cache->nargs > 32)
		elog(ERROR, "pgautofailover: too many arguments");
	for (i = 0; i < cache->nargs; i++)
		args[i] = PG_ARGISNULL(i) ? NULL
			: OutputFunctionCall(&cache->arg_out[i], PG_GETARG_DATUM(i));

	memset(&status, 0, sizeof(status));
	stashed_error = NULL;
	stash_context = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pgautofailover: SPI_connect failed");

	pgaf_call(fn, cache->nargs, args, &result, &status);	/* C++; never throws */

	if (stashed_error != NULL)
	{
		ErrorData  *e = stashed_error;

		stashed_error = NULL;
		pgaf_result_free(&result);
		pgaf_status_free(&status);
		ReThrowError(e);
	}
	SPI_finish();

	if (status.failed)
	{
		char		sqlstate[6];
		char	   *message = pstrdup_or_null(status.message);
		char	   *detail = pstrdup_or_null(status.detail);
		char	   *hint = pstrdup_or_null(status.hint);

		memcpy(sqlstate, status.sqlstate, sizeof(sqlstate));
		sqlstate[5] = '\0';
		pgaf_result_free(&result);
		pgaf_status_free(&status);
		/* every C++ object is gone: raise */
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2], sqlstate[3],
									   sqlstate[4])),
				 errmsg("%s", message != NULL ? message : "pgautofailover: unknown error"),
				 detail != NULL ? errdetail("%s", detail) : 0,
				 hint != NULL ? errhint("%s", hint) : 0));
	}

	if (cache->cls == TYPEFUNC_COMPOSITE)
	{
		if (result.nrows < 1)
			ret_null = true;
		else
		{
			HeapTuple	tuple;

			if (result.ncols != cache->attinmeta->tupdesc->natts)
			{
				pgaf_result_free(&result);
				elog(ERROR, "pgautofailover: result has %d columns, expected %d", result.ncols,
					 cache->attinmeta->tupdesc->natts);
			}
			tuple = BuildTupleFromCStrings(cache->attinmeta, result.cells);
			ret = HeapTupleGetDatum(tuple);
		}
	}
	else if (cache->rettype == VOIDOID)
		ret = (Datum) 0;
	else if (result.nrows < 1 || result.cells[0] == NULL)
		ret_null = true;
	else
		ret = InputFunctionCall(&cache->ret_in, result.cells[0], cache->ret_ioparam, -1);

	pgaf_result_free(&result);
	if (ret_null)
		PG_RETURN_NULL();
	return ret;
}

#define PGAF_SQL_FUNCTION(symbol, id) \
	PG_FUNCTION_INFO_V1(symbol); \
	PGDLLEXPORT Datum symbol(PG_FUNCTION_ARGS); \
	Datum symbol(PG_FUNCTION_ARGS) { return dispatch(fcinfo, id); }

PGAF_SQL_FUNCTION(pgaf_register_node, PGAF_FN_REGISTER_NODE)
PGAF_SQL_FUNCTION(pgaf_node_active, PGAF_FN_NODE_ACTIVE)
PGAF_SQL_FUNCTION(pgaf_get_primary, PGAF_FN_GET_PRIMARY)
PGAF_SQL_FUNCTION(pgaf_remove_node_by_nodeid, PGAF_FN_REMOVE_NODE_BY_NODEID)
PGAF_SQL_FUNCTION(pgaf_remove_node_by_host, PGAF_FN_REMOVE_NODE_BY_HOST)
PGAF_SQL_FUNCTION(pgaf_perform_failover, PGAF_FN_PERFORM_FAILOVER)
PGAF_SQL_FUNCTION(pgaf_perform_promotion, PGAF_FN_PERFORM_PROMOTION)
PGAF_SQL_FUNCTION(pgaf_start_maintenance, PGAF_FN_START_MAINTENANCE)
PGAF_SQL_FUNCTION(pgaf_stop_maintenance, PGAF_FN_STOP_MAINTENANCE)
PGAF_SQL_FUNCTION(pgaf_set_node_candidate_priority, PGAF_FN_SET_NODE_CANDIDATE_PRIORITY)
PGAF_SQL_FUNCTION(pgaf_set_node_replication_quorum, PGAF_FN_SET_NODE_REPLICATION_QUORUM)
PGAF_SQL_FUNCTION(pgaf_set_formation_number_sync_standbys,
				  PGAF_FN_SET_FORMATION_NUMBER_SYNC_STANDBYS)
PGAF_SQL_FUNCTION(pgaf_synchronous_standby_names, PGAF_FN_SYNCHRONOUS_STANDBY_NAMES)
PGAF_SQL_FUNCTION(pgaf_formation_uri, PGAF_FN_FORMATION_URI)

/* ------------------------------------------------------------------------------------------ */
/* Background workers                                                                          */
/* ------------------------------------------------------------------------------------------ */

typedef struct LaunchedWorker
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
	TimestampTz next_start;
} LaunchedWorker;

static void
launch_worker(LaunchedWorker *lw)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pgautofailover");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "pgaf_health_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_auto_failover health check worker %u", lw->dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "pgautofailover");
	worker.bgw_main_arg = ObjectIdGetDatum(lw->dboid);
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &lw->handle))
		lw->handle = NULL;
}

static bool
worker_running(LaunchedWorker *lw)
{
	pid_t		pid;

	if (lw->handle == NULL)
		return false;
	return GetBackgroundWorkerPid(lw->handle, &pid) != BGWH_STOPPED;
}

static bool
start_suppressed(Oid dboid, TimestampTz now)
{
	bool		suppressed = false;

	SpinLockAcquire(&shared->mutex);
	{
		WorkerSlot *slot = find_slot_at(dboid, false, now);

		suppressed = slot != NULL && slot->suppress_until > now;
	}
	SpinLockRelease(&shared->mutex);
	return suppressed;
}

void
pgaf_launcher_main(Datum arg)
{
	LaunchedWorker workers[PGAF_MAX_DATABASES];
	int			nworkers = 0;

	(void) arg;
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	memset(workers, 0, sizeof(workers));

	for (;;)
	{
		Oid			dbs[PGAF_MAX_DATABASES];
		int			ndbs = 0;
		int			i,
					j;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* the databases that accept connections */
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		{
			Relation	rel = table_open(DatabaseRelationId, AccessShareLock);
			TableScanDesc scan = table_beginscan_catalog(rel, 0, NULL);
			HeapTuple	tup;

			while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL &&
				   ndbs < PGAF_MAX_DATABASES)
			{
				Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

				if (db->datallowconn && !db->datistemplate)
					dbs[ndbs++] = db->oid;
			}
			table_endscan(scan);
			table_close(rel, AccessShareLock);
		}
		CommitTransactionCommand();

		now = GetCurrentTimestamp();
		for (i = 0; i < ndbs && guc_enable_health_checks; i++)
		{
			LaunchedWorker *lw = NULL;

			for (j = 0; j < nworkers; j++)
				if (workers[j].dboid == dbs[i])
					lw = &workers[j];
			if (lw == NULL)
			{
				if (nworkers >= PGAF_MAX_DATABASES)
					continue;
				lw = &workers[nworkers++];
				lw->dboid = dbs[i];
				lw->handle = NULL;
				lw->next_start = 0;
			}
			if (worker_running(lw) || now < lw->next_start || start_suppressed(lw->dboid, now))
				continue;
			if (lw->handle != NULL)
			{
				pfree(lw->handle);
				lw->handle = NULL;
			}
			launch_worker(lw);
			/* a worker that exits (no extension there) is started again after a while */
			lw->next_start = TimestampTzPlusMilliseconds(now, PGAF_ABSENT_RECHECK_MS);
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

static MemoryContext worker_context = NULL;
static Oid	worker_dboid = InvalidOid;

static void
worker_slot_clear(int code, Datum arg)
{
	TimestampTz now = GetCurrentTimestamp();

	(void) code;
	(void) arg;
	if (shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	{
		WorkerSlot *slot = find_slot_at(worker_dboid, false, now);

		if (slot != NULL && slot->pid == MyProcPid)
			slot->pid = 0;
	}
	SpinLockRelease(&shared->mutex);
}

static int
worker_should_stop(void)
{
	return ProcDiePending ? 1 : 0;
}

static bool run_in_transaction(void (*step)(PgafHealthRound *, PgafStatus *),
							   PgafHealthRound *round);

/* A TickEvent to every group, each in its own transaction, when tick_interval has passed since
 * *last_tick (then *last_tick = now). */
static void
tick_if_due(PgafHealthRound *round, TimestampTz *last_tick)
{
	TimestampTz now = GetCurrentTimestamp();

	if (!TimestampDifferenceExceeds(*last_tick, now, guc_values.tick_interval_ms))
		return;
	*last_tick = now;
	pgaf_health_plan_ticks(round);
	while (pgaf_health_apply_pending(round))
	{
		CHECK_FOR_INTERRUPTS();
		(void) run_in_transaction(pgaf_health_apply, round);
	}
}

/* Run one C++ step inside its own transaction; errors are logged, never fatal. */
static bool
run_in_transaction(void (*step)(PgafHealthRound *, PgafStatus *), PgafHealthRound *round)
{
	volatile bool ok = true;

	MemoryContextReset(worker_context);
	PG_TRY();
	{
		PgafStatus	status;

		memset(&status, 0, sizeof(status));
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "pgautofailover: SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		stashed_error = NULL;
		stash_context = worker_context;

		step(round, &status);	/* C++; never throws */

		if (stashed_error != NULL)
		{
			ErrorData  *e = stashed_error;

			stashed_error = NULL;
			pgaf_status_free(&status);
			ReThrowError(e);
		}
		if (status.failed)
		{
			char	   *message = MemoryContextStrdup(worker_context,
													  status.message ? status.message : "?");

			pgaf_status_free(&status);
			ereport(ERROR, (errmsg("pgautofailover health check: %s", message)));
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(worker_context);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		ok = false;
	}
	PG_END_TRY();
	pgstat_report_stat(true);
	return ok;
}

void
pgaf_health_worker_main(Datum arg)
{
	PgafHealthRound *round;
	bool		has_extension;
	TimestampTz now;
	TimestampTz last_tick = 0;

	worker_dboid = DatumGetObjectId(arg);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(worker_dboid, InvalidOid, 0);

	now = GetCurrentTimestamp();
	SpinLockAcquire(&shared->mutex);
	{
		WorkerSlot *slot = find_slot_at(worker_dboid, true, now);

		if (slot != NULL)
			slot->pid = MyProcPid;
	}
	SpinLockRelease(&shared->mutex);
	before_shmem_exit(worker_slot_clear, (Datum) 0);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	has_extension = OidIsValid(get_extension_oid("pgautofailover", true));
	CommitTransactionCommand();
	if (!has_extension)
		proc_exit(0);

	worker_context = AllocSetContextCreate(TopMemoryContext, "pgautofailover health check",
										   ALLOCSET_DEFAULT_SIZES);
	pgstat_report_appname("pg_auto_failover health check worker");
	round = pgaf_health_round_new();
	if (round == NULL)
		elog(FATAL, "pgautofailover: out of memory");

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (guc_enable_health_checks)
		{
			/* the extension may have been dropped */
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			has_extension = OidIsValid(get_extension_oid("pgautofailover", true));
			CommitTransactionCommand();
			if (!has_extension)
				proc_exit(0);

			if (run_in_transaction(pgaf_health_load, round))
			{
				pgstat_report_activity(STATE_IDLE, NULL);
				/* probe in slices (C++, no PG calls), ticking in between */
				pgaf_health_probe_start(round);
				while (pgaf_health_probe_step(round, worker_should_stop,
											  guc_values.tick_interval_ms))
				{
					CHECK_FOR_INTERRUPTS();
					tick_if_due(round, &last_tick);
				}
				CHECK_FOR_INTERRUPTS();
				pgaf_health_plan(round);
				/* one transaction per decision (see health.cpp apply_one) */
				while (pgaf_health_apply_pending(round))
				{
					CHECK_FOR_INTERRUPTS();
					(void) run_in_transaction(pgaf_health_apply, round);
				}
				last_tick = GetCurrentTimestamp(); /* the round ended with ticks */
			}
		}
		/* until the next round, tick every tick_interval */
		{
			TimestampTz next_round = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
																 guc_values.health_check_period_ms);

			for (;;)
			{
				long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next_round);

				if (left <= 0)
					break;
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 Min(left, (long) guc_values.tick_interval_ms), PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
				if (ConfigReloadPending)
					break;
				if (guc_enable_health_checks)
					tick_if_due(round, &last_tick);
			}
		}
	}
}
