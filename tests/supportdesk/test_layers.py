"""The layering contract (pyproject.toml, [tool.importlinter]) holds: lower layers never import
higher ones, routing imports neither conversations nor the timeline, and nothing but the URL
conf imports the read side (reports), not even the demo; the help center stands beside
integrations on the core and conversations, and nothing below the URL conf imports it. Run by
`make test` like any other test, so a new upward import fails the build with import-linter's own
report."""

from __future__ import annotations

import tomllib
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "pyproject.toml"


def test_the_layers_are_as_the_design_draws_them():
    contracts = {contract["id"]: contract
                 for contract in tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["contracts"]}

    assert contracts["layers"]["layers"] == [
        "reports", "integrations | helpcenter", "workflows", "conversations", "routing", "timeline", "supportdesk"]
    assert contracts["routing-self-contained"]["forbidden_modules"] == ["conversations", "timeline"]
    assert contracts["read-side-on-top"]["forbidden_modules"] == ["reports"]
    # The help center beside integrations: on the core and conversations only, imported by none.
    assert contracts["helpcenter-narrow"]["forbidden_modules"] == [
        "timeline", "routing", "workflows", "integrations"]
    assert "helpcenter" in contracts["helpcenter-beside"]["forbidden_modules"]


def test_no_module_imports_across_the_contracts(capsys):
    # no_cache: nothing written into the work tree; the whole graph takes a few seconds.
    exit_code = lint_imports(config_filename=str(CONFIG), no_cache=True, no_logo=True)

    report = capsys.readouterr().out
    assert exit_code == 0, report
    assert "0 broken" in report
