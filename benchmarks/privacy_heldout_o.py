"""The thirteenth fresh held-out set of the privacy benchmark (set O): HELD OUT.

Written on 2026-12-08 after set N had been evaluated (and spent), during round 13 and blind
to that round's detector changes, without running the detectors on it; committed on its own
first. ``benchmarks/privacy.py`` scores it once, at the end of round 13, as "held-out O"; a
miss found here is reported, not fixed against this set.

Nothing here comes from sets A-N: no Faker, no ``athena_core`` import and no import of an
earlier set (Luhn, mod-97 and the SSN rules are written again below), its own value
generators, its own look-alikes and its own composer. Each document is one artifact of a
kind no earlier set uses (:data:`_KINDS`):

* prose: house-sitting notes, crowdfunding backer surveys, estate executors' letters to a
  bank, clinical-trial screening questionnaires, jury-service deferral requests, self-storage
  rental agreements, catering order forms, trail-race entry forms, locksmith job sheets,
  photography booking forms, roommate agreements, repair-shop intake tickets, farmers'
  market vendor applications, "while you were out" phone message slips, hackathon team
  registrations, LAN-party sign-up threads, transcribed pages of a paper password book and
  substitute teachers' lesson plans;
* machine text: Kamailio ``kamailio.cfg``, Asterisk ``pjsip.conf``, Consul agent HCL,
  Buildkite and CircleCI pipelines, ``.pgpass`` and ``.my.cnf`` files, ESPHome device YAML,
  Minecraft ``server.properties``, Synapse ``homeserver.yaml``, Gitea ``app.ini``, ``strace``
  output, Exim main logs, 1Password CLI (``op item get``) output, Excel VBA modules, SAS
  programs, Beancount ledgers and ISO 20022 camt.053 bank statements.

``in_prose`` is true for the first group: notes, letters, forms, slips and posts written by
people. A key pasted into them as a block, or a line indented as code, is not prose.

Values: vendors' documented token formats (prefix, length and alphabet as each vendor
documents them), with a mix of vendors of its own next to the listed types in several of
their documented prefixes; passwords as people and password managers make them, with
symbols, quotes, spaces and letters beyond ASCII where the syntax allows them, and
percent-encoded inside URLs; cards of the listed issuer ranges only (Visa 13/16/19,
Mastercard 51-55 and 2221-2720, Amex, Discover, JCB, Diners, Maestro) written as issuers
group them; IBANs of many countries with the registry's BBAN shapes and lengths; SSNs
written several ways; phones of many countries in national and international writings, none
in a range set aside for fiction; e-mail addresses; public IPv4 and IPv6 addresses. People
name the values in many ways (labels, remarks, several phrasings and languages).

Decoys sit where such values really sit in each artifact, chosen as a careful adversary of
a scanner would choose them: values a reader recognises as samples, references to values
kept elsewhere in the artifact's own syntax, masks and redactions, placeholders, identifiers
and numbers that are not sensitive, values reserved for documentation or fiction, and
one-digit-mutated card numbers and IBANs where a card number or IBAN goes.
"""

from __future__ import annotations

import base64
import functools
import json
import random
import re
import string
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from urllib.parse import quote

import attrs

__all__ = ["KINDS_O", "PlantedO", "documents_o"]

_LOW = string.ascii_lowercase
_CAP = string.ascii_uppercase
_DIG = string.digits
_AN = string.ascii_letters + string.digits
_B64 = _AN + "+/"
_URL = _AN + "-_"
_HEX = "0123456789abcdef"
_B32 = _CAP + "234567"

#: (start, end, type or None for a decoy, in prose, decoy kind: "", "lookalike", "mutated").
PlantedO = tuple[int, int, "str | None", bool, str]


def _s(rnd: random.Random, n: int, alphabet: str = _AN) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def _d(rnd: random.Random, n: int) -> str:
    return _s(rnd, n, _DIG)


# --- checksums -------------------------------------------------------------------------------


def luhn_valid(number: str) -> bool:
    """Whether the digits of ``number`` pass the Luhn check (other characters ignored)."""
    total = 0
    for i, ch in enumerate(reversed([c for c in number if c.isdigit()])):
        v = int(ch)
        if i % 2 == 1:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return total % 10 == 0


def _luhn_complete(body: str) -> str:
    for c in _DIG:
        if luhn_valid(body + c):
            return body + c
    raise AssertionError(body)


def _iso7064(text: str) -> int:
    """ISO 7064 MOD 97-10 remainder of ``text``, letters counted as 10-35."""
    rest = 0
    for ch in text:
        for digit in str(int(ch, 36)):
            rest = (rest * 10 + int(digit)) % 97
    return rest


def iban_valid(value: str) -> bool:
    """Whether ``value`` (blanks allowed) is a mod-97-valid IBAN of a known length."""
    flat = value.replace(" ", "")
    return (len(flat) == _IBAN_LENGTH.get(flat[:2], -1) and flat[2:4].isdigit()
            and _iso7064(flat[4:] + flat[:4]) == 1)


def ssn_valid(value: str) -> bool:
    """Whether ``value`` could be an issued SSN: area 001-899 but not 666, group 01-99,
    serial 0001-9999, and not a number the SSA names as a specimen or advertising number."""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) != 9:
        return False
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    if not (0 < area < 900 and area != 666 and group > 0 and serial > 0):
        return False
    return digits not in ("078051120", "219099999") and not digits.startswith("98765432")


# --- personal values ---------------------------------------------------------------------------

#: Issuer ranges (a function making the first digits) and the lengths the issuer uses.
_ISSUERS: tuple[tuple[str, Callable[[random.Random], str], tuple[int, ...]], ...] = (
    ("visa", lambda r: "4" + _d(r, 5), (16, 16, 16, 13, 19)),
    ("mastercard", lambda r: str(r.randint(51, 55)) + _d(r, 4), (16,)),
    ("mastercard", lambda r: str(r.randint(2221, 2720)) + _d(r, 2), (16,)),
    ("amex", lambda r: r.choice(("34", "37")) + _d(r, 4), (15,)),
    ("discover", lambda r: r.choice(("6011" + _d(r, 2), str(r.randint(644, 649)) + _d(r, 3),
                                     "65" + _d(r, 4))), (16,)),
    ("jcb", lambda r: str(r.randint(3528, 3589)) + _d(r, 2), (16,)),
    ("diners", lambda r: r.choice((str(r.randint(300, 305)) + _d(r, 3), "36" + _d(r, 4),
                                   "38" + _d(r, 4))), (14,)),
    ("maestro", lambda r: r.choice(("5018", "5020", "5038", "5893", "6304", "6759", "6761",
                                    "6762", "6763")) + _d(r, 2), (16, 18, 19)),
)
#: Processors' published test numbers: never planted as real cards.
_TEST_CARDS = (
    "4005519200000004", "4009348888881881", "4012000033330026", "4012888888881881",
    "4217651111111119", "4500600000000061", "2223000048400011", "36259600000004",
    "4444333322221111", "4917610000000000003", "4000002500003155", "4000000000009995",
    "5105105105105100", "3530111333300000", "6011000990139424", "378734493671000",
)


