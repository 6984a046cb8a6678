"""Template set C of the privacy benchmark: held out in round 1, a TUNING SET since.

Written on 2026-12-07, before the detector changes of that day and without looking at
what the detectors find in it; committed on its own before those changes, and evaluated
once as held out at the end of that round. Round 2 fixed the classes of its misses (with
tests of their own), so ``benchmarks/privacy.py`` scores it as "set C (tuned on)"; the
held-out set of round 2 is set D (``privacy_heldout_d.py``).

What differs from sets A and B (``benchmarks/privacy.py``):

* other sentences and documents: chat messages, e-mails with markdown, HTML, checklists;
  docker-compose, PowerShell, Dockerfile, INI, Terraform, JavaScript, CLI flags, log
  lines and JSON escaped inside a log record;
* other names for the values (``MOBILE``, ``cc_number``, "card on file", ...);
* personal values from Faker under locales sets A and B do not use (Australia, Canada,
  India, Japan, Brazil, Mexico, Poland, Sweden, Denmark, Switzerland, Czechia, Portugal,
  Ireland, Belgium), with card numbers, IBANs and IPv6 addresses written in several ways;
* secret values from generators written for this set alone (other prefixes and lengths
  that the services issue: ``ASIA`` keys, 99-character Stripe keys, ``sk-svcacct-``,
  rotating Slack tokens, PKCS#8 and encrypted PEM keys, keys inside JSON strings, ...);
* other look-alikes (masked and truncated values, template syntax of other tools, public
  keys, image digests) and other filler text (order, tracking and meeting numbers, EANs).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import string
from collections.abc import Callable
from typing import Any

__all__ = [
    "CODE_C",
    "DECOYS_C",
    "FILLER_C",
    "LOOKALIKES_C",
    "NAMES_C",
    "PROSE_C",
    "personal_values_c",
    "secret_values_c",
    "shown_c",
]

_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"
_URLSAFE = _ALNUM + "_-"
_HEX = "0123456789abcdef"

#: Type -> (variable name in code, what prose calls it).
NAMES_C = {
    "email": ("ALERT_EMAIL", "email"), "phone": ("MOBILE", "mobile number"),
    "payment_card": ("cc_number", "card on file"), "iban": ("BANK_IBAN", "bank account (IBAN)"),
    "us_ssn": ("employee_ssn", "SSN"), "ipv4": ("REDIS_HOST", "host IP"),
    "ipv6": ("PEER_ADDR", "v6 address"), "aws_access_key_id": ("AWS_KEY_ID", "AWS key id"),
    "aws_secret_access_key": ("AWS_SECRET", "AWS secret"),
    "github_token": ("GH_TOKEN", "personal access token"),
    "gitlab_token": ("CI_JOB_PAT", "GitLab PAT"), "slack_token": ("SLACK_TOKEN", "Slack token"),
    "slack_webhook": ("ALERTS_WEBHOOK", "webhook URL"),
    "stripe_key": ("STRIPE_API_KEY", "Stripe secret key"),
    "openai_api_key": ("OPENAI_KEY", "OpenAI API key"),
    "anthropic_api_key": ("CLAUDE_API_KEY", "Anthropic API key"),
    "jwt": ("AUTH_JWT", "session token"), "private_key": ("SSH_PRIVATE_KEY", "private key"),
    "pypi_token": ("PYPI_API_TOKEN", "PyPI upload token"),
    "npm_token": ("NODE_AUTH_TOKEN", "npm publish token"),
    "twilio_api_key": ("TWILIO_KEY_SID", "Twilio API key"),
    "sendgrid_api_key": ("SENDGRID_KEY", "SendGrid key"),
    "google_api_key": ("FIREBASE_API_KEY", "Google key"),
    "google_oauth_secret": ("OAUTH_CLIENT_SECRET", "client secret"),
    "azure_storage_key": ("AZURE_STORAGE_ACCOUNT_KEY", "storage key"),
    "digitalocean_token": ("DIGITALOCEAN_ACCESS_TOKEN", "DO API token"),
    "shopify_token": ("SHOPIFY_ADMIN_TOKEN", "Shopify admin token"),
    "huggingface_token": ("HUGGING_FACE_HUB_TOKEN", "HF token"),
    "password": ("ADMIN_PASS", "admin password"), "url_password": ("BROKER_URL", "broker URL"),
}

# {v}: the value; {name}: the variable; {lname}: it in lower case; {what}: what it is;
# {flag}: it as a command-line flag (lower case, hyphens).
PROSE_C = [
    "Hi team, quick heads-up: the {what} for the staging box is **{v}**. Please don't paste "
    "it in public channels.",
    "> {what}: `{v}`",
    "From the call notes - {what} (confirmed twice): {v}; follow up Monday.",
    "Thanks! I've updated my {what} to \u201c{v}\u201d as you suggested.",
    "Can you try again with {v}? That should be the correct {what} now.",
    "- [x] swap the old {what} for '{v}'",
    "Sorry, typo in my last message - the {what} should read {v} (not the one I sent before).",
    "Re: your request\n\nThe {what} we have on record is {v}.\n\nBest regards,\nSupport",
    "ok so {v} is what we're using as the {what} until Friday",
    "<p>Your {what}: <b>{v}</b></p>",
]
CODE_C = [
    '{{\n  "{lname}": "{v}",\n  "retries": 3\n}}',
    "    environment:\n      {name}: \"{v}\"",
    '$env:{name} = "{v}"',
    "{lname} = '{v}'  # TODO move to vault",
    "ENV {name}={v}",
    "[default]\n{lname} = {v}",
    "./deploy.sh --{flag} {v} --verbose",
    'resource "app_config" "main" {{\n  {lname} = "{v}"\n}}',
    'const {lname} = process.env.{name} || "{v}";',
    "2024-05-01T10:00:00Z INFO worker: loaded {lname}={v} retry=3",
    '{{"level": "debug", "msg": "{{\\"{lname}\\": \\"{v}\\"}}"}}',
]
FILLER_C = [
    "Invoice INV-2024-00731 is due 2024-06-30, total $1,249.00.",
    "Tracking number 1Z999AA10123456784 (UPS), 2 parcels.",
    "Join the meeting: ID 812 3456 7890.",
    "ORCID 0000-0002-1825-0097 is listed on the paper.",
    "Room 3.14, ext. 2210; the printer is on floor 2.",
    "This bumps lodash from 4.17.20 to 4.17.21.",
    "Order #112-4829301-7756012 shipped via DHL.",
    "created_at: 1717171717123",
    "Coordinates 48.8566, 2.3522 (Paris).",
    "EAN 4006381333931 on the box label.",
    "    return sorted(items, key=lambda x: x.priority)",
    "image: registry.internal/api@sha256:"
    "4c1d0e3f5a2b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d",
    "Kernel 6.1.0-18-amd64, uptime 41 days.",
]
LOOKALIKES_C = [
    "ghp_************************************", "sk-...a1B2", "AKIA****************",
    "<REDACTED>", "{{ .Values.db.password }}", "%DB_PASSWORD%",
    "$(vault read -field=token secret/ci)", "**** **** **** 4242", "XXXX-XXXX-XXXX-1111",
    "jane.doe@example.net", "noreply@test", "+1 555 0100", "0.0.0.0", "::1",
    "2001:db8:85a3::8a2e:370:7334",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "F47AC10B-58CC-4372-A567-0E02B2C3D479", "d2a1c3f",
    "xoxb-0000000000-0000000000000-xxxxxxxxxxxxxxxxxxxxxxxx",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
    "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n-----END PUBLIC KEY-----",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl deploy@ci",
    "password: ********", "token=<paste-here>", "Bearer ${ACCESS_TOKEN}",
]
#: How a look-alike and a one-character-mutated twin are written: (prose, code).
DECOYS_C = {"lookalike": ("(the docs show {v} there)", "# sample: {v}"),
             "mutated": ("The old reference {v} bounced.", "previous_ref: '{v}'")}

_LOCALES_C = ["en_AU", "en_CA", "en_IN", "ja_JP", "pt_BR", "es_MX", "pl_PL", "sv_SE", "da_DK",
              "de_CH", "cs_CZ", "pt_PT", "en_IE", "nl_BE"]


def _r(rnd: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def _group_card(number: str, rnd: random.Random) -> str:
    style = rnd.choice(["plain", "plain", "4s-space", "4s-dash", "amex"])
    if style == "plain":
        return number
    if style == "amex" and len(number) == 15:
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    sep = "-" if style == "4s-dash" else " "
    return sep.join(number[i:i + 4] for i in range(0, len(number), 4))


def personal_values_c(seed: int) -> dict[str, Callable[[random.Random], str]]:
    """Personal values from Faker under set C's locales, written in several ways."""
    from faker import Faker

    fake = Faker(_LOCALES_C)
    fake.seed_instance(seed)
    us = Faker("en_US")
    us.seed_instance(seed + 1)

    def iban(rnd: random.Random) -> str:
        value = ""
        while not value:
            try:
                value = fake.iban()
            except AttributeError:  # a locale without a bank provider
                value = ""
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4)) \
            if rnd.random() < 0.5 else value

    def ssn(rnd: random.Random) -> str:
        value = us.ssn()
        return value if rnd.random() < 0.7 else value.replace("-", " ")

    def ipv6(rnd: random.Random) -> str:
        value = fake.ipv6()
        return str(ipaddress.IPv6Address(value)) if rnd.random() < 0.5 else value

    return {"email": lambda r: fake.email(safe=False), "phone": lambda r: fake.phone_number(),
            "payment_card": lambda r: _group_card(fake.credit_card_number(), r), "iban": iban,
            "us_ssn": ssn, "ipv4": lambda r: fake.ipv4_public(), "ipv6": ipv6}


