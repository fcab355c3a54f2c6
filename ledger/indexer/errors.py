"""What the indexer raises."""

from __future__ import annotations

from ledger.exceptions import LedgerError


class IndexerError(LedgerError):
    """The indexer cannot go on as asked."""


class ChainResetError(IndexerError):
    """The node serves another chain than the one the index was built from (a reset dev chain,
    a new genesis, or a divergence deeper than any reorg this chain can have). Nothing is
    written; re-index with ``cityledger index --reset`` or use another database."""


class CursorMovedError(IndexerError):
    """A batch does not start right after the cursor (another indexer wrote to the database,
    or the chain reorganised): it is not applied and the runner reads the chain again."""


class ParentMismatchError(CursorMovedError):
    """The batch's first block does not extend the indexed chain: a reorg."""
