"""Checks that the whole-crawl test server (tests/mockserver.py) keeps its path contract."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import socket
import struct
import time
import urllib.request
import zlib
from collections.abc import Iterator
from xml.etree import ElementTree

import pytest

from bench.site import BenchSite
from crawler.demo.site import POSTS_BY_SLUG, serve_in_thread
from tests.mockserver import (
    ARTICLE_TITLES,
    BOMB_INFLATED_SIZE,
    HUGE_SIZE,
    ROBOTS_TXT,
    MockServer,
    served_bytes,
)

Fetched = tuple[int, str, http.client.HTTPMessage, bytes]


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer() as running:
        yield running


def fetch(server: MockServer, target: str, method: str = "GET") -> Fetched:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, target, headers={"Accept-Encoding": "gzip"})
        resp = conn.getresponse()
        return resp.status, resp.reason, resp.headers, resp.read()
    finally:
        conn.close()


def read_raw_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read one chunked response from ``sock``: (header block, body bytes exactly as framed)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    header, rest = data.split(b"\r\n\r\n", 1)
    while not rest.endswith(b"0\r\n\r\n"):
        rest += sock.recv(65536)
    return header, rest


def dechunk(framed: bytes) -> list[bytes]:
    chunks, pos = [], 0
    while True:
        line_end = framed.index(b"\r\n", pos)
        size = int(framed[pos:line_end], 16)
        start = line_end + 2
        assert framed[start + size : start + size + 2] == b"\r\n"
        if size == 0:
            assert start + 2 == len(framed)
            return chunks
        chunks.append(framed[start : start + size])
        pos = start + size + 2


def test_ready_line_gives_loopback_url(server: MockServer) -> None:
    assert re.fullmatch(r"127\.0\.0\.1:\d+", server.host)
    assert server.url("/articles/1") == f"http://{server.host}/articles/1"
    with urllib.request.urlopen(server.url("/robots.txt"), timeout=10) as resp:
        assert resp.read() == ROBOTS_TXT == b"User-agent: *\nDisallow: /private/\n"
        assert resp.headers["Content-Type"].startswith("text/plain")


def test_home_links_every_case(server: MockServer) -> None:
    status, _, headers, body = fetch(server, "/")
    html = body.decode("utf-8")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    for href in [f"/articles/{n}" for n in range(1, 6)] + [
        "/articles/1#comments",
        "/articles/1?utm_source=x&amp;utm_medium=y",
        "/articles/1?sessionid=ABC123",
        "/articles/1;jsessionid=XYZ",
        "http://offsite.invalid/x",
        "/private/secret",
        "/calendar/2026/11/",
        "/zh/文章/漏洞",
        "/download/report",
        "/bomb",
    ]:
        assert f'href="{href}"' in html, href
    assert '<link rel="alternate" type="application/rss+xml" href="/feed.xml">' in html
    assert "/feed-only" not in html and "/sitemap-only" not in html


def test_article_sets_two_cookies_and_declares_charset(server: MockServer) -> None:
    status, _, headers, body = fetch(server, "/articles/1")
    assert status == 200
    assert headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert f"<title>{ARTICLE_TITLES['/articles/1']}</title>" in body.decode("utf-8")
    assert 'href="/articles/2"' in body.decode("utf-8")
    for n in range(1, 6):
        assert 2000 <= len(served_bytes(f"/articles/{n}")) <= 4096


def test_gzip_page_sends_served_bytes(server: MockServer) -> None:
    status, _, headers, body = fetch(server, "/gzip")
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert int(headers["Content-Length"]) == len(body)
    assert body == served_bytes("/gzip")
    assert ARTICLE_TITLES["/gzip"] in gzip.decompress(body).decode("utf-8")


def test_chunked_framing_and_keep_alive(server: MockServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /chunked HTTP/1.1\r\nHost: %s\r\n\r\n" % server.host.encode())
        header, framed = read_raw_response(sock)
        assert b"Transfer-Encoding: chunked" in header
        assert b"Content-Length" not in header
        chunks = dechunk(framed)
        assert len(chunks) >= 3
        assert framed == served_bytes("/chunked", framed=True)
        assert b"".join(chunks) == served_bytes("/chunked")
        # The same connection serves the next request: the framing was exact.
        sock.sendall(b"HEAD /chunked HTTP/1.1\r\nHost: %s\r\n\r\n" % server.host.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\n")


def test_pdf_report(server: MockServer) -> None:
    status, _, headers, body = fetch(server, "/download/report")
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    assert body == served_bytes("/download/report")
    assert body.startswith(b"%PDF-1.4\n") and body.rstrip().endswith(b"%%EOF")
    assert 4000 <= len(body) <= 6000
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    xref_at = int(body.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert body[xref_at:].startswith(b"xref\n")


def test_gbk_page_without_charset(server: MockServer) -> None:
    status, _, headers, body = fetch(server, "/gbk")
    assert status == 200 and headers["Content-Type"] == "text/html"
    assert len(body) < 400 and b"charset" not in body.lower()
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text = body.decode("gbk")
    assert "网络安全新闻" in text and "勒索软件" in text
    assert '<a href="/gbk-linked">阅读更多勒索软件报道</a>' in text
    assert "勒索软件" in fetch(server, "/gbk-linked")[3].decode("gbk")


def test_bomb_is_about_one_megabyte_of_gzip(server: MockServer) -> None:
    status, _, headers, body = fetch(server, "/bomb")
    assert status == 200
    assert headers["Content-Encoding"] == "gzip" and headers["Content-Type"] == "text/html"
    assert 900_000 <= len(body) <= 1_200_000
    assert int(headers["Content-Length"]) == len(body)
    assert struct.unpack("<I", body[-4:])[0] == BOMB_INFLATED_SIZE % 2**32 == 2**30
    head = zlib.decompressobj(31).decompress(body, 1 << 20)
    assert head.startswith(b"<!DOCTYPE html>") and head.endswith(b" " * 1000)
    assert body == served_bytes("/bomb")


def test_huge_page_length(server: MockServer) -> None:
    status, _, headers, _ = fetch(server, "/huge", method="HEAD")
    assert status == 200 and int(headers["Content-Length"]) == HUGE_SIZE == 15 * 2**20
    body = fetch(server, "/huge")[3]
    assert len(body) == HUGE_SIZE and body.endswith(b"</body></html>\n")


@pytest.mark.parametrize(
    ("path", "status", "reason", "location"),
    [
        ("/redirect/301", 301, "Moved Permanently", "/articles/3"),
        ("/redirect/302", 302, "Found", "/articles/4"),
        ("/redirect/offsite", 302, "Found", "http://offsite.invalid/"),
        ("/loop/a", 302, "Found", "/loop/b"),
        ("/loop/b", 302, "Found", "/loop/a"),
        ("/status/404", 404, "Not Found", None),
        ("/status/500", 500, "Internal Server Error", None),
        ("/status/teapot", 418, "I'm a Teapot Custom", None),
        ("/no/such/page", 404, "Not Found", None),
        ("/articles/6", 404, "Not Found", None),
    ],
)
def test_statuses_and_redirects(
    server: MockServer, path: str, status: int, reason: str, location: str | None
) -> None:
    got_status, got_reason, headers, body = fetch(server, path)
    assert (got_status, got_reason, headers["Location"]) == (status, reason, location)
    assert body and int(headers["Content-Length"]) == len(body)


def test_teapot_reason_on_the_wire(server: MockServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /status/teapot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 418 I'm a Teapot Custom\r\n")


def test_chinese_path_is_percent_decoded(server: MockServer) -> None:
    status, _, headers, body = fetch(server, "/zh/%E6%96%87%E7%AB%A0/%E6%BC%8F%E6%B4%9E")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "远程代码执行漏洞" in body.decode("utf-8")
    assert body == served_bytes("/zh/文章/漏洞")


def test_calendar_is_an_infinite_trap(server: MockServer) -> None:
    html = fetch(server, "/calendar/2026/11/")[3].decode()
    assert 'href="/calendar/2026/12/"' in html and 'href="/calendar/2026/10/"' in html
    assert 'href="2026/11/"' in html  # resolves to /calendar/2026/11/2026/11/
    deep = fetch(server, "/calendar/2026/11/2026/11/2026/11/")
    assert deep[0] == 200 and 'href="2026/11/"' in deep[3].decode()
    assert 'href="/calendar/2027/01/"' in fetch(server, "/calendar/2026/12/")[3].decode()
    assert fetch(server, "/calendar/2026/13/")[0] == 404


def test_malformed_page_keeps_its_links(server: MockServer) -> None:
    status, _, headers, body = fetch(server, "/malformed")
    assert status == 200 and "charset=utf-8" in headers["Content-Type"]
    assert b"\x00" in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert b'href="/articles/5"' in body and b'href="/malformed-linked"' in body
    assert fetch(server, "/malformed-linked")[0] == 200


def test_feed_and_sitemap_use_the_host_header(server: MockServer) -> None:
    feed = fetch(server, "/feed.xml")[3]
    assert feed == served_bytes("/feed.xml", host=server.host)
    links = [e.text for e in ElementTree.fromstring(feed).iter("link")]
    assert f"http://{server.host}/feed-only" in links
    assert f"http://{server.host}/articles/5" in links
    sitemap = fetch(server, "/sitemap.xml")[3]
    assert sitemap == served_bytes("/sitemap.xml", host=server.host)
    ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    locs = [e.text for e in ElementTree.fromstring(sitemap).iter(f"{ns}loc")]
    assert locs == [f"http://{server.host}/sitemap-only", f"http://{server.host}/articles/2"]
    with pytest.raises(ValueError, match="Host"):
        served_bytes("/feed.xml")


def test_head_sends_headers_only_and_keeps_the_connection(server: MockServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("HEAD", "/articles/3")
        head = conn.getresponse()
        assert head.read() == b""
        conn.request("GET", "/articles/3")
        get = conn.getresponse()
        body = get.read()
        assert int(head.headers["Content-Length"]) == len(body) == len(served_bytes("/articles/3"))
        conn.request("GET", "/status/404")
        assert conn.getresponse().read()
    finally:
        conn.close()


def test_hits_count_per_path_and_reset(server: MockServer) -> None:
    fetch(server, "/__reset")
    for target in ["/articles/2", "/articles/2", "/articles/1?sessionid=ABC123"]:
        fetch(server, target)
    fetch(server, "/articles/1;jsessionid=XYZ", method="HEAD")
    hits = json.loads(fetch(server, "/__hits")[3])
    assert hits == {"/articles/1": 2, "/articles/2": 2}
    raw = json.loads(fetch(server, "/__hits?raw=1")[3])
    assert raw["/articles/1?sessionid=ABC123"] == 1 and raw["/articles/1;jsessionid=XYZ"] == 1
    fetch(server, "/__reset")
    assert json.loads(fetch(server, "/__hits")[3]) == {}


def test_slow_page_waits(server: MockServer) -> None:
    started = time.monotonic()
    assert fetch(server, "/slow")[0] == 200
    assert time.monotonic() - started >= 3.0


def test_bench_site_is_reachable_sized_and_partly_gzipped() -> None:
    pages = 40
    with MockServer("bench", pages=pages, seed=7) as bench:
        assert fetch(bench, "/robots.txt")[3] == b"User-agent: *\nDisallow:\n"
        seen, queue, found = {"/"}, ["/"], set()
        while queue:
            path = queue.pop()
            status, _, headers, body = fetch(bench, path)
            assert status == 200
            if headers["Content-Encoding"] == "gzip":
                body = gzip.decompress(body)
            if path.startswith("/p/"):
                index = int(path[3:])
                found.add(index)
                assert (headers["Content-Encoding"] == "gzip") == (index % 4 == 3)
                assert 40_000 <= len(body) <= 80_000
            for href in re.findall(r'href="(/[^"]*)"', body.decode()):
                if href not in seen:
                    seen.add(href)
                    queue.append(href)
        assert found == set(range(pages))
        assert BenchSite(pages, 7, lazy=True).respond("/p/3", "").payload == fetch(bench, "/p/3")[3]


def test_demo_site_serves_feed_translation_and_gzip() -> None:
    server, base_url = serve_in_thread()
    try:
        host = base_url.removeprefix("http://")
        with urllib.request.urlopen(base_url + "/", timeout=10) as resp:
            home = resp.read().decode()
        assert set(re.findall(r'href="/posts/([^"]+)"', home)) == set(POSTS_BY_SLUG)
        assert 'href="/feed.xml"' in home
        with urllib.request.urlopen(base_url + "/posts/hospital-ransomware-zh") as resp:
            zh = resp.read().decode()
        assert f"本文翻译自：http://{host}/posts/hospital-ransomware</p>" in zh
        with urllib.request.urlopen(base_url + "/posts/npm-token-theft") as resp:
            assert resp.headers["Content-Encoding"] == "gzip"
            assert b"npm" in gzip.decompress(resp.read())
        with urllib.request.urlopen(base_url + "/feed.xml") as resp:
            items = ElementTree.fromstring(resp.read()).iter("item")
            assert all(i.findtext("link").startswith(base_url + "/posts/") for i in items)
    finally:
        server.shutdown()
        server.server_close()
