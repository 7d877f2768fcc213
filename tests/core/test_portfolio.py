import random
from pathlib import Path

import idna
import pytest
import yaml

from cli_runner import run_cli
from souverain import yamlio
from souverain.errors import PortfolioError
from souverain.portfolio import Territory, load_portfolio, validate
from souverain.portfolio.validate import email_problem, normalise_domain, siren_problem, territory_problems

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


ORG = 'organisations:\n  - siren: "213700016"\n    name: A\n    kind: commune\n'  # lines 1-4


def problems_of(path: Path) -> list[str]:
    with pytest.raises(PortfolioError) as info:
        load_portfolio(path)
    return info.value.problems


def test_wrong_yaml_types_name_the_field(tmp_path: Path) -> None:
    """A number or a single string where a list is expected is an error, not a crash nor a list of letters."""
    path = write(
        tmp_path,
        "p.yaml",
        ORG
        + "    domains:\n"
        + "      - {name: a.fr, roles: 5}\n"  # line 6
        + "      - {name: b.fr, roles: web}\n"  # line 7
        + "    services:\n"
        + "      - {name: S, data_classes: 5}\n"  # line 9
        + "      - {name: T, data_classes: sante}\n"  # line 10
        + "  - {siren: '200000016', name: [a, b], kind: epci, domains: b.fr, contacts: x@b.fr}\n",  # line 11
    )
    problems = problems_of(path)
    assert (
        f"{path}:6: domains.roles: expected a list of roles (web, mail, other), found the single value '5'"
        in problems
    )
    assert (
        f"{path}:7: domains.roles: expected a list of roles (web, mail, other), found the single value 'web'"
        in problems
    )
    assert (
        f"{path}:9: services.data_classes: expected a list of data classes, found the single value '5'"
        in problems
    )
    assert (
        f"{path}:10: services.data_classes: expected a list of data classes, found the single value 'sante'"
        in (problems)
    )
    assert f"{path}:11: name: expected a single value, found a list" in problems
    assert f"{path}:11: domains: expected a list of domains, found the single value 'b.fr'" in problems
    assert (
        f"{path}:11: contacts: expected a list of e-mail addresses, found the single value 'x@b.fr'"
        in problems
    )
    assert len(problems) == 7


def test_wrong_yaml_types_are_one_line_and_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", ORG + "    domains: [{name: a.fr, roles: 5}]\n")
    result = run_cli("portfolio", "check", str(path), home=tmp_path)
    assert result.returncode == 2, result.stderr
    assert (
        "Traceback" not in result.stdout + result.stderr
        and "internal error" not in result.stdout + result.stderr
    )
    assert "domains.roles: expected a list of roles" in result.stdout + result.stderr


def test_unreadable_csv_is_an_input_error(tmp_path: Path) -> None:
    folder = tmp_path / "p.csv"
    folder.mkdir()
    assert problems_of(folder) == [f"{folder}: a folder, not a portfolio file (.yaml, .yml or .csv)"]
    result = run_cli("portfolio", "check", str(folder), home=tmp_path)
    assert result.returncode == 2 and "a folder, not a portfolio file" in result.stdout + result.stderr


def test_alias_bomb_is_refused_but_anchors_and_merge_keys_work(tmp_path: Path) -> None:
    levels = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 6)]  # 10**6 values
    bomb = "x-bomb:\n" + "".join(f"  {level}\n" for level in levels) + ORG.replace("name: A", "name: *a5")
    bomb += "    domains: [a.fr]\n"
    problems = problems_of(write(tmp_path, "bomb.yaml", bomb))
    assert problems == [
        f"{tmp_path / 'bomb.yaml'}:6: invalid YAML: aliases expand the document to 2,345,697 values from 36 "
        "written (more than 100,000): refused"
    ]
    ordinary = write(
        tmp_path,
        "anchors.yaml",
        """organisations:
  - &commune {siren: "213700016", name: A, kind: commune, domains: [a.fr]}
  - <<: *commune
    siren: "200000016"
    name: B
    domains:
      - {name: b.fr, roles: &web [web]}
      - {name: c.fr, roles: *web}
""",
    )
    orgs = load_portfolio(ordinary)
    assert [(o.name, o.kind) for o in orgs] == [("A", "commune"), ("B", "commune")]
    assert [(d.name, d.roles) for d in orgs[1].domains] == [("b.fr", {"web"}), ("c.fr", {"web"})]


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "p.yaml", ORG + "    domains: &d [a.fr, *d]\n"))
    assert problems == [
        f"{tmp_path / 'p.yaml'}:5: invalid YAML: an alias refers to a value containing it "
        "(a recursive structure)"
    ]


