"""The sixth fresh held-out set of the privacy benchmark (set H): HELD OUT.

Written on 2026-12-07 after set G had been evaluated (and spent), before any of round 6's
detector changes and without running the detectors on it; committed on its own first.
``benchmarks/privacy.py`` scores it once, at the end of round 6, as "held-out H"; a miss
found here is reported, not fixed against this set.

Nothing here comes from sets A-G: no Faker, no ``athena_core`` import (Luhn, mod-97 and
the SSN rules are written again below), its own value generators and its own composer.
Each document is one artifact of a kind no earlier set uses (:data:`_ARTIFACTS`):

* prose: Telegram exports, support tickets (helpdesk form), meeting transcripts with
  speakers and times, e-mail signatures, invoices, HR forms, medical intake forms, bank
  statements, Zoom chat logs;
* machine text: GitHub Actions logs and workflow YAML, Jenkinsfiles, Vercel, Netlify and
  Fly configuration, ``.env.example`` next to ``.env``, Rails ``credentials.yml``, Laravel
  ``.env``, Django ``settings.py``, Java ``.properties``, Go, Elixir, Scala and C++
  source, PowerShell and fish history, Windows registry exports, HTTP archives (HAR),
  GraphQL requests, SQL dumps with ``INSERT`` rows.

Values: vendors' documented token formats no earlier set plants (checked against each
vendor's documentation or its published secret-scanning pattern: lengths and alphabets
as written there), AWS session tokens of both generations, Azure SAS signatures (the
base64 of 32 bytes, URL-encoded) in URLs and connection strings, passwords as people
really make them, cards of every listed issuer range with one-digit-mutated twins, IBANs
of 40 countries with the registry's BBAN shapes, SSNs with dashes, spaces, dots or none,
phones of 24 countries.

Decoys sit where such values really sit: documented example keys (the Azurite storage
key, GitHub's documentation token, AWS's ``AKIAIOSFODNN7EXAMPLE``), references
(``${VAR}``, ``%VAR%``, ``$env:VAR``, ``<%= ENV[...] %>``, ``op://``, ``vault:``,
``{{ secrets.X }}``), Rails' ``[FILTERED]``, masks and truncations, placeholders,
hashes, UUIDs, fictional numbers (US 555-0100..555-0199, UK 07700 900xxx), advertised
and invalid SSNs, the processors' test cards, documented example IBANs, documentation
addresses, and one-digit-mutated card numbers and IBANs where a card number or IBAN goes.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable, Sequence
from urllib.parse import quote

import attrs

__all__ = ["KINDS_H", "PlantedH", "documents_h"]

_LOWER = string.ascii_lowercase
_UPPER = string.ascii_uppercase
_DIGITS = string.digits
_ALNUM = string.ascii_letters + string.digits
_BASE64 = _ALNUM + "+/"
_URLSAFE = _ALNUM + "_-"
_HEXLO = "0123456789abcdef"

#: (start, end, type or None for a decoy, in prose, decoy kind: "lookalike" or "mutated").
PlantedH = tuple[int, int, "str | None", bool, str]


def _draw(rnd: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def _num(rnd: random.Random, n: int) -> str:
    return _draw(rnd, n, _DIGITS)


# --- checksums, written again ------------------------------------------------------------


def _luhn_digit(body: str) -> str:
    """The check digit that completes ``body`` under the Luhn rule (ISO/IEC 7812)."""
    total = 0
    for index, ch in enumerate(body[::-1]):
        value = int(ch)
        if index % 2 == 0:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


def _iban(country: str, bban: str) -> str:
    digits = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return country + f"{98 - int(digits) % 97:02d}" + bban


# --- personal values ------------------------------------------------------------------------

#: (first digits, lengths, how the issuer groups them): every issuer range the detectors list.
_CARD_RANGES: tuple[tuple[Callable[[random.Random], str], tuple[int, ...]], ...] = (
    (lambda r: "4", (16, 13, 19)),                                       # Visa
    (lambda r: str(r.randint(51, 55)), (16,)),                           # Mastercard
    (lambda r: str(r.randint(2221, 2720)), (16,)),                       # Mastercard 2-series
    (lambda r: r.choice(("34", "37")), (15,)),                           # Amex
    (lambda r: r.choice(("6011", "65", str(r.randint(644, 649)),
                         str(r.randint(622126, 622925)))), (16, 19)),    # Discover
    (lambda r: str(r.randint(3528, 3589)), (16,)),                       # JCB
    (lambda r: r.choice(("1800", "2131")), (15,)),                       # JCB (old)
    (lambda r: r.choice((str(r.randint(300, 305)), "36", "3095")), (14,)),  # Diners
    (lambda r: r.choice(("50", "56", "57", "58", "63", "67")), (12, 16, 18, 19)),  # Maestro
)


def card_h(rnd: random.Random) -> str:
    head, lengths = rnd.choice(_CARD_RANGES)
    prefix = head(rnd)
    size = rnd.choice(lengths)
    body = prefix + _num(rnd, size - len(prefix) - 1)
    number = body + _luhn_digit(body)
    writing = rnd.randrange(6)
    if writing <= 1:
        return number
    sep = "-" if writing == 2 else " "
    if size == 15:
        return sep.join((number[:4], number[4:10], number[10:]))
    if size == 14 and writing == 3:
        return sep.join((number[:4], number[4:10], number[10:]))
    return sep.join(number[i:i + 4] for i in range(0, size, 4))


#: Country -> BBAN shape from the SWIFT IBAN registry (n digit, a capital, c either).
_BBAN_H = {
    "GB": "aaaa" + "n" * 14, "NL": "aaaa" + "n" * 10, "IT": "a" + "n" * 10 + "c" * 12,
    "CH": "n" * 5 + "c" * 12, "AT": "n" * 16, "NO": "n" * 11, "FI": "n" * 14,
    "LU": "n" * 3 + "c" * 13, "HU": "n" * 24, "RO": "aaaa" + "c" * 16, "HR": "n" * 17,
    "SI": "n" * 15, "SK": "n" * 20, "LT": "n" * 16, "GR": "n" * 7 + "c" * 16,
    "IS": "n" * 22, "LI": "n" * 5 + "c" * 12, "MT": "aaaa" + "n" * 5 + "c" * 18,
    "MC": "n" * 10 + "c" * 11 + "nn", "SM": "a" + "n" * 10 + "c" * 12,
    "TR": "n" * 5 + "0" + "c" * 16, "SA": "nn" + "c" * 18, "AE": "n" * 19, "IL": "n" * 19,
    "EG": "n" * 25, "KZ": "nnn" + "c" * 13, "AZ": "aaaa" + "c" * 20, "XK": "n" * 16,
    "AL": "n" * 8 + "c" * 16, "ME": "n" * 18, "RS": "n" * 18, "MK": "nnn" + "c" * 10 + "nn",
    "TN": "n" * 20, "FO": "n" * 14, "GL": "n" * 14, "GI": "aaaa" + "c" * 15,
    "AD": "n" * 8 + "c" * 12, "CR": "0" + "n" * 17, "VA": "n" * 18, "LB": "n" * 4 + "c" * 20,
}


def iban_h(rnd: random.Random) -> str:
    country = rnd.choice(sorted(_BBAN_H))
    chars = {"n": _DIGITS, "a": _UPPER, "c": _UPPER + _DIGITS, "0": "0"}
    value = _iban(country, "".join(rnd.choice(chars[c]) for c in _BBAN_H[country]))
    if rnd.random() < 0.55:
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def ssn_h(rnd: random.Random) -> str:
    """An SSN that could have been issued: area 001-899 but 666, group and serial not zero."""
    area = rnd.randint(1, 899)
    while area == 666:
        area = rnd.randint(1, 899)
    a, g, s = f"{area:03d}", f"{rnd.randint(1, 99):02d}", f"{rnd.randint(1, 9999):04d}"
    return rnd.choice((f"{a}-{g}-{s}", f"{a}-{g}-{s}", f"{a} {g} {s}", f"{a}{g}{s}",
                       f"{a}.{g}.{s}", f"{a}-{g}-{s}"))


def _us_line(rnd: random.Random) -> tuple[str, str]:
    area = rnd.choice((213, 267, 312, 347, 404, 469, 503, 602, 612, 713, 786, 857, 917, 929))
    exchange = rnd.choice([e for e in range(201, 1000) if e != 555 and e % 100 != 11])
    return str(area), str(exchange)


def phone_h(rnd: random.Random) -> str:
    """Numbers of 24 countries, international and national, none in a fictional range."""
    n = lambda k: _num(rnd, k)  # noqa: E731
    area, exchange = _us_line(rnd)
    uk = "7" + rnd.choice(("4", "5", "8", "9")) + n(2)  # not 7700 (Ofcom's drama range)
    return rnd.choice((
        f"+44 {uk} {n(6)}", f"0{uk} {n(3)} {n(3)}", f"+353 87 {n(3)} {n(4)}",
        f"+39 3{n(2)} {n(3)} {n(4)}", f"+31 6 {n(4)} {n(4)}", f"06-{n(8)}",
        f"+41 79 {n(3)} {n(2)} {n(2)}", f"+43 664 {n(7)}", f"+47 4{n(2)} {n(2)} {n(3)}",
        f"+358 40 {n(3)} {n(4)}", f"+48 5{n(2)} {n(3)} {n(3)}", f"+90 5{n(2)} {n(3)} {n(2)} {n(2)}",
        f"+972 5{n(1)}-{n(3)}-{n(4)}", f"+65 8{n(3)} {n(4)}", f"+852 9{n(3)} {n(4)}",
        f"+82 10-{n(4)}-{n(4)}", f"+86 138 {n(4)} {n(4)}", f"+61 4{n(2)} {n(3)} {n(3)}",
        f"+234 803 {n(3)} {n(4)}", f"+20 10 {n(4)} {n(4)}", f"+54 9 11 {n(4)}-{n(4)}",
        f"+56 9 {n(4)} {n(4)}", f"+1 {area} {exchange} {n(4)}", f"({area}) {exchange}-{n(4)}",
        f"{area}-{exchange}-{n(4)}", f"+1-{area}-{exchange}-{n(4)}",
    ))


_GIVEN = ["aoife", "bartek", "chiara", "dmitri", "elif", "farid", "greta", "hiroshi",
          "ines", "joon", "kwame", "lucia"]
_FAMILY = ["murphy", "kowalski", "rossi", "ivanov", "yilmaz", "haddad", "berg", "sato",
           "moreau", "park", "mensah", "fernandez"]
_MAILHOSTS = ["eircom.net", "wp.pl", "libero.it", "yandex.ru", "hotmail.co.uk", "naver.com",
              "bluewin.ch", "web.de", "icloud.com", "fastmail.fm", "t-online.de", "sapo.pt"]


def email_h(rnd: random.Random) -> str:
    given, family = rnd.choice(_GIVEN), rnd.choice(_FAMILY)
    local = rnd.choice((f"{given}.{family}", f"{given}{family[0]}", f"{family}.{given[0]}",
                        f"{given}_{rnd.randint(10, 99)}", f"{given[0]}{family}",
                        f"{given}.{family}+billing"))
    return f"{local}@{rnd.choice(_MAILHOSTS)}"


def ipv4_h(rnd: random.Random) -> str:
    reserved = {0, 10, 100, 127, 169, 172, 192, 198, 203, 224}
    first = rnd.choice([a for a in range(1, 224) if a not in reserved])
    return f"{first}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(2, 254)}"


def ipv6_h(rnd: random.Random) -> str:
    head = rnd.choice(("2a02:6b8", "2607:f8b0", "2a01:4f8", "2406:da00", "2001:4860"))
    rest = [f"{rnd.randint(1, 0xffff):x}" for _ in range(6)]
    if rnd.random() < 0.4:
        return f"{head}:{rest[0]}:{rest[1]}::{rest[5]}"
    return ":".join([head, *rest])


# --- secrets ----------------------------------------------------------------------------------

_PETS = ["Biscuit", "Luna", "Max", "Pepper", "Rocky", "Coco", "Milo", "Bella"]
_PHRASE = ["anchor", "velvet", "orbit", "cactus", "lantern", "walrus", "plasma", "thistle",
           "violet", "glacier", "copper", "nimbus"]


def password_h(rnd: random.Random) -> str:
    """Passwords as people and their tools really make them."""
    style = rnd.randrange(9)
    if style == 0:  # a pet's name and a year
        return rnd.choice(_PETS) + str(rnd.randint(2005, 2025)) + rnd.choice(("!", "", "?", "*"))
    if style == 1:  # the policy-satisfying classic
        return rnd.choice(("Password", "Welcome", "Company", "Letmein", "Qwerty")) + str(
            rnd.randint(1, 2026)) + rnd.choice(("!", "@", "#", "$"))
    if style == 2:  # a sentence's initials
        return rnd.choice(("Ilmd2Tb!", "Mfcwb1983#", "Tqbfj0tld", "IwbiP&2012")) + _num(rnd, 2)
    if style == 3:  # 1Password's memorable password
        return "-".join(rnd.sample(_PHRASE, 3)) + "-" + _num(rnd, 2)
    if style == 4:  # 1Password's random password
        return _draw(rnd, 20, _ALNUM + "!#%&*+-=?@^_")
    if style == 5:  # LastPass's 12 characters, avoiding ambiguous ones
        return _draw(rnd, 12, "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    if style == 6:  # a name, a symbol and a birth year
        return rnd.choice(("Maria", "Kevin", "Sunita", "Javier")) + rnd.choice(
            ("@", "#", ".", "_")) + str(rnd.randint(1960, 2004))
    if style == 7:  # apg -a 1 style
        return _draw(rnd, 16, _ALNUM + "~!@#$%^&*()")
    return base64.b64encode(bytes(rnd.getrandbits(8) for _ in range(18))).decode()


def _pem_h(rnd: random.Random) -> str:
    label = rnd.choice(("RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY",
                        "OPENSSH PRIVATE KEY"))
    body = [_draw(rnd, 64 if label != "OPENSSH PRIVATE KEY" else 70, _BASE64)
            for _ in range(rnd.randint(4, 8))]
    return (f"-----BEGIN {label}-----\n" + "\n".join(body) + "\n" +
            _draw(rnd, rnd.randint(10, 50), _BASE64) + "=\n" + f"-----END {label}-----")


def _jwt_h(rnd: random.Random) -> str:
    def part(obj: object) -> str:
        text = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(text).decode().rstrip("=")
    head = {"alg": rnd.choice(("RS256", "ES256", "HS512")), "kid": _draw(rnd, 8, _HEXLO)}
    body = {"sub": str(uuid.UUID(int=rnd.getrandbits(128))), "aud": "billing-api",
            "iat": rnd.randint(1_750_000_000, 1_790_000_000), "roles": ["admin"]}
    return f"{part(head)}.{part(body)}.{_draw(rnd, rnd.choice((43, 86)), _URLSAFE)}"


def _session_token(rnd: random.Random) -> str:
    """An STS session token: the current (``IQoJb3JpZ2luX2Vj``) or older (``FwoGZXIvYXdzE``)
    generation, base64 with runs of ``/``."""
    if rnd.random() < 0.6:
        head = "IQoJb3JpZ2luX2Vj" + rnd.choice(("EJr", "EOH", "EPz", "ENn")) + "//////////" \
            + "wEaCXVzLWVhc3QtMSJ"
        return head + _draw(rnd, rnd.choice((280, 420, 600)), _BASE64) + rnd.choice(("", "="))
    return "FwoGZXIvYXdzE" + _draw(rnd, rnd.choice((2, 3)), _UPPER) + "aDM" + \
        _draw(rnd, rnd.choice((250, 330)), _BASE64)


def _sas_signature(rnd: random.Random) -> str:
    """An Azure SAS ``sig``: the base64 of an HMAC-SHA256, URL-encoded."""
    return quote(base64.b64encode(bytes(rnd.getrandbits(8) for _ in range(32))).decode(),
                 safe="")


#: Vendors' documented token formats no earlier set plants.
_VENDORS_H: tuple[Callable[[random.Random], str], ...] = (
    lambda r: "GOCSPX-" + _draw(r, 28, _URLSAFE),                          # Google client secret
    lambda r: _draw(r, 3, _ALNUM) + "8Q~" + _draw(r, 34, _ALNUM + "_~.-"),  # Entra client secret
    lambda r: r.choice("MN") + _draw(r, 25) + "." + _draw(r, 6, _URLSAFE) + "."
    + _draw(r, 38, _URLSAFE),                                               # Discord bot
    lambda r: "00" + _draw(r, 40, _URLSAFE),                               # Okta API token
    lambda r: "v1.0-" + _draw(r, 24, _HEXLO) + "-" + _draw(r, 146, _HEXLO),  # Cloudflare CA key
    lambda r: "sl." + _draw(r, 135, _URLSAFE),                             # Dropbox short-lived
    lambda r: "FLWSECK-" + _draw(r, 32, "abcdefgh0123456789") + "-X",      # Flutterwave
    lambda r: "EZAK" + _draw(r, 54, _LOWER + _DIGITS),                     # EasyPost
    lambda r: "duffel_live_" + _draw(r, 43, _URLSAFE),                     # Duffel
    lambda r: "rdme_" + _draw(r, 70, _LOWER + _DIGITS),                    # ReadMe
    lambda r: "tk-us-" + _draw(r, 48, _URLSAFE),                           # Scalingo
    lambda r: "ico-" + _draw(r, 32),                                       # Infracost
    lambda r: "API-" + _draw(r, 26, _UPPER + _DIGITS),                     # Octopus Deploy
    lambda r: "LTAI" + _draw(r, 20),                                       # Alibaba access key
    lambda r: "AQVN" + _draw(r, 36, _URLSAFE),                             # Yandex API key
    lambda r: "shpca_" + _draw(r, 32, _HEXLO),                             # Shopify custom app
    lambda r: "pat." + _draw(r, 22, _URLSAFE) + "." + _draw(r, 24) + "." + _draw(r, 20),  # Harness
    lambda r: "oy2" + _draw(r, 43, _LOWER + _DIGITS),                      # NuGet API key
    lambda r: "dnkey-" + _draw(r, 26, _LOWER + _DIGITS) + "-" + _draw(r, 52, _LOWER + _DIGITS),
    lambda r: "1//0" + _draw(r, 99, _URLSAFE),                             # Google refresh token
)

SECRETS_H: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: r.choice(("AKIA", "ASIA")) + _draw(r, 16, _UPPER + "234567"),
    "aws_secret_access_key": lambda r: _draw(r, 40, _BASE64),
    "aws_session_token": _session_token,
    "azure_sas_signature": _sas_signature,
    "github_token": lambda r: (
        "github_pat_11" + _draw(r, 20, _UPPER + _DIGITS) + "_" + _draw(r, 59)
        if r.random() < 0.3 else r.choice(("ghp_", "gho_", "ghu_", "ghs_")) + _draw(r, 36)),
    "gitlab_token": lambda r: "glpat-" + _draw(r, 20, _URLSAFE),
    "slack_token": lambda r: r.choice((
        "xoxb-" + _num(r, 12) + "-" + _num(r, 13) + "-" + _draw(r, 24),
        "xoxp-" + _num(r, 12) + "-" + _num(r, 12) + "-" + _num(r, 13) + "-" + _draw(r, 32, _HEXLO),
        "https://hooks.slack.com/services/T" + _draw(r, 8, _UPPER + _DIGITS) + "/B"
        + _draw(r, 10, _UPPER + _DIGITS) + "/" + _draw(r, 24))),
    "stripe_key": lambda r: r.choice(("sk_live_", "rk_live_")) + _draw(r, r.choice((24, 99))),
    "openai_api_key": lambda r: "sk-proj-" + _draw(r, 74, _URLSAFE) + "T3BlbkFJ"
    + _draw(r, 74, _URLSAFE),
    "anthropic_api_key": lambda r: "sk-ant-api03-" + _draw(r, 93, _URLSAFE) + "AA",
    "jwt": _jwt_h,
    "private_key": _pem_h,
    "pypi_token": lambda r: "pypi-AgEIcHlwaS5vcmc" + _draw(r, rnd_pypi(r), _URLSAFE),
    "huggingface_token": lambda r: "hf_" + _draw(r, 34, string.ascii_letters),
    "twilio_api_key": lambda r: "SK" + _draw(r, 32, _HEXLO),
    "sendgrid_api_key": lambda r: "SG." + _draw(r, 22, _URLSAFE) + "." + _draw(r, 43, _URLSAFE),
    "google_api_key": lambda r: "AIza" + _draw(r, 35, _URLSAFE),
    "digitalocean_token": lambda r: "dop_v1_" + _draw(r, 64, _HEXLO),
    "vendor_token": lambda r: r.choice(_VENDORS_H)(r),
    "client_secret": lambda r: _draw(r, r.choice((32, 40, 48)), _ALNUM + "-_"),
    "password": password_h,
    "url_password": lambda r: _draw(r, r.randint(12, 28), _ALNUM + "-_.~"),
}


def rnd_pypi(rnd: random.Random) -> int:
    return rnd.choice((70, 120, 160))


PERSONAL_H: dict[str, Callable[[random.Random], str]] = {
    "email": email_h, "phone": phone_h, "payment_card": card_h, "iban": iban_h,
    "us_ssn": ssn_h, "ipv4": ipv4_h, "ipv6": ipv6_h}
#: Every type set H plants.
KINDS_H = tuple(sorted({**SECRETS_H, **PERSONAL_H}))

#: Values whose format says what they are, so a line need not name them.
_SELF_EVIDENT = frozenset({
    "email", "payment_card", "iban", "ipv4", "ipv6", "aws_access_key_id", "github_token",
    "gitlab_token", "slack_token", "stripe_key", "openai_api_key", "anthropic_api_key", "jwt",
    "private_key", "pypi_token", "sendgrid_api_key", "google_api_key", "digitalocean_token",
    "url_password", "azure_sas_signature"})

#: Type -> (identifier words, ways a sentence names it).
_LABELS: dict[str, tuple[Sequence[Sequence[str]], Sequence[str]]] = {
    "email": ((("email",), ("contact", "email"), ("billing", "email"), ("notify", "email")),
              ("email", "e-mail", "email address", "work email", "contact email")),
    "phone": ((("phone",), ("mobile",), ("tel",), ("phone", "number"), ("emergency", "phone")),
              ("phone", "mobile", "tel.", "phone number", "cell", "mobile no.", "WhatsApp")),
    "payment_card": ((("card", "number"), ("cc", "number"), ("pan",), ("card", "no")),
                     ("card number", "credit card", "card", "Visa", "card no.")),
    "iban": ((("iban",), ("payee", "iban"), ("bank", "account"), ("iban", "number")),
             ("IBAN", "bank account", "IBAN (payee)", "account number (IBAN)")),
    "us_ssn": ((("ssn",), ("social", "security", "number"), ("patient", "ssn"),
                ("employee", "ssn"), ("tin",)),
               ("SSN", "Social Security No.", "social security number", "SSN#", "SS#")),
    "ipv4": ((("host",), ("ip",), ("bind", "address"), ("peer", "ip")),
             ("IP", "IP address", "public IP", "host", "origin IP")),
    "ipv6": ((("ipv6",), ("host", "ipv6")), ("IPv6 address", "v6 IP")),
    "aws_access_key_id": ((("aws", "access", "key", "id"), ("access", "key", "id")),
                          ("AWS access key", "access key id")),
    "aws_secret_access_key": ((("aws", "secret", "access", "key"), ("aws", "secret", "key")),
                              ("AWS secret", "secret access key")),
    "aws_session_token": ((("aws", "session", "token"), ("session", "token"),
                           ("security", "token")),
                          ("session token", "AWS session token", "security token")),
    "azure_sas_signature": ((("sas", "token"), ("sas", "url"), ("blob", "sas")),
                            ("SAS URL", "SAS token", "blob SAS")),
    "github_token": ((("github", "token"), ("gh", "pat")), ("GitHub token", "GitHub PAT")),
    "gitlab_token": ((("gitlab", "token"), ("gitlab", "pat")), ("GitLab token", "GitLab PAT")),
    "slack_token": ((("slack", "token"), ("slack", "webhook")), ("Slack token", "slack hook")),
    "stripe_key": ((("stripe", "secret", "key"), ("stripe", "key")), ("Stripe key",
                                                                       "Stripe secret key")),
    "openai_api_key": ((("openai", "api", "key"),), ("OpenAI key", "OpenAI API key")),
    "anthropic_api_key": ((("anthropic", "api", "key"), ("claude", "api", "key")),
                          ("Anthropic API key",)),
    "jwt": ((("access", "token"), ("auth", "token"), ("bearer",)),
            ("access token", "bearer token", "JWT")),
    "private_key": ((("private", "key"), ("tls", "key"), ("deploy", "key")),
                    ("private key", "TLS key", "deploy key")),
    "pypi_token": ((("pypi", "token"), ("twine", "password")), ("PyPI token", "upload token")),
    "huggingface_token": ((("hf", "token"), ("huggingface", "token")),
                          ("Hugging Face token", "HF token")),
    "twilio_api_key": ((("twilio", "api", "key"), ("twilio", "key")), ("Twilio API key",)),
    "sendgrid_api_key": ((("sendgrid", "api", "key"),), ("SendGrid key",)),
    "google_api_key": ((("google", "api", "key"), ("maps", "api", "key")),
                       ("Google API key", "Maps key")),
    "digitalocean_token": ((("do", "token"), ("digitalocean", "token")),
                           ("DigitalOcean token", "DO token")),
    "vendor_token": ((("api", "key"), ("api", "token"), ("access", "token"), ("secret", "key"),
                      ("service", "token")),
                     ("API key", "API token", "access token", "secret key", "service token")),
    "client_secret": ((("client", "secret"), ("oauth", "client", "secret"), ("app", "secret")),
                      ("client secret", "OAuth client secret", "app secret")),
    "password": ((("password",), ("db", "password"), ("smtp", "password"), ("admin", "pass"),
                  ("pwd",), ("db", "pass")),
                 ("password", "pw", "admin password", "DB password", "new password",
                  "temp password", "passcode")),
    "url_password": ((("database", "url"), ("broker", "url"), ("dsn",)),
                     ("connection string", "database URL", "DSN")),
}


def _credential_url(value: str, rnd: random.Random) -> str:
    return rnd.choice((f"postgresql://billing:{value}@pg-main.prod.lan:5432/billing",
                       f"mysql://wp_admin:{value}@10.0.4.12:3306/wordpress",
                       f"amqps://svc_orders:{value}@mq.prod.lan/orders",
                       f"redis://default:{value}@redis-prod.lan:6379/0",
                       f"https://deploy:{value}@git.prod.lan/ops/infra.git"))


def _sas_shown(value: str, rnd: random.Random) -> str:
    account = rnd.choice(("invoicesprod", "mediastore01", "backupsweu"))
    query = (f"sv=2023-11-03&ss=b&srt=sco&sp=rwdlac&se=2027-01-31T12:00:00Z"
             f"&st=2026-12-01T00:00:00Z&spr=https&sig={value}")
    return rnd.choice((f"https://{account}.blob.core.windows.net/?{query}",
                       f"BlobEndpoint=https://{account}.blob.core.windows.net/;"
                       f"SharedAccessSignature={query}",
                       f"https://{account}.blob.core.windows.net/reports/q4.pdf?{query}"))


# --- decoys -----------------------------------------------------------------------------------


def _hexes(n: int) -> Callable[[random.Random], str]:
    return lambda r: _draw(r, n, _HEXLO)


def _fiction_us(rnd: random.Random) -> str:
    """The range set aside for fiction: any area code, exchange 555, lines 0100-0199."""
    area, line = rnd.randint(201, 989), f"01{rnd.randint(0, 99):02d}"
    return rnd.choice((f"({area}) 555-{line}", f"{area}-555-{line}", f"+1 {area} 555 {line}",
                       f"{area}.555.{line}", f"1-{area}-555-{line}"))


def _fiction_uk(rnd: random.Random) -> str:
    """Ofcom's numbers for drama: mobile 07700 900000-900999."""
    tail = f"{rnd.randint(0, 999):03d}"
    return rnd.choice((f"07700 900{tail}", f"+44 7700 900{tail}", f"07700900{tail}"))