def _card_groups(digits: str) -> list[str]:
    n = len(digits)
    sizes = {15: (4, 6, 5), 14: (4, 6, 4), 13: (4, 3, 3, 3), 19: (4, 4, 4, 4, 3),
             18: (4, 4, 4, 4, 2)}.get(n, (4,) * (n // 4))
    out, at = [], 0
    for size in sizes:
        out.append(digits[at:at + size])
        at += size
    return out


def card_digits(rnd: random.Random) -> str:
    while True:
        _, head, lengths = rnd.choice(_ISSUERS)
        n = rnd.choice(lengths)
        digits = _luhn_complete((head(rnd) + _d(rnd, 20))[:n - 1])
        if digits not in _TEST_CARDS:
            return digits


def card_o(rnd: random.Random, plain: bool = False) -> str:
    digits = card_digits(rnd)
    if plain:
        return digits
    sep = rnd.choice((" ", " ", " ", "-", ""))
    return sep.join(_card_groups(digits)) if sep else digits


#: Country -> BBAN as the IBAN registry gives it (n digits, a capitals, c either).
_BBAN = {
    "AD": "4n4n12c", "AE": "3n16n", "AL": "8n16c", "AT": "5n11n", "AZ": "4a20c",
    "BA": "3n3n8n2n", "BE": "3n7n2n", "BG": "4a4n2n8c", "BH": "4a14c", "BR": "8n5n10n1a1c",
    "CH": "5n12c", "CR": "4n14n", "CY": "3n5n16c", "CZ": "4n6n10n", "DE": "8n10n",
    "DK": "4n9n1n", "DO": "4c20n", "EE": "2n2n11n1n", "EG": "4n4n17n", "ES": "4n4n1n1n10n",
    "FI": "3n11n", "FO": "4n9n1n", "FR": "5n5n11c2n", "GB": "4a6n8n", "GE": "2a16n",
    "GI": "4a15c", "GL": "4n9n1n", "GR": "3n4n16c", "GT": "4c20c", "HR": "7n10n",
    "HU": "3n4n1n15n1n", "IE": "4a6n8n", "IL": "3n3n13n", "IS": "4n2n6n10n", "IT": "1a5n5n12c",
    "JO": "4a4n18c", "KW": "4a22c", "KZ": "3n13c", "LB": "4n20c", "LI": "5n12c",
    "LT": "5n11n", "LU": "3n13c", "LV": "4a13c", "MC": "5n5n11c2n", "MD": "2c18c",
    "ME": "3n13n2n", "MK": "3n10c2n", "MR": "5n5n11n2n", "MT": "4a5n18c", "MU": "4a2n2n12n3n3a",
    "NL": "4a10n", "NO": "4n6n1n", "PK": "4a16c", "PL": "8n16n", "PS": "4a21c",
    "PT": "4n4n11n2n", "QA": "4a21c", "RO": "4a16c", "RS": "3n13n2n", "SA": "2n18c",
    "SE": "3n16n1n", "SI": "5n8n2n", "SK": "4n6n10n", "SM": "1a5n5n12c", "TN": "2n3n13n2n",
    "TR": "5n1n16c", "UA": "6n19c", "VG": "4a16n", "XK": "4n10n2n",
}
#: IBAN lengths by country, as the registry lists them (checked against the shapes above).
_IBAN_LENGTH = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
    "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}
#: The registry's and the ECBS's example IBANs: never planted as real accounts.
_EXAMPLE_IBANS = (
    "AT611904300234573201", "ES9121000418450200051332", "FR1420041010050500013M02606",
    "IT60X0542811101000000123456", "PL61109010140000071219812874",
    "SE4550000000058398257466", "NO9386011117947", "DK5000400440116243",
    "FI2112345600000785", "PT50000201231234567890154", "IE29AIBK93115212345678",
    "LU280019400644750000", "CZ6508000000192000145399", "HU42117730161111101800000000",
    "SK3112000000198742637541",
)


def _bban(rnd: random.Random, country: str) -> str:
    out = []
    for count, kind in re.findall(r"(\d+)([nac])", _BBAN[country]):
        n = int(count)
        out.append(_d(rnd, n) if kind == "n" else _s(rnd, n, _CAP) if kind == "a"
                   else "".join(rnd.choice(_CAP) if rnd.random() < 0.06 else rnd.choice(_DIG)
                                for _ in range(n)))
    bban = "".join(out)
    if country == "BE":  # the Belgian account's own check: first ten digits mod 97
        check = int(bban[:10]) % 97 or 97
        bban = bban[:10] + f"{check:02d}"
    return bban


def iban_digits(rnd: random.Random) -> str:
    while True:
        country = rnd.choice(sorted(_BBAN))
        bban = _bban(rnd, country)
        flat = f"{country}{98 - _iso7064(bban + country + '00'):02d}{bban}"
        if flat not in _EXAMPLE_IBANS:
            assert iban_valid(flat), flat
            return flat


def _iban_print(flat: str) -> str:
    return " ".join(flat[i:i + 4] for i in range(0, len(flat), 4))


def iban_o(rnd: random.Random, plain: bool = False) -> str:
    flat = iban_digits(rnd)
    return flat if plain or rnd.random() < 0.4 else _iban_print(flat)


def ssn_o(rnd: random.Random) -> str:
    while True:
        digits = f"{rnd.randint(1, 899):03d}{rnd.randint(1, 99):02d}{rnd.randint(1, 9999):04d}"
        if ssn_valid(digits):
            break
    a, g, s = digits[:3], digits[3:5], digits[5:]
    return rnd.choice((f"{a}-{g}-{s}", f"{a}-{g}-{s}", f"{a}-{g}-{s}", f"{a} {g} {s}",
                       digits, f"{a}.{g}.{s}", f"{a}\u2013{g}\u2013{s}"))


def _us_number(rnd: random.Random, areas: Sequence[str]) -> tuple[str, str, str]:
    area = rnd.choice(areas)
    while True:
        exchange = rnd.randint(201, 989)
        if exchange != 555 and exchange % 100 != 11:
            return area, str(exchange), _d(rnd, 4)


def _phone_us(rnd: random.Random) -> str:
    a, e, line = _us_number(rnd, ("206", "212", "312", "385", "415", "512", "617", "646",
                                  "720", "773", "857", "971", "984", "248"))
    return rnd.choice((f"({a}) {e}-{line}", f"{a}-{e}-{line}", f"+1 {a} {e} {line}",
                       f"1-{a}-{e}-{line}", f"{a}.{e}.{line}", f"+1 ({a}) {e}-{line}"))


def _phone_ca(rnd: random.Random) -> str:
    a, e, line = _us_number(rnd, ("416", "604", "514", "403", "613", "902"))
    return rnd.choice((f"+1 {a}-{e}-{line}", f"({a}) {e}-{line}"))


def _phone_fr(rnd: random.Random) -> str:
    second = rnd.choice([n for n in range(10, 90) if n != 39])
    rest = f"{_d(rnd, 2)} {_d(rnd, 2)} {_d(rnd, 2)}"
    return rnd.choice((f"06 {second} {rest}", f"+33 6 {second} {rest}",
                       f"07 {rnd.randint(50, 89)} {rest}"))


def _phone_au(rnd: random.Random) -> str:
    mobile = f"04{rnd.randint(0, 3)}{_d(rnd, 1)}"
    return rnd.choice((f"{mobile} {_d(rnd, 3)} {_d(rnd, 3)}",
                       f"+61 {mobile[1:]} {_d(rnd, 3)} {_d(rnd, 3)}",
                       f"(02) 9{_d(rnd, 3)} {_d(rnd, 4)}"))


#: Phone writers of many countries, none in a range set aside for fiction or documentation.
_PHONE_WRITERS: tuple[Callable[[random.Random], str], ...] = (
    _phone_us, _phone_us, _phone_us, _phone_ca, _phone_fr, _phone_au,
    lambda r: r.choice((f"07{r.choice('4589')}{_d(r, 2)} {_d(r, 6)}",
                        f"+44 7{r.choice('4589')}{_d(r, 2)} {_d(r, 6)}",
                        f"+44 (0)20 3{_d(r, 3)} {_d(r, 4)}", f"020 3{_d(r, 3)} {_d(r, 4)}")),
    lambda r: r.choice((f"+49 1{r.choice(('51', '60', '71', '76'))} {_d(r, 7)}",
                        f"01{r.choice(('52', '62', '72', '77'))} {_d(r, 8)}",
                        f"+49 (0)30 2{_d(r, 7)}")),
    lambda r: r.choice((f"+34 6{_d(r, 2)} {_d(r, 3)} {_d(r, 3)}",
                        f"6{_d(r, 2)} {_d(r, 2)} {_d(r, 2)} {_d(r, 2)}")),
    lambda r: r.choice((f"+39 3{r.randint(20, 49)} {_d(r, 3)} {_d(r, 4)}",
                        f"34{_d(r, 1)} {_d(r, 7)}")),
    lambda r: r.choice((f"+31 6 {_d(r, 8)}", f"06 {_d(r, 4)} {_d(r, 4)}")),
    lambda r: r.choice((f"+47 {r.choice('49')}{_d(r, 2)} {_d(r, 2)} {_d(r, 3)}",
                        f"{r.choice('49')}{_d(r, 2)} {_d(r, 2)} {_d(r, 3)}")),
    lambda r: r.choice((f"+46 70 {_d(r, 3)} {_d(r, 2)} {_d(r, 2)}",
                        f"076-{_d(r, 3)} {_d(r, 2)} {_d(r, 2)}")),
    lambda r: r.choice((f"+358 40 {_d(r, 3)} {_d(r, 4)}", f"050 {_d(r, 3)} {_d(r, 4)}")),
    lambda r: f"+45 {r.randint(20, 99)} {_d(r, 2)} {_d(r, 2)} {_d(r, 2)}",
    lambda r: r.choice((f"+353 8{r.choice('3567')} {_d(r, 3)} {_d(r, 4)}",
                        f"08{r.choice('3567')} {_d(r, 3)} {_d(r, 4)}")),
    lambda r: f"+48 {r.choice('5678')}{_d(r, 2)} {_d(r, 3)} {_d(r, 3)}",
    lambda r: f"+420 {r.choice('67')}{_d(r, 2)} {_d(r, 3)} {_d(r, 3)}",
    lambda r: r.choice((f"+36 {r.choice(('20', '30', '70'))} {_d(r, 3)} {_d(r, 4)}",
                        f"06 30 {_d(r, 3)} {_d(r, 4)}")),
    lambda r: r.choice((f"+40 7{_d(r, 2)} {_d(r, 3)} {_d(r, 3)}", f"07{_d(r, 2)} {_d(r, 3)} "
                                                                   f"{_d(r, 3)}")),
    lambda r: f"+30 69{r.choice('3479')} {_d(r, 3)} {_d(r, 4)}",
    lambda r: f"+41 7{r.choice('6789')} {_d(r, 3)} {_d(r, 2)} {_d(r, 2)}",
    lambda r: r.choice((f"+43 676 {_d(r, 7)}", f"0664 {_d(r, 3)} {_d(r, 4)}")),
    lambda r: r.choice((f"+81 90-{_d(r, 4)}-{_d(r, 4)}", f"080-{_d(r, 4)}-{_d(r, 4)}")),
    lambda r: f"+91 9{_d(r, 4)} {_d(r, 5)}",
    lambda r: r.choice((f"+55 11 9{_d(r, 4)}-{_d(r, 4)}", f"(21) 9{_d(r, 4)}-{_d(r, 4)}")),
    lambda r: f"+52 55 {_d(r, 4)} {_d(r, 4)}",
    lambda r: f"+57 3{_d(r, 2)} {_d(r, 3)} {_d(r, 4)}",
    lambda r: f"+56 9 {_d(r, 4)} {_d(r, 4)}",
    lambda r: r.choice((f"+972 5{r.choice('02348')}-{_d(r, 3)}-{_d(r, 4)}",
                        f"05{r.choice('02348')}-{_d(r, 3)}-{_d(r, 4)}")),
    lambda r: f"+971 5{r.choice('0256')} {_d(r, 3)} {_d(r, 4)}",
    lambda r: f"+254 7{_d(r, 2)} {_d(r, 3)} {_d(r, 3)}",
    lambda r: f"+233 24 {_d(r, 3)} {_d(r, 4)}",
    lambda r: r.choice((f"+65 {r.choice('89')}{_d(r, 3)} {_d(r, 4)}",)),
    lambda r: f"+82 10-{_d(r, 4)}-{_d(r, 4)}",
    lambda r: f"+84 9{_d(r, 1)} {_d(r, 3)} {_d(r, 4)}",
    lambda r: f"+66 8{_d(r, 1)} {_d(r, 3)} {_d(r, 4)}",
    lambda r: f"+62 812-{_d(r, 4)}-{_d(r, 4)}",
    lambda r: f"+60 12-{_d(r, 3)} {_d(r, 4)}",
    lambda r: f"+354 {r.choice('678')}{_d(r, 2)} {_d(r, 4)}",
    lambda r: f"+352 621 {_d(r, 3)} {_d(r, 3)}",
    lambda r: f"+372 5{_d(r, 3)} {_d(r, 4)}",
)


def phone_o(rnd: random.Random) -> str:
    return rnd.choice(_PHONE_WRITERS)(rnd)


_FIRST = ["adaeze", "bjorn", "carmela", "dagny", "emeric", "farida", "gunnhild", "hamish",
          "isolde", "jovan", "katarzyna", "lorcan", "mireille", "nikolai", "oona", "paloma",
          "quentin", "rosalind", "sigrun", "teodor", "ulrike", "vasco", "wilhelmina", "yevgenia",
          "zoltan"]
_LAST = ["adeyemi", "bergstrom", "castellanos", "dunleavy", "eriksen", "fitzroy", "gallagher",
         "halvorsen", "ibarra", "jankowski", "kowalczyk", "lindgren", "mcallister", "nordahl",
         "okonkwo", "penhaligon", "quintero", "rasmussen", "szabo", "thorvaldsen", "underhill",
         "valcourt", "whitlock"]
_MAIL_DOMAINS = ["gmail.com", "gmail.com", "outlook.com", "hotmail.co.uk", "yahoo.com",
                 "icloud.com", "me.com", "protonmail.com", "fastmail.com", "web.de", "orange.fr",
                 "free.fr", "virgilio.it", "telia.com", "online.no", "eircom.net", "bigpond.com",
                 "shaw.ca", "comcast.net", "posteo.de", "hey.com", "nordvik-logistikk.no",
                 "harbourside-storage.ie", "saffronsage-catering.com", "fernhillvets.co.uk",
                 "tidepoolgames.com", "vinter-advokat.se", "keylinelocks.com.au",
                 "holtphoto.studio", "riverbendmarket.org", "fjordtrail.no"]


def email_o(rnd: random.Random) -> str:
    f, la = rnd.choice(_FIRST), rnd.choice(_LAST)
    local = rnd.choice((f"{f}.{la}", f"{f}{la}", f"{f[0]}.{la}", f"{f}_{la}{rnd.randint(10, 99)}",
                        f"{f}+{rnd.choice(('storage', 'race', 'kickstarter', 'school'))}",
                        f"{la}.{f}", f"{f.capitalize()}.{la.capitalize()}", f"{f}{la[0]}",
                        f"{f}.{la}{rnd.randint(1960, 2004)}"))
    return f"{local}@{rnd.choice(_MAIL_DOMAINS)}"


_V4_FIRST = (3, 13, 18, 23, 34, 45, 52, 63, 64, 69, 72, 80, 82, 85, 88, 89, 93, 94, 95, 98, 107,
             128, 138, 142, 145, 146, 154, 157, 159, 165, 176, 188, 194, 195, 209, 213)


def ipv4_o(rnd: random.Random) -> str:
    return (f"{rnd.choice(_V4_FIRST)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}."
            f"{rnd.randint(1, 254)}")


_V6_PREFIX = ("2a03:2880", "2606:4700", "2620:fe", "2a00:1450", "2001:4860", "2404:6800",
              "2a05:d018", "2600:3c00", "2a01:4f8", "2001:41d0", "2a02:c207", "2400:cb00",
              "2a0b:4340", "2c0f:f248")


def ipv6_o(rnd: random.Random) -> str:
    groups = rnd.choice(_V6_PREFIX).split(":")
    groups += [format(rnd.getrandbits(16), "x") for _ in range(8 - len(groups))]
    style = rnd.randrange(4)
    if style == 0:
        return ":".join(groups[:3]) + "::" + groups[7]
    if style == 1:
        return ":".join(groups[:4]) + "::" + ":".join(groups[6:])
    if style == 2:
        return ":".join(groups).upper()
    return ":".join(groups)


# --- secret values -------------------------------------------------------------------------------

_WORDS = ["anchor", "basalt", "cinder", "driftwood", "ember", "fjord", "granite", "heron", "inlet",
          "kelp", "lichen", "moraine", "nettle", "osprey", "puffin", "quarry", "rowan", "skerry",
          "tundra", "urchin", "vellum", "walrus", "yew", "saffron", "lantana"]
_SYMBOLS = "!@#$%^&*()-_=+[]{};:,.<>/?~|"


def password_o(rnd: random.Random) -> str:
    """A password the way password managers and people make them."""
    style = rnd.randrange(11)
    if style == 0:  # a manager's random string with symbols
        while True:
            pw = _s(rnd, rnd.choice((18, 20, 24, 32)), _AN + _SYMBOLS)
            if any(c in _SYMBOLS for c in pw) and any(c.isdigit() for c in pw):
                return pw
    if style == 1:  # a manager's default: letters and digits only
        while True:
            pw = _s(rnd, rnd.choice((14, 16)))
            if any(c.isdigit() for c in pw) and any(c.isupper() for c in pw):
                return pw
    if style == 2:  # memorable words with a separator, one capitalised, a digit added
        words = rnd.sample(_WORDS, rnd.choice((3, 4)))
        at = rnd.randrange(len(words))
        words[at] = words[at].capitalize()
        words[-1] += str(rnd.randint(0, 9))
        return rnd.choice(("-", ".", "_", ",", " ")).join(words)
    if style == 3:  # a place and a year and a mark, sometimes beyond ASCII
        return rnd.choice(("Tromso", "Bergen", "Blåbær", "Gdańsk", "Kraków", "Cork", "Smørbrød",
                           "Galway", "Ålesund")) + str(rnd.randint(1979, 2026)) \
            + rnd.choice(("!", "#", "$", "!!", "."))
    if style == 4:  # a sentence with spaces
        return (f"{rnd.choice(('Miso', 'Bjarne', 'the boat', 'our dog'))} "
                f"{rnd.choice(('sleeps', 'hates', 'loves', 'eats'))} "
                f"{rnd.randint(2, 19)} {rnd.choice(_WORDS)}s{rnd.choice(('!', '?', ''))}")
    if style == 5:  # quotes or a backslash inside
        return _s(rnd, 3) + rnd.choice(("\"", "'", "\\", "`")) + _s(rnd, 7) \
            + rnd.choice(_SYMBOLS) + _d(rnd, 2)
    if style == 6:  # keyboard habits with a suffix
        return rnd.choice(("Zaq1Xsw2", "1qaz!QAZ", "Qwerty", "Asdf;lkj", "Mnbv0987")) \
            + rnd.choice(("#", "@", "!", "")) + str(rnd.randint(2019, 2027))
    if style == 7:  # a browser's suggestion: groups joined by hyphens
        return "-".join(_s(rnd, 4) for _ in range(rnd.choice((3, 4))))
    if style == 8:  # a name, a symbol, a number, a symbol
        return rnd.choice(_FIRST).capitalize() + rnd.choice("@#&*") + _d(rnd, 4) \
            + rnd.choice("!?%")
    if style == 9:  # words run together with a number and a symbol
        return "".join(w.capitalize() for w in rnd.sample(_WORDS, 2)) + _d(rnd, 2) \
            + rnd.choice(_SYMBOLS)
    return _s(rnd, 3, _CAP) + rnd.choice(_SYMBOLS) + _s(rnd, 5, _LOW) + _d(rnd, 3) \
        + rnd.choice(_SYMBOLS)


def url_password_o(rnd: random.Random) -> str:
    """The password part of a URL, percent-encoded there as it must be."""
    return quote(password_o(rnd), safe="-_.~")


def _b64u(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt_o(rnd: random.Random) -> str:
    alg = rnd.choice(("HS256", "RS256", "ES256", "RS512"))
    head = {"alg": alg, "typ": "JWT"}
    if rnd.random() < 0.4:
        head["kid"] = _s(rnd, 16, _HEX)
    body = rnd.choice((
        {"iss": _s(rnd, 32, _HEX), "iat": 1796000000 + rnd.randint(0, 900000),
         "exp": 2111360000 + rnd.randint(0, 900000)},
        {"nbf": 1796000000 + rnd.randint(0, 900000)},
        {"sub": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
         "aud": rnd.choice(("ledger-api", "consul-ui", "export")),
         "iss": rnd.choice(("https://sso.fjordtrail.no/realms/staff",
                            "https://auth.nordvik-logistikk.no")),
         "exp": 1797000000 + rnd.randint(0, 900000), "scope": "read:export"}))
    sig = {"HS256": 43, "RS256": 342, "ES256": 86, "RS512": 342}[alg]
    return f"{_b64u(json.dumps(head, separators=(',', ':')))}." \
           f"{_b64u(json.dumps(body, separators=(',', ':')))}.{_s(rnd, sig, _URL)}"


def _pem_rows(body: str, width: int = 64) -> str:
    return "\n".join(body[i:i + width] for i in range(0, len(body), width))


def private_key_o(rnd: random.Random) -> str:
    kind = rnd.choice(("OPENSSH PRIVATE KEY", "OPENSSH PRIVATE KEY", "PRIVATE KEY",
                       "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
                       "PGP PRIVATE KEY BLOCK"))
    if kind == "PGP PRIVATE KEY BLOCK":
        body = "lQVYBG" + _s(rnd, 1900, _B64)
        crc = "=" + _s(rnd, 4, _B64)
        return (f"-----BEGIN {kind}-----\n\n{_pem_rows(body)}\n{crc}\n-----END {kind}-----")
    body = {
        "OPENSSH PRIVATE KEY": "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz"
        "c2gtZWQyNTUxOQAAACA" + _s(rnd, 290, _B64),
        "PRIVATE KEY": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ" + _s(rnd, 1560, _B64),
        "RSA PRIVATE KEY": "MIIEowIBAAKCAQEA" + _s(rnd, 1560, _B64),
        "EC PRIVATE KEY": "MHcCAQEEI" + _s(rnd, 160, _B64),
        "ENCRYPTED PRIVATE KEY": "MIIFLTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI"
        + _s(rnd, 1690, _B64),
    }[kind]
    width = 70 if kind.startswith("OPENSSH") else 64
    return f"-----BEGIN {kind}-----\n{_pem_rows(body, width)}\n-----END {kind}-----"


def _glc(rnd: random.Random) -> str:
    payload = {"o": str(rnd.randint(100000, 999999)), "n": f"stack-{rnd.randint(100, 999)}-"
               f"token-{rnd.choice(('export', 'alloy', 'ci'))}", "k": _s(rnd, 24),
               "m": {"r": rnd.choice(("prod-eu-west-2", "prod-us-east-0"))}}
    return "glc_" + base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def _ops(rnd: random.Random) -> str:
    payload = {"signInAddress": "my.1password.eu", "userAuth": {"method": "SRPg-4096",
               "alg": "PBES2g-HS256", "iterations": 650000, "salt": _s(rnd, 22, _URL)},
               "email": _s(rnd, 26, _LOW + _DIG) + "@1passwordserviceaccounts.eu",
               "srpX": _s(rnd, 64, _HEX), "muk": {"alg": "A256GCM", "ext": True,
                                                 "k": _s(rnd, 43, _URL), "kty": "oct"}}
    return "ops_" + _b64u(json.dumps(payload, separators=(",", ":")))


def _discord(rnd: random.Random) -> str:
    return f"{_b64u(str(rnd.randint(10 ** 17, 13 * 10 ** 17)))}.{_s(rnd, 6, _URL)}." \
           f"{_s(rnd, 38, _URL)}"


def _mapbox(rnd: random.Random) -> str:
    head = _b64u(json.dumps({"u": rnd.choice(_LAST), "a": _s(rnd, 25, _LOW + _DIG)},
                            separators=(",", ":")))
    return f"sk.{head}.{_s(rnd, 22)}"


#: Vendors' documented token formats (prefix, length and alphabet as documented).
_VENDOR_TOKENS: tuple[Callable[[random.Random], str], ...] = (
    lambda r: _s(r, 32, _HEX) + "-us" + str(r.randint(1, 21)),          # Mailchimp
    lambda r: "EAAA" + _s(r, 60, _URL),                                  # Square
    lambda r: "secret_" + _s(r, 43),                                     # Notion
    lambda r: "1/" + _d(r, 16) + ":" + _s(r, 32, _HEX),                 # Asana
    lambda r: "nfp_" + _s(r, 36),                                        # Netlify
    lambda r: "rnd_" + _s(r, 32),                                        # Render
    lambda r: "pscale_tkn_" + _s(r, 43, _URL),                          # PlanetScale
    lambda r: "pscale_pw_" + _s(r, 43, _URL),                           # PlanetScale
    _glc,                                                                # Grafana Cloud
    lambda r: "dp.sa." + _s(r, 43),                                      # Doppler
    _ops,                                                                # 1Password
    lambda r: "bkua_" + _s(r, 40, _HEX),                                 # Buildkite
    lambda r: "CCIPAT_" + _s(r, 22) + "_" + _s(r, 40, _HEX),            # CircleCI
    lambda r: "ATBB" + _s(r, 32) + _s(r, 8, _HEX.upper()),              # Bitbucket
    lambda r: "gsk_" + _s(r, 52),                                        # Groq
    lambda r: "r8_" + _s(r, 37),                                         # Replicate
    lambda r: "pplx-" + _s(r, 48),                                       # Perplexity
    lambda r: "xai-" + _s(r, 80),                                        # xAI
    lambda r: "lsv2_pt_" + _s(r, 32, _HEX) + "_" + _s(r, 10, _HEX),     # LangSmith
    lambda r: "hvb." + _s(r, 138, _URL),                                 # Vault batch
    lambda r: "tskey-api-k" + _s(r, 11) + "CNTRL-" + _s(r, 33),         # Tailscale
    lambda r: "tfp_" + _s(r, 44) + "_" + _s(r, 14),                     # Typeform
    _discord,                                                            # Discord bot
    lambda r: "re_" + _s(r, 8) + "_" + _s(r, 24),                       # Resend
    lambda r: "xkeysib-" + _s(r, 64, _HEX) + "-" + _s(r, 16),           # Brevo
    lambda r: "dt0c01." + _s(r, 24, _CAP + _DIG) + "." + _s(r, 64, _CAP + _DIG),  # Dynatrace
    lambda r: "NRII-" + _s(r, 32, _URL),                                 # New Relic insert
    lambda r: "aio_" + _s(r, 28),                                        # Adafruit IO
    lambda r: "pnu_" + _s(r, 36),                                        # Prefect
    lambda r: "doo_v1_" + _s(r, 64, _HEX),                               # DigitalOcean
    lambda r: "LTAI" + _s(r, 20),                                        # Alibaba Cloud
    _mapbox,                                                             # Mapbox secret
    lambda r: "fio-u-" + _s(r, 64, _URL),                                # Frame.io
)

SECRETS_O: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: r.choice(("AKIA", "AKIA", "AKIA", "ASIA")) + _s(r, 16, _B32),
    "aws_secret_access_key": lambda r: _s(r, 40, _B64),
    "aws_session_token": lambda r: r.choice(("FwoGZXIvYXdzE", "IQoJb3JpZ2luX2VjE"))
    + _s(r, 18, _B64) + "//////////" + _s(r, r.choice((290, 370, 520)), _B64)
    + r.choice(("", "=", "==")),
    "azure_sas_signature": lambda r: quote(base64.b64encode(r.randbytes(32)).decode(), safe=""),
    "github_token": lambda r: r.choice(("ghp_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_"))
    + _s(r, 36) if r.random() < 0.65 else "github_pat_11" + _s(r, 20, _CAP + _DIG) + "_"
    + _s(r, 59),
    "gitlab_token": lambda r: r.choice((
        "glpat-" + _s(r, 20, _URL), "glpat-" + _s(r, 20, _URL), "gldt-" + _s(r, 20, _URL),
        "glrt-" + _s(r, 20, _URL), "glptt-" + _s(r, 40, _HEX), "glft-" + _s(r, 20, _URL),
        "glimt-" + _s(r, 25), "glagent-" + _s(r, 50, _URL), "glsoat-" + _s(r, 20, _URL))),
    "slack_token": lambda r: r.choice((
        f"xoxb-{_d(r, 12)}-{_d(r, 13)}-{_s(r, 24)}",
        f"xoxp-{_d(r, 12)}-{_d(r, 12)}-{_d(r, 13)}-{_s(r, 32, _HEX)}",
        f"xapp-1-A{_s(r, 10, _CAP + _DIG)}-{_d(r, 13)}-{_s(r, 64, _HEX)}",
        f"xoxe.xoxp-1-{_s(r, 146)}")),
    "stripe_key": lambda r: r.choice((
        "sk_live_" + _s(r, 24), "sk_live_51" + _s(r, 97), "rk_live_51" + _s(r, 97),
        "whsec_" + _s(r, 32))),
    "openai_api_key": lambda r: r.choice((
        "sk-proj-" + _s(r, 74, _URL) + "T3BlbkFJ" + _s(r, 74, _URL),
        "sk-" + _s(r, 20) + "T3BlbkFJ" + _s(r, 20),
        "sk-svcacct-" + _s(r, 74, _URL) + "T3BlbkFJ" + _s(r, 74, _URL))),
    "anthropic_api_key": lambda r: r.choice(("sk-ant-api03-", "sk-ant-api03-", "sk-ant-admin01-"))
    + _s(r, 93, _URL) + "AA",
    "jwt": jwt_o,
    "private_key": private_key_o,
    "npm_token": lambda r: "npm_" + _s(r, 36),
    "huggingface_token": lambda r: "hf_" + _s(r, 34, string.ascii_letters),
    "sendgrid_api_key": lambda r: "SG." + _s(r, 22, _URL) + "." + _s(r, 43, _URL),
    "google_api_key": lambda r: "AIza" + _s(r, 35, _URL),
    "telegram_bot_token": lambda r: f"{r.randint(10 ** 8, 79 * 10 ** 8)}:AA" + _s(r, 33, _URL),
    "vendor_token": lambda r: r.choice(_VENDOR_TOKENS)(r),
    "client_secret": lambda r: r.choice((
        _s(r, 3) + "8Q~" + _s(r, 34, _AN + "_~.-"),                       # Microsoft Entra ID
        "GOCSPX-" + _s(r, 28, _URL),                                      # Google OAuth
        _s(r, 64, _URL),                                                  # Auth0
        _s(r, 32),                                                        # Keycloak
        _s(r, 64, "0123456789ABCDEF"))),                                  # Salesforce
    "password": password_o,
    "url_password": url_password_o,
}

PERSONAL_O: dict[str, Callable[[random.Random], str]] = {
    "email": email_o, "phone": phone_o, "payment_card": card_o, "iban": iban_o,
    "us_ssn": ssn_o, "ipv4": ipv4_o, "ipv6": ipv6_o}
#: Every type set O plants: the names set N uses.
KINDS_O = tuple(sorted({**SECRETS_O, **PERSONAL_O}))
_MAKERS = {**SECRETS_O, **PERSONAL_O}
_PERSONAL_TYPES = frozenset(PERSONAL_O)
_SECRET_TYPES = frozenset(SECRETS_O)

#: Type -> (identifier words, how people name it).
_LABELS: dict[str, tuple[Sequence[Sequence[str]], Sequence[str]]] = {
    "email": ((("email",), ("contact", "email"), ("reply", "to"), ("owner", "email"),
               ("alert", "email")),
              ("email", "e-mail address", "email addr", "mail", "personal email", "E-Post",
               "courriel")),
    "phone": ((("phone",), ("mobile",), ("oncall", "phone"), ("callback", "number"),
               ("sms", "number")),
              ("phone", "mobile", "cell", "tel.", "phone number", "number", "Handy", "mobil",
               "portable")),
    "payment_card": ((("card", "number"), ("card", "pan"), ("billing", "card")),
                     ("card", "card number", "credit card", "Visa", "debit card", "card no.",
                      "Kartennummer", "kortnummer")),
    "iban": ((("iban",), ("payout", "iban"), ("settlement", "iban"), ("bank", "account")),
             ("IBAN", "bank account", "account no. (IBAN)", "IBAN", "kontonummer (IBAN)",
              "IBAN-Nr.")),
    "us_ssn": ((("ssn",), ("social", "security", "no"), ("tax", "id")),
               ("SSN", "social security number", "SS#", "Soc. Sec. No.", "social")),
    "ipv4": ((("server", "ip"), ("bind", "address"), ("upstream", "host"), ("allowed", "ip")),
             ("IP", "IP address", "server IP", "public IP", "host")),
    "ipv6": ((("server", "ipv6"), ("bind", "address", "v6"), ("upstream", "v6")),
             ("IPv6", "IPv6 address", "v6 address")),
    "aws_access_key_id": ((("aws", "access", "key", "id"), ("s3", "access", "key")),
                          ("AWS access key ID", "access key ID", "AWS key")),
    "aws_secret_access_key": ((("aws", "secret", "access", "key"), ("s3", "secret", "key")),
                              ("AWS secret", "secret access key", "AWS secret key")),
    "aws_session_token": ((("aws", "session", "token"), ("sts", "session", "token")),
                          ("session token", "AWS session token")),
    "azure_sas_signature": ((("blob", "sas", "url"), ("export", "url"), ("upload", "url")),
                            ("SAS URL", "blob link", "upload URL")),
    "github_token": ((("github", "token"), ("gh", "pat"), ("git", "token")),
                     ("GitHub token", "GitHub PAT", "gh token")),
    "gitlab_token": ((("gitlab", "token"), ("gitlab", "pat"), ("registry", "token")),
                     ("GitLab token", "GitLab PAT")),
    "slack_token": ((("slack", "token"), ("slack", "bot", "token")),
                    ("Slack token", "Slack bot token")),
    "stripe_key": ((("stripe", "secret", "key"), ("stripe", "api", "key")),
                   ("Stripe key", "Stripe secret key")),
    "openai_api_key": ((("openai", "api", "key"), ("llm", "api", "key")),
                       ("OpenAI key", "OpenAI API key")),
    "anthropic_api_key": ((("anthropic", "api", "key"), ("claude", "api", "key")),
                          ("Anthropic key", "Claude API key")),
    "jwt": ((("bearer", "token"), ("access", "token"), ("service", "jwt")),
            ("bearer token", "JWT", "access token")),
    "private_key": ((("private", "key"), ("ssh", "key"), ("signing", "key")),
                    ("private key", "SSH key")),
    "npm_token": ((("npm", "token"), ("npm", "auth", "token")), ("npm token", "npm publish token")),
    "huggingface_token": ((("hf", "token"), ("hugging", "face", "token")),
                          ("Hugging Face token", "HF token")),
    "sendgrid_api_key": ((("sendgrid", "api", "key"), ("sendgrid", "key")),
                         ("SendGrid key", "SendGrid API key")),
    "google_api_key": ((("google", "api", "key"), ("maps", "key"), ("gemini", "api", "key")),
                       ("Google API key", "Maps key", "Gemini key")),
    "telegram_bot_token": ((("telegram", "bot", "token"), ("tg", "token")),
                           ("Telegram bot token", "bot token")),
    "vendor_token": ((("api", "token"), ("api", "key"), ("service", "token"),
                      ("integration", "token")),
                     ("API token", "API key", "token", "integration key")),
    "client_secret": ((("client", "secret"), ("oidc", "client", "secret"), ("oauth", "secret")),
                      ("client secret", "OAuth client secret")),
    "password": ((("password",), ("db", "password"), ("admin", "pass"), ("smtp", "password"),
                  ("passwd",)),
                 ("password", "pw", "pass", "login password", "passphrase", "passord",
                  "Passwort", "mot de passe")),
    "url_password": ((("database", "url"), ("db", "dsn"), ("broker", "url"), ("conn", "string")),
                     ("connection string", "DB URL", "DSN")),
}

_URLS = (
    "postgres://ledger_rw:{v}@pg-main.nordvik-logistikk.no:5432/ledger?sslmode=require",
    "postgresql://report_ro:{v}@pg-wh.fernhillvets.co.uk/claims",
    "mysql://shop:{v}@mysql.saffronsage-catering.com:3306/shop",
    "mongodb+srv://analytics:{v}@cluster0.k3xq1.mongodb.net/events",
    "redis://default:{v}@redis.tidepoolgames.com:6380/0",
    "amqps://orders:{v}@mq.nordvik-logistikk.no/orders",
    "sftp://uploader:{v}@files.fernhillvets.co.uk/incoming",
    "https://deploy:{v}@registry.tidepoolgames.com/v2/",
    "smtp://alerts:{v}@smtp.fjordtrail.no:587",
)
_SAS_ACCOUNTS = ("nordvikexports", "tidepoolbackers", "fernhillclaims", "saffronorders")


def _wrap(type_: str, value: str, rnd: random.Random, schemes: Sequence[str] = ()) -> str:
    """The text a value is shown in: a URL (of one of ``schemes``, when given) for passwords
    in URLs, and for SAS signatures."""
    if type_ == "url_password":
        urls = [u for u in _URLS if u.startswith(tuple(schemes))] if schemes else _URLS
        return rnd.choice(urls).replace("{v}", value)
    if type_ == "azure_sas_signature":
        return (f"https://{rnd.choice(_SAS_ACCOUNTS)}.blob.core.windows.net/"
                f"{rnd.choice(('weekly', 'exports', 'in'))}/{rnd.choice(('report', 'batch'))}-"
                f"{rnd.randint(100, 999)}.csv?sv=2024-11-04&ss=b&srt=o&sp=rwl"
                f"&se=2027-01-31T23:59:59Z&st=2026-12-08T08:00:00Z&spr=https&sig={value}")
    return value


# --- look-alikes ---------------------------------------------------------------------------------


def _not_luhn(rnd: random.Random, n: int, head: str = "") -> str:
    while True:
        digits = head + _d(rnd, n - len(head))
        if not luhn_valid(digits):
            return digits


def _fiction_phone(rnd: random.Random) -> str:
    return rnd.choice((
        f"(212) 555-01{_d(rnd, 2)}", f"+1 312 555 01{_d(rnd, 2)}", f"555-01{_d(rnd, 2)}",
        f"07700 900{_d(rnd, 3)}", f"+44 20 7946 0{_d(rnd, 3)}", f"0161 496 0{_d(rnd, 3)}",
        f"0113 496 0{_d(rnd, 3)}",
        "0491 570 " + rnd.choice(("006", "156", "157", "158", "159", "110", "313", "737")),
        f"06 39 98 {_d(rnd, 2)} {_d(rnd, 2)}", f"01 99 00 {_d(rnd, 2)} {_d(rnd, 2)}"))


def _masked_card(rnd: random.Random) -> str:
    last = _d(rnd, 4)
    return rnd.choice((f"**** **** **** {last}", f"XXXX XXXX XXXX {last}",
                       f"xxxx-xxxx-xxxx-{last}", f"************{last}",
                       f"4{_d(rnd, 3)} **** **** {last}", f"5{rnd.randint(1, 5)}{_d(rnd, 2)} "
                       f"{_d(rnd, 2)}** **** {last}", f"ending in {last}",
                       f"\u2022\u2022\u2022\u2022 {last}"))


def _masked_iban(rnd: random.Random) -> str:
    country = rnd.choice(("NO", "SE", "DE", "NL", "FR", "IE", "ES", "PL"))
    return rnd.choice((f"{country}** **** **** **{_d(rnd, 2)} {_d(rnd, 2)}",
                       f"{country}{_d(rnd, 2)} **** **** **** {_d(rnd, 4)}",
                       f"{country}\u2022\u2022 \u2022\u2022\u2022\u2022 {_d(rnd, 4)}"))


def _tracking(rnd: random.Random) -> str:
    return rnd.choice((f"1Z{_s(rnd, 6, _CAP + _DIG)}{_d(rnd, 10)}",
                       " ".join([f"94{_d(rnd, 2)}", *(_d(rnd, 4) for _ in range(4)),
                                 _d(rnd, 2)]),
                       f"JJD{_d(rnd, 18)}"))


def _loyalty(rnd: random.Random) -> str:
    return " ".join(_card_groups(_not_luhn(rnd, 16, rnd.choice(("6", "9", "8")))))


def _isbn(rnd: random.Random) -> str:
    while True:
        body = "978" + rnd.choice(("82", "91", "1", "0")) + _d(rnd, 12)
        body = body[:12]
        check = (10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body)) % 10) % 10
        digits = body + str(check)
        if not luhn_valid(digits):
            return f"{digits[:3]}-{digits[3:5]}-{digits[5:9]}-{digits[9:12]}-{digits[12]}"


