"""The third fresh held-out set of the privacy benchmark (set E): a TUNING SET since round 4.

Written on 2026-12-07 after set D had been evaluated (and spent), before round 3's
detector changes were finished and without running the detectors on it; committed on its
own first, and evaluated once as held out at the end of round 3. Its misses were then
fixed by class in round 4, so set E is spent: ``benchmarks/privacy.py`` scores it as
"set E (tuned on)", and the held-out set is set F (``privacy_heldout_f.py``).

Nothing here comes from sets A-D: no Faker, no ``athena_core`` import (Luhn, mod-97 and
the SSN rules are written again below), and the documents are whole artifacts of one
format each rather than lines in a template (:func:`documents_e`):

* prose: Slack and Discord exports (JSON, the message text escaped in a string), Jira
  and GitHub issue bodies (markdown, code spans, tables), e-mails with signatures and
  disclaimers, Jupyter markdown cells;
* machine text: Terraform/HCL, Helm values, Ansible vars (with a vault blob as a
  look-alike), Dockerfiles, GitHub Actions workflows, Postman collections, HAR files,
  curl commands, JSON log lines, SQL dumps, CSV exports, Jupyter code cells;
* values: other vendors' documented token formats (Linear, Atlassian, Databricks,
  Doppler, Postman, New Relic, Sentry, Grafana, Pulumi, Terraform Cloud, Vault, Tailscale,
  Brevo, Telegram, age, Supabase, PlanetScale, Notion) next to the listed types in
  prefixes earlier sets do not use (``ghu_``, ``ghr_``, ``glrt-``, ``xoxp-``, ``rk_live_``,
  ``sk-admin-``, ``sk-ant-admin01-``, ``shpss_``, ``dor_v1_``); other countries' phone
  numbers and IBANs; card numbers of every listed issuer range and length, written as
  issuers group them; passwords made the ways password managers make them;
* look-alikes: the payment processors' published test card numbers, the IBAN registry's
  example IBANs, vendors' documentation placeholders, redacted and masked values,
  hashes (hex, bcrypt, SRI), UUIDs, ARNs, base64 images, Ansible vault blobs,
  documentation IP ranges, fictional 555-01xx phone numbers, advertised invalid SSNs.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable, Sequence

__all__ = ["KINDS_E", "PlantedE", "documents_e"]

_LO = string.ascii_lowercase
_UP = string.ascii_uppercase
_DG = string.digits
_AN = string.ascii_letters + string.digits
_B64 = _AN + "+/"
_URL = _AN + "_-"
_HX = "0123456789abcdef"

#: (start, end, type or None for a decoy, in prose, decoy kind: "lookalike" or "mutated").
PlantedE = tuple[int, int, "str | None", bool, str]


def _x(rnd: random.Random, n: int, alphabet: str = _AN) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


# --- checksums (this set's own) -----------------------------------------------------------


def _luhn(payload: str) -> str:
    """``payload`` followed by its Luhn check digit."""
    digits = [int(c) for c in payload][::-1]
    total = sum((d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 == 0 else d
                for i, d in enumerate(digits))
    return payload + str(-total % 10)


def _mod97(country: str, bban: str) -> str:
    number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - number % 97:02d}{bban}"


#: (prefix maker, lengths, grouping) of every range the issuers publish.
_ISSUERS: tuple[tuple[Callable[[random.Random], str], Sequence[int]], ...] = (
    (lambda r: "4", (13, 16, 19)),                                     # Visa
    (lambda r: str(r.randint(51, 55)), (16,)),                         # Mastercard
    (lambda r: str(r.randint(2221, 2720)), (16,)),                     # Mastercard 2-series
    (lambda r: r.choice(["34", "37"]), (15,)),                         # American Express
    (lambda r: "6011", (16, 19)),                                      # Discover
    (lambda r: str(r.randint(644, 649)), (16, 19)),
    (lambda r: "65", (16, 19)),
    (lambda r: str(r.randint(622126, 622925)), (16, 19)),              # Discover / UnionPay
    (lambda r: str(r.randint(3528, 3589)), (16, 19)),                  # JCB
    (lambda r: str(r.randint(300, 305)), (14,)),                       # Diners Club
    (lambda r: r.choice(["36", "38", "39"]), (14,)),
    (lambda r: r.choice(["5018", "5020", "5038", "5893", "6304", "6759", "6761", "6763"]),
     (12, 13, 15, 16, 18, 19)),                                        # Maestro
)


def card_e(rnd: random.Random) -> str:
    make, lengths = rnd.choice(_ISSUERS)
    prefix, length = make(rnd), rnd.choice(lengths)
    number = _luhn(prefix + _x(rnd, length - len(prefix) - 1, _DG))
    style = rnd.randrange(3)
    if style == 0:
        return number
    sep = rnd.choice([" ", " ", "-"])
    if len(number) == 15:
        return sep.join((number[:4], number[4:10], number[10:]))
    if len(number) == 14:
        return sep.join((number[:4], number[4:10], number[10:]))
    return sep.join(number[i:i + 4] for i in range(0, len(number), 4))


#: Country -> (length of the BBAN, shape): n digit, a capital letter, c either.
_BBAN_E = {"DE": "n" * 18, "FR": "n" * 10 + "c" * 11 + "nn", "ES": "n" * 20, "BE": "n" * 12,
           "DK": "n" * 14, "SE": "n" * 20, "PL": "n" * 24, "PT": "n" * 21, "IE": "aaaa" + "n" * 14,
           "CZ": "n" * 20, "CY": "n" * 8 + "c" * 16, "EE": "n" * 16, "LV": "aaaa" + "c" * 13,
           "BG": "aaaa" + "n" * 6 + "c" * 8, "KW": "aaaa" + "c" * 22, "QA": "aaaa" + "c" * 21,
           "BH": "aaaa" + "c" * 14, "JO": "aaaa" + "nnnn" + "c" * 18, "MU": "aaaa" + "n" * 19
           + "aaa", "BR": "n" * 23 + "ac", "PK": "aaaa" + "c" * 16, "DO": "c" * 4 + "n" * 20,
           "GE": "aa" + "n" * 16, "UA": "n" * 6 + "c" * 19}


def iban_e(rnd: random.Random) -> str:
    country = rnd.choice(sorted(_BBAN_E))
    pick = {"n": _DG, "a": _UP, "c": _UP + _DG}
    value = _mod97(country, "".join(rnd.choice(pick[c]) for c in _BBAN_E[country]))
    return " ".join(value[i:i + 4] for i in range(0, len(value), 4)) if rnd.random() < 0.4 \
        else value


def ssn_e(rnd: random.Random) -> str:
    area = rnd.choice([a for a in range(1, 900) if a != 666])
    group, serial = rnd.randint(1, 99), rnd.randint(1, 9999)
    return f"{area:03d}-{group:02d}-{serial:04d}" if rnd.random() < 0.8 \
        else f"{area:03d}{group:02d}{serial:04d}"


def phone_e(rnd: random.Random) -> str:
    def n(k: int) -> str:
        return _x(rnd, k, _DG)
    return rnd.choice([
        f"+55 11 9{n(4)}-{n(4)}", f"(11) 9{n(4)}-{n(4)}", f"+91 98{n(3)} {n(5)}",
        f"+91-{rnd.randint(70, 99)}{n(8)}", f"+81 90-{n(4)}-{n(4)}", f"090-{n(4)}-{n(4)}",
        f"+52 55 {n(4)} {n(4)}", f"+27 82 {n(3)} {n(4)}", f"082 {n(3)} {n(4)}",
        f"+63 917 {n(3)} {n(4)}", f"+48 {rnd.randint(50, 79)}{n(1)} {n(3)} {n(3)}",
        f"+34 6{n(2)} {n(3)} {n(3)}", f"+353 87 {n(3)} {n(4)}", f"087 {n(3)} {n(4)}",
        f"+351 91{n(1)} {n(3)} {n(3)}", f"+420 6{n(2)} {n(3)} {n(3)}",
        f"+32 47{n(1)} {n(2)} {n(2)} {n(2)}", f"+45 {rnd.randint(20, 99)} {n(2)} {n(2)} {n(2)}",
        f"+46 70-{n(3)} {n(2)} {n(2)}", f"+49 (0)151 {n(8)}", f"+49 30 {n(8)}",
        f"0151 {n(4)} {n(4)}", f"+33 6 {n(2)} {n(2)} {n(2)} {n(2)}",
        f"06.{n(2)}.{n(2)}.{n(2)}.{n(2)}",
        f"+1 ({rnd.randint(201, 989)}) {rnd.randint(200, 999)}-{n(4)}",
        f"{rnd.randint(201, 989)}.{rnd.randint(200, 999)}.{n(4)}",
    ])


_FIRST = ["ana", "bruno", "chen", "deepa", "emeka", "fatima", "goran", "hana", "ivo", "jakub"]
_LAST = ["silva", "kowalski", "tanaka", "okafor", "dubois", "novak", "haddad", "lindqvist"]
_DOM = ["gmx.de", "web.de", "yandex.com", "proton.me", "seznam.cz", "uol.com.br", "tcs.co.in",
        "uni-heidelberg.de", "orange.fr", "telia.se", "eircom.net", "hotmail.es"]


def email_e(rnd: random.Random) -> str:
    f, s = rnd.choice(_FIRST), rnd.choice(_LAST)
    local = rnd.choice([f"{f}_{s}", f"{f}.{s}{rnd.randint(70, 99)}", f"{s}.{f[0]}",
                        f"{f}-{s}", f"{f.upper()}.{s.upper()}",
                        f"{f}{s}+{rnd.choice(['hr', 'x'])}"])
    return f"{local}@{rnd.choice(_DOM)}"


def ipv4_e(rnd: random.Random) -> str:
    while True:
        a = rnd.randint(2, 223)
        if a not in (10, 100, 127, 169, 172, 192, 198, 203, 224):
            return f"{a}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(2, 253)}"


def ipv6_e(rnd: random.Random) -> str:
    head = rnd.choice(["2a00", "2a03", "2600", "2607", "2800", "2403", "2c0f", "2620"])
    rest = [f"{rnd.randint(1, 0xffff):x}" for _ in range(7)]
    if rnd.random() < 0.5:
        return head + ":" + ":".join(rest[:2]) + "::" + rest[-1]
    return head + ":" + ":".join(rest)


# --- secrets --------------------------------------------------------------------------------


def _password_e(rnd: random.Random) -> str:
    style = rnd.randrange(5)
    if style == 0:  # a password manager's "memorable" style
        syll = ["ka", "vo", "ri", "mu", "te", "lan", "dor", "pi", "zu", "sel"]
        return "-".join("".join(rnd.sample(syll, 2)).capitalize() for _ in range(3)) \
            + str(rnd.randint(2, 99))
    if style == 1:  # Apple's generated passwords: 3 groups of 6, one capital, one digit
        groups = [_x(rnd, 6, _LO) for _ in range(3)]
        g = rnd.randrange(3)
        groups[g] = groups[g][:2] + rnd.choice(_UP) + rnd.choice(_DG) + groups[g][4:]
        return "-".join(groups)
    if style == 2:  # openssl rand -hex 16
        return _x(rnd, 32, _HX)
    if style == 3:  # KeePass, 20 characters
        return _x(rnd, 20, _AN + "!$%&()*+,-./:;=?@[]^_{|}~")
    return _x(rnd, rnd.randint(10, 14), _AN) + rnd.choice("!%&*") + str(rnd.randint(0, 9))


def _pem_e(rnd: random.Random) -> str:
    label = rnd.choice(["", "RSA ", "ENCRYPTED ", "DSA "]) + "PRIVATE KEY"
    body = "\n".join(_x(rnd, 64, _B64) for _ in range(rnd.randint(4, 8)))
    return f"-----BEGIN {label}-----\n{body}\n{_x(rnd, 24, _B64)}==\n-----END {label}-----"


#: Other vendors' documented token formats (secrets nevertheless: "other_token").
_OTHER: tuple[Callable[[random.Random], str], ...] = (
    lambda r: "lin_api_" + _x(r, 40),
    lambda r: "ATATT3xFfGF0" + _x(r, 180, _URL) + "=" + _x(r, 8, _HX.upper()),
    lambda r: "dapi" + _x(r, 32, _HX),
    lambda r: "dp.st.prd." + _x(r, 43),
    lambda r: "PMAK-" + _x(r, 24, _HX) + "-" + _x(r, 34, _HX),
    lambda r: "NRAK-" + _x(r, 27, _UP + _DG),
    lambda r: "sntrys_" + _x(r, 140, _URL),
    lambda r: "glsa_" + _x(r, 32) + "_" + _x(r, 8, _HX),
    lambda r: "pul-" + _x(r, 40, _HX),
    lambda r: _x(r, 14) + ".atlasv1." + _x(r, 67),
    lambda r: "hvs." + _x(r, 24) if r.random() < 0.5 else "hvs.CAES" + _x(r, 90, _URL),
    lambda r: "tskey-auth-" + _x(r, 12) + "CNTRL-" + _x(r, 32),
    lambda r: "xkeysib-" + _x(r, 64, _HX) + "-" + _x(r, 16),
    lambda r: f"{r.randint(100000000, 9999999999)}:AA" + _x(r, 33, _URL),
    lambda r: "AGE-SECRET-KEY-1" + _x(r, 58, _UP + "023456789"),
    lambda r: "sbp_" + _x(r, 40, _HX),
    lambda r: "pscale_tkn_" + _x(r, 43, _URL),
    lambda r: "ntn_" + _x(r, 46),
)

SECRETS_E: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: r.choice(["AKIA", "ASIA", "AROA"]) + _x(r, 16, _UP + "234567"),
    "aws_secret_access_key": lambda r: _x(r, 40, _B64),
    "github_token": lambda r: r.choice(["ghu_", "ghr_", "ghp_", "ghs_"]) + _x(r, 36),
    "gitlab_token": lambda r: r.choice(["glrt-", "glpat-", "gldt-", "glft-"]) + _x(r, 20, _URL),
    "slack_token": lambda r: r.choice(["xoxp-", "xoxb-"]) + "-".join(
        _x(r, k, _DG) for k in (11, 13, 13)) + "-" + _x(r, 32, _HX),
    "stripe_key": lambda r: r.choice(["rk_live_", "sk_live_", "rk_test_"]) + "51" + _x(r, 97),
    "openai_api_key": lambda r: r.choice(["sk-admin-", "sk-proj-"]) + _x(r, 48, _URL)
    + "T3BlbkFJ" + _x(r, 48, _URL),
    "anthropic_api_key": lambda r: r.choice(["sk-ant-admin01-", "sk-ant-api03-"])
    + _x(r, 93, _URL) + "AA",
    "jwt": lambda r: ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).decode()
                              .rstrip("=") for part in (
        {"typ": "JWT", "alg": r.choice(["HS256", "RS512", "PS256"])},
        {"iss": "https://login.acme-corp.io/", "uid": r.randint(10**6, 10**7),
         "exp": r.randint(1_750_000_000, 1_800_000_000), "scope": "read write"},
    )) + "." + _x(r, 43, _URL),
    "private_key": _pem_e,
    "npm_token": lambda r: "npm_" + _x(r, 36),
    "pypi_token": lambda r: "pypi-AgENdGVzdC5weXBpLm9yZw" + _x(r, 120, _URL)
    if r.random() < 0.3 else "pypi-AgEIcHlwaS5vcmcCJD" + _x(r, 130, _URL),
    "twilio_api_key": lambda r: "SK" + _x(r, 32, _HX),
    "sendgrid_api_key": lambda r: "SG." + _x(r, 22, _URL) + "." + _x(r, 43, _URL),
    "google_api_key": lambda r: "AIza" + _x(r, 35, _URL),
    "azure_storage_key": lambda r: _x(r, 86, _B64) + "==",
    "shopify_token": lambda r: r.choice(["shpss_", "shppa_", "shpat_"]) + _x(r, 32, _HX),
    "digitalocean_token": lambda r: r.choice(["dor_v1_", "doo_v1_"]) + _x(r, 64, _HX),
    "huggingface_token": lambda r: "hf_" + _x(r, 34, string.ascii_letters),
    "other_token": lambda r: r.choice(_OTHER)(r),
    "password": _password_e,
    "url_password": lambda r: _x(r, r.randint(10, 22), _AN + "-._~!$*"),
}
PERSONAL_E: dict[str, Callable[[random.Random], str]] = {
    "email": email_e, "phone": phone_e, "payment_card": card_e, "iban": iban_e,
    "us_ssn": ssn_e, "ipv4": ipv4_e, "ipv6": ipv6_e}
#: Every type set E plants.
KINDS_E = tuple(sorted({**SECRETS_E, **PERSONAL_E}))

#: Type -> (setting name, how people name it).
_NAMES_E: dict[str, Sequence[tuple[str, str]]] = {
    "email": [("owner_email", "email"), ("CONTACT_ADDR", "e-mail address")],
    "phone": [("mobile", "mobile"), ("EMERGENCY_CONTACT", "phone no.")],
    "payment_card": [("card_number", "card number"), ("cc", "Visa")],
    "iban": [("payout_iban", "IBAN"), ("bank_account", "account (IBAN)")],
    "us_ssn": [("ssn", "SSN"), ("social", "social")],
    "ipv4": [("server_ip", "IP"), ("nat_gateway", "egress IP")],
    "ipv6": [("ipv6_address", "v6 address"), ("peer", "IPv6 peer")],
    "aws_access_key_id": [("access_key", "access key"), ("AWS_ACCESS_KEY_ID", "key id")],
    "aws_secret_access_key": [("secret_key", "secret key"),
                              ("AWS_SECRET_ACCESS_KEY", "AWS secret")],
    "github_token": [("GITHUB_TOKEN", "GitHub token"), ("gh_token", "PAT")],
    "gitlab_token": [("RUNNER_TOKEN", "runner token"), ("gitlab_token", "GitLab token")],
    "slack_token": [("SLACK_TOKEN", "Slack token"), ("slack_user_token", "user token")],
    "stripe_key": [("STRIPE_API_KEY", "Stripe key"), ("stripe_restricted", "restricted key")],
    "openai_api_key": [("OPENAI_ADMIN_KEY", "OpenAI admin key"), ("openai_key", "key")],
    "anthropic_api_key": [("ANTHROPIC_API_KEY", "Anthropic key")],
    "jwt": [("access_token", "access token"), ("AUTH_JWT", "JWT")],
    "private_key": [("private_key", "private key"), ("SIGNING_KEY", "signing key")],
    "npm_token": [("NODE_AUTH_TOKEN", "npm token")],
    "pypi_token": [("TWINE_PASSWORD", "PyPI token")],
    "twilio_api_key": [("TWILIO_KEY_SID", "Twilio API key")],
    "sendgrid_api_key": [("SENDGRID_API_KEY", "SendGrid key")],
    "google_api_key": [("GOOGLE_API_KEY", "Google key"), ("firebase_api_key", "Firebase key")],
    "azure_storage_key": [("storage_account_key", "storage key")],
    "shopify_token": [("SHOPIFY_SECRET", "Shopify secret")],
    "digitalocean_token": [("DIGITALOCEAN_TOKEN", "DO token")],
    "huggingface_token": [("HUGGING_FACE_HUB_TOKEN", "HF token")],
    "other_token": [("API_TOKEN", "API token"), ("service_token", "service token"),
                    ("INTEGRATION_KEY", "integration key")],
    "password": [("db_password", "DB password"), ("ADMIN_PASSWORD", "admin password"),
                 ("passwd", "passwd"), ("ldap_bind_pw", "LDAP bind password")],
    "url_password": [("DATABASE_URL", "connection URL"), ("AMQP_URL", "broker URL")],
}


def _in_url(kind: str, value: str, rnd: random.Random) -> str:
    if kind != "url_password":
        return value
    return rnd.choice([f"postgres://app_rw:{value}@db-7.prod.acme-corp.io:5432/core",
                       f"amqp://svc:{value}@rabbit.acme-corp.io:5672/%2F",
                       f"mongodb+srv://reporting:{value}@cluster0.ab12c.mongodb.net/",
                       f"sftp://upload:{value}@files.acme-corp.io:22/in",
                       f"https://deploy:{value}@registry.acme-corp.io/v2/"])


# --- look-alikes and decoys -----------------------------------------------------------------

_LOOKALIKES_E = [
    # payment processors' published test card numbers
    "4111 1111 1111 1111", "4242424242424242", "5555 5555 5555 4444", "5105105105105100",
    "378282246310005", "3782 822463 10005", "371449635398431", "6011111111111117",
    "6011 0009 9013 9424", "3530111333300000", "3566002020360505", "30569309025904",
    "38520000023237", "4000056655665556", "5200828282828210", "2223003122003222",
    "4012888888881881", "6200000000000005",
    # the IBAN registry's and banks' documented examples
    "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    # vendors' documentation placeholders
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc", "xoxb-not-a-real-token-this-will-not-work",
    "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "<YOUR_API_KEY>", "sk-...",
    "your-secret-here", "$API_TOKEN", "{{ .Values.secret }}", "${{ secrets.GH_PAT }}",
    "var.db_password", "lookup('env', 'DB_PASS')",
    # redacted and masked values
    "[REDACTED]", "[FILTERED]", "****-****-****-4242", "•••• •••• •••• 1881", "sk-proj-****",
    "ghp_****************************", "DE** **** **** **** **30 00",
    # hashes, ids, images
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "d41d8cd98f00b204e9800998ecf8427e",
    "$2b$12$KIXQJ8pZ0wJ1y9Rl0m3yNeN6Sgk1Q5Z9mD0hG7vLq4yG9b1tTQm2W",
    "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC",
    "8f14e45f-ceea-467f-a8dc-8b7e2c1f0a9e", "01HF8Z6Y3M2Q9T4V7W0X5R1K8N",
    "arn:aws:iam::123456789012:role/ci-deploy",
    "arn:aws:secretsmanager:us-east-1:210987654321:secret:payments/api-k3Yx9Q",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
    "$ANSIBLE_VAULT;1.1;AES256\n6638643965376234376538653461346539333466366463663433386631\n"
    "3461313938383261653936663966333862353061626562640a",
    "sha256:9b2a7c1f8e3d4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b",
    # documentation addresses, fictional numbers, advertised SSNs
    "192.0.2.146", "198.51.100.23", "203.0.113.77", "2001:db8:85a3::8a2e:370:7334",
    "127.0.0.1", "0.0.0.0/0", "::1", "jane.doe@example.com", "someone@example.org",
    "+1 (555) 010-0199", "555-0142", "078-05-1120", "123-45-6789",
]


def _mutate(value: str, rnd: random.Random) -> str:
    spots = [i for i, c in enumerate(value) if c.isdigit() and not (value[:2].isalpha() and i < 4)]
    i = rnd.choice(spots)
    return value[:i] + rnd.choice([d for d in _DG if d != value[i]]) + value[i + 1:]


# --- documents: whole artifacts ---------------------------------------------------------------


class _Artifact:
    """Text being written; :meth:`put` adds a line holding a value and records its span.
    ``escape`` writes values as they appear inside a JSON string."""

    def __init__(self, escape: bool = False) -> None:
        self.text = ""
        self.spans: list[PlantedE] = []
        self.escape = escape

    def raw(self, text: str) -> None:
        self.text += text + "\n"

    def put(self, before: str, value: str, after: str, kind: str | None, prose: bool,
            decoy: str = "", shown: str | None = None) -> None:
        shown = value if shown is None else shown
        at = shown.index(value)
        if self.escape:
            esc = json.dumps(shown)[1:-1]
            value_esc = json.dumps(value)[1:-1]
            at = esc.index(value_esc)
            shown, value = esc, value_esc
        start = len(self.text) + len(before) + at
        self.text += before + shown + after + "\n"
        self.spans.append((start, start + len(value), kind, prose, decoy))


#: Each format: (prose?, escape as JSON?, header, lines with {v}/{name}/{what}, footer).
_Format = tuple[bool, bool, Sequence[str], Sequence[str], Sequence[str]]
_FORMATS: dict[str, _Format] = {
    "slack_export": (True, True, ['[', '  {"type": "message", "user": "U04QX1", '
                                  '"text": "morning all :coffee:", "ts": "1733561021.000100"},'], [
        '  {"type": "message", "user": "U02BB7", "text": "{what}: {v}", '
        '"ts": "1733561101.000200"},',
        '  {"type": "message", "user": "U07ZZ3", "text": "hey <@U02BB7> can you try {v} '
        'as the {what}?", "ts": "1733561188.000300"},',
        '  {"type": "message", "user": "U02BB7", "text": "what\'s the {what} again?\\n>{v}", '
        '"thread_ts": "1733561101.000200"},',
        '  {"type": "message", "user": "U04QX1", "text": "```{name}={v}```", '
        '"ts": "1733561250.000400"},',
    ], ['  {"type": "message", "subtype": "channel_leave", "user": "U09AA1"}', ']']),
    "discord_export": (True, True, ['{"guild": {"name": "acme-devs"}, "messages": ['], [
        '  {"author": {"name": "kestrel"}, "content": "my {what} is {v} lol dont tell"},',
        '  {"author": {"name": "moth"}, "content": "> {what}\\n{v}"},',
        '  {"author": {"name": "kestrel"}, "content": "ok updated the {what} -> `{v}`"},',
    ], ['  {"author": {"name": "bot"}, "content": "Pinned a message."}', ']}']),
    "jira": (True, False, ["h2. Steps to reproduce", "# Log in as the support user"], [
        "# Enter *{v}* in the {what} field",
        "||Field||Value||\n|{what}|{v}|",
        "{{noformat}}{name}: {v}{{noformat}}",
        "Reporter's {what} is {v} (from the intake form).",
    ], ["h2. Expected result", "The import finishes."]),
    "github_issue": (True, False, ["### Describe the bug", "Sync stops after the first page."], [
        "My config (sorry, forgot to strip the {what}):\n```\n{name}: {v}\n```",
        "- {what}: `{v}`",
        "I set `{name}` to `{v}` and it still 401s.",
        "| setting | value |\n|---|---|\n| {name} | {v} |",
    ], ["### Environment", "- OS: Ubuntu 24.04"]),
    "email_signature": (True, False, ["Hi team,", ""], [
        "Quick one - the {what} we agreed on is {v}.",
        "Could you update my {what} to {v}? Thanks!",
        "--\nDr. Ana Silva | Head of Ops\n{what}: {v}",
        "Best,\nBruno\nM: {v}",
    ], ["", "CONFIDENTIALITY NOTICE: this e-mail and any attachments are for the named",
        "recipient only."]),
    "notebook_markdown": (True, True, ['{"cells": [{"cell_type": "markdown", "source": ['], [
        '    "Note: the {what} for the sandbox is {v}\\n",',
        '    "* {what} \u2014 {v}\\n",',
    ], ['    "## Results"]}], "nbformat": 4}']),
    "terraform": (False, False, ['provider "aws" {', '  region = "eu-central-1"', "}"], [
        'variable "{name}" {\n  default = "{v}"\n}',
        'resource "aws_db_instance" "main" {\n  {name} = "{v}"\n}',
        '  {name} = "{v}"',
        'locals {\n  {name} = "{v}"\n}',
    ], ['output "endpoint" {', "  value = aws_db_instance.main.endpoint", "}"]),
    "helm_values": (False, False, ["replicaCount: 2", "image:", "  tag: 1.8.4", "env:"], [
        "  {name}: \"{v}\"",
        "  - name: {name}\n    value: \"{v}\"",
        "secrets:\n  {name}: {v}",
    ], ["resources: {}"]),
    "ansible": (False, False, ["---", "- hosts: db", "  vars:"], [
        "    {name}: \"{v}\"",
        "    {name}: '{v}'",
        "      - { name: {name}, value: \"{v}\" }",
    ], ["  roles:", "    - postgres"]),
    "dockerfile": (False, False, ["FROM python:3.12-slim", "WORKDIR /app"], [
        "ENV {name}={v}",
        "ARG {name}=\"{v}\"",
        "RUN echo \"{v}\" > /etc/app/{name}",
    ], ["COPY . .", 'CMD ["gunicorn", "app:app"]']),
    "gh_actions": (False, False, ["name: release", "on: [push]", "jobs:", "  build:",
                                  "    runs-on: ubuntu-latest"], [
        "    env:\n      {name}: {v}",
        "      - run: ./deploy.sh --{lname} '{v}'",
        "      - with:\n          {lname}: \"{v}\"",
    ], ["    steps:", "      - uses: actions/checkout@v4"]),
    "postman": (False, True, ['{"info": {"name": "Partner API"}, "variable": ['], [
        '  {"key": "{lname}", "value": "{v}", "type": "string"},',
        '  {"key": "{name}", "value": "{v}"},',
    ], ['  {"key": "baseUrl", "value": "https://api.partner.io"}', "]}"]),
    "har": (False, True, ['{"log": {"entries": [{"request": {"method": "POST", "headers": ['], [
        '  {"name": "X-Api-Key", "value": "{v}"},',
        '  {"name": "Cookie", "value": "{lname}={v}; theme=dark"},',
        '], "postData": {"text": "{lname}={v}&remember=1"}, "headers": [',
    ], ['  {"name": "Accept", "value": "application/json"}', "]}}]}}"]),
    "curl": (False, False, ["$ curl -s https://api.partner.io/health"], [
        "$ curl -X POST https://api.partner.io/v1/items -H 'X-Api-Key: {v}'",
        "$ curl -d '{lname}={v}' https://auth.partner.io/token",
        "$ curl -H \"Authorization: Token {v}\" https://api.partner.io/v1/me",
    ], ['{"status": "ok"}']),
    "json_logs": (False, True, ['{"level":"info","msg":"starting","pid":4121}'], [
        '{"level":"debug","msg":"config loaded","{lname}":"{v}"}',
        '{"level":"error","msg":"auth failed for {v}","component":"gateway"}',
        '{"level":"warn","msg":"request","headers":{"authorization":"{v}"}}',
    ], ['{"level":"info","msg":"shutdown","uptime_s":86400}']),
    "sql_dump": (False, False, ["-- MySQL dump 10.13", "LOCK TABLES `customers` WRITE;"], [
        "INSERT INTO `customers` VALUES (1042,'Ana','{v}','2024-11-02');",
        "UPDATE settings SET value = '{v}' WHERE name = '{lname}';",
        "CREATE USER 'report'@'%' IDENTIFIED BY '{v}';",
    ], ["UNLOCK TABLES;"]),
    "csv_export": (False, False, ["id,name,{lname},created_at"], [
        "7781,\"Novak, Ivo\",{v},2024-10-01",
        "7782,Deepa Okafor,\"{v}\",2024-10-03",
    ], ["7790,Test User,,2024-10-09"]),
    "notebook_code": (False, True, ['{"cells": [{"cell_type": "code", "source": ['], [
        '    "{lname} = \\"{v}\\"\\n",',
        '    "client = Client({lname}=\\"{v}\\")\\n",',
        '    "os.environ[\\"{name}\\"] = \\"{v}\\"\\n",',
    ], ['    "df.head()"], "outputs": []}], "nbformat": 4}']),
}

_FILLER_E = ["Build 2024.11.3 passed in 6m12s.", "Meeting room B-204, floor 2.",
             "Order 55-120943 shipped via DHL 1Z999AA10123456784.",
             "Invoice INV-2024-00981, total 1.249,00 EUR.", "Ticket ACME-4417 linked.",
             "Port 5432 is open on the bastion.", "Uptime 99.95% over 30 days."]


def _fill(template: str, fields: dict[str, str]) -> str:
    for key, word in fields.items():
        template = template.replace("{" + key + "}", word)
    return template


def documents_e(seed: int, count: int) -> list[tuple[str, list[PlantedE]]]:
    """``count`` artifacts of set E, formats drawn evenly, each with 2-4 planted values, one
    look-alike and, in two thirds, a one-digit-mutated card number or IBAN."""
    rnd = random.Random(seed)
    generators = {**SECRETS_E, **PERSONAL_E}
    names = sorted(_FORMATS)
    out = []
    for number in range(count):
        prose, escape, header, lines, footer = _FORMATS[names[number % len(names)]]
        doc = _Artifact(escape)
        for text in header:
            doc.raw(text)
        for kind in rnd.sample(KINDS_E, rnd.randint(2, 4)):
            value = generators[kind](rnd)
            name, what = rnd.choice(_NAMES_E[kind])
            line = _fill(rnd.choice(lines), {"name": name, "lname": name.lower(), "what": what})
            before, after = line.split("{v}")
            doc.put(before, value, after, kind, prose, shown=_in_url(kind, value, rnd))
            if rnd.random() < 0.3 and not escape:
                doc.raw(rnd.choice(_FILLER_E))
        twin = rnd.choice([card_e, iban_e, None])
        decoy_line = _fill(rnd.choice(lines), {"name": "previous_value", "lname": "old_value",
                                               "what": "old value"})
        if twin is not None:
            before, after = decoy_line.split("{v}")
            doc.put(before, _mutate(twin(rnd), rnd), after, None, prose, "mutated")
        lookalike = rnd.choice(_LOOKALIKES_E)
        decoy_line = _fill(rnd.choice(lines), {"name": "EXAMPLE_VALUE", "lname": "example",
                                               "what": "example from the docs"})
        before, after = decoy_line.split("{v}")
        doc.put(before, lookalike, after, None, prose, "lookalike")
        for text in footer:
            doc.raw(text)
        out.append((doc.text, doc.spans))
    return out
