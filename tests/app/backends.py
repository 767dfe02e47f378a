"""One real backend per tier kind, for the contract that every kind passes.

Each backend knows its tier's kind, location and options, how to place a blob where the tier
will find it (`seed`), and whether a blob landed there (`holds`).
"""

import uuid
from pathlib import Path

from tests.app import sources


class S3Backend:
    kind, writable = "s3", True

    def __init__(self, s3_server, bucket):
        self.client, self.bucket = s3_server.client(), bucket
        self.location, self.options = f"s3://{bucket}/blobs/", {}

    def seed(self, sha1, data):
        self.client.put_object(Bucket=self.bucket, Key=f"blobs/{sha1}", Body=data)

    def holds(self, sha1):
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=f"blobs/{sha1}")
        return listing.get("KeyCount", 0) == 1


class GCSBackend:
    kind, writable = "gs", True

    def __init__(self, gcs_server, bucket):
        self.bucket = gcs_server.client().bucket(bucket)
        self.location, self.options = f"gs://{bucket}/blobs/", {}

    def seed(self, sha1, data):
        self.bucket.blob(f"blobs/{sha1}").upload_from_string(data)

    def holds(self, sha1):
        return self.bucket.blob(f"blobs/{sha1}").exists()


class FileSystemBackend:
    kind, writable = "filesystem", True

    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        self.root, self.location, self.options = root, str(root), {}

    def seed(self, sha1, data):
        (self.root / sha1).write_bytes(data)

    def holds(self, sha1):
        return (self.root / sha1).is_file()


class DjangoStorageBackend(FileSystemBackend):
    """A FileSystemStorage under a STORAGES alias; the tier's location is the alias."""

    kind = "django_storage"

    def __init__(self, settings, root: Path):
        super().__init__(root)
        alias = f"bitstore-{uuid.uuid4().hex[:8]}"
        storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
        settings.STORAGES = settings.STORAGES | {
            alias: storage | {"OPTIONS": {"location": str(root)}}
        }
        self.location = alias


class HTTPAPIBackend:
    kind, writable = "http_api", False

    def __init__(self, api):
        self.api, self.location, self.options = api, api.url, {}

    def seed(self, sha1, data):
        self.api.blobs[sha1] = data

    def holds(self, sha1):
        return sha1 in self.api.blobs


class DottedPathBackend:
    """A custom `Sha1APISource` subclass, named by its dotted path."""

    kind, writable = "tests.app.sources.DictSource", False

    def __init__(self):
        self.collection = uuid.uuid4().hex
        sources.COLLECTIONS[self.collection] = {}
        self.location, self.options = "", {"collection": self.collection}

    def seed(self, sha1, data):
        sources.COLLECTIONS[self.collection][sha1] = data

    def holds(self, sha1):
        return sha1 in sources.COLLECTIONS[self.collection]
