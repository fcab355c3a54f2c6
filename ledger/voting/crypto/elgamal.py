"""Exponential ElGamal under the election key (spec section 4).

``Enc(m; r) = (rG, mG + rK)``: the message sits in the exponent, so ciphertexts add
component-wise to an encryption of the sum. That is what lets the tally be decrypted once per
option instead of once per ballot, at the price of a small discrete logarithm at the end
(:func:`discrete_log`, bounded by the turnout).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from ledger.voting.crypto.errors import DecryptionError, InvalidEncoding
from ledger.voting.crypto.group import (
    IDENTITY,
    ORDER,
    POINT_SIZE,
    G,
    Point,
    base_mul,
    linear_combination,
    point_sum,
)

CIPHERTEXT_SIZE = 2 * POINT_SIZE


@dataclass(frozen=True, slots=True)
class Ciphertext:
    """``(alpha, beta) = (rG, mG + rK)``, encoded ``enc(alpha) || enc(beta)`` (66 bytes)."""

    alpha: Point
    beta: Point

    def to_bytes(self) -> bytes:
        return self.alpha.encoding + self.beta.encoding

    @classmethod
    def from_bytes(cls, data: bytes) -> Ciphertext:
        if len(data) != CIPHERTEXT_SIZE:
            raise InvalidEncoding(
                f"A ciphertext is {CIPHERTEXT_SIZE} bytes, but {len(data)} bytes were given."
            )
        return cls(Point.from_bytes(data[:POINT_SIZE]), Point.from_bytes(data[POINT_SIZE:]))

    def __add__(self, other: Ciphertext) -> Ciphertext:
        return Ciphertext(self.alpha + other.alpha, self.beta + other.beta)


ZERO_CIPHERTEXT = Ciphertext(IDENTITY, IDENTITY)
"""The encryption of 0 under nonce 0: the sum of no ciphertexts."""


def elgamal_encrypt(public_key: Point, message: int, nonce: int) -> Ciphertext:
    """``(rG, mG + rK)``; ``message`` is a small non-negative count, ``nonce`` secret and fresh.

    A nonce used twice under one key reveals the difference of the two messages, so callers
    draw it with :func:`~ledger.voting.crypto.group.random_scalar` for every ciphertext.
    """
    if message < 0:
        raise ValueError("Exponential ElGamal encrypts non-negative counts only.")
    return Ciphertext(base_mul(nonce), linear_combination(message, (nonce, public_key)))


def elgamal_add(*ciphertexts: Ciphertext) -> Ciphertext:
    """The component-wise sum, which encrypts the sum of the messages (identity when empty)."""
    return elgamal_sum(ciphertexts)


def elgamal_sum(ciphertexts: Iterable[Ciphertext]) -> Ciphertext:
    """:func:`elgamal_add` over an iterable, with one libsecp256k1 addition per component."""
    items = list(ciphertexts)
    return Ciphertext(point_sum(c.alpha for c in items), point_sum(c.beta for c in items))


def elgamal_decrypt(secret: int, ciphertext: Ciphertext, max_message: int) -> int:
    """The message ``m <= max_message`` of a ciphertext, with the whole secret key ``k``.

    Only tests and single-trustee tools hold the whole key; an election decrypts with
    threshold partial decryptions (:mod:`~ledger.voting.crypto.decryption`).
    """
    return discrete_log(ciphertext.beta - ciphertext.alpha * secret, max_message)


class _BabySteps:
    """``{enc(jG): j}`` for ``j < m``: the baby steps of baby-step giant-step, kept per process.

    The table only grows (a larger ``m`` extends it), so the tally of a large election and the
    many small decryptions of the tests share one table. 708 entries cover 500,000.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._table: dict[bytes, int] = {IDENTITY.encoding: 0}
        self._last = IDENTITY

    def table(self, size: int) -> dict[bytes, int]:
        with self._lock:
            if len(self._table) < size:
                steps = [self._last]
                for _ in range(size - len(self._table)):
                    steps.append(steps[-1] + G)
                for j, point in enumerate(steps[1:], start=len(self._table)):
                    self._table[point.encoding] = j
                self._last = steps[-1]
            return self._table


_BABY_STEPS = _BabySteps()


def discrete_log(point: Point, max_value: int) -> int:
    """The ``m`` in ``[0, max_value]`` with ``mG = point`` (baby-step giant-step).

    ``m = i*s + j`` with ``s = ceil(sqrt(max_value + 1))``: at most ``s`` table look-ups after
    ``s`` point additions, so 500,000 takes about a thousand additions, a few milliseconds.
    Raises :class:`DecryptionError` when no such ``m`` exists, which for a tally means the
    partial decryptions do not belong together (or a count exceeds the turnout).
    """
    if max_value < 0:
        raise DecryptionError("The largest possible count cannot be negative.")
    step = max(1, math.isqrt(max_value) + 1)
    table = _BABY_STEPS.table(step)
    giant = base_mul(ORDER - step)  # -sG
    current = point
    for i in range(step + 1):
        j = table.get(current.encoding)
        if j is not None:
            # Logarithms below n are unique: a hit above the bound means none within it.
            value = i * step + j
            if value <= max_value:
                return value
            break
        current = current + giant
    raise DecryptionError(
        f"The decrypted value is not a count between 0 and {max_value}: the partial "
        "decryptions do not match the tally, or the tally holds more votes than there were "
        "ballots."
    )
