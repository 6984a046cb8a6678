"""The second fresh held-out set of the privacy benchmark (set D): a TUNING SET since round 3.

Written on 2026-12-07 after set C had been evaluated (and spent), before that round's
detector changes and without running the detectors on it; committed on its own before
those changes, and evaluated once as held out at the end of round 2. Its misses were
then fixed by class in round 3, so set D is spent: ``benchmarks/privacy.py`` scores it
as "set D (tuned on)", and the held-out set is set E (``privacy_heldout_e.py``).

Nothing here comes from sets A, B or C: its own document composer (:func:`documents_d`),
its own value generators (no Faker, no ``athena_core`` import: card numbers, IBANs and
SSNs are made and checked by code of this module), its own names, sentences,
look-alikes, decoys and filler. What it holds, written from how values leak in practice:

* prose documents: chat threads (a question and the value as the answer on the next
  line, too), support tickets, e-mail threads with quoting, pull-request and issue
  comments;
* code and machine text: CI logs (``set -x`` traces, ``env`` dumps, Docker build steps),
  stack traces (Python locals, Java causes), ``.env``, YAML (Kubernetes ``stringData``,
  compose lists, folded scalars), JSON (SSM and ECS parameter lists), TOML, INI, shell
  history (``kubectl``, ``vault``, ``psql``, ``mysql -p``), connection strings (ODBC,
  JDBC, SQLAlchemy URLs);
* secret formats the earlier sets do not use: Slack app-level ``xapp-`` tokens, Stripe
  ``whsec_`` webhook secrets, ``sk-ant-oat01-`` tokens, GitLab pipeline-trigger tokens,
  GitHub tokens inside clone URLs, PEM keys indented in YAML, base64 and diceware
  passwords;
* personal values in other countries' formats (Finland, Norway, Austria, Switzerland,
  Romania, Hungary, Turkey, Greece, New Zealand, Korea, Israel), e-mail addresses in
  ``Name <address>`` and ``mailto:`` form, IP addresses with ports;
* look-alikes of other kinds (well-known test card numbers, SSH remotes, SOPS- and
  1Password-style references, CI secret expressions, partly masked values) and filler
  that looks numeric (IMEIs, ARNs, epoch milliseconds, memory addresses).
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable, Mapping, Sequence

__all__ = ["KINDS_D", "PlantedD", "documents_d"]

_LOWER = string.ascii_lowercase
_UPPER = string.ascii_uppercase
_DIGITS = string.digits
_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"
_URLSAFE = _ALNUM + "_-"
_HEX = "0123456789abcdef"
_V = "\u27e8v\u27e9"  # where the value goes in a line

#: (start, end, type or None for a decoy, in prose, decoy kind: "lookalike" or "mutated").
PlantedD = tuple[int, int, "str | None", bool, str]


def _r(rnd: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


# --- checksums, written again for this set ------------------------------------------------


def _luhn_complete(payload: str) -> str:
    """``payload`` and the digit that makes it pass Luhn."""
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:  # doubled once the check digit is appended
            digit = digit * 2 - 9 if digit * 2 > 9 else digit * 2
        total += digit
    return payload + str((10 - total % 10) % 10)


def _iban_complete(country: str, bban: str) -> str:
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


#: Issuer prefixes and lengths (the issuers' published ranges).
_CARD_PREFIXES: tuple[tuple[Callable[[random.Random], str], Sequence[int]], ...] = (
    (lambda r: "4", (16, 16, 16, 13, 19)),
    (lambda r: str(r.randint(51, 55)), (16,)),
    (lambda r: str(r.randint(2221, 2720)), (16,)),
    (lambda r: r.choice(["34", "37"]), (15,)),
    (lambda r: r.choice(["6011", str(r.randint(644, 649)), "65"]), (16, 19)),
    (lambda r: str(r.randint(3528, 3589)), (16,)),
    (lambda r: r.choice(["36", str(r.randint(300, 305))]), (14,)),
    (lambda r: r.choice(["5018", "5020", "5038", "6304", "6759"]), (12, 16, 19)),
)


def card_d(rnd: random.Random) -> str:
    prefix_of, lengths = rnd.choice(_CARD_PREFIXES)
    prefix, length = prefix_of(rnd), rnd.choice(lengths)
    number = _luhn_complete(prefix + _r(rnd, length - len(prefix) - 1, _DIGITS))
    style = rnd.randrange(4)
    if style == 1:
        return " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    if style == 2 and len(number) == 15:
        return f"{number[:4]}-{number[4:10]}-{number[10:]}"
    if style == 2:
        return "-".join(number[i:i + 4] for i in range(0, len(number), 4))
    return number


#: Country -> BBAN shape: a for a letter, n for a digit, c for either.
_BBAN = {"FI": "n" * 14, "NO": "n" * 11, "AT": "n" * 16, "CH": "n" * 17, "RO": "aaaa" + "c" * 16,
         "HU": "n" * 24, "TR": "n" * 22, "GR": "n" * 23, "HR": "n" * 17, "SK": "n" * 20,
         "GB": "aaaa" + "n" * 14, "NL": "aaaa" + "n" * 10, "IT": "a" + "n" * 10 + "c" * 12,
         "LU": "nnn" + "c" * 13, "MT": "aaaa" + "n" * 5 + "c" * 18, "SA": "nn" + "c" * 18,
         "AE": "n" * 19, "LT": "n" * 16, "SI": "n" * 15, "IS": "n" * 22}


def iban_d(rnd: random.Random) -> str:
    country = rnd.choice(sorted(_BBAN))
    alphabet = {"a": _UPPER, "n": _DIGITS, "c": _UPPER + _DIGITS}
    value = _iban_complete(country, "".join(rnd.choice(alphabet[c]) for c in _BBAN[country]))
    if rnd.random() < 0.5:
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def ssn_d(rnd: random.Random) -> str:
    area = rnd.choice([n for n in range(1, 900) if n != 666])
    group, serial = rnd.randint(1, 99), rnd.randint(1, 9999)
    sep = rnd.choice(["-", "-", "-", " "])
    return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"


def phone_d(rnd: random.Random) -> str:
    def d(n: int) -> str:
        return _r(rnd, n, _DIGITS)

    def nz() -> str:  # a digit that starts a local number
        return str(rnd.randint(2, 9))
    return rnd.choice([
        f"+358 40 {d(3)} {d(4)}", f"040 {d(3)} {d(4)}",
        f"+47 {rnd.randint(4, 9)}{d(2)} {d(2)} {d(3)}", f"+43 664 {d(7)}", f"0664 {d(7)}",
        f"+41 44 {nz()}{d(2)} {d(2)} {d(2)}", f"044 {nz()}{d(2)} {d(2)} {d(2)}",
        f"+40 72{d(1)} {d(3)} {d(3)}", f"0721 {d(3)} {d(3)}", f"+36 30 {d(3)} {d(4)}",
        f"06 30 {d(3)} {d(4)}", f"+90 532 {d(3)} {d(2)} {d(2)}", f"0532 {d(3)} {d(2)} {d(2)}",
        f"+30 21 0{d(3)} {d(4)}", f"+64 21 {d(3)} {d(4)}", f"021 {d(3)} {d(4)}",
        f"+82 10-{d(4)}-{d(4)}", f"010-{d(4)}-{d(4)}", f"+972 52-{d(3)}-{d(4)}",
        f"052-{d(3)}-{d(4)}", f"+44{7}{d(9)}", f"+1{rnd.randint(201, 989)}{nz()}{d(6)}",
        f"({rnd.randint(201, 989)}) {nz()}{d(2)}-{d(4)} ext. {rnd.randint(10, 999)}",
    ])


_NAMES = ["noor", "tomasz", "aiko", "benedikt", "leilani", "oskar", "ines", "rahul", "yusuf",
          "camille"]
_SURNAMES = ["virtanen", "nagy", "yilmaz", "papadopoulos", "kim", "cohen", "tane", "moser"]
_DOMAINS = ["fjordline.no", "alpenbank.at", "sunhaven.co.nz", "mail.kiwi-rail.nz",
            "ankara-tech.com.tr", "outlook.com", "icloud.com", "fastmail.fm", "pharma-lab.ch",
            "startup.dev"]


def email_d(rnd: random.Random) -> str:
    first, last = rnd.choice(_NAMES), rnd.choice(_SURNAMES)
    local = rnd.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{rnd.randint(1, 99)}",
                        f"{first}.{last}+{rnd.choice(['jira', 'invoices'])}",
                        f"{first.capitalize()}.{last.capitalize()}"])
    return f"{local}@{rnd.choice(_DOMAINS)}"


def ipv4_d(rnd: random.Random) -> str:
    while True:
        first = rnd.randint(1, 223)
        if first not in (10, 100, 127, 169, 172, 192, 198, 203):
            return f"{first}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"


def ipv6_d(rnd: random.Random) -> str:
    groups = [rnd.choice(["2a01", "2a02", "2604", "2c0f", "2405", "2001"])] + [
        f"{rnd.randint(0, 0xffff):x}" for _ in range(7)]
    if groups[0] == "2001":
        groups[1] = rnd.choice(["4860", "67c"])  # not 2001:db8 (documentation)
    style = rnd.randrange(3)
    if style == 0:
        return ":".join(groups)
    if style == 1:
        return ":".join(groups[:3]) + "::" + ":".join(groups[-2:])
    return ":".join(g.zfill(4) for g in groups)


# --- secrets --------------------------------------------------------------------------------


def _password_d(rnd: random.Random) -> str:
    words = ["glacier", "Pumice", "tundra", "Walrus", "saffron", "Quartz", "meadow", "Ember"]
    style = rnd.randrange(5)
    if style == 0:  # diceware with a number
        return ".".join(rnd.sample(words, 3)) + str(rnd.randint(1, 99))
    if style == 1:  # openssl rand -base64 18
        return _r(rnd, 24, _B64)
    if style == 2:
        return _r(rnd, rnd.randint(12, 20), _ALNUM + "!#%&*+-=?@^_~")
    if style == 3:
        word = rnd.choice(words).capitalize().replace("a", "@").replace("e", "3")
        return f"{word}{rnd.choice('!$%')}{rnd.randint(1000, 9999)}"
    return f"{rnd.choice(words)}_{rnd.choice(words)}#{rnd.randint(10, 99)}"


def _jwt_d(rnd: random.Random) -> str:
    def part(data: Mapping[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    header = {"alg": rnd.choice(["RS256", "ES256", "EdDSA"]), "kid": _r(rnd, 16, _HEX)}
    claims = {"sub": f"auth0|{_r(rnd, 24, _HEX)}", "tenant": rnd.choice(["eu-1", "ap-2"]),
              "iat": rnd.randint(1_700_000_000, 1_760_000_000), "roles": ["ops"]}
    return f"{part(header)}.{part(claims)}.{_r(rnd, 86, _URLSAFE)}"


def _pem_d(rnd: random.Random) -> str:
    kind = rnd.choice(["RSA ", "EC ", "OPENSSH ", ""])
    lines = [_r(rnd, 64, _B64) for _ in range(rnd.randint(3, 9))] + [_r(rnd, 44, _B64)]
    return f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(lines) + \
        f"\n-----END {kind}PRIVATE KEY-----"


SECRETS_D: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: r.choice(["AKIA", "AKIA", "ASIA"]) + _r(
        r, 16, _UPPER + "234567"),
    "aws_secret_access_key": lambda r: _r(r, 40, _B64),
    "github_token": lambda r: r.choice(["ghp_", "ghs_", "gho_"]) + _r(r, 36)
    if r.random() < 0.7 else "github_pat_11" + _r(r, 20, _UPPER + _DIGITS) + "_" + _r(r, 59),
    "gitlab_token": lambda r: "glpat-" + _r(r, 20, _URLSAFE) if r.random() < 0.6
    else r.choice(["glptt-", "gldt-"]) + _r(r, 40, _HEX if r.random() < 0.5 else _URLSAFE),
    "slack_token": lambda r: (
        f"xoxb-{_r(r, 12, _DIGITS)}-{_r(r, 13, _DIGITS)}-{_r(r, 24)}" if r.random() < 0.5
        else f"xapp-1-A{_r(r, 10, _UPPER + _DIGITS)}-{_r(r, 13, _DIGITS)}-{_r(r, 64, _HEX)}"),
    "slack_webhook": lambda r: "https://hooks.slack.com/"
    f"{r.choice(['services', 'services', 'workflows'])}"
    f"/T{_r(r, 10, _UPPER + _DIGITS)}/{r.choice('BA')}{_r(r, 10, _UPPER + _DIGITS)}/{_r(r, 24)}",
    "stripe_key": lambda r: r.choice(["sk_live_", "rk_live_", "whsec_"]) + _r(r, 32)
    if r.random() < 0.5 else "sk_live_51" + _r(r, 96),
    "openai_api_key": lambda r: r.choice(["sk-proj-", "sk-proj-", "sk-svcacct-"]) + _r(
        r, 60, _URLSAFE) + "T3BlbkFJ" + _r(r, 60, _URLSAFE),
    "anthropic_api_key": lambda r: r.choice(["sk-ant-api03-", "sk-ant-api03-", "sk-ant-oat01-"])
    + _r(r, 93, _URLSAFE) + "AA",
    "jwt": _jwt_d,
    "private_key": _pem_d,
    "pypi_token": lambda r: "pypi-AgEIcHlwaS5vcmcCJ" + _r(r, 150, _URLSAFE),
    "npm_token": lambda r: "npm_" + _r(r, 36),
    "twilio_api_key": lambda r: "SK" + _r(r, 32, _HEX),
    "sendgrid_api_key": lambda r: "SG." + _r(r, 22, _URLSAFE) + "." + _r(r, 43, _URLSAFE),
    "google_api_key": lambda r: "AIzaSy" + _r(r, 33, _URLSAFE),
    "google_oauth_secret": lambda r: "GOCSPX-" + _r(r, 28, _URLSAFE),
    "azure_storage_key": lambda r: _r(r, 86, _B64) + "==",
    "digitalocean_token": lambda r: "dop_v1_" + _r(r, 64, _HEX),
    "shopify_token": lambda r: r.choice(["shpat_", "shpca_"]) + _r(r, 32, _HEX),
    "huggingface_token": lambda r: "hf_" + _r(r, 34, string.ascii_letters),
    "password": _password_d,
    "url_password": lambda r: _r(r, r.randint(12, 24), _ALNUM + "-_~!*"),
}
PERSONAL_D: dict[str, Callable[[random.Random], str]] = {
    "email": email_d, "phone": phone_d, "payment_card": card_d, "iban": iban_d, "us_ssn": ssn_d,
    "ipv4": ipv4_d, "ipv6": ipv6_d}
#: Every type set D plants.
KINDS_D = tuple(sorted({**SECRETS_D, **PERSONAL_D}))

#: Type -> (variable name, what prose calls it) pairs, one drawn per value.
NAMES_D: dict[str, Sequence[tuple[str, str]]] = {
    "email": [("NOTIFY_EMAIL", "contact email"), ("billing_contact", "billing address email")],
    "phone": [("ONCALL_PHONE", "callback number"), ("sms_recipient", "cell")],
    "payment_card": [("pan", "credit card"), ("card_no", "card")],
    "iban": [("refund_iban", "bank details"), ("SEPA_ACCOUNT", "IBAN")],
    "us_ssn": [("applicant_ssn", "SSN"), ("tax_id", "social security no.")],
    "ipv4": [("BIND_ADDR", "public IP"), ("origin_ip", "origin server")],
    "ipv6": [("UPSTREAM_V6", "IPv6"), ("peer_address", "peer address")],
    "aws_access_key_id": [("aws_access_key_id", "access key ID")],
    "aws_secret_access_key": [("aws_secret_access_key", "secret access key"),
                              ("AWS_SECRET_KEY", "AWS secret key")],
    "github_token": [("GH_PAT", "GitHub PAT"), ("github_token", "token for the bot")],
    "gitlab_token": [("GITLAB_API_TOKEN", "GitLab token"), ("CI_TRIGGER", "trigger token")],
    "slack_token": [("SLACK_APP_TOKEN", "Slack app token"), ("slack_bot", "bot token")],
    "slack_webhook": [("SLACK_HOOK", "incoming webhook")],
    "stripe_key": [("STRIPE_SK", "Stripe live key"), ("stripe_webhook_secret", "signing secret")],
    "openai_api_key": [("OPENAI_API_KEY", "OpenAI key"), ("llm_key", "API key")],
    "anthropic_api_key": [("ANTHROPIC_KEY", "Claude key")],
    "jwt": [("id_token", "ID token"), ("SESSION", "session cookie")],
    "private_key": [("tls_key", "TLS private key"), ("DEPLOY_SSH_KEY", "deploy key")],
    "pypi_token": [("pypi_password", "PyPI token")],
    "npm_token": [("NPM_AUTH_TOKEN", "npm token")],
    "twilio_api_key": [("TWILIO_API_SID", "Twilio key")],
    "sendgrid_api_key": [("SMTP_API_KEY", "SendGrid API key")],
    "google_api_key": [("MAPS_API_KEY", "Maps key")],
    "google_oauth_secret": [("google_client_secret", "OAuth secret")],
    "azure_storage_key": [("AZURE_KEY", "storage account key")],
    "digitalocean_token": [("DO_PAT", "DigitalOcean token")],
    "shopify_token": [("SHOPIFY_ACCESS_TOKEN", "Shopify token")],
    "huggingface_token": [("HF_API_TOKEN", "Hugging Face token")],
    "password": [("SMTP_PASSWORD", "mail password"), ("VPN_PASS", "VPN pw"),
                 ("root_password", "root password"), ("WIFI_PSK", "wifi password")],
    "url_password": [("SQLALCHEMY_URL", "DB URL"), ("BROKER", "broker URL")],
}


# --- documents ------------------------------------------------------------------------------

_WHO = ["dana", "sam", "priya", "jonas", "mei", "ola"]
#: Shape -> (header lines, value lines): ⟨name⟩, ⟨lname⟩, ⟨what⟩ and the value.
_PROSE_SHAPES: dict[str, tuple[Sequence[str], Sequence[str]]] = {
    "chat": (["#ops-private", "-- Tuesday --"], [
        "[10:02] ⟨who⟩: here's the ⟨what⟩ \u2192 " + _V,
        "[10:05] ⟨who⟩: ⟨what⟩?\n[10:06] ⟨who2⟩: " + _V,
        "[10:11] ⟨who⟩: oops, just pasted the prod ⟨what⟩ (" + _V + ") in #general, rotating now",
        "[10:14] ⟨who⟩: can u use " + _V + " for the ⟨what⟩ pls",
        "[10:20] ⟨who⟩: fyi ⟨what⟩ changed, new one is " + _V + " :lock:",
    ]),
    "ticket": (["Ticket #83120 \u2014 Priority: normal", "Channel: web form"], [
        "Customer: I reset my ⟨what⟩ to " + _V + " yesterday and it still fails.",
        "Internal note: caller verified with ⟨what⟩ " + _V + ".",
        "Agent: We have " + _V + " as your ⟨what⟩ - is that still correct?",
        "Customer reply: Sure, the ⟨what⟩ is: " + _V,
    ]),
    "email": (["From: Kari Nordmann", "Subject: RE: vendor onboarding"], [
        "Hello Marta,\nAs discussed, please use the following ⟨what⟩: " + _V + "\nKind regards",
        "Please find below the ⟨what⟩ for the new vendor account -\n\n    " + _V
        + "\n\nLet me know if anything is missing.",
        "> On Tue, Priya wrote:\n> my ⟨what⟩ is " + _V,
    ]),
    "review": (["**Review comment** on `config/settings.py`", "Status: changes requested"], [
        "Found a leaked ⟨what⟩ in the logs: `" + _V + "` - revoked it, please don't re-add.",
        "nit: this hard-codes the ⟨what⟩ (" + _V + "), move it to the secret store?",
        "Repro: set the ⟨what⟩ to " + _V + " and restart the worker; it crashes on boot.",
    ]),
}
_CODE_SHAPES: dict[str, tuple[Sequence[str], Sequence[str]]] = {
    "ci": (["##[group]Run ./scripts/deploy.sh", "+ set -euo pipefail"], [
        "2025-03-04T11:22:33.1234567Z ⟨name⟩=" + _V,
        "+ export ⟨name⟩=" + _V,
        "Step 4/9 : ARG ⟨name⟩=" + _V,
        "[INFO] Using ⟨lname⟩ '" + _V + "' from settings.xml",
    ]),
    "trace": (["Traceback (most recent call last):",
               '  File "/srv/app/worker.py", line 88, in handle'], [
        "    client = connect(⟨lname⟩=\"" + _V + "\")",
        "\u2502 ⟨lname⟩ = '" + _V + "' \u2502",
        "Caused by: com.acme.AuthException: rejected ⟨lname⟩ " + _V + " for principal svc-batch",
        "  locals: {'self': <Client>, '⟨lname⟩': '" + _V + "', 'retries': 2}",
    ]),
    "dotenv": (["# generated by bootstrap", "APP_ENV=production"], [
        "⟨name⟩=" + _V + " # rotated 2025-02",
        "export ⟨name⟩=\"" + _V + "\"",
        "⟨name⟩='" + _V + "'",
    ]),
    "yaml": (["apiVersion: v1", "kind: Secret", "stringData:"], [
        "  ⟨lname⟩: " + _V,
        "      - ⟨name⟩=" + _V,
        "  ⟨lname⟩: \"" + _V + "\"",
        "  ⟨lname⟩: >-\n    " + _V,
    ]),
    "json": (['{"containerDefinitions": [{', '  "environment": ['], [
        '  "⟨lname⟩": "' + _V + '",',
        '    {"name": "⟨name⟩", "value": "' + _V + '"},',
        '{"Name": "/prod/⟨lname⟩", "Value": "' + _V + '", "Type": "SecureString"}',
    ]),
    "toml": (["[tool.release]", 'channel = "stable"'], [
        "⟨lname⟩ = \"" + _V + "\"",
        "[credentials]\n⟨lname⟩ = '" + _V + "'",
    ]),
    "ini": (["[server]", "workers = 4"], [
        "⟨lname⟩=" + _V,
        "⟨lname⟩ : " + _V,
    ]),
    "history": (["  501  cd infra/", "  502  git pull --rebase"], [
        "  512  export ⟨name⟩=" + _V,
        "  514  kubectl create secret generic app --from-literal=⟨lname⟩=" + _V,
        "  515  vault kv put secret/app ⟨lname⟩=" + _V,
        "  517  heroku config:set ⟨name⟩=" + _V + " -a api-prod",
    ]),
}
#: Lines only some types appear in: (prose lines, code lines).
_KIND_LINES: dict[str, tuple[Sequence[str], Sequence[str]]] = {
    "password": ([
        "login: admin / " + _V,
        "creds are admin:" + _V + " (same as staging)",
        "pw: " + _V,
        "the password for the NAS is still " + _V + " btw",
    ], [
        "  520  mysql -h db1 -u app -p'" + _V + "' orders",
        "  521  PGPASSWORD='" + _V + "' psql -h pg-primary -U app",
        "Server=sql01;Database=crm;User Id=svc;Password=" + _V + ";",
        "jdbc:postgresql://pg:5432/app?user=svc&password=" + _V,
        "  523  sshpass -p '" + _V + "' ssh deploy@bastion",
        "  524  docker login -u ci -p " + _V + " registry.internal",
    ]),
    "github_token": ([], ["+ git clone https://x-access-token:" + _V + "@github.com/acme/api.git"]),
    "jwt": ([], ["  526  curl -H 'Authorization: Bearer " + _V + "' https://api.internal/v1/me",
                 "Cookie: session=" + _V + "; Path=/; HttpOnly"]),
    "email": (["Reply-To: Support Desk <" + _V + ">",
               "write to [us](mailto:" + _V + ") instead"], []),
    "ipv4": (["the box at " + _V + ":8443 keeps timing out"],
             ["upstream backend { server " + _V + ":8080 max_fails=3; }"]),
    "ipv6": ([], ["listen [" + _V + "]:443 ssl;"]),
    "azure_storage_key": ([], ["  530  az storage blob list --account-name prodlogs --account-key "
                               + _V]),
    "private_key": ([], ["tls:\n  key: |\n    " + _V]),
}


def _shown(kind: str, value: str, rnd: random.Random) -> str:
    """The text a value sits in: URL passwords in URLs, Azure keys often in a connection
    string, PEM keys indented when a line indents them (see :func:`_place`)."""
    if kind == "url_password":
        return rnd.choice([
            f"postgresql+psycopg://svc:{value}@pg-primary.internal:5432/app",
            f"smtp://mailer:{value}@smtp.internal:587", f"redis://:{value}@cache.internal:6379",
            f"ftp://backup:{value}@files.internal/",
            f"mysql://root:{value}@db.internal/app?ssl=true",
            f"https://ci-bot:{value}@git.internal/acme/api.git"])
    if kind == "azure_storage_key" and rnd.random() < 0.5:
        return (f"DefaultEndpointsProtocol=https;AccountName=prodlogs;AccountKey={value};"
                "EndpointSuffix=core.windows.net")
    return value


_FILLER_PROSE = ["Thanks, that fixed it.", "Looping in @infra for visibility.",
                 "I'll be OOO until the 14th.", "Call is moved to 15:30 CET.",
                 "Device IMEI 356938035643809 was the one reported.",
                 "Refund of 84,50 EUR was issued on 03.02.2025.",
                 "Version 2.14.3 is on the beta channel since build 20250301.2."]
_FILLER_CODE = ["##[endgroup]", "Downloaded 231 packages in 4.2s",
                "  at com.acme.batch.Runner.run(Runner.java:212)",
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf",
                "segfault at 0x7f3a2c1b9e40 ip 00007f3a2c1b9e40 sp 00007ffd5c9e1a28",
                "ts=1741087353123 level=info msg=\"request done\" dur=84ms",
                "  502  git log --oneline -3", "replicas: 3",
                "commit 1f0e3dad99908345f7439f8ffabdffc4fdf5a8f2"]
_LOOKALIKES_D = [
    "4242 4242 4242 4242", "4111111111111111", "git@github.com:acme/api.git",
    "ENC[AES256_GCM,data:Qm9ndXM=,iv:AAAAAAAAAAAAAAAA,tag:BBBB,type:str]",
    "op://Engineering/Postgres/password", "${{ secrets.NPM_TOKEN }}", "{{ vault_db_password }}",
    "$(cat /run/secrets/db_pw)", "sk_live_\u2022\u2022\u2022\u2022\u2022\u2022\u2022\u20224xZq",
    "AKIA[REDACTED]", "ghp_<token>", "xoxb-***", "hf_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "user@example.org", "+1-202-555-0143", "10.0.0.0/8 (RFC 1918)", "fe80::/10",
    "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+"
    "DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n"
    "-----END CERTIFICATE-----",
    "password: <set me>", "token: null",
]
_DECOYS_D = {"lookalike": ("(placeholder in the runbook: " + _V + ")", "# e.g. " + _V),
             "mutated": ("Old number " + _V + " was declined.", '"previous": "' + _V + '"')}


def _mutate(value: str, rnd: random.Random) -> str:
    """``value`` with one digit changed (an IBAN's check digits and country excepted)."""
    positions = [i for i, c in enumerate(value)
                 if c.isdigit() and not (value[:2].isalpha() and i < 4)]
    index = rnd.choice(positions)
    return value[:index] + rnd.choice([c for c in _DIGITS if c != value[index]]) + value[index + 1:]


class _Doc:
    """A document being written, and where each value went."""

    def __init__(self) -> None:
        self.text = ""
        self.planted: list[PlantedD] = []

    def place(self, line: str, value: str, kind: str | None, prose: bool, decoy: str = "",
              shown: str | None = None, fields: dict[str, str] | None = None) -> None:
        before, after = line.split(_V)
        for key, word in (fields or {}).items():
            before, after = before.replace(f"\u27e8{key}\u27e9", word), after.replace(
                f"\u27e8{key}\u27e9", word)
        shown = value if shown is None else shown
        indent = before[before.rfind("\n") + 1:]
        if "\n" in shown and indent.strip() == "":  # a block indented as its first line
            shown = shown.replace("\n", "\n" + indent)
            value = value.replace("\n", "\n" + indent)
        start = len(self.text) + len(before) + shown.index(value)
        self.text += before + shown + after + "\n"
        self.planted.append((start, start + len(value), kind, prose, decoy))

    def line(self, text: str) -> None:
        self.text += text + "\n"


def documents_d(seed: int, count: int) -> list[tuple[str, list[PlantedD]]]:
    """``count`` documents of set D: half prose, half code, each with 2-4 planted values,
    a look-alike and, in two thirds, a one-digit-mutated card number or IBAN."""
    rnd = random.Random(seed)
    values = {**SECRETS_D, **PERSONAL_D}
    out = []
    for number in range(count):
        prose = number % 2 == 0
        shapes = _PROSE_SHAPES if prose else _CODE_SHAPES
        header, lines = shapes[rnd.choice(sorted(shapes))]
        doc = _Doc()
        for text in header:
            doc.line(text)
        for kind in rnd.sample(KINDS_D, rnd.randint(2, 4)):
            value = values[kind](rnd)
            name, what = rnd.choice(NAMES_D[kind])
            special = _KIND_LINES.get(kind, ((), ()))[0 if prose else 1]
            line = rnd.choice(special) if special and rnd.random() < 0.4 else rnd.choice(lines)
            who, who2 = rnd.sample(_WHO, 2)
            doc.place(line, value, kind, prose, shown=_shown(kind, value, rnd),
                      fields={"name": name, "lname": name.lower(), "what": what, "who": who,
                              "who2": who2})
            doc.line(rnd.choice(_FILLER_PROSE if prose else _FILLER_CODE))
        twin_of = rnd.choice([card_d, iban_d, None])
        if twin_of is not None:
            doc.place(_DECOYS_D["mutated"][0 if prose else 1], _mutate(twin_of(rnd), rnd), None,
                      prose, "mutated")
        doc.place(_DECOYS_D["lookalike"][0 if prose else 1], rnd.choice(_LOOKALIKES_D), None,
                  prose, "lookalike")
        out.append((doc.text, doc.planted))
    return out
