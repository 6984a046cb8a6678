"""The eighth fresh held-out set of the privacy benchmark (set J): a TUNING SET since round 9.

Written on 2026-12-08 after set I had been evaluated (and spent), before any of round 8's
detector changes and without running the detectors on it; committed on its own first, and
evaluated once as held out at the end of round 8. Its misses are fixed by class in round
9, so set J is spent: ``benchmarks/privacy.py`` scores it as "set J (tuned on)", and the
held-out set is set K (``privacy_heldout_k.py``).

Nothing here comes from sets A-I: no Faker, no ``athena_core`` import (Luhn, mod-97 and
the SSN rules are written again below), its own value generators and its own composer.
Each document is one artifact of a kind no earlier set uses (:data:`_ARTIFACTS`):

* prose: Trello card exports (JSON, the comments escaped in strings), Asana task
  comments, Basecamp message boards, Reddit help posts, Signal desktop exports,
  voicemail transcriptions, service contracts, rental applications, payroll stubs,
  shipping labels, pharmacy orders, wedding RSVPs, conference registrations, donation
  receipts, job applications, police incident reports;
* machine text: ``journalctl`` output, Caddyfiles, Nomad job specifications, Pulumi stack
  files, CloudFormation templates, Argo CD applications, ``CMakeLists.txt``,
  ``Cargo.toml`` and ``pyproject.toml``, Maven ``settings.xml``, ``pip.conf`` and
  ``.gitconfig``, rclone and s3cmd configuration, VB.NET, F#, Dart, Haskell, Groovy and
  Objective-C source, Prisma schemas, dbt ``profiles.yml``, Airflow connection exports,
  Kafka client properties, LDAP LDIF, Postfix lookup tables, macOS Keychain dumps,
  browsers' exported password CSVs, muttrc files and ZNC bouncer configuration.

``in_prose`` is true for the first group: chats, comments, posts, transcripts and filled-in
forms (as set I counts its forms); a Trello export is JSON, but its values sit in the
comments' sentences.

Values: vendors' documented token formats, many not planted by an earlier set (Grafana
service accounts, Buildkite, Airtable, Figma, Groq, xAI, Mailgun, Mailchimp, Terraform
Cloud, Okta, Discord bots, Readme, Doppler personal tokens, Entra ID and Google OAuth
client secrets, GitLab pipeline-trigger tokens, OpenSSH private keys, both generations
of AWS session tokens); passwords as people and password managers make them, with
``/ ( ) @ #``, quotes and spaces where the syntax allows them; cards of the listed issuer
ranges only (Visa 13/16/19, Mastercard 51-55 and 2221-2720, Amex, Discover, JCB, Diners,
Maestro) written as issuers group them, each with one-digit-mutated twins; IBANs of 36
countries with the registry's BBAN shapes; SSNs with dashes, spaces, dots or none;
phones of 25 countries in national and international writings, none in a range set aside
for fiction.

Decoys sit where such values really sit. Besides the usual families (vendors' example
keys, references, masks, placeholders, hashes, UUIDs, timestamps, versions, fictional
numbers, advertised SSNs, test cards, example IBANs, documentation addresses) it uses
ones no earlier set lists: AWS's second documented key pair (``AKIAI44QH8DHBEXAMPLE``),
the Cosmos DB emulator key, the first default account key of the Hardhat and Anvil local
chains, MinIO's and RabbitMQ's shipped defaults, Argo CD Vault Plugin ``<path:...>``
placeholders, CloudFormation ``{{resolve:secretsmanager:...}}`` references, Kafka
``${file:...}`` config providers, Airflow ``{{ conn.x.password }}`` and dbt
``env_var()`` templates, Pulumi ``secure:`` ciphertexts, ``pass show`` command
substitutions, language environment lookups (``Environment.GetEnvironmentVariable``,
``Platform.environment``, ``lookupEnv``, ``System.getenv``, ``NSProcessInfo``; in code
they stand unquoted, as code holds them), Prisma ``env()`` and Caddy ``{env.X}``, ULIDs,
build numbers, UPS tracking numbers, Ofcom's regional drama ranges (0113/0121/0131/0141/
0161 496 0xxx, 028 9649 6xxx, 029 2018 0xxx), ACMA's fictional mobile list and 5550
geographic blocks, the RFC 2606 ``.test``/``.invalid`` domains, SSA's advertised
219-09-9999 and SSNs of group 00, Stripe's, Braintree's and Adyen's documented test cards, and
one-digit-mutated card numbers and IBANs where a card number or IBAN goes.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import uuid
from collections.abc import Callable, Sequence
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

import attrs

__all__ = ["KINDS_J", "PlantedJ", "documents_j"]

_LOW = string.ascii_lowercase
_UP = string.ascii_uppercase
_DIG = string.digits
_AN = string.ascii_letters + string.digits
_B64 = _AN + "+/"
_URL = _AN + "_-"
_HEXL = "0123456789abcdef"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

#: (start, end, type or None for a decoy, in prose, decoy kind: "", "lookalike", "mutated").
PlantedJ = tuple[int, int, "str | None", bool, str]


def _s(rnd: random.Random, n: int, alphabet: str = _AN) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def _n(rnd: random.Random, n: int) -> str:
    return _s(rnd, n, _DIG)


# --- checksums ----------------------------------------------------------------------------


def luhn_ok(number: str) -> bool:
    """Whether the digits of ``number`` pass the Luhn check."""
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _with_luhn(partial: str) -> str:
    for last in _DIG:
        if luhn_ok(partial + last):
            return partial + last
    raise AssertionError(partial)


def iban_ok(value: str) -> bool:
    """Whether ``value`` (spaces allowed) passes ISO 13616's mod-97 check."""
    compact = value.replace(" ", "")
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _iban(country: str, bban: str) -> str:
    rest = int("".join(str(int(c, 36)) for c in f"{bban}{country}00")) % 97
    return f"{country}{98 - rest:02d}{bban}"


# --- personal values --------------------------------------------------------------------------

#: Issuer -> (prefixes, lengths); only the ranges the benchmark lists.
_CARD_RANGES: dict[str, tuple[Callable[[random.Random], str], tuple[int, ...]]] = {
    "visa": (lambda r: "4", (13, 16, 16, 19)),
    "mastercard": (lambda r: str(r.randint(51, 55)), (16,)),
    "mastercard2": (lambda r: str(r.randint(2221, 2720)), (16,)),
    "amex": (lambda r: r.choice(("34", "37")), (15,)),
    "discover": (lambda r: r.choice(("6011", "65", str(r.randint(644, 649)))), (16, 19)),
    "jcb": (lambda r: str(r.randint(3528, 3589)), (16,)),
    "diners": (lambda r: r.choice(("36", "38", str(r.randint(300, 305)))), (14,)),
    "maestro": (lambda r: r.choice(("5018", "5020", "5038", "5893", "6304", "6759", "6761",
                                    "6762", "6763")), (16, 19)),
}


def _group(number: str, sep: str) -> str:
    size = len(number)
    if size == 15:
        cuts = (4, 6, 5)
    elif size == 14:
        cuts = (4, 6, 4)
    elif size == 13:
        cuts = (4, 3, 3, 3)
    elif size == 19:
        cuts = (4, 4, 4, 4, 3)
    else:
        cuts = (4, 4, 4, 4)
    parts, at = [], 0
    for cut in cuts:
        parts.append(number[at:at + cut])
        at += cut
    return sep.join(parts)


def card_j(rnd: random.Random) -> str:
    make, lengths = _CARD_RANGES[rnd.choice(sorted(_CARD_RANGES))]
    head, size = make(rnd), rnd.choice(lengths)
    number = _with_luhn(head + _n(rnd, size - len(head) - 1))
    return rnd.choice((number, _group(number, " "), _group(number, " "), _group(number, "-")))


#: Country -> BBAN shape as the SWIFT IBAN registry gives it (n digit, a capital, c either).
_BBAN_J = {
    "AD": "n" * 8 + "c" * 12, "AT": "n" * 16, "AZ": "aaaa" + "c" * 20, "CH": "n" * 5 + "c" * 12,
    "CR": "0" + "n" * 17, "FI": "n" * 14, "GB": "aaaa" + "n" * 14, "GI": "aaaa" + "c" * 15,
    "GR": "n" * 7 + "c" * 16, "HR": "n" * 17, "HU": "n" * 24, "IL": "n" * 19, "IS": "n" * 22,
    "IT": "a" + "n" * 10 + "c" * 12, "KZ": "n" * 3 + "c" * 13, "LB": "n" * 4 + "c" * 20,
    "LI": "n" * 5 + "c" * 12, "LT": "n" * 16, "LU": "n" * 3 + "c" * 13,
    "MC": "n" * 10 + "c" * 11 + "nn", "ME": "n" * 18, "MK": "n" * 3 + "c" * 10 + "nn",
    "MT": "aaaa" + "n" * 5 + "c" * 18, "MR": "n" * 23, "NL": "aaaa" + "n" * 10, "NO": "n" * 11,
    "RO": "aaaa" + "c" * 16, "RS": "n" * 18, "SA": "nn" + "c" * 18, "SI": "n" * 15,
    "SK": "n" * 20, "SM": "a" + "n" * 10 + "c" * 12, "TN": "n" * 20, "TR": "n" * 5 + "0"
    + "c" * 16, "AE": "n" * 19, "XK": "n" * 16,
}


def iban_j(rnd: random.Random) -> str:
    country = rnd.choice(sorted(_BBAN_J))
    pick = {"n": _DIG, "a": _UP, "c": _UP + _DIG * 6, "0": "0"}  # mostly digits, as issued
    value = _iban(country, "".join(rnd.choice(pick[c]) for c in _BBAN_J[country]))
    if rnd.random() < 0.55:
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def ssn_j(rnd: random.Random) -> str:
    """An SSN that could be issued: area 001-899 except 666, group 01-99, serial 0001-9999."""
    area = rnd.randint(1, 899)
    while area == 666:
        area = rnd.randint(1, 899)
    a, g, s = f"{area:03d}", f"{rnd.randint(1, 99):02d}", f"{rnd.randint(1, 9999):04d}"
    sep = rnd.choice(("-", "-", "-", " ", ".", ""))
    return f"{a}{sep}{g}{sep}{s}"


