-- 02_single_and_standby: a node registers and becomes single; a standby joins through
-- wait_standby, catchingup and secondary; the primary goes through wait_primary and
-- apply_settings to primary. Read functions on the result.
\set SHOW_CONTEXT never
SELECT * FROM pgautofailover.register_node('default', 'localhost', 9876, 'postgres',
         sysidentifier => 6852685710417058800);
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'init');
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'single', true, 1, '0/3000000');
SELECT * FROM states();
SELECT * FROM pgautofailover.get_primary();
SELECT pgautofailover.synchronous_standby_names();
-- a second node
SELECT * FROM pgautofailover.register_node('default', 'localhost', 9877, 'postgres');
SELECT * FROM states();
-- the standby must report wait_standby before the primary opens up (wait_primary)
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'single', true, 1, '0/3000000');
SELECT * FROM pgautofailover.node_active('default', 2, 0, 'wait_standby');
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'single', true, 1, '0/3000000');
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'wait_primary', true, 1, '0/3000000');
SELECT * FROM pgautofailover.node_active('default', 2, 0, 'wait_standby');
SELECT * FROM states();
SELECT pgautofailover.synchronous_standby_names();
-- a standby cannot report catchingup before the group knows its system identifier
\set VERBOSITY terse
SELECT * FROM pgautofailover.node_active('default', 2, 0, 'secondary', true, 1, '0/3000000');
\set VERBOSITY default
SELECT * FROM pgautofailover.set_node_system_identifier(2, 6852685710417058800);
SELECT * FROM pgautofailover.node_active('default', 2, 0, 'catchingup', true, 1, '0/3000000');
SELECT * FROM pgautofailover.node_active('default', 2, 0, 'secondary', true, 1, '0/3000000', 'quorum');
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'wait_primary', true, 1, '0/3000000');
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'primary', true, 1, '0/3000000', 'sync');
SELECT * FROM states();
SELECT pgautofailover.synchronous_standby_names();
SELECT * FROM pgautofailover.get_primary('default', 0);
SELECT * FROM pgautofailover.get_nodes();
SELECT * FROM pgautofailover.get_other_nodes(1);
SELECT * FROM pgautofailover.get_other_nodes(1, 'secondary');
SELECT * FROM pgautofailover.get_other_nodes(1, 'primary');
SELECT pgautofailover.formation_uri();
SELECT pgautofailover.formation_uri('default', 'default', 'require', '/path/root.crt', '/path/crl.pem');
SELECT * FROM pgautofailover.current_state();
SELECT * FROM pgautofailover.formation_settings();
SELECT nodeid, nodename, reportedstate, goalstate, description
  FROM pgautofailover.last_events('default', count => 100);
