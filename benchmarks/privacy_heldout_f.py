"""The fourth fresh held-out set of the privacy benchmark (set F): HELD OUT.

Written on 2026-12-07 after set E had been evaluated (and spent), before any of round 4's
detector changes and without running the detectors on it; committed on its own first.
``benchmarks/privacy.py`` scores it once, at the end of round 4, as "held-out F"; a miss
found here is reported, not fixed against this set.

Nothing here comes from sets A-E: no Faker, no ``athena_core`` import (Luhn, mod-97 and
the SSN rules are written again below), its own value generators and its own composer.
Each document is one artifact of a kind no earlier set uses (:data:`_KINDS_OF_TEXT`):

* prose: Microsoft Teams and Matrix exports (JSON; Teams messages hold HTML), Zendesk
  tickets, Intercom conversations, meeting notes, SMS threads, voice-call transcripts,
  commit messages, pull-request descriptions;
* machine text: Kubernetes Secrets and ConfigMaps, systemd units, nginx and Apache
  configuration, crontabs, ``.npmrc``/``.pypirc``/``.netrc``/``.pgpass``/
  ``.git-credentials``, Jupyter outputs, Go, Rust, Java (with ``.properties``) and C#
  source, Makefiles, GitLab CI files, Vagrantfiles, SQL migrations, logfmt and syslog.

Fairness: every value sits where a reader would recognise it as sensitive - a key name, a
label or a sentence says what it is (worded many ways), or, for the formats that are
distinctive on their own (prefixed tokens, JWTs, PEM keys, card numbers, IBANs, e-mail
and IP addresses, international phone numbers, credentials in URLs), nothing needs to.
Decoys sit where such values really sit: placeholders and masks in a credential's
place, hashes after "commit" or "checksum", UUIDs after "request id", the processors'
test cards after "test card", one-digit-mutated card numbers and IBANs where a card
number or IBAN goes (a typo), documentation addresses where an address goes.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable, Sequence

import attrs

__all__ = ["KINDS_F", "PlantedF", "documents_f"]

_LO = string.ascii_lowercase
_UP = string.ascii_uppercase
_DG = string.digits
_AN = string.ascii_letters + string.digits
_B64 = _AN + "+/"
_URLSAFE = _AN + "_-"
_HEX = "0123456789abcdef"
_B32 = _UP + "234567"

#: (start, end, type or None for a decoy, in prose, decoy kind: "lookalike" or "mutated").
PlantedF = tuple[int, int, "str | None", bool, str]


def _r(rnd: random.Random, n: int, alphabet: str = _AN) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def _n(rnd: random.Random, n: int) -> str:
    return _r(rnd, n, _DG)


# --- checksums, written again ------------------------------------------------------------------


def _luhn_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return str((10 - total % 10) % 10)


def _iban(country: str, bban: str) -> str:
    digits = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


# --- personal values ---------------------------------------------------------------------------

#: (issuer, first digits, lengths) of the ranges the issue lists.
_CARD_RANGES: tuple[tuple[str, Callable[[random.Random], str], Sequence[int]], ...] = (
    ("visa", lambda r: "4" + str(r.randint(0, 9)), (13, 16, 19)),
    ("mastercard", lambda r: str(r.randint(51, 55)), (16,)),
    ("mastercard", lambda r: str(r.randint(2221, 2720)), (16,)),
    ("amex", lambda r: r.choice(("34", "37")), (15,)),
    ("discover", lambda r: "6011", (16, 19)),
    ("discover", lambda r: str(r.randint(644, 649)), (16, 19)),
    ("discover", lambda r: "65" + str(r.randint(0, 9)), (16, 19)),
    ("discover", lambda r: str(r.randint(622126, 622925)), (16,)),
    ("jcb", lambda r: str(r.randint(3528, 3589)), (16, 17, 18, 19)),
    ("diners", lambda r: str(r.randint(300, 305)), (14, 16)),
    ("diners", lambda r: r.choice(("36", "38", "39")), (14,)),
    ("maestro", lambda r: r.choice(("5018", "5020", "5038", "5893", "6304", "6759", "6761",
                                    "6762", "6763")), (12, 13, 14, 15, 16, 17, 18, 19)),
)


def card_f(rnd: random.Random) -> str:
    """A valid number of a listed range, printed as its issuer or a form would print it."""
    _, first, lengths = rnd.choice(_CARD_RANGES)
    head, length = first(rnd), rnd.choice(lengths)
    payload = head + _n(rnd, length - len(head) - 1)
    number = payload + _luhn_digit(payload)
    style = rnd.randrange(4)
    if style == 0:
        return number
    sep = " " if style in (1, 2) else "-"
    if length == 15:
        return sep.join((number[:4], number[4:10], number[10:]))
    if length == 14 and rnd.random() < 0.5:
        return sep.join((number[:4], number[4:10], number[10:]))
    return sep.join(number[i:i + 4] for i in range(0, length, 4))


#: Country -> BBAN shape (n digit, a capital, c digit or capital), from the IBAN registry;
#: countries sets A-E leave out or use little.
_BBAN_F = {
    "NL": "aaaa" + "n" * 10, "GB": "aaaa" + "n" * 14, "IT": "a" + "n" * 10 + "c" * 12,
    "CH": "n" * 5 + "c" * 12, "AT": "n" * 16, "NO": "n" * 11, "FI": "n" * 14,
    "LU": "nnn" + "c" * 13, "HU": "n" * 24, "RO": "aaaa" + "c" * 16, "HR": "n" * 17,
    "SI": "n" * 15, "SK": "n" * 20, "LT": "n" * 16, "TR": "n" * 5 + "0" + "c" * 16,
    "SA": "nn" + "c" * 18, "AE": "n" * 19, "IL": "n" * 19, "GR": "n" * 7 + "c" * 16,
    "MT": "aaaa" + "n" * 5 + "c" * 18, "IS": "n" * 22, "LI": "n" * 5 + "c" * 12,
    "MC": "n" * 10 + "c" * 11 + "nn", "SM": "a" + "n" * 10 + "c" * 12,
    "AD": "n" * 8 + "c" * 12, "AZ": "aaaa" + "c" * 20, "KZ": "nnn" + "c" * 13,
    "ME": "n" * 18, "RS": "n" * 18, "TN": "n" * 20, "EG": "n" * 25, "AL": "n" * 8 + "c" * 16,
    "GI": "aaaa" + "c" * 15, "GL": "n" * 14, "FO": "n" * 14, "LB": "nnnn" + "c" * 20,
    "MK": "nnn" + "c" * 10 + "nn", "XK": "n" * 16, "VG": "aaaa" + "n" * 16,
    "SC": "aaaa" + "n" * 20 + "aaa", "IQ": "aaaa" + "n" * 15, "CR": "0" + "n" * 17,
}


def iban_f(rnd: random.Random) -> str:
    country = rnd.choice(sorted(_BBAN_F))
    alphabet = {"n": _DG, "a": _UP, "c": _UP + _DG, "0": "0"}
    value = _iban(country, "".join(rnd.choice(alphabet[c]) for c in _BBAN_F[country]))
    if rnd.random() < 0.45:
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def ssn_f(rnd: random.Random) -> str:
    while True:
        area, group, serial = rnd.randint(1, 899), rnd.randint(1, 99), rnd.randint(1, 9999)
        if area != 666:
            break
    a, g, s = f"{area:03d}", f"{group:02d}", f"{serial:04d}"
    return rnd.choice((f"{a}-{g}-{s}", f"{a}-{g}-{s}", f"{a} {g} {s}", f"{a}{g}{s}"))


def phone_f(rnd: random.Random) -> str:
    """International and national forms of other countries' numbers."""
    n = lambda k: _n(rnd, k)  # noqa: E731
    return rnd.choice((
        f"+31 6 {n(8)}", f"06-{n(8)}", f"+39 3{n(2)} {n(3)} {n(4)}", f"3{n(2)} {n(3)} {n(4)}",
        f"+61 4{n(2)} {n(3)} {n(3)}", f"04{n(2)} {n(3)} {n(3)}", f"+234 80{n(1)} {n(3)} {n(4)}",
        f"+254 7{n(2)} {n(6)}", f"+65 9{n(3)} {n(4)}", f"+82 10-{n(4)}-{n(4)}",
        f"010-{n(4)}-{n(4)}", f"+86 13{n(1)} {n(4)} {n(4)}", f"+90 5{n(2)} {n(3)} {n(2)} {n(2)}",
        f"+972 5{n(1)}-{n(3)}-{n(4)}", f"+54 9 11 {n(4)}-{n(4)}", f"+57 3{n(2)} {n(3)} {n(4)}",
        f"+41 79 {n(3)} {n(2)} {n(2)}", f"079 {n(3)} {n(2)} {n(2)}", f"+47 {n(3)} {n(2)} {n(3)}",
        f"+1 {rnd.randint(201, 989)} {rnd.randint(200, 999)} {n(4)}",
        f"+1-{rnd.randint(201, 989)}-{rnd.randint(200, 999)}-{n(4)}",
        f"({rnd.randint(201, 989)}) {rnd.randint(200, 999)}-{n(4)}",
        f"+44 7{n(3)} {n(3)} {n(3)}", f"07{n(3)} {n(3)}{n(3)}", f"+353 85 {n(3)} {n(4)}",
        f"+43 664 {n(7)}", f"+30 69{n(1)} {n(3)} {n(4)}", f"+48 {n(3)}-{n(3)}-{n(3)}",
    ))


