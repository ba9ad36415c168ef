"""S3-compatible object storage (AWS S3, MinIO, Ceph, R2, …): ``VIDGEN_STORAGE_URL=s3://bucket/prefix``.

boto3 does the protocol work: its managed transfer (``upload_file``) uploads a file in one PUT,
or in parallel parts once it reaches ``VIDGEN_S3_MULTIPART_THRESHOLD``, and an object appears
only when its upload completes, so readers never see a partial video. boto3 blocks, so every
call runs on a small thread pool of this store's own: a slow or unreachable bucket then ties up
those threads only, never the event loop or the threads that engines and SQLite use.

Downloads go straight from the bucket through presigned GET URLs (the response names the file
and its type), or, with ``VIDGEN_STORAGE_PROXY_DOWNLOADS``, through the API's ``/files`` route,
which streams ranged GETs (``read_range``) so that players can seek.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from vidgen.core.storage import CHUNK_BYTES, Storage, StoredObject
from vidgen.settings import Settings

__all__ = ["S3Storage"]

T = TypeVar("T")
#: Presigned URLs are reused for this share of their lifetime, so every poll within that window
#: gets the same URL (and the same expiry) without signing again; the same trade as the local
#: links' granularity (``storage.links``).
REUSE_SHARE = 1 / 24
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
#: Keys per ``list_objects_v2`` page: S3's own most (a test lowers it to see pages turn).
LIST_PAGE_SIZE = 1000


class S3Storage(Storage):
    """Objects in one bucket, under an optional key prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        public_endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        multipart_threshold: int = 8 * 1024 * 1024,
        proxy_downloads: bool = False,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.proxy_downloads = proxy_downloads
        config = Config(
            signature_version="s3v4",
            # Path-style (endpoint/bucket/key) is what self-hosted servers answer; on AWS the
            # SDK picks virtual-hosted style by itself.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=32,
            # Newer SDKs add CRC checksums to every request by default, which several
            # S3-compatible servers reject; AWS does not need them unless an API requires one.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        self._client: Any = session.client("s3", endpoint_url=endpoint_url, config=config)
        # Presigning needs no network: a second client only decides which host the links name.
        self._signer: Any = (
            session.client("s3", endpoint_url=public_endpoint_url, config=config)
            if public_endpoint_url
            else self._client
        )
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_threshold,
            max_concurrency=4,
        )
        self._pool = ThreadPoolExecutor(16, thread_name_prefix="vidgen-s3")
        self._presigned: OrderedDict[tuple[str, int, str], tuple[str, int, float]] = OrderedDict()

    @classmethod
    def from_settings(cls, url: str, settings: Settings) -> S3Storage:
        parts = urlsplit(url)
        secret = settings.s3_secret_access_key
        return cls(
            parts.netloc,
            parts.path,
            endpoint_url=settings.s3_endpoint_url,
            public_endpoint_url=settings.s3_public_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
            multipart_threshold=settings.s3_multipart_threshold,
            proxy_downloads=settings.storage_proxy_downloads,
        )

    def object_key(self, key: str) -> str:
        return self.prefix + key

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, partial(fn, *args, **kwargs)
        )

    async def put_file(
        self, key: str, source: Path, media_type: str, *, consume: bool = False
    ) -> int:
        size = (await asyncio.to_thread(source.stat)).st_size
        await self._call(
            self._client.upload_file,
            str(source),
            self.bucket,
            self.object_key(key),
            ExtraArgs={"ContentType": media_type},
            Config=self._transfer,
        )
        return size

    async def stat(self, key: str) -> StoredObject | None:
        try:
            head = await self._call(
                self._client.head_object, Bucket=self.bucket, Key=self.object_key(key)
            )
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return None
            raise
        return StoredObject(size=int(head["ContentLength"]), media_type=head.get("ContentType"))

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def delete(self, key: str) -> None:
        await self._call(self._client.delete_object, Bucket=self.bucket, Key=self.object_key(key))

    async def check(self) -> None:
        """The bucket exists and these credentials reach it (HEAD: no object is written)."""
        await self._call(self._client.head_bucket, Bucket=self.bucket)

    async def list_objects(self, prefix: str) -> AsyncIterator[tuple[str, StoredObject]]:
        # One page per trip to the pool: fetching a page blocks.
        paginator = self._client.get_paginator("list_objects_v2")
        pages = iter(
            paginator.paginate(
                Bucket=self.bucket,
                Prefix=self.object_key(prefix),
                PaginationConfig={"PageSize": LIST_PAGE_SIZE},
            )
        )
        while (page := await self._call(next, pages, None)) is not None:
            for item in page.get("Contents", ()):
                key = item["Key"].removeprefix(self.prefix)
                yield key, StoredObject(size=int(item["Size"]))

    async def presigned_url(
        self, key: str, *, ttl_seconds: int, filename: str, media_type: str | None = None
    ) -> tuple[str, int] | None:
        if self.proxy_downloads:
            return None
        now = time.time()
        cache_key = (key, ttl_seconds, filename)
        cached = self._presigned.get(cache_key)
        if cached is not None and cached[2] > now:
            self._presigned.move_to_end(cache_key)
            return cached[0], cached[1]
        params = {
            "Bucket": self.bucket,
            "Key": self.object_key(key),
            "ResponseContentDisposition": f'inline; filename="{filename}"',
        }
        if media_type:
            params["ResponseContentType"] = media_type
        url: str = self._signer.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=ttl_seconds
        )
        expires = int(now) + ttl_seconds
        self._presigned[cache_key] = (url, expires, now + ttl_seconds * REUSE_SHARE)
        if len(self._presigned) > 4096:
            self._presigned.popitem(last=False)
        return url, expires

    async def read_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        response = await self._call(
            self._client.get_object,
            Bucket=self.bucket,
            Key=self.object_key(key),
            Range=f"bytes={start}-{end}",
        )
        body = response["Body"]
        try:
            while True:
                chunk: bytes = await self._call(body.read, CHUNK_BYTES)
                if not chunk:
                    break
                yield chunk
        finally:
            body.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)
        self._client.close()
        if self._signer is not self._client:
            self._signer.close()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