def _masked(rnd: random.Random) -> str:
    tail = _num(rnd, 4)
    return rnd.choice((f"xxxx-xxxx-xxxx-{tail}", f"************{tail}",
                       f"Visa ending {tail}", f"**** {tail}"))


#: (value or maker, identifier words, how a sentence names it): decoys where they really sit.
_DECOYS_H: tuple[tuple[str | Callable[[random.Random], str], Sequence[str], str], ...] = (
    ("AKIAIOSFODNN7EXAMPLE", ("aws", "access", "key", "id"), "AWS access key"),
    ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ("aws", "secret", "access", "key"),
     "AWS secret"),
    ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
     ("azure", "storage", "key"), "Azurite's account key"),
    ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", ("github", "token"), "GitHub token"),
    ("${DATABASE_PASSWORD}", ("db", "password"), "DB password"),
    ("%SMTP_PASSWORD%", ("smtp", "password"), "SMTP password"),
    ("$env:API_KEY", ("api", "key"), "API key"),
    ("<%= ENV['STRIPE_SECRET_KEY'] %>", ("stripe", "secret", "key"), "Stripe key"),
    ("${{ secrets.DEPLOY_TOKEN }}", ("deploy", "token"), "deploy token"),
    ("op://Shared/Mailgun/credential", ("api", "key"), "API key"),
    ("vault:kv/data/billing#db_password", ("db", "password"), "DB password"),
    ("[FILTERED]", ("password",), "password"),
    ("<redacted>", ("client", "secret"), "client secret"),
    ("REPLACE_ME", ("api", "token"), "API token"),
    ("your_password_here", ("password",), "password"),
    ("sk-proj-...x9Qa", ("openai", "api", "key"), "OpenAI key"),
    ("xoxb-***", ("slack", "token"), "Slack token"),
    (_masked, ("card", "number"), "card on file"),
    (lambda r: "XXX-XX-" + _num(r, 4), ("ssn",), "SSN"),
    (lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)), ("trace", "id"), "trace id"),
    (lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)), ("tenant", "id"), "tenant id"),
    (_hexes(40), ("sha",), "commit"),
    (_hexes(64), ("sha256",), "SHA-256"),
    (lambda r: "sha256:" + _draw(r, 64, _HEXLO), ("digest",), "image digest"),
    (lambda r: f"{r.randint(1, 20)}.{r.randint(0, 40)}.{r.randint(0, 9)}", ("version",),
     "version"),
    (_fiction_us, ("phone",), "phone"),
    (_fiction_us, ("support", "phone"), "support line"),
    (_fiction_uk, ("mobile",), "mobile"),
    ("078-05-1120", ("ssn",), "SSN"),
    ("219-09-9999", ("ssn",), "SSN"),
    (lambda r: r.choice(("000", "666")) + "-" + _num(r, 2) + "-" + _num(r, 4), ("ssn",),
     "SSN"),
    ("4000 0566 5566 5556", ("card", "number"), "Stripe's test Visa debit"),
    ("5555 5555 5555 4444", ("card", "number"), "test Mastercard"),
    ("3782 822463 10005", ("card", "number"), "Amex test card"),
    ("GB82 WEST 1234 5698 7654 32", ("iban",), "the example IBAN"),
    ("NL91ABNA0417164300", ("iban",), "example IBAN"),
    ("someone@example.net", ("email",), "email"),
    ("198.51.100.23", ("host",), "server IP"),
    ("2001:db8::17", ("ipv6",), "IPv6 address"),
)