_GIVEN = ["wei", "nadia", "tomasz", "ines", "kwame", "yuki", "rafael", "sigrid", "omar", "lucia",
          "arjun", "petra"]
_FAMILY = ["zhang", "haddad", "nowak", "ferreira", "mensah", "yamada", "costa", "berg",
           "farouk", "romano", "iyer", "horvat"]
_MAIL_DOMAINS = ["fastmail.com", "libero.it", "bigpond.com", "t-online.de", "naver.com",
                 "163.com", "mail.ru", "wanadoo.fr", "ziggo.nl", "bluewin.ch", "helpdesk.io",
                 "stud.uni-graz.at", "nhs.net", "icloud.com"]


def email_f(rnd: random.Random) -> str:
    g, f = rnd.choice(_GIVEN), rnd.choice(_FAMILY)
    local = rnd.choice((f"{g}.{f}", f"{g[0]}{f}", f"{f}{rnd.randint(1, 999)}", f"{g}+invoices",
                        f"{g}_{f}.{rnd.randint(80, 99)}", f"{f}.{g}", f"{g.capitalize()}.{f}"))
    return f"{local}@{rnd.choice(_MAIL_DOMAINS)}"


def ipv4_f(rnd: random.Random) -> str:
    reserved = {0, 10, 100, 127, 169, 172, 192, 198, 203}
    first = rnd.choice([a for a in range(1, 224) if a not in reserved])
    return f"{first}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"


def ipv6_f(rnd: random.Random) -> str:
    groups = [rnd.choice(("2001:67c", "2a01:4f8", "2606:4700", "2406:da00", "2a02:6b8",
                          "2804:14c"))] + [f"{rnd.randint(0, 0xffff):x}" for _ in range(6)]
    style = rnd.randrange(3)
    if style == 0:
        return ":".join(groups)
    if style == 1:
        return ":".join(groups[:3]) + "::" + groups[-1]
    return ":".join(groups[:2]) + "::" + f"{rnd.randint(1, 0xfff):x}"


# --- secrets --------------------------------------------------------------------------------


def password_f(rnd: random.Random) -> str:
    style = rnd.randrange(7)
    if style == 0:  # openssl rand -hex 16 / 12
        return _r(rnd, rnd.choice((24, 32)), _HEX)
    if style == 1:  # openssl rand -base64 18
        return _r(rnd, 24, _B64)
    if style == 2:  # a person's password
        word = rnd.choice(("Sunflower", "tigerlily", "Kangaroo", "ballerina", "Everest",
                           "marmalade", "Hurricane"))
        return word + str(rnd.randint(10, 2025)) + rnd.choice("!#?*$@")
    if style == 3:  # pwgen -sy 16
        return _r(rnd, 16, _AN + "!#%+:=?@^_")
    if style == 4:  # words and digits, as a password manager's passphrase
        words = rnd.sample(["copper", "violin", "glacier", "pepper", "ferry", "nimbus",
                            "walnut", "lantern", "basil", "orbit"], 3)
        return rnd.choice(("-", "_", "+")).join(words) + str(rnd.randint(1, 99))
    if style == 5:  # a generated one with symbols
        return _r(rnd, rnd.randint(12, 20), _AN + "!@#%^&*-_")
    return _r(rnd, 8, _AN) + _n(rnd, 2)


