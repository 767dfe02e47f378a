"""The tier engine: pure Python, no Django.

Code written for the seed library (`epic.bitstore`) runs after changing its import line to
`from bitstore_app.core import ...`. Cloud SDKs are imported only when a tier of their kind
is used.
"""

from . import processes as worker_processes
from .composite import Composite
from .exceptions import (
    BitstoreError,
    ConfigurationError,
    CredentialsError,
    InvalidDataFound,
    InvalidDataGiven,
    InvalidURI,
    MissingExtra,
    NoCacheTier,
    NotFoundInStore,
    NotFoundWhileUnavailable,
    NoWritableTier,
    StoreNotAvailable,
    TierConfigError,
)
from .location_index import LocationIndex
from .parallel import map_in_order
from .sha1 import Sha1APISource, Sha1Cache, Sha1Store, is_sha1, parse_sha1, sha1_of, verify_sha1
from .sha1_composite import Sha1Composite
from .store import Store
from .tiers.filesystem import FileSystemRaw
from .tiers.gcs import GSRaw
from .tiers.http_api import HTTPAPISource
from .tiers.memory import MemoryRaw
from .tiers.s3 import S3Raw
from .trace import Attempt, Fetch


def get_many(store: Store, uris, workers: int = 16, errors: str = "raise", processes=None):
    """Yield `store.get(uri)` for each URI in order, `workers` at a time (see `Composite`)."""
    if processes:
        return worker_processes.get_many(store, uris, workers, errors, processes)
    return map_in_order(store.get, uris, workers=workers, errors=errors)


__all__ = [
    "Attempt",
    "BitstoreError",
    "Composite",
    "ConfigurationError",
    "CredentialsError",
    "Fetch",
    "FileSystemRaw",
    "GSRaw",
    "HTTPAPISource",
    "InvalidDataFound",
    "InvalidDataGiven",
    "InvalidURI",
    "LocationIndex",
    "MemoryRaw",
    "MissingExtra",
    "NoCacheTier",
    "NoWritableTier",
    "NotFoundInStore",
    "NotFoundWhileUnavailable",
    "S3Raw",
    "Sha1APISource",
    "Sha1Cache",
    "Sha1Composite",
    "Sha1Store",
    "Store",
    "StoreNotAvailable",
    "TierConfigError",
    "get_many",
    "is_sha1",
    "map_in_order",
    "parse_sha1",
    "sha1_of",
    "verify_sha1",
]
