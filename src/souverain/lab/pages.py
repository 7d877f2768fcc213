"""Homepages of lab sites: HTML with a chosen set of first- and third-party resources."""

from __future__ import annotations

import random
from html import escape

# feature → (probability, HTML snippet with {d} for the domain, third-party hosts it makes the page load)
FEATURES: dict[str, tuple[float, str, tuple[str, ...]]] = {
    "gtm": (
        0.35,
        '<script async src="https://www.googletagmanager.com/gtm.js?id=GTM-LAB{n}"></script>',
        ("www.googletagmanager.com",),
    ),
    "fonts": (
        0.3,
        '<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>\n'
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Marianne">',
        ("fonts.gstatic.com", "fonts.googleapis.com"),
    ),
    "matomo-self": (0.2, '<script src="//stats.{d}/matomo.js"></script>', ()),
    "matomo-cloud": (
        0.08,
        '<script src="https://{slug}.matomo.cloud/matomo.js"></script>',
        ("{slug}.matomo.cloud",),
    ),
    "tarteaucitron": (
        0.15,
        '<script src="https://tarteaucitron.io/load.js?domain={d}"></script>',
        ("tarteaucitron.io",),
    ),
    "tarteaucitron-self": (0.15, '<script src="/js/tarteaucitron/tarteaucitron.js"></script>', ()),
    "youtube": (
        0.2,
        '<iframe src="https://www.youtube.com/embed/lab{n}" title="vidéo"></iframe>',
        ("www.youtube.com",),
    ),
    "dailymotion": (
        0.05,
        '<iframe src="https://geo.dailymotion.com/player.html?video=x{n}"></iframe>',
        ("geo.dailymotion.com",),
    ),
    "vimeo": (0.05, '<iframe src="https://player.vimeo.com/video/{n}"></iframe>', ("player.vimeo.com",)),
    "osm": (
        0.1,
        '<img src="https://tile.openstreetmap.org/12/2072/1409.png" alt="carte">',
        ("tile.openstreetmap.org",),
    ),
    "recaptcha": (
        0.08,
        '<script src="https://www.google.com/recaptcha/api.js" async defer></script>',
        ("www.google.com",),
    ),
    "hcaptcha": (
        0.04,
        '<script src="https://js.hcaptcha.com/1/api.js" async defer></script>',
        ("js.hcaptcha.com",),
    ),
    "form-google": (
        0.05,
        '<form action="https://docs.google.com/forms/d/e/lab{n}/formResponse" method="post">'
        '<input name="q"><button>Envoyer</button></form>',
        ("docs.google.com",),
    ),
    "form-frama": (
        0.04,
        '<form action="https://framaforms.org/node/{n}" method="post"><input name="q"></form>',
        ("framaforms.org",),
    ),
    "jsdelivr": (
        0.12,
        '<link rel="dns-prefetch" href="//cdn.jsdelivr.net">\n'
        '<script src="//cdn.jsdelivr.net/npm/lab-widget@1/widget.min.js"></script>',
        ("cdn.jsdelivr.net",),
    ),
    "cloudinary": (
        0.06,
        '<img src="https://res.cloudinary.com/lab/image/upload/{n}.jpg" alt="">',
        ("res.cloudinary.com",),
    ),
}

THIRD_PARTY_HOSTS = sorted({h for _, _, hosts in FEATURES.values() for h in hosts if "{" not in h})


def choose_features(rng: random.Random) -> list[str]:
    return [name for name, (p, _, _) in FEATURES.items() if rng.random() < p]


def render(
    domain: str,
    title: str,
    features: list[str],
    n: int,
    *,
    charset: str = "utf-8",
    raw_title: str | None = None,
) -> tuple[str, list[str]]:
    """Return (html, sorted third-party hosts the page loads). ``raw_title`` is inserted unescaped."""
    slug = domain.split(".")[0]
    hosts: set[str] = set()
    head = [
        f'<meta charset="{charset}">'
        if charset == "utf-8"
        else f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">',
        f"<title>{raw_title if raw_title is not None else escape(title)}</title>",
        '<link rel="stylesheet" href="css/site.css">',
        '<link rel="icon" href="/favicon.ico">',
    ]
    body = [
        f"<h1>{escape(title)}</h1>",
        '<img src="/images/logo.png" alt="logo">',
        '<p><a href="https://www.service-public.fr/">Service-Public.fr</a> · '
        '<a href="/mentions-legales">Mentions légales</a></p>',
    ]
    for name in features:
        snippet = FEATURES[name][1].format(d=domain, slug=slug, n=n)
        (head if snippet.startswith(("<link", "<script")) else body).append(snippet)
        hosts.update(h.format(slug=slug) for h in FEATURES[name][2])
    html = (
        '<!DOCTYPE html>\n<html lang="fr">\n<head>\n'
        + "\n".join(head)
        + "\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
    return html, sorted(hosts)
