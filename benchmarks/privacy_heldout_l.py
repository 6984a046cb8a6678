"""The tenth fresh held-out set of the privacy benchmark (set L): a TUNING SET since round 11.

Written on 2026-12-08 after set K had been evaluated (and spent), before any of round 10's
detector changes and without running the detectors on it; committed on its own first, and
evaluated once as held out at the end of round 10. Its misses are fixed by class in round
11, so set L is spent: ``benchmarks/privacy.py`` scores it as "set L (tuned on)", and the
held-out set is set M (``privacy_heldout_m.py``).

Nothing here comes from sets A-K: no Faker, no ``athena_core`` import and no import of an
earlier set (Luhn, mod-97 and the SSN rules are written again below), its own value
generators and its own composer. Each document is one artifact of a kind no earlier set
uses (:data:`_ARTIFACTS`):

* prose: Zulip stream exports and Facebook Messenger exports (JSON, the message in a
  string), Rocket.Chat logs, LINE chat exports, Keybase chats, Twitch live-chat logs,
  Viva Engage posts, Stack Exchange questions, MediaWiki talk pages, Gerrit review
  messages, Bugzilla comments, offboarding checklists, card dispute (chargeback) forms,
  SEPA direct-debit mandates, visa applications, utility account set-up forms, tenants'
  maintenance requests, expense reports, pet adoption applications, volunteer sign-up
  forms, remittance-change letters and out-of-office auto-replies;
* machine text: Jsonnet, CUE and HOCON configuration, Crystal, Nim, Tcl and Racket
  source, Fluent Bit, Telegraf and Logstash pipelines, Prometheus scrape configuration,
  Envoy bootstrap files, Kubernetes audit log events, AWS CloudTrail records, ``sqlite3``
  and ``gcloud`` sessions, vCards, iCalendar events, KeePass XML and Bitwarden JSON
  exports, Tomcat ``context.xml``, WireGuard and OpenVPN profiles, OFX bank statements,
  Chef data bags and Kustomize files.

``in_prose`` is true for the first group: chats, posts, comments, letters and filled-in
forms; a Zulip export is JSON, but its values sit in the messages' sentences. A code block
indented inside a post is code, not prose.

Values: vendors' documented token formats (prefix, length and alphabet as each vendor
documents them), many from vendors no earlier set plants (Tavily, Firecrawl, CircleCI,
Adobe, PostHog, Honeycomb, Axiom, Inngest, Trigger.dev, Stytch, MailerSend, SonarQube,
Plaid, Langfuse, Discord webhooks, Hugging Face organisation tokens), next to the listed
types in several of their documented prefixes; passwords as people and password managers
make them, with symbols, quotes and spaces where the syntax allows them, and
percent-encoded inside URLs; cards of the listed issuer ranges only (Visa 13/16/19,
Mastercard 51-55 and 2221-2720, Amex, Discover, JCB, Diners, Maestro) written as issuers
group them; IBANs of 43 countries with the registry's BBAN shapes; SSNs with dashes,
spaces or none; phones of 28 countries in national and international writings, none in a
range set aside for fiction; e-mail addresses; public IPv4 and IPv6 addresses.

Decoys sit where such values really sit in each artifact, chosen as a careful adversary of
a scanner would choose them: values a reader recognises as samples, references, masks,
placeholders, identifiers that are not sensitive or fiction, and one-digit-mutated card
numbers and IBANs where a card number or IBAN goes.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable, Sequence
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

import attrs

__all__ = ["KINDS_L", "PlantedL", "documents_l"]

_LOW = string.ascii_lowercase
_UP = string.ascii_uppercase
_DIG = string.digits
_AN = string.ascii_letters + string.digits
_B64 = _AN + "+/"
_URL = _AN + "_-"
_HEX = "0123456789abcdef"
_B32 = _UP + "234567"
_BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"

#: (start, end, type or None for a decoy, in prose, decoy kind: "", "lookalike", "mutated").
PlantedL = tuple[int, int, "str | None", bool, str]


def _s(rnd: random.Random, n: int, alphabet: str = _AN) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def _d(rnd: random.Random, n: int) -> str:
    return _s(rnd, n, _DIG)


def _uuid(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


# --- checksums ----------------------------------------------------------------------------


def luhn_ok(number: str) -> bool:
    """Whether the digits of ``number`` (other characters ignored) pass the Luhn check."""
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _with_luhn(partial: str) -> str:
    for c in _DIG:
        if luhn_ok(partial + c):
            return partial + c
    raise AssertionError(partial)


def _mod97(text: str) -> int:
    remainder = 0
    for c in text:
        for digit in str(int(c, 36)):
            remainder = (remainder * 10 + int(digit)) % 97
    return remainder


def iban_ok(value: str) -> bool:
    """Whether ``value`` (spaces allowed) passes the ISO 13616 mod-97 check."""
    compact = value.replace(" ", "")
    return len(compact) > 4 and _mod97(compact[4:] + compact[:4]) == 1


def ssn_ok(value: str) -> bool:
    """Whether ``value`` could be an issued SSN: area 001-899 but 666, group 01-99, serial
    0001-9999, and not one SSA has advertised."""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) != 9:
        return False
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return (0 < area < 900 and area != 666 and group > 0 and serial > 0
            and digits not in ("078051120", "219099999"))


# --- personal values ------------------------------------------------------------------------

#: Issuer -> (prefix maker, lengths), the listed ranges only.
_CARDS: dict[str, tuple[Callable[[random.Random], str], tuple[int, ...]]] = {
    "visa": (lambda r: "4" + _d(r, 5), (13, 16, 16, 19)),
    "mc": (lambda r: str(r.randint(51, 55)) + _d(r, 4), (16,)),
    "mc2": (lambda r: str(r.randint(222100, 272099)), (16,)),
    "amex": (lambda r: r.choice(("34", "37")) + _d(r, 4), (15,)),
    "discover": (lambda r: r.choice(("6011" + _d(r, 2), "65" + _d(r, 4),
                                     str(r.randint(644, 649)) + _d(r, 3))), (16,)),
    "jcb": (lambda r: str(r.randint(3528, 3589)) + _d(r, 2), (16,)),
    "diners": (lambda r: r.choice(("36" + _d(r, 4), str(r.randint(300, 305)) + _d(r, 3),
                                   "38" + _d(r, 4))), (14,)),
    "maestro": (lambda r: r.choice(("6759", "5018", "5020", "5038", "6304")) + _d(r, 2),
                (16, 19)),
}
_GROUPS = {13: (4, 3, 3, 3), 14: (4, 6, 4), 15: (4, 6, 5), 16: (4, 4, 4, 4),
           19: (4, 4, 4, 4, 3)}
_KNOWN_TEST_CARDS = frozenset({"4111111111111111", "4242424242424242", "5555555555554444",
                               "378282246310005", "4012888888881881"})


def card_l(rnd: random.Random) -> str:
    while True:
        make, lengths = _CARDS[rnd.choice(sorted(_CARDS))]
        length = rnd.choice(lengths)
        digits = _with_luhn((make(rnd) + _d(rnd, 19))[:length - 1])
        if digits not in _KNOWN_TEST_CARDS:
            break
    sep = rnd.choice((" ", " ", "-", ""))
    if not sep:
        return digits
    out, i = [], 0
    for size in _GROUPS[length]:
        out.append(digits[i:i + size])
        i += size
    return sep.join(out)


def _bban(rnd: random.Random, shape: str) -> str:
    out = []
    for part in shape.split():
        kind, n = part[-1], int(part[:-1])
        out.append(_d(rnd, n) if kind == "n" else _s(rnd, n, _UP) if kind == "a"
                   else _s(rnd, n, _UP + _DIG * 3))
    return "".join(out)


#: Country -> BBAN shape as the IBAN registry gives it (n digits, a letters, c either).
_BBANS = {
    "AD": "4n 4n 12c", "AE": "3n 16n", "AT": "5n 11n", "BE": "3n 7n 2n", "BG": "4a 4n 2n 8c",
    "BH": "4a 14c", "BR": "8n 5n 10n 1a 1c", "CH": "5n 12c", "CY": "3n 5n 16c",
    "CZ": "4n 6n 10n", "DE": "8n 10n", "DK": "4n 9n 1n", "EE": "2n 2n 11n 1n",
    "ES": "4n 4n 1n 1n 10n", "FI": "3n 11n", "FR": "5n 5n 11c 2n", "GB": "4a 6n 8n",
    "GR": "3n 4n 16c", "HR": "7n 10n", "HU": "3n 4n 1n 15n 1n", "IE": "4a 6n 8n",
    "IL": "3n 3n 13n", "IS": "4n 2n 6n 10n", "IT": "1a 5n 5n 12c", "JO": "4a 4n 18c",
    "KW": "4a 22c", "LI": "5n 12c", "LT": "5n 11n", "LU": "3n 13c", "LV": "4a 13c",
    "MC": "5n 5n 11c 2n", "MT": "4a 5n 18c", "NL": "4a 10n", "NO": "4n 6n 1n",
    "PL": "8n 16n", "PT": "4n 4n 11n 2n", "QA": "4a 21c", "RO": "4a 16c", "SA": "2n 18c",
    "SE": "3n 16n 1n", "SI": "5n 8n 2n", "SK": "4n 6n 10n", "TR": "5n 1n 16c",
}
_REGISTRY_EXAMPLES = frozenset({"GB82WEST12345698765432", "DE89370400440532013000"})


def iban_l(rnd: random.Random) -> str:
    while True:
        country = rnd.choice(sorted(_BBANS))
        bban = _bban(rnd, _BBANS[country])
        compact = f"{country}{98 - _mod97(bban + country + '00'):02d}{bban}"
        if compact not in _REGISTRY_EXAMPLES:
            break
    if rnd.random() < 0.45:
        return compact
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def ssn_l(rnd: random.Random) -> str:
    while True:
        area = rnd.randint(1, 899)
        digits = f"{area:03d}{rnd.randint(1, 99):02d}{rnd.randint(1, 9999):04d}"
        if ssn_ok(digits):
            break
    sep = rnd.choice(("-", "-", "-", " ", ""))
    return sep.join((digits[:3], digits[3:5], digits[5:]))


def _us_line(rnd: random.Random) -> tuple[str, str, str]:
    area = rnd.choice(("212", "312", "415", "503", "617", "702", "713", "808", "919", "404"))
    exchange = str(rnd.randint(201, 989))
    while exchange == "555" or exchange[1:] == "11":
        exchange = str(rnd.randint(201, 989))
    return area, exchange, _d(rnd, 4)


def _phone_us(r: random.Random) -> str:
    a, e, n = _us_line(r)
    return r.choice((f"({a}) {e}-{n}", f"+1 {a}-{e}-{n}", f"{a}.{e}.{n}", f"+1 ({a}) {e}-{n}"))


def _phone_ca(r: random.Random) -> str:
    a = r.choice(("604", "416", "514", "403"))
    e = str(r.randint(230, 989)).replace("555", "556")
    return r.choice((f"+1 {a} {e} {_d(r, 4)}", f"({a}) {e}-{_d(r, 4)}"))


def _phone_uk(r: random.Random) -> str:
    block = r.choice(("7911", "7824", "7459", "7517", "7380", "7848"))
    rest = _d(r, 6)
    return r.choice((f"+44 {block} {rest}", f"0{block} {rest}", f"+44 (0){block} {rest}"))


def _phone_au(r: random.Random) -> str:
    mid = r.choice(("412", "423", "438", "401", "455"))
    rest = f"{_d(r, 3)} {_d(r, 3)}"
    return r.choice((f"+61 {mid} {rest}", f"0{mid} {rest}"))


#: Phone writers of 28 countries, none in a range set aside for drama or documentation.
_PHONES: tuple[Callable[[random.Random], str], ...] = (
    _phone_us, _phone_ca, _phone_uk, _phone_au,
    lambda r: r.choice((f"+49 151 {_d(r, 8)}", f"0151 {_d(r, 8)}", f"+49 30 {_d(r, 7)}",
                        f"030 {_d(r, 4)} {_d(r, 4)}")),
    lambda r: (lambda p: r.choice((f"+33 {p}", "0" + p)))(
        f"{r.choice('67')} {_d(r, 2)} {_d(r, 2)} {_d(r, 2)} {_d(r, 2)}"),
    lambda r: r.choice((f"+39 3{_d(r, 2)} {_d(r, 3)} {_d(r, 4)}", f"3{_d(r, 2)} {_d(r, 7)}")),
    lambda r: r.choice((f"+34 6{_d(r, 2)} {_d(r, 2)} {_d(r, 2)} {_d(r, 2)}",
                        f"6{_d(r, 2)} {_d(r, 3)} {_d(r, 3)}")),
    lambda r: r.choice((f"+31 6 {_d(r, 8)}", f"06-{_d(r, 8)}")),
    lambda r: r.choice((f"+55 11 9{_d(r, 4)}-{_d(r, 4)}", f"(21) 9{_d(r, 4)}-{_d(r, 4)}")),
    lambda r: r.choice((f"+91 9{_d(r, 4)} {_d(r, 5)}", f"09{_d(r, 4)} {_d(r, 5)}")),
    lambda r: r.choice((f"+81 90-{_d(r, 4)}-{_d(r, 4)}", f"080-{_d(r, 4)}-{_d(r, 4)}")),
    lambda r: f"+52 55 {_d(r, 4)} {_d(r, 4)}",
    lambda r: r.choice((f"+48 5{_d(r, 2)} {_d(r, 3)} {_d(r, 3)}",
                        f"6{_d(r, 2)}-{_d(r, 3)}-{_d(r, 3)}")),
    lambda r: r.choice((f"+46 70 {_d(r, 3)} {_d(r, 2)} {_d(r, 2)}",
                        f"070-{_d(r, 3)} {_d(r, 2)} {_d(r, 2)}")),
    lambda r: r.choice((f"+41 79 {_d(r, 3)} {_d(r, 2)} {_d(r, 2)}",
                        f"078 {_d(r, 3)} {_d(r, 2)} {_d(r, 2)}")),
    lambda r: r.choice((f"+27 82 {_d(r, 3)} {_d(r, 4)}", f"083 {_d(r, 3)} {_d(r, 4)}")),
    lambda r: r.choice((f"+82 10-{_d(r, 4)}-{_d(r, 4)}", f"010-{_d(r, 4)}-{_d(r, 4)}")),
    lambda r: f"+65 {r.choice('89')}{_d(r, 3)} {_d(r, 4)}",
    lambda r: r.choice((f"+353 87 {_d(r, 3)} {_d(r, 4)}", f"086 {_d(r, 3)} {_d(r, 4)}")),
    lambda r: r.choice((f"+234 803 {_d(r, 3)} {_d(r, 4)}", f"0806 {_d(r, 3)} {_d(r, 4)}")),
    lambda r: r.choice((f"+63 917 {_d(r, 3)} {_d(r, 4)}", f"0918 {_d(r, 3)} {_d(r, 4)}")),
    lambda r: r.choice((f"+90 532 {_d(r, 3)} {_d(r, 2)} {_d(r, 2)}",
                        f"0533 {_d(r, 3)} {_d(r, 2)} {_d(r, 2)}")),
    lambda r: f"+54 9 11 {_d(r, 4)}-{_d(r, 4)}",
    lambda r: r.choice((f"+32 47{_d(r, 1)} {_d(r, 2)} {_d(r, 2)} {_d(r, 2)}",
                        f"049{_d(r, 1)} {_d(r, 2)} {_d(r, 2)} {_d(r, 2)}")),
    lambda r: f"+45 {r.choice(('20', '31', '42', '53'))} {_d(r, 2)} {_d(r, 2)} {_d(r, 2)}",
    lambda r: r.choice((f"+351 91{_d(r, 1)} {_d(r, 3)} {_d(r, 3)}",
                        f"93{_d(r, 1)} {_d(r, 3)} {_d(r, 3)}")),
    lambda r: r.choice((f"+43 664 {_d(r, 7)}", f"0676 {_d(r, 7)}")),
)


def phone_l(rnd: random.Random) -> str:
    return rnd.choice(_PHONES)(rnd)


_GIVEN = ["ines", "tomasz", "yara", "lucian", "mei", "oskar", "priya", "radu", "saoirse",
          "teodor", "ulla", "valentina", "wendell", "ximena", "yusuf", "zofia", "ansel", "bea"]
_FAMILY = ["lindqvist", "moreau", "nakashima", "oyelaran", "petrescu", "quaresma", "rasmussen",
           "szabo", "tiernan", "ulloa", "vasquez", "wojcik", "yamada", "zeller", "brennan"]
_MAIL = ["gmail.com", "outlook.com", "yahoo.co.uk", "proton.me", "icloud.com", "fastmail.com",
         "laposte.net", "libero.it", "seznam.cz", "wp.pl", "t-online.de", "hotmail.es",
         "zeller-orthopaedie.de", "brennan-haulage.ie", "petrescu.ro", "tiernan-law.com",
         "lindqvist-arkitekter.se", "moreau-patisserie.fr"]


def email_l(rnd: random.Random) -> str:
    given, family = rnd.choice(_GIVEN), rnd.choice(_FAMILY)
    local = rnd.choice((f"{given}.{family}", f"{given[0]}{family}", f"{given}_{family}{_d(rnd, 2)}",
                        f"{family}.{given}", f"{given}+orders", f"{given}{rnd.randint(70, 99)}"))
    return f"{local}@{rnd.choice(_MAIL)}"


def ipv4_l(rnd: random.Random) -> str:
    first = rnd.choice((5, 31, 37, 46, 62, 77, 81, 88, 91, 109, 141, 151, 178, 185, 193, 212,
                        213, 217, 24, 50, 68, 73, 98, 104, 142, 174, 207))
    return f"{first}.{rnd.randint(1, 254)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"


def ipv6_l(rnd: random.Random) -> str:
    head = rnd.choice(("2a02", "2a01", "2a00", "2a0d", "2600", "2604", "2607", "2001:41d0",
                       "2001:67c", "2003", "2406", "2c0f"))
    parts = head.split(":")
    while len(parts) < 8:
        parts.append(format(rnd.getrandbits(16), "x"))
    if rnd.random() < 0.5:
        parts[4:7] = ["0", "0", "0"]
        return ":".join(parts[:4]) + "::" + parts[7]
    return ":".join(parts)


# --- secret values --------------------------------------------------------------------------

_DICE = ["lantern", "orchid", "gravel", "ember", "thistle", "pylon", "marble", "otter", "cobalt",
         "juniper", "saddle", "plover", "rhubarb", "quarry", "velvet", "anchor", "bramble"]


def password_l(rnd: random.Random) -> str:
    """A password as people and password managers make them."""
    style = rnd.randrange(7)
    if style == 0:  # a manager's random string with symbols
        while True:
            value = _s(rnd, rnd.choice((16, 20, 24)), _AN + "!@#$%^&*()-_=+[]{}?~")
            if any(c in "!@#$%^&*()-_=+[]{}?~" for c in value) and any(c.isdigit() for c in value):
                return value
    if style == 1:  # a manager's passphrase
        words = rnd.sample(_DICE, rnd.choice((3, 4)))
        words[rnd.randrange(len(words))] = words[0].capitalize() + str(rnd.randint(0, 9))
        return rnd.choice(("-", ".", "_")).join(words)
    if style == 2:  # a season, a year and a mark
        return rnd.choice(("Autumn", "Winter", "Spring", "Summer")) + str(
            rnd.randint(2019, 2026)) + rnd.choice("!#$?*")
    if style == 3:  # a word with leetspeak and a tail
        word = rnd.choice(("Gravel", "Pelican", "Mistral", "Basalt", "Quokka", "Zinnia"))
        leet = word.replace("a", "@").replace("e", "3").replace("i", "1")
        return leet + _d(rnd, 3) + rnd.choice("!%&")
    if style == 4:  # words with spaces (quoted where the syntax needs it)
        return " ".join(rnd.sample(_DICE, 3)) + " " + str(rnd.randint(10, 99))
    if style == 5:  # with a quote or a backslash inside
        return _s(rnd, 6) + rnd.choice(("'", '"', "\\", "`")) + _s(rnd, 6) + rnd.choice("#;!")
    return _s(rnd, 4, _UP) + _d(rnd, 4) + "$" + _s(rnd, 5, _LOW) + _d(rnd, 2)


def url_password_l(rnd: random.Random) -> str:
    """The password part of a URL, percent-encoded as it must be there."""
    return quote(password_l(rnd), safe="!*~-_.")


def _b64url(data: object) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt_l(rnd: random.Random) -> str:
    header = {"alg": rnd.choice(("RS256", "ES256", "HS512")), "typ": "JWT",
              "kid": _s(rnd, 12, _URL)}
    payload = {"iss": rnd.choice(("https://auth.tiernan-law.com/", "https://id.zeller-orthopaedie.de")),
               "sub": _uuid(rnd), "aud": rnd.choice(("portal", "billing-api")),
               "iat": 1796000000 + rnd.randint(0, 9 ** 6),
               "exp": 1796100000 + rnd.randint(0, 9 ** 6),
               "scope": rnd.choice(("read write", "admin", "invoices:read"))}
    sig = _s(rnd, rnd.choice((43, 86, 342)), _URL)
    return f"{_b64url(header)}.{_b64url(payload)}.{sig}"


def private_key_l(rnd: random.Random) -> str:
    kind = rnd.choice(("RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"))
    if kind == "OPENSSH PRIVATE KEY":
        body = "b3BlbnNzaC1rZXktdjEAAAAA" + _s(rnd, 300, _B64)
    elif kind == "EC PRIVATE KEY":
        body = "MHcCAQEEI" + _s(rnd, 110, _B64)
    elif kind == "RSA PRIVATE KEY":
        body = "MIIEpAIBAAKCAQEA" + _s(rnd, 600, _B64)
    else:
        body = "MIIEvgIBADANBgkqhkiG9w0BAQEFAASC" + _s(rnd, 600, _B64)
    lines = [body[i:i + (70 if "OPENSSH" in kind else 64)] for i in range(0, len(body), 64)]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"


def aws_session_l(rnd: random.Random) -> str:
    if rnd.random() < 0.65:
        return "IQoJb3JpZ2luX2Vj" + _s(rnd, 8, _B64) + "//////////" + _s(rnd, 420, _B64)
    return "FwoGZXIvYXdzE" + _s(rnd, 12, _B64) + "//////////" + _s(rnd, 280, _B64) + "=="


def _atlassian(rnd: random.Random) -> str:
    return "ATATT3xFfGF0" + _s(rnd, 168, _URL) + "=" + _s(rnd, 8, "0123456789ABCDEF")


#: Vendors' documented token formats (prefix, length and alphabet as documented).
_VENDORS: tuple[Callable[[random.Random], str], ...] = (
    lambda r: "pypi-AgEIcHlwaS5vcmc" + _s(r, 160, _URL),                 # PyPI
    lambda r: "dop_v1_" + _s(r, 64, _HEX),                               # DigitalOcean
    lambda r: "shpat_" + _s(r, 32, _HEX),                                # Shopify admin
    lambda r: "dckr_pat_" + _s(r, 27, _URL),                             # Docker Hub
    lambda r: "sbp_" + _s(r, 40, _HEX),                                  # Supabase
    lambda r: "sqp_" + _s(r, 40, _HEX),                                  # SonarQube
    lambda r: "sntryu_" + _s(r, 64, _HEX),                               # Sentry user
    lambda r: "dapi" + _s(r, 32, _HEX),                                  # Databricks
    lambda r: "PMAK-" + _s(r, 24, _HEX) + "-" + _s(r, 34, _HEX),         # Postman
    lambda r: "NRAK-" + _s(r, 27, _UP + _DIG),                           # New Relic
    _atlassian,                                                          # Atlassian
    lambda r: "pul-" + _s(r, 40, _HEX),                                  # Pulumi
    lambda r: _s(r, 14) + ".atlasv1." + _s(r, 67),                       # Terraform Cloud
    lambda r: "hvs." + _s(r, 24) + _s(r, 66, _URL),                      # Vault
    lambda r: "tskey-auth-k" + _s(r, 10) + "CNTRL-" + _s(r, 33),         # Tailscale
    lambda r: "AGE-SECRET-KEY-1" + _s(r, 58, _BECH32),                   # age
    lambda r: "access-production-" + _uuid(r),                          # Plaid
    lambda r: "secret_" + _s(r, 43),                                     # Notion
    lambda r: "sl." + _s(r, 135, _URL),                                  # Dropbox
    lambda r: "pcsk_" + _s(r, 5) + "_" + _s(r, 63),                      # Pinecone
    lambda r: "sk-lf-" + _uuid(r),                                       # Langfuse
    lambda r: "glsa_" + _s(r, 32) + "_" + _s(r, 8, _HEX),                # Grafana SA
    lambda r: "lin_api_" + _s(r, 40),                                    # Linear
    lambda r: "https://hooks.slack.com/services/T" + _s(r, 8, _UP + _DIG) + "/B"
    + _s(r, 10, _UP + _DIG) + "/" + _s(r, 24),                           # Slack webhook
    lambda r: "https://discord.com/api/webhooks/" + _d(r, 19) + "/" + _s(r, 68, _URL),
    lambda r: r.choice(("tvly-", "tvly-dev-")) + _s(r, 32),              # Tavily
    lambda r: "fc-" + _s(r, 32, _HEX),                                   # Firecrawl
    lambda r: "CCIPAT_" + _s(r, 22) + "_" + _s(r, 40, _HEX),             # CircleCI
    lambda r: "p8e-" + _s(r, 32),                                        # Adobe client secret
    lambda r: "phx_" + _s(r, 43),                                        # PostHog personal
    lambda r: "hcaik_01" + _s(r, 56, _LOW + _DIG),                       # Honeycomb ingest
    lambda r: "xaat-" + _uuid(r),                                        # Axiom
    lambda r: "signkey-prod-" + _s(r, 64, _HEX),                         # Inngest
    lambda r: "tr_prod_" + _s(r, 20),                                    # Trigger.dev
    lambda r: "secret-live-" + _s(r, 36, _URL),                          # Stytch
    lambda r: "mlsn." + _s(r, 64, _HEX),                                 # MailerSend
)

SECRETS_L: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: r.choice(("AKIA", "AKIA", "ASIA")) + _s(r, 16, _B32),
    "aws_secret_access_key": lambda r: _s(r, 40, _B64),
    "aws_session_token": aws_session_l,
    "azure_sas_signature": lambda r: quote(base64.b64encode(r.randbytes(32)).decode(), safe=""),
    "github_token": lambda r: r.choice((
        "ghp_" + _s(r, 36), "ghu_" + _s(r, 36), "ghr_" + _s(r, 36), "gho_" + _s(r, 36),
        "github_pat_11" + _s(r, 20, _UP + _DIG) + "_" + _s(r, 59))),
    "gitlab_token": lambda r: r.choice((
        "glpat-" + _s(r, 20, _URL), "glrt-" + _s(r, 20, _URL), "gloas-" + _s(r, 64, _HEX),
        "glcbt-" + _s(r, 2, _HEX) + "_" + _s(r, 20, _URL))),
    "slack_token": lambda r: r.choice((
        "xoxb-" + _d(r, 12) + "-" + _d(r, 13) + "-" + _s(r, 24),
        "xoxp-" + _d(r, 11) + "-" + _d(r, 12) + "-" + _d(r, 13) + "-" + _s(r, 32, _HEX),
        "xoxe.xoxp-1-" + _s(r, 146, _AN + "-"))),
    "stripe_key": lambda r: r.choice((
        "sk_live_51" + _s(r, 97), "rk_live_51" + _s(r, 97), "whsec_" + _s(r, 32))),
    "openai_api_key": lambda r: r.choice(("sk-proj-", "sk-svcacct-", "sk-admin-"))
    + _s(r, 74, _URL) + "T3BlbkFJ" + _s(r, 74, _URL),
    "anthropic_api_key": lambda r: r.choice(("sk-ant-api03-", "sk-ant-admin01-"))
    + _s(r, 93, _URL) + "AA",
    "jwt": jwt_l,
    "private_key": private_key_l,
    "npm_token": lambda r: "npm_" + _s(r, 36),
    "huggingface_token": lambda r: r.choice(("hf_", "api_org_")) + _s(r, 34, string.ascii_letters),
    "sendgrid_api_key": lambda r: "SG." + _s(r, 22, _URL) + "." + _s(r, 43, _URL),
    "google_api_key": lambda r: "AIza" + _s(r, 35, _URL),
    "telegram_bot_token": lambda r: str(r.randint(10 ** 9, 8 * 10 ** 9)) + ":AA" + _s(r, 33, _URL),
    "vendor_token": lambda r: r.choice(_VENDORS)(r),
    "client_secret": lambda r: r.choice((
        _s(r, 3) + "8Q~" + _s(r, 34, _AN + "_~.-"),                        # Entra ID
        "GOCSPX-" + _s(r, 28, _URL),                                        # Google OAuth
        _s(r, 40, _HEX),                                                    # GitHub OAuth app
        _s(r, 64, _URL))),                                                  # Auth0
    "password": password_l,
    "url_password": url_password_l,
}

PERSONAL_L: dict[str, Callable[[random.Random], str]] = {
    "email": email_l, "phone": phone_l, "payment_card": card_l, "iban": iban_l,
    "us_ssn": ssn_l, "ipv4": ipv4_l, "ipv6": ipv6_l}
#: Every type set L plants: the names set K uses.
KINDS_L = tuple(sorted({**SECRETS_L, **PERSONAL_L}))

#: Type -> (identifier words, how a person names it).
_NAMES: dict[str, tuple[Sequence[Sequence[str]], Sequence[str]]] = {
    "email": ((("email",), ("contact", "email"), ("billing", "email"), ("notify", "to")),
              ("email", "e-mail address", "private email", "address for the receipts")),
    "phone": ((("phone",), ("mobile",), ("emergency", "phone"), ("sms", "to")),
              ("phone", "mobile", "number", "cell number", "daytime phone")),
    "payment_card": ((("card", "number"), ("pan",), ("payment", "card")),
                     ("card number", "card", "credit card", "company card", "debit card")),
    "iban": ((("iban",), ("payout", "iban"), ("debtor", "iban")),
             ("IBAN", "account number (IBAN)", "bank details", "IBAN for payouts")),
    "us_ssn": ((("ssn",), ("social", "security", "number"), ("tin",)),
               ("SSN", "social", "Social Security number", "SSN (for the W-9)")),
    "ipv4": ((("client", "ip"), ("source", "ip"), ("peer", "address")),
             ("IP", "home IP", "static IP", "public address")),
    "ipv6": ((("ipv6",), ("source", "ipv6")), ("IPv6", "v6 address")),
    "aws_access_key_id": ((("aws", "access", "key", "id"),), ("AWS access key", "key ID")),
    "aws_secret_access_key": ((("aws", "secret", "access", "key"),), ("AWS secret key",)),
    "aws_session_token": ((("aws", "session", "token"),), ("session token",)),
    "azure_sas_signature": ((("sas", "url"), ("upload", "url")), ("SAS link", "upload link")),
    "github_token": ((("github", "token"),), ("GitHub token", "gh token")),
    "gitlab_token": ((("gitlab", "token"), ("runner", "token")), ("GitLab token",)),
    "slack_token": ((("slack", "token"), ("slack", "bot", "token")), ("Slack token",)),
    "stripe_key": ((("stripe", "secret", "key"), ("stripe", "webhook", "secret")),
                   ("Stripe key", "Stripe secret")),
    "openai_api_key": ((("openai", "api", "key"),), ("OpenAI key",)),
    "anthropic_api_key": ((("anthropic", "api", "key"),), ("Anthropic key", "Claude API key")),
    "jwt": ((("access", "token"), ("bearer",), ("id", "token")), ("bearer token", "JWT")),
    "private_key": ((("private", "key"), ("tls", "key")), ("private key", "deploy key")),
    "npm_token": ((("npm", "token"),), ("npm token",)),
    "huggingface_token": ((("hf", "token"),), ("HF token", "Hugging Face token")),
    "sendgrid_api_key": ((("sendgrid", "api", "key"),), ("SendGrid key",)),
    "google_api_key": ((("google", "api", "key"), ("maps", "key")), ("Maps API key",)),
    "telegram_bot_token": ((("telegram", "token"),), ("Telegram bot token",)),
    "vendor_token": ((("api", "token"), ("api", "key"), ("access", "key")),
                     ("API token", "API key", "token")),
    "client_secret": ((("client", "secret"),), ("client secret", "OAuth secret")),
    "password": ((("password",), ("passwd",), ("db", "password"), ("admin", "pass")),
                 ("password", "pw", "admin password", "passcode", "master password")),
    "url_password": ((("database", "url"), ("dsn",), ("broker", "url")),
                     ("connection string", "DB URL", "broker URL")),
}

_URLS = (
    "postgresql://billing:{v}@pg-main.tiernan-law.com:5432/ledger",
    "mysql://shop:{v}@db.moreau-patisserie.fr/orders",
    "amqp://worker:{v}@rabbit.brennan-haulage.ie:5672/%2F",
    "mongodb://reporting:{v}@mongo-2.lindqvist-arkitekter.se:27017/admin",
    "redis://:{v}@cache.zeller-orthopaedie.de:6379/2",
    "ftp://upload:{v}@files.petrescu.ro/incoming",
)


def _shown(type_: str, value: str, rnd: random.Random) -> str:
    """The text a value stands in: a URL for passwords in URLs and SAS signatures."""
    if type_ == "url_password":
        return rnd.choice(_URLS).replace("{v}", value)
    if type_ == "azure_sas_signature":
        account = rnd.choice(("scansarchive", "expensereceipts", "tenantphotos"))
        return (f"https://{account}.blob.core.windows.net/inbox/2026-12.tar?sv=2024-08-04"
                f"&sr=b&sp=r&se=2027-02-01T00%3A00%3A00Z&spr=https&sig={value}")
    return value


# --- decoys --------------------------------------------------------------------------------


def _fiction_phone(rnd: random.Random) -> str:
    return rnd.choice((f"+1 {rnd.choice(('212', '415', '303'))} 555-01{_d(rnd, 2)}",
                       f"(312) 555-01{_d(rnd, 2)}", f"07700 900{_d(rnd, 3)}",
                       f"+44 7700 900{_d(rnd, 3)}", f"01632 960{_d(rnd, 3)}"))


def _doc_ip(rnd: random.Random) -> str:
    return rnd.choice(("192.0.2.", "198.51.100.", "203.0.113.")) + str(rnd.randint(1, 254))


def _doc_ip6(rnd: random.Random) -> str:
    return f"2001:db8:{format(rnd.getrandbits(12), 'x')}::{format(rnd.getrandbits(8), 'x')}"


def _reserved_mail(rnd: random.Random) -> str:
    return f"{rnd.choice(_GIVEN)}.{rnd.choice(_FAMILY)}@" + rnd.choice(
        ("example.com", "example.org", "example.net", "mail.example", "shop.test", "host.invalid"))


def _masked_card(rnd: random.Random) -> str:
    return rnd.choice(("**** **** **** ", "XXXX-XXXX-XXXX-", "•••• •••• •••• ", "ending in ")) \
        + _d(rnd, 4)


def _masked_iban(rnd: random.Random) -> str:
    return rnd.choice(("DE", "FR", "NL", "ES")) + "** **** **** **** **" + _d(rnd, 2)


def _masked_ssn(rnd: random.Random) -> str:
    return rnd.choice(("***-**-", "XXX-XX-", "xxx-xx-")) + _d(rnd, 4)


def _hex(rnd: random.Random, n: int) -> str:
    return _s(rnd, n, _HEX)


def _bw_cipher(rnd: random.Random) -> str:
    return "2." + _s(rnd, 22, _B64) + "==|" + _s(rnd, 44, _B64) + "|" + _s(rnd, 43, _B64) + "="


@attrs.frozen
class _Decoy:
    """A look-alike: ``place`` is the type whose slot it takes, ``words`` and ``what`` name it
    there, ``value`` is it (or makes it)."""

    place: str
    words: Sequence[str]
    what: str
    value: str | Callable[[random.Random], str]
    homes: frozenset[str] = frozenset()


_D = _Decoy
_DECOYS: tuple[_Decoy, ...] = (
    _D("payment_card", ("test", "card"), "test card from the processor's docs",
       lambda r: r.choice(("4111 1111 1111 1111", "4242424242424242", "5555 5555 5555 4444",
                           "3782 822463 10005", "6011 1111 1111 1117", "3530 1113 3330 0000"))),
    _D("payment_card", ("card", "number"), "card", _masked_card),
    _D("iban", ("example", "iban"), "example IBAN from the bank's help page",
       lambda r: r.choice(("GB82 WEST 1234 5698 7654 32", "DE89370400440532013000",
                           "GB82WEST12345698765432", "DE89 3704 0044 0532 0130 00"))),
    _D("iban", ("iban",), "IBAN", _masked_iban),
    _D("us_ssn", ("ssn",), "SSN", _masked_ssn),
    _D("us_ssn", ("sample", "ssn"), "SSN printed on the sample card", lambda r: "078-05-1120"),
    _D("phone", ("phone",), "phone", _fiction_phone),
    _D("email", ("contact", "email"), "email", _reserved_mail),
    _D("ipv4", ("source", "ip"), "IP", _doc_ip),
    _D("ipv6", ("ipv6",), "IPv6", _doc_ip6),
    _D("aws_access_key_id", ("aws", "access", "key", "id"), "AWS access key",
       lambda r: r.choice(("AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPLE"))),
    _D("aws_secret_access_key", ("aws", "secret", "access", "key"), "AWS secret key",
       lambda r: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    _D("password", ("password",), "password",
       lambda r: r.choice(("<your-password-here>", "********", "REPLACE_ME", "<redacted>",
                           "[hidden]", "(set in the vault)"))),
    _D("vendor_token", ("api", "token"), "API token",
       lambda r: r.choice(("<YOUR_API_TOKEN>", "xxxxxxxxxxxxxxxxxxxx", "your-token-goes-here",
                           "TOKEN_PLACEHOLDER"))),
    _D("vendor_token", ("checksum",), "sha256 checksum of the installer", lambda r: _hex(r, 64)),
    _D("vendor_token", ("commit",), "commit", lambda r: _hex(r, 40)),
    _D("vendor_token", ("request", "id"), "request ID", _uuid),
    _D("jwt", ("example", "token"), "example token from jwt.io",
       lambda r: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6Ikpv"
       "aG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"),
    _D("slack_token", ("slack", "token"), "Slack token",
       lambda r: "xoxb-not-a-real-token-this-will-not-work"),
    _D("password", ("password",), "password", _bw_cipher, frozenset({"bitwarden_json"})),
    _D("password", ("password",), "password", lambda r: "HIDDEN_DUE_TO_SECURITY_REASONS",
       frozenset({"cloudtrail_event"})),
    _D("password", ("password",), "password", lambda r: "std.extVar('db_password')",
       frozenset({"jsonnet"})),
    _D("password", ("password",), "password", lambda r: "${?DB_PASSWORD}", frozenset({"hocon"})),
    _D("password", ("password",), "password", lambda r: 'ENV["DB_PASSWORD"]',
       frozenset({"crystal_source"})),
    _D("password", ("password",), "password", lambda r: 'getEnv("DB_PASSWORD")',
       frozenset({"nim_source"})),
    _D("password", ("password",), "password", lambda r: "$::env(DB_PASSWORD)",
       frozenset({"tcl_script"})),
    _D("password", ("password",), "password", lambda r: '(getenv "DB_PASSWORD")',
       frozenset({"racket_source"})),
    _D("password", ("password",), "password", lambda r: "${HTTP_PASSWD}",
       frozenset({"fluentbit_conf", "logstash_pipeline", "telegraf_toml"})),
    _D("password", ("password",), "password", lambda r: "${db.password}",
       frozenset({"tomcat_context"})),
)


#: Look-alikes a reader knows for what they are by the name beside them.
_NAMED = frozenset({"test card from the processor's docs", "example IBAN from the bank's help page",
                    "SSN printed on the sample card", "sha256 checksum of the installer", "commit",
                    "request ID", "example token from jwt.io"})

#: Artifacts whose own look-alikes are expressions of the language, written unquoted.
_CODE_REFERENCES = frozenset({"jsonnet", "hocon", "crystal_source", "nim_source",
                              "racket_source"})


def _mutated(value: str, rnd: random.Random) -> str:
    """``value`` with one digit changed, so its check digit no longer holds."""
    spots = [i for i, c in enumerate(value) if c.isdigit()][4:] \
        or [i for i, c in enumerate(value) if c.isdigit()][2:]
    i = rnd.choice(spots)
    digit = rnd.choice([c for c in _DIG if c != value[i]])
    out = value[:i] + digit + value[i + 1:]
    assert not (luhn_ok(out) if value[:2].isdigit() else iban_ok(out))
    return out


# --- artifacts -----------------------------------------------------------------------------


@attrs.frozen
class _Artifact:
    """One kind of document: ``lines`` are templates with ``{k}`` (an identifier in the
    artifact's ``case``), ``{w}`` (how a person names the value) and ``{v}``; ``pem`` is a
    template a private key fits in; ``holds`` restricts the types (empty: all)."""

    prose: bool
    head: tuple[str, ...]
    lines: tuple[str, ...]
    filler: tuple[str, ...]
    tail: tuple[str, ...] = ()
    case: str = "snake"
    escape: str = ""
    avoid: str = ""
    pem: str = ""
    holds: frozenset[str] = frozenset()


_ZULIP = '  {{"id": {}, "sender_full_name": "{}", "stream": "{}", "content": "'
_FORM = frozenset({"email", "phone", "payment_card", "iban", "us_ssn", "password"})
_NO_SPACE = " \t'\"\\`#;"
_A = _Artifact

_ARTIFACTS: dict[str, _Artifact] = {
    # --- prose ---
    "zulip_export": _A(
        True, ("[",),
        (_ZULIP.format(8812, "Ines L.", "ops") + 'my {w} is {v} if you need it"},',
         _ZULIP.format(8813, "Radu P.", "ops") + '@**Ines L.** {w}: {v}"},',
         _ZULIP.format(8815, "Mei N.", "billing") + 'updated the {w} to {v} - shout if it breaks'
         '"},'),
        (_ZULIP.format(8814, "Radu P.", "ops") + 'thanks, got it"},',
         _ZULIP.format(8816, "Ines L.", "ops") + ':thumbs_up:"},'),
        (_ZULIP.format(8820, "Mei N.", "ops") + 'closing this topic"}', "]"),
        escape="json", avoid=" ",
        pem=_ZULIP.format(8817, "Radu P.", "ops") + 'the {w}:\\n{v}"},'),
    "rocketchat_log": _A(
        True, ("#finance-ops", ""),
        ("[09:14] yusuf.szabo: {w} is {v} — don't paste it elsewhere",
         "[09:15] bea.moreau: ok, and the {w}? → {v}",
         "[09:21] yusuf.szabo: here you go: {v}"),
        ("[09:16] bea.moreau: thx", "[09:18] yusuf.szabo: I'll rotate it on Friday",
         "[09:22] bea.moreau: :white_check_mark:"),
        avoid=" "),
    "messenger_export": _A(
        True, ('{"participants": [{"name": "Oskar"}, {"name": "Zofia"}], "messages": [',),
        ('  {"sender_name": "Oskar", "timestamp_ms": 1796312200000, "content": "{w}: {v}"},',
         '  {"sender_name": "Zofia", "timestamp_ms": 1796312260000,'
         ' "content": "sure, my {w} is {v}"},',
         '  {"sender_name": "Oskar", "timestamp_ms": 1796312320000,'
         ' "content": "it\'s {v} (the {w})"},'),
        ('  {"sender_name": "Zofia", "timestamp_ms": 1796312290000, "content": "did it work?"},',
         '  {"sender_name": "Oskar", "timestamp_ms": 1796312300000, "content": "yep"},'),
        ('  {"sender_name": "Zofia", "timestamp_ms": 1796312400000,'
         ' "content": "see you sunday"}', "]}"),
        escape="json", avoid=" ", holds=_FORM | {"ipv4", "vendor_token"}),
    "line_chat": _A(
        True, ("[LINE] Chat history with Yamada Mei", "Saved on: 2026/12/07 21:40", "",
               "2026/12/07(Mon)"),
        ("20:11\tYamada Mei\tmy {w} → {v}", "20:12\tTeodor\t{w}? {v}",
         "20:15\tYamada Mei\tok here is the {w} {v} thanks!!"),
        ("20:13\tTeodor\t[Sticker]", "20:14\tYamada Mei\tno problem", "20:16\tTeodor\t[Photo]"),
        avoid=" ", holds=_FORM),
    "twitch_chat": _A(
        True, ("# #speedrun_saoirse chat log 2026-12-06",),
        ("[21:02:11] <modbot_ulla> {w} for the giveaway payout: {v}",
         "[21:02:40] <lucian_gg> lol she just showed her {w} on stream {v}",
         "[21:03:02] <saoirse_runs> oops that was my {w} {v} pls ignore"),
        ("[21:02:15] <wendell99> PogChamp", "[21:02:55] <modbot_ulla> please don't spam",
         "[21:03:10] <lucian_gg> gg"),
        avoid=" "),
    "stackexchange_question": _A(
        True, ("Title: Connection refused when the worker starts", "Tags: python celery",
               "", "I followed the docs but the worker cannot log in. My settings:", ""),
        ("    {K} = '{v}'", "Even with the {w} set to `{v}` it fails.",
         "I tried `{v}` as the {w} as well."),
        ("What am I missing?", "Edit: restarting did not help.", "The logs only say 'refused'."),
        ("", "asked Dec 7 at 14:02 by teodor-z"), case="upper", avoid=_NO_SPACE,
        pem="    KEY = '''\n{v}\n    '''"),
    "mediawiki_talk": _A(
        True, ("== Mirror credentials ==",),
        (":The {w} for the mirror is {v} ~~~~", "::No, it changed: {v} [[User:Oskar|Oskar]]",
         ":::Please stop posting the {w} ({v}) here. --~~~~"),
        (":Agreed. ~~~~", "::See the archive for the older thread.", "{{resolved}}"),
        avoid=" ()[]{}|~", holds=_FORM | {"vendor_token", "ipv4", "ipv6", "github_token"}),
    "gerrit_review": _A(
        True, ("Change 48211: Move billing credentials", "", "Patch Set 3: Code-Review-1", ""),
        ("(1 comment) config/billing.ini line 12: this {w} ({v}) is real, please remove it",
         "Radu Petrescu: why is the {w} {v} in plain text?",
         "Patch Set 4: Done, moved the {w} {v} to the vault"),
        ("Patch Set 3: Verified+1", "Build Started https://ci.petrescu.ro/job/billing/812/",
         "Uploaded patch set 4."),
        avoid=" ()"),
    "bugzilla_comment": _A(
        True, ("Bug 1930412 - Export fails for some accounts", "Status: NEW", ""),
        ("(In reply to Ximena Ulloa from comment #3)", "> my {w} is {v}",
         "Comment 5: reproduced with the customer's {w} {v} on staging.",
         "Comment 6: the failing record has {w} = {v}"),
        ("Comment 4: confirmed on 128.0", "Severity: normal", "Flags: needinfo?"),
        avoid=" >"),
    "offboarding_checklist": _A(
        True, ("Offboarding checklist - Wendell Brennan", "Last day: 2026-12-18", ""),
        ("[x] Return laptop. Personal {w} for the courier: {v}",
         "[ ] Hand over the {w}: {v}", "[ ] Final pay to {w} {v}",
         "[x] Forwarding {w}: {v}"),
        ("[ ] Remove from on-call rota", "[x] Exit interview booked", "[ ] Revoke badge"),
        avoid=" ", holds=_FORM | {"github_token", "vendor_token", "aws_access_key_id"}),
    "chargeback_form": _A(
        True, ("CARD DISPUTE FORM", "Please complete all fields in block capitals.", ""),
        ("Cardholder {w}: {v}", "{w} used for the purchase: {v}",
         "Refund to ({w}): {v}", "Daytime contact ({w}): {v}"),
        ("Merchant name: Quarry Outdoor Ltd", "Reason: goods not received",
         "Amount disputed: 189.00"),
        ("Signature: ____________", "Date: 07/12/2026"), avoid=" ", holds=_FORM),
    "sepa_mandate": _A(
        True, ("SEPA Direct Debit Mandate", "Creditor: Stadtwerke Velvet GmbH", ""),
        ("Debtor {w}: {v}", "Your account ({w}): {v}", "E-mail for pre-notifications: {v}",
         "Telephone: {v}"),
        ("Type of payment: recurrent", "Mandate reference: to be sent with the first debit",
         "By signing this form you authorise the creditor to send instructions to your bank."),
        ("Place and date: Graz, 06.12.2026",), avoid=" ",
        holds=frozenset({"email", "phone", "iban", "payment_card"})),
    "visa_application": _A(
        True, ("APPLICATION FOR A VISITOR VISA", "Section 2: Personal details", ""),
        ("2.4 {w}: {v}", "2.7 If you hold a US {w}, enter it: {v}",
         "3.1 Contact {w}: {v}", "5.2 Card used to pay the fee ({w}): {v}"),
        ("2.5 Place of birth: Cluj-Napoca", "2.6 Nationality: Romanian",
         "4.1 Purpose of visit: conference"),
        ("Declaration: I confirm the information is correct.",), avoid=" ", holds=_FORM),
    "utility_setup": _A(
        True, ("New electricity account - moving in", "Supply address: Flat 2, 14 Orchard Row", ""),
        ("Account holder {w}: {v}", "Best {w} to reach you: {v}",
         "Pay by direct debit from {w}: {v}", "Online account {w}: {v}"),
        ("Move-in date: 01/01/2027", "Meter reading: to follow", "Tariff: standard variable"),
        avoid=" ", holds=_FORM),
    "maintenance_request": _A(
        True, ("Maintenance request #4471", "Unit: 3B", "Category: plumbing", ""),
        ("Description: the boiler leaks again. Call me on my {w} {v} before coming.",
         "The lockbox code and my {w} are below. {w}: {v}",
         "Access notes: alarm {w} is {v}", "Tenant {w}: {v}"),
        ("Preferred time: weekday mornings", "Pets: one cat", "Photos attached: 2"),
        avoid=" .", holds=_FORM),
    "expense_report": _A(
        True, ("Expense report - December trip to Lisbon", "Employee: Priya Rasmussen", ""),
        ("Hotel paid with the {w} {v}", "Reimburse to {w}: {v}",
         "Taxi (personal {w} {v}, company card declined)",
         "Approver note: contact me on {v} if questions"),
        ("Flights: 312.40", "Per diem: 3 days", "Receipts: attached"),
        avoid=" ()", holds=_FORM),
    "pet_adoption": _A(
        True, ("Adoption application - \"Biscuit\" (terrier mix)", ""),
        ("Applicant {w}: {v}", "Alternate {w}: {v}", "Adoption fee paid by card: {v}",
         "For the background check, {w}: {v}"),
        ("Do you have a fenced garden? Yes", "Other pets: none", "Landlord allows dogs: yes"),
        avoid=" ", holds=_FORM),
    "out_of_office": _A(
        True, ("Subject: Automatic reply: invoice query", "",
               "Thank you for your message. I am out of the office until 4 January."),
        ("For urgent matters call my {w} {v}",
         "Urgent payments can go to our {w} {v}", "Cover: Ulla Zeller, {w} {v}"),
        ("I will have limited access to e-mail.", "Kind regards,", "Tomasz"),
        avoid=" ", holds=frozenset({"email", "phone", "iban"})),
    "keybase_chat": _A(
        True, ("keybase chat: ops_team#general", ""),
        ("ulla_z  [Dec 7 10:02]  new {w}: {v}", "tomasz_w  [Dec 7 10:04]  use {v} for now",
         "ulla_z  [Dec 7 10:05]  and the {w} is {v} (exploding message)"),
        ("tomasz_w  [Dec 7 10:03]  ack", "ulla_z  [Dec 7 10:06]  deleting this later"),
        avoid=" ()"),
    "viva_engage_post": _A(
        True, ("Posted in Facilities - Madrid office", ""),
        ("Visitors: the guest Wi-Fi password is {v} until Friday.",
         "Lost and found: a wallet with a card ({v}) was handed in at reception.",
         "If you have questions, {w}: {v}", "Reply from Ansel B.: my {w} is {v}, ping me"),
        ("Like - Reply - Share", "12 people reacted", "Seen by 140"),
        avoid=" .,", holds=frozenset({"password", "payment_card", "phone", "email", "ipv4"})),
    "volunteer_signup": _A(
        True, ("Food bank volunteer sign-up", "Shift: Saturday morning", ""),
        ("Your {w}: {v}", "Emergency contact {w}: {v}",
         "For the background check we need your {w}: {v}", "Mileage refunds go to ({w}): {v}"),
        ("Do you have a food hygiene certificate? No", "T-shirt size: M",
         "How did you hear about us? A friend"),
        ("Thank you for signing up!",), avoid=" ",
        holds=frozenset({"email", "phone", "us_ssn", "iban"})),
    "payment_change_request": _A(
        True, ("Subject: Updated remittance details", "", "Dear Accounts Payable team,"),
        ("From the next invoice please pay to our new {w} {v} instead of the old one.",
         "To confirm, call our controller on {v} (not the number in the invoice footer).",
         "Please send the remittance advice to {v}", "Our card for the annual fee: {v}"),
        ("Our company name and VAT number stay the same.",
         "This change was approved by our finance director.", "Best regards,"),
        ("Accounts Receivable",), avoid=" ",
        holds=frozenset({"iban", "phone", "email", "payment_card"})),
    # --- machine text ---
    "jsonnet": _A(
        False, ("local env = std.extVar('env');", "{", "  service: 'ledger',"),
        ("  {k}: '{v}',", "  {k}:: '{v}',", "  secrets+: { {k}: '{v}' },"),
        ("  replicas: if env == 'prod' then 3 else 1,", "  port: 8080,"),
        ("}",), case="camel", avoid="'\\", pem="  {k}: |||\n    {v}\n  |||,"),
    "cue": _A(
        False, ("package deploy", "", "config: {"),
        ('\t{k}: "{v}"', '\t{k}: string | *"{v}"', '\tauth: {k}: "{v}"'),
        ("\treplicas: int & >0 & <=5", '\tregion: "eu-west-1"'),
        ("}",), case="camel", avoid='"\\', pem='\t{k}: """\n\t\t{v}\n\t\t"""'),
    "hocon": _A(
        False, ("akka {", "  loglevel = INFO", "}", "db {"),
        ('  {k} = "{v}"', "  {k} = ${?OVERRIDE} \"{v}\"", '  {k}: "{v}"'),
        ("  pool-size = 8", "  timeout = 30s"),
        ("}",), case="kebab", avoid='"\\$', pem='  {k} = """{v}"""'),
    "crystal_source": _A(
        False, ('require "http/client"', "", "module Billing"),
        ('  {K} = "{v}"', '  client.{k} = "{v}"', '  headers["X-{K}"] = "{v}"'),
        ("  TIMEOUT = 30.seconds", "  # retry twice, then give up"),
        ("end",), case="upper", avoid='"\\#', pem="  {K} = <<-PEM\n{v}\n  PEM"),
    "nim_source": _A(
        False, ("import std/[httpclient, os]", ""),
        ('const {k} = "{v}"', 'let {k} = "{v}"', 'client.headers["{k}"] = "{v}"'),
        ("let retries = 3", "proc main() ="),
        ("main()",), case="camel", avoid='"\\', pem='const {k} = """\n{v}\n"""'),
    "tcl_script": _A(
        False, ("#!/usr/bin/env tclsh", "package require http"),
        ('set {k} "{v}"', "set {k} {{v}}", 'dict set cfg {k} "{v}"'),
        ("set timeout 30000", "proc log {msg} { puts stderr $msg }"),
        ("http::cleanup $tok",), avoid='"\\{}[]$ ', pem="set {k} {\n{v}\n}"),
    "racket_source": _A(
        False, ("#lang racket", "(require net/http-client)"),
        ('(define {k} "{v}")', '(hash-set! cfg \'{k} "{v}")',
         '(define-values ({k}) (values "{v}"))'),
        ("(define timeout 30)", ";; called from main"),
        ("(module+ main (run))",), case="kebab", avoid='"\\', pem='(define {k} "\n{v}\n")'),
    "fluentbit_conf": _A(
        False, ("[SERVICE]", "    Flush        5", "", "[OUTPUT]", "    Name  es"),
        ("    {K}  {v}", "    HTTP_Passwd {v}", "    Header Authorization Bearer {v}"),
        ("    Match *", "    tls   On", "    Retry_Limit 5"),
        case="pascal", avoid=_NO_SPACE,
        holds=frozenset(set(SECRETS_L) - {"private_key", "url_password"}
                        | {"ipv4", "ipv6", "email"})),
    "telegraf_toml": _A(
        False, ("[agent]", '  interval = "10s"', "", "[[outputs.influxdb_v2]]"),
        ('  {k} = "{v}"', "  {k} = '{v}'", '  headers = {"X-{K}" = "{v}"}'),
        ('  organization = "ops"', '  bucket = "metrics"'),
        case="snake", avoid="\"'\\"),
    "logstash_pipeline": _A(
        False, ("input { beats { port => 5044 } }", "output {", "  elasticsearch {"),
        ('    {k} => "{v}"', "    {k} => '{v}'", '    custom_headers => { "X-{K}" => "{v}" }'),
        ('    index => "app-%{+YYYY.MM.dd}"', "    ssl_enabled => true"),
        ("  }", "}"), avoid="\"'\\"),
    "prometheus_scrape": _A(
        False, ("scrape_configs:", "  - job_name: node", "    static_configs:"),
        ("    {k}: '{v}'", "      - targets: ['{v}:9100']",
         "    basic_auth:\n      password: '{v}'",
         "    authorization:\n      credentials: {v}"),
        ("    scrape_interval: 30s", "    metrics_path: /metrics"),
        avoid="'\\: #"),
    "envoy_bootstrap": _A(
        False, ("static_resources:", "  clusters:", "  - name: upstream"),
        ('    {k}: "{v}"', "      - socket_address: {address: {v}, port_value: 443}",
         '    request_headers_to_add: [{header: {key: x-{k}, value: "{v}"}}]'),
        ("    connect_timeout: 5s", "    lb_policy: ROUND_ROBIN"),
        avoid='"\\{}:, ', case="kebab"),
    "k8s_audit_log": _A(
        False, (),
        ('{"kind":"Event","stage":"ResponseComplete","verb":"create","sourceIPs":["{v}"],'
         '"user":{"username":"ci-bot"}}',
         '{"kind":"Event","verb":"patch","requestObject":{"stringData":{"{k}":"{v}"}}}',
         '{"kind":"Event","verb":"update","annotations":{"{k}":"{v}"}}'),
        ('{"kind":"Event","stage":"ResponseComplete","verb":"get","objectRef":{"resource":"pods"}}',),
        escape="json", case="kebab"),
    "cloudtrail_event": _A(
        False, ('{"Records": [',),
        ('  {"eventName": "PutParameter", "sourceIPAddress": "{v}"},',
         '  {"eventName": "CreateUser", "requestParameters": {"{k}": "{v}"}},',
         '  {"eventName": "AssumeRole", "responseElements": {"credentials": {"{k}": "{v}"}}},'),
        ('  {"eventName": "ListBuckets", "readOnly": true},',),
        ('  {"eventName": "GetCallerIdentity"}', "]}"), escape="json", case="camel"),
    "sqlite3_session": _A(
        False, ("$ sqlite3 crm.db", "SQLite version 3.46.1", 'Enter ".help" for usage hints.'),
        ("sqlite> UPDATE contacts SET {k} = '{v}' WHERE id = 17;",
         "sqlite> INSERT INTO secrets(name, value) VALUES ('{k}', '{v}');",
         "17|Zofia Wojcik|{v}"),
        ("sqlite> .headers on", "sqlite> SELECT count(*) FROM contacts;", "412"),
        ("sqlite> .quit",), avoid="'|\n"),
    "gcloud_session": _A(
        False, ("$ gcloud config list",),
        ("$ gcloud secrets versions add {k} --data-file=- <<< '{v}'",
         "$ gcloud sql users set-password admin --instance=ledger --password='{v}'",
         "account = {v}", "$ gcloud compute ssh web-1 --external-ip {v}"),
        ("Updated property [core/project].", "Created version [3] of the secret.",
         "Listed 0 items."),
        avoid="'\\", holds=frozenset(set(SECRETS_L) - {"private_key"} | {"email", "ipv4", "ipv6"})),
    "vcard": _A(
        False, ("BEGIN:VCARD", "VERSION:4.0", "FN:Valentina Quaresma"),
        ("EMAIL;TYPE=home:{v}", "TEL;TYPE=cell:{v}", "NOTE:{w} {v}", "X-{K}:{v}"),
        ("ORG:Quaresma Atelier", "CATEGORIES:clients"),
        ("END:VCARD",), case="upper", avoid=",;\\", holds=_FORM),
    "icalendar": _A(
        False, ("BEGIN:VCALENDAR", "PRODID:-//Calendar//EN", "BEGIN:VEVENT", "SUMMARY:Bank visit"),
        ("DESCRIPTION:bring {w} {v}", "ATTENDEE;CN=Lucian:mailto:{v}", "LOCATION:call {v}",
         "X-{K}:{v}"),
        ("DTSTART:20261210T100000Z", "DURATION:PT1H", "STATUS:CONFIRMED"),
        ("END:VEVENT", "END:VCALENDAR"), case="upper", avoid=",;\\ ",
        holds=_FORM | {"ipv4", "vendor_token"}),
    "keepass_xml": _A(
        False, ("<KeePassFile>", "<Root><Group><Name>Work</Name>", "<Entry>"),
        ("<String><Key>{K}</Key><Value>{v}</Value></String>",
         "<String><Key>Password</Key><Value ProtectInMemory=\"True\">{v}</Value></String>",
         "<String><Key>Notes</Key><Value>{w}: {v}</Value></String>"),
        ("<String><Key>Title</Key><Value>Payroll portal</Value></String>",
         "<Times><LastModificationTime>2026-11-30T10:12:00Z</LastModificationTime></Times>"),
        ("</Entry>", "</Group></Root>", "</KeePassFile>"), case="pascal", escape="xml",
        pem="<String><Key>Notes</Key><Value>{v}</Value></String>"),
    "bitwarden_json": _A(
        False, ('{"encrypted": false, "items": [',),
        ('  {"type": 1, "name": "{K}", "login": {"password": "{v}"}},',
         '  {"type": 2, "name": "{w}", "notes": "{v}"},',
         '  {"type": 1, "fields": [{"name": "{k}", "value": "{v}"}]},'),
        ('  {"type": 1, "name": "router", "favorite": false},',),
        ('  {"type": 4, "name": "empty"}', "]}"), case="pascal", escape="json",
        pem='  {"type": 2, "name": "{w}", "notes": "{v}"},'),
    "tomcat_context": _A(
        False, ('<?xml version="1.0" encoding="UTF-8"?>', "<Context>"),
        ('  <Resource name="jdbc/ledger" {k}="{v}"/>', '  <Parameter name="{k}" value="{v}"/>',
         '  <Environment name="{k}" type="java.lang.String" value="{v}"/>'),
        ('  <WatchedResource>WEB-INF/web.xml</WatchedResource>',),
        ("</Context>",), case="camel", escape="xml"),
    "wireguard_conf": _A(
        False, ("[Interface]", "MTU = 1420", "", "[Peer]"),
        ("Endpoint = {v}:51820", "# {w}: {v}", "PostUp = curl -H 'X-Token: {v}' https://vpn.tiernan-law.com/up"),
        ("PersistentKeepalive = 25", "# managed by the ops team"),
        avoid=" '\\", holds=frozenset({"ipv4", "ipv6", "email", "vendor_token", "password"})),
    "openvpn_profile": _A(
        False, ("client", "dev tun", "proto udp"),
        ("remote {v} 1194", "# {w}: {v}", "<auth-user-pass>\nzofia.w\n{v}\n</auth-user-pass>"),
        ("resolv-retry infinite", "nobind", "persist-key"),
        ("verb 3",), avoid=" \\", pem="<key>\n{v}\n</key>",
        holds=frozenset({"ipv4", "ipv6", "email", "password", "private_key"})),
    "ofx_statement": _A(
        False, ('<?xml version="1.0"?>', "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS>"),
        ("<BANKACCTFROM><ACCTID>{v}</ACCTID></BANKACCTFROM>", "<MEMO>{w} {v}</MEMO>",
         "<MEMO>SEPA CT to {v}</MEMO>"),
        ("<CURDEF>EUR</CURDEF>",
         "<STMTTRN><TRNTYPE>DEBIT</TRNTYPE><TRNAMT>-42.10</TRNAMT></STMTTRN>"),
        ("</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>",), escape="xml",
        holds=frozenset({"iban", "payment_card", "email", "phone"})),
    "chef_databag": _A(
        False, ("{", '  "id": "ledger",'),
        ('  "{k}": "{v}",', '  "credentials": {"{k}": "{v}"},', '  "env": ["{K}={v}"],'),
        ('  "chef_type": "data_bag_item",',),
        ('  "data_bag": "apps"', "}"), escape="json", pem='  "{k}": "{v}",'),
    "kustomization": _A(
        False, ("apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization",
                "secretGenerator:", "- name: ledger"),
        ("  literals:\n  - {K}={v}", "  - {k}='{v}'", "# {w}: {v}"),
        ("  # rotated monthly", "  # owner: billing team"),
        case="upper", avoid=" '\\#"),
}


# --- the composer ------------------------------------------------------------------------


def _ident(words: Sequence[str], case: str) -> str:
    if case == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if case == "pascal":
        return "".join(w.capitalize() for w in words)
    if case == "kebab":
        return "-".join(words)
    if case == "upper":
        return "_".join(words).upper()
    return "_".join(words)


def _escaped(text: str, art: _Artifact) -> str:
    if art.escape == "json":
        return json.dumps(text, ensure_ascii=False)[1:-1]
    if art.escape == "xml":
        return xml_escape(text, {'"': "&quot;"})
    return text


class _Doc:
    def __init__(self, art: _Artifact) -> None:
        self.art = art
        self.text = ""
        self.planted: list[PlantedL] = []

    def add(self, line: str) -> None:
        self.text += line + "\n"

    def plant(self, template: str, value: str, shown: str, type_: str | None, decoy: str) -> None:
        before, after = template.split("{v}", 1)
        value, shown = _escaped(value, self.art), _escaped(shown, self.art)
        start = len(self.text) + len(before) + shown.index(value)
        self.text += before + shown + after + "\n"
        assert self.text[start:start + len(value)] == value
        prose = self.art.prose and not template.startswith("    ")  # code in a post is code
        self.planted.append((start, start + len(value), type_, prose, decoy))


def _named(line: str) -> bool:
    return "{k}" in line or "{K}" in line or "{w}" in line


def _template(rnd: random.Random, art: _Artifact, type_: str, words: Sequence[str],
              what: str, named: bool = False) -> str:
    if type_ == "private_key":
        line = art.pem
    else:
        fitting = [line for line in art.lines if _fits(line, type_) and (_named(line) or not named)]
        line = rnd.choice(fitting)
    line = line.replace("{k}", _ident(words, art.case)).replace("{K}", _ident(words, "upper"))
    line = line.replace("{w}", what)
    first = line.index("{v}")  # one value per line: other {v} marks are named in words
    return line[:first + 3] + line[first + 3:].replace("{v}", what)


#: Marks in a line template that suit some types only.
_ONLY = {
    "sourceIPs": {"ipv4", "ipv6"}, "sourceIPAddress": {"ipv4", "ipv6"}, "targets:": {"ipv4"},
    "socket_address": {"ipv4", "ipv6"}, "Endpoint =": {"ipv4"}, "remote {v}": {"ipv4", "ipv6"},
    "--external-ip": {"ipv4"}, "account = ": {"email"}, "EMAIL;": {"email"}, "TEL;": {"phone"},
    "mailto:": {"email"}, "LOCATION:call": {"phone"}, "<ACCTID>": {"iban", "payment_card"},
    "HTTP_Passwd": {"password"}, "password: '{v}'": {"password"},
    "credentials: {v}": {"vendor_token", "jwt", "github_token", "gitlab_token"},
    "--password=": {"password"}, "<auth-user-pass>": {"password"},
    "ProtectInMemory": {"password"}, "\"login\": {\"password\"": {"password"},
    "Adoption fee paid by card": {"payment_card"}, "E-mail for pre": {"email"},
    "Telephone:": {"phone"}, "X-Token": {"vendor_token", "jwt", "github_token"},
    "Bearer {v}": {"jwt", "vendor_token", "github_token", "openai_api_key", "anthropic_api_key"},
    "contact me on {v}": {"phone", "email"},
    "Hotel paid with": {"payment_card"}, "Reimburse to": {"iban"},
    "Taxi (personal": {"payment_card"}, "Pay by direct debit": {"iban"},
    "Refund to ({w})": {"iban"}, "Your account ({w})": {"iban", "payment_card"},
    "Final pay to": {"iban"}, "Urgent payments": {"iban"}, "for the courier": {"phone", "email"},
    "alarm {w}": {"password"}, "If you hold a US": {"us_ssn"},
    "Daytime contact": {"phone", "email"},
    "Best {w} to reach": {"phone", "email"}, "Online account": {"password", "email"},
    "Alternate {w}": {"phone", "email"}, "background check": {"us_ssn"},
    "Cover: Ulla": {"phone", "email"}, "used for the purchase": {"payment_card"},
    "3.1 Contact": {"phone", "email"}, "Call me on my": {"phone"}, "SEPA CT to": {"iban"},
    "call my {w}": {"phone"},
    "17|Zofia": {"email", "phone", "us_ssn", "payment_card", "iban"},
    "Card used to pay": {"payment_card"}, "guest Wi-Fi password": {"password"},
    "wallet with a card": {"payment_card"}, "pay to our new": {"iban"},
    "call our controller": {"phone"}, "remittance advice to": {"email"},
    "Our card for the": {"payment_card"}, "Mileage refunds": {"iban"},
    "use {v} for now": set(_NAMES) - {"private_key"}, "here you go": set(_NAMES),
    "I tried `{v}`": set(_NAMES),
}


def _fits(line: str, type_: str) -> bool:
    for mark, types in _ONLY.items():
        if mark in line:
            return type_ in types
    return "{v}" in line


def _value(rnd: random.Random, type_: str, art: _Artifact) -> str:
    make = {**SECRETS_L, **PERSONAL_L}[type_]
    for _ in range(500):
        value = make(rnd)
        if type_ == "private_key":
            indent = art.pem.split("{v}")[0].rsplit("\n", 1)[-1]
            return value.replace("\n", "\n" + indent) if not indent.strip() else value
        if type_ not in ("password", "url_password") or not any(c in art.avoid for c in value):
            return value
    raise AssertionError(f"no {type_} without {art.avoid!r}")


def _pool(art: _Artifact) -> list[str]:
    types = sorted(art.holds) if art.holds else list(KINDS_L)
    return [t for t in types if (bool(art.pem) if t == "private_key"
                                 else any(_fits(line, t) for line in art.lines))]


def _decoys_for(name: str, art: _Artifact) -> list[_Decoy]:
    return [d for d in _DECOYS if (not d.homes or name in d.homes)
            and any(_fits(line, d.place) and (_named(line) or d.what not in _NAMED)
                    for line in art.lines)
            and (not art.holds or d.place in art.holds or d.homes)
            and not any(c in art.avoid for c in (d.value if isinstance(d.value, str) else "x"))]


def documents_l(seed: int, count: int) -> list[tuple[str, list[PlantedL]]]:
    """``count`` documents of set L, artifact kinds in turn, each with 2-4 planted values,
    one or two decoys and, in about two thirds, a one-digit-mutated card number or IBAN."""
    rnd = random.Random(seed)
    names = sorted(_ARTIFACTS)
    out: list[tuple[str, list[PlantedL]]] = []
    for number in range(count):
        name = names[number % len(names)]
        art = _ARTIFACTS[name]
        doc = _Doc(art)
        for line in art.head:
            doc.add(line)
        pool = _pool(art)
        chosen = rnd.sample(pool, min(len(pool), rnd.randint(2, 4)))
        for rare, chance in (("password", 0.4), ("private_key", 0.2)):
            if rare in pool and rare not in chosen and rnd.random() < chance:
                chosen[-1] = rare
        slots = [(t, "") for t in chosen]
        twins = [t for t in ("payment_card", "iban") if t in pool]
        if twins and rnd.random() < 0.72:
            slots.append((rnd.choice(twins), "mutated"))
        slots += [("", "lookalike")] * (2 if rnd.random() < 0.35 else 1)
        rnd.shuffle(slots)
        decoys = _decoys_for(name, art)
        own = [d for d in decoys if d.homes]
        for type_, kind in slots:
            if kind == "lookalike":
                decoy = rnd.choice(own if own and rnd.random() < 0.5 else decoys)
                value = decoy.value if isinstance(decoy.value, str) else decoy.value(rnd)
                template = _template(rnd, art, decoy.place, decoy.words, decoy.what,
                                     decoy.what in _NAMED)
                if decoy.homes and name in _CODE_REFERENCES:  # code, so no quotes around it
                    template = template.replace('"{v}"', "{v}").replace("'{v}'", "{v}")
                doc.plant(template, value, value, None, kind)
            else:
                value = _value(rnd, type_, art)
                if kind == "mutated":
                    value = _mutated(value, rnd)
                words, whats = _NAMES[type_]
                template = _template(rnd, art, type_, rnd.choice(words), rnd.choice(whats))
                doc.plant(template, value, _shown(type_, value, rnd), None if kind else type_, kind)
            if rnd.random() < 0.5:
                doc.add(rnd.choice(art.filler))
        for line in art.tail:
            doc.add(line)
        out.append((doc.text, doc.planted))
    return out
