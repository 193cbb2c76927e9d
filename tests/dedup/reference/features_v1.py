"""Frozen copy of ``crawler.dedup.features.main_body (then signals.py)`` before its speed rewrite (main at 0b8a06e)."""

from __future__ import annotations

import re

_RECOMMENDED_RE = re.compile(
    r"^[#*>\s]*(推荐阅读|阅读推荐|推荐文章|相关阅读|相关文章|往期推荐|往期回顾|往期精彩|精彩推荐|热文推荐|"
    r"猜你喜欢|更多阅读|延伸阅读|related articles|read more|recommended reading|you may also like)",
    re.IGNORECASE,
)


def main_body(text: str) -> str:
    """The text without a trailing "recommended reading" list."""
    lines = text.split("\n")
    cut = len(lines)
    for n, line in enumerate(lines):
        if n > len(lines) * 0.3 and _RECOMMENDED_RE.match(line.strip()):
            cut = n
            break
    return "\n".join(lines[:cut])
