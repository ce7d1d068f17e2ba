"""``lightbox teams``, ``keys`` and ``credits`` commands on a real data directory.

The sub-apps are mounted under a root with the same ``--data-dir`` option as the
``lightbox`` command, so they run through cli_support exactly as installed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Optional

import pytest
import typer
from typer.testing import CliRunner

from lightbox.accounts import service
from lightbox.accounts.cli import keys_app, teams_app
from lightbox.cli_support import get_settings
from lightbox.config import Settings
from lightbox.credits.cli import credits_app
from lightbox.db import Database
from lightbox.errors import Unauthorized
from lightbox.logs import configure_logging

root = typer.Typer()
root.add_typer(teams_app, name="teams")
root.add_typer(keys_app, name="keys")
root.add_typer(credits_app, name="credits")


@root.callback()
def main(
    ctx: typer.Context,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir")] = None,
) -> None:
    ctx.ensure_object(dict)
    # Logs go to stderr, so stdout stays parseable.
    configure_logging(get_settings(ctx))


@pytest.fixture
def cli(tmp_path, monkeypatch):
    data_dir = tmp_path / "instance"
    monkeypatch.delenv("LIGHTBOX_SECRET_KEY", raising=False)
    monkeypatch.delenv("LIGHTBOX_DATABASE_URL", raising=False)
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(root, ["--data-dir", str(data_dir), *args])
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result

    run.settings = Settings(data_dir=data_dir)
    return run


def open_db(settings: Settings) -> Database:
    return Database(settings.resolved_database_url)


def test_team_key_credits_round_trip(cli):
    created = cli("teams", "create", "Acme", "--credits", "500")
    team_id, name = created.stdout.strip().split("\t")
    assert team_id.startswith("team_") and name == "Acme"

    key_out = cli("keys", "create", "--team", "Acme", "--name", "ci",
                  "--expires", "2099-01-31")
    lines = key_out.stdout.strip().splitlines()
    raw = lines[-1]
    key_id, key_team, scopes, expires = lines[0].split("\t")
    assert raw.startswith(f"mk_live_{key_id}.")
    assert (key_team, scopes) == (team_id, "content.read content.register")
    assert expires == "expires=2099-01-31T23:59:59.999Z"
    assert "cannot be shown again" in key_out.stderr

    granted = cli("credits", "grant", team_id, "250", "--note", "top-up")
    assert granted.stdout.strip().split("\t") == [team_id, "750", "0", "750"]

    db = open_db(cli.settings)
    with db.session() as session:
        key = service.authenticate(session, raw, secret_key=cli.settings.secret_key)
        assert key.team_id == team_id and key.name == "ci"

    shown = cli("credits", "show", "Acme").stdout.strip().splitlines()
    assert shown[0].split("\t") == [team_id, "750", "0", "750"]
    kinds = [(line.split("\t")[2], line.split("\t")[3], line.split("\t")[6])
             for line in shown[1:]]
    assert kinds == [("grant", "250", "top-up"),
                     ("grant", "500", "granted at team creation (CLI)")]

    listed = cli("teams", "list").stdout.strip().split("\t")
    assert listed == [team_id, "Acme", "750"]

    revoked = cli("keys", "revoke", key_id).stdout.strip().split("\t")
    assert revoked[:2] == [key_id, "revoked"]
    with db.session() as session:
        with pytest.raises(Unauthorized):
            service.authenticate(session, raw, secret_key=cli.settings.secret_key)
    state = cli("keys", "list", "--team", team_id).stdout.strip().split("\t")
    assert state[:3] == [key_id, "ci", "revoked"]
    db.dispose()


def test_read_only_key(cli):
    cli("teams", "create", "Readers")
    raw = cli("keys", "create", "--team", "Readers", "--read-only").stdout.split()[-1]

    db = open_db(cli.settings)
    with db.session() as session:
        key = service.authenticate(session, raw, secret_key=cli.settings.secret_key)
        assert key.scopes == "content.read"
    db.dispose()


def test_expiry_with_a_time_and_offset(cli):
    cli("teams", "create", "Acme")
    out = cli("keys", "create", "--team", "Acme",
              "--expires", "2099-06-01T12:00:00+02:00").stdout
    assert "expires=2099-06-01T10:00:00.000Z" in out


@pytest.mark.parametrize("args,message", [
    (("teams", "create", "Acme"), "error: A team named 'Acme' already exists."),
    (("credits", "grant", "Nope", "5"), "error: Team not found: Nope"),
    (("keys", "create", "--team", "Nope"), "error: Team not found: Nope"),
    (("keys", "create", "--team", "Acme", "--expires", "someday"),
     "error: --expires: not a date or ISO datetime: 'someday'"),
    (("keys", "create", "--team", "Acme", "--expires", "2001-01-01"),
     "error: --expires: 2001-01-01 is in the past"),
    (("keys", "revoke", "AAAAAAAAAAAAAAAA"),
     "error: API key not found: AAAAAAAAAAAAAAAA"),
])
def test_errors_exit_2_with_one_line(cli, args, message):
    cli("teams", "create", "Acme")

    result = cli(*args, code=2)

    assert result.stderr.strip() == message
    assert result.stdout == ""


def test_grant_must_be_positive(cli):
    cli("teams", "create", "Acme")
    result = cli("credits", "grant", "Acme", "0", code=2)
    assert "greater than or equal to 1" in result.stderr


def test_expiry_is_stored_as_utc(cli):
    cli("teams", "create", "Acme")
    raw = cli("keys", "create", "--team", "Acme", "--expires",
              "2099-01-01T00:00:00").stdout.split()[-1]
    db = open_db(cli.settings)
    with db.session() as session:
        key = service.authenticate(session, raw, secret_key=cli.settings.secret_key)
        assert key.expires_at == dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
    db.dispose()
