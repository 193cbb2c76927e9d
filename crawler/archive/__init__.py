"""WARC records, writing with rollover, storage backends and the capture index: no Scrapy here."""
