"""``python -m scripts.bench <workload> [options]``."""

from scripts.bench.run import main

raise SystemExit(main())
