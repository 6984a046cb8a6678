"""The eleventh fresh held-out set of the privacy benchmark (set M): a TUNING SET since round 12.

Written on 2026-12-08 after set L had been evaluated (and spent), during round 11 and blind
to its detector changes, without running the detectors on it; committed on its own first,
and evaluated once as held out ("held-out M") at the end of round 11. Its misses are fixed
by class in round 12, so set M is spent: ``benchmarks/privacy.py`` scores it as "set M
(tuned on)", and the held-out set is set N (``privacy_heldout_n.py``).

Nothing here comes from sets A-L: no Faker, no ``athena_core`` import and no import of an
earlier set (Luhn, mod-97 and the SSN rules are written again below), its own value
generators and its own composer. Each document is one artifact of a kind no earlier set
uses (:data:`_ARTIFACTS`):

* prose: Mastodon direct-message exports (JSON, the message in a string), WeChat and
  Threema chat histories, GitHub Discussions threads, Phabricator task comments, YouTrack
  issue comments, Redmine journal notes, HackerOne-style vulnerability reports, holiday
  rental host messages, KakaoTalk chat exports, powers of attorney, scholarship
  applications, daycare enrolment forms, beneficiary designation forms, direct-deposit
  authorisations, dictated memo transcripts, removal-company quote requests, tutoring
  bookings, club newsletters, landlord reference letters, lost-property claims and
  school-trip consent slips;
* machine text: Dhall, KDL and Pkl configuration, Emacs Lisp init files, Fortran
  namelists, Delphi, Gleam and D source, Squid access logs, Linux audit logs, Windows
  event XML, Cisco IOS and MikroTik configuration, strongSwan ``ipsec.secrets``,
  ``msmtprc`` files, FileZilla site managers, RabbitMQ definitions, Mosquitto
  configuration, SWIFT MT940 statements, SEPA ``pain.001`` credit transfers, QIF exports,
  LastPass CSV exports, Stripe CLI, ``doctl`` and Azure CLI sessions and ``wget -d``
  debug output.

``in_prose`` is true for the first group: chats, comments, reports, letters and filled-in
forms; a Mastodon export is JSON, but its values sit in the messages' sentences. A code
block indented inside a report or a discussion is code, not prose.

Values: vendors' documented token formats (prefix, length and alphabet as each vendor
documents them), a broad mix with many vendors no earlier set plants, next to the listed
types in several of their documented prefixes; passwords as people and password managers
make them, with symbols, quotes and spaces where the syntax allows them, and
percent-encoded inside URLs; cards of the listed issuer ranges only (Visa 13/16/19,
Mastercard 51-55 and 2221-2720, Amex, Discover, JCB, Diners, Maestro) written as issuers
group them; IBANs of 52 countries with the registry's BBAN shapes; SSNs written several
ways; phones of 34 countries in national and international writings, none in a range set
aside for fiction; e-mail addresses; public IPv4 and IPv6 addresses.

Decoys sit where such values really sit in each artifact, chosen as a careful adversary of
a scanner would choose them: values a reader recognises as samples, references to values
kept elsewhere, masks, placeholders, identifiers that are not sensitive, values reserved
for documentation or fiction, and one-digit-mutated card numbers and IBANs where a card
number or IBAN goes.
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

__all__ = ["KINDS_M", "PlantedM", "documents_m"]

_LO = string.ascii_lowercase
_UP = string.ascii_uppercase
_DG = string.digits
_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"
_URLSAFE = _ALNUM + "_-"
_HX = "0123456789abcdef"
_HXU = "0123456789ABCDEF"
_BASE32 = _UP + "234567"

#: (start, end, type or None for a decoy, in prose, decoy kind: "", "lookalike", "mutated").
PlantedM = tuple[int, int, "str | None", bool, str]


def _r(rnd: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def _n(rnd: random.Random, n: int) -> str:
    return _r(rnd, n, _DG)


def _guid(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


# --- checksums ----------------------------------------------------------------------------


def luhn_valid(number: str) -> bool:
    """Whether the digits of ``number`` (anything else skipped) pass the Luhn check."""
    total = 0
    for pos, ch in enumerate(reversed([c for c in number if c.isdigit()])):
        digit = int(ch)
        if pos % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _luhn_complete(body: str) -> str:
    for c in _DG:
        if luhn_valid(body + c):
            return body + c
    raise AssertionError(body)


def _iban_remainder(text: str) -> int:
    rem = 0
    for ch in text:
        rem = int(str(rem) + str(int(ch, 36))) % 97
    return rem


def iban_valid(value: str) -> bool:
    """Whether ``value`` (spaces allowed) passes the ISO 13616 mod-97 check."""
    compact = value.replace(" ", "")
    return len(compact) > 4 and _iban_remainder(compact[4:] + compact[:4]) == 1


def ssn_possible(value: str) -> bool:
    """Whether ``value`` could be an issued SSN: area 001-899 except 666, group 01-99,
    serial 0001-9999, and not one of the numbers SSA says were advertised."""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) != 9:
        return False
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return (1 <= area <= 899 and area != 666 and group >= 1 and serial >= 1
            and digits not in ("078051120", "219099999"))


# --- personal values ------------------------------------------------------------------------

#: Issuer -> (prefix maker, lengths): the ranges the privacy issue lists, nothing else.
_ISSUERS: dict[str, tuple[Callable[[random.Random], str], tuple[int, ...]]] = {
    "visa": (lambda r: "4" + _n(r, 5), (16, 16, 16, 13, 19)),
    "mastercard": (lambda r: str(r.randint(51, 55)) + _n(r, 4), (16,)),
    "mastercard2": (lambda r: str(r.randint(2221, 2720)) + _n(r, 2), (16,)),
    "amex": (lambda r: r.choice(("34", "37")) + _n(r, 4), (15,)),
    "discover": (lambda r: r.choice(("6011" + _n(r, 2), "65" + _n(r, 4),
                                     str(r.randint(644, 649)) + _n(r, 3))), (16,)),
    "jcb": (lambda r: str(r.randint(3528, 3589)) + _n(r, 2), (16,)),
    "diners": (lambda r: r.choice(("36" + _n(r, 4), "30" + str(r.randint(0, 5)) + _n(r, 3),
                                   "38" + _n(r, 4), "39" + _n(r, 4))), (14,)),
    "maestro": (lambda r: r.choice(("6759", "6761", "6763", "5018", "5020", "5038", "6304"))
                + _n(r, 2), (16, 19)),
}
_CARD_GROUPS = {13: (4, 3, 3, 3), 14: (4, 6, 4), 15: (4, 6, 5), 16: (4, 4, 4, 4),
                19: (4, 4, 4, 4, 3)}
_PUBLISHED_TEST_CARDS = frozenset({
    "4111111111111111", "4242424242424242", "4012888888881881", "5555555555554444",
    "5105105105105100", "378282246310005", "371449635398431", "6011111111111117",
    "3530111333300000", "30569309025904", "4000056655665556"})


def card_m(rnd: random.Random) -> str:
    while True:
        prefix, lengths = _ISSUERS[rnd.choice(sorted(_ISSUERS))]
        length = rnd.choice(lengths)
        digits = _luhn_complete((prefix(rnd) + _n(rnd, 20))[:length - 1])
        if digits not in _PUBLISHED_TEST_CARDS:
            break
    sep = rnd.choice((" ", " ", "-", "", ""))
    if not sep:
        return digits
    parts, at = [], 0
    for size in _CARD_GROUPS[length]:
        parts.append(digits[at:at + size])
        at += size
    return sep.join(parts)


#: Country -> BBAN shape from the IBAN registry (n digits, a capitals, c alphanumerics).
_IBAN_SHAPES = {
    "AL": "8n 16c", "AT": "5n 11n", "AZ": "4a 20c", "BA": "3n 3n 8n 2n", "BE": "3n 7n 2n",
    "BG": "4a 4n 2n 8c", "CH": "5n 12c", "CR": "4n 14n", "CY": "3n 5n 16c", "CZ": "4n 6n 10n",
    "DE": "8n 10n", "DK": "4n 9n 1n", "DO": "4c 20n", "EE": "2n 2n 11n 1n", "EG": "4n 4n 17n",
    "ES": "4n 4n 1n 1n 10n", "FI": "3n 11n", "FO": "4n 9n 1n", "FR": "5n 5n 11c 2n",
    "GB": "4a 6n 8n", "GE": "2a 16n", "GI": "4a 15c", "GL": "4n 9n 1n", "GR": "3n 4n 16c",
    "GT": "4c 20c", "HR": "7n 10n", "HU": "3n 4n 1n 15n 1n", "IE": "4a 6n 8n",
    "IS": "4n 2n 6n 10n", "IT": "1a 5n 5n 12c", "KZ": "3n 13c", "LB": "4n 20c",
    "LT": "5n 11n", "LU": "3n 13c", "MD": "2c 18c", "ME": "3n 13n 2n", "MK": "3n 10c 2n",
    "MR": "5n 5n 11n 2n", "MU": "4a 2n 2n 12n 3n 3a", "NL": "4a 10n", "NO": "4n 6n 1n",
    "PK": "4a 16c", "PL": "8n 16n", "PS": "4a 21c", "PT": "4n 4n 11n 2n",
    "RS": "3n 13n 2n", "SE": "3n 16n 1n", "SI": "5n 8n 2n", "SK": "4n 6n 10n",
    "TN": "2n 3n 13n 2n", "UA": "6n 19c", "XK": "4n 10n 2n",
}
_REGISTRY_SAMPLES = frozenset({"GB82WEST12345698765432", "DE89370400440532013000",
                               "FR1420041010050500013M02606", "NL91ABNA0417164300"})


def _bban_of(rnd: random.Random, shape: str) -> str:
    out = []
    for part in shape.split():
        count, kind = int(part[:-1]), part[-1]
        out.append(_n(rnd, count) if kind == "n" else _r(rnd, count, _UP) if kind == "a"
                   else _r(rnd, count, _UP + _DG * 4))
    return "".join(out)


def iban_m(rnd: random.Random) -> str:
    while True:
        country = rnd.choice(sorted(_IBAN_SHAPES))
        bban = _bban_of(rnd, _IBAN_SHAPES[country])
        check = 98 - _iban_remainder(bban + country + "00")
        compact = f"{country}{check:02d}{bban}"
        if compact not in _REGISTRY_SAMPLES:
            break
    assert iban_valid(compact)
    if rnd.random() < 0.5:
        return compact
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def ssn_m(rnd: random.Random) -> str:
    while True:
        digits = f"{rnd.randint(1, 899):03d}{rnd.randint(1, 99):02d}{rnd.randint(1, 9999):04d}"
        if ssn_possible(digits):
            break
    sep = rnd.choice(("-", "-", "-", " ", "", "."))
    return sep.join((digits[:3], digits[3:5], digits[5:]))


def _nanp(rnd: random.Random) -> str:
    area = rnd.choice(("206", "305", "412", "480", "512", "571", "614", "646", "720", "773",
                       "818", "857", "971"))
    exchange = str(rnd.randint(202, 988))
    while exchange == "555" or exchange.endswith("11"):
        exchange = str(rnd.randint(202, 988))
    line = _n(rnd, 4)
    return rnd.choice((f"({area}) {exchange}-{line}", f"+1 {area} {exchange} {line}",
                       f"{area}-{exchange}-{line}", f"1-{area}-{exchange}-{line}",
                       f"+1.{area}.{exchange}.{line}"))


#: Phone writers of 34 countries, none in a range set aside for fiction or documentation.
_PHONE_WRITERS: tuple[Callable[[random.Random], str], ...] = (
    _nanp, _nanp,
    lambda r: (lambda b, x: r.choice((f"+44 {b} {x}", f"0{b} {x}", f"+447{b[1:]}{x}")))(
        r.choice(("7412", "7533", "7722", "7958", "7881")), _n(r, 6)),
    lambda r: (lambda m: r.choice((f"+61 4{m}", f"04{m.replace(' ', '')}")))(
        f"{r.choice(('12', '22', '38', '50', '67'))} {_n(r, 3)} {_n(r, 3)}"),
    lambda r: r.choice((f"+49 160 {_n(r, 7)}", f"0176 {_n(r, 8)}", f"+49 (0)89 {_n(r, 7)}")),
    lambda r: r.choice((f"+33 7 {_n(r, 2)} {_n(r, 2)} {_n(r, 2)} {_n(r, 2)}",
                        f"06.{_n(r, 2)}.{_n(r, 2)}.{_n(r, 2)}.{_n(r, 2)}")),
    lambda r: r.choice((f"+39 347 {_n(r, 7)}", f"338 {_n(r, 3)} {_n(r, 4)}")),
    lambda r: r.choice((f"+34 612 {_n(r, 3)} {_n(r, 3)}", f"71{_n(r, 1)} {_n(r, 2)} {_n(r, 2)} "
                        f"{_n(r, 2)}")),
    lambda r: r.choice((f"+47 9{_n(r, 2)} {_n(r, 2)} {_n(r, 3)}", f"4{_n(r, 2)} {_n(r, 2)} "
                        f"{_n(r, 3)}")),
    lambda r: r.choice((f"+358 40 {_n(r, 3)} {_n(r, 4)}", f"050 {_n(r, 3)} {_n(r, 4)}")),
    lambda r: r.choice((f"+420 603 {_n(r, 3)} {_n(r, 3)}", f"7{_n(r, 2)} {_n(r, 3)} {_n(r, 3)}")),
    lambda r: r.choice((f"+30 69{_n(r, 1)} {_n(r, 3)} {_n(r, 4)}", f"69{_n(r, 8)}")),
    lambda r: r.choice((f"+972 52-{_n(r, 3)}-{_n(r, 4)}", f"054-{_n(r, 3)}-{_n(r, 4)}")),
    lambda r: r.choice((f"+64 21 {_n(r, 3)} {_n(r, 4)}", f"022 {_n(r, 3)} {_n(r, 4)}")),
    lambda r: r.choice((f"+254 7{_n(r, 2)} {_n(r, 3)} {_n(r, 3)}", f"07{_n(r, 2)} {_n(r, 6)}")),
    lambda r: r.choice((f"+20 10 {_n(r, 4)} {_n(r, 4)}", f"012{_n(r, 8)}")),
    lambda r: r.choice((f"+84 9{_n(r, 1)} {_n(r, 3)} {_n(r, 4)}", f"09{_n(r, 2)} {_n(r, 3)} "
                        f"{_n(r, 3)}")),
    lambda r: r.choice((f"+62 812-{_n(r, 4)}-{_n(r, 4)}", f"0813 {_n(r, 4)} {_n(r, 4)}")),
    lambda r: r.choice((f"+60 12-{_n(r, 3)} {_n(r, 4)}", f"017-{_n(r, 7)}")),
    lambda r: r.choice((f"+66 8{_n(r, 1)} {_n(r, 3)} {_n(r, 4)}", f"08{_n(r, 1)}-{_n(r, 3)}-"
                        f"{_n(r, 4)}")),
    lambda r: r.choice((f"+56 9 {_n(r, 4)} {_n(r, 4)}", f"9 {_n(r, 4)} {_n(r, 4)}")),
    lambda r: r.choice((f"+57 3{_n(r, 2)} {_n(r, 3)} {_n(r, 4)}", f"31{_n(r, 1)} {_n(r, 7)}")),
    lambda r: f"+51 9{_n(r, 2)} {_n(r, 3)} {_n(r, 3)}",
    lambda r: r.choice((f"+36 30 {_n(r, 3)} {_n(r, 4)}", f"06 20 {_n(r, 3)} {_n(r, 4)}")),
    lambda r: r.choice((f"+40 72{_n(r, 1)} {_n(r, 3)} {_n(r, 3)}", f"07{_n(r, 2)} {_n(r, 3)} "
                        f"{_n(r, 3)}")),
    lambda r: r.choice((f"+380 67 {_n(r, 3)} {_n(r, 2)} {_n(r, 2)}", f"050 {_n(r, 3)} {_n(r, 4)}")),
    lambda r: r.choice((f"+966 5{_n(r, 1)} {_n(r, 3)} {_n(r, 4)}", f"05{_n(r, 1)} {_n(r, 3)} "
                        f"{_n(r, 4)}")),
    lambda r: r.choice((f"+971 50 {_n(r, 3)} {_n(r, 4)}", f"055 {_n(r, 3)} {_n(r, 4)}")),
    lambda r: r.choice((f"+92 300 {_n(r, 7)}", f"0321-{_n(r, 7)}")),
    lambda r: r.choice((f"+91 98{_n(r, 3)} {_n(r, 5)}", f"+91-70{_n(r, 8)}")),
    lambda r: r.choice((f"+81 70-{_n(r, 4)}-{_n(r, 4)}", f"090 {_n(r, 4)} {_n(r, 4)}")),
    lambda r: r.choice((f"+55 (11) 9{_n(r, 4)}-{_n(r, 4)}", f"(31) 9{_n(r, 4)}-{_n(r, 4)}")),
    lambda r: r.choice((f"+52 1 33 {_n(r, 4)} {_n(r, 4)}", f"+52 81 {_n(r, 4)} {_n(r, 4)}")),
    lambda r: r.choice((f"+48 60{_n(r, 1)} {_n(r, 3)} {_n(r, 3)}", f"+31 (0)6 {_n(r, 8)}")),
)


def phone_m(rnd: random.Random) -> str:
    return rnd.choice(_PHONE_WRITERS)(rnd)


_FIRST = ["agnieszka", "bjorn", "chidi", "dagny", "emeka", "farah", "gustavo", "hanne", "ilias",
          "jolene", "kasimir", "leilani", "matteo", "nadia", "odette", "pavel", "quentin", "rosa"]
_LAST = ["achterberg", "bianchi", "castellanos", "dubois", "eriksen", "fitzgerald", "gallagher",
         "haugland", "ivanova", "jankowski", "kowalczyk", "lemaire", "mbeki", "novak", "okafor"]
_DOMAINS = ["gmail.com", "hotmail.com", "yahoo.com", "gmx.de", "web.de", "orange.fr", "free.fr",
            "virgilio.it", "o2.pl", "centrum.cz", "mail.ru", "yandex.com", "zoho.com", "aol.com",
            "me.com", "pm.me", "haugland-fiske.no", "okafor-legal.ng", "castellanos-vinos.es",
            "achterberg-bouw.nl", "gallagher-dental.ie", "novak-tiskarna.cz"]


def email_m(rnd: random.Random) -> str:
    first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
    local = rnd.choice((f"{first}.{last}", f"{first[0]}.{last}", f"{first}{last[:3]}{_n(rnd, 2)}",
                        f"{last}-{first}", f"{first}+bank", f"{first}.{last}{rnd.randint(60, 99)}",
                        f"{first.capitalize()}.{last.capitalize()}"))
    return f"{local}@{rnd.choice(_DOMAINS)}"


def ipv4_m(rnd: random.Random) -> str:
    first = rnd.choice((2, 23, 45, 52, 64, 71, 79, 84, 89, 94, 103, 118, 130, 147, 152, 159, 165,
                        176, 185, 188, 194, 195, 201, 209, 216, 220))
    return f"{first}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"


def ipv6_m(rnd: random.Random) -> str:
    head = rnd.choice(("2a03:2880", "2a00:1450", "2606:4700", "2a05:d014", "2001:4860",
                       "2400:cb00", "2620:fe", "2a01:4f8", "2804:14c", "2405:200"))
    parts = head.split(":")
    while len(parts) < 8:
        parts.append(format(rnd.getrandbits(16), "x"))
    if rnd.random() < 0.45:
        return ":".join(parts[:3]) + "::" + ":".join(parts[6:])
    return ":".join(parts)


# --- secret values --------------------------------------------------------------------------

_WORDS = ["copper", "walrus", "meadow", "tundra", "saffron", "harbor", "pixel", "glacier", "nutmeg",
          "falcon", "cactus", "mosaic", "violet", "ferret", "sierra", "biscuit", "zephyr", "lagoon"]
_SYMBOLS = "!@#$%^&*()-_=+[]{};:,.<>?/~|"


def password_m(rnd: random.Random) -> str:
    """A password as people and password managers make them."""
    style = rnd.randrange(8)
    if style == 0:  # a manager's random string
        while True:
            value = _r(rnd, rnd.choice((14, 18, 22, 32)), _ALNUM + _SYMBOLS)
            if any(c in _SYMBOLS for c in value) and any(c.isdigit() for c in value):
                return value
    if style == 1:  # a manager's passphrase
        words = rnd.sample(_WORDS, rnd.choice((3, 4, 5)))
        return rnd.choice(("-", "_", ".", "~")).join(words) + str(rnd.randint(1, 99))
    if style == 2:  # a name, a year and a mark
        return rnd.choice(("Barcelona", "Liverpool", "Bella", "Snickers", "Marigold")) + str(
            rnd.randint(1979, 2026)) + rnd.choice("!?#.$")
    if style == 3:  # a sentence with spaces
        return f"{rnd.choice(_WORDS).capitalize()} ate {rnd.randint(3, 99)} {rnd.choice(_WORDS)}s!"
    if style == 4:  # with a quote or a backslash
        return _r(rnd, 5) + rnd.choice(("'", '"', "\\", "`")) + _r(rnd, 7) + rnd.choice("@%&")
    if style == 5:  # an Apple-style generated password
        return "-".join(_r(rnd, 6, _LO + _DG) for _ in range(3))
    if style == 6:  # a keyboard walk with a twist
        return rnd.choice(("Qwerty", "Asdf", "Zxcv")) + _n(rnd, 4) + rnd.choice(("!!", "#1", "$$"))
    return _r(rnd, 3, _UP) + rnd.choice(_SYMBOLS) + _r(rnd, 6, _LO) + _n(rnd, 3)


def url_password_m(rnd: random.Random) -> str:
    """The password part of a URL, percent-encoded as it must be there."""
    return quote(password_m(rnd), safe="-_.~!*")


def _b64u(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()) \
        .decode().rstrip("=")


def jwt_m(rnd: random.Random) -> str:
    header = {"alg": rnd.choice(("RS256", "PS256", "ES384", "HS256")), "typ": "JWT"}
    if rnd.random() < 0.6:
        header["kid"] = _r(rnd, 16, _URLSAFE)
    payload = {"iss": rnd.choice(("https://login.castellanos-vinos.es", "https://sso.novak-tiskarna.cz",
                                  "https://auth.haugland-fiske.no/realms/staff")),
               "sub": _guid(rnd), "aud": rnd.choice(("api", "account", "payments")),
               "iat": 1796500000 + rnd.randint(0, 10 ** 6),
               "exp": 1796600000 + rnd.randint(0, 10 ** 6),
               "email": email_m(rnd)}
    sig = _r(rnd, rnd.choice((43, 64, 86, 342)), _URLSAFE)
    return f"{_b64u(header)}.{_b64u(payload)}.{sig}"


def private_key_m(rnd: random.Random) -> str:
    kind = rnd.choice(("RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY",
                       "DSA PRIVATE KEY"))
    body = {"OPENSSH PRIVATE KEY": "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"
            + _r(rnd, 340, _B64),
            "EC PRIVATE KEY": "MHcCAQEEI" + _r(rnd, 112, _B64),
            "RSA PRIVATE KEY": "MIIEowIBAAKCAQEA" + _r(rnd, 1560, _B64),
            "PRIVATE KEY": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + _r(rnd, 1590, _B64),
            "DSA PRIVATE KEY": "MIIBuwIBAAKBgQ" + _r(rnd, 580, _B64)}[kind]
    width = 70 if "OPENSSH" in kind else 64
    rows = [body[i:i + width] for i in range(0, len(body), width)]
    return f"-----BEGIN {kind}-----\n" + "\n".join(rows) + f"\n-----END {kind}-----"


def aws_session_m(rnd: random.Random) -> str:
    if rnd.random() < 0.7:
        return "IQoJb3JpZ2luX2VjE" + _r(rnd, 6, _B64) + "//////////" + _r(rnd, 500, _B64) + "="
    return "FQoGZXIvYXdzE" + _r(rnd, 10, _B64) + "//////////" + _r(rnd, 300, _B64)


#: Vendors' documented token formats (prefix, length and alphabet as the vendor documents them).
_VENDOR_TOKENS: tuple[Callable[[random.Random], str], ...] = (
    lambda r: "gsk_" + _r(r, 52),                                        # Groq
    lambda r: "pplx-" + _r(r, 48),                                       # Perplexity
    lambda r: "xai-" + _r(r, 80),                                        # xAI
    lambda r: "r8_" + _r(r, 37),                                         # Replicate
    lambda r: "nfp_" + _r(r, 36),                                        # Netlify
    lambda r: "fo1_" + _r(r, 43, _URLSAFE),                              # Fly.io
    lambda r: "rnd_" + _r(r, 32),                                        # Render
    lambda r: "bkua_" + _r(r, 40, _HX),                                  # Buildkite
    lambda r: "sgp_" + _r(r, 16, _HX) + "_" + _r(r, 40, _HX),            # Sourcegraph
    lambda r: "sk.eyJ1Ijoi" + _r(r, 50, _URLSAFE) + "." + _r(r, 22, _URLSAFE),  # Mapbox
    lambda r: "SK" + _r(r, 32, _HX),                                     # Twilio API key
    lambda r: "key-" + _r(r, 32, _HX),                                   # Mailgun
    lambda r: "tfp_" + _r(r, 44, _URLSAFE) + "_" + _r(r, 14, _URLSAFE),  # Typeform
    lambda r: "shpca_" + _r(r, 32, _HX),                                 # Shopify custom app
    lambda r: "shppa_" + _r(r, 32, _HX),                                 # Shopify private app
    lambda r: "CFPAT-" + _r(r, 43, _URLSAFE),                            # Contentful
    lambda r: "pnu_" + _r(r, 36),                                        # Prefect
    lambda r: "rdme_" + _r(r, 70, _LO + _DG),                            # ReadMe
    lambda r: "rubygems_" + _r(r, 48, _HX),                              # RubyGems
    lambda r: "oy2" + _r(r, 43, _LO + _DG),                              # NuGet
    lambda r: "CLOJARS_" + _r(r, 60, _HX),                               # Clojars
    lambda r: "AKCp" + _r(r, 69),                                        # JFrog Artifactory
    lambda r: "glc_" + _r(r, 60, _B64) + "=",                            # Grafana Cloud
    lambda r: "EAAA" + _r(r, 60, _URLSAFE),                              # Square access
    lambda r: "sq0csp-" + _r(r, 43, _URLSAFE),                           # Square OAuth secret
    lambda r: "access_token$production$" + _r(r, 16, _LO + _DG) + "$" + _r(r, 32, _HX),  # Braintree
    lambda r: "shippo_live_" + _r(r, 40, _HX),                           # Shippo
    lambda r: "EZAK" + _r(r, 54, _HX),                                   # EasyPost
    lambda r: "FLWSECK-" + _r(r, 32, _HX) + "-X",                        # Flutterwave
    lambda r: "duffel_live_" + _r(r, 43, _URLSAFE),                      # Duffel
    lambda r: "ATBB" + _r(r, 32) + _r(r, 8, _HXU),                       # Bitbucket app password
    lambda r: "dp.pt." + _r(r, 43),                                      # Doppler personal
    lambda r: "dp.st." + r.choice(("prd", "dev")) + "." + _r(r, 40),     # Doppler service
    lambda r: "pscale_tkn_" + _r(r, 43, _URLSAFE),                       # PlanetScale
    lambda r: "dop_v1_" + _r(r, 64, _HX),                                # DigitalOcean
    lambda r: "HRKU-AA" + _r(r, 58, _URLSAFE),                           # Heroku
    lambda r: "ntn_" + _n(r, 11) + _r(r, 35),                            # Notion (2024 format)
    lambda r: "sntrys_eyJpYXQiOjE3" + _r(r, 80, _B64),                  # Sentry org
    lambda r: "sk-or-v1-" + _r(r, 64, _HX),                             # OpenRouter
    lambda r: "lsv2_pt_" + _r(r, 32, _HX) + "_" + _r(r, 10, _HX),        # LangSmith
)

SECRETS_M: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: r.choice(("AKIA", "AKIA", "ASIA", "AKIA")) + _r(r, 16, _BASE32),
    "aws_secret_access_key": lambda r: _r(r, 40, _B64),
    "aws_session_token": aws_session_m,
    "azure_sas_signature": lambda r: quote(base64.b64encode(r.randbytes(32)).decode(), safe=""),
    "github_token": lambda r: r.choice((
        "ghp_" + _r(r, 36), "gho_" + _r(r, 36), "ghs_" + _r(r, 36), "ghu_" + _r(r, 36),
        "github_pat_11" + _r(r, 20, _UP + _DG) + "_" + _r(r, 59))),
    "gitlab_token": lambda r: r.choice((
        "glpat-" + _r(r, 20, _URLSAFE), "glptt-" + _r(r, 40, _HX), "gldt-" + _r(r, 20, _URLSAFE),
        "glsoat-" + _r(r, 20, _URLSAFE), "glrt-" + _r(r, 20, _URLSAFE))),
    "slack_token": lambda r: r.choice((
        "xoxb-" + _n(r, 13) + "-" + _n(r, 13) + "-" + _r(r, 24),
        "xoxp-" + _n(r, 12) + "-" + _n(r, 12) + "-" + _n(r, 13) + "-" + _r(r, 32, _HX),
        "xapp-1-A" + _r(r, 10, _UP + _DG) + "-" + _n(r, 13) + "-" + _r(r, 64, _HX))),
    "stripe_key": lambda r: r.choice((
        "sk_live_51" + _r(r, 97), "rk_live_51" + _r(r, 97), "whsec_" + _r(r, 32),
        "sk_live_" + _r(r, 24))),
    "openai_api_key": lambda r: r.choice(("sk-proj-", "sk-proj-", "sk-svcacct-", "sk-"))
    + _r(r, 74, _URLSAFE) + "T3BlbkFJ" + _r(r, 74, _URLSAFE),
    "anthropic_api_key": lambda r: r.choice(("sk-ant-api03-", "sk-ant-api03-", "sk-ant-admin01-"))
    + _r(r, 93, _URLSAFE) + "AA",
    "jwt": jwt_m,
    "private_key": private_key_m,
    "npm_token": lambda r: "npm_" + _r(r, 36),
    "huggingface_token": lambda r: "hf_" + _r(r, 34, string.ascii_letters),
    "sendgrid_api_key": lambda r: "SG." + _r(r, 22, _URLSAFE) + "." + _r(r, 43, _URLSAFE),
    "google_api_key": lambda r: "AIza" + _r(r, 35, _URLSAFE),
    "telegram_bot_token": lambda r: str(r.randint(10 ** 8, 7 * 10 ** 9)) + ":AA"
    + _r(r, 33, _URLSAFE),
    "vendor_token": lambda r: r.choice(_VENDOR_TOKENS)(r),
    "client_secret": lambda r: r.choice((
        _r(r, 3) + "8Q~" + _r(r, 34, _ALNUM + "_~.-"),                      # Entra ID
        "GOCSPX-" + _r(r, 28, _URLSAFE),                                    # Google OAuth
        _r(r, 40, _HX),                                                     # GitHub OAuth app
        _r(r, 64, _URLSAFE),                                                # Auth0
        "0oa" + _r(r, 17) + ":" + _r(r, 40, _URLSAFE))),                    # Okta id:secret
    "password": password_m,
    "url_password": url_password_m,
}

PERSONAL_M: dict[str, Callable[[random.Random], str]] = {
    "email": email_m, "phone": phone_m, "payment_card": card_m, "iban": iban_m,
    "us_ssn": ssn_m, "ipv4": ipv4_m, "ipv6": ipv6_m}
#: Every type set M plants: the names set L uses.
KINDS_M = tuple(sorted({**SECRETS_M, **PERSONAL_M}))

#: Type -> (identifier words, how a person names it).
_NAMING: dict[str, tuple[Sequence[Sequence[str]], Sequence[str]]] = {
    "email": ((("email",), ("reply", "to"), ("owner", "email"), ("alert", "email")),
              ("email", "e-mail", "personal email", "email address", "mail")),
    "phone": ((("phone",), ("mobile", "number"), ("contact", "phone"), ("callback",)),
              ("phone", "mobile", "cell", "phone number", "WhatsApp number")),
    "payment_card": ((("card", "no"), ("card", "number"), ("cc",)),
                     ("card", "card number", "debit card", "credit card", "card on file")),
    "iban": ((("iban",), ("account", "iban"), ("beneficiary", "iban")),
             ("IBAN", "bank account (IBAN)", "account number", "IBAN for the deposit")),
    "us_ssn": ((("ssn",), ("tax", "id"), ("social", "security")),
               ("SSN", "social security number", "Social Security No.", "SSN/TIN")),
    "ipv4": ((("remote", "ip"), ("client", "address"), ("origin", "ip")),
             ("IP", "IP address", "home IP", "office IP")),
    "ipv6": ((("remote", "ipv6"), ("client", "v6")), ("IPv6 address", "v6 address")),
    "aws_access_key_id": ((("aws", "access", "key", "id"), ("access", "key", "id")),
                          ("AWS access key ID", "access key")),
    "aws_secret_access_key": ((("aws", "secret", "access", "key"), ("secret", "key")),
                              ("AWS secret", "secret access key")),
    "aws_session_token": ((("aws", "session", "token"),), ("session token", "STS token")),
    "azure_sas_signature": ((("blob", "sas", "url"), ("share", "link")),
                            ("SAS URL", "blob link")),
    "github_token": ((("github", "token"), ("gh", "pat")), ("GitHub token", "PAT")),
    "gitlab_token": ((("gitlab", "token"), ("ci", "token")), ("GitLab token", "deploy token")),
    "slack_token": ((("slack", "token"), ("slack", "app", "token")), ("Slack token",)),
    "stripe_key": ((("stripe", "key"), ("stripe", "secret")), ("Stripe key", "live key")),
    "openai_api_key": ((("openai", "key"), ("openai", "api", "key")), ("OpenAI key",)),
    "anthropic_api_key": ((("anthropic", "key"),), ("Anthropic key", "Claude key")),
    "jwt": ((("auth", "token"), ("bearer", "token"), ("session",)),
            ("bearer token", "JWT", "auth token")),
    "private_key": ((("private", "key"), ("ssh", "key")), ("private key", "SSH key")),
    "npm_token": ((("npm", "token"),), ("npm token",)),
    "huggingface_token": ((("hf", "token"), ("huggingface", "token")), ("HF token",)),
    "sendgrid_api_key": ((("sendgrid", "key"),), ("SendGrid key",)),
    "google_api_key": ((("google", "key"), ("gmaps", "key")), ("Google API key",)),
    "telegram_bot_token": ((("bot", "token"),), ("Telegram bot token", "bot token")),
    "vendor_token": ((("api", "key"), ("api", "token"), ("token",)),
                     ("API key", "token", "API token", "key")),
    "client_secret": ((("client", "secret"), ("oauth", "secret")),
                      ("client secret", "app secret")),
    "password": ((("password",), ("pass",), ("pwd",), ("login", "password")),
                 ("password", "pass", "login", "PIN and password", "passphrase")),
    "url_password": ((("db", "url"), ("connection", "uri"), ("amqp", "url")),
                     ("connection string", "database URL")),
}

_URL_SHAPES = (
    "postgres://app_rw:{v}@db1.achterberg-bouw.nl:5432/crm",
    "mysql://wp:{v}@10.20.0.7:3306/wordpress",
    "amqps://orders:{v}@mq.castellanos-vinos.es/prod",
    "mongodb+srv://etl:{v}@cluster0.novak-tiskarna.cz/reports",
    "rediss://default:{v}@cache.gallagher-dental.ie:6380/0",
    "sftp://backup:{v}@files.haugland-fiske.no/srv/dumps",
)


def _wrap(type_: str, value: str, rnd: random.Random) -> str:
    """The text a value sits in: a URL for passwords in URLs and for SAS signatures."""
    if type_ == "url_password":
        return rnd.choice(_URL_SHAPES).replace("{v}", value)
    if type_ == "azure_sas_signature":
        account = rnd.choice(("clinicscans", "payrollexports", "tenantdocs"))
        return (f"https://{account}.blob.core.windows.net/shared/{_n(rnd, 6)}.zip?sv=2023-11-03"
                f"&st=2026-12-08T09%3A00%3A00Z&se=2027-01-08T09%3A00%3A00Z&sr=b&sp=rl&sig={value}")
    return value


# --- decoys --------------------------------------------------------------------------------


def _fake_phone(rnd: random.Random) -> str:
    return rnd.choice((f"(202) 555-01{_n(rnd, 2)}", f"+1 617 555 01{_n(rnd, 2)}",
                       f"555-01{_n(rnd, 2)}", f"07700 900{_n(rnd, 3)}",
                       f"+44 20 7946 0{_n(rnd, 3)}", f"020 7946 0{_n(rnd, 3)}"))


def _doc_v4(rnd: random.Random) -> str:
    return rnd.choice(("192.0.2.", "198.51.100.", "203.0.113.")) + str(rnd.randint(1, 254))


def _doc_v6(rnd: random.Random) -> str:
    return f"2001:db8:{format(rnd.getrandbits(16), 'x')}::{format(rnd.getrandbits(12), 'x')}"


def _doc_mail(rnd: random.Random) -> str:
    return f"{rnd.choice(_FIRST)}@" + rnd.choice(
        ("example.com", "example.org", "example.net", "demo.example", "corp.test",
         "nowhere.invalid"))


def _mask_card(rnd: random.Random) -> str:
    return rnd.choice(("xxxx xxxx xxxx ", "************", "**** ", "#### #### #### ")) + _n(rnd, 4)


def _mask_iban(rnd: random.Random) -> str:
    return rnd.choice(("NL** ****", "DE** **** **** ****", "ES** **** **** ****")) + " " \
        + _n(rnd, 4)


def _mask_ssn(rnd: random.Random) -> str:
    return rnd.choice(("XXX-XX-", "***-**-", "###-##-")) + _n(rnd, 4)


@attrs.frozen
class _Decoy:
    """A look-alike: it takes the slot of ``place``; ``words`` and ``what`` name it there;
    ``named`` decoys are only put where their name is written beside them."""

    place: str
    words: Sequence[str]
    what: str
    make: Callable[[random.Random], str]
    named: bool = False


_DECOYS: tuple[_Decoy, ...] = (
    _Decoy("payment_card", ("test", "card"), "test card number from the gateway docs",
           lambda r: r.choice(("4242 4242 4242 4242", "4111-1111-1111-1111", "5555555555554444",
                               "3782 822463 10005", "6011 1111 1111 1117", "5105105105105100")),
           True),
    _Decoy("payment_card", ("card", "number"), "card", _mask_card),
    _Decoy("iban", ("sample", "iban"), "sample IBAN from the registry",
           lambda r: r.choice(("GB82 WEST 1234 5698 7654 32", "DE89370400440532013000",
                               "NL91ABNA0417164300", "FR14 2004 1010 0505 0001 3M02 606")), True),
    _Decoy("iban", ("iban",), "IBAN", _mask_iban),
    _Decoy("us_ssn", ("ssn",), "SSN", _mask_ssn),
    _Decoy("us_ssn", ("specimen", "ssn"), "SSN from the specimen card", lambda r: "078-05-1120",
           True),
    _Decoy("phone", ("phone",), "phone", _fake_phone),
    _Decoy("email", ("email",), "email", _doc_mail),
    _Decoy("ipv4", ("remote", "ip"), "IP", _doc_v4),
    _Decoy("ipv6", ("remote", "ipv6"), "IPv6 address", _doc_v6),
    _Decoy("aws_access_key_id", ("aws", "access", "key", "id"), "AWS access key ID",
           lambda r: "AKIAIOSFODNN7EXAMPLE"),
    _Decoy("aws_secret_access_key", ("aws", "secret", "access", "key"), "AWS secret",
           lambda r: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    _Decoy("password", ("password",), "password",
           lambda r: r.choice(("<password>", "********", "changeme-in-prod", "[REDACTED]",
                               "•••••••••", "<ask Pavel>", "n/a (SSO)"))),
    _Decoy("vendor_token", ("api", "key"), "API key",
           lambda r: r.choice(("YOUR_API_KEY", "<token>", "xxxx-xxxx-xxxx-xxxx", "sk-...",
                               "REPLACE_WITH_TOKEN", "0000000000000000"))),
    _Decoy("vendor_token", ("sha256",), "SHA-256 of the release tarball",
           lambda r: _r(r, 64, _HX), True),
    _Decoy("vendor_token", ("revision",), "git revision", lambda r: _r(r, 40, _HX), True),
    _Decoy("vendor_token", ("trace", "id"), "trace ID", lambda r: _r(r, 32, _HX), True),
    _Decoy("vendor_token", ("correlation", "id"), "correlation ID", _guid, True),
    _Decoy("jwt", ("example", "jwt"), "example JWT from the RFC 7519 text",
           lambda r: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6"
           "IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
           True),
    _Decoy("github_token", ("github", "token"), "GitHub token",
           lambda r: r.choice(("ghp_************************************", "ghp_xxxxxxxxxxxx",
                               "github_pat_<redacted>"))),
    _Decoy("stripe_key", ("stripe", "key"), "Stripe key",
           lambda r: r.choice(("sk_live_...", "sk_live_<your key>", "sk_live_************4f2a"))),
)


def _mutate(value: str, rnd: random.Random) -> str:
    """``value`` with one digit changed, so its check digit fails."""
    spots = [i for i, c in enumerate(value) if c.isdigit()]
    spots = spots[4:] or spots[2:]
    at = rnd.choice(spots)
    new = value[:at] + rnd.choice([c for c in _DG if c != value[at]]) + value[at + 1:]
    assert not (luhn_valid(new) if value[:2].isdigit() else iban_valid(new))
    return new


# --- artifacts -----------------------------------------------------------------------------

_PERSONAL = frozenset({"email", "phone", "payment_card", "iban", "us_ssn"})
_TOKENS = frozenset({"vendor_token", "github_token", "gitlab_token", "slack_token", "stripe_key",
                     "openai_api_key", "anthropic_api_key", "npm_token", "huggingface_token",
                     "sendgrid_api_key", "google_api_key", "telegram_bot_token", "jwt"})


def _only(template: str, types: str) -> tuple[str, frozenset[str]]:
    return template, frozenset(types.split())


@attrs.frozen
class _Artifact:
    """One kind of document. ``lines`` are templates with ``{k}`` (an identifier in the
    artifact's ``case``), ``{K}`` (upper case), ``{w}`` (how a person names the value) and
    ``{v}``, either alone (any type) or with the types they suit; ``pem`` is a template a
    private key fits in; ``holds`` restricts the types; ``refs`` are the artifact's own ways
    of pointing at a secret kept elsewhere (look-alikes in a password's or token's place)."""

    prose: bool
    head: tuple[str, ...]
    lines: tuple[str | tuple[str, frozenset[str]], ...]
    filler: tuple[str, ...]
    tail: tuple[str, ...] = ()
    case: str = "snake"
    escape: str = ""
    avoid: str = ""
    pem: str = ""
    holds: frozenset[str] = frozenset()
    refs: tuple[str, ...] = ()


_A = _Artifact
_MASTODON = '  {{"type": "Create", "published": "2026-12-0{}T1{}:0{}:00Z", "content": "<p>'
_SEP = (" \t'\"\\`#;")

_ARTIFACTS: dict[str, _Artifact] = {
    # --- prose ---
    "mastodon_dm_export": _A(
        True, ('{"@context": "https://www.w3.org/ns/activitystreams", "type": "OrderedCollection",',
               ' "orderedItems": ['),
        (_MASTODON.format(3, 4, 1) + 'hey, the {w} is {v} - delete this after</p>"},',
         _MASTODON.format(3, 4, 2) + '@hanne {w}: {v}</p>"},',
         _MASTODON.format(4, 1, 5) + 'sorry, wrong one. correct {w} → {v}</p>"},'),
        (_MASTODON.format(3, 4, 3) + 'got it, thanks!</p>"},',
         _MASTODON.format(4, 1, 6) + 'np</p>"},'),
        (_MASTODON.format(5, 2, 0) + 'see you at the meetup</p>"}', "]}"),
        escape="json", avoid=" <>&"),
    "wechat_history": _A(
        True, ("WeChat chat history with 陈思 (Chen Si)", "————— 2026-12-06 —————"),
        ("陈思 21:04\n发我你的{w}: {v}", "Me 21:05\nmy {w} is {v}",
         "陈思 21:09\nok the {w} for the hotel booking: {v} 谢谢"),
        ("Me 21:06\n[Sticker]", "陈思 21:07\n好的", "Me 21:10\n[Voice message 0:07]"),
        avoid=" ", holds=_PERSONAL | {"password"}),
    "threema_chat": _A(
        True, ("Threema chat export - Kasimir Novak", ""),
        ("[08.12.26, 07:41] Kasimir Novak: here's the {w} {v}",
         "[08.12.26, 07:43] Me: {w} = {v}, can you check?",
         "[08.12.26, 07:52] Kasimir Novak: new {w}: {v} (old one is dead)"),
        ("[08.12.26, 07:42] Me: 👍", "[08.12.26, 07:44] Kasimir Novak: works",
         "[08.12.26, 07:53] Me: thx"),
        avoid=" ", holds=_PERSONAL | {"password", "vendor_token", "ipv4", "openai_api_key"}),
    "github_discussion": _A(
        True, ("### Worker cannot authenticate after upgrading to 4.2", "",
               "**odette-l** started this discussion in Q&A", ""),
        ("My config looks like this:\n\n    {K}={v}", "I even pasted the {w} `{v}` straight in.",
         "> Reply from **pavel-n**: is `{v}` the {w} you created yesterday?",
         "Update: the {w} was {v}, which I have now revoked."),
        ("Any ideas?", "Upvote if you see this too.", "Marked as answer by odette-l"),
        avoid=_SEP, pem="    key.pem:\n{v}"),
    "phabricator_task": _A(
        True, ("T48127 Sync job fails against the partner SFTP", "Priority: High", ""),
        ("**matteo** added a comment.\n  The {w} they sent us is {v}",
         "**rosa** added a comment.\n  Tried with {w} {v}, same error.",
         "**matteo** edited the task description. ({w}: {v})"),
        ("**rosa** moved this task from Backlog to In Progress.",
         "**matteo** added a subscriber: #infra.", "**rosa** awarded a token."),
        avoid=" ()"),
    "youtrack_comment": _A(
        True, ("SUP-2291  Customer cannot log in to the portal",
               "State: Open  Assignee: emeka", ""),
        ("Dagny Eriksen commented: customer's {w}: {v}",
         "Emeka Okafor commented: verified the {w} {v} against the CRM record",
         "Dagny Eriksen commented: please reset, the {w} she uses is {v}"),
        ("Emeka Okafor changed State: Open → In Progress", "Dagny Eriksen attached screenshot.png",
         "Emeka Okafor commented: waiting for the customer"),
        avoid=" ", holds=_PERSONAL | {"password", "ipv4", "ipv6", "jwt"}),
    "redmine_journal": _A(
        True, ("Bug #9312: Nightly export to the accountant fails", "",
               "Updated by Ilias Bianchi 2 days ago"),
        ("Notes: the accountant's {w} is {v}, use that for the test run",
         "Notes: pasted the {w} here for now: {v}",
         "* Notes changed ({w} {v} removed later)"),
        ("* Status changed from New to Assigned", "* % Done changed from 0 to 30",
         "Updated by Farah Mbeki 1 day ago"),
        avoid=" ,()"),
    "vulnerability_report": _A(
        True, ("## Summary", "Hard-coded credential exposed in the public mobile bundle.", "",
               "## Steps to reproduce"),
        ("1. Download the APK and unzip it. In `res/values/strings.xml` the {w} is {v}",
         "2. Call the API with it:\n\n    curl -H 'Authorization: Bearer {v}' https://api.okafor-legal.ng/v2/me",
         "3. The response leaks another user's {w}: {v}"),
        ("## Impact", "Account takeover of any customer.", "## Supporting material"),
        ("", "Reported by jolene-sec (CVSS 8.1)"),
        avoid=_SEP, pem="    -- found in assets/keys/ --\n{v}"),
    "rental_host_message": _A(
        True, ("Message from your host, Leilani", "Reservation HMZ4KQ2 · 3 nights", ""),
        (_only("Hi! The door code and Wi-Fi {w}: {v}", "password"),
         _only("If anything breaks call my {w} {v}", "phone"),
         _only("For the deposit refund please send your {w}, e.g. {v}", "iban payment_card"),
         "Guest: sure, here it is: {v}"),
        ("Check-in is from 3pm.", "Parking is on the street, free after 6pm.",
         "Enjoy your stay!"),
        avoid=" ,", holds=_PERSONAL | {"password"}),
    "power_of_attorney": _A(
        True, ("DURABLE POWER OF ATTORNEY FOR FINANCES", "",
               "I, Gustavo Castellanos, appoint Rosa Castellanos as my agent."),
        ("Principal's {w}: {v}", "Agent's {w}: {v}",
         _only("My agent may operate the account with {w} {v} on my behalf.", "iban payment_card")),
        ("This power of attorney takes effect immediately.", "Signed in the presence of a notary.",
         "Witness: ____________________"),
        avoid=" ", holds=_PERSONAL),
    "scholarship_application": _A(
        True, ("Hollis Foundation Scholarship - Application 2027", "Section 1: Applicant", ""),
        ("Applicant {w}: {v}", "Parent/guardian {w}: {v}",
         _only("Award payments are made to the student's {w}: {v}", "iban")),
        ("Intended major: Marine Biology", "GPA: 3.8", "Essay attached: yes"),
        avoid=" ", holds=_PERSONAL),
    "daycare_enrollment": _A(
        True, ("Little Acorns Daycare - Enrollment Form",
               "Child: Odette Lemaire (DOB 2023-04-11)", ""),
        ("Parent 1 {w}: {v}", _only("Emergency contact ({w}): {v}", "phone email"),
         _only("Monthly fees will be debited from {w} {v}", "iban payment_card")),
        ("Allergies: peanuts", "Pick-up authorised: grandmother", "Start date: 2027-01-04"),
        avoid=" ", holds=_PERSONAL),
    "beneficiary_designation": _A(
        True, ("BENEFICIARY DESIGNATION - Group Life Plan", "Employee: Bjorn Haugland", ""),
        ("Primary beneficiary {w}: {v}", "Contingent beneficiary {w}: {v}",
         "Employee {w} (required): {v}"),
        ("Relationship: spouse", "Share: 100%", "Revokes all earlier designations."),
        avoid=" ", holds=_PERSONAL),
    "direct_deposit_form": _A(
        True, ("DIRECT DEPOSIT AUTHORIZATION", "Employee name: Chidi Okafor", ""),
        (_only("Account for the deposit ({w}): {v}", "iban"), "Employee {w}: {v}",
         _only("Send the confirmation to my {w} {v}", "email phone")),
        ("Account type: Checking", "Deposit: 100% of net pay", "Employee signature: C. Okafor"),
        avoid=" ", holds=_PERSONAL),
    "dictated_memo": _A(
        True, ("Transcript of dictation, recorded 2026-12-07 17:22 (auto-generated)", ""),
        ("Memo to Nadia. Please note the client's new {w}, that is {v}, period.",
         _only("Also the {w} for the online portal is {v}, and please don't write it down.",
               "password email"),
         _only("Call him back on {v} before Friday, new paragraph.", "phone")),
        ("End of memo.", "Comma, the meeting moved to Thursday, period.",
         "Copy to the file, please."),
        avoid=" ,.", holds=_PERSONAL | {"password"}),
    "removal_quote_request": _A(
        True, ("Request a removal quote", "Moving from: Utrecht  Moving to: Lyon", ""),
        ("Your {w}: {v}", _only("Best {w} to reach you: {v}", "phone email"),
         _only("Deposit will be charged to {w}: {v}", "payment_card iban")),
        ("Number of rooms: 3", "Piano: no", "Preferred date: 2027-02-14"),
        avoid=" ", holds=_PERSONAL),
    "tutoring_booking": _A(
        True, ("New booking: Maths (GCSE) with Quentin", "Sessions: 6 x 60 min", ""),
        ("Parent {w}: {v}", "Student's {w}: {v}",
         _only("Paid by {w} {v}", "payment_card iban")),
        ("Notes: focus on algebra", "Location: online", "Cancellation: 24 h notice"),
        avoid=" ", holds=_PERSONAL),
    "club_newsletter": _A(
        True, ("Riverside Rowing Club - December newsletter", ""),
        (_only("Membership fees for 2027 go to the club's {w} {v} - please put your name as "
               "reference.", "iban"),
         _only("Questions to our treasurer Agnieszka: {v}", "email phone"),
         _only("The boathouse alarm {w} has changed to {v}, don't share it outside the club.",
               "password")),
        ("The Christmas row is on the 20th.", "Well done to the novice eight!",
         "Volunteers needed for the regatta."),
        avoid=" ,", holds=frozenset({"iban", "email", "phone", "password"})),
    "kakaotalk_export": _A(
        True, ("Talk_2026.12.07 22:10-1.txt", "Chat with 박지민 (Park Jimin)", ""),
        ("2026. 12. 7. 오후 9:14, 박지민 : {w} 보내줘 → {v}",
         "2026. 12. 7. 오후 9:15, Me : my {w} is {v}",
         "2026. 12. 7. 오후 9:31, 박지민 : ok, {w} {v} 맞지?"),
        ("2026. 12. 7. 오후 9:16, 박지민 : 고마워!", "2026. 12. 7. 오후 9:20, Me : 이모티콘"),
        avoid=" ,", holds=_PERSONAL | {"password", "vendor_token", "github_token"}),
    "landlord_reference": _A(
        True, ("To whom it may concern,", "",
               "Gustavo Bianchi rented my flat at 14 Canal Walk from 2022 to 2026."),
        (_only("He always paid on time from his {w}, {v}.", "iban payment_card"),
         _only("You may reach me for questions on {v}.", "phone email"),
         "His current {w}, if you need it, is {v}."),
        ("I would rent to him again without hesitation.", "The deposit was returned in full."),
        ("", "Kind regards,", "Hanne Eriksen"),
        avoid=" ,.", holds=_PERSONAL),
    "lost_property_claim": _A(
        True, ("Lost property claim - Central Station",
               "Item: black backpack, left on platform 4", ""),
        ("Claimant {w}: {v}",
         _only("The wallet inside holds my {w} {v}, please don't use it", "payment_card"),
         _only("Reach me on {v} when it is found.", "phone email")),
        ("Date lost: 2026-12-05", "Reward offered: yes"),
        avoid=" ", holds=_PERSONAL),
    "school_trip_consent": _A(
        True, ("Year 8 trip to the Science Museum - consent slip", "Student: Leilani Novak", ""),
        (_only("Parent/carer {w} for the day of the trip: {v}", "phone email"),
         _only("I consent and pay the £18 fee with {w} {v}", "payment_card"),
         _only("Second contact ({w}): {v}", "phone email")),
        ("Medical needs: none", "Packed lunch: yes"),
        avoid=" ", holds=_PERSONAL),
    # --- machine text ---
    "dhall_config": _A(
        False, ("let Prelude = https://prelude.dhall-lang.org/v23.0.0/package.dhall", "in  {"),
        ('    , {k} = "{v}"', '    , {k} = Some "{v}"', '    -- {w}: {v}'),
        ("    , replicas = 3", "    , region = \"eu-west-1\""),
        ("    }",), case="camel", avoid='"\\ -{}', pem='    , {k} = \'\'\n{v}\n\'\'',
        refs=("env:DB_PASSWORD as Text", "env:API_TOKEN as Text")),
    "kdl_config": _A(
        False, ("service \"ledger\" {",),
        ('    {k} "{v}"', '    credential name="{k}" value="{v}"', "    // {w}: {v}"),
        ('    port 8443', '    replicas 2'),
        ("}",), case="kebab", avoid='"\\ '),
    "pkl_config": _A(
        False, ("amends \"package://pkg.pkl-lang.org/pkl-k8s/k8s@1.0.1#/K8sResource.pkl\"", ""),
        ('{k} = "{v}"', '{k}: String = "{v}"', "// {w}: {v}"),
        ("replicas = 2", "namespace = \"billing\""),
        case="camel", avoid='"\\ ', pem='{k} = """\n{v}\n"""',
        refs=('read("env:DB_PASSWORD")', 'read("prop:api.token")')),
    "emacs_init": _A(
        False, (";;; init.el --- personal configuration", "(require 'package)"),
        ('(setq {k} "{v}")', '(setq smtpmail-{k} "{v}")', ";; {w}: {v}"),
        ("(setq inhibit-startup-screen t)", "(global-set-key (kbd \"C-c g\") #'magit-status)"),
        ("(provide 'init)",), case="kebab", avoid='"\\ ',
        refs=('(auth-source-pick-first-password :host "api.example")',
              '(getenv "SMTP_PASSWORD")')),
    "fortran_namelist": _A(
        False, ("! run parameters for the ensemble job", "&remote"),
        ("  {k} = '{v}',", "  {k} = '{v}'", "! {w}: {v}"),
        ("  nsteps = 4800,", "  dt = 30.0,"),
        ("/",), avoid="' !,/&"),
    "delphi_source": _A(
        False, ("unit Settings;", "", "interface", "", "const"),
        ("  {K} = '{v}';", "  {k}: string = '{v}';", "  // {w}: {v}"),
        ("  MaxRetries = 3;", "  { keep in sync with the server }"),
        ("", "implementation", "", "end."), case="pascal", avoid="'{} ",
        refs=("GetEnvironmentVariable('DB_PASSWORD')",)),
    "gleam_source": _A(
        False, ("import gleam/http/request", "import envoy", ""),
        ('const {k} = "{v}"', 'pub const {k}: String = "{v}"', "// {w}: {v}"),
        ("// the retry budget is per request", "const timeout_ms = 5000"),
        ("", "pub fn main() {", "  Nil", "}"), avoid='"\\ ',
        refs=('envoy.get("DB_PASSWORD")',)),
    "d_source": _A(
        False, ("module app.config;", "", "import std.process : environment;", ""),
        ('enum {k} = "{v}";', 'immutable string {k} = "{v}";', "// {w}: {v}"),
        ("enum retries = 5;", "// see the wiki for the rotation"),
        case="camel", avoid='"\\ ', pem='enum {k} = `{v}`;',
        refs=('environment.get("DB_PASSWORD")',)),
    "squid_access_log": _A(
        False, (),
        (_only("1796712041.203    182 {v} TCP_TUNNEL/200 4821 CONNECT api.stripe.com:443 - "
               "HIER_DIRECT/api.stripe.com -", "ipv4 ipv6"),
         _only("1796712055.880     41 10.8.0.14 TCP_MISS/200 912 GET http://intranet.local/"
               "sync?{k}={v} - HIER_DIRECT/10.8.0.2 text/html", "vendor_token jwt github_token "
               "openai_api_key google_api_key email"),
         _only("1796712060.112     12 10.8.0.21 TCP_MISS/302 0 GET http://reports.local/"
               "login?user=ops&{k}={v} - HIER_DIRECT/10.8.0.3 -", "password")),
        ("1796712048.004      3 10.8.0.9 TCP_MEM_HIT/200 1530 GET http://updates.local/feed.xml "
         "- HIER_NONE/- text/xml",), holds=frozenset({"ipv4", "ipv6", "vendor_token", "jwt",
                                                     "github_token", "openai_api_key",
                                                     "google_api_key", "email", "password"}),
        avoid=" &?=#%+/"),
    "auditd_log": _A(
        False, (),
        (_only('type=USER_LOGIN msg=audit(1796712311.482:9912): pid=2211 uid=0 auid=1001 '
               'ses=4 msg=\'op=login acct="deploy" exe="/usr/sbin/sshd" hostname=? addr={v} '
               'terminal=ssh res=success\'', "ipv4 ipv6"),
         _only('type=EXECVE msg=audit(1796712320.019:9920): argc=4 a0="mysql" a1="-uroot" '
               'a2="-p{v}" a3="billing"', "password"),
         _only('type=EXECVE msg=audit(1796712330.551:9931): argc=3 a0="curl" a1="-H" '
               'a2="Authorization: Bearer {v}"', "vendor_token jwt github_token gitlab_token "
               "openai_api_key anthropic_api_key slack_token")),
        ('type=CWD msg=audit(1796712320.019:9920): cwd="/root"',
         "type=PROCTITLE msg=audit(1796712320.019:9920): proctitle=6D7973716C"),
        avoid=' "\'\\', holds=frozenset({"ipv4", "ipv6", "password"}) | _TOKENS),
    "windows_event_xml": _A(
        False, ('<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">',
                "  <System><EventID>4625</EventID><Channel>Security</Channel></System>",
                "  <EventData>"),
        (_only('    <Data Name="IpAddress">{v}</Data>', "ipv4 ipv6"),
         '    <Data Name="{k}">{v}</Data>',
         _only('    <Data Name="CommandLine">net use \\\\fs01\\share /user:ops {v}</Data>',
               "password")),
        ('    <Data Name="LogonType">3</Data>', '    <Data Name="Status">0xc000006d</Data>'),
        ("  </EventData>", "</Event>"), case="pascal", escape="xml", avoid=" "),
    "cisco_ios_config": _A(
        False, ("!", "hostname edge-rtr-02", "!"),
        (_only("enable secret 0 {v}", "password"),
         _only("username netops privilege 15 password 0 {v}", "password"),
         _only(" ip address {v} 255.255.255.252", "ipv4"),
         _only(" ipv6 address {v}/64", "ipv6"),
         _only("snmp-server contact {v}", "email phone"),
         _only("crypto isakmp key {v} address 0.0.0.0", "password")),
        ("interface GigabitEthernet0/1", " no shutdown", "!"),
        ("end",), avoid=" !?", holds=frozenset({"password", "ipv4", "ipv6", "email", "phone"}),
        refs=("<removed>",)),
    "mikrotik_export": _A(
        False, ("# dec/08/2026 09:12:44 by RouterOS 7.16", "# model = RB5009UG+S+"),
        (_only('/ppp secret add name=branch2 password="{v}" service=l2tp', "password"),
         _only("/ip address add address={v}/30 interface=ether1", "ipv4"),
         _only("/ipv6 address add address={v}/64 interface=ether1", "ipv6"),
         _only('/tool e-mail set from={v} server=smtp.gallagher-dental.ie', "email"),
         _only('/interface wireless security-profiles set [ find default=yes ] '
               'wpa2-pre-shared-key="{v}"',
               "password")),
        ("/ip dns set allow-remote-requests=no", "/system clock set time-zone-name=Europe/Dublin"),
        avoid=' "\\$?', holds=frozenset({"password", "ipv4", "ipv6", "email"})),
    "strongswan_secrets": _A(
        False, ("# /etc/ipsec.secrets - strongSwan IPsec secrets file",),
        (_only("# peer {v} shares the PSK on the next line", "ipv4 ipv6"),
         _only(': PSK "{v}"', "password"),
         _only('vpnuser : EAP "{v}"', "password"), "# {w}: {v}"),
        ("# one line per peer",),
        avoid='" \\#', pem=": RSA /etc/ipsec.d/private/gw.pem\n# copy of gw.pem:\n{v}",
        holds=frozenset({"password", "ipv4", "ipv6", "private_key"})),
    "msmtprc": _A(
        False, ("# ~/.msmtprc", "defaults", "auth on", "tls on", "", "account work",
                "host smtp.haugland-fiske.no", "port 587"),
        (_only("from {v}", "email"), _only("user {v}", "email"),
         _only("password {v}", "password"), "# {w}: {v}"),
        ("tls_trust_file /etc/ssl/certs/ca-certificates.crt", "logfile ~/.msmtp.log"),
        ("", "account default : work"), avoid=" #",
        holds=frozenset({"email", "password", "sendgrid_api_key", "vendor_token"})),
    "filezilla_sitemanager": _A(
        False, ('<?xml version="1.0" encoding="UTF-8"?>', '<FileZilla3 version="3.68.1">',
                "  <Servers>", "    <Server>"),
        (_only("      <Host>{v}</Host>", "ipv4 ipv6"), _only("      <User>{v}</User>", "email"),
         _only('      <Pass encoding="base64">{v}</Pass>', "password"),
         _only("      <Pass>{v}</Pass>", "password"),
         "      <Comments>{w}: {v}</Comments>"),
        ("      <Port>22</Port>", "      <Protocol>1</Protocol>"),
        ("    </Server>", "  </Servers>", "</FileZilla3>"), escape="xml", avoid=" ",
        holds=frozenset({"ipv4", "ipv6", "email", "password", "phone"})),
    "rabbitmq_definitions": _A(
        False, ('{"rabbit_version": "3.13.7",', ' "users": ['),
        (_only('  {"name": "billing", "password": "{v}", "tags": "management"},', "password"),
         '  {"name": "shovel", "password_hash": "", "tags": "", "{k}": "{v}"},',
         _only('  {"uri": "{v}"},', "url_password")),
        ('  {"name": "guest", "password_hash": "", "tags": ""},',),
        (' ],', ' "vhosts": [{"name": "/"}]}'), escape="json", avoid=" ",
        holds=frozenset({"password", "url_password", "email", "vendor_token"})),
    "mosquitto_conf": _A(
        False, ("# mosquitto.conf", "listener 8883", "cafile /etc/mosquitto/ca.crt"),
        (_only("bridge_address {v}:8883", "ipv4"), _only("remote_password {v}", "password"),
         _only("remote_username {v}", "email"), "# {w}: {v}"),
        ("persistence true", "log_dest syslog"),
        ("connection cloud-bridge", "topic sensors/# out 1"), avoid=" #",
        holds=frozenset({"ipv4", "ipv6", "password", "email", "vendor_token"})),
    "mt940_statement": _A(
        False, (":20:STMT2612080001", ":28C:00241/1"),
        (_only(":25:{v}", "iban"), _only(":86:/BENM//NAME/E. Okafor/IBAN/{v}/REMI/INVOICE 2291",
                                         "iban"),
         _only(":86:/ORDP//NAME/Achterberg Bouw/EMAIL/{v}", "email"),
         _only(":86:/CARD/{v}/POS PURCHASE", "payment_card")),
        (":60F:C261207EUR12450,00", ":61:2612081208D150,00NTRFNONREF", ":62F:C261208EUR12300,00"),
        holds=frozenset({"iban", "email", "payment_card"})),
    "pain001_xml": _A(
        False, ('<?xml version="1.0" encoding="UTF-8"?>',
                '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">',
                "  <CstmrCdtTrfInitn>"),
        (_only("    <DbtrAcct><Id><IBAN>{v}</IBAN></Id></DbtrAcct>", "iban"),
         _only("    <CdtrAcct><Id><IBAN>{v}</IBAN></Id></CdtrAcct>", "iban"),
         _only("    <Cdtr><CtctDtls><EmailAdr>{v}</EmailAdr></CtctDtls></Cdtr>", "email"),
         _only("    <Cdtr><CtctDtls><PhneNb>{v}</PhneNb></CtctDtls></Cdtr>", "phone")),
        ("    <PmtMtd>TRF</PmtMtd>", "    <InstdAmt Ccy=\"EUR\">1840.00</InstdAmt>"),
        ("  </CstmrCdtTrfInitn>", "</Document>"), escape="xml",
        holds=frozenset({"iban", "email", "phone"})),
    "qif_export": _A(
        False, ("!Type:Bank",),
        (_only("MTransfer to {v}", "iban"), _only("PCard {v}", "payment_card"),
         _only("MRefund to {v}", "email phone"), "M{w}: {v}"),
        ("D12/07'26", "T-42.50", "^"),
        holds=frozenset({"iban", "payment_card", "email", "phone", "us_ssn"})),
    "lastpass_csv": _A(
        False, ("url,username,password,totp,extra,name,grouping,fav",),
        (_only("https://portal.novak-tiskarna.cz,ops,{v},,,Portal,Work,0", "password"),
         _only('https://bank.example-bank.cz,pavel,"{v}",,,Bank,Personal,1', "password"),
         _only('http://sn,,,"NoteType:Credit Card\nNumber:{v}",Visa,Personal,0', "payment_card"),
         _only('http://sn,,,"NoteType:Bank Account\nIBAN:{v}",Bank,Personal,0', "iban"),
         _only('http://sn,,,"NoteType:Social Security\nNumber:{v}",SSN,Personal,0', "us_ssn"),
         _only("https://login.example-mail.cz,{v},,,,Mail,Personal,0", "email")),
        ("http://sn,,,,NoteType:Server,Old NAS,Work,0",),
        avoid=',"\n', holds=frozenset({"password", "payment_card", "iban", "us_ssn", "email"})),
    "stripe_cli_session": _A(
        False, ("$ stripe login",),
        (_only("$ stripe listen --forward-to localhost:4242/webhook --api-key {v}", "stripe_key"),
         _only("> Ready! Your webhook signing secret is {v} (^C to quit)", "stripe_key"),
         _only("$ stripe customers create --email={v}", "email"),
         _only("$ stripe customers update cus_R4k2 --phone=\"{v}\"", "phone")),
        ("2026-12-08 10:14:02   --> customer.created [evt_1QX]",
         "2026-12-08 10:14:02  <--  [200] POST http://localhost:4242/webhook"),
        holds=frozenset({"stripe_key", "email", "phone"})),
    "doctl_session": _A(
        False, ("$ doctl auth init --context billing",),
        (_only("Please authenticate doctl for use with your DigitalOcean account. You can "
               "generate a token in the control panel.\nEnter your access token: {v}",
               "vendor_token"),
         _only("$ doctl compute droplet create web-3 --size s-1vcpu-1gb --user-data "
               "'export {K}={v}'", "vendor_token github_token password openai_api_key"),
         _only("ID          Name     Public IPv4       Status\n3120044     web-3    {v}    active",
               "ipv4"),
         _only("$ doctl compute ssh web-3 --ssh-key-path ~/.ssh/id_ed25519  # {w}: {v}",
               "password")),
        ("Validating token... OK", "$ doctl account get"),
        avoid=" '#", case="upper",
        holds=frozenset({"vendor_token", "github_token", "password", "openai_api_key", "ipv4"})),
    "az_cli_session": _A(
        False, ("PS C:\\> az login --service-principal `",),
        (_only("  -u 2f1a6c1e-0d2b-4b53-9d57-0b8f2e6c1a44 -p {v} `", "client_secret password"),
         _only("PS C:\\> az storage blob generate-sas --full-uri ...\n\"{v}\"",
               "azure_sas_signature"),
         _only("PS C:\\> az webapp config appsettings set -n api --settings {K}={v}",
               "vendor_token openai_api_key anthropic_api_key sendgrid_api_key google_api_key "
               "stripe_key"),
         _only('  "publicIpAddress": "{v}",', "ipv4")),
        ("  --tenant contoso.onmicrosoft.com", '  "provisioningState": "Succeeded",'),
        avoid=" `'\"$", case="upper",
        holds=frozenset({"client_secret", "password", "azure_sas_signature", "vendor_token",
                         "openai_api_key", "anthropic_api_key", "sendgrid_api_key",
                         "google_api_key", "stripe_key", "ipv4"})),
    "wget_debug": _A(
        False, ("Setting --header (header) to X-Trace: 1", "DEBUG output created by Wget 1.24.5",
                "---request begin---", "GET /v1/export HTTP/1.1"),
        (_only("Authorization: Bearer {v}", "jwt vendor_token github_token openai_api_key "
                                            "anthropic_api_key huggingface_token npm_token"),
         _only("Cookie: session={v}", "jwt"),
         _only("{K}: {v}", "vendor_token google_api_key sendgrid_api_key slack_token"),
         _only("Connecting to api.ivanova-design.example|{v}|:443... connected.", "ipv4 ipv6")),
        ("Accept: */*", "Host: api.ivanova-design.example"),
        ("---request end---", "HTTP request sent, awaiting response... 200 OK"),
        case="pascal", holds=_TOKENS | {"ipv4", "ipv6"}),
}


# --- the composer ------------------------------------------------------------------------


def _identifier(words: Sequence[str], case: str) -> str:
    if case == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if case == "pascal":
        return "".join(w.capitalize() for w in words)
    if case == "kebab":
        return "-".join(words)
    if case == "upper":
        return "_".join(words).upper()
    return "_".join(words)


def _escape(text: str, art: _Artifact) -> str:
    if art.escape == "json":
        return json.dumps(text, ensure_ascii=False)[1:-1]
    if art.escape == "xml":
        return xml_escape(text, {'"': "&quot;"})
    return text


def _template_text(line: str | tuple[str, frozenset[str]]) -> str:
    return line if isinstance(line, str) else line[0]


def _suits(line: str | tuple[str, frozenset[str]], type_: str) -> bool:
    return isinstance(line, str) or type_ in line[1]


def _names_it(line: str | tuple[str, frozenset[str]]) -> bool:
    text = _template_text(line)
    return "{k}" in text or "{K}" in text or "{w}" in text


class _Document:
    def __init__(self, art: _Artifact) -> None:
        self.art = art
        self.text = ""
        self.planted: list[PlantedM] = []

    def line(self, text: str) -> None:
        self.text += text + "\n"

    def plant(self, template: str, value: str, shown: str, type_: str | None, decoy: str,
              private_key: bool = False) -> None:
        before, after = template.split("{v}", 1)
        value, shown = _escape(value, self.art), _escape(shown, self.art)
        start = len(self.text) + len(before) + shown.index(value)
        self.text += before + shown + after + "\n"
        assert self.text[start:start + len(value)] == value
        own_line = before.rsplit("\n", 1)[-1]
        prose = self.art.prose and not private_key and not own_line.startswith("    ")
        self.planted.append((start, start + len(value), type_, prose, decoy))


def _fill(rnd: random.Random, art: _Artifact, type_: str, words: Sequence[str], what: str,
          named: bool) -> str:
    if type_ == "private_key":
        text = art.pem
    else:
        text = _template_text(rnd.choice([line for line in art.lines if _suits(line, type_)
                                          and (_names_it(line) or not named)]))
    text = text.replace("{k}", _identifier(words, art.case))
    text = text.replace("{K}", _identifier(words, "upper")).replace("{w}", what)
    first = text.index("{v}") + 3
    return text[:first] + text[first:].replace("{v}", what)


def _make(rnd: random.Random, type_: str, art: _Artifact) -> str:
    make = {**SECRETS_M, **PERSONAL_M}[type_]
    for _ in range(400):
        value = make(rnd)
        if type_ == "private_key":
            own_line = art.pem.split("{v}")[0].rsplit("\n", 1)[-1]
            return value.replace("\n", "\n" + own_line) if own_line and not own_line.strip() \
                else value
        if type_ not in ("password", "url_password") or not any(c in art.avoid for c in value):
            return value
    raise AssertionError(f"no {type_} without {art.avoid!r}")


def _types_of(art: _Artifact) -> list[str]:
    types = sorted(art.holds) if art.holds else list(KINDS_M)
    return [t for t in types if (bool(art.pem) if t == "private_key"
                                 else any(_suits(line, t) for line in art.lines))]


def _decoys_of(art: _Artifact) -> list[_Decoy]:
    return [d for d in _DECOYS
            if (not art.holds or d.place in art.holds)
            and any(_suits(line, d.place) and (_names_it(line) or not d.named)
                    for line in art.lines)]


def _decoy_value(rnd: random.Random, decoy: _Decoy, art: _Artifact) -> str:
    for _ in range(30):
        value = decoy.make(rnd)
        if decoy.place not in ("password", "vendor_token") or not any(c in art.avoid
                                                                        for c in value):
            return value
    return "*" * 12


def documents_m(seed: int, count: int) -> list[tuple[str, list[PlantedM]]]:
    """``count`` documents of set M, artifact kinds in turn, each with 2-4 planted values,
    one or two decoys and, in about two thirds, a one-digit-mutated card number or IBAN."""
    rnd = random.Random(seed)
    names = sorted(_ARTIFACTS)
    out: list[tuple[str, list[PlantedM]]] = []
    for number in range(count):
        art = _ARTIFACTS[names[number % len(names)]]
        doc = _Document(art)
        for text in art.head:
            doc.line(text)
        types = _types_of(art)
        chosen = rnd.sample(types, min(len(types), rnd.randint(2, 4)))
        for rare, chance in (("password", 0.45), ("private_key", 0.25)):
            if rare in types and rare not in chosen and rnd.random() < chance:
                chosen[-1] = rare
        slots = [(t, "") for t in chosen]
        twins = [t for t in ("payment_card", "iban") if t in types]
        if twins and rnd.random() < 0.94:
            slots.append((rnd.choice(twins), "mutated"))
        slots += [("", "lookalike")] * (2 if rnd.random() < 0.4 else 1)
        rnd.shuffle(slots)
        decoys = _decoys_of(art)
        ref_places = [t for t in ("password", "vendor_token") if t in types]
        for type_, kind in slots:
            if kind == "lookalike":
                if art.refs and ref_places and (rnd.random() < 0.5 or not decoys):
                    place = rnd.choice(ref_places)
                    value = rnd.choice(art.refs)
                    words, whats = _NAMING[place]
                    template = _fill(rnd, art, place, rnd.choice(words), rnd.choice(whats), False)
                    template = template.replace('"{v}"', "{v}").replace("'{v}'", "{v}")
                elif decoys:
                    decoy = rnd.choice(decoys)
                    value = _decoy_value(rnd, decoy, art)
                    template = _fill(rnd, art, decoy.place, decoy.words, decoy.what, decoy.named)
                else:
                    continue
                doc.plant(template, value, value, None, kind)
            else:
                value = _make(rnd, type_, art)
                if kind == "mutated":
                    value = _mutate(value, rnd)
                words, whats = _NAMING[type_]
                template = _fill(rnd, art, type_, rnd.choice(words), rnd.choice(whats), False)
                doc.plant(template, value, _wrap(type_, value, rnd), None if kind else type_,
                          kind, type_ == "private_key")
            if rnd.random() < 0.55:
                doc.line(rnd.choice(art.filler))
        for text in art.tail:
            doc.line(text)
        out.append((doc.text, doc.planted))
    return out
