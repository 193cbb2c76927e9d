"""`newsarchive serve`: check the bind and the token, open the archive's indexes, run uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
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


def build_app(archive: Any, *, token: str | None = None, replay_base: str | None = None, label: str = ""):
    from crawler.report.texts import open_text_index
    from crawler.web.app import AppConfig, create_app

    texts = open_text_index(archive)
    cfg = AppConfig(
        archive=archive,
        catalog_path=archive.state_dir / "dedup.sqlite3",
        texts=texts,
        archive_label=label,
        token=token,
        replay_base=replay_base,
    )
    return create_app(cfg)


def run_serve(args: Any, archive: Any) -> int:
    import uvicorn

    token = args.token or os.environ.get(TOKEN_ENV) or None
    check_bind(args.host, token)
    archive.sync_catalog()
    replay_base = args.replay_url or os.environ.get("NEWSARCHIVE_REPLAY_URL") or None
    with ExitStack() as stack:
        if getattr(args, "replay", False) and not replay_base:
            replay_base = stack.enter_context(_pywb(args.archive, getattr(args, "pywb_venv", None))).url
        app = build_app(archive, token=token, label=os.fspath(args.archive), replay_base=replay_base)
        print(
            f"newsarchive: serving {args.archive} on http://{args.host}:{args.port}/"
            + (f", replay at {replay_base}/" if replay_base else "")
            + " (Ctrl-C stops)",
            flush=True,
        )
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


@contextmanager
def _pywb(archive_uri: str, venv: str | None) -> Iterator[Any]:
    """pywb (``newsarchive replay``'s engine) on a free loopback port for as long as the app runs.

    Replay stays on loopback even when the app is not: pywb has no token of its own.
    """
    from crawler.replay import prepare_collection, start_pywb

    with tempfile.TemporaryDirectory(prefix="newsarchive-serve-replay-") as workdir:
        config = prepare_collection(archive_uri, workdir)
        with start_pywb(config, host="127.0.0.1", port=0, venv=venv) as server:
            yield server
