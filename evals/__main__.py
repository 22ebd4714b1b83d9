"""``python -m evals run|gate|check``: see :mod:`evals.cli`."""

from .cli import main

raise SystemExit(main())
