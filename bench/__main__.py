"""``python -m bench`` runs the benchmarks (same as ``python -m bench.run``)."""

from .run import main

raise SystemExit(main())