def phone_j(rnd: random.Random) -> str:
    """Numbers of 25 countries in their national and international writings."""
    def d(k: int) -> str:
        return _n(rnd, k)
    area = rnd.choice((212, 305, 312, 404, 503, 608, 713, 773, 801, 857, 916, 929))
    ca = rnd.choice((416, 514, 604, 403, 613, 902))
    exch = rnd.choice([e for e in range(201, 1000) if e != 555 and e % 100 != 11])
    uk_mobile = "07" + rnd.choice(("4", "5", "8", "9")) + d(2)
    uk_city = rnd.choice(("0161", "0113", "0121")) + " " + rnd.choice(
        [f"{k:03d}" for k in range(200, 1000) if k != 496]) + " " + d(4)
    au_mobile = "04" + rnd.choice(("0", "1", "2", "3", "5", "8")) + d(1)
    return rnd.choice((
        f"+39 3{d(2)} {d(3)} {d(4)}", f"3{d(2)} {d(3)} {d(4)}",
        f"+31 6 {d(8)}", f"06-{d(8)}",
        f"+41 79 {d(3)} {d(2)} {d(2)}", f"079 {d(3)} {d(2)} {d(2)}",
        f"+43 664 {d(7)}", f"0664 {d(7)}",
        f"+48 5{d(2)} {d(3)} {d(3)}", f"+353 87 {d(3)} {d(4)}", f"087 {d(3)} {d(4)}",
        f"+47 9{d(2)} {d(2)} {d(3)}", f"+358 40 {d(3)} {d(4)}",
        f"+54 9 11 {d(4)}-{d(4)}", f"+56 9 {d(4)} {d(4)}", f"+57 31{d(1)} {d(3)} {d(4)}",
        f"+234 803 {d(3)} {d(4)}", f"+20 10 {d(4)} {d(4)}", f"+90 532 {d(3)} {d(2)} {d(2)}",
        f"0532 {d(3)} {d(2)} {d(2)}", f"+972 54-{d(3)}-{d(4)}", f"+971 50 {d(3)} {d(4)}",
        f"+65 9{d(3)} {d(4)}", f"+852 9{d(3)} {d(4)}", f"+82 10-{d(4)}-{d(4)}",
        f"010-{d(4)}-{d(4)}", f"+84 91 {d(3)} {d(2)} {d(2)}", f"+62 812-{d(4)}-{d(4)}",
        f"({area}) {exch}-{d(4)}", f"{area}-{exch}-{d(4)}", f"+1 {ca} {exch} {d(4)}",
        f"1-{ca}-{exch}-{d(4)}", f"{uk_mobile} {d(6)}", f"+44 {uk_mobile[1:]} {d(6)}",
        uk_city, f"{au_mobile} {d(3)} {d(3)}", f"+61 {au_mobile[1:]} {d(3)} {d(3)}",
    ))


_GIVEN = ["aoife", "bilal", "chiara", "dmitri", "esra", "farid", "giulia", "henrik", "ines",
          "jonas", "keiko", "lucia", "marek", "nkechi", "oskar", "priya"]
_FAMILY = ["byrne", "haddad", "romano", "volkov", "yilmaz", "karimi", "ricci", "berg",
           "moreau", "weber", "sato", "ortega", "kowalski", "eze", "lund", "iyer"]
_MAILHOSTS = ["libero.it", "ziggo.nl", "bluewin.ch", "a1.net", "wp.pl", "eircom.net",
              "online.no", "fastmail.com", "hey.com", "naver.com", "yandex.ru", "icloud.com",
              "outlook.com", "btinternet.com", "bigpond.com", "shaw.ca"]


def email_j(rnd: random.Random) -> str:
    g, f = rnd.choice(_GIVEN), rnd.choice(_FAMILY)
    local = rnd.choice((f"{g}.{f}", f"{g}_{f}", f"{g[0]}{f}", f"{f}.{g}{rnd.randint(70, 99)}",
                        f"{g}+rsvp", f"{g}.{f}+billing", f"{f}{rnd.randint(1, 999)}"))
    host = rnd.choice(_MAILHOSTS)
    if rnd.random() < 0.2:
        host = rnd.choice(("mail.", "")) + rnd.choice(("lundberg-ab.se", "ortega-law.es",
                                                        "kowalski.dev", "iyer.family"))
    return f"{local}@{host}"


def ipv4_j(rnd: random.Random) -> str:
    skip = {0, 10, 100, 127, 169, 172, 192, 198, 203}
    first = rnd.choice([a for a in range(1, 224) if a not in skip])
    return f"{first}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"


def ipv6_j(rnd: random.Random) -> str:
    head = rnd.choice(("2001:4860", "2606:4700", "2a01:4f8", "2a02:26f0", "2604:a880",
                       "2a05:d014", "2400:cb00"))
    rest = [f"{rnd.randint(0, 0xffff):x}" for _ in range(6)]
    style = rnd.randrange(3)
    if style == 0:
        return ":".join([head, *rest])
    if style == 1:
        return f"{head}:{rest[0]}::{rest[1]}:{rest[2]}"
    return f"{head}:{rest[0]}:{rest[1]}::{rest[5] or '1'}"


# --- secrets ------------------------------------------------------------------------------------

_DICE = ["orbit", "lantern", "thimble", "gravel", "biscuit", "kestrel", "monsoon", "velvet",
         "anchor", "nutmeg", "glacier", "pylon", "sorrel", "wicket"]


def password_j(rnd: random.Random) -> str:
    """Passwords as people and password managers make them."""
    style = rnd.randrange(10)
    if style == 0:  # 1Password's random password with symbols
        return _s(rnd, rnd.choice((20, 24)), _AN + "!#%()*/@^")
    if style == 1:  # 1Password's memorable password
        return "-".join(rnd.sample(_DICE, 3)) + "-" + _n(rnd, 1)
    if style == 2:  # a diceware phrase with spaces
        return " ".join(rnd.sample(_DICE, 4))
    if style == 3:  # a pet, a year, a symbol
        return rnd.choice(("Biscuit", "Luna", "Rocky", "Milo", "Nala")) + rnd.choice(
            ("@", "#", "/", "")) + str(rnd.randint(2008, 2026))
    if style == 4:  # LastPass's default generator
        return _s(rnd, 16, _AN + "!@#$%^&*")
    if style == 5:  # an apostrophe and a bracket, as people type them
        return rnd.choice(("Don't(panic)", "it's-Fr1day", "Ma'am#42", "(Oslo)2024'")) \
            + _n(rnd, 2)
    if style == 6:  # a KeePassXC 32-character password
        return _s(rnd, 32, _AN + "/()#@")
    if style == 7:  # quoted words
        return "\"Tr0ub4dor\"&" + _n(rnd, 1) if rnd.random() < 0.5 else \
            "say\"cheese\"" + _n(rnd, 3)
    if style == 8:  # a keyboard walk with a twist
        return rnd.choice(("1qaz@WSX", "Zaq1@wsx", "!QAZ2wsx", "qwER43@!")) + _n(rnd, 2)
    return _s(rnd, 4, _UP) + "/" + _s(rnd, 6, _LOW) + "(" + _n(rnd, 3) + ")"


def _pem_j(rnd: random.Random) -> str:
    if rnd.random() < 0.4:
        body = ["b3BlbnNzaC1rZXktdjEAAAAA" + _s(rnd, 46, _B64)]
        body += [_s(rnd, 70, _B64) for _ in range(rnd.randint(4, 7))]
        body.append(_s(rnd, rnd.randint(12, 60), _B64) + "=")
        return ("-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(body)
                + "\n-----END OPENSSH PRIVATE KEY-----")
    label = rnd.choice(("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY"))
    start = {"PRIVATE KEY": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
             "RSA PRIVATE KEY": "MIIEpAIBAAKCAQEA", "EC PRIVATE KEY": "MHcCAQEEI",
             "DSA PRIVATE KEY": "MIIBuwIBAAKBgQD"}[label]
    body = [start + _s(rnd, 64 - len(start), _B64)]
    body += [_s(rnd, 64, _B64) for _ in range(rnd.randint(2, 8))]
    body.append(_s(rnd, rnd.randint(10, 50), _B64) + "=")
    return f"-----BEGIN {label}-----\n" + "\n".join(body) + f"\n-----END {label}-----"


def _b64url(obj: object) -> str:
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _jwt_j(rnd: random.Random) -> str:
    head = {"alg": rnd.choice(("RS256", "ES256", "HS512")), "kid": _s(rnd, 8, _HEXL),
            "typ": "JWT"}
    body = {"aud": rnd.choice(("api://payroll", "account", "https://rsvp.app")),
            "sub": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            "iat": rnd.randint(1_765_000_000, 1_767_000_000),
            "scope": rnd.choice(("read write", "offline_access", "admin"))}
    sig = _s(rnd, 342 if head["alg"] == "RS256" else 86, _URL)  # 2048-bit RSA or 64 bytes
    return f"{_b64url(head)}.{_b64url(body)}.{sig}"


def _aws_session_j(rnd: random.Random) -> str:
    if rnd.random() < 0.5:  # the older STS token
        return "FwoGZXIvYXdzE" + _s(rnd, 11, _B64) + "//////////" + _s(rnd, 280, _B64)
    return "IQoJb3JpZ2luX2VjE" + _s(rnd, 8, _B64) + "//////////" + _s(rnd, 420, _B64) + "=="


