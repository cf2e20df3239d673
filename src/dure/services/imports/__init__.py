"""Files into the store, all or nothing: sensor readings, process records, image folders."""
