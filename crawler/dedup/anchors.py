"""Language-invariant anchors: the strings a translation keeps (ids, names, versions, numbers, dates).

A Chinese translation of an English story rewrites every sentence but keeps CVE ids, Latin-
script product and group names, version strings and figures; and the few names it does
translate (微软, 北约) map back through a small glossary. Anchors are lower-case strings with
a kind prefix for non-words: ``cve-2023-36884``, ``apt28``, ``torchserve``, ``v:18.3.1``,
``n:1200000``, ``d:7-11``, ``dom:example.com``.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator
from functools import lru_cache

import numpy as np

from crawler.dedup.normalize import TLD_ALTERNATION, blank, code_points, hinted_lines

# --- ids --------------------------------------------------------------------------------
# Boundaries are ASCII: Chinese writes ids against characters ("编号为CVE-2024-1709的漏洞"),
# and CJK characters are \w to ``re``, so ``\b`` would miss them there.
_L = r"(?<![A-Za-z0-9_])"
_R = r"(?![A-Za-z0-9_])"
_CVE_RE = re.compile(_L + r"cve[-_ ]?(\d{4})[-_ ]?(\d{4,7})" + _R, re.I)
_CWE_RE = re.compile(_L + r"cwe[-_ ]?(\d{1,5})" + _R, re.I)
_GHSA_RE = re.compile(_L + r"ghsa(?:-[23456789cfghjmpqrvwx]{4}){3}" + _R, re.I)
_GROUP_RE = re.compile(_L + r"(apt|unc|ta|fin|temp|storm|dev|uat|sectorj?)[- ]?(\d{1,5})" + _R, re.I)
_VERSION_RE = re.compile(r"(?<![\w.])v?(\d{1,4}(?:\.\d{1,5}){1,3})(?![\w.]*\d)", re.I)
_DOMAIN_RE = re.compile(
    r"(?<![A-Za-z0-9_@.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+" + TLD_ALTERNATION + r")(?![A-Za-z0-9_-])",
    re.I,
)

# --- numbers: 142, 23,000, 1.2 million, 120万, 1.5亿, $10M -------------------------------
_SCALE_EN = {"thousand": 10**3, "k": 10**3, "million": 10**6, "m": 10**6, "mn": 10**6,
             "billion": 10**9, "bn": 10**9, "b": 10**9, "trillion": 10**12}
_SCALE_ZH = {"千": 10**3, "万": 10**4, "亿": 10**8, "百万": 10**6, "千万": 10**7, "万亿": 10**12}
_NUM_EN_RE = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s*(thousand|million|billion|trillion|bn|mn|k|m|b)\b)?(?![.,]?\d)",
    re.I,
)
# Chinese writes figures against characters ("窃取120万条"): only Latin letters and digits
# may not touch the number (CJK characters are \w to ``re``).
_NUM_ZH_RE = re.compile(r"(?<![A-Za-z0-9_.,])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*(万亿|百万|千万|万|亿|千)?(?![.,]?\d)")
_MONTHS = {m: i + 1 for i, m in enumerate(
    "january february march april may june july august september october november december".split())}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_DATE_EN_RE = re.compile(
    r"\b(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b",
    re.I,
)
_DATE_ZH_RE = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*日")

#: A Latin word: a letter, letters and digits, more of them after each "-" or "'". Written with
#: possessive repeats (``*+``, ``++``), which match as the greedy ones do here (what follows a
#: repeat never starts with what it repeats, so giving some back cannot lead to a match) without
#: saving a backtracking point at each: findall took 13% less time on realistic articles.
_LATIN_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*+(?:[-'][A-Za-z0-9]++)*+")
_SENTENCE_END_RE = re.compile(r"[.!?:;。！？：；\n\"“”]\s*$")

#: Common English words that are never names, even capitalised at the start of a sentence.
STOPWORDS_EN = frozenset("""
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it
its itself just let me more most my myself no nor not now of off on once only or other our
ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves
new says said today yesterday week month year years day days one two three four five six
seven eight nine ten first second last next per via according while however although since
may might must shall still yet many much several another every both either neither among
amid within without across around upon into onto inc ltd co corp llc mr ms dr
""".split())

# Generic words of the trade that show up in Latin script inside Chinese articles and in
# every English item: they say nothing about which story this is.
_GENERIC_LATIN = frozenset("""
cve cwe cvss poc rce xss sql ssrf csrf api apis url urls http https html web app apps ip
dns vpn id ids os pc ceo cto ciso it ai ml iot ot ics scada exe dll pdf zip png jpg gif
jpeg doc docx svg www com net org cn wx fmt mmbiz qpic from appmsg wxfrom lazy tp webp
other
""".split())

#: Names Chinese articles translate, mapped to the English anchor.
#: General world knowledge of the trade, not fitted to any corpus.
GLOSSARY_ZH = {
    "微软": "microsoft", "谷歌": "google", "苹果公司": "apple", "苹果": "apple", "亚马逊": "amazon",
    "脸书": "facebook", "脸谱": "facebook", "甲骨文": "oracle", "思科": "cisco", "英特尔": "intel",
    "三星": "samsung", "华为": "huawei", "高通": "qualcomm", "英伟达": "nvidia", "戴尔": "dell",
    "惠普": "hp", "联想": "lenovo", "索尼": "sony", "推特": "twitter", "特斯拉": "tesla",
    "优步": "uber", "雅虎": "yahoo", "领英": "linkedin", "贝宝": "paypal", "火狐": "firefox",
    "安卓": "android", "谷歌浏览器": "chrome", "威睿": "vmware", "飞塔": "fortinet",
    "派拓网络": "paloalto", "帕洛阿尔托": "paloalto", "卡巴斯基": "kaspersky", "赛门铁克": "symantec",
    "迈克菲": "mcafee", "趋势科技": "trendmicro", "黑莓": "blackberry", "红帽": "redhat",
    "大众": "volkswagen", "丰田": "toyota", "波音": "boeing", "空客": "airbus", "沃尔玛": "walmart",
    "迪士尼": "disney", "网飞": "netflix", "摩根大通": "jpmorgan", "富国银行": "wellsfargo",
    "俄罗斯": "russia", "俄": "russia", "乌克兰": "ukraine", "朝鲜": "korea", "韩国": "korea",
    "伊朗": "iran", "以色列": "israel", "德国": "germany", "法国": "france", "英国": "uk",
    "日本": "japan", "印度": "india", "澳大利亚": "australia", "澳洲": "australia", "加拿大": "canada",
    "荷兰": "netherlands", "意大利": "italy", "西班牙": "spain", "巴西": "brazil", "台湾": "taiwan",
    "新加坡": "singapore", "越南": "vietnam", "巴基斯坦": "pakistan", "土耳其": "turkey",
    "波兰": "poland", "瑞士": "switzerland", "瑞典": "sweden", "芬兰": "finland", "挪威": "norway",
    "丹麦": "denmark", "比利时": "belgium", "奥地利": "austria", "墨西哥": "mexico", "阿根廷": "argentina",
    "沙特": "saudi", "埃及": "egypt", "南非": "africa", "尼日利亚": "nigeria", "欧洲": "europe",
    "欧盟": "eu", "北约": "nato", "联合国": "un", "白宫": "whitehouse", "五角大楼": "pentagon",
    "联邦调查局": "fbi", "国家安全局": "nsa", "中央情报局": "cia", "司法部": "justice",
    "国土安全部": "dhs", "财政部": "treasury", "欧洲刑警组织": "europol", "国际刑警组织": "interpol",
    "网络安全和基础设施安全局": "cisa", "美国网络安全和基础设施安全局": "cisa",
    "勒索软件": "ransomware", "勒索": "ransomware", "僵尸网络": "botnet", "间谍软件": "spyware",
    "后门": "backdoor", "零日": "zeroday", "零日漏洞": "zeroday", "0day": "zeroday",
    "钓鱼": "phishing", "网络钓鱼": "phishing", "供应链": "supplychain", "加密货币": "crypto",
    "比特币": "bitcoin", "以太坊": "ethereum", "区块链": "blockchain", "木马": "trojan",
    "蠕虫": "worm", "挖矿": "miner", "信息窃取": "stealer", "窃密木马": "stealer",
    "数据泄露": "breach", "赎金": "ransom", "补丁星期二": "patchtuesday", "补丁日": "patchtuesday",
    "公民实验室": "citizenlab", "谷歌云": "google", "微软云": "azure", "浏览器": "browser",
    "路由器": "router", "医院": "hospital", "大学": "university", "航空": "airline",
}
_EN_ALIASES = {
    "zero-day": "zeroday", "zero-days": "zeroday", "0-day": "zeroday", "0day": "zeroday",
    "0-days": "zeroday", "patch": None, "palo": "paloalto", "citizen": "citizenlab",
    "hospitals": "hospital", "universities": "university", "airlines": "airline",
    "routers": "router", "browsers": "browser", "breaches": "breach", "stealers": "stealer",
    "miners": "miner", "backdoors": "backdoor", "trojans": "trojan", "botnets": "botnet",
    "russian": "russia", "ukrainian": "ukraine", "korean": "korea", "iranian": "iran",
    "israeli": "israel", "german": "germany", "french": "france", "british": "uk",
    "japanese": "japan", "indian": "india", "australian": "australia", "canadian": "canada",
    "dutch": "netherlands", "italian": "italy", "spanish": "spain", "brazilian": "brazil",
    "taiwanese": "taiwan", "vietnamese": "vietnam", "pakistani": "pakistan", "turkish": "turkey",
    "polish": "poland", "swiss": "switzerland", "swedish": "sweden", "european": "europe",
    "u.s.": None, "us": None,
}
_GLOSSARY_TARGETS = frozenset(v for v in GLOSSARY_ZH.values() if v)
_GLOSSARY_RE = re.compile("|".join(sorted(map(re.escape, GLOSSARY_ZH), key=len, reverse=True)))
_CJK_RE = re.compile(r"[\u3400-\u9fff]")


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


# --- speed: the same matches, found with less work ------------------------------------------
# Each pattern above, run as written, tries every position of the text (a leading look-behind or
# re.IGNORECASE turns off the regex engine's scan for a first character): 0.2-0.6 ms per 10,000
# characters each, 5.5 of the 14 ms of a realistic 11,000-character article's signals. The fast
# path (:func:`_anchors_lowered`) finds exactly the same matches, by three devices:
# 1. The lower-cased text, case-sensitive patterns: same length, same positions, and \w \s \d hold
#    for a character exactly when they hold for its lower case. re.IGNORECASE matches three letters
#    (İ ı ſ) with ASCII ones though lower() does not map them there: a text that holds one of
#    these "case traps" takes the patterns as written (:func:`_anchors_as_written`).
# 2. A first character the engine can scan for: the look-behind moves after the literal it
#    guards, ``cve(?<![A-Za-z0-9_]cve)``, which tests the same character before "cve"; a number
#    starts with ``\d(?<![\w.,]\d)``. The reference tests (tests/dedup/test_anchors.py) hold them.
# 3. Hinted lines: the domain and version patterns never match across a line break and every
#    match holds a cheap hint (".com", ".1"); they run only on the lines where the hint occurs.
# A ``sub`` that removes matched ids runs only if its pattern matched, and blanks the spans its
# (equivalent) fast pattern finds, with as many spaces (:func:`_spaced`): the positions stay.
_CASE_TRAPS_RE = re.compile("[\u0130\u0131\u017f\u212a]")
_CASE_TRAPS = "\u0130\u0131\u017f\u212a"


def has_case_trap(text: str) -> bool:
    """``_CASE_TRAPS_RE.search(text)``: four ``in`` scans (memchr-like) take 0.01 ms where the
    character-class search took 0.1 ms on a 15,000-character article."""
    return any(ch in text for ch in _CASE_TRAPS)

_DOMAIN_HINT_RE = re.compile(r"\." + TLD_ALTERNATION + r"(?![A-Za-z0-9_-])", re.I)  # the one TLD list
_DOT_DIGIT_RE = re.compile(r"\.\d")
_VERSION_3_RE = re.compile(r"(?<![\w.])v?\d{1,4}(?:\.\d{1,5}){2,3}(?![\w.]*\d)")

_ASCII_WORD_CHAR = "[A-Za-z0-9_]"


def _guarded(literal: str) -> str:
    """``literal`` not preceded by an ASCII letter, digit or underscore (the ``_L`` boundary),
    written so that the pattern starts with the literal."""
    return f"{literal}(?<!{_ASCII_WORD_CHAR}{literal})"


_CVE_FAST_RE = re.compile(_guarded("cve") + r"[-_ ]?(\d{4})[-_ ]?(\d{4,7})" + _R)
_CWE_FAST_RE = re.compile(_guarded("cwe") + r"[-_ ]?(\d{1,5})" + _R)
_GHSA_FAST_RE = re.compile(_guarded("ghsa") + r"(?:-[23456789cfghjmpqrvwx]{4}){3}" + _R)
# The alternatives of _GROUP_RE in its order, "sectorj?" as "sectorj" then "sector".
_GROUP_NAMES = ("apt", "unc", "ta", "fin", "temp", "storm", "dev", "uat", "sectorj", "sector")
_GROUP_FAST_RE = re.compile("(" + "|".join(map(_guarded, _GROUP_NAMES)) + r")[- ]?(\d{1,5})" + _R)
# The first digit of every match of _GROUP_FAST_RE follows one of these, or one of these and
# one "-" or " " (:func:`_threat_groups`).
_GROUP_LAST_LETTERS = frozenset(name[-1] for name in _GROUP_NAMES)
_DOMAIN_LOW_RE = re.compile(_DOMAIN_RE.pattern)
_DOMAIN_HINT_LOW_RE = re.compile(_DOMAIN_HINT_RE.pattern)
# \b before a month's first letter: no \w before it.
_DATE_EN_FAST_RE = re.compile(
    r"(j(?<!\wj)(?:an(?:uary)?|une?|uly?)|f(?<!\wf)eb(?:ruary)?|m(?<!\wm)(?:ar(?:ch)?|ay)"
    r"|a(?<!\wa)(?:pr(?:il)?|ug(?:ust)?)|s(?<!\ws)ept?(?:ember)?|o(?<!\wo)ct(?:ober)?"
    r"|n(?<!\wn)ov(?:ember)?|d(?<!\wd)ec(?:ember)?)\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b"
)
_VERSION_LOW_RE = re.compile(_VERSION_RE.pattern)
# Every date's day is a digit after white space: in English text the month alternatives of
# _DATE_EN_FAST_RE start a match attempt at a third of the letters (0.3 ms per 15,000
# characters), the digits after white space are a few dozen (:func:`_english_dates`, from
# :func:`_digit_run_starts`).
#: Every spelling the month alternatives of _DATE_EN_RE match ("sept?(?:ember)?" also "sepember").
_MONTH_SPELLINGS = frozenset(
    "jan january feb february mar march apr april may jun june jul july aug august sep sept sepember september "
    "oct october nov november dec december".split())
#: The lengths of the month spellings by their last three letters, shortest first: one slice and
#: one look-up dismiss most digits after white space ("in 2024", "than 100") instead of a slice
#: and a look-up per length (3 to 9); the scan for those digits was most of the cost.
_MONTH_LENGTHS_BY_ENDING: dict[str, tuple[int, ...]] = {
    ending: tuple(sorted({len(m) for m in _MONTH_SPELLINGS if m.endswith(ending)}))
    for ending in {m[-3:] for m in _MONTH_SPELLINGS}}
# The number's alternatives \d{1,3}(?:,\d{3})+ and \d+(?:\.\d+)?, their first digit taken first.
_NUMBER_HEAD = r"(\d(?<![{before}]\d)(?:\d{{0,2}}(?:,\d{{3}})+|\d*(?:\.\d+)?))"
_NUM_EN_FAST_RE = re.compile(
    _NUMBER_HEAD.format(before=r"\w.,")
    + r"(?:\s*(thousand|million|billion|trillion|bn|mn|k|m|b)\b)?(?![.,]?\d)"
)
_NUM_ZH_FAST_RE = re.compile(_NUMBER_HEAD.format(before="A-Za-z0-9_.,") + r"\s*(万亿|百万|千万|万|亿|千)?(?![.,]?\d)")
_WORD_CACHE_MAX = 200_000


def _en_name(w: str) -> str | None:
    """What :func:`english_names` makes of one word."""
    low = w.lower()
    if low in _EN_ALIASES:
        return _EN_ALIASES[low]
    if low in _GLOSSARY_TARGETS:
        # A word the zh glossary maps to (ransomware, hospital): an anchor in any case,
        # as its Chinese counterpart is.
        return low
    # A name: capitalised, CamelCase, an ACRONYM (an upper-case letter anywhere), or with digits.
    if not w.islower() or any(c.isdigit() for c in w):
        return _en_word_anchor(w)
    return None


def _zh_latin(w: str) -> str | None:
    a = _en_word_anchor(w)
    return a if a and not a.isdigit() else None


class WordJudgements:
    """What ``judge`` makes of each distinct word (a string, or nothing), remembered for the
    next articles (at most _WORD_CACHE_MAX words, then forgotten at once).

    :meth:`count` is ``out[judge(w)] += 1`` for every word ``judge`` gives a string for, in the
    order of first occurrence. New words are found with one set difference, and the words that
    count are picked and counted by ``filter``, ``map`` and ``Counter.update`` (all C): a
    Python loop over every distinct word was half the name pass."""

    def __init__(self, judge: Callable[[str], str | None]) -> None:
        self.judge = judge
        self.judged: set[str] = set()
        self.named: dict[str, str] = {}  # the judged words that give a string, and that string

    def count(self, out: Counter[str], words: list[str]) -> None:
        if len(self.judged) > _WORD_CACHE_MAX:
            self.judged.clear()
            self.named.clear()
        named = self.named
        # set.difference walks the (small) set of this article's words; ``keys() - judged``
        # would walk every judged word.
        new = set(words).difference(self.judged)
        for w in new:
            a = self.judge(w)
            if a:
                named[w] = a
        self.judged.update(new)
        # Counted per occurrence by Counter.update (C): each string enters ``out`` at the first
        # word that gives it, as a loop over the distinct words in order of first occurrence
        # adding each one's count would have it; that loop (``out[s] += n``, a Python
        # ``__missing__`` call per new string) was a third of an English article's anchors.
        out.update(map(named.__getitem__, filter(named.__contains__, words)))


_EN_NAMES = WordJudgements(_en_name)
_ZH_LATIN_NAMES = WordJudgements(_zh_latin)


def extract_anchors(text: str, lang: str, *, low: str | None = None,
                    low_points: np.ndarray | None = None) -> Counter[str]:
    """Anchors with their counts. ``text`` is folded (NFKC, Simplified, any case); ``low`` is
    ``text.lower()`` and ``low_points`` its ``code_points`` if the caller has them."""
    out: Counter[str] = Counter()
    if has_case_trap(text):
        rest = _anchors_as_written(text, lang, out)
    else:
        rest = _anchors_lowered(text, lang, out, text.lower() if low is None else low, low_points)
    # Names: any Latin word in a Chinese text; in English, words that look like names.
    if lang == "zh":
        _ZH_LATIN_NAMES.count(out, _LATIN_WORD_RE.findall(rest))
        out.update(map(GLOSSARY_ZH.__getitem__, _GLOSSARY_RE.findall(rest)))
    else:
        _EN_NAMES.count(out, _LATIN_WORD_RE.findall(rest))
    return out


def _anchors_lowered(text: str, lang: str, out: Counter[str], low: str, low_points: np.ndarray | None = None) -> str:
    """Ids, dates, versions and figures of a text without case traps, found in its lower-cased
    copy by the fast patterns; returns the text without the ids, dates and versions (each
    replaced by spaces, :func:`_spaced`), so that their digits don't count again (the order and
    the removals of :func:`_anchors_as_written`, whose ``sub`` leaves one space a removal).
    ``low`` is ``text.lower()``, ``low_points`` its code points or None."""
    # CVE/CWE/GHSA ids, threat groups and domains.
    found = {"cve": False, "cwe": False, "ghsa": False}
    if "cve" in low:
        for m in _CVE_FAST_RE.finditer(low):
            out[f"cve-{m.group(1)}-{m.group(2)}"] += 1
            found["cve"] = True
    if "cwe" in low:
        for m in _CWE_FAST_RE.finditer(low):
            out[f"cwe-{m.group(1)}"] += 1
            found["cwe"] = True
    if "ghsa" in low:
        for m in _GHSA_FAST_RE.finditer(low):
            out[m.group(0)] += 1
            found["ghsa"] = True
    starts = _digit_run_starts(low, low_points)
    for m in _threat_groups(low, starts):
        out[f"{m.group(1)}{m.group(2)}"] += 1
    domains = False
    for start, end in hinted_lines(_DOMAIN_HINT_LOW_RE, low):
        for m in _DOMAIN_LOW_RE.finditer(low, start, end):
            out["dom:" + m.group(1)] += 1
            domains = True
    # Removing one kind of id (a span from a letter to a letter or digit, with ASCII boundaries on
    # both sides) never makes another kind match where it did not; each removal runs on the text
    # the previous one left, as the chain of ``sub`` calls did.
    rest, rest_low = text, low
    for kind, pattern in (("cve", _CVE_FAST_RE), ("cwe", _CWE_FAST_RE), ("ghsa", _GHSA_FAST_RE)):
        if found[kind]:
            spans = [m.span() for m in pattern.finditer(rest_low)]
            starts = _starts_after_spacing(starts, spans, rest_low)
            rest, rest_low = _spaced(rest, spans), _spaced(rest_low, spans)
    if domains:
        spans = [m.span() for start, end in hinted_lines(_DOMAIN_HINT_LOW_RE, rest_low)
                 for m in _DOMAIN_LOW_RE.finditer(rest_low, start, end)]
        starts = _starts_after_spacing(starts, spans, rest_low)
        rest, rest_low = _spaced(rest, spans), _spaced(rest_low, spans)
    # English and Chinese month-day dates; the Chinese ones are removed.
    for m in _english_dates(rest_low, starts):
        _count_date(out, _MONTHS.get(m.group(1).rstrip(".")), int(m.group(2)))
    if "月" in rest:
        spans = []
        for m in _chinese_dates(rest):
            spans.append(m.span())
            month, day = int(m.group(1)), int(m.group(2))
            if 1 <= month <= 12:
                _count_date(out, month, day)
        starts = _starts_after_spacing(starts, spans, rest_low)
        rest, rest_low = _spaced(rest, spans), _spaced(rest_low, spans)
    # Version strings (three parts, or ``v`` and two); the ones of three parts or more are removed.
    lines = list(hinted_lines(_DOT_DIGIT_RE, rest_low))
    versions = False
    for start, end in lines:
        for m in _VERSION_LOW_RE.finditer(rest_low, start, end):
            versions = True
            v = m.group(1)
            if v.count(".") >= 2 or m.group(0)[0] == "v":
                out["v:" + v] += 1
    if versions:
        spans = [m.span() for start, end in lines for m in _VERSION_3_RE.finditer(rest, start, end)]
        starts = _starts_after_spacing(starts, spans, rest_low)
        rest, rest_low = _spaced(rest, spans), _spaced(rest_low, spans)
    # Figures, normalised across 万/亿 and million/billion.
    if lang == "zh":
        _count_numbers(out, _number_figures(_NUM_ZH_FAST_RE, rest, starts), _SCALE_ZH)
    else:
        _count_numbers(out, _number_figures(_NUM_EN_FAST_RE, rest_low, starts), _SCALE_EN)
    return rest


@lru_cache(maxsize=1)
def _digit_table() -> np.ndarray:
    """One flag per code point: a ``\\d`` character (for str patterns), as ``re`` itself finds them
    in strings of the code points, a plane at a time, decoded from their UTF-32 (0.01 s once; one
    string of every code point made of a string object per character added 50 MB to the peak RSS)."""
    table = np.zeros(sys.maxunicode + 1, dtype=bool)
    for plane in range(0, sys.maxunicode + 1, 0x10000):
        chars = np.arange(plane, plane + 0x10000, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
        table[[plane + m.start() for m in re.finditer(r"\d", chars)]] = True
    return table


#: Texts up to this long find their digit-run starts by :data:`_DIGIT_RUN_START_RE` (a headline
#: of 60 characters: 3 us, where the table's fixed costs took 13 us; even at 500 characters);
#: longer ones read their code points (which a caller may hand over: ``low_points``).
DIGIT_RUN_REGEX_MAX = 300
_DIGIT_RUN_START_RE = re.compile(r"(?<![0-9])\d")


def _digit_run_starts(low: str, points: np.ndarray | None = None) -> list[int]:
    """The positions of the ``\\d`` characters of ``low`` that no ASCII digit precedes: where a
    group's number, a day or a figure can start (each pattern's first digit follows a letter, a
    separator, white space or no word character). The digit passes each scanned the whole text
    for a digit class, which ``re`` tests character by character (0.15-0.25 ms per pass on an
    11,000-character article); the code points and a table find them in 0.05 ms. ``points``:
    ``code_points(low)`` if the caller has them."""
    if len(low) <= DIGIT_RUN_REGEX_MAX:
        return [m.start() for m in _DIGIT_RUN_START_RE.finditer(low)]
    return _digit_run_starts_by_table(low, points)


def _digit_run_starts_by_table(low: str, points: np.ndarray | None = None) -> list[int]:
    """:func:`_digit_run_starts` by :func:`_digit_table`, whatever the length."""
    cp = code_points(low) if points is None else points
    at = np.flatnonzero(_digit_table()[cp])
    before = cp[at - 1]  # at 0, the last character: that digit is kept whatever it is
    return at[(at == 0) | (before < ord("0")) | (before > ord("9"))].tolist()


def _spaced(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each of the (sorted, disjoint) spans replaced by as many spaces (``blank``
    with ``keep_length``): the same as ``blank``'s one space a span, to every pattern that reads the text after a
    removal (white space is one ``\\s*``, ``\\s+`` or word break there, whatever its length;
    no pattern takes a single optional space across a removed span: an id starts after a non-word
    character and ends before one), with the positions of the text kept. ``text`` itself if
    there are none."""
    return blank(text, spans, keep_length=True)