def _mutate_one(value: str, rnd: random.Random) -> str:
    """``value`` with one digit changed, past the first four characters where there is one."""
    spots = [i for i, c in enumerate(value) if c.isdigit() and i >= 4] \
        or [i for i, c in enumerate(value) if c.isdigit()]
    i = rnd.choice(spots)
    return value[:i] + rnd.choice([d for d in _DIGITS if d != value[i]]) + value[i + 1:]


# --- the composer -----------------------------------------------------------------------------


def _join(words: Sequence[str], case: str) -> str:
    if case == "upper":
        return "_".join(words).upper()
    if case == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if case == "pascal":
        return "".join(w.capitalize() for w in words)
    if case == "dotted":
        return ".".join(words)
    if case == "kebab":
        return "-".join(words)
    return "_".join(words)


@attrs.frozen
class _Artifact:
    """One kind of document. ``named`` lines hold ``{v}`` and a name: ``{name}``
    (identifier words in ``case``), ``{NAME}`` (upper snake case), ``{Name}`` (Pascal),
    ``{what}`` / ``{What}`` (a sentence's words); ``bare`` lines name nothing; ``filler``
    goes between. ``types`` limits what a form of paper holds (an invoice holds no
    AWS key); ``quote`` is "json" when the text sits in a JSON string; ``indent``
    indents the continuation lines of a multi-line value."""

    prose: bool
    opening: Sequence[str]
    named: Sequence[str]
    bare: Sequence[str]
    filler: Sequence[str]
    closing: Sequence[str]
    case: str = "lower"
    quote: str = ""
    indent: str = ""
    types: frozenset[str] = frozenset()  # the types this artifact holds; empty: any