def _discord_bot(rnd: random.Random) -> str:
    ident = base64.b64encode(str(rnd.randint(10**17, 10**19 - 1)).encode()).decode().rstrip("=")
    return f"{ident}.{_s(rnd, 6, _URL)}.{_s(rnd, 38, _URL)}"


#: Vendors' documented token formats (prefix, length, alphabet as the vendor states them).
_VENDOR_J: tuple[Callable[[random.Random], str], ...] = (
    lambda r: "glsa_" + _s(r, 32) + "_" + _s(r, 8, _HEXL),              # Grafana service account
    lambda r: "bkua_" + _s(r, 40, _HEXL),                                # Buildkite
    lambda r: "pat" + _s(r, 14) + "." + _s(r, 64, _HEXL),                # Airtable PAT
    lambda r: "figd_" + _s(r, 40, _URL),                                 # Figma
    lambda r: "gsk_" + _s(r, 52),                                        # Groq
    lambda r: "xai-" + _s(r, 80),                                        # xAI
    lambda r: "key-" + _s(r, 32, _HEXL),                                 # Mailgun (legacy)
    lambda r: _s(r, 32, _HEXL) + "-us" + str(r.randint(1, 21)),          # Mailchimp
    lambda r: _s(r, 14) + ".atlasv1." + _s(r, 67),                       # Terraform Cloud
    lambda r: "00" + _s(r, 40, _URL),                                    # Okta SSWS
    _discord_bot,                                                        # Discord bot
    lambda r: "rdme_" + _s(r, 70, _LOW + _DIG),                          # Readme
    lambda r: "dp.pt." + _s(r, 43),                                      # Doppler personal
    lambda r: "dp.st.prd." + _s(r, 40),                                  # Doppler service
    lambda r: "PMAK-" + _s(r, 24, _HEXL) + "-" + _s(r, 34, _HEXL),       # Postman
    lambda r: "lin_api_" + _s(r, 40),                                    # Linear
    lambda r: "shpat_" + _s(r, 32, _HEXL),                               # Shopify admin
    lambda r: "dop_v1_" + _s(r, 64, _HEXL),                              # DigitalOcean
    lambda r: "pul-" + _s(r, 40, _HEXL),                                 # Pulumi
    lambda r: "pypi-AgEIcHlwaS5vcmc" + _s(r, 70, _URL),                  # PyPI
    lambda r: "secret_" + _s(r, 43),                                     # Notion integration
)

SECRETS_J: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: r.choice(("AKIA", "ASIA", "AKIA")) + _s(r, 16, _UP + "234567"),
    "aws_secret_access_key": lambda r: _s(r, 40, _B64),
    "aws_session_token": _aws_session_j,
    "azure_sas_signature": lambda r: quote(base64.b64encode(
        bytes(r.getrandbits(8) for _ in range(32))).decode(), safe=""),
    "github_token": lambda r: r.choice((
        r.choice(("ghp_", "gho_", "ghu_", "ghs_", "ghr_")) + _s(r, 36),
        "github_pat_11" + _s(r, 20, _UP + _DIG) + "_" + _s(r, 59))),
    "gitlab_token": lambda r: r.choice((
        "glpat-" + _s(r, 20, _URL), "glptt-" + _s(r, 40, _HEXL), "gldt-" + _s(r, 20, _URL))),
    "slack_token": lambda r: r.choice((
        "xoxb-" + _n(r, 12) + "-" + _n(r, 13) + "-" + _s(r, 24),
        "xoxp-" + _n(r, 11) + "-" + _n(r, 11) + "-" + _n(r, 13) + "-" + _s(r, 32, _HEXL),
        "xoxe.xoxp-1-" + _s(r, 140))),
    "stripe_key": lambda r: r.choice((
        "sk_live_51" + _s(r, 97), "rk_live_51" + _s(r, 97), "sk_live_" + _s(r, 24),
        "whsec_" + _s(r, 32))),
    "openai_api_key": lambda r: "sk-proj-" + _s(r, 74, _URL) + "T3BlbkFJ" + _s(r, 74, _URL),
    "anthropic_api_key": lambda r: r.choice(("sk-ant-api03-", "sk-ant-admin01-"))
    + _s(r, 93, _URL) + "AA",
    "jwt": _jwt_j,
    "private_key": _pem_j,
    "npm_token": lambda r: "npm_" + _s(r, 36),
    "huggingface_token": lambda r: "hf_" + _s(r, 34, string.ascii_letters),
    "sendgrid_api_key": lambda r: "SG." + _s(r, 22, _URL) + "." + _s(r, 43, _URL),
    "google_api_key": lambda r: "AIza" + _s(r, 35, _URL),
    "telegram_bot_token": lambda r: str(r.randint(10**8, 10**10 - 1)) + ":AA"
    + _s(r, 33, _URL),
    "vendor_token": lambda r: r.choice(_VENDOR_J)(r),
    "client_secret": lambda r: r.choice((
        _s(r, 3, _AN) + "8Q~" + _s(r, 34, _AN + "_~.-"),             # Azure AD (Entra)
        "GOCSPX-" + _s(r, 28, _URL),                                   # Google OAuth
        _s(r, r.choice((32, 48)), _AN))),
    "password": password_j,
    "url_password": lambda r: _s(r, r.randint(14, 28), _AN + "_-.~"),
}

PERSONAL_J: dict[str, Callable[[random.Random], str]] = {
    "email": email_j, "phone": phone_j, "payment_card": card_j, "iban": iban_j,
    "us_ssn": ssn_j, "ipv4": ipv4_j, "ipv6": ipv6_j}
#: Every type set J plants.
KINDS_J = tuple(sorted({**SECRETS_J, **PERSONAL_J}))

#: Values whose format says what they are, so a line need not name them.
_SELF_EVIDENT = frozenset({
    "email", "payment_card", "iban", "ipv4", "ipv6", "aws_access_key_id", "github_token",
    "gitlab_token", "slack_token", "stripe_key", "openai_api_key", "anthropic_api_key", "jwt",
    "private_key", "npm_token", "sendgrid_api_key", "google_api_key", "huggingface_token",
    "url_password", "azure_sas_signature"})

#: Type -> (identifier words, how a sentence names it).
_NAMING: dict[str, tuple[Sequence[Sequence[str]], Sequence[str]]] = {
    "email": ((("email",), ("contact", "email"), ("notify", "email"), ("mail",)),
              ("email", "e-mail address", "contact email", "personal email", "email on file")),
    "phone": ((("phone",), ("mobile",), ("tel",), ("contact", "phone"), ("sms", "number")),
              ("phone", "mobile", "cell", "phone number", "daytime phone", "callback number")),
    "payment_card": ((("card", "number"), ("cc", "number"), ("pan",)),
                     ("card number", "credit card", "debit card", "payment card", "card on file")),
    "iban": ((("iban",), ("payout", "iban"), ("bank", "iban")),
             ("IBAN", "bank account (IBAN)", "payout IBAN", "account for the deposit")),
    "us_ssn": ((("ssn",), ("social", "security", "number"), ("applicant", "ssn")),
               ("SSN", "Social Security number", "SSN (for the background check)", "SS#")),
    "ipv4": ((("ip",), ("source", "ip"), ("peer", "address")),
             ("IP", "IP address", "source address", "login IP")),
    "ipv6": ((("ipv6",), ("peer", "ipv6")), ("IPv6 address", "v6 address")),
    "aws_access_key_id": ((("aws", "access", "key", "id"), ("access", "key", "id")),
                          ("AWS access key ID", "access key id")),
    "aws_secret_access_key": ((("aws", "secret", "access", "key"), ("secret", "access", "key")),
                              ("AWS secret access key", "secret access key")),
    "aws_session_token": ((("aws", "session", "token"), ("session", "token")),
                          ("AWS session token", "STS session token")),
    "azure_sas_signature": ((("sas", "url"), ("container", "sas")), ("SAS URL", "container SAS")),
    "github_token": ((("github", "token"), ("gh", "pat")), ("GitHub token", "GitHub PAT")),
    "gitlab_token": ((("gitlab", "token"), ("ci", "trigger", "token")),
                     ("GitLab token", "trigger token")),
    "slack_token": ((("slack", "token"), ("slack", "bot", "token")),
                    ("Slack token", "Slack bot token")),
    "stripe_key": ((("stripe", "api", "key"), ("stripe", "secret", "key")),
                   ("Stripe key", "Stripe secret key")),
    "openai_api_key": ((("openai", "api", "key"),), ("OpenAI key", "OpenAI API key")),
    "anthropic_api_key": ((("anthropic", "api", "key"),), ("Anthropic API key", "Claude key")),
    "jwt": ((("access", "token"), ("bearer", "token"), ("id", "token")),
            ("access token", "bearer token", "ID token")),
    "private_key": ((("private", "key"), ("ssh", "key"), ("tls", "key")),
                    ("private key", "SSH key", "deploy key")),
    "npm_token": ((("npm", "token"), ("npm", "auth", "token")), ("npm token", "npm auth token")),
    "huggingface_token": ((("hf", "token"), ("huggingface", "token")),
                          ("HF token", "Hugging Face token")),
    "sendgrid_api_key": ((("sendgrid", "api", "key"),), ("SendGrid key", "SendGrid API key")),
    "google_api_key": ((("google", "api", "key"), ("maps", "api", "key")),
                       ("Google API key", "Maps key")),
    "telegram_bot_token": ((("telegram", "token"), ("bot", "token")),
                           ("Telegram bot token", "bot token")),
    "vendor_token": ((("api", "key"), ("api", "token"), ("access", "key"), ("auth", "token")),
                     ("API key", "API token", "access key", "auth token")),
    "client_secret": ((("client", "secret"), ("oauth", "client", "secret"), ("app", "secret")),
                      ("client secret", "OAuth client secret", "app secret")),
    "password": ((("password",), ("pass",), ("db", "password"), ("smtp", "password"),
                  ("login", "password")),
                 ("password", "the password", "login password", "DB password", "pw")),
    "url_password": ((("database", "url"), ("broker", "url"), ("dsn",)),
                     ("database URL", "broker URL", "DSN")),
}

