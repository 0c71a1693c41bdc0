"""Benchmarks run on demand (``ganforget bench``), never inside timed tests."""
