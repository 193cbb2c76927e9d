"""AnalysisPool: worker processes that analyse the catch-up's articles ahead of it, answers taken in order.

The catch-up's expensive part per article (parsing the record, decoding the page, extraction and
signals: ``crawler.catchup_record.analyse_record``) depends on the record's bytes alone, so it can run
ahead of the catalog in other processes. What depends on the order (``Detector.add``, the metadata
records, the checkpoint) stays in the catch-up's process: :meth:`AnalysisPool.ordered` hands the
answers back in the order the records were read, so the catalog, its flags and the records written
are those of an analysis in one process.

Bounded: at most ``(QUEUE_PER_WORKER + 2) * workers + 2`` records and ``LOOKAHEAD_BYTES`` of them
are read ahead of the one the catch-up is adding. While the answer it needs next is not in, the
catch-up's process analyses a record no worker has yet: it is a worker too.

Workers are fresh interpreters (``python -c``, as the dedup child of crawler/dedup/service.py, and
for the same reasons: never a fork, the crawl has threads; not ``multiprocessing``, whose spawn runs
the console script's ``__main__`` again in each worker and starts a resource tracker beside them).
Each reads tasks from a pipe only this process writes: when this process ends in any way, its
workers read end-of-file and exit. They ignore SIGINT (a Ctrl-C reaches the process group; the
catch-up decides). A worker that dies (OOM, SIGKILL) or fails on a task loses nothing: its
unanswered tasks come back as :class:`PoolFailure` and the catch-up analyses them itself.
"""

from __future__ import annotations

import logging
import pickle
import queue
import signal
import subprocess
import threading
import traceback
from collections import deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from crawler.dedup.child import start_child

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Read = TypeVar("Read")

#: Tasks a worker holds at once: one in its hands, one queued in its pipe, so it never waits for
#: the catch-up between two pages.
QUEUE_PER_WORKER = 2
#: Bytes of records (as stored, one gzip member each) read ahead at most, whatever their number:
#: a few news pages are 30 KB each, a rare huge one should not multiply.
LOOKAHEAD_BYTES = 16_000_000
#: How long ``close`` waits for a worker to exit before killing it.
_EXIT_TIMEOUT = 5.0


@dataclass(frozen=True)
class PoolFailure:
    """No answer from the pool for a task: its worker died or raised. The caller does the task itself."""

    reason: str


class _Slot:
    """One read in the look-ahead window: its task, where the task went, its answer once known."""

    def __init__(self, item: Any, read: Any, task: Callable[[], Any] | None) -> None:
        self.item, self.read, self.task = item, read, task
        self.size = len(read) if task is not None and isinstance(read, (bytes, bytearray)) else 0
        self.seq: int | None = None  # the pool's ticket, once a worker has it
        self.answer: tuple[Any] | None = None  # the answer, once known
        self.raised: BaseException | None = None  # what the task raised, run here

    @property
    def unassigned(self) -> bool:
        return self.task is not None and self.seq is None and self.answer is None and self.raised is None

    @property
    def waiting(self) -> bool:
        return self.task is not None and self.answer is None and self.raised is None

    def run_here(self) -> None:
        assert self.task is not None
        try:
            self.answer = (self.task(),)
        except Exception as e:
            self.raised = e

    def take(self) -> Any:
        if self.raised is not None:
            raise self.raised
        return self.answer[0] if self.answer is not None else None


