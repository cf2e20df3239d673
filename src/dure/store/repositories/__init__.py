"""Tenant-scoped repositories, one module per group of related tables."""
