"""HTTP/1.1 serving for the sites on 127.0.0.1: the demo site, the tests' hostile site, the bench site.

A site maps a decoded path to a :class:`Response`; :class:`SiteServer` writes it on the wire exactly
(Content-Length or chunked framing, keep-alive, HEAD without a body) and counts hits, which
``/__hits`` returns as JSON (``?raw=1``: keyed by request target) and ``/__reset`` clears.
:func:`serve` prints ``READY http://127.0.0.1:PORT`` and serves until killed; :class:`ServerProcess`
runs such a script as a subprocess for the length of a ``with`` block. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock
from typing import Protocol
from urllib.parse import unquote_to_bytes, urlsplit

HTML = "text/html; charset=utf-8"
#: Whole-body writes above this size go out in slices so the server never copies 15 MB at once.
WRITE_SLICE = 64 * 1024
#: With validators on: the Last-Modified of every 200 (these sites never change).
VALIDATOR_LAST_MODIFIED = "Mon, 30 Nov 2026 00:00:00 GMT"


@dataclass(frozen=True)
class Response:
    """What a site answers; the request handler turns it into bytes on the wire."""

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


def html_page(title: str, body_html: str, lang: str = "en") -> bytes:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n</head>\n<body>\n{body_html}\n</body>\n</html>\n"
    ).encode("utf-8")


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


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops SYNs when a crawler opens 16+ connections at once.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], site: Site, name: str = "newsarchive-site/1.0",
                 validators: bool = False) -> None:
        super().__init__(address, SiteRequestHandler)
        self.site = site
        self.name = name
        self.validators = validators
        self.hits: Counter[str] = Counter()
        self.raw_hits: Counter[str] = Counter()
        self.hits_lock = Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up mid-body (size caps, timeouts) is expected, not a server error.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class SiteRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120  # reclaim threads of idle keep-alive connections
    server: SiteServer

    def log_message(self, *args: object) -> None:
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
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_port}"
        if path in ("/__hits", "/__reset"):
            response = self._control(path)
        else:
            with self.server.hits_lock:
                self.server.hits[path] += 1
                self.server.raw_hits[self.path] += 1
            response = self.server.site.respond(path, host)
            if self.server.validators:
                response = self._conditional(response)
        if response.delay:
            time.sleep(response.delay)
        self._write(response, head)

    def _conditional(self, response: Response) -> Response:
        """Validators on: a 200 carries an ETag (of its payload) and a fixed Last-Modified, and a
        conditional GET that matches is answered 304 Not Modified (RFC 9110 13.1: If-None-Match first)."""
        if response.status != 200:
            return response
        etag = '"%s"' % hashlib.blake2b(response.payload, digest_size=8).hexdigest()
        validators = (("ETag", etag), ("Last-Modified", VALIDATOR_LAST_MODIFIED))
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if (inm is not None and etag in [t.strip() for t in inm.split(",")]) or \
                (inm is None and ims == VALIDATOR_LAST_MODIFIED):
            return Response(304, b"", None, validators)
        return replace(response, headers=(*response.headers, *validators))

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
        return Response(200, body, "application/json; charset=utf-8", (("Cache-Control", "no-store"),))

    def _write(self, response: Response, head: bool) -> None:
        reason = response.reason or self.responses.get(response.status, ("",))[0]
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Server: {self.server.name}",
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


def serve(port: int, site: Site, name: str = "newsarchive-site/1.0", validators: bool = False) -> None:
    """Serve ``site`` on 127.0.0.1 until SIGTERM or Ctrl-C, after printing the READY line
    (``validators``: ETag/Last-Modified on every 200, 304 to a matching conditional GET)."""
    server = SiteServer(("127.0.0.1", port), site, name, validators)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


class ServerProcess:
    """Runs a site script (``argv``, which prints the READY line) as a subprocess for a ``with`` block.

    ``url(path)`` and ``host`` give addresses on 127.0.0.1.
    """

    def __init__(self, argv: list[str], *, startup_timeout: float = 60.0) -> None:
        self.args = argv
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *_exc_info: object) -> None:
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
                raise RuntimeError(f"site server did not print READY: {line!r}")
            line += chunk
        text = line.decode().strip()
        if not text.startswith("READY http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"unexpected site server output: {text!r}")
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
