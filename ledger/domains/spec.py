"""What a domain declares: its contracts, their roles, its deployment steps, its index
projection and its commands. Declarations only: nothing here imports web3 or the wrappers
(they are named by import path), so reading :data:`ledger.domains.DOMAINS` is cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any

from ledger.roles import Role

if TYPE_CHECKING:
    from ledger.deploy import Deployment


def load(path: str) -> Any:
    """The object at ``"package.module:name"``."""
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


@dataclass(frozen=True)
class ContractSpec:
    """One contract of a domain."""

    name: str
    """Its artifact's name, and its key in the deployment manifest."""
    wrapper: str
    """Its Python wrapper, ``"ledger.contracts.<module>:<Class>"`` (one class per contract)."""
    constructor: Callable[[Deployment], Sequence[Any]]
    """Its constructor's arguments, from what the deployment has made so far."""
    roles: Mapping[str, Role] = field(default_factory=dict)
    """Which role may call each restricted function (the others are ADMIN-only, the
    AccessManager's default); the deployment wires exactly this map."""
    city_service: bool = False
    """Registered in the registry as a city service when deployed, because it holds or moves
    tokens (a contract has no person behind it: its credential is a fixed hash of its name)."""


@dataclass(frozen=True)
class Step:
    """A deployment step of a domain beyond the generic ones."""

    id: str
    """Stable: the manifest records it (``<domain>.<what>``), so it never changes."""
    label: str
    """What it does, for people; may be reworded freely."""
    run: Callable[[Deployment], object]


@dataclass(frozen=True)
class Domain:
    """A set of contracts that are deployed, wired, indexed and operated together.

    The deployment runs, for each domain in :data:`ledger.domains.DOMAINS` order: deploy each
    contract; register the city-service ones; the domain's ``setup`` steps (the deployer is
    still the only one who may call the new contracts' functions); wire each function to its
    role; label the domain's ``roles`` and grant them as the plan says.
    """

    name: str
    contracts: tuple[ContractSpec, ...]
    roles: frozenset[Role] = frozenset()
    """The roles this domain labels and grants (the plan's grants of other roles wait for
    the domain that owns them)."""
    setup: tuple[Step, ...] = ()
    projection: str | None = None
    """Its index projection, ``"module:Class"`` (a :class:`ledger.indexer.projection.
    Projection`): the derived tables its events feed. None: its events are only stored."""
    commands: str | None = None
    """Its ``cityledger`` commands: ``"module:add_commands"``, called with the root app."""

    @property
    def contract_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.contracts)
