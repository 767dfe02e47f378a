"""A Django `Storage` over bitstore: `FileField(storage=BitstoreStorage())`, `default_storage`.

Content-addressed: `save()` streams the content into the tier a `put` writes to and returns
its SHA1 as the file's name (the name given is dropped); `open`, `exists`, `size` and `url`
(a signed blob URL) read through the tiers. Blobs may be shared by many files, so `delete`
is refused, and there is no listing. It cannot serve as the static files storage, whose
files are found by their paths (`manage.py check` says so: bitstore.E010).
"""

from __future__ import annotations

from typing import Any

from django.core.files import File
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible

from . import services, uploads
from .core import is_sha1, parse_sha1


class DeletionRefused(NotImplementedError):
    """Content-addressed blobs may be shared: BitstoreStorage never deletes one."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"BitstoreStorage does not delete {name!r}: a blob is named by its content and may "
            "belong to other files too; clear the field instead"
        )


@deconstructible(path="bitstore_app.storage.BitstoreStorage")
class BitstoreStorage(Storage):
    """Files stored as blobs, named by their SHA1."""

    def __init__(self, expires_in: float | None = None) -> None:
        #: Seconds the URLs of `url()` are valid (None: `SIGNED_URL_MAX_AGE`).
        self.expires_in = expires_in

    def _save(self, name: str, content: File) -> str:
        return uploads.store(content.chunks(), None).sha1

    def _open(self, name: str, mode: str = "rb") -> File:
        if mode not in ("rb", "r"):
            raise ValueError(
                f"BitstoreStorage opens blobs for reading ('rb'), not {mode!r}: blobs never "
                "change; save() stores new content under its own SHA1"
            )
        return File(services.open_recorded(_key(name)), name)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name  # never used as the name: _save answers the SHA1

    def exists(self, name: str) -> bool:
        return is_sha1(name) and services.exists(name)

    def size(self, name: str) -> int:
        return services.size(_key(name))

    def url(self, name: str) -> str:
        from .web.signed_urls import signed_blob_url

        return signed_blob_url(_key(name), expires_in=self.expires_in)

    def delete(self, name: str) -> None:
        raise DeletionRefused(name)

    def listdir(self, path: str) -> Any:
        raise NotImplementedError("BitstoreStorage does not list blobs: it finds them by SHA1")

    def path(self, name: str) -> str:
        raise NotImplementedError("BitstoreStorage blobs have no local path: use open()")


def _key(name: str) -> str:
    """Return the SHA1 a file name is, or raise a ValueError that says what names are."""
    if not is_sha1(name):
        raise ValueError(f"{name!r} is not a bitstore name: BitstoreStorage names files by SHA1")
    return parse_sha1(name)
