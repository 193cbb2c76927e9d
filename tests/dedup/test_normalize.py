"""URL removal: markdown links keep their text, exactly as the function-callback version did."""

from __future__ import annotations

import re

from hypothesis import given, settings

from crawler.dedup.normalize import (
    _BARE_DOMAIN_RE,
    _MD_IMAGE_RE,
    _MD_LINK_RE,
    _TLD_HINT_RE,
    _URL_HINT_RE,
    _URL_RE,
    remove_urls,
)
from tests.dedup.fragments import texts


def _remove_urls_v1(text: str) -> str:
    # main at 0b8a06e: a Python callback per markdown link
    if "](" in text:
        text = _MD_IMAGE_RE.sub(lambda m: m.group(1), text)
        text = _MD_LINK_RE.sub(lambda m: m.group(1), text)
    if _URL_HINT_RE.search(text):
        text = _URL_RE.sub(" ", text)
    if _TLD_HINT_RE.search(text):
        text = _BARE_DOMAIN_RE.sub(" ", text)
    return text


def test_links_keep_their_text():
    assert remove_urls("See [the \\1 report](https://a.example/r) and ![a chart](https://a.example/c.png).") == \
        "See the \\1 report and a chart."


@settings(max_examples=300, deadline=None)
@given(texts)
def test_equal_to_the_callback_version(text):
    assert remove_urls(text) == _remove_urls_v1(text)


def test_no_backreference_expansion_of_link_text():
    text = "[\\g<0> and \\2](https://x.example/a)"
    assert remove_urls(text) == "\\g<0> and \\2"
    assert re.search(r"\\", remove_urls(text))
