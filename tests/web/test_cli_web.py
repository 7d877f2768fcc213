"""``souverain operator`` and ``souverain token`` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from souverain.store import Store
from souverain.web.security import hash_token, verify_password


def cli(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "souverain.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={"SOUVERAIN_HOME": str(home), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )


def test_operators_and_tokens(tmp_path: Path) -> None:
    bad = cli(tmp_path, "operator", "add", "bad name", "--password-stdin")
    assert bad.returncode == 2 and "USERNAME 'bad name'" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr
    short = cli(tmp_path, "operator", "add", "alice", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    ok = cli(tmp_path, "operator", "add", "alice", "--password-stdin", stdin="a long enough password\n")
    assert ok.returncode == 0, ok.stderr
    store = Store(tmp_path / "souverain.db")
    account = store.operator("alice")
    assert account is not None and verify_password("a long enough password", account["password_hash"])
    created = cli(tmp_path, "token", "create", "ci", "--per-minute", "3")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("sv_")
    row = store.api_token_by_hash(hash_token(token))
    assert row is not None and row["per_minute"] == 3 and token not in str(row)
    listed = cli(tmp_path, "token", "list")
    assert "ci" in listed.stdout and token not in listed.stdout
    assert cli(tmp_path, "token", "revoke", str(row["id"])).returncode == 0
    assert store.api_token_by_hash(hash_token(token))["revoked_at"] is not None  # type: ignore[index]
    again = cli(tmp_path, "token", "revoke", str(row["id"]))
    assert again.returncode == 2 and "no such active token" in again.stderr
    nolab = cli(tmp_path, "serve", "--lab", "--dir", str(tmp_path / "nowhere"))
    assert nolab.returncode == 2 and "no lab in" in nolab.stderr
