"""Words of one language for lexical similarity: rjieba words for Chinese, plain words for English."""

from __future__ import annotations

import re
from collections import Counter

from crawler.dedup.anchors import STOPWORDS_EN, WordJudgements

_CJK_WORD_RE = re.compile(r"^[\u3400-\u9fff]{2,}$")
# Possessive repeats: the greedy ones' matches, without their backtracking points (anchors._LATIN_WORD_RE).
_EN_WORD_RE = re.compile(r"[a-z][a-z0-9]*+(?:-[a-z0-9]++)*+")

#: Function words and the verbs of every news item: no evidence of a shared story.
STOPWORDS_ZH = frozenset("""
我们 你们 他们 她们 它们 这个 那个 这些 那些 一个 一些 以及 并且 而且 或者 但是 因为 所以
如果 虽然 可以 可能 已经 进行 通过 使用 其中 之后 之前 目前 此外 同时 表示 认为 指出 发现
称为 成为 没有 不是 还是 就是 对于 关于 由于 根据 其他 其它 相关 主要 包括 以下 以上 这种
该公司 公司 用户 研究 人员 研究人员 安全 网络 网络安全 攻击 攻击者 漏洞 信息 数据 系统 软件
问题 方面 情况 时间 今天 昨天 本周 上周 本月 上月 今年 去年 报告 消息 文章 阅读 推荐 点击
关注 原文 链接 来源 编辑 作者 转载 声明 扫码 公众号 二维码 免责 版权 分享 点赞 在看
""".split())


def _zh_term(w: str) -> str | None:
    return w if len(w) >= 2 and _CJK_WORD_RE.match(w) and w not in STOPWORDS_ZH else None


def _en_term(w: str) -> str | None:
    if w in STOPWORDS_EN or len(w) < 3:
        return None
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


# What each word is as a term, remembered across articles (bounded as the anchors' names are).
_ZH_TERMS = WordJudgements(_zh_term)
_EN_TERMS = WordJudgements(_en_term)


def terms(folded: str, lang: str) -> Counter[str]:
    """Term counts of a folded (lower-case, Simplified) text, in the order of first occurrence.

    Each distinct word is judged once and remembered; the words are then picked and counted in
    C (:meth:`WordJudgements.count`): a per-word Python loop was most of the cost on long articles."""
    out: Counter[str] = Counter()
    if lang == "zh":
        import rjieba

        _ZH_TERMS.count(out, rjieba.cut(folded))
        return out
    _EN_TERMS.count(out, _EN_WORD_RE.findall(folded))
    return out