#: What paper forms hold: personal values only.
_PERSONAL_ONLY = frozenset({"email", "phone", "payment_card", "iban", "us_ssn"})
#: The decoys that fit such forms (by their first identifier word).
_PERSONAL_DECOY_WORDS = frozenset({"card", "ssn", "phone", "support", "mobile", "iban",
                                   "email", "version", "trace", "tenant"})

_ARTIFACTS: dict[str, _Artifact] = {
    "telegram_export": _Artifact(
        True, ['{"name": "Ops night shift", "type": "private_group", "messages": ['],
        ['  {"id": 812, "from": "Bartek", "text": "{what}: {v}"},',
         '  {"id": 813, "from": "Chiara", "text": "the {what} is {v} - delete this after"},',
         '  {"id": 814, "from": "Bartek", "text": "which {what}?"},\n'
         '  {"id": 815, "from": "Chiara", "text": "{v}"},',
         '  {"id": 816, "from": "Farid", "text": "pls use the new {what} {v}"},'],
        ['  {"id": 817, "from": "Chiara", "text": "{v}"},'],
        ['  {"id": 818, "from": "Farid", "text": "on it"},',
         '  {"id": 819, "from": "Bartek", "text": "sticker", "media_type": "sticker"},'],
        ['  {"id": 820, "from": "Farid", "text": "gn"}', "]}"], quote="json"),
    "helpdesk_ticket": _Artifact(
        True, ["Ticket #HD-40917  |  Priority: High  |  Channel: Web form", "", "Description:"],
        ["Hi, I can't log in. My {what} is {v}, I reset it yesterday.",
         "Customer provided {what}: {v}",
         "Please update the {what} on my account to {v}.",
         "{What} (as stated by caller) - {v}"],
        ["Internal note: {v}"],
        ["Browser: Firefox 133", "Steps tried: cleared cache", "Agent: Lucia F."],
        ["", "Status: Pending customer"]),
    "meeting_transcript": _Artifact(
        True, ["Weekly infra sync - transcript (auto-generated)", ""],
        ["00:04:12 Dmitri Ivanov: so the {what} for the vendor portal is {v}",
         "00:05:40 Elif Yilmaz: I'll read it out, {what}, {v}, got it?",
         "00:07:03 Hiroshi Sato: and I changed the {what} to {v} last night",
         "00:09:18 Dmitri Ivanov: Elif, what's the {what}?\n00:09:21 Elif Yilmaz: {v}"],
        ["00:10:02 Hiroshi Sato: {v}"],
        ["00:01:00 Dmitri Ivanov: can everyone hear me?", "00:11:30 Elif Yilmaz: okay, moving on"],
        ["", "[Recording stopped]"]),
    "email_signature": _Artifact(
        True, ["Thanks for the quick turnaround!", "", "--"],
        ["Joon Park | Account Manager\n{What}: {v}",
         "Greta Berg, Finance\n{what} {v}",
         "Ines Moreau\nSenior Buyer | {What}: {v} | www.moreau-group.eu"],
        ["{v}"],
        ["Moreau Group SAS, 14 rue de la Paix, 75002 Paris",
         "This e-mail may contain confidential information."],
        ["Sent from Outlook for iOS"], types=_PERSONAL_ONLY),
    "invoice": _Artifact(
        True, ["INVOICE  No. 2026-1187", "Date: 1 December 2026", "Bill to: Rossi Logistica Srl"],
        ["Payment by bank transfer to {what}: {v}",
         "{What}: {v}",
         "Paid with {what} {v} on 28/11/2026",
         "Please remit to {what} {v} quoting the invoice number."],
        ["Ref: {v}"],
        ["Consulting, 12 days @ EUR 850 ......... EUR 10,200.00",
         "VAT 22% ......... EUR 2,244.00"],
        ["", "Payment terms: 30 days net."], types=_PERSONAL_ONLY),
    "hr_form": _Artifact(
        True, ["NEW HIRE INFORMATION FORM", "Section 2 - Personal details", ""],
        ["{What}: {v}", "{What} .......................... {v}", "{What} ___ {v} ___",
         "[x] Direct deposit   {What}: {v}"],
        ["Other: {v}"],
        ["Start date: 2027-01-04", "Department: Logistics", "Manager: K. Mensah"],
        ["", "Signature: ____________  Date: ______"], types=_PERSONAL_ONLY | {"password"}),
    "medical_intake": _Artifact(
        True, ["PATIENT INTAKE - Riverside Family Clinic", "Please print clearly.", ""],
        ["Patient {What}: {v}", "{What} (required for billing): {v}",
         "Insurance subscriber {what} - {v}", "Guarantor's {what}: {v}"],
        ["Notes: {v}"],
        ["Allergies: penicillin", "Reason for visit: annual physical",
         "Primary care: Dr. Haddad"],
        ["", "I consent to treatment.  Initials: ___"], types=_PERSONAL_ONLY),
    "bank_statement": _Artifact(
        True, ["STATEMENT OF ACCOUNT  01/11/2026 - 30/11/2026", "Account holder: Aoife Murphy", ""],
        ["{What}: {v}", "02/11  SEPA credit from {what} {v}      +1,250.00",
         "15/11  Standing order to {what} {v}      -640.00",
         "Your {what} for incoming payments is {v}."],
        ["27/11  {v}      -12.99"],
        ["03/11  Card purchase TESCO STORES 2231      -54.20",
         "Balance brought forward      3,410.17"],
        ["", "Page 1 of 1"], types=_PERSONAL_ONLY),
    "zoom_chat": _Artifact(
        True, ["Saved chat - Customer onboarding call"],
        ["10:02:11 From Kwame Mensah to Everyone: {what} {v}",
         "10:03:40 From Lucia Fernandez to Me (direct message): the {what} is {v}",
         "10:05:02 From Kwame Mensah to Everyone: sorry wrong chat, that {what} ({v}) is old",
         "10:06:15 From Lucia Fernandez to Everyone: {what}?\n"
         "10:06:30 From Kwame Mensah to Everyone: {v}"],
        ["10:07:00 From Kwame Mensah to Everyone: {v}"],
        ["10:01:00 From Lucia Fernandez to Everyone: hi all",
         "10:08:00 From Kwame Mensah to Everyone: Reacted to \"thanks\" with \U0001f44d"],
        []),
    "actions_log": _Artifact(
        False, ["2026-12-01T10:14:02.1190000Z ##[group]Run ./scripts/deploy.sh",
                "2026-12-01T10:14:02.1192000Z ./scripts/deploy.sh"],
        ["2026-12-01T10:14:02.1193000Z   {NAME}: {v}",
         "2026-12-01T10:14:03.0011000Z + export {NAME}={v}",
         "2026-12-01T10:14:03.0012000Z + curl -H 'Authorization: Bearer {v}' https://api.prod.lan",
         "2026-12-01T10:14:04.5550000Z Using {what} {v}"],
        ["2026-12-01T10:14:05.0000000Z {v}"],
        ["2026-12-01T10:14:02.1195000Z ##[endgroup]",
         "2026-12-01T10:14:06.2000000Z Deploy finished in 4s"],
        ["2026-12-01T10:14:07.0000000Z Post job cleanup."]),
    "actions_workflow": _Artifact(
        False, ["name: deploy", "on:", "  push:", "    branches: [main]", "env:"],
        ["  {NAME}: {v}", "  {NAME}: '{v}'",
         "jobs:\n  release:\n    steps:\n      - run: ./release --{name} {v}",
         "      - uses: acme/deploy-action@v3\n        with:\n          {name}: {v}"],
        ["      - run: echo {v}"],
        ["    runs-on: ubuntu-24.04", "      - uses: actions/checkout@v4"],
        [], case="kebab"),
    "jenkinsfile": _Artifact(
        False, ["pipeline {", "  agent any", "  environment {"],
        ["    {NAME} = '{v}'", "    {NAME} = \"{v}\"",
         "  sh \"curl -u ci:{v} https://nexus.prod.lan/repository/\"",
         "  withEnv([\"{NAME}={v}\"]) {{ sh 'make deploy' }}"],
        ["  // {v}"],
        ["  }", "  stages { stage('Build') { steps { sh 'make' } } }"],
        ["}"]),
    "platform_config": _Artifact(
        False, ["# fly.toml / netlify.toml / vercel env", "app = \"billing-api\""],
        ["[env]\n  {NAME} = \"{v}\"", "[build.environment]\n  {NAME} = \"{v}\"",
         "{{ \"env\": {{ \"{NAME}\": \"{v}\" }} }}", "$ vercel env add {NAME} production <<< {v}"],
        ["# {v}"],
        ["primary_region = \"ams\"", "[http_service]\n  internal_port = 8080"],
        []),
    "env_pair": _Artifact(
        False, ["# .env.example", "DATABASE_PASSWORD=", "STRIPE_SECRET_KEY=sk_live_xxx", "",
                "# .env"],
        ["{NAME}={v}", "{NAME}=\"{v}\"", "{NAME}='{v}' # prod", "# {what}\n{NAME}={v}"],
        ["# {v}"],
        ["APP_ENV=production", "APP_DEBUG=false"],
        []),
    "rails_credentials": _Artifact(
        False, ["# config/credentials.yml.enc (decrypted with bin/rails credentials:edit)"],
        ["{name}: {v}", "production:\n  {name}: \"{v}\"", "aws:\n  {name}: {v}",
         "secret_key_base: 9f1c0e\n{name}: '{v}'"],
        ["# {v}"],
        ["active_record_encryption:\n  key_derivation_salt: (see vault)"],
        []),
    "laravel_env": _Artifact(
        False, ["APP_NAME=Laravel", "APP_ENV=production", "APP_KEY=base64:(set by artisan)"],
        ["{NAME}={v}", "{NAME}=\"{v}\"", "MAIL_MAILER=smtp\n{NAME}={v}"],
        ["#{v}"],
        ["DB_CONNECTION=mysql", "CACHE_STORE=redis", "QUEUE_CONNECTION=database"],
        []),
    "django_settings": _Artifact(
        False, ["from pathlib import Path", "import os", ""],
        ["{NAME} = '{v}'", "{NAME} = os.environ.get('{NAME}', '{v}')",
         "DATABASES = {{'default': {{'ENGINE': 'django.db.backends.postgresql', "
         "'{NAME}': '{v}'}}}}",
         "EMAIL_HOST_{NAME} = \"{v}\""],
        ["# {v}"],
        ["DEBUG = False", "ALLOWED_HOSTS = ['billing.prod.lan']"],
        []),
    "java_properties": _Artifact(
        False, ["# application.properties"],
        ["{name}={v}", "{name} = {v}", "spring.datasource.{name}={v}", "{name}: {v}"],
        ["#{v}"],
        ["server.port=8443", "logging.level.root=WARN"],
        [], case="dotted"),
    "go_source": _Artifact(
        False, ["package config", ""],
        ["const {Name} = \"{v}\"", "var {name} = `{v}`",
         "\tcfg := Config{{{Name}: \"{v}\"}}", "\tos.Setenv(\"{NAME}\", \"{v}\")"],
        ["\t// {v}"],
        ["func Load() *Config {", "}"],
        [], case="camel"),
    "elixir_source": _Artifact(
        False, ["import Config", ""],
        ["config :billing, {name}: \"{v}\"", "  {name}: System.get_env(\"{NAME}\", \"{v}\"),",
         "@{name} \"{v}\"", "config :ex_aws, {name}: ~s({v})"],
        ["# {v}"],
        ["config :logger, level: :info", "import_config \"#{config_env()}.exs\""],
        []),
    "scala_source": _Artifact(
        False, ["package billing", ""],
        ["  val {name} = \"{v}\"", "  private final val {Name}: String = \"{v}\"",
         "  lazy val {name} = sys.env.getOrElse(\"{NAME}\", \"{v}\")"],
        ["  // {v}"],
        ["object Settings {", "}"],
        [], case="camel"),
    "cpp_source": _Artifact(
        False, ["#include <string>", ""],
        ["static const char* k{Name} = \"{v}\";", "#define {NAME} \"{v}\"",
         "const std::string {name} = R\"({v})\";", "  client.set{Name}(\"{v}\");"],
        ["// {v}"],
        ["namespace billing {", "}  // namespace billing"],
        [], case="camel"),
    "powershell_history": _Artifact(
        False, ["cd C:\\src\\billing"],
        ["$env:{NAME} = \"{v}\"", "$cred = ConvertTo-SecureString '{v}' -AsPlainText -Force",
         "Set-Secret -Name {Name} -Secret '{v}'", "[Environment]::SetEnvironmentVariable("
         "'{NAME}', '{v}', 'User')"],
        ["Write-Host {v}"],
        ["git pull", "dotnet build -c Release"],
        []),
    "fish_history": _Artifact(
        False, ["- cmd: cd ~/src/billing", "  when: 1764580000"],
        ["- cmd: set -gx {NAME} {v}", "- cmd: set -x {NAME} '{v}'",
         "- cmd: psql \"postgresql://billing:{v}@pg-main.prod.lan/billing\"",
         "- cmd: gh auth login --with-token <<< {v}"],
        ["- cmd: echo {v}"],
        ["- cmd: git status", "  when: 1764580100"],
        []),
    "registry_export": _Artifact(
        False, ["Windows Registry Editor Version 5.00", "",
                "[HKEY_CURRENT_USER\\Software\\Billing\\Settings]"],
        ["\"{Name}\"=\"{v}\"", "\"{name}\"=\"{v}\"",
         "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Billing]\n\"{Name}\"=\"{v}\""],
        ["\"Comment\"=\"{v}\""],
        ["\"InstallDir\"=\"C:\\\\Program Files\\\\Billing\"", "\"Version\"=dword:00000003"],
        [], case="pascal"),
    "har_file": _Artifact(
        False, ['{"log": {"version": "1.2", "entries": [{"request": {"method": "POST",',
                '  "url": "https://api.prod.lan/v1/login", "headers": ['],
        ['    {"name": "Authorization", "value": "Bearer {v}"},',
         '    {"name": "X-{Name}", "value": "{v}"},',
         '    {"name": "Cookie", "value": "{name}={v}; theme=dark"},'],
        ['    {"name": "X-Debug", "value": "{v}"},'],
        ['    {"name": "Accept", "value": "application/json"},'],
        ['    {"name": "Host", "value": "api.prod.lan"}', "  ]}}]}}"],
        case="pascal", quote="json"),
    "graphql_request": _Artifact(
        False, ["POST /graphql HTTP/1.1", "Content-Type: application/json", ""],
        ['{"query": "mutation { updateCustomer(id: 7, {name}: \\"{v}\\") { id } }"}',
         '{"operationName": "Login", "variables": {"{name}": "{v}"}}',
         '{"query": "query { me { id } }", "extensions": {"{name}": "{v}"}}'],
        ['{"variables": {"note": "{v}"}}'],
        ['{"query": "query { ping }"}'],
        [], case="camel"),
    "sql_dump": _Artifact(
        False, ["-- MySQL dump 10.13", "LOCK TABLES `customers` WRITE;"],
        ["INSERT INTO `customers` (`id`, `name`, `{name}`) VALUES (101, 'Greta Berg', '{v}');",
         "INSERT INTO `settings` (`key`, `value`) VALUES ('{name}', '{v}');",
         "INSERT INTO `customers` VALUES (102,'Farid Haddad','{v}','2026-11-30');"],
        ["-- {v}"],
        ["UNLOCK TABLES;", "/*!40101 SET character_set_client = utf8mb4 */;"],
        []),
}

