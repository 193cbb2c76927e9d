"""A small news site whose responses spell their headers the way real servers do, served on 127.0.0.1.

Each response is written byte for byte (http.server would re-spell nothing either, but here the
status line, header names, their order and the framing are all fixed by the test):

=====================  ===================================================================================
``/``                  Links to the three articles below (``text/html``, ``Content-Length``).
``/news/etag-case``    An article whose header names are ``ETag``, lowercase ``content-type`` and
                       ``cache-control``, mixed-case ``X-MiXeD-CaSe``, in that order, then ``Content-Length``.
``/news/brotli``       An article always sent ``Content-Encoding: br`` (brotli, quality 5).
``/news/chunked``      An article sent ``transfer-encoding: chunked`` (lowercase) in 3 chunks, no length.
``/early-hints``       ``103 Early Hints`` (with a ``Link`` header) before its ``200 OK`` page; not an article.
``/robots.txt``        Allows everything.
=====================  ===================================================================================

``requests[path]`` keeps the header names each request arrived with, in order.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import brotli

ARTICLE_PATTERN = r"/news/[a-z-]+$"

TITLES = {
    "/news/etag-case": "Header case survives archiving",
    "/news/brotli": "Brotli pages replay in every reader",
    "/news/chunked": "Chunked pages keep their framing on record",
}


def article(title: str, words: str) -> bytes:
    paragraphs = "".join(
        f"<p>{words} Paragraph {i} reports how the attackers moved through the network, which systems the "
        f"incident response team isolated first and what defenders should patch this week.</p>"
        for i in range(1, 7))
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>"
            f"<body><article><h1>{title}</h1>{paragraphs}</article></body></html>").encode("utf-8")


BODIES = {
    "/news/etag-case": article(TITLES["/news/etag-case"], "Quartz etag 4411."),
    "/news/brotli": article(TITLES["/news/brotli"], "Brotli zebra 7781."),
    "/news/chunked": article(TITLES["/news/chunked"], "Chunked walrus 2290."),
}
BROTLI_BODY = brotli.compress(BODIES["/news/brotli"], quality=5)

#: The header lines /news/etag-case sends, in order, before its Content-Length.
ETAG_CASE_HEADERS = [
    b'ETag: "v1-4411"',
    b"content-type: text/html; charset=utf-8",
    b"X-MiXeD-CaSe: Yes",
    b"cache-control: max-age=60",
]


class WireSite:
    def __init__(self) -> None:
        self.requests: dict[str, list[str]] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                site.requests[self.path] = [name for name, _ in self.headers.items()]
                self.wfile.write(site.response(self.path))

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.base_url = f"http://{self.host}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base_url + path

    def response(self, path: str) -> bytes:
        if path == "/news/etag-case":
            body = BODIES[path]
            return _head(b"200 OK", [*ETAG_CASE_HEADERS, b"Content-Length: %d" % len(body)]) + body
        if path == "/news/brotli":
            return _head(b"200 OK", [b"Content-Type: text/html; charset=utf-8", b"Content-Encoding: br",
                                    b"Vary: Accept-Encoding", b"Content-Length: %d" % len(BROTLI_BODY)]) + BROTLI_BODY
        if path == "/news/chunked":
            body = BODIES[path]
            third = len(body) // 3
            chunks = [body[:third], body[third:2 * third], body[2 * third:]]
            framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
            return _head(b"200 OK", [b"content-type: text/html; charset=utf-8", b"transfer-encoding: chunked"]) + framed
        if path == "/early-hints":
            body = b"<!DOCTYPE html><html><head><title>Hints</title></head><body>final page</body></html>"
            return (_head(b"103 Early Hints", [b"Link: </style.css>; rel=preload"])
                    + _head(b"200 OK", [b"content-type: text/html", b"Content-Length: %d" % len(body)]) + body)
        if path == "/robots.txt":
            body = b"User-agent: *\nAllow: /\n"
            return _head(b"200 OK", [b"Content-Type: text/plain", b"Content-Length: %d" % len(body)]) + body
        if path == "/":
            links = "".join(f'<a href="{p}">{t}</a>\n' for p, t in [*TITLES.items(), ("/early-hints", "Hints")])
            body = f"<!DOCTYPE html><html><head><title>Wire news</title></head><body>{links}</body></html>".encode()
            return _head(b"200 OK", [b"Content-Type: text/html; charset=utf-8",
                                     b"Content-Length: %d" % len(body)]) + body
        body = b"not found"
        return _head(b"404 Not Found", [b"Content-Type: text/plain", b"Content-Length: %d" % len(body)]) + body

    def __enter__(self) -> WireSite:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _head(status: bytes, lines: list[bytes]) -> bytes:
    return b"HTTP/1.1 " + status + b"\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n"
