"""The crawl command's signal policy in-process (the whole crawl under signals: tests/integration/test_signals.py)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from crawler.errors import Interrupted
from crawler.shutdown import CrawlShutdown


@pytest.fixture
def saved_handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


def wait_for_signal() -> None:
    for _ in range(200):
        time.sleep(0.005)  # the handler runs between two bytecodes of this loop


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_during_start_up_the_command_stops_with_interrupted(saved_handlers, signum: int) -> None:
    before = signal.getsignal(signum)
    shutdown = CrawlShutdown()
    with pytest.raises(Interrupted, match=rf"^interrupted by {signal.Signals(signum).name}: ") as raised:
        with shutdown:
            os.kill(os.getpid(), signum)
            wait_for_signal()
    assert raised.value.exit_code == 1
    assert signal.getsignal(signum) is before  # restored
    # and the watchdog disarmed: the caller goes on (its deadline was for a process about to exit)
    assert shutdown._exit_at is None and not shutdown._watching


def test_a_signal_swallowed_before_the_crawl_still_stops_it(saved_handlers) -> None:
    class Process:
        crawled = False

        def crawl(self, crawler) -> None:
            self.crawled = True

    shutdown = CrawlShutdown()
    with shutdown:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            wait_for_signal()
        except Interrupted:
            pass  # some library caught it
        process = Process()
        with pytest.raises(Interrupted):
            shutdown.run(process, object())
    assert not process.crawled


def test_once_the_command_returned_a_signal_neither_raises_nor_kills(saved_handlers) -> None:
    """The process is exiting: a late Ctrl-C arms the watchdog (here far away) and nothing else."""
    shutdown = CrawlShutdown(exiting=True, force_grace=3600)
    with shutdown:
        pass
    os.kill(os.getpid(), signal.SIGINT)
    wait_for_signal()
    assert shutdown.received == [signal.SIGINT] and shutdown._exit_at is not None
    shutdown._late = False
    shutdown._exit_at = None  # let the watchdog end
