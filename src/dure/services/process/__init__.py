"""Process quality: which process settings end in defects, predicted before inspection."""
