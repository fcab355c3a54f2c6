"""The group of M-voting: secp256k1 through libsecp256k1 (coincurve), spec section 1.

libsecp256k1 does the curve arithmetic about a hundred times faster than Python integers could,
which is what makes auditing tens of thousands of ballots a matter of seconds. It has no way to
represent the identity point, though, and every ElGamal and Lagrange identity of the scheme
meets it sooner or later (an encryption of 0 under nonce 0, an empty tally, ``P + (-P)``): so
:class:`Point` wraps coincurve's ``PublicKey`` and represents the identity itself, encoded as 33
zero bytes as the spec says.

Scalars are plain ``int`` values reduced modulo :data:`ORDER`; their 32-byte encoding is
canonical (a decoder rejects values ``>= ORDER``), so one scalar has exactly one encoding and
proofs cannot be made malleable by adding the order to a response.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from coincurve import PublicKey

from ledger.voting.crypto.errors import InvalidEncoding

ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""``n``, the order of secp256k1's group; scalars live in ``Z_n``."""

POINT_SIZE = 33
"""Bytes of an encoded point (SEC1 compressed, or 33 zero bytes for the identity)."""

SCALAR_SIZE = 32
"""Bytes of an encoded scalar (big-endian)."""

_IDENTITY_ENCODING = bytes(POINT_SIZE)
_GENERATOR_ENCODING = bytes.fromhex(
    "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
)


@dataclass(frozen=True, slots=True, repr=False)
class Point:
    """A point of secp256k1, the identity included; equal points have equal encodings.

    Build points with :meth:`from_bytes`, :func:`base_mul` and the operators; the constructor
    trusts its arguments. The libsecp256k1 object behind a point is parsed lazily, so negating
    a point (a flip of the compressed prefix byte) costs nothing until the result is used.
    """

    encoding: bytes
    _key: PublicKey | None = field(default=None, compare=False)
    """The coincurve ``PublicKey`` of a non-identity point, ``None`` until first needed."""

    @classmethod
    def from_bytes(cls, data: bytes) -> Point:
        """Decode 33 bytes: the identity's 33 zeros, or a compressed point on the curve."""
        if len(data) != POINT_SIZE:
            raise InvalidEncoding(
                f"A point is {POINT_SIZE} bytes, but {len(data)} bytes were given."
            )
        data = bytes(data)
        if data == _IDENTITY_ENCODING:
            return IDENTITY
        if data[0] not in (2, 3):
            raise InvalidEncoding(f"A point starts with 02 or 03 (compressed), not {data[0]:02x}.")
        try:
            key = PublicKey(data)
        except ValueError:
            raise InvalidEncoding(
                "The bytes given for a point are not a point of secp256k1."
            ) from None
        return cls(data, key)

    @classmethod
    def _from_key(cls, key: PublicKey) -> Point:
        """Wrap a coincurve result, which is never the identity (coincurve cannot hold one)."""
        return cls(key.format(), key)

    def to_bytes(self) -> bytes:
        """The 33-byte encoding of section 1."""
        return self.encoding

    @property
    def is_identity(self) -> bool:
        """Whether this is the neutral element (the point at infinity)."""
        return self.encoding == _IDENTITY_ENCODING

    def public_key(self) -> PublicKey:
        """The coincurve ``PublicKey`` of a non-identity point, for the arithmetic below."""
        key = self._key
        if key is None:
            if self.is_identity:
                raise ValueError("The identity point has no libsecp256k1 representation.")
            key = PublicKey(self.encoding)
            object.__setattr__(self, "_key", key)
        return key

    def __add__(self, other: Point) -> Point:
        if self.is_identity:
            return other
        if other.is_identity:
            return self
        return point_sum((self, other))

    def __neg__(self) -> Point:
        if self.is_identity:
            return self
        # -(x, y) = (x, -y): only the parity of y, the prefix byte, changes.
        return Point(bytes((self.encoding[0] ^ 1,)) + self.encoding[1:])

    def __sub__(self, other: Point) -> Point:
        return self + (-other)

    def __mul__(self, scalar: int) -> Point:
        return linear_combination(0, (scalar, self))

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"Point({self.encoding.hex()})"

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        # The coincurve object does not pickle; the encoding does (ProcessPoolExecutor).
        return (Point.from_bytes, (self.encoding,))


IDENTITY = Point(_IDENTITY_ENCODING)
"""The neutral element, encoded as 33 zero bytes."""

G = Point(_GENERATOR_ENCODING, PublicKey(_GENERATOR_ENCODING))
"""secp256k1's standard generator."""


def base_mul(scalar: int) -> Point:
    """``scalar * G``, with libsecp256k1's precomputed generator tables.

    Measured here at about 20 us, against 35 us for a multiplication of any other point:
    ``PublicKey.from_valid_secret`` is the fastest entry to them.
    """
    scalar %= ORDER
    if scalar == 0:
        return IDENTITY
    return Point._from_key(PublicKey.from_valid_secret(scalar.to_bytes(SCALAR_SIZE, "big")))


