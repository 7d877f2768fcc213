import random
from pathlib import Path

import idna
import pytest

from souverain.errors import PortfolioError
from souverain.portfolio import load_portfolio, validate
from souverain.portfolio.validate import normalise_domain, siren_problem, territory_problems

EXAMPLES = Path(__file__).parents[2] / "examples"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("siren", ["213700016", "200000016", "356000000", "732829320"])
def test_valid_sirens(siren: str) -> None:
    assert siren_problem(siren) is None


@pytest.mark.parametrize(
    ("siren", "reason"),
    [("213700017", "checksum"), ("12345678", "9 digits"), ("21370001A", "9 digits"), ("", "9 digits")],
)
def test_invalid_sirens(siren: str, reason: str) -> None:
    problem = siren_problem(siren)
    assert problem is not None and reason in problem


def test_idn_domains_become_a_labels() -> None:
    assert normalise_domain("Département-Exemple.FR.") == "xn--dpartement-exemple-bwb.fr"
    assert normalise_domain("châteaulin.bzh") == "xn--chteaulin-c2a.bzh"


def test_plain_names_skip_idna_with_the_same_result() -> None:
    """The LDH shortcut of normalise_domain gives exactly what IDNA processing gives, errors included."""
    rng = random.Random(7)
    shortcut = 0
    for alphabet in ("abz09-.xn", "ab-.", "abcdefghijklmnopqrstuvwxyz0123456789-."):
        for _ in range(20_000):
            name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 16)))
            name = rng.choice(["", "xn--"]) + name + rng.choice([".fr", "", ".a" + "b" * 62, "-"])
            base = name.rstrip(".")  # what normalise_domain hands to IDNA
            shortcut += bool(validate._PLAIN_NAME.fullmatch(base))
            try:
                expected: str | None = idna.encode(base, uts46=True).decode("ascii") if base else None
            except idna.IDNAError:
                expected = None
            try:
                got: str | None = normalise_domain(name)
            except ValueError:
                got = None
            if expected is not None and got is None:
                continue  # IDNA accepts it, the portfolio's own rules (two labels, length) refuse it
            assert got == expected, name
    assert shortcut > 5_000  # the shortcut was exercised, not only the IDNA path
    with pytest.raises(ValueError):
        normalise_domain("ab--cd.fr")  # hyphens in 3rd and 4th position: not a valid label (IDNA2008)
    with pytest.raises(ValueError):
        normalise_domain("xn--zz.fr")  # an invalid A-label still goes through IDNA


@pytest.mark.parametrize(
    "bad", ["localhost", "http://a.fr", "a..fr", "-a.fr", "a.123", "x" * 64 + ".fr", "a b.fr"]
)
def test_malformed_domains(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise_domain(bad)


def test_territory_consistency() -> None:
    assert territory_problems("97411", "974", "04") == []
    assert territory_problems("2A004", "2A", "94") == []
    assert any("belongs to région 76" in p for p in territory_problems(None, "31", "11"))
    assert any("unknown département" in p for p in territory_problems(None, "20", None))
    assert any("does not belong" in p for p in territory_problems("75056", "31", None))


def test_example_files_load() -> None:
    yaml_orgs = load_portfolio(EXAMPLES / "portfolio.yaml")
    csv_orgs = load_portfolio(EXAMPLES / "portfolio.csv")
    assert len(yaml_orgs) == 5 and len(csv_orgs) == 3
    dept = next(o for o in yaml_orgs if o.kind == "departement")
    assert dept.domains[0].name == "xn--dpartement-exemple-bwb.example"
    assert dept.services[0].data_classes == ("personnelles", "sensible-art31")
    epci = next(o for o in csv_orgs if o.kind == "epci")
    assert {d.name: d.roles for d in epci.domains}["mail.cc-exemple.example"] == frozenset({"mail"})
    assert next(o for o in csv_orgs if o.kind == "ministere").domains[0].roles == frozenset({"web", "mail"})


def test_csv_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.csv",
        "siren,name,kind,domains\n"
        "213700017,A,commune,a.fr\n"
        "213700016,B,mairie,b.fr:web\n"
        "213700016,C,commune,c.fr:wab\n"
        "200000016,D,epci,bad_name.fr\n",
    )
    with pytest.raises(PortfolioError) as info:
        load_portfolio(path)
    problems = info.value.problems
    assert f"{path}:2: siren: '213700017': checksum (Luhn) fails" in problems
    assert any(p.startswith(f"{path}:3: kind: 'mairie'") for p in problems)
    assert any(p.startswith(f"{path}:4: siren: '213700016': duplicate of line 3") for p in problems)
    assert any(p.startswith(f"{path}:4: domains: 'c.fr': unknown role") for p in problems)
    assert any(p.startswith(f"{path}:5: domains: 'bad_name.fr'") for p in problems)


def test_yaml_errors_carry_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        """organisations:
  - siren: "213700016"
    name: A
    kind: commune
    domains:
      - {name: a.fr, roles: [web]}
      - {name: A.FR, roles: [web]}
    contacts: [not-an-address]
    services:
      - {name: S, data_classes: [secret]}
""",
    )
    with pytest.raises(PortfolioError) as info:
        load_portfolio(path)
    problems = info.value.problems
    assert any(p.startswith(f"{path}:7: domains: 'a.fr': listed twice") for p in problems)
    assert any(p.startswith(f"{path}:2: contacts: 'not-an-address'") for p in problems)
    assert any(p.startswith(f"{path}:10: services.data_classes") for p in problems)


def test_invalid_yaml_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(PortfolioError, match=r"p.yaml:3: invalid YAML"):
        load_portfolio(write(tmp_path, "p.yaml", "organisations:\n  - {siren: 1\n"))
    with pytest.raises(PortfolioError, match="unknown portfolio format"):
        load_portfolio(write(tmp_path, "p.txt", "x"))
    with pytest.raises(PortfolioError, match="file not found"):
        load_portfolio(tmp_path / "missing.yaml")


def test_shared_domain_between_organisations_is_allowed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.csv",
        "siren,name,kind,domains\n213700016,A,commune,shared.fr\n200000016,B,epci,shared.fr:web\n",
    )
    orgs = load_portfolio(path)
    assert [o.domains[0].name for o in orgs] == ["shared.fr", "shared.fr"]