def _starts_after_spacing(starts: list[int], spans: list[tuple[int, int]], text: str) -> list[int]:
    """:func:`_digit_run_starts` of ``_spaced(text, spans)``, from ``starts``, those of ``text``:
    the starts inside a span go, and the digit right after a span (now after a space) is a start,
    unless the next span takes it too. The positions stay (:func:`_spaced`): the starts between
    the spans are kept by slices, where shifting each by what the spans before it lost was a
    Python step per start after each of one to four removals (0.03-0.1 ms an article)."""
    if not spans:
        return starts
    out: list[int] = []
    table = _digit_table()
    i, n = 0, len(starts)
    for k, (start, end) in enumerate(spans):
        j = bisect_left(starts, start, i)
        out += starts[i:j]
        i = bisect_left(starts, end, j)
        if (end < len(text) and table[ord(text[end])] and (i == n or starts[i] != end)
                and (k + 1 == len(spans) or spans[k + 1][0] != end)):
            out.append(end)
    out += starts[i:]
    return out


def _number_figures(pattern: re.Pattern[str], text: str, starts: list[int]) -> list[tuple[str, str]]:
    """``pattern.findall(text)`` for a number pattern (value and unit, "" for none), by ``match``
    at the ``starts`` (:func:`_digit_run_starts` of ``text`` or of its lower-cased copy) past the
    last match: every match starts at a digit that no ASCII digit precedes (nor a letter, "." or
    ","), so at one of them; ``finditer`` tries each such position after the last match's end,
    and no other position can match."""
    figures: list[tuple[str, str]] = []
    done = 0
    match = pattern.match
    for at in starts:
        if at >= done:
            m = match(text, at)
            if m is not None:
                value, unit = m.groups("")
                figures.append((value, unit))
                done = m.end()
    return figures


