"""Web apps for citizens and PUA staff: ``python app.py [--host H] [--port P] [--config F]``
(the same as ``assistente serve`` / ``python -m assistant serve``).

Wiring only: the options and the start-up live in :mod:`assistant.ui.launch`, inside the
package, so that the installed ``assistente`` command serves the very same apps.
"""

from __future__ import annotations

import sys

from assistant.ui.launch import main, parse_args

__all__ = ["main", "parse_args"]

if __name__ == "__main__":
    sys.exit(main())
