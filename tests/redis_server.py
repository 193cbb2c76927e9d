"""A real Redis server (Debian's ``redis-server``) on a free loopback port, for tests and benches.

Plain library, no pytest: ``tests/conftest.py`` wraps it in a fixture and ``bench/distributed.py``
uses it directly. No persistence (no RDB, no AOF), data in its own folder, a password always set
(so the tests prove the password never reaches a log). Killed at interpreter exit if still running.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

_RUNNING: set[RedisServer] = set()


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_RUNNING):
        server.stop()


def find_redis_server() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").is_file() else None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """One ``redis-server`` process; ``url`` (with its password) for clients."""

    def __init__(self, data_dir: Path, *, binary: str | None = None) -> None:
        self.binary = binary or find_redis_server()
        if self.binary is None:
            raise FileNotFoundError("redis-server not found (apt-get install redis-server: .ci/system-deps.sh)")
        self.data_dir = Path(data_dir).absolute()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.password = uuid.uuid4().hex
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def client(self):  # -> redis.Redis
        import redis

        return redis.Redis.from_url(self.url)

    def start(self, timeout: float = 10.0) -> RedisServer:
        for _ in range(5):  # a port taken between the probe and the bind: try another
            self.port = _free_port()
            log = open(self.data_dir / "redis.log", "ab")
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
                 "--save", "", "--appendonly", "no", "--requirepass", self.password, "--daemonize", "no",
                 "--unixsocket", ""],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            _RUNNING.add(self)
            if self._wait_ready(timeout):
                return self
            self.stop()
        raise RuntimeError(f"redis-server did not start; see {self.data_dir / 'redis.log'}")

    def _wait_ready(self, timeout: float) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except redis.RedisError:
                    time.sleep(0.02)
            return False
        finally:
            client.close()

    def stop(self) -> None:
        proc, self.process = self.process, None
        _RUNNING.discard(self)
        if proc is None or proc.poll() is not None:
            return
        proc.kill()  # no persistence: nothing to flush
        proc.wait(timeout=10)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
