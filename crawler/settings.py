"""Every newsarchive setting with its default, documented where it is defined (Scrapy settings module).

The stack, lowest first (built by `crawler.config.load_settings` for every command): these
defaults, the environment variables named in the comments (read here and nowhere else), a
profile (settings/profiles/*.toml, ``--profile NAME``), ``-s NAME=VALUE``, then the command's
own options (``--archive``, ``--sources``, ...). A profile or ``-s`` may only name a setting
defined here or in Scrapy's defaults, with a value of the default's type.
"""

import os
from pathlib import Path


def project_root() -> Path:
    """The folder holding scrapy.cfg and settings/: beside this package (a checkout or an editable
    install), else the nearest scrapy.cfg above the working directory, else the working directory."""
    here = Path(__file__).resolve().parent.parent
    if (here / "scrapy.cfg").is_file():
        return here
    from scrapy.utils.conf import closest_scrapy_cfg

    cfg = closest_scrapy_cfg()
    return Path(cfg).parent if cfg else Path.cwd()


import crawler.urls as _urls  # lower-case: a module name is not a setting
from crawler.items import EXPORT_FIELDS as _export_fields

BOT_NAME = "newsarchive"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# -- What to crawl -----------------------------------------------------------------------
#: The sources file (default: settings/sources.toml of the project, wherever the command runs);
#: NEWSARCHIVE_SOURCES in the environment.
NEWSARCHIVE_SOURCES = str(project_root() / "settings" / "sources.toml")
#: Crawl only these sources (names); empty = all.
NEWSARCHIVE_SOURCE_NAMES: list[str] = []
#: Yield an item for every article page (for the dedup pipeline and feed exports).
NEWSARCHIVE_ARTICLE_ITEMS = True
#: `newsarchive schedule`: when a source without its own `schedule` key is crawled (cron syntax).
SCHEDULE_DEFAULT = "*/30 * * * *"
#: Incremental crawls: an article already in the archive is not fetched again until its source's
#: `recrawl_after` (sources.toml) has passed; feeds, sitemaps and listings are fetched every run.
INCREMENTAL_ENABLED = True
#: Seconds between the crawl's progress lines (pages/s, archived, queued, errors, bytes); 0: none.
PROGRESS_INTERVAL = 30.0
#: The live progress table (per source: pages, articles, queued, errors, bytes, pages/s): "auto" shows
#: it when stderr is a terminal, "live" always, "lines" never (the progress lines above only).
PROGRESS_DISPLAY = "auto"
#: Seconds between two redraws of the live table.
PROGRESS_REFRESH = 1.0
#: While the live table is up, log records below this level stay out of the terminal (a LOG_FILE
#: still gets them all); warnings and errors print above the table.
PROGRESS_LIVE_LOG_LEVEL = "WARNING"
#: Set by `newsarchive crawl --resume` (crawler/resume.py): pages archived since this WARC date are
#: served from the archive, not fetched again.
NEWSARCHIVE_RESUME_SINCE: str | None = None

# -- Archive -----------------------------------------------------------------------------
#: Where WARCs and indexes go: a folder, or s3://bucket/prefix. ARCHIVE_URI in the environment.
ARCHIVE_URI = "./archive"
#: Switch WARC writing off (bare crawl, for benchmarks).
ARCHIVE_ENABLED = True
#: Local folder where WARCs are written before they are stored (default: <archive>/spool,
#: or under the user's cache dir for s3://).
ARCHIVE_SPOOL = None
#: Local folder for the catalogs of a remote archive (default ~/.cache/newsarchive); ARCHIVE_CACHE_DIR
#: in the environment.
ARCHIVE_CACHE_DIR = None
#: Keep the spooled copy of a WARC after it is stored.
ARCHIVE_KEEP_SPOOLED = False
#: Roll over to a new WARC file past this size (bytes).
WARC_MAX_SIZE = 1024**3
#: File name prefix: {prefix}-{timestamp17}-{serial:05d}-{host}-{pid}.warc.gz
WARC_PREFIX = "newsarchive"
#: Deflate level per record: 3 deflates our pages 2.4x faster than 6 for files 7% larger
#: (measurements in crawler/archive/writer.py). Payloads already compressed get level 1.
WARC_COMPRESS_LEVEL = 3
#: Operator named in each warcinfo record; WARC_OPERATOR in the environment.
WARC_OPERATOR = ""
#: Bytes of captured bodies waiting for the writer thread before downloads pause (memory bound).
ARCHIVE_QUEUE_MAX_BYTES = 128 * 1024 * 1024
#: Finished WARCs waiting in the spool for storage (an S3 outage) before downloads pause.
ARCHIVE_SPOOL_MAX_BYTES = 4 * 1024**3
#: Longest wait for storage when the crawl ends; files not stored by then stay in the spool
#: and are stored first by the next run (or `newsarchive upload`).
ARCHIVE_UPLOAD_CLOSE_TIMEOUT = 120
#: Upload retries back off exponentially from 1 s up to this many seconds.
ARCHIVE_UPLOAD_BACKOFF_MAX = 30
#: Probe the storage (write, read back, delete) when the crawl starts. `newsarchive crawl` probes
#: before Scrapy starts and switches this off, so the probe runs once per crawl.
ARCHIVE_STORAGE_CHECK = True

