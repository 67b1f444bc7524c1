"""Orders: creation (idempotent), reads, the state machine, offers and assignment."""
