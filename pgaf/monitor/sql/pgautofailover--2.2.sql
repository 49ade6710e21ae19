-- pgautofailover--2.2.sql — schema and SQL API of the pgaf monitor extension.
--
-- Compatible with pg_auto_failover 2.2 (upstream-design.md §5): same schema name, enum labels and
-- order, table and column names, function names, argument names, defaults and result columns.
-- Additions of ours are marked "pgaf:".
--
-- Invariants:
--  * every API function is SECURITY DEFINER with a pinned search_path, and only the owner and
--    autoctl_node may execute it (EXECUTE is revoked from PUBLIC);
--  * functions that change goal states are implemented in C++ (module pgautofailover) on top of
--    pgaf::decide(); the read-only views of the tables are plain SQL here;
--  * the group's decisions are serialised by the monitor's formation and group locks (not by
--    anything in this file).

\echo Use "CREATE EXTENSION pgautofailover" to load this file. \quit

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'autoctl_node') THEN
    CREATE ROLE autoctl_node WITH LOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'autoctl') THEN
    CREATE ROLE autoctl WITH LOGIN CREATEDB;
  END IF;
END
$$;

CREATE SCHEMA pgautofailover;
GRANT USAGE ON SCHEMA pgautofailover TO autoctl_node;

CREATE TYPE pgautofailover.replication_state AS ENUM (
  'unknown', 'init', 'single', 'wait_primary', 'primary', 'draining', 'demote_timeout',
  'demoted', 'catchingup', 'secondary', 'prepare_promotion', 'stop_replication',
  'wait_standby', 'maintenance', 'join_primary', 'apply_settings', 'prepare_maintenance',
  'wait_maintenance', 'report_lsn', 'fast_forward', 'join_secondary', 'dropped'
);

CREATE TABLE pgautofailover.formation (
  formationid          text NOT NULL DEFAULT 'default',
  kind                 text NOT NULL DEFAULT 'pgsql',
  dbname               name NOT NULL DEFAULT 'postgres',
  opt_secondary        bool NOT NULL DEFAULT true,
  number_sync_standbys int  NOT NULL DEFAULT 0,
  PRIMARY KEY (formationid),
  CHECK (kind IN ('pgsql', 'citus')),
  CHECK (number_sync_standbys >= 0)
);
INSERT INTO pgautofailover.formation (formationid) VALUES ('default');

CREATE FUNCTION pgautofailover.update_secondary_check()
  RETURNS trigger LANGUAGE plpgsql
  SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  nodeid bigint := NULL;
  reportedstate pgautofailover.replication_state := NULL;
BEGIN
  -- opt_secondary can only be disabled while every node of the formation is single
  IF NEW.opt_secondary = false AND OLD.opt_secondary = true THEN
    SELECT node.nodeid, node.reportedstate INTO nodeid, reportedstate
      FROM pgautofailover.node
     WHERE node.formationid = NEW.formationid
       AND node.reportedstate <> 'single'
       AND node.goalstate <> 'dropped'
     LIMIT 1;
    IF nodeid IS NOT NULL THEN
      RAISE EXCEPTION object_not_in_prerequisite_state
        USING MESSAGE = format('formation %s has nodes that are not in the single state', NEW.formationid),
              DETAIL = format('node %s is in state %s', nodeid, reportedstate),
              HINT = 'drop the secondary nodes before disabling secondaries';
    END IF;
  END IF;
  RETURN NEW;
END
$$;