class _Worker:
    """One worker process, the thread sending it tasks and the thread reading its answers."""

    def __init__(self, pool: AnalysisPool) -> None:
        self.pool = pool
        self.pending: deque[int] = deque()  # tasks sent and not answered, in the order sent
        self.alive = True
        self.outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.proc, self._requests, self._replies = start_child("crawler.catchup_pool")
        self._sender = threading.Thread(target=self._send_loop, name="catchup-pool-send", daemon=True)
        self._reader = threading.Thread(target=self._read_loop, name="catchup-pool-read", daemon=True)
        self._sender.start()
        self._reader.start()

    def _send_loop(self) -> None:
        # A thread of its own: a worker busy with a page does not read its pipe, and the catch-up
        # must not wait on it to hand the next task to another.
        while (blob := self.outbox.get()) is not None:
            try:
                self._requests.send_bytes(blob)
            except OSError:  # the worker is gone: the reader sees its end-of-file
                break
        self._requests.close()

    def _read_loop(self) -> None:
        while True:
            try:
                seq, status, value = self._replies.recv()
            except (EOFError, OSError):
                break
            except Exception:  # an answer that cannot be unpickled: this worker is broken
                logger.warning("dedup catch-up: unreadable answer from pool worker %(pid)d", {"pid": self.proc.pid},
                               exc_info=True)
                self.proc.kill()
                break
            self.pool._answer(self, seq, status, value)
        self._replies.close()
        try:
            returncode: int | None = self.proc.wait(_EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:  # closed its pipe but lingers
            self.proc.kill()
            returncode = self.proc.wait()
        self.outbox.put(None)
        self.pool._lost(self, returncode)

    def close(self, *, kill: bool) -> None:
        self.outbox.put(None)  # end-of-file: the worker exits after the task in hand
        if kill or self.pending:  # nothing it still has to do is wanted
            self.proc.kill()

    def join(self) -> None:
        self._reader.join(_EXIT_TIMEOUT * 2)


class AnalysisPool:
    """``size`` worker processes, started at once. :meth:`ordered` is the way in; :meth:`close` when done."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one worker, got {size}")
        self._cond = threading.Condition()
        self._answers: dict[int, tuple[str, Any]] = {}
        self._dropped: set[int] = set()  # tasks whose answer nobody will take
        self._seq = 0
        self.lost_workers = 0
        self._workers: list[_Worker] = []
        try:
            for _ in range(size):
                self._workers.append(_Worker(self))
        except BaseException:
            self.close(kill=True)
            raise

    @property
    def size(self) -> int:
        return len(self._workers)

    @property
    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._workers]

    def ordered(self, reads: Iterable[tuple[Item, Read]], task_of: Callable[[Item, Read], Callable[[], Any] | None],
                ) -> Generator[tuple[Item, Read, Any], None, None]:
        """``(item, read, answer)`` for each of ``reads``, in their order. ``task_of`` gives the task
        of a read (a picklable callable, whose class a worker can import), or None for a read with
        nothing to do (its answer is None). An answer is the task's return value, or
        :class:`PoolFailure` when its worker died or raised (the caller does it again itself).

        Reads are taken ahead of the caller, within the look-ahead bounds. Each worker is kept
        ``QUEUE_PER_WORKER`` tasks deep; while the answer the caller needs next is not in, this
        process runs the next task no worker has (on two CPUs, a worker and this process share
        the articles: this process's own work per article leaves it time for some). A task run
        here that raises raises when its turn comes, as in one process. Closing the generator
        drops the answers not taken."""
        window: deque[_Slot] = deque()
        held = 0
        limit = (QUEUE_PER_WORKER + 2) * self.size + 2
        pending = iter(reads)
        exhausted = False
        try:
            while True:
                while not exhausted and len(window) < limit and held <= LOOKAHEAD_BYTES:
                    try:
                        item, read = next(pending)
                    except StopIteration:
                        exhausted = True
                        break
                    slot = _Slot(item, read, task_of(item, read))
                    window.append(slot)
                    held += slot.size
                if not window:
                    return
                self._assign(window)
                head = window[0]
                if head.waiting:
                    if head.seq is None or not self._ready(head.seq):
                        spare = next((s for s in window if s.unassigned), None)
                        if spare is not None:  # rather than wait: one no worker has (the head, if none has it)
                            spare.run_here()
                            continue
                    assert head.seq is not None
                    head.answer = (self.result(head.seq),)
                window.popleft()
                held -= head.size
                yield head.item, head.read, head.take()
        finally:
            self.drop([s.seq for s in window if s.seq is not None and s.answer is None])

    def _assign(self, window: Iterable[_Slot]) -> None:
        """Hand the oldest tasks no one has to the workers with room in their queue."""
        for slot in window:
            if not slot.unassigned:
                continue
            with self._cond:
                live = [w for w in self._workers if w.alive and len(w.pending) < QUEUE_PER_WORKER]
            if not live:
                return
            assert slot.task is not None
            slot.seq = self.submit(slot.task)

    def _ready(self, seq: int | None) -> bool:
        with self._cond:
            return seq in self._answers

    def submit(self, task: Callable[[], Any]) -> int:
        """Send ``task`` to the live worker with the fewest tasks waiting; its ticket for :meth:`result`."""
        with self._cond:
            self._seq += 1
            seq = self._seq
        # the task pickled on its own: one the worker cannot unpickle fails alone, the worker lives on
        blob = pickle.dumps((seq, pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)),
                            protocol=pickle.HIGHEST_PROTOCOL)
        with self._cond:
            live = [w for w in self._workers if w.alive]
            if not live:
                self._answers[seq] = ("lost", "no pool worker is running")
                return seq
            worker = min(live, key=lambda w: len(w.pending))
            worker.pending.append(seq)
        worker.outbox.put(blob)
        return seq

    def result(self, seq: int) -> Any:
        """The answer to ticket ``seq`` (waiting for it), or :class:`PoolFailure`."""
        with self._cond:
            while seq not in self._answers:
                self._cond.wait(1.0)  # a timeout: signals reach the main thread between waits
            status, value = self._answers.pop(seq)
        if status == "ok":
            return value
        return PoolFailure(value)

    def drop(self, seqs: Iterable[int]) -> None:
        with self._cond:
            for seq in seqs:
                if self._answers.pop(seq, None) is None:
                    self._dropped.add(seq)

    def close(self, *, kill: bool = False) -> None:
        """Stop the workers (at once with ``kill``, else after the task in hand) and wait for them."""
        for w in self._workers:
            w.close(kill=kill)
        for w in self._workers:
            w.join()

    # -- the reader threads' side ----------------------------------------------------------------
    def _answer(self, worker: _Worker, seq: int, status: str, value: Any) -> None:
        with self._cond:
            if worker.pending and worker.pending[0] == seq:
                worker.pending.popleft()
            if seq in self._dropped:
                self._dropped.discard(seq)
            else:
                self._answers[seq] = (status, value)
            self._cond.notify_all()

    def _lost(self, worker: _Worker, returncode: int | None) -> None:
        with self._cond:
            was_alive, worker.alive = worker.alive, False
            lost = [seq for seq in worker.pending if seq not in self._dropped]
            self._dropped.difference_update(worker.pending)
            worker.pending.clear()
            for seq in lost:
                self._answers[seq] = ("lost", f"pool worker {worker.proc.pid} ended (exit code {returncode})")
            if was_alive and lost:
                self.lost_workers += 1
            self._cond.notify_all()
        if lost:
            logger.warning("dedup catch-up: pool worker %(pid)d ended (exit code %(code)s) with %(n)d articles "
                           "unanswered: they are analysed in the catch-up's own process",
                           {"pid": worker.proc.pid, "code": returncode, "n": len(lost)})


# -- the worker's side ------------------------------------------------------------------------------
def serve(requests_fd: int, replies_fd: int) -> None:
    """A worker's main loop: run each task in order and answer, until end-of-file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s [catch-up worker %(process)d] %(name)s %(levelname)s: %(message)s")
    import crawler.catchup_record  # noqa: F401  the tasks' module (all a worker imports), before the first task

    requests = Connection(requests_fd, writable=False)
    replies = Connection(replies_fd, readable=False)
    while True:
        try:
            seq, task = requests.recv()
        except EOFError:  # the catch-up is done, or gone
            return
        try:
            answer: tuple[int, str, Any] = (seq, "ok", pickle.loads(task)())
        except Exception:
            answer = (seq, "error", traceback.format_exc(limit=-3))
        try:
            replies.send(answer)
        except OSError:  # the catch-up is gone
            return
