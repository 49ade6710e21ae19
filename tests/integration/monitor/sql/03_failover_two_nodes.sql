-- 03_failover_two_nodes: perform_failover on the group of 02, driven by node_active calls until
-- the old primary is a secondary of the new one. pg_sleep(0.01) keeps reports in distinct
-- milliseconds (the fencing rule compares report and lease-grant times).
\set SHOW_CONTEXT never
SELECT pg_sleep(0.01);
SELECT pgautofailover.perform_failover();
SELECT * FROM states();
SELECT pg_sleep(0.01);
SELECT * FROM pgautofailover.node_active('default', 2, 0, 'prepare_promotion', true, 1, '0/3000000');
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'draining', true, 1, '0/3000000');
SELECT * FROM states();
SELECT pg_sleep(0.01);
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'demote_timeout', false, 1, '0/3000000');
SELECT * FROM pgautofailover.node_active('default', 2, 0, 'stop_replication', true, 1, '0/3000000');
SELECT * FROM states();
SELECT * FROM pgautofailover.get_primary();
SELECT * FROM pgautofailover.node_active('default', 2, 0, 'wait_primary', true, 2, '0/3000100');
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'demoted', false, 1, '0/3000000');
SELECT * FROM states();
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'catchingup', true, 2, '0/3000100');
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'secondary', true, 2, '0/3000100');
SELECT * FROM pgautofailover.node_active('default', 2, 0, 'wait_primary', true, 2, '0/3000100');
SELECT * FROM pgautofailover.node_active('default', 2, 0, 'primary', true, 2, '0/3000100');
SELECT * FROM states();
SELECT * FROM pgautofailover.get_primary();
SELECT pgautofailover.synchronous_standby_names();
-- failover is refused while the group is not stable
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'catchingup', true, 2, '0/3000100');
SELECT pgautofailover.perform_failover();
SELECT * FROM pgautofailover.node_active('default', 1, 0, 'secondary', true, 2, '0/3000100');
SELECT * FROM states();
SELECT nodeid, reportedstate, goalstate, description FROM pgautofailover.last_events('default', count => 12);
