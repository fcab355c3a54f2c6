"""Tests of M-voting; ``test_group`` .. ``test_decryption`` cover ``ledger.voting.crypto``.

The helpers below are shared by those modules: a fixed election, hypothesis settings that keep
the whole crypto suite to seconds, and an honest key ceremony to build elections on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st

from ledger.voting.crypto import (
    ORDER,
    CommitmentMessage,
    ElectionContext,
    Point,
    SharesMessage,
    TrusteeSecrets,
    deal_shares,
    election_public_key,
    receive_shares,
    start_ceremony,
    verify_commitments,
)

CONTEXT = ElectionContext(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3", 7)
OTHER_CONTEXTS = (
    ElectionContext(31338, CONTEXT.contract, CONTEXT.election_id),
    ElectionContext(CONTEXT.chain_id, "0x" + "ab" * 20, CONTEXT.election_id),
    ElectionContext(CONTEXT.chain_id, CONTEXT.contract, CONTEXT.election_id + 1),
)
"""The same election with one of chain, contract or election id changed."""

VOTER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER_VOTER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"

CRYPTO = settings(max_examples=25, deadline=None)
"""Few examples (each one does tens of curve multiplications) and no deadline (shared CPUs)."""

scalars = st.one_of(
    st.sampled_from([0, 1, 2, ORDER - 1, ORDER - 2]), st.integers(min_value=0, max_value=ORDER - 1)
)
"""Any scalar, the edges of ``Z_n`` often."""
nonzero_scalars = st.integers(min_value=1, max_value=ORDER - 1)


@dataclass(frozen=True)
class Ceremony:
    """An honest ceremony's outcome: what each trustee holds and what the chain holds."""

    secrets: Mapping[int, TrusteeSecrets]
    commitments: Mapping[int, CommitmentMessage]
    shares: Mapping[int, SharesMessage]
    secret_shares: Mapping[int, int]
    public_key: Point


def run_ceremony(context: ElectionContext, trustees: int, threshold: int) -> Ceremony:
    """Every trustee commits, deals and receives, as ``ledger.voting.lifecycle`` drives them."""
    started = {i: start_ceremony(context, i, threshold) for i in range(1, trustees + 1)}
    secrets = {i: pair[0] for i, pair in started.items()}
    commitments = {i: pair[1] for i, pair in started.items()}
    for index, message in commitments.items():
        verify_commitments(context, index, message, threshold)
    share_keys = {i: message.share_key for i, message in commitments.items()}
    shares = {i: deal_shares(context, secrets[i], share_keys) for i in secrets}
    secret_shares = {i: receive_shares(context, secrets[i], commitments, shares) for i in secrets}
    return Ceremony(secrets, commitments, shares, secret_shares, election_public_key(commitments))
