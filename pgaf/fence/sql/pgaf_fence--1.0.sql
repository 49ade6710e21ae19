-- pgaf_fence 1.0: functions used by pg_autoctl to hand the write lease to PostgreSQL.
-- Only superusers (pg_autoctl connects as the local superuser) may call them.
\echo Use "CREATE EXTENSION pgaf_fence" to load this file. \quit

CREATE FUNCTION pgaf_fence_set_deadline(deadline_ms bigint)
RETURNS bigint LANGUAGE C STRICT VOLATILE AS 'MODULE_PATHNAME', 'pgaf_fence_set_deadline';
COMMENT ON FUNCTION pgaf_fence_set_deadline(bigint) IS
  'arm the fence: writing transactions may commit until CLOCK_MONOTONIC reaches deadline_ms; returns the ms left';

CREATE FUNCTION pgaf_fence_disarm()
RETURNS void LANGUAGE C STRICT VOLATILE AS 'MODULE_PATHNAME', 'pgaf_fence_disarm';

CREATE FUNCTION pgaf_fence_now()
RETURNS bigint LANGUAGE C STRICT VOLATILE AS 'MODULE_PATHNAME', 'pgaf_fence_now';

CREATE FUNCTION pgaf_fence_status(OUT armed bool, OUT deadline_ms bigint, OUT now_ms bigint,
                                  OUT enforce bool)
RETURNS record LANGUAGE C STRICT VOLATILE AS 'MODULE_PATHNAME', 'pgaf_fence_status';

REVOKE ALL ON FUNCTION pgaf_fence_set_deadline(bigint), pgaf_fence_disarm(),
                       pgaf_fence_status() FROM PUBLIC;
