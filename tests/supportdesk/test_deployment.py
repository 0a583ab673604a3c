"""The files a deployer and CI rely on stay valid."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _need(command: str) -> str:
    path = shutil.which(command)
    if path is None:
        message = f"{command} is not installed; `make test` installs it with apt-get as root."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_docker_compose_file_is_valid_and_has_the_whole_stack():
    docker_compose = _need("docker-compose")

    result = subprocess.run([docker_compose, "-f", "docker-compose.yml", "config", "--services"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"db", "redis", "web", "worker", "beat"}


def test_ci_runs_the_command_the_readme_gives():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()

    assert "make test" in ci
    assert "make test" in readme and "make run" in readme


def test_make_run_starts_web_worker_and_beat_and_restarts_each():
    # Raw: supervisord expands its own %(ENV_...)s. The restart itself: test_worker_outage.py.
    config = configparser.RawConfigParser()
    config.read(ROOT / "supportdesk" / "supervisord.conf")

    programs = {name.removeprefix("program:"): config[name] for name in config.sections()
                if name.startswith("program:")}
    assert set(programs) == {"web", "worker", "beat"}
    assert {name: program["autorestart"] for name, program in programs.items()} == dict.fromkeys(programs, "true")
