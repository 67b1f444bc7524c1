"""The dispatch service: rider streaming, the live store, orders and the optimizer."""
