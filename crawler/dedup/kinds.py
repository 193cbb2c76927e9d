"""The vocabulary of a flag: what two articles are to each other (``Kind``) and what says so (``Basis``)."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What two articles are to each other. Each pair has at most one kind, stored both ways;
    the values are what the catalog, the item export and the report write."""

    #: Same normalised wording.
    EXACT = "exact"
    #: Same language, simhash within ``repost_hamming`` bits or term cosine at least
    #: ``repost_cosine`` (an edited reprint).
    REPOST = "repost"
    #: Different languages; the anchor cosine agrees (content) or one names the other as its
    #: source (link). A translation has one original: a zh article keeps only its best
    #: content-based original (the earliest close one, never a reprint of an earlier one).
    TRANSLATION = "translation"
    #: Same language, both translations of one original (they cite the same source, or the
    #: containment of their anchors and words agrees and one says it is translated, or each is
    #: flagged a translation of the same archived original: basis ``inherited``). Two that name
    #: different sources are not siblings.
    TRANSLATION_SIBLING = "translation_sibling"
    #: Same language, one incident reported by two outlets within a few days (anchors, words and
    #: headline agree); an outlet's own follow-ups are not flagged. Between Chinese articles: two
    #: reports of one incident that translate different originals (anchor and word cosine,
    #: ``zh_story_min``), which editors want grouped ("which stories did several outlets cover").
    #: Articles naming different CVE ids, none shared, are two incidents: never flagged by content.
    SAME_STORY = "same_story"
    #: One names the other as its source but the content does not confirm a closer relation.
    ATTRIBUTED = "attributed"


#: A copy of the other article: it inherits what its original relates to.
COPIES = frozenset({Kind.EXACT, Kind.REPOST})


class Basis(StrEnum):
    """What a flag rests on."""

    CONTENT = "content"
    #: A source link, and the content does not contradict it.
    LINK = "link"
    CONTENT_LINK = "content+link"
    #: From a third article: a repost's original's relations, or two translations of one original.
    INHERITED = "inherited"
