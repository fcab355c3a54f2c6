"""The eligibility list (docs/voting-spec.md, section 7): its canonical file, its Merkle tree and
proofs, and the registry snapshot it is made from.

The tree is pinned to OpenZeppelin's own ``StandardMerkleTree`` (JavaScript, @openzeppelin/
merkle-tree 1.x) by a vector it computed, and a hypothesis property checks on the embedded node
that every member's proof is accepted by the Elections contract (``MerkleProof.verify``) and no
non-member gets in.
"""

from __future__ import annotations

import json
import os

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityledger.testing.city import TestCity
from ledger.contracts.elections import ElectionConfig, ElectionKind
from ledger.exceptions import NotEligibleError
from ledger.roles import Role
from ledger.types import AccountKind
from ledger.voting.eligibility import (
    EligibilityError,
    EligibilityList,
    MerkleTree,
    leaf_hash,
    merkle_proof,
    merkle_root,
    snapshot,
    verify_proof,
)

# StandardMerkleTree.of(addresses.slice(0, n).map((a) => [a]), ["address"]) in @openzeppelin/
# merkle-tree 1.0.8, for addresses[i] = keccak("cityledger eligibility vector {i+1}")[12:].
OZ_ADDRESSES = [
    "0x6b28dc7d0863533720603248a2f4f7dfabe65161",
    "0xfbcb927809f2e2ae608ee8b42e099cf924ec27fc",
    "0x475b7e11df0a3de11aefc41ba4d8b33820f3638f",
    "0x2a53c3a1bd9901f76221fbaea7e4c488b6ed5bc3",
    "0x15d9d49c3945081cd0d27454cfcf7ff62f04dc2b",
    "0xffefede4f37ad7cbacd24ffdd00c86886f20bd27",
    "0x2e79e3d7c44ca10bef3089f3c452c92ca2cd6389",
]
OZ_VECTOR = {
    1: ("0xc5a022d85eb997e7543f830b1265f5a0c7a5677bee02c9e5887cd51000d31678", [], []),
    2: (
        "0xe4b17b2717462008cb65151d571f8da80de603316d83f983c82c780d6867da43",
        ["0xe3d61a35f30ff51352598960ecde14d4240a20688297863a035b977ff3747573"],
        ["0xc5a022d85eb997e7543f830b1265f5a0c7a5677bee02c9e5887cd51000d31678"],
    ),
    3: (
        "0x1b41a2f2e37d0fe1cb550374585b7eb835455f8f7fb4251190e4328eafb4ac65",
        [
            "0x3040a45cc89230863577878e68efd211806daa8247a857cd459d1e458a824381",
            "0xe3d61a35f30ff51352598960ecde14d4240a20688297863a035b977ff3747573",
        ],
        [
            "0xc5a022d85eb997e7543f830b1265f5a0c7a5677bee02c9e5887cd51000d31678",
            "0xe3d61a35f30ff51352598960ecde14d4240a20688297863a035b977ff3747573",
        ],
    ),
    7: (
        "0x0982c9f2202f9407aeeedddce582c41c403ec9d6d60f8a09e14a79aedae14f19",
        [
            "0x6619bea67a55534105d873c122f34143ca5fe60ebe0328d002f40f62ed610a55",
            "0xe21f651361bf831c9cfc6058d5d4456b56440ef651e9576a4f5fdd49e5fe3ebd",
            "0xd7d9cdc0e8d58f167b05c71c87beba4653da802b447ae14b110317815cbaad2c",
        ],
        [
            "0xc5a022d85eb997e7543f830b1265f5a0c7a5677bee02c9e5887cd51000d31678",
            "0xe21f651361bf831c9cfc6058d5d4456b56440ef651e9576a4f5fdd49e5fe3ebd",
            "0xd7d9cdc0e8d58f167b05c71c87beba4653da802b447ae14b110317815cbaad2c",
        ],
    ),
}
REGISTRY = "0x" + "12" * 20

addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)
CHECKSUMMED = to_checksum_address(OZ_ADDRESSES[0])


def _hex(values: list[bytes]) -> list[str]:
    return ["0x" + v.hex() for v in values]


# -- the tree --------------------------------------------------------------------------------------


def test_the_vector_addresses_are_what_the_vector_says() -> None:
    for i, address in enumerate(OZ_ADDRESSES, start=1):
        assert address == "0x" + keccak(text=f"cityledger eligibility vector {i}")[12:].hex()


@pytest.mark.parametrize("n", sorted(OZ_VECTOR))
def test_the_tree_is_openzeppelins_standard_tree(n: int) -> None:
    root, first, last = OZ_VECTOR[n]
    accounts = OZ_ADDRESSES[:n]
    assert "0x" + merkle_root(accounts).hex() == root
    assert _hex(merkle_proof(accounts, accounts[0])) == first
    assert _hex(merkle_proof(accounts, accounts[-1])) == last
    # The order the accounts come in does not matter: leaves are sorted by hash.
    assert merkle_root(reversed(accounts)) == merkle_root(accounts)


