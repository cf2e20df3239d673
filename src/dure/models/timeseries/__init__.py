"""Machine sensor models: remaining useful life and streaming anomaly detection."""