_URL_FORMS = (
    "postgresql://payroll:{v}@pg-main.int.lundberg-ab.se:5432/payroll",
    "amqp://orders:{v}@rabbit-1.int.kowalski.dev:5672/%2F",
    "redis://:{v}@cache.int.kowalski.dev:6379/2",
    "mongodb://svc_rsvp:{v}@mongo-a.int.iyer.family:27017/rsvp?authSource=admin",
    "smtp://mailer:{v}@smtp.ortega-law.es:587",
    "https://deploy:{v}@nexus.int.lundberg-ab.se/repository/pypi/simple",
    "ftp://labels:{v}@ftp.shipwise-logistics.net/outgoing",
)


def _shown(type_: str, value: str, template: str, rnd: random.Random) -> str:
    if type_ == "url_password":
        forms = [f for f in _URL_FORMS if f.startswith("https")] if "index-url" in template \
            else _URL_FORMS
        return rnd.choice(forms).replace("{v}", value)
    if type_ == "azure_sas_signature":
        return (f"https://{rnd.choice(('payrollexports', 'rsvpuploads', 'labelstore'))}"
                f".blob.core.windows.net/drop?sp=racwl&st=2026-12-01T09:00:00Z"
                f"&se=2027-06-30T17:00:00Z&spr=https&sv=2022-11-02&sr=c&sig={value}")
    return value


# --- decoys ----------------------------------------------------------------------------------


def _drama_phone(rnd: random.Random) -> str:
    """Numbers the US, UK and Australian regulators set aside for drama and documentation."""
    k = rnd.randrange(7)
    x3, x4 = f"{rnd.randint(0, 999):03d}", f"{rnd.randint(0, 999):03d}"
    if k == 0:  # NANPA: 555-0100 to 555-0199
        area = rnd.choice((212, 305, 416, 604, 713, 857))
        return rnd.choice((f"{area}-555-01{rnd.randint(0, 99):02d}",
                           f"+1 {area} 555 01{rnd.randint(0, 99):02d}"))
    if k == 1:  # Ofcom: regional drama ranges
        return rnd.choice(("0113 496 0", "0121 496 0", "0131 496 0", "0141 496 0",
                           "0161 496 0", "+44 161 496 0")) + x3
    if k == 2:
        return rnd.choice(("028 9649 6", "029 2018 0", "+44 29 2018 0")) + x4
    if k == 3:
        return rnd.choice(("07700 900", "+44 7700 900")) + x3
    if k == 4:  # ACMA's fictional mobile numbers
        return rnd.choice(("0491 570 006", "0491 570 156", "0491 570 313", "0491 570 737",
                           "0491 571 266", "0491 572 549", "0491 573 770", "0491 574 118",
                           "0491 576 398", "0491 578 888", "0491 579 212"))
    if k == 5:  # ACMA's 5550 geographic blocks
        return f"({rnd.choice(('02', '03', '07', '08'))}) 5550 {rnd.randint(0, 9999):04d}"
    return f"+61 {rnd.choice(('2', '3', '7', '8'))} 5550 {rnd.randint(0, 9999):04d}"


def _ulid(rnd: random.Random) -> str:
    return "01J" + _s(rnd, 23, _CROCKFORD)


_COSMOS_EMULATOR = ("C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsE"
                    "caGQy67XIw/Jw==")
_HARDHAT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
#: A value as ``pulumi config set --secret`` stores it with the passphrase provider.
_PULUMI_SECURE = "v1:Ouc3hkwJeGFbbhuz:JuGKu+1OPaQm5wqUSBgxzw7ChSe1GHIvDvtNsNK0PNo4Ykp2"

#: (value or maker, identifier words, how a sentence names it, fits a paper form).
_DECOYS_J: tuple[tuple[str | Callable[[random.Random], str], Sequence[str], str, bool], ...] = (
    ("AKIAI44QH8DHBEXAMPLE", ("aws", "access", "key", "id"), "AWS access key ID", False),
    ("je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", ("aws", "secret", "access", "key"),
     "AWS secret access key", False),
    (_COSMOS_EMULATOR, ("cosmos", "key"), "Cosmos DB key", False),
    (_HARDHAT_KEY, ("deployer", "private", "key"), "deployer private key", False),
    ("minioadmin", ("minio", "root", "password"), "MinIO root password", False),
    ("guest", ("rabbitmq", "password"), "RabbitMQ password", False),
    ("<path:secret/data/payroll#dbPassword>", ("db", "password"), "DB password", False),
    ("<path:kv/data/rsvp#stripeKey>", ("stripe", "api", "key"), "Stripe key", False),
    ("{{resolve:secretsmanager:prod/orders:SecretString:password}}", ("db", "password"),
     "DB password", False),
    ("{{resolve:ssm-secure:/labels/smtp-pass:3}}", ("smtp", "password"), "SMTP password", False),
    ("${file:/etc/kafka/secrets/client.properties:sasl.password}", ("sasl", "password"),
     "SASL password", False),
    ("{{ conn.payroll_pg.password }}", ("password",), "password", False),
    ("{{ env_var('DBT_SNOWFLAKE_PASSWORD') }}", ("password",), "password", False),
    (_PULUMI_SECURE, ("smtp", "password"), "SMTP password", False),
    ("`pass show mail/fastmail`", ("imap", "pass"), "IMAP password", False),
    ("Environment.GetEnvironmentVariable(\"API_TOKEN\")", ("api", "token"), "API token", False),
    ("Platform.environment['STRIPE_KEY']", ("stripe", "api", "key"), "Stripe key", False),
    ("lookupEnv \"HF_TOKEN\"", ("hf", "token"), "HF token", False),
    ("System.getenv('GITLAB_TOKEN')", ("gitlab", "token"), "GitLab token", False),
    ("[NSProcessInfo processInfo].environment[@\"CLIENT_SECRET\"]", ("client", "secret"),
     "client secret", False),
    ("env(\"DATABASE_URL\")", ("database", "url"), "database URL", False),
    ("{env.SMTP_PASSWORD}", ("smtp", "password"), "SMTP password", False),
    ("<your-openai-key>", ("openai", "api", "key"), "OpenAI key", False),
    ("REPLACE_ME", ("client", "secret"), "client secret", False),
    ("xxxxxxxxxxxxxxxxxxxx", ("api", "key"), "API key", False),
    ("[REDACTED]", ("password",), "password", True),
    ("ghp_************************************", ("github", "token"), "GitHub token", False),
    (lambda r: "XXXX-XXXX-XXXX-" + _n(r, 4), ("card", "number"), "card number", True),
    (lambda r: "ending in " + _n(r, 4), ("card", "number"), "card", True),
    (lambda r: "XXX-XX-" + _n(r, 4), ("ssn",), "SSN", True),
    (lambda r: _s(r, 40, _HEXL), ("commit",), "commit", False),
    (lambda r: _s(r, 64, _HEXL), ("sha256",), "SHA-256", False),
    (lambda r: _s(r, 32, _HEXL), ("etag",), "ETag", False),
    (lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)), ("trace", "id"), "trace id",
     True),
    (_ulid, ("event", "id"), "event id", True),
    (lambda r: f"{r.randint(2024, 2026)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}."
               f"{r.randint(1, 9999)}", ("build",), "build", False),
    (lambda r: f"{r.randint(1, 4)}.{r.randint(0, 40)}.{r.randint(0, 12)}+build."
               f"{r.randint(100, 9999)}", ("version",), "version", True),
    (lambda r: "1Z" + _s(r, 6, _UP + _DIG) + _n(r, 10), ("tracking",), "tracking number", True),
    (lambda r: f"{r.randint(2025, 2026)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d} "
               f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}+00:00",
     ("created", "at"), "created", True),
    (_drama_phone, ("phone",), "phone", True),
    (_drama_phone, ("mobile",), "mobile", True),
    ("219-09-9999", ("ssn",), "SSN", True),
    ("078-05-1120", ("ssn",), "Social Security number", True),
    (lambda r: r.choice(("000", "666", str(r.randint(900, 999)))) + "-" + _n(r, 2) + "-"
     + _n(r, 4), ("ssn",), "SSN", True),
    (lambda r: f"{r.randint(100, 899)}-00-{_n(r, 4)}", ("ssn",), "SSN", True),
    ("378282246310005", ("card", "number"), "test card", True),
    ("6011 1111 1111 1117", ("card", "number"), "card number", True),
    ("3530 1113 3330 0000", ("card", "number"), "test card", True),
    ("4000 0566 5566 5556", ("card", "number"), "card number", True),
    ("5555 5555 5555 4444", ("card", "number"), "test card", True),
    ("2222 4000 7000 0005", ("card", "number"), "card number", True),
    ("GB82 WEST 1234 5698 7654 32", ("iban",), "IBAN", True),
    ("NL91ABNA0417164300", ("iban",), "IBAN", True),
    ("CH93 0076 2011 6238 5295 7", ("iban",), "IBAN", True),
    (lambda r: f"{r.choice(_GIVEN)}.{r.choice(_FAMILY)}@example.org", ("email",), "email",
     True),
    (lambda r: f"{r.choice(_GIVEN)}@{r.choice(('mail.test', 'rsvp.invalid', 'example.net'))}",
     ("email",), "email", True),
    (lambda r: f"198.51.100.{r.randint(1, 254)}", ("ip",), "IP", False),
    (lambda r: f"192.0.2.{r.randint(1, 254)}", ("source", "ip"), "source IP", False),
    (lambda r: f"2001:db8:{r.randint(1, 0xfff):x}::{r.randint(1, 0xff):x}", ("ipv6",),
     "IPv6 address", False),
)


def _mutate(value: str, rnd: random.Random) -> str:
    """``value`` with one digit past its first four characters changed (a typo)."""
    places = [i for i, c in enumerate(value) if c.isdigit() and i >= 4]
    i = rnd.choice(places)
    return value[:i] + rnd.choice([d for d in _DIG if d != value[i]]) + value[i + 1:]


