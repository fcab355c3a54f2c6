"""The trustees' key ceremony: joint-Feldman distributed key generation (spec section 3).

Each of ``n`` trustees deals a random polynomial of degree ``k - 1``; the election key is the sum
of the constant terms' commitments, and trustee ``l``'s share of the (never assembled) secret key
is the sum of every dealer's polynomial at ``l``. Any ``k`` trustees can then decrypt the tally
together, and no ``k - 1`` of them can decrypt anything.

The flow, one chain transaction per step and trustee:

1. :func:`start_ceremony` draws the polynomial and a share-encryption key and returns the secrets
   (kept by the trustee, :meth:`TrusteeSecrets.to_bytes` for an encrypted file) and the
   :class:`CommitmentMessage` to post; everyone checks the others' with
   :func:`verify_commitments`.
2. :func:`deal_shares` encrypts ``f_i(l)`` to every other trustee's key (:class:`SharesMessage`).
3. :func:`receive_shares` decrypts and Feldman-checks the shares addressed to this trustee and
   returns its secret share; a bad share raises :class:`CeremonyError` naming the dealer, whom
   the administrator removes before starting again. :func:`election_public_key` and
   :func:`verification_key` are computed by anyone from the posted commitments.
"""

from __future__ import annotations

import hashlib
import secrets as random_bytes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.voting.crypto.context import ElectionContext
from ledger.voting.crypto.errors import CeremonyError, InvalidEncoding
from ledger.voting.crypto.group import (
    ORDER,
    POINT_SIZE,
    SCALAR_SIZE,
    Point,
    base_mul,
    linear_combination,
    point_sum,
    random_scalar,
    scalar_from_bytes,
    scalar_to_bytes,
    uint256,
)
from ledger.voting.crypto.proofs import (
    SHARE_KEY_COEFFICIENT,
    SchnorrProof,
    prove_knowledge,
    verify_knowledge,
)

CEREMONY_VERSION = 1
SECRETS_VERSION = 1
SHARE_KEY_TAG = b"cityledger/voting/v1/share-key"
MAX_TRUSTEES = 255
"""Trustee indices and the threshold are one byte in the blobs. (Coefficient indices then stop
at 254, so ``j = 255`` of the share-encryption key's proof never collides with one.)"""
NONCE_SIZE = 12
SHARE_CIPHERTEXT_SIZE = SCALAR_SIZE + 16
"""A 32-byte share and AES-GCM's 16-byte tag."""
ENTRY_SIZE = POINT_SIZE + 2 * SCALAR_SIZE
"""A commitment or key (33 bytes) and its Schnorr proof (64)."""
SHARE_SIZE = 1 + POINT_SIZE + NONCE_SIZE + SHARE_CIPHERTEXT_SIZE


def _check_index(index: int, what: str = "A trustee index") -> None:
    if not 1 <= index <= MAX_TRUSTEES:
        raise CeremonyError(f"{what} is 1 to {MAX_TRUSTEES}, not {index}.")


def _check_threshold(threshold: int) -> None:
    if not 1 <= threshold <= MAX_TRUSTEES:
        raise CeremonyError(f"The threshold is 1 to {MAX_TRUSTEES} trustees, not {threshold}.")


def evaluate_polynomial(coefficients: Sequence[int], x: int) -> int:
    """``f(x) = sum_j a_j x^j mod n`` (Horner)."""
    value = 0
    for coefficient in reversed(coefficients):
        value = (value * x + coefficient) % ORDER
    return value


