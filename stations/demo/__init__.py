"""Demo catalogs of real cities, generated deterministically and loaded through the importers."""
