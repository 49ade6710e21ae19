-- 07_report_seq: the 9-argument node_active numbers a node's reports (simulator finding F10:
-- a report delayed in the network must not be executed after newer ones). A report whose
-- report_seq is not above the last one applied changes nothing (no row update, no event), and
-- is answered with the current goal; 0 and the reference's 8-argument form always apply.
\set SHOW_CONTEXT never
SELECT * FROM pgautofailover.create_formation('seq', 'pgsql', 'postgres', true, 0);
SELECT * FROM pgautofailover.register_node('seq', 'localhost', 9880, 'postgres',
         sysidentifier => 42, desired_node_id => 80);
-- a state change with seq 10 (exclusive path), then a steady report with seq 20 (shared path)
SELECT * FROM pgautofailover.node_active('seq', 80, 0, 'single', true, 1, '0/3000000', '', 10);
SELECT reportedstate, goalstate, reportedlsn, lastreportseq FROM pgautofailover.node WHERE nodeid = 80;
SELECT * FROM pgautofailover.node_active('seq', 80, 0, 'single', true, 1, '0/3000100', '', 20);
CREATE TEMP TABLE saved AS
  SELECT n.reporttime, n.reportedlsn, n.lastreportseq,
         (SELECT count(*) FROM pgautofailover.event) AS events
    FROM pgautofailover.node n WHERE n.nodeid = 80;
SELECT reportedlsn, lastreportseq FROM saved;
-- seq 19 arrives late, with an older state: ignored, answered with the current goal
SELECT * FROM pgautofailover.node_active('seq', 80, 0, 'init', false, 1, '0/2000000', '', 19);
-- a duplicate of seq 20: ignored too
SELECT * FROM pgautofailover.node_active('seq', 80, 0, 'init', false, 1, '0/2000000', '', 20);
SELECT n.reportedstate, n.reportedpgisrunning, n.reportedlsn, n.lastreportseq,
       n.reporttime = s.reporttime AS same_reporttime,
       (SELECT count(*) FROM pgautofailover.event) - s.events AS new_events
  FROM pgautofailover.node n, saved s WHERE n.nodeid = 80;
-- the reference's 8-argument form always applies, and keeps the sequence (report times are
-- in milliseconds: let one pass)
SELECT pg_sleep(0.01);
SELECT * FROM pgautofailover.node_active('seq', 80, 0, 'single', true, 1, '0/3000200');
SELECT reportedlsn, lastreportseq, reporttime > (SELECT reporttime FROM saved) AS newer
  FROM pgautofailover.node WHERE nodeid = 80;
-- report_seq 0 means "not numbered": applied
SELECT * FROM pgautofailover.node_active('seq', 80, 0, 'single', true, 1, '0/3000300', '', 0);
SELECT reportedlsn, lastreportseq FROM pgautofailover.node WHERE nodeid = 80;
-- a newer sequence applies again (named arguments work too)
SELECT * FROM pgautofailover.node_active('seq', 80, 0, 'single', true, 1, '0/3000400', '',
         report_seq => 21);
SELECT reportedlsn, lastreportseq FROM pgautofailover.node WHERE nodeid = 80;
-- bad sequence numbers are refused, naming the argument, and change nothing
SELECT * FROM pgautofailover.node_active('seq', 80, 0, 'single', true, 1, '0/3000500', '', -1);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT * FROM pgautofailover.node_active('seq', 80, 0, 'single', true, 1, '0/3000500', '', NULL);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT reportedlsn, lastreportseq FROM pgautofailover.node WHERE nodeid = 80;
-- the two forms: same result columns, same privileges
SELECT p.oid::regprocedure AS function, pg_get_function_result(p.oid) = (
         SELECT pg_get_function_result(q.oid) FROM pg_proc q
          WHERE q.oid = 'pgautofailover.node_active(text,bigint,int,pgautofailover.replication_state,bool,int,pg_lsn,text)'::regprocedure
       ) AS same_result,
       has_function_privilege('autoctl_node', p.oid, 'EXECUTE') AS autoctl_node
  FROM pg_proc p WHERE p.proname = 'node_active' ORDER BY p.pronargs;
-- events of formation seq: the registration and the state change of seq 10, nothing else
SELECT nodeid, reportedstate, goalstate, description
  FROM pgautofailover.event WHERE formationid = 'seq' ORDER BY eventid;
-- (node 80 holds a write lease, so it cannot be removed now: the formation stays)
