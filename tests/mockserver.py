"""A subprocess HTTP/1.1 test server with one handler per crawl behaviour (stdlib only).

Run it as ``python tests/mockserver.py --port 0 --root-name site``: it prints one line
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

Site ``bench`` (``--root-name bench --pages N --seed S``): ``/`` links to ``/list/0`` ..
``/list/<ceil(N/50)-1>`` and ``/p/0`` .. ``/p/9``; ``/list/k`` links to its 50 pages; ``/p/i``
is 40-80 KB of word-list prose linking to ``/p/i+1`` .. ``/p/i+10`` (mod N), its listing and
``/``. Every fourth page (``i % 4 == 3``) is sent gzip-encoded. ``/robots.txt`` allows all. All
bodies are generated before READY (``--lazy`` generates on first request instead).

Every response is framed by Content-Length or chunked encoding, HEAD sends the same headers and
no body, connections are kept alive, bodies hold no timestamps (only the Date header changes).
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import hashlib
import json
import math
import random
import re
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Protocol
from urllib.parse import unquote_to_bytes, urlsplit

HTML = "text/html; charset=utf-8"
SLOW_SECONDS = 3.0
HUGE_SIZE = 15 * 1024 * 1024
BOMB_INFLATED_SIZE = 1024 * 1024 * 1024
OFFSITE_URL = "http://offsite.invalid/x"
ROBOTS_TXT = b"User-agent: *\nDisallow: /private/\n"
# Whole-body writes above this size go out in slices so the server never copies 15 MB at once.
WRITE_SLICE = 64 * 1024


@dataclass(frozen=True)
class Response:
    """What a handler answers; the request handler turns it into bytes on the wire."""

    status: int
    body: bytes = b""
    content_type: str | None = HTML
    headers: tuple[tuple[str, str], ...] = ()
    reason: str | None = None
    # When set, the body is sent with Transfer-Encoding: chunked, one chunk per item.
    chunks: tuple[bytes, ...] | None = None
    delay: float = 0.0

    @property
    def payload(self) -> bytes:
        """The entity body: content-encoded if so declared, never transfer-encoded."""
        return b"".join(self.chunks) if self.chunks is not None else self.body

    def chunked_framing(self) -> bytes:
        """The chunked transfer coding of the payload, exactly as written to the socket."""
        assert self.chunks is not None
        framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in self.chunks if c)
        return framed + b"0\r\n\r\n"


class Site(Protocol):
    """A set of handlers keyed by decoded path."""

    def respond(self, path: str, host: str) -> Response: ...


def _html_page(title: str, body_html: str, lang: str = "en") -> bytes:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n</head>\n<body>\n{body_html}\n</body>\n</html>\n"
    ).encode("utf-8")


def _small_page(title: str, text: str, links: str = "") -> Response:
    return Response(200, _html_page(title, f"<h1>{title}</h1>\n<p>{text}</p>\n{links}"))


# --- Articles --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Article:
    title: str
    author: str
    date: str
    paragraphs: tuple[str, ...]


ARTICLES: dict[int, Article] = {
    1: Article(
        "Critical flaw in Northwind VPN gateways exploited in the wild",
        "Dana Whitfield",
        "2026-11-02",
        (
            "Attackers are exploiting a critical authentication bypass in Northwind Secure "
            "Access gateways, the company confirmed on Monday, urging customers to install an "
            "emergency update before the end of the week. The flaw, tracked as NW-2026-0117 and "
            "rated 9.8 out of 10, lets an unauthenticated user reach the management interface "
            "by sending a specially crafted request to the portal's login endpoint.",
            "Incident responders at Brightline Security said they first saw the bug abused "
            "against a logistics firm in late October. The intruders created a local "
            "administrator account, exported the gateway configuration and used the stored "
            "LDAP credentials to move into the corporate network within hours of the first "
            "request.",
            "Northwind said fewer than two percent of its customers had been affected, but "
            "internet scans published by the Shadowwatch project show more than 14,000 "
            "gateways with the management portal exposed to the internet. Around a third of "
            "them still ran a vulnerable firmware branch on Sunday evening.",
            "The vendor has released fixed builds for the 7.2 and 7.4 branches and a "
            "mitigation file for older appliances that cannot be upgraded immediately. Because "
            "the patch does not remove accounts that attackers may already have added, "
            "administrators are advised to review local users, rotate any credentials stored "
            "on the device and look for unexpected configuration exports in the audit log.",
            "The national cyber agency added the vulnerability to its catalogue of known "
            "exploited flaws, giving federal departments seven days to patch. It is the third "
            "serious bug in edge VPN appliances disclosed this year, a category that criminal "
            "and state-backed groups have targeted heavily because the devices sit on the "
            "network perimeter and are rarely covered by endpoint monitoring.",
        ),
    ),
    2: Article(
        "Ransomware gang leaks patient records from Lakeside Health network",
        "Marcus Oyelaran",
        "2026-11-03",
        (
            "A ransomware group calling itself Cold Harbor has published what it claims are "
            "400 gigabytes of files stolen from Lakeside Health, a network of four hospitals "
            "and eleven clinics, after the provider refused to pay a ransom. The leak includes "
            "scanned insurance forms, laboratory results and internal spreadsheets listing "
            "staff salaries.",
            "Lakeside first disclosed a network disruption on October 19, when emergency "
            "departments diverted ambulances for two days and staff returned to paper charts. "
            "In a statement on Tuesday the provider said it was working with law enforcement "
            "and outside forensic specialists to determine exactly which patients were "
            "affected and would notify them by mail.",
            "According to the group's leak site, the attackers spent nearly three weeks inside "
            "the network before deploying the encryptor. Security researchers who reviewed "
            "sample files said directory listings suggest the intruders reached a backup server "
            "and a document management system used by the billing department.",
            "Cold Harbor emerged in the spring and has since listed more than sixty victims, "
            "most of them in healthcare, education and local government. Analysts believe the "
            "operation reuses code from a ransomware family whose builder leaked last year, "
            "and that its affiliates frequently gain access through stolen VPN credentials "
            "bought from initial access brokers.",
            "Health regulators reminded providers that ransomware incidents involving "
            "protected health information are presumed to be reportable breaches. Lakeside "
            "said it has reset all staff passwords, enforced multi-factor authentication on "
            "remote access and rebuilt affected servers from clean images.",
        ),
    ),
    3: Article(
        "Poisoned npm package steals cloud credentials from developers",
        "Priya Raman",
        "2026-11-04",
        (
            "A popular JavaScript library for parsing colour values was hijacked over the "
            "weekend and used to distribute a credential stealer to developers and build "
            "servers, according to researchers at Pipeline Labs. Two malicious versions of the "
            "package, which is downloaded about 900,000 times a week, were live on the npm "
            "registry for roughly nine hours before they were removed.",
            "The rogue releases added a postinstall script that downloaded a second-stage "
            "payload from a domain registered two days earlier. The payload searched the "
            "machine for cloud provider configuration files, SSH keys and tokens stored in "
            "environment variables, then sent them to the attackers over HTTPS disguised as "
            "telemetry traffic.",
            "The maintainer told reporters that his account was taken over after he entered "
            "his password and a one-time code into a convincing phishing page that imitated "
            "the registry's login flow. The page proxied the session in real time, a technique "
            "that defeats codes sent by app or text message.",
            "Continuous integration systems were the most exposed, the researchers said, "
            "because they install dependencies without pinning exact versions and often hold "
            "deployment secrets with broad permissions. Teams that installed the package "
            "during the window should treat every secret available to the build as "
            "compromised and rotate it.",
            "The registry has since required phishing-resistant security keys for the "
            "maintainers of its most depended-upon packages. Security engineers also "
            "recommend committing lockfiles, disabling install scripts where possible and "
            "reviewing new dependency versions before they reach production pipelines.",
        ),
    ),
    4: Article(
        "Patch Tuesday fixes 68 vulnerabilities, two zero-days under attack",
        "Elena Castillo",
        "2026-11-10",
        (
            "This month's Patch Tuesday brings fixes for 68 vulnerabilities across the "
            "operating system, the office suite and developer tools, including two flaws that "
            "were already being exploited before updates were available. Eleven of the bugs "
            "are rated critical, most of them allowing remote code execution.",
            "The first zero-day is an elevation of privilege bug in the kernel's common log "
            "file system driver, a component that has produced a steady stream of exploited "
            "flaws over the past few years. An attacker who already runs code on a machine can "
            "use it to gain system privileges, a step that ransomware operators routinely take "
            "before disabling security tools.",
            "The second actively exploited issue is a security feature bypass in the way the "
            "operating system handles internet shortcut files. Opening a malicious shortcut "
            "delivered by email or chat skips the warning normally shown for downloaded files, "
            "which researchers say has been abused to deliver information stealers.",
            "Among the critical fixes, administrators should prioritise a remote code execution "
            "flaw in the message queuing service, which can be triggered by a single network "
            "packet on servers where the optional feature is enabled. A workaround is to block "
            "TCP port 1801 at the firewall until the update is installed.",
            "Other vendors also published advisories this week: a browser maker shipped fixes "
            "for seven high-severity memory safety bugs, and a database vendor patched an "
            "authentication flaw in its cloud connector. As usual, home users will receive the "
            "updates automatically, while enterprises are urged to test and deploy quickly.",
        ),
    ),
    5: Article(
        "Phishing campaign abuses calendar invites to slip past email filters",
        "Tomasz Wierzbicki",
        "2026-11-12",
        (
            "Security teams are warning about a phishing campaign that hides malicious links "
            "inside calendar invitations, a format that many email gateways inspect less "
            "carefully than ordinary messages. The invites appear in the victim's calendar "
            "even if the email itself is never opened, and reminders push the link to the "
            "screen again minutes before the fake meeting.",
            "Researchers at Meridian Mail Defense said the invitations claim to come from "
            "human resources or payroll departments and carry titles such as annual salary "
            "review or updated benefits enrolment. The meeting description links to a "
            "document sharing page that asks the recipient to sign in again to view the file.",
            "The sign-in page is hosted on a legitimate cloud storage service, which helps it "
            "avoid reputation-based blocking. Behind the scenes, an adversary-in-the-middle "
            "kit relays credentials and session cookies to the attackers, letting them bypass "
            "multi-factor prompts and access mailboxes directly.",
            "Once inside, the attackers create inbox rules that hide replies from colleagues "
            "and send new invitations to everyone in the victim's address book, so the "
            "campaign spreads from one trusted account to the next. In several cases they also "
            "attempted to change payroll bank details, a classic business email compromise "
            "move.",
            "Administrators can reduce the risk by preventing external invitations from being "
            "added to calendars automatically, a setting available in most mail platforms. "
            "Defenders should also hunt for newly created inbox rules and for sign-ins from "
            "unfamiliar hosting providers shortly after a user clicked a calendar link.",
        ),
    ),
}

FEED_ONLY = Article(
    "Researchers detail firmware backdoor in industrial cellular routers",
    "Ines Mbeki",
    "2026-11-13",
    (
        "Researchers have found an undocumented maintenance account in the firmware of "
        "cellular routers widely used in water utilities and electrical substations. The "
        "account has a hard-coded password derived from the device serial number, which is "
        "printed on the unit and broadcast in its discovery responses.",
        "The manufacturer has released new firmware that removes the account and advised "
        "operators to restrict management access to a dedicated network until every device "
        "has been updated. No exploitation has been reported so far.",
    ),
)
SITEMAP_ONLY = Article(
    "Police dismantle Harbinger botnet and seize 40 command servers",
    "Sofia Lindqvist",
    "2026-11-14",
    (
        "Law enforcement agencies from nine countries have taken down the Harbinger botnet, "
        "seizing forty command-and-control servers and arresting two suspected operators. The "
        "botnet had infected an estimated 300,000 home routers and cameras and rented them out "
        "for denial-of-service attacks.",
        "Investigators redirected infected devices to a sinkhole and are sharing the list of "
        "affected addresses with internet providers so that they can notify customers.",
    ),
)
GZIP_ARTICLE = Article(
    "Browser update fixes exploited type confusion bug in JavaScript engine",
    "Dana Whitfield",
    "2026-11-15",
    (
        "A browser maker has released an emergency update to fix a type confusion "
        "vulnerability in its JavaScript engine that an exploit broker says is being used in "
        "targeted attacks. Visiting a malicious page was enough to run code inside the "
        "renderer sandbox.",
        "Users should restart their browser to apply the update. Enterprises that delay "
        "browser updates through policy are advised to make an exception for this release.",
    ),
)
CHUNKED_ARTICLE = Article(
    "Weekly threat roundup: wipers, stolen tokens and a busy week for patches",
    "Marcus Oyelaran",
    "2026-11-16",
    (
        "A destructive wiper disguised as ransomware hit several logistics companies this "
        "week, overwriting the first megabytes of every disk before demanding a payment that "
        "could never restore the data.",
        "Elsewhere, a software-as-a-service provider revoked thousands of OAuth tokens after "
        "discovering that an integration partner had been breached, and three vendors issued "
        "fixes for actively exploited bugs in file transfer appliances.",
        "Next week we will look at how attackers abuse remote monitoring tools that are "
        "already installed on corporate networks.",
    ),
)

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
    return _html_page(article.title, body)


ZH_TITLE = "开源日志库曝出远程代码执行漏洞"
ZH_ARTICLE_HTML = _html_page(
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
    page = _html_page("Mock Security News", body).decode("utf-8")
    feed_link = '<link rel="alternate" type="application/rss+xml" href="/feed.xml">\n'
    return page.replace("</head>", feed_link + "</head>", 1).encode("utf-8")


def _basic_html() -> bytes:
    hrefs = [f"/articles/{n}" for n in ARTICLES] + ["/gzip", "/chunked", "/gbk", "/zh/文章/漏洞"]
    links = "\n".join(f'<li><a href="{h}">{h}</a></li>' for h in hrefs)
    return _html_page("Mock Security News (basic)", f"<h1>Basic home</h1>\n<ul>\n{links}\n</ul>")


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
    return Response(200, _html_page(f"Calendar {year}-{month:02d}", body))


def _redirect(status: int, location: str) -> Response:
    body = _html_page("Moved", f'<p>Moved to <a href="{location}">{location}</a>.</p>')
    return Response(status, body, headers=(("Location", location),))


def _error(status: int, reason: str) -> Response:
    return Response(status, _html_page(reason, f"<h1>{status} {reason}</h1>"), reason=reason)


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
                _html_page("Slow page", "<h1>Slow page</h1>\n<p>Worth the wait.</p>"),
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


# --- Benchmark site ----------------------------------------------------------------------------

BENCH_WORDS = (
    "attack attacker attackers breach botnet campaign credential credentials cyber data "
    "database defenders denial detection device devices domain email encryption endpoint "
    "exploit exploited exploitation firewall firmware gateway hackers incident infrastructure "
    "intrusion kernel key keys leak malware network networks operators password passwords "
    "patch patched payload phishing privilege ransom ransomware remote researchers risk "
    "router sandbox scanner secret security server servers session software spyware stolen "
    "supply chain threat token tokens update updates user users vendor vendors vulnerability "
    "vulnerabilities wiper zero-day agency analysts authentication backdoor backup cloud "
    "code command compromise configuration customers disclosed dozens engineers enterprise "
    "exposed fix flaw group hospital internet investigators law enforcement library "
    "maintainers monitoring operation organisations police portal production public "
    "registry report said says since systems team teams thousands week weeks year the a an "
    "of to in and for on with by from after before that which while their its was were has "
    "have had been is are be it this these those new more most many several critical "
    "severe actively widely quickly urgently publicly internally according warned confirmed "
    "published released observed reported discovered detected blocked removed rotated"
).split()
BENCH_PER_LIST = 50
BENCH_LINKS_PER_PAGE = 10


class BenchSite:
    """A generated site of N interlinked 40-80 KB pages; every fourth one gzip-encoded."""

    def __init__(self, pages: int, seed: int, lazy: bool = False) -> None:
        if pages < 1:
            raise ValueError(f"pages must be at least 1, got {pages}")
        self.pages, self.seed = pages, seed
        self.lists = math.ceil(pages / BENCH_PER_LIST)
        rng = random.Random(seed)
        self._sentences = [self._sentence(rng) for _ in range(4000)]
        self._cache: dict[str, Response] = {}
        self._lock = threading.Lock()
        if not lazy:
            for path in self.all_paths():
                self.respond(path, "")

    def all_paths(self) -> list[str]:
        return (
            ["/", "/robots.txt"]
            + [f"/list/{k}" for k in range(self.lists)]
            + [f"/p/{i}" for i in range(self.pages)]
        )

    @staticmethod
    def _sentence(rng: random.Random) -> str:
        words = rng.choices(BENCH_WORDS, k=rng.randint(8, 24))
        return " ".join(words).capitalize() + "."

    def respond(self, path: str, host: str) -> Response:
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        response = self._build(path)
        if response is None:
            return NOT_FOUND
        with self._lock:
            self._cache[path] = response
        return response

    def _build(self, path: str) -> Response | None:
        if path == "/robots.txt":
            return Response(200, b"User-agent: *\nDisallow:\n", "text/plain")
        if path == "/":
            lists = "\n".join(f'<a href="/list/{k}">Archive {k}</a>' for k in range(self.lists))
            first = "\n".join(
                f'<a href="/p/{i}">Story {i}</a>' for i in range(min(10, self.pages))
            )
            return Response(200, _html_page("Bench home", f"<h1>Bench</h1>\n{first}\n{lists}"))
        match = re.fullmatch(r"/(list|p)/(0|[1-9]\d*)", path)
        if not match:
            return None
        index = int(match.group(2))
        if match.group(1) == "list":
            if index >= self.lists:
                return None
            start = index * BENCH_PER_LIST
            end = min(self.pages, start + BENCH_PER_LIST)
            links = "\n".join(f'<li><a href="/p/{i}">Story {i}</a></li>' for i in range(start, end))
            nav = "".join(
                f'<a href="/list/{k}">Archive {k}</a>\n'
                for k in (index - 1, index + 1)
                if 0 <= k < self.lists
            )
            body = f"<h1>Archive {index}</h1>\n<ul>\n{links}\n</ul>\n{nav}<a href=\"/\">Home</a>"
            return Response(200, _html_page(f"Archive {index}", body))
        if index >= self.pages:
            return None
        html = self._page_html(index)
        if index % 4 == 3:
            return Response(
                200,
                gzip.compress(html, compresslevel=6, mtime=0),
                headers=(("Content-Encoding", "gzip"),),
            )
        return Response(200, html)

    def _page_html(self, i: int) -> bytes:
        rng = random.Random(self.seed * 1_000_003 + i)
        target = rng.randint(40_000, 79_000)  # leaves room for the wrapper, stays under 80 KB
        title = " ".join(rng.choices(BENCH_WORDS, k=6)).capitalize()
        links = "\n".join(
            f'<a href="/p/{(i + k) % self.pages}">Related story {(i + k) % self.pages}</a>'
            for k in range(1, BENCH_LINKS_PER_PAGE + 1)
            if (i + k) % self.pages != i
        )
        head = (
            f"<header><a href=\"/\">Bench</a> <a href=\"/list/{i // BENCH_PER_LIST}\">Archive"
            f"</a></header>\n<article>\n<h1>{title}</h1>\n"
        )
        tail = f"</article>\n<nav>\n{links}\n</nav>"
        parts, size = [], len(head) + len(tail) + 200
        sentences = self._sentences
        while size < target:
            paragraph = "<p>" + " ".join(rng.choices(sentences, k=rng.randint(4, 9))) + "</p>"
            parts.append(paragraph)
            size += len(paragraph) + 1
        return _html_page(title, head + "\n".join(parts) + "\n" + tail)


# --- Serving --------------------------------------------------------------------------------


def resource_path(target: str) -> str:
    """The routed path of a request target: no scheme/host, query or ';params', percent-decoded.

    The request line arrives decoded as latin-1 by http.server, so both percent-encoded and raw
    UTF-8 targets end up as the same Unicode path.
    """
    if target.startswith(("http://", "https://")):
        target = urlsplit(target).path or "/"
    path = target.split("?", 1)[0].split("#", 1)[0]
    try:
        encoded = path.encode("latin-1")
    except UnicodeEncodeError:  # an already-decoded path, as tests pass to served_bytes
        encoded = path.encode("utf-8")
    raw = unquote_to_bytes(encoded)
    decoded = raw.decode("utf-8", "replace")
    return "/".join(segment.split(";", 1)[0] for segment in decoded.split("/"))


def make_site(root_name: str, pages: int = 1000, seed: int = 0, lazy: bool = False) -> Site:
    if root_name == "site":
        return NewsSite()
    if root_name == "bench":
        return BenchSite(pages, seed, lazy=lazy)
    raise ValueError(f"Unknown root name: {root_name!r} (expected 'site' or 'bench')")


_news_site: NewsSite | None = None


def served_bytes(
    path: str,
    host: str | None = None,
    *,
    framed: bool = False,
    root_name: str = "site",
    pages: int = 1000,
    seed: int = 0,
) -> bytes:
    """The body bytes the server sends for ``path``, as on the wire before any decoding.

    For ``/gzip`` and ``/bomb`` that is the gzip data; for ``/chunked`` the de-chunked payload, or
    with ``framed=True`` the chunked framing exactly as written. ``/feed.xml`` and
    ``/sitemap.xml`` embed the Host header: pass ``host="127.0.0.1:PORT"`` (``server.host``).
    """
    global _news_site
    if root_name == "site":
        if _news_site is None:
            _news_site = NewsSite()
        site: Site = _news_site
    else:
        site = BenchSite(pages, seed, lazy=True)
    decoded = resource_path(path)
    if root_name == "site" and decoded in NewsSite.HOST_DEPENDENT and host is None:
        raise ValueError(f"{decoded} embeds the Host header: pass host='127.0.0.1:PORT'")
    response = site.respond(decoded, host or "")
    if framed:
        if response.chunks is None:
            raise ValueError(f"{decoded} is not sent chunked")
        return response.chunked_framing()
    return response.payload


class MockHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops SYNs when a crawler opens 16+ connections at once.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], site: Site) -> None:
        super().__init__(address, MockRequestHandler)
        self.site = site
        self.hits: Counter[str] = Counter()
        self.raw_hits: Counter[str] = Counter()
        self.hits_lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up mid-body (size caps, timeouts) is expected, not a server error.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class MockRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "newsarchive-mockserver/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120  # reclaim threads of idle keep-alive connections
    server: MockHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:  # keep the connection in sync if a client sends a body anyway
            self.rfile.read(length)
        path = resource_path(self.path)
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        if path in ("/__hits", "/__reset"):
            response = self._control(path)
        else:
            with self.server.hits_lock:
                self.server.hits[path] += 1
                self.server.raw_hits[self.path] += 1
            response = self.server.site.respond(path, host)
        if response.delay:
            time.sleep(response.delay)
        self._write(response, head)

    def _control(self, path: str) -> Response:
        with self.server.hits_lock:
            if path == "/__reset":
                self.server.hits.clear()
                self.server.raw_hits.clear()
                data: dict[str, object] = {"reset": True}
            elif "raw=1" in self.path:
                data = dict(self.server.raw_hits)
            else:
                data = dict(self.server.hits)
        body = json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return Response(
            200, body, "application/json; charset=utf-8", (("Cache-Control", "no-store"),)
        )

    def _write(self, response: Response, head: bool) -> None:
        reason = response.reason or self.responses.get(response.status, ("",))[0]
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
        ]
        if response.content_type:
            lines.append(f"Content-Type: {response.content_type}")
        lines += [f"{name}: {value}" for name, value in response.headers]
        chunked = response.chunks is not None
        if chunked and self.request_version == "HTTP/1.0":
            chunked = False  # HTTP/1.0 has no chunked coding: end the body by closing instead
            self.close_connection = True
        elif chunked:
            lines.append("Transfer-Encoding: chunked")
        else:
            lines.append(f"Content-Length: {len(response.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        header = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if head:
            body = b""
        elif response.chunks is not None:
            body = response.chunked_framing() if chunked else response.payload
        else:
            body = response.body
        try:
            if len(body) <= WRITE_SLICE:
                self.wfile.write(header + body)  # one write: no Nagle/delayed-ACK stall
            else:
                self.wfile.write(header)
                view = memoryview(body)
                for start in range(0, len(body), WRITE_SLICE):
                    self.wfile.write(view[start : start + WRITE_SLICE])
        except (ConnectionError, TimeoutError):
            self.close_connection = True


def serve(port: int, site: Site) -> None:
    server = MockHTTPServer(("127.0.0.1", port), site)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--root-name", choices=("site", "bench"), default="site")
    parser.add_argument("--pages", type=int, default=1000, help="bench: number of pages")
    parser.add_argument("--seed", type=int, default=0, help="bench: generation seed")
    parser.add_argument("--lazy", action="store_true", help="bench: build pages on first request")
    args = parser.parse_args(argv)
    serve(args.port, make_site(args.root_name, args.pages, args.seed, args.lazy))
    return 0


class MockServer:
    """Runs this module as a subprocess for the duration of a ``with`` block.

    ``MockServer()`` serves the hostile-inputs site; ``MockServer("bench", pages=500, seed=1)``
    the benchmark site. ``url(path)`` and ``host`` give addresses on 127.0.0.1.
    """

    def __init__(
        self,
        root_name: str = "site",
        *,
        pages: int | None = None,
        seed: int | None = None,
        lazy: bool = False,
        port: int = 0,
        startup_timeout: float = 60.0,
    ) -> None:
        self.args = [sys.executable, "-u", str(Path(__file__).resolve()), "--port", str(port)]
        self.args += ["--root-name", root_name]
        if pages is not None:
            self.args += ["--pages", str(pages)]
        if seed is not None:
            self.args += ["--seed", str(seed)]
        if lazy:
            self.args.append("--lazy")
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    def __enter__(self) -> MockServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(remaining, 0))
            chunk = self.proc.stdout.read1(256) if ready else b""  # type: ignore[attr-defined]
            if not chunk:
                self.stop()
                raise RuntimeError(f"mock server did not print READY: {line!r}")
            line += chunk
        text = line.decode().strip()
        if not text.startswith("READY http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"unexpected mock server output: {text!r}")
        self.base_url = text.split(" ", 1)[1]

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the Host header value the server sees."""
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}/{path.lstrip('/')}"


if __name__ == "__main__":
    sys.exit(main())
