"""M-voting: eligibility snapshots, encrypted ballots, trustees, tallies and the public audit.

The scheme is specified in ``docs/voting-spec.md``; ``crypto/`` implements its group arithmetic
and proofs, and the modules beside it apply its rules to chain data.
"""
