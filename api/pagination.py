"""Keyset pagination: ``?limit=&cursor=`` in, ``{items, next_cursor}`` out.

A cursor is opaque to clients: base64url of the sort key of the last item returned.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from api.core.errors import ApiError

T = TypeVar("T")

MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="The `next_cursor` of the previous page."),
]


def encode_cursor(*key: int | str) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: tuple[type, ...]) -> tuple[int | str, ...] | None:
    """The sort key in ``cursor`` (None for the first page); 422 if it is not one of ours."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if (
            not isinstance(values, list)
            or len(values) != len(types)
            or not all(type(v) is t for v, t in zip(values, types, strict=True))
            or any(isinstance(v, int) and not 0 <= v < 2**63 for v in values)
        ):
            raise ValueError("shape")
    except ValueError:
        raise ApiError(422, "invalid_cursor", "the cursor is not one this API returned") from None
    return tuple(values)