def test_csv_errors_name_the_physical_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.csv",
        "siren,name,kind,domains\n"
        "\n"
        '213700016,"A",commune,a.fr\n'  # line 3
        "\n"
        '200000016,"B\nb",epci,b.fr\n'  # line 5, a quoted cell on two lines
        "213700017,C,commune,c.fr\n",  # line 7
    )
    problems = problems_of(path)
    assert problems == [
        f"{path}:5: name: 'B\\nb': contains a line break, a tab or another control character",
        f"{path}:7: siren: '213700017': checksum (Luhn) fails",
    ]


@pytest.mark.parametrize("url", ["http://toulouse.fr", "https://toulouse.fr/path", "https://toulouse.fr:web"])
def test_csv_urls_in_domains_are_not_bare_names(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, "p.csv", f"siren,name,kind,domains\n213700016,A,commune,{url}\n")
    assert problems_of(path) == [
        f"{path}:2: domains: '{url}': not a bare domain name (no scheme, path, '@' or space allowed)"
    ]


def test_yaml_values_are_their_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        "organisations:\n"
        "  - {siren: 213700016, name: yes, kind: commune,"
        " territory: {departement: 01, commune: 01001, region: 84}, domains: [a.fr]}\n"
        "  - {siren: 200000016, name: 1e3, kind: epci, domains: [{name: b.fr, roles: [web, no]}]}\n",
    )
    assert problems_of(path) == [
        f"{path}:3: domains: 'b.fr': unknown role(s) 'no' (expected web, mail, other)"
    ]
    path.write_text(
        path.read_text().replace("[web, no]", "[web, ~]").replace("{siren: 200000016", "{siren: ~")
    )
    assert problems_of(path) == [
        f"{path}:3: siren: missing",
        f"{path}:3: domains: 'b.fr': unknown role(s) '' (expected web, mail, other)",
    ]
    path.write_text(
        path.read_text().replace("[web, ~]", "[web]").replace("{siren: ~", "{siren: !!int 200000016")
    )
    orgs = load_portfolio(path)
    assert (orgs[0].siren, orgs[0].name, orgs[0].territory) == (
        "213700016",
        "yes",
        Territory("01001", "01", "84"),
    )
    assert (orgs[1].siren, orgs[1].name) == ("200000016", "1e3")


def test_text_mode_builder_and_full_loader_agree() -> None:
    text = (
        "a: ~\nb: null\nc:\nd: yes\ne: Off\nf: 0x1f\ng: 017\nh: 1_000\nj: 1e3\nk: .inf\nl: 2026-11-24\n"
        "o: 12:30\np: '0123'\nq: =\nr: [no, 01]\n"
    )
    fast = yamlio._load(text, yamlio._TextLineLoader)
    assert fast == yaml.load(text, Loader=yamlio._TextLineLoader)  # the full loader, used with anchors
    assert fast == {
        "a": None, "b": None, "c": None, "d": "yes", "e": "Off", "f": "0x1f", "g": "017", "h": "1_000",
        "j": "1e3", "k": ".inf", "l": "2026-11-24", "o": "12:30", "p": "0123", "q": "=", "r": ["no", "01"],
        yamlio.LINE: 1,
    }  # fmt: skip


def test_commune_and_siren_messages_say_what_is_wrong() -> None:
    for commune in ("2C001", "ABCDE"):
        (problem,) = territory_problems(commune, None, None)
        assert problem == (
            f"commune '{commune}': an INSEE commune code is 5 digits, or 2A/2B and 3 digits in Corsica "
            "(e.g. 31555, 2A004)"
        )
    assert territory_problems("3155", None, None) == [
        "commune '3155': has 4 characters; an INSEE commune code is 5 digits, or 2A/2B and 3 digits in "
        "Corsica (e.g. 31555, 2A004)"
    ]
    for commune, prefix in (("96001", "96"), ("00000", "00"), ("97501", "975")):
        (problem,) = territory_problems(commune, None, None)
        assert problem.startswith(f"commune '{commune}': no département '{prefix}'")
    assert "2A or 2B" in territory_problems("20004", None, None)[0]
    assert territory_problems("97611", None, None) == territory_problems("31555", None, None) == []
    assert territory_problems("97411", "971", None) == ["commune '97411': does not belong to département 971"]
    assert siren_problem("000000000") == "all zeros is not a SIREN"


def test_csv_semicolons_tabs_and_loose_headers(tmp_path: Path) -> None:
    semicolons = write(
        tmp_path,
        "s.csv",
        " SIREN ; Name;KIND;Domains ;contacts\n213700016;A;commune;a.fr:web,b.fr;x@a.fr,y@b.fr\n"
        '200000016;B;epci;"c.fr:mail;d.fr";\n',
    )
    orgs = load_portfolio(semicolons)
    assert [(d.name, d.roles) for d in orgs[0].domains] == [("a.fr", {"web"}), ("b.fr", {"web", "mail"})]
    assert orgs[0].contacts == ("x@a.fr", "y@b.fr")
    assert [d.name for d in orgs[1].domains] == ["c.fr", "d.fr"]
    tabs = write(tmp_path, "t.csv", "siren\tname\tkind\tdomains\n213700016\tA, B\tcommune\ta.fr\n")
    assert load_portfolio(tabs)[0].name == "A, B"


