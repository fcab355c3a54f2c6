"""What the workloads share: meters, reporting, chain plumbing, transactions, the district."""


class BenchmarkError(RuntimeError):
    """A run that lost, failed or mis-executed something: its numbers must not be trusted."""
