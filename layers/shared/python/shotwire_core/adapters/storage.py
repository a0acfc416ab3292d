"""S3: screenshots stored as `<tenant>/<jobId>.<ext>`, handed out as presigned GET links."""

from __future__ import annotations

from shotwire_core.adapters.aws import client


class ImageStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def put(self, key: str, data: bytes, content_type: str) -> None:
        client("s3").put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get_if_smaller(self, key: str, max_bytes: int) -> bytes | None:
        """The object's bytes, or None when it is larger than `max_bytes` (not downloaded then)."""
        response = client("s3").get_object(Bucket=self.bucket, Key=key)
        body = response["Body"]
        if int(response["ContentLength"]) > max_bytes:
            body.close()
            return None
        data: bytes = body.read()
        return data

    def delete(self, key: str) -> None:
        client("s3").delete_object(Bucket=self.bucket, Key=key)

    def download_url(self, key: str, ttl_seconds: int) -> str:
        """A fresh presigned GET link; anyone holding it can download until it expires."""
        url: str = client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=ttl_seconds
        )
        return url
