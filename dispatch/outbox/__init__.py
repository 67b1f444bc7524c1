"""The event outbox: rows written with each state change, relayed to a Redis stream."""