def test_unknown_and_duplicate_yaml_keys_are_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        ORG
        + "    teritory: {departement: '31'}\n"
        + "    contact: [a@a.fr]\n"
        + "    servics: []\n"
        + "    territory: {comune: '31555'}\n"
        + "    domains:\n"
        + "      - {name: a.fr, rols: [web]}\n"  # line 10
        + "    services:\n"
        + "      - {name: S, domian: a.fr}\n",  # line 12
    )
    known = "siren, name, kind, territory, domains, contacts, services"
    assert problems_of(path) == [
        f"{path}:2: teritory: unknown key (did you mean 'territory'? known keys: {known})",
        f"{path}:2: contact: unknown key (did you mean 'contacts'? known keys: {known})",
        f"{path}:2: servics: unknown key (did you mean 'services'? known keys: {known})",
        f"{path}:2: territory.comune: unknown key (did you mean 'commune'? known keys: commune, departement, "
        "region)",
        f"{path}:10: domains.rols: unknown key (did you mean 'roles'? known keys: name, roles)",
        f"{path}:12: services.domian: unknown key (did you mean 'domain'? known keys: name, data_classes, "
        "claimed_hosting, role, domain)",
    ]
    top = write(tmp_path, "top.yaml", "organisation:\n  - {siren: '213700016'}\n")
    assert problems_of(top) == [
        f"{top}:1: organisation: unknown key (did you mean 'organisations'? known keys: organisations)"
    ]
    twice = write(tmp_path, "twice.yaml", ORG + "    domains: [a.fr]\n    domains: [b.fr]\n")
    assert problems_of(twice) == [f"{twice}:6: invalid YAML: duplicate key 'domains' in one mapping"]
    merged = write(
        tmp_path,
        "merged.yaml",
        "organisations:\n  - &o {siren: '213700016'}\n  - siren: '1'\n    siren: '2'\n",
    )
    assert problems_of(merged) == [f"{merged}:4: invalid YAML: duplicate key 'siren' in one mapping"]


def test_unknown_and_duplicate_csv_columns_are_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.csv",
        "siren,name,kind,domains,département,Région,contact\n213700016,A,commune,a.fr,37,24,a@a.fr\n",
    )
    known = "known columns: siren, name, kind, commune, departement, region, domains, contacts"
    assert problems_of(path) == [
        f"{path}:1: column 'département': unknown column (did you mean 'departement'? {known})",
        f"{path}:1: column 'Région': unknown column (did you mean 'region'? {known})",
        f"{path}:1: column 'contact': unknown column (did you mean 'contacts'? {known})",
    ]
    twice = write(
        tmp_path, "twice.csv", "siren,name,kind,domains,SIREN\n213700016,A,commune,a.fr,213700016\n"
    )
    assert problems_of(twice) == [f"{twice}:1: column 'siren': appears twice (columns 1 and 5)"]
    stray = write(tmp_path, "stray.csv", "siren,name,kind,domains,\n213700016,A,commune,a.fr,,x\n")
    assert problems_of(stray) == [f"{stray}:2: column 6: value 'x' in a column without a header"]


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("a b@c.fr", "the local part (before '@') cannot contain ' '"),
        ("a@@b.fr", "more than one '@'"),
        ("<script>@x.fr", "the local part (before '@') cannot contain '<', '>'"),
        ("javascript:alert(1)@x.fr", "the local part (before '@') cannot contain '(', ')', ':'"),
        ('"a"@x.fr', "the local part (before '@') cannot contain '\"'"),
        ("a..b@x.fr", "the local part (before '@') cannot start or end with '.' or contain '..'"),
        ("@x.fr", "nothing before the '@'"),
        ("a@x", "bad domain part 'x': needs at least two labels (e.g. example.fr)"),
    ],
)
def test_malformed_contacts(tmp_path: Path, address: str, why: str) -> None:
    assert email_problem(address) == why
    path = write(tmp_path, "p.yaml", ORG + f"    domains: [a.fr]\n    contacts: ['{address}']\n")
    assert problems_of(path) == [f"{path}:2: contacts: '{address}': {why}"]
    if '"' not in address:  # CSV quoting would take the quotes away
        path = write(
            tmp_path, "p.csv", f"siren,name,kind,domains,contacts\n213700016,A,commune,a.fr,{address}\n"
        )
        assert problems_of(path) == [f"{path}:2: contacts: '{address}': {why}"]


