"""Votes at scale for tests and benchmarks: residents registered and ballots cast with
pre-signed transactions in JSON-RPC batches, trustees walked through the key ceremony.

The ballots are the real thing (encrypted and proved by :func:`ledger.voting.crypto.
encrypt_ballot`, cast by the voter's own key); only the sending is batched, so hundreds of
voters take seconds rather than minutes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils import keccak
from web3.contract.contract import ContractFunction

from cityledger.testing.processes import rpc_batch
from cityledger.testing.web3tx import presign
from ledger.city import City
from ledger.types import AccountKind
from ledger.voting import lifecycle
from ledger.voting.crypto import encrypt_ballot
from ledger.voting.eligibility import EligibilityList
from ledger.voting.lifecycle import CeremonyStep
from ledger.voting.record import spec_of
from ledger.voting.vault import TrusteeVault

FLOOD_GAS = 3_000_000
"""Gas per pre-signed transaction: above any ballot's need (free gas: costs nothing)."""
BATCH = 100


def send_signed(city: City, calls: Sequence[tuple[LocalAccount, ContractFunction]]) -> int:
    """Sign each (signer, call) with the signer's next nonce, send in batches, wait for every
    receipt and fail on any revert; returns the number of blocks they took."""
    chain = city.chain
    raws = presign(chain.w3, calls, gas=FLOOD_GAS)
    sent = dict(zip(raws, calls, strict=True))
    blocks: set[str] = set()
    for start in range(0, len(raws), BATCH):
        chunk = raws[start : start + BATCH]
        hashes = rpc_batch(chain.rpc_url, [("eth_sendRawTransaction", [raw]) for raw in chunk])
        for raw, tx_hash in zip(chunk, hashes, strict=True):
            receipt = chain.w3.eth.wait_for_transaction_receipt(HexStr(str(tx_hash)), timeout=120)
            if receipt["status"] != 1:
                signer, function = sent[raw]
                chain.call(function, sender=signer.address)  # raises the decoded revert
                raise AssertionError(f"transaction {tx_hash!s} reverted")
            blocks.add(receipt["blockHash"].hex())
    return len(blocks)


def register_residents(
    city: City, registrar: LocalAccount, people: Mapping[int, Sequence[LocalAccount]]
) -> None:
    """Register each district's ``people`` as active residents."""
    calls = [
        (
            registrar,
            city.registry.contract.functions.register(
                person.address,
                int(AccountKind.RESIDENT),
                district,
                keccak(text=f"test credential {person.address}"),
            ),
        )
        for district, residents in people.items()
        for person in residents
    ]
    send_signed(city, calls)


def ballot_calls(
    city: City,
    election_id: int,
    choices: Mapping[str, Sequence[int]],
    voters: Mapping[str, LocalAccount],
    eligibility: EligibilityList,
) -> list[tuple[LocalAccount, ContractFunction]]:
    """Each voter's encrypted, proved ballot for ``choices[address]`` as a castBallot call."""
    state = city.elections.election(election_id)
    context = lifecycle.context_of(city, election_id)
    key = lifecycle.public_key_of(state)
    spec = spec_of(state.config)
    calls = []
    for address, picked in choices.items():
        voter = voters[address]
        ballot = encrypt_ballot(context, key, spec, voter.address, picked).to_bytes()
        proof = eligibility.proof(voter.address)
        calls.append(
            (voter, city.elections.contract.functions.castBallot(election_id, ballot, proof))
        )
    return calls


def run_ceremony(
    city: City,
    trustees: Sequence[LocalAccount],
    vault_dir: Path,
    password: str,
    election_id: int,
) -> dict[str, TrusteeVault]:
    """Every trustee takes its ceremony steps in turn until all hold their shares."""
    vaults: dict[str, TrusteeVault] = {
        t.address: TrusteeVault(
            vault_dir, lifecycle.context_of(city, election_id), t.address, scrypt_n=2**4
        )
        for t in trustees
    }
    for _round in range(3):
        steps = [
            lifecycle.trustee_keygen(city, t, vaults[t.address], password, election_id)
            for t in trustees
        ]
    if set(steps) != {CeremonyStep.SHARE_READY}:
        raise AssertionError(f"the ceremony did not finish: {steps}")
    return vaults
