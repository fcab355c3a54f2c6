"""Creating a vote publishes its files with it: written before the chain is asked, moved into
place under the id the chain assigns, and nothing is left half-done when either step fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eth_utils import keccak

from cityledger.testing.city import TestCity
from ledger.exceptions import ContractRevertError
from ledger.roles import Role
from ledger.types import AccountKind
from ledger.voting import lifecycle
from ledger.voting.eligibility import EligibilityList, snapshot
from ledger.voting.errors import VotingError
from ledger.voting.files import ElectionFiles
from ledger.voting.manifest import ElectionManifest

POLL = ElectionManifest.build("Open the library on Sundays?", "yes-no", public=True)


@pytest.fixture(scope="module")
def eligibility(test_city: TestCity) -> EligibilityList:
    city = test_city.city
    city.authority.grant_role(test_city.admin, Role.ELECTION_ADMIN, test_city.admin.address)
    resident = test_city.people[0].address
    city.registry.register(
        test_city.registrar, resident, AccountKind.RESIDENT, 5101, keccak(text=resident)
    )
    return snapshot(city.registry, block=city.chain.block_number())


def _create(
    test_city: TestCity, eligibility: EligibilityList, files: ElectionFiles, *, window: int = 3600
) -> int:
    opens = test_city.city.chain.latest_timestamp()
    return lifecycle.create_election(
        test_city.city,
        test_city.admin,
        POLL,
        eligibility,
        opens_at=opens,
        closes_at=opens + window,
        files=files,
    )


def _staged(files: ElectionFiles) -> list[Path]:
    return list((files.root / f"chain-{files.chain_id}").glob(".staged-*"))


def test_a_created_vote_has_its_files_and_nothing_staged_remains(
    test_city: TestCity, eligibility: EligibilityList, tmp_path: Path
) -> None:
    files = ElectionFiles(tmp_path / "elections", test_city.city.chain.chain_id)
    election_id = _create(test_city, eligibility, files)
    config = test_city.city.elections.election(election_id).config
    assert keccak(files.manifest_bytes(election_id)) == config.manifest_hash
    assert keccak(files.eligibility_bytes(election_id)) == config.eligibility_list_hash
    assert _staged(files) == []
    umask = os.umask(0o022)
    os.umask(umask)
    published = files.folder(election_id).stat().st_mode & 0o777
    assert published == 0o777 & ~umask, "the published folder must be readable as before"


def test_an_unwritable_folder_fails_before_the_chain_is_asked(
    test_city: TestCity, eligibility: EligibilityList, tmp_path: Path
) -> None:
    (tmp_path / "not-a-folder").write_text("a file where the folder should be")
    files = ElectionFiles(tmp_path / "not-a-folder", test_city.city.chain.chain_id)
    before = test_city.city.elections.election_count()
    with pytest.raises(VotingError, match="nothing was created on chain"):
        _create(test_city, eligibility, files)
    assert test_city.city.elections.election_count() == before


def test_a_refused_vote_leaves_no_files(
    test_city: TestCity, eligibility: EligibilityList, tmp_path: Path
) -> None:
    files = ElectionFiles(tmp_path / "elections", test_city.city.chain.chain_id)
    before = test_city.city.elections.election_count()
    with pytest.raises(ContractRevertError):
        _create(test_city, eligibility, files, window=-10)  # closes before it opens
    assert test_city.city.elections.election_count() == before
    assert _staged(files) == []
    assert not files.folder(before + 1).exists()
