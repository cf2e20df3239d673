"""Models of process data: defects and their types from process parameters."""
