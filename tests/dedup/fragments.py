"""Pieces of security-news text, English and Chinese, that exercise every anchor, word and source-link rule.

Property tests join random picks of these (with random separators) into texts and check that a
rewritten function gives exactly what its frozen reference (``tests/dedup/reference``) gives:
the same keys, counts and order.
"""

from __future__ import annotations

from hypothesis import strategies as st

FRAGMENTS = (
    # ids and groups, with the boundaries they need and the cases that must not match
    "CVE-2024-1709", "cve_2023_36884", "CVE 2021 44228", "编号为CVE-2024-1709的漏洞", "XCVE-2024-1234",
    "CVE-2024-12345678", "CWE-79", "cwe 502", "GHSA-jfh8-c2jp-5v3q", "ghsa-xxxx-yyyy", "APT28", "apt 29",
    "TA505", "UNC2452", "Storm-0558", "DEV-0537", "data 2024", "beta 3", "sectorJ04", "FIN7",
    # domains, versions, numbers, dates
    "example.com", "evil.co.uk", "sub.example.cn/path", "cve-2023-1234.com", "a@b.com", "x.io.", "1.2.3.4",
    "v1.2", "V2.0", "17.4.1", "Windows 10.0.19041.1", "version 3.5", "1,200", "23,000", "142", "1.5 million",
    "$10M", "2 bn", "3 trillion", "4k", "120万", "1.5亿", "3千万", "2万亿", "500百万", "2024", "1999", "2,024",
    "0.5", "12.", "Jan. 5", "March 31st", "sept 9", "May 2", "Dec 32", "3月15日", "12 月 1 日", "13月40日",
    # names and words
    "Microsoft", "iPhone", "GitLab", "NATO", "the", "The", "However", "zero-day", "Zero-Days", "0day",
    "Russian", "U.S.", "us", "hospitals", "ransomware", "Ransomware", "patch", "Palo Alto", "Citizen Lab",
    "don't", "x86-64", "Log4j", "o'clock", "microsoft's", "studies", "class", "bus", "news",
    "微软", "谷歌浏览器", "勒索软件", "俄罗斯", "研究人员", "攻击者利用漏洞", "补丁星期二", "安全",
    # letters re.IGNORECASE and lower() treat differently, and a Greek final sigma
    "İstanbul", "ıcve-2024-1111", "KELVIN", "ſource:", "ghſa-jfh8-c2jp-5v3q", "ΣΑΣ", "straße",
    # source lines, headings, URLs, markdown
    "原文链接：", "本文翻译自", "编译自：", "参考链接", "**参考**", "消息来源：", "Source:", "SOURCES:", "via ",
    "Via:", "References", "原文", "https://www.bleepingcomputer.com/news/x/?utm_source=rss",
    "hxxps[:]//evil[.]com/a", "www.example.com/p", "https://mp.weixin.qq.com/s/abc",
    "[the report](https://research.example.org/r/1)", "![img](https://img.example.com/a.png)",
    "> https://securityweek.com/a-b", "[1]https://nvd.nist.gov/vuln/detail/CVE-2025-0411",
    "Microsoft Patches Wormable RCE Vulnerability in Windows",
    # list and recommended-reading headings
    "推荐阅读", "往期回顾", "Read more", "related articles", "- ", "* ", "# ", "1. ",
)
SEPARATORS = (" ", " ", " ", "\n", "\n\n", "", ", ", ". ", "。", "，", "：", "-", "_", "/", "\t", "\u3000")

texts = st.lists(st.tuples(st.sampled_from(FRAGMENTS), st.sampled_from(SEPARATORS)), max_size=60).map(
    lambda parts: "".join(f + s for f, s in parts))