# --- artifacts ----------------------------------------------------------------------------------


def _name(words: Sequence[str], case: str) -> str:
    if case == "upper":
        return "_".join(words).upper()
    if case == "camel":
        return words[0] + "".join(w.title() for w in words[1:])
    if case == "pascal":
        return "".join(w.title() for w in words)
    if case == "kebab":
        return "-".join(words)
    if case == "dotted":
        return ".".join(words)
    return "_".join(words)


@attrs.frozen
class _Artifact:
    """One kind of document. ``slots`` are lines with ``{v}`` and a name (``{name}`` in
    ``case``, ``{NAME}``, ``{Name}``, ``{what}``, ``{What}``), each with the types it may
    hold (empty: any); ``bare`` lines name nothing; ``filler`` goes between. ``holds``
    limits the types; ``escape`` is "json" or "xml" when values sit in such strings;
    ``avoid`` are characters the syntax does not allow raw in a password;
    ``pem_indent`` indents a PEM key's lines (a YAML block); ``pem`` allows PEM keys."""

    prose: bool
    head: Sequence[str]
    slots: Sequence[tuple[str, frozenset[str]]]
    bare: Sequence[str]
    filler: Sequence[str]
    tail: Sequence[str]
    case: str = "snake"
    escape: str = ""
    avoid: str = "\"' \\"
    holds: frozenset[str] = frozenset()
    pem: bool = False
    pem_indent: str = ""


def _any(*lines: str) -> list[tuple[str, frozenset[str]]]:
    return [(line, frozenset()) for line in lines]


def _only(line: str, *types: str) -> tuple[str, frozenset[str]]:
    return (line, frozenset(types))


_PERSONAL = frozenset({"email", "phone", "payment_card", "iban", "us_ssn"})
#: Secrets that go in a header or a password field (no PEM keys, URLs or SAS signatures).
_TOKENS = frozenset({"aws_session_token", "github_token", "gitlab_token", "slack_token",
                     "stripe_key", "openai_api_key", "anthropic_api_key", "jwt", "npm_token",
                     "huggingface_token", "sendgrid_api_key", "google_api_key",
                     "telegram_bot_token", "vendor_token", "client_secret"})
_CREDS = frozenset({"password", "email", "github_token", "vendor_token", "npm_token",
                    "client_secret", "gitlab_token", "slack_token"})