CREATE TABLE pgautofailover.node (
  formationid         text NOT NULL DEFAULT 'default',
  nodeid              bigserial,
  groupid             int NOT NULL,
  nodename            text NOT NULL,
  nodehost            text NOT NULL,
  nodeport            int NOT NULL,
  sysidentifier       bigint,
  goalstate           pgautofailover.replication_state NOT NULL DEFAULT 'init',
  reportedstate       pgautofailover.replication_state NOT NULL,
  reportedpgisrunning bool DEFAULT true,
  reportedrepstate    text DEFAULT 'async',
  reporttime          timestamptz NOT NULL DEFAULT now(),
  reportedtli         int NOT NULL DEFAULT 1 CHECK (reportedtli > 0),
  reportedlsn         pg_lsn NOT NULL DEFAULT '0/0',
  walreporttime       timestamptz NOT NULL DEFAULT now(),
  health              integer NOT NULL DEFAULT -1,
  healthchecktime     timestamptz NOT NULL DEFAULT now(),
  statechangetime     timestamptz NOT NULL DEFAULT now(),
  candidatepriority   int NOT NULL DEFAULT 100,
  replicationquorum   bool NOT NULL DEFAULT true,
  nodecluster         text NOT NULL DEFAULT 'default',
  -- pgaf: fencing — monitor time of the first report in which the node said it stopped
  -- streaming from the primary; NULL while it may still be streaming (docs/design/fencing.md)
  streamstoptime      timestamptz,
  -- pgaf: fencing — monitor time of the last report answered with a writable goal (the node's
  -- write lease runs from just before it); NULL if it never got one
  leasegrantedtime    timestamptz,
  -- pgaf: report_seq of the last node_active applied (0 = none, or the agent sends none); a
  -- report with a sequence not above it is stale and ignored (docs/monitor.md)
  lastreportseq       bigint NOT NULL DEFAULT 0,
  -- pgaf: one-way partitions — id of the primary whose last report said this standby does not
  -- acknowledge its WAL (0 = none); it counts only while that node is the primary
  walackstaleby       bigint NOT NULL DEFAULT 0,
  UNIQUE (formationid, nodename),
  UNIQUE (nodehost, nodeport),
  PRIMARY KEY (nodeid),
  FOREIGN KEY (formationid) REFERENCES pgautofailover.formation(formationid),
  CONSTRAINT system_identifier_is_null_at_init_only
    CHECK (((sysidentifier IS NULL OR sysidentifier = 0)
            AND reportedstate IN ('init', 'wait_standby', 'catchingup', 'dropped'))
           OR sysidentifier IS NOT NULL),
  CONSTRAINT same_system_identifier
    EXCLUDE USING gist (formationid WITH =, groupid WITH =, sysidentifier WITH <>)
    DEFERRABLE INITIALLY DEFERRED
) WITH (fillfactor = 25);

CREATE TRIGGER disable_secondary_check
  BEFORE UPDATE ON pgautofailover.formation
  FOR EACH ROW EXECUTE PROCEDURE pgautofailover.update_secondary_check();

CREATE TABLE pgautofailover.event (
  eventid           bigserial NOT NULL,
  eventtime         timestamptz NOT NULL DEFAULT now(),
  formationid       text NOT NULL,
  nodeid            bigint NOT NULL,
  groupid           int NOT NULL,
  nodename          text NOT NULL,
  nodehost          text NOT NULL,
  nodeport          integer NOT NULL,
  reportedstate     pgautofailover.replication_state NOT NULL,
  goalstate         pgautofailover.replication_state NOT NULL,
  reportedrepstate  text,
  reportedtli       int NOT NULL DEFAULT 1 CHECK (reportedtli > 0),
  reportedlsn       pg_lsn NOT NULL DEFAULT '0/0',
  candidatepriority int,
  replicationquorum bool,
  description       text,
  PRIMARY KEY (eventid)
);

GRANT SELECT ON ALL TABLES IN SCHEMA pgautofailover TO autoctl_node;