#: Lines that take values of some types only: artifact -> line -> the types.
_ONLY: dict[str, dict[int, set[str]]] = {
    "actions_log": {2: {"jwt", "vendor_token", "github_token", "openai_api_key",
                        "anthropic_api_key", "huggingface_token"}},
    "jenkinsfile": {2: {"password"}},
    "fish_history": {2: {"password"}, 3: {"github_token"}},
    "powershell_history": {1: {"password", "client_secret", "aws_secret_access_key"}},
    "har_file": {0: {"jwt", "vendor_token", "openai_api_key"}},
    "sql_dump": {2: {"email", "payment_card", "iban"}},
}

#: Bare lines that suit some types only (a reference never sits alone in a dump's comment).
_BARE_TYPES = {"Ref: {v}": {"iban", "payment_card"}, "27/11  {v}      -12.99": {"iban"}}


def _bare_fits(line: str, type_: str) -> bool:
    if line in _BARE_TYPES:
        return type_ in _BARE_TYPES[line]
    return type_ in _SELF_EVIDENT


class _Writer:
    """The document being written; :meth:`plant` writes a line holding a value."""

    def __init__(self, artifact: _Artifact) -> None:
        self.artifact = artifact
        self.text = ""
        self.planted: list[PlantedH] = []

    def line(self, text: str) -> None:
        self.text += text + "\n"

    def plant(self, template: str, value: str, shown: str, type_: str | None,
              decoy: str) -> None:
        before, after = template.split("{v}", 1)
        if "\n" in shown and self.artifact.indent:
            shown = shown.replace("\n", "\n" + self.artifact.indent)
            value = value.replace("\n", "\n" + self.artifact.indent)
        if self.artifact.quote == "json":
            value, shown = json.dumps(value)[1:-1], json.dumps(shown)[1:-1]
        start = len(self.text) + len(before) + shown.index(value)
        self.text += before + shown + after + "\n"
        assert self.text[start:start + len(value)] == value
        self.planted.append((start, start + len(value), type_, self.artifact.prose, decoy))


