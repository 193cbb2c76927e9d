"""An S3 bucket (AWS or any S3-compatible store) as archive storage: the only boto3 user.

``s3://bucket/prefix`` maps the name ``warcs/X.warc.gz`` to the key ``prefix/warcs/X.warc.gz``.

Threads: one :class:`S3Storage` holds one boto3 *client*, built once in ``__init__``.
boto3 clients are thread-safe, so a storage can be shared by every upload and reader
thread; boto3 *resources* and *sessions* are not, which is why neither is ever shared
here (the session is private and only used, under a lock, to build clients).

Credentials come from boto3's usual chain (environment, shared config and credentials
files, SSO, instance roles) unless given explicitly; ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_S3`` are honoured by boto3 itself when no ``endpoint_url`` is passed.
Secrets never appear in messages, logs or ``repr``.
"""

from __future__ import annotations

import base64
import logging
import threading
import uuid
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Iterator
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from crawler.archive.storage import StorageConfigError, StorageError

logger = logging.getLogger(__name__)

MB = 1024 * 1024

#: Files from this size up go as multipart uploads of MULTIPART_CHUNKSIZE parts, sent
#: MAX_CONCURRENCY at a time; smaller files go as one PutObject. These are boto3's own
#: defaults, kept on purpose: on SeaweedFS over loopback (2 shared cores, bench/storage.py,
#: 4 x 64 MB files) 8 MB x 10 gave 28-46 MB/s, 16 MB x 8 26-37, 32 MB x 4 32-38,
#: 8 MB x 4 34-35, a single PutObject 38-52: the server, not the part layout, sets the
#: pace, and run-to-run noise was larger than any difference. Over a WAN more
#: concurrency helps; raise max_concurrency there rather than the part size.
MULTIPART_THRESHOLD = 8 * MB
MULTIPART_CHUNKSIZE = 8 * MB
MAX_CONCURRENCY = 10

#: ``check()`` must fail in seconds on an unreachable endpoint, not after boto3's
#: default 60 s connect timeout times its retries.
CHECK_CONNECT_TIMEOUT = 3
CHECK_READ_TIMEOUT = 5
CHECK_MAX_ATTEMPTS = 2

#: Normal operations: boto3's "standard" retry mode (backoff with jitter, retries
#: throttling and 5xx and connection errors) with a few more attempts than its default.
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
MAX_ATTEMPTS = 5

#: CRC32 is the one checksum S3 (and SeaweedFS, tested) verifies as a *full-object*
#: checksum on multipart uploads too, and it costs ~0.5 ms/MB here (zlib, 2.2 GB/s).
CHECKSUM_READ_SIZE = 8 * MB

#: Key of the write probe made by ``check()``, under the prefix; ``list()`` hides it.
PROBE_PREFIX = ".write-probe-"

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}

#: Error codes from S3 -> what the user should read (``check()`` messages).
_CONFIG_ERRORS = {
    "NoSuchBucket": "the bucket does not exist",
    "SignatureDoesNotMatch": "the secret key is wrong (SignatureDoesNotMatch)",
    "InvalidAccessKeyId": "the access key is unknown to this endpoint (InvalidAccessKeyId)",
    "AccessDenied": "access denied",
    "InvalidBucketName": "the bucket name is not valid",
    "ExpiredToken": "the session token has expired",
    "InvalidToken": "the session token is not valid",
}


def _crc32_b64(value: int) -> str:
    return base64.b64encode(value.to_bytes(4, "big")).decode("ascii")


def file_crc32(path: Path) -> str:
    """Base64 CRC32 of a file, as S3 writes it in ``ChecksumCRC32``."""
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHECKSUM_READ_SIZE):
            crc = zlib.crc32(chunk, crc)
    return _crc32_b64(crc)


def _error_code(e: botocore.exceptions.ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code") or e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?"))


def _describe(e: BaseException) -> str:
    """One line for a boto3/botocore failure; never includes credentials."""
    if isinstance(e, botocore.exceptions.ClientError):
        err = e.response.get("Error", {})
        code = _error_code(e)
        message = err.get("Message") or ""
        return f"{code}: {message}".rstrip(": ") if message else code
    return " ".join(str(e).split()) or type(e).__name__


