"""Keeping Scrapy offline-safe: its cookie middleware would download the public suffix list."""

from __future__ import annotations


def use_bundled_public_suffix_list() -> None:
    """Point Scrapy's cookie domain check at tldextract's bundled snapshot (no network at start)."""
    try:
        from scrapy.downloadermiddlewares import cookies
        from tldextract import TLDExtract
    except ImportError:  # pragma: no cover
        return
    if getattr(cookies, "_newsarchive_offline", False):
        return
    cookies._split_domain = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)
    cookies._newsarchive_offline = True
