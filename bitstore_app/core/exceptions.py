"""The error hierarchy of bitstore, all under `BitstoreError`:

    BitstoreError
      StoreNotAvailable           a tier could not be asked (CircuitOpen: it is being skipped)
      NotFoundInStore             no tier holds the blob (KnownMissing: it said so moments ago)
        NotFoundWhileUnavailable  ... of those that answered: retry later
        InvalidDataFound          the data found does not match its SHA1
          InvalidDataGiven        the data given to a put does not match its SHA1 (ValueError)
      InvalidURI                  not a key the store accepts (ValueError)
      NoWritableTier              no tier can take a put (NotImplementedError, as in the seed)
      ConfigurationError          a configuration that cannot work
        TierConfigError           a tier row that cannot be built (ValueError)
        CredentialsError          a credentials reference that does not resolve (ValueError)
        NoCacheTier               cache warming with no cache tier (RuntimeError)
        MissingExtra              a tier's SDK is not installed (ImportError)

The extra bases keep the ways callers already catch these errors working. Every error keeps
the arguments it was built with, so it survives a pickle round trip (errors cross process
boundaries in Celery and multiprocessing).
"""

from __future__ import annotations

__all__ = [
    "BitstoreError",
    "StoreNotAvailable",
    "NotFoundInStore",
    "NotFoundWhileUnavailable",
    "InvalidURI",
    "InvalidDataFound",
    "InvalidDataGiven",
    "NoWritableTier",
    "ConfigurationError",
    "TierConfigError",
    "CredentialsError",
    "NoCacheTier",
    "MissingExtra",
]


class BitstoreError(Exception):
    """Base of the errors raised by stores; pickles with its constructor arguments."""

    #: Set on errors that mean a tier was not asked at all: a `SkipReason` value.
    skip_reason: str | None = None

    def __init__(self, message: str, *params: object) -> None:
        self._params = params
        super().__init__(message)

    def __reduce__(self):
        if type(self).__init__ is BitstoreError.__init__:
            # Built with this constructor (no subclass __init__): the message is an argument too.
            return type(self), (self.args[0], *self._params)
        return type(self), self._params


def _name(store: object) -> str:
    return store if isinstance(store, str) else str(store)


class StoreNotAvailable(BitstoreError):
    """The store could not be asked: unreachable, refused, timed out or misconfigured."""

    def __init__(self, store: object, reason: str | None = None) -> None:
        self.store_name = _name(store)
        self.reason = reason
        suffix = f": {reason}" if reason else ""
        super().__init__(f"{self.store_name} is not available{suffix}", self.store_name, reason)


class NotFoundInStore(BitstoreError):
    """The store answered, and it does not hold the URI."""

    def __init__(self, store: object, uri: object, *extra: object) -> None:
        self.store_name = _name(store)
        self.uri = str(uri)
        super().__init__(
            self._message(self.store_name, self.uri, *extra), self.store_name, self.uri, *extra
        )

    @staticmethod
    def _message(store_name: str, uri: str, *extra: object) -> str:
        return f"{store_name} does not contain '{uri}'"


class NotFoundWhileUnavailable(NotFoundInStore):
    """No tier that answered holds the URI, but some tiers could not be asked: retry later."""

    @staticmethod
    def _message(store_name: str, uri: str, *extra: object) -> str:
        unavailable = ", ".join(str(name) for name in extra[0]) if extra else "some tiers"
        return f"'{uri}' was not found in {store_name}, and these tiers were unavailable: " + (
            unavailable
        )

    @property
    def unavailable(self) -> tuple[str, ...]:
        return tuple(self._params[2]) if len(self._params) > 2 else ()


class InvalidDataFound(NotFoundInStore):
    """The data found does not match its SHA1: it is never returned and never cached."""

    @staticmethod
    def _message(store_name: str, uri: str, *extra: object) -> str:
        actual = f" (its SHA1 is {extra[0]})" if extra and extra[0] else ""
        return f"{store_name} holds invalid data for '{uri}'{actual}"


class InvalidDataGiven(InvalidDataFound, ValueError):
    """The bytes given to a `put` do not match their SHA1: nothing is written."""

    @staticmethod
    def _message(store_name: str, uri: str, *extra: object) -> str:
        actual = f" (theirs is {extra[0]})" if extra and extra[0] else ""
        return (
            f"{store_name} refuses invalid data for '{uri}': the bytes given do not match "
            f"that SHA1{actual}"
        )


class InvalidURI(BitstoreError, ValueError):
    """The URI is not of a form the store accepts."""

    def __init__(self, store: object, uri: object, hint: str | None = None) -> None:
        self.store_name = store if isinstance(store, str) else type(store).__name__
        self.uri = str(uri)
        self.hint = hint
        hint_text = f" (hint: {hint})" if hint else ""
        super().__init__(
            f"URI '{self.uri}' is invalid for {self.store_name}{hint_text}",
            self.store_name,
            self.uri,
            hint,
        )


class NoWritableTier(BitstoreError, NotImplementedError):
    """No tier of a composite can take a put of the blob (the seed's composite had no
    `put`): `reason` says why, and the message names the `accepts_puts` setting."""

    def __init__(self, store: object, uri: object, reason: str = "") -> None:
        self.store_name = _name(store)
        self.uri = str(uri)
        self.reason = reason
        because = f" ({reason})" if reason else ""
        super().__init__(
            f"{self.store_name} does not implement the 'put' method: it has no tier that can "
            f"write '{self.uri}'{because}; mark a durable source tier accepts_puts (in the "
            "core, append_source(store, accepts_puts=True))",
            self.store_name,
            self.uri,
            reason,
        )


class ConfigurationError(BitstoreError):
    """Bitstore is configured in a way that cannot work; the message says what to change."""


class TierConfigError(ConfigurationError, ValueError):
    """A tier definition that cannot be built; `field` names the part that is wrong."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message, field)

    def __reduce__(self):
        return type(self), (str(self), self.field)


class CredentialsError(ConfigurationError, ValueError):
    """A credentials reference that does not resolve."""


class NoCacheTier(ConfigurationError, RuntimeError):
    """Cache warming needs an enabled tier with the cache role."""


class MissingExtra(ConfigurationError, ImportError):
    """A tier needs an SDK that is not installed."""

    def __init__(self, kind: str, package: str, extra: str) -> None:
        super().__init__(
            f"the {kind} tier needs the '{package}' package: pip install 'bitstore[{extra}]'",
            kind,
            package,
            extra,
        )
