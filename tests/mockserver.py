"""A subprocess HTTP/1.1 test server with one handler per crawl behaviour (stdlib only).

Run it as ``python tests/mockserver.py --port 0``: it prints one line
``READY http://127.0.0.1:PORT`` on stdout and serves on 127.0.0.1 until killed. From a test,
use ``with MockServer() as server: server.url("/articles/1")``. ``served_bytes(path)`` gives the
body bytes a deterministic handler sends (before any decoding), without starting a server.

Site ``site`` (the default), every path a contract that tests rely on:

==========================  =====================================================================
``/robots.txt``             ``User-agent: *`` / ``Disallow: /private/`` (text/plain).
``/``                       Home: relative links to every case below (not the feed-only,
                            sitemap-only or ``*-linked`` pages), ``/articles/1`` with a fragment,
                            ``?utm_source=x&utm_medium=y``, ``?sessionid=ABC123`` and
                            ``;jsessionid=XYZ`` variants, ``http://offsite.invalid/x``,
                            ``/private/secret``, ``/calendar/2026/11/``, the raw Chinese href
                            ``/zh/文章/漏洞`` and ``<link rel="alternate" ... href="/feed.xml">``.
``/basic``                  A tame home page: articles 1-5, ``/gzip``, ``/chunked``, ``/gbk``,
                            ``/zh/文章/漏洞``; nothing slow, huge, hostile or redirecting.
``/articles/1`` .. ``/5``   English news articles, 2-4 KB, ``text/html; charset=utf-8``. Article
                            n links to n+1 (5 links to none) and to ``/``. ``/articles/1`` sends two
                            ``Set-Cookie`` headers (``a=1; Path=/`` and ``b=2; Path=/``).
``/feed.xml``               RSS 2.0: absolute links (from the Host header) to articles 1-5 and
                            ``/feed-only``.
``/feed-only``              An article reachable only from the feed.
``/sitemap.xml``            Sitemap: absolute links (from Host) to ``/sitemap-only`` and
                            ``/articles/2``. Not announced in robots.txt.
``/sitemap-only``           An article reachable only from the sitemap.
``/gzip``                   An article always sent with ``Content-Encoding: gzip`` (whatever the
                            Accept-Encoding), precompressed with mtime=0, with Content-Length.
``/chunked``                An article sent with ``Transfer-Encoding: chunked`` in 5 chunks, no
                            Content-Length. (HTTP/1.0 clients get it unframed and closed.)
``/gbk``                    ~290 bytes of Chinese HTML encoded in GBK, ``Content-Type: text/html``
                            and no charset anywhere; links to ``/gbk-linked`` with Chinese anchor
                            text ``阅读更多勒索软件报道``.
``/gbk-linked``             Another small GBK page, same headers.
``/redirect/301``           301 to ``/articles/3``.
``/redirect/302``           302 to ``/articles/4``.
``/redirect/offsite``       302 to ``http://offsite.invalid/``.
``/loop/a``, ``/loop/b``    302 to each other, forever.
``/status/404``             404 "Not Found" with a small HTML body.
``/status/500``             500 "Internal Server Error" with a small HTML body.
``/status/teapot``          ``HTTP/1.1 418 I'm a Teapot Custom`` (a custom reason phrase).
``/slow``                   Sleeps ``SLOW_SECONDS`` (3 s) before answering a small page.
``/huge``                   ``HUGE_SIZE`` = 15 MiB (15,728,640 bytes) of HTML with Content-Length,
                            written in 64 KiB slices; built once per process.
``/bomb``                   gzip bomb: ``Content-Encoding: gzip``, ``text/html``; body about
                            1.06 MB (1,060,939 bytes) inflating to ``BOMB_INFLATED_SIZE`` = 1 GiB
                            of HTML prefix plus spaces. Built once per process (~0.5 s).
``/calendar/<y>/<m>/``      Infinite calendar trap: links to next and previous month and, by the
                            relative href ``<y>/<m>/``, to ``<this path><y>/<m>/`` (a repeated
                            path segment trap). Any depth of ``<yyyy>/<m>/`` pairs is served.
``/download/report``        A 5 KB PDF (``%PDF-1.4`` ... ``%%EOF``, with binary bytes),
                            ``application/pdf``, no extension in the URL.
``/malformed``              Bad nesting, unclosed tags, NUL bytes and invalid UTF-8 while
                            declaring ``charset=utf-8``; links to ``/articles/5`` and
                            ``/malformed-linked``.
``/malformed-linked``       A small well-formed page.
``/zh/文章/漏洞``           A UTF-8 Chinese article; the request target is percent-encoded UTF-8.
``/private/secret``         Disallowed by robots.txt: a crawler must never fetch it.
``/__hits``                 JSON ``{path: count}`` of every request so far (GET and HEAD).
                            Keys are percent-decoded paths without query and without ``;params``,
                            so ``/articles/1?sessionid=ABC123`` and ``/articles/1;jsessionid=XYZ``
                            both count as ``/articles/1``. ``/__hits?raw=1`` keys the request
                            targets exactly as received instead. Neither endpoint counts itself.
``/__reset``                Clears the counts.
anything else               404.
==========================  =====================================================================

``MockServer("bench", pages=N, seed=S)`` runs the bench site instead (bench/site.py).

Every response is framed by Content-Length or chunked encoding, HEAD sends the same headers and
no body, connections are kept alive, bodies hold no timestamps (only the Date header changes).
Serving is crawler/demo/httpd.py's; the English articles' prose is in tests/data/articles.json.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import hashlib
import json
import re
import struct
import sys
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

from crawler.demo.httpd import Response, ServerProcess, html_page, resource_path, serve

SLOW_SECONDS = 3.0
HUGE_SIZE = 15 * 1024 * 1024
BOMB_INFLATED_SIZE = 1024 * 1024 * 1024
OFFSITE_URL = "http://offsite.invalid/x"
ROBOTS_TXT = b"User-agent: *\nDisallow: /private/\n"
DATA = Path(__file__).resolve().parent / "data"


def _small_page(title: str, text: str, links: str = "") -> Response:
    return Response(200, html_page(title, f"<h1>{title}</h1>\n<p>{text}</p>\n{links}"))


# --- Articles --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Article:
    title: str
    author: str
    date: str
    paragraphs: tuple[str, ...]


def _load_articles() -> dict[str, Article]:
    with open(DATA / "articles.json", encoding="utf-8") as f:
        data = json.load(f)
    return {key: Article(a["title"], a["author"], a["date"], tuple(a["paragraphs"]))
            for key, a in [*((f"articles/{n}", a) for n, a in data.pop("articles").items()), *data.items()]}


_ARTICLES = _load_articles()
#: The five English news articles, /articles/1 .. /articles/5.
ARTICLES: dict[int, Article] = {int(k.split("/")[1]): a for k, a in _ARTICLES.items() if k.startswith("articles/")}
FEED_ONLY = _ARTICLES["feed-only"]
SITEMAP_ONLY = _ARTICLES["sitemap-only"]
GZIP_ARTICLE = _ARTICLES["gzip"]
CHUNKED_ARTICLE = _ARTICLES["chunked"]

ARTICLE_PATHS: dict[str, Article] = {
    **{f"/articles/{n}": a for n, a in ARTICLES.items()},
    "/feed-only": FEED_ONLY,
    "/sitemap-only": SITEMAP_ONLY,
    "/gzip": GZIP_ARTICLE,
    "/chunked": CHUNKED_ARTICLE,
}
#: path -> title (also the exact text of <title> and <h1>) of every English article.
ARTICLE_TITLES: dict[str, str] = {path: a.title for path, a in ARTICLE_PATHS.items()}


def _article_html(article: Article, next_path: str | None) -> bytes:
    paragraphs = "\n".join(f"<p>{p}</p>" for p in article.paragraphs)
    next_link = f'<a href="{next_path}">Next article</a>\n' if next_path else ""
    body = (
        '<header><a href="/">Mock Security News</a></header>\n'
        f"<article>\n<h1>{article.title}</h1>\n"
        f'<p class="byline">By {article.author}, {article.date}</p>\n{paragraphs}\n</article>\n'
        f'<nav>\n{next_link}<a href="/">Back to home</a>\n</nav>'
    )
    return html_page(article.title, body)


ZH_TITLE = "开源日志库曝出远程代码执行漏洞"
ZH_ARTICLE_HTML = html_page(
    ZH_TITLE,
    f"<article>\n<h1>{ZH_TITLE}</h1>\n"
    "<p>安全研究人员本周披露，一款被大量企业应用使用的开源日志库存在严重的远程代码执行漏洞。"
    "攻击者只需让目标程序记录一段特制的字符串，就可以在服务器上执行任意代码。</p>\n"
    "<p>该漏洞的危险评分为九点八分。项目维护者已经发布修复版本，并建议所有用户立即升级；"
    "无法马上升级的系统可以通过关闭消息查找功能暂时缓解风险。</p>\n"
    "<p>多家安全公司表示，已经观察到针对该漏洞的大规模扫描活动，其中一部分来自勒索软件团伙。"
    "专家提醒管理员检查日志中是否出现可疑的请求，并及时更换可能泄露的密钥。</p>\n"
    "</article>\n"
    '<nav><a href="/">返回首页</a></nav>',
    lang="zh-CN",
)

GBK_HTML = (
    "<html><head><title>网络安全新闻</title></head><body>"
    "<h1>网络安全新闻</h1>"
    "<p>研究人员警告，一种新型勒索软件正在通过钓鱼邮件攻击医院和学校，"
    "受害者的文件被加密后被要求支付赎金。专家建议及时备份数据并安装安全更新。</p>"
    '<p><a href="/gbk-linked">阅读更多勒索软件报道</a></p>'
    "</body></html>"
).encode("gbk")
GBK_LINKED_HTML = (
    "<html><head><title>勒索软件防护指南</title></head><body>"
    "<h1>勒索软件防护指南</h1>"
    "<p>定期备份重要数据，及时安装安全更新，并为远程访问启用多因素认证。</p>"
    '<p><a href="/gbk">返回</a></p>'
    "</body></html>"
).encode("gbk")

MALFORMED_HTML = (
    b'<html><head><meta charset="utf-8"><title>Malformed \xff\xfe page</title>\n'
    b"<body><div class=main><p>Unclosed paragraph <b>bold <i>both</b> italic</i>\n"
    b"<table><tr><td>cell one<td>cell two</tr><tr><td>row two\n"
    b"<p>NUL bytes:\x00\x00 and invalid UTF-8: \xc3\x28 \xa0\xa1 \xe2\x82 \xf0\x28\x8c\xbc "
    b"lone \x80 continuation, overlong \xc0\xaf slash.\n"
    b'<a href="/articles/5">Fifth article</a>\n'
    b'<a href="/malformed-linked">Linked <span>page</a></span>\n'
    b"<ul><li>one<li>two\xff</ul></div></div></div></td></table>\n"
    b'<script>var s = "</div>";</script>\n'
    b"<p>Trailing text with no closing tags"
)


def _pdf_bytes() -> bytes:
    """A ~5 KB PDF with correct xref offsets and a stream of binary bytes."""
    text = "\n".join(
        f"BT /F1 11 Tf 72 {720 - 16 * i} Td (Threat report line {i + 1}: indicators and "
        f"mitigations for campaign NW-{i:03d}.) Tj ET"
        for i in range(20)
    ).encode("ascii")
    blob = bytearray()
    block = b"newsarchive-report"
    while len(blob) < 2800:
        block = hashlib.blake2b(block, digest_size=64).digest()
        blob += block
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /EmbeddedFile /Length %d >>\nstream\n%s\nendstream"
        % (len(blob), bytes(blob)),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)


PDF_BYTES = _pdf_bytes()
GZIP_BODY = gzip.compress(_article_html(GZIP_ARTICLE, None), compresslevel=9, mtime=0)


def _chunked_article_chunks() -> tuple[bytes, ...]:
    html = _article_html(CHUNKED_ARTICLE, None)
    cuts = [0, 17, 400, 401, 1024, len(html)]  # uneven on purpose, one chunk of one byte
    return tuple(html[a:b] for a, b in zip(cuts, cuts[1:]))


CHUNKED_CHUNKS = _chunked_article_chunks()

_build_lock = threading.Lock()
_built: dict[str, bytes] = {}


def huge_body() -> bytes:
    """HUGE_SIZE bytes of HTML paragraphs with a counter; built once per process."""
    with _build_lock:
        if "huge" not in _built:
            parts = [b"<!DOCTYPE html>\n<html><head><title>Huge page</title></head><body>\n"]
            size, n = len(parts[0]), 0
            tail = b"</body></html>\n"
            while size < HUGE_SIZE - len(tail):
                p = (
                    b"<p>Paragraph %08d of the huge page: threat intelligence feeds keep "
                    b"growing and a crawler must cap how much of a response it keeps.</p>\n" % n
                )
                parts.append(p)
                size += len(p)
                n += 1
            body = b"".join(parts)[: HUGE_SIZE - len(tail)] + tail
            assert len(body) == HUGE_SIZE
            _built["huge"] = body
        return _built["huge"]


def bomb_body() -> bytes:
    """A gzip member of ~1.06 MB inflating to BOMB_INFLATED_SIZE (1 GiB); built in ~0.5 s.

    Deflating 1 GiB at level 9 takes ~7 s, so only the first and second MiB are compressed: after
    a sync flush the second MiB's blocks only refer back to spaces, so they can be repeated to
    produce every following MiB. The gzip trailer's CRC and size are for the full 1 GiB.
    """
    with _build_lock:
        if "bomb" not in _built:
            mib = 1 << 20
            prefix = b"<!DOCTYPE html><html><head><title>Bomb</title></head><body>"
            first_mib = prefix + b" " * (mib - len(prefix))
            spaces = b" " * mib
            deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
            first = deflate.compress(first_mib) + deflate.flush(zlib.Z_SYNC_FLUSH)
            repeat = deflate.compress(spaces) + deflate.flush(zlib.Z_SYNC_FLUSH)
            final = deflate.flush(zlib.Z_FINISH)
            count = BOMB_INFLATED_SIZE // mib
            crc = zlib.crc32(first_mib)
            for _ in range(count - 1):
                crc = zlib.crc32(spaces, crc)
            header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # mtime 0, max compression
            trailer = struct.pack("<II", crc, BOMB_INFLATED_SIZE & 0xFFFFFFFF)
            _built["bomb"] = header + first + repeat * (count - 1) + final + trailer
        return _built["bomb"]


def _home_html() -> bytes:
    articles = "\n".join(
        f'<li><a href="/articles/{n}">{a.title}</a></li>' for n, a in ARTICLES.items()
    )
    cases = [
        ("/articles/1#comments", "Article 1, comments fragment"),
        ("/articles/1?utm_source=x&amp;utm_medium=y", "Article 1 with tracking parameters"),
        ("/articles/1?utm_source=x&amp;utm_medium=y#top", "Article 1 with tracking and fragment"),
        ("/articles/1?sessionid=ABC123", "Article 1 with a session id"),
        ("/articles/1;jsessionid=XYZ", "Article 1 with a path session id"),
        ("#top", "Top of this page"),
        ("gzip", "Gzip-encoded article"),
        ("chunked", "Chunked article"),
        ("gbk", "GBK page without a charset"),
        ("/zh/文章/漏洞", "中文文章"),
        ("/redirect/301", "Permanent redirect"),
        ("/redirect/302", "Temporary redirect"),
        ("/redirect/offsite", "Offsite redirect"),
        ("/loop/a", "Redirect loop"),
        ("/status/404", "Missing page"),
        ("/status/500", "Server error"),
        ("/status/teapot", "Teapot"),
        ("/slow", "Slow page"),
        ("/huge", "Huge page"),
        ("/bomb", "Compressed bomb"),
        ("/calendar/2026/11/", "Event calendar"),
        ("/download/report", "Download the PDF report"),
        ("/malformed", "Malformed page"),
        ("/private/secret", "Private page"),
        (OFFSITE_URL, "Offsite link"),
    ]
    links = "\n".join(f'<li><a href="{href}">{text}</a></li>' for href, text in cases)
    body = (
        '<h1 id="top">Mock Security News</h1>\n'
        f'<h2>Latest articles</h2>\n<ul class="articles">\n{articles}\n</ul>\n'
        f'<h2>Test cases</h2>\n<ul class="cases">\n{links}\n</ul>'
    )
    page = html_page("Mock Security News", body).decode("utf-8")
    feed_link = '<link rel="alternate" type="application/rss+xml" href="/feed.xml">\n'
    return page.replace("</head>", feed_link + "</head>", 1).encode("utf-8")


def _basic_html() -> bytes:
    hrefs = [f"/articles/{n}" for n in ARTICLES] + ["/gzip", "/chunked", "/gbk", "/zh/文章/漏洞"]
    links = "\n".join(f'<li><a href="{h}">{h}</a></li>' for h in hrefs)
    return html_page("Mock Security News (basic)", f"<h1>Basic home</h1>\n<ul>\n{links}\n</ul>")


def _feed_xml(host: str) -> bytes:
    items = [(f"/articles/{n}", a) for n, a in ARTICLES.items()] + [("/feed-only", FEED_ONLY)]
    entries = "\n".join(
        f"<item><title>{a.title}</title><link>http://{host}{path}</link>"
        f"<guid>http://{host}{path}</guid><pubDate>{_rfc822(a.date)}</pubDate>"
        f"<description>{a.paragraphs[0]}</description></item>"
        for path, a in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>\n'
        f"<title>Mock Security News</title><link>http://{host}/</link>\n"
        f"<description>Security news for crawler tests</description>\n{entries}\n"
        "</channel></rss>\n"
    ).encode("utf-8")


def _rfc822(iso_date: str) -> str:
    # Spelled out rather than strftime("%a %b"), which follows the process locale.
    day = datetime.date.fromisoformat(iso_date)
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day.weekday()]
    month = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()[day.month - 1]
    return f"{weekday}, {day.day:02d} {month} {day.year} 09:00:00 +0000"


def _sitemap_xml(host: str) -> bytes:
    urls = "\n".join(
        f"<url><loc>http://{host}{path}</loc><lastmod>2026-11-14</lastmod></url>"
        for path in ("/sitemap-only", "/articles/2")
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}\n</urlset>\n'
    ).encode("utf-8")


_CALENDAR = re.compile(r"/calendar/((?:\d{4}/\d{1,2}/)+)")


def _calendar(path: str) -> Response | None:
    match = _CALENDAR.fullmatch(path)
    if not match:
        return None
    pairs = re.findall(r"(\d{4})/(\d{1,2})/", match.group(1))
    year, month = int(pairs[-1][0]), int(pairs[-1][1])
    if not 1 <= month <= 12:
        return None
    nxt = (year + 1, 1) if month == 12 else (year, month + 1)
    prv = (year - 1, 12) if month == 1 else (year, month - 1)
    body = (
        f"<h1>Events in {year}-{month:02d}</h1>\n<p>No events this month.</p>\n"
        f'<a href="/calendar/{nxt[0]}/{nxt[1]:02d}/">Next month</a>\n'
        f'<a href="/calendar/{prv[0]}/{prv[1]:02d}/">Previous month</a>\n'
        f'<a href="{year}/{month:02d}/">This month</a>\n<a href="/">Home</a>'
    )
    return Response(200, html_page(f"Calendar {year}-{month:02d}", body))


def _redirect(status: int, location: str) -> Response:
    body = html_page("Moved", f'<p>Moved to <a href="{location}">{location}</a>.</p>')
    return Response(status, body, headers=(("Location", location),))


def _error(status: int, reason: str) -> Response:
    return Response(status, html_page(reason, f"<h1>{status} {reason}</h1>"), reason=reason)


NOT_FOUND = _error(404, "Not Found")


class NewsSite:
    """The hostile-inputs site: one handler per behaviour a whole-crawl test checks."""

    HOST_DEPENDENT = frozenset({"/feed.xml", "/sitemap.xml"})

    def __init__(self) -> None:
        article_next = {f"/articles/{n}": f"/articles/{n + 1}" for n in range(1, 5)}
        static: dict[str, Response] = {
            "/robots.txt": Response(200, ROBOTS_TXT, "text/plain"),
            "/": Response(200, _home_html()),
            "/basic": Response(200, _basic_html()),
            "/feed-only": Response(200, _article_html(FEED_ONLY, None)),
            "/sitemap-only": Response(200, _article_html(SITEMAP_ONLY, None)),
            "/gzip": Response(200, GZIP_BODY, headers=(("Content-Encoding", "gzip"),)),
            "/chunked": Response(200, chunks=CHUNKED_CHUNKS),
            "/gbk": Response(200, GBK_HTML, "text/html"),
            "/gbk-linked": Response(200, GBK_LINKED_HTML, "text/html"),
            "/redirect/301": _redirect(301, "/articles/3"),
            "/redirect/302": _redirect(302, "/articles/4"),
            "/redirect/offsite": _redirect(302, "http://offsite.invalid/"),
            "/loop/a": _redirect(302, "/loop/b"),
            "/loop/b": _redirect(302, "/loop/a"),
            "/status/404": NOT_FOUND,
            "/status/500": _error(500, "Internal Server Error"),
            "/status/teapot": _error(418, "I'm a Teapot Custom"),
            "/slow": Response(
                200,
                html_page("Slow page", "<h1>Slow page</h1>\n<p>Worth the wait.</p>"),
                delay=SLOW_SECONDS,
            ),
            "/download/report": Response(200, PDF_BYTES, "application/pdf"),
            "/malformed": Response(200, MALFORMED_HTML),
            "/zh/文章/漏洞": Response(200, ZH_ARTICLE_HTML),
        }
        for path, article in ARTICLE_PATHS.items():
            if path.startswith("/articles/"):
                static[path] = Response(200, _article_html(article, article_next.get(path)))
        static["/articles/1"] = Response(
            200,
            static["/articles/1"].body,
            headers=(("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/")),
        )
        static["/malformed-linked"] = _small_page(
            "Malformed linked", "Reached from the malformed page.", '<a href="/">Home</a>'
        )
        static["/private/secret"] = _small_page(
            "Private", "Disallowed by robots.txt; a polite crawler never sees this."
        )
        self._static = static

    def respond(self, path: str, host: str) -> Response:
        if path in self._static:
            return self._static[path]
        if path == "/feed.xml":
            return Response(200, _feed_xml(host), "application/rss+xml; charset=utf-8")
        if path == "/sitemap.xml":
            return Response(200, _sitemap_xml(host), "application/xml; charset=utf-8")
        if path == "/huge":
            return Response(200, huge_body())
        if path == "/bomb":
            return Response(200, bomb_body(), "text/html", (("Content-Encoding", "gzip"),))
        return _calendar(path) or NOT_FOUND


# --- Serving --------------------------------------------------------------------------------


_news_site: NewsSite | None = None


def served_bytes(path: str, host: str | None = None, *, framed: bool = False) -> bytes:
    """The body bytes the server sends for ``path``, as on the wire before any decoding.

    For ``/gzip`` and ``/bomb`` that is the gzip data; for ``/chunked`` the de-chunked payload, or
    with ``framed=True`` the chunked framing exactly as written. ``/feed.xml`` and
    ``/sitemap.xml`` embed the Host header: pass ``host="127.0.0.1:PORT"`` (``server.host``).
    """
    global _news_site
    if _news_site is None:
        _news_site = NewsSite()
    decoded = resource_path(path)
    if decoded in NewsSite.HOST_DEPENDENT and host is None:
        raise ValueError(f"{decoded} embeds the Host header: pass host='127.0.0.1:PORT'")
    response = _news_site.respond(decoded, host or "")
    if framed:
        if response.chunks is None:
            raise ValueError(f"{decoded} is not sent chunked")
        return response.chunked_framing()
    return response.payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--validators", action="store_true", help="ETag/Last-Modified on 200s; 304 to a match")
    args = parser.parse_args(argv)
    serve(args.port, NewsSite(), name="newsarchive-mockserver/1.0", validators=args.validators)
    return 0


class MockServer(ServerProcess):
    """Runs this module as a subprocess for the duration of a ``with`` block.

    ``MockServer()`` serves the hostile-inputs site; ``MockServer("bench", pages=500, seed=1)``
    the benchmark site (bench/site.py). ``url(path)`` and ``host`` give addresses on 127.0.0.1.
    """

    def __init__(self, root_name: str = "site", *, pages: int | None = None, seed: int | None = None,
                 lazy: bool = False, validators: bool = False, port: int = 0, latency: float = 0.0,
                 startup_timeout: float = 60.0) -> None:
        here = Path(__file__).resolve()
        if root_name == "site":
            script = here
        elif root_name == "bench":
            script = here.parent.parent / "bench" / "site.py"
        else:
            raise ValueError(f"Unknown root name: {root_name!r} (expected 'site' or 'bench')")
        argv = [sys.executable, "-u", str(script), "--port", str(port)]
        if pages is not None:
            argv += ["--pages", str(pages)]
        if seed is not None:
            argv += ["--seed", str(seed)]
        if lazy:
            argv.append("--lazy")
        if validators:
            argv.append("--validators")
        if latency:  # seconds before every answer (the bench site only)
            if root_name != "bench":
                raise ValueError("latency is a knob of the bench site")
            argv += ["--latency", str(latency)]
        super().__init__(argv, startup_timeout=startup_timeout)

    def __enter__(self) -> MockServer:
        self.start()
        return self


if __name__ == "__main__":
    sys.exit(main())
