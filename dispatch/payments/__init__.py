"""Payments: a provider interface, a sandbox provider, and the payment of each order."""
