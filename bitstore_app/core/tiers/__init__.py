"""Raw tiers, one kind per module; each SDK is imported only when its tier is used."""

from __future__ import annotations

from importlib import import_module

from ..exceptions import TierConfigError

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


def kind_help() -> str:
    """Return the help text of a tier's kind: the short names, or a dotted path."""
    return f"{', '.join(KINDS)}, or the dotted path of a custom Store or Sha1APISource class."


def location_help() -> str:
    """Return the help text of a tier's location: what each kind's class says it takes."""
    hints = [f"{tier_class(kind).LOCATION_HINT} for {kind}" for kind in KINDS]
    return ", ".join(hints) + "."


def require_bucket_location(location: str, scheme: str) -> None:
    """Raise `TierConfigError` unless the location is `<scheme>bucket/prefix/`."""
    parts = location.split("/", 3)
    if not location.startswith(scheme) or len(parts) < 4 or len(parts[2]) < 3:
        raise TierConfigError(f"the location must look like {scheme}bucket/prefix/", "location")
