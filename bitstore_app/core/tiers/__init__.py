"""Raw tiers, one kind per module; each SDK is imported only when its tier is used."""

from __future__ import annotations

from importlib import import_module

#: Short kind names and the classes that implement them.
KINDS = {
    "s3": "bitstore_app.core.tiers.s3.S3Raw",
    "gs": "bitstore_app.core.tiers.gcs.GSRaw",
    "filesystem": "bitstore_app.core.tiers.filesystem.FileSystemRaw",
    "memory": "bitstore_app.core.tiers.memory.MemoryRaw",
    "http_api": "bitstore_app.core.tiers.http_api.HTTPAPISource",
    # Outside core, because it needs Django: imported only when used.
    "django_storage": "bitstore_app.tiers.django_storage.DjangoStorageRaw",
}


class OptionError(ValueError):
    """A constructor option a tier refuses; `option` names it (the credentials, say)."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.option = option


def import_dotted(path: str) -> type:
    """Return the object at a dotted path such as `package.module.Class`."""
    module_name, _, attribute = path.rpartition(".")
    if not module_name:
        raise ImportError(f"'{path}' is not a dotted path such as package.module.Class")
    module = import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ImportError(f"module '{module_name}' has no attribute '{attribute}'") from None


def tier_class(kind: str) -> type:
    """Return the class for a short kind name or a dotted path."""
    return import_dotted(KINDS.get(kind, kind))
