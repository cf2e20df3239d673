"""Checks on live data: what the job runner's checks lane runs when readings or process
records arrive (per channel, per part) and on a schedule (across a machine's channels)."""
