"""Dure: self-hostable manufacturing AI for an OEM and its suppliers."""

__version__ = "0.1.0"