----------------------------------------------------------------------------------------------
-- Functions implemented in C++ (they run pgaf::decide() or need the core's computations)
----------------------------------------------------------------------------------------------

CREATE FUNCTION pgautofailover.register_node
 (
    IN formation_id         text,
    IN node_host            text,
    IN node_port            int,
    IN dbname               name,
    IN node_name            text DEFAULT '',
    IN sysidentifier        bigint DEFAULT 0,
    IN desired_node_id      bigint DEFAULT -1,
    IN desired_group_id     int DEFAULT -1,
    IN initial_group_role   pgautofailover.replication_state DEFAULT 'init',
    IN node_kind            text DEFAULT 'standalone',
    IN candidate_priority   int DEFAULT 100,
    IN replication_quorum   bool DEFAULT true,
    IN node_cluster         text DEFAULT 'default',
   OUT assigned_node_id             bigint,
   OUT assigned_group_id            int,
   OUT assigned_group_state         pgautofailover.replication_state,
   OUT assigned_candidate_priority  int,
   OUT assigned_replication_quorum  bool,
   OUT assigned_node_name           text
 )
RETURNS record LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_register_node';

CREATE FUNCTION pgautofailover.node_active
 (
    IN formation_id           text,
    IN node_id                bigint,
    IN group_id               int,
    IN current_group_role     pgautofailover.replication_state DEFAULT 'init',
    IN current_pg_is_running  bool DEFAULT true,
    IN current_tli            int DEFAULT 1,
    IN current_lsn            pg_lsn DEFAULT '0/0',
    IN current_rep_state      text DEFAULT '',
   OUT assigned_node_id             bigint,
   OUT assigned_group_id            int,
   OUT assigned_group_state         pgautofailover.replication_state,
   OUT assigned_candidate_priority  int,
   OUT assigned_replication_quorum  bool
 )
RETURNS record LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_node_active';

-- pgaf: the same report with a per-node sequence number (strictly increasing; 0 = none). No
-- default on report_seq, so every call of the reference's 8-argument form resolves to it.
CREATE FUNCTION pgautofailover.node_active
 (
    IN formation_id           text,
    IN node_id                bigint,
    IN group_id               int,
    IN current_group_role     pgautofailover.replication_state,
    IN current_pg_is_running  bool,
    IN current_tli            int,
    IN current_lsn            pg_lsn,
    IN current_rep_state      text,
    IN report_seq             bigint,
   OUT assigned_node_id             bigint,
   OUT assigned_group_id            int,
   OUT assigned_group_state         pgautofailover.replication_state,
   OUT assigned_candidate_priority  int,
   OUT assigned_replication_quorum  bool
 )
RETURNS record LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_node_active';

-- pgaf: the numbered report of a primary, with the standbys that have not acknowledged its WAL
-- for standby_ack_timeout_ms (one-way partitions: the monitor stops counting them for
-- synchronous replication). NULL = no verdict (the stored ones stay).
CREATE FUNCTION pgautofailover.node_active
 (
    IN formation_id           text,
    IN node_id                bigint,
    IN group_id               int,
    IN current_group_role     pgautofailover.replication_state,
    IN current_pg_is_running  bool,
    IN current_tli            int,
    IN current_lsn            pg_lsn,
    IN current_rep_state      text,
    IN report_seq             bigint,
    IN stale_standbys         bigint[],
   OUT assigned_node_id             bigint,
   OUT assigned_group_id            int,
   OUT assigned_group_state         pgautofailover.replication_state,
   OUT assigned_candidate_priority  int,
   OUT assigned_replication_quorum  bool
 )
RETURNS record LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_node_active';

CREATE FUNCTION pgautofailover.get_primary
 (
    IN formation_id     text DEFAULT 'default',
    IN group_id         int  DEFAULT 0,
   OUT primary_node_id  bigint,
   OUT primary_name     text,
   OUT primary_host     text,
   OUT primary_port     int
 )
RETURNS record LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_get_primary';

CREATE FUNCTION pgautofailover.remove_node
 (
   node_id bigint,
   force   bool DEFAULT false
 )
RETURNS bool LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_remove_node_by_nodeid';

CREATE FUNCTION pgautofailover.remove_node
 (
   node_host text,
   node_port int DEFAULT 5432,
   force     bool DEFAULT false
 )
RETURNS bool LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_remove_node_by_host';

CREATE FUNCTION pgautofailover.perform_failover
 (
  formation_id text DEFAULT 'default',
  group_id     int  DEFAULT 0
 )
RETURNS void LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_perform_failover';

CREATE FUNCTION pgautofailover.perform_promotion
 (
  formation_id text,
  node_name    text
 )
RETURNS bool LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_perform_promotion';

CREATE FUNCTION pgautofailover.start_maintenance(node_id bigint)
RETURNS bool LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_start_maintenance';

CREATE FUNCTION pgautofailover.stop_maintenance(node_id bigint)
RETURNS bool LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_stop_maintenance';

CREATE FUNCTION pgautofailover.set_node_candidate_priority
 (
    IN formation_id        text,
    IN node_name           text,
    IN candidate_priority  int
 )
RETURNS bool LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_set_node_candidate_priority';

CREATE FUNCTION pgautofailover.set_node_replication_quorum
 (
    IN formation_id        text,
    IN node_name           text,
    IN replication_quorum  bool
 )
RETURNS bool LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_set_node_replication_quorum';

CREATE FUNCTION pgautofailover.set_formation_number_sync_standbys
 (
    IN formation_id          text,
    IN number_sync_standbys  int
 )
RETURNS bool LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_set_formation_number_sync_standbys';

CREATE FUNCTION pgautofailover.synchronous_standby_names
 (
    IN formation_id text DEFAULT 'default',
    IN group_id     int  DEFAULT 0
 )
RETURNS text LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_synchronous_standby_names';

CREATE FUNCTION pgautofailover.formation_uri
 (
    IN formation_id text DEFAULT 'default',
    IN cluster_name text DEFAULT 'default',
    IN sslmode      text DEFAULT 'prefer',
    IN sslrootcert  text DEFAULT '',
    IN sslcrl       text DEFAULT ''
 )
RETURNS text LANGUAGE C SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'pgaf_formation_uri';

----------------------------------------------------------------------------------------------
-- Functions implemented in SQL (reads, and writes that never change a goal state)
----------------------------------------------------------------------------------------------

-- (the reference names IN and OUT parameters alike, which plpgsql refuses: the checks live in a
-- plpgsql helper, create_formation itself is SQL)
CREATE FUNCTION pgautofailover.create_formation_checked
 (
    IN formation_id         text,
    IN kind                 text,
    IN dbname               name,
    IN opt_secondary        bool,
    IN number_sync_standbys int
 )
RETURNS pgautofailover.formation LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
DECLARE
  created pgautofailover.formation;
BEGIN
  IF $1 IS NULL OR $1 = '' THEN
    RAISE EXCEPTION invalid_parameter_value USING MESSAGE = 'formation_id must not be empty';
  END IF;
  IF $2 IS NULL OR $2 NOT IN ('pgsql', 'citus') THEN
    RAISE EXCEPTION invalid_parameter_value
      USING MESSAGE = format('unknown formation kind "%s"', $2),
            HINT = 'formation kind is either "pgsql" or "citus"';
  END IF;
  IF $5 IS NULL OR $5 < 0 THEN
    RAISE EXCEPTION invalid_parameter_value
      USING MESSAGE = format('invalid value for number_sync_standbys: %s', $5),
            HINT = 'number_sync_standbys must be zero or more';
  END IF;
  IF EXISTS (SELECT 1 FROM pgautofailover.formation f WHERE f.formationid = $1) THEN
    RAISE EXCEPTION unique_violation
      USING MESSAGE = format('formation "%s" already exists', $1);
  END IF;
  INSERT INTO pgautofailover.formation AS f
         (formationid, kind, dbname, opt_secondary, number_sync_standbys)
  VALUES ($1, $2, coalesce($3, 'postgres'), coalesce($4, true), $5)
  RETURNING f.* INTO created;
  RETURN created;
END
$$;

CREATE FUNCTION pgautofailover.create_formation
 (
    IN formation_id         text,
    IN kind                 text,
    IN dbname               name,
    IN opt_secondary        bool,
    IN number_sync_standbys int,
   OUT formation_id         text,
   OUT kind                 text,
   OUT dbname               name,
   OUT opt_secondary        bool,
   OUT number_sync_standbys int
 )
RETURNS record LANGUAGE SQL SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT f.formationid, f.kind, f.dbname, f.opt_secondary, f.number_sync_standbys
    FROM pgautofailover.create_formation_checked($1, $2, $3, $4, $5) f;
$$;

CREATE FUNCTION pgautofailover.drop_formation(formation_id text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pgautofailover.formation f WHERE f.formationid = $1) THEN
    RAISE EXCEPTION undefined_object USING MESSAGE = format('formation "%s" does not exist', $1);
  END IF;
  IF EXISTS (SELECT 1 FROM pgautofailover.node n WHERE n.formationid = $1) THEN
    RAISE EXCEPTION object_in_use
      USING MESSAGE = format('formation "%s" still has registered nodes', $1),
            HINT = 'remove the nodes of the formation first';
  END IF;
  DELETE FROM pgautofailover.formation f WHERE f.formationid = $1;
END
$$;

CREATE FUNCTION pgautofailover.enable_secondary(formation_id text)
RETURNS bool LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE pgautofailover.formation f SET opt_secondary = true WHERE f.formationid = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION undefined_object USING MESSAGE = format('formation "%s" does not exist', $1);
  END IF;
  RETURN true;
END
$$;

CREATE FUNCTION pgautofailover.disable_secondary(formation_id text)
RETURNS bool LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE pgautofailover.formation f SET opt_secondary = false WHERE f.formationid = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION undefined_object USING MESSAGE = format('formation "%s" does not exist', $1);
  END IF;
  RETURN true;
END
$$;

CREATE FUNCTION pgautofailover.set_node_system_identifier
 (
    IN node_id            bigint,
    IN node_sysidentifier bigint,
   OUT node_id            bigint,
   OUT node_name          text,
   OUT node_host          text,
   OUT node_port          int
 )
RETURNS record LANGUAGE SQL SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  -- (SQL, not plpgsql: the reference names an IN and an OUT parameter node_id)
  UPDATE pgautofailover.node
     SET sysidentifier = $2
   WHERE nodeid = $1
  RETURNING nodeid, nodename, nodehost, nodeport;
$$;

CREATE FUNCTION pgautofailover.set_group_system_identifier
 (
    IN group_id           bigint,
    IN node_sysidentifier bigint,
   OUT node_id            bigint,
   OUT node_name          text,
   OUT node_host          text,
   OUT node_port          int
 )
RETURNS setof record LANGUAGE SQL SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  UPDATE pgautofailover.node
     SET sysidentifier = $2
   WHERE groupid = $1
     AND (sysidentifier IS NULL OR sysidentifier = 0)
  RETURNING nodeid, nodename, nodehost, nodeport;
$$;

CREATE FUNCTION pgautofailover.update_node_metadata
  (
     IN node_id   bigint,
     IN node_name text,
     IN node_host text,
     IN node_port int
  )
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
BEGIN
  IF $1 IS NULL THEN
    RAISE EXCEPTION null_value_not_allowed USING MESSAGE = 'node_id must not be NULL';
  END IF;
  UPDATE pgautofailover.node n
     SET nodename = coalesce($2, n.nodename),
         nodehost = coalesce($3, n.nodehost),
         nodeport = coalesce($4, n.nodeport)
   WHERE n.nodeid = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION undefined_object USING MESSAGE = format('node %s is not registered', $1);
  END IF;
  RETURN true;
END
$$;

CREATE FUNCTION pgautofailover.get_nodes
 (
    IN formation_id     text DEFAULT 'default',
    IN group_id         int  DEFAULT NULL,
   OUT node_id          bigint,
   OUT node_name        text,
   OUT node_host        text,
   OUT node_port        int,
   OUT node_lsn         pg_lsn,
   OUT node_is_primary  bool
 )
RETURNS SETOF record LANGUAGE SQL STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT nodeid, nodename, nodehost, nodeport, reportedlsn,
         reportedstate IN ('single', 'wait_primary', 'primary', 'join_primary', 'apply_settings')
    FROM pgautofailover.node
   WHERE formationid = $1
     AND ($2 IS NULL OR groupid = $2)
ORDER BY nodeid;
$$;

CREATE FUNCTION pgautofailover.get_other_nodes
 (
    IN nodeid           bigint,
   OUT node_id          bigint,
   OUT node_name        text,
   OUT node_host        text,
   OUT node_port        int,
   OUT node_lsn         pg_lsn,
   OUT node_is_primary  bool
 )
RETURNS SETOF record LANGUAGE SQL STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT o.nodeid, o.nodename, o.nodehost, o.nodeport, o.reportedlsn,
         o.reportedstate IN ('single', 'wait_primary', 'primary', 'join_primary', 'apply_settings')
    FROM pgautofailover.node me
    JOIN pgautofailover.node o
      ON o.formationid = me.formationid AND o.groupid = me.groupid AND o.nodeid <> me.nodeid
   WHERE me.nodeid = $1
     AND o.goalstate <> 'dropped'
ORDER BY o.nodeid;
$$;

CREATE FUNCTION pgautofailover.get_other_nodes
 (
    IN nodeid           bigint,
    IN current_state    pgautofailover.replication_state,
   OUT node_id          bigint,
   OUT node_name        text,
   OUT node_host        text,
   OUT node_port        int,
   OUT node_lsn         pg_lsn,
   OUT node_is_primary  bool
 )
RETURNS SETOF record LANGUAGE SQL STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT o.nodeid, o.nodename, o.nodehost, o.nodeport, o.reportedlsn,
         o.reportedstate IN ('single', 'wait_primary', 'primary', 'join_primary', 'apply_settings')
    FROM pgautofailover.node me
    JOIN pgautofailover.node o
      ON o.formationid = me.formationid AND o.groupid = me.groupid AND o.nodeid <> me.nodeid
   WHERE me.nodeid = $1
     AND o.goalstate <> 'dropped'
     AND o.goalstate = $2
ORDER BY o.nodeid;
$$;

CREATE FUNCTION pgautofailover.get_coordinator
 (
    IN formation_id  text DEFAULT 'default',
   OUT node_host     text,
   OUT node_port     int
 )
RETURNS SETOF record LANGUAGE SQL STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT nodehost, nodeport
    FROM pgautofailover.node
    JOIN pgautofailover.formation USING (formationid)
   WHERE formationid = $1
     AND groupid = 0
     AND goalstate IN ('single', 'wait_primary', 'primary')
     AND reportedstate IN ('single', 'wait_primary', 'primary')
ORDER BY nodeid;
$$;

CREATE FUNCTION pgautofailover.get_most_advanced_standby
 (
    IN formationid      text DEFAULT 'default',
    IN groupid          int  DEFAULT 0,
   OUT node_id          bigint,
   OUT node_name        text,
   OUT node_host        text,
   OUT node_port        int,
   OUT node_lsn         pg_lsn,
   OUT node_is_primary  bool
 )
RETURNS SETOF record LANGUAGE SQL STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT n.nodeid, n.nodename, n.nodehost, n.nodeport, n.reportedlsn, false
    FROM pgautofailover.node n
   WHERE n.formationid = $1
     AND n.groupid = $2
     AND n.reportedstate = 'report_lsn'
-- pgaf: the newest timeline first, as decide() ranks candidates: an old primary's WAL past the
-- fork point is "ahead" on an older timeline and cannot serve a fast_forward (simulator seed
-- 446088: the candidate tried to fetch from it forever)
ORDER BY n.reportedtli DESC, n.reportedlsn DESC, n.health DESC
   LIMIT 1;
$$;

CREATE FUNCTION pgautofailover.last_events
 (
  count int DEFAULT 10
 )
RETURNS SETOF pgautofailover.event LANGUAGE SQL STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  WITH last_events AS (
    SELECT * FROM pgautofailover.event ORDER BY eventid DESC LIMIT $1
  )
  SELECT * FROM last_events ORDER BY eventtime, eventid;
$$;

CREATE FUNCTION pgautofailover.last_events
 (
  formation_id text DEFAULT 'default',
  count        int  DEFAULT 10
 )
RETURNS SETOF pgautofailover.event LANGUAGE SQL STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  WITH last_events AS (
    SELECT * FROM pgautofailover.event
     WHERE formationid = $1
  ORDER BY eventid DESC LIMIT $2
  )
  SELECT * FROM last_events ORDER BY eventtime, eventid;
$$;

CREATE FUNCTION pgautofailover.last_events
 (
  formation_id text,
  group_id     int,
  count        int DEFAULT 10
 )
RETURNS SETOF pgautofailover.event LANGUAGE SQL STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  WITH last_events AS (
    SELECT * FROM pgautofailover.event
     WHERE formationid = $1 AND groupid = $2
  ORDER BY eventid DESC LIMIT $3
  )
  SELECT * FROM last_events ORDER BY eventtime, eventid;
$$;

CREATE FUNCTION pgautofailover.current_state
 (
    IN formation_id         text DEFAULT 'default',
   OUT formation_kind       text,
   OUT nodename             text,
   OUT nodehost             text,
   OUT nodeport             int,
   OUT group_id             int,
   OUT node_id              bigint,
   OUT current_group_state  pgautofailover.replication_state,
   OUT assigned_group_state pgautofailover.replication_state,
   OUT candidate_priority   int,
   OUT replication_quorum   bool,
   OUT reported_tli         int,
   OUT reported_lsn         pg_lsn,
   OUT health               integer,
   OUT nodecluster          text
 )
RETURNS SETOF record LANGUAGE SQL STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT kind, nodename, nodehost, nodeport, groupid, nodeid, reportedstate, goalstate,
         candidatepriority, replicationquorum, reportedtli, reportedlsn, health, nodecluster
    FROM pgautofailover.node
    JOIN pgautofailover.formation USING (formationid)
   WHERE formationid = $1
ORDER BY groupid, nodeid;
$$;

CREATE FUNCTION pgautofailover.current_state
 (
    IN formation_id         text,
    IN group_id             int,
   OUT formation_kind       text,
   OUT nodename             text,
   OUT nodehost             text,
   OUT nodeport             int,
   OUT group_id             int,
   OUT node_id              bigint,
   OUT current_group_state  pgautofailover.replication_state,
   OUT assigned_group_state pgautofailover.replication_state,
   OUT candidate_priority   int,
   OUT replication_quorum   bool,
   OUT reported_tli         int,
   OUT reported_lsn         pg_lsn,
   OUT health               integer,
   OUT nodecluster          text
 )
RETURNS SETOF record LANGUAGE SQL STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  SELECT kind, nodename, nodehost, nodeport, groupid, nodeid, reportedstate, goalstate,
         candidatepriority, replicationquorum, reportedtli, reportedlsn, health, nodecluster
    FROM pgautofailover.node
    JOIN pgautofailover.formation USING (formationid)
   WHERE formationid = $1
     AND groupid = $2
ORDER BY groupid, nodeid;
$$;

CREATE FUNCTION pgautofailover.formation_settings
 (
    IN formation_id  text DEFAULT 'default',
   OUT context       text,
   OUT group_id      int,
   OUT node_id       bigint,
   OUT nodename      text,
   OUT setting       text,
   OUT value         text
 )
RETURNS SETOF record LANGUAGE SQL STABLE SECURITY DEFINER
SET search_path = pgautofailover, pg_catalog, pg_temp
AS $$
  WITH groups AS (
    SELECT DISTINCT n.groupid FROM pgautofailover.node n WHERE n.formationid = $1
  ),
  settings AS (
    SELECT 1 AS o, 0 AS g, 0::bigint AS i,
           'formation'::text AS context, NULL::int AS group_id, NULL::bigint AS node_id,
           f.formationid AS nodename, 'number_sync_standbys'::text AS setting,
           f.number_sync_standbys::text AS value
      FROM pgautofailover.formation f
     WHERE f.formationid = $1
    UNION ALL
    SELECT 2, p.groupid, p.nodeid, 'primary', p.groupid, p.nodeid, p.nodename,
           'synchronous_standby_names',
           quote_literal(pgautofailover.synchronous_standby_names($1, p.groupid))
      FROM groups g
      JOIN LATERAL (
            SELECT n.groupid, n.nodeid, n.nodename FROM pgautofailover.node n
             WHERE n.formationid = $1 AND n.groupid = g.groupid
               AND n.goalstate IN ('single', 'wait_primary', 'primary', 'join_primary',
                                   'apply_settings')
          ORDER BY n.nodeid LIMIT 1) p ON true
    UNION ALL
    SELECT 3, n.groupid, n.nodeid, 'node', n.groupid, n.nodeid, n.nodename,
           'replication quorum', n.replicationquorum::text
      FROM pgautofailover.node n WHERE n.formationid = $1
    UNION ALL
    SELECT 4, n.groupid, n.nodeid, 'node', n.groupid, n.nodeid, n.nodename,
           'candidate priority', n.candidatepriority::text
      FROM pgautofailover.node n WHERE n.formationid = $1
  )
  SELECT s.context, s.group_id, s.node_id, s.nodename, s.setting, s.value
    FROM settings s
ORDER BY s.o, s.g, s.i;
$$;

----------------------------------------------------------------------------------------------
-- Privileges: only the owner and autoctl_node execute the API
----------------------------------------------------------------------------------------------
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure
      FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'pgautofailover'::regnamespace
       AND p.proname <> 'update_secondary_check'
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO autoctl_node', f);
  END LOOP;
END
$$;
