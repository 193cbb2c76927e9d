"""SIGINT and SIGTERM during `newsarchive crawl`: the first stops the crawl cleanly, the second at once,
and the process always ends (issue 9).

Scrapy's own handlers are not installed (``install_signal_handlers=False``): they cannot stop a spider
that is still opening (the engine is not running yet, so the stop is a no-op and the reactor is stopped
under the opening spider), and after the second signal they ignore every further one. Here:

* **before the crawl starts** (imports, settings, preflight): :class:`crawler.errors.Interrupted`
  is raised where the main thread is, and the CLI reports ``newsarchive: interrupted ...``, exit 1;
* **first signal**: every crawler gets ``stop_requested(force=False)`` (the archive then waits at most
  a few seconds for storage), the crawl stops the way Scrapy stops it (a spider still opening is
  stopped as soon as its engine starts), and the reactor stops once the spider has closed;
* **second signal**, or ``grace`` seconds after the first: ``stop_requested(force=True)`` (every
  thread stops now; the open WARC stays ``.open`` in the spool) and the reactor is stopped;
* ``force_grace`` seconds after that, a watchdog ends the process with exit 1 if anything still
  holds it. The spool and its recovery make that safe: the next run (or ``newsarchive upload``)
  finishes and stores what was left.

Then ``run`` raises :class:`crawler.errors.Interrupted` (exit 1).
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
from types import FrameType, TracebackType
from typing import Any, Callable, TypeVar

from crawler.errors import Interrupted

logger = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: First signal -> forced stop: the graceful close (drain the writer queue, store for at most
#: INTERRUPTED_UPLOAD_TIMEOUT = 10 s, settle the dedup catalog) has this long.
GRACE = 24.0
#: Forced stop -> the watchdog ends the process. 24 + 4 s keeps "ends within 30 s" with margin.
FORCE_GRACE = 4.0

_F = TypeVar("_F", bound=Callable[..., Any])


def _name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:  # pragma: no cover
        return str(signum)


class CrawlShutdown:
    """The signal policy of one crawl command (a context manager: handlers in on enter, restored on exit)."""

    current: CrawlShutdown | None = None

    def __init__(self, *, grace: float = GRACE, force_grace: float = FORCE_GRACE, exiting: bool = False) -> None:
        self.grace = grace
        self.exiting = exiting
        self.force_grace = force_grace
        self.received: list[int] = []
        self._crawlers: list[Any] = []
        self._reactor_phase = False
        self._forced = False
        self._escalate_at: float | None = None
        self._exit_at: float | None = None
        self._previous: dict[int, Any] = {}
        self._watching = False
        self._late = False  # the command has returned; the process is exiting

    # -- install / restore ----------------------------------------------------------------
    def __enter__(self) -> CrawlShutdown:
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        self._watching = True
        threading.Thread(target=self._watch, name="shutdown-watchdog", daemon=True).start()
        CrawlShutdown.current = self
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 _tb: TracebackType | None) -> None:
        CrawlShutdown.current = None
        if self.exiting:
            # The process exits next: a signal now must neither raise (a KeyboardInterrupt during
            # interpreter exit ends it by SIGINT, exit -2) nor kill it by SIGTERM; it only makes sure
            # the exit cannot hang. The handlers and the watchdog stay.
            self._late = True
        else:
            # The caller goes on (an in-process use, a test): restore its handlers, and disarm the
            # watchdog, whose deadline was set for a process about to exit.
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
            self._watching = False
            self._escalate_at = self._exit_at = None
        if exc_type is KeyboardInterrupt:
            raise Interrupted(self.message()) from None

    @property
    def interrupted(self) -> bool:
        return bool(self.received)

    def message(self) -> str:
        how = f"by {_name(self.received[0])}" if self.received else "by Ctrl-C"
        return (f"interrupted {how}: the crawl stopped early; a WARC not yet stored stays in the spool "
                "and the next crawl (or `newsarchive upload`) stores it")

    # -- running the crawl ----------------------------------------------------------------
    def run(self, process: Any, crawler: Any) -> None:
        """``process.crawl(crawler)`` then ``process.start()`` under this policy; raises Interrupted if a
        signal stopped the crawl. From here on the handler never raises: an exception thrown into
        Twisted's machinery (the crawl starts inside Deferreds) would be caught there, not here."""
        if self.received:
            raise Interrupted(self.message())
        self._reactor_phase = True
        try:
            self._crawlers = [crawler]
            process.crawl(crawler)
            process.start(install_signal_handlers=False)
        finally:
            self._reactor_phase = False
        if self.received:
            raise Interrupted(self.message())

    # -- the handler (main thread, between two bytecodes: only flags and callFromThread here) ---
    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)
        now = time.monotonic()
        if self._late:
            if self._exit_at is None:
                self._exit_at = now + self.force_grace
            return
        if not self._reactor_phase:
            if self._exit_at is None:
                self._exit_at = now + self.grace + self.force_grace
            # An ordinary exception, not KeyboardInterrupt: if some library swallows it, run() raises it
            # again before the crawl starts, and the watchdog ends the process at its deadline anyway.
            raise Interrupted(self.message())
        from twisted.internet import reactor

        if len(self.received) == 1:
            self._escalate_at = now + self.grace
            reactor.callFromThread(self._graceful, signum)
        else:
            self._force_soon()

    def _force_soon(self) -> None:
        from twisted.internet import reactor

        deadline = time.monotonic() + self.force_grace
        self._exit_at = deadline if self._exit_at is None else min(self._exit_at, deadline)
        reactor.callFromThread(self._force)

    def _watch(self) -> None:
        while self._watching or self._late or self._exit_at is not None:
            time.sleep(0.05)
            now = time.monotonic()
            if self._escalate_at is not None and now >= self._escalate_at and not self._forced:
                self._escalate_at = None
                self._force_soon()
            if self._exit_at is not None and now >= self._exit_at:
                os.write(2, f"newsarchive: {self.message()} (forced exit)\n".encode())
                os._exit(1)

    # -- on the reactor thread ------------------------------------------------------------
    def _graceful(self, signum: int) -> None:
        from scrapy import signals

        from crawler.signals import stop_requested

        logger.info("Received %(signal)s, stopping the crawl cleanly (a second signal stops it at once)",
                    {"signal": _name(signum)})
        for crawler in self._crawlers:
            crawler.signals.send_catch_log(stop_requested, force=False)
            engine = getattr(crawler, "engine", None)
            if engine is not None and not engine.running:
                # Still opening: Crawler.stop would do nothing; stop the engine as soon as it starts.
                crawler.signals.connect(_engine_stopper(crawler), signal=signals.engine_started, weak=False)
            elif _closing(engine):
                # Already closing: stopping now would end the engine (and the reactor) under the close
                # in progress (Scrapy returns early from a second close). stop_requested made it brief.
                continue
            if crawler.crawling:
                _stop_crawler(crawler)

    def _force(self) -> None:
        from twisted.internet import reactor

        from crawler.signals import stop_requested

        if self._forced:
            return
        self._forced = True
        logger.warning("Stopping now: the open WARC stays in the spool for the next run")
        for crawler in self._crawlers:
            crawler.signals.send_catch_log(stop_requested, force=True)
        try:
            reactor.stop()  # type: ignore[misc]
        except Exception:  # already stopping
            pass


