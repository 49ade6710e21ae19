-- 04_election_three_nodes: a formation of three nodes, number_sync_standbys and priority
-- validation, then the primary's Postgres goes down and the standbys elect a new primary
-- through report_lsn, prepare_promotion, stop_replication and join_secondary.
\set SHOW_CONTEXT never
SELECT * FROM pgautofailover.create_formation('three', 'pgsql', 'postgres', true, 0);
SELECT * FROM pgautofailover.register_node('three', '127.0.0.1', 9880, 'postgres',
         sysidentifier => 42);
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'single', true, 1, '0/5000000');
SELECT * FROM pgautofailover.register_node('three', '127.0.0.1', 9881, 'postgres', 'b');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'wait_standby');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'single', true, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'wait_primary', true, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'wait_standby');
SELECT node_id FROM pgautofailover.set_node_system_identifier(4, 42);
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'catchingup', true, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'secondary', true, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'wait_primary', true, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'primary', true, 1, '0/5000000');
-- the third node: number_sync_standbys becomes 1 with two quorum standbys
SELECT * FROM pgautofailover.register_node('three', '127.0.0.1', 9882, 'postgres', 'c',
         candidate_priority => 90);
SELECT number_sync_standbys FROM pgautofailover.formation WHERE formationid = 'three';
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'wait_standby');
SELECT * FROM states('three');
SELECT node_id FROM pgautofailover.set_node_system_identifier(5, 42);
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'apply_settings', true, 1, '0/5000000');
-- a standby catches up only with a converged primary
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'catchingup', true, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'primary', true, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'catchingup', true, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'secondary', true, 1, '0/5000000');
SELECT * FROM states('three');
SELECT pgautofailover.synchronous_standby_names('three');
-- validation
SELECT pgautofailover.set_formation_number_sync_standbys('three', 2);
SELECT pgautofailover.set_formation_number_sync_standbys('three', -1);
SELECT pgautofailover.set_node_candidate_priority('three', 'c', 101);
SELECT pgautofailover.set_node_candidate_priority('three', 'c', -1);
SELECT pgautofailover.set_node_candidate_priority('three', 'nope', 50);
SELECT pgautofailover.set_node_replication_quorum('three', 'c', false);
-- accepted changes go through apply_settings
SELECT pgautofailover.set_node_candidate_priority('three', 'c', 80);
SELECT * FROM states('three');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'apply_settings', true, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'primary', true, 1, '0/5000000');
SELECT pgautofailover.set_node_candidate_priority('three', 'b', 70);
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'apply_settings', true, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'primary', true, 1, '0/5000000');
SELECT pgautofailover.synchronous_standby_names('three');
SELECT pgautofailover.set_formation_number_sync_standbys('three', 0);
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'apply_settings', true, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'primary', true, 1, '0/5000000');
SELECT pgautofailover.synchronous_standby_names('three');
SELECT * FROM states('three');
-- the primary's Postgres is down: the standbys report their LSN and c (priority 80) wins
SELECT pg_sleep(0.01);
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'primary', false, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'secondary', true, 1, '0/5000000');
SELECT * FROM states('three');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'report_lsn', true, 1, '0/5000000');
SELECT * FROM pgautofailover.get_most_advanced_standby('three');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'report_lsn', true, 1, '0/5000100');
SELECT * FROM pgautofailover.get_most_advanced_standby('three');
SELECT * FROM states('three');
SELECT pg_sleep(0.01);
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'draining', false, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'prepare_promotion', true, 1, '0/5000100');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'demote_timeout', false, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'stop_replication', true, 1, '0/5000100');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'report_lsn', true, 1, '0/5000000');
SELECT * FROM states('three');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'wait_primary', true, 2, '0/5000200');
-- b is sent to follow the new primary (goal secondary) only once that one reports wait_primary
-- (core 870631f: not while it is still stop_replication)
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'report_lsn', true, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'join_secondary', true, 1, '0/5000000');
SELECT * FROM pgautofailover.node_active('three', 4, 0, 'secondary', true, 2, '0/5000200');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'wait_primary', true, 2, '0/5000200');
SELECT * FROM pgautofailover.node_active('three', 5, 0, 'primary', true, 2, '0/5000200');
SELECT * FROM pgautofailover.node_active('three', 3, 0, 'demoted', false, 1, '0/5000000');
SELECT * FROM states('three');
SELECT * FROM pgautofailover.get_primary('three');
SELECT count(*) AS writable_goals FROM pgautofailover.node
 WHERE formationid = 'three'
   AND goalstate IN ('single', 'wait_primary', 'primary', 'join_primary', 'apply_settings');
