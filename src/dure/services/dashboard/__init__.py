"""What the dashboard's pages show, computed from the caller's own records."""
