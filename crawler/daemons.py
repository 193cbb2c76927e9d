"""Daemon threads for the Scrapy glue: blocking work off the reactor that can never keep the process alive.

Twisted's thread pools (``deferToThread``, ``ThreadPool``) start non-daemon threads, and the reactor
joins its pool when it stops: a blocking call in one (a slow upload, a stuck disk) holds the process
after the crawl is over, past any Ctrl-C. The glue runs its own blocking work here instead, on daemon
threads whose results come back to the reactor thread by ``callFromThread``. A daemon thread is used
only where losing it at exit loses nothing (the spool and its recovery cover the archive; SQLite
rolls back a catalog transaction that did not commit).
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure


def _reply(d: Deferred[Any], f: Callable[..., Any], args: tuple[Any, ...]) -> None:
    from twisted.internet import reactor

    try:
        result = f(*args)
    except BaseException:
        reactor.callFromThread(d.errback, Failure())
    else:
        reactor.callFromThread(d.callback, result)


def in_daemon_thread(f: Callable[..., Any], *args: Any, name: str) -> Deferred[Any]:
    """``f(*args)`` on a new daemon thread; the Deferred fires on the reactor thread."""
    d: Deferred[Any] = Deferred()
    threading.Thread(target=_reply, args=(d, f, args), name=name, daemon=True).start()
    return d


class _Stop:
    pass


class DaemonWorker:
    """One daemon thread that runs submitted calls in order (a one-thread pool that never blocks exit)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._calls: queue.SimpleQueue[tuple[Deferred[Any], Callable[..., Any], tuple[Any, ...]] | _Stop] = (
            queue.SimpleQueue())
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._stopped = False
        self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def submit(self, f: Callable[..., Any], *args: Any) -> Deferred[Any]:
        """``f(*args)`` after the calls already submitted; fails at once once the worker is stopped."""
        d: Deferred[Any] = Deferred()
        if self._stopped:
            d.errback(RuntimeError(f"{self.name} worker is stopped"))
            return d
        self._calls.put((d, f, args))
        return d

    def stop(self, timeout: float | None = None) -> bool:
        """Take no more calls; wait up to ``timeout`` (None: for ever, 0: not at all) for the thread to
        finish the calls queued. Returns whether it has finished."""
        self._stopped = True
        self._calls.put(_Stop())
        if timeout != 0 and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            call = self._calls.get()
            if isinstance(call, _Stop):
                return
            _reply(*call)
