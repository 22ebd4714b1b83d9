"""Process environment for offline use.

Called once at every entry point (CLI, app, evals) before heavy libraries are imported.
"""

from __future__ import annotations

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def configure_offline_environment() -> None:
    """Set the variables that keep every library offline and silent."""
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value
