"""Every ``Request.meta`` key newsarchive reads or writes, each spelt once (scrapy-redis ``defaults.py`` style).

Who writes each key and who reads it: the spider sets the per-source keys on every request; the
middlewares read them; the download handler and the archive extension add what the spider may read
back on the response.
"""

from __future__ import annotations

# -- Set by the spider on every request (crawler/spiders/news.py) ------------------------
#: The source's name in sources.toml; read by the trap defences (pages per source).
SOURCE_META_KEY = "source"
#: The source's declared language; read by the charset fallback (crawler/middlewares/encoding.py).
LANG_META_KEY = "lang"
#: The source's allowed domains; read by the scope middleware (crawler/middlewares/scope.py).
ALLOWED_META_KEY = "allowed_domains"
#: The source's link-depth limit and page budget; read by the trap defences (crawler/middlewares/traps.py).
MAX_DEPTH_META_KEY = "max_depth"
MAX_PAGES_META_KEY = "max_pages"
#: Link depth from a start URL: the spider sets it for feed and sitemap links, the trap defences for
#: the others. The same key as Scrapy's DepthMiddleware, on purpose (DEPTH_LIMIT stays 0).
DEPTH_META_KEY = "depth"

# -- Set while downloading, read back by the spider on the response -----------------------
#: The status line's reason phrase as sent (crawler/downloader.py), for the WARC response record.
REASON_META_KEY = "status_reason"
#: The request head as sent and the response header lines as received (crawler/downloader.py, a
#: WireHead); the archive extension takes it out of the meta when it builds the exchange.
WIRE_META_KEY = "wire_head"
#: The WARC-Record-ID of the response record this response was archived as (the archive extension).
RESPONSE_ID_META_KEY = "warc_response_id"
#: Its WARC-Date, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
WARC_DATE_META_KEY = "warc_date"

# -- Set by the incremental check (crawler/middlewares/incremental.py) ----------------------
#: On a refetch of an archived article: the record id of the capture it is checked against. Set it
#: to False on a request to fetch it whatever the archive holds.
INCREMENTAL_META_KEY = "incremental"