def _threat_groups(low: str, starts: list[int] | None = None) -> Iterator[re.Match[str]]:
    """``_GROUP_FAST_RE.finditer(low)``, found from the numbers: a match is a group name at the
    start of an ASCII word, an optional "-" or " ", then the number, so its first digit follows
    the name's last letter or that one separator, at one of the ``starts`` (:func:`_digit_run_starts`
    of ``low``). The names' first letters (t, a, d, s ...) start a match attempt at a third of an
    English text's characters: 0.18 ms on an 11,000-character article. At most one name ends where
    the digit's separator starts (none ends another), and ``match`` there decides. Matches cannot
    overlap (inside one, no position is a word start before a name's first letter), so these are
    the matches ``finditer`` finds, in its order."""
    for digit in _digit_run_starts(low) if starts is None else starts:
        if digit == 0:
            continue
        end = digit - 1 if low[digit - 1] in "- " else digit
        if end == 0 or low[end - 1] not in _GROUP_LAST_LETTERS:
            continue
        for name in _GROUP_NAMES:
            if low.endswith(name, 0, end):
                m = _GROUP_FAST_RE.match(low, end - len(name))
                if m is not None and m.start(2) == digit:
                    yield m
                break


def _english_dates(low: str, starts: list[int] | None = None) -> Iterator[re.Match[str]]:
    """``_DATE_EN_FAST_RE.finditer(low)``, found from the days: a match is a month spelling that
    is a whole word (``\\b`` before it, "." or white space after it), an optional ".", white
    space, then the day. From each digit after white space, the word before the white space (and
    a dot) is the only place a match ending in that day can start; ``match`` there decides, and
    gives the groups. Matches cannot overlap (each starts a word and ends at a ``\\b``), so these
    are the matches ``finditer`` finds, in its order."""
    for day in _digit_run_starts(low) if starts is None else starts:
        if day == 0 or not low[day - 1].isspace():  # str.isspace is \s for str patterns
            continue
        end = day - 1
        while end >= 0 and low[end].isspace():  # str.isspace is \s for str patterns
            end -= 1
        if end >= 0 and low[end] == ".":
            end -= 1
        end += 1
        for length in _MONTH_LENGTHS_BY_ENDING.get(low[end - 3:end] if end >= 3 else "", ()):
            start = end - length
            if start >= 0 and low[start:end] in _MONTH_SPELLINGS:
                m = _DATE_EN_FAST_RE.match(low, start)
                if m is not None and m.start(2) == day:
                    yield m
                break