def _pem_f(rnd: random.Random) -> str:
    label = rnd.choice(("RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY",
                        "PRIVATE KEY"))
    head = "b3BlbnNzaC1rZXktdjEAAAAA" if "OPENSSH" in label else ""
    lines = [head + _r(rnd, 64 - len(head), _B64)] + [_r(rnd, 64, _B64)
                                                      for _ in range(rnd.randint(2, 6))]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n{_r(rnd, 20, _B64)}=\n" \
        f"-----END {label}-----"


def _jwt_f(rnd: random.Random) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()) \
            .decode().rstrip("=")
    header = {"alg": rnd.choice(("RS256", "ES256", "HS512")), "kid": _r(rnd, 8)}
    body = {"sub": str(uuid.UUID(int=rnd.getrandbits(128))), "aud": "orders-api",
            "iat": rnd.randint(1_700_000_000, 1_760_000_000), "roles": ["support"]}
    return f"{part(header)}.{part(body)}.{_r(rnd, rnd.choice((43, 86)), _URLSAFE)}"


#: Vendors' documented token formats: those round 4's brief names and others no set names.
_VENDOR_TOKENS: tuple[Callable[[random.Random], str], ...] = (
    lambda r: "lin_api_" + _r(r, 40),                                      # Linear
    lambda r: "ATATT3xFfGF0" + _r(r, 100, _URLSAFE) + "=" + _r(r, 8, _HEX.upper()),  # Atlassian
    lambda r: "dapi" + _r(r, 32, _HEX) + r.choice(("", "-2")),             # Databricks
    lambda r: "dp.pt." + _r(r, 43),                                        # Doppler
    lambda r: "PMAK-" + _r(r, 24, _HEX) + "-" + _r(r, 34, _HEX),           # Postman
    lambda r: "NRAK-" + _r(r, 27, _UP + _DG),                              # New Relic
    lambda r: "sntrys_" + _r(r, 100, _URLSAFE),                            # Sentry
    lambda r: "glsa_" + _r(r, 32) + "_" + _r(r, 8, _HEX),                  # Grafana
    lambda r: "pul-" + _r(r, 40, _HEX),                                    # Pulumi
    lambda r: _r(r, 14) + ".atlasv1." + _r(r, 60),                         # Terraform Cloud
    lambda r: "hvs." + _r(r, 24),                                          # Vault
    lambda r: "tskey-api-" + _r(r, 12) + "CNTRL-" + _r(r, 30),             # Tailscale
    lambda r: "xkeysib-" + _r(r, 64, _HEX) + "-" + _r(r, 16),              # Brevo
    lambda r: f"{r.randint(1_000_000_000, 7_999_999_999)}:AA" + _r(r, 33, _URLSAFE),  # Telegram
    lambda r: "AGE-SECRET-KEY-1" + _r(r, 58, _UP + "023456789"),           # age
    lambda r: "sbp_" + _r(r, 40, _HEX),                                    # Supabase
    lambda r: "pscale_pw_" + _r(r, 43, _URLSAFE),                          # PlanetScale
    lambda r: "secret_" + _r(r, 43),                                       # Notion
    lambda r: "dckr_pat_" + _r(r, 27, _URLSAFE),                           # Docker Hub
    lambda r: "figd_" + _r(r, 40, _URLSAFE),                               # Figma
    lambda r: "glc_" + _r(r, 80, _AN) + "==",                              # Grafana Cloud
    lambda r: "rubygems_" + _r(r, 48, _HEX),                               # RubyGems
    lambda r: "gsk_" + _r(r, 52),                                          # Groq
    lambda r: "r8_" + _r(r, 37),                                           # Replicate
    lambda r: "xai-" + _r(r, 80),                                          # xAI
    lambda r: "key-" + _r(r, 32, _HEX),                                    # Mailgun
    lambda r: "ya29.a0" + _r(r, 120, _URLSAFE),                            # Google OAuth
    lambda r: "pat" + _r(r, 14) + "." + _r(r, 64, _HEX),                   # Airtable
    lambda r: "fo1_" + _r(r, 43, _URLSAFE),                                # Fly.io
    lambda r: "EAAG" + _r(r, 160),                                         # Meta
)

SECRETS_F: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: r.choice(("AKIA", "ASIA")) + _r(r, 16, _B32),
    "aws_secret_access_key": lambda r: _r(r, 40, _B64),
    "github_token": lambda r: r.choice((
        lambda: r.choice(("ghp_", "gho_", "ghs_", "ghu_")) + _r(r, 36),
        lambda: "github_pat_11" + _r(r, 20, _UP + _DG) + "_" + _r(r, 59)))(),
    "gitlab_token": lambda r: r.choice(("glpat-", "glpat-", "gldt-", "GR1348941")) + _r(
        r, 20, _URLSAFE),
    "slack_token": lambda r: r.choice(("xoxb-", "xoxp-")) + f"{_n(r, 12)}-{_n(r, 13)}-"
    + _r(r, 24),
    "slack_webhook": lambda r: f"https://hooks.slack.com/services/T{_r(r, 8, _UP + _DG)}/"
    f"B{_r(r, 10, _UP + _DG)}/{_r(r, 24)}",
    "stripe_key": lambda r: r.choice(("sk_live_", "rk_live_", "whsec_")) + _r(r, r.choice(
        (24, 32, 99))),
    "openai_api_key": lambda r: r.choice(("sk-proj-", "sk-svcacct-", "sk-")) + _r(
        r, 40, _URLSAFE) + "T3BlbkFJ" + _r(r, 40, _URLSAFE),
    "anthropic_api_key": lambda r: "sk-ant-api03-" + _r(r, 93, _URLSAFE) + "AA",
    "jwt": _jwt_f,
    "private_key": _pem_f,
    "pypi_token": lambda r: "pypi-AgEIcHlwaS5vcmc" + _r(r, 150, _URLSAFE),
    "npm_token": lambda r: "npm_" + _r(r, 36),
    "twilio_api_key": lambda r: "SK" + _r(r, 32, _HEX),
    "twilio_auth_token": lambda r: _r(r, 32, _HEX),
    "sendgrid_api_key": lambda r: "SG." + _r(r, 22, _URLSAFE) + "." + _r(r, 43, _URLSAFE),
    "google_api_key": lambda r: "AIza" + _r(r, 35, _URLSAFE),
    "azure_storage_key": lambda r: _r(r, 86, _B64) + "==",
    "shopify_token": lambda r: r.choice(("shpat_", "shpca_", "shppa_")) + _r(r, 32, _HEX),
    "digitalocean_token": lambda r: "dop_v1_" + _r(r, 64, _HEX),
    "huggingface_token": lambda r: "hf_" + _r(r, 34, string.ascii_letters),
    "vendor_token": lambda r: r.choice(_VENDOR_TOKENS)(r),
    "client_secret": lambda r: _r(r, rnd_len(r), _AN + "~_-."),
    "password": password_f,
    "url_password": lambda r: _r(r, r.randint(9, 20), _AN + "-._~!*"),
}


