"""Machine health: SPC rules on sensor channels, anomaly checks across a machine's channels."""
