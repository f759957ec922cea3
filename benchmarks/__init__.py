"""Benchmarks: each prints figures; none asserts a time (speed targets live here, not in tests)."""
