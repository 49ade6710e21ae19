-- 08_wal_ack_stale: the 10-argument node_active carries a primary's verdict on its standbys
-- (one-way partitions: a standby reachable by the monitor that does not acknowledge the
-- primary's WAL). The monitor stops counting such a standby for synchronous replication: it goes
-- to catchingup and a primary left without quorum standbys goes to wait_primary. Only the
-- current primary's verdict counts; NULL means no verdict; malformed arrays are refused.
\set SHOW_CONTEXT never
SELECT * FROM pgautofailover.create_formation('oneway', 'pgsql', 'postgres', true, 0);
SELECT * FROM pgautofailover.register_node('oneway', 'localhost', 9881, 'postgres',
         sysidentifier => 43, desired_node_id => 81);
SELECT * FROM pgautofailover.node_active('oneway', 81, 0, 'single', true, 1, '0/3000000', '', 1);
SELECT * FROM pgautofailover.register_node('oneway', 'localhost', 9882, 'postgres',
         sysidentifier => 43, desired_node_id => 82);
SELECT * FROM pgautofailover.node_active('oneway', 82, 0, 'wait_standby', true, 1, '0/0', '', 1);
SELECT * FROM pgautofailover.node_active('oneway', 81, 0, 'single', true, 1, '0/3000000', '', 2);
SELECT * FROM pgautofailover.node_active('oneway', 81, 0, 'wait_primary', true, 1, '0/3000000', '', 3);
SELECT * FROM pgautofailover.node_active('oneway', 82, 0, 'wait_standby', true, 1, '0/0', '', 2);
SELECT * FROM pgautofailover.node_active('oneway', 82, 0, 'catchingup', true, 1, '0/3000000', '', 3);
SELECT * FROM pgautofailover.node_active('oneway', 82, 0, 'secondary', true, 1, '0/3000000', '', 4);
SELECT * FROM pgautofailover.node_active('oneway', 81, 0, 'wait_primary', true, 1, '0/3000000', '', 4);
SELECT * FROM pgautofailover.node_active('oneway', 81, 0, 'primary', true, 1, '0/3000000', '', 5);
SELECT nodeid, reportedstate, goalstate, walackstaleby FROM pgautofailover.node
 WHERE formationid = 'oneway' ORDER BY nodeid;
SELECT pgautofailover.synchronous_standby_names('oneway', 0);
-- a standby's verdict on another node counts for nothing
SELECT * FROM pgautofailover.node_active('oneway', 82, 0, 'secondary', true, 1, '0/3000000', '', 5, '{81}');
-- the primary says node 82 stopped acknowledging its WAL
SELECT * FROM pgautofailover.node_active('oneway', 81, 0, 'primary', true, 1, '0/3000100', '', 6, '{82}');
SELECT nodeid, reportedstate, goalstate, walackstaleby FROM pgautofailover.node
 WHERE formationid = 'oneway' ORDER BY nodeid;
-- no verdict (NULL) keeps the stored one
SELECT * FROM pgautofailover.node_active('oneway', 81, 0, 'primary', true, 1, '0/3000100', '', 7, NULL);
SELECT walackstaleby FROM pgautofailover.node WHERE nodeid = 82;
-- bad arrays are refused, naming the argument, and change nothing
SELECT * FROM pgautofailover.node_active('oneway', 81, 0, 'primary', true, 1, '0/3000100', '', 8, '{0}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT * FROM pgautofailover.node_active('oneway', 81, 0, 'primary', true, 1, '0/3000100', '', 8, '{82,NULL}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT * FROM pgautofailover.node_active('oneway', 81, 0, 'primary', true, 1, '0/3000100', '', 8, '{-82}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT walackstaleby FROM pgautofailover.node WHERE nodeid = 82;
-- the primary applies the goal: wait_primary, no synchronous standby
SELECT * FROM pgautofailover.node_active('oneway', 81, 0, 'wait_primary', true, 1, '0/3000100', '', 9, '{82}');
SELECT pgautofailover.synchronous_standby_names('oneway', 0);
-- the standby reaches catchingup but cannot be secondary while the primary says it is stale
SELECT * FROM pgautofailover.node_active('oneway', 82, 0, 'catchingup', true, 1, '0/3000100', '', 6);
-- the primary says it acknowledges again: it may be secondary again
SELECT * FROM pgautofailover.node_active('oneway', 81, 0, 'wait_primary', true, 1, '0/3000100', '', 10, '{}');
SELECT * FROM pgautofailover.node_active('oneway', 82, 0, 'catchingup', true, 1, '0/3000100', '', 7);
SELECT nodeid, reportedstate, goalstate, walackstaleby FROM pgautofailover.node
 WHERE formationid = 'oneway' ORDER BY nodeid;
SELECT nodeid, goalstate, description FROM pgautofailover.event
 WHERE formationid = 'oneway' AND description LIKE '%acknowledg%' ORDER BY eventid;
