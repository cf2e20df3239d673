"""The install itself: accounts, background jobs, models stored as blobs, the composition root."""
