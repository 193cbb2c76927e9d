"""Near-duplicate and translation detection: extraction, signals, fingerprints, indexes, catalog, reports."""
