-- 06_bad_arguments: every bad input gets a clear error and changes nothing.
\set SHOW_CONTEXT never
SELECT count(*) AS nodes_before FROM pgautofailover.node;
SELECT * FROM pgautofailover.register_node('nope', 'localhost', 9890, 'postgres');
SELECT * FROM pgautofailover.register_node('default', 'localhost', 9876, 'postgres');
SELECT * FROM pgautofailover.register_node('default', 'localhost', 9890, 'postgres', 'node_1');
SELECT * FROM pgautofailover.register_node('default', 'localhost', 9890, 'postgres',
         candidate_priority => 101);
SELECT * FROM pgautofailover.register_node('default', 'localhost', 70000, 'postgres');
SELECT * FROM pgautofailover.register_node('default', '', 9890, 'postgres');
SELECT * FROM pgautofailover.register_node('default', 'localhost', 9890, 'otherdb');
SELECT * FROM pgautofailover.register_node('default', 'localhost', 9890, 'postgres',
         desired_group_id => 3);
SELECT * FROM pgautofailover.register_node('default', 'localhost', 9890, 'postgres',
         node_kind => 'worker');
SELECT * FROM pgautofailover.register_node('default', 'localhost', 9890, 'postgres',
         initial_group_role => 'no_such_state');
SELECT * FROM pgautofailover.register_node(NULL, 'localhost', 9890, 'postgres');
SELECT * FROM pgautofailover.register_node('default', 'localhost', 9890, 'postgres',
         initial_group_role => 'single');
SELECT * FROM pgautofailover.node_active('default', 4242, 0, 'single');
SELECT * FROM pgautofailover.node_active('nope', 1, 0, 'single');
SELECT * FROM pgautofailover.node_active('three', 1, 0, 'secondary');
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'unknown');
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'secondary', true, -1);
SELECT * FROM pgautofailover.get_primary('nope');
SELECT pgautofailover.remove_node(4242);
SELECT pgautofailover.remove_node('nohost', 1);
SELECT pgautofailover.perform_failover('nope');
SELECT pgautofailover.perform_promotion('default', 'nope');
SELECT pgautofailover.set_formation_number_sync_standbys('nope', 1);
SELECT pgautofailover.synchronous_standby_names('default', 7);
SELECT * FROM pgautofailover.create_formation('default', 'pgsql', 'postgres', true, 0);
SELECT * FROM pgautofailover.create_formation('x', 'mysql', 'postgres', true, 0);
SELECT pgautofailover.drop_formation('three');
SELECT pgautofailover.drop_formation('nope');
SELECT pgautofailover.disable_secondary('default');
SELECT count(*) AS nodes_after FROM pgautofailover.node;
SELECT * FROM states();
-- a fresh formation can be created, used and dropped
SELECT * FROM pgautofailover.create_formation('tmp', 'pgsql', 'app', false, 0);
SELECT * FROM pgautofailover.register_node('tmp', 'localhost', 9895, 'app', sysidentifier => 7);
SELECT * FROM pgautofailover.register_node('tmp', 'localhost', 9896, 'app');
SELECT pgautofailover.enable_secondary('tmp');
SELECT * FROM pgautofailover.register_node('tmp', 'localhost', 9896, 'app');
SELECT pgautofailover.remove_node('localhost', 9896, force => true);
SELECT pgautofailover.remove_node('localhost', 9895, force => true);
SELECT * FROM states('tmp');
SELECT pgautofailover.drop_formation('tmp');
SELECT formationid FROM pgautofailover.formation ORDER BY 1;
-- the API is not for PUBLIC
CREATE ROLE someone LOGIN;
SET ROLE someone;
SELECT * FROM pgautofailover.get_primary();
RESET ROLE;
SET ROLE autoctl_node;
SELECT * FROM pgautofailover.get_primary();
RESET ROLE;
DROP ROLE someone;