def _creditor_id(rnd: random.Random) -> str:
    country = rnd.choice(("DE", "NL", "FR", "IE", "ES", "AT"))
    national = _d(rnd, 11) if country == "DE" else _s(rnd, 9, _CAP[:6] + _DIG * 3)
    check = 98 - _iso7064(national + country + "00")
    return f"{country}{check:02d}ZZZ{national}"


def _rf_reference(rnd: random.Random) -> str:
    ref = _s(rnd, rnd.randint(7, 15), _CAP + _DIG * 3)
    check = 98 - _iso7064(ref + "RF00")
    flat = f"RF{check:02d}{ref}"
    return flat if rnd.random() < 0.5 else " ".join(flat[i:i + 4] for i in range(0, len(flat), 4))


def _ein(rnd: random.Random) -> str:
    prefix = rnd.choice(("12", "20", "26", "27", "45", "46", "81", "82", "84", "88"))
    return f"{prefix}-{_d(rnd, 7)}"


def _ssn_shaped_ref(rnd: random.Random) -> str:
    return f"{rnd.randint(100, 899)}-{_d(rnd, 2)}-{_d(rnd, 4)}"


def _reserved_email(rnd: random.Random) -> str:
    return (f"{rnd.choice(_FIRST)}{rnd.choice(('', '.' + rnd.choice(_LAST)))}@"
            + rnd.choice(("example.com", "example.org", "example.net", "mail.example",
                          "corp.example.com", "shop.test", "company.invalid")))


def _masked_email(rnd: random.Random) -> str:
    f = rnd.choice(_FIRST)
    return f"{f[0]}{rnd.choice(('*****', '***', chr(0x2022) * 4))}{f[-1]}@" \
           f"{rnd.choice(('gmail.com', 'outlook.com', 'web.de', 'icloud.com'))}"


def _message_id(rnd: random.Random) -> str:
    return rnd.choice((
        f"CA+{_s(rnd, 40, _AN + '+-_')}@mail.gmail.com",
        f"{_d(rnd, 14)}.{_s(rnd, 6, _HEX)}@mx1.nordvik-logistikk.no",
        f"{uuid.UUID(int=rnd.getrandbits(128), version=4)}@saffronsage-catering.com"))


def _private_ipv4(rnd: random.Random) -> str:
    return rnd.choice((f"10.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
                       f"172.{rnd.randint(16, 31)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
                       f"192.168.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
                       f"100.{rnd.randint(64, 127)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
                       "127.0.0.1", f"169.254.{rnd.randint(1, 254)}.{rnd.randint(1, 254)}"))


def _doc_ipv4(rnd: random.Random) -> str:
    return rnd.choice(("192.0.2.", "198.51.100.", "203.0.113.")) + str(rnd.randint(1, 254))


def _doc_ipv6(rnd: random.Random) -> str:
    return rnd.choice((f"2001:db8:{rnd.randint(1, 65535):x}::{rnd.randint(1, 65535):x}",
                       f"2001:DB8:{rnd.randint(1, 65535):X}:{rnd.randint(1, 65535):X}::1",
                       f"fd{_s(rnd, 2, _HEX)}:{_s(rnd, 4, _HEX)}:{_s(rnd, 4, _HEX)}::"
                       f"{rnd.randint(1, 255):x}",
                       f"fe80::{_s(rnd, 4, _HEX)}:{_s(rnd, 2, _HEX)}ff:fe{_s(rnd, 2, _HEX)}:"
                       f"{_s(rnd, 4, _HEX)}", "::1"))


