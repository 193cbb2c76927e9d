"""Frozen copy of ``crawler.dedup.anchors`` before its speed rewrite (main at 0b8a06e): the reference
the rewritten functions must equal. Tables and patterns come from the live module (they did not
change); only the functions are kept as they were."""

from __future__ import annotations

import re
from collections import Counter

from crawler.dedup.anchors import (  # noqa: F401
    _CVE_RE,
    _CWE_RE,
    _DATE_EN_RE,
    _DATE_ZH_RE,
    _DOMAIN_RE,
    _EN_ALIASES,
    _GENERIC_LATIN,
    _GHSA_RE,
    _GLOSSARY_RE,
    _GLOSSARY_TARGETS,
    _GROUP_RE,
    _LATIN_WORD_RE,
    _MONTHS,
    _NUM_EN_RE,
    _NUM_ZH_RE,
    _SCALE_EN,
    _SCALE_ZH,
    _VERSION_RE,
    GLOSSARY_ZH,
    STOPWORDS_EN,
)


def _number(value: str, scale: int | None) -> int | None:
    try:
        x = float(value.replace(",", ""))
    except ValueError:
        return None
    if scale:
        x *= scale
    if x < 10 or x != x or x > 1e15:
        return None
    n = int(round(x))
    if not scale and 1990 <= n <= 2035 and "." not in value and "," not in value:
        return None  # a year: every article of the year has it
    return n


def _en_word_anchor(word: str) -> str | None:
    low = word.lower()
    if low in _EN_ALIASES:
        return _EN_ALIASES[low]
    if len(low) < 2 or low in STOPWORDS_EN or low in _GENERIC_LATIN:
        return None
    return low


def extract_anchors(text: str, lang: str) -> Counter[str]:
    """Anchors with their counts. ``text`` is folded (NFKC, Simplified, any case)."""
    out: Counter[str] = Counter()
    rest = text
    for m in _CVE_RE.finditer(rest):
        out[f"cve-{m.group(1)}-{m.group(2)}"] += 1
    for m in _CWE_RE.finditer(rest):
        out[f"cwe-{m.group(1)}"] += 1
    for m in _GHSA_RE.finditer(rest):
        out[m.group(0).lower()] += 1
    for m in _GROUP_RE.finditer(rest):
        out[f"{m.group(1).lower()}{m.group(2)}"] += 1
    for m in _DOMAIN_RE.finditer(rest):
        out["dom:" + m.group(1).lower()] += 1
    # Remove ids before the number and word passes so their digits don't count twice.
    rest = _CVE_RE.sub(" ", rest)
    rest = _CWE_RE.sub(" ", rest)
    rest = _GHSA_RE.sub(" ", rest)
    rest = _DOMAIN_RE.sub(" ", rest)
    for m in _DATE_EN_RE.finditer(rest):
        month = _MONTHS.get(m.group(1).lower().rstrip("."))
        day = int(m.group(2))
        if month and 1 <= day <= 31:
            out[f"d:{month}-{day}"] += 1
    for m in _DATE_ZH_RE.finditer(rest):
        month, day = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12 and 1 <= day <= 31:
            out[f"d:{month}-{day}"] += 1
    rest = _DATE_ZH_RE.sub(" ", rest)
    for m in _VERSION_RE.finditer(rest):
        v = m.group(1)
        if v.count(".") >= 2 or m.group(0)[0] in "vV":
            out["v:" + v] += 1
    rest = re.sub(r"(?<![\w.])v?\d{1,4}(?:\.\d{1,5}){2,3}(?![\w.]*\d)", " ", rest)
    num_re = _NUM_ZH_RE if lang == "zh" else _NUM_EN_RE
    for m in num_re.finditer(rest):
        unit = m.group(2)
        scale = (_SCALE_ZH if lang == "zh" else _SCALE_EN).get(unit.lower()) if unit else None
        n = _number(m.group(1), scale)
        if n is not None:
            out[f"n:{n}"] += 1
    # Names: any Latin word in a Chinese text; in English, words that look like names.
    if lang == "zh":
        for w in _LATIN_WORD_RE.findall(rest):
            a = _en_word_anchor(w)
            if a and not a.isdigit():
                out[a] += 1
        for m in _GLOSSARY_RE.finditer(rest):
            out[GLOSSARY_ZH[m.group(0)]] += 1
    else:
        for a in english_names(rest):
            out[a] += 1
    return out


def english_names(text: str) -> list[str]:
    """Words of an English text that look like names: capitalised, CamelCase, ACRONYMS,
    with digits, or in the alias table (zero-day, Russian). Lower-cased."""
    names: list[str] = []
    for line in text.split("\n"):
        for m in _LATIN_WORD_RE.finditer(line):
            w = m.group(0)
            low = w.lower()
            if low in _EN_ALIASES:
                if _EN_ALIASES[low]:
                    names.append(_EN_ALIASES[low])
                continue
            if low in _GLOSSARY_TARGETS:
                # A word the zh glossary maps to (ransomware, hospital): an anchor in any case,
                # as its Chinese counterpart is.
                names.append(low)
                continue
            if w[0].isupper() or any(c.isdigit() for c in w) or any(c.isupper() for c in w[1:]):
                a = _en_word_anchor(w)
                if a:
                    names.append(a)
    return names
