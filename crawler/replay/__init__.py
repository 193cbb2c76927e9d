"""Replay of the archive in a browser: pywb run as a separate process over our WARCs and CDXJ indexes."""

from crawler.replay.pywb import (
    COLLECTION,
    PywbNotFound,
    ReplayError,
    ReplayServer,
    find_pywb_venv,
    prepare_collection,
    run_replay,
    start_pywb,
)

__all__ = [
    "COLLECTION",
    "PywbNotFound",
    "ReplayError",
    "ReplayServer",
    "find_pywb_venv",
    "prepare_collection",
    "run_replay",
    "start_pywb",
]