class S3Storage:
    """Archive files as objects under ``s3://bucket/prefix/``."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        region: str | None = None,
        verify: bool | str | None = None,
        use_ssl: bool = True,
        addressing_style: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunksize: int = MULTIPART_CHUNKSIZE,
        max_concurrency: int = MAX_CONCURRENCY,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        if not bucket:
            raise StorageConfigError("an S3 archive needs a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.uri = f"s3://{bucket}/{self.prefix}"
        if bool(access_key) != bool(secret_key):
            raise StorageConfigError(
                f"S3 bucket {bucket!r}: give both an access key and a secret key, or neither (boto3's chain)"
            )
        # Empty strings come from unset settings: treat them as "not given" so the
        # default chain and AWS_ENDPOINT_URL still apply.
        try:
            self._session = boto3.session.Session(
                aws_access_key_id=access_key or None,
                aws_secret_access_key=secret_key or None,
                aws_session_token=session_token or None,
                region_name=region or None,
            )
        except botocore.exceptions.BotoCoreError as e:
            raise StorageConfigError(f"S3 bucket {bucket!r}: {_describe(e)}") from None
        self._client_kwargs: dict[str, Any] = {"use_ssl": use_ssl}
        if endpoint_url:
            self._client_kwargs["endpoint_url"] = endpoint_url
        if verify is not None:
            self._client_kwargs["verify"] = verify
        self._s3_config = {"addressing_style": addressing_style} if addressing_style else {}
        self._session_lock = threading.Lock()
        self.transfer_config = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=max_concurrency,
            use_threads=True,
        )
        try:
            self.client = self._make_client(
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=READ_TIMEOUT,
                retries={"mode": "standard", "total_max_attempts": max_attempts},
                # One pooled connection per upload thread, plus room for readers.
                max_pool_connections=max(10, 2 * max_concurrency),
            )
        except (botocore.exceptions.BotoCoreError, ValueError) as e:
            # e.g. "Invalid endpoint: ...", a profile that does not exist
            raise StorageConfigError(f"S3 bucket {bucket!r}: {_describe(e)}") from None

    @classmethod
    def from_uri(cls, uri: str, **client_kwargs: Any) -> S3Storage:
        """``s3://bucket/prefix`` plus optional keyword arguments of ``__init__``."""
        parts = urlsplit(uri)
        if parts.scheme.lower() != "s3" or not parts.netloc:
            raise StorageConfigError(f"not an S3 archive URI: {uri!r} (expected s3://bucket/prefix)")
        return cls(parts.netloc, parts.path, **client_kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"

    def _make_client(self, **config: Any) -> Any:
        cfg = Config(s3=dict(self._s3_config), **config)
        # Session.client() is not thread-safe; the client it returns is.
        with self._session_lock:
            return self._session.client("s3", config=cfg, **self._client_kwargs)

    @property
    def endpoint(self) -> str:
        """The endpoint in use, without any userinfo (for messages)."""
        url = urlsplit(self.client.meta.endpoint_url)
        host = url.hostname or ""
        if url.port:
            host = f"{host}:{url.port}"
        return f"{url.scheme}://{host}"

    def close(self) -> None:
        self.client.close()

    # -- names -----------------------------------------------------------------
    def _key(self, name: str) -> str:
        # Names are made by this program, never by a crawled page; still refuse escapes.
        if not name or name.startswith("/") or ".." in name.split("/"):
            raise StorageError(f"refusing a storage name outside the archive: {name!r}")
        return self.prefix + name

    def _fail(self, action: str, name: str, e: BaseException) -> StorageError:
        # Name the archive and the name inside it, never prefix+name glued together: an archive
        # s3://b/warcs/ keeps its WARCs under s3://b/warcs/warcs/, which reads like a mistake.
        if isinstance(e, (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)):
            why = f"cannot connect to the endpoint {self.endpoint}"
        else:
            why = _describe(e)
        return StorageError(f"archive {self.uri}: {action} {name!r} failed: {why}")

    # -- configuration -----------------------------------------------------------
    def check(self, *, write: bool = True) -> None:
        """List the prefix, then (with ``write``) write, read back and delete a probe object.

        Short timeouts and one retry, so a dead endpoint fails in seconds; every failure
        is one line naming the bucket and the error.
        """
        client = self._make_client(
            connect_timeout=CHECK_CONNECT_TIMEOUT,
            read_timeout=CHECK_READ_TIMEOUT,
            retries={"mode": "standard", "total_max_attempts": CHECK_MAX_ATTEMPTS},
        )
        probe = f"{self.prefix}{PROBE_PREFIX}{uuid.uuid4().hex}"
        step = "list"
        try:
            client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
            if not write:
                return
            step = "write"
            client.put_object(Bucket=self.bucket, Key=probe, Body=b"newsarchive write probe\n")
            step = "read"
            body = client.get_object(Bucket=self.bucket, Key=probe)["Body"].read()
            if body != b"newsarchive write probe\n":
                raise StorageConfigError(
                    f"S3 bucket {self.bucket!r} at {self.endpoint}: a probe object read back different bytes"
                )
            step = "delete"
            client.delete_object(Bucket=self.bucket, Key=probe)
        except botocore.exceptions.NoCredentialsError:
            raise StorageConfigError(
                f"S3 bucket {self.bucket!r}: no AWS credentials found "
                "(set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, or an instance role)"
            ) from None
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as e:
            raise StorageConfigError(
                f"S3 bucket {self.bucket!r}: cannot connect to the endpoint {self.endpoint} ({type(e).__name__})"
            ) from None
        except botocore.exceptions.ReadTimeoutError:
            raise StorageConfigError(
                f"S3 bucket {self.bucket!r}: the endpoint {self.endpoint} does not answer (read timeout)"
            ) from None
        except botocore.exceptions.ClientError as e:
            code = _error_code(e)
            what = _CONFIG_ERRORS.get(code, _describe(e))
            if code == "AccessDenied":
                what = f"access denied on {step} (AccessDenied): the identity cannot {step} under {self.uri}"
            raise StorageConfigError(f"S3 bucket {self.bucket!r} at {self.endpoint}: {what}") from None
        except botocore.exceptions.BotoCoreError as e:
            raise StorageConfigError(f"S3 bucket {self.bucket!r} at {self.endpoint}: {_describe(e)}") from None
        finally:
            client.close()

    # -- writing -----------------------------------------------------------------
    def put_file(self, local_path: Path, name: str) -> None:
        """Upload, then prove the stored object is the local file; the local file stays.

        The file's CRC32 goes with the upload as a full-object checksum, so S3 itself
        refuses the object (BadDigest) if the bytes it received differ; a HEAD then
        checks size and checksum of what is stored. Multipart and retries of failed
        parts are boto3's; a failed multipart upload is aborted by it.
        """
        key = self._key(name)
        local_path = Path(local_path)
        try:
            size = local_path.stat().st_size
            crc = file_crc32(local_path)
        except OSError as e:
            raise StorageError(f"cannot read {local_path} to upload it: {e.strerror or e}") from e
        try:
            if size < self.transfer_config.multipart_threshold:
                # One request, no transfer manager and its thread pool to start.
                with open(local_path, "rb") as body:
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ChecksumCRC32=crc)
            else:
                self.client.upload_file(
                    str(local_path),
                    self.bucket,
                    key,
                    ExtraArgs={"ChecksumCRC32": crc},
                    Config=self.transfer_config,
                )
            head = self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, S3UploadFailedError) as e:
            raise self._fail("upload", name, e) from e
        except OSError as e:
            raise StorageError(f"cannot read {local_path} to upload it: {e.strerror or e}") from e
        problems = []
        if head.get("ContentLength") != size:
            problems.append(f"size {head.get('ContentLength')} != local {size}")
        stored_crc = head.get("ChecksumCRC32")
        if stored_crc is None:
            # A store without checksums: S3 already refused mismatching bytes if it
            # checks them at all; size is what is left to compare.
            logger.debug("%(uri)s%(name)s: no stored checksum, size verified only", {"uri": self.uri, "name": name})
        elif stored_crc != crc:
            problems.append(f"CRC32 {stored_crc} != local {crc}")
        if problems:
            # Never leave a copy known to be wrong where readers would find it.
            try:
                self.client.delete_object(Bucket=self.bucket, Key=key)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                pass
            raise StorageError(f"{self.uri}{name}: stored object does not match {local_path}: {'; '.join(problems)}")

    def put_bytes(self, data: bytes, name: str) -> None:
        key = self._key(name)
        try:
            # S3 recomputes the CRC32 and refuses the object (BadDigest) if it differs.
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ChecksumCRC32=_crc32_b64(zlib.crc32(data))
            )
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise self._fail("write", name, e) from e

    def delete(self, name: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(name))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise self._fail("delete", name, e) from e

    # -- reading -----------------------------------------------------------------
    def open_range(self, name: str, offset: int, length: int) -> bytes:
        """Exactly one ranged GET (``Range: bytes=offset-end``); a zero length makes none."""
        if offset < 0 or length < 0:
            raise StorageError(f"{self.uri}{name}: invalid range offset={offset} length={length}")
        if length == 0:
            return b""
        key = self._key(name)
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
            )
            with response["Body"] as body:
                data = body.read()
        except botocore.exceptions.ClientError as e:
            code = _error_code(e)
            if code in _NOT_FOUND:
                raise StorageError(f"{name} is not in the archive {self.uri}") from None
            if code in ("InvalidRange", "416"):
                raise StorageError(
                    f"{self.uri}{name}: wanted {length} bytes at offset {offset}, beyond the end of the object"
                ) from None
            raise self._fail("read", name, e) from e
        except botocore.exceptions.BotoCoreError as e:
            raise self._fail("read", name, e) from e
        if len(data) != length:
            raise StorageError(f"{self.uri}{name}: wanted {length} bytes at offset {offset}, got {len(data)}")
        return data

    def open_stream(self, name: str) -> BinaryIO:
        """The response body itself: read in pieces as it arrives, never held whole in memory.

        The caller closes it (it is a context manager). A truncated transfer raises
        ``botocore.exceptions.IncompleteReadError`` on the read that hits the end.
        """
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"]
        except botocore.exceptions.ClientError as e:
            if _error_code(e) in _NOT_FOUND:
                raise StorageError(f"{name} is not in the archive {self.uri}") from None
            raise self._fail("read", name, e) from e
        except botocore.exceptions.BotoCoreError as e:
            raise self._fail("read", name, e) from e

    def list(self, prefix: str = "") -> Iterator[str]:
        """Names under the folder ``prefix``, sorted by code point like the local backend.

        Sorted here because not every S3-compatible store lists in byte order
        (SeaweedFS returns ``a/b`` before ``a-c``).
        """
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        full = self.prefix + prefix
        names = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                for obj in page.get("Contents", ()):
                    name = obj["Key"][len(self.prefix) :]
                    if name.startswith(PROBE_PREFIX) or not name or name.endswith("/"):
                        continue
                    names.append(name)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise self._fail("list", prefix, e) from e
        return iter(sorted(names))

    def _head(self, name: str) -> dict[str, Any] | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(name))
        except botocore.exceptions.ClientError as e:
            if _error_code(e) in _NOT_FOUND:
                return None
            raise self._fail("lookup", name, e) from e
        except botocore.exceptions.BotoCoreError as e:
            raise self._fail("lookup", name, e) from e

    def exists(self, name: str) -> bool:
        return self._head(name) is not None

    def size(self, name: str) -> int:
        head = self._head(name)
        if head is None:
            raise StorageError(f"{name} is not in the archive {self.uri}")
        return int(head["ContentLength"])

    def local_path(self, name: str) -> Path | None:
        return None
