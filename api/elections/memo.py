"""Memos of one application (each serves one deployment) for what cannot change any more:
published files (their hash is on chain), parsed eligibility lists, closed votes' boards; and
open votes' casts read so far (extended, never recomputed)."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

from api.services import Services
from ledger.voting.eligibility import EligibilityList

if TYPE_CHECKING:
    from api.elections.board import Board, LiveCasts

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """The last ``size`` values computed, each computed once even under concurrent requests.

    It holds only what cannot change any more: published files (their hash is on chain) and
    the board of a closed vote (the contract accepts no ballot after the close).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[K, threading.Lock] = {}

    def get(self, key: K, compute: Callable[[], V | None]) -> V | None:
        """The value of ``key``, computed if absent (a ``None`` result is not kept)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            lock = self._computing.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            try:
                value = compute()
                if value is not None:
                    with self._lock:
                        self._items[key] = value
                        while len(self._items) > self._size:
                            self._items.popitem(last=False)
                return value
            finally:
                with self._lock:
                    self._computing.pop(key, None)


class Caches:
    """One application's memos (each app serves one deployment)."""

    def __init__(self) -> None:
        self.files: Memo[tuple[str, bytes], bytes] = Memo(16)
        self.eligibility: Memo[tuple[str, bytes], EligibilityList] = Memo(4)
        self.boards: Memo[tuple[int, int, bytes, bytes], Board] = Memo(8)
        """Closed votes' boards (without ballot bytes), by election, its creation block and
        manifest (a chain reset under a running API does not reuse another vote's board), and
        the eligibility list applied."""
        self.live: Memo[tuple[int, int, bytes], LiveCasts] = Memo(8)
        """Open votes' casts read so far, by election, creation block and manifest."""


_CACHES: weakref.WeakKeyDictionary[Services, Caches] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def caches(services: Services) -> Caches:
    with _CACHES_LOCK:
        found = _CACHES.get(services)
        if found is None:
            found = _CACHES[services] = Caches()
        return found