def rnd_len(rnd: random.Random) -> int:
    return rnd.choice((32, 34, 40, 48))


PERSONAL_F: dict[str, Callable[[random.Random], str]] = {
    "email": email_f, "phone": phone_f, "payment_card": card_f, "iban": iban_f, "us_ssn": ssn_f,
    "ipv4": ipv4_f, "ipv6": ipv6_f}
#: Every type set F plants.
KINDS_F = tuple(sorted({**SECRETS_F, **PERSONAL_F}))

#: Values whose format says what they are, so a line need not name them.
_DISTINCTIVE = frozenset({
    "email", "payment_card", "iban", "ipv4", "ipv6", "aws_access_key_id", "github_token",
    "gitlab_token", "slack_token", "slack_webhook", "stripe_key", "openai_api_key",
    "anthropic_api_key", "jwt", "private_key", "pypi_token", "npm_token", "sendgrid_api_key",
    "google_api_key", "shopify_token", "digitalocean_token", "url_password"})

#: Type -> (identifier words, ways people name it in a sentence).
_NAMING: dict[str, tuple[Sequence[Sequence[str]], Sequence[str]]] = {
    "email": ((("contact", "email"), ("billing", "email"), ("user", "mail"), ("notify", "to")),
              ("email", "e-mail", "mail address", "contact email", "work address")),
    "phone": ((("phone",), ("mobile", "number"), ("oncall", "phone"), ("sms", "to")),
              ("phone", "cell", "mobile number", "number to call", "whatsapp", "tel.")),
    "payment_card": ((("card", "number"), ("cc", "num"), ("pan",)),
                     ("card number", "credit card", "card", "Visa", "debit card no.")),
    "iban": ((("iban",), ("payout", "iban"), ("bank", "account")),
             ("IBAN", "bank account (IBAN)", "account number", "IBAN for the refund")),
    "us_ssn": ((("ssn",), ("social", "security", "number"), ("tax", "id")),
               ("SSN", "social security number", "social", "SSN on file", "soc sec #")),
    "ipv4": ((("host", "ip"), ("bind", "address"), ("upstream",), ("client", "ip")),
             ("IP", "server address", "egress IP", "public IP", "box")),
    "ipv6": ((("host", "ipv6"), ("listen", "v6")), ("IPv6 address", "v6 address", "AAAA")),
    "aws_access_key_id": ((("aws", "access", "key", "id"), ("access", "key")),
                          ("AWS access key", "access key id", "IAM key")),
    "aws_secret_access_key": ((("aws", "secret", "access", "key"), ("aws", "secret", "key")),
                              ("AWS secret", "secret access key", "IAM secret")),
    "github_token": ((("github", "token"), ("gh", "pat")), ("GitHub token", "PAT", "gh token")),
    "gitlab_token": ((("gitlab", "token"), ("ci", "registration", "token")),
                     ("GitLab token", "runner token", "deploy token")),
    "slack_token": ((("slack", "bot", "token"), ("slack", "token")),
                    ("Slack token", "bot token", "slack creds")),
    "slack_webhook": ((("slack", "webhook", "url"), ("alerts", "webhook")),
                      ("Slack webhook", "incoming webhook", "alert hook")),
    "stripe_key": ((("stripe", "secret", "key"), ("stripe", "key")),
                   ("Stripe key", "live key", "Stripe secret")),
    "openai_api_key": ((("openai", "api", "key"), ("llm", "key")),
                       ("OpenAI key", "openai api key", "GPT key")),
    "anthropic_api_key": ((("anthropic", "api", "key"), ("claude", "key")),
                          ("Anthropic key", "Claude API key")),
    "jwt": ((("auth", "token"), ("bearer",), ("session", "jwt")),
            ("JWT", "bearer token", "session token", "id token")),
    "private_key": ((("private", "key"), ("tls", "key"), ("ssh", "key")),
                    ("private key", "deploy key", "TLS key")),
    "pypi_token": ((("pypi", "token"), ("twine", "password")),
                   ("PyPI token", "upload token")),
    "npm_token": ((("npm", "token"), ("node", "auth", "token")),
                  ("npm token", "publish token")),
    "twilio_api_key": ((("twilio", "api", "key"), ("twilio", "key", "sid")),
                       ("Twilio API key", "Twilio key")),
    "twilio_auth_token": ((("twilio", "auth", "token"),),
                          ("Twilio auth token", "twilio token")),
    "sendgrid_api_key": ((("sendgrid", "api", "key"), ("smtp", "api", "key")),
                         ("SendGrid key", "mail API key")),
    "google_api_key": ((("google", "api", "key"), ("maps", "key")),
                       ("Google API key", "Maps key", "Firebase web key")),
    "azure_storage_key": ((("azure", "storage", "key"), ("account", "key")),
                          ("storage account key", "Azure key", "blob key")),
    "shopify_token": ((("shopify", "access", "token"), ("shop", "token")),
                      ("Shopify token", "admin API token")),
    "digitalocean_token": ((("do", "token"), ("digitalocean", "token")),
                           ("DigitalOcean token", "DO API token")),
    "huggingface_token": ((("hf", "token"), ("hub", "token")),
                          ("HF token", "Hugging Face token")),
    "vendor_token": ((("api", "token"), ("access", "token"), ("integration", "secret"),
                      ("service", "key")),
                     ("API token", "token", "access token", "service key", "integration secret")),
    "client_secret": ((("client", "secret"), ("oauth", "secret"), ("app", "secret")),
                      ("client secret", "OAuth secret", "app secret")),
    "password": ((("db", "password"), ("admin", "pass"), ("password",), ("smtp", "pwd"),
                  ("root", "pw"), ("bind", "password")),
                 ("password", "pw", "admin password", "DB password", "passcode", "wifi password",
                  "login password", "pass")),
    "url_password": ((("database", "url"), ("broker", "url"), ("dsn",)),
                     ("connection string", "DSN", "broker URL")),
}


