"""Sensitive-value detection: precision and recall per type, look-alikes, mutated twins,
cost per KB and against the ``remember`` budget, next to Presidio and detect-secrets.

    pip install -e ".[bench]"                    # presidio-analyzer, detect-secrets, Faker
    pip install --no-deps presidio-evaluator     # its templates: the third-party held-out set
    python benchmarks/privacy.py                 # about two minutes
    python benchmarks/privacy.py --docs 2000 --seed 7 --json

Seventeen corpora, each scored separately, and clean text:

* **development** (``--seed``): documents in prose and code generated from template set A,
  with planted values of every type (labelled), plus checksum-mutated twins of card
  numbers and IBANs and documentation look-alikes (unlabelled: any finding on them is
  wrong). The detectors were written against this set.
* **held-out, synthetic** (``--seed`` + 1000): template set B - other wording, other
  documents, values from Faker where Faker has them (e-mail, phone, card, IBAN, SSN,
  IP) - and look-alikes of other shapes. Its misses were looked at and fixed by class
  on 2026-12-07, so it is a tuning set now.
* **held-out, third party**: the 210 sentence templates that ship with
  ``presidio-evaluator`` (MIT; support-desk requests, not written for Athena), filled
  with Faker values; the personal types only (no secrets in them). Names, addresses,
  dates and so on are filled in too and count against precision if flagged. Also looked
  at on 2026-12-07.
* **set C** (``--seed`` + 3000): template set C (``privacy_heldout.py``), written
  before the first detector changes of 2026-12-07 and evaluated once as held out; its
  misses were then fixed by class, so it is a tuning set now.
* **set D** (``--seed`` + 4000): set D (``privacy_heldout_d.py``: its own document
  composer and value generators), written before the second round of changes of
  2026-12-07 and evaluated once as held out at the end of that round; its misses were
  then fixed by class in round 3, so it is a tuning set now.
* **set E** (``--seed`` + 5000): set E (``privacy_heldout_e.py``: whole artifacts of
  one format each - chat exports, issue bodies, Terraform, Helm, HAR, SQL dumps, ... -
  with its own value generators), written before round 3's detector changes were
  finished and evaluated once as held out at the end of round 3; its misses were fixed
  by class in round 4, so it is a tuning set now.
* **set F** (``--seed`` + 6000): set F (``privacy_heldout_f.py``: other kinds of
  text - Teams and Matrix exports, support tickets, SMS threads, call transcripts, commit
  messages; Kubernetes Secrets, systemd units, nginx, crontabs, dotfiles, Go, Rust, Java,
  C#, Makefiles, GitLab CI, SQL migrations, logfmt, syslog - with its own value
  generators), written before round 4's detector changes and evaluated once as held out
  at its end; its misses were fixed by class in round 5, so it is a tuning set now.
* **set G** (``--seed`` + 7000): set G (``privacy_heldout_g.py``: WhatsApp, IRC and
  Google Chat logs, Linear comments, e-mail reply chains, call notes, forum posts,
  onboarding e-mails; httpie transcripts, AWS credential files, Ansible inventories,
  Terraform state, PHP, Ruby, Kotlin, Swift and TypeScript source, commented ``.env``
  files, zsh history, CSV exports, compose anchors, Postman environments, kubeconfigs,
  Spring YAML, redis-cli and mongosh sessions - with its own value generators), written
  before round 5's detector changes and evaluated once as held out at its end; its
  misses are fixed by class in round 6, so it is a tuning set now.
* **set H** (``--seed`` + 8000): set H (``privacy_heldout_h.py``: Telegram exports,
  helpdesk tickets, meeting transcripts, e-mail signatures, invoices, HR and medical
  intake forms, bank statements, Zoom chats; GitHub Actions logs and workflows,
  Jenkinsfiles, Fly/Netlify/Vercel configuration, ``.env.example`` beside ``.env``, Rails
  credentials, Laravel ``.env``, Django settings, Java properties, Go, Elixir, Scala and
  C++ source, PowerShell and fish history, registry exports, HAR files, GraphQL requests,
  SQL dumps - with its own value generators), written before round 6's detector changes
  and evaluated once as held out at its end; its misses are fixed by class in round 7, so
  it is a tuning set now.
* **set I** (``--seed`` + 9000): set I (``privacy_heldout_i.py``: Confluence and
  Notion exports, Meet chats, pull-request reviews, postmortems, README install
  sections, tax forms, insurance claims, travel bookings, school records; Sentry and
  Datadog events, Heroku config, Render and Railway files, Firebase and Supabase
  configuration, Android gradle and iOS plists, Nix and Bazel files, Lua, Perl, R and
  Julia source, Postgres and MySQL logs, OpenAPI specifications - with its own value
  generators), written before round 7's detector changes and evaluated once as held out
  at its end; its misses are fixed by class in round 8, so it is a tuning set now.
* **set J** (``--seed`` + 10000): set J (``privacy_heldout_j.py``: Trello card
  exports, Asana comments, Basecamp message boards, Reddit posts, Signal exports,
  voicemail transcriptions, service contracts, rental applications, payroll stubs,
  shipping labels, pharmacy orders, wedding RSVPs, conference registrations, donation
  receipts, job applications, police reports; journalctl output, Caddyfiles, Nomad jobs,
  Pulumi stacks, CloudFormation, Argo CD applications, CMake, Cargo and pyproject files,
  Maven settings, pip.conf and .gitconfig, rclone and s3cmd configuration, VB.NET, F#,
  Dart, Haskell, Groovy and Objective-C source, Prisma schemas, dbt profiles, Airflow
  connections, Kafka client properties, LDIF, Postfix maps, Keychain dumps, browsers'
  password exports, muttrc and ZNC configuration - with its own value generators),
  written before round 8's detector changes were committed and evaluated once as held out
  at its end; its misses are fixed by class in round 9, so it is a tuning set now.
* **set K** (``--seed`` + 11000): set K (``privacy_heldout_k.py``: Mattermost
  exports, iMessage and Skype logs, formal letters, Apple Notes exports, Google Docs
  comment threads, stand-up bot reports, speaker notes, lab notebook entries, NOC shift
  handovers, loan applications, gym membership forms, car rental agreements, hotel
  registration cards, veterinary registrations, small-claims filings, fax cover sheets,
  marketplace messages, survey responses, journal entries; Clojure EDN, OCaml and Zig
  source, Erlang ``sys.config.src``, Windows batch files, HAProxy, Traefik and PgBouncer
  configuration, Packer templates, Serverless Framework files, Salt pillars, Puppet Hiera
  data, ``docker inspect`` output, ``tcpdump -A`` captures, unified diffs, VS Code
  ``launch.json``, JetBrains data-source XML, supervisord programs, Grafana data-source
  provisioning, Alertmanager configuration, AWS CLI and IPython sessions, SOAP envelopes -
  with its own value generators), written before round 9's detector changes were
  committed and without running the detectors on it; evaluated once as held out at the
  end of round 9; its misses are fixed by class in round 10, so it is a tuning set now.
* **set L** (``--seed`` + 12000): set L (``privacy_heldout_l.py``: Zulip, Messenger,
  Rocket.Chat, LINE, Keybase and Twitch chats, Viva Engage posts, Stack Exchange
  questions, MediaWiki talk pages, Gerrit reviews, Bugzilla comments, offboarding
  checklists, card dispute forms, SEPA mandates, visa applications, utility set-up forms,
  maintenance requests, expense reports, pet adoption applications, volunteer sign-ups,
  remittance-change letters, out-of-office replies; Jsonnet, CUE and HOCON configuration,
  Crystal, Nim, Tcl and Racket source, Fluent Bit, Telegraf and Logstash pipelines,
  Prometheus and Envoy configuration, Kubernetes audit logs, CloudTrail records, sqlite3
  and gcloud sessions, vCards, iCalendar events, KeePass and Bitwarden exports, Tomcat
  ``context.xml``, WireGuard and OpenVPN profiles, OFX statements, Chef data bags,
  Kustomize files - with its own value generators), written before round 10's detector
  changes and without running the detectors on it; evaluated once as held out at the end
  of round 10; its misses are fixed by class in round 11, so it is a tuning set now.
* **set M** (``--seed`` + 13000): set M (``privacy_heldout_m.py``: Mastodon,
  WeChat, Threema and KakaoTalk chats, GitHub Discussions, Phabricator, YouTrack and
  Redmine comments, vulnerability reports, holiday-rental host messages, powers of
  attorney, scholarship applications, daycare enrolment forms, beneficiary designations,
  direct-deposit authorisations, dictated memos, removal quote requests, tutoring
  bookings, club newsletters, landlord references, lost-property claims, school-trip
  consent slips; Dhall, KDL and Pkl configuration, Emacs Lisp, Fortran namelists,
  Delphi, Gleam and D source, Squid and Linux audit logs, Windows event XML, Cisco IOS
  and MikroTik configuration, strongSwan secrets, msmtprc, FileZilla site managers,
  RabbitMQ definitions, Mosquitto configuration, MT940 statements, pain.001 transfers,
  QIF and LastPass exports, Stripe CLI, doctl and Azure CLI sessions, ``wget -d`` output -
  with its own value generators), written during round 11 and blind to its detector
  changes, without running the detectors on it; evaluated once as held out at the end of
  round 11; its misses are fixed by class in round 12, so it is a tuning set now.
* **set N** (``--seed`` + 14000): set N (``privacy_heldout_n.py``: neighbourhood
  forum posts, mailing-list digests, allotment, mooring, pledge, podcast-guest, choir-tour
  and funeral-arrangement forms, escrow instruction letters, wire-recall requests, car-pool
  sign-ups, team-roster e-mails, deposit-return requests, parental-leave handover notes,
  dental recall replies, tenants' association minutes, sublet agreements, genealogy forum
  replies; Podman Quadlet units, justfiles, Taskfiles, Tiltfiles, direnv ``.envrc`` files,
  Terragrunt, Drone and Woodpecker CI, Varnish VCL, Samba, dnsmasq, Zabbix agent and
  Dovecot configuration, ``terraform plan`` output, Raku source, awk scripts, ``nmap``
  output, ``wrangler.toml`` files - with its own value generators), written during round
  12 and blind to its detector changes, without running the detectors on it; evaluated
  once as held out at the end of round 12; its misses are fixed by class in round 13, so
  it is a tuning set now.
* **set O** (``--seed`` + 15000): set O (``privacy_heldout_o.py``: house-sitting
  notes, crowdfunding backer surveys, executors' letters to a bank, clinical-trial
  screening questionnaires, jury-service deferral requests, self-storage agreements,
  catering order, trail-race entry and photography booking forms, locksmith job sheets,
  roommate agreements, repair-shop intake tickets, farmers' market vendor applications,
  phone message slips, hackathon team registrations, LAN-party sign-up threads, typed-up
  pages of a paper password book, substitute teachers' lesson plans; Kamailio, Asterisk
  ``pjsip.conf``, Consul, ESPHome, Synapse and Gitea configuration, Buildkite and CircleCI
  pipelines, ``.pgpass`` and ``.my.cnf`` files, Minecraft ``server.properties``, ``strace``
  output, Exim main logs, ``op item get`` output, Excel VBA modules, SAS programs,
  Beancount ledgers, camt.053 statements - with its own value generators), written during
  round 13 and blind to its detector changes, without running the detectors on it;
  evaluated once as held out at the end of round 13; its misses are fixed by class in
  round 14, so it is a tuning set now.
* **held-out P** (``--seed`` + 16000): set P (``privacy_heldout_p.py``: Viber chat
  exports, Webex space threads, Intercom support conversations, Nextcloud Talk chats, a
  freelance web developer's handover letter, a bookkeeper's month-end queries,
  amateur-theatre contact sheets, regatta crew lists, tattoo-studio consent forms, film
  location releases, estate-sale consignment agreements, wine-club change requests, office
  leaving-collection e-mails, escape-room group bookings, horse livery agreements,
  solar-installation site surveys, exchange-student host-family applications, bike-share
  damage reports; HL7 v2 ADT messages, X12 834 enrolment files, SWIFT MT103 transfers,
  COBOL programs, MATLAB scripts, AppleScript, AutoHotkey scripts, Apache httpd virtual
  hosts, BIND zone files, Nagios object definitions, fail2ban logs, IIS W3C access logs,
  HashiCorp Vault CLI sessions, ``curl -v`` transcripts, Jupyter notebooks, Bruno
  environment files, ``.yarnrc.yml`` and ``.fetchmailrc`` files - with its own value
  generators), written during round 14 and blind to its detector changes, without running
  the detectors on it; scored once at the end of round 14.
* **clean text**: the LoCoMo conversations (``--clean``, beside the project when
  present), which hold nothing sensitive: every finding there is false.

Scoring is per category (``email``, ``phone``, ``payment_card``, ``iban``, ``us_ssn``,
``ip``, ``secret``) so the three tools compare; a finding is right when it overlaps a
planted value of its category, each planted value counts once. Athena's per-type recall
of secrets is printed too. Presidio runs its pattern recognizers without an NLP model
(e-mail, phone, credit card, IBAN, US SSN, IP), every result counted (threshold 0, its
default); detect-secrets runs its default plugins and filters over each document's
lines as ``detect-secrets scan`` does over a file's.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import random
import re
import statistics
import string
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from athena_core.config import Config, PrivacyConfig
from athena_core.privacy.checksums import (
    CARD_ISSUERS,
    IBAN_LENGTHS,
    iban_check_digits,
    luhn_check_digit,
    ssn_valid,
)
from athena_core.privacy.detection import Detection
from athena_core.privacy.secrets import SECRET_TYPES
from athena_core.runtime import Athena

sys.path.insert(0, str(Path(__file__).parent))
from privacy_heldout import (  # template set C (tuned on since round 2)
    CODE_C,
    DECOYS_C,
    FILLER_C,
    LOOKALIKES_C,
    NAMES_C,
    PROSE_C,
    personal_values_c,
    secret_values_c,
    shown_c,
)
from privacy_heldout_d import documents_d  # set D (tuned on since round 3)
from privacy_heldout_e import documents_e  # set E (tuned on since round 4)
from privacy_heldout_f import documents_f  # set F (tuned on since round 5)
from privacy_heldout_g import documents_g  # set G (tuned on since round 6)
from privacy_heldout_h import documents_h  # set H (tuned on since round 7)
from privacy_heldout_i import documents_i  # set I (tuned on since round 8)
from privacy_heldout_j import documents_j  # set J (tuned on since round 9)
from privacy_heldout_k import documents_k  # set K (tuned on since round 10)
from privacy_heldout_l import documents_l  # set L (tuned on since round 11)
from privacy_heldout_m import documents_m  # set M (tuned on since round 12)
from privacy_heldout_n import documents_n  # set N (tuned on since round 13)
from privacy_heldout_o import documents_o  # set O (tuned on since round 14)
from privacy_heldout_p import documents_p  # the held-out set P (round 14)

PERSONAL = ("email", "phone", "payment_card", "iban", "us_ssn", "ip")
CATEGORIES = (*PERSONAL, "secret")
CHECKSUM_TYPES = ("payment_card", "iban")
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


def category(kind: str) -> str:
    if kind in ("ipv4", "ipv6"):
        return "ip"
    return kind if kind in PERSONAL else "secret"


@attrs.frozen
class Planted:
    """A value in a document: ``kind`` is its type; ``None`` for a decoy (look-alike or
    mutated twin) that must not be flagged, with ``decoy`` saying which."""

    start: int
    end: int
    kind: str | None
    prose: bool
    decoy: str = ""


@attrs.frozen
class Document:
    text: str
    planted: tuple[Planted, ...]


# --- value generators -------------------------------------------------------------------------


def _s(rnd: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def _mixed(rnd: random.Random, n: int, alphabet: str = ALNUM) -> str:
    """A random token that has upper and lower case letters and digits."""
    while True:
        value = _s(rnd, n, alphabet)
        if any(c.isupper() for c in value) and any(c.islower() for c in value) \
                and any(c.isdigit() for c in value):
            return value


#: The issuers sets A and B plant: the issue's list. UnionPay and Mir (round 8) are left
#: out so that those sets' documents stay as they were drawn (the unit tests cover them).
PLANTED_ISSUERS = sorted(set(CARD_ISSUERS) - {"unionpay", "mir"})


def card(rnd: random.Random) -> str:
    issuer = rnd.choice(PLANTED_ISSUERS)
    (low, high), lengths = rnd.choice(CARD_ISSUERS[issuer])
    length = rnd.choice(lengths)
    payload = str(rnd.randint(low, high))
    payload += _s(rnd, length - len(payload) - 1, string.digits)
    number = payload + luhn_check_digit(payload)
    style = rnd.choice(["plain", "space", "dash"])
    if style == "plain":
        return number
    return (" " if style == "space" else "-").join(number[i:i + 4]
                                                   for i in range(0, len(number), 4))


def iban(rnd: random.Random) -> str:
    country = rnd.choice(sorted(IBAN_LENGTHS))
    letters = rnd.random() < 0.3
    bban = _s(rnd, IBAN_LENGTHS[country] - 4, string.digits + (string.ascii_uppercase
                                                                if letters else ""))
    value = country + iban_check_digits(country, bban) + bban
    return " ".join(value[i:i + 4] for i in range(0, len(value), 4)) if rnd.random() < 0.5 \
        else value


def ssn(rnd: random.Random) -> str:
    while True:
        parts = (f"{rnd.randint(1, 899):03d}", f"{rnd.randint(1, 99):02d}",
                 f"{rnd.randint(1, 9999):04d}")
        if ssn_valid(*parts):
            return "-".join(parts)


def phone(rnd: random.Random) -> str:
    d = lambda n: _s(rnd, n, string.digits)  # noqa: E731
    area = str(rnd.randint(201, 989))
    return rnd.choice([
        f"+44 20 {d(4)} {d(4)}", f"+44 7{d(3)} {d(6)}", f"+49 30 {d(8)}",
        f"+33 {rnd.randint(1, 9)} {d(2)} {d(2)} {d(2)} {d(2)}",
        f"+1 ({area}) {rnd.randint(200, 999)}-{d(4)}",
        f"+1 {area}-{rnd.randint(200, 999)}-{d(4)}", f"+91 9{d(4)} {d(5)}", f"+81 3-{d(4)}-{d(4)}",
        f"({area}) {rnd.randint(200, 999)}-{d(4)}", f"{area}-{rnd.randint(200, 999)}-{d(4)}",
        f"{area}.{rnd.randint(200, 999)}.{d(4)}", f"020 {d(4)} {d(4)}", f"07{d(3)} {d(6)}",
        f"0{rnd.randint(1, 5)} {d(2)} {d(2)} {d(2)} {d(2)}", f"030 {d(8)}"])


FIRST = ["maria", "james", "li", "fatima", "olga", "pierre", "ken", "amara", "diego", "sven"]
LAST = ["lopez", "smith", "wang", "haddad", "ivanova", "martin", "sato", "okafor", "ruiz"]
DOMAINS = ["acme-corp.com", "northwind.io", "mail.globex.net", "contoso.co.uk", "initech.de",
           "gmail.com", "proton.me", "uni-heidelberg.de", "hospital.org.au"]


def email(rnd: random.Random) -> str:
    sep = rnd.choice([".", "_", "", "-"])
    tag = rnd.choice(["", "", "+billing", "+news"])
    return f"{rnd.choice(FIRST)}{sep}{rnd.choice(LAST)}{tag}@{rnd.choice(DOMAINS)}"


def ipv4(rnd: random.Random) -> str:
    first = rnd.choice([10, 23, 51, 81, 104, 142, 172, 185, 212])
    return f"{first}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"


def ipv6(rnd: random.Random) -> str:
    groups = [rnd.choice(["2a00", "2001", "2600", "2406", "fe80"])] + \
        [f"{rnd.randint(0, 0xffff):x}" for _ in range(7)]
    if rnd.random() < 0.5:
        cut = rnd.randint(2, 5)
        return ":".join(groups[:cut]) + "::" + groups[-1]
    return ":".join(groups)


def jwt(rnd: random.Random) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    header = part({"alg": rnd.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"})
    payload = part({"sub": f"user-{rnd.randint(1, 99999)}", "iat": rnd.randint(1.6e9, 1.8e9)})
    return f"{header}.{payload}.{_s(rnd, 43, ALNUM + '_-')}"


def pem(rnd: random.Random) -> str:
    kind = rnd.choice(["RSA ", "EC ", "OPENSSH ", ""])
    body = "\n".join(_s(rnd, 64, ALNUM + "+/") for _ in range(rnd.randint(3, 8)))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


SECRET_GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: "AKIA" + _s(r, 16, string.ascii_uppercase + "234567"),
    "aws_secret_access_key": lambda r: _mixed(r, 40, ALNUM + "/+"),
    "github_token": lambda r: r.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + _s(r, 36)
    if r.random() < 0.75 else "github_pat_" + _s(r, 22) + "_" + _s(r, 59),
    "gitlab_token": lambda r: "glpat-" + _s(r, 20, ALNUM + "_-"),
    "slack_token": lambda r: f"{r.choice(['xoxb', 'xoxp'])}-{_s(r, 12, string.digits)}-"
                             f"{_s(r, 13, string.digits)}-{_s(r, 24)}",
    "slack_webhook": lambda r: "https://hooks.slack.com/services/T" +
    _s(r, 8, string.ascii_uppercase + string.digits) + "/B" +
    _s(r, 10, string.ascii_uppercase + string.digits) + "/" + _s(r, 24),
    "stripe_key": lambda r: r.choice(["sk_live_", "rk_live_", "sk_test_"]) + _s(r, 24),
    "openai_api_key": lambda r: "sk-proj-" + _s(r, 48, ALNUM + "_-")
    if r.random() < 0.6 else "sk-" + _s(r, 20) + "T3BlbkFJ" + _s(r, 20),
    "anthropic_api_key": lambda r: "sk-ant-api03-" + _s(r, 93, ALNUM + "_-") + "AA",
    "jwt": jwt,
    "private_key": pem,
    "pypi_token": lambda r: "pypi-AgEIcHlwaS5vcmc" + _s(r, 70, ALNUM + "_-"),
    "npm_token": lambda r: "npm_" + _s(r, 36),
    "twilio_api_key": lambda r: "SK" + _s(r, 32, HEX),
    "sendgrid_api_key": lambda r: "SG." + _s(r, 22, ALNUM + "_-") + "." + _s(r, 43, ALNUM + "_-"),
    "google_api_key": lambda r: "AIza" + _s(r, 35, ALNUM + "_-"),
    "google_oauth_secret": lambda r: "GOCSPX-" + _s(r, 28, ALNUM + "_-"),
    "azure_storage_key": lambda r: _mixed(r, 86, ALNUM + "+/") + "==",
    "digitalocean_token": lambda r: "dop_v1_" + _s(r, 64, HEX),
    "shopify_token": lambda r: "shpat_" + _s(r, 32, HEX),
    "huggingface_token": lambda r: "hf_" + _s(r, 34, string.ascii_letters),
    "password": lambda r: r.choice(["Tr0ub4dor&3", "hunter2!Blue", "S3cure#Pass", "pa55-W0rd",
                                    "Zx9!qLm2#", "winter2024!", "m0nkey-Bread7"])
    + _s(r, r.randint(0, 4), string.digits),
    "url_password": lambda r: _mixed(r, r.randint(8, 16)),
}
PERSONAL_GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "email": email, "phone": phone, "payment_card": card, "iban": iban, "us_ssn": ssn,
    "ipv4": ipv4, "ipv6": ipv6}
#: Set A plants the types of round 3 (the vendors' prefixes and ``api_token`` of round 4,
#: and the types of round 5, are planted by sets E, F and G): adding generators would
#: redraw every document of set A.
ROUND_4_TYPES = frozenset({
    "linear_api_key", "atlassian_api_token", "databricks_token", "doppler_token",
    "postman_api_key", "newrelic_api_key", "sentry_token", "grafana_token", "pulumi_token",
    "terraform_cloud_token", "vault_token", "tailscale_key", "brevo_api_key",
    "telegram_bot_token", "age_secret_key", "supabase_token", "planetscale_token",
    "notion_token", "api_token"})
ROUND_5_TYPES = frozenset({"groq_api_key", "xai_api_key", "mailgun_api_key",
                           "twilio_auth_token"})
#: The types round 6 added (set A plants none: sets G and H do).
ROUND_6_TYPES = frozenset({"aws_session_token", "azure_sas_signature", "mailchimp_api_key",
                           "openrouter_api_key", "onepassword_token", "braintree_token"})
#: Types added in round 7 (from set H), which sets A and B do not plant either.
ROUND_7_TYPES = frozenset({"defined_networking_token", "cloudflare_origin_ca_key",
                           "alibaba_access_key", "nuget_api_key"})
#: Types added in round 8 (set I's vendors and other documented shapes); no set plants
#: them all.
ROUND_8_TYPES = frozenset({
    "rubygems_api_key", "replicate_api_token", "langsmith_api_key", "perplexity_api_key",
    "flyio_token", "dynatrace_token", "square_access_token", "clojars_token",
    "firebase_server_key", "pinecone_api_key", "docker_token", "figma_token", "sonarqube_token",
    "buildkite_token", "grafana_cloud_token", "netlify_token", "hubspot_token", "airtable_token",
    "contentful_token", "prefect_api_key", "sourcegraph_token", "easypost_api_key", "shippo_token",
    "duffel_token", "nvidia_api_key", "mapbox_secret_token", "google_oauth_token",
    "bitbucket_app_password", "jfrog_token", "tencent_secret_id", "telnyx_api_key",
    "circleci_token", "flutterwave_secret_key", "readme_api_key", "plaid_access_token",
    "azure_ad_client_secret"})
#: Types added in round 9 (from set J).
ROUND_9_TYPES = frozenset({"discord_bot_token"})
#: Types added in round 11 (from set L).
ROUND_11_TYPES = frozenset({"discord_webhook"})
_LATER = (ROUND_4_TYPES | ROUND_5_TYPES | ROUND_6_TYPES | ROUND_7_TYPES | ROUND_8_TYPES
          | ROUND_9_TYPES | ROUND_11_TYPES)
assert set(SECRET_GENERATORS) == set(SECRET_TYPES) - _LATER, \
    set(SECRET_TYPES) ^ set(SECRET_GENERATORS) ^ _LATER


def mutated(value: str, rnd: random.Random) -> str:
    """``value`` with one digit (or, in an IBAN's account part, one character) changed."""
    positions = [i for i, c in enumerate(value) if c.isdigit() or (c.isupper() and i >= 4)]
    index = rnd.choice(positions)
    alphabet = string.digits if value[index].isdigit() else string.ascii_uppercase
    new = rnd.choice([c for c in alphabet if c != value[index]])
    return value[:index] + new + value[index + 1:]


# --- templates ---------------------------------------------------------------------------------

#: Names by type, used in code templates (variable names) and prose (what it is).
NAMES = {
    "email": ("CONTACT_EMAIL", "e-mail address"), "phone": ("SUPPORT_PHONE", "phone number"),
    "payment_card": ("card_number", "card number"), "iban": ("PAYOUT_IBAN", "IBAN"),
    "us_ssn": ("ssn", "social security number"), "ipv4": ("DB_HOST", "server address"),
    "ipv6": ("BIND_ADDRESS", "IPv6 address"), "aws_access_key_id": ("AWS_ACCESS_KEY_ID",
                                                                    "AWS access key id"),
    "aws_secret_access_key": ("AWS_SECRET_ACCESS_KEY", "AWS secret access key"),
    "github_token": ("GITHUB_TOKEN", "GitHub token"), "gitlab_token": ("GITLAB_TOKEN",
                                                                       "GitLab token"),
    "slack_token": ("SLACK_BOT_TOKEN", "Slack bot token"), "slack_webhook": (
        "SLACK_WEBHOOK_URL", "Slack webhook"), "stripe_key": ("STRIPE_SECRET_KEY", "Stripe key"),
    "openai_api_key": ("OPENAI_API_KEY", "OpenAI key"), "anthropic_api_key": (
        "ANTHROPIC_API_KEY", "Anthropic key"), "jwt": ("ACCESS_TOKEN", "bearer token"),
    "private_key": ("DEPLOY_KEY", "deploy key"), "pypi_token": ("TWINE_PASSWORD", "PyPI token"),
    "npm_token": ("NPM_TOKEN", "npm token"), "twilio_api_key": ("TWILIO_API_KEY", "Twilio key"),
    "sendgrid_api_key": ("SENDGRID_API_KEY", "SendGrid key"), "google_api_key": (
        "GOOGLE_MAPS_KEY", "Google API key"), "google_oauth_secret": ("GOOGLE_CLIENT_SECRET",
                                                                      "OAuth client secret"),
    "azure_storage_key": ("AZURE_STORAGE_KEY", "Azure storage account key"),
    "digitalocean_token": ("DO_TOKEN", "DigitalOcean token"), "shopify_token": (
        "SHOPIFY_TOKEN", "Shopify token"), "huggingface_token": ("HF_TOKEN", "Hugging Face token"),
    "password": ("DB_PASSWORD", "password"), "url_password": ("DATABASE_URL", "database URL"),
}

# Set A: the development set. {v}: the value; {name}: the variable; {what}: what it is.
PROSE_A = ["Here is the {what} you asked for: {v} - keep it safe.",
           "I pasted {v} as the {what} by mistake, please rotate it.",
           "For the record, the {what} is {v}.",
           "Ping me if the {what} {v} stops working.",
           "The {what} on file ({v}) was updated yesterday."]
CODE_A = ['{name} = "{v}"', "export {name}={v}", '{{"{lname}": "{v}"}}', "{lname}: {v}",
          'config["{lname}"] = "{v}"']
FILLER_A = ["The deploy went through staging first.", "We moved the meeting to Thursday.",
            "Release 4.2.1 fixed the retry loop (commit 9fceb02d0ae598e95dc970b74767f19372d61af8).",
            "Order 1234 5678 shipped on 2024-03-15 at 10:30.", "Build 20240315.4 passed in 12 min.",
            "def retry(n: int = 3) -> None:", "    time.sleep(2 ** attempt)",
            "Request id 550e8400-e29b-41d4-a716-446655440000 took 120 ms.",
            "The cache holds 1,048,576 entries at 99.5% hit rate."]
LOOKALIKES_A = ["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "${GITHUB_TOKEN}", "<your-token>",
                "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx", "alice@example.com", "(415) 555-0123",
                "192.0.2.44", "2001:db8::42", "********", "{{ secrets.API_KEY }}",
                "3f786850e387550fdab836ed7e6dc881de23001b",
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                "123e4567-e89b-12d3-a456-426614174000", "000-12-3456", "xoxb-your-token-here"]

# Set B: held out (other wording and shapes).
PROSE_B = ["Could you double-check whether {v} is still the right {what}?",
           "Note to self: {what} -> {v}",
           "Customer wrote: \"my {what} is {v}, why was it rejected?\"",
           "Rotated the {what} today; the new one ({v}) is in the vault now.",
           "{v} <- that's the {what}, don't lose it"]
CODE_B = ["{lname}={v}", "  - name: {name}\n    value: \"{v}\"", "set {name}={v}",
          "client = Client({lname}='{v}')", "<add key=\"{name}\" value=\"{v}\" />"]
FILLER_B = ["Lunch is at 12:15 in room 4.02.", "Use Python 3.11.7 or later.",
            "Ticket #48213 was closed as a duplicate of #48190.",
            "The invoice total was EUR 1 250,00 (ref. 2024-0042).",
            "for i in range(10):\n    print(i)", "Checksum: d41d8cd98f00b204e9800998ecf8427e",
            "ISBN 978-3-16-148410-0 is on the shelf.", "Call at 09:30 UTC, 45 minutes."]
LOOKALIKES_B = ["AKIA0000000000000000", "ghp_0000000000000000000000000000000000000",
                "<GITHUB_TOKEN>", "$OPENAI_API_KEY", "sk-proj-REDACTED", "REDACTED",
                "john.doe@example.org", "user@localhost", "555-0199", "198.51.100.7",
                "127.0.0.1", "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "npm_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "v1.2.3.4"]


def _value_template(kind: str, value: str, rnd: random.Random) -> str:
    """Some types only make sense in some sentences: a URL password sits in a URL."""
    if kind == "url_password":
        return f"postgres://app_user:{value}@db.internal:5432/app"
    return value


#: How sets A and B write a look-alike and a mutated twin: (prose, code).
DECOYS_AB = {"lookalike": ("For example: {v}", "EXAMPLE_VALUE = '{v}'"),
             "mutated": ("ref {v} (rejected)", 'legacy_ref = "{v}"')}


@attrs.frozen
class TemplateSet:
    prose: Sequence[str]
    code: Sequence[str]
    filler: Sequence[str]
    lookalikes: Sequence[str]
    #: Type -> (variable name, what prose calls it).
    names: dict[str, tuple[str, str]] = NAMES
    #: Decoy kind -> (prose template, code template).
    decoys: dict[str, tuple[str, str]] = DECOYS_AB
    #: (type, value, random) -> the text that holds the value (a URL around a password).
    shown: Callable[[str, str, random.Random], str] = _value_template


SET_A = TemplateSet(PROSE_A, CODE_A, FILLER_A, LOOKALIKES_A)
SET_B = TemplateSet(PROSE_B, CODE_B, FILLER_B, LOOKALIKES_B)
#: Set C (benchmarks/privacy_heldout.py): held out in the first round, tuned on since.
SET_C = TemplateSet(PROSE_C, CODE_C, FILLER_C, LOOKALIKES_C, NAMES_C, DECOYS_C, shown_c)


class Builder:
    """Appends sentences to a document, remembering where each value went."""

    def __init__(self) -> None:
        self.text = ""
        self.planted: list[Planted] = []

    def add(self, template: str, value: str, kind: str | None, *, prose: bool,
            decoy: str = "", **fields: str) -> None:
        before, _, after = template.partition("{v}")
        head = before.format(**fields) if fields else before.replace("{{", "{").replace("}}", "}")
        tail = after.format(**fields) if fields else after.replace("{{", "{").replace("}}", "}")
        start = len(self.text) + len(head)
        self.text += head + value + tail + "\n"
        self.planted.append(Planted(start, start + len(value), kind, prose, decoy))

    def line(self, text: str) -> None:
        self.text += text + "\n"


def generate(seed: int, docs: int, templates: TemplateSet,
             values: dict[str, Callable[[random.Random], str]]) -> list[Document]:
    rnd = random.Random(seed)
    kinds = sorted(values)
    out = []
    for number in range(docs):
        builder = Builder()
        prose = number % 2 == 0
        for _ in range(rnd.randint(1, 3)):
            builder.line(rnd.choice(templates.filler))
        for kind in rnd.sample(kinds, rnd.randint(2, 4)):
            value = values[kind](rnd)
            name, what = templates.names[kind]
            template = rnd.choice(templates.prose if prose else templates.code)
            shown = templates.shown(kind, value, rnd)
            offset = shown.index(value)
            fields = {"name": name, "lname": name.lower(), "what": what,
                      "flag": name.lower().replace("_", "-")}
            builder.add(template, shown, None, prose=prose, **fields)
            last = builder.planted.pop()
            builder.planted.append(Planted(last.start + offset, last.start + offset + len(value),
                                           kind, prose))
            builder.line(rnd.choice(templates.filler))
        if kind_twin := rnd.choice(["payment_card", "iban", None]):
            twin = mutated(values[kind_twin](rnd), rnd) if kind_twin in values else None
            if twin is not None:
                builder.add(templates.decoys["mutated"][0 if prose else 1], twin, None,
                            prose=prose, decoy="mutated")
        lookalike = rnd.choice(templates.lookalikes)
        builder.add(templates.decoys["lookalike"][0 if prose else 1], lookalike, None,
                    prose=prose, decoy="lookalike")
        out.append(Document(builder.text, tuple(builder.planted)))
    return out


def faker_values(seed: int) -> dict[str, Callable[[random.Random], str]]:
    """Personal values from Faker (its generators, not Athena's), seeded."""
    from faker import Faker

    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"])
    fake.seed_instance(seed)
    return {"email": lambda r: fake.email(safe=False), "phone": lambda r: fake.phone_number(),
            "payment_card": lambda r: fake.credit_card_number(), "iban": lambda r: fake.iban(),
            "us_ssn": lambda r: fake["en_US"].ssn(), "ipv4": lambda r: fake.ipv4_public(),
            "ipv6": lambda r: fake.ipv6()}


def third_party(seed: int, limit: int) -> list[Document] | str:
    """presidio-evaluator's templates filled with Faker values, or why they are missing."""
    from importlib import metadata

    try:
        path = Path(str(metadata.distribution("presidio-evaluator").locate_file(
            "presidio_evaluator/data_generator/raw_data/templates.txt")))
    except metadata.PackageNotFoundError:
        return "skipped: pip install --no-deps presidio-evaluator"
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    ours = {"email": "email", "phone_number": "phone", "credit_card_number": "payment_card",
            "iban": "iban", "ssn": "us_ssn", "ip_address": "ipv4"}
    make = {**faker_values(seed), "ipv4": lambda r: fake.ipv4_public()}
    rnd = random.Random(seed)
    docs = []
    templates = [t for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
    for template in (templates * (limit // len(templates) + 1))[:limit]:
        text, planted = "", []
        for piece in re.split(r"({{\w+}})", template):
            slot = piece[2:-2] if piece.startswith("{{") else None
            if slot is None:
                text += piece
                continue
            kind = ours.get(slot)
            value = make[kind](rnd) if kind else _faker_other(fake, slot)
            if kind:
                planted.append(Planted(len(text), len(text) + len(value), kind, True))
            text += value
        docs.append(Document(text, tuple(planted)))
    return docs


def _faker_other(fake: Any, slot: str) -> str:
    """A Faker value for a slot Athena does not detect (a name, an address, a date)."""
    aliases = {"person": "name", "nation_woman": "country", "nation_plural": "country",
               "nationality": "country", "us_driver_license": "license_plate",
               "organization": "company", "date_of_birth": "date", "age": "random_int",
               "zipcode": "postcode", "street_name": "street_name"}
    method = aliases.get(slot, slot)
    return str(getattr(fake, method)()) if hasattr(fake, method) else fake.word()


# --- detectors: Athena and the baselines -------------------------------------------------------

Finding = tuple[int, int, str]  # start, end, category (or type for Athena)


def athena_detector() -> Callable[[str], list[Finding]]:
    host = Athena.plugin_host(Config(data_dir=Path(tempfile.gettempdir())), entry_points=False)
    detection = Detection.from_plugins(host, PrivacyConfig())
    return lambda text: [(s.start, s.end, s.type) for s in detection.detect(text)]


def presidio_detector() -> Callable[[str], list[Finding]]:
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    import tldextract
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    # No network: the e-mail recognizer's domain check uses the snapshot in the wheel.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    names = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "payment_card",
             "IBAN_CODE": "iban", "US_SSN": "us_ssn", "IP_ADDRESS": "ip"}
    recognizers = [cls() for cls in (EmailRecognizer, PhoneRecognizer, CreditCardRecognizer,
                                     IbanRecognizer, UsSsnRecognizer, IpRecognizer)]

    def detect(text: str) -> list[Finding]:
        return [(r.start, r.end, names[r.entity_type]) for recognizer in recognizers
                for r in recognizer.analyze(text, recognizer.supported_entities, None)]
    return detect


def detect_secrets_detector() -> Callable[[str], list[Finding]]:
    """detect-secrets as ``detect-secrets scan`` runs it on a file: its default plugins
    and filters over the document's lines (the function ``scan_file`` calls once it has
    read a file). Not its ``scan_line``: that is its ad-hoc mode, which searches eagerly
    and reports every word as a high-entropy candidate."""
    from detect_secrets.core.scan import _process_line_based_plugins
    from detect_secrets.settings import default_settings

    def detect(text: str) -> list[Finding]:
        found: list[Finding] = []
        lines = text.split("\n")
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line) + 1)
        with default_settings():
            for secret in _process_line_based_plugins(
                    lines=list(enumerate(lines, start=1)), filename="document.txt"):
                line = lines[secret.line_number - 1]
                value = secret.secret_value or ""
                at = line.find(value) if value else -1
                if at >= 0:
                    start = starts[secret.line_number - 1] + at
                    found.append((start, start + len(value), "secret"))
        return found
    return detect


# --- scoring -----------------------------------------------------------------------------


@attrs.define
class Score:
    gold: Counter[str] = attrs.field(factory=Counter)
    hit: Counter[str] = attrs.field(factory=Counter)
    predicted: Counter[str] = attrs.field(factory=Counter)
    right: Counter[str] = attrs.field(factory=Counter)
    decoys: Counter[str] = attrs.field(factory=Counter)
    decoys_flagged: Counter[str] = attrs.field(factory=Counter)
    seconds: float = 0.0
    chars: int = 0

    def add(self, doc: Document, findings: list[Finding], claims: Iterable[str],
            by_type: bool = False) -> None:
        claims = set(claims)
        gold = [p for p in doc.planted if p.kind is not None]
        for planted in gold:
            key = planted.kind if by_type else category(planted.kind)  # type: ignore[arg-type]
            if category(planted.kind) not in claims:  # type: ignore[arg-type]
                continue
            prose = "prose" if planted.prose else "code"
            self.gold[key] += 1
            self.gold[f"{category(planted.kind)}/{prose}"] += 1  # type: ignore[arg-type]
            if any(_overlap(planted, f) and category(f[2]) == category(planted.kind)
                   for f in findings):  # type: ignore[arg-type]
                self.hit[key] += 1
                self.hit[f"{category(planted.kind)}/{prose}"] += 1  # type: ignore[arg-type]
        for planted in doc.planted:
            if planted.kind is None:
                self.decoys[planted.decoy] += 1
                if any(_overlap(planted, f) for f in findings):
                    self.decoys_flagged[planted.decoy] += 1
        for finding in findings:
            cat = category(finding[2])
            if cat not in claims:
                continue
            self.predicted[cat] += 1
            if any(p.kind is not None and category(p.kind) == cat and _overlap(p, finding)
                   for p in gold):
                self.right[cat] += 1


def _overlap(planted: Planted, finding: Finding) -> bool:
    return planted.start < finding[1] and finding[0] < planted.end


def evaluate(docs: Sequence[Document], detect: Callable[[str], list[Finding]],
             claims: Sequence[str], *, by_type: bool = False) -> Score:
    score = Score()
    for doc in docs:
        started = time.perf_counter()
        findings = detect(doc.text)
        score.seconds += time.perf_counter() - started
        score.chars += len(doc.text.encode("utf-8"))
        score.add(doc, findings, claims, by_type)
    return score


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def summary(score: Score, claims: Sequence[str]) -> dict[str, Any]:
    rows = {cat: {"precision": _ratio(score.right[cat], score.predicted[cat]),
                  "recall": _ratio(score.hit[cat], score.gold[cat]), "planted": score.gold[cat]}
            for cat in claims}
    gold = sum(score.gold[c] for c in claims)
    return {
        "per_category": rows,
        "overall": {"precision": _ratio(sum(score.right[c] for c in claims),
                                        sum(score.predicted[c] for c in claims)),
                    "recall": _ratio(sum(score.hit[c] for c in claims), gold),
                    "planted": gold},
        "secret_recall_prose": _ratio(score.hit["secret/prose"], score.gold["secret/prose"]),
        "secret_recall_code": _ratio(score.hit["secret/code"], score.gold["secret/code"]),
        "lookalikes_flagged": _ratio(score.decoys_flagged["lookalike"], score.decoys["lookalike"]),
        "lookalikes": score.decoys["lookalike"],
        "mutated_twins_flagged": score.decoys_flagged["mutated"],
        "mutated_twins": score.decoys["mutated"],
        "ms_per_kb": 1000 * score.seconds / (score.chars / 1024) if score.chars else None,
    }


# --- the remember budget ------------------------------------------------------------------------


def remember_cost(samples: int, seed: int) -> dict[str, float]:
    """``remember`` p95 with the hashing embedder, and the same plus a scan of the text."""
    rnd = random.Random(seed)
    texts = [d.text for d in generate(seed, samples, SET_A, {**PERSONAL_GENERATORS,
                                                              **SECRET_GENERATORS})]
    rnd.shuffle(texts)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as home:
        config = Config.from_mapping({"retrieval": {"embedder": "hashing"}},
                                     data_dir=Path(home), env={})
        with Athena.open(config=config, entry_points=False) as athena:
            for text in texts[:20]:
                athena.remember(text)  # warm up
            times: dict[str, list[float]] = {"remember": [], "remember_and_scan": [],
                                             "scan": []}
            for text in texts:  # interleaved, so both see the same store and machine
                started = time.perf_counter()
                athena.remember(text)
                times["remember"].append(time.perf_counter() - started)
                started = time.perf_counter()
                athena.remember(text)
                athena.privacy.scan(text)
                times["remember_and_scan"].append(time.perf_counter() - started)
                started = time.perf_counter()
                athena.privacy.detection.detect(text)
                times["scan"].append(time.perf_counter() - started)
            for label, values in times.items():
                out[f"{label}_p95_ms"] = 1000 * statistics.quantiles(values, n=20)[-1]
            out["mean_text_bytes"] = statistics.fmean(len(t.encode()) for t in texts)
    return out


# --- clean text ---------------------------------------------------------------------------

#: The LoCoMo conversations (see benchmarks/locomo.py), beside the project.
LOCOMO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "locomo"


def clean_texts(path: Path) -> list[str] | str:
    """The turns of the LoCoMo conversations - chat about everyday life that holds no
    sensitive value, so every finding on it is a false one - or why they are missing."""
    files = sorted(path.glob("*.json"))
    if not files:
        return f"skipped: no LoCoMo files in {path} (--clean DIR; see benchmarks/locomo.py)"
    texts = []
    for file in files:
        for key, turns in json.loads(file.read_text(encoding="utf-8")).items():
            if key.startswith("session_") and isinstance(turns, list):
                texts += [" ".join(filter(None, (turn["text"], turn.get("blip_caption"))))
                          for turn in turns]
    return texts


def clean_findings(texts: Sequence[str], detect: Callable[[str], list[Finding]],
                   claims: Sequence[str]) -> dict[str, Any]:
    """Findings (all false) per category on clean ``texts``, and the cost per KB."""
    found: Counter[str] = Counter()
    started = time.perf_counter()
    for text in texts:
        found.update(category(kind) for _, _, kind in detect(text))
    seconds = time.perf_counter() - started
    kb = sum(len(text.encode()) for text in texts) / 1024
    return {"findings": {cat: found[cat] for cat in claims if found[cat]},
            "total": sum(found[cat] for cat in claims), "ms_per_kb": 1000 * seconds / kb}


# --- the report --------------------------------------------------------------------------

#: The sets with composers of their own: (name, documents(seed, count), seed offset).
COMPOSED_SETS: tuple[tuple[str, Callable[[int, int], Any], int], ...] = (
    ("set D (tuned on)", documents_d, 4000), ("set E (tuned on)", documents_e, 5000),
    ("set F (tuned on)", documents_f, 6000), ("set G (tuned on)", documents_g, 7000),
    ("set H (tuned on)", documents_h, 8000), ("set I (tuned on)", documents_i, 9000),
    ("set J (tuned on)", documents_j, 10000), ("set K (tuned on)", documents_k, 11000),
    ("set L (tuned on)", documents_l, 12000), ("set M (tuned on)", documents_m, 13000),
    ("set N (tuned on)", documents_n, 14000), ("set O (tuned on)", documents_o, 15000),
    ("held-out P", documents_p, 16000))


def _planted(documents: Callable[[int, int], Any], seed: int, count: int) -> list[Document]:
    """A composed set's documents with their planted values."""
    return [Document(text, tuple(Planted(*p) for p in planted))
            for text, planted in documents(seed, count)]



def run(args: argparse.Namespace) -> dict[str, Any]:
    every = {**PERSONAL_GENERATORS, **SECRET_GENERATORS}
    corpora: dict[str, list[Document] | str] = {
        "development": generate(args.seed, args.docs, SET_A, every),
        "held-out synthetic": generate(args.seed + 1000, args.docs, SET_B,
                                       {**SECRET_GENERATORS, **faker_values(args.seed + 1000)}),
        "held-out third party": third_party(args.seed + 2000, args.docs),
        "set C (tuned on)": generate(args.seed + 3000, args.docs, SET_C,
                                     {**secret_values_c(), **personal_values_c(args.seed + 3000)}),
        **{name: _planted(documents, args.seed + offset, args.docs)
           for name, documents, offset in COMPOSED_SETS},
    }
    if args.only:
        corpora = {name: docs for name, docs in corpora.items() if name in args.only}
    tools = {"athena": (athena_detector(), CATEGORIES),
             "presidio": (presidio_detector(), PERSONAL),
             "detect-secrets": (detect_secrets_detector(), ("secret",))}
    results: dict[str, Any] = {"seed": args.seed, "docs": args.docs, "corpora": {}}
    for name, docs in corpora.items():
        if isinstance(docs, str):
            results["corpora"][name] = docs
            continue
        print(f"scoring {name} ({len(docs)} documents)", file=sys.stderr)
        results["corpora"][name] = {
            "kb": sum(len(d.text.encode()) for d in docs) / 1024,
            **{tool: summary(evaluate(docs, detect, claims), claims)
               for tool, (detect, claims) in tools.items()},
            "athena_by_type": {
                kind: _ratio(score.hit[kind], score.gold[kind]) for score in
                [evaluate(docs, tools["athena"][0], CATEGORIES, by_type=True)]
                for kind in sorted(k for k in score.gold if "/" not in k)},
        }
    if args.only:  # a partial run: the chosen corpora, without clean text and remember
        return results
    clean = clean_texts(args.clean)
    if isinstance(clean, str):
        results["clean"] = clean
    else:
        print(f"scanning clean text ({len(clean)} turns)", file=sys.stderr)
        results["clean"] = {"turns": len(clean),
                            "kb": sum(len(text.encode()) for text in clean) / 1024,
                            **{tool: clean_findings(clean, detect, claims)
                               for tool, (detect, claims) in tools.items()}}
    print("measuring remember", file=sys.stderr)
    results["remember"] = remember_cost(args.remember_samples, args.seed)
    return results


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_report(results: dict[str, Any]) -> None:
    print(f"seed {results['seed']}, {results['docs']} documents per corpus\n")
    for name, corpus in results["corpora"].items():
        print(f"## {name}")
        if isinstance(corpus, str):
            print(corpus + "\n")
            continue
        print(f"{corpus['kb']:.0f} KB")
        print(f"{'category':<14}" + "".join(f"{tool + ' P/R':>24}" for tool in
                                             ("athena", "presidio", "detect-secrets")))
        for cat in (*CATEGORIES, "overall"):
            cells = []
            for tool in ("athena", "presidio", "detect-secrets"):
                row = corpus[tool]["overall"] if cat == "overall" else \
                    corpus[tool]["per_category"].get(cat)
                cells.append("-" if row is None else f"{_fmt(row['precision'])} / "
                             f"{_fmt(row['recall'])} (n={row['planted']})")
            print(f"{cat:<14}" + "".join(f"{c:>24}" for c in cells))
        for key, label in (("secret_recall_prose", "secret recall, prose"),
                           ("secret_recall_code", "secret recall, code"),
                           ("lookalikes_flagged", "look-alikes flagged")):
            print(f"{label:<24}" + "".join(f"{_fmt(corpus[t][key]):>14}" for t in
                                            ("athena", "presidio", "detect-secrets")))
        print(f"{'mutated twins flagged':<24}" + "".join(
            f"{corpus[t]['mutated_twins_flagged']:>9}/{corpus[t]['mutated_twins']:<4}" for t in
            ("athena", "presidio", "detect-secrets")))
        print(f"{'ms per KB':<24}" + "".join(f"{_fmt(corpus[t]['ms_per_kb'], 3):>14}" for t in
                                             ("athena", "presidio", "detect-secrets")))
        low = {k: v for k, v in corpus["athena_by_type"].items() if v is not None and v < 1}
        print("athena recall below 1.00 by type: " + (", ".join(
            f"{k} {v:.3f}" for k, v in sorted(low.items())) or "none") + "\n")
    if "clean" not in results:
        return
    clean = results["clean"]
    print("## clean text: LoCoMo conversations (nothing planted: every finding is false)")
    if isinstance(clean, str):
        print(clean + "\n")
    else:
        print(f"{clean['turns']} turns, {clean['kb']:.0f} KB")
        for tool in ("athena", "presidio", "detect-secrets"):
            row = clean[tool]
            detail = ", ".join(f"{cat} {n}" for cat, n in row["findings"].items()) or "none"
            print(f"{tool:<16}{row['total']:>6} findings ({detail}); "
                  f"{row['ms_per_kb']:.3f} ms per KB")
        print()
    r = results["remember"]
    print("## remember (hashing embedder, budget p95 <= 25 ms)")
    print(f"remember p95 {r['remember_p95_ms']:.2f} ms; remember + scan p95 "
          f"{r['remember_and_scan_p95_ms']:.2f} ms; scan alone p95 {r['scan_p95_ms']:.3f} ms "
          f"(texts of {r['mean_text_bytes']:.0f} bytes on average)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/privacy.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=600, help="documents per corpus")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--remember-samples", type=int, default=300)
    parser.add_argument("--clean", type=Path, default=LOCOMO,
                        help="directory of the LoCoMo conversations (clean text)")
    parser.add_argument("--json", action="store_true", help="JSON on stdout instead")
    parser.add_argument("--only", action="append", metavar="CORPUS",
                        help="score only this corpus (repeatable): 'development', "
                             "'held-out synthetic', 'held-out third party', "
                             "'set C (tuned on)', 'set D (tuned on)', 'set E (tuned on)', "
                             "'set F (tuned on)', 'set G (tuned on)', 'set H (tuned on)', "
                             "'set I (tuned on)', 'set J (tuned on)', 'set K (tuned on)', "
                             "'set L (tuned on)', 'set M (tuned on)', 'set N (tuned on)', "
                             "'set O (tuned on)', 'held-out P'")
    args = parser.parse_args(argv)
    results = run(args)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        print_report(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

