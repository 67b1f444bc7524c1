"""Live mode: a synthetic city played against the running service over its network API
(rider websockets, the HTTP order API), on an accelerated clock."""
