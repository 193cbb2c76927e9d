"""WARC records, writing with rollover, storage backends and the capture index: no Scrapy here."""

from crawler.archive import warcio_brotli

# Every reader of ours goes through this package: warcio must decode brotli captures here.
warcio_brotli.install()