def _in_url(value: str, rnd: random.Random) -> str:
    return rnd.choice((f"postgresql://billing:{value}@pg-main.internal:5432/billing",
                       f"mysql://root:{value}@mysql-replica.internal/shop",
                       f"redis://default:{value}@cache.internal:6379/0",
                       f"https://ci-bot:{value}@git.example-corp.net/platform/api.git",
                       f"amqps://worker:{value}@mq.internal/vhost"))


# --- decoys -------------------------------------------------------------------------------------


def _hex(n: int) -> Callable[[random.Random], str]:
    return lambda r: _r(r, n, _HEX)


#: (value or maker, identifier words, how a sentence names it): where decoys really sit.
_LOOKALIKES: tuple[tuple[str | Callable[[random.Random], str], Sequence[str], str], ...] = (
    ("AKIAIOSFODNN7EXAMPLE", ("aws", "access", "key", "id"), "AWS access key"),
    ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ("aws", "secret", "access", "key"),
     "AWS secret"),
    ("${DB_PASSWORD}", ("db", "password"), "DB password"),
    ("$(cat /run/secrets/api_token)", ("api", "token"), "API token"),
    ("{{ vault_smtp_password }}", ("smtp", "password"), "SMTP password"),
    ("<paste-your-token-here>", ("api", "token"), "token"),
    ("********", ("password",), "password"),
    ("xxxxxxxxxxxxxxxxxxxxxxxx", ("api", "key"), "API key"),
    ("REDACTED", ("client", "secret"), "client secret"),
    ("sk_live_****************", ("stripe", "key"), "Stripe key"),
    ("ghp_<your-token>", ("github", "token"), "GitHub token"),
    ("%(PG_PASS)s", ("pg", "pass"), "postgres password"),
    ("env:SENTRY_TOKEN", ("sentry", "token"), "Sentry token"),
    (lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)), ("request", "id"),
     "request id"),
    (lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)), ("trace", "id"), "trace id"),
    (_hex(40), ("commit",), "commit"),
    (_hex(40), ("git", "sha"), "fixed in"),
    (lambda r: "sha256:" + _r(r, 64, _HEX), ("image", "digest"), "image digest"),
    (_hex(32), ("md5", "checksum"), "MD5 checksum"),
    (_hex(64), ("sha256",), "SHA-256 of the tarball"),
    ("4111111111111111", ("test", "card"), "test card"),
    ("4000 0000 0000 0002", ("decline", "test", "card"), "the decline test card"),
    ("5555555555554444", ("test", "card"), "Mastercard test number"),
    ("378282246310005", ("amex", "test", "card"), "Amex test card"),
    ("GB29 NWBK 6016 1331 9268 19", ("example", "iban"), "the example IBAN"),
    ("CH93 0076 2011 6238 5295 7", ("sample", "iban"), "sample IBAN from the docs"),
    ("192.0.2.10", ("host", "ip"), "server address"),
    ("198.51.100.7", ("upstream",), "upstream"),
    ("2001:db8::1", ("listen", "v6"), "IPv6 address"),
    ("user@example.com", ("contact", "email"), "email"),
    ("noreply@example.net", ("notify", "to"), "mail address"),
    ("(555) 010-4477", ("phone",), "phone"),
    ("+1 202-555-0173", ("mobile", "number"), "cell"),
    ("000-12-3456", ("ssn",), "SSN"),
    ("666-45-1234", ("ssn",), "SSN"),
    ("XXX-XX-4821", ("ssn",), "social security number"),
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq3vN1dWk2mQ8rT5yZ0bC7hJ4pL9sX6uE2fA1oK3iRt "
     "deploy@ci", ("deploy", "public", "key"), "public deploy key"),
    (lambda r: "01J" + _r(r, 23, "0123456789ABCDEFGHJKMNPQRSTVWXYZ"), ("event", "id"),
     "event id"),
    (lambda r: f"v{r.randint(1, 3)}.{r.randint(0, 40)}.{r.randint(0, 20)}", ("version",),
     "version"),
)


def _mutate(value: str, rnd: random.Random) -> str:
    digits = [i for i, c in enumerate(value) if c.isdigit() and i >= 4] \
        or [i for i, c in enumerate(value) if c.isdigit()]
    i = rnd.choice(digits)
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
    if case == "dot":
        return ".".join(words)
    return "_".join(words)