def test_good_contacts_are_normalised(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", ORG + "    domains: [a.fr]\n    contacts: [Jean.Dupont@Mairie-Été.FR]\n")
    a_label = idna.encode("mairie-été.fr", uts46=True).decode("ascii")
    assert a_label.startswith("xn--")
    assert load_portfolio(path)[0].contacts == (f"jean.dupont@{a_label}",)


def test_service_domain_must_be_an_organisation_domain(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        ORG
        + "    domains: [a.fr, B.fr]\n"
        + "    services:\n"
        + "      - {name: Portail, role: web-hosting, domain: other.fr}\n"  # line 7
        + "      - {name: Mail, role: mailbox, domain: b.FR}\n",
    )
    assert problems_of(path) == [
        f"{path}:7: services.domain: service 'Portail': 'other.fr' is not one of this organisation's domains "
        "(a.fr, b.fr)"
    ]
    path.write_text(path.read_text().replace("other.fr", "a.fr"))
    services = load_portfolio(path)[0].services
    assert [(s.name, s.domain) for s in services] == [("Portail", "a.fr"), ("Mail", "b.fr")]


def test_messages_show_no_internals(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        ORG.replace("name: A", "name: {a: 1}")
        + "    territory: [commune]\n"
        + "    domains: [xn--abc.fr, {name: {x: 1}}, [a.fr]]\n"
        + "    contacts: [{a: 1}]\n"
        + "    services: [x]\n",
    )
    problems = problems_of(path)
    assert problems == [
        f"{path}:2: name: expected a single value, found a mapping",
        f"{path}:2: territory: expected a mapping with commune, departement, region, found a list",
        f"{path}:2: domains: 'xn--abc.fr': label 'xn--abc' is not a valid A-label (punycode/IDNA)",
        f"{path}:6: domains.name: expected a single value, found a mapping",  # the item's own line
        f"{path}:2: domains: expected a domain name or a mapping with name and roles, found a list",
        f"{path}:2: contacts: expected a single value, found a mapping",
        f"{path}:2: services: expected a mapping with a name, found 'x'",
    ]
    assert not any(yamlio.LINE in p or "{" in p or "Codepoint" in p for p in problems)


def test_audit_six_portfolio_messages(tmp_path: Path) -> None:
    """An unclosed quote said "kind: missing" and "domains: required" about cells that were there (the quote
    swallowed the rest of the file); `roles: []` was read as web and mail; a folder was an "unknown
    portfolio format ''"."""
    unclosed = write(tmp_path, "unclosed.csv", 'siren,name,kind,domains\n213105554,"T,commune,a.fr\n')
    assert problems_of(unclosed) == [
        f'{unclosed}:2: invalid CSV: a quote (") opened in this record is never closed'
    ]
    quoted = write(tmp_path, "quoted.csv", 'siren,name,kind,domains\n213700016,Ville "A",commune,a.fr\n')
    assert [o.name for o in load_portfolio(quoted)] == ['Ville "A"']  # a quote inside a cell is text
    empty = write(tmp_path, "p.yaml", "- siren: '213700016'\n  name: A\n  kind: commune\n  domains:\n"
                  "    - name: a.fr\n      roles: []\n")  # fmt: skip
    assert problems_of(empty) == [f"{empty}:5: domains: 'a.fr': empty role list (expected web, mail, other)"]
    absent = write(tmp_path, "q.yaml", "- siren: '213700016'\n  name: A\n  kind: commune\n  domains:\n"
                   "    - name: a.fr\n")  # fmt: skip
    assert load_portfolio(absent)[0].domains[0].roles == frozenset({"web", "mail"})  # no roles: both
    assert problems_of(tmp_path) == [f"{tmp_path}: a folder, not a portfolio file (.yaml, .yml or .csv)"]


def test_check_lists_the_file_s_problems_and_its_rows_together(tmp_path: Path) -> None:
    """An unknown top-level key or CSV column hid every problem of the organisations until it was fixed."""
    doc = write(tmp_path, "misc.yaml", "version: 2\norganisations:\n  - siren: '213700016'\n    name: A\n"
                "    kind: commune\n    teritory: {departement: '37'}\n    domains: [a.fr]\n")  # fmt: skip
    assert problems_of(doc) == [
        f"{doc}:1: version: unknown key (known keys: organisations)",
        f"{doc}:3: teritory: unknown key (did you mean 'territory'? known keys: siren, name, kind, "
        "territory, domains, contacts, services)",
    ]
    table = write(tmp_path, "t.csv", "siren,name,kind,domains,colour\n213700017,A,commune,a.fr,blue\n")
    problems = problems_of(table)
    assert (
        len(problems) == 2 and "column 'colour': unknown column" in problems[0] and "checksum" in problems[1]
    )
