"""Analysis of canaries and monitored signals (Prometheus client, queries, gates): the
monitoring and canary issues."""
