"""Batch assignment of orders to riders: the pure `core` and the service around it."""