_ARTIFACTS: dict[str, _Artifact] = {
    # --- prose ---
    "trello_card": _Artifact(
        True, ['{"id": "6571c0ffee12ab34cd56ef78", "name": "Migrate RSVP form to new host",',
               '  "actions": ['],
        _any('    {"type": "commentCard", "data": {"text": "the {what} for staging is {v}"}},',
             '    {"type": "commentCard", "data": {"text": "@oskar {what}: {v} - delete after'
             ' use pls"}},',
             '    {"type": "updateCard", "data": {"card": {"desc": "{What}\\n{v}"}}},',
             '    {"type": "commentCard", "data": {"text": "use `{v}` ({what}), the old one'
             ' was revoked"}},'),
        ['    {"type": "commentCard", "data": {"text": "{v}"}},'],
        ['    {"type": "addMemberToCard", "memberCreator": {"fullName": "Giulia Ricci"}},',
         '    {"type": "commentCard", "data": {"text": "moved to Doing"}},'],
        ['    {"type": "createCard"}]}'], escape="json", avoid="", pem=True),
    "asana_task": _Artifact(
        True, ["Task: Renew the venue booking integration", "Assignee: Priya Iyer  ·  Due Dec 12",
               "", "Comments"],
        _any("Henrik Berg  ·  2 days ago\nI put the {what} in the description for now: {v}",
             "Priya Iyer  ·  yesterday\n{What} is {v}, the vendor resent it",
             "Henrik Berg  ·  yesterday\nFor the record, {what} -> {v}",
             "Esra Yilmaz  ·  3 hours ago\nCan someone confirm {v} is still the {what}?"),
        ["Priya Iyer  ·  1 hour ago\n{v}"],
        ["Esra Yilmaz  ·  2 days ago\nAttached the signed contract.",
         "Henrik Berg  ·  yesterday\nmarked this task complete"],
        ["", "Collaborators: Priya Iyer, Henrik Berg, Esra Yilmaz"], avoid="", pem=True),
    "basecamp_thread": _Artifact(
        True, ["Message Board: Handover before Giulia's leave", "Giulia Ricci  ·  Dec 4"],
        _any("Here's where everything lives while I'm out. The {what} for the label printer"
             " service is {v} - it is also in the vault, but just in case.",
             "Oskar Lund replied  ·  Dec 4\nThanks! Is {v} the prod {what} or the sandbox one?",
             "Giulia Ricci replied  ·  Dec 4\nProd. And the {what} for the warehouse is {v}",
             "Dmitri Volkov replied  ·  Dec 5\nI had to reset it, new {what}:\n{v}"),
        ["Giulia Ricci replied  ·  Dec 5\n{v}"],
        ["Oskar Lund replied  ·  Dec 5\nGot it, thanks.", "Applauded by 3 people"],
        ["", "Subscribers: 6 people"], avoid="", pem=True),
    "reddit_post": _Artifact(
        True, ["r/selfhosted  ·  Posted by u/keiko_s  ·  5h",
               "Nextcloud keeps failing to send mail, what am I missing?"],
        _any("I set the {what} to {v} in the admin panel and it still says auth failed.",
             "Edit: oops, that was my real {what} ({v}). Rotating it now, thanks u/marek_k.",
             "Here's my config (the {what} is {v}), running on a Hetzner box.",
             "> u/marek_k: your {what} {v} is visible in the screenshot btw"),
        ["    {v}"],
        ["Tried restarting the container, no change.", "Any ideas? Thanks in advance."],
        ["", "42 comments  ·  Share  ·  Save"], avoid="", pem=True),
    "signal_chat": _Artifact(
        True, ["Signal conversation export - \"Flat 4B\"",
               "[2026-11-30 19:02] Marek: anyone home?"],
        _any("[2026-11-30 19:05] Lucia: the {what} is {v}",
             "[2026-11-30 19:06] Marek: ok so {what} = {v} ?",
             "[2026-11-30 19:08] Jonas: my {what} in case the landlord asks: {v}",
             "[2026-11-30 19:09] Lucia: sending the {what} now\n[2026-11-30 19:09] Lucia: {v}"),
        ["[2026-11-30 19:10] Jonas: {v}"],
        ["[2026-11-30 19:03] Lucia: yes, why", "[2026-11-30 19:11] Marek: 👍"],
        [], avoid="", pem=True),
    "voicemail_transcript": _Artifact(
        True, ["Voicemail from +1 (857) 4xx-xxxx  ·  0:47", "Transcription (may be inaccurate):"],
        [*_any("\"Hi, it's Farid from the rental office, your {what} we have is {v}, call"
               " us if that's wrong.\"",
               "\"...so the {what} I need you to use is {v}, okay?\""),
         _only("\"This is Keiko, my {what} is {v}, please call back before six.\"", "phone",
               "email"),
         _only("\"...and for the refund we'll send it to {what} {v}.\"", "iban",
               "payment_card")],
        ["\"{v}\""],
        ["\"Sorry, I'm in the car.\"", "\"Thanks, bye.\""],
        ["", "Was this transcription useful? Yes / No"], avoid="",
        holds=_PERSONAL | {"password", "vendor_token"}),
    "legal_contract": _Artifact(
        True, ["MASTER SERVICES AGREEMENT", "between Lundberg AB (\"Client\") and Ortega Legal SL"
               " (\"Provider\")", "", "1. Definitions"],
        [_only("7.2 Fees are payable by bank transfer to the Provider's {what} {v}.", "iban"),
         _only("12.1 Notices to the Client shall be sent to {v} ({what}).", "email"),
         _only("12.3 The Provider's contact {what} for urgent matters is {v}.", "phone",
               "email"),
         *_any("Schedule 2 - Payment details: {What}: {v}", "Schedule 3 - {What}: {v}")],
        ["Annex C: {v}"],
        ["3.1 The Provider shall perform the Services with reasonable skill and care.",
         "9. Limitation of liability. Neither party excludes liability for fraud."],
        ["", "Signed for and on behalf of the Client: ______________"], avoid="",
        holds=_PERSONAL),
    "rental_application": _Artifact(
        True, ["RENTAL APPLICATION - 18 Harbour View, Apt 4B",
               "Applicant: Ines Moreau   Date of birth: 14/03/1991"],
        [*_any("{What}: {v}", "Applicant's {what}  {v}", "Co-signer {what} ............ {v}"),
         _only("Previous landlord - {what}: {v}", "phone", "email")],
        ["Reference: {v}"],
        ["Employer: Weber & Sato GmbH", "Monthly income: 4,200", "Pets: one cat"],
        ["", "I authorize a credit and background check."], avoid="", holds=_PERSONAL),
    "payroll_stub": _Artifact(
        True, ["EARNINGS STATEMENT   Pay period 11/16/2026 - 11/30/2026",
               "Employee: Bilal Haddad   Employee ID 004821"],
        [*_any("{What}: {v}", "Employee {what}  {v}"),
         _only("Direct deposit to {what} {v}", "iban"),
         _only("Deposit account ({what}) .... {v}", "iban")],
        ["Memo: {v}"],
        ["Regular  80.00 hrs  3,120.00", "Federal withholding  -412.18", "Net pay  2,208.44"],
        ["", "Keep this statement for your records."], avoid="", holds=_PERSONAL),
    "shipping_label": _Artifact(
        True, ["SHIP TO: DMITRI VOLKOV", "44 ELM STREET APT 2", "PORTLAND OR 97205"],
        [*_any("{WHAT}: {v}"), _only("Recipient {what} {v}", "phone", "email"),
         _only("Notify {what}: {v}", "phone", "email"), _only("COD - {what} {v}", "payment_card")],
        ["REF2: {v}"],
        ["WEIGHT 2.3 LB  DIM 12x9x4", "SERVICE: GROUND"],
        ["", "SHIPPER: NORTHWIND OUTFITTERS, RENO NV"], avoid="", holds=_PERSONAL),
    "pharmacy_order": _Artifact(
        True, ["Rx refill request - Oakridge Pharmacy", "Patient: Chiara Romano  DOB 1984-07-22",
               "Medication: atorvastatin 20 mg, 90 tablets"],
        [*_any("Patient {what}: {v}", "Insurance subscriber {what}: {v}"),
         _only("Bill to {what} {v}", "payment_card", "iban"),
         _only("Text me at {v} when it's ready ({what})", "phone")],
        ["Notes: {v}"],
        ["Prescriber: Dr. A. Byrne", "Refills remaining: 2"],
        ["", "Pickup: in store"], avoid="", holds=_PERSONAL),
    "wedding_rsvp": _Artifact(
        True, ["RSVP - Nkechi & Oskar, 20 June 2027", "Name(s): Aoife and Jonas Byrne",
               "Attending: yes (2)"],
        [*_any("Your {what}: {v}", "Message: can't wait! my new {what} is {v} by the way"),
         _only("Best {what} to reach you: {v}", "phone", "email"),
         _only("Gift registry refund to {what} {v}", "iban", "payment_card")],
        ["P.S. {v}"],
        ["Meal: vegetarian", "Dietary needs: none"],
        ["", "Please reply by 1 March."], avoid="", holds=_PERSONAL),
    "conference_registration": _Artifact(
        True, ["PyCon Nordic 2027 - registration confirmation", "Attendee: Marek Kowalski",
               "Ticket: Corporate  ·  2 days"],
        [*_any("{What}: {v}"), _only("Badge {what}: {v}", "email", "phone"),
         _only("Paid with {what} {v}", "payment_card", "iban"),
         _only("Emergency contact {what}: {v}", "phone", "email")],
        ["Order note: {v}"],
        ["T-shirt: M", "Workshop: Async Python in practice"],
        ["", "See you in Oslo!"], avoid="", holds=_PERSONAL),
    "donation_receipt": _Artifact(
        True, ["Thank you for your gift to the Riverside Food Bank",
               "Donor: Lucia Ortega   Amount: $250.00 (monthly)"],
        [*_any("Donor {what}: {v}", "{What} on record: {v}"),
         _only("Charged to {what} {v}", "payment_card"),
         _only("Monthly gift from {what} {v}", "payment_card", "iban")],
        ["Receipt no. {v}"],
        ["No goods or services were provided in exchange for this gift.",
         "Tax ID 12-3456789"],
        ["", "Keep this receipt for your tax records."], avoid="", holds=_PERSONAL),
    "job_application": _Artifact(
        True, ["Application - Senior Data Engineer (req 4471)", "Candidate: Farid Karimi"],
        [*_any("{What}: {v}", "Candidate {what}: {v}"),
         _only("Cover letter: ...you can reach me on {v} ({what}) any weekday.", "phone",
               "email"),
         _only("For payroll setup: {what} {v}", "iban", "us_ssn")],
        ["Also: {v}"],
        ["Years of experience: 9", "Notice period: 1 month"],
        ["", "Source: referral (Esra Yilmaz)"], avoid="", holds=_PERSONAL),
    "police_report": _Artifact(
        True, ["INCIDENT REPORT  Case 26-118842", "Offense: Theft from vehicle",
               "Reporting officer: Ofc. K. Sato #4410"],
        [*_any("Victim {what}: {v}", "Witness {what}: {v}", "Complainant's {what} is {v}."),
         _only("Victim stated that her {what} {v} was used at a gas station.",
               "payment_card")],
        ["Evidence item 3: {v}"],
        ["Narrative: victim returned to the vehicle at 18:40 and found the window broken.",
         "No suspects at this time."],
        ["", "Approved by Sgt. M. Lund"], avoid="", holds=_PERSONAL | {"ipv4"}),
    # --- machine text ---
    "journalctl": _Artifact(
        False, ["-- Journal begins at Mon 2026-11-30 00:00:01 UTC. --"],
        [*_any("Dec 07 09:14:02 web-3 payroll[1812]: config loaded: {name}={v}"),
         _only("Dec 07 09:14:03 web-3 payroll[1812]: auth failed for {name} '{v}'",
               *sorted(_TOKENS | {"password"})),
         _only("Dec 07 09:14:05 web-3 sshd[902]: Accepted publickey for deploy from {v}"
               " port 52144 ssh2", "ipv4", "ipv6"),
         _only("Dec 07 09:14:09 web-3 rsvp[2201]: mail sent to={v} status=sent", "email")],
        ["Dec 07 09:15:00 web-3 payroll[1812]: {v}"],
        ["Dec 07 09:14:01 web-3 systemd[1]: Started payroll.service.",
         "Dec 07 09:14:11 web-3 kernel: TCP: request_sock_TCP: Possible SYN flooding"],
        [], avoid="\"' \\"),
    "caddyfile": _Artifact(
        False, ["rsvp.iyer.family {", "\treverse_proxy localhost:8080"],
        [*_any("\treverse_proxy /mail/* mailpit:8025 {\n\t\theader_up X-{Name} \"{v}\"\n\t}",
               "\theader X-{Name} \"{v}\"", "\t# {what}: {v}"),
         _only("\treverse_proxy {\n\t\theader_up Authorization \"Bearer {v}\"\n\t}",
               *sorted(_TOKENS))],
        ["\t# {v}"],
        ["\tencode gzip", "\tlog {\n\t\toutput file /var/log/caddy/rsvp.log\n\t}"],
        ["}"], case="pascal", avoid="\"' \\{}#"),
    "nomad_job": _Artifact(
        False, ["job \"payroll\" {", "  datacenters = [\"eu-1\"]", "  group \"api\" {",
                "    task \"server\" {", "      driver = \"docker\""],
        [*_any("      env {\n        {NAME} = \"{v}\"\n      }",
               "      template {\n        data = \"{NAME}={v}\"\n        destination ="
               " \"secrets/app.env\"\n      }",
               "      meta { {name} = \"{v}\" }"),
         _only("      template {\n        destination = \"secrets/deploy.pem\"\n"
               "        data = <<EOH\n{v}\nEOH\n      }", "private_key")],
        ["      # {v}"],
        ["      resources { cpu = 500 memory = 256 }"],
        ["    }", "  }", "}"], avoid="\"\\$", pem=True),
    "pulumi_stack": _Artifact(
        False, ["# Pulumi.prod.yaml", "config:", "  aws:region: eu-north-1"],
        [*_any("  payroll:{name}: {v}", "  payroll:{name}: \"{v}\"",
               "  payroll:{name}:\n    value: {v}"),
         _only("  payroll:{name}:\n    secure: {v}", "pulumi_secure")],
        ["  # {v}"],
        ["  payroll:replicas: \"3\"", "  payroll:domain: payroll.lundberg-ab.se"],
        [], case="camel", avoid="\"' \\#:{}[]&*!|>%@`"),
    "cloudformation": _Artifact(
        False, ["AWSTemplateFormatVersion: '2010-09-09'", "Resources:", "  OrdersFunction:",
                "    Type: AWS::Lambda::Function", "    Properties:", "      Environment:",
                "        Variables:"],
        [*_any("          {NAME}: '{v}'", "          {NAME}: \"{v}\""),
         _only("  DeployKey:\n    Type: AWS::SecretsManager::Secret\n    Properties:\n"
               "      SecretString: |\n        {v}", "private_key")],
        ["        # {v}"],
        ["          LOG_LEVEL: info", "      Runtime: python3.12", "      Timeout: 30"],
        [], avoid="\"' \\", pem=True, pem_indent="        "),
    "argocd_app": _Artifact(
        False, ["apiVersion: argoproj.io/v1alpha1", "kind: Application",
                "metadata:", "  name: rsvp", "spec:", "  source:", "    helm:",
                "      parameters:"],
        _any("        - name: {name}\n          value: {v}",
             "        - name: secrets.{name}\n          value: \"{v}\"",
             "      valuesObject:\n        {name}: {v}"),
        ["      # {v}"],
        ["        - name: image.tag\n          value: \"2.14.0\"",
         "  destination:\n    namespace: rsvp"],
        [], case="camel", avoid="\"' \\#:{}[]&*!|>%@`"),
    "cmake_lists": _Artifact(
        False, ["cmake_minimum_required(VERSION 3.25)", "project(labelprinter CXX)"],
        _any("set({NAME} \"{v}\")", "add_compile_definitions({NAME}=\"{v}\")",
             "set(ENV{{NAME}} \"{v}\")", "# {what}: {v}"),
        ["# {v}"],
        ["add_executable(labelprinter src/main.cpp)", "target_link_libraries(labelprinter"
         " PRIVATE CURL::libcurl)"],
        [], avoid="\"' \\;()$#"),
    "cargo_pyproject": _Artifact(
        False, ["[package]", "name = \"rsvp-sync\"", "version = \"0.4.1\"", ""],
        [*_any("[package.metadata.deploy]\n{name} = \"{v}\"",
               "[tool.rsvp-sync]\n{name} = '{v}'", "[env]\n{NAME} = \"{v}\""),
         _only("[[tool.poetry.source]]\nname = \"internal\"\nurl = \"{v}\"", "url_password")],
        ["# {v}"],
        ["[dependencies]\nserde = \"1\"", "[tool.ruff]\nline-length = 100"],
        [], avoid="\"'\\"),
    "maven_settings": _Artifact(
        False, ["<settings>", "  <servers>", "    <server>", "      <id>nexus-releases</id>"],
        [_only("      <username>deploy</username>\n      <password>{v}</password>",
               *sorted(_TOKENS | {"password"})),
         *_any("      <configuration><httpHeaders><property><name>X-{Name}</name>"
             "<value>{v}</value></property></httpHeaders></configuration>",
             "    </server>\n  </servers>\n  <profiles><profile><properties>\n"
             "    <{name}>{v}</{name}>\n  </properties></profile></profiles>\n  <servers>")],
        ["      <!-- {v} -->"],
        ["      <filePermissions>664</filePermissions>"],
        ["    </server>", "  </servers>", "</settings>"], case="dotted", escape="xml",
        avoid="\"'&<> "),
    "pip_gitconfig": _Artifact(
        False, ["# ~/.config/pip/pip.conf", "[global]", "timeout = 60"],
        [_only("index-url = {v}", "url_password"),
         _only("extra-index-url = https://__token__:{v}@pypi.int.kowalski.dev/simple",
               "vendor_token", "gitlab_token", "github_token"),
         _only("# ~/.gitconfig\n[http \"https://git.int.kowalski.dev\"]\n\textraHeader ="
               " Authorization: Bearer {v}", *sorted(_TOKENS)),
         *_any("[user]\n\t{name} = {v}", "# {what}: {v}")],
        ["# {v}"],
        ["[install]\ntrusted-host = pypi.int.kowalski.dev", "[core]\n\teditor = vim"],
        [], avoid="\"' \\#;"),
    "rclone_s3cfg": _Artifact(
        False, ["# ~/.config/rclone/rclone.conf", "[offsite]", "type = s3",
                "provider = Wasabi"],
        [_only("access_key_id = {v}", "aws_access_key_id", "vendor_token"),
         _only("secret_access_key = {v}", "aws_secret_access_key", "client_secret"),
         *_any("# ~/.s3cfg\n[default]\n{name} = {v}", "{name} = {v}")],
        ["# {v}"],
        ["region = eu-central-2", "endpoint = s3.eu-central-2.wasabisys.com"],
        [], avoid="\"' \\#;"),
    "vbnet_source": _Artifact(
        False, ["Imports System.Net.Http", "Module Payroll"],
        _any("    Private Const {NAME} As String = \"{v}\"",
             "    Dim {name} = \"{v}\"",
             "    client.DefaultRequestHeaders.Add(\"X-{Name}\", \"{v}\")",
             "    ' {what}: {v}"),
        ["    ' {v}"],
        ["    Sub Main()", "    End Sub"],
        ["End Module"], case="camel", avoid="\"\\"),
    "fsharp_source": _Artifact(
        False, ["module Orders.Config", "open System"],
        [*_any("let {name} = \"{v}\"", "let [<Literal>] {Name} = \"{v}\"",
               "// {what}: {v}"),
         _only("let conn = {| User = \"orders\"; Password = \"{v}\" |}", "password")],
        ["// {v}"],
        ["let timeout = TimeSpan.FromSeconds 30.", "[<EntryPoint>]"],
        [], case="camel", avoid="\"\\"),
    "dart_source": _Artifact(
        False, ["import 'package:http/http.dart' as http;", ""],
        _any("const {name} = '{v}';", "final headers = {'X-{Name}': '{v}'};",
             "static const String {name} = \"{v}\";",
             "const {name} = '''\n{v}\n''';"),
        ["// {v}"],
        ["Future<void> main() async {", "}"],
        [], case="camel", avoid="\"'\\$", pem=True),
    "haskell_source": _Artifact(
        False, ["{-# LANGUAGE OverloadedStrings #-}", "module Labels.Config where"],
        _any("{name} :: Text\n{name} = \"{v}\"",
             "defaultConfig = Config { {name} = \"{v}\", retries = 3 }",
             "-- {what}: {v}"),
        ["-- {v}"],
        ["import Data.Text (Text)", "retries :: Int"],
        [], case="camel", avoid="\"\\"),
    "groovy_source": _Artifact(
        False, ["// build.gradle", "plugins { id 'java' }"],
        [*_any("def {name} = '{v}'", "ext.{name} = \"{v}\"",
               "def {name} = '''\n{v}\n'''"),
         _only("publishing { repositories { maven { credentials { username = 'ci'\n"
               "    password = '{v}' } } } }", "password")],
        ["// {v}"],
        ["repositories { mavenCentral() }",
         "dependencies { implementation 'com.h2database:h2' }"],
        [], case="camel", avoid="\"'\\$", pem=True),
    "objc_source": _Artifact(
        False, ["#import \"RSVPClient.h\"", "@implementation RSVPClient"],
        _any("static NSString * const k{Name} = @\"{v}\";",
             "[request setValue:@\"{v}\" forHTTPHeaderField:@\"X-{Name}\"];",
             "NSDictionary *config = @{@\"{name}\": @\"{v}\"};",
             "// {what}: {v}"),
        ["// {v}"],
        ["- (void)viewDidLoad {", "    [super viewDidLoad];", "}"],
        ["@end"], case="camel", avoid="\"\\"),
    "prisma_schema": _Artifact(
        False, ["generator client {", "  provider = \"prisma-client-js\"", "}"],
        [_only("datasource db {\n  provider = \"postgresql\"\n  url      = \"{v}\"\n}",
               "url_password"),
         *_any("// {what}: {v}", "/// @seed {name} = \"{v}\"")],
        ["// {v}"],
        ["model Guest {\n  id    Int    @id @default(autoincrement())\n  name  String\n}"],
        [], case="camel", avoid="\"\\"),
    "dbt_profiles": _Artifact(
        False, ["rsvp_warehouse:", "  target: prod", "  outputs:", "    prod:",
                "      type: snowflake", "      account: ab12345.eu-central-1"],
        _any("      {name}: {v}", "      {name}: \"{v}\"", "      # {what}: {v}"),
        ["      # {v}"],
        ["      threads: 8", "      warehouse: TRANSFORMING"],
        [], avoid="\"' \\#:{}[]&*!|>%@`"),
    "airflow_connections": _Artifact(
        False, ['{', '  "payroll_pg": {"conn_type": "postgres", "host": "pg-main.int",'],
        [_only('    "password": "{v}",', "password", "client_secret"),
         *_any('    "extra": {"{name}": "{v}"},'),
         _only('  "ext_{name}": {"conn_type": "http", "password": "{v}"},',
               *sorted(_TOKENS | {"password"})),
         _only('  "sftp_labels": {"conn_type": "sftp", "extra": {"private_key": "{v}"}},',
               "private_key"),
         _only('  "rsvp_db": {"uri": "{v}"},', "url_password")],
        ['    "description": "{v}",'],
        ['    "port": 5432,', '    "schema": "payroll",'],
        ['  "smtp_default": {"conn_type": "smtp"}', '}'], escape="json", avoid="", pem=True),
    "kafka_client": _Artifact(
        False, ["# client.properties", "bootstrap.servers=broker-1.int:9093",
                "security.protocol=SASL_SSL", "sasl.mechanism=PLAIN"],
        [_only("sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule"
               " required username=\"orders\" password=\"{v}\";", "password", "client_secret",
               "vendor_token"),
         _only("ssl.keystore.password={v}", "password"),
         *_any("{name}={v}", "# {what}: {v}")],
        ["# {v}"],
        ["acks=all", "linger.ms=5"],
        [], case="dotted", avoid="\"\\ "),
    "ldif": _Artifact(
        False, ["dn: uid=hberg,ou=people,dc=lundberg,dc=se", "objectClass: inetOrgPerson",
                "cn: Henrik Berg"],
        [_only("userPassword: {v}", "password"), _only("mail: {v}", "email"),
         _only("telephoneNumber: {v}", "phone"), _only("mobile: {v}", "phone"),
         *_any("{name}: {v}")],
        ["description: {v}"],
        ["sn: Berg", "ou: Finance"],
        [], case="camel", avoid=""),
    "postfix_maps": _Artifact(
        False, ["# /etc/postfix/sasl_passwd", "# postmap this file after editing"],
        [_only("[smtp.sendgrid.net]:587 apikey:{v}", "sendgrid_api_key"),
         _only("[smtp.fastmail.com]:465 mailer@iyer.family:{v}", "password"),
         _only("# /etc/postfix/virtual\nbilling@iyer.family {v}", "email"),
         *_any("# {what}: {v}")],
        ["# {v}"],
        ["# /etc/postfix/main.cf: smtp_sasl_auth_enable = yes"],
        [], avoid="\"' \\#:"),
    "keychain_dump": _Artifact(
        False, ["keychain: \"/Users/lucia/Library/Keychains/login.keychain-db\"",
                "class: \"genp\"", "attributes:"],
        [_only("    \"acct\"<blob>=\"{v}\"", "email"),
         _only("    \"svce\"<blob>=\"{what}\"\npassword: \"{v}\"", *sorted(_CREDS - {"email"})),
         _only("password: \"{v}\"", *sorted(_CREDS - {"email"})),
         *_any("    \"icmt\"<blob>=\"{what} {v}\"")],
        ["    \"desc\"<blob>=\"{v}\""],
        ["    \"cdat\"<timedate>=0x32303236313230373039313430325A00",
         "    \"labl\"<blob>=\"github.com\""],
        [], avoid="\"\\", holds=_CREDS),
    "browser_passwords_csv": _Artifact(
        False, ["name,url,username,password,note"],
        [_only("accounts.google.com,https://accounts.google.com/,{v},x9Lq#2mVt!pRk0,", "email"),
         _only("npmjs.com,https://www.npmjs.com/login,lucia-o,{v},", "password"),
         _only("bank,https://online.bank.example-ib.eu/,lucia.ortega,{v},", "password"),
         _any("github.com,https://github.com/,lucia-o,k7#Vq2pL!x9m,{what} {v}")[0]],
        ["\"\",,,,{v}"],
        ["netflix.com,https://www.netflix.com/,lucia@home,,"],
        [], avoid="\",\\", holds=_CREDS),
    "muttrc": _Artifact(
        False, ["# ~/.muttrc", "set realname = \"Keiko Sato\"",
                "set folder = \"imaps://imap.fastmail.com:993\""],
        [_only("set imap_pass = \"{v}\"", "password"),
         _only("set smtp_url = \"smtps://keiko%40fastmail.com:{v}@smtp.fastmail.com:465\"",
               "url_password"),
         _only("set from = \"{v}\"", "email"),
         *_any("# {what}: {v}")],
        ["# {v}"],
        ["set sort = threads", "set editor = \"nvim\""],
        [], avoid="\"\\`$"),
    "znc_conf": _Artifact(
        False, ["// znc.conf", "Version = 1.9.1", "<User keiko>"],
        [_only("  <Pass password>\n    Method = plain\n    Hash = {v}\n  </Pass>", "password"),
         _only("  <Network libera>\n    Server = irc.libera.chat +6697 {v}\n  </Network>",
               "password"),
         _only("  LoadModule = sasl {v}", "password"),
         *_any("  // {what}: {v}")],
        ["  // {v}"],
        ["  Nick = keiko", "  AltNick = keiko_"],
        ["</User>"], avoid="\"' \\<>"),
}

