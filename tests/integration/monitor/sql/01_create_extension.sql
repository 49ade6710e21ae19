-- 01_create_extension: the objects CREATE EXTENSION makes, privileges, GUCs.
\set SHOW_CONTEXT never
SELECT extname, extversion FROM pg_extension WHERE extname IN ('pgautofailover', 'btree_gist') ORDER BY 1;
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN ('autoctl', 'autoctl_node') ORDER BY 1;
SELECT enum_range(NULL::pgautofailover.replication_state);
SELECT * FROM pgautofailover.formation;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'pgautofailover.node'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'pgautofailover.event'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
-- every API function: SECURITY DEFINER, pinned search_path, executable by autoctl_node only
SELECT p.oid::regprocedure AS function, prosecdef, proconfig,
       has_function_privilege('autoctl_node', p.oid, 'EXECUTE') AS autoctl_node,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public
  FROM pg_proc p WHERE pronamespace = 'pgautofailover'::regnamespace
 ORDER BY p.proname, p.oid::regprocedure::text;
SELECT pg_get_function_result('pgautofailover.node_active(text,bigint,int,pgautofailover.replication_state,bool,int,pg_lsn,text)'::regprocedure);
SELECT pg_get_function_arguments('pgautofailover.register_node'::regproc);
-- (values come from pgaf::Settings, see pgaf/core settings.hpp)
SELECT name, unit, context FROM pg_settings WHERE name LIKE 'pgautofailover.%' ORDER BY name;
-- a compact view of a formation for the following tests
CREATE FUNCTION public.states(f text DEFAULT 'default')
RETURNS TABLE(id bigint, name text, reported pgautofailover.replication_state,
              goal pgautofailover.replication_state, prio int, quorum bool)
LANGUAGE sql AS $$
  SELECT nodeid, nodename, reportedstate, goalstate, candidatepriority, replicationquorum
    FROM pgautofailover.node WHERE formationid = f ORDER BY nodeid
$$;
