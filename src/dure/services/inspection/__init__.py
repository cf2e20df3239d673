"""Visual inspection: teach a part from images, inspect at line speed, review, thresholds."""
