"""The Scrapy add-on: the one place that adjusts Scrapy for newsarchive."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scrapy import Spider
from scrapy.utils.test import get_crawler

from tests.conftest import REPO, cli_env


def test_the_addon_keeps_the_cookie_domain_check_offline() -> None:
    from scrapy.downloadermiddlewares import cookies

    crawler = get_crawler(Spider, {"ADDONS": {"crawler.addon.NewsarchiveAddon": 0}})
    assert any(type(a).__name__ == "NewsarchiveAddon" for a in crawler.addons.addons)
    split = cookies._split_domain
    assert split.suffix_list_urls == ()
    # answered from the bundled snapshot, private suffixes included
    assert split("news.example.co.uk").suffix == "co.uk"
    assert split("a.blogspot.com").suffix == "blogspot.com"


def test_the_spider_patches_nothing() -> None:
    import crawler.spiders.news as news

    source = Path(news.__file__).read_text(encoding="utf-8")
    assert "_split_domain" not in source and "crawler.addon" not in source and "crawler.extensions" not in source


def test_a_moved_scrapy_internal_is_one_warning_not_silence() -> None:
    """If Scrapy moves what the reason-phrase handler subclasses, building it says so once."""
    code = """
import logging
from scrapy import Spider
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.reactor import install_reactor
from scrapy.utils.test import get_crawler
install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
import crawler.downloader as d
crawler = get_crawler(Spider, {"TWISTED_REACTOR_ENABLED": True})
assert build_from_crawler(d.ReasonPhraseHTTPDownloadHandler, crawler)._keeps_reason
d._ReasonPhraseAgent = None
for _ in range(3):
    assert not build_from_crawler(d.ReasonPhraseHTTPDownloadHandler, crawler)._keeps_reason
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=cli_env(), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    warnings = [line for line in proc.stderr.decode().splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "reason phrase" in warnings[0], warnings
