"""A fresh Python child process speaking over two pipes (the folder holding the ``crawler`` package on
its path, whatever the cwd): the dedup process and the catch-up's
pool workers both start this way (never a fork of a crawl process, which has threads)."""

from __future__ import annotations

import os
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path

_PACKAGE_PARENT = Path(__file__).resolve().parent.parent.parent


def start_child(module: str) -> tuple[subprocess.Popen[bytes], Connection, Connection]:
    """Run ``module.serve(requests_fd, replies_fd)`` in a new interpreter; ``(process, requests,
    replies)``: the parent writes requests and reads replies. Only the child holds the other
    ends, so each side's end-of-file is the other's exit."""
    requests_r, requests_w = os.pipe()
    replies_r, replies_w = os.pipe()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_PARENT), env.get("PYTHONPATH")) if p)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", f"from {module} import serve; serve({requests_r}, {replies_w})"],
            pass_fds=(requests_r, replies_w), stdin=subprocess.DEVNULL, env=env)
    except BaseException:
        for fd in (requests_r, requests_w, replies_r, replies_w):
            os.close(fd)
        raise
    os.close(requests_r)
    os.close(replies_w)
    return proc, Connection(requests_w, readable=False), Connection(replies_r, writable=False)
