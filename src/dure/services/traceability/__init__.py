"""Traceability: supplier shipments (lots, serials) and the OEM's defects that name them."""