def _mac(rnd: random.Random) -> str:
    octets = [_s(rnd, 2, _HEX) for _ in range(6)]
    return rnd.choice((":".join(octets), "-".join(octets).upper()))


def _build_number(rnd: random.Random) -> str:
    return rnd.choice((f"10.0.{rnd.randint(19041, 26100)}.{rnd.randint(1000, 5200)}",
                       f"{rnd.randint(1, 9)}.{rnd.randint(0, 30)}.{rnd.randint(0, 99)}."
                       f"{rnd.randint(1, 250)}"))


_TOKEN_HEADS = {
    "github_token": "ghp_", "gitlab_token": "glpat-", "slack_token": "xoxb-",
    "stripe_key": "sk_live_", "openai_api_key": "sk-proj-", "anthropic_api_key": "sk-ant-api03-",
    "npm_token": "npm_", "huggingface_token": "hf_", "sendgrid_api_key": "SG.",
    "google_api_key": "AIza", "vendor_token": "", "client_secret": "", "aws_access_key_id": "AKIA",
    "aws_secret_access_key": "", "aws_session_token": "IQoJb3JpZ2luX2VjE", "jwt": "eyJhbGciOi",
    "telegram_bot_token": "", "password": "",
}


def _masked_token(place: str) -> Callable[[random.Random], str]:
    head = _TOKEN_HEADS.get(place, "")

    def make(rnd: random.Random) -> str:
        tail = _s(rnd, 4)
        return rnd.choice((f"{head}{'*' * rnd.randint(6, 20)}{tail}", f"{head}...{tail}",
                           f"{head}\u2022\u2022\u2022\u2022\u2022\u2022\u2022\u2022{tail}",
                           f"{head}[REDACTED]", f"{head}{'x' * rnd.randint(12, 30)}"))
    return make


def _placeholder(rnd: random.Random) -> str:
    return rnd.choice(("<YOUR_API_TOKEN>", "REPLACE_ME", "<paste-token-here>", "TODO",
                       "changeme-before-deploy", "your_token_here", "<redacted>",
                       "XXXXXXXXXXXXXXXX",
                       "{{TOKEN}}", "n/a"))


def _password_mask(rnd: random.Random) -> str:
    return rnd.choice(("********", "\u2022" * rnd.randint(8, 12), "[redacted]", "<hidden>",
                       "<not set>", "xxxxxxxx", "(see vault)", "CHANGE_ME", "<password>"))


def _truncated_jwt(rnd: random.Random) -> str:
    return rnd.choice(("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJ\u2026",
                       "eyJhbGciOiJIUzI1NiJ9...(truncated)", "<jwt>", "eyJ***",
                       "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.<payload>.<signature>"))


def _certificate(rnd: random.Random) -> str:
    if rnd.random() < 0.4:
        return ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + _s(rnd, 43, _B64)
                + f" {rnd.choice(('ci-deploy-2026', 'greenhouse-node', 'backup-host'))}")
    kind = rnd.choice(("CERTIFICATE", "PUBLIC KEY"))
    body = ("MIIDdzCCAl+gAwIBAgIU" if kind == "CERTIFICATE" else
            "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA") + _s(rnd, 700, _B64)
    return f"-----BEGIN {kind}-----\n{_pem_rows(body)}\n-----END {kind}-----"


def _google_client_id(rnd: random.Random) -> str:
    return f"{_d(rnd, 12)}-{_s(rnd, 32, _LOW + _DIG)}.apps.googleusercontent.com"


def _stripe_publishable(rnd: random.Random) -> str:
    return "pk_live_51" + _s(rnd, 97)


def _aws_user_id(rnd: random.Random) -> str:
    return rnd.choice(("AIDA", "AROA", "AGPA")) + _s(rnd, 17, _B32)