# -- Several workers, one crawl (scrapy-redis; crawler/workers.py) ---------------------------
#: A Redis (or Valkey) server that several `newsarchive crawl --worker` processes share: the frontier
#: and the seen-set of the crawl live there. REDIS_URL in the environment (its password is never logged).
REDIS_URL: str | None = None
#: Set by `newsarchive crawl --worker`: this process is one worker of a shared crawl (needs REDIS_URL).
NEWSARCHIVE_WORKER = False
#: A worker stops once the shared frontier has stayed empty, with no other worker busy, this many seconds.
WORKER_IDLE_TIMEOUT = 30.0
#: Seconds between a worker's heartbeats in Redis; a worker silent for 5 heartbeats counts as dead.
WORKER_HEARTBEAT = 2.0
#: Seconds between an idle worker's looks at the shared frontier (Scrapy's own engine looks every 5 s).
WORKER_POLL_INTERVAL = 0.5
#: Set by `newsarchive crawl --worker` once it joined: {base, crawl, worker, started} (crawler/workers.py).
WORKER_MEMBERSHIP: dict | None = None
#: Prefix of every Redis key of newsarchive: {prefix}:{source set}:... (crawler/workers.py lists them).
WORKER_KEY_PREFIX = "newsarchive"

# -- Politeness --------------------------------------------------------------------------
ROBOTSTXT_OBEY = True
USER_AGENT = "newsarchive/0.1 (+https://github.com/newsarchive/newsarchive; web archiving)"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
COOKIES_ENABLED = True
DOWNLOAD_TIMEOUT = 60
RETRY_TIMES = 2
#: Bytes: a 15 MB article must be archived whole; decompression stops here too (gzip bombs).
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024
DOWNLOAD_WARNSIZE = 32 * 1024 * 1024
#: Redirects are followed by the crawl (each hop archived), in scope only.
REDIRECT_MAX_TIMES = 10
HTTPERROR_ALLOW_ALL = True
#: Only encodings warcio and pywb can decode (never zstd); br only when brotli is importable.
ACCEPT_ENCODINGS = ["gzip", "deflate", "br"]

# -- Scope and traps -------------------------------------------------------------------------
#: Query parameters dropped by URL canonicalisation (exact, case-insensitive) and by prefix.
CANONICAL_DROP_PARAMS = list(_urls.DEFAULT_DROP_PARAMS)  # session ids and click trackers (crawler/urls.py)
CANONICAL_DROP_PREFIXES = list(_urls.DEFAULT_DROP_PREFIXES)
#: Default link depth from a start URL when a source sets no max_depth (stat: traps/depth).
TRAP_MAX_DEPTH = 5
#: Scrapy's own depth limit stays off: sources may go deeper than the default above.
DEPTH_LIMIT = 0
#: Pages per source per run when a source sets no max_pages (stat: traps/max_pages).
TRAP_MAX_PAGES_PER_SOURCE = 5000
#: Longest URL scheduled (stat: traps/url_too_long).
TRAP_MAX_URL_LENGTH = 1024
URLLENGTH_LIMIT = 2083
#: A path segment repeated more often than this marks a trap (stat: traps/repeated_segments).
TRAP_MAX_REPEATED_SEGMENTS = 2
#: Encodings tried, in order, for a page that declares none and is not valid UTF-8.
ENCODING_FALLBACKS = {"zh": ["gb18030"], "en": ["cp1252"]}

# -- Near-duplicates and translations -----------------------------------------------------
#: Extract every article page, flag its near-duplicates and translations (item field
#: ``duplicates``, the article catalog, a WARC metadata record per article).
DEDUP_ENABLED = True
#: The article catalog (SQLite); default: dedup.sqlite3 beside the capture catalog.
DEDUP_CATALOG = None
#: Overrides of the frozen thresholds in crawler/dedup/defaults.py, e.g.
#: {"story_min": 0.5, "young_catalog": 0}; an unknown name stops the crawl before it starts.
DEDUP_THRESHOLDS: dict[str, float] = {}
#: Bytes of pages sent to the dedup process and not yet analysed, in memory; past it a page waits
#: on disk (up to 4x more, an unlinked temporary file: stat dedup/spilled), and a page beyond both
#: is archived unanalysed (stat dedup/deferred, flagged by the catch-up after the crawl) so the
#: crawl never waits for dedup. These wait as bytes in the crawl process (about the page's size each): 16 MB is
#: some 200 news pages, several seconds of the dedup process's work, so a process briefly behind
#: (a burst of large pages, a busy machine) defers nothing.
DEDUP_QUEUE_BYTES = 16_000_000
#: An item waits for its flags only while less than this is queued ahead of its page; behind more,
#: it goes on without them and its page's answer writes the metadata record and the catalog when it
#: comes (stat dedup/analysed_after_item). Kept below SCRAPER_SLOT_MAX_ACTIVE_SIZE (5,000,000): a
#: waiting item holds its response (body, text and parsed tree, about 5x the page) in the scraper
#: slot, and past that size Scrapy stops downloading.
DEDUP_WAIT_BYTES = 2_000_000
#: Worker processes analysing articles for the dedup catch-up (`dedup update`, `dedup follow`, a
#: crawl's end) while the catch-up's own process adds them to the catalog in archive order and
#: analyses some itself (the catalog and the records written are the same as with none). Each is a
#: fresh interpreter: 87 MB resident once started, 135 MB at its peak on the realistic bench pages
#: (the catch-up's process of `dedup update` peaked at 233 MB beside one). -1: one fewer than the
#: CPUs, at least one (a second worker on two CPUs would only add memory); 0: none. A WARC file
#: with fewer than 16 articles to analyse starts none.
DEDUP_CATCHUP_WORKERS = -1

