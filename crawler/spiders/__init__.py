"""Spiders: what to fetch. No file, S3 or index I/O here."""