def _uuid(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


@attrs.frozen
class _Family:
    """A kind of look-alike: it takes the slot of ``place``. ``words`` and ``what`` name it
    (then it goes only where a name is written beside the value); ``wrap`` shows it in the
    URL its place is shown in."""

    place: str
    make: Callable[[random.Random], str]
    words: Sequence[str] = ()
    what: str = ""
    wrap: bool = False
    generic: bool = True

    @property
    def named(self) -> bool:
        return bool(self.words)


_FAMILIES: dict[str, _Family] = {
    "test_card": _Family("payment_card", lambda r: " ".join(_card_groups(r.choice(_TEST_CARDS))),
                         ("test", "card"), "test card"),
    "masked_card": _Family("payment_card", _masked_card),
    "tracking": _Family("payment_card", _tracking, ("tracking", "number"), "tracking number"),
    "loyalty": _Family("payment_card", _loyalty, ("member", "number"), "membership number"),
    "isbn": _Family("payment_card", _isbn, ("isbn",), "ISBN"),
    "example_iban": _Family("iban", lambda r: _iban_print(r.choice(_EXAMPLE_IBANS)),
                            ("example", "iban"), "example IBAN"),
    "masked_iban": _Family("iban", _masked_iban),
    "creditor_id": _Family("iban", _creditor_id, ("creditor", "id"), "SEPA creditor ID"),
    "rf_reference": _Family("iban", _rf_reference, ("payment", "reference"), "payment reference"),
    "masked_ssn": _Family("us_ssn", lambda r: r.choice(("XXX-XX-", "***-**-", "xxx-xx-",
                                                        "\u2022\u2022\u2022-\u2022\u2022-"))
                          + _d(r, 4)),
    "ein": _Family("us_ssn", _ein, ("ein",), "EIN"),
    "specimen_ssn": _Family("us_ssn", lambda r: r.choice(("078-05-1120", "219-09-9999")),
                            ("specimen", "ssn"), "specimen SSN"),
    "claim_number": _Family("us_ssn", _ssn_shaped_ref, ("claim", "number"), "claim number"),
    "fiction_phone": _Family("phone", _fiction_phone),
    "booking_ref": _Family("phone", lambda r: f"{_d(r, 3)}-{_d(r, 3)}-{_d(r, 4)}",
                           ("booking", "ref"), "booking reference"),
    "reserved_email": _Family("email", _reserved_email),
    "masked_email": _Family("email", _masked_email),
    "message_id": _Family("email", _message_id, ("message", "id"), "Message-ID"),
    "private_ipv4": _Family("ipv4", _private_ipv4),
    "doc_ipv4": _Family("ipv4", _doc_ipv4),
    "netmask": _Family("ipv4", lambda r: r.choice(("255.255.255.0", "255.255.240.0",
                                                   "255.255.255.248", "255.255.0.0")),
                       ("netmask",), "netmask"),
    "build_number": _Family("ipv4", _build_number, ("firmware", "version"), "firmware version"),
    "doc_ipv6": _Family("ipv6", _doc_ipv6),
    "mac": _Family("ipv6", _mac, ("mac", "address"), "MAC address"),
    "aws_example_id": _Family("aws_access_key_id", lambda r: "AKIAIOSFODNN7EXAMPLE",
                              ("example", "access", "key"), "example key from the AWS docs"),
    "aws_example_secret": _Family("aws_secret_access_key",
                                  lambda r: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                  ("example", "secret", "key"), "example secret from the AWS docs"),
    "aws_user_id": _Family("aws_access_key_id", _aws_user_id, ("aws", "user", "id"),
                           "IAM unique ID"),
    "stripe_publishable": _Family("stripe_key", _stripe_publishable,
                                  ("stripe", "publishable", "key"), "publishable key"),
    "sha256": _Family("vendor_token", lambda r: _s(r, 64, _HEX), ("sha256",), "SHA-256"),
    "commit": _Family("vendor_token", lambda r: _s(r, 40, _HEX), ("git", "sha"), "commit"),
    "md5": _Family("vendor_token", lambda r: _s(r, 32, _HEX), ("md5",), "MD5 checksum"),
    "request_id": _Family("vendor_token", _uuid, ("request", "id"), "request ID"),
    "client_id": _Family("client_secret", _uuid, ("client", "id"), "client ID"),
    "tenant_id": _Family("client_secret", _uuid, ("tenant", "id"), "tenant ID"),
    "google_client_id": _Family("client_secret", _google_client_id, ("oauth", "client", "id"),
                                "OAuth client ID"),
    "telegram_bot_name": _Family("telegram_bot_token",
                                 lambda r: f"@{r.choice(('fjordlan', 'greenhouse', 'ledger'))}_"
                                 f"{r.choice(('alerts', 'scores', 'notify'))}_bot",
                                 ("bot", "username"), "bot username"),
    "telegram_chat_id": _Family("telegram_bot_token", lambda r: "-100" + _d(r, 10),
                                ("chat", "id"), "chat ID"),
    "slack_channel": _Family("slack_token", lambda r: "C0" + _s(r, 9, _CAP + _DIG),
                             ("slack", "channel", "id"), "channel ID"),
    "password_mask": _Family("password", _password_mask),
    "token_placeholder": _Family("vendor_token", _placeholder),
    "jwt_truncated": _Family("jwt", _truncated_jwt),
    "certificate": _Family("private_key", _certificate),
    "sas_placeholder": _Family("azure_sas_signature",
                               lambda r: r.choice(("REDACTED", "%3Csignature%3E", "<sig>", "...")),
                               wrap=True),
    "url_placeholder": _Family("url_password",
                               lambda r: r.choice(("%2A%2A%2A%2A", "REDACTED", "%3Cpassword%3E",
                                                   "xxxxxx")), wrap=True),
    "level_seed": _Family("payment_card", lambda r: r.choice(("-", "")) + r.choice("123456789")
                          + _d(r, r.choice((17, 18))), generic=False),
    "imei": _Family("payment_card", lambda r: _luhn_complete("35" + _d(r, 12)), generic=False),
    "textbook_isbn": _Family("payment_card", _isbn, generic=False),
}
_FAMILIES.update({f"masked_{place}": _Family(place, _masked_token(place))
                  for place in sorted(_TOKEN_HEADS)})


def _mutated(value: str, rnd: random.Random) -> str:
    """``value`` with one digit changed, so that its check fails."""
    spots = [i for i, c in enumerate(value) if c.isdigit()]
    at = rnd.choice(spots[2:])
    new = value[:at] + rnd.choice([c for c in _DIG if c != value[at]]) + value[at + 1:]
    assert not (iban_valid(new) if value[:2].isalpha() else luhn_valid(new)), new
    return new


# --- artifacts -----------------------------------------------------------------------------------

_NET = frozenset({"ipv4", "ipv6"})
_TOKENS = frozenset({"vendor_token", "github_token", "gitlab_token", "slack_token", "stripe_key",
                     "openai_api_key", "anthropic_api_key", "npm_token", "huggingface_token",
                     "sendgrid_api_key", "google_api_key", "telegram_bot_token", "client_secret"})
_BEARERS = _TOKENS - {"client_secret", "telegram_bot_token", "google_api_key",
                      "anthropic_api_key"} | {"jwt"}
_ALL_SECRETS = _SECRET_TYPES
_NO_PEM = _SECRET_TYPES - {"private_key"}

_Slot = tuple[str, frozenset[str] | None]


def _t(template: str, types: str | frozenset[str] | None = None) -> _Slot:
    """A template and the types it takes (``None``: any type the artifact holds)."""
    if isinstance(types, str):
        types = frozenset(types.split())
    return template, types


@attrs.frozen
class _Kind:
    """One kind of artifact. ``slots`` are templates with ``{v}`` (the value), ``{+type}``
    (another real value of that type), ``{k}`` (an identifier in the artifact's ``case``),
    ``{K}`` (upper case) and ``{w}`` (how a person names the value); ``pem`` is a template a
    private key fits in (its lines indented by ``pem_indent``); ``refs`` are (place, template,
    value) of look-alikes in the artifact's own syntax, ``own`` (template, family) of
    look-alikes this artifact holds; ``avoid`` are characters no value may hold there;
    ``plain`` shows cards and IBANs without blanks; ``order`` sorts the lines of a
    structured artifact (a key of each template), ``groups`` wrap the lines of one key in an
    opening and a closing text; ``schemes`` are the URL schemes a password in a URL takes."""

    prose: bool
    head: tuple[str, ...]
    slots: tuple[_Slot, ...]
    filler: tuple[str, ...]
    holds: frozenset[str]
    tail: str = ""
    case: str = "snake"
    avoid: str = ""
    pem: str = ""
    pem_indent: int = 0
    refs: tuple[tuple[str, str, str], ...] = ()
    own: tuple[tuple[str, str], ...] = ()
    plain: bool = False
    order: Callable[[str], object] | None = None
    groups: dict[object, tuple[str, str]] = attrs.field(factory=dict)
    schemes: tuple[str, ...] = ()


def _h(*variants: str) -> tuple[str, ...]:
    return variants


def _by_depth(template: str) -> int:
    """Deeper lines of a YAML artifact first (they continue the block its head opens)."""
    first = next((line for line in template.split("\n") if line.strip()), "")
    return len(first.lstrip()) - len(first)


def _by_time(template: str) -> str:
    return template.lstrip("\n")[:19]


def _sections_last(template: str) -> int:
    """Lines of the section the head opens first, new sections after them."""
    return 1 if template.startswith("\n[") else 0


def _sas_order(template: str) -> int:
    for prefix, key in (("proc sort", 1), ("proc s3", 1), ("proc http", 1), ("  if ", 2)):
        if template.startswith(prefix):
            return key
    return 0


def _camt_order(template: str) -> int:
    return 0 if "<Acct>" in template else 1 if "<Bal>" in template else 2


_F = frozenset
_K = _Kind

_KINDS: dict[str, _Kind] = {
    # --- prose ----------------------------------------------------------------------------------
    "house_sitter_notes": _K(
        True, _h("Notes for Kalinda - house & cat sitting, 18-27 December\n\nHi Kalinda! Thank "
                 "you so much again. Everything you need, I hope:",
                 "HOUSE NOTES (for whoever is sitting Miso this time)\n"),
        (_t("- Wi-Fi is \"Halvorsen-Home\", the password is {v}", "password"),
         _t("- The code for the lockbox app (spare key is inside) is {v}", "password"),
         _t("- TV: the streaming login is {+email} / {v}", "password"),
         _t("- Wi-Fi password: \"{v}\" (capital letters matter)", "password"),
         _t("- WLAN (für Oma, falls sie vorbeikommt): Passwort {v}", "password"),
         _t("- Fernhill Vets if Miso stops eating: {v}", "phone"),
         _t("- My mobile while we're away: {v} (we're an hour ahead)", "phone"),
         _t("- Send cat photos to {v} please!", "email"),
         _t("- If something breaks and you need to pay, use the card on the fridge, {v}",
            "payment_card"),
         _t("- The cat-food subscription is on my debit card ({v}), it renews on the 20th",
            "payment_card"),
         _t("- Kalinda, your {w} is still {v}, right? I'll send the money there", "phone email"),
         _t("- Our neighbour Ingeborg has a spare key, her {w} is {v}", "phone email")),
        ("- Miso gets half a pouch morning and evening, no more whatever she says.",
         "- Bins go out on Tuesday night (the green one this time).",
         "- The boiler makes a clanking noise, that's normal.",
         "- Plants in the kitchen need water every three days."),
        _F({"password", "phone", "email", "payment_card"}), tail="Hugs, Sigrun & Teodor",
        refs=(("password", "- The alarm app password is {v}", "the same as the Wi-Fi one"),
              ("password", "- Thermostat app: {v}", "it's on the yellow post-it in the cupboard")),
        own=(("- A parcel with the new cat flap is coming, tracking {v}", "tracking"),)),
    "crowdfunding_backer_survey": _K(
        True, _h("Tidepool: The Board Game - backer survey\nPledge level: Deep Diver (with "
                 "metal coins)\n",),
        (_t("Shipping e-mail: {v}", "email"), _t("Phone number for the courier: {v}", "phone"),
         _t("Card for the add-ons and shipping: {v}", "payment_card"),
         _t("Anything else we should know? -> my old address {v} no longer works, please use "
            "this one", "email"),
         _t("VAT refund (EU backers only), {w}: {v}", "iban"),
         _t("If the courier can't reach me try my partner on {v}", "phone"),
         _t("Please charge the shipping to this card instead: {v} (the other one expired)",
            "payment_card"),
         _t("Téléphone pour le livreur : {v}", "phone"),
         _t("Refund for the cancelled expansion to {v}, thanks!", "iban")),
        ("Add-ons: 1x sleeve pack, 1x neoprene mat", "Shipping region: EU (Norway)",
         "Size of the T-shirt: L", "Please don't ship before the 20th, we're away."),
        _F({"email", "phone", "payment_card", "iban"}),
        own=(("Pledge manager order number: {v}", "loyalty"),
             ("Card on file with the pledge manager: {v}", "masked_card"))),
    "executor_letter": _K(
        True, _h("Nordbank Ireland - Bereavement Support Team\nRe: Estate of the late Harald "
                 "Vinter\n\nDear Sir or Madam,",),
        (_t("I am the executor of my father's estate and write to close his current account, "
            "{w} {v}.", "iban"),
         _t("Please transfer the closing balance to the estate account, IBAN {v}", "iban"),
         _t("As he was also a US citizen, the IRS asks for his Social Security number, which "
            "was {v}", "us_ssn"),
         _t("He also held a credit card with you, number {v}, which should be cancelled.",
            "payment_card"),
         _t("You can reach me on {v} on weekdays.", "phone"),
         _t("My own account for the reimbursement of the funeral costs: {v}", "iban"),
         _t("The card that was linked to his online banking ended up being {v}", "payment_card"),
         _t("Correspondence can go to my e-mail, {v}", "email")),
        ("A certified copy of the death certificate and the grant of probate are enclosed.",
         "Please stop the standing orders with immediate effect.",
         "I would be grateful for a written confirmation once the account is closed."),
        _F({"iban", "us_ssn", "payment_card", "phone", "email"}),
        tail="Yours faithfully,\nMireille Vinter-Castellanos",
        own=(("Your reference: {v}", "claim_number"),)),
    "clinical_trial_screening": _K(
        True, _h("STRIDE-2 knee osteoarthritis study - screening questionnaire\n"
                 "Site: Riverbend Clinical Research\n",),
        (_t("Participant e-mail: {v}", "email"), _t("Best number to reach you: {v}", "phone"),
         _t("SSN (needed for the stipend 1099): {v}", "us_ssn"),
         _t("Stipend to be paid into (IBAN, for non-US participants): {v}", "iban"),
         _t("Emergency contact ({w}): {v}", "phone email"),
         _t("Social security no. of the caregiver, if one comes with you: {v}", "us_ssn"),
         _t("Travel costs refunded to: {v}", "iban"),
         _t("Home phone (landline): {v}", "phone")),
        ("Have you had knee surgery in the last 12 months? No",
         "Current medications: ibuprofen as needed",
         "Can you attend visits on weekday mornings? Yes, except Fridays"),
        _F({"email", "phone", "us_ssn", "iban"}),
        own=(("Medicare / insurance member ID: {v}", "loyalty"),
             ("Study ID (assigned at visit 1): {v}", "claim_number"))),
    "jury_deferral_request": _K(
        True, _h("To the Jury Commissioner,\nRe: request to defer jury service, week of 11 "
                 "January\n",),
        (_t("As the summons asks, my Social Security number is {v}.", "us_ssn"),
         _t("I can be contacted at {v} during the day.", "phone"),
         _t("or by e-mail at {v}", "email"),
         _t("My SS# (last time I served it was under {v}) has not changed.", "us_ssn"),
         _t("My employer's HR contact is Paloma Ibarra, {w} {v}.", "phone email")),
        ("I am the only carer for my mother, who has surgery on 12 January.",
         "I would be able to serve at any time after the end of March.",
         "Thank you for considering my request."),
        _F({"us_ssn", "phone", "email"}), tail="Respectfully,\nQuentin Dunleavy",
        own=(("Juror participant number: {v}", "claim_number"),
             ("Court employer ID on the summons: {v}", "ein"))),
    "self_storage_agreement": _K(
        True, _h("HARBOURSIDE SELF STORAGE - RENTAL AGREEMENT\nUnit: C-114 (5 x 10 ft)\n",),
        (_t("Tenant {w}: {v}", "email phone"), _t("Alternate contact: {v}", "phone email"),
         _t("Autopay card: {v}", "payment_card"),
         _t("Customer portal password (chosen by the tenant): {v}", "password"),
         _t("Tenant's SSN or driver licence no.: {v}", "us_ssn"),
         _t("Backup card if autopay fails: {v}", "payment_card"),
         _t("The gate app login is your e-mail and \"{v}\"", "password")),
        ("Monthly rent: EUR 89, due on the 1st.", "Access hours: 6:00 to 22:00 daily.",
         "Tenant confirms the unit holds no hazardous goods."),
        _F({"email", "phone", "payment_card", "password", "us_ssn"}),
        tail="Signed: __________   Date: 08/12/2026",
        refs=(("password", "Customer portal password: {v}", "(set by the tenant online)"),),
        own=(("Gate access card no.: {v}", "loyalty"),)),
    "catering_order_form": _K(
        True, _h("Saffron & Sage Catering - event order form\nEvent: 60th birthday, Saturday "
                 "9 January, 60 guests\n",),
        (_t("Contact {w}: {v}", "email phone"), _t("On-site contact on the day: {v}", "phone"),
         _t("Deposit (30%) charged to {v}", "payment_card"),
         _t("Invoice to: {v}", "email"),
         _t("Balance by direct debit from {w} {v}", "iban"),
         _t("Card for the rental of glasses and linen: {v}", "payment_card"),
         _t("If we owe you a refund, send it to {v}", "iban")),
        ("Menu: option B (mezze), vegetarian for 8, two gluten-free.",
         "Staff arrive at 16:00, service 18:00 to 22:30.",
         "Venue has a kitchen, but no dishwasher."),
        _F({"email", "phone", "payment_card", "iban"}),
        own=(("Our creditor ID for the debit: {v}", "creditor_id"),
             ("Please quote {v} with any bank transfer.", "rf_reference"))),
    "race_entry_form": _K(
        True, _h("Fjord Trail 50K 2027 - entry form\nDistance: 50K   Wave: B\n",),
        (_t("Runner's e-mail: {v}", "email"), _t("Emergency contact phone: {v}", "phone"),
         _t("Runner's mobile (for the tracker SMS): {v}", "phone"),
         _t("Nødkontakt / emergency contact (telefon): {v}", "phone"),
         _t("Kontonummer for refusjon (IBAN): {v}", "iban"),
         _t("Entry fee (NOK 1450) charged to card {v}", "payment_card"),
         _t("Refund account for cancelled entries, IBAN: {v}", "iban"),
         _t("Crew member during the race ({w}): {v}", "phone email"),
         _t("Shuttle bus add-on charged to {v}", "payment_card"),
         _t("Club's account (for team entries): {v}", "iban")),
        ("T-shirt: women's M", "Qualifying race: Lofoten Ultra, 2025",
         "I accept the mandatory kit list and the medical waiver."),
        _F({"email", "phone", "payment_card", "iban"}),
        own=(("Timing chip number: {v}", "loyalty"),
             ("Transfer from last year's entry, booking {v}", "booking_ref"))),
    "locksmith_job_sheet": _K(
        True, _h("KEYLINE LOCKSMITHS - job sheet\nJob: lock-out, rear door, uPVC; new cylinder "
                 "fitted\n",),
        (_t("Customer phone: {v}", "phone"), _t("E-mail for the invoice: {v}", "email"),
         _t("New smart-lock admin password set to {v} (customer to change it)", "password"),
         _t("The code for the lockbox app is {v}, customer has it written down", "password"),
         _t("Paid by card, {v}", "payment_card"),
         _t("Call-out fee taken on {v} before attending", "payment_card"),
         _t("Landlord to be billed for the rest, his {w} is {v}", "phone email")),
        ("Cylinder: 35/40 anti-snap, three keys handed over.", "Time on site: 55 minutes.",
         "Customer showed ID (utility bill at the address)."),
        _F({"phone", "email", "password", "payment_card"}),
        refs=(("password", "Old smart-lock password: {v}", "reset to factory, not recorded"),),
        own=(("Parts order (trade counter) no. {v}", "loyalty"),)),
    "photography_booking": _K(
        True, _h("Linnea Holt Photography - wedding booking form\nDate: 14 August 2027   "
                 "Venue: Ystad Saltsjöbad\n",),
        (_t("Couple's e-mail: {v}", "email"), _t("Phone on the day: {v}", "phone"),
         _t("Retainer (EUR 600) paid by card {v}", "payment_card"),
         _t("Second payment card (the groom's parents are paying half): {v}", "payment_card"),
         _t("Balance by bank transfer from IBAN {v}", "iban"),
         _t("Travel costs reimbursed to the couple's account {v}", "iban"),
         _t("Password you'd like for the guest gallery: {v}", "password"),
         _t("Gallery pw: \"{v}\" (we'll print it on the table cards)", "password")),
        ("Coverage: 10 hours, second shooter yes", "Family group list to follow by e-mail.",
         "Please no flash during the ceremony."),
        _F({"email", "phone", "payment_card", "iban", "password"}),
        own=(("Album order ref. {v}", "booking_ref"),)),
    "roommate_agreement": _K(
        True, _h("ROOMMATE AGREEMENT - 41 Orchard Lane, Apt 2\nBetween Oona, Jovan and Teodor\n",),
        (_t("* Rent goes to the landlord's account {v} by the 28th.", "iban"),
         _t("* Deposit is held in Jovan's savings account {v}", "iban"),
         _t("* Utilities are paid from the joint card {v}", "payment_card"),
         _t("* Groceries: the shared prepaid card is {v}", "payment_card"),
         _t("* Wi-Fi is 'Orchard-2G', password {v}", "password"),
         _t("* Streaming: my login is {+email} / {v}", "password"),
         _t("* Oona's phone {v}, Jovan's is on the fridge.", "phone"),
         _t("* Teodor's {w}: {v}", "phone email"),
         _t("* Questions about the bills go to {v}", "email")),
        ("* Quiet hours 23:00 to 7:00 on weeknights.", "* Guests can stay two nights a week.",
         "* Cleaning rota is on the whiteboard."),
        _F({"iban", "payment_card", "password", "phone", "email"}),
        refs=(("password", "* The router admin page password is {v}", "on the sticker under "
                                                                       "the router"),),
        own=(("* Broadband account number {v}", "loyalty"),)),
    "repair_shop_ticket": _K(
        True, _h("FixPoint Repairs - intake ticket\nDevice: iPhone 13, cracked screen, "
                 "battery swelling\n",),
        (_t("Device passcode (customer provided, for testing): {v}", "password"),
         _t("Apple ID e-mail: {v}", "email"), _t("Customer phone {v}", "phone"),
         _t("Card on file for the deposit: {v}", "payment_card"),
         _t("Customer paid the diagnostic fee with {v}", "payment_card"),
         _t("Loan phone issued, customer's other {w}: {v}", "email phone"),
         _t("Apple ID password (needed to turn off Find My): {v}", "password"),
         _t("Call {v} when it's ready, not the other number", "phone")),
        ("Quoted: EUR 189 screen + EUR 69 battery.", "Customer declined the data backup.",
         "Cosmetic: scratches on the frame noted."),
        _F({"password", "email", "phone", "payment_card"}),
        refs=(("password", "Apple ID password: {v}", "customer will disable Find My at pickup"),),
        own=(("IMEI checked against the blacklist: {v}", "imei"),)),
    "farmers_market_vendor_application": _K(
        True, _h("Riverbend Farmers' Market - 2027 vendor application\nBusiness: Underhill "
                 "Honey & Wax\n",),
        (_t("Business e-mail: {v}", "email"), _t("Phone: {v}", "phone"),
         _t("Stall fee charged to card {v}", "payment_card"),
         _t("Card for the electricity hook-up (if needed): {v}", "payment_card"),
         _t("SSN (sole proprietors, for the 1099-K): {v}", "us_ssn"),
         _t("Second contact at the stall: {w} {v}", "phone email")),
        ("Products: raw honey, beeswax candles, comb honey.",
         "Do you need electricity? No.", "Saturdays only, May to October."),
        _F({"email", "phone", "payment_card", "us_ssn"}),
        own=(("Business EIN (if incorporated): {v}", "ein"),
             ("Cottage food permit number: {v}", "claim_number"))),
    "phone_message_slips": _K(
        True, _h("WHILE YOU WERE OUT\nFor: Ms. Adeyemi   Date: 8/12   Time: 10:40\n",),
        (_t("Caller: Mr. Vinter, Nordbank.  Phone: {v}", "phone"),
         _t("Message: please call back about the wire, the account is {v}", "iban"),
         _t("E-mail: {v}", "email"),
         _t("Message: she says the new portal password is {v}", "password"),
         _t("Message: refund to be put back on card {v}", "payment_card"),
         _t("Message: he read out the card number again, {v}, please check the order",
            "payment_card"),
         _t("Message: new account for the supplier payments is {v}", "iban"),
         _t("[x] Please call   Tel. {v}", "phone")),
        ("[ ] Will call again   [x] Returned your call", "Taken by: Farida",
         "---\nFor: Mr. Lindgren   Time: 14:05", "Urgent: yes"),
        _F({"phone", "iban", "email", "password", "payment_card"}),
        refs=(("password", "Message: portal password {v}", "- she'll text it to you"),),
        own=(("Message: parcel {v} was delivered to the wrong floor", "tracking"),)),
    "hackathon_team_registration": _K(
        True, _h("Fjordhack 2026 - team registration\nTeam: Kelp Forest (4 people)\nTrack: "
                 "climate & oceans\n",),
        (_t("Team lead e-mail: {v}", "email"), _t("Phone (for the venue badge): {v}", "phone"),
         _t("We'll use the sponsor API, our {w} is {v}",
            " ".join(sorted(_TOKENS | {"openai_api_key", "anthropic_api_key"}))),
         _t("GitHub token for the judging bot to read our repo: {v}", "github_token"),
         _t("Cloud credits: the AWS access key is {v}", "aws_access_key_id"),
         _t("and the secret is {v}", "aws_secret_access_key"),
         _t("    export {K}={v}", _NO_PEM - {"url_password", "azure_sas_signature", "password"}),
         _t("Shared team account pw: {v}", "password"),
         _t("Demo data is in {v}", "azure_sas_signature url_password")),
        ("Idea: kelp-growth forecasts from satellite data.",
         "We need a table near a power outlet, please!", "Dietary: two vegans."),
        _NO_PEM - {"aws_session_token"} | _F({"email", "phone", "private_key"}),
        pem="Here's the deploy key for the demo server, sorry for pasting it here:\n{v}",
        refs=(("vendor_token", "Our {w}: {v}", "we'll add it in the portal later"),),
        own=(("Repo commit for judging: {v}", "commit"),)),
    "lan_party_signup": _K(
        True, _h("Re: LAN party at the scout hall, 16 January - who's in?\n",),
        (_t("Server IP for the Minecraft world: {v}", "ipv4 ipv6"),
         _t("password for the server is {v}", "password"),
         _t("Text me if you're bringing a second monitor: {v}", "phone"),
         _t("the bot's {w} for the tournament server (DON'T share): {v}",
            "vendor_token telegram_bot_token"),
         _t("E-mail for the photos afterwards: {v}", "email"),
         _t("I'll host the voice server on {v}, same password as last time", "ipv4 ipv6")),
        ("Bring your own cables, we only have a few spares.", "Pizza at 19:00, 10 each.",
         "Please label your power bricks!"),
        _F({"ipv4", "ipv6", "password", "phone", "vendor_token", "telegram_bot_token",
            "email"}),
        refs=(("password", "password for the server is {v}", "the one from the group chat"),),
        own=(("The router's {w} is {v}, don't change it", "netmask"),
             ("Tournament bot is {v} on Telegram", "telegram_bot_name"))),
    "password_notebook_page": _K(
        True, _h("(typed up from Grandad's address & password book, page 'B')\n",),
        (_t("Bank online - user {+email} - pw: {v}", "password"),
         _t("Broadband router - admin / {v}", "password"),
         _t("BT e-mail: {v}", "email"), _t("Pension helpline {v}", "phone"),
         _t("Card (for Amazon): {v}", "payment_card"),
         _t("New Visa from the bank (old one cut up): {v}", "payment_card"),
         _t("Wi-Fi \"{v}\"", "password"),
         _t("Social Security (from the US job in '79): {v}", "us_ssn"),
         _t("Barbara (Bergstrom) {w} {v}", "phone email")),
        ("Bins: Thursday", "Boiler service: every October", "Dr. Whitlock's surgery - Tuesdays"),
        _F({"password", "email", "phone", "payment_card", "us_ssn"}),
        refs=(("password", "Premium Bonds - pw: {v}", "same as bank but with a 2"),),
        own=(("Premium Bonds holder no. {v}", "loyalty"),)),
    "substitute_teacher_plans": _K(
        True, _h("Sub plans - Ms. Okonkwo, Room 14, Thursday\n",),
        (_t("Smartboard login: teacher14 / {v}", "password"),
         _t("The Chromebook cart password is {v}", "password"),
         _t("Front office: {v}", "phone"), _t("E-mail me if anything comes up: {v}", "email"),
         _t("Reading portal {w}: {v}", "password"),
         _t("Jamie's mum (nut allergy) - mobile {v}", "phone")),
        ("Period 1: silent reading, then worksheet p. 42.",
         "Period 2: the video on the water cycle, it's bookmarked.",
         "Do not let Marcus and Eli sit together."),
        _F({"password", "phone", "email"}),
        refs=(("password", "Gradebook {w}: {v}", "you won't need it, don't worry"),),
        own=(("Textbook for period 3 (ISBN {v}) is on my desk", "textbook_isbn"),)),
    # --- machine text ---------------------------------------------------------------------------
    "kamailio_cfg": _K(
        False, _h("#!KAMAILIO\n#\n# kamailio.cfg - SIP edge for the Nordvik Logistikk PBX\n#\n"
                  "#!define WITH_MYSQL\n#!define WITH_AUTH\n#!define WITH_NAT",),
        (_t("#!define DBURL \"{v}\"", "url_password"),
         _t("#!substdef \"!PUBLIC_IP!{v}!g\"", "ipv4 ipv6"),
         _t("listen=udp:{v}:5060", "ipv4"), _t("listen=tls:[{v}]:5061", "ipv6"),
         _t("#!define {K} \"{v}\"", _NO_PEM - {"url_password", "azure_sas_signature"}
            | _F({"email", "phone"})),
         _t("if (src_ip=={v}) {\n\txlog(\"L_INFO\", \"trusted carrier\\n\");\n}", "ipv4"),
         _t("\thttp_client_query(\"https://api.telegram.org/bot{v}/sendMessage?chat_id=$var(chat)"
            "&text=$rU\", \"$var(res)\");", "telegram_bot_token"),
         _t("\t$var(auth) = \"Bearer {v}\";", "jwt vendor_token"),
         _t("# escalation contact ({w}): {v}", "email phone")),
        ("loadmodule \"tm.so\"", "loadmodule \"sl.so\"", "loadmodule \"rr.so\"",
         "modparam(\"registrar\", \"max_contacts\", 5)",
         "modparam(\"nathelper\", \"natping_interval\", 30)",
         "request_route {\n\troute(REQINIT);\n\troute(NATDETECT);\n}"),
        _NO_PEM - {"azure_sas_signature"} | _F({"ipv4", "ipv6", "email", "phone"}),
        case="upper", avoid="\"\\$", schemes=("mysql",),
        refs=(("password", "#!defenv {K}={v}", "KAM_DB_PASSWORD"),
              ("vendor_token", "#!defenv {K}={v}", "PUSHOVER_TOKEN"))),
    "asterisk_pjsip_conf": _K(
        False, _h("; /etc/asterisk/pjsip.conf - edited by hand, read the wiki first\n[global]\n"
                  "type=global\nuser_agent=Fjordline PBX\n\n[transport-udp]\ntype=transport\n"
                  "protocol=udp",),
        (_t("bind={v}:5060", "ipv4"), _t("bind=[{v}]:5060", "ipv6"),
         _t("external_media_address={v}", "ipv4"),
         _t("external_signaling_address={v}", "ipv4 ipv6"),
         _t("\n[trunk-auth]\ntype=auth\nauth_type=userpass\nusername=fjordline_trunk\n"
            "password={v}", "password"),
         _t("\n[reception-auth]\ntype=auth\nauth_type=userpass\nusername=reception\n"
            "password={v}", "password"),
         _t("\n[trunk-identify]\ntype=identify\nendpoint=trunk\nmatch={v}", "ipv4 ipv6"),
         _t("\n[trunk-aor]\ntype=aor\ncontact=sip:{v}:5060", "ipv4"),
         _t("\n[reception]\ntype=endpoint\ncontext=from-internal\ndisallow=all\nallow=ulaw,alaw\n"
            "auth=reception-auth\naors=reception\ncallerid=\"Reception\" <{v}>", "phone"),
         _t("; {w} of the carrier NOC: {v}", "email phone"),
         _t("; old {k} was {v}", "password")),
        ("allow_reload=yes", "tos=cs3\ncos=3",
         "\n[sales]\ntype=endpoint\ncontext=from-internal\ndisallow=all\nallow=ulaw\n"
         "aors=sales\nrtp_symmetric=yes\nforce_rport=yes"),
        _F({"ipv4", "ipv6", "password", "phone", "email"}), avoid=" ;#\"",
        order=_sections_last),
    "consul_hcl": _K(
        False, _h("# /etc/consul.d/consul.hcl\ndatacenter = \"osl1\"\ndata_dir   = \"/opt/consul\""
                  "\nserver     = true",),
        (_t("bind_addr      = \"{v}\"", "ipv4 ipv6"), _t("advertise_addr = \"{v}\"", "ipv4 ipv6"),
         _t("retry_join = [\"{v}\"]", "ipv4 ipv6"),
         _t("ui_config {\n  enabled = true\n  metrics_proxy {\n    base_url = "
            "\"https://prometheus.nordvik-logistikk.no\"\n    add_headers = [\n      { name = "
            "\"Authorization\", value = \"Bearer {v}\" }\n    ]\n  }\n}", "jwt vendor_token"),
         _t("node_meta {\n  {k} = \"{v}\"\n}", "email phone vendor_token"),
         _t("# {w} for the on-call: {v}", "email phone")),
        ("log_level = \"INFO\"", "bootstrap_expect = 3", "ports {\n  grpc_tls = 8503\n}",
         "performance {\n  raft_multiplier = 1\n}"),
        _F({"ipv4", "ipv6", "jwt", "vendor_token", "email", "phone", "private_key"}),
        avoid="\"\\$",
        pem="connect {\n  enabled = true\n  ca_config {\n    private_key = <<EOT\n{v}\nEOT\n"
            "  }\n}",
        refs=(("ipv4", "bind_addr = \"{v}\"", "{{ GetInterfaceIP \\\"eth0\\\" }}"),
              ("ipv4", "advertise_addr = \"{v}\"", "{{ GetPublicIP }}"))),
    "buildkite_pipeline": _K(
        False, _h("# .buildkite/pipeline.yml\nenv:\n  DOCKER_BUILDKIT: \"1\"\n\nsteps:\n  - label:"
                  " \":package: publish\"\n    command: scripts/publish.sh\n    agents:\n"
                  "      queue: deploy\n    env:",),
        (_t("      {K}: \"{v}\"", _NO_PEM), _t("      {K}: '{v}'", _NO_PEM),
         _t("    plugins:\n      - docker#v5.12.0:\n          image: \"node:22\"\n          "
            "environment:\n            - \"{K}={v}\"", _NO_PEM),
         _t("  - wait\n  - label: \":mailbox: notify\"\n    command: scripts/notify.sh\n"
            "    notify:\n      - email: \"{v}\"", "email")),
        ("      NODE_ENV: production", "      AWS_REGION: eu-north-1",
         "    timeout_in_minutes: 20", "    retry:\n      automatic:\n        limit: 2"),
        _ALL_SECRETS | _F({"email"}), case="upper", avoid="\"'\\$",
        pem="      {K}: |\n        {v}", pem_indent=8, order=_by_depth,
        refs=(("*", "      {K}: \"{v}\"", "${{K}}"),
              ("*", "      {K}: \"{v}\"", "$$(buildkite-agent secret get {k})"))),
    "circleci_config": _K(
        False, _h("version: 2.1\n\njobs:\n  deploy:\n    docker:\n      - image: cimg/python:3.12\n"
                  "    environment:",),
        (_t("      {K}: \"{v}\"", _NO_PEM), _t("      {K}: '{v}'", _NO_PEM),
         _t("  build:\n    docker:\n      - image: ghcr.io/nordvik/ci-base:7\n        auth:\n"
            "          username: nordvik-ci\n          password: \"{v}\"\n    steps:\n"
            "      - checkout", "password github_token"),
         _t("  notify-release:\n    docker:\n      - image: cimg/base:current\n    steps:\n"
            "      - run: |\n          curl -fsS -H \"Authorization: Bearer {v}\" "
            "https://deploy.nordvik-logistikk.no/hooks/release", _BEARERS),
         _t("  ship:\n    machine: true\n    steps:\n      - run: ssh -o "
            "StrictHostKeyChecking=accept-new deploy@{v} ./release.sh", "ipv4")),
        ("      PIPENV_VENV_IN_PROJECT: \"1\"", "      TZ: Europe/Oslo",
         "    resource_class: medium", "    working_directory: ~/repo"),
        _ALL_SECRETS | _F({"ipv4"}), case="upper", avoid="\"'\\$",
        pem="      {K}: |\n        {v}", pem_indent=8, order=_by_depth,
        tail="    steps:\n      - checkout\n      - run: make deploy\n\nworkflows:\n  release:\n"
             "    jobs: [deploy]",
        refs=(("*", "      {K}: \"{v}\"", "<< pipeline.parameters.{k} >>"),
              ("*", "      {K}: \"{v}\"", "<< parameters.{k} >>"))),
    "pgpass_file": _K(
        False, _h("# ~/.pgpass - chmod 0600 or psql ignores it\n"
                  "# hostname:port:database:username:password",),
        (_t("pg-ledger-01.nordvik-logistikk.no:5432:ledger:ledger_app:{v}", "password"),
         _t("*:6432:pgbouncer:stats:{v}", "password"),
         _t("pg-ledger-02.nordvik-logistikk.no:5432:*:replicator:{v}", "password"),
         _t("{v}:5432:*:barman:{+password}", "ipv4"),
         _t("# ask {v} before rotating any of these", "email"),
         _t("# owner: {v}", "email"),
         _t("# {w} (old): {v}", "password email")),
        ("# the reporting box reads the replica only",
         "# localhost entries live in the system file"),
        _F({"password", "ipv4", "email"}), avoid=":\\"),
    "my_cnf": _K(
        False, _h("# ~/.my.cnf - used by the nightly backup\n[client]\nuser = backup",),
        (_t("password = \"{v}\"", "password"), _t("host = {v}", "ipv4 ipv6"),
         _t("\n[mysqldump]\nuser = dump\npassword = \"{v}\"", "password"),
         _t("\n[mysqladmin]\nuser = root\npassword='{v}'", "password"),
         _t("\n[client-replica]\nhost = {v}\nport = 3306\npassword = \"{+password}\"", "ipv4 ipv6"),
         _t("# {w}: {v}", None)),
        ("port = 3306", "ssl-mode = REQUIRED", "default-character-set = utf8mb4",
         "\n[mysql]\nauto-rehash = FALSE"),
        _F({"password", "ipv4", "ipv6", "email"}), avoid="\\#", order=_sections_last),
    "esphome_yaml": _K(
        False, _h("esphome:\n  name: greenhouse-node\n  friendly_name: Greenhouse\n\nesp32:\n"
                  "  board: esp32dev\n\nwifi:\n  ssid: \"Halvorsen-IoT\"",),
        (_t("  password: \"{v}\"", "password"),
         _t("  ap:\n    ssid: \"Greenhouse Fallback\"\n    password: \"{v}\"", "password"),
         _t("ota:\n  - platform: esphome\n    password: \"{v}\"", "password"),
         _t("mqtt:\n  broker: {v}\n  username: greenhouse\n  password: \"{+password}\"",
            "ipv4 ipv6"),
         _t("interval:\n  - interval: 30min\n    then:\n      - http_request.post:\n"
            "          url: https://ha.halvorsen.net/api/services/notify/mobile\n"
            "          request_headers:\n            Authorization: \"Bearer {v}\"", "jwt"),
         _t("script:\n  - id: frost_alert\n    then:\n      - http_request.get:\n          url: "
            "\"https://api.telegram.org/bot{v}/sendMessage?chat_id=-4112&text=frost\"",
            "telegram_bot_token"),
         _t("button:\n  - platform: template\n    name: Test frost alert\n    on_press:\n"
            "      - http_request.get:\n          url: \"https://api.telegram.org/bot{v}/"
            "sendMessage?chat_id=-4112&text=test\"", "telegram_bot_token"),
         _t("binary_sensor:\n  - platform: gpio\n    pin: GPIO5\n    name: Door\n    on_press:\n"
            "      - http_request.post:\n          url: https://ha.halvorsen.net/api/events/door\n"
            "          request_headers:\n            Authorization: \"Bearer {v}\"", "jwt"),
         _t("time:\n  - platform: sntp\n    servers:\n      - {v}", "ipv4 ipv6"),
         _t("  use_address: {v}", "ipv4 ipv6"),
         _t("  # {w}: {v}", "password")),
        ("  power_save_mode: none", "  fast_connect: true",
         "sensor:\n  - platform: dht\n    pin: GPIO4\n    update_interval: 60s",
         "captive_portal:", "logger:\n  level: INFO"),
        _F({"password", "ipv4", "ipv6", "jwt", "telegram_bot_token"}), avoid="\"\\",
        order=_by_depth,
        refs=(("password", "  password: {v}", "!secret wifi_password"),
              ("password", "ota:\n  - platform: esphome\n    password: {v}",
               "!secret ota_password"),
              ("jwt", "interval:\n  - interval: 30min\n    then:\n      - http_request.post:\n"
                      "          url: https://ha.halvorsen.net/api/services/notify/mobile\n"
                      "          request_headers:\n            Authorization: {v}",
               "!secret ha_bearer"))),
    "minecraft_server_properties": _K(
        False, _h("#Minecraft server properties\n#Tue Dec 08 09:14:02 CET 2026\n"
                  "accept-transfers=false\nallow-flight=false\ndifficulty=normal\nenable-rcon=true",),
        (_t("rcon.password={v}", "password"), _t("server-ip={v}", "ipv4 ipv6"),
         _t("# {w} of the Velocity proxy: {v}", "ipv4 ipv6"),
         _t("# {w}: {v}", "email phone password"),
         _t("motd=Fjord LAN - whitelist requests to {v}", "email")),
        ("gamemode=survival", "max-players=24", "online-mode=true", "rcon.port=25575",
         "view-distance=10", "white-list=true", "spawn-protection=16"),
        _F({"password", "ipv4", "ipv6", "email", "phone"}), case="kebab", avoid="\\",
        own=(("level-seed={v}", "level_seed"), ("#server-ip={v}  (LAN only, old)",
                                                 "private_ipv4"))),
    "synapse_homeserver_yaml": _K(
        False, _h("# homeserver.yaml (Synapse)\nserver_name: \"chat.fjordtrail.no\"\n"
                  "pid_file: /data/homeserver.pid\nlisteners:\n  - port: 8008\n    tls: false\n"
                  "    type: http\n    x_forwarded: true\n    resources:\n"
                  "      - names: [client, federation]",),
        (_t("database:\n  name: psycopg2\n  args:\n    user: synapse\n    password: \"{v}\"\n"
            "    database: synapse\n    host: db", "password"),
         _t("registration_shared_secret: \"{v}\"", "password"),
         _t("turn_shared_secret: \"{v}\"", "password"),
         _t("email:\n  smtp_host: smtp.sendgrid.net\n  smtp_port: 587\n  smtp_user: \"apikey\"\n"
            "  smtp_pass: \"{v}\"\n  notif_from: \"%(app)s <{+email}>\"", "sendgrid_api_key"),
         _t("admin_contact: \"mailto:{v}\"", "email"),
         _t("oidc_providers:\n  - idp_id: keycloak\n    idp_name: \"Staff SSO\"\n    issuer: "
            "\"https://sso.fjordtrail.no/realms/staff\"\n    client_id: \"synapse\"\n"
            "    client_secret: \"{v}\"", "client_secret"),
         _t("ip_range_whitelist:\n  - \"{v}/32\"", "ipv4"),
         _t("turn_uris: [\"turn:{v}:3478?transport=udp\"]", "ipv4"),
         _t("# {w}: {v}", "password email")),
        ("report_stats: false", "enable_registration: false", "media_store_path: /data/media",
         "max_upload_size: 50M"),
        _F({"password", "sendgrid_api_key", "email", "client_secret", "ipv4"}), avoid="\"\\",
        refs=(("password", "registration_shared_secret_path: {v}",
               "/run/secrets/synapse_registration"),
              ("client_secret", "oidc_providers:\n  - idp_id: keycloak\n"
                                "    client_id: \"synapse\"\n"
                                "    client_secret_path: {v}", "/run/secrets/keycloak_client"),
              ("password", "database:\n  name: psycopg2\n  args:\n    user: synapse\n"
                           "    password: {v}", "\"${POSTGRES_PASSWORD}\""))),
    "gitea_app_ini": _K(
        False, _h("APP_NAME = Nordvik Code\nRUN_USER = git\nRUN_MODE = prod\n\n[server]\n"
                  "DOMAIN    = git.nordvik-logistikk.no\nHTTP_PORT = 3000\n"
                  "ROOT_URL  = https://git.nordvik-logistikk.no/",),
        (_t("\n[database]\nDB_TYPE = postgres\nHOST    = {v}:5432\nNAME    = gitea\n"
            "USER    = gitea\nPASSWD  = `{+password}`", "ipv4"),
         _t("\n[database]\nDB_TYPE = postgres\nHOST    = pg-git.nordvik-logistikk.no:5432\n"
            "NAME    = gitea\nUSER    = gitea\nPASSWD  = `{v}`", "password"),
         _t("\n[email.incoming]\nENABLED  = true\nHOST     = imap.nordvik-logistikk.no\n"
            "USERNAME = {v}\nPASSWORD = `{+password}`", "email"),
         _t("\n[email.incoming]\nENABLED  = true\nHOST     = imap.nordvik-logistikk.no\n"
            "USERNAME = git-replies\nPASSWORD = {v}", "password"),
         _t("\n[mailer]\nENABLED   = true\nPROTOCOL  = smtp+starttls\nSMTP_ADDR = smtp.sendgrid.net"
            "\nSMTP_PORT = 587\nUSER      = apikey\nPASSWD    = `{v}`", "sendgrid_api_key"),
         _t("\n[security]\nINSTALL_LOCK   = true\nINTERNAL_TOKEN = {v}", "jwt"),
         _t("\n[storage]\nSTORAGE_TYPE            = minio\nMINIO_ENDPOINT          = "
            "s3.eu-north-1.amazonaws.com\nMINIO_ACCESS_KEY_ID     = {v}\n"
            "MINIO_SECRET_ACCESS_KEY = {+aws_secret_access_key}", "aws_access_key_id"),
         _t("\n[storage]\nSTORAGE_TYPE            = minio\nMINIO_ENDPOINT          = "
            "s3.eu-north-1.amazonaws.com\nMINIO_ACCESS_KEY_ID     = {+aws_access_key_id}\n"
            "MINIO_SECRET_ACCESS_KEY = {v}", "aws_secret_access_key"),
         _t("\n[webhook]\nALLOWED_HOST_LIST = {v}", "ipv4 ipv6"),
         _t("; {w}: {v}", None)),
        ("\n[service]\nDISABLE_REGISTRATION = true", "\n[log]\nMODE  = console\nLEVEL = info",
         "\n[session]\nPROVIDER = file"),
        _F({"ipv4", "ipv6", "password", "sendgrid_api_key", "email", "jwt", "aws_access_key_id",
            "aws_secret_access_key"}), case="upper", avoid="`;#",
        refs=(("jwt", "\n[security]\nINSTALL_LOCK       = true\nINTERNAL_TOKEN_URI = {v}",
               "file:/etc/gitea/internal_token"),
              ("password", "\n[database]\nDB_TYPE = postgres\nHOST    = pg-git.nordvik-logistikk.no"
                           ":5432\nUSER    = gitea\nPASSWD  = {v}", "`$GITEA_DB_PASSWD`"))),
    "strace_output": _K(
        False, _h("$ strace -f -s 512 -e trace=execve,connect,read,write -o sync.trace "
                  "./nightly-sync.sh\n$ grep -v ENOENT sync.trace",),
        (_t("41872 execve(\"/usr/bin/curl\", [\"curl\", \"-sS\", \"-H\", \"Authorization: Bearer "
            "{v}\", \"https://api.tidepoolgames.com/v2/export\"], 0x7ffc2d1e9a58 /* 27 vars */) "
            "= 0", _BEARERS),
         _t("41872 execve(\"/usr/bin/curl\", [\"curl\", \"-sS\", \"-H\", \"x-api-key: {v}\", "
            "\"https://api.anthropic.com/v1/messages\"], 0x7ffc2d1e9a58 /* 27 vars */) = 0",
            "anthropic_api_key"),
         _t("41872 execve(\"/usr/bin/curl\", [\"curl\", \"-sS\", \"https://maps.googleapis.com/maps"
            "/api/geocode/json?address=Tromso&key={v}\"], 0x7ffc2d1e9a58 /* 27 vars */) = 0",
            "google_api_key"),
         _t("41873 execve(\"/usr/bin/psql\", [\"psql\", \"{v}\", \"-f\", \"export.sql\"], "
            "0x7ffe4b9c1e20 /* 27 vars */) = 0", "url_password"),
         _t("41874 execve(\"/usr/bin/mysql\", [\"mysql\", \"-h\", \"db-2\", \"-u\", \"export\", "
            "\"-p{v}\", \"shop\"], 0x7ffd8a0b52c8 /* 27 vars */) = 0", "password"),
         _t("41872 connect(3, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr(\"{v}\")"
            "}, 16) = 0", "ipv4"),
         _t("41872 connect(3, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), "
            "inet_pton(AF_INET6, \"{v}\", &sin6_addr), sin6_scope_id=0}, 28) = 0", "ipv6"),
         _t("41875 write(4, \"PASS {v}\\r\\n\", 24) = 24", "password"),
         _t("41872 read(3, \"{\\\"access_token\\\":\\\"{v}\\\","
            "\\\"token_type\\\":\\\"Bearer\\\"}\", "
            "512) = 412", "jwt vendor_token"),
         _t("41876 write(1, \"signed in as {v}\\n\", 37) = 37", "email"),
         _t("41877 execve(\"/usr/local/bin/aws\", [\"aws\", \"configure\", \"set\", \"{k}\", "
            "\"{v}\"], 0x7ffd31e0c9b8 /* 27 vars */) = 0",
            "aws_access_key_id aws_secret_access_key aws_session_token"),
         _t("41878 execve(\"/usr/bin/git\", [\"git\", \"clone\", \"https://x-access-token:{v}"
            "@github.com/nordvik/ledger.git\"], 0x7ffe02b4d7a0 /* 27 vars */) = 0", "github_token"),
         _t("41879 execve(\"/usr/bin/npm\", [\"npm\", \"config\", \"set\", \"//registry.npmjs.org/"
            ":_authToken={v}\"], 0x7ffc95a1e3f0 /* 27 vars */) = 0", "npm_token"),
         _t("41880 execve(\"/usr/bin/env\", [\"env\", \"{K}={v}\", \"./upload.sh\"], "
            "0x7ffd6e2f1a08 /* 27 vars */) = 0", _NO_PEM - {"url_password"}),
         _t("41881 execve(\"/usr/bin/curl\", [\"curl\", \"-T\", \"report.csv\", \"{v}\"], "
            "0x7ffc71b3e5d0 /* 27 vars */) = 0", "azure_sas_signature")),
        ("41872 connect(3, {sa_family=AF_UNIX, sun_path=\"/var/run/nscd/socket\"}, 110) = -1 "
         "ENOENT (No such file or directory)", "41873 +++ exited with 0 +++",
         "41872 read(3, \"HTTP/1.1 200 OK\\r\\n\", 512) = 17",
         "41872 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=41873, si_uid=1000, "
         "si_status=0} ---"),
        _NO_PEM | _F({"ipv4", "ipv6", "email"}), case="snake", avoid="\"\\",
        schemes=("postgres",)),
    "exim_mainlog": _K(
        False, _h("==> /var/log/exim4/mainlog <==\n2026-12-08 09:00:01 exim 4.98 daemon started: "
                  "pid=1187, -q30m, listening for SMTP on port 25 (IPv6 and IPv4) port 587 "
                  "(IPv6 and IPv4)",),
        (_t("2026-12-08 09:14:02 1tQk2X-00Ab3c-Ef <= {v} H=mail.tidepoolgames.com [{+ipv4}]:40112 "
            "P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=8412", "email"),
         _t("2026-12-08 09:14:03 1tQk2X-00Ab3c-Ef => {v} R=dnslookup T=remote_smtp H=aspmx.l."
            "google.com [{+ipv4}] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C=\"250 2.0.0 OK\"",
            "email"),
         _t("2026-12-08 09:15:40 H=(User) [{v}]:52114 F=<> rejected RCPT <postmaster>: relay not "
            "permitted", "ipv4 ipv6"),
         _t("2026-12-08 09:16:11 login authenticator failed for (ylmf-pc) [{v}]:61023: 535 "
            "Incorrect authentication data (set_id=admin)", "ipv4 ipv6"),
         _t("2026-12-08 09:17:45 1tQk4Z-00Ab9k-2R ** {v}: Unrouteable address", "email"),
         _t("2026-12-08 09:18:02 1tQk5b-00AbAd-0q <= {v} U=www-data P=local S=2291 "
            "T=\"Your order has shipped\"", "email"),
         _t("2026-12-08 09:19:30 1tQk6c-00AbB1-7T H=mx2.nordvik-logistikk.no [{v}] Warning: "
            "\"SPF softfail\"", "ipv4 ipv6"),
         _t("2026-12-08 09:22:51 1tQk7d-00AbC2-1U == {v} R=dnslookup T=remote_smtp defer (-44) "
            "H=mx.orange.fr: SMTP error from remote mail server after RCPT TO: 452 mailbox full",
            "email")),
        ("2026-12-08 09:30:01 Start queue run: pid=20413",
         "2026-12-08 09:30:02 End queue run: pid=20413",
         "2026-12-08 09:14:04 1tQk2X-00Ab3c-Ef Completed",
         "2026-12-08 09:20:17 1tQk6c-00AbB1-7T Frozen (delivery error message)"),
        _F({"email", "ipv4", "ipv6"}), case="snake", order=_by_time,
        own=(("2026-12-08 09:14:05 1tQk2Y-00Ab3d-Gh <= <> R=1tQk2X-00Ab3c-Ef U=Debian-exim P=local"
              " S=1904 id={v}", "message_id"),
             ("2026-12-08 09:21:44 H=(localhost) [{v}]:38710 Warning: unknown HELO", "private_ipv4")
             )),
    "op_item_get": _K(
        False, _h("$ op item get \"Ledger production\" --vault Ops --reveal\nTitle:       Ledger "
                  "production\nVault:       Ops\nCreated:     4 months ago\nUpdated:     2 days "
                  "ago by Rosalind Whitlock\nFavorite:    false\nTags:        prod, ledger\n"
                  "Category:    API_CREDENTIAL\nFields:",
                  "$ op item get \"Vendor portal\" --reveal\nTitle:       Vendor portal\nVault:"
                  "       Shared\nCategory:    LOGIN\nFields:"),
        (_t("  {w}:    {v}", None), _t("  username:    {v}", "email"),
         _t("  password:    {v}", "password"), _t("  credential:    {v}", _TOKENS | {"jwt"}),
         _t("  hostname:    {v}", "ipv4 ipv6"), _t("  phone:    {v}", "phone"),
         _t("URLs:\n  website:    {v}", "url_password azure_sas_signature"),
         _t("\nSection: Billing\n  card number:    {v}", "payment_card"),
         _t("\nSection: Payouts\n  IBAN:    {v}", "iban"),
         _t("\nSection: AWS\n  {w}:    {v}", "aws_access_key_id aws_secret_access_key "
                                             "aws_session_token")),
        ("  type:    bearer", "  expires:    never", "  valid from:    2026-09-01",
         "  filename:    ledger-prod.env"),
        _ALL_SECRETS | _F({"email", "phone", "ipv4", "ipv6", "payment_card", "iban"}),
        case="space", pem="  private key:    {v}",
        refs=(("*", "  notes:    the CI job reads {v}", "op://Ops/Ledger production/credential"),
              ("password", "  password:    {v}",
               "[use 'op item get \"Ledger production\" --reveal' to reveal]"))),
    "vba_macro": _K(
        False, _h("Attribute VB_Name = \"modWeeklyExport\"\nOption Explicit\n\n' Sends the weekly "
                  "sheet to the orders API and e-mails the summary\n' Last changed by Hamish - "
                  "do not run twice in a row\n\nPublic Sub ExportWeek()\n"
                  "    Dim http As Object, conn As Object, olMail As Object, ws As Worksheet\n"
                  "    Dim token As String, pwd As String\n"
                  "    Set http = CreateObject(\"MSXML2.XMLHTTP.6.0\")\n"
                  "    Set ws = ThisWorkbook.Worksheets(\"Weekly\")",),
        (_t("    Const {K} As String = \"{v}\"", None),
         _t("    conn.Open \"Driver={PostgreSQL Unicode};Server=db.saffronsage-catering.com;"
            "Port=5432;Database=orders;Uid=excel_sync;Pwd={v};\"", "password"),
         _t("    http.setRequestHeader \"Authorization\", \"Bearer {v}\"", _BEARERS),
         _t("    http.Open \"PUT\", \"{v}\", False", "azure_sas_signature url_password"),
         _t("    olMail.To = \"{v}\"", "email"), _t("    olMail.CC = \"{v}\"", "email"),
         _t("    ws.Range(\"C7\").Value = \"{v}\"  ' {w} for refunds", "iban"),
         _t("    ws.Range(\"D4\").Value = \"{v}\"  ' {w}", "phone payment_card iban"),
         _t("    ' {w}: {v}", None)),
        ("    Application.ScreenUpdating = False", "    On Error GoTo Fail",
         "    ws.Calculate", "    http.send ws.Range(\"A1\").CurrentRegion.Value"),
        _NO_PEM | _F({"email", "phone", "iban", "payment_card"}), case="upper", avoid="\"",
        schemes=("https", "sftp"),
        tail="    Exit Sub\nFail:\n    MsgBox \"Export failed: \" & Err.Description\nEnd Sub",
        refs=(("*", "    token = {v}", "Environ(\"ORDERS_TOKEN\")"),
              ("password", "    pwd = {v}", "GetSetting(\"WeeklyExport\", \"Db\", \"Password\")"),
              ("*", "    token = {v}", "ThisWorkbook.Names(\"ApiToken\").RefersToRange.Value"))),
    "sas_program": _K(
        False, _h("/* weekly_claims.sas - pulls open claims for the Monday report */\n"
                  "options nosource2 nonotes;\n%let run_date = %sysfunc(today(), yymmdd10.);",),
        (_t("libname wh postgres server=\"pg-wh.fernhillvets.co.uk\" port=5432 user=sas_reader "
            "password=\"{v}\" database=claims;", "password"),
         _t("libname raw postgres server=\"{v}\" port=5432 user=sas_reader database=claims "
            "authdomain=PGAuth;", "ipv4 ipv6"),
         _t("%let {k} = {v};", _F({"password", "vendor_token", "email", "phone", "jwt",
                                   "google_api_key", "openai_api_key"})),
         _t("proc http url=\"https://api.fernhillvets.co.uk/v1/claims\" method=\"GET\" out=resp;\n"
            "  headers \"Authorization\"=\"Bearer {v}\";\nrun;", _BEARERS),
         _t("proc s3 keyid=\"{v}\" secret=\"{+aws_secret_access_key}\" region=euwest1;\n"
            "  get \"/fernhill-claims/2026-12/claims.csv\" \"/data/in/claims.csv\";\nrun;",
            "aws_access_key_id"),
         _t("proc s3 keyid=\"{+aws_access_key_id}\" secret=\"{v}\" region=euwest1;\n"
            "  list \"/fernhill-claims\";\nrun;", "aws_secret_access_key"),
         _t("proc s3 keyid=\"{+aws_access_key_id}\" secret=\"{+aws_secret_access_key}\" "
            "session=\"{v}\" region=euwest1;\n  list \"/fernhill-claims\";\nrun;",
            "aws_session_token"),
         _t("  if ssn = '{v}' then flag = 1;", "us_ssn"),
         _t("  if iban = '{v}' then output work.dupes;", "iban"),
         _t("  if pan = '{v}' then delete;", "payment_card"),
         _t("/* {w} of the data steward: {v} */", "email phone"),
         _t("%let notify = {v};", "email")),
        ("proc sort data=wh.claims out=work.open; by claim_id; run;",
         "ods excel file=\"/reports/claims_&run_date..xlsx\";"),
        _F({"password", "ipv4", "ipv6", "vendor_token", "jwt", "google_api_key", "openai_api_key",
            "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "us_ssn", "iban",
            "payment_card", "email", "phone"}) | _BEARERS, avoid="\"';&%",
        order=_sas_order, groups={2: ("data work.flagged work.dupes;\n  set work.open;", "run;")},
        tail="proc freq data=work.flagged; tables status; run;\nods excel close;",
        refs=(("password", "libname wh postgres server=\"pg-wh.fernhillvets.co.uk\" "
                           "user=sas_reader password={v} database=claims;", "\"&dbpass.\""),
              ("*", "%let {k} = {v};", "%sysget(CLAIMS_TOKEN)"))),
    "beancount_ledger": _K(
        False, _h("option \"title\" \"Household - Vinter\"\noption \"operating_currency\" \"EUR\"\n"
                  "plugin \"beancount.plugins.auto_accounts\"\n",),
        (_t("2026-01-01 open Assets:Bank:Checking EUR\n  iban: \"{v}\"", "iban"),
         _t("2026-01-01 open Assets:Bank:Savings EUR\n  iban: \"{v}\"", "iban"),
         _t("2026-01-01 open Liabilities:CreditCard:Visa EUR\n  card: \"{v}\"", "payment_card"),
         _t("2026-12-03 * \"Harbourside Storage\" \"Refund of overpaid rent\"\n"
            "  counterparty-iban: "
            "\"{v}\"\n  Assets:Bank:Checking   85.00 EUR\n  Income:Refunds", "iban"),
         _t("2026-11-28 * \"Keyline Locksmiths\" \"New cylinder\"\n  contact: \"{v}\"\n"
            "  Liabilities:CreditCard:Visa   -142.50 EUR\n  Expenses:Home:Repairs", "email phone"),
         _t("; {w}: {v}", "password email phone us_ssn"),
         _t("2026-01-01 open Expenses:Taxes:US:Federal USD\n  ssn: \"{v}\"", "us_ssn"),
         _t("2026-01-01 custom \"bank-login\" \"Nordbank\" \"{v}\"", "password")),
        ("2026-12-01 balance Assets:Bank:Checking  2418.77 EUR",
         "2026-12-05 * \"Rema 1000\" \"Groceries\"\n  Assets:Bank:Checking  -63.40 EUR\n"
         "  Expenses:Food", "2026-12-06 price EUR 1.0512 USD"),
        _F({"iban", "payment_card", "email", "phone", "us_ssn", "password"}), avoid="\"\\",
        own=(("2026-12-04 * \"Nordvik Logistikk\" \"Invoice\"\n  payment-ref: \"{v}\"\n"
              "  Assets:Bank:Checking  -310.00 EUR\n  Expenses:Shipping", "rf_reference"),
             ("2026-12-02 * \"Fernhill Vets\" \"Direct debit\"\n  creditor-id: \"{v}\"\n"
              "  Assets:Bank:Checking  -45.00 EUR\n  Expenses:Pets", "creditor_id"))),
    "camt053_statement": _K(
        False, _h("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:"
                  "20022:tech:xsd:camt.053.001.08\">\n  <BkToCstmrStmt>\n    <GrpHdr>\n      "
                  "<MsgId>STMT-2026-12-07-0341</MsgId>\n      <CreDtTm>2026-12-08T06:00:12+01:00"
                  "</CreDtTm>\n    </GrpHdr>\n    <Stmt>",),
        (_t("      <Acct>\n        <Id>\n          <IBAN>{v}</IBAN>\n        </Id>\n"
            "        <Ccy>EUR</Ccy>\n      </Acct>", "iban"),
         _t("            <RltdPties>\n              <Dbtr><Pty><Nm>Gunnhild Eriksen</Nm></Pty>"
            "</Dbtr>\n              <DbtrAcct><Id><IBAN>{v}</IBAN></Id></DbtrAcct>\n"
            "            </RltdPties>", "iban"),
         _t("            <RltdPties>\n              <Cdtr><Pty><Nm>Fernhill Vets</Nm></Pty></Cdtr>"
            "\n              <CdtrAcct><Id><IBAN>{v}</IBAN></Id></CdtrAcct>\n"
            "            </RltdPties>", "iban"),
         _t("            <CardTx>\n              <Card>\n                <PlainCardData>\n"
            "                  <PAN>{v}</PAN>\n                </PlainCardData>\n"
            "              </Card>\n            </CardTx>", "payment_card"),
         _t("            <RltdPties>\n              <Dbtr><Pty><Nm>Teodor Szabo</Nm>\n"
            "                <CtctDtls><EmailAdr>{v}</EmailAdr></CtctDtls></Pty></Dbtr>\n"
            "            </RltdPties>", "email"),
         _t("            <RltdPties>\n              <Dbtr><Pty><Nm>Ulrike Nordahl</Nm>\n"
            "                <CtctDtls><PhneNb>{v}</PhneNb></CtctDtls></Pty></Dbtr>\n"
            "            </RltdPties>", "phone"),
         _t("            <AddtlTxInf>{w} {v}</AddtlTxInf>", "iban phone email")),
        ("        <Bal>\n          <Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp>\n          "
         "<Amt Ccy=\"EUR\">12418.77</Amt>\n          <CdtDbtInd>CRDT</CdtDbtInd>\n        </Bal>",
         "            <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>",
         "            <Amt Ccy=\"EUR\">85.00</Amt>",
         "            <RmtInf><Ustrd>Refund of overpaid rent, unit C-114</Ustrd></RmtInf>"),
        _F({"iban", "payment_card", "email", "phone"}), case="pascal", avoid="<>&", plain=True,
        order=_camt_order,
        groups={2: ("      <Ntry>\n        <Sts><Cd>BOOK</Cd></Sts>\n        <BookgDt><Dt>"
                    "2026-12-07</Dt></BookgDt>\n        <NtryDtls>\n          <TxDtls>",
                    "          </TxDtls>\n        </NtryDtls>\n      </Ntry>")},
        tail="    </Stmt>\n  </BkToCstmrStmt>\n</Document>",
        own=(("            <RmtInf>\n              <Strd>\n                <CdtrRefInf>\n"
              "                  <Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>\n"
              "                  <Ref>{v}</Ref>\n                </CdtrRefInf>\n              "
              "</Strd>\n            </RmtInf>", "rf_reference"),
             ("            <CardTx><Card><CardData><MskdPAN>{v}</MskdPAN></CardData></Card>"
              "</CardTx>", "masked_card"),
             ("            <RltdPties>\n              <Cdtr><Pty><Id><PrvtId><Othr><Id>{v}</Id>"
              "<SchmeNm><Prtry>SEPA</Prtry></SchmeNm></Othr></PrvtId></Id></Pty></Cdtr>\n"
              "            </RltdPties>", "creditor_id"))),
}


# --- the composer --------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{v\}|\{\+([a-z0-9_]+)\}")
_QUOTES = "\"'`"
_SECTION = re.compile(r"\[[^\]\n]+\]|[a-z_]+:")


def _ident(words: Sequence[str], case: str) -> str:
    if case == "upper":
        return "_".join(words).upper()
    if case == "kebab":
        return "-".join(words)
    if case == "pascal":
        return "".join(w.capitalize() for w in words)
    if case == "space":
        return " ".join(words)
    return "_".join(words)


def _takes(slot: _Slot, type_: str, kind: _Kind) -> bool:
    types = slot[1]
    if types is None:
        return type_ in kind.holds
    return type_ in types


def _labelled(template: str) -> bool:
    return "{k}" in template or "{K}" in template or "{w}" in template


def _section(template: str) -> str | None:
    """The INI section or top-level YAML key a template opens, if it opens one."""
    first = next((line for line in template.split("\n") if line.strip()), "")
    return first if _SECTION.fullmatch(first) else None


def _types_of(kind: _Kind) -> list[str]:
    return [t for t in sorted(kind.holds)
            if (bool(kind.pem) if t == "private_key" else any(_takes(s, t, kind)
                                                              for s in kind.slots))]


#: Type -> how many artifact kinds hold it.
_HOLDERS = Counter(t for kind in _KINDS.values() for t in _types_of(kind))


def _avoid(kind: _Kind, template: str, at: int) -> str:
    """Characters a value may not hold at ``at`` in ``template``: the artifact's own, and
    for an unquoted value blanks and the character after it."""
    before = template[at - 1] if at > 0 else ""
    after = template[at + 3] if at + 3 < len(template) else ""
    if before and before in _QUOTES and after == before:
        return kind.avoid + before
    return kind.avoid + " \t" + (after if after not in ("", "\n") else "")


def _labels(template: str, kind: _Kind, words: Sequence[str], what: str) -> str:
    return (template.replace("{k}", _ident(words, kind.case))
            .replace("{K}", _ident(words, "upper")).replace("{w}", what))


def _pem_shown(value: str, indent: int) -> str:
    lines = value.split("\n")
    return "\n".join([lines[0]] + [" " * indent + line for line in lines[1:]])


class _Doc:
    """A document being written: its steps are planted (and sorted, for a structured
    artifact) when it is finished."""

    def __init__(self, kind: _Kind, rnd: random.Random) -> None:
        self.kind = kind
        self.rnd = rnd
        self.text = ""
        self.planted: list[PlantedO] = []
        self.values: list[str] = []
        self.used: set[str] = set()
        self.sections: set[str] = set()
        self.steps: list[tuple[object, Callable[[], None]]] = []

    def line(self, text: str) -> None:
        self.text += text + "\n"

    def add(self, template: str, run: Callable[[], None]) -> None:
        self.steps.append((self.kind.order(template) if self.kind.order else 0, run))
        section = _section(template)
        if section:
            self.sections.add(section)

    def finish(self) -> None:
        steps = sorted(self.steps, key=lambda s: s[0]) if self.kind.order else self.steps
        groups = self.kind.groups
        current: object = None
        for key, run in steps:
            if key != current:
                if current in groups:
                    self.line(groups[current][1])
                if key in groups:
                    self.line(groups[key][0])
                current = key
            run()
        if current in groups:
            self.line(groups[current][1])
        if self.kind.tail:
            self.line(self.kind.tail)

    def _in_prose(self, start: int, type_: str | None, value: str) -> bool:
        """Whether a value at ``start`` is in prose: not a key or a block pasted into it, nor
        on a line indented as code."""
        if not self.kind.prose or type_ == "private_key" or "\n" in value \
                or value.startswith(("-----BEGIN", "ssh-")):
            return False
        line_start = self.text.rfind("\n", 0, start) + 1
        return not self.text[line_start:].startswith(("    ", "\t"))

    def value(self, type_: str, avoid: str) -> tuple[str, str]:
        """A value of ``type_`` and the text it is shown in."""
        make = _MAKERS[type_]
        for _ in range(1000):
            if type_ in ("payment_card", "iban"):
                value = make(self.rnd, self.kind.plain)
            else:
                value = make(self.rnd)
            if type_ == "private_key":
                return value, value
            shown = _wrap(type_, value, self.rnd, self.kind.schemes)
            if type_ in _PERSONAL_TYPES:
                if self.kind.prose or not any(c in self.kind.avoid.strip() for c in shown):
                    return value, shown
            elif not any(c in avoid for c in value) and not any(c in self.kind.avoid
                                                                 for c in shown):
                return value, shown
        raise AssertionError(f"no {type_} without {avoid!r}")

    def plant(self, template: str, first: tuple[str, str, str | None, str] | None,
              type_: str | None) -> None:
        """Write ``template``; ``{v}`` gets ``first`` (value, shown, type, decoy kind) or a
        fresh value of ``type_``; each ``{+type}`` a fresh real value of that type."""
        out = self.text
        pos = 0
        for match in _PLACEHOLDER.finditer(template):
            out += template[pos:match.start()]
            pos = match.end()
            if match.group(0) == "{v}" and first is not None:
                value, shown, vtype, decoy = first
            else:
                vtype = match.group(1) or type_
                assert vtype is not None
                avoid = (_avoid(self.kind, template, match.start()) if match.group(0) == "{v}"
                         else self.kind.avoid + " \t")
                value, shown = self.value(vtype, avoid)
                decoy = ""
            start = len(out) + shown.index(value)
            out += shown
            self.text = out
            assert out[start:start + len(value)] == value
            self.planted.append((start, start + len(value), vtype if not decoy else None,
                                 self._in_prose(start, vtype, value), decoy))
            self.values.append(value)
        self.text = out + template[pos:] + "\n"


def _template(rnd: random.Random, doc: _Doc, type_: str, named: bool = False,
              plain: bool = False) -> str | None:
    """A template of ``doc``'s artifact that takes ``type_`` (one that names its value when
    ``named``; one without another value in it when ``plain``): unused ones first, and none
    that opens a section the document already has, if it can be helped."""
    kind = doc.kind
    if type_ == "private_key":
        return kind.pem or None
    options = [s[0] for s in kind.slots if _takes(s, type_, kind)
               and (not named or _labelled(s[0])) and (not plain or "{+" not in s[0])]
    if not options:
        return None
    options = [t for t in options if _section(t) not in doc.sections] or options
    fresh = [t for t in options if t not in doc.used]
    template = rnd.choice(fresh or options)
    doc.used.add(template)
    return template


def _real(rnd: random.Random, doc: _Doc, type_: str, decoy: str = "") -> None:
    """Add a real value of ``type_`` to ``doc``, or its mutated twin."""
    kind = doc.kind
    template = _template(rnd, doc, type_)
    assert template is not None, type_
    template = _labels(template, kind, rnd.choice(_LABELS[type_][0]),
                       rnd.choice(_LABELS[type_][1]))

    def run() -> None:
        if type_ == "private_key":
            shown = _pem_shown(private_key_o(rnd), kind.pem_indent)
            doc.plant(template, (shown, shown, type_, ""), type_)
        elif decoy == "mutated":
            at = _PLACEHOLDER.search(template)
            assert at is not None and at.group(0) == "{v}"
            value = _mutated(doc.value(type_, _avoid(kind, template, at.start()))[0], rnd)
            doc.plant(template, (value, value, type_, "mutated"), type_)
        else:
            doc.plant(template, None, type_)
    doc.add(template, run)


def _decoy_options(doc: _Doc, types: Sequence[str]) -> list[tuple[str, str]]:
    """(place, family) of every generic look-alike the document can still hold."""
    kind = doc.kind
    out: list[tuple[str, str]] = []
    for name, family in _FAMILIES.items():
        if family.place not in types or not family.generic:
            continue
        if family.named and kind.prose:
            continue
        if family.place == "private_key":
            if kind.pem:
                out.append((family.place, name))
            continue
        if any(_takes(s, family.place, kind) and "{+" not in s[0]
               and (not family.named or _labelled(s[0])) and _section(s[0]) not in doc.sections
               for s in kind.slots):
            out.append((family.place, name))
    return out


def _fixed(doc: _Doc, template: str, value: str) -> None:
    doc.add(template, lambda: doc.plant(template, (value, value, None, "lookalike"), None))


def _lookalike(rnd: random.Random, doc: _Doc, types: Sequence[str]) -> None:
    """Add a look-alike to ``doc``: one in the artifact's own syntax or of its own, or one
    of the generic families in a slot of its place."""
    kind = doc.kind
    secret_places = [t for t in types if t in _SECRET_TYPES and t != "private_key"]
    refs = [r for r in kind.refs if ((r[0] == "*" and secret_places) or r[0] in types)
            and _section(r[1]) not in doc.sections and r[1] + r[2] not in doc.used]
    own = [o for o in kind.own if o[0] not in doc.used]
    if (refs or own) and rnd.random() < 0.5:
        pick = rnd.randrange(len(refs) + len(own))
        if pick < len(refs):
            place, template, value = refs[pick]
            doc.used.add(template + value)
            if place == "*":
                place = rnd.choice(secret_places)
            words = rnd.choice(_LABELS[place][0])
            template = _labels(template, kind, words, rnd.choice(_LABELS[place][1]))
            _fixed(doc, template, _labels(value, kind, words, ""))
            return
        template, name = own[pick - len(refs)]
        doc.used.add(template)
        family = _FAMILIES[name]
        _fixed(doc, _labels(template, kind, family.words or ("value",), family.what or "number"),
               family.make(rnd))
        return
    options = _decoy_options(doc, types)
    if not options:
        return
    place, name = rnd.choice(options)
    family = _FAMILIES[name]
    if place == "private_key":
        template = _labels(kind.pem, kind, rnd.choice(_LABELS["private_key"][0]),
                           rnd.choice(_LABELS["private_key"][1]))
        _fixed(doc, template, _pem_shown(family.make(rnd), kind.pem_indent))
        return
    template = _template(rnd, doc, place, family.named, plain=True)
    assert template is not None
    if family.named:
        template = _labels(template, kind, family.words, family.what)
    else:
        template = _labels(template, kind, rnd.choice(_LABELS[place][0]),
                           rnd.choice(_LABELS[place][1]))
    at = _PLACEHOLDER.search(template)
    assert at is not None
    avoid = kind.avoid if place in _SECRET_TYPES else kind.avoid.strip()
    before = template[at.start() - 1] if at.start() else ""
    if before in _QUOTES and template[at.end():at.end() + 1] == before:
        avoid += before
    for _ in range(60):
        value = family.make(rnd)
        if not any(c in avoid for c in value):
            break
    else:
        value = "********"
    shown = _wrap(place, value, rnd, kind.schemes) if family.wrap else value
    doc.add(template, lambda: doc.plant(template, (value, shown, None, "lookalike"), None))


def _pick(rnd: random.Random, types: Sequence[str], count: int) -> list[str]:
    """``count`` of ``types`` (two at least, repeated if there are fewer), a type held by
    fewer artifacts more often, so that every type is planted about as often overall."""
    pool = list(types)
    chosen: list[str] = []
    while pool and len(chosen) < count:
        pick = rnd.choices(pool, weights=[_HOLDERS[t] ** -1.5 for t in pool])[0]
        chosen.append(pick)
        pool.remove(pick)
    while len(chosen) < 2:
        chosen.append(rnd.choice(types))
    return chosen


def _compose(seed: int, count: int) -> list[tuple[str, list[PlantedO], list[str]]]:
    rnd = random.Random(seed)
    names = sorted(_KINDS)
    out: list[tuple[str, list[PlantedO], list[str]]] = []
    for number in range(count):
        kind = _KINDS[names[(number + seed) % len(names)]]
        doc = _Doc(kind, rnd)
        doc.line(rnd.choice(kind.head))
        types = _types_of(kind)
        chosen = _pick(rnd, types, rnd.randint(2, 4))
        for rare, chance in (("password", 0.35), ("private_key", 0.35),
                             ("aws_session_token", 0.2), ("azure_sas_signature", 0.2)):
            if rare in types and rare not in chosen and rnd.random() < chance:
                chosen[rnd.randrange(len(chosen))] = rare
        slots: list[tuple[str, str]] = [(t, "") for t in chosen]
        twins = [t for t in ("payment_card", "iban") if t in types]
        if twins and rnd.random() < 0.9:
            slots.append((rnd.choice(twins), "mutated"))
        slots += [("", "lookalike")] * (2 if rnd.random() < 0.35 else 1)
        rnd.shuffle(slots)
        filler = list(kind.filler)
        rnd.shuffle(filler)
        for type_, decoy in slots:
            if decoy == "lookalike":
                _lookalike(rnd, doc, types)
            else:
                _real(rnd, doc, type_, decoy)
            if filler and rnd.random() < 0.55:
                text = filler.pop()
                doc.add(text, functools.partial(doc.line, text))
        doc.finish()
        out.append((doc.text, doc.planted, doc.values))
    return out


def documents_o(seed: int, count: int) -> list[tuple[str, list[PlantedO]]]:
    """``count`` documents of set O, artifact kinds in turn, each with 2-4 planted values
    (a few more where a line holds two), one or two look-alikes and, in most documents that
    hold a card number or IBAN, a one-digit-mutated twin of one."""
    return [(text, planted) for text, planted, _ in _compose(seed, count)]
