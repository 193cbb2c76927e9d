"""One contract for every archive storage backend (local folder, S3 on a real SeaweedFS),
then what only S3 has: credentials, fail-fast checks, multipart, verified uploads."""

from __future__ import annotations

import hashlib
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from crawler.archive.storage import ArchiveStorage, StorageConfigError, StorageError, open_storage
from crawler.archive.storage.local import LocalStorage

BACKENDS = ["local", pytest.param("s3", marks=pytest.mark.s3)]


def _payload(size: int, seed: bytes = b"warc") -> bytes:
    """Deterministic WARC-looking bytes (no randomness: failures reproduce)."""
    block = b"WARC/1.1\r\nWARC-Type: response\r\n" + hashlib.sha256(seed).hexdigest().encode() + b"\r\n\r\n"
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += block + counter.to_bytes(8, "big") + hashlib.blake2b(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveStorage:
    if request.param == "local":
        return LocalStorage(tmp_path / "archive")
    from crawler.archive.storage.s3 import S3Storage

    uri = request.getfixturevalue("s3_bucket")
    return S3Storage.from_uri(uri, **request.getfixturevalue("s3_kwargs"))


def _write(tmp_path: Path, data: bytes, name: str = "upload.bin") -> Path:
    path = tmp_path / "spool" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# -- the contract ------------------------------------------------------------------


def test_is_an_archive_storage(storage: ArchiveStorage) -> None:
    assert isinstance(storage, ArchiveStorage)
    storage.check()


def test_put_file_then_read_back_exact_bytes(storage: ArchiveStorage, tmp_path: Path) -> None:
    data = _payload(300_000)
    storage.put_file(_write(tmp_path, data), "warcs/a.warc.gz")

    assert storage.exists("warcs/a.warc.gz")
    assert storage.size("warcs/a.warc.gz") == len(data)
    for offset, length in [(0, 1), (0, 100), (12_345, 6_789), (len(data) - 10, 10), (0, len(data))]:
        assert storage.open_range("warcs/a.warc.gz", offset, length) == data[offset : offset + length]
    with storage.open_stream("warcs/a.warc.gz") as stream:
        assert stream.read(10) == data[:10]
        assert stream.read() == data[10:]


def test_put_file_replaces_an_older_copy(storage: ArchiveStorage, tmp_path: Path) -> None:
    storage.put_file(_write(tmp_path, b"old" * 1000, "one"), "warcs/x.warc.gz")
    storage.put_file(_write(tmp_path, b"new!", "two"), "warcs/x.warc.gz")
    assert storage.size("warcs/x.warc.gz") == 4
    assert storage.open_range("warcs/x.warc.gz", 0, 4) == b"new!"


def test_put_bytes(storage: ArchiveStorage) -> None:
    storage.put_bytes(b'{"url": "https://example.com/"}\n', "indexes/a.cdxj")
    assert storage.exists("indexes/a.cdxj")
    assert storage.open_range("indexes/a.cdxj", 1, 5) == b'"url"'
    with storage.open_stream("indexes/a.cdxj") as stream:
        assert stream.read() == b'{"url": "https://example.com/"}\n'
    storage.put_bytes(b"", "indexes/empty.cdxj")
    assert storage.size("indexes/empty.cdxj") == 0


def test_list_is_sorted_and_scoped_to_a_folder(storage: ArchiveStorage) -> None:
    # "a/b" vs "a-c": byte order puts "-" (0x2d) before "/" (0x2f); SeaweedFS lists
    # folders first, so this catches a backend that returns the store's order.
    names = ["warcs/a/b.warc.gz", "warcs/a-c.warc.gz", "warcs/B.warc.gz", "warcs/a0.warc.gz", "indexes/z.cdxj"]
    for name in names:
        storage.put_bytes(name.encode(), name)
    storage.put_bytes(b"x", "warcs-old/y.warc.gz")

    assert list(storage.list()) == sorted(names + ["warcs-old/y.warc.gz"])
    assert list(storage.list("warcs")) == sorted(n for n in names if n.startswith("warcs/"))
    assert list(storage.list("warcs/")) == list(storage.list("warcs"))
    assert list(storage.list("nothing-here")) == []


def test_exists_and_delete(storage: ArchiveStorage) -> None:
    assert not storage.exists("warcs/missing.warc.gz")
    storage.put_bytes(b"abc", "warcs/d.warc.gz")
    assert storage.exists("warcs/d.warc.gz")
    storage.delete("warcs/d.warc.gz")
    assert not storage.exists("warcs/d.warc.gz")
    assert list(storage.list("warcs")) == []
    storage.delete("warcs/d.warc.gz")  # deleting what is gone is not an error


def test_missing_name_raises_storage_error(storage: ArchiveStorage) -> None:
    with pytest.raises(StorageError, match="missing.warc.gz"):
        storage.open_range("warcs/missing.warc.gz", 0, 10)
    with pytest.raises(StorageError, match="missing.warc.gz"):
        storage.open_stream("warcs/missing.warc.gz")


def test_size_of_a_missing_name_raises_storage_error(storage: ArchiveStorage) -> None:
    with pytest.raises(StorageError, match="missing.warc.gz"):
        storage.size("warcs/missing.warc.gz")


@pytest.mark.parametrize("offset,length", [(90, 20), (100, 1), (500, 10)], ids=["past-end", "at-end", "far"])
def test_range_beyond_the_end_raises(storage: ArchiveStorage, offset: int, length: int) -> None:
    storage.put_bytes(bytes(100), "warcs/short.warc.gz")
    with pytest.raises(StorageError, match="short.warc.gz"):
        storage.open_range("warcs/short.warc.gz", offset, length)


def test_names_outside_the_archive_are_refused(storage: ArchiveStorage) -> None:
    with pytest.raises(StorageError):
        storage.put_bytes(b"x", "../escape")


def test_open_stream_does_not_load_the_object_in_memory(storage: ArchiveStorage, tmp_path: Path) -> None:
    data = _payload(8 * 1024 * 1024)
    storage.put_file(_write(tmp_path, data), "warcs/big.warc.gz")
    del data
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        with storage.open_stream("warcs/big.warc.gz") as stream:
            while chunk := stream.read(64 * 1024):
                digest.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.digest() == hashlib.sha256(_payload(8 * 1024 * 1024)).digest()
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes while streaming 8 MiB"


# -- S3 only -------------------------------------------------------------------------

def _s3(uri: str, **kwargs: Any) -> Any:
    from crawler.archive.storage.s3 import S3Storage

    return S3Storage.from_uri(uri, **kwargs)


@pytest.mark.s3
def test_s3_from_environment_through_the_registry(s3_bucket: str, s3_env: dict[str, str]) -> None:
    """open_storage() takes no credentials: boto3's chain and AWS_ENDPOINT_URL must do."""
    storage = open_storage(s3_bucket)
    storage.check()
    storage.put_bytes(b"hello", "indexes/env.cdxj")
    assert storage.open_range("indexes/env.cdxj", 1, 3) == b"ell"
    assert storage.local_path("indexes/env.cdxj") is None


@pytest.mark.s3
def test_s3_put_file_leaves_the_local_file(s3_bucket: str, s3_kwargs: dict[str, str], tmp_path: Path) -> None:
    path = _write(tmp_path, b"kept")
    _s3(s3_bucket, **s3_kwargs).put_file(path, "warcs/k.warc.gz")
    assert path.read_bytes() == b"kept"


@pytest.mark.s3
def test_s3_prefix_maps_names_to_keys(s3_bucket: str, s3_kwargs: dict[str, str], s3_admin: Any) -> None:
    storage = _s3(s3_bucket, **s3_kwargs)
    storage.put_bytes(b"x", "warcs/p.warc.gz")
    bucket = s3_bucket.split("/")[2]
    keys = [o["Key"] for o in s3_admin.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["archive/warcs/p.warc.gz"]
    assert storage.uri == f"s3://{bucket}/archive/"


@pytest.mark.s3
def test_s3_multipart_upload_is_verified(s3_bucket: str, s3_kwargs: dict[str, str], tmp_path: Path) -> None:
    data = _payload(20 * 1024 * 1024 + 123)
    path = _write(tmp_path, data)
    storage = _s3(s3_bucket, **s3_kwargs, multipart_threshold=8 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    calls: list[str] = []
    storage.client.meta.events.register("before-call.s3", lambda model, **kw: calls.append(model.name))

    storage.put_file(path, "warcs/multi.warc.gz")

    assert calls.count("CreateMultipartUpload") == 1
    assert calls.count("UploadPart") == 5
    assert calls.count("CompleteMultipartUpload") == 1
    assert "HeadObject" in calls  # the verification after upload
    head = storage.client.head_object(Bucket=storage.bucket, Key="archive/warcs/multi.warc.gz", ChecksumMode="ENABLED")
    assert head["ChecksumType"] == "FULL_OBJECT"  # one CRC32 of the whole file, checked by the server
    assert storage.size("warcs/multi.warc.gz") == len(data)
    with storage.open_stream("warcs/multi.warc.gz") as stream:
        assert hashlib.sha256(stream.read()).digest() == hashlib.sha256(data).digest()
    assert path.read_bytes() == data


@pytest.mark.s3
def test_s3_refuses_bytes_that_differ_from_the_checksum(
    s3_bucket: str, s3_kwargs: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server checks the CRC32 sent with the upload: a mismatch never becomes an object."""
    import crawler.archive.storage.s3 as s3mod

    monkeypatch.setattr(s3mod, "file_crc32", lambda path: "AAAAAA==")
    storage = _s3(s3_bucket, **s3_kwargs, multipart_threshold=8 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    for size, name in [(1000, "warcs/small.warc.gz"), (12 * 1024 * 1024, "warcs/large.warc.gz")]:
        with pytest.raises(StorageError, match="BadDigest"):
            storage.put_file(_write(tmp_path, _payload(size)), name)
        assert not storage.exists(name)


@pytest.mark.s3
def test_s3_a_stored_object_that_differs_is_removed(
    s3_bucket: str, s3_kwargs: dict[str, str], tmp_path: Path
) -> None:
    """Verification after upload: if HEAD reports other bytes, the object goes and the upload fails."""
    storage = _s3(s3_bucket, **s3_kwargs)

    def corrupt(parsed: dict[str, Any], **kwargs: Any) -> None:
        parsed["ContentLength"] = parsed.get("ContentLength", 0) + 1

    storage.client.meta.events.register("after-call.s3.HeadObject", corrupt)
    with pytest.raises(StorageError, match="does not match"):
        storage.put_file(_write(tmp_path, b"abc"), "warcs/bad.warc.gz")
    storage.client.meta.events.unregister("after-call.s3.HeadObject", corrupt)
    assert not storage.exists("warcs/bad.warc.gz")


@pytest.mark.s3
def test_s3_open_range_is_one_ranged_get(s3_bucket: str, s3_kwargs: dict[str, str]) -> None:
    storage = _s3(s3_bucket, **s3_kwargs)
    data = _payload(100_000)
    storage.put_bytes(data, "warcs/r.warc.gz")
    sent: list[Any] = []
    storage.client.meta.events.register("before-send.s3", lambda request, **kw: sent.append(request))

    assert storage.open_range("warcs/r.warc.gz", 5_000, 1_234) == data[5_000:6_234]

    assert len(sent) == 1
    assert sent[0].method == "GET"
    assert sent[0].headers["Range"] in (b"bytes=5000-6233", "bytes=5000-6233")


@pytest.mark.s3
def test_s3_put_file_to_a_missing_bucket_fails(s3_kwargs: dict[str, str], tmp_path: Path) -> None:
    storage = _s3("s3://no-such-bucket-here/archive", **s3_kwargs)
    with pytest.raises(StorageError, match="NoSuchBucket"):
        storage.put_file(_write(tmp_path, b"x"), "warcs/x.warc.gz")


@pytest.mark.s3
def test_s3_secrets_stay_out_of_repr(s3_bucket: str, s3_kwargs: dict[str, str]) -> None:
    storage = _s3(s3_bucket, **s3_kwargs)
    assert s3_kwargs["secret_key"] not in repr(storage)
    assert s3_kwargs["secret_key"] not in str(vars(storage))


def _config_error(uri: str, secret: str, **kwargs: Any) -> str:
    start = time.monotonic()
    with pytest.raises(StorageConfigError) as excinfo:
        _s3(uri, **kwargs).check()
    elapsed = time.monotonic() - start
    message = str(excinfo.value)
    bucket = uri.split("/")[2]
    assert bucket in message
    assert secret not in message
    assert "\n" not in message
    assert elapsed < 10, f"check() took {elapsed:.1f} s"
    return message


@pytest.mark.s3
def test_s3_check_wrong_secret(s3_bucket: str, seaweedfs: Any) -> None:
    secret = "W" + seaweedfs.admin.secret_key[1:]
    message = _config_error(
        s3_bucket, secret, endpoint_url=seaweedfs.endpoint, access_key=seaweedfs.admin.access_key, secret_key=secret
    )
    assert "SignatureDoesNotMatch" in message


@pytest.mark.s3
def test_s3_check_unknown_access_key(s3_bucket: str, seaweedfs: Any) -> None:
    secret = seaweedfs.admin.secret_key
    message = _config_error(
        s3_bucket, secret, endpoint_url=seaweedfs.endpoint, access_key="AKIANOBODYKNOWS00000", secret_key=secret
    )
    assert "InvalidAccessKeyId" in message


@pytest.mark.s3
def test_s3_check_read_only_identity(s3_bucket: str, seaweedfs: Any) -> None:
    ro = seaweedfs.readonly
    message = _config_error(
        s3_bucket, ro.secret_key, endpoint_url=seaweedfs.endpoint, access_key=ro.access_key, secret_key=ro.secret_key
    )
    assert "AccessDenied" in message and "write" in message
    # Reading with it still works: read-only tools (get, verify, replay) need no more.
    reader = _s3(s3_bucket, endpoint_url=seaweedfs.endpoint, access_key=ro.access_key, secret_key=ro.secret_key)
    assert list(reader.list()) == []


@pytest.mark.s3
def test_s3_check_missing_bucket(s3_kwargs: dict[str, str], s3_admin: Any) -> None:
    message = _config_error("s3://no-such-bucket-here/archive", s3_kwargs["secret_key"], **s3_kwargs)
    assert "does not exist" in message
    buckets = [b["Name"] for b in s3_admin.list_buckets().get("Buckets", [])]
    assert "no-such-bucket-here" not in buckets  # the probe must not create it


@pytest.mark.s3
def test_s3_check_unreachable_endpoint(s3_kwargs: dict[str, str]) -> None:
    from tests.seaweed import closed_port

    kwargs = {**s3_kwargs, "endpoint_url": f"http://127.0.0.1:{closed_port()}"}
    message = _config_error("s3://news-bucket/archive", s3_kwargs["secret_key"], **kwargs)
    assert "cannot connect" in message and kwargs["endpoint_url"] in message


@pytest.mark.s3
def test_s3_check_leaves_no_probe(s3_bucket: str, s3_kwargs: dict[str, str], s3_admin: Any) -> None:
    storage = _s3(s3_bucket, **s3_kwargs)
    storage.check()
    assert s3_admin.list_objects_v2(Bucket=storage.bucket).get("KeyCount", 0) == 0


@pytest.mark.s3
def test_s3_bad_uri_is_a_config_error() -> None:
    with pytest.raises(StorageConfigError):
        _s3("s3:///no-bucket")


@pytest.mark.s3
@pytest.mark.parametrize(
    "kwargs,expected",
    [
        ({"access_key": "AKIAONLYHALF"}, "both an access key and a secret key"),
        ({"endpoint_url": "not a url"}, "Invalid endpoint"),
    ],
    ids=["half-credentials", "bad-endpoint"],
)
def test_s3_bad_client_settings_are_config_errors(kwargs: dict[str, str], expected: str) -> None:
    with pytest.raises(StorageConfigError, match=expected):
        _s3("s3://news-bucket/archive", **kwargs)


@pytest.mark.s3
@pytest.mark.slow
def test_s3_outage_then_recovery_on_the_same_endpoint(make_seaweedfs: Any, tmp_path: Path) -> None:
    """The helper the outage tests rely on: stop() refuses connections, start() brings the
    same endpoint and data back; the storage object works again without being rebuilt."""
    server = make_seaweedfs()
    client = server.client()
    client.create_bucket(Bucket="outage")
    storage = _s3(
        "s3://outage/archive",
        endpoint_url=server.endpoint,
        access_key=server.admin.access_key,
        secret_key=server.admin.secret_key,
    )
    storage.put_bytes(b"before", "indexes/a.cdxj")
    endpoint = server.endpoint

    server.stop()
    with pytest.raises(StorageError, match="b.warc.gz"):
        storage.put_file(_write(tmp_path, b"during"), "warcs/b.warc.gz")
    with pytest.raises(StorageConfigError, match="cannot connect"):
        storage.check()

    server.start()
    assert server.endpoint == endpoint
    assert storage.open_range("indexes/a.cdxj", 0, 6) == b"before"
    storage.put_file(_write(tmp_path, b"after"), "warcs/b.warc.gz")
    assert list(storage.list()) == ["indexes/a.cdxj", "warcs/b.warc.gz"]