# -- Component order ---------------------------------------------------------------------
#: Adjusts Scrapy itself for newsarchive (offline public suffix list): crawler/addon.py.
ADDONS = {"crawler.addon.NewsarchiveAddon": 0}
# Engine side
SPIDER_MIDDLEWARES = {
    "crawler.middlewares.traps.TrapDefenseMiddleware": 550,
}
# Downloader side (lower numbers nearer the engine)
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    # first of all: a request meeting it has left the scheduler (source/<name>/queued, the progress table)
    "crawler.middlewares.queued.QueuedPerSourceMiddleware": 10,
    "crawler.middlewares.scope.SourceScopeMiddleware": 50,
    # after scope, before the stats: an archived article dropped here is no page and no error
    "crawler.middlewares.incremental.IncrementalMiddleware": 55,
    # before the incremental check: a resumed job's archived pages come from the archive
    "crawler.middlewares.resume.ResumeMiddleware": 53,
    # below RetryMiddleware (550) and the redirects (600): counts each request's final outcome
    "crawler.middlewares.sourcestats.SourceStatsMiddleware": 60,
    # before HttpCompressionMiddleware (590) sets its own Accept-Encoding
    "crawler.middlewares.encoding.AcceptEncodingMiddleware": 580,
    # below 590: sees decoded bodies, fixes undeclared charsets before the spider decodes
    "crawler.middlewares.encoding.CharsetFallbackMiddleware": 585,
}
EXTENSIONS = {
    "crawler.extensions.archive.WarcArchiveExtension": 100,
    # rewrites exported items' duplicates from the settled dedup catalog after the crawl
    "crawler.extensions.settled_feeds.SettledFeedsExtension": 500,
    "crawler.extensions.progress.ProgressExtension": 510,
    # `newsarchive crawl --worker` only: heartbeats in Redis, waits for the other workers before closing
    "crawler.extensions.worker.SharedCrawlExtension": 520,
}
ITEM_PIPELINES = {
    "crawler.pipelines.dedup.DedupPipeline": 300,
}
DOWNLOAD_HANDLERS = {
    # keeps the status line's reason phrase for the WARC response record
    "http": "crawler.downloader.ReasonPhraseHTTPDownloadHandler",
    "https": "crawler.downloader.ReasonPhraseHTTPDownloadHandler",
}

# -- Housekeeping --------------------------------------------------------------------------
TELNETCONSOLE_ENABLED = False
#: LOG_LEVEL in the environment.
LOG_LEVEL = "INFO"
#: Access token `newsarchive serve` requires on every request when bound beyond loopback (16+
#: characters; never logged). NEWSARCHIVE_TOKEN in the environment; `--token` overrides.
NEWSARCHIVE_TOKEN = None
#: A running pywb the report and the app link archived copies to. NEWSARCHIVE_REPLAY_URL in the
#: environment; `--replay-url` overrides.
NEWSARCHIVE_REPLAY_URL = None
FEED_EXPORT_ENCODING = "utf-8"
#: The article item's fields a feed export writes (crawler/items.py: everything but the page's html).
FEED_EXPORT_FIELDS = _export_fields
#: Memory guard: stop the crawl cleanly before the machine swaps.
MEMUSAGE_ENABLED = True
MEMUSAGE_LIMIT_MB = 2048
MEMUSAGE_WARNING_MB = 1024

# -- The environment -------------------------------------------------------------------------
# Read here and nowhere else. `environment()` reads it again at call time, so every command of
# one process (and every test) sees the environment as it is now.
_from_environment = ("NEWSARCHIVE_SOURCES", "ARCHIVE_URI", "ARCHIVE_SPOOL", "ARCHIVE_CACHE_DIR", "WARC_OPERATOR",
                     "LOG_LEVEL", "NEWSARCHIVE_TOKEN", "NEWSARCHIVE_REPLAY_URL", "REDIS_URL")
_defaults = {name: globals()[name] for name in _from_environment}


def environment() -> dict[str, object]:
    """Each setting the environment may give: its variable's value (when not empty), else the default."""
    return {name: os.environ.get(name) or _defaults[name] for name in _from_environment}


globals().update(environment())  # `scrapy crawl news` reads this module directly
