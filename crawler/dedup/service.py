"""DedupService: the crawl's dedup work in one child process that owns the catalog, behind a byte-bounded backlog.

The child is a fresh interpreter (``python -c``; never a fork: the crawl has threads). For each
page it runs ``analyse_page`` -> ``Detector.add`` -> the encoded metadata payload and answers with
plain values (:class:`PageAnalysis`). It commits the catalog when no request is waiting, and at
least every ``COMMIT_EVERY_PAGES`` pages or ``COMMIT_EVERY_SECONDS`` while a backlog lasts (a commit
every 256 pages costs about 1.2-1.4 CPU-ms of each realistic page's 16-19): what a kill loses of the
catalog is in the archive already, in the metadata records the parent wrote, and the catch-up replays it. The crawl process only pickles the page and
reads the answer on two daemon threads of this module: extraction and detection no longer hold the
crawl's GIL against its reactor.

Not ``multiprocessing.Process``: its spawn runs the parent's ``__main__`` script again in the child
(the ``newsarchive`` and ``scrapy`` console scripts import Scrapy and the whole CLI), starts a
resource-tracker process beside it, and at exit SIGTERMs and joins its children. A plain subprocess
with two pipes has none of that; ``multiprocessing.connection`` still frames the messages.

Bounded: the pickled pages sent and not yet answered never exceed ``max_bytes`` in memory. A page
beyond it waits on disk, in a spill file of at most ``spill_bytes`` (an unlinked temporary file: a
crash or kill leaves nothing behind, and the page, archived without its metadata record, is caught
up by the next catch-up), and is sent as soon as the child has taken everything queued before it;
``settle`` and ``close`` are sent after the spill's last page. A page beyond both is refused
(``analyse`` returns None) and the caller archives it unanalysed. The crawl never waits.

Lifetime: the child reads its requests from a pipe only this process holds the write end of. When
this process ends in any way (even SIGKILL), the child reads end-of-file and exits after the page in
hand. It ignores SIGINT: a Ctrl-C at a terminal reaches the whole process group, and the crawl
decides (settle and close, or ``kill``: the child's uncommitted SQLite transaction rolls back). It
runs at a lower CPU priority than the crawl (``CHILD_NICENESS``): the crawl comes first.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import pickle
import queue
import signal
import subprocess
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from crawler.dedup.child import start_child
from crawler.dedup.defaults import Thresholds

logger = logging.getLogger(__name__)

#: How long the reader waits for a child that closed its pipe to be reaped before killing it.
_REAP_TIMEOUT = 5.0
#: Added to the child's nice value: on a busy machine the crawl gets the CPU first and dedup falls
#: behind (pages deferred, caught up from the archive later); on an idle one the child still has a core.
CHILD_NICENESS = 10
#: The catalog is committed when no request waits, else after this many pages or seconds.
#: 256, not 64: a commit upserts the frequency of every feature its batch moved (the common words
#: of each article) and rewrites the pages of the df B-tree they fall in, and it writes one posting
#: list per feature the batch posted under, so larger batches cost less per page: 2,000 realistic
#: pages in one growing catalog, commits 1.64-1.88 -> 1.17-1.20 CPU-ms a page (alternating runs,
#: when postings were a row each). A kill still loses only the uncommitted batch, which the
#: catch-up replays from the archive.
COMMIT_EVERY_PAGES = 256
#: 5 s, not 1: a child short of CPU (niced under a busy crawl) took 0.3-1 s a page, so a 1 s
#: batch was a commit every 1-3 pages (2-4 CPU-ms each: 3% of its work on a realistic crawl).
COMMIT_EVERY_SECONDS = 5.0
#: The crawl process returns its heap's free pages to the system this often (on the thread reading
#: answers): it freed 20-80 MB of responses, pages sent and answers at a time (mallinfo of a
#: realistic crawl), which otherwise stayed resident beside the dedup process growing.
TRIM_EVERY_SECONDS = 5.0


class DedupUnavailable(Exception):
    """The dedup child is not running (died, killed, closed) or went before it answered."""


class NoMainText(Exception):
    """The child found no main text in the page (``crawler.dedup.extract.ExtractionError``)."""


class ChildError(Exception):
    """The child failed on a request; the message is its traceback."""


class SpillDropped(DedupUnavailable):
    """A page waiting in the spill was given back unsent (:meth:`DedupService.drop_spill`)."""


@dataclass(frozen=True)
class PageAnalysis:
    """The child's answer for one page, plain values only."""

    #: The child's process id (the work ran there, not in the crawl).
    pid: int
    #: url, lang, title, published, text, warc_record_id
    article: dict[str, Any]
    #: ``Signals.to_json()``
    signals: dict[str, Any]
    #: ``Match.as_item()`` of each flag, and its kind
    duplicates: list[dict[str, Any]]
    kinds: list[str]
    #: The WARC metadata record's block (crawler/dedup/payload.py)
    payload: bytes
    #: CPU seconds the child spent on this page (its pace, to judge a backlog by)
    cpu: float = 0.0