def test_the_leaf_is_the_double_hash_of_the_abi_encoded_address() -> None:
    account = OZ_ADDRESSES[0]
    assert leaf_hash(account) == keccak(keccak(bytes(12) + bytes.fromhex(account[2:])))
    assert leaf_hash(account.upper().replace("0X", "0x")) == leaf_hash(account)


@settings(max_examples=60, deadline=None)
@given(
    members=st.sets(addresses, min_size=1, max_size=40),
    others=st.sets(addresses, min_size=1, max_size=5),
)
def test_every_member_proves_membership_and_no_one_else_does(
    members: set[str], others: set[str]
) -> None:
    tree = MerkleTree(members)
    assert len(tree) == len(members)
    for member in members:
        proof = tree.proof(member)
        assert len(proof) <= max(1, len(members) - 1).bit_length()
        assert verify_proof(tree.root, member, proof)
        assert member in tree
    for other in others - members:
        assert other not in tree
        with pytest.raises(EligibilityError):
            tree.proof(other)
        for member in list(members)[:3]:
            assert not verify_proof(tree.root, other, tree.proof(member))


def test_a_tree_needs_distinct_accounts() -> None:
    with pytest.raises(EligibilityError):
        MerkleTree([])
    with pytest.raises(EligibilityError):
        MerkleTree([OZ_ADDRESSES[0], OZ_ADDRESSES[0].upper().replace("0X", "0x")])


# -- the file --------------------------------------------------------------------------------------


def _listing(accounts: list[str] | None = None) -> EligibilityList:
    return EligibilityList(
        chain_id=44051,
        registry=REGISTRY,
        snapshot_block=1234,
        kinds=(AccountKind.RESIDENT, AccountKind.CITY_SERVICE),
        districts=(5102, 5101),
        accounts=tuple(accounts if accounts is not None else OZ_ADDRESSES),
    )


def test_the_file_is_canonical_compact_json_in_the_specs_key_order() -> None:
    listing = _listing()
    data = listing.to_json()
    assert data.endswith(b"}\n")
    assert data.count(b"\n") == 1
    assert b" " not in data
    document = json.loads(data)
    assert list(document) == [
        "version",
        "chainId",
        "registry",
        "snapshotBlock",
        "kinds",
        "districts",
        "accounts",
    ]
    assert document["version"] == 1
    assert document["registry"] == to_checksum_address(REGISTRY)
    assert document["kinds"] == ["resident", "city-service"]
    assert document["districts"] == [5101, 5102]
    assert document["accounts"] == sorted(
        (to_checksum_address(a) for a in OZ_ADDRESSES), key=str.lower
    )
    assert listing.list_hash == keccak(data)
    assert listing.root == merkle_root(OZ_ADDRESSES)
    assert EligibilityList.from_json(data) == listing
    assert len(listing) == 7
    assert OZ_ADDRESSES[3] in listing
    assert listing.is_member(OZ_ADDRESSES[3].lower())
    assert "0x" + "99" * 20 not in listing
    assert verify_proof(listing.root, OZ_ADDRESSES[5], listing.proof(OZ_ADDRESSES[5]))


def test_the_list_normalizes_what_it_is_given() -> None:
    lowercase = [a.lower() for a in reversed(OZ_ADDRESSES)]
    assert _listing([*lowercase, lowercase[0]]).to_json() == _listing().to_json()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d.rstrip(b"\n"),
        lambda d: d + b"\n",
        lambda d: d.replace(b",", b", "),
        lambda d: json.dumps(json.loads(d), indent=2).encode() + b"\n",
        lambda d: (
            json.dumps(dict(reversed(json.loads(d).items())), separators=(",", ":")).encode()
            + b"\n"
        ),
        lambda d: d.replace(CHECKSUMMED.encode(), CHECKSUMMED.lower().encode()),
        lambda d: _with(d, accounts=list(reversed(json.loads(d)["accounts"]))),
        lambda d: _with(d, accounts=[*json.loads(d)["accounts"], json.loads(d)["accounts"][0]]),
        lambda d: _with(d, version=2),
        lambda d: _with(d, chainId=True),
        lambda d: _with(d, snapshotBlock="1234"),
        lambda d: _with(d, kinds=["resident", "nobody"]),
        lambda d: _with(d, districts=[5102, 5101]),
        lambda d: _with(d, registry="0x1234"),
        lambda d: _with(d, accounts=["not an address"]),
        lambda _: b"[]\n",
        lambda _: b"\xff",
    ],
)
def test_a_file_that_is_not_canonical_is_refused(mangle: object) -> None:
    data = _listing().to_json()
    mangled = mangle(data)  # type: ignore[operator]
    assert mangled != data
    with pytest.raises(EligibilityError):
        EligibilityList.from_json(mangled)


