"""The world generator: organisations, their domains and the ground truth. Pure and deterministic."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator

import idna

from souverain.lab import geo
from souverain.lab.bench import bench_domains, bench_org
from souverain.lab.model import Domain, Org, World
from souverain.lab.profiles import make_domain, pick

SHARED_MAIL = ("orange.fr", "wanadoo.fr", "gmail.com", "laposte.net")
SIREN_PREFIX = {
    "commune": "21",
    "epci": "24",
    "departement": "22",
    "region": "23",
    "ministere": "11",
    "hopital": "26",
    "etablissement-public": "18",
}
MINISTRIES = [
    ("Ministère de l'Intérieur", "interieur"),
    ("Ministère de l'Éducation nationale", "education"),
    ("Ministère de la Culture", "culture"),
    ("Ministère de l'Agriculture", "agriculture"),
    ("Ministère de la Transition écologique", "ecologie"),
    ("Ministère de la Santé", "sante"),
    ("Ministère du Travail", "travail"),
    ("Ministère de la Justice", "justice"),
    ("Ministère des Armées", "defense"),
    ("Ministère de l'Économie", "economie"),
    ("Ministère des Sports", "sports"),
    ("Ministère des Outre-mer", "outre-mer"),
    ("Ministère de l'Enseignement supérieur", "enseignementsup"),
    ("Ministère de l'Europe et des Affaires étrangères", "diplomatie"),
]
CLAIMS = {
    "OVHcloud": "ovh",
    "Microsoft 365": "microsoft",
    "Google Workspace": "google",
    "hébergement interne": "self",
    "GIP Lab Numérique": "gip-lab",
    "Scaleway": "scaleway",
    "Amazon Web Services": "aws",
}


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        v = int(ch) * (2 if i % 2 else 1)
        total += v - 9 if v > 9 else v
    return total % 10 == 0


def with_luhn(body: str) -> str:
    return next(body + str(c) for c in range(10) if luhn_ok(body + str(c)))


def ascii_slug(name: str) -> str:
    s = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in s).split())


def unicode_slug(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.sirens: set[str] = set()
        self.names: set[str] = set()
        self.domains: set[str] = set()
        self.communes: set[str] = set()
        self.per_dept: dict[str, int] = {}
        self.depts = sorted(geo.DEPARTEMENTS)
        self.free_depts = [c for c in self.depts if c not in geo.MERGED_DEPARTEMENTS]
        self.free_regions = sorted(geo.REGIONS)
        self.ministries = list(MINISTRIES)

    def siren(self, kind: str) -> str:
        while True:
            body = SIREN_PREFIX[kind] + "".join(str(self.rng.randrange(10)) for _ in range(6))
            s = with_luhn(body)
            if s not in self.sirens:
                self.sirens.add(s)
                return s

    def place_name(self, dept: str) -> str:
        r = self.rng
        for attempt in range(40):
            if dept in geo.BRETON and r.random() < 0.6:
                n = r.choice(geo.BRETON_STARTS) + r.choice(geo.BRETON_ENDS)
            elif dept in geo.OVERSEAS and r.random() < 0.6:
                n = f"{r.choice(geo.OVERSEAS_NAMES)}-{r.choice(geo.OVERSEAS_ENDS).replace(' ', '-')}"
            elif r.random() < 0.15:
                n = r.choice(geo.SAINTS)
            else:
                n = r.choice(geo.STARTS) + r.choice(geo.ENDS)
            x = r.random()
            if x < 0.2 or attempt > 10:
                n += f"-sur-{r.choice(geo.RIVERS)}"
            elif x < 0.3 or attempt > 20:
                n += f"-en-{r.choice(geo.PAYS)}"
            elif x < 0.35:
                n = r.choice(["Le ", "La "]) + n
            if attempt > 30:
                n += f"-{r.choice(geo.PAYS)}"
            if ascii_slug(n) not in self.names:
                self.names.add(ascii_slug(n))
                return n
        raise RuntimeError("commune name space exhausted")

    def commune_code(self, dept: str) -> str | None:
        if self.per_dept.get(dept, 0) >= (60 if len(dept) == 3 else 800):
            return None
        self.per_dept[dept] = self.per_dept.get(dept, 0) + 1
        while True:
            code = dept + (
                f"{self.rng.randrange(1, 100):02d}" if len(dept) == 3 else f"{self.rng.randrange(1, 900):03d}"
            )
            if code not in self.communes:
                self.communes.add(code)
                return code

    def domain(self, candidate: str, dept: str | None) -> str:
        if candidate in self.domains:
            stem, tld = candidate.split(".", 1)
            candidate = f"{stem}-{(dept or 'x').lower()}.{tld}"
        n = 2
        base = candidate
        while candidate in self.domains:
            stem, tld = base.split(".", 1)
            candidate, n = f"{stem}{n}.{tld}", n + 1
        self.domains.add(candidate)
        return candidate

    def org(self) -> Org:
        r = self.rng
        kind = pick(
            r,
            {
                "commune": 62,
                "epci": 12,
                "hopital": 7,
                "etablissement-public": 7,
                "departement": 6,
                "region": 2,
                "ministere": 2,
            },
        )
        if (kind == "departement" and not self.free_depts) or (kind == "region" and not self.free_regions):
            kind = "commune"
        if kind == "ministere" and not self.ministries:
            kind = "etablissement-public"
        dept = r.choice(self.depts)
        region: str | None
        national = False
        region = geo.DEPARTEMENTS[dept][1]
        siren = self.siren(kind)
        doms: list[tuple[str, list[str]]] = []
        contacts: list[str] = []
        commune = None
        if kind == "commune":
            commune = self.commune_code(dept)
            while commune is None:
                dept = r.choice(self.depts[:90])
                commune = self.commune_code(dept)
            region = geo.DEPARTEMENTS[dept][1]
            name = self.place_name(dept)
            slug = ascii_slug(name)
            tld = (
                "bzh"
                if dept in geo.BRETON and r.random() < 0.25
                else "re"
                if dept == "974" and r.random() < 0.4
                else "fr"
            )
            form = pick(r, {"ville-{}": 35, "mairie-{}": 25, "{}": 40})
            if slug != unicode_slug(name) and r.random() < 0.15:
                dom = self.domain(f"{unicode_slug(name)}.{tld}", dept)
            else:
                dom = self.domain(form.format(slug) + f".{tld}", dept)
            shared = r.random() < 0.35
            doms.append((dom, ["web"] if shared else ["web", "mail"]))
            contacts.append(f"mairie.{slug}@{r.choice(SHARED_MAIL)}" if shared else f"mairie@{dom}")
            if r.random() < 0.12:
                doms.append((self.domain(f"tourisme-{slug}.fr", dept), ["web"]))
            label = f"Commune de {name}"
        elif kind == "epci":
            name = self.place_name(dept)
            form, label = r.choice(
                [("cc-{}", "Communauté de communes de {}"), ("agglo-{}", "Communauté d'agglomération de {}")]
            )
            dom = self.domain(form.format(ascii_slug(name)) + ".fr", dept)
            doms.append((dom, ["web", "mail"]))
            label = label.format(name)
            contacts.append(f"accueil@{dom}")
        elif kind == "hopital":
            name = self.place_name(dept)
            chu = r.random() < 0.2
            dom = self.domain(f"{'chu' if chu else 'ch'}-{ascii_slug(name)}.fr", dept)
            doms.append((dom, ["web", "mail"]))
            label = f"{'Centre hospitalier universitaire' if chu else 'Centre hospitalier'} de {name}"
            contacts.append(f"direction@{dom}")
        elif kind == "etablissement-public":
            what, stem = r.choice(
                [
                    ("Service départemental d'incendie et de secours", "sdis"),
                    ("Centre de gestion de la fonction publique territoriale", "cdg"),
                    ("Syndicat départemental d'énergie", "sde"),
                ]
            )
            dom = self.domain(f"{stem}{dept.lower()}.fr", dept)
            doms.append((dom, ["web", "mail"]))
            label = f"{what} ({geo.DEPARTEMENTS[dept][0]})"
            if dom != f"{stem}{dept.lower()}.fr":
                label += f" {dom.split('.')[0]}"
        elif kind == "departement":
            dept = self.free_depts.pop(r.randrange(len(self.free_depts)))
            region = geo.DEPARTEMENTS[dept][1]
            dname = geo.DEPARTEMENTS[dept][0]
            dom = self.domain(f"{ascii_slug(dname)}.fr", dept)
            doms.append((dom, ["web", "mail"]))
            label = f"Conseil départemental ({dname})"
        elif kind == "region":
            region = self.free_regions.pop(r.randrange(len(self.free_regions)))
            rname = geo.REGIONS[region]
            dom = self.domain("bretagne.bzh" if region == "53" else f"region-{ascii_slug(rname)}.fr", None)
            doms.append((dom, ["web", "mail"]))
            label = f"Région {rname}" if region not in ("02", "03", "94") else f"Collectivité de {rname}"
            national = True
        else:
            label, stem = self.ministries.pop(r.randrange(len(self.ministries)))
            dom = self.domain(f"{stem}.gouv.fr", None)
            doms.append((dom, ["web", "mail"]))
            if r.random() < 0.5:
                doms.append((self.domain(f"data-{stem}.gouv.fr", None), ["web"]))
            national, region = True, None
        return Org(
            siren=siren,
            name=label,
            kind=kind,
            commune=commune,
            departement=None if national else dept,
            region=region,
            domains=doms,
            contacts=contacts,
        )


def _services(rng: random.Random, org: Org, domains: list[Domain]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    main = domains[0].truth
    options = []
    if org.kind == "hopital":
        options.append(("Dossier patient informatisé", ["sante", "personnelles"], "web_hosting"))
    if org.kind == "ministere":
        options.append(("Messagerie des agents", ["sensible-art31"], "mailbox"))
    if org.kind in ("commune", "epci") and rng.random() < 0.15:
        options.append(("Portail citoyen", ["personnelles"], "web_hosting"))
    for name, classes, role in options:
        actual = main.get(role)
        if actual is None:
            continue
        inverse = {v: k for k, v in CLAIMS.items()}
        claimed = inverse.get(actual, "OVHcloud") if rng.random() < 0.65 else rng.choice(sorted(CLAIMS))
        org.services.append(
            {
                "name": name,
                "data_classes": classes,
                "claimed_hosting": claimed,
                "role": role.replace("_", "-"),
            }
        )
        out.append(
            {
                "name": name,
                "claimed_hosting": claimed,
                "claimed_key": CLAIMS[claimed],
                "actual": actual,
                "role": role,
                "matches": CLAIMS[claimed] == actual,
            }
        )
    return out


def orgs_stream(seed: int) -> Iterator[tuple[Org, list[Domain]]]:
    gen = _Gen(seed)
    index = 0
    while True:
        org = gen.org()
        doms = []
        for display, roles in org.domains:
            name = idna.encode(display, uts46=True).decode() if not display.isascii() else display
            doms.append(
                make_domain(
                    gen.rng,
                    name=name,
                    display=display,
                    org=org.siren,
                    kind=org.kind,
                    roles=roles,
                    index=index,
                    title=org.name,
                )
            )
            index += 1
        yield org, doms


def generate(seed: int = 1, size: int | None = 200, domains: int | None = None) -> World:
    """Build the world: ``size`` organisations, or organisations until ``domains`` domains exist."""
    if size is None and domains is None:
        raise ValueError("give size or domains")
    bench = bench_org()
    bdoms = bench_domains(bench.siren)
    orgs: list[Org] = []
    all_domains: dict[str, Domain] = {}
    service_truth: dict[str, list[dict[str, object]]] = {}
    svc_rng = random.Random(f"services:{seed}")
    target = None if domains is None else domains - len(bdoms)
    for org, doms in orgs_stream(seed):
        if size is not None and domains is None and len(orgs) >= size:
            break
        if target is not None and len(all_domains) >= target:
            break
        if target is not None and len(all_domains) + len(doms) > target:
            doms = doms[: target - len(all_domains)]
            org.domains = org.domains[: len(doms)]
        orgs.append(org)
        for d in doms:
            all_domains[d.name] = d
        svc = _services(svc_rng, org, doms)
        if svc:
            service_truth[org.siren] = svc
    orgs.append(bench)
    for d in bdoms:
        all_domains[d.name] = d
    hostile = [
        {
            "domain": d.name,
            "kind": d.truth["hostile"],
            "expect": d.truth["expect"],
            "detail": d.truth["expect_detail"],
        }
        for d in bdoms
    ]
    return World(
        seed=seed,
        size=len(orgs),
        orgs=orgs,
        domains=all_domains,
        hostile=hostile,
        service_truth=service_truth,
    )
