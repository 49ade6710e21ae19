-- 09_repstate_and_removal: what a reference user reads in the node table before and after the
-- first report (reportedrepstate 'async', then 'unknown' when the report names no sync state),
-- a sync state the monitor does not know is refused, and removing the primary of three nodes
-- lowers number_sync_standbys (one of the two nodes left becomes the primary).
\set SHOW_CONTEXT never
SELECT * FROM pgautofailover.create_formation('repstate', 'pgsql', 'postgres', true, 0);
SELECT assigned_node_id AS a FROM pgautofailover.register_node('repstate', '127.0.0.1', 9890,
         'postgres', 'ra', sysidentifier => 77) \gset
SELECT nodename, reportedrepstate FROM pgautofailover.node WHERE nodeid = :a;
SELECT assigned_group_state FROM pgautofailover.node_active('repstate', :a, 0, 'single', true, 1, '0/6000000');
SELECT nodename, reportedrepstate FROM pgautofailover.node WHERE nodeid = :a;
SELECT assigned_group_state FROM pgautofailover.node_active('repstate', :a, 0, 'single', true, 1, '0/6000000', 'sometimes');
SELECT assigned_node_id AS b FROM pgautofailover.register_node('repstate', '127.0.0.1', 9891,
         'postgres', 'rb', sysidentifier => 77) \gset
SELECT assigned_group_state FROM pgautofailover.node_active('repstate', :b, 0, 'wait_standby');
SELECT assigned_group_state FROM pgautofailover.node_active('repstate', :a, 0, 'single', true, 1, '0/6000000');
SELECT assigned_group_state FROM pgautofailover.node_active('repstate', :a, 0, 'wait_primary', true, 1, '0/6000000', 'async');
SELECT assigned_group_state FROM pgautofailover.node_active('repstate', :b, 0, 'wait_standby');
SELECT assigned_group_state FROM pgautofailover.node_active('repstate', :b, 0, 'catchingup', true, 1, '0/6000000');
SELECT assigned_group_state FROM pgautofailover.node_active('repstate', :b, 0, 'secondary', true, 1, '0/6000000');
SELECT assigned_group_state FROM pgautofailover.node_active('repstate', :a, 0, 'wait_primary', true, 1, '0/6000000', 'quorum');
SELECT assigned_group_state FROM pgautofailover.node_active('repstate', :a, 0, 'primary', true, 1, '0/6000000', 'quorum');
SELECT assigned_node_id AS c FROM pgautofailover.register_node('repstate', '127.0.0.1', 9892,
         'postgres', 'rc', sysidentifier => 77) \gset
SELECT nodename, goalstate, reportedstate, reportedrepstate FROM pgautofailover.node
 WHERE formationid = 'repstate' ORDER BY nodeid;
SELECT number_sync_standbys FROM pgautofailover.formation WHERE formationid = 'repstate';
SELECT pgautofailover.remove_node(:a);
SELECT number_sync_standbys FROM pgautofailover.formation WHERE formationid = 'repstate';
SELECT nodename, goalstate FROM pgautofailover.node WHERE formationid = 'repstate' ORDER BY nodeid;
