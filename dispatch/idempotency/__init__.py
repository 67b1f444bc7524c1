"""Idempotency keys, Stripe-style: scoped to caller and endpoint, first response replayed."""