@dataclass(frozen=True, slots=True)
class TrusteeSecrets:
    """What trustee ``index`` must keep and never post: its polynomial and share-decryption key.

    Not printed by ``repr``, so it cannot end up in a log by accident (spec section 11).
    """

    index: int
    threshold: int
    coefficients: tuple[int, ...] = field(repr=False)
    share_key: int = field(repr=False)

    def __post_init__(self) -> None:
        _check_index(self.index)
        _check_threshold(self.threshold)
        if len(self.coefficients) != self.threshold:
            raise CeremonyError(
                f"A polynomial for a threshold of {self.threshold} has {self.threshold} "
                f"coefficients, not {len(self.coefficients)}."
            )

    def to_bytes(self) -> bytes:
        """``version (1) || index (1) || k (1) || a_0 .. a_(k-1) (32 each) || e (32)``."""
        return (
            bytes((SECRETS_VERSION, self.index, self.threshold))
            + b"".join(scalar_to_bytes(a) for a in self.coefficients)
            + scalar_to_bytes(self.share_key)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> TrusteeSecrets:
        if len(data) < 3 or data[0] != SECRETS_VERSION:
            raise InvalidEncoding("The trustee secrets are not version-1 trustee secrets.")
        threshold = data[2]
        expected = 3 + (threshold + 1) * SCALAR_SIZE
        if len(data) != expected:
            raise InvalidEncoding(
                f"Trustee secrets for a threshold of {threshold} are {expected} bytes, "
                f"not {len(data)}."
            )
        scalars = [
            scalar_from_bytes(data[k : k + SCALAR_SIZE], "a trustee secret")
            for k in range(3, len(data), SCALAR_SIZE)
        ]
        try:
            return cls(data[1], threshold, tuple(scalars[:-1]), scalars[-1])
        except CeremonyError as error:
            raise InvalidEncoding(f"The trustee secrets are inconsistent: {error}") from None

    def share_for(self, recipient: int) -> int:
        """``s_il = f_i(l)``, the share this trustee deals to trustee ``recipient``."""
        return evaluate_polynomial(self.coefficients, recipient)


@dataclass(frozen=True, slots=True)
class CommitmentMessage:
    """The ``postCommitments`` blob: ``K_ij = a_ij G`` and ``E_i = e_i G``, each with a proof of
    possession."""

    commitments: tuple[Point, ...]
    proofs: tuple[SchnorrProof, ...]
    share_key: Point
    share_key_proof: SchnorrProof

    @property
    def threshold(self) -> int:
        """``k``: the dealer's polynomial has ``k`` coefficients."""
        return len(self.commitments)

    def to_bytes(self) -> bytes:
        """``version || k || (K_ij || proof) for j < k || E_i || proof``."""
        parts = [bytes((CEREMONY_VERSION, self.threshold))]
        for commitment, proof in zip(self.commitments, self.proofs, strict=True):
            parts += (commitment.encoding, proof.to_bytes())
        parts += (self.share_key.encoding, self.share_key_proof.to_bytes())
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> CommitmentMessage:
        if len(data) < 2:
            raise InvalidEncoding("A commitment blob has at least a version and a threshold.")
        if data[0] != CEREMONY_VERSION:
            raise InvalidEncoding(
                f"The commitment blob has version {data[0]}; only {CEREMONY_VERSION} exists."
            )
        threshold = data[1]
        if threshold < 1:
            raise InvalidEncoding("A commitment blob commits to at least one coefficient.")
        expected = 2 + (threshold + 1) * ENTRY_SIZE
        if len(data) != expected:
            raise InvalidEncoding(
                f"A commitment blob for a threshold of {threshold} is {expected} bytes, "
                f"not {len(data)}."
            )
        entries = [
            (
                Point.from_bytes(data[k : k + POINT_SIZE]),
                SchnorrProof.from_bytes(data[k + POINT_SIZE : k + ENTRY_SIZE]),
            )
            for k in range(2, len(data), ENTRY_SIZE)
        ]
        return cls(
            tuple(point for point, _ in entries[:-1]),
            tuple(proof for _, proof in entries[:-1]),
            entries[-1][0],
            entries[-1][1],
        )


@dataclass(frozen=True, slots=True)
class EncryptedShare:
    """``s_il`` for trustee ``recipient``: ephemeral ``R = rho G``, AES-GCM nonce and ciphertext."""

    recipient: int
    ephemeral: Point
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class SharesMessage:
    """The ``postShares`` blob: one encrypted share per other trustee, by ascending index."""

    shares: tuple[EncryptedShare, ...]

    def __post_init__(self) -> None:
        recipients = [share.recipient for share in self.shares]
        if recipients != sorted(set(recipients)):
            raise InvalidEncoding("The shares of a dealer are for distinct, ascending trustees.")
        if len(self.shares) > MAX_TRUSTEES:
            raise InvalidEncoding(f"A dealer has at most {MAX_TRUSTEES} shares to post.")

    def to_bytes(self) -> bytes:
        """``version || count || (l || R || nonce || ciphertext+tag) per recipient``."""
        parts = [bytes((CEREMONY_VERSION, len(self.shares)))]
        for share in self.shares:
            parts += (
                bytes((share.recipient,)),
                share.ephemeral.encoding,
                share.nonce,
                share.ciphertext,
            )
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> SharesMessage:
        if len(data) < 2 or data[0] != CEREMONY_VERSION:
            raise InvalidEncoding(f"A shares blob starts with version {CEREMONY_VERSION}.")
        count = data[1]
        if len(data) != 2 + count * SHARE_SIZE:
            raise InvalidEncoding(
                f"A shares blob with {count} shares is {2 + count * SHARE_SIZE} bytes, "
                f"not {len(data)}."
            )
        shares = []
        for k in range(2, len(data), SHARE_SIZE):
            recipient = data[k]
            if not 1 <= recipient <= MAX_TRUSTEES:
                raise InvalidEncoding(
                    f"A share is addressed to trustee {recipient}, who cannot exist."
                )
            point_end = k + 1 + POINT_SIZE
            shares.append(
                EncryptedShare(
                    recipient,
                    Point.from_bytes(data[k + 1 : point_end]),
                    bytes(data[point_end : point_end + NONCE_SIZE]),
                    bytes(data[point_end + NONCE_SIZE : k + SHARE_SIZE]),
                )
            )
        return cls(tuple(shares))

    def share_for(self, recipient: int) -> EncryptedShare | None:
        for share in self.shares:
            if share.recipient == recipient:
                return share
        return None


def start_ceremony(
    context: ElectionContext, index: int, threshold: int
) -> tuple[TrusteeSecrets, CommitmentMessage]:
    """Trustee ``index`` draws ``f_i`` (``threshold`` coefficients) and ``e_i``; returns what to
    keep and what to post with ``postCommitments``."""
    _check_index(index)
    _check_threshold(threshold)
    coefficients = tuple(random_scalar() for _ in range(threshold))
    share_key = random_scalar()
    commitments = tuple(base_mul(a) for a in coefficients)
    proofs = tuple(
        prove_knowledge(context, index, j, commitment, a)
        for j, (commitment, a) in enumerate(zip(commitments, coefficients, strict=True))
    )
    share_public = base_mul(share_key)
    message = CommitmentMessage(
        commitments,
        proofs,
        share_public,
        prove_knowledge(context, index, SHARE_KEY_COEFFICIENT, share_public, share_key),
    )
    return TrusteeSecrets(index, threshold, coefficients, share_key), message


def verify_commitments(
    context: ElectionContext, index: int, message: CommitmentMessage, threshold: int
) -> None:
    """Check trustee ``index``'s commitments: ``threshold`` of them, every proof of possession,
    and a share-encryption key that is not the identity (a share encrypted to it would be
    readable by anyone). Raises :class:`CeremonyError` with ``dealer=index``."""
    if message.threshold != threshold:
        raise CeremonyError(
            f"Trustee {index} committed to {message.threshold} coefficients, but the threshold "
            f"is {threshold}.",
            dealer=index,
        )
    if len(message.proofs) != message.threshold:
        raise CeremonyError(f"Trustee {index} did not post one proof per commitment.", dealer=index)
    for j, (commitment, proof) in enumerate(zip(message.commitments, message.proofs, strict=True)):
        if not verify_knowledge(context, index, j, commitment, proof):
            raise CeremonyError(
                f"Trustee {index}'s proof of possession for coefficient {j} does not verify.",
                dealer=index,
            )
    if message.share_key.is_identity:
        raise CeremonyError(
            f"Trustee {index}'s share-encryption key is the identity point.", dealer=index
        )
    if not verify_knowledge(
        context, index, SHARE_KEY_COEFFICIENT, message.share_key, message.share_key_proof
    ):
        raise CeremonyError(
            f"Trustee {index}'s proof of possession for its share-encryption key does not verify.",
            dealer=index,
        )


def _share_key_and_data(
    context: ElectionContext, shared_point: Point, dealer: int, recipient: int
) -> tuple[bytes, bytes]:
    """The AES-256 key ``H(tag || enc(rho E_l) || ctx || i || l)`` and the associated data."""
    associated = context.digest + uint256(dealer) + uint256(recipient)
    key = hashlib.sha256(SHARE_KEY_TAG + shared_point.encoding + associated).digest()
    return key, associated


def deal_shares(
    context: ElectionContext, secrets: TrusteeSecrets, share_keys: Mapping[int, Point]
) -> SharesMessage:
    """Encrypt ``f_i(l)`` to ``E_l`` for every trustee ``l`` in ``share_keys`` but this one.

    ``share_keys`` are the ``E_l`` of commitments that passed :func:`verify_commitments`.
    """
    shares = []
    for recipient in sorted(share_keys):
        if recipient == secrets.index:
            continue
        _check_index(recipient)
        public = share_keys[recipient]
        if public.is_identity:
            raise CeremonyError(
                f"Trustee {recipient}'s share-encryption key is the identity point.",
                dealer=recipient,
            )
        ephemeral = random_scalar()
        key, associated = _share_key_and_data(context, public * ephemeral, secrets.index, recipient)
        nonce = random_bytes.token_bytes(NONCE_SIZE)
        ciphertext = AESGCM(key).encrypt(
            nonce, scalar_to_bytes(secrets.share_for(recipient)), associated
        )
        shares.append(EncryptedShare(recipient, base_mul(ephemeral), nonce, ciphertext))
    return SharesMessage(tuple(shares))


def _feldman_commitment(commitments: Sequence[Point], index: int) -> Point:
    """``sum_j index^j C_j``: what ``f(index) G`` must be for the committed polynomial."""
    return linear_combination(
        0, *((pow(index, j, ORDER), commitment) for j, commitment in enumerate(commitments))
    )


def receive_shares(
    context: ElectionContext,
    secrets: TrusteeSecrets,
    commitments: Mapping[int, CommitmentMessage],
    shares: Mapping[int, SharesMessage],
) -> int:
    """This trustee's secret share ``s_l = sum_i f_i(l)`` over the dealers in ``commitments``.

    Every dealer's commitments are verified, its share to this trustee decrypted and checked
    against them (``s_il G == sum_j l^j K_ij``); the first dealer whose share is missing, does
    not decrypt or fails the check raises :class:`CeremonyError` with ``dealer`` set.
    """
    me = secrets.index
    own = commitments.get(me)
    if own is None or own.commitments != tuple(base_mul(a) for a in secrets.coefficients):
        raise CeremonyError(
            f"The commitments of trustee {me} are not the ones its secrets make: wrong secrets "
            "file, or commitments that were never posted.",
            dealer=me,
        )
    total = 0
    for dealer in sorted(commitments):
        message = commitments[dealer]
        verify_commitments(context, dealer, message, secrets.threshold)
        if dealer == me:
            total += secrets.share_for(me)
            continue
        posted = shares.get(dealer)
        encrypted = posted.share_for(me) if posted is not None else None
        if encrypted is None:
            raise CeremonyError(
                f"Trustee {dealer} posted no share for trustee {me}.", dealer=dealer
            )
        if encrypted.ephemeral.is_identity:
            raise CeremonyError(
                f"Trustee {dealer}'s share for trustee {me} has an identity ephemeral key.",
                dealer=dealer,
            )
        key, associated = _share_key_and_data(
            context, encrypted.ephemeral * secrets.share_key, dealer, me
        )
        try:
            plaintext = AESGCM(key).decrypt(encrypted.nonce, encrypted.ciphertext, associated)
            share = scalar_from_bytes(plaintext, "a share")
        except (InvalidTag, InvalidEncoding):
            raise CeremonyError(
                f"Trustee {dealer}'s share for trustee {me} does not decrypt.", dealer=dealer
            ) from None
        if base_mul(share) != _feldman_commitment(message.commitments, me):
            raise CeremonyError(
                f"Trustee {dealer}'s share for trustee {me} does not match its commitments.",
                dealer=dealer,
            )
        total += share
    return total % ORDER


def _aggregate(commitments: Mapping[int, CommitmentMessage]) -> tuple[Point, ...]:
    """``C_j = sum_i K_ij``: one commitment per coefficient of the joint polynomial."""
    if not commitments:
        raise CeremonyError("No trustee has posted commitments.")
    thresholds = {message.threshold for message in commitments.values()}
    if len(thresholds) != 1:
        odd = min(
            index
            for index, message in commitments.items()
            if message.threshold != commitments[min(commitments)].threshold
        )
        raise CeremonyError(
            f"Trustee {odd} committed to a different number of coefficients than trustee "
            f"{min(commitments)}.",
            dealer=odd,
        )
    (threshold,) = thresholds
    return tuple(
        point_sum(message.commitments[j] for message in commitments.values())
        for j in range(threshold)
    )


def election_public_key(commitments: Mapping[int, CommitmentMessage]) -> Point:
    """``K = sum_i K_i0``, the key ballots are encrypted under."""
    return _aggregate(commitments)[0]


def verification_key(index: int, commitments: Mapping[int, CommitmentMessage]) -> Point:
    """``S_l = sum_i sum_j l^j K_ij = s_l G``, computed by anyone from the posted commitments.

    Summing per coefficient first costs ``k - 1`` multiplications instead of ``n (k - 1)``.
    """
    _check_index(index)
    return _feldman_commitment(_aggregate(commitments), index)