def _closing(engine: Any) -> bool:
    """The engine is closing its spider (Scrapy has no public flag or signal for it)."""
    return getattr(getattr(engine, "_slot", None), "closing", None) is not None


def _stop_crawler(crawler: Any) -> Any:
    from scrapy.utils.defer import deferred_from_coro

    stop_async = getattr(crawler, "stop_async", None)
    return deferred_from_coro(stop_async()) if stop_async is not None else crawler.stop()


def _engine_stopper(crawler: Any) -> Callable[[], Any]:
    def stop_engine() -> Any:
        from scrapy.utils.defer import deferred_from_coro

        engine = crawler.engine
        stop_async = getattr(engine, "stop_async", None)
        return deferred_from_coro(stop_async()) if stop_async is not None else engine.stop()

    return stop_engine


def interruptible(command: _F) -> _F:
    """Run a CLI command under a :class:`CrawlShutdown` policy; the process is expected to exit after it:
    the handlers stay installed (a signal during the exit can neither end it by a signal nor hang it),
    and the watchdog stays armed if a signal came. In-process callers (tests of ``main``) keep that
    policy: a later Ctrl-C ends their process with exit 1 after FORCE_GRACE seconds."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with CrawlShutdown(exiting=True):
            return command(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def run(process: Any, crawler: Any) -> None:
    """Crawl under the current policy if a command installed one (see :func:`interruptible`), else
    under Scrapy's own signal handling."""
    if CrawlShutdown.current is None:
        process.crawl(crawler)
        process.start()
    else:
        CrawlShutdown.current.run(process, crawler)
