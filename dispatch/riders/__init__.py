"""Riders' location stream: the websocket protocol, per-connection sessions and the HTTP queries."""
