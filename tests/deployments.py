"""The desk's settings as a deployment with a given environment would load them.

settings.py reads its environment once, when it is imported; tests that need another
deployment's settings (production, a second desk on the same Redis) run the module again, in
this process, with the environment given and nothing else of this process's (a .env file
beside manage.py, as in production, only fills what the environment leaves unset).
"""

from __future__ import annotations

import os
import runpy
import secrets
from pathlib import Path
from typing import Any
from unittest import mock

SETTINGS_FILE = Path(__file__).resolve().parents[1] / "supportdesk" / "settings.py"


def production_env(**overrides: str) -> dict[str, str]:
    """A production environment: DEBUG off and every secret set to a value of its own."""
    env = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "OMS_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "WIDGET_IDENTITY_SECRET": secrets.token_urlsafe(32),
        "OMS_API_TOKEN": secrets.token_urlsafe(24),
        "ALLOWED_HOSTS": "desk.example.com",
    }
    env.update(overrides)
    return env


def desk_settings(env: dict[str, str]) -> dict[str, Any]:
    """The settings module's names after loading it with `env` as the whole environment (plus the
    database and Redis addresses of this run, so a desk built from them talks to the same servers)."""
    given = {key: os.environ[key] for key in ("DATABASE_URL", "REDIS_URL", "PATH") if key in os.environ}
    with mock.patch.dict(os.environ, {**given, **env}, clear=True):
        return runpy.run_path(str(SETTINGS_FILE))