#: Bare lines that suit some types only.
_BARE_TYPES = {"Receipt no. {v}": {"payment_card"}, "Annex C: {v}": {"iban"},
               "Reference: {v}": {"email", "phone"}, "Memo: {v}": {"iban"}}


def _fill(template: str, words: Sequence[str], art: _Artifact, what: str) -> str:
    upper = _name(words, "upper") if words else ""
    for slot, text in (("{name}", _name(words, art.case) if words else ""), ("{NAME}", upper),
                       ("{Name}", _name(words, "pascal") if words else ""),
                       ("{WHAT}", what.upper()), ("{What}", what[:1].upper() + what[1:]),
                       ("{what}", what)):
        template = template.replace(slot, text)
    return template


def _escape(value: str, art: _Artifact) -> str:
    if art.escape == "json":
        return json.dumps(value)[1:-1]
    if art.escape == "xml":
        return xml_escape(value)
    return value


class _Writer:
    def __init__(self, art: _Artifact) -> None:
        self.art = art
        self.text = ""
        self.planted: list[PlantedJ] = []

    def line(self, text: str) -> None:
        self.text += text + "\n"

    def plant(self, template: str, value: str, shown: str, type_: str | None,
              decoy: str) -> None:
        before, after = template.split("{v}", 1)
        value, shown = _escape(value, self.art), _escape(shown, self.art)
        start = len(self.text) + len(before) + shown.index(value)
        self.text += before + shown + after + "\n"
        assert self.text[start:start + len(value)] == value
        self.planted.append((start, start + len(value), type_, self.art.prose, decoy))


