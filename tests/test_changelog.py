"""CHANGELOG.md tells users what a release changed: this first release names every
management command and endpoint it ships, and what to run after upgrading."""

from pathlib import Path

from django.urls import reverse

REPO = Path(__file__).resolve().parents[1]
COMMANDS = REPO / "bitstore_app" / "management" / "commands"


def unreleased():
    text = (REPO / "CHANGELOG.md").read_text()
    return text.split("## Unreleased", 1)[1].split("\n## ", 1)[0]


def test_the_changelog_names_every_command_and_endpoint():
    section = unreleased()
    commands = [path.stem for path in COMMANDS.glob("bitstore_*.py")]
    assert [name for name in commands if f"`{name}" not in section] == []
    endpoints = ["blobs", "missing", "warm", "metrics", "openapi"]
    paths = [reverse(f"bitstore:{name}") for name in endpoints]
    assert [path for path in paths if path.removeprefix("/bitstore/") not in section] == []


def test_the_changelog_says_what_to_run_after_upgrading():
    section = unreleased()
    for step in ("migrate", "collectstatic", "bitstore_ledger_rollups"):
        assert step in section, step