def _chinese_dates(text: str) -> Iterator[re.Match[str]]:
    """``_DATE_ZH_RE.finditer(text)``, found from each "月" (a literal the engine scans for,
    where the pattern's leading digit class costs a test at every character: 0.13 ms on a
    7,000-character article). A match ends in "日", so none holds a digit of the next one, and
    the one that holds a given "月" starts at the last two (or one) of the digits before it and
    its white space: the leftmost start ``finditer`` tries, three digits or more having failed."""
    at = text.find("月")
    while at >= 0:
        end = at - 1
        while end >= 0 and text[end].isspace():  # str.isspace is \s, isdecimal \d (str patterns)
            end -= 1
        digits = 0
        while digits < 2 and end - digits >= 0 and text[end - digits].isdecimal():
            digits += 1
        if digits:
            m = _DATE_ZH_RE.match(text, end - digits + 1)
            if m is not None:
                yield m
        at = text.find("月", at + 1)


def _count_date(out: Counter[str], month: int | None, day: int) -> None:
    if month and 1 <= day <= 31:
        out[f"d:{month}-{day}"] += 1


#: What each (figure, unit) of a number match is as an anchor ("" for none), per scale table:
#: an article repeats its figures, and the crawl its years and small numbers. Figures are more
#: varied than words (about 200 bytes an entry): at most this many, then forgotten at once.
_NUMBER_ANCHORS: dict[int, dict[tuple[str, str], str]] = {id(_SCALE_EN): {}, id(_SCALE_ZH): {}}
_NUMBER_CACHE_MAX = 20_000


