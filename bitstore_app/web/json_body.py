"""Reading a JSON request body, bounded: every JSON endpoint that takes a body reads it here."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest

#: The deepest nesting a valid body has (an object, its list, an item), with room to spare.
MAX_DEPTH = 4

TOO_DEEP = f"the body nests too deeply: a list of SHA1s nests {MAX_DEPTH} levels at most"


def read_json(request: HttpRequest, what: str) -> Any:
    """Return the request's body parsed as JSON; raise `ValueError` with a message for the
    client when it is not JSON (`what` says what was expected) or nests deeper than
    `MAX_DEPTH` levels. `RequestDataTooBig` passes, for the view's 413."""
    try:
        payload = json.loads(request.body)
    except RecursionError:  # json's C parser recurses once per level
        raise ValueError(TOO_DEEP) from None
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"the body must be JSON: {what}") from None
    if deeper_than(payload, MAX_DEPTH):
        raise ValueError(TOO_DEEP)
    return payload


def deeper_than(value: Any, limit: int) -> bool:
    """Return whether JSON `value` nests more than `limit` levels (without recursion)."""
    level = [value]
    for _ in range(limit):
        level = [
            item
            for container in level
            if isinstance(container, list | dict)
            for item in (container.values() if isinstance(container, dict) else container)
        ]
        if not level:
            return False
    return any(isinstance(item, list | dict) for item in level)