@attrs.frozen
class _Kind:
    """A kind of document: ``lines`` hold ``{v}`` and may hold ``{name}`` (the identifier
    in this format's ``case``), ``{NAME}`` (upper case) and ``{what}`` (a sentence's
    name); ``bare`` lines name nothing (for values distinctive on their own); ``noise``
    lines are written between them. ``escape`` is "json" for text inside a JSON string;
    ``indent`` indents the lines of a multi-line value."""

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
    "teams_export": _Kind(
        True, ['{"messages": ['],
        ['  {"from": {"user": {"displayName": "Priya N"}}, "body": {"contentType": "html", '
         '"content": "<p>{what}: <b>{v}</b></p>"}},',
         '  {"from": {"user": {"displayName": "Jonas K"}}, "body": {"contentType": "html", '
         '"content": "<div>here is the {what} you asked for<br>{v}</div>"}},',
         '  {"from": {"user": {"displayName": "Priya N"}}, "body": {"contentType": "text", '
         '"content": "can you double-check the {what}? I have {v}"}},'],
        ['  {"from": {"user": {"displayName": "Jonas K"}}, "body": {"contentType": "html", '
         '"content": "<p>pasted by mistake, please delete: {v}</p>"}},'],
        ['  {"from": {"user": {"displayName": "Bot"}}, "body": {"content": "Meeting ended: '
         '42m"}},'],
        ['  {"messageType": "systemEventMessage"}', "]}"], escape="json"),
    "matrix_export": _Kind(
        True, ['{"room_name": "#ops:matrix.example-corp.net", "messages": ['],
        ['  {"type": "m.room.message", "sender": "@lena:matrix.example-corp.net", "content": '
         '{"msgtype": "m.text", "body": "new {what} is {v}, rotate yours too"}},',
         '  {"type": "m.room.message", "sender": "@otto:matrix.example-corp.net", "content": '
         '{"msgtype": "m.text", "body": "> what is the {what}?\\n\\n{v}"}},',
         '  {"type": "m.room.message", "sender": "@lena:matrix.example-corp.net", "content": '
         '{"msgtype": "m.notice", "body": "{what} updated to {v} by admin"}},'],
        ['  {"type": "m.room.message", "sender": "@otto:matrix.example-corp.net", "content": '
         '{"msgtype": "m.text", "body": "found this in the old wiki: {v}"}},'],
        ['  {"type": "m.reaction", "content": {"m.relates_to": {"key": "\\ud83d\\udc4d"}}},'],
        ['  {"type": "m.room.member", "content": {"membership": "leave"}}', "]}"],
        escape="json"),
    "zendesk_ticket": _Kind(
        True, ["Ticket #48213 - Can't access my account", "Status: Open | Priority: High",
               "Requester: customer via web form", ""],
        ["Customer: Hi, my {what} is {v} if that helps you find me.",
         "Agent (Sam): Thanks! I've updated the {what} on file to {v}.",
         "Customer: the {what} I registered with was {v} but it says not found",
         "Internal note: verified caller via {what} ({v}), OK to proceed."],
        ["Customer: sorry, I think I pasted {v} earlier by accident, can you remove it?"],
        ["Agent (Sam): Let me look into this for you.", "Customer: ok, waiting",
         "Tags: login, urgent"],
        ["", "-- Sent from Zendesk Support"]),
    "intercom_conversation": _Kind(
        True, ["Conversation with Visitor 7781 (started 14:02)"],
        ["[14:03] Visitor: {what}? it's {v}",
         "[14:05] Operator Mia: I've got your {what} as {v}, is that right?",
         "[14:06] Visitor: yes the {what} is {v}",
         "[14:08] Visitor: oh and for the {what}, use {v} please"],
        ["[14:09] Visitor: {v}"],
        ["[14:04] Operator Mia: one moment please", "[14:07] Visitor: thx"],
        ["[14:12] Conversation closed by Mia"]),
    "meeting_notes": _Kind(
        True, ["# Ops sync - 2026-11-30", "Attendees: Dana, Farid, Kim", "", "## Notes"],
        ["- Farid shared the {what}: {v} (to be rotated after launch)",
         "- Dana: the vendor's {what} is {v}, stored in 1Password later",
         "- [ ] Kim to replace the {what} ({v}) in the runbook",
         "- Decision: keep {v} as the {what} until Friday"],
        ["- FYI {v}"],
        ["- Budget approved for Q1", "- Next sync: Tuesday", "- Incident review postponed"],
        ["", "## Action items", "- [ ] Dana: update the status page"]),
    "sms_thread": _Kind(
        True, ["Messages with +Mum", ""],
        ["Mon 09:14  Mum: whats the {what} again\nMon 09:16  Me: {v}",
         "Mon 09:20  Mum: my new {what} is {v} save it",
         "Tue 18:02  Me: {what} = {v} dont lose it",
         "Tue 18:03  Me: ok {what} {v}"],
        ["Wed 07:45  Me: {v}"],
        ["Mon 09:15  Mum: for the bank thing", "Tue 18:05  Mum: \u2764\ufe0f"],
        []),
    "voice_transcript": _Kind(
        True, ["Call recording transcript - support line", ""],
        ["[00:01:12] Agent: can I get the {what} please\n[00:01:15] Caller: yes it's {v}",
         "[00:02:40] Caller: the {what} should be {v} I think",
         "[00:03:05] Agent: so that's {v} for the {what}, correct?",
         "[00:04:22] Caller: uh my {what} is {v}"],
        ["[00:05:10] Caller: and I also have {v} written down here"],
        ["[00:00:05] Agent: thank you for calling, how can I help", "[00:02:01] Caller: mm-hm",
         "[00:03:30] Agent: let me put you on hold"],
        ["[00:06:00] Agent: is there anything else? have a good day"]),
    "commit_message": _Kind(
        True, ["commit " + "3f9a1c" * 6 + "3f9a", "Author: Kim Park <kim.park@example.com>", "",
               "    fix(config): load settings from the environment", ""],
        ["    Previously the {what} ({v}) was hard-coded in settings.py.",
         "    The old {what} was {v}; it has been revoked.",
         "    Rotate {what}: {v}"],
        ["    Remove leaked value {v} from the repository."],
        ["    Also bump the timeout to 30s.", "    Refs #1184"],
        ["", "    Signed-off-by: Kim Park <kim.park@example.com>"]),
    "pr_description": _Kind(
        True, ["## Summary", "Moves the payment client to the new SDK.", ""],
        ["## Testing\nTested against staging with {what} `{v}`.",
         "> **Note**: the {what} in `.env.staging` is now {v}",
         "- set the {what} to {v} before running the migration"],
        ["Reviewer: you left `{v}` in the diff, please remove it"],
        ["- [x] Unit tests", "- [ ] Docs", "Closes #902"],
        ["", "cc @payments-team"]),
    "k8s_secret": _Kind(
        False, ["apiVersion: v1", "kind: Secret", "metadata:", "  name: app-secrets",
                "type: Opaque", "stringData:"],
        ["  {name}: {v}", "  {name}: \"{v}\"", "  {NAME}: '{v}'", "  {name}: |\n    {v}"],
        ["  config.yaml: |\n    upstream: {v}"],
        ["  LOG_LEVEL: info"],
        ["---"], case="kebab", indent="    "),
    "k8s_configmap": _Kind(
        False, ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: app-config", "data:"],
        ["  {NAME}: \"{v}\"", "  {name}: {v}", "  app.properties: |\n    {name}={v}"],
        ["  extra: \"{v}\""],
        ["  TZ: Europe/Berlin", "  FEATURE_FLAGS: beta,search"],
        [], case="dot", indent="    "),
    "systemd_unit": _Kind(
        False, ["[Unit]", "Description=Billing worker", "After=network.target", "",
                "[Service]"],
        ["Environment=\"{NAME}={v}\"", "Environment={NAME}={v}",
         "ExecStart=/usr/bin/billing --{name} {v}"],
        ["ExecStartPre=/usr/bin/echo {v}"],
        ["Restart=always", "User=billing"],
        ["", "[Install]", "WantedBy=multi-user.target"], case="kebab"),
    "nginx_conf": _Kind(
        False, ["server {", "    listen 443 ssl;", "    server_name api.example-corp.net;"],
        ["    set ${name} \"{v}\";", "    proxy_set_header X-{name} \"{v}\";",
         "    # {what}: {v}"],
        ["    proxy_pass http://{v}:8080;"],
        ["    client_max_body_size 10m;", "    gzip on;"],
        ["}"], case="lower"),
    "apache_conf": _Kind(
        False, ["<VirtualHost *:443>", "    ServerName shop.example-corp.net"],
        ["    SetEnv {NAME} \"{v}\"", "    SetEnv {NAME} {v}", "    # {what} = {v}"],
        ["    ProxyPass / http://{v}:8080/"],
        ["    DocumentRoot /var/www/shop", "    ErrorLog ${APACHE_LOG_DIR}/error.log"],
        ["</VirtualHost>"]),
    "crontab": _Kind(
        False, ["# m h dom mon dow command", "MAILTO=\"\""],
        ["0 3 * * * {NAME}={v} /usr/local/bin/backup.sh",
         "*/15 * * * * /opt/sync --{name}={v} >/dev/null 2>&1",
         "{NAME}=\"{v}\""],
        ["30 2 * * 1 /usr/bin/curl -s {v} >/dev/null"],
        ["@reboot /opt/agent/start.sh", "0 0 * * 0 find /tmp -mtime +7 -delete"],
        [], case="kebab"),
    "dotfiles": _Kind(
        False, ["# ~/.config, collected for the migration"],
        ["//npm.example-corp.net/:_authToken={v}",
         "[pypi-internal]\nrepository = https://pkgs.example-corp.net/simple\n"
         "username = __token__\npassword = {v}",
         "machine git.example-corp.net login deploy password {v}",
         "db.example-corp.net:5432:orders:orders_rw:{v}",
         "https://ci-bot:{v}@git.example-corp.net",
         "{name} = {v}"],
        ["# see {v}"],
        ["always-auth=true", "[distutils]\nindex-servers = pypi-internal"],
        []),
    "jupyter_output": _Kind(
        False, ['{"cells": [{"cell_type": "code", "execution_count": 3, "outputs": [',
                '  {"output_type": "stream", "name": "stdout", "text": ['],
        ['    "{name} = {v}\\n",', '    "{\'{name}\': \'{v}\', \'ok\': True}\\n",',
         '    "Loaded {what}: {v}\\n",'],
        ['    "{v}\\n",'],
        ['    "Fitting 5 folds for each of 12 candidates\\n",'],
        ["  ]}]}], \"nbformat\": 4}"], escape="json"),
    "go_source": _Kind(
        False, ["package config", "", "import \"os\"", ""],
        ["const {name} = \"{v}\"", "var {name} = \"{v}\"", "\tos.Setenv(\"{NAME}\", \"{v}\")",
         "\tcfg.{name} = `{v}`"],
        ["\t// {v}"],
        ["func init() {", "}", "// TODO: move to vault"],
        [], case="camel"),
    "rust_source": _Kind(
        False, ["use std::env;", ""],
        ["const {NAME}: &str = \"{v}\";", "    let {name} = String::from(\"{v}\");",
         "    std::env::set_var(\"{NAME}\", \"{v}\");"],
        ["    // {v}"],
        ["fn main() {", "}", "#[derive(Debug)]"],
        [], case="lower"),
    "java_source": _Kind(
        False, ["package com.examplecorp.billing;", ""],
        ["    private static final String {NAME} = \"{v}\";",
         "    props.setProperty(\"{name}\", \"{v}\");",
         "# application.properties\nspring.{name}={v}"],
        ["    // {v}"],
        ["public class Config {", "}", "    @Value(\"${server.port}\") int port;"],
        [], case="dot"),
    "csharp_source": _Kind(
        False, ["using System;", "namespace Billing;", ""],
        ["    public const string {name} = \"{v}\";",
         "    var {name} = @\"{v}\";",
         "  \"{name}\": \"{v}\","],
        ["    // {v}"],
        ["public static class Settings {", "}"],
        [], case="pascal"),
    "makefile": _Kind(
        False, [".PHONY: deploy", ""],
        ["{NAME} ?= {v}", "{NAME} := {v}", "deploy:\n\t./deploy.sh --{name} \"{v}\""],
        ["# {v}"],
        ["build:\n\tgo build ./...", "test:\n\tgo test ./..."],
        [], case="kebab"),
    "gitlab_ci": _Kind(
        False, ["stages: [test, deploy]", "variables:"],
        ["  {NAME}: \"{v}\"", "  {NAME}: {v}",
         "deploy:\n  script:\n    - ./release --{name} {v}"],
        ["    - echo {v}"],
        ["  GIT_DEPTH: \"10\"", "test:\n  script:\n    - make test"],
        [], case="kebab"),
    "vagrantfile": _Kind(
        False, ["Vagrant.configure(\"2\") do |config|", "  config.vm.box = \"debian/bookworm64\""],
        ["  config.vm.provision \"shell\", env: {\"{NAME}\" => \"{v}\"}",
         "  {name} = \"{v}\"",
         "  config.vm.provider \"virtualbox\" do |vb|\n    vb.customize [\"setextradata\", :id, "
         "\"{name}\", \"{v}\"]\n  end"],
        ["  # {v}"],
        ["  config.vm.network \"private_network\", type: \"dhcp\""],
        ["end"]),
    "sql_migration": _Kind(
        False, ["-- migrate:up", "BEGIN;"],
        ["INSERT INTO customers (name, {name}) VALUES ('Ines Costa', '{v}');",
         "UPDATE integrations SET {name} = '{v}' WHERE id = 7;",
         "ALTER ROLE app_rw WITH LOGIN PASSWORD '{v}';",
         "-- {what}: {v}"],
        ["-- {v}"],
        ["CREATE INDEX idx_orders_created ON orders (created_at);"],
        ["COMMIT;", "-- migrate:down"]),
    "logfmt": _Kind(
        False, ['ts=2026-12-01T10:00:01Z level=info msg="worker started"'],
        ['ts=2026-12-01T10:00:02Z level=debug msg="config" {name}={v}',
         'ts=2026-12-01T10:00:03Z level=warn msg="login failed" {name}="{v}"',
         'ts=2026-12-01T10:00:04Z level=error msg="{what} rejected: {v}"'],
        ['ts=2026-12-01T10:00:05Z level=info msg="payload" data="{v}"'],
        ['ts=2026-12-01T10:00:06Z level=info msg="tick" n=42'],
        [], case="lower"),
    "syslog": _Kind(
        False, ["Dec  1 10:14:01 web-3 systemd[1]: Started Billing worker."],
        ["Dec  1 10:14:02 web-3 billing[2231]: {what} set to {v}",
         "Dec  1 10:14:03 web-3 billing[2231]: using {name}={v}",
         "Dec  1 10:14:04 web-3 sshd[811]: Failed password for admin from {v} port 51122 ssh2"],
        ["Dec  1 10:14:05 web-3 kernel: [UFW BLOCK] SRC={v} PROTO=TCP"],
        ["Dec  1 10:14:06 web-3 CRON[900]: (root) CMD (run-parts /etc/cron.hourly)"],
        []),
}

