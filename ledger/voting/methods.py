"""How voters choose: the vote methods a manifest names (docs/voting-spec.md, section 2).

A module of its own, with no imports, so that the command line can offer the methods as
choices without loading the voting cryptography.
"""

from __future__ import annotations

from enum import StrEnum


class VoteMethod(StrEnum):
    YES_NO = "yes-no"
    """Two options, Yes and No; choose exactly one."""
    SINGLE = "single"
    """Choose exactly one option."""
    APPROVAL = "approval"
    """Choose between ``min`` and ``max`` options."""
    BUDGET = "budget"
    """Participatory budgeting: choose up to ``max`` projects, each with a cost."""
