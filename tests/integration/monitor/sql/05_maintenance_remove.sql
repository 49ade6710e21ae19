-- 05_maintenance_remove: maintenance of a standby, promotion by name (a 3-node election with
-- priority bumps), node removal by id and by host:port (on formation "three" from 04: 5 primary, 4 secondary,
-- 3 demoted).
\set SHOW_CONTEXT never
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'catchingup', true, 2, '0/5000200');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'secondary', true, 2, '0/5000200');
SELECT * FROM states('three');
-- a standby goes to maintenance and back: it leaves synchronous_standby_names first
SELECT pgautofailover.synchronous_standby_names('three');
SELECT pgautofailover.start_maintenance(4);
SELECT * FROM states('three');
SELECT pgautofailover.synchronous_standby_names('three');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'wait_maintenance', true, 2, '0/5000200');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'apply_settings', true, 2, '0/5000200');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'primary', true, 2, '0/5000200');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'wait_maintenance', true, 2, '0/5000200');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'maintenance', true, 2, '0/5000200');
SELECT * FROM states('three');
SELECT pgautofailover.start_maintenance(4);
SELECT pgautofailover.stop_maintenance(4);
SELECT * FROM states('three');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'apply_settings', true, 2, '0/5000200');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'primary', true, 2, '0/5000200');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'catchingup', true, 2, '0/5000200');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'secondary', true, 2, '0/5000200');
SELECT * FROM states('three');
SELECT pgautofailover.synchronous_standby_names('three');
-- unknown nodes: false; bad state: an error
SELECT pgautofailover.start_maintenance(4242);
SELECT pgautofailover.stop_maintenance(4);
-- promotion by name: already primary is a notice; b is promoted
SELECT pgautofailover.perform_promotion('three', 'c');
SELECT pgautofailover.perform_promotion('three', 'b');
SELECT * FROM states('three');
-- the election: b's priority was raised by 101 and c's lowered by 101 until it is decided
SELECT pg_sleep(0.01);
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'draining', false, 2, '0/5000300');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'report_lsn', true, 2, '0/5000300');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'report_lsn', true, 2, '0/5000300');
SELECT * FROM states('three');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'report_lsn', true, 2, '0/5000300');
SELECT * FROM states('three');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'prepare_promotion', true, 2, '0/5000300');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'stop_replication', true, 2, '0/5000300');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'wait_primary', true, 3, '0/5000400');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'report_lsn', true, 2, '0/5000300');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'report_lsn', true, 2, '0/5000300');
SELECT * FROM states('three');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'join_secondary', true, 2, '0/5000300');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'join_secondary', true, 2, '0/5000300');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'secondary', true, 3, '0/5000400');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'secondary', true, 3, '0/5000400');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'wait_primary', true, 3, '0/5000400');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'primary', true, 3, '0/5000400');
SELECT * FROM states('three');
SELECT * FROM pgautofailover.get_primary('three');
-- removal: node 3 by host:port (it reports dropped and disappears), node 5 by id with force
SELECT pgautofailover.remove_node('127.0.0.1', 9880);
SELECT * FROM states('three');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'dropped', false, 3, '0/5000400');
SELECT * FROM states('three');
SELECT pgautofailover.remove_node(3);
SELECT pgautofailover.remove_node(5, force => true);
SELECT * FROM states('three');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'single', true, 3, '0/5000400');
SELECT * FROM states('three');
SELECT number_sync_standbys FROM pgautofailover.formation WHERE formationid = 'three';
SELECT nodeid, reportedstate, goalstate, description
  FROM pgautofailover.last_events('three', 0, 10);
