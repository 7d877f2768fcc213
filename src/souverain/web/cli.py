"""Command line of the web observatory: ``souverain serve``, ``operator …`` and ``token …``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from souverain.cliopts import StoreOpt
from souverain.errors import InputError

__all__ = ["operator_app", "register", "serve", "token_app"]

operator_app = typer.Typer(
    help="Operators who review corrections on the web (signed in).", no_args_is_help=True
)
token_app = typer.Typer(
    help="API tokens for on-demand scans (hashed at rest, shown once).", no_args_is_help=True
)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    store: StoreOpt = None,
    lab: Annotated[
        bool, typer.Option("--lab", help="Lab mode: on-demand scans use the lab and may target loopback.")
    ] = False,
    lab_dir: Annotated[
        Path | None, typer.Option("--dir", help="Lab folder (default $SOUVERAIN_HOME/lab).")
    ] = None,
    resolver: Annotated[str | None, typer.Option(help="Resolver IP[:port] for on-demand scans.")] = None,
    https: Annotated[
        bool, typer.Option("--https", help="Mark the operator cookie Secure (behind HTTPS).")
    ] = False,
    procurement: Annotated[
        Path | None,
        typer.Option(
            "--procurement",
            help="Ingested DECP database for the procurement page "
            "(default $SOUVERAIN_HOME/procurement.duckdb).",
        ),
    ] = None,
) -> None:
    """Serve the observatory on the web: pages (French, English under /en) and the API under /api/v1.

    The session secret comes from SOUVERAIN_SECRET (a random one otherwise: sessions end at restart)."""
    import uvicorn

    from souverain import cli
    from souverain.web.app import WebSettings, create_app
    from souverain.web.data import Observatory
    from souverain.web.index import ensure_index

    home: Path = cli.home()
    db = cli._store(store)
    lab_path = None
    if lab:
        lab_path = (lab_dir or home / "lab").expanduser().resolve()
        if not (lab_path / "lab.json").is_file():
            raise InputError(f"--lab: no lab in '{lab_path}'; start it with: souverain lab up")
    secret = os.environ.get("SOUVERAIN_SECRET")
    settings = WebSettings(
        store=db.url,
        home=home,
        lab_dir=lab_path,
        resolver=cli._resolver_opt(resolver),
        https=https,
        procurement=procurement,
    )
    if procurement is not None:
        cli._procurement_opt(procurement)  # an error when missing or not a DuckDB database
    if secret:
        settings.secret = secret
    current = Observatory(db, home).current()
    if current is not None:
        with cli.progress_bar() as bar:
            task = bar.add_task(f"web index of assessment {current['id']}", total=None)
            built = ensure_index(
                db, current["id"], lambda done, total: bar.update(task, completed=done, total=total)
            )
        if built:
            cli.console.print(f"web index of assessment {current['id']} built")
    app = create_app(settings, db)
    cli.console.print(f"serving http://{host}:{port}/ (lab mode: {'on' if lab else 'off'})")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@operator_app.command("add")
def operator_add(
    username: Annotated[str, typer.Argument(help="Operator name (letters, digits, . _ -).")],
    store: StoreOpt = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an operator (or reset its password)."""
    import re

    from souverain.web.security import hash_password

    if not re.fullmatch(r"[A-Za-z0-9._-]{2,64}", username):
        raise InputError(f"USERNAME '{username}': 2-64 letters, digits, '.', '_' or '-'")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():
        raise InputError("password: no terminal to ask it on; pipe it with --password-stdin")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        raise InputError("password: at least 10 characters")
    from souverain import cli

    operator_id = cli._store(store).add_operator(username, hash_password(password))
    cli.console.print(f"operator {username} (id {operator_id}) ready")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for (shown in `token list`).")],
    per_minute: Annotated[int, typer.Option(min=1, max=600, help="Scan requests allowed per minute.")] = 6,
    store: StoreOpt = None,
) -> None:
    """Create an API token; it is printed once and only its SHA-256 is stored."""
    from souverain import cli
    from souverain.web.security import hash_token, new_token

    if not name.strip():
        raise InputError("NAME '': say what the token is for (shown in `token list`)")
    token = new_token()
    token_id = cli._store(store).add_api_token(name[:100], hash_token(token), per_minute)
    cli.console.print(f"token {token_id} '{name}' ({per_minute}/min); keep it now, it is not shown again:")
    cli.out.print(token)


@token_app.command("list")
def token_list(store: StoreOpt = None) -> None:
    """List API tokens (never the tokens themselves)."""
    from rich.table import Table

    from souverain import cli
    from souverain.web.data import when

    table = Table()
    for column in ("id", "name", "per minute", "created", "last used", "revoked"):
        table.add_column(column)
    for t in cli._store(store, existing=True).api_token_list():
        table.add_row(
            str(t["id"]),
            t["name"],
            str(t["per_minute"]),
            when(t["created_at"]),
            when(t["last_used_at"]),
            when(t["revoked_at"]) if t["revoked_at"] else "",
        )
    cli.out.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="Token id (see `token list`).")],
    store: StoreOpt = None,
) -> None:
    """Revoke an API token."""
    from souverain import cli

    if not cli._store(store, existing=True).revoke_api_token(token_id):
        raise InputError(f"TOKEN_ID {token_id}: no such active token")
    cli.console.print(f"token {token_id} revoked")


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``operator`` and ``token`` to the main command line."""
    app.command("serve")(serve)
    app.add_typer(operator_app, name="operator")
    app.add_typer(token_app, name="token")