def _jwt_c(rnd: random.Random) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()) \
            .decode().rstrip("=")
    alg = rnd.choice(["RS256", "HS512", "ES384", "PS256"])
    header = {"typ": "JWT", "alg": alg, "kid": _r(rnd, 12)} if rnd.random() < 0.5 \
        else {"alg": alg}
    claims = {"iss": "https://auth.internal", "aud": "api", "exp": rnd.randint(1.7e9, 1.9e9),
              "scope": rnd.choice(["read", "read write", "admin"]),
              "email_verified": rnd.random() < 0.5}
    signature = _r(rnd, 342 if alg.startswith(("RS", "PS")) else 86, _URLSAFE)
    return f"{part(header)}.{part(claims)}.{signature}"


def _pem_c(rnd: random.Random) -> str:
    kind = rnd.choice(["", "ENCRYPTED ", "OPENSSH ", "DSA ", "PGP "])
    block = " BLOCK" if kind == "PGP " else ""
    head = "Version: GnuPG v2\n\n" if kind == "PGP " else ""
    lines = [_r(rnd, 64, _B64) for _ in range(rnd.randint(4, 12))] + [_r(rnd, rnd.randint(8, 63),
                                                                         _B64) + "=="]
    body = "\n".join(lines)
    value = (f"-----BEGIN {kind}PRIVATE KEY{block}-----\n{head}{body}\n"
             f"-----END {kind}PRIVATE KEY{block}-----")
    return value.replace("\n", "\\n") if rnd.random() < 0.25 else value  # inside a JSON string


