"""The bench site: N interlinked 40-80 KB pages of word-list prose, one in four gzip-encoded.

``python bench/site.py --pages N --seed S [--port 0] [--lazy]`` prints ``READY http://127.0.0.1:PORT``
and serves until killed; ``with BenchServer(pages=N, seed=S) as server: server.url("/")`` runs it
as a subprocess (a crawl in the same process would compete with it for the GIL).

``/`` links to ``/list/0`` .. ``/list/<ceil(N/50)-1>`` and ``/p/0`` .. ``/p/9``; ``/list/k`` links to
its 50 pages; ``/p/i`` links to ``/p/i+1`` .. ``/p/i+10`` (mod N), its listing and ``/``. Every
fourth page (``i % 4 == 3``) is sent gzip-encoded. ``/robots.txt`` allows all. Bodies are
generated before READY (``--lazy``: on first request) and hold no timestamps. ``/__hits`` counts
requests (crawler/demo/httpd.py). ``--latency S`` waits S seconds before every answer (a remote
site's round trip, for bench/distributed.py).
"""

from __future__ import annotations

import argparse
import gzip
import math
import random
import re
import sys
import threading
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crawler.demo.httpd import Response, ServerProcess, html_page, serve  # noqa: E402

NOT_FOUND = Response(404, html_page("Not Found", "<h1>404 Not Found</h1>"), reason="Not Found")

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

    def __init__(self, pages: int, seed: int, lazy: bool = False, latency: float = 0.0) -> None:
        if pages < 1:
            raise ValueError(f"pages must be at least 1, got {pages}")
        self.pages, self.seed = pages, seed
        self.latency = latency  # seconds before every answer: a remote site's round trip
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
        response = self._cached(path)
        return replace(response, delay=self.latency) if self.latency else response

    def _cached(self, path: str) -> Response:
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
            return Response(200, html_page("Bench home", f"<h1>Bench</h1>\n{first}\n{lists}"))
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
            return Response(200, html_page(f"Archive {index}", body))
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
        return html_page(title, head + "\n".join(parts) + "\n" + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--pages", type=int, default=1000, help="number of pages")
    parser.add_argument("--seed", type=int, default=0, help="generation seed")
    parser.add_argument("--lazy", action="store_true", help="build pages on first request")
    parser.add_argument("--validators", action="store_true", help="ETag/Last-Modified on 200s; 304 to a match")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each answer")
    args = parser.parse_args(argv)
    serve(args.port, BenchSite(args.pages, args.seed, lazy=args.lazy, latency=args.latency),
          name="newsarchive-bench/1.0",
          validators=args.validators)
    return 0


class BenchServer(ServerProcess):
    """This site in a subprocess for a ``with`` block."""

    def __init__(self, *, pages: int | None = None, seed: int | None = None, lazy: bool = False,
                 port: int = 0, latency: float = 0.0, startup_timeout: float = 60.0) -> None:
        argv = [sys.executable, "-u", str(Path(__file__).resolve()), "--port", str(port)]
        if latency:
            argv += ["--latency", str(latency)]
        if pages is not None:
            argv += ["--pages", str(pages)]
        if seed is not None:
            argv += ["--seed", str(seed)]
        if lazy:
            argv.append("--lazy")
        super().__init__(argv, startup_timeout=startup_timeout)


if __name__ == "__main__":
    sys.exit(main())
