"""Real processes for tests, benchmarks and load runs: redis-server, Prometheus, mlapi."""
