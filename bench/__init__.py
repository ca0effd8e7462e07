"""Lotsen's benchmarks: routing quality, latency, footprint and scaling (`python -m bench`)."""
