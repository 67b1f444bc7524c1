"""Authentication: signing keys and short-lived access tokens."""