def _with(data: bytes, **changes: object) -> bytes:
    document = json.loads(data)
    document.update(changes)
    return json.dumps(document, separators=(",", ":")).encode() + b"\n"


def test_a_list_needs_real_kinds_and_uint32_districts() -> None:
    with pytest.raises(EligibilityError):
        EligibilityList(1, REGISTRY, 1, (), (), tuple(OZ_ADDRESSES))
    with pytest.raises(EligibilityError):
        EligibilityList(1, REGISTRY, 1, (AccountKind.NONE,), (), tuple(OZ_ADDRESSES))
    with pytest.raises(EligibilityError):
        EligibilityList(1, REGISTRY, 1, (AccountKind.RESIDENT,), (2**32,), tuple(OZ_ADDRESSES))


# -- on chain --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def officer(test_city: TestCity) -> LocalAccount:
    account = test_city.people[0]
    test_city.city.authority.grant_role(test_city.admin, Role.ELECTION_ADMIN, account.address)
    return account


@settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    members=st.sets(addresses, min_size=1, max_size=33),
    others=st.sets(addresses, min_size=1, max_size=3),
)
def test_the_contract_accepts_every_members_proof_and_no_one_else(
    test_city: TestCity, officer: LocalAccount, members: set[str], others: set[str]
) -> None:
    """Each member's proof gets its ballot past ``MerkleProof.verify`` (a dry-run cast from the
    member's address succeeds); a non-member is refused with any member's proof."""
    city = test_city.city
    listing = EligibilityList(
        city.chain.chain_id, city.registry.address, 0, (AccountKind.RESIDENT,), (), tuple(members)
    )
    now = city.chain.latest_timestamp()
    config = ElectionConfig(
        ElectionKind.PUBLIC_POLL,
        2,
        1,
        1,
        0,
        now,
        now + 3_600,
        0,
        len(listing),
        listing.root,
        listing.list_hash,
        bytes(32),
        0,
    )
    election_id = city.elections.create(officer, config)
    city.elections.open(officer, election_id)
    functions = city.elections.contract.functions
    for member in listing.accounts:
        city.chain.call(functions.castVote(election_id, 1, listing.proof(member)), sender=member)
    proofs = [listing.proof(m) for m in listing.accounts[:2]] + [[]]
    for other in others - members:
        for proof in proofs:
            with pytest.raises(NotEligibleError):
                city.chain.call(functions.castVote(election_id, 1, proof), sender=other)


# -- the snapshot ----------------------------------------------------------------------------------


def test_a_snapshot_is_the_registry_as_of_its_block(test_city: TestCity) -> None:
    city, registrar = test_city.city, test_city.registrar
    registry = city.registry

    def new_account(kind: AccountKind, district: int) -> str:
        address = Account.create().address
        registry.register(registrar, address, kind, district, os.urandom(32))
        return str(address)

    start = city.chain.block_number()
    a = new_account(AccountKind.RESIDENT, 5101)
    b = new_account(AccountKind.RESIDENT, 5102)
    c = new_account(AccountKind.MERCHANT, 5101)
    d = new_account(AccountKind.RESIDENT, 5101)
    e = new_account(AccountKind.CITY_SERVICE, 5102)
    registry.freeze(registrar, d)
    recovered = Account.create().address
    registry.recover(registrar, b, recovered)  # b retires; its registration moves
    at = city.chain.block_number()
    # After the snapshot block: none of this may change it.
    registry.unfreeze(registrar, d)
    registry.freeze(registrar, a)
    late = new_account(AccountKind.RESIDENT, 5101)

    residents = snapshot(registry, block=at, from_block=start)
    assert set(residents.accounts) == {a, recovered}
    assert residents.snapshot_block == at
    assert (residents.chain_id, residents.registry) == (city.chain.chain_id, registry.address)
    assert residents.kinds == (AccountKind.RESIDENT,)
    assert residents.districts == ()

    in_5101 = snapshot(
        registry,
        block=at,
        kinds=(AccountKind.RESIDENT, AccountKind.MERCHANT),
        districts=(5101,),
        from_block=start,
    )
    assert set(in_5101.accounts) == {a, c}
    assert in_5101.districts == (5101,)
    services = snapshot(registry, block=at, kinds=(AccountKind.CITY_SERVICE,), from_block=start)
    assert e in services.accounts

    now = snapshot(registry, block=city.chain.block_number(), from_block=start)
    assert set(now.accounts) == {d, recovered, late}
    # The same snapshot twice is the same file, byte for byte.
    again = snapshot(registry, block=at, from_block=start)
    assert again.to_json() == residents.to_json()
    with pytest.raises(EligibilityError):
        snapshot(registry, block=city.chain.block_number() + 100)
