"""What the API's ``/elections`` routes stand on: an election's published files
(:mod:`.published`), its bulletin board (:mod:`.board`), the checks of a relayed cast
(:mod:`.casting`) and the memos they share (:mod:`.memo`).

Reads come from the chain (the Elections contract's state and its ``BallotCast``/``VoteCast``
events) and from the folder where ``cityledger election`` publishes each vote's manifest and
eligibility list (``CITYLEDGER_API_ELECTIONS_DIR``); nothing about votes is indexed in SQL.
"""
