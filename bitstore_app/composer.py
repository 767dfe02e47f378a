"""Build core stores from tier definitions: the one place that maps rows to the engine."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from .core import Sha1Cache, Sha1Composite, Sha1Store, Store
from .core.sha1 import Sha1FormatMixin
from .core.tiers import KINDS, tier_class
from .credentials import ANONYMOUS, CredentialsError, resolve

#: Kinds whose classes take the tier's timeouts as keyword options.
TIMEOUT_KINDS = {"s3", "gs", "http_api"}


class TierConfigError(ValueError):
    """A tier definition that cannot be built; `field` names the part that is wrong."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TierSpec:
    """The values of one tier, detached from the database."""

    name: str
    kind: str
    location: str = ""
    role: str = "source"
    verify: bool = False
    write_back: bool = False
    options: dict = field(default_factory=dict)
    credentials: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    id: int | None = None

    @classmethod
    def of(cls, tier: Any) -> TierSpec:
        """Return the spec of a `Tier` row (saved or not)."""
        return cls(
            **{name: getattr(tier, name) for name in cls.__dataclass_fields__ if name != "id"},
            id=tier.pk,
        )


def build_tier(spec: TierSpec) -> Store:
    """Return the SHA1-keyed store a tier definition describes, named after the tier."""
    try:
        cls = tier_class(spec.kind)
    except (ImportError, ValueError) as exc:
        raise TierConfigError(f"unknown kind '{spec.kind}': {exc}", "kind") from None
    if not (isinstance(cls, type) and issubclass(cls, Store)):
        raise TierConfigError(f"'{spec.kind}' is not a Store class", "kind")
    store = _wrap(spec, cls, _construct(spec, cls))
    store.name = spec.name
    return store


def _construct(spec: TierSpec, cls: type) -> Store:
    kwargs = dict(spec.options or {})
    if not isinstance(spec.options, dict):
        raise TierConfigError("options must be a JSON object", "options")
    if spec.kind in TIMEOUT_KINDS:
        kwargs.setdefault("connect_timeout", spec.connect_timeout)
        kwargs.setdefault("read_timeout", spec.read_timeout)
    args = _positional(spec, kwargs)
    _check_options(cls, kwargs)
    try:
        return cls(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise TierConfigError(f"{cls.__name__} rejects these options: {exc}", "options") from None


def _positional(spec: TierSpec, kwargs: dict) -> list:
    """Return the constructor's positional arguments: location and credentials by kind."""
    try:
        credentials = resolve(spec.credentials)
    except CredentialsError as exc:
        raise TierConfigError(str(exc), "credentials") from None
    if spec.kind == "s3":
        _require_prefix(spec, "s3://")
        return [credentials]
    if spec.kind == "gs":
        _require_prefix(spec, "gs://")
        return [_google_credentials(credentials)]
    if spec.kind == "filesystem":
        if not spec.location.startswith("/"):
            raise TierConfigError("the location must be an absolute folder path", "location")
        return [spec.location]
    if spec.kind == "django_storage":
        if not spec.location:
            raise TierConfigError("the location must be a storage alias from STORAGES", "location")
        return [spec.location]
    if spec.kind == "http_api":
        if isinstance(credentials, dict):
            kwargs.setdefault("headers", credentials.get("headers", {}))
        return [spec.location]
    if credentials is not None:
        kwargs.setdefault("credentials", credentials)
    return []


def _require_prefix(spec: TierSpec, scheme: str) -> None:
    location = spec.location
    if not location.startswith(scheme) or len(location.split("/", 3)[2]) < 3:
        raise TierConfigError(f"the location must look like {scheme}bucket/prefix/", "location")


def _google_credentials(credentials: Any) -> Any:
    if credentials in (None, ANONYMOUS) or not isinstance(credentials, dict):
        return credentials
    from google.oauth2 import service_account

    try:
        if "service_account_file" in credentials:
            path = credentials["service_account_file"]
            return service_account.Credentials.from_service_account_file(path)
        return service_account.Credentials.from_service_account_info(credentials)
    except (ValueError, OSError) as exc:
        raise TierConfigError(f"the GCS credentials are not usable: {exc}", "credentials") from None


def _check_options(cls: type, kwargs: dict) -> None:
    parameters = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    unknown = sorted(set(kwargs) - set(parameters))
    if unknown:
        accepted = ", ".join(
            name
            for name, p in parameters.items()
            if name != "self" and p.kind is inspect.Parameter.KEYWORD_ONLY
        )
        raise TierConfigError(
            f"{cls.__name__} does not accept option(s) {', '.join(unknown)}"
            f" (it accepts: {accepted or 'none'})",
            "options",
        )


def _wrap(spec: TierSpec, cls: type, store: Store) -> Store:
    """Key a raw store by SHA1 under the tier's prefix; SHA1 stores are used as they are."""
    if isinstance(store, Sha1FormatMixin):
        if spec.verify and hasattr(store, "verify"):
            store.verify = True
        return store
    prefix = "" if spec.kind in ("filesystem", "django_storage") else spec.location
    wrapper = Sha1Cache if spec.role == "cache" else Sha1Store
    return wrapper(store, prefix, verify=spec.verify)


def build_composite(specs: list[TierSpec], on_error=None) -> Sha1Composite:
    """Return the composite of the tiers, in the order given.

    A tier that cannot be built raises, or with `on_error(spec, exc)` is reported and left out.
    """
    composite = Sha1Composite()
    for spec in specs:
        try:
            store = build_tier(spec)
        except Exception as exc:
            if on_error is None:
                raise
            on_error(spec, exc)
            continue
        if spec.role == "cache":
            composite.append_cache(store, read=True)
        else:
            composite.append_source(store, cache_result=spec.write_back)
    return composite


__all__ = ["KINDS", "TierConfigError", "TierSpec", "build_composite", "build_tier"]
