"""Benchmarks: `python -m bench`. They write JSON and markdown; they are not timed tests."""
