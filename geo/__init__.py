"""Pure geometry: H3 helpers, distances, travel times and service areas. No I/O, nothing of ours."""
