"""`newsarchive serve`: check the bind and the token, open the archive's indexes, run uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from crawler.errors import ConfigError

logger = logging.getLogger(__name__)
TOKEN_ENV = "NEWSARCHIVE_TOKEN"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Anything but loopback serves the archive to the network: only with a token."""
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"--host {host} opens the app to the network: set an access token "
            f"(--token or ${TOKEN_ENV}) that every request must carry"
        )
    if token is not None and len(token) < 16:
        raise ConfigError("the access token must be at least 16 characters")


def build_app(
    archive: Any, catalog_path: Path, *, token: str | None = None, replay_base: str | None = None, label: str = ""
):
    from crawler.report.texts import open_text_index
    from crawler.web.app import AppConfig, create_app

    texts = open_text_index(archive, out=sys.stdout)
    cfg = AppConfig(
        archive=archive,
        catalog_path=Path(catalog_path),
        texts=texts,
        archive_label=label or archive.storage.uri,
        token=token,
        replay_base=replay_base,
    )
    return create_app(cfg)


def run_serve(args: Any, archive: Any, catalog_path: Path, *, replay_env: dict[str, str] | None = None,
              token: str | None = None, replay_url: str | None = None) -> int:
    """Serve the app until Ctrl-C; with ``--replay``, pywb beside it (``replay_env``: its S3 settings)."""
    import uvicorn

    token = args.token or token or None
    check_bind(args.host, token)
    archive.sync_catalog()
    replay_base = args.replay_url or replay_url or None
    with ExitStack() as stack:
        if args.replay and not replay_base:
            replay_base = stack.enter_context(_pywb(archive, args.pywb_venv, replay_env)).url
        app = build_app(archive, catalog_path, token=token, replay_base=replay_base)
        print(
            f"newsarchive: serving {archive.storage.uri} on http://{args.host}:{args.port}/"
            + (f", replay at {replay_base}/" if replay_base else "")
            + " (Ctrl-C stops)",
            flush=True,
        )
        # uvicorn re-raises SIGTERM/SIGINT once it has shut down; with the default SIGTERM action the
        # process would die there and leave pywb running. Raised as SystemExit, the stack unwinds and
        # stops pywb first.
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


@contextmanager
def _pywb(archive: Any, venv: str | None, env: dict[str, str] | None) -> Iterator[Any]:
    """pywb (``newsarchive replay``'s engine) on a free loopback port for as long as the app runs.

    Replay stays on loopback even when the app is not: pywb has no token of its own.
    """
    from crawler.archive.storage import is_remote
    from crawler.replay import prepare_collection, start_pywb

    uri = archive.storage.uri
    remote = is_remote(uri)
    with tempfile.TemporaryDirectory(prefix="newsarchive-serve-replay-") as workdir:
        config = prepare_collection(uri, workdir, storage=archive.storage if remote else None)
        with start_pywb(config, host="127.0.0.1", port=0, venv=venv, env=env if remote else None) as server:
            yield server