def _named(template: str, words: Sequence[str], artifact: _Artifact, what: str) -> str:
    name = _join(words, artifact.case) if words else ""
    for slot, text in (("{name}", name), ("{NAME}", _join(words, "upper") if words else ""),
                       ("{Name}", _join(words, "pascal") if words else ""),
                       ("{What}", what[:1].upper() + what[1:]), ("{what}", what)):
        template = template.replace(slot, text)
    return template.replace("{{", "{").replace("}}", "}")


def _template(rnd: random.Random, name: str, artifact: _Artifact, type_: str,
              words: Sequence[str], what: str) -> str:
    only = _ONLY.get(name, {})
    fits = [i for i in range(len(artifact.named)) if i not in only or type_ in only[i]]
    special = [i for i in fits if i in only]
    index = rnd.choice(special) if special and rnd.random() < 0.5 else rnd.choice(fits)
    return _named(artifact.named[index], words, artifact, what)


def _as_shown(type_: str, value: str, rnd: random.Random) -> str:
    if type_ == "url_password":
        return _credential_url(value, rnd)
    if type_ == "azure_sas_signature":
        return _sas_shown(value, rnd)
    return value


def documents_h(seed: int, count: int) -> list[tuple[str, list[PlantedH]]]:
    """``count`` documents of set H, artifacts in turn, each with 2-4 planted values, one
    decoy and, in two thirds, a one-digit-mutated card number or IBAN."""
    rnd = random.Random(seed)
    makers = {**SECRETS_H, **PERSONAL_H}
    order = sorted(_ARTIFACTS)
    out = []
    for number in range(count):
        name = order[number % len(order)]
        artifact = _ARTIFACTS[name]
        writer = _Writer(artifact)
        for text in artifact.opening:
            writer.line(text)
        pool = sorted(artifact.types) if artifact.types else list(KINDS_H)
        slots: list[tuple[str, str | None, str]] = [
            (t, t, "") for t in rnd.sample(pool, min(len(pool), rnd.randint(2, 4)))]
        twin = rnd.choice(("payment_card", "iban", None))
        if twin is not None:
            slots.append((twin, None, "mutated"))
        slots.append(("lookalike", None, "lookalike"))
        rnd.shuffle(slots)
        for type_, label, decoy in slots:
            if decoy == "lookalike":
                made, words, what = rnd.choice(_DECOYS_H if not artifact.types else [
                    d for d in _DECOYS_H if d[1][0] in _PERSONAL_DECOY_WORDS])
                value = made if isinstance(made, str) else made(rnd)
                writer.plant(_template(rnd, name, artifact, "lookalike", words, what), value,
                             value, None, decoy)
                continue
            value = makers[type_](rnd)
            if decoy == "mutated":
                value = _mutate_one(value, rnd)
            bare = [b for b in artifact.bare if _bare_fits(b, type_)]
            if decoy == "" and bare and rnd.random() < 0.15:
                template = _named(rnd.choice(bare), (), artifact, "")
            else:
                word_sets, whats = _LABELS[type_]
                template = _template(rnd, name, artifact, type_, rnd.choice(word_sets),
                                     rnd.choice(whats))
            writer.plant(template, value, _as_shown(type_, value, rnd), label, decoy)
            if rnd.random() < 0.35:
                writer.line(rnd.choice(artifact.filler))
        for text in artifact.closing:
            writer.line(text)
        out.append((writer.text, writer.planted))
    return out
