"""The newsarchive Scrapy add-on: the one place that adjusts Scrapy itself for this project (``ADDONS``).

Runs for every crawler (``newsarchive crawl``, ``scrapy crawl news``, tests' ``get_crawler``) before
any component is built. Today it keeps Scrapy offline-safe: the cookie middleware checks cookie
domains against the public suffix list with a module-level ``TLDExtract``, which downloads the list
on first use; there is no network on crawl machines, and a crawl must not wait on that download.
"""

from __future__ import annotations

from scrapy.settings import BaseSettings


def use_bundled_public_suffix_list() -> None:
    """Point Scrapy's cookie domain check at tldextract's bundled snapshot (no network at start).

    Scrapy offers no setting for it: this replaces the private ``cookies._split_domain`` (global,
    once per process; idempotent)."""
    try:
        from scrapy.downloadermiddlewares import cookies
        from tldextract import TLDExtract
    except ImportError:  # pragma: no cover
        return
    if getattr(cookies, "_newsarchive_offline", False):
        return
    cookies._split_domain = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)
    cookies._newsarchive_offline = True  # type: ignore[attr-defined]


class NewsarchiveAddon:
    """Scrapy add-on (``ADDONS = {"crawler.addon.NewsarchiveAddon": 0}`` in crawler/settings.py)."""

    def update_settings(self, settings: BaseSettings) -> None:
        use_bundled_public_suffix_list()