#: Lines that only fit values of some types (the sshd and firewall lines want an address,
#: the .npmrc line an npm token, ...): kind of text -> line -> the types it takes.
_ONLY_FOR = {
    "syslog": {2: {"ipv4", "ipv6"}},
    "dotfiles": {0: {"npm_token", "vendor_token"}, 1: {"pypi_token", "password"},
                 2: {"password", "github_token", "gitlab_token"}, 3: {"password"},
                 4: {"github_token", "gitlab_token", "password"}},
    "sql_migration": {2: {"password"}},
}


def _bare_ok(kind_of_text: str, line: str, kind: str) -> bool:
    """Whether a bare line (naming nothing) fits ``kind``: distinctive formats, and for the
    proxy and firewall lines an address."""
    if "proxy_pass" in line or "ProxyPass" in line or "SRC=" in line:
        return kind in (("ipv4", "ipv6") if "SRC=" in line else ("ipv4",))
    if "curl" in line:
        return kind in ("slack_webhook", "url_password")
    return kind in _DISTINCTIVE


class _Doc:
    """Text being written; :meth:`put` writes a line holding a value and records its span."""

    def __init__(self, kind: _Kind) -> None:
        self.kind = kind
        self.text = ""
        self.spans: list[PlantedF] = []

    def raw(self, line: str) -> None:
        self.text += line + "\n"

    def put(self, line: str, value: str, shown: str, label: str | None, decoy: str) -> None:
        before, after = line.split("{v}", 1)
        if "\n" in shown and self.kind.indent:
            shown, value = (shown.replace("\n", "\n" + self.kind.indent),
                            value.replace("\n", "\n" + self.kind.indent))
        at = shown.index(value)
        if self.kind.escape == "json":
            escaped = json.dumps(shown)[1:-1]
            at = escaped.index(json.dumps(value)[1:-1])
            value, shown = json.dumps(value)[1:-1], escaped
        start = len(self.text) + len(before) + at
        self.text += before + shown + after + "\n"
        self.spans.append((start, start + len(value), label, self.kind.prose, decoy))


