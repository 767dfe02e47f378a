"""Build core stores from tier definitions: the one place that maps rows to the engine."""

from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from django.views.decorators.debug import sensitive_variables

from .conf import bitstore_settings
from .coordination import budgets, rate_limits
from .coordination.budgets import Budget
from .core import Sha1Cache, Sha1Composite, Sha1Store, Store
from .core.breaker import shared_breaker
from .core.exceptions import TierConfigError
from .core.fill_gate import FillGate
from .core.guard import GuardedStore
from .core.read_only import ReadOnlyStore
from .core.sha1 import Sha1FormatMixin
from .core.tiers import KINDS, tier_class
from .costs import Prices
from .credentials import CredentialsError, resolve


@dataclass(frozen=True)
class TierSpec:
    """The values of one tier, detached from the database."""

    name: str
    kind: str
    location: str = ""
    role: str = "source"
    verify: bool = False
    write_back: bool = False
    read_only: bool = False
    accepts_puts: bool = False
    max_bytes: int | None = None
    options: dict = field(default_factory=dict)
    credentials: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    retries: int = 2
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    negative_ttl: float = 5.0
    rate_limit: float = 0.0
    price_per_1k_requests: float | None = None
    price_per_gb_read: float | None = None
    price_per_gb_written: float | None = None
    monthly_request_budget: int | None = None
    monthly_spend_budget: float | None = None
    id: int | None = None

    @classmethod
    def of(cls, tier: Any) -> TierSpec:
        """Return the spec of a `Tier` row (saved or not)."""
        return cls(
            **{name: getattr(tier, name) for name in cls.__dataclass_fields__ if name != "id"},
            id=tier.pk,
        )


@sensitive_variables()  # the frames below hold resolved credentials
def build_tier(spec: TierSpec, guarded: bool = True) -> Store:
    """Return the SHA1-keyed store a tier definition describes, named after the tier.

    With `guarded`, it sits behind the tier's circuit breaker (shared by every store built for
    this tier name in this process), its negative cache, and then its limits: the rate limit
    and the monthly budgets, shared by all processes. Every path to a tier (reads, existence
    checks, streams, warming) goes through these, once. A live check passes False.
    """
    store = _store(spec)
    if not guarded:
        return store
    budget = Budget(spec.monthly_request_budget, spec.monthly_spend_budget, Prices.of(spec))
    store = rate_limits.limited(budgets.budgeted(store, budget), spec.rate_limit)
    breaker = shared_breaker(spec.name, spec.breaker_threshold, spec.breaker_cooldown)
    # Asking a cache is cheap, and another process (a warm job) may have just filled it: a
    # cache never answers "not found" from memory.
    negative_ttl = 0.0 if spec.role == "cache" else spec.negative_ttl
    return GuardedStore(store, breaker=breaker, negative_ttl=negative_ttl)


@sensitive_variables()  # the frames below hold resolved credentials
def validate(spec: TierSpec) -> None:
    """Raise `TierConfigError`, naming the field at fault, unless the tier can be built.

    Nothing is connected to and nothing is kept: `Tier.clean()` (through `build_errors`) and
    the checks call this.
    """
    _store(spec)


def build_errors(tier: Any) -> dict[str, str]:
    """Return {field: message} for what stops a `Tier` row from being built ({} if nothing):
    `Tier.clean()` calls this, so the error goes on the field at fault."""
    try:
        validate(TierSpec.of(tier))
    except TierConfigError as exc:
        return {exc.field or "__all__": str(exc)}
    return {}


def _store(spec: TierSpec) -> Store:
    try:
        cls = tier_class(spec.kind)
    except (ImportError, ValueError) as exc:
        known = ", ".join(KINDS)
        raise TierConfigError(
            f"unknown kind '{spec.kind}': use one of {known}, or the dotted path of a Store "
            f"class ({exc})",
            "kind",
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Store)):
        raise TierConfigError(f"'{spec.kind}' is not a Store class", "kind")
    store = _wrap(spec, cls, _construct(spec, cls))
    if spec.read_only:
        store = ReadOnlyStore(store)
    store.name = spec.name
    return store


def _construct(spec: TierSpec, cls: type) -> Store:
    if not isinstance(spec.options, dict):
        kind = _json_type(spec.options)
        raise TierConfigError(f"options must be a JSON object such as {{}}, not {kind}", "options")
    kwargs = dict(spec.options)
    if cls.TIER_TIMEOUTS:
        kwargs.setdefault("connect_timeout", spec.connect_timeout)
        kwargs.setdefault("read_timeout", spec.read_timeout)
        kwargs.setdefault("retries", spec.retries)
    args = _positional(spec, cls, kwargs)
    _bound(spec, cls, kwargs)
    _check_options(cls, kwargs)
    try:
        return cls(*args, **kwargs)
    except TierConfigError:
        raise  # the tier named the field at fault (its credentials, say)
    except (TypeError, ValueError) as exc:
        raise TierConfigError(f"{cls.__name__} rejects these options: {exc}", "options") from None


def _bound(spec: TierSpec, cls: type, kwargs: dict) -> None:
    """Pass a cache level's size and the eviction settings to a kind that can keep to a size
    (its class takes `max_bytes`); refuse a size a kind cannot keep."""
    if spec.max_bytes is None:
        return
    parameters = inspect.signature(cls.__init__).parameters
    if "max_bytes" not in parameters:
        raise TierConfigError(
            f"{cls.__name__} cannot keep to a size: leave max bytes empty (a bucket cache "
            "level is bounded by the bucket's lifecycle rule, see README: Bucket cache levels)",
            "max_bytes",
        )
    kwargs["max_bytes"] = spec.max_bytes
    settings = {
        "spare_seconds": bitstore_settings.EVICTION_SPARE_SECONDS,
        "low_watermark": bitstore_settings.EVICTION_LOW_WATERMARK,
    }
    for name, value in settings.items():
        if name in parameters:
            kwargs.setdefault(name, value)


