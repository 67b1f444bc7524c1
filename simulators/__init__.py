"""Simulators: synthetic cities, real-day and benchmark-instance replays, live load tests."""
