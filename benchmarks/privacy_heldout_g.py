"""The fifth fresh held-out set of the privacy benchmark (set G): HELD OUT.

Written on 2026-12-07 after set F had been evaluated (and spent), before any of round 5's
detector changes and without running the detectors on it; committed on its own first.
``benchmarks/privacy.py`` scores it once, at the end of round 5, as "held-out G"; a miss
found here is reported, not fixed against this set.

Nothing here comes from sets A-F: no Faker, no ``athena_core`` import (Luhn, mod-97 and
the SSN rules are written again below), its own value generators and its own composer.
Each document is one artifact of a kind no earlier set uses (:data:`_KINDS_OF_TEXT`):

* prose: WhatsApp and IRC logs, Google Chat exports (JSON), Linear comments, e-mail
  threads with quoted replies, support call notes, Discourse forum posts, HR onboarding
  e-mails (forms with an SSN line);
* machine text: httpie transcripts, ``~/.aws/credentials``, Ansible inventories (INI),
  Terraform state (JSON), PHP, Ruby, Kotlin, Swift and TypeScript source, ``.env`` files
  with comments, zsh history, CSV exports with a header row, docker-compose files with
  anchors, Postman environments (JSON), kubeconfigs, Spring ``application.yml``,
  redis-cli and mongosh sessions.

Fairness: every value sits where a reader would recognise it as sensitive - a key name, a
label or a sentence says what it is, or, for the formats distinctive on their own
(prefixed tokens, JWTs, PEM keys, card numbers, IBANs, e-mail and IP addresses,
international phone numbers, credentials in URLs), nothing needs to. Decoys sit where
such values really sit: vendors' documentation examples and placeholders in a
credential's place, references (``${VAR}``, ``{{ secret }}``, ``env:NAME``, ``op://``,
``vault:``), masks (``****1234``), hashes after "commit" or "checksum", UUIDs after
"request id", version strings, the fictional US numbers 555-0100 to 555-0199 after an
area code, advertised and invalid SSNs, the processors' test cards, example IBANs, and
one-digit-mutated card numbers and IBANs where a card number or IBAN goes.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable, Sequence

import attrs

__all__ = ["KINDS_G", "PlantedG", "documents_g"]

_LO = string.ascii_lowercase
_UP = string.ascii_uppercase
_DG = string.digits
_AN = string.ascii_letters + string.digits
_B64 = _AN + "+/"
_URLSAFE = _AN + "_-"
_HEX = "0123456789abcdef"

#: (start, end, type or None for a decoy, in prose, decoy kind: "lookalike" or "mutated").
PlantedG = tuple[int, int, "str | None", bool, str]


def _pick(rnd: random.Random, n: int, alphabet: str = _AN) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def _digits(rnd: random.Random, n: int) -> str:
    return _pick(rnd, n, _DG)


# --- checksums, written again ------------------------------------------------------------------


def _luhn_check(payload: str) -> str:
    """The digit that makes ``payload`` + digit pass the Luhn test."""
    total = 0
    for position, ch in enumerate(reversed(payload)):
        d = int(ch) * (2 if position % 2 == 0 else 1)
        total += d // 10 + d % 10
    return str(-total % 10)


def _with_check_digits(country: str, bban: str) -> str:
    number = int("".join(str(int(ch, 36)) for ch in bban + country) + "00")
    return f"{country}{98 - number % 97:02d}{bban}"


# --- personal values ---------------------------------------------------------------------------

#: (prefix maker, lengths) of every issuer range the detectors list.
_ISSUERS: tuple[tuple[Callable[[random.Random], str], Sequence[int]], ...] = (
    (lambda r: "4", (13, 16, 19)),
    (lambda r: str(r.randint(51, 55)), (16,)),
    (lambda r: str(r.randint(2221, 2720)), (16,)),
    (lambda r: r.choice(("34", "37")), (15,)),
    (lambda r: r.choice(("6011", "65", str(r.randint(644, 649)))), (16, 19)),
    (lambda r: str(r.randint(622126, 622925)), (16,)),
    (lambda r: str(r.randint(3528, 3589)), (16, 19)),
    (lambda r: str(r.randint(300, 305)), (14,)),
    (lambda r: r.choice(("36", "38")), (14,)),
    (lambda r: r.choice(("5018", "5020", "5038", "6304", "6759", "6763")), (13, 16, 19)),
)


def card_g(rnd: random.Random) -> str:
    """A valid number of a listed issuer range, plain, in fours, or as Amex prints it."""
    make, lengths = rnd.choice(_ISSUERS)
    length = rnd.choice(lengths)
    head = make(rnd)
    payload = head + _digits(rnd, length - len(head) - 1)
    number = payload + _luhn_check(payload)
    style = rnd.randrange(5)
    if style in (0, 1):
        return number
    sep = "-" if style == 2 else " "
    if length == 15:
        return f"{number[:4]}{sep}{number[4:10]}{sep}{number[10:]}"
    return sep.join(number[i:i + 4] for i in range(0, length, 4))


#: Country -> BBAN shape (n digit, a capital, c digit or capital), from the IBAN registry.
_BBAN_G = {
    "DE": "n" * 18, "FR": "n" * 10 + "c" * 11 + "nn", "ES": "n" * 20, "BE": "n" * 12,
    "PL": "n" * 24, "PT": "n" * 21, "IE": "aaaa" + "n" * 14, "DK": "n" * 14,
    "SE": "n" * 20, "CZ": "n" * 20, "EE": "n" * 16, "LV": "aaaa" + "c" * 13,
    "BG": "aaaa" + "n" * 6 + "c" * 8, "CY": "n" * 8 + "c" * 16, "JO": "aaaa" + "n" * 4 +
    "c" * 18, "QA": "aaaa" + "c" * 21, "KW": "aaaa" + "c" * 22, "BH": "aaaa" + "c" * 14,
    "PK": "aaaa" + "c" * 16, "UA": "n" * 6 + "c" * 19, "GE": "aa" + "n" * 16,
    "MD": "c" * 20, "DO": "c" * 4 + "n" * 20, "BR": "n" * 23 + "a" + "c",
    "GT": "c" * 4 + "c" * 20, "MR": "n" * 23, "BA": "n" * 16, "BY": "c" * 4 + "n" * 4 +
    "c" * 16, "LC": "aaaa" + "c" * 24, "ST": "n" * 21,
}


def iban_g(rnd: random.Random) -> str:
    country = rnd.choice(sorted(_BBAN_G))
    alphabet = {"n": _DG, "a": _UP, "c": _UP + _DG}
    value = _with_check_digits(country, "".join(rnd.choice(alphabet[c])
                                                for c in _BBAN_G[country]))
    if rnd.random() < 0.5:
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def ssn_g(rnd: random.Random) -> str:
    """A valid SSN: area 001-899 but 666, group and serial not zero."""
    area = rnd.choice([a for a in range(1, 900) if a != 666])
    group, serial = rnd.randint(1, 99), rnd.randint(1, 9999)
    a, g, s = f"{area:03d}", f"{group:02d}", f"{serial:04d}"
    return rnd.choice((f"{a}-{g}-{s}", f"{a}-{g}-{s}", f"{a} {g} {s}", f"{a}{g}{s}",
                       f"{a}.{g}.{s}"))


#: Area codes in service.
_US_AREAS = (212, 312, 415, 617, 702, 305, 206, 512, 303, 404, 646, 818, 971, 720, 614)


def _us_exchange(rnd: random.Random) -> int:
    """An exchange in service: not N11 and not 555 (whose 0100-0199 lines are fictional)."""
    return rnd.choice([e for e in range(201, 1000) if e != 555 and e % 100 != 11])


def phone_g(rnd: random.Random) -> str:
    """Numbers of countries earlier sets leave out, international and national forms."""
    n = lambda k: _digits(rnd, k)  # noqa: E731
    area = rnd.choice(_US_AREAS)
    return rnd.choice((
        f"+33 6 {n(2)} {n(2)} {n(2)} {n(2)}", f"06 {n(2)} {n(2)} {n(2)} {n(2)}",
        f"+49 151 {n(8)}", f"0151 {n(4)} {n(4)}", f"+34 6{n(2)} {n(3)} {n(3)}",
        f"+52 55 {n(4)} {n(4)}", f"+91 98{n(3)} {n(5)}", f"+81 90-{n(4)}-{n(4)}",
        f"090-{n(4)}-{n(4)}", f"+27 82 {n(3)} {n(4)}", f"+63 917 {n(3)} {n(4)}",
        f"+46 70 {n(3)} {n(2)} {n(2)}", f"+45 {n(2)} {n(2)} {n(2)} {n(2)}",
        f"+32 4{n(2)} {n(2)} {n(2)} {n(2)}", f"+351 91 {n(3)} {n(4)}",
        f"+420 6{n(2)} {n(3)} {n(3)}", f"+64 21 {n(3)} {n(4)}", f"+62 812-{n(4)}-{n(4)}",
        f"+60 12-{n(3)} {n(4)}", f"+380 67 {n(3)} {n(2)} {n(2)}", f"+55 11 9{n(4)}-{n(4)}",
        f"+1 ({area}) {_us_exchange(rnd)}-{n(4)}", f"{area}.{_us_exchange(rnd)}.{n(4)}",
        f"+1{area}{_us_exchange(rnd)}{n(4)}", f"1-{area}-{_us_exchange(rnd)}-{n(4)}",
    ))


_FIRST = ["amara", "bjorn", "chidi", "dolores", "emeka", "fatima", "goran", "hana", "ilse",
          "jomo", "keiko", "lars"]
_LAST = ["okafor", "lindqvist", "nwosu", "alvarez", "adeyemi", "rahman", "petrovic",
         "suzuki", "vogel", "kamau", "tanaka", "nielsen"]
_DOMAINS = ["gmx.de", "orange.fr", "yahoo.co.jp", "seznam.cz", "onet.pl", "telia.se",
            "proton.me", "hey.com", "outlook.es", "kolabnow.com", "zoho.eu", "uol.com.br"]


def email_g(rnd: random.Random) -> str:
    first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
    local = rnd.choice((f"{first}.{last}", f"{first[0]}.{last}", f"{last}_{first}",
                        f"{first}{rnd.randint(1970, 2005)}", f"{first}-{last}+shop",
                        f"{first.upper()}.{last.upper()}"))
    return f"{local}@{rnd.choice(_DOMAINS)}"


def ipv4_g(rnd: random.Random) -> str:
    skip = {0, 10, 100, 127, 169, 172, 192, 198, 203}
    first = rnd.choice([a for a in range(1, 224) if a not in skip])
    return f"{first}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"


def ipv6_g(rnd: random.Random) -> str:
    prefix = rnd.choice(("2a00:1450", "2600:1f18", "2a03:2880", "2401:fa00", "2c0f:fb50"))
    groups = [f"{rnd.randint(1, 0xffff):x}" for _ in range(6)]
    if rnd.random() < 0.5:
        return ":".join([prefix, *groups])
    return f"{prefix}:{groups[0]}::{groups[-1]}"


# --- secrets --------------------------------------------------------------------------------

_WORDS = ["harbor", "mosaic", "tundra", "quill", "saffron", "ember", "cobalt", "juniper",
          "pixel", "falcon", "meadow", "rocket"]


def password_g(rnd: random.Random) -> str:
    """Passwords as people and tools make them."""
    style = rnd.randrange(8)
    if style == 0:  # a season or a club and a year
        return rnd.choice(("Summer", "Winter", "Liverpool", "Barcelona", "Yankees")) + str(
            rnd.randint(1990, 2026)) + rnd.choice(("!", "!!", "#", ""))
    if style == 1:  # leetspeak
        return rnd.choice(("P@ssw0rd", "S3cur1ty", "W3lc0me", "Adm1n!str8r")) + _digits(rnd, 3)
    if style == 2:  # a keyboard walk with a twist
        return rnd.choice(("1qaz2wsx", "qwerty", "zaq12wsx", "asdfgh")) + rnd.choice(
            ("!QAZ", "#2026", "_Ab9", "$$"))
    if style == 3:  # Bitwarden's passphrase
        return "-".join(rnd.sample(_WORDS, 4)) + str(rnd.randint(0, 9))
    if style == 4:  # Bitwarden's generated one
        return _pick(rnd, rnd.randint(14, 22), _AN + "!@#$%^&*")
    if style == 5:  # pwgen 12 (pronounceable)
        return "".join(rnd.choice("bcdfghjkmnprstvz") + rnd.choice("aeiou")
                       for _ in range(5)) + _digits(rnd, 2)
    if style == 6:  # openssl rand -hex 12
        return _pick(rnd, 24, _HEX)
    return _pick(rnd, 32, _B64)  # head -c 24 /dev/urandom | base64


def _pem_g(rnd: random.Random) -> str:
    label = rnd.choice(("RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY",
                        "ENCRYPTED PRIVATE KEY", "DSA PRIVATE KEY"))
    lines = [_pick(rnd, 64, _B64) for _ in range(rnd.randint(3, 7))]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + \
        f"\n{_pick(rnd, rnd.randint(8, 60), _B64)}==\n-----END {label}-----"


def _jwt_g(rnd: random.Random) -> str:
    def b64(obj: object) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    header = {"typ": "JWT", "alg": rnd.choice(("RS256", "HS256", "EdDSA"))}
    claims = {"iss": "https://auth.example-shop.com/", "sub": f"auth0|{_pick(rnd, 24, _HEX)}",
              "exp": rnd.randint(1_760_000_000, 1_800_000_000), "scope": "read:orders"}
    return f"{b64(header)}.{b64(claims)}.{_pick(rnd, rnd.choice((43, 86, 342)), _URLSAFE)}"


#: Vendors' documented token formats that no earlier set plants.
_VENDOR_TOKENS_G: tuple[Callable[[random.Random], str], ...] = (
    lambda r: "sq0atp-" + _pick(r, 22, _URLSAFE),                          # Square access
    lambda r: "sq0csp-" + _pick(r, 43, _URLSAFE),                          # Square OAuth secret
    lambda r: "EAAA" + _pick(r, 60, _URLSAFE),                             # Square access (new)
    lambda r: "access_token$production$" + _pick(r, 16, _LO + _DG) + "$" + _pick(r, 32, _HEX),
    lambda r: "shippo_live_" + _pick(r, 40, _HEX),                         # Shippo
    lambda r: "aio_" + _pick(r, 28),                                       # Adafruit IO
    lambda r: "dt0c01." + _pick(r, 24, _UP + _DG) + "." + _pick(r, 64, _UP + _DG),  # Dynatrace
    lambda r: "fio-u-" + _pick(r, 64, _URLSAFE),                           # Frame.io
    lambda r: "nfp_" + _pick(r, 36),                                       # Netlify
    lambda r: "pnu_" + _pick(r, 36),                                       # Prefect
    lambda r: "CFPAT-" + _pick(r, 43, _URLSAFE),                           # Contentful
    lambda r: "CLOJARS_" + _pick(r, 60, _HEX),                             # Clojars
    lambda r: "dp.st." + _pick(r, 8, _LO) + "." + _pick(r, 40),            # Doppler service
    lambda r: "hvb." + _pick(r, 90, _URLSAFE),                             # Vault batch token
    lambda r: _pick(r, 32, _HEX) + "-us" + str(r.randint(1, 21)),          # Mailchimp
    lambda r: "sntryu_" + _pick(r, 64, _HEX),                              # Sentry user token
    lambda r: "pplx-" + _pick(r, 48),                                      # Perplexity
    lambda r: "sk-or-v1-" + _pick(r, 64, _HEX),                            # OpenRouter
    lambda r: "lsv2_pt_" + _pick(r, 32, _HEX) + "_" + _pick(r, 10, _HEX),  # LangSmith
    lambda r: "pcsk_" + _pick(r, 5) + "_" + _pick(r, 64),                  # Pinecone
    lambda r: "re_" + _pick(r, 8) + "_" + _pick(r, 24),                    # Resend
    lambda r: "ATBB" + _pick(r, 32) + _pick(r, 8, _HEX.upper()),           # Bitbucket app pw
    lambda r: "ops_eyJ" + _pick(r, 200, _URLSAFE),                         # 1Password service
    lambda r: "tfp_" + _pick(r, 44),                                       # Typeform
    lambda r: "glcbt-" + _pick(r, 20, _URLSAFE),                           # GitLab CI job token
    lambda r: "gloas-" + _pick(r, 64, _HEX),                               # GitLab OAuth secret
    lambda r: "HRKU-AA" + _pick(r, 58, _URLSAFE),                          # Heroku
    lambda r: "sk." + "eyJ1IjoiZXhhbXBsZSIsImEiOiJ" + _pick(r, 20) + "." + _pick(r, 22),  # Mapbox
)


def _azure_sas(rnd: random.Random) -> str:
    return _pick(rnd, 43, _AN) + "%3D"


SECRETS_G: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: r.choice(("AKIA", "ASIA", "AKIA")) + _pick(r, 16,
                                                                             _UP + "234567"),
    "aws_secret_access_key": lambda r: _pick(r, 40, _B64),
    "aws_session_token": lambda r: "IQoJb3JpZ2luX2VjE" + _pick(r, rnd_len_long(r), _B64),
    "github_token": lambda r: rnd_github(r),
    "gitlab_token": lambda r: r.choice(("glpat-", "glrt-", "gldt-")) + _pick(r, 20, _URLSAFE),
    "slack_token": lambda r: r.choice(("xoxb-", "xoxp-", "xoxa-2-")) + f"{_digits(r, 11)}-"
    f"{_digits(r, 13)}-" + _pick(r, 24),
    "stripe_key": lambda r: r.choice(("sk_live_", "rk_live_")) + _pick(r, r.choice((24, 99))),
    "openai_api_key": lambda r: r.choice(("sk-proj-", "sk-")) + _pick(r, 48, _AN),
    "anthropic_api_key": lambda r: "sk-ant-api03-" + _pick(r, 93, _URLSAFE) + "AA",
    "jwt": _jwt_g,
    "private_key": _pem_g,
    "npm_token": lambda r: "npm_" + _pick(r, 36),
    "twilio_auth_token": lambda r: _pick(r, 32, _HEX),
    "sendgrid_api_key": lambda r: "SG." + _pick(r, 22, _URLSAFE) + "." + _pick(r, 43, _URLSAFE),
    "google_api_key": lambda r: "AIza" + _pick(r, 35, _URLSAFE),
    "azure_storage_key": lambda r: _pick(r, 86, _B64) + "==",
    "azure_sas_signature": _azure_sas,
    "vendor_token": lambda r: r.choice(_VENDOR_TOKENS_G)(r),
    "client_secret": lambda r: _pick(r, r.choice((24, 40, 64)), _AN + "_-"),
    "password": password_g,
    "url_password": lambda r: _pick(r, r.randint(10, 24), _AN + "-_.~"),
}


def rnd_len_long(rnd: random.Random) -> int:
    return rnd.choice((180, 250, 320))


def rnd_github(rnd: random.Random) -> str:
    if rnd.random() < 0.3:
        return "github_pat_11" + _pick(rnd, 22, _UP + _DG) + "_" + _pick(rnd, 59)
    return rnd.choice(("ghp_", "gho_", "ghs_", "ghr_")) + _pick(rnd, 36)


PERSONAL_G: dict[str, Callable[[random.Random], str]] = {
    "email": email_g, "phone": phone_g, "payment_card": card_g, "iban": iban_g,
    "us_ssn": ssn_g, "ipv4": ipv4_g, "ipv6": ipv6_g}
#: Every type set G plants.
KINDS_G = tuple(sorted({**SECRETS_G, **PERSONAL_G}))

#: Values whose format says what they are, so a line need not name them.
_DISTINCTIVE = frozenset({
    "email", "payment_card", "iban", "ipv4", "ipv6", "aws_access_key_id", "github_token",
    "gitlab_token", "slack_token", "stripe_key", "openai_api_key", "anthropic_api_key", "jwt",
    "private_key", "npm_token", "sendgrid_api_key", "google_api_key", "url_password"})

#: Type -> (identifier words, ways a sentence names it).
_NAMING: dict[str, tuple[Sequence[Sequence[str]], Sequence[str]]] = {
    "email": ((("email",), ("customer", "email"), ("reply", "to"), ("login", "email")),
              ("email", "email address", "personal email", "my gmail", "address for receipts")),
    "phone": ((("phone",), ("phone", "number"), ("mobile",), ("contact", "phone"),
               ("emergency", "contact")),
              ("phone", "mobile", "cell number", "number", "phone no.", "landline", "callback")),
    "payment_card": ((("card", "number"), ("credit", "card"), ("cc",), ("payment", "card")),
                     ("card number", "credit card", "card", "Mastercard", "card on file")),
    "iban": ((("iban",), ("bank", "iban"), ("refund", "iban"), ("account", "iban")),
             ("IBAN", "bank details", "IBAN for payouts", "account (IBAN)")),
    "us_ssn": ((("ssn",), ("social", "security", "number"), ("tax", "id"), ("ssn", "last")),
               ("SSN", "social security number", "social security no.", "SSN/TIN", "tax ID")),
    "ipv4": ((("host",), ("ip", "address"), ("server", "ip"), ("remote", "addr")),
             ("IP", "IP address", "server IP", "host", "the box at")),
    "ipv6": ((("ipv6", "address"), ("host", "v6")), ("IPv6", "v6 address")),
    "aws_access_key_id": ((("aws", "access", "key", "id"),), ("AWS key id", "access key ID")),
    "aws_secret_access_key": ((("aws", "secret", "access", "key"), ("secret", "access", "key")),
                              ("AWS secret key", "secret access key", "AWS secret")),
    "aws_session_token": ((("aws", "session", "token"), ("session", "token")),
                          ("session token", "AWS session token", "STS token")),
    "github_token": ((("github", "token"), ("gh", "token")), ("GitHub token", "gh token")),
    "gitlab_token": ((("gitlab", "token"), ("runner", "token")), ("GitLab token",
                                                                  "runner token")),
    "slack_token": ((("slack", "token"), ("slack", "bot", "token")), ("Slack token",
                                                                      "slack bot token")),
    "stripe_key": ((("stripe", "secret", "key"), ("stripe", "api", "key")),
                   ("Stripe secret key", "stripe key")),
    "openai_api_key": ((("openai", "api", "key"), ("openai", "key")), ("OpenAI key",
                                                                       "OpenAI API key")),
    "anthropic_api_key": ((("anthropic", "api", "key"),), ("Anthropic key",)),
    "jwt": ((("access", "token"), ("id", "token"), ("bearer", "token")),
            ("access token", "bearer token", "JWT", "id token")),
    "private_key": ((("private", "key"), ("signing", "key"), ("ssl", "key")),
                    ("private key", "signing key", "SSL key")),
    "npm_token": ((("npm", "token"),), ("npm token", "registry token")),
    "twilio_auth_token": ((("twilio", "auth", "token"), ("twilio", "token")),
                          ("Twilio auth token", "twilio token")),
    "sendgrid_api_key": ((("sendgrid", "api", "key"), ("sendgrid", "key")),
                         ("SendGrid API key", "sendgrid key")),
    "google_api_key": ((("google", "api", "key"), ("firebase", "api", "key")),
                       ("Google API key", "Firebase key")),
    "azure_storage_key": ((("azure", "storage", "key"), ("storage", "account", "key")),
                          ("storage key", "Azure storage key")),
    "azure_sas_signature": ((("sas", "token"), ("sas", "signature")),
                            ("SAS signature", "SAS token")),
    "vendor_token": ((("api", "key"), ("api", "token"), ("auth", "token"), ("secret", "key")),
                     ("API key", "API token", "auth token", "secret key", "token")),
    "client_secret": ((("client", "secret"), ("oauth", "client", "secret"),
                       ("consumer", "secret")),
                      ("client secret", "OAuth client secret", "consumer secret")),
    "password": ((("password",), ("db", "password"), ("admin", "password"), ("passwd",),
                  ("user", "pass"), ("mysql", "pwd"), ("wifi", "password")),
                 ("password", "pwd", "passwd", "Wi-Fi password", "admin password",
                  "login", "pass", "new password", "temporary password")),
    "url_password": ((("database", "url"), ("redis", "url"), ("amqp", "url")),
                     ("connection string", "database URL", "redis URL")),
}


def _in_url(value: str, rnd: random.Random) -> str:
    return rnd.choice((f"postgres://app_user:{value}@db.prod.internal:5432/app",
                       f"mongodb+srv://reporting:{value}@cluster0.ab1cd.mongodb.net/sales",
                       f"rediss://:{value}@cache-01.internal:6380",
                       f"amqp://orders:{value}@rabbit.internal:5672/%2F",
                       f"ftp://backup:{value}@files.example-shop.com/nightly"))


def _sas_url(value: str, rnd: random.Random) -> str:
    return (f"https://shopassets.blob.core.windows.net/exports?sv=2022-11-02&ss=b&srt=co"
            f"&sp=rl&se=2026-12-31T00:00:00Z&spr=https&sig={value}")


# --- decoys -------------------------------------------------------------------------------------


def _hex(n: int) -> Callable[[random.Random], str]:
    return lambda r: _pick(r, n, _HEX)


def _fictional_phone(rnd: random.Random) -> str:
    """A number in the range reserved for fiction: an area code, 555, 0100-0199."""
    area, line = rnd.randint(201, 989), f"01{rnd.randint(0, 99):02d}"
    return rnd.choice((f"({area}) 555-{line}", f"+1 {area}-555-{line}", f"{area}-555-{line}",
                       f"+1 ({area}) 555 {line}", f"{area}.555.{line}"))


def _masked_card(rnd: random.Random) -> str:
    last = _digits(rnd, 4)
    return rnd.choice((f"**** **** **** {last}", f"****{last}", f"XXXX-XXXX-XXXX-{last}",
                       f"\u2022\u2022\u2022\u2022 {last}"))


#: (value or maker, identifier words, how a sentence names it): where decoys really sit.
_LOOKALIKES: tuple[tuple[str | Callable[[random.Random], str], Sequence[str], str], ...] = (
    ("AKIAI44QH8DHBEXAMPLE", ("aws", "access", "key", "id"), "AWS key id"),
    ("je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", ("aws", "secret", "access", "key"),
     "AWS secret key"),
    ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", ("stripe", "api", "key"), "Stripe test key"),
    ("xoxb-not-a-real-token-this-will-not-work", ("slack", "token"), "Slack token"),
    ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwia"
     "WF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", ("access", "token"),
     "the jwt.io sample token"),
    ("${STRIPE_SECRET_KEY}", ("stripe", "secret", "key"), "Stripe key"),
    ("${{ secrets.NPM_TOKEN }}", ("npm", "token"), "npm token"),
    ("{{ secret \"db/password\" }}", ("db", "password"), "DB password"),
    ("{{ .Values.redis.password }}", ("redis", "password"), "redis password"),
    ("env:DATABASE_PASSWORD", ("db", "password"), "password"),
    ("op://Production/Postgres/password", ("password",), "password"),
    ("vault:secret/data/shop#api_key", ("api", "key"), "API key"),
    ("<YOUR_API_KEY>", ("api", "key"), "API key"),
    ("your-client-secret-here", ("client", "secret"), "client secret"),
    ("changeme", ("admin", "password"), "admin password"),
    ("********", ("password",), "password"),
    (_masked_card, ("card", "number"), "card on file"),
    (lambda r: "***-**-" + _digits(r, 4), ("ssn",), "SSN"),
    (lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)), ("request", "id"),
     "request id"),
    (lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)), ("correlation", "id"),
     "correlation id"),
    (_hex(40), ("commit",), "commit"),
    (_hex(7), ("git", "sha"), "fixed in"),
    (lambda r: "sha512-" + _pick(r, 86, _B64) + "==", ("integrity",), "integrity hash"),
    (_hex(64), ("checksum",), "SHA-256 checksum"),
    (lambda r: f"{r.randint(1, 9)}.{r.randint(0, 30)}.{r.randint(0, 99)}", ("version",),
     "version"),
    (lambda r: f"v{r.randint(1, 4)}.{r.randint(0, 9)}.{r.randint(0, 9)}-rc.{r.randint(1, 5)}",
     ("release",), "release"),
    (_fictional_phone, ("phone",), "phone"),
    (_fictional_phone, ("contact", "phone"), "callback number"),
    ("078-05-1120", ("ssn",), "SSN"),
    ("123-45-6789", ("ssn",), "social security number"),
    ("4242 4242 4242 4242", ("card", "number"), "Stripe's test card"),
    ("5105105105105100", ("card", "number"), "test Mastercard"),
    ("6011111111111117", ("card", "number"), "Discover test card"),
    ("DE89 3704 0044 0532 0130 00", ("iban",), "the example IBAN"),
    ("FR14 2004 1010 0505 0001 3M02 606", ("iban",), "sample IBAN"),
    ("jane.doe@example.org", ("email",), "email"),
    ("203.0.113.25", ("host",), "server IP"),
    ("2001:db8:85a3::8a2e:370:7334", ("ipv6", "address"), "IPv6"),
)


def _mutate(value: str, rnd: random.Random) -> str:
    """One digit of ``value`` changed (not in the first four characters when it can)."""
    places = [i for i, c in enumerate(value) if c.isdigit() and i >= 4] \
        or [i for i, c in enumerate(value) if c.isdigit()]
    i = rnd.choice(places)
    return value[:i] + rnd.choice([d for d in _DG if d != value[i]]) + value[i + 1:]


# --- the composer --------------------------------------------------------------------------------


def _style(words: Sequence[str], case: str) -> str:
    if case == "upper":
        return "_".join(words).upper()
    if case == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if case == "pascal":
        return "".join(w.capitalize() for w in words)
    if case == "kebab":
        return "-".join(words)
    if case == "title":
        return " ".join(w.capitalize() for w in words)
    return "_".join(words)


@attrs.frozen
class _Kind:
    """A kind of document: ``lines`` hold ``{v}`` and may hold ``{name}`` (identifier
    words in this format's ``case``), ``{NAME}`` (upper case) and ``{what}`` (a sentence's
    name); ``bare`` lines name nothing (values distinctive on their own go there);
    ``noise`` lines are written between. ``escape`` is "json" for text in a JSON
    string; ``indent`` indents the continuation lines of a multi-line value."""

    prose: bool
    head: Sequence[str]
    lines: Sequence[str]
    bare: Sequence[str]
    noise: Sequence[str]
    tail: Sequence[str]
    case: str = "lower"
    escape: str = ""
    indent: str = ""


_KINDS_OF_TEXT: dict[str, _Kind] = {
    "whatsapp_export": _Kind(
        True, ["12/01/2026, 08:58 - Messages and calls are end-to-end encrypted."],
        ["12/01/2026, 09:14 - Tomas: what's the {what}?\n12/01/2026, 09:15 - Ana: {v}",
         "12/01/2026, 09:20 - Ana: {what} is {v}",
         "12/01/2026, 09:21 - Tomas: ok so {what} = {v} right?",
         "12/01/2026, 09:30 - Ana: new {what}: {v} (the old one stopped working)"],
        ["12/01/2026, 09:31 - Ana: {v}"],
        ["12/01/2026, 09:16 - Tomas: thanks!", "12/01/2026, 09:40 - Ana: <Media omitted>"],
        ["12/01/2026, 10:02 - Tomas: \U0001f44d"]),
    "irc_log": _Kind(
        True, ["--- Day changed Tue Dec 01 2026", "[09:00] * Now talking in #infra"],
        ["[09:02] <kvogel> {what}: {v}",
         "[09:03] <hana_s> kvogel: you just pasted the {what} ({v}) in channel",
         "[09:05] <kvogel> rotated, the new {what} is {v}",
         "[09:06] <jomo> {what} for staging => {v}"],
        ["[09:07] <kvogel> {v}"],
        ["[09:04] <jomo> lol", "[09:08] * hana_s has quit (Ping timeout)"],
        []),
    "google_chat_export": _Kind(
        True, ['{"messages": ['],
        ['  {"creator": {"name": "Lars N"}, "text": "{what}: {v}"},',
         '  {"creator": {"name": "Keiko T"}, "text": "the {what} we got from the vendor is {v}"},',
         '  {"creator": {"name": "Lars N"}, "text": "Q: {what}?\\nA: {v}"},'],
        ['  {"creator": {"name": "Keiko T"}, "text": "{v}"},'],
        ['  {"creator": {"name": "Lars N"}, "text": "standup in 5"},'],
        ['  {"creator": {"name": "Keiko T"}, "text": "done"}', "]}"], escape="json"),
    "linear_comment": _Kind(
        True, ["**ENG-2211** Checkout fails for some EU cards", "", "---"],
        ["@amara the {what} in prod is `{v}`, can you confirm?",
         "Repro: log in with the {what} {v} and click *Pay*.",
         "> {what}: {v}\n\nThat's the one that fails.",
         "Updated the {what} to {v} in the dashboard."],
        ["Attached log line: `{v}`"],
        ["Moved to *In Progress*", "Linked PR #4411"],
        ["", "_Synced from Slack thread_"]),
    "email_reply_chain": _Kind(
        True, ["From: Ilse Vogel", "Subject: Re: Re: access for the new contractor", ""],
        ["Hi Chidi,\n\nthe {what} is {v} - please change it on first login.",
         "> On Mon, Nov 30, 2026, Chidi wrote:\n> my {what} is {v}, can you add me?",
         ">> {what}: {v}\n> Got it, thanks.",
         "Use this {what}: {v}"],
        ["> > {v}"],
        ["Thanks,", "> Sent from my iPhone", "Best regards"],
        ["", "--", "Ilse Vogel | IT Operations"]),
    "support_call_notes": _Kind(
        True, ["CALL NOTES - case 99-1187 - 2026-12-01", "Agent: D. Alvarez", ""],
        ["- caller gave {what} {v}", "- {what} confirmed: {v}",
         "- verified identity w/ {what} ending... actually full: {v}",
         "- customer asked us to update {what} to {v}"],
        ["- read back: {v}"],
        ["- caller upset about delay", "- escalated to tier 2", "- ETA 48h"],
        ["", "Next step: callback tomorrow AM"]),
    "discourse_post": _Kind(
        True, ["### Can't connect after upgrading to 3.2", ""],
        ["I set the {what} to `{v}` like the docs say but it still fails.",
         "My config:\n```\n{name}: {v}\n```",
         "**Edit:** oops, that was my real {what} ({v}), mods please hide it"],
        ["```\n{v}\n```"],
        ["Any ideas? Thanks in advance.", "Running on Ubuntu 24.04."],
        ["", "_Solved - see reply #4_"]),
    "onboarding_email": _Kind(
        True, ["Subject: Welcome aboard - forms to complete", "", "Hi Fatima,", ""],
        ["Please confirm the details we have:\n  {What}: {v}",
         "Your {what} on the W-4 was entered as {v}.",
         "{What} ......... {v}",
         "We could not verify {what} {v}; please call HR."],
        ["Reference: {v}"],
        ["Your start date is Monday, Jan 4.", "Bring two forms of ID."],
        ["", "People Team"]),
    "httpie_transcript": _Kind(
        False, ["$ http --print=HBhb POST https://api.example-shop.com/v2/orders"],
        ["Authorization: Bearer {v}", "X-{Name}: {v}",
         '{{"{name}": "{v}", "qty": 2}}', "$ http GET api.example-shop.com/me {name}=={v}"],
        ["Location: {v}"],
        ["HTTP/1.1 201 Created", "Content-Type: application/json", "Server: nginx"],
        [], case="pascal_kebab"),
    "aws_credentials": _Kind(
        False, ["[default]", "region = eu-central-1"],
        ["{name} = {v}", "[profile ci]\n{name}={v}", "# {what} for the ci profile: {v}",
         "[profile billing]\n{name} = {v}"],
        ["# {v}"],
        ["output = json"],
        []),
    "ansible_inventory": _Kind(
        False, ["[webservers]"],
        ["web1.internal ansible_host={v} ansible_user=deploy",
         "web2.internal {name}={v}",
         "[webservers:vars]\n{name}='{v}'"],
        ["# {v}"],
        ["[dbservers]", "db1.internal"],
        []),
    "terraform_state": _Kind(
        False, ['{', '  "version": 4,', '  "resources": [{"type": "aws_db_instance", '
                '"instances": [{"attributes": {'],
        ['    "{name}": "{v}",', '    "sensitive_{name}": "{v}",'],
        ['    "tags": {"note": "{v}"},'],
        ['    "engine": "postgres",', '    "allocated_storage": 20,'],
        ['    "id": "db-1"', '  }}]}]', '}'], escape="json"),
    "php_source": _Kind(
        False, ["<?php", ""],
        ["define('{NAME}', '{v}');", "$config['{name}'] = \"{v}\";",
         "    '{name}' => env('{NAME}', '{v}'),", "$this->{name} = '{v}';"],
        ["// {v}"],
        ["return $config;", "namespace App\\Services;"],
        [], case="lower"),
    "ruby_source": _Kind(
        False, ["# config/initializers/services.rb"],
        ["{NAME} = '{v}'.freeze", "  config.{name} = \"{v}\"", "  {name}: '{v}',",
         "ENV['{NAME}'] ||= '{v}'"],
        ["# {v}"],
        ["Rails.application.configure do", "end"],
        []),
    "kotlin_source": _Kind(
        False, ["package com.exampleshop.payments", ""],
        ["    const val {NAME} = \"{v}\"", "    private val {name} = \"{v}\"",
         "    val {name}: String = \"\"\"{v}\"\"\""],
        ["    // {v}"],
        ["object Settings {", "}"],
        [], case="camel"),
    "swift_source": _Kind(
        False, ["import Foundation", ""],
        ["    static let {name} = \"{v}\"", "let {name}: String = \"{v}\"",
         "    request.setValue(\"{v}\", forHTTPHeaderField: \"{Name}\")"],
        ["    // {v}"],
        ["struct Secrets {", "}"],
        [], case="camel"),
    "typescript_source": _Kind(
        False, ["import { Client } from './client';", ""],
        ["export const {name} = '{v}';", "const client = new Client({{ {name}: \"{v}\" }});",
         "process.env.{NAME} ??= `{v}`;", "  {name}: '{v}' as const,"],
        ["// {v}"],
        ["export default client;", "type Config = Record<string, string>;"],
        [], case="camel"),
    "dotenv_commented": _Kind(
        False, ["# --- shop backend ---", "NODE_ENV=production"],
        ["# {what} (rotate quarterly)\n{NAME}={v}", "{NAME}=\"{v}\"  # from the vendor portal",
         "export {NAME}='{v}'", "{NAME}={v}"],
        ["# old: {v}"],
        ["PORT=8080", "# TODO: move to secrets manager", "LOG_LEVEL=debug"],
        []),
    "zsh_history": _Kind(
        False, [": 1764579601:0;cd ~/src/shop"],
        [": 1764579602:0;export {NAME}={v}", ": 1764579603:0;curl -u admin:{v} https://"
         "api.example-shop.com/health", ": 1764579604:0;mysql -u root -p'{v}' shop",
         ": 1764579605:0;aws configure set {name} {v}"],
        [": 1764579606:0;echo {v}"],
        [": 1764579607:0;git status", ": 1764579608:0;ls -la"],
        []),
    "csv_export": _Kind(
        False, ["# export of customers, 2026-12-01"],
        ["id,name,{name},created\n1041,Emeka Adeyemi,{v},2026-11-02",
         "id;full_name;{name}\n2207;Hana Suzuki;\"{v}\"",
         "customer_id,{name}\n88,{v}"],
        ["1042,Goran Petrovic,{v},2026-11-03"],
        ["1043,Dolores Alvarez,,2026-11-04"],
        []),
    "compose_anchors": _Kind(
        False, ["x-env: &env", "  TZ: UTC"],
        ["  {NAME}: \"{v}\"", "  {NAME}: {v}",
         "services:\n  api:\n    environment:\n      <<: *env\n      {NAME}: {v}",
         "services:\n  worker:\n    command: [\"--{name}\", \"{v}\"]"],
        ["    image: {v}"],
        ["    restart: unless-stopped", "    ports: [\"8080:8080\"]"],
        [], case="kebab"),
    "postman_environment": _Kind(
        False, ['{"name": "Shop - prod", "values": ['],
        ['  {"key": "{name}", "value": "{v}", "type": "secret", "enabled": true},',
         '  {"key": "{name}", "value": "{v}", "type": "default", "enabled": true},'],
        ['  {"key": "note", "value": "{v}", "enabled": false},'],
        ['  {"key": "baseUrl", "value": "https://api.example-shop.com", "enabled": true},'],
        ['  {"key": "timeout", "value": "30"}', "]}"], case="camel", escape="json"),
    "kubeconfig": _Kind(
        False, ["apiVersion: v1", "kind: Config", "users:", "- name: ci"],
        ["  user:\n    token: {v}", "  user:\n    {name}: {v}",
         "  user:\n    client-key: |\n      {v}"],
        ["    server: https://{v}:6443"],
        ["current-context: prod", "preferences: {}"],
        [], case="kebab", indent="      "),
    "spring_yaml": _Kind(
        False, ["spring:", "  application:", "    name: payments"],
        ["  datasource:\n    {name}: {v}", "    {name}: \"{v}\"",
         "app:\n  {name}: ${{{NAME}:{v}}}"],
        ["  # {v}"],
        ["server:\n  port: 8443", "logging:\n  level:\n    root: INFO"],
        [], case="kebab", indent="      "),
    "db_shell_session": _Kind(
        False, ["$ redis-cli -h cache-01.internal"],
        ["cache-01.internal:6379> AUTH {v}\nOK",
         "cache-01.internal:6379> SET {name} \"{v}\"\nOK",
         "shop> db.users.updateOne({{_id: 7}}, {{$set: {{{name}: \"{v}\"}}}})",
         "shop> db.createUser({{user: \"app\", pwd: \"{v}\", roles: [\"readWrite\"]}})"],
        ["\"{v}\""],
        ["cache-01.internal:6379> PING\nPONG", "shop> show collections"],
        [], case="camel"),
}

#: Lines that take values of some types only: kind of text -> line -> the types.
_ONLY_FOR: dict[str, dict[int, set[str]]] = {
    "httpie_transcript": {0: {"jwt", "vendor_token", "github_token", "openai_api_key",
                              "anthropic_api_key"}},
    "aws_credentials": {0: {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"},
                        1: {"aws_access_key_id", "aws_secret_access_key",
                            "aws_session_token"}},
    "ansible_inventory": {0: {"ipv4", "ipv6"}},
    "zsh_history": {1: {"password"}, 2: {"password"}},
    "kubeconfig": {0: {"jwt", "vendor_token"}, 2: {"private_key"}},
    "db_shell_session": {0: {"password"}, 3: {"password"}},
}

#: Lines that fit only some kinds of look-alike: a pure reference never sits in a URL.
_BARE_ONLY = {"Location: {v}": {"url_password", "azure_sas_signature"},
              "    image: {v}": set(), "    server: https://{v}:6443": {"ipv4"}}


def _bare_ok(line: str, kind: str) -> bool:
    if line in _BARE_ONLY:
        return kind in _BARE_ONLY[line]
    return kind in _DISTINCTIVE


class _Doc:
    """Text being written; :meth:`put` writes a line holding a value and records its span."""

    def __init__(self, kind: _Kind) -> None:
        self.kind = kind
        self.text = ""
        self.spans: list[PlantedG] = []

    def raw(self, line: str) -> None:
        self.text += line + "\n"

    def put(self, line: str, value: str, shown: str, label: str | None, decoy: str) -> None:
        before, after = line.split("{v}", 1)
        if "\n" in shown and self.kind.indent:
            shown = shown.replace("\n", "\n" + self.kind.indent)
            value = value.replace("\n", "\n" + self.kind.indent)
        if self.kind.escape == "json":
            value, shown = json.dumps(value)[1:-1], json.dumps(shown)[1:-1]
        start = len(self.text) + len(before) + shown.index(value)
        self.text += before + shown + after + "\n"
        assert self.text[start:start + len(value)] == value
        self.spans.append((start, start + len(value), label, self.kind.prose, decoy))


def _fill(line: str, words: Sequence[str], kind: _Kind, what: str) -> str:
    """``line`` with its name slots filled; ``{{`` and ``}}`` become literal braces."""
    header = "-".join(w.capitalize() for w in words)
    name = header if kind.case == "pascal_kebab" else _style(words, kind.case) if words else ""
    for key, word in (("{name}", name), ("{NAME}", _style(words, "upper")), ("{Name}", header),
                      ("{What}", what[:1].upper() + what[1:]), ("{what}", what)):
        line = line.replace(key, word)
    return line.replace("{{", "{").replace("}}", "}")


def _line(rnd: random.Random, name: str, kind: _Kind, type_: str, words: Sequence[str],
          what: str) -> str:
    limits = _ONLY_FOR.get(name, {})
    options = [i for i in range(len(kind.lines)) if i not in limits or type_ in limits[i]]
    preferred = [i for i in options if i in limits]
    index = rnd.choice(preferred) if preferred and rnd.random() < 0.5 else rnd.choice(options)
    return _fill(kind.lines[index], words, kind, what)


def _shown(type_: str, value: str, rnd: random.Random) -> str:
    if type_ == "url_password":
        return _in_url(value, rnd)
    if type_ == "azure_sas_signature":
        return _sas_url(value, rnd)
    return value


def documents_g(seed: int, count: int) -> list[tuple[str, list[PlantedG]]]:
    """``count`` documents of set G, kinds of text in turn, each with 2-4 planted values,
    one look-alike and, in two thirds, a one-digit-mutated card number or IBAN."""
    rnd = random.Random(seed)
    generators = {**SECRETS_G, **PERSONAL_G}
    names = sorted(_KINDS_OF_TEXT)
    out = []
    for number in range(count):
        name = names[number % len(names)]
        kind = _KINDS_OF_TEXT[name]
        doc = _Doc(kind)
        for line in kind.head:
            doc.raw(line)
        entries: list[tuple[str, str | None, str]] = [
            (t, t, "") for t in rnd.sample(KINDS_G, rnd.randint(2, 4))]
        twin = rnd.choice(("payment_card", "iban", None))
        if twin is not None:
            entries.append((twin, None, "mutated"))
        entries.append(("lookalike", None, "lookalike"))
        rnd.shuffle(entries)
        for type_, label, decoy in entries:
            if decoy == "lookalike":
                made, words, what = rnd.choice(_LOOKALIKES)
                value = made if isinstance(made, str) else made(rnd)
                doc.put(_line(rnd, name, kind, "lookalike", words, what), value, value,
                        None, decoy)
                continue
            value = generators[type_](rnd)
            if decoy == "mutated":
                value = _mutate(value, rnd)
            bare = [b for b in kind.bare if _bare_ok(b, type_)]
            if decoy == "" and bare and rnd.random() < 0.15:
                line = _fill(rnd.choice(bare), (), kind, "")
            else:
                words_choices, whats = _NAMING[type_]
                line = _line(rnd, name, kind, type_, rnd.choice(words_choices),
                             rnd.choice(whats))
            doc.put(line, value, _shown(type_, value, rnd), label, decoy)
            if rnd.random() < 0.35:
                doc.raw(rnd.choice(kind.noise))
        for line in kind.tail:
            doc.raw(line)
        out.append((doc.text, doc.spans))
    return out
