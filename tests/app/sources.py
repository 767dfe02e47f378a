"""A custom API source, configured in a tier by its dotted path `tests.app.sources.DictSource`."""

from __future__ import annotations

from bitstore_app.core import Sha1APISource

#: Blobs by collection, then by SHA1; tests fill them.
COLLECTIONS: dict[str, dict[str, bytes]] = {}
#: Every SHA1 any DictSource was asked for, in order.
CALLS: list[str] = []


class DictSource(Sha1APISource):
    """Serve the blobs of one collection of `COLLECTIONS`, as an API would."""

    def __init__(self, *, collection: str = "default", verify: bool = False) -> None:
        super().__init__(verify=verify)
        self.collection = collection

    def api_get(self, sha1: str) -> bytes | None:
        CALLS.append(sha1)
        return COLLECTIONS.get(self.collection, {}).get(sha1)
