"""The seventh fresh held-out set of the privacy benchmark (set I): a TUNING SET since round 8.

Written on 2026-12-07 after set H had been evaluated (and spent), before any of round 7's
detector changes and without running the detectors on it; committed on its own first, and
evaluated once as held out at the end of round 7. Its misses are fixed by class in round
8, so set I is spent: ``benchmarks/privacy.py`` scores it as "set I (tuned on)", and the
held-out set is set J (``privacy_heldout_j.py``).

Nothing here comes from sets A-H: no Faker, no ``athena_core`` import (Luhn, mod-97 and
the SSN rules are written again below), its own value generators and its own artifacts.
Each document is one artifact of a kind no earlier set uses (:data:`_ARTIFACTS`):

* prose: Confluence and Notion page exports, Google Meet chat logs, pull-request review
  threads, incident postmortems, README install sections, US tax forms, insurance
  claims, travel bookings, school records;
* machine text: Sentry and Datadog event JSON, Heroku ``config`` output, Render and
  Railway configuration, Firebase and Supabase configuration, Android ``gradle``
  files and iOS property lists, Nix and Bazel files, Lua, Perl, R and Julia source,
  Postgres and MySQL server logs, OpenAPI specifications with examples.

Values: vendors' documented token formats (each checked against the vendor's
documentation or its published secret-scanning pattern: prefix, length and alphabet as
written there), many not planted by an earlier set; passwords as people and password
managers make them; cards of every listed issuer range with one-digit-mutated twins;
IBANs of 30 countries with the registry's BBAN shapes; SSNs written several ways; phones
of 22 countries in their national and international writings.

Decoys sit where such values really sit: vendors' documentation samples (AWS, GitHub,
Stripe's test key, Slack's "not a real token"), emulator and local-development keys (the
Azurite account key, Supabase's local demo keys), references (``${VAR}``, ``%VAR%``,
``$env:VAR``, ``{{ secrets.X }}``, ``op://``, ``vault:``, ``ENV["X"]``,
``Sys.getenv("X")``, ``$ENV{X}``), masks (``****1234``, ``xoxb-***``), placeholders,
hashes, UUIDs, timestamps, version strings, fictional phone ranges (US 555-0100..0199,
UK 07700 900xxx, 01632 960xxx, 020 7946 0xxx, Australia's 0491 570 xxx), advertised and
invalid SSNs, processors' test cards, documented example IBANs, documentation addresses,
and one-digit-mutated card numbers and IBANs where a card number or IBAN goes.
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

__all__ = ["KINDS_I", "PlantedI", "documents_i"]

_LOWER = string.ascii_lowercase
_UPPER = string.ascii_uppercase
_DIGITS = string.digits
_ALNUM = string.ascii_letters + string.digits
_BASE64 = _ALNUM + "+/"
_URLSAFE = _ALNUM + "_-"
_HEX = "0123456789abcdef"

#: (start, end, type or None for a decoy, in prose, decoy kind: "lookalike" or "mutated").
PlantedI = tuple[int, int, "str | None", bool, str]


def _pick(rnd: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def _digits(rnd: random.Random, n: int) -> str:
    return _pick(rnd, n, _DIGITS)


# --- checksums, written again ------------------------------------------------------------


def _luhn_complete(body: str) -> str:
    """``body`` with the digit that makes it pass the Luhn check (ISO/IEC 7812)."""
    total = 0
    for position, ch in enumerate(reversed(body)):
        digit = int(ch)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return body + str((10 - total % 10) % 10)


def _iban_of(country: str, bban: str) -> str:
    number = int("".join(str(int(ch, 36)) for ch in bban + country + "00"))
    return f"{country}{98 - number % 97:02d}{bban}"


# --- personal values ------------------------------------------------------------------------

#: (prefix maker, lengths): the issuer ranges the detectors list.
_ISSUERS: tuple[tuple[Callable[[random.Random], str], tuple[int, ...]], ...] = (
    (lambda r: "4" + _digits(r, 1), (16, 19)),                            # Visa
    (lambda r: str(r.randint(51, 55)), (16,)),                            # Mastercard
    (lambda r: str(r.randint(2221, 2720)), (16,)),                        # Mastercard 2-series
    (lambda r: r.choice(("34", "37")), (15,)),                            # Amex
    (lambda r: r.choice(("6011", "65", str(r.randint(644, 649)))), (16,)),  # Discover
    (lambda r: str(r.randint(3528, 3589)), (16,)),                        # JCB
    (lambda r: r.choice(("36", "38", str(r.randint(300, 305)))), (14,)),  # Diners
    (lambda r: r.choice(("6304", "6759", "6761", "5018", "5020")), (16, 19)),  # Maestro
    (lambda r: "62" + _digits(r, 1), (16, 19)),                           # UnionPay
)


def card_i(rnd: random.Random) -> str:
    make, lengths = rnd.choice(_ISSUERS)
    head, size = make(rnd), rnd.choice(lengths)
    number = _luhn_complete(head + _digits(rnd, size - len(head) - 1))
    style = rnd.randrange(5)
    if style == 0:
        return number
    sep = " " if style in (1, 2, 3) else "-"
    if size == 15 or size == 14:
        return sep.join((number[:4], number[4:10], number[10:]))
    if size == 19 and style == 3:
        return sep.join((number[:6], number[6:]))
    return sep.join(number[i:i + 4] for i in range(0, size, 4))


#: Country -> BBAN shape from the SWIFT IBAN registry (n digit, a capital, c either).
_BBAN_I = {
    "DE": "n" * 18, "FR": "n" * 10 + "c" * 11 + "nn", "ES": "n" * 20, "BE": "n" * 12,
    "PT": "n" * 21, "IE": "aaaa" + "n" * 14, "PL": "n" * 24, "CZ": "n" * 20, "DK": "n" * 14,
    "SE": "n" * 20, "EE": "n" * 16, "LV": "aaaa" + "c" * 13, "BG": "aaaa" + "n" * 6 + "c" * 8,
    "CY": "n" * 8 + "c" * 16, "BA": "n" * 16, "GE": "aa" + "n" * 16, "MD": "c" * 20,
    "UA": "n" * 6 + "c" * 19, "JO": "aaaa" + "n" * 4 + "c" * 18, "QA": "aaaa" + "c" * 21,
    "KW": "aaaa" + "c" * 22, "BH": "aaaa" + "c" * 14, "PK": "aaaa" + "c" * 16,
    "DO": "c" * 4 + "n" * 20, "BR": "n" * 23 + "a" + "c", "MU": "aaaa" + "n" * 19 + "aaa",
    "GT": "c" * 24, "LC": "aaaa" + "c" * 24, "SC": "aaaa" + "n" * 20 + "aaa",
    "IQ": "aaaa" + "n" * 15,
}


def iban_i(rnd: random.Random) -> str:
    country = rnd.choice(sorted(_BBAN_I))
    alphabet = {"n": _DIGITS, "a": _UPPER, "c": _UPPER + _DIGITS}
    value = _iban_of(country, "".join(rnd.choice(alphabet[c]) for c in _BBAN_I[country]))
    if rnd.random() < 0.5:
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def ssn_i(rnd: random.Random) -> str:
    """An SSN that could have been issued: area 001-899 but 666, group and serial not zero."""
    area = rnd.choice([a for a in range(1, 900) if a != 666])
    a, g, s = f"{area:03d}", f"{rnd.randint(1, 99):02d}", f"{rnd.randint(1, 9999):04d}"
    return rnd.choice((f"{a}-{g}-{s}", f"{a}-{g}-{s}", f"{a} {g} {s}", f"{a}{g}{s}"))


def phone_i(rnd: random.Random) -> str:
    """Numbers of 22 countries, none in a range set aside for fiction."""
    d = lambda k: _digits(rnd, k)  # noqa: E731
    us_area = rnd.choice((206, 303, 415, 480, 512, 617, 646, 702, 718, 832, 919, 971))
    us_exchange = rnd.choice([e for e in range(201, 1000) if e != 555 and e % 100 != 11])
    london = "7" + rnd.choice([f"{k:03d}" for k in range(100, 1000) if k != 946])
    return rnd.choice((
        f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)}", f"06 {d(2)} {d(2)} {d(2)} {d(2)}",
        f"+49 151 {d(8)}", f"0151 {d(4)} {d(4)}", f"+34 6{d(2)} {d(3)} {d(3)}",
        f"+55 11 9{d(4)}-{d(4)}", f"+91 98{d(3)} {d(5)}", f"+81 90-{d(4)}-{d(4)}",
        f"090-{d(4)}-{d(4)}", f"+52 55 {d(4)} {d(4)}", f"+27 82 {d(3)} {d(4)}",
        f"+46 70 {d(3)} {d(2)} {d(2)}", f"+45 {d(2)} {d(2)} {d(2)} {d(2)}",
        f"+351 91{d(1)} {d(3)} {d(3)}", f"+32 470 {d(2)} {d(2)} {d(2)}",
        f"+1 ({us_area}) {us_exchange}-{d(4)}", f"{us_area}.{us_exchange}.{d(4)}",
        f"+64 21 {d(3)} {d(4)}", f"+63 917 {d(3)} {d(4)}", f"+254 7{d(2)} {d(3)} {d(3)}",
        f"020 {london} {d(4)}", f"+44 20 {london} {d(4)}", f"+420 6{d(2)} {d(3)} {d(3)}",
        f"+7 916 {d(3)}-{d(2)}-{d(2)}", f"+30 69{d(1)} {d(3)} {d(4)}",
        f"+66 8{d(1)} {d(3)} {d(4)}",
    ))


_FIRST = ["amara", "bjorn", "camila", "deepak", "emeka", "freya", "gustavo", "hana",
          "ivan", "jasmine", "kenji", "leila", "mateo", "nadia"]
_LAST = ["okafor", "lindqvist", "alvarez", "sharma", "nwosu", "hansen", "pereira", "tanaka",
         "petrov", "chen", "watanabe", "rahimi", "silva", "novak"]
_DOMAINS = ["orange.fr", "gmx.de", "telefonica.net", "uol.com.br", "rediffmail.com",
            "docomo.ne.jp", "prodigy.net.mx", "telkomsa.net", "telia.com", "xtra.co.nz",
            "proton.me", "seznam.cz"]


def email_i(rnd: random.Random) -> str:
    first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
    local = rnd.choice((f"{first}.{last}", f"{first[0]}.{last}", f"{last}{rnd.randint(1, 99)}",
                        f"{first}-{last}", f"{first}{last[:3]}", f"{first}.{last}+school"))
    return f"{local}@{rnd.choice(_DOMAINS)}"


def ipv4_i(rnd: random.Random) -> str:
    reserved = {0, 10, 100, 127, 169, 172, 192, 198, 203, 224}
    first = rnd.choice([a for a in range(1, 224) if a not in reserved])
    return f"{first}.{rnd.randint(0, 255)}.{rnd.randint(1, 255)}.{rnd.randint(1, 254)}"


def ipv6_i(rnd: random.Random) -> str:
    head = rnd.choice(("2a00:1450", "2620:0:2d0", "2a03:2880", "2600:1f18", "2c0f:fb50"))
    groups = [f"{rnd.randint(1, 0xffff):x}" for _ in range(8 - head.count(":") - 1)]
    if rnd.random() < 0.5:
        return f"{head}:{groups[0]}::{groups[1]}"
    return ":".join([head, *groups])


# --- secrets ----------------------------------------------------------------------------------

_WORDS = ["harbor", "maple", "quartz", "ember", "falcon", "juniper", "meadow", "saffron",
          "tundra", "pebble", "cobalt", "willow"]


def password_i(rnd: random.Random) -> str:
    """Passwords as people and their tools make them."""
    style = rnd.randrange(8)
    if style == 0:  # a team or place and a year
        return rnd.choice(("Arsenal", "Chelsea", "Bavaria", "Lisboa", "Yankees")) + str(
            rnd.randint(1990, 2026)) + rnd.choice(("!", "#", "", "$"))
    if style == 1:  # Bitwarden's passphrase
        return "-".join(rnd.sample(_WORDS, 4)).capitalize() + _digits(rnd, 1)
    if style == 2:  # Bitwarden's random password
        return _pick(rnd, 14, _ALNUM + "!@#$%^&*")
    if style == 3:  # a season and a year
        return rnd.choice(("Summer", "Winter", "Autumn", "Spring")) + str(
            rnd.randint(2019, 2026)) + rnd.choice(("!", "!!", "@", "."))
    if style == 4:  # pwgen -s 12
        return _pick(rnd, 12, _ALNUM)
    if style == 5:  # Keychain's suggested strong password
        return "-".join(_pick(rnd, 6, _LOWER + _DIGITS) for _ in range(3))
    if style == 6:  # a leet-spelled word
        return rnd.choice(("P@ssw0rd", "S3cur1ty", "Adm1n", "M0nk3y", "Dr@gon")) + _digits(rnd, 3)
    return _pick(rnd, 24, _ALNUM + "_-")


def _pem_i(rnd: random.Random) -> str:
    label = rnd.choice(("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY",
                        "ENCRYPTED PRIVATE KEY"))
    lines = [_pick(rnd, 64, _BASE64) for _ in range(rnd.randint(3, 9))]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + "\n"
            + _pick(rnd, rnd.randint(8, 60), _BASE64) + "==\n" + f"-----END {label}-----")


def _jwt_i(rnd: random.Random) -> str:
    def seg(obj: object) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    header = {"alg": rnd.choice(("HS256", "RS256", "EdDSA")), "typ": "JWT"}
    claims = {"iss": rnd.choice(("https://auth.prod.lan", "firebase", "supabase")),
              "sub": _pick(rnd, 20), "exp": rnd.randint(1_760_000_000, 1_800_000_000),
              "role": rnd.choice(("service_role", "authenticated", "admin"))}
    return f"{seg(header)}.{seg(claims)}.{_pick(rnd, 43, _URLSAFE)}"


def _session_token_i(rnd: random.Random) -> str:
    return ("IQoJb3JpZ2luX2Vj" + rnd.choice(("EHU", "EKj", "EMX")) + "//////////"
            + "wEaCWV1LXdlc3QtMSJH" + _pick(rnd, rnd.choice((300, 520)), _BASE64) + "=")


def _sas_i(rnd: random.Random) -> str:
    return quote(base64.b64encode(bytes(rnd.getrandbits(8) for _ in range(32))).decode(),
                 safe="")


#: Vendors' documented token formats (prefix, length and alphabet as the vendor or its
#: published scanning pattern states them).
_VENDORS_I: tuple[Callable[[random.Random], str], ...] = (
    lambda r: "fo1_" + _pick(r, 43, _URLSAFE),                              # Fly.io
    lambda r: "HRKU-AA" + _pick(r, 58, _URLSAFE),                           # Heroku API key (v2)
    lambda r: "EAAA" + _pick(r, 60, _URLSAFE),                              # Square access token
    lambda r: "sq0csp-" + _pick(r, 43, _URLSAFE),                           # Square app secret
    lambda r: "CFPAT-" + _pick(r, 43, _URLSAFE),                            # Contentful PAT
    lambda r: "dt0c01." + _pick(r, 24, _UPPER + _DIGITS) + "." + _pick(r, 64, _UPPER + _DIGITS),
    lambda r: "pnu_" + _pick(r, 36),                                        # Prefect
    lambda r: "rubygems_" + _pick(r, 48, _HEX),                             # RubyGems
    lambda r: "CLOJARS_" + _pick(r, 60, _LOWER + _DIGITS),                  # Clojars
    lambda r: "shippo_live_" + _pick(r, 40, _HEX),                          # Shippo
    lambda r: "r8_" + _pick(r, 37),                                         # Replicate
    lambda r: "pplx-" + _pick(r, 48),                                       # Perplexity
    lambda r: "lsv2_pt_" + _pick(r, 32, _HEX) + "_" + _pick(r, 10, _HEX),   # LangSmith
    lambda r: "sntryu_" + _pick(r, 64, _HEX),                               # Sentry user token
    lambda r: "sbp_" + _pick(r, 40, _HEX),                                  # Supabase access token
    lambda r: "hvs." + _pick(r, 91, _URLSAFE),                              # Vault service token
    lambda r: "AGE-SECRET-KEY-1" + _pick(r, 58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"),
    lambda r: "pscale_tkn_" + _pick(r, 43, _URLSAFE),                       # PlanetScale
    lambda r: "NRAK-" + _pick(r, 27, _UPPER + _DIGITS),                     # New Relic user key
    lambda r: "dapi" + _pick(r, 32, _HEX),                                  # Databricks
    lambda r: "ATATT3xFfGF0" + _pick(r, 171, _URLSAFE) + "=" + _pick(r, 8, _HEX.upper()),
    lambda r: "AAAA" + _pick(r, 7, _URLSAFE) + ":APA91b" + _pick(r, 134, _URLSAFE),  # FCM key
)


def _mapbox(rnd: random.Random) -> str:
    """A Mapbox secret token: ``sk.`` and base64 of ``{"u":"<user>","a":"<id>"}``, a dot, 22."""
    user = rnd.choice(("kenjit", "acme-maps", "fleetops"))
    body = base64.b64encode(json.dumps({"u": user, "a": _pick(rnd, 25, _LOWER + _DIGITS)},
                                       separators=(",", ":")).encode()).decode().rstrip("=")
    return f"sk.{body}.{_pick(rnd, 22, _URLSAFE)}"


_VENDORS_I = (*_VENDORS_I, _mapbox)

SECRETS_I: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: r.choice(("AKIA", "ASIA")) + _pick(r, 16, _UPPER + "234567"),
    "aws_secret_access_key": lambda r: _pick(r, 40, _BASE64),
    "aws_session_token": _session_token_i,
    "azure_sas_signature": _sas_i,
    "github_token": lambda r: (
        "github_pat_11" + _pick(r, 20, _UPPER + _DIGITS) + "_" + _pick(r, 59)
        if r.random() < 0.25 else r.choice(("ghp_", "ghs_", "gho_", "ghr_")) + _pick(r, 36)),
    "gitlab_token": lambda r: r.choice(("glpat-", "gldt-", "glrt-")) + _pick(r, 20, _URLSAFE),
    "slack_token": lambda r: r.choice((
        "xoxb-" + _digits(r, 11) + "-" + _digits(r, 13) + "-" + _pick(r, 24),
        "xapp-1-A" + _pick(r, 10, _UPPER + _DIGITS) + "-" + _digits(r, 13) + "-"
        + _pick(r, 64, _HEX))),
    "stripe_key": lambda r: r.choice(("sk_live_", "rk_live_", "whsec_")) + _pick(r, 32),
    "openai_api_key": lambda r: "sk-svcacct-" + _pick(r, 74, _URLSAFE) + "T3BlbkFJ"
    + _pick(r, 74, _URLSAFE),
    "anthropic_api_key": lambda r: "sk-ant-api03-" + _pick(r, 93, _URLSAFE) + "AA",
    "jwt": _jwt_i,
    "private_key": _pem_i,
    "npm_token": lambda r: "npm_" + _pick(r, 36),
    "huggingface_token": lambda r: "hf_" + _pick(r, 34, string.ascii_letters),
    "sendgrid_api_key": lambda r: "SG." + _pick(r, 22, _URLSAFE) + "." + _pick(r, 43, _URLSAFE),
    "google_api_key": lambda r: "AIza" + _pick(r, 35, _URLSAFE),
    "telegram_bot_token": lambda r: str(r.randint(10**8, 10**10 - 1)) + ":AA"
    + _pick(r, 33, _URLSAFE),
    "vendor_token": lambda r: r.choice(_VENDORS_I)(r),
    "client_secret": lambda r: _pick(r, r.choice((32, 40, 64)), _ALNUM + "-_~."),
    "password": password_i,
    "url_password": lambda r: _pick(r, r.randint(12, 30), _ALNUM + "-_"),
}

PERSONAL_I: dict[str, Callable[[random.Random], str]] = {
    "email": email_i, "phone": phone_i, "payment_card": card_i, "iban": iban_i,
    "us_ssn": ssn_i, "ipv4": ipv4_i, "ipv6": ipv6_i}
#: Every type set I plants.
KINDS_I = tuple(sorted({**SECRETS_I, **PERSONAL_I}))

#: Values whose format says what they are, so a line need not name them.
_OBVIOUS = frozenset({
    "email", "payment_card", "iban", "ipv4", "ipv6", "aws_access_key_id", "github_token",
    "gitlab_token", "slack_token", "stripe_key", "openai_api_key", "anthropic_api_key", "jwt",
    "private_key", "npm_token", "sendgrid_api_key", "google_api_key", "url_password",
    "azure_sas_signature", "huggingface_token"})

#: Type -> (identifier words, ways a sentence names it).
_NAMES: dict[str, tuple[Sequence[Sequence[str]], Sequence[str]]] = {
    "email": ((("email",), ("parent", "email"), ("reply", "to")),
              ("email", "e-mail", "parent's email", "contact e-mail", "reply-to address")),
    "phone": ((("phone",), ("mobile",), ("contact", "phone"), ("guardian", "phone")),
              ("phone", "mobile", "contact number", "tel", "cell phone", "guardian's phone")),
    "payment_card": ((("card", "number"), ("card", "pan"), ("payment", "card")),
                     ("card number", "credit card", "Mastercard", "card used", "paid by card")),
    "iban": ((("iban",), ("refund", "iban"), ("beneficiary", "iban")),
             ("IBAN", "refund IBAN", "beneficiary IBAN", "bank account (IBAN)")),
    "us_ssn": ((("ssn",), ("taxpayer", "ssn"), ("claimant", "ssn"), ("student", "ssn")),
               ("SSN", "Social Security number", "taxpayer's SSN", "social security no")),
    "ipv4": ((("ip", "address"), ("client", "ip"), ("remote", "addr")),
             ("IP", "client IP", "source IP", "remote address")),
    "ipv6": ((("ipv6", "address"), ("client", "ipv6")), ("IPv6", "client IPv6")),
    "aws_access_key_id": ((("aws", "access", "key", "id"),), ("AWS access key ID",)),
    "aws_secret_access_key": ((("aws", "secret", "access", "key"),), ("AWS secret access key",)),
    "aws_session_token": ((("aws", "session", "token"),), ("AWS session token",)),
    "azure_sas_signature": ((("sas", "url"), ("blob", "sas", "url")), ("SAS URL", "blob SAS URL")),
    "github_token": ((("github", "token"), ("gh", "token")), ("GitHub token", "gh token")),
    "gitlab_token": ((("gitlab", "token"),), ("GitLab token",)),
    "slack_token": ((("slack", "bot", "token"), ("slack", "app", "token")),
                    ("Slack bot token", "Slack app token")),
    "stripe_key": ((("stripe", "secret"), ("stripe", "key")), ("Stripe secret", "Stripe key")),
    "openai_api_key": ((("openai", "api", "key"),), ("OpenAI API key",)),
    "anthropic_api_key": ((("anthropic", "api", "key"),), ("Anthropic key",)),
    "jwt": ((("service", "role", "key"), ("id", "token"), ("bearer", "token")),
            ("service role key", "ID token", "bearer token")),
    "private_key": ((("private", "key"), ("signing", "key")), ("private key", "signing key")),
    "npm_token": ((("npm", "token"),), ("npm token",)),
    "huggingface_token": ((("hf", "token"),), ("Hugging Face token",)),
    "sendgrid_api_key": ((("sendgrid", "api", "key"),), ("SendGrid API key",)),
    "google_api_key": ((("google", "api", "key"),), ("Google API key",)),
    "telegram_bot_token": ((("telegram", "bot", "token"), ("bot", "token")),
                           ("Telegram bot token", "bot token")),
    "vendor_token": ((("api", "key"), ("api", "token"), ("auth", "token"), ("secret", "key")),
                     ("API key", "API token", "auth token", "secret key")),
    "client_secret": ((("client", "secret"), ("oauth", "secret")),
                      ("client secret", "OAuth secret")),
    "password": ((("password",), ("db", "password"), ("admin", "password"), ("passwd",),
                  ("smtp", "pass")),
                 ("password", "the password", "admin password", "DB password", "passphrase")),
    "url_password": ((("database", "url"), ("redis", "url")),
                     ("database URL", "connection string", "Redis URL")),
}


def _in_url(value: str, rnd: random.Random) -> str:
    return rnd.choice((f"postgres://app_user:{value}@db.internal.example-corp.net:5432/app",
                       f"mysql://reporting:{value}@mysql-primary.svc.cluster.local/reports",
                       f"rediss://default:{value}@cache-eu.upstash.example-corp.net:6380",
                       f"mongodb+srv://etl:{value}@cluster0.ab1cd.mongodb.net/warehouse"))


def _in_sas(value: str, rnd: random.Random) -> str:
    account = rnd.choice(("claimsdocs", "tripfiles", "gradesarchive"))
    return (f"https://{account}.blob.core.windows.net/uploads?sv=2024-08-04&ss=b&srt=o"
            f"&sp=rl&se=2027-03-01T00:00:00Z&spr=https&sig={value}")


# --- decoys -----------------------------------------------------------------------------------


def _fictional_phone(rnd: random.Random) -> str:
    """Numbers set aside for fiction and documentation by the US, UK and Australian plans."""
    k = rnd.randrange(6)
    if k == 0:
        area = rnd.randint(201, 989)
        return rnd.choice((f"({area}) 555-01{rnd.randint(0, 99):02d}",
                           f"+1-{area}-555-01{rnd.randint(0, 99):02d}"))
    if k == 1:
        return rnd.choice(("07700 900", "+44 7700 900")) + f"{rnd.randint(0, 999):03d}"
    if k == 2:
        return rnd.choice(("01632 960", "+44 1632 960")) + f"{rnd.randint(0, 999):03d}"
    if k == 3:
        return rnd.choice(("020 7946 0", "+44 20 7946 0")) + f"{rnd.randint(0, 999):03d}"
    if k == 4:
        return rnd.choice(("0491 570 156", "0491 570 157", "0491 570 158", "0491 570 159",
                           "0491 570 110"))
    return f"(02) 5550 {rnd.randint(0, 9999):04d}"


_SUPABASE_ANON = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9s"
                  "ZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0")
_AZURITE = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
            "KBHBeksoGMGw==")

#: (value or maker, identifier words, how a sentence names it).
_DECOYS_I: tuple[tuple[str | Callable[[random.Random], str], Sequence[str], str], ...] = (
    ("AKIAIOSFODNN7EXAMPLE", ("aws", "access", "key", "id"), "AWS access key ID"),
    ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ("aws", "secret", "access", "key"),
     "AWS secret access key"),
    (_AZURITE, ("storage", "account", "key"), "storage account key"),
    (_SUPABASE_ANON, ("supabase", "anon", "key"), "anon key"),
    ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", ("github", "token"), "GitHub token"),
    ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", ("stripe", "key"), "Stripe key"),
    ("xoxb-not-a-real-token-this-will-not-work", ("slack", "bot", "token"), "Slack bot token"),
    ("xoxb-***", ("slack", "bot", "token"), "Slack bot token"),
    ("sk_live_****************", ("stripe", "secret"), "Stripe secret"),
    ("${POSTGRES_PASSWORD}", ("db", "password"), "DB password"),
    ("%ADMIN_PASSWORD%", ("admin", "password"), "admin password"),
    ("$env:CLIENT_SECRET", ("client", "secret"), "client secret"),
    ("${{ secrets.NPM_TOKEN }}", ("npm", "token"), "npm token"),
    ("{{ secrets.API_KEY }}", ("api", "key"), "API key"),
    ("op://Engineering/Heroku/api-key", ("api", "key"), "API key"),
    ("vault:secret/data/claims#smtp_pass", ("smtp", "pass"), "SMTP password"),
    ("ENV[\"JULIA_API_TOKEN\"]", ("api", "token"), "API token"),
    ("Sys.getenv(\"DB_PASSWORD\")", ("db", "password"), "DB password"),
    ("$ENV{SECRET_KEY}", ("secret", "key"), "secret key"),
    ("<your-api-key>", ("api", "key"), "API key"),
    ("changeme", ("password",), "password"),
    ("********", ("password",), "password"),
    (lambda r: "****" + _digits(r, 4), ("card", "number"), "card number"),
    (lambda r: "•••• •••• •••• " + _digits(r, 4), ("card", "number"), "card"),
    (lambda r: "***-**-" + _digits(r, 4), ("ssn",), "SSN"),
    (lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)), ("request", "id"),
     "request id"),
    (lambda r: _pick(r, 40, _HEX), ("commit",), "commit"),
    (lambda r: _pick(r, 32, _HEX), ("md5",), "MD5"),
    (lambda r: "sha256-" + base64.b64encode(bytes(r.getrandbits(8) for _ in range(32))).decode(),
     ("integrity",), "integrity hash"),
    (lambda r: f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T{r.randint(0, 23):02d}:"
               f"{r.randint(0, 59):02d}:{r.randint(0, 59):02d}.{_digits(r, 6)}Z",
     ("timestamp",), "timestamp"),
    (lambda r: f"v{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 20)}-rc.{r.randint(1, 9)}",
     ("version",), "version"),
    (_fictional_phone, ("phone",), "phone"),
    (_fictional_phone, ("contact", "phone"), "contact number"),
    ("987-65-4320", ("ssn",), "SSN"),
    ("078-05-1120", ("ssn",), "SSN"),
    (lambda r: r.choice(("000", "666")) + "-" + _digits(r, 2) + "-" + _digits(r, 4), ("ssn",),
     "SSN"),
    ("4111 1111 1111 1111", ("card", "number"), "test card"),
    ("4242 4242 4242 4242", ("card", "number"), "card number"),
    ("DE89 3704 0044 0532 0130 00", ("iban",), "IBAN"),
    ("FR14 2004 1010 0505 0001 3M02 606", ("iban",), "IBAN"),
    ("jane.doe@example.com", ("email",), "email"),
    ("203.0.113.42", ("ip", "address"), "IP"),
    ("2001:db8:85a3::8a2e:370:7334", ("ipv6", "address"), "IPv6"),
)


def _mutate(value: str, rnd: random.Random) -> str:
    """``value`` with one digit changed, past its first four characters where possible."""
    places = [i for i, c in enumerate(value) if c.isdigit() and i >= 4] \
        or [i for i, c in enumerate(value) if c.isdigit()]
    i = rnd.choice(places)
    return value[:i] + rnd.choice([d for d in _DIGITS if d != value[i]]) + value[i + 1:]


# --- the composer -----------------------------------------------------------------------------


def _case(words: Sequence[str], case: str) -> str:
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
class _Kind:
    """One kind of document. ``named`` lines hold ``{v}`` and a name - ``{name}`` (in
    ``case``), ``{NAME}``, ``{Name}``, ``{what}`` / ``{What}``; ``bare`` lines name
    nothing; ``filler`` goes between. ``holds`` limits the types (a tax form holds no
    AWS key); ``quote`` is "json" when the text sits in a JSON string."""

    prose: bool
    opening: Sequence[str]
    named: Sequence[str]
    bare: Sequence[str]
    filler: Sequence[str]
    closing: Sequence[str]
    case: str = "lower"
    quote: str = ""
    holds: frozenset[str] = frozenset()


_PAPER = frozenset({"email", "phone", "payment_card", "iban", "us_ssn"})
_PAPER_DECOYS = frozenset({"card", "ssn", "phone", "contact", "iban", "email", "request",
                           "version", "timestamp"})

_ARTIFACTS: dict[str, _Kind] = {
    "confluence_page": _Kind(
        True, ["Payments team / Runbooks / Rotating partner credentials",
               "Created by Deepak Sharma, last updated 3 Dec 2026", ""],
        ["Step 3. Paste the {what} ({v}) into the partner portal.",
         "| Environment | {What} |\n| prod | {v} |",
         "Note: the current {what} is {v} until the rotation on Friday.",
         "(info) {What}: {v}"],
        ["(i) {v}"],
        ["Step 1. Log in to the admin console with your SSO account.",
         "Step 2. Open Settings > Integrations."],
        ["", "Like  ·  Reply  ·  2 comments"]),
    "notion_export": _Kind(
        True, ["# Onboarding checklist - Nadia Rahimi", "", "- [x] Laptop ordered"],
        ["- [ ] Share {what}: {v}", "> **{What}**: `{v}`",
         "- [x] {What} sent over Slack ({v})", "| {What} | {v} | owner: Mateo |"],
        ["- {v}"],
        ["- [ ] Book intro with the data team", "- [x] Added to #eng-general"],
        ["", "---", "Last edited by Mateo Silva"]),
    "meet_chat": _Kind(
        True, ["Meeting chat - Quarterly vendor review"],
        ["Camila Alvarez  14:02\nhere's the {what}: {v}",
         "Kenji Tanaka  14:03\n{what} = {v}  (pls don't forward)",
         "Freya Hansen  14:05\ncan you drop the {what} again?\nKenji Tanaka  14:05\n{v}",
         "Camila Alvarez  14:09\nnew {what} is {v}"],
        ["Kenji Tanaka  14:10\n{v}"],
        ["Freya Hansen  14:01\nmorning all", "Camila Alvarez  14:12\nthanks, dropping off"],
        []),
    "pr_review": _Kind(
        True, ["#4821 Add retry to the invoice exporter", "",
               "ivan-petrov commented on src/export/client.py line 42:"],
        ["> You committed the {what} here: `{v}` - please rotate it.",
         "Suggested change:\n-    {name} = \"{v}\"\n+    {name} = os.environ[\"{NAME}\"]",
         "hana-tanaka replied: the {what} {v} is only for staging, but yes, moving it.",
         "```diff\n+{NAME}={v}\n```"],
        ["```\n{v}\n```"],
        ["LGTM once the tests pass.", "nit: rename `retries` to `max_retries`"],
        ["", "ivan-petrov approved these changes"]),
    "postmortem": _Kind(
        True, ["Incident 2026-11-28: checkout errors (SEV-2)", "## Timeline (UTC)"],
        ["09:41 - on-call found the {what} {v} in the public bucket's logs.",
         "09:55 - revoked the leaked {what} (`{v}`).",
         "## Root cause\nThe deploy script echoed the {what} ({v}) into the build log.",
         "10:20 - customer reached us by {what} at {v}."],
        ["Evidence: {v}"],
        ["09:30 - error rate on /checkout rose to 14%.",
         "## Lessons learned\nMask values in build logs."],
        ["", "Owner: Emeka Nwosu  ·  Status: resolved"]),
    "readme_install": _Kind(
        True, ["## Installation", "", "```bash", "pip install acme-claims"],
        ["export {NAME}={v}", "acme-claims configure --{name} {v}",
         "```\n\nThen set your {what} to `{v}` in `~/.acme/config`.\n```bash",
         "echo '{NAME}={v}' >> .env"],
        ["# {v}"],
        ["acme-claims init", "acme-claims doctor"],
        ["```", "", "See CONTRIBUTING.md."], case="kebab"),
    "tax_form": _Kind(
        True, ["Form W-9 (Rev. March 2024)", "Request for Taxpayer Identification Number",
               "Part I  Taxpayer Identification Number (TIN)"],
        ["{What}: {v}", "Social security number  {v}", "{What} ..................... {v}",
         "Line 7  {What}  {v}"],
        ["  {v}"],
        ["Part II  Certification", "Under penalties of perjury, I certify that..."],
        ["", "Signature of U.S. person ▶ ______  Date ▶ ______"], holds=_PAPER),
    "insurance_claim": _Kind(
        True, ["CLAIM FORM - Motor", "Policy no. MTR-88213-04", "Claimant: Leila Rahimi"],
        ["Claimant {what}: {v}", "{What} for the payout: {v}",
         "Please contact me on {v} ({what}) after 5pm.", "{What} (as on policy) - {v}"],
        ["Attachment ref: {v}"],
        ["Date of loss: 14/11/2026", "Description: rear-ended at a junction"],
        ["", "I declare the information above is true."], holds=_PAPER),
    "travel_booking": _Kind(
        True, ["Booking confirmation  PNR: X7KQ2M", "Lisbon (LIS) → São Paulo (GRU)",
               "Passenger: PEREIRA/GUSTAVO MR"],
        ["{What}: {v}", "Payment: {what} {v}", "Emergency contact {what}: {v}",
         "Passenger {what} {v}"],
        ["Receipt: {v}"],
        ["Fare: EUR 812.40", "Baggage: 1PC 23KG", "Seat: 32A"],
        ["", "Check-in opens 24 hours before departure."], holds=_PAPER),
    "school_record": _Kind(
        True, ["STUDENT RECORD - Westbrook Middle School", "Student: Mateo Alvarez  Grade 7"],
        ["Parent/guardian {what}: {v}", "{What}: {v}", "{What} (for fee refunds) - {v}",
         "Emergency: {what} {v}"],
        ["Notes: {v}"],
        ["Homeroom: 7B", "Allergies: none", "Bus route: 12"],
        ["", "Updated by the front office"], holds=_PAPER),
    "sentry_event": _Kind(
        False, ['{"event_id": "a8c1e2f04b7d4e0e9b0c3d5f6a7b8c9d", "level": "error",',
                '  "platform": "python", "request": {"headers": {'],
        ['    "{Name}": "{v}",', '    "Authorization": "Bearer {v}",',
         '  "extra": {"{name}": "{v}"},', '  "user": {"{name}": "{v}"},'],
        ['  "message": "{v}",'],
        ['    "Accept": "application/json",', '  "environment": "production",'],
        ['  "sdk": {"name": "sentry.python", "version": "2.19.0"}}}'], quote="json"),
    "datadog_log": _Kind(
        False, ['{"service": "claims-api", "status": "warn", "attributes": {'],
        ['  "{name}": "{v}",', '  "http": {"headers": {"x-{name}": "{v}"}},',
         '  "msg": "retrying with {what} {v}",', '  "usr": {"{name}": "{v}"},'],
        ['  "message": "{v}",'],
        ['  "duration": 132000000,', '  "host": "i-0a1b2c3d4e5f67890",'],
        ['  "ddsource": "python"}}'], quote="json"),
    "heroku_config": _Kind(
        False, ["$ heroku config -a claims-prod", "=== claims-prod Config Vars"],
        ["{NAME}:{pad}{v}", "{NAME}: {v}", "$ heroku config:set {NAME}={v} -a claims-prod"],
        ["NOTE: {v}"],
        ["WEB_CONCURRENCY:      2", "PAPERTRAIL_API_TOKEN: (set by add-on)"],
        []),
    "render_railway": _Kind(
        False, ["# render.yaml", "services:", "  - type: web", "    name: claims-api",
                "    envVars:"],
        ["      - key: {NAME}\n        value: {v}", "      - key: {NAME}\n        value: \"{v}\"",
         "# railway variables\n{NAME}={v}", "[variables]\n{NAME} = \"{v}\""],
        ["      # {v}"],
        ["      - key: PYTHON_VERSION\n        value: 3.12.7", "    plan: starter"],
        []),
    "firebase_supabase": _Kind(
        False, ["// src/lib/backend.ts", "import { initializeApp } from 'firebase/app';"],
        ["const firebaseConfig = {{ {name}: \"{v}\", projectId: \"claims-prod\" }};",
         "export const {NAME} = '{v}';",
         "const supabase = createClient(SUPABASE_URL, '{v}');",
         "  {name}: process.env.{NAME} ?? \"{v}\","],
        ["// {v}"],
        ["const app = initializeApp(firebaseConfig);", "export default app;"],
        [], case="camel"),
    "android_gradle": _Kind(
        False, ["android {", "    defaultConfig {", "        applicationId \"com.acme.claims\""],
        ["        buildConfigField \"String\", \"{NAME}\", \"\\\"{v}\\\"\"",
         "        manifestPlaceholders = [{name}: \"{v}\"]",
         "    signingConfigs {{ release {{ storePassword \"{v}\" }} }}",
         "{name}={v}"],
        ["        // {v}"],
        ["        minSdk 26", "        versionCode 4012"],
        ["    }", "}"], case="camel"),
    "ios_plist": _Kind(
        False, ['<?xml version="1.0" encoding="UTF-8"?>', "<plist version=\"1.0\">", "<dict>"],
        ["\t<key>{Name}</key>\n\t<string>{v}</string>",
         "\t<key>{NAME}</key>\n\t<string>{v}</string>",
         "\t<key>{name}</key> <string>{v}</string>"],
        ["\t<!-- {v} -->"],
        ["\t<key>CFBundleShortVersionString</key>\n\t<string>4.12.0</string>"],
        ["</dict>", "</plist>"], case="camel"),
    "nix_bazel": _Kind(
        False, ["{ config, pkgs, ... }:", "{"],
        ["  services.claims.{name} = \"{v}\";", "  environment.variables.{NAME} = \"{v}\";",
         "# .bazelrc\nbuild --action_env={NAME}={v}",
         "http_archive(name = \"claims\", {name} = \"{v}\")"],
        ["  # {v}"],
        ["  networking.firewall.allowedTCPPorts = [ 443 ];", "  system.stateVersion = \"24.11\";"],
        ["}"], case="camel"),
    "lua_source": _Kind(
        False, ["-- config.lua", "local M = {}"],
        ["M.{name} = \"{v}\"", "local {name} = os.getenv(\"{NAME}\") or \"{v}\"",
         "M.{name} = [[{v}]]", "redis:auth(\"{v}\")"],
        ["-- {v}"],
        ["M.timeout = 30", "return M"],
        []),
    "perl_source": _Kind(
        False, ["use strict;", "use warnings;"],
        ["my ${name} = '{v}';", "$ENV{{{NAME}}} = \"{v}\";",
         "my %cfg = ({name} => '{v}');", "my $dbh = DBI->connect($dsn, 'claims', '{v}');"],
        ["# {v}"],
        ["my $ua = LWP::UserAgent->new;", "1;"],
        []),
    "r_source": _Kind(
        False, ["library(httr)", ""],
        ["{name} <- \"{v}\"", "Sys.setenv({NAME} = \"{v}\")",
         "con <- dbConnect(RPostgres::Postgres(), user = \"claims\", password = \"{v}\")",
         "{name} = '{v}'"],
        ["# {v}"],
        ["res <- GET(url)", "stopifnot(status_code(res) == 200)"],
        []),
    "julia_source": _Kind(
        False, ["module Claims", "using HTTP"],
        ["const {NAME} = \"{v}\"", "ENV[\"{NAME}\"] = \"{v}\"",
         "{name} = get(ENV, \"{NAME}\", \"{v}\")", "headers = [\"{Name}\" => \"{v}\"]"],
        ["# {v}"],
        ["function fetch(url)", "end"],
        ["end # module"]),
    "postgres_log": _Kind(
        False, ["2026-12-03 08:14:02.113 UTC [4121] LOG:  database system is ready"],
        ["2026-12-03 08:15:40.002 UTC [4188] LOG:  statement: ALTER ROLE claims "
         "WITH PASSWORD '{v}';",
         "2026-12-03 08:16:11.540 UTC [4190] ERROR:  duplicate key value violates unique "
         "constraint\n2026-12-03 08:16:11.540 UTC [4190] DETAIL:  Key ({name})=({v}) "
         "already exists.",
         "2026-12-03 08:17:00.001 UTC [4191] LOG:  statement: UPDATE users SET {name} = "
         "'{v}' WHERE id = 7;"],
        ["2026-12-03 08:18:00.000 UTC [4192] LOG:  {v}"],
        ["2026-12-03 08:14:05.000 UTC [4122] LOG:  checkpoint starting: time"],
        []),
    "mysql_log": _Kind(
        False, ["2026-12-03T08:14:02.113042Z 0 [System] [MY-010931] ready for connections."],
        ["2026-12-03T08:15:40.002311Z 12 Query\tCREATE USER 'etl'@'%' IDENTIFIED BY '{v}'",
         "2026-12-03T08:16:11.540000Z 13 Query\tINSERT INTO customers ({name}) VALUES ('{v}')",
         "2026-12-03T08:17:00.001000Z 14 Query\tSET @{name} = '{v}'"],
        ["2026-12-03T08:18:00.000000Z 15 Query\t-- {v}"],
        ["2026-12-03T08:14:05.000000Z 11 Connect\tetl@localhost on claims using TCP/IP"],
        []),
    "openapi_spec": _Kind(
        False, ["openapi: 3.1.0", "info:", "  title: Claims API", "  version: 2.4.0",
                "components:", "  schemas:"],
        ["    {Name}:\n      type: string\n      example: {v}",
         "    {Name}:\n      type: string\n      example: \"{v}\"",
         "  securitySchemes:\n    apiKey:\n      type: apiKey\n      name: X-{Name}\n"
         "      x-test-value: {v}"],
        ["      description: {v}"],
        ["    Claim:\n      type: object", "      required: [id]"],
        [], case="camel"),
}

#: Lines that take values of some types only: artifact -> line -> the types.
_ONLY_I: dict[str, dict[int, set[str]]] = {
    "android_gradle": {2: {"password"}},
    "firebase_supabase": {2: {"jwt"}},
    "lua_source": {3: {"password"}},
    "perl_source": {3: {"password"}},
    "r_source": {2: {"password"}},
    "postgres_log": {0: {"password"}},
    "mysql_log": {0: {"password"}},
    "sentry_event": {1: {"jwt", "vendor_token", "github_token", "openai_api_key"}},
    "postmortem": {3: {"email", "phone"}},
    "insurance_claim": {2: {"phone", "email"}},
}

#: Bare lines that suit some types only.
_BARE_ONLY = {"Receipt: {v}": {"payment_card"}, "Attachment ref: {v}": {"iban"}}


def _bare_ok(line: str, type_: str) -> bool:
    if line in _BARE_ONLY:
        return type_ in _BARE_ONLY[line]
    return type_ in _OBVIOUS


class _Doc:
    def __init__(self, kind: _Kind) -> None:
        self.kind = kind
        self.text = ""
        self.planted: list[PlantedI] = []

    def line(self, text: str) -> None:
        self.text += text + "\n"

    def plant(self, template: str, value: str, shown: str, type_: str | None,
              decoy: str) -> None:
        before, after = template.split("{v}", 1)
        if self.kind.quote == "json":
            value, shown = json.dumps(value)[1:-1], json.dumps(shown)[1:-1]
        start = len(self.text) + len(before) + shown.index(value)
        self.text += before + shown + after + "\n"
        assert self.text[start:start + len(value)] == value
        self.planted.append((start, start + len(value), type_, self.kind.prose, decoy))


def _fill(template: str, words: Sequence[str], kind: _Kind, what: str) -> str:
    upper = _case(words, "upper") if words else ""
    for slot, text in (("{name}", _case(words, kind.case) if words else ""), ("{NAME}", upper),
                       ("{Name}", _case(words, "pascal") if words else ""),
                       ("{pad}", " " * max(1, 22 - len(upper))),
                       ("{What}", what[:1].upper() + what[1:]), ("{what}", what)):
        template = template.replace(slot, text)
    return template.replace("{{", "{").replace("}}", "}")


def _choose(rnd: random.Random, name: str, kind: _Kind, type_: str,
            words: Sequence[str], what: str) -> str:
    only = _ONLY_I.get(name, {})
    fits = [i for i in range(len(kind.named)) if i not in only or type_ in only[i]]
    special = [i for i in fits if i in only]
    index = rnd.choice(special) if special and rnd.random() < 0.5 else rnd.choice(fits)
    return _fill(kind.named[index], words, kind, what)


def _shown(type_: str, value: str, rnd: random.Random) -> str:
    if type_ == "url_password":
        return _in_url(value, rnd)
    if type_ == "azure_sas_signature":
        return _in_sas(value, rnd)
    return value


def documents_i(seed: int, count: int) -> list[tuple[str, list[PlantedI]]]:
    """``count`` documents of set I, kinds in turn, each with 2-4 planted values, one or
    two decoys and, in about two thirds, a one-digit-mutated card number or IBAN."""
    rnd = random.Random(seed)
    makers = {**SECRETS_I, **PERSONAL_I}
    order = sorted(_ARTIFACTS)
    out = []
    for number in range(count):
        name = order[number % len(order)]
        kind = _ARTIFACTS[name]
        doc = _Doc(kind)
        for text in kind.opening:
            doc.line(text)
        pool = sorted(kind.holds) if kind.holds else list(KINDS_I)
        slots: list[tuple[str, str | None, str]] = [
            (t, t, "") for t in rnd.sample(pool, min(len(pool), rnd.randint(2, 4)))]
        twin = rnd.choice(("payment_card", "iban", None))
        if twin is not None:
            slots.append((twin, None, "mutated"))
        slots.append(("lookalike", None, "lookalike"))
        rnd.shuffle(slots)
        decoys = _DECOYS_I if not kind.holds else tuple(
            d for d in _DECOYS_I if d[1][0] in _PAPER_DECOYS)
        for type_, label, decoy in slots:
            if decoy == "lookalike":
                made, words, what = rnd.choice(decoys)
                value = made if isinstance(made, str) else made(rnd)
                doc.plant(_choose(rnd, name, kind, "lookalike", words, what), value, value,
                          None, decoy)
                continue
            value = makers[type_](rnd)
            if decoy == "mutated":
                value = _mutate(value, rnd)
            bare = [b for b in kind.bare if _bare_ok(b, type_)]
            if decoy == "" and bare and rnd.random() < 0.15:
                template = _fill(rnd.choice(bare), (), kind, "")
            else:
                word_sets, whats = _NAMES[type_]
                template = _choose(rnd, name, kind, type_, rnd.choice(word_sets),
                                   rnd.choice(whats))
            doc.plant(template, value, _shown(type_, value, rnd), label, decoy)
            if rnd.random() < 0.35:
                doc.line(rnd.choice(kind.filler))
        for text in kind.closing:
            doc.line(text)
        out.append((doc.text, doc.planted))
    return out