def _line(rnd: random.Random, name: str, kind: _Kind, type_: str, words: Sequence[str],
          what: str) -> str:
    limits = _ONLY_FOR.get(name, {})
    options = [i for i, _ in enumerate(kind.lines)
               if i not in limits or type_ in limits[i]]
    preferred = [i for i in options if i in limits]
    index = rnd.choice(preferred) if preferred and rnd.random() < 0.6 else rnd.choice(options)
    line = kind.lines[index]
    for key, word in (("{name}", _style(words, kind.case)), ("{NAME}", _style(words, "upper")),
                      ("{what}", what)):
        line = line.replace(key, word)
    return line


def documents_f(seed: int, count: int) -> list[tuple[str, list[PlantedF]]]:
    """``count`` documents of set F, kinds of text in turn, each with 2-4 planted values,
    one look-alike and, in two thirds, a one-digit-mutated card number or IBAN."""
    rnd = random.Random(seed)
    generators = {**SECRETS_F, **PERSONAL_F}
    names = sorted(_KINDS_OF_TEXT)
    out = []
    for number in range(count):
        name = names[number % len(names)]
        kind = _KINDS_OF_TEXT[name]
        doc = _Doc(kind)
        for line in kind.head:
            doc.raw(line)
        entries: list[tuple[str, str | None, str]] = [
            (t, t, "") for t in rnd.sample(KINDS_F, rnd.randint(2, 4))]
        twin = rnd.choice(("payment_card", "iban", None))
        if twin is not None:
            entries.append((twin, None, "mutated"))
        entries.append(("lookalike", None, "lookalike"))
        rnd.shuffle(entries)
        for type_, label, decoy in entries:
            if decoy == "lookalike":
                made, words, what = rnd.choice(_LOOKALIKES)
                value = made if isinstance(made, str) else made(rnd)
                line = _line(rnd, name, kind, "lookalike", words, what)
                doc.put(line, value, value, None, decoy)
            else:
                value = generators[type_](rnd)
                if decoy == "mutated":
                    value = _mutate(value, rnd)
                shown = _in_url(value, rnd) if type_ == "url_password" else value
                bare = [b for b in kind.bare if _bare_ok(name, b, type_)]
                if decoy == "" and bare and rnd.random() < 0.15:
                    line = rnd.choice(bare)
                else:
                    words_choices, whats = _NAMING[type_]
                    line = _line(rnd, name, kind, type_, rnd.choice(words_choices),
                                 rnd.choice(whats))
                doc.put(line, value, shown, label, decoy)
            if rnd.random() < 0.35:
                doc.raw(rnd.choice(kind.noise))
        for line in kind.tail:
            doc.raw(line)
        out.append((doc.text, doc.spans))
    return out
