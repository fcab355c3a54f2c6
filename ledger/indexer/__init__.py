"""The indexer: chain events into SQL, one database transaction per batch, reorg-safe."""