def _types_of(art: _Artifact) -> list[str]:
    pool = sorted(art.holds) if art.holds else list(KINDS_J)
    if not art.pem:
        pool = [t for t in pool if t != "private_key"]
    return pool


def _template(rnd: random.Random, art: _Artifact, type_: str, words: Sequence[str],
              what: str) -> str:
    fits = [line for line, types in art.slots if not types or type_ in types]
    special = [line for line, types in art.slots if types and type_ in types]
    if type_ == "private_key":  # a PEM key goes on lines of its own where the syntax has them
        blocks = [line for line in fits if "\n{v}" in line or "\n        {v}" in line]
        line = rnd.choice(special or blocks or fits)
    else:
        line = rnd.choice(special) if special and rnd.random() < 0.6 else rnd.choice(fits)
    return _fill(line, words, art, what)


#: Decoys that belong to some artifacts only: value -> (artifacts, the place they take).
_DECOY_HOME: dict[str, tuple[frozenset[str], str]] = {
    "Environment.GetEnvironmentVariable(\"API_TOKEN\")": (
        frozenset({"vbnet_source", "fsharp_source"}), ""),
    "Platform.environment['STRIPE_KEY']": (frozenset({"dart_source"}), ""),
    "lookupEnv \"HF_TOKEN\"": (frozenset({"haskell_source"}), ""),
    "System.getenv('GITLAB_TOKEN')": (frozenset({"groovy_source"}), ""),
    "[NSProcessInfo processInfo].environment[@\"CLIENT_SECRET\"]": (
        frozenset({"objc_source"}), ""),
    "env(\"DATABASE_URL\")": (frozenset({"prisma_schema"}), "url_password"),
    "{env.SMTP_PASSWORD}": (frozenset({"caddyfile"}), ""),
    "`pass show mail/fastmail`": (frozenset({"muttrc"}), "password"),
    "{{ conn.payroll_pg.password }}": (frozenset({"airflow_connections"}), ""),
    "{{ env_var('DBT_SNOWFLAKE_PASSWORD') }}": (frozenset({"dbt_profiles"}), ""),
    "${file:/etc/kafka/secrets/client.properties:sasl.password}": (
        frozenset({"kafka_client"}), "password"),
    "{{resolve:secretsmanager:prod/orders:SecretString:password}}": (
        frozenset({"cloudformation"}), ""),
    "{{resolve:ssm-secure:/labels/smtp-pass:3}}": (frozenset({"cloudformation"}), ""),
    "<path:secret/data/payroll#dbPassword>": (frozenset({"argocd_app"}), ""),
    "<path:kv/data/rsvp#stripeKey>": (frozenset({"argocd_app"}), ""),
    _PULUMI_SECURE: (frozenset({"pulumi_stack"}), "pulumi_secure"),
}
#: Decoys that are expressions of a language: in code they stand without quotes.
_EXPRESSIONS = frozenset(v for v in _DECOY_HOME if v.endswith((")", "]", "\"")))

#: A decoy's identifier words -> the type whose place it takes (a password column, ...).
_DECOY_PLACE = {"password": "password", "pass": "password", "card": "payment_card",
                "iban": "iban", "ssn": "us_ssn", "email": "email", "phone": "phone",
                "mobile": "phone", "ip": "ipv4", "ipv6": "ipv6", "aws": "aws_access_key_id"}


def _decoy_place(words: Sequence[str]) -> str:
    if words[:3] == ("aws", "secret", "access"):
        return "aws_secret_access_key"
    for word in (words[-1], words[0]):
        if word in _DECOY_PLACE:
            return _DECOY_PLACE[word]
    return ""


def _value(rnd: random.Random, type_: str, art: _Artifact) -> str:
    make = {**SECRETS_J, **PERSONAL_J}[type_]
    for _ in range(200):
        value = make(rnd)
        if type_ == "private_key":
            return value.replace("\n", "\n" + art.pem_indent) if art.pem_indent else value
        if type_ != "password" or not any(c in art.avoid for c in value):
            return value
    raise AssertionError(f"no password fits {art.avoid!r}")


def documents_j(seed: int, count: int) -> list[tuple[str, list[PlantedJ]]]:
    """``count`` documents of set J, artifact kinds in turn, each with 2-4 planted values,
    one or two decoys and, in about two thirds, a one-digit-mutated card number or IBAN."""
    rnd = random.Random(seed)
    order = sorted(_ARTIFACTS)
    out = []
    for number in range(count):
        name = order[number % len(order)]
        art = _ARTIFACTS[name]
        doc = _Writer(art)
        for text in art.head:
            doc.line(text)
        pool = _types_of(art)
        chosen = rnd.sample(pool, rnd.randint(2, 4))
        for favoured, chance in (("password", 0.3), ("private_key", 0.2)):  # the rarer ones
            if favoured in pool and favoured not in chosen and rnd.random() < chance:
                chosen[0] = favoured
        slots: list[tuple[str, str]] = [(t, "") for t in chosen]
        twin = rnd.choice(("payment_card", "iban", None))
        if twin is not None:
            slots.append((twin, "mutated"))
        slots.append(("", "lookalike"))
        if rnd.random() < 0.3:
            slots.append(("", "lookalike"))
        rnd.shuffle(slots)
        paper = bool(art.holds) and art.prose
        decoys = [d for d in _DECOYS_J if (d[3] or not paper) and name in _DECOY_HOME.get(
            d[0] if isinstance(d[0], str) else "", (frozenset({name}), ""))[0]]
        at_home = [d for d in decoys if isinstance(d[0], str) and d[0] in _DECOY_HOME]
        for type_, decoy in slots:
            if decoy == "lookalike":
                made, words, what, _paper = rnd.choice(
                    at_home if at_home and rnd.random() < 0.5 else decoys)
                value = made if isinstance(made, str) else made(rnd)
                place = _DECOY_HOME[value][1] if value in _DECOY_HOME else ""
                template = _template(rnd, art, place or _decoy_place(words), words, what)
                if value in _EXPRESSIONS and not art.prose and not art.escape:
                    template = re.sub(r"@?\"\{v\}\"|'\{v\}'", "{v}", template)  # code, not a string
                doc.plant(template, value, value, None, decoy)
                continue
            value = _value(rnd, type_, art)
            if decoy == "mutated":
                value = _mutate(value, rnd)
            bare = [b for b in art.bare
                    if (type_ in _BARE_TYPES[b] if b in _BARE_TYPES else type_ in _SELF_EVIDENT)]
            if decoy == "" and bare and type_ != "private_key" and rnd.random() < 0.15:
                template = _fill(rnd.choice(bare), (), art, "")
            else:
                word_sets, whats = _NAMING[type_]
                template = _template(rnd, art, type_, rnd.choice(word_sets), rnd.choice(whats))
            inline = "://" in template.split("{v}")[0]  # the line holds the URL itself
            shown = value if inline else _shown(type_, value, template, rnd)
            doc.plant(template, value, shown, None if decoy else type_, decoy)
            if rnd.random() < 0.4:
                doc.line(rnd.choice(art.filler))
        for text in art.tail:
            doc.line(text)
        out.append((doc.text, doc.planted))
    return out
