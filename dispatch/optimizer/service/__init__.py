"""The optimizer in the service: per-region batch loops that read the pending pool and the
live riders, call `dispatch.optimizer.core.solve_batch`, commit offers under a fenced
region lease, and push them to riders (see docs/dispatch.md)."""
