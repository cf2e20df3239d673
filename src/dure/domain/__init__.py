"""Entities and value objects of Dure: pure Python, no I/O."""
