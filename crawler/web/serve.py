"""`newsarchive serve`: check the bind and the token, open the archive's indexes, run uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import os
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
        raise ConfigError(f"--host {host} opens the app to the network: set an access token "
                          f"(--token or ${TOKEN_ENV}) that every request must carry")
    if token is not None and len(token) < 16:
        raise ConfigError("the access token must be at least 16 characters")


def build_app(archive: Any, *, token: str | None = None, replay_base: str | None = None, label: str = ""):
    from crawler.report.texts import open_text_index
    from crawler.web.app import AppConfig, create_app

    texts = open_text_index(archive)
    cfg = AppConfig(archive=archive, catalog_path=archive.state_dir / "dedup.sqlite3", texts=texts,
                    archive_label=label, token=token, replay_base=replay_base)
    return create_app(cfg)


def run_serve(args: Any, archive: Any) -> int:
    import uvicorn

    token = args.token or os.environ.get(TOKEN_ENV) or None
    check_bind(args.host, token)
    archive.sync_catalog()
    app = build_app(archive, token=token, label=os.fspath(args.archive),
                    replay_base=args.replay_url or os.environ.get("NEWSARCHIVE_REPLAY_URL") or None)
    print(f"newsarchive: serving {args.archive} on http://{args.host}:{args.port}/ (Ctrl-C stops)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
