"""Daemon threads for the Scrapy glue: blocking work off the reactor that can never keep the process alive.

Twisted's thread pools (``deferToThread``, ``ThreadPool``) start non-daemon threads, and the reactor
joins its pool when it stops: a blocking call in one (a slow upload, a stuck disk) holds the process
after the crawl is over, past any Ctrl-C. The glue runs its own blocking work here instead, on daemon
threads whose results come back to the reactor thread by ``callFromThread``. A daemon thread is used
only where losing it at exit loses nothing (the spool and its recovery cover the archive; SQLite
rolls back a catalog transaction that did not commit).
"""

from __future__ import annotations

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
