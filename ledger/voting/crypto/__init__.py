"""The cryptography of CityLedger's verifiable M-voting, as ``docs/voting-spec.md`` specifies it.

secp256k1 through libsecp256k1 (:mod:`.group`), exponential ElGamal (:mod:`.elgamal`),
Fiat-Shamir proofs bound to the election (:mod:`.proofs`), ballots (:mod:`.ballot`), the
trustees' key ceremony (:mod:`.ceremony`), threshold decryption of the tally
(:mod:`.decryption`) and parallel ballot verification for the audit (:mod:`.batch`).
"""

from ledger.voting.crypto.ballot import (
    EncryptedBallot,
    encrypt_ballot,
    parse_and_verify,
    tracking_code,
    verify_ballot,
)
from ledger.voting.crypto.batch import verify_ballots
from ledger.voting.crypto.ceremony import (
    CommitmentMessage,
    EncryptedShare,
    SharesMessage,
    TrusteeSecrets,
    deal_shares,
    election_public_key,
    receive_shares,
    start_ceremony,
    verification_key,
    verify_commitments,
)
from ledger.voting.crypto.context import BallotSpec, ElectionContext
from ledger.voting.crypto.decryption import (
    PartialDecryption,
    combine,
    lagrange_coefficient,
    partial_decrypt,
    tally_ciphertexts,
    tally_hash,
    verify_partial,
)
from ledger.voting.crypto.elgamal import (
    Ciphertext,
    discrete_log,
    elgamal_add,
    elgamal_decrypt,
    elgamal_encrypt,
)
from ledger.voting.crypto.errors import (
    CeremonyError,
    DecryptionError,
    InvalidEncoding,
    InvalidProof,
    InvalidSelection,
    SelectionCountError,
    VotingCryptoError,
)
from ledger.voting.crypto.group import (
    IDENTITY,
    ORDER,
    G,
    Point,
    base_mul,
    hash_to_scalar,
    random_scalar,
    scalar_from_bytes,
    scalar_to_bytes,
)
from ledger.voting.crypto.proofs import (
    ChaumPedersenProof,
    RangeProof,
    SchnorrProof,
    prove_equal_log,
    prove_knowledge,
    prove_range,
    verify_equal_log,
    verify_knowledge,
    verify_range,
)

__all__ = [
    "IDENTITY",
    "ORDER",
    "BallotSpec",
    "CeremonyError",
    "ChaumPedersenProof",
    "Ciphertext",
    "CommitmentMessage",
    "DecryptionError",
    "ElectionContext",
    "EncryptedBallot",
    "EncryptedShare",
    "G",
    "InvalidEncoding",
    "InvalidProof",
    "InvalidSelection",
    "PartialDecryption",
    "Point",
    "RangeProof",
    "SchnorrProof",
    "SelectionCountError",
    "SharesMessage",
    "TrusteeSecrets",
    "VotingCryptoError",
    "base_mul",
    "combine",
    "deal_shares",
    "discrete_log",
    "election_public_key",
    "elgamal_add",
    "elgamal_decrypt",
    "elgamal_encrypt",
    "encrypt_ballot",
    "hash_to_scalar",
    "lagrange_coefficient",
    "parse_and_verify",
    "partial_decrypt",
    "prove_equal_log",
    "prove_knowledge",
    "prove_range",
    "random_scalar",
    "receive_shares",
    "scalar_from_bytes",
    "scalar_to_bytes",
    "start_ceremony",
    "tally_ciphertexts",
    "tally_hash",
    "tracking_code",
    "verification_key",
    "verify_ballot",
    "verify_ballots",
    "verify_commitments",
    "verify_equal_log",
    "verify_knowledge",
    "verify_partial",
    "verify_range",
]
