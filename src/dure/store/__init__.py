"""Persistence: SQL tables and tenant-scoped repositories, migrations, blob store."""