def point_sum(points: Iterable[Point]) -> Point:
    """The sum of any number of points, in one libsecp256k1 call (a few us per point)."""
    keys = [point.public_key() for point in points if not point.is_identity]
    if not keys:
        return IDENTITY
    if len(keys) == 1:
        return Point._from_key(keys[0])
    try:
        return Point._from_key(PublicKey.combine_keys(keys))
    except ValueError:  # libsecp256k1 refuses a sum that is the point at infinity
        return IDENTITY


class _FixedBaseTable:
    """``rows[i][d] = d * 256^i * P`` for one point ``P``: ``kP`` as a sum of at most 32 entries.

    libsecp256k1 only has such tables for ``G``. For the election key, which every range proof
    multiplies twice per branch, a table of 32 x 255 points (about 60 ms to build) turns a 35-40
    us multiplication into one addition of table entries (about 20 us, and it joins the addition
    that follows anyway). No entry is the identity: ``255 * 256^31 < n``.
    """

    __slots__ = ("rows",)

    def __init__(self, point: Point) -> None:
        base = point.public_key()
        self.rows: list[list[PublicKey]] = []
        for _ in range(SCALAR_SIZE):
            row: list[PublicKey] = [base, base]  # row[0] is never read: digit 0 adds nothing
            for _ in range(2, 256):
                row.append(PublicKey.combine_keys([row[-1], base]))
            self.rows.append(row)
            base = PublicKey.combine_keys([row[-1], base])  # 256 * base

    def keys_for(self, scalar: int) -> list[PublicKey]:
        """Entries summing to ``scalar * P`` (``0 < scalar < n``)."""
        rows = self.rows
        return [rows[i][d] for i, d in enumerate(scalar.to_bytes(SCALAR_SIZE, "little")) if d]


_TABLES: dict[bytes, _FixedBaseTable] = {}
_MAX_TABLES = 4


def precompute(point: Point) -> None:
    """Make later multiplications of ``point`` use a fixed-base table (about 2x faster).

    Worth it for a point multiplied thousands of times, like the election key during an audit;
    a few tables are kept per process, the oldest dropped first.
    """
    if point.is_identity or point.encoding in _TABLES:
        return
    table = _FixedBaseTable(point)
    while len(_TABLES) >= _MAX_TABLES:
        _TABLES.pop(next(iter(_TABLES)))
    _TABLES[point.encoding] = table


def linear_combination(g_scalar: int, *terms: tuple[int, Point]) -> Point:
    """``g_scalar * G + sum(k * P for k, P in terms)``, the shape of every proof check.

    One fixed-base multiplication, one multiplication per term and a single addition of all
    of them, without building an intermediate :class:`Point`: this is the inner loop of ballot
    verification.
    """
    keys: list[PublicKey] = []
    g_scalar %= ORDER
    if g_scalar:
        keys.append(PublicKey.from_valid_secret(g_scalar.to_bytes(SCALAR_SIZE, "big")))
    for raw, point in terms:
        scalar = raw % ORDER
        if scalar == 0 or point.is_identity:
            continue
        table = _TABLES.get(point.encoding)
        if table is not None:
            keys += table.keys_for(scalar)
        elif scalar == 1:
            keys.append(point.public_key())
        else:
            keys.append(point.public_key().multiply(scalar.to_bytes(SCALAR_SIZE, "big")))
    if not keys:
        return IDENTITY
    if len(keys) == 1:
        return Point._from_key(keys[0])
    try:
        return Point._from_key(PublicKey.combine_keys(keys))
    except ValueError:
        return IDENTITY


def random_scalar() -> int:
    """A uniformly random non-zero scalar from the operating system's CSPRNG (``secrets``)."""
    return secrets.randbelow(ORDER - 1) + 1


def scalar_to_bytes(scalar: int) -> bytes:
    """The 32-byte big-endian encoding of a scalar in ``[0, n)``."""
    if not 0 <= scalar < ORDER:
        raise InvalidEncoding("A scalar to encode must be at least 0 and below the group order.")
    return scalar.to_bytes(SCALAR_SIZE, "big")


def scalar_from_bytes(data: bytes, what: str = "a scalar") -> int:
    """Decode 32 big-endian bytes, refusing values ``>= n`` (non-canonical encodings)."""
    if len(data) != SCALAR_SIZE:
        raise InvalidEncoding(
            f"The encoding of {what} is {SCALAR_SIZE} bytes, but {len(data)} bytes were given."
        )
    value = int.from_bytes(data, "big")
    if value >= ORDER:
        raise InvalidEncoding(f"The encoding of {what} is not below the group order.")
    return value


def uint256(value: int) -> bytes:
    """An integer as it enters a hash: 32 bytes big-endian (spec conventions)."""
    return value.to_bytes(32, "big")


def hash_to_scalar(tag: str, *items: bytes) -> int:
    """``Hq(tag, x1, ..., xm)`` of section 1: SHA-256 over length-prefixed parts, mod ``n``.

    Every part carries its 4-byte length, so no two different lists of parts hash the same
    bytes, and the ASCII tag separates the uses (proof of possession, range proof, decryption)
    from each other.
    """
    digest = hashlib.sha256()
    encoded_tag = tag.encode("ascii")
    digest.update(len(encoded_tag).to_bytes(4, "big"))
    digest.update(encoded_tag)
    for item in items:
        digest.update(len(item).to_bytes(4, "big"))
        digest.update(item)
    return int.from_bytes(digest.digest(), "big") % ORDER
