"""Benchmarks behind `dure bench …`: they print and write JSON, and never gate tests."""