def _password_c(rnd: random.Random) -> str:
    words = ["kettle", "Orbit", "maple", "Falcon", "copper", "Rivet", "lantern", "Sommer",
             "tiger", "Harbor"]
    style = rnd.randrange(4)
    if style == 0:
        return f"{rnd.choice(words)}-{rnd.choice(words)}-{rnd.randint(10, 99)}{rnd.choice('!?#$')}"
    if style == 1:
        return _r(rnd, rnd.randint(10, 16), _ALNUM + "!@#$%^&*")
    if style == 2:
        return f"{rnd.choice(words).capitalize()}{rnd.randint(2019, 2026)}{rnd.choice('!?.#')}"
    return f"{rnd.choice(words)}{rnd.choice('@#$')}{rnd.randint(100, 9999)}{rnd.choice(words)}"


def secret_values_c() -> dict[str, Callable[[random.Random], str]]:
    """Secret values, from generators written for set C alone."""
    return {
        "aws_access_key_id": lambda r: r.choice(["AKIA", "ASIA"]) + _r(
            r, 16, string.ascii_uppercase + "234567"),
        "aws_secret_access_key": lambda r: _r(r, 40, _B64),
        "github_token": lambda r: r.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + _r(r, 36)
        if r.random() < 0.6 else "github_pat_11" + _r(r, 20, string.ascii_uppercase
                                                      + string.digits) + "_" + _r(r, 59),
        "gitlab_token": lambda r: r.choice(["glpat-", "glpat-", "gldt-", "glrt-"]) + _r(
            r, 20, _URLSAFE),
        "slack_token": lambda r: (
            f"xoxp-{_r(r, 11, string.digits)}-{_r(r, 11, string.digits)}-"
            f"{_r(r, 13, string.digits)}-{_r(r, 32, _HEX)}" if r.random() < 0.7
            else f"xoxe.xoxp-1-{_r(r, 140, _ALNUM)}"),
        "slack_webhook": lambda r: "https://hooks.slack.com/services/T" + _r(
            r, 10, string.ascii_uppercase + string.digits) + "/B" + _r(
            r, 11, string.ascii_uppercase + string.digits) + "/" + _r(r, 24),
        "stripe_key": lambda r: r.choice(["sk_live_", "rk_live_", "sk_test_"]) + (
            "51" + _r(r, 97) if r.random() < 0.5 else _r(r, 24)),
        "openai_api_key": lambda r: r.choice(["sk-proj-", "sk-svcacct-", "sk-admin-"]) + _r(
            r, 74, _URLSAFE) + "T3BlbkFJ" + _r(r, 74, _URLSAFE),
        "anthropic_api_key": lambda r: r.choice(["sk-ant-api03-", "sk-ant-admin01-"]) + _r(
            r, 95, _URLSAFE) + "AA",
        "jwt": _jwt_c,
        "private_key": _pem_c,
        "pypi_token": lambda r: "pypi-AgEIcHlwaS5vcmc" + _r(r, r.randint(140, 180), _URLSAFE),
        "npm_token": lambda r: "npm_" + _r(r, 36),
        "twilio_api_key": lambda r: "SK" + _r(r, 32, _HEX),
        "sendgrid_api_key": lambda r: "SG." + _r(r, 22, _URLSAFE) + "." + _r(r, 43, _URLSAFE),
        "google_api_key": lambda r: "AIza" + _r(r, 35, _URLSAFE),
        "google_oauth_secret": lambda r: "GOCSPX-" + _r(r, 28, _URLSAFE),
        "azure_storage_key": lambda r: _r(r, 86, _B64) + "==",
        "digitalocean_token": lambda r: r.choice(["dop_v1_", "doo_v1_"]) + _r(r, 64, _HEX),
        "shopify_token": lambda r: r.choice(["shpat_", "shpss_", "shpca_"]) + _r(r, 32, _HEX),
        "huggingface_token": lambda r: "hf_" + _r(r, 34, string.ascii_letters),
        "password": _password_c,
        "url_password": lambda r: _r(r, r.randint(10, 20), _ALNUM + "!*_~"),
    }


def shown_c(kind: str, value: str, rnd: random.Random) -> str:
    """How a value appears: a URL password sits in a URL, an Azure key mostly in a
    connection string; everything else as it is."""
    if kind == "url_password":
        return rnd.choice([f"amqp://guest:{value}@rabbit.internal:5672/",
                           f"redis://default:{value}@cache.prod.internal:6379/0",
                           f"https://deploy:{value}@git.corp.internal/platform/api.git",
                           f"mongodb+srv://svc_reader:{value}@cluster0.ab1cd.mongodb.net/app"])
    if kind == "azure_storage_key" and rnd.random() < 0.6:
        return ("DefaultEndpointsProtocol=https;AccountName=prodassets;"
                f"AccountKey={value};EndpointSuffix=core.windows.net")
    return value
