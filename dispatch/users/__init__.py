"""Accounts: registration, login with argon2id-hashed passwords, access and refresh tokens."""