def _count_numbers(out: Counter[str], figures: list[tuple[str, str]], scales: dict[str, int]) -> None:
    """Counts the anchor of each ``(value, unit)`` of a number pattern's ``findall`` (unit "" for
    none). Each distinct figure new to the table is read once; the anchors are then looked up and
    counted in C (``map``, ``filter``, ``Counter.update``, one per occurrence in order, as
    ``out[anchor] += 1`` did). With the matches found from the digit positions
    (:func:`_number_figures`): 0.17 ms where ``finditer`` and a Python step per match took 0.34 ms
    on an English article of 15,000 characters."""
    known = _NUMBER_ANCHORS[id(scales)]
    if len(known) > _NUMBER_CACHE_MAX:
        known.clear()
    for figure in set(figures).difference(known):
        value, unit = figure
        n = _number(value, scales.get(unit.lower()) if unit else None)
        known[figure] = "" if n is None else f"n:{n}"
    out.update(filter(None, map(known.__getitem__, figures)))


def _anchors_as_written(text: str, lang: str, out: Counter[str]) -> str:
    """What :func:`_anchors_lowered` does, with the patterns as written (case-insensitive where
    they say so) on the text itself: for a text with a case trap."""
    for m in _CVE_RE.finditer(text):
        out[f"cve-{m.group(1)}-{m.group(2)}"] += 1
    for m in _CWE_RE.finditer(text):
        out[f"cwe-{m.group(1)}"] += 1
    for m in _GHSA_RE.finditer(text):
        out[m.group(0).lower()] += 1
    for m in _GROUP_RE.finditer(text):
        out[f"{m.group(1).lower()}{m.group(2)}"] += 1
    for m in _DOMAIN_RE.finditer(text):
        out["dom:" + m.group(1).lower()] += 1
    rest = text
    for pattern in (_CVE_RE, _CWE_RE, _GHSA_RE, _DOMAIN_RE):
        rest = pattern.sub(" ", rest)
    for m in _DATE_EN_RE.finditer(rest):
        _count_date(out, _MONTHS.get(m.group(1).lower().rstrip(".")), int(m.group(2)))
    for m in _DATE_ZH_RE.finditer(rest):
        month, day = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12:
            _count_date(out, month, day)
    rest = _DATE_ZH_RE.sub(" ", rest)
    versions = False
    for m in _VERSION_RE.finditer(rest):
        versions = True
        v = m.group(1)
        if v.count(".") >= 2 or m.group(0)[0] in "vV":
            out["v:" + v] += 1
    if versions:
        rest = _VERSION_3_RE.sub(" ", rest)
    if lang == "zh":
        _count_numbers(out, _NUM_ZH_RE.findall(rest), _SCALE_ZH)
    else:
        _count_numbers(out, _NUM_EN_RE.findall(rest), _SCALE_EN)
    return rest


def english_names(text: str) -> list[str]:
    """Words of an English text that look like names: capitalised, CamelCase, ACRONYMS,
    with digits, or in the alias table (zero-day, Russian). Lower-cased."""
    return [a for a in map(_en_name, _LATIN_WORD_RE.findall(text)) if a]
