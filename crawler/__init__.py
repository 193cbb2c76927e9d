"""newsarchive: archive security-news sites into WARC files, retrieve them, flag near-duplicates."""

__version__ = "0.1.0"