class DedupService:
    """The parent's handle on the dedup child: ``start``, ``analyse`` pages, ``settle``, ``close`` or ``kill``.

    Thread-safe. Futures are resolved on the reader thread; ``on_death(returncode)`` is called there
    once if the child ends without being asked to."""

    def __init__(self, catalog: Path, thresholds: Thresholds, *, max_bytes: int, spill_bytes: int = 0,
                 on_death: Callable[[int | None], None] | None = None) -> None:
        self.catalog = Path(catalog)
        self.thresholds = thresholds
        self.max_bytes = max_bytes
        self.spill_bytes = spill_bytes
        self.on_death = on_death
        self._lock = threading.Lock()
        # seq -> (future, bytes counted in _in_flight: 0 for a page that waited in the spill)
        self._pending: dict[int, tuple[concurrent.futures.Future[Any], int]] = {}
        self._in_flight = 0
        self._spill: _Spill | None = None  # made for the first page that waits on disk
        #: pages that waited in the spill, in all
        self.spilled_pages = 0
        self._answered = 0  # pages answered, and the child's CPU seconds on them
        self._answered_cpu = 0.0
        self._last_answer = time.monotonic()
        self._seq = 0
        self._state = "new"  # -> running -> closing | stopping -> gone
        self._proc: subprocess.Popen[bytes] | None = None
        # a request's blob and whether the spill goes before it (settle, close); _WAKE: a page was spilled
        self._outbox: queue.SimpleQueue[tuple[bytes, bool] | object | None] = queue.SimpleQueue()
        self.opened: concurrent.futures.Future[Any] = concurrent.futures.Future()

    # -- the parent's side ----------------------------------------------------------------------
    def start(self) -> None:
        self._proc, self._requests, self._replies = start_child("crawler.dedup.service")
        self._state = "running"
        self._last_answer = time.monotonic()
        self._send_request("open", {"catalog": str(self.catalog), "thresholds": self.thresholds},
                           bounded=False, future=self.opened)
        threading.Thread(target=self._send_loop, name="dedup-send", daemon=True).start()
        threading.Thread(target=self._read_loop, name="dedup-read", daemon=True).start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._state == "running"

    @property
    def in_flight_bytes(self) -> int:
        """Bytes of pages waiting for the child, in memory and in the spill: how far off a new page's answer is."""
        return self._in_flight + (self._spill.size if self._spill is not None else 0)

    @property
    def spill_pages(self) -> int:
        """Pages waiting in the spill now."""
        return len(self._spill) if self._spill is not None else 0

    @property
    def cpu_per_page(self) -> float | None:
        """The child's mean CPU seconds per page answered so far (None before the first)."""
        return self._answered_cpu / self._answered if self._answered else None

    def drop_spill(self, keep_bytes: int = 0) -> int:
        """Give back the newest pages waiting in the spill, unsent, until at most ``keep_bytes`` of the
        oldest wait: their futures fail with :class:`SpillDropped` (the caller leaves them to the
        catch-up). The number given back."""
        with self._lock:
            if self._spill is None:
                return 0
            dropped = [self._pending.pop(seq, (None, 0))[0] for seq in self._spill.drop_newest(keep_bytes)]
        for fut in dropped:
            if fut is not None and not fut.done():
                fut.set_exception(SpillDropped("given back to the catch-up unanalysed"))
        return len(dropped)

    @property
    def idle_seconds(self) -> float:
        """Seconds since the child last answered (or since ``start``): how long it has made no progress."""
        return time.monotonic() - self._last_answer

    def analyse(self, fields: dict[str, Any], *, for_item: bool = True) -> concurrent.futures.Future[PageAnalysis] | None:
        """Send one page (``html``, ``url``, ``lang``, ``source``, ``fetched_at``, ``warc_record_id``,
        ``status``); None when it does not fit in the backlog or the child is not running. The future
        fails with :class:`NoMainText`, :class:`ChildError` or :class:`DedupUnavailable`. Without
        ``for_item`` (no item waits for it) the answer's ``article`` has only ``url`` and
        ``warc_record_id`` and its ``signals`` are empty: the payload, flags and catalog are the same."""
        return self._send_request("page", fields if for_item else {**fields, "for_item": False}, bounded=True)

    def settle(self) -> concurrent.futures.Future[int]:
        """Decide a young catalog's flags again (``Detector.settle``): the number of articles settled, 0 if none."""
        return self._send_request("settle", None, bounded=False) or _failed("dedup child is not running")

    def close(self, timeout: float) -> None:
        """Ask the child to close the catalog and exit; wait up to ``timeout`` s, then kill it. Raises
        :class:`DedupUnavailable` if it was not running, ``TimeoutError`` if it had to be killed."""
        deadline = time.monotonic() + timeout
        answered = self._send_request("close", None, bounded=False, closing=True)
        if answered is None:
            self.kill()
            raise DedupUnavailable("dedup child is not running")
        try:
            answered.result(max(0.0, deadline - time.monotonic()))
            assert self._proc is not None
            self._proc.wait(max(0.0, deadline - time.monotonic()))
        except (concurrent.futures.TimeoutError, subprocess.TimeoutExpired):
            self.kill()
            raise TimeoutError(f"dedup child did not close in {timeout:g} s; killed") from None

    def kill(self) -> None:
        """End the child now (SIGKILL); requests not answered fail with :class:`DedupUnavailable`."""
        with self._lock:
            if self._state in ("running", "closing"):
                self._state = "stopping"
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()

    def wait(self, timeout: float | None = None) -> int | None:
        """The child's exit code once it has exited (None if still running after ``timeout``)."""
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def _send_request(self, kind: str, body: Any, *, bounded: bool, closing: bool = False,
                      future: concurrent.futures.Future[Any] | None = None) -> concurrent.futures.Future[Any] | None:
        with self._lock:
            self._seq += 1
            seq = self._seq
            # A page that cannot fit is refused before it is pickled: its blob is at least its
            # HTML's length (a character is one UTF-8 byte or more). Behind a full backlog most
            # pages are refused, and pickling each (0.3 ms on the crawl's reactor thread) was waste.
            if bounded and not self._fits(len(body.get("html") or "")):
                return None
        blob = pickle.dumps((kind, seq, body), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self._state != "running" or (bounded and not self._fits(len(blob))):
                return None
            fut = future if future is not None else concurrent.futures.Future()
            spill = self._spill
            # In memory while there is room and nothing waits on disk (the spill keeps the order)
            if not bounded or (not spill and self._in_flight + len(blob) <= self.max_bytes):
                self._pending[seq] = (fut, len(blob))
                self._in_flight += len(blob)
                if closing:
                    self._state = "closing"
                self._outbox.put((blob, not bounded))
                return fut
            try:
                if spill is None:
                    spill = self._spill = _Spill(self.spill_bytes)
                if not spill.put(seq, blob):  # no contiguous room in the ring
                    return None
            except OSError as e:  # no temporary file, or a full disk: the page is deferred like one
                logger.warning("dedup: cannot spill a page to disk: %s", e)  # beyond the spill
                return None
            self._pending[seq] = (fut, 0)
            self.spilled_pages += 1
        self._outbox.put(_WAKE)
        return fut

    def _fits(self, size: int) -> bool:
        """Under the lock: can a page of ``size`` bytes wait, in memory or in the spill?"""
        if not self._spill and self._in_flight + size <= self.max_bytes:
            return True
        return (self._spill.size if self._spill is not None else 0) + size <= self.spill_bytes

    def _send_loop(self) -> None:
        try:
            while True:
                try:  # a page in the spill is sent whenever no request waits in memory
                    item = self._outbox.get_nowait() if self._spill else self._outbox.get()
                except queue.Empty:
                    if self._send_spilled():
                        continue
                    item = self._outbox.get()
                if item is None:
                    break
                if item is _WAKE:
                    continue
                assert isinstance(item, tuple)
                blob, after_spill = item
                while after_spill and self._send_spilled():
                    pass
                self._requests.send_bytes(blob)
        except (OSError, ValueError):  # the child is gone (the reader sees its end-of-file and fails what
            pass                        # is pending), or the spill closed under a read after it went
        finally:
            self._requests.close()

    def _send_spilled(self) -> bool:
        """Send the oldest page waiting in the spill; False when none waits."""
        with self._lock:
            spill = self._spill
            if not spill or self._state not in ("running", "closing"):
                return False
            seq, offset, n = spill.oldest()
        blob = spill.read(offset, n)  # outside the lock: a page still listed is never overwritten
        with self._lock:
            sent = spill.pop_if(seq)  # not if dropped meanwhile (drop_spill)
        if sent:
            self._requests.send_bytes(blob)
        return True

    def _read_loop(self) -> None:
        from crawler.memory import trim_heap

        trimmed = time.monotonic()
        while True:
            if time.monotonic() - trimmed >= TRIM_EVERY_SECONDS:
                trim_heap()
                trimmed = time.monotonic()
            try:
                seq, status, value = self._replies.recv()
            except (EOFError, OSError):
                break
            except Exception:  # an answer that cannot be unpickled: the child is broken, stop it
                logger.warning("dedup: unreadable answer from the dedup process", exc_info=True)
                self.kill()
                break
            with self._lock:
                fut, size = self._pending.pop(seq, (None, 0))
                self._in_flight -= size
                self._last_answer = time.monotonic()
                if isinstance(value, PageAnalysis):
                    self._answered += 1
                    self._answered_cpu += value.cpu
            if fut is not None:
                _resolve(fut, status, value)
        self._replies.close()
        assert self._proc is not None
        try:
            returncode: int | None = self._proc.wait(_REAP_TIMEOUT)
        except subprocess.TimeoutExpired:  # closed its pipe but lingers: it can do nothing more for us
            self._proc.kill()
            returncode = self._proc.wait()
        with self._lock:
            was, self._state = self._state, "gone"
            pending = list(self._pending.values())
            self._pending.clear()
            self._in_flight = 0
            if self._spill is not None:
                self._spill.close()
        self._outbox.put(None)
        for fut, _size in pending:
            if not fut.done():
                fut.set_exception(DedupUnavailable(f"dedup process ended (exit code {returncode})"))
        if was == "running" and self.on_death is not None:
            self.on_death(returncode)


#: Put in the outbox after a page went to the spill: wakes the sender.
_WAKE = object()


class _Spill:
    """Pages waiting on disk, oldest first: a ring of at most ``capacity`` bytes in an unlinked
    temporary file (nothing of it outlives the process). Each page is one contiguous run; one that
    does not fit before the oldest page still waiting is refused. Not thread-safe: the service's lock."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._file = tempfile.TemporaryFile(prefix="newsarchive-dedup-spill-")
        self._pages: deque[tuple[int, int, int]] = deque()  # (seq, offset, length)
        self.size = 0  # bytes waiting

    def __len__(self) -> int:
        return len(self._pages)

    def put(self, seq: int, blob: bytes) -> bool:
        n = len(blob)
        if not self._pages:
            offset = 0
        else:
            head = self._pages[0][1]
            _seq, last, length = self._pages[-1]
            end = last + length
            if end > head:  # not wrapped: after the newest, else from the start up to the oldest
                offset = end if end + n <= self.capacity else (0 if n <= head else -1)
            else:  # wrapped: between the newest and the oldest
                offset = end if end + n <= head else -1
        if offset < 0 or n > self.capacity:
            return False
        if os.pwrite(self._file.fileno(), blob, offset) != n:
            raise OSError(f"short write to the dedup spill ({n} bytes)")
        self._pages.append((seq, offset, n))
        self.size += n
        return True

    def oldest(self) -> tuple[int, int, int]:
        """``(seq, offset, length)`` of the oldest page waiting."""
        return self._pages[0]

    def read(self, offset: int, n: int) -> bytes:
        return os.pread(self._file.fileno(), n, offset)

    def pop_if(self, seq: int) -> bool:
        """Take the oldest page off if it is still ``seq`` (not dropped meanwhile)."""
        if not self._pages or self._pages[0][0] != seq:
            return False
        self.size -= self._pages.popleft()[2]
        return True

    def drop_newest(self, keep_bytes: int) -> list[int]:
        """Forget the newest pages until at most ``keep_bytes`` wait; their sequence numbers."""
        seqs = []
        while self._pages and self.size > keep_bytes:
            seq, _offset, n = self._pages.pop()
            self.size -= n
            seqs.append(seq)
        return seqs

    def clear(self) -> list[int]:
        """Forget every page waiting; their sequence numbers."""
        seqs = [seq for seq, _offset, _n in self._pages]
        self._pages.clear()
        self.size = 0
        return seqs

    def close(self) -> None:
        self.clear()
        self._file.close()


def _resolve(fut: concurrent.futures.Future[Any], status: str, value: Any) -> None:
    if fut.done():
        return
    if status == "ok":
        fut.set_result(value)
    elif status == "no_text":
        fut.set_exception(NoMainText(value))
    else:
        fut.set_exception(ChildError(value))


def _failed(message: str) -> concurrent.futures.Future[Any]:
    fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
    fut.set_exception(DedupUnavailable(message))
    return fut


# -- the child's side ---------------------------------------------------------------------------
class _Analyst:
    """The child's state: the catalog and its detector."""

    def __init__(self, catalog: str, thresholds: Thresholds) -> None:
        from crawler.dedup.detector import Detector
        from crawler.dedup.store import ArticleStore

        self.store = ArticleStore(catalog)
        self.detector = Detector(self.store, thresholds)
        self.uncommitted = 0  # pages added since the last commit
        self.committed_at = time.monotonic()

    def commit(self, *, idle: bool) -> None:
        """Commits now when ``idle`` (no request waiting) or the batch is due."""
        if not self.uncommitted:
            return
        if idle or self.uncommitted >= COMMIT_EVERY_PAGES or \
                time.monotonic() - self.committed_at >= COMMIT_EVERY_SECONDS:
            self.store.commit()
            self.uncommitted = 0
            self.committed_at = time.monotonic()

    def page(self, fields: dict[str, Any]) -> PageAnalysis:
        from crawler.dedup.analysis import analyse_page
        from crawler.dedup.payload import build_payload, encode
        from crawler.dedup.store import encoded_words

        started = time.process_time()
        article, signals = analyse_page(
            fields["html"], fields["url"], lang=fields.get("lang"), source=fields.get("source") or "",
            fetched_at=fields.get("fetched_at"), warc_record_id=fields.get("warc_record_id"))
        _id, matches = self.detector.add(article, signals)
        self.uncommitted += 1
        for_item = fields.get("for_item", True)
        signals_json = signals.to_json()  # read-only from here: the answer and the payload share it
        return PageAnalysis(
            pid=os.getpid(),
            article={"url": article.url, "lang": article.lang, "title": article.title,
                     "published": article.published, "text": article.text,
                     "warc_record_id": article.warc_record_id} if for_item else
                    {"url": article.url, "warc_record_id": article.warc_record_id},
            # what the parent unpickles most slowly (a dict of every term), sent only for an item
            signals=signals_json if for_item else {},
            duplicates=[m.as_item() for m in matches],
            kinds=[str(m.kind) for m in matches],
            # The record carries the detector's inputs, not these flags: they change as the catalog
            # grows and settles, and a rebuild derives them again (crawler/dedup/payload.py).
            payload=encode(build_payload(article, signals, status=fields.get("status"), signals_json=signals_json),
                           words=encoded_words(signals)),  # encoded once, for the catalog's row too
            cpu=time.process_time() - started,
        )

    def settle(self) -> int:
        from crawler.memory import release_memory

        # The crawl's pages, trees and pickled requests are freed by now; a young catalog's settle
        # (at most ``young_catalog`` articles) reads every article back at once.
        release_memory()
        if not self.detector.settle():
            return 0
        self.store.commit()
        self.uncommitted = 0
        return self.store.count()

    def close(self) -> None:
        self.store.close()


def serve(requests_fd: int, replies_fd: int) -> None:
    """The child's main loop: answer each request in order until ``close`` or end-of-file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.nice(CHILD_NICENESS)
    except OSError:  # not permitted here: same priority as the crawl
        pass
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s [dedup process %(process)d] %(name)s %(levelname)s: %(message)s")
    from crawler.dedup.extract import ExtractionError

    requests = Connection(requests_fd, writable=False)
    replies = Connection(replies_fd, readable=False)
    analyst: _Analyst | None = None
    try:
        while True:
            try:
                kind, seq, body = requests.recv()
            except EOFError:  # the crawl is gone
                return
            try:
                if kind == "open":
                    analyst = _Analyst(body["catalog"], body["thresholds"])
                    value: Any = os.getpid()
                elif analyst is None:
                    raise RuntimeError("the dedup catalog is not open")
                elif kind == "page":
                    value = analyst.page(body)
                elif kind == "settle":
                    value = analyst.settle()
                elif kind == "close":
                    analyst.close()
                    analyst = None
                    value = None
                else:
                    raise ValueError(f"unknown request {kind!r}")
            except ExtractionError as e:
                answer: tuple[int, str, Any] = (seq, "no_text", str(e))
            except Exception:
                answer = (seq, "error", traceback.format_exc())
            else:
                answer = (seq, "ok", value)
            try:
                replies.send(answer)
            except OSError:  # the crawl is gone
                return
            if kind == "close" or (kind == "open" and analyst is None):
                return
            if kind == "page" and analyst is not None:
                analyst.commit(idle=not requests.poll(0))
    finally:
        if analyst is not None:
            analyst.close()
