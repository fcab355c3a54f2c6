"""What a vote asks, off chain: the question, the options, the method and, for participatory
budgeting, the project costs and the budget.

The chain holds only ``manifestHash`` (keccak of the canonical bytes below), so the words people
vote on cannot be changed after the vote is created, and no text or personal data is on chain.
The method fixes the selection bounds the ballots prove (docs/voting-spec.md section 5).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from ledger.voting.crypto import BallotSpec
from ledger.voting.crypto.context import MAX_OPTIONS, MIN_OPTIONS
from ledger.voting.errors import ManifestError
from ledger.voting.methods import VoteMethod


@dataclass(frozen=True, slots=True)
class Option:
    label: str
    cost: int | None = None
    """A project's cost in KRW (participatory budgeting only)."""


@dataclass(frozen=True, slots=True)
class ElectionManifest:
    title: str
    method: VoteMethod
    options: tuple[Option, ...]
    min_selections: int
    max_selections: int
    public: bool = False
    """A public poll (choices visible, live counts) rather than a secret ballot."""
    budget: int | None = None

    @classmethod
    def build(
        cls,
        title: str,
        method: VoteMethod | str,
        labels: Sequence[str] = (),
        *,
        costs: Sequence[int] | None = None,
        min_selections: int | None = None,
        max_selections: int | None = None,
        budget: int | None = None,
        public: bool = False,
    ) -> ElectionManifest:
        """A manifest with the bounds the method implies (``min``/``max`` only where the
        method leaves them open)."""
        method = VoteMethod(method)
        if method is VoteMethod.YES_NO:
            labels = labels or ("Yes", "No")
        if costs is not None and len(costs) != len(labels):
            raise ManifestError(f"{len(costs)} costs for {len(labels)} options")
        options = tuple(
            Option(label, None if costs is None else costs[i]) for i, label in enumerate(labels)
        )
        if method in (VoteMethod.YES_NO, VoteMethod.SINGLE):
            low, high = 1, 1
        elif method is VoteMethod.APPROVAL:
            low = 1 if min_selections is None else min_selections
            high = len(options) if max_selections is None else max_selections
        else:
            low = 0 if min_selections is None else min_selections
            high = len(options) if max_selections is None else max_selections
        manifest = cls(title, method, options, low, high, public, budget)
        manifest.validate()
        return manifest

    def validate(self) -> None:
        if not self.title.strip():
            raise ManifestError("a vote needs a title")
        if not MIN_OPTIONS <= len(self.options) <= MAX_OPTIONS:
            raise ManifestError(
                f"a vote has {MIN_OPTIONS} to {MAX_OPTIONS} options, not {len(self.options)}"
            )
        labels = [o.label.strip() for o in self.options]
        if any(not label for label in labels) or len(set(labels)) != len(labels):
            raise ManifestError("option labels must be non-empty and distinct")
        if not 0 <= self.min_selections <= self.max_selections <= len(self.options):
            raise ManifestError(
                f"selection bounds {self.min_selections}-{self.max_selections} do not fit "
                f"{len(self.options)} options"
            )
        if self.max_selections == 0:
            raise ManifestError("a ballot must allow at least one selection")
        if self.method is VoteMethod.YES_NO and len(self.options) != 2:
            raise ManifestError("a yes/no vote has exactly two options")
        if self.method is VoteMethod.BUDGET:
            if self.budget is None or self.budget <= 0:
                raise ManifestError("participatory budgeting needs a positive --budget")
            if any(o.cost is None or o.cost <= 0 for o in self.options):
                raise ManifestError("every project needs a positive cost")
        elif self.budget is not None or any(o.cost is not None for o in self.options):
            raise ManifestError("costs and a budget belong to participatory budgeting only")

    @property
    def spec(self) -> BallotSpec:
        return BallotSpec(len(self.options), self.min_selections, self.max_selections)

    def to_json(self) -> bytes:
        """The canonical bytes whose keccak is the on-chain ``manifestHash``."""
        document: dict[str, Any] = {
            "version": 1,
            "title": self.title,
            "method": self.method.value,
            "public": self.public,
            "minSelections": self.min_selections,
            "maxSelections": self.max_selections,
            "budget": self.budget,
            "options": [
                {"label": o.label} if o.cost is None else {"label": o.label, "cost": o.cost}
                for o in self.options
            ],
        }
        return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    @property
    def manifest_hash(self) -> bytes:
        return keccak(self.to_json())

    @classmethod
    def from_json(cls, data: bytes) -> ElectionManifest:
        try:
            document = json.loads(data)
            if document.get("version") != 1:
                raise ManifestError(f"unknown manifest version {document.get('version')!r}")
            manifest = cls(
                title=str(document["title"]),
                method=VoteMethod(document["method"]),
                options=tuple(Option(str(o["label"]), o.get("cost")) for o in document["options"]),
                min_selections=int(document["minSelections"]),
                max_selections=int(document["maxSelections"]),
                public=bool(document["public"]),
                budget=document.get("budget"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ManifestError(f"not an election manifest: {exc}") from exc
        manifest.validate()
        return manifest


@dataclass(frozen=True, slots=True)
class BudgetOutcome:
    funded: tuple[int, ...]
    """Option indices of the funded projects, in the order they were funded."""
    total_cost: int
    budget: int


def fund_projects(manifest: ElectionManifest, counts: Sequence[int]) -> BudgetOutcome:
    """Participatory budgeting's greedy rule: take projects by votes (ties: listing order) and
    fund each one that still fits the remaining budget, as most city PB processes do."""
    if manifest.method is not VoteMethod.BUDGET or manifest.budget is None:
        raise ManifestError("only a participatory budgeting vote funds projects")
    order = sorted(range(len(counts)), key=lambda o: (-counts[o], o))
    funded: list[int] = []
    spent = 0
    for option in order:
        cost = manifest.options[option].cost or 0
        if counts[option] > 0 and spent + cost <= manifest.budget:
            funded.append(option)
            spent += cost
    return BudgetOutcome(tuple(funded), spent, manifest.budget)
