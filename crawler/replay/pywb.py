"""pywb as the replay engine: find its venv, write its one-collection config, run `wayback` as a child process.

pywb is not imported here: it runs in a venv of its own (``.ci/pywb-venv.sh``) because it pins old
libraries (``redis==2.10.6``, which the ``[distributed]`` extra's scrapy-redis cannot use), it
monkeypatches the standard library with gevent when served, and a crash in it must not take the
caller down. This module only talks to it through files (``config.yaml``, CDXJ) and HTTP. The
child is pywb's ``wayback`` run through ``pywb_plugin.py`` (by that venv's interpreter), which
replays server-not-modified revisits (stored 304s) as the capture they confirm.

Replay URLs, with ``COLLECTION = "archive"``::

    {server.url}/archive/{timestamp}/{url}       framed replay (a banner frame around the page)
    {server.url}/archive/{timestamp}mp_/{url}    the page itself, links rewritten into the archive
    {server.url}/archive/{timestamp}id_/{url}    the archived payload as captured, headers and body

``timestamp`` is any prefix of a 14-digit ``YYYYMMDDhhmmss``; pywb picks the closest capture.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Mapping, Protocol, TextIO
from urllib.parse import unquote, urlsplit

from crawler.errors import EXIT_USAGE, NewsarchiveError

logger = logging.getLogger(__name__)

#: The one collection we configure; it is the first path segment of every replay URL.
COLLECTION = "archive"
#: Environment variable naming the pywb venv (the ``PYWB_VENV`` setting has the same name).
PYWB_VENV_ENV = "PYWB_VENV"
#: Folder name of the pywb venv when none is named, looked for in the cwd, then next to the package.
DEFAULT_VENV_NAME = ".venv-pywb"
#: Indexes fetched from remote storage are merged into this one file: one binary search per
#: lookup instead of one per WARC (pywb opens every CDXJ file of a directory on every query).
MERGED_INDEX_NAME = "archive.cdxj"
#: Most CDXJ files merged at once; more would run into the open-files limit (1024 by default).
MERGE_FAN_IN = 200
#: pywb imports gevent, jinja templates and its rules in about 1.5 s here; leave room for slow CI.
STARTUP_TIMEOUT = 30.0
#: How often to poll a starting pywb, and how long it gets to stop on SIGTERM before SIGKILL.
POLL_INTERVAL = 0.1
STOP_TIMEOUT = 5.0
#: pywb's ``wayback`` with server-not-modified revisits resolved; run by the pywb venv's interpreter.
PLUGIN_PATH = Path(__file__).with_name("pywb_plugin.py")
#: Environment variables of our own venv that would make pywb's interpreter import the wrong packages.
_ENV_LEAKS = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")


class ReplayError(NewsarchiveError):
    """Replay cannot start or run (one clear line for the user)."""


class PywbNotFound(ReplayError):
    """No working pywb venv."""

    exit_code = EXIT_USAGE


class IndexStorage(Protocol):
    """What prepare_collection needs from a remote archive: the subset of ``ArchiveStorage`` that reads."""

    uri: str

    def list(self, prefix: str = "") -> Iterator[str]: ...

    def open_stream(self, name: str) -> BinaryIO: ...


# -- finding pywb ---------------------------------------------------------------------------


def _wayback_in(venv: Path) -> Path:
    if os.name == "nt":  # pragma: no cover - we deploy on Linux; kept so the message stays right
        return venv / "Scripts" / "wayback.exe"
    return venv / "bin" / "wayback"


def _python_in(venv: Path) -> Path:
    if os.name == "nt":  # pragma: no cover - as above
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def find_pywb_venv(venv: str | os.PathLike[str] | None = None) -> Path:
    """The pywb venv: ``venv`` (the PYWB_VENV setting), else ``$PYWB_VENV``, else ``.venv-pywb``
    in the current folder or next to this package (the repository root).

    A venv named explicitly is never replaced by a default one: a wrong setting is an error.
    """
    named = venv if venv is not None else os.environ.get(PYWB_VENV_ENV) or None
    if named is not None:
        candidates = [Path(named).expanduser()]
    else:
        repo_root = Path(__file__).resolve().parents[2]
        candidates = [Path.cwd() / DEFAULT_VENV_NAME, repo_root / DEFAULT_VENV_NAME]
    for candidate in candidates:
        if os.access(_wayback_in(candidate), os.X_OK):
            return candidate.absolute()
    looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise PywbNotFound(
        f"pywb not found (looked for bin/wayback in {looked}): run .ci/pywb-venv.sh or set {PYWB_VENV_ENV}"
    )


# -- the collection ---------------------------------------------------------------------------


def prepare_collection(
    archive_uri: str | os.PathLike[str],
    workdir: str | os.PathLike[str],
    storage: IndexStorage | None = None,
) -> Path:
    """Write ``workdir/config.yaml`` with one pywb collection over the archive; return its path.

    Local archive (a folder or ``file://``): pywb reads ``ARCHIVE/indexes/`` and
    ``ARCHIVE/warcs/`` in place, so WARCs indexed while replay runs show up without a restart.

    S3 archive (``s3://bucket/prefix``): pywb needs its index on local disk, so the CDXJ files
    under ``indexes/`` are fetched through ``storage`` (built from the URI when not given) and
    merged into ``workdir/indexes/archive.cdxj``; pywb reads the WARCs from S3 itself with
    ranged GETs. Endpoint and credentials reach pywb only through its environment
    (``AWS_ENDPOINT_URL_S3``, ``AWS_ACCESS_KEY_ID``, ...), never through this file.
    """
    uri = os.fspath(archive_uri)
    workdir = Path(workdir).absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()

    if scheme in ("", "file") or len(scheme) == 1:  # one letter: a Windows drive, not a scheme
        root = Path(unquote(parts.path) if scheme == "file" else uri).absolute()
        index_dir = root / "indexes"
        if not index_dir.is_dir():
            raise ReplayError(f"no indexes folder in {root}: nothing to replay yet")
        archive_paths = f"{root / 'warcs'}{os.sep}"
    elif scheme == "s3":
        if parts.username or parts.password:
            raise ReplayError("put S3 credentials in the environment (AWS_ACCESS_KEY_ID ...), not in the archive URI")
        prefix = parts.path.strip("/")
        archive_paths = f"s3://{parts.netloc}/{prefix + '/' if prefix else ''}warcs/"
        index_dir = workdir / "indexes"
        if storage is not None:
            fetch_indexes(storage, index_dir)
        else:
            from crawler.archive.storage import open_storage

            own_storage = open_storage(uri)
            try:
                fetch_indexes(own_storage, index_dir)
            finally:
                close = getattr(own_storage, "close", None)
                if close is not None:
                    close()
    else:
        raise ReplayError(f"cannot replay {uri!r}: expected a folder path or s3://bucket/prefix")

    for path in (str(index_dir), archive_paths):
        # pywb formats archive paths as templates ({coll} ...): a brace would be taken for a field.
        if "{" in path or "}" in path:
            raise ReplayError(f"pywb cannot use a path containing braces: {path}")

    config_path = workdir / "config.yaml"
    # JSON strings are valid YAML double-quoted scalars: no YAML library needed in this venv.
    config_path.write_text(
        "# Written by newsarchive (crawler/replay/pywb.py) for one replay session; regenerated each time.\n"
        "collections:\n"
        f"  {COLLECTION}:\n"
        f"    index_paths: {json.dumps(str(index_dir))}\n"
        f"    archive_paths: {json.dumps(archive_paths)}\n"
        "framed_replay: true\n"
        "enable_memento: true\n",
        encoding="utf-8",
    )
    logger.info("pywb collection %(coll)s: index %(index)s, WARCs %(warcs)s",
                {"coll": COLLECTION, "index": index_dir, "warcs": archive_paths})
    return config_path


def read_collection_paths(config_path: str | os.PathLike[str]) -> tuple[Path, str]:
    """``(index_paths, archive_paths)`` of a config written by prepare_collection."""
    values = {}
    for line in Path(config_path).read_text(encoding="utf-8").splitlines():
        key, _, value = line.strip().partition(": ")
        if key in ("index_paths", "archive_paths"):
            values[key] = json.loads(value)
    return Path(values["index_paths"]), values["archive_paths"]


def fetch_indexes(storage: IndexStorage, index_dir: Path) -> Path:
    """Copy every ``indexes/*.cdxj`` of ``storage`` to local disk and merge them into one sorted file."""
    names = [name for name in storage.list("indexes/") if name.endswith(".cdxj")]
    if not names:
        raise ReplayError(f"no CDXJ indexes under {getattr(storage, 'uri', 'the archive')}/indexes/: nothing to replay yet")
    download_dir = index_dir.with_name(index_dir.name + ".download")
    shutil.rmtree(download_dir, ignore_errors=True)
    download_dir.mkdir(parents=True)
    index_dir.mkdir(parents=True, exist_ok=True)
    try:
        local = []
        for i, name in enumerate(names):
            # Numbered, not named: index names may repeat under different sub-folders.
            path = download_dir / f"{i:06d}.cdxj"
            with storage.open_stream(name) as src, open(path, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            local.append(path)
        merged = index_dir / MERGED_INDEX_NAME
        merge_cdxj(local, merged)
    finally:
        shutil.rmtree(download_dir, ignore_errors=True)
    logger.info("merged %(count)d CDXJ indexes into %(path)s", {"count": len(names), "path": merged})
    return merged


def merge_cdxj(paths: Iterable[Path], out_path: Path, fan_in: int = MERGE_FAN_IN) -> None:
    """Merge sorted CDXJ files into ``out_path`` (written whole, then renamed into place).

    pywb binary-searches a CDXJ file by plain byte order of its lines, which is the order
    ``cdxj-indexer`` and our writer produce. An unsorted input would make captures silently
    unfindable, so it is an error here.
    """
    paths = list(paths)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".merge-") as scratch:
        level = 0
        while len(paths) > fan_in:
            merged_level = []
            for start in range(0, len(paths), fan_in):
                part = Path(scratch, f"{level}-{start}.cdxj")
                _merge_into(paths[start : start + fan_in], part)
                merged_level.append(part)
            paths, level = merged_level, level + 1
        tmp = out_path.with_name(out_path.name + ".part")  # not *.cdxj: pywb ignores it meanwhile
        _merge_into(paths, tmp)
        os.replace(tmp, out_path)


def _merge_into(paths: list[Path], out_path: Path) -> None:
    with ExitStack() as stack:
        sources = [_sorted_lines(stack.enter_context(open(p, "rb")), p) for p in paths]
        with open(out_path, "wb") as out:
            out.writelines(heapq.merge(*sources))


def _sorted_lines(f: BinaryIO, path: Path) -> Iterator[bytes]:
    previous = b""
    for line in f:
        if not line.strip():
            continue
        if not line.endswith(b"\n"):
            line += b"\n"
        if line < previous:
            raise ReplayError(f"CDXJ index {path} is not sorted (pywb would miss captures)")
        previous = line
        yield line


# -- the server ---------------------------------------------------------------------------------


class ReplayServer:
    """A running ``wayback`` process; stop it with ``stop()`` or by leaving the ``with`` block."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log_path: Path, log_file: BinaryIO) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path
        self._log_file = log_file

    def replay_url(self, url: str, timestamp: str = "", mode: str = "") -> str:
        """The replay URL of ``url`` near ``timestamp``; ``mode="id_"`` gives the archived bytes as captured."""
        return f"{self.url}/{COLLECTION}/{timestamp}{mode}/{url}"

    def running(self) -> bool:
        return self.process.poll() is None

    def wait(self) -> int:
        return self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self._log_file.closed:
            self._log_file.close()

    def __enter__(self) -> ReplayServer:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ReplayServer({self.url!r}, pid={self.process.pid})"


def start_pywb(
    config_dir: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    env: Mapping[str, str | None] | None = None,
    *,
    venv: str | os.PathLike[str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
) -> ReplayServer:
    """Run pywb's ``wayback -p PORT -b HOST`` (through ``pywb_plugin.py``) in ``config_dir`` (or the
    folder of a given ``config.yaml``) and return once it answers HTTP.

    ``port=0`` picks a free port. ``env`` is added to this process's environment (a ``None``
    value removes a variable): that is how S3 endpoint and credentials reach pywb, never argv.
    pywb's own output goes to ``log_path`` (default ``config_dir/pywb.log``).
    """
    config_dir = Path(config_dir).absolute()
    if config_dir.is_file():
        if config_dir.name != "config.yaml":
            raise ReplayError(f"pywb reads config.yaml from its working folder, not {config_dir.name}")
        config_dir = config_dir.parent
    if not (config_dir / "config.yaml").is_file():
        raise ReplayError(f"no config.yaml in {config_dir}: call prepare_collection first")
    # -I: isolated, so neither this folder (it holds pywb.py) nor PYTHON* variables shadow pywb.
    command = [str(_python_in(find_pywb_venv(venv))), "-I", str(PLUGIN_PATH)]

    child_env = {k: v for k, v in os.environ.items() if k not in _ENV_LEAKS}
    for key, value in (env or {}).items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = value
    log_path = Path(log_path) if log_path else config_dir / "pywb.log"

    # pywb does not report the port it bound when given -p 0, so pick one; a lost race shows as
    # "Address already in use" and a retry on another port.
    attempts = 1 if port else 3
    for attempt in range(attempts):
        bind_port = port or _free_port(host)
        log_file = open(log_path, "ab")
        # -t: gevent greenlets, not OS threads; the default 4 is too few for a page's many resources.
        argv = [*command, "-p", str(bind_port), "-b", host, "-t", "16"]
        logger.debug("starting %(argv)s in %(cwd)s", {"argv": argv, "cwd": config_dir})
        # A session of its own: Ctrl-C in a terminal reaches only us, and we stop pywb in order
        # (otherwise pywb may exit first and replay would report it as a crash).
        process = subprocess.Popen(
            argv,
            cwd=config_dir,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = ReplayServer(process, f"http://{_url_host(host)}:{bind_port}", log_path, log_file)
        try:
            _wait_ready(server, startup_timeout)
            logger.info("pywb replay at %(url)s (pid %(pid)d)", {"url": server.url, "pid": process.pid})
            return server
        except ReplayError:
            server.stop()
            if attempt + 1 < attempts and "Address already in use" in _tail(log_path):
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _wait_ready(server: ReplayServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    probe = f"{server.url}/{COLLECTION}/"  # the collection search page: config and index loaded
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an http_proxy
    while True:
        code = server.process.poll()
        if code is not None:
            raise ReplayError(f"pywb exited with code {code} at start: {_last_line(server.log_path)}")
        try:
            with opener.open(probe, timeout=2) as response:
                response.read()
                return
        except urllib.error.HTTPError as e:
            raise ReplayError(f"pywb answered {e.code} for {probe}: {_last_line(server.log_path)}") from None
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            raise ReplayError(f"pywb did not answer at {server.url} within {timeout:.0f} s (log: {server.log_path})")
        time.sleep(POLL_INTERVAL)


def _tail(path: Path, size: int = 4096) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _last_line(path: Path) -> str:
    lines = [line for line in _tail(path).splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"no output (log: {path})"


def check_first_capture(server: ReplayServer, index_dir: Path) -> str | None:
    """Replay the first non-revisit capture of the index; describe the problem if pywb cannot load it."""
    capture = _first_capture(index_dir)
    if capture is None:
        return f"the index in {index_dir} has no captures"
    timestamp, fields = capture
    url = server.replay_url(fields["url"], timestamp, "id_")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    try:
        with opener.open(url, timeout=30) as response:
            response.read(1)
    except urllib.error.HTTPError as e:
        if e.code >= 500:
            return (
                f"pywb could not load {fields.get('filename')} (HTTP {e.code} for {fields['url']}): "
                "check that the WARCs exist and, for S3, the endpoint and credentials in the environment"
            )
    except OSError as e:
        return f"pywb did not answer {url}: {e}"
    return None


def _first_capture(index_dir: Path) -> tuple[str, dict[str, str]] | None:
    for path in sorted(index_dir.glob("*.cdxj")):
        with open(path, "rb") as f:
            for line in f:
                parts = line.split(b" ", 2)
                if len(parts) < 3:
                    continue
                try:
                    fields = json.loads(parts[2])
                except ValueError:
                    continue
                if fields.get("url") and fields.get("mime") != "warc/revisit":
                    return parts[1].decode("ascii", "replace"), fields
    return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


# -- the CLI entry ---------------------------------------------------------------------------------


def run_replay(
    archive_uri: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    venv: str | os.PathLike[str] | None = None,
    env: Mapping[str, str | None] | None = None,
    storage: IndexStorage | None = None,
    workdir: str | os.PathLike[str] | None = None,
    out: TextIO | None = None,
) -> int:
    """``newsarchive replay``: serve the archive until Ctrl-C; return the exit code.

    Raises ReplayError (one line for the user) when pywb or the archive is missing.
    """
    out_stream = out or sys.stdout
    with ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="newsarchive-replay-"))
        config = prepare_collection(archive_uri, workdir, storage=storage)
        server = stack.enter_context(start_pywb(config, host=host, port=port, env=env, venv=venv))
        problem = check_first_capture(server, read_collection_paths(config)[0])
        if problem:
            # Not fatal: other WARCs may still replay; but a wrong S3 secret or endpoint otherwise
            # shows only as a bare 503 on every page (pywb logs no reason).
            logger.warning("%(problem)s", {"problem": problem})
            print(f"warning: {problem}", file=out_stream)
        with _stop_requested() as stop:  # handlers first: Ctrl-C may follow the banner at once
            print(f"Replaying {os.fspath(archive_uri)} at {server.url}/{COLLECTION}/ (Ctrl-C to stop)", file=out_stream)
            out_stream.flush()
            code = _serve_until_stopped(server, stop)
        if code is None:
            return 0
        raise ReplayError(f"pywb stopped with code {code}: {_last_line(server.log_path)}")
    return 0  # pragma: no cover


@contextmanager
def _stop_requested() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while the block runs (the main thread's handlers are
    restored after it). A signal only sets the flag: a KeyboardInterrupt raised inside
    ``Popen.wait`` can leave Popen's internal lock held, and stopping pywb then hangs."""
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda _signum, _frame: stop.set())
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _serve_until_stopped(server: ReplayServer, stop: threading.Event) -> int | None:
    """Wait for a stop request (None) or for pywb to exit on its own (its code)."""
    try:
        while not stop.wait(POLL_INTERVAL):
            code = server.process.poll()
            if code is not None:
                return code
        return None
    except KeyboardInterrupt:  # not the main thread: the default handler raised
        return None
