"""The live store: riders' latest fix, status, load and freshness in Redis, indexed by H3 cell."""
