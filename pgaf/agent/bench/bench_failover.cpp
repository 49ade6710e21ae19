/* bench_failover.cpp — placeholder replaced below */
int main() { return 0; }
