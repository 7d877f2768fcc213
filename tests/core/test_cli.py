from pathlib import Path

import pytest

from cli_runner import run_cli as souverain

COMMANDS = [
    [],
    ["scan"],
    ["report"],
    ["runs"],
    ["portfolio"],
    ["portfolio", "check"],
    ["lab"],
    ["lab", "up"],
    ["lab", "down"],
    ["lab", "status"],
    ["lab", "accuracy"],
    ["reassess"],
    ["import-evidence"],
    ["kb"],
    ["kb", "check"],
    ["kb", "show"],
    ["kb", "update"],
    ["kb", "import-table"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_help_everywhere(command: list[str], tmp_path: Path) -> None:
    result = souverain(*command, "--help", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "missing.yaml"], "missing.yaml: file not found"),
        (["scan"], "a portfolio file is required"),
        (["scan", "--resume", "7"], "run 7: no such run"),
        (["report", "abc", "--out", "r"], "RUN 'abc': expected a run id"),
        (["report", "latest", "--out", "r"], "the store has no run yet"),
        (["scan", "--lab", "--dir", "nolab"], "no lab there"),
        (["portfolio", "check", "missing.csv"], "missing.csv: file not found"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = souverain(*args, home=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_bad_resolver_names_the_option(tmp_path: Path) -> None:
    portfolio = Path(__file__).parents[2] / "examples" / "portfolio.yaml"
    result = souverain("scan", str(portfolio), "--resolver", "not-an-ip", home=tmp_path)
    assert result.returncode == 2
    assert "--resolver 'not-an-ip': expected an IP address" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_traceback(tmp_path: Path) -> None:
    result = souverain("--debug", "scan", "missing.yaml", home=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_version(tmp_path: Path) -> None:
    result = souverain("--version", home=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("souverain ")