def _positional(spec: TierSpec, cls: type, kwargs: dict) -> list:
    """Return the constructor's positional arguments, as the kind's class says, and add its
    default options to `kwargs`."""
    try:
        credentials = resolve(spec.credentials)
    except CredentialsError as exc:
        raise TierConfigError(str(exc), "credentials") from None
    args, defaults = cls.tier_arguments(spec.location, spec.role, credentials)
    for name, value in defaults.items():
        kwargs.setdefault(name, value)
    return args


def _check_options(cls: type, kwargs: dict) -> None:
    parameters = inspect.signature(cls.__init__).parameters
    _check_option_types(cls, kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    if "credentials" in kwargs and "credentials" not in parameters:
        raise TierConfigError(
            f"{cls.__name__} takes no credentials: leave the reference empty", "credentials"
        )
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


def _check_option_types(cls: type, kwargs: dict) -> None:
    """Refuse an option whose JSON value cannot be what the class's signature declares."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # annotations that cannot be evaluated: leave it to the class
        return
    for name, value in kwargs.items():
        if name in hints and not _json_matches(value, hints[name]):
            raise TierConfigError(
                f"option '{name}' must be {_describe(hints[name])}, not {_json_type(value)}",
                "options",
            )


def _json_matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_json_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (bool, str):
        return isinstance(value, hint)
    if (origin or hint) in (dict, list):
        return isinstance(value, origin or hint)
    return True  # Any, classes and other types: JSON cannot say, the class decides


_JSON_TYPES = {bool: "true or false", float: "a number", int: "an integer", str: "a string"}


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "null"
    origin = typing.get_origin(hint) or hint
    return _JSON_TYPES.get(origin) or {dict: "a JSON object", list: "a JSON array"}.get(
        origin, getattr(origin, "__name__", str(origin))
    )


def _json_type(value: Any) -> str:
    """Name the JSON type of a value, as an operator wrote it: "a string 'x'"."""
    for kind, name in ((bool, "a boolean"), (str, "a string"), (int | float, "a number")):
        if isinstance(value, kind):
            return f"{name} {value!r}" if len(repr(value)) < 40 else name
    return {dict: "a JSON object", list: "a JSON array", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _wrap(spec: TierSpec, cls: type, store: Store) -> Store:
    """Key a raw store by SHA1 under the tier's prefix; SHA1 stores are used as they are."""
    verify = spec.verify or spec.role == "cache"  # the app's caches always verify
    if isinstance(store, Sha1FormatMixin):
        if verify and hasattr(store, "verify"):
            store.verify = True
        return store
    prefix = cls.key_prefix(spec.location)
    wrapper = Sha1Cache if spec.role == "cache" else Sha1Store
    return wrapper(store, prefix, verify=verify)


def _tune(composite: Sha1Composite) -> None:
    """Set the composite's stream checks and fills from the settings; one fill per blob is
    shared by processes through the leases in Redis when there is one (see `leases`)."""
    from .coordination import leases

    composite.check_reads = True
    composite.verify_before_send_max_bytes = bitstore_settings.VERIFY_BEFORE_SEND_MAX_BYTES
    composite.fill_after_disconnect_max_bytes = bitstore_settings.FILL_AFTER_DISCONNECT_MAX_BYTES
    composite.fill_on_range_max_bytes = bitstore_settings.FILL_ON_RANGE_MAX_BYTES
    shared = leases.FillLeases() if leases.redis_url() else None
    composite.fill_gate = FillGate(wait=bitstore_settings.LEASE_TTL, leases=shared)


def build_composite(specs: list[TierSpec], on_error=None) -> Sha1Composite:
    """Return the composite of the tiers, in the order given.

    A tier that cannot be built raises, or with `on_error(spec, exc)` is reported and left out.
    """
    composite = Sha1Composite()
    _tune(composite)
    for spec in specs:
        try:
            store = build_tier(spec)
        except Exception as exc:
            if on_error is None:
                raise
            on_error(spec, exc)
            continue
        if spec.role == "cache":
            composite.append_cache_level(store, read=True)
        else:
            composite.append_source(
                store, cache_result=spec.write_back, accepts_puts=spec.accepts_puts
            )
    return composite


def warm_target(composite: Sha1Composite) -> Store | None:
    """Return the cache level warm jobs fill: the top one that can be written, or None."""
    return next((level for level in composite.caches if level.can_write()), None)


def for_warming(composite: Sha1Composite) -> Sha1Composite | None:
    """Return the composite warm jobs fill the cache levels through: the same tiers (each
    already behind its limits, once: `build_tier`), every source written back into every
    level; the top writable level first, written but not read (a warm job asks it whether it
    holds the blob first), the other levels read at their places, so that a blob a lower
    level holds is promoted from it rather than fetched again. None when no cache level can
    be written."""
    top = warm_target(composite)
    if top is None:
        return None
    warming = Sha1Composite()
    _tune(warming)
    warming.fill_gate = composite.fill_gate  # a warm job and a web request share one fill
    warming.append_cache_level(top, read=False)
    for store in composite.sources:
        if store is top:
            continue
        if any(store is level for level in composite.caches):
            warming.append_cache_level(store, read=True)
        else:
            warming.append_source(store, cache_result=True)
    return warming


__all__ = [
    "KINDS",
    "TierConfigError",
    "TierSpec",
    "build_composite",
    "build_errors",
    "build_tier",
    "for_warming",
    "validate",
    "warm_target",
]
