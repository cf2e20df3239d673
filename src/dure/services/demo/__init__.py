"""The demo world: an OEM, three sheet-metal suppliers and 30 days of their data."""
