"""The fourteenth fresh held-out set of the privacy benchmark (set P): HELD OUT.

Written on 2026-12-08 after set O had been evaluated (and spent), during round 14 and blind
to that round's detector changes, without running the detectors on it; committed on its own
first. ``benchmarks/privacy.py`` scores it once, at the end of round 14, as "held-out P"; a
miss found here is reported, not fixed against this set.

Nothing here comes from sets A-O: no Faker, no ``athena_core`` import and no import of an
earlier set (Luhn, mod-97 with the registry's BBAN shapes, and the SSN rules are written
again below), its own value generators, its own look-alikes and its own composer. Each
document is one artifact of a kind no earlier set uses (:data:`_KINDS`):

* prose: Viber chat exports, Webex space threads, Intercom support conversations, Nextcloud
  Talk chats, a freelance web developer's handover letter, a bookkeeper's month-end queries,
  amateur-theatre contact sheets, regatta crew lists, tattoo-studio consent forms, film
  location release forms, estate-sale consignment agreements, wine-club change requests,
  office leaving-collection e-mails, escape-room group bookings, horse livery agreements,
  solar-installation site surveys, exchange-student host-family applications and bike-share
  damage reports;
* machine text: HL7 v2 ADT messages, X12 834 enrolment files, SWIFT MT103 transfers, COBOL
  programs, MATLAB scripts, AppleScript, AutoHotkey scripts, Apache httpd virtual hosts, BIND
  zone files, Nagios object definitions, fail2ban logs, IIS W3C access logs, HashiCorp Vault
  CLI sessions, ``curl -v`` transcripts, Jupyter notebooks, Bruno environment files,
  ``.yarnrc.yml`` files and ``.fetchmailrc`` files.

``in_prose`` is true for the first group: chats, letters, forms and e-mails written by
people. A key pasted into them as a block, or a line indented as code, is not prose.

Values: vendors' documented token formats (prefix, length and alphabet as each vendor
documents them), with vendors of its own next to the listed types; passwords as people and
password managers make them, with symbols, quotes, spaces and letters beyond ASCII where the
syntax allows them, and percent-encoded inside URLs; cards of the listed issuer ranges only
(Visa 13/16/19, Mastercard 51-55 and 2221-2720, Amex, Discover, JCB, Diners, Maestro)
grouped as issuers print them, none a processor's published test number; IBANs of many
countries with the registry's BBAN shapes and lengths, none a published example; SSNs
written several ways; phones of many countries in national and international writings, none
in a range set aside for fiction; e-mail addresses; public IPv4 and IPv6 addresses only.
People name the values in many ways (labels, remarks, several phrasings and languages).

Decoys sit where such values really sit in each artifact, chosen as a careful adversary of
a scanner would choose them: values a reader recognises as samples, references to values
kept elsewhere in the artifact's own syntax, masks and redactions, placeholders, identifiers
and numbers that are not sensitive, values reserved for documentation or fiction, and
one-digit-mutated card numbers and IBANs where a card number or IBAN goes.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

__all__ = ["KINDS_P", "PlantedP", "documents_p"]

#: (start, end, type or None for a decoy, in prose, decoy kind: "", "lookalike", "mutated").
PlantedP = tuple[int, int, "str | None", bool, str]

_LO = string.ascii_lowercase
_UP = string.ascii_uppercase
_NUM = string.digits
_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"
_B64URL = _ALNUM + "-_"
_HEXL = "0123456789abcdef"
_B32 = _UP + "234567"
_BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


def _r(rnd: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def _n(rnd: random.Random, n: int) -> str:
    return _r(rnd, n, _NUM)


# --- checksums ---------------------------------------------------------------------------------


def luhn_ok(number: str) -> bool:
    """Whether the digits of ``number`` pass the Luhn check (other characters skipped)."""
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return bool(digits) and total % 10 == 0


def _with_luhn(body: str) -> str:
    return next(body + c for c in _NUM if luhn_ok(body + c))


def _mod97(text: str) -> int:
    """ISO 7064 MOD 97-10 of ``text`` (letters read as 10-35)."""
    rest = 0
    for ch in text:
        for digit in str(int(ch, 36)):
            rest = (rest * 10 + int(digit)) % 97
    return rest


def iban_ok(value: str) -> bool:
    """Whether ``value`` (blanks allowed) is an IBAN of its country's length passing mod 97."""
    flat = value.replace(" ", "")
    return (len(flat) == _IBAN_LEN.get(flat[:2], -1) and flat[2:4].isdigit()
            and _mod97(flat[4:] + flat[:4]) == 1)


def ssn_ok(value: str) -> bool:
    """Whether ``value`` could be an issued SSN: area 001-899 and not 666, group 01-99, serial
    0001-9999, and not one of the SSA's specimen numbers."""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) != 9:
        return False
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return (0 < area < 900 and area != 666 and group != 0 and serial != 0
            and digits not in ("078051120", "219099999", "123456789"))


# --- cards --------------------------------------------------------------------------------------

#: (first digits, lengths the issuer uses).
_CARD_RANGES: tuple[tuple[Callable[[random.Random], str], tuple[int, ...]], ...] = (
    (lambda r: "4" + _n(r, 5), (16, 16, 16, 16, 13, 19)),                           # Visa
    (lambda r: str(r.randint(51, 55)) + _n(r, 4), (16,)),                           # Mastercard
    (lambda r: str(r.randint(2221, 2720)) + _n(r, 2), (16,)),                       # Mastercard
    (lambda r: r.choice(("34", "37")) + _n(r, 4), (15,)),                           # Amex
    (lambda r: r.choice(("6011" + _n(r, 2), "65" + _n(r, 4),
                         str(r.randint(644, 649)) + _n(r, 3))), (16, 16, 19)),     # Discover
    (lambda r: str(r.randint(3528, 3589)) + _n(r, 2), (16,)),                       # JCB
    (lambda r: r.choice(("36" + _n(r, 4), str(r.randint(300, 305)) + _n(r, 3),
                         "38" + _n(r, 4), "39" + _n(r, 4))), (14,)),               # Diners
    (lambda r: r.choice(("5018", "5020", "5038", "6304", "6759", "6761", "6763"))
     + _n(r, 2), (16, 18, 19)),                                                     # Maestro
)
#: Card numbers processors publish for testing: never planted as real cards.
_PUBLISHED_TEST_CARDS = (
    "4242424242424242", "4111111111111111", "4000056655665556", "5555555555554444",
    "2223003122003222", "5200828282828210", "5105105105105100", "378282246310005",
    "371449635398431", "6011111111111117", "6011000990139424", "3056930009020004",
    "36227206271667", "3566002020360505", "6200000000000005", "4012888888881881",
    "4000000000000077", "4917610000000000", "6759649826438453", "30569309025904",
    "38520000023237", "3530111333300000", "5425233430109903", "4263982640269299",
)


def _groups(digits: str) -> list[str]:
    sizes = {13: (4, 3, 3, 3), 14: (4, 6, 4), 15: (4, 6, 5), 18: (4, 4, 4, 4, 2),
             19: (4, 4, 4, 4, 3)}.get(len(digits), (4, 4, 4, 4))
    out, at = [], 0
    for size in sizes:
        out.append(digits[at:at + size])
        at += size
    return out


def card_number(rnd: random.Random) -> str:
    while True:
        head, lengths = rnd.choice(_CARD_RANGES)
        n = rnd.choice(lengths)
        digits = _with_luhn((head(rnd) + _n(rnd, 20))[:n - 1])
        if digits not in _PUBLISHED_TEST_CARDS:
            return digits


def card_p(rnd: random.Random, plain: bool = False) -> str:
    digits = card_number(rnd)
    if plain:
        return digits
    sep = rnd.choice((" ", " ", " ", "-", "", " "))
    return sep.join(_groups(digits)) if sep else digits


# --- IBANs --------------------------------------------------------------------------------------

#: Country -> BBAN as the IBAN registry writes it (n digits, a capitals, c either).
_BBAN_SHAPE = {
    "AD": "4n4n12c", "AE": "3n16n", "AL": "8n16c", "AT": "5n11n", "AZ": "4a20c",
    "BA": "3n3n8n2n", "BE": "3n7n2n", "BG": "4a4n2n8c", "BH": "4a14c", "BR": "8n5n10n1a1c",
    "CH": "5n12c", "CR": "4n14n", "CY": "3n5n16c", "CZ": "4n6n10n", "DE": "8n10n",
    "DK": "4n9n1n", "EE": "2n2n11n1n", "EG": "4n4n17n", "ES": "4n4n1n1n10n", "FI": "3n11n",
    "FO": "4n9n1n", "FR": "5n5n11c2n", "GB": "4a6n8n", "GE": "2a16n", "GI": "4a15c",
    "GL": "4n9n1n", "GR": "3n4n16c", "HR": "7n10n", "HU": "3n4n1n15n1n", "IE": "4a6n8n",
    "IL": "3n3n13n", "IS": "4n2n6n10n", "IT": "1a5n5n12c", "JO": "4a4n18c", "KW": "4a22c",
    "KZ": "3n13c", "LB": "4n20c", "LI": "5n12c", "LT": "5n11n", "LU": "3n13c", "LV": "4a13c",
    "MC": "5n5n11c2n", "ME": "3n13n2n", "MK": "3n10c2n", "MT": "4a5n18c",
    "MU": "4a2n2n12n3n3a", "NL": "4a10n", "NO": "4n6n1n", "PK": "4a16c", "PL": "8n16n",
    "PT": "4n4n11n2n", "QA": "4a21c", "RO": "4a16c", "RS": "3n13n2n", "SA": "2n18c",
    "SC": "4a2n2n16n3a", "SE": "3n16n1n", "SI": "5n8n2n", "SK": "4n6n10n", "SM": "1a5n5n12c",
    "TN": "2n3n13n2n", "TR": "5n1n16c", "UA": "6n19c", "VG": "4a16n", "XK": "4n10n2n",
}
#: IBAN length by country, as the registry lists it.
_IBAN_LEN = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "ME": 22, "MK": 19, "MT": 31,
    "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29,
    "VG": 24, "XK": 20,
}
assert all(4 + sum(int(c) for c in re.findall(r"\d+", shape)) == _IBAN_LEN[cc]
           for cc, shape in _BBAN_SHAPE.items())
#: Example IBANs published by the registry and by banks: never planted as real accounts.
_PUBLISHED_IBANS = (
    "DE89370400440532013000", "GB29NWBK60161331926819", "FR1420041010050500013M02606",
    "NL91ABNA0417164300", "BE68539007547034", "CH9300762011623852957",
    "AT611904300234573201", "ES9121000418450200051332", "IT60X0542811101000000123456",
    "NO9386011117947", "SE4550000000058398257466", "DK5000400440116243", "FI2112345600000785",
    "PL61109010140000071219812874", "IE29AIBK93115212345678", "PT50000201231234567890154",
)


def _bban(rnd: random.Random, country: str) -> str:
    parts = []
    for count, kind in re.findall(r"(\d+)([nac])", _BBAN_SHAPE[country]):
        size = int(count)
        if kind == "n":
            parts.append(_n(rnd, size))
        elif kind == "a":
            parts.append(_r(rnd, size, _UP))
        else:
            parts.append("".join(rnd.choice(_UP) if rnd.random() < 0.08 else rnd.choice(_NUM)
                                 for _ in range(size)))
    bban = "".join(parts)
    if country == "BE":  # the Belgian account number's own check: first ten digits mod 97
        bban = bban[:10] + f"{int(bban[:10]) % 97 or 97:02d}"
    if country == "NL":  # the Dutch account number's eleven test
        while sum(int(d) * (10 - i) for i, d in enumerate(bban[4:])) % 11:
            bban = bban[:4] + _n(rnd, 10)
    return bban


def iban_flat(rnd: random.Random) -> str:
    while True:
        country = rnd.choice(sorted(_BBAN_SHAPE))
        bban = _bban(rnd, country)
        flat = f"{country}{98 - _mod97(bban + country + '00'):02d}{bban}"
        if flat not in _PUBLISHED_IBANS:
            assert iban_ok(flat), flat
            return flat


def _iban_spaced(flat: str) -> str:
    return " ".join(flat[i:i + 4] for i in range(0, len(flat), 4))


def iban_p(rnd: random.Random, plain: bool = False) -> str:
    flat = iban_flat(rnd)
    return flat if plain or rnd.random() < 0.35 else _iban_spaced(flat)


# --- SSNs, phones, e-mail, IP -------------------------------------------------------------------


def ssn_p(rnd: random.Random, plain: bool = False) -> str:
    while True:
        digits = f"{rnd.randint(1, 899):03d}{rnd.randint(1, 99):02d}{rnd.randint(1, 9999):04d}"
        if ssn_ok(digits):
            break
    if plain:
        return digits
    a, g, s = digits[:3], digits[3:5], digits[5:]
    return rnd.choice((f"{a}-{g}-{s}", f"{a}-{g}-{s}", f"{a}-{g}-{s}", f"{a} {g} {s}", digits,
                       f"{a}-{g}{s}", f"{a} - {g} - {s}"))


#: Area codes in service in the US and Canada.
_NANP_AREAS = ("205", "303", "314", "404", "469", "503", "602", "651", "702", "804", "813",
               "919", "208", "267", "413", "508", "614", "703", "858", "913", "929")
_CA_AREAS = ("250", "343", "418", "437", "506", "587", "780", "825")


def _nanp(rnd: random.Random, areas: Sequence[str]) -> tuple[str, str, str]:
    while True:
        exchange = rnd.randint(200, 999)
        if exchange != 555 and exchange % 100 != 11 and exchange not in (950, 958, 959, 976):
            return rnd.choice(areas), str(exchange), _n(rnd, 4)


def _us_phone(rnd: random.Random) -> str:
    a, e, x = _nanp(rnd, _NANP_AREAS)
    return rnd.choice((f"({a}) {e}-{x}", f"{a}-{e}-{x}", f"{a}.{e}.{x}", f"+1 {a} {e} {x}",
                       f"+1-{a}-{e}-{x}", f"1 ({a}) {e}-{x}", f"({a}){e}-{x}"))


def us_phone_digits(rnd: random.Random) -> str:
    return "".join(_nanp(rnd, _NANP_AREAS))


def _ca_phone(rnd: random.Random) -> str:
    a, e, x = _nanp(rnd, _CA_AREAS)
    return rnd.choice((f"({a}) {e}-{x}", f"+1 {a}-{e}-{x}"))


def _uk_phone(rnd: random.Random) -> str:
    # mobiles 071-079 but never 07700 900xxx; London 020 3/8 (the drama range is 020 7946 0)
    mob = "7" + rnd.choice("123459") + _n(rnd, 2)
    return rnd.choice((f"0{mob} {_n(rnd, 6)}", f"+44 {mob} {_n(rnd, 6)}",
                       f"+44 (0){mob} {_n(rnd, 3)} {_n(rnd, 3)}",
                       f"020 {rnd.choice('38')}{_n(rnd, 3)} {_n(rnd, 4)}",
                       f"0131 {rnd.choice('2356')}{_n(rnd, 2)} {_n(rnd, 4)}"))


def _fr_phone(rnd: random.Random) -> str:
    # mobiles 06/07, never the 06 39 98 fiction block; landlines not in 01 99 00 etc.
    two = rnd.choice([f"{x:02d}" for x in range(10, 99) if x != 39])
    rest = f"{_n(rnd, 2)} {_n(rnd, 2)} {_n(rnd, 2)}"
    return rnd.choice((f"06 {two} {rest}", f"+33 6 {two} {rest}", f"07 {rnd.randint(51, 88)} "
                       f"{rest}", f"+33 (0)1 4{_n(rnd, 1)} {rest}"))


def _au_phone(rnd: random.Random) -> str:
    # mobiles 040x-045x (the fiction numbers are 0491 57x), landlines not 5550 / 7010
    mob = f"04{rnd.choice('0123458')}{_n(rnd, 1)}"
    return rnd.choice((f"{mob} {_n(rnd, 3)} {_n(rnd, 3)}", f"+61 {mob[1:]} {_n(rnd, 3)} "
                       f"{_n(rnd, 3)}", f"(03) 9{rnd.choice('2456')}{_n(rnd, 2)} {_n(rnd, 4)}"))


_PHONE_MAKERS: tuple[Callable[[random.Random], str], ...] = (
    _us_phone, _us_phone, _us_phone, _us_phone, _ca_phone, _uk_phone, _uk_phone, _fr_phone,
    _au_phone,
    lambda r: r.choice((f"+49 {r.choice(('151', '157', '160', '172', '176'))} {_n(r, 8)}",
                        f"0{r.choice(('152', '162', '173', '178'))}/{_n(r, 7)}",
                        f"+49 89 {_n(r, 3)} {_n(r, 5)}")),
    lambda r: r.choice((f"+31 6 {_n(r, 2)} {_n(r, 3)} {_n(r, 3)}", f"06-{_n(r, 8)}",
                        f"020 {_n(r, 3)} {_n(r, 4)}")),
    lambda r: r.choice((f"+32 4{r.choice('789')}{_n(r, 1)} {_n(r, 2)} {_n(r, 2)} {_n(r, 2)}",
                        f"04{r.choice('789')}{_n(r, 1)}/{_n(r, 2)}.{_n(r, 2)}.{_n(r, 2)}")),
    lambda r: f"+352 6{r.choice('2569')}1 {_n(r, 3)} {_n(r, 3)}",
    lambda r: r.choice((f"+41 7{r.choice('5689')} {_n(r, 3)} {_n(r, 2)} {_n(r, 2)}",
                        f"07{r.choice('689')} {_n(r, 3)} {_n(r, 2)} {_n(r, 2)}")),
    lambda r: r.choice((f"+43 6{r.choice(('50', '60', '64', '76', '99'))} {_n(r, 7)}",)),
    lambda r: r.choice((f"+39 3{r.choice(('20', '28', '33', '38', '40', '47'))} {_n(r, 3)} "
                        f"{_n(r, 4)}", f"3{r.randint(20, 49)}-{_n(r, 7)}")),
    lambda r: r.choice((f"+34 6{_n(r, 2)} {_n(r, 2)} {_n(r, 2)} {_n(r, 2)}",
                        f"7{r.randint(10, 49)} {_n(r, 3)} {_n(r, 3)}")),
    lambda r: f"+351 9{r.choice('1236')}{_n(r, 1)} {_n(r, 3)} {_n(r, 3)}",
    lambda r: r.choice((f"+47 9{_n(r, 2)} {_n(r, 2)} {_n(r, 3)}", f"4{_n(r, 7)}")),
    lambda r: r.choice((f"+46 7{r.choice('0236')}-{_n(r, 3)} {_n(r, 2)} {_n(r, 2)}",
                        f"07{r.choice('0236')}-{_n(r, 3)} {_n(r, 2)} {_n(r, 2)}")),
    lambda r: r.choice((f"+45 {r.choice('2345')}{_n(r, 1)} {_n(r, 2)} {_n(r, 2)} {_n(r, 2)}",)),
    lambda r: f"+358 4{r.choice('0456')} {_n(r, 3)} {_n(r, 4)}",
    lambda r: f"+48 {r.choice(('50', '51', '60', '66', '69', '72', '79', '88'))}{_n(r, 1)}-"
              f"{_n(r, 3)}-{_n(r, 3)}",
    lambda r: f"+420 7{r.choice('237')}{_n(r, 1)} {_n(r, 3)} {_n(r, 3)}",
    lambda r: f"+36 {r.choice(('20', '30', '70'))} {_n(r, 3)} {_n(r, 4)}",
    lambda r: f"+40 7{r.choice('2456')}{_n(r, 1)} {_n(r, 3)} {_n(r, 3)}",
    lambda r: f"+353 8{r.choice('35679')} {_n(r, 3)} {_n(r, 4)}",
    lambda r: f"+30 69{r.choice('4579')} {_n(r, 3)} {_n(r, 4)}",
    lambda r: f"+90 5{r.choice('0345')}{_n(r, 1)} {_n(r, 3)} {_n(r, 2)} {_n(r, 2)}",
    lambda r: f"+380 {r.choice(('50', '67', '93', '97'))} {_n(r, 3)} {_n(r, 2)} {_n(r, 2)}",
    lambda r: r.choice((f"+81 {r.choice(('70', '80', '90'))}-{_n(r, 4)}-{_n(r, 4)}",
                        f"0{r.choice(('70', '80', '90'))}-{_n(r, 4)}-{_n(r, 4)}")),
    lambda r: f"+82 10-{_n(r, 4)}-{_n(r, 4)}",
    lambda r: f"+86 1{r.choice('3589')}{_n(r, 1)} {_n(r, 4)} {_n(r, 4)}",
    lambda r: f"+852 {r.choice('569')}{_n(r, 3)} {_n(r, 4)}",
    lambda r: f"+91 {r.choice('6789')}{_n(r, 4)} {_n(r, 5)}",
    lambda r: f"+63 9{_n(r, 2)} {_n(r, 3)} {_n(r, 4)}",
    lambda r: f"+64 2{r.choice('12')} {_n(r, 3)} {_n(r, 4)}",
    lambda r: f"+27 {r.choice(('72', '82', '83', '84'))} {_n(r, 3)} {_n(r, 4)}",
    lambda r: f"+234 80{r.choice('3568')} {_n(r, 3)} {_n(r, 4)}",
    lambda r: f"+255 7{r.choice('1458')}{_n(r, 1)} {_n(r, 3)} {_n(r, 3)}",
    lambda r: f"+212 6{_n(r, 2)}-{_n(r, 6)}",
    lambda r: f"+966 5{r.choice('0345')} {_n(r, 3)} {_n(r, 4)}",
    lambda r: r.choice((f"+55 (11) 9{_n(r, 4)}-{_n(r, 4)}", f"+55 21 9{_n(r, 4)} {_n(r, 4)}")),
    lambda r: f"+54 9 11 {_n(r, 4)}-{_n(r, 4)}",
    lambda r: f"+51 9{_n(r, 2)} {_n(r, 3)} {_n(r, 3)}",
    lambda r: f"+52 1 33 {_n(r, 4)} {_n(r, 4)}",
    lambda r: f"+506 {r.choice('678')}{_n(r, 3)} {_n(r, 4)}",
)


def phone_p(rnd: random.Random, plain: bool = False) -> str:
    return us_phone_digits(rnd) if plain else rnd.choice(_PHONE_MAKERS)(rnd)


_GIVEN = ["agnetha", "bartholomew", "cosima", "desmond", "eilidh", "florentin", "greta",
          "horatio", "ines", "jaroslav", "kerensa", "leopold", "maelle", "niamh", "orlando",
          "perpetua", "radoslaw", "saoirse", "tancredi", "una", "valentijn", "wenonah", "xaver",
          "yolanda", "zebulon", "amara", "benedikt", "clementine"]
_FAMILY = ["abernethy", "bellweather", "carrasco", "dufresne", "ekwueme", "fairbairn",
           "gillespie", "hakansson", "iwasaki", "joubert", "kilbride", "lindqvist", "marchetti",
           "nakashima", "oyelaran", "prendergast", "quarles", "rautio", "soderberg", "trevelyan",
           "uchenna", "vandermeer", "wojcik", "yarborough", "zielinski"]
_DOMAINS = ["gmail.com", "gmail.com", "gmail.com", "outlook.com", "hotmail.com", "yahoo.co.uk",
            "icloud.com", "proton.me", "pm.me", "gmx.de", "gmx.at", "laposte.net", "libero.it",
            "telenet.be", "ziggo.nl", "kpnmail.nl", "bluewin.ch", "seznam.cz", "wp.pl",
            "btinternet.com", "sky.com", "optusnet.com.au", "rogers.com", "verizon.net",
            "att.net", "mail.ru", "zoho.com", "tuta.io", "kilbride-stables.ie",
            "greyfriars-players.org.uk", "solwind-energy.com", "brackenridge-books.com",
            "velomesh.io", "lindqvist-estate.se", "harrowgate-wines.co.uk", "pebblecrest.dev",
            "quayside-regatta.org", "inkwellstudio.ca"]


def email_p(rnd: random.Random) -> str:
    g, f = rnd.choice(_GIVEN), rnd.choice(_FAMILY)
    local = rnd.choice((f"{g}.{f}", f"{g}{f}", f"{g[0]}{f}", f"{g}.{f[0]}", f"{f}.{g}",
                        f"{g}_{f}", f"{g}{rnd.randint(1, 99)}", f"{g}.{f}{rnd.randint(70, 99)}",
                        f"{g}+{rnd.choice(('bills', 'theatre', 'crew', 'wine', 'dev'))}",
                        f"{g.capitalize()}.{f.capitalize()}", f"{f}-{g}", f"{g}-{f[:3]}"))
    return f"{local}@{rnd.choice(_DOMAINS)}"


#: First octets of public unicast space (none of 0, 10, 100.64/10, 127, 169.254, 172.16/12,
#: 192.0.0, 192.0.2, 192.168, 198.18/15, 198.51.100, 203.0.113, 224 and above).
_PUBLIC_FIRST = (5, 23, 31, 37, 41, 46, 50, 51, 54, 62, 66, 74, 77, 78, 81, 84, 86, 87, 90, 91,
                 92, 96, 99, 104, 109, 130, 134, 141, 143, 151, 152, 162, 173, 178, 185, 188,
                 193, 199, 207, 212, 217)


def ipv4_p(rnd: random.Random) -> str:
    return (f"{rnd.choice(_PUBLIC_FIRST)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}."
            f"{rnd.randint(1, 254)}")


#: Prefixes of global unicast allocations (not 2001:db8::/32, 3fff::/20, 2001::/32 or 2002::/16).
_V6_NETS = ("2a01:4f9", "2a02:8108", "2600:1f18", "2603:1030", "2a05:d014", "2604:a880",
            "2a00:23c5", "2001:67c:2b0", "2a0e:97c0", "2406:da18", "2620:11a:c000",
            "2a03:b0c0", "2001:1620", "2c0f:fb50", "2804:14c")


def ipv6_p(rnd: random.Random) -> str:
    groups = rnd.choice(_V6_NETS).split(":")
    groups += [format(rnd.randint(1, 0xFFFF), "x") for _ in range(8 - len(groups))]
    form = rnd.randrange(5)
    if form == 0:
        text = ":".join(groups[:4]) + "::" + groups[7]
    elif form == 1:
        text = ":".join(groups[:3]) + "::" + ":".join(groups[5:])
    elif form == 2:
        text = ":".join(g.zfill(4) for g in groups)
    else:
        text = ":".join(groups)
    return text.upper() if rnd.random() < 0.15 else text


# --- secrets ------------------------------------------------------------------------------------

_DICE = ["acorn", "bramble", "candle", "dormouse", "elderflower", "falcon", "gazebo", "hazel",
         "iguana", "juniper", "kettle", "lantern", "marmalade", "nutmeg", "orchard", "pepper",
         "quill", "rhubarb", "saddle", "thistle", "umber", "violin", "willow", "yonder",
         "zephyr", "mizzen", "spinnaker", "chestnut", "paddock", "foxglove"]
_PUNCT = "!@#$%^&*()-_=+[]{};:,.<>/?~|"


def password_p(rnd: random.Random) -> str:
    """A password the way password managers and people make them."""
    style = rnd.randrange(12)
    if style == 0:  # a manager's random string with symbols
        while True:
            pw = _r(rnd, rnd.choice((16, 20, 22, 28)), _ALNUM + _PUNCT)
            if any(c in _PUNCT for c in pw) and any(c.isdigit() for c in pw):
                return pw
    if style == 1:  # letters and digits only
        while True:
            pw = _r(rnd, rnd.choice((12, 15, 18)))
            if any(c.isdigit() for c in pw) and any(c.isupper() for c in pw):
                return pw
    if style == 2:  # dice words with a separator and a digit
        words = rnd.sample(_DICE, rnd.choice((3, 4, 5)))
        at = rnd.randrange(len(words))
        words[at] = words[at].upper() if rnd.random() < 0.3 else words[at].capitalize()
        return rnd.choice(("-", ".", "_", " ", "~")).join(words) + str(rnd.randint(0, 99))
    if style == 3:  # a place, a year, a mark
        return rnd.choice(("Dundalk", "Tromsø", "Zürich", "Ghent", "Kilkenny", "Sevilla",
                           "Brno", "Ōsaka", "Cowes", "Lübeck")) + str(rnd.randint(1969, 2026)) \
            + rnd.choice(("!", "#", "?", "*", "!!", "$"))
    if style == 4:  # a sentence with spaces
        return (f"{rnd.choice(('my horse', 'Juniper', 'the red kayak', 'granny'))} "
                f"{rnd.choice(('jumps', 'hates', 'eats', 'sails past'))} "
                f"{rnd.randint(3, 47)} {rnd.choice(_DICE)}s{rnd.choice(('.', '!', ''))}")
    if style == 5:  # quotes or a backslash inside
        return _r(rnd, 4) + rnd.choice(("'", '"', "\\", "`")) + _r(rnd, 6) + rnd.choice(_PUNCT) \
            + _n(rnd, 3)
    if style == 6:  # a keyboard walk and a year
        return rnd.choice(("Qwert123", "!QAZ2wsx", "Poiu0987", "Zxcvbnm,", "1q2w3e4r")) \
            + rnd.choice(("$", "@", "", "#")) + str(rnd.randint(2020, 2027))
    if style == 7:  # a browser's suggestion: three groups of six
        while True:
            pw = "-".join(_r(rnd, 6, _LO + _UP + _NUM) for _ in range(3))
            if any(c.isdigit() for c in pw) and any(c.isupper() for c in pw):
                return pw
    if style == 8:  # a word with letters swapped for symbols
        word = rnd.choice(("Salmon", "Pegasus", "Harbour", "Blackbird", "Meadow", "Stallion"))
        return word.replace("a", "@").replace("o", "0").replace("e", "3").replace("s", "$") \
            + rnd.choice(("-", "_", "!")) + _n(rnd, rnd.choice((2, 4)))
    if style == 9:  # a pet and a birthday
        return rnd.choice(("Biscuit", "Pippin", "Marlowe", "Tinkerbell", "Rufus")) \
            + f"{rnd.randint(1, 28):02d}{rnd.randint(1, 12):02d}" + rnd.choice(("!", ".", "*"))
    if style == 10:  # beyond ASCII
        return rnd.choice(("Grüße", "Smørrebrød", "Çiçek", "Łódź", "Señorita", "Крепость")) \
            + rnd.choice(("-", "_", "")) + _n(rnd, rnd.choice((2, 3, 4))) + rnd.choice("!#%")
    return _r(rnd, 2, _UP) + rnd.choice(_PUNCT) + _r(rnd, 6, _LO) + rnd.choice(_PUNCT) \
        + _n(rnd, 4)


def url_password_p(rnd: random.Random) -> str:
    """A password as it stands in a URL: percent-encoded."""
    return quote(password_p(rnd), safe="-_.~")


def _b64url(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt_p(rnd: random.Random) -> str:
    alg = rnd.choice(("HS256", "RS256", "RS256", "ES256", "PS256", "HS512"))
    head: dict[str, object] = {"typ": "JWT", "alg": alg} if rnd.random() < 0.5 \
        else {"alg": alg, "typ": "JWT"}
    if alg != "HS256" and rnd.random() < 0.6:
        head["kid"] = _r(rnd, rnd.choice((20, 27)), _B64URL)
    now = 1796500000 + rnd.randint(0, 3000000)
    body = rnd.choice((
        {"sub": str(uuid.UUID(int=rnd.getrandbits(128), version=4)), "iat": now,
         "exp": now + 3600, "iss": "https://login.velomesh.io/",
         "aud": rnd.choice(("fleet-api", "billing"))},
        {"user_id": rnd.randint(1000, 99999), "role": rnd.choice(("admin", "member")),
         "iat": now, "exp": now + 86400 * 7},
        {"iss": "kilbride-stables", "scope": "bookings:write invoices:read", "iat": now},
        {"sub": rnd.choice(_GIVEN), "tenant": rnd.choice(("pebblecrest", "solwind")),
         "nbf": now, "exp": now + 900, "jti": _r(rnd, 16, _HEXL)}))
    sig = {"HS256": 43, "HS512": 86, "RS256": 342, "PS256": 342, "ES256": 86}[alg]
    return (f"{_b64url(json.dumps(head, separators=(',', ':')))}."
            f"{_b64url(json.dumps(body, separators=(',', ':')))}.{_r(rnd, sig, _B64URL)}")


def _rows(body: str, width: int) -> list[str]:
    return [body[i:i + width] for i in range(0, len(body), width)]


def private_key_p(rnd: random.Random) -> str:
    kind = rnd.choice(("OPENSSH", "OPENSSH", "RSA", "PKCS8", "EC", "ENCRYPTED", "PGP", "PPK"))
    if kind == "PPK":
        return "\n".join([
            "PuTTY-User-Key-File-3: ssh-ed25519", "Encryption: none",
            f"Comment: {rnd.choice(('deploy@pebblecrest', 'ed25519-key-20261201', 'nas'))}",
            "Public-Lines: 2", "AAAAC3NzaC1lZDI1NTE5AAAAI" + _r(rnd, 39, _B64),
            _r(rnd, 8, _B64), "Private-Lines: 1", _r(rnd, 43, _B64) + "=",
            "Private-MAC: " + _r(rnd, 64, _HEXL)])
    if kind == "PGP":
        body = "lQOYBG" + _r(rnd, 1300, _B64)
        return "\n".join(["-----BEGIN PGP PRIVATE KEY BLOCK-----", "", *_rows(body, 64),
                          "=" + _r(rnd, 4, _B64), "-----END PGP PRIVATE KEY BLOCK-----"])
    label, body, width = {
        "OPENSSH": ("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB"
                    "AAAAMwAAAAtzc2gtZWQyNTUxOQAAACB" + _r(rnd, 300, _B64), 70),
        "RSA": ("RSA PRIVATE KEY", "MIIEpQIBAAKCAQEA" + _r(rnd, 1570, _B64), 64),
        "PKCS8": ("PRIVATE KEY", "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQ"
                  + _r(rnd, 1550, _B64), 64),
        "EC": ("EC PRIVATE KEY", "MHcCAQEEI" + _r(rnd, 150, _B64) + "==", 64),
        "ENCRYPTED": ("ENCRYPTED PRIVATE KEY", "MIIFHzBJBgkqhkiG9w0BBQ0wPDAbBgkqhkiG9w0BBQww"
                      + _r(rnd, 1650, _B64), 64),
    }[kind]
    return "\n".join([f"-----BEGIN {label}-----", *_rows(body, width), f"-----END {label}-----"])


def _atlassian(rnd: random.Random) -> str:
    return "ATATT3xFfGF0" + _r(rnd, 171, _B64URL) + "=" + _r(rnd, 8, "0123456789ABCDEF")


def _tfc(rnd: random.Random) -> str:
    return _r(rnd, 14) + ".atlasv1." + _r(rnd, 67)


#: Vendors' documented token formats, vendors of this set's own.
_VENDORS: tuple[Callable[[random.Random], str], ...] = (
    lambda r: "lin_api_" + _r(r, 40),                                        # Linear
    lambda r: "PMAK-" + _r(r, 24, _HEXL) + "-" + _r(r, 34, _HEXL),           # Postman
    lambda r: r.choice(("shpat_", "shpca_", "shppa_", "shpss_")) + _r(r, 32, _HEXL),  # Shopify
    _atlassian,                                                              # Atlassian
    lambda r: "sntryu_" + _r(r, 64, _HEXL),                                  # Sentry user
    lambda r: "dapi" + _r(r, 32, _HEXL) + r.choice(("", "-2", "-3")),        # Databricks
    lambda r: "pul-" + _r(r, 40, _HEXL),                                     # Pulumi
    _tfc,                                                                    # HCP Terraform
    lambda r: "fo1_" + _r(r, 43, _B64URL),                                   # Fly.io
    lambda r: "CFPAT-" + _r(r, 43, _B64URL),                                 # Contentful
    lambda r: "figd_" + _r(r, 40, _B64URL),                                  # Figma
    lambda r: "pat" + _r(r, 14) + "." + _r(r, 64, _HEXL),                    # Airtable
    lambda r: f"pat-{r.choice(('na1', 'eu1'))}-{uuid.UUID(int=r.getrandbits(128), version=4)}",
    lambda r: "AGE-SECRET-KEY-1" + _r(r, 58, _BECH32),                       # age
    lambda r: "sgp_" + _r(r, 16, _HEXL) + "_" + _r(r, 40, _HEXL),            # Sourcegraph
    lambda r: "rubygems_" + _r(r, 48, _HEXL),                                # RubyGems
    lambda r: "pypi-AgEIcHlwaS5vcmc" + _r(r, r.choice((70, 124, 160)), _B64URL),  # PyPI
    lambda r: "dckr_pat_" + _r(r, 27, _B64URL),                              # Docker Hub
    lambda r: "glsa_" + _r(r, 32) + "_" + _r(r, 8, _HEXL),                   # Grafana
    lambda r: "sbp_" + _r(r, 40, _HEXL),                                     # Supabase
    lambda r: f"sk-lf-{uuid.UUID(int=r.getrandbits(128), version=4)}",       # Langfuse
    lambda r: "hvs." + _r(r, 24) if r.random() < 0.5 else "hvs.CAESI" + _r(r, 86, _B64URL),
    lambda r: "key-" + _r(r, 32, _HEXL),                                     # Mailgun
    lambda r: "v1.0-" + _r(r, 24, _HEXL) + "-" + _r(r, 146, _HEXL),          # Cloudflare CA
)

SECRETS_P: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: r.choice(("AKIA", "AKIA", "ASIA")) + _r(r, 16, _B32),
    "aws_secret_access_key": lambda r: _r(r, 40, _B64),
    "aws_session_token": lambda r: r.choice(("IQoJb3JpZ2luX2Vj", "IQoJb3JpZ2luX2Vj",
                                             "FwoGZXIvYXdzE")) + _r(r, 20, _B64)
    + r.choice(("//////////", "/////////")) + _r(r, r.choice((300, 412, 600)), _B64)
    + r.choice(("", "=", "==")),
    "azure_sas_signature": lambda r: quote(base64.b64encode(r.randbytes(32)).decode(), safe=""),
    "github_token": lambda r: r.choice(("ghp_", "ghp_", "gho_", "ghs_", "ghu_")) + _r(r, 36)
    if r.random() < 0.7 else "github_pat_11" + _r(r, 20, _UP + _NUM) + "_" + _r(r, 59),
    "gitlab_token": lambda r: r.choice((
        "glpat-" + _r(r, 20, _B64URL), "glpat-" + _r(r, 20, _B64URL), "gldt-" + _r(r, 20, _B64URL),
        "glrt-" + _r(r, 20, _B64URL), "glcbt-" + _r(r, 20, _B64URL), "glptt-" + _r(r, 40, _HEXL),
        "glffct-" + _r(r, 20, _B64URL), "gloas-" + _r(r, 64, _HEXL))),
    "slack_token": lambda r: r.choice((
        f"xoxb-{_n(r, 11)}-{_n(r, 13)}-{_r(r, 24)}",
        f"xoxp-{_n(r, 11)}-{_n(r, 11)}-{_n(r, 13)}-{_r(r, 32, _HEXL)}",
        f"xapp-1-A{_r(r, 10, _UP + _NUM)}-{_n(r, 13)}-{_r(r, 64, _HEXL)}",
        f"xoxe.xoxp-1-{_r(r, 140)}")),
    "stripe_key": lambda r: r.choice((
        "sk_live_" + _r(r, 24), "sk_live_51" + _r(r, 97), "rk_live_51" + _r(r, 97),
        "whsec_" + _r(r, 32))),
    "openai_api_key": lambda r: r.choice((
        "sk-proj-" + _r(r, 74, _B64URL) + "T3BlbkFJ" + _r(r, 74, _B64URL),
        "sk-svcacct-" + _r(r, 74, _B64URL) + "T3BlbkFJ" + _r(r, 74, _B64URL),
        "sk-admin-" + _r(r, 74, _B64URL) + "T3BlbkFJ" + _r(r, 74, _B64URL),
        "sk-" + _r(r, 20) + "T3BlbkFJ" + _r(r, 20))),
    "anthropic_api_key": lambda r: r.choice(("sk-ant-api03-", "sk-ant-api03-", "sk-ant-admin01-"))
    + _r(r, 93, _B64URL) + "AA",
    "jwt": jwt_p,
    "private_key": private_key_p,
    "npm_token": lambda r: "npm_" + _r(r, 36),
    "huggingface_token": lambda r: "hf_" + _r(r, 34, string.ascii_letters),
    "sendgrid_api_key": lambda r: "SG." + _r(r, 22, _B64URL) + "." + _r(r, 43, _B64URL),
    "google_api_key": lambda r: "AIza" + _r(r, 35, _B64URL),
    "telegram_bot_token": lambda r: f"{r.randint(10 ** 8, 8 * 10 ** 9)}:AA" + _r(r, 33, _B64URL),
    "vendor_token": lambda r: r.choice(_VENDORS)(r),
    "client_secret": lambda r: r.choice((
        _r(r, 3) + "8Q~" + _r(r, 34, _ALNUM + "_~.-"),                        # Microsoft Entra
        "GOCSPX-" + _r(r, 28, _B64URL),                                       # Google OAuth
        _r(r, 64, _B64URL),                                                   # Auth0
        _r(r, 40, _B64URL),                                                   # Okta
        _r(r, 32))),                                                          # Keycloak
    "password": password_p,
    "url_password": url_password_p,
}

PERSONAL_P: dict[str, Callable[..., str]] = {
    "email": email_p, "phone": phone_p, "payment_card": card_p, "iban": iban_p,
    "us_ssn": ssn_p, "ipv4": ipv4_p, "ipv6": ipv6_p}
#: Every type set P plants: the names set O uses.
KINDS_P = tuple(sorted({**SECRETS_P, **PERSONAL_P}))
_MAKERS: dict[str, Callable[..., str]] = {**SECRETS_P, **PERSONAL_P}
_PERSONAL = frozenset(PERSONAL_P)
_SECRETS = frozenset(SECRETS_P)
_PLAIN_ABLE = frozenset({"payment_card", "iban", "us_ssn", "phone"})

#: How people name each value in prose ({w}).
_SAY: dict[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "mail", "email address", "address", "inbox", "e-post",
              "correo"),
    "phone": ("phone", "mobile", "cell", "number", "tel.", "mob", "WhatsApp", "landline",
              "portable", "Handynummer"),
    "payment_card": ("card", "card number", "credit card", "debit card", "card no.", "Visa",
                     "long number", "CC"),
    "iban": ("IBAN", "bank account", "account (IBAN)", "IBAN no.", "Kontonummer",
             "rekeningnummer", "account number"),
    "us_ssn": ("SSN", "social security number", "social", "SS no.", "Soc Sec #"),
    "ipv4": ("IP", "public IP", "WAN IP", "static IP", "address"),
    "ipv6": ("IPv6", "v6 address", "IPv6 address"),
    "password": ("password", "pw", "pwd", "pass", "passcode", "login", "Passwort",
                 "wachtwoord", "mot de passe"),
}


# --- look-alikes --------------------------------------------------------------------------------


def _bad_luhn(rnd: random.Random, n: int, head: str = "") -> str:
    while True:
        digits = head + _n(rnd, n - len(head))
        if not luhn_ok(digits):
            return digits


def _fiction_phone(rnd: random.Random) -> str:
    return rnd.choice((
        f"(303) 555-01{_n(rnd, 2)}", f"+1 404 555 01{_n(rnd, 2)}", f"555-01{_n(rnd, 2)}",
        f"07700 900{_n(rnd, 3)}", f"+44 7700 900{_n(rnd, 3)}", f"020 7946 0{_n(rnd, 3)}",
        f"0117 496 0{_n(rnd, 3)}", f"01632 960{_n(rnd, 3)}", f"029 2018 0{_n(rnd, 3)}",
        "0491 570 " + rnd.choice(("006", "156", "157", "158", "159", "110", "313", "737")),
        f"(02) 5550 {_n(rnd, 4)}", f"(03) 7010 {_n(rnd, 4)}",
        f"06 39 98 {_n(rnd, 2)} {_n(rnd, 2)}", f"01 99 00 {_n(rnd, 2)} {_n(rnd, 2)}",
        f"04 65 71 {_n(rnd, 2)} {_n(rnd, 2)}"))


def _masked_card(rnd: random.Random) -> str:
    tail = _n(rnd, 4)
    return rnd.choice((f"**** **** **** {tail}", f"XXXX-XXXX-XXXX-{tail}", f"•••• {tail}",
                       f"{rnd.choice(('4', '5', '37'))}{'*' * rnd.choice((11, 12))}{tail}",
                       f"ending {tail}", f"{_n(rnd, 1).replace('0', '4')}{_n(rnd, 5)}******{tail}",
                       f"x{tail}", f"xxxx xxxx xxxx {tail}"))


def _masked_iban(rnd: random.Random) -> str:
    cc = rnd.choice(("DE", "FR", "NL", "BE", "IE", "AT", "IT", "ES", "CH"))
    return rnd.choice((f"{cc}** **** **** **** {_n(rnd, 4)}", f"{cc}{_n(rnd, 2)} XXXX XXXX "
                       f"XXXX {_n(rnd, 2)}", f"{cc}••••••••••{_n(rnd, 4)}",
                       f"{cc}{_n(rnd, 2)}{'*' * 12}{_n(rnd, 3)}"))


def _masked_ssn(rnd: random.Random) -> str:
    return rnd.choice(("***-**-", "XXX-XX-", "xxx-xx-", "###-##-", "•••-••-")) + _n(rnd, 4)


def _reserved_email(rnd: random.Random) -> str:
    return (f"{rnd.choice(_GIVEN)}{rnd.choice(('', '.' + rnd.choice(_FAMILY)))}@"
            + rnd.choice(("example.com", "example.org", "example.net", "test.example",
                          "shop.invalid", "dev.test", "localhost")))


def _masked_email(rnd: random.Random) -> str:
    g = rnd.choice(_GIVEN)
    return f"{g[:2]}{rnd.choice(('****', '***', '•••'))}@{rnd.choice(_DOMAINS[:12])}"


def _private_ipv4(rnd: random.Random) -> str:
    return rnd.choice((f"10.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
                       f"172.{rnd.randint(16, 31)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
                       f"192.168.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
                       f"100.{rnd.randint(64, 127)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
                       f"127.0.{rnd.randint(0, 1)}.1",
                       f"169.254.{rnd.randint(1, 254)}.{rnd.randint(1, 254)}"))


def _doc_ipv4(rnd: random.Random) -> str:
    return rnd.choice(("192.0.2.", "198.51.100.", "203.0.113.")) + str(rnd.randint(1, 254))


def _doc_ipv6(rnd: random.Random) -> str:
    return rnd.choice((f"2001:db8:{rnd.randint(1, 0xFFFF):x}::{rnd.randint(1, 0xFFF):x}",
                       f"2001:DB8:0:{rnd.randint(1, 0xFFFF):X}::{rnd.randint(1, 99)}",
                       f"3fff:{rnd.randint(0, 0xFFF):x}::{rnd.randint(1, 0xFFFF):x}"))


def _local_ipv6(rnd: random.Random) -> str:
    return rnd.choice((f"fd{_r(rnd, 2, _HEXL)}:{_r(rnd, 4, _HEXL)}:{_r(rnd, 4, _HEXL)}::"
                       f"{rnd.randint(1, 0xFF):x}",
                       f"fe80::{_r(rnd, 4, _HEXL)}:{_r(rnd, 4, _HEXL)}:{_r(rnd, 4, _HEXL)}:"
                       f"{_r(rnd, 4, _HEXL)}", "::1", f"fc00::{rnd.randint(1, 255)}"))


def _pw_mask(rnd: random.Random) -> str:
    return rnd.choice(("********", "•" * rnd.randint(8, 12), "[hidden]", "(unchanged)",
                       "<not shown>", "xxxxxxxxxx", "[REDACTED]", "******", "<password>"))


def _token_placeholder(rnd: random.Random) -> str:
    return rnd.choice(("<your-token-here>", "PASTE_TOKEN_HERE", "REPLACE_WITH_REAL_KEY",
                       "<redacted>", "TBD", "xxxxxxxxxxxxxxxxxxxxxxxx", "changeme",
                       "[removed]", "YOUR_API_KEY"))


_TOKEN_PREFIX = {
    "github_token": "ghp_", "gitlab_token": "glpat-", "slack_token": "xoxb-",
    "stripe_key": "sk_live_", "openai_api_key": "sk-proj-", "anthropic_api_key": "sk-ant-api03-",
    "npm_token": "npm_", "huggingface_token": "hf_", "sendgrid_api_key": "SG.",
    "google_api_key": "AIza", "aws_access_key_id": "AKIA", "aws_session_token": "IQoJb3JpZ2lu",
    "jwt": "eyJhbGciOi", "vendor_token": "", "client_secret": "", "telegram_bot_token": "",
    "aws_secret_access_key": "",
}


def _masked_token(place: str) -> Callable[[random.Random], str]:
    head = _TOKEN_PREFIX[place]

    def make(rnd: random.Random) -> str:
        return rnd.choice((f"{head}{'*' * rnd.randint(8, 24)}{_r(rnd, 4)}",
                           f"{head}\u2026{_r(rnd, 4)}", f"{head}...{_r(rnd, 3)}",
                           f"{head}{'X' * rnd.randint(16, 32)}", f"{head}<redacted>"))
    return make


def _public_block(rnd: random.Random) -> str:
    if rnd.random() < 0.5:
        label, body = "CERTIFICATE", "MIIDazCCAlOgAwIBAgIU" + _r(rnd, 820, _B64)
    else:
        label, body = "PUBLIC KEY", "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" \
            + _r(rnd, 340, _B64) + "IDAQAB"
    return "\n".join([f"-----BEGIN {label}-----", *_rows(body, 64), f"-----END {label}-----"])


def _ssh_public(rnd: random.Random) -> str:
    return rnd.choice(("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + _r(rnd, 43, _B64),
                       "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ" + _r(rnd, 500, _B64))) \
        + " " + rnd.choice(("deploy@pebblecrest", "margit@laptop", "ci-runner"))


def _isbn13(rnd: random.Random) -> str:
    while True:
        body = "978" + _n(rnd, 9)
        check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10
        digits = body + str(check)
        if not luhn_ok(digits):
            return f"{digits[:3]}-{digits[3]}-{digits[4:8]}-{digits[8:12]}-{digits[12]}"


def _npi(rnd: random.Random) -> str:
    """A National Provider Identifier: public, Luhn over the 80840 prefix."""
    body = rnd.choice("12") + _n(rnd, 8)
    for c in _NUM:
        if luhn_ok("80840" + body + c):
            return body + c
    raise AssertionError(body)


def _aba(rnd: random.Random) -> str:
    """An ABA routing number (public, a bank's), with its 3-7-1 check."""
    while True:
        body = rnd.choice(("01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
                           "12", "21", "22", "26", "31", "32")) + _n(rnd, 6)
        for c in _NUM:
            digits = body + c
            if sum(int(d) * w for d, w in zip(digits, (3, 7, 1) * 3, strict=True)) % 10 == 0:
                return digits


def _ein(rnd: random.Random) -> str:
    return f"{rnd.choice(('04', '13', '27', '33', '47', '59', '84', '91'))}-{_n(rnd, 7)}"


def _bic(rnd: random.Random) -> str:
    return rnd.choice(("DEUTDEFF", "NDEAFIHH", "BNPAFRPP", "AIBKIE2D", "RABONL2U", "GEBABEBB",
                       "BCEELULL", "UBSWCHZH80A", "HANDSESS", "DNBANOKK", "BKAUATWW",
                       "CITIGB2L", "BOFIIE2D", "INGBNL2A"))


def _creditor_id(rnd: random.Random) -> str:
    cc = rnd.choice(("DE", "AT", "NL", "IE", "BE"))
    national = _n(rnd, 11) if cc != "NL" else _n(rnd, 12)
    return f"{cc}{98 - _mod97(national + cc + '00'):02d}ZZZ{national}"


def _rf(rnd: random.Random) -> str:
    ref = _r(rnd, rnd.randint(8, 14), _UP + _NUM * 3)
    return f"RF{98 - _mod97(ref + 'RF00'):02d}{ref}"


def _imei(rnd: random.Random) -> str:
    return _with_luhn(rnd.choice(("35", "86", "01")) + _n(rnd, 12))


def _uuid4(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def _mbi(rnd: random.Random) -> str:
    """A Medicare beneficiary identifier's shape, with its letters (a plan member ID)."""
    letters = "ACDEFGHJKMNPQRTUVWXY"
    return (rnd.choice("123456789") + rnd.choice(letters) + rnd.choice(letters + _NUM)
            + _n(rnd, 1) + rnd.choice(letters) + rnd.choice(letters + _NUM) + _n(rnd, 1)
            + _r(rnd, 2, letters) + _n(rnd, 2))


def _version4(rnd: random.Random) -> str:
    return rnd.choice((f"10.0.{rnd.randint(17763, 26100)}.{rnd.randint(100, 4000)}",
                       f"{rnd.randint(2, 9)}.{rnd.randint(0, 20)}.{rnd.randint(0, 60)}."
                       f"{rnd.randint(1, 900)}"))


def _oid(rnd: random.Random) -> str:
    return rnd.choice((f".1.3.6.1.2.1.{rnd.randint(1, 31)}.{rnd.randint(1, 9)}.0",
                       f"1.3.6.1.4.1.{rnd.randint(2000, 60000)}.{rnd.randint(1, 20)}.1",
                       f"2.16.840.1.113883.{rnd.randint(2, 19)}.{rnd.randint(1, 400)}"))


def _mac(rnd: random.Random) -> str:
    octets = [_r(rnd, 2, _HEXL) for _ in range(6)]
    return rnd.choice((":".join(octets), "-".join(octets).upper(),
                       ".".join("".join(octets[i:i + 2]) for i in (0, 2, 4))))


def _order_no(rnd: random.Random) -> str:
    return rnd.choice((f"#{rnd.randint(10000, 99999)}", f"ORD-{_n(rnd, 6)}",
                       f"{_r(rnd, 3, _UP)}-{_n(rnd, 4)}-{_n(rnd, 2)}"))


def _tracking(rnd: random.Random) -> str:
    return rnd.choice((f"1Z{_r(rnd, 6, _UP + _NUM)}{_n(rnd, 10)}", f"{_r(rnd, 2, _UP)}"
                       f"{_n(rnd, 9)}GB", f"00{_n(rnd, 18)}"))


def _sha(n: int) -> Callable[[random.Random], str]:
    return lambda r: _r(r, n, _HEXL)


#: Look-alike makers by name: the kinds' own look-alikes and the generic ones.
_LOOK: dict[str, Callable[[random.Random], str]] = {
    "fiction_phone": _fiction_phone, "masked_card": _masked_card, "masked_iban": _masked_iban,
    "masked_ssn": _masked_ssn, "reserved_email": _reserved_email, "masked_email": _masked_email,
    "private_ipv4": _private_ipv4, "doc_ipv4": _doc_ipv4, "doc_ipv6": _doc_ipv6,
    "local_ipv6": _local_ipv6, "pw_mask": _pw_mask, "placeholder": _token_placeholder,
    "public_block": _public_block, "ssh_public": _ssh_public, "isbn": _isbn13, "npi": _npi,
    "aba": _aba, "ein": _ein, "bic": _bic, "creditor_id": _creditor_id, "rf": _rf,
    "imei": _imei, "uuid": _uuid4, "mbi": _mbi, "version4": _version4, "oid": _oid,
    "mac": _mac, "order_no": _order_no, "tracking": _tracking, "sha256": _sha(64),
    "sha1": _sha(40), "md5": _sha(32),
    "test_card": lambda r: " ".join(_groups(r.choice(_PUBLISHED_TEST_CARDS))),
    "test_card_flat": lambda r: r.choice(_PUBLISHED_TEST_CARDS),
    "example_iban": lambda r: _iban_spaced(r.choice(_PUBLISHED_IBANS)),
    "example_iban_flat": lambda r: r.choice(_PUBLISHED_IBANS),
    "aws_example_id": lambda r: "AKIAIOSFODNN7EXAMPLE",
    "aws_example_secret": lambda r: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "jwt_io": lambda r: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI"
                        "6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6y"
                        "JV_adQssw5c",
    "pk_live": lambda r: "pk_live_51" + _r(r, 97),
    "google_client_id": lambda r: f"{_n(r, 12)}-{_r(r, 32, _LO + _NUM)}.apps.googleusercontent"
                                  ".com",
    "site_verification": lambda r: _r(r, 43, _B64URL),
    "chat_id": lambda r: "-100" + _n(r, 10),
    "slack_channel": lambda r: rnd_channel(r),
    "ms_verify": lambda r: "MS=ms" + _n(r, 8),
    "aws_role_id": lambda r: r.choice(("AROA", "AIDA", "ANPA")) + _r(r, 17, _B32),
    "accessor": lambda r: _r(r, 24),
    "price_id": lambda r: r.choice(("price_", "prod_", "cus_", "pi_")) + _r(r, 24),
}


def rnd_channel(rnd: random.Random) -> str:
    return rnd.choice(("C0", "G0", "D0")) + _r(rnd, 9, _UP + _NUM)


#: Generic look-alikes by the place they take: any slot of that type may hold them.
_GENERIC: dict[str, tuple[str, ...]] = {
    "payment_card": ("masked_card",), "iban": ("masked_iban",), "us_ssn": ("masked_ssn",),
    "phone": ("fiction_phone",), "email": ("reserved_email", "masked_email"),
    "ipv4": ("doc_ipv4", "private_ipv4"), "ipv6": ("doc_ipv6", "local_ipv6"),
    "password": ("pw_mask",), "url_password": ("url_mask",),
    "azure_sas_signature": ("sig_mask",), "private_key": ("public_block",),
    **{t: (f"masked_{t}", "placeholder") for t in _TOKEN_PREFIX if t != "jwt"},
    "jwt": ("masked_jwt", "jwt_cut"),
}
_LOOK.update({f"masked_{t}": _masked_token(t) for t in _TOKEN_PREFIX})
_LOOK.update({
    "url_mask": lambda r: r.choice(("%2A%2A%2A%2A%2A", "REDACTED", "xxxxxx", "%3Cpassword%3E",
                                    "${DB_PASSWORD}", "****")),
    "sig_mask": lambda r: r.choice(("REDACTED", "%3Csignature%3E", "***", "...")),
    "jwt_cut": lambda r: r.choice(("eyJhbGciOiJSUzI1NiJ9.eyJ\u2026", "eyJ...(truncated)",
                                   "<jwt>", "eyJhbGciOiJIUzI1NiJ9.<claims>.<sig>")),
})
_LOOK.update({
    "mmsi": lambda r: r.choice(("250", "235", "227", "244", "265", "211")) + _n(r, 6),
    "ueln": lambda r: _bad_luhn(r, 15, r.choice(("372", "826", "276"))),
    "chip": lambda r: _bad_luhn(r, 15, r.choice(("981", "985", "956"))),
    "voucher": lambda r: "-".join(_r(r, 4, _UP + "23456789") for _ in range(3)),
    "charity": lambda r: r.choice(("SC0", "1")) + _n(r, 5),
    "meter": lambda r: f"{_r(r, 2, _UP)}{_n(r, 2)} {_n(r, 4)} {_n(r, 2)}",
    "app_id": lambda r: f"HF-{rnd_year(r)}-{_n(r, 5)}",
    "control": lambda r: _n(r, 5),
})


def rnd_year(rnd: random.Random) -> str:
    return str(rnd.choice((2026, 2027)))


# --- artifacts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    """One kind of artifact. ``slots`` are (template, types) with ``{v}`` the value (``{j}``
    the value escaped for a JSON string), ``{+type}`` another real value, ``{w}`` how a person
    names the value, ``{ts}`` a clock reading (``clock``), ``{n}`` a counter, ``{who}`` a
    name and ``{SAS}`` a blob URL whose signature is ``{v}``; ``own`` are (template,
    look-alike maker or ``=text``) of look-alikes in the artifact's own syntax; ``avoid`` are
    characters no value may hold there; ``plain`` writes cards, IBANs, SSNs and phones
    without blanks; ``order`` sorts items by the first of these prefixes they start with;
    ``once`` are prefixes of which a document holds one item each; ``sep`` joins items."""

    prose: bool
    heads: tuple[str, ...]
    slots: tuple[tuple[str, str], ...]
    filler: tuple[str, ...] = ()
    own: tuple[tuple[str, str], ...] = ()
    tail: str = ""
    avoid: str = ""
    plain: bool = False
    sep: str = "\n"
    order: tuple[str, ...] = ()
    once: tuple[str, ...] = ()
    clock: str = "%H:%M"
    generic: bool = True


_K = _Kind
_PERSONS = ("Greta", "Desmond", "Niamh", "Leopold", "Saoirse", "Radoslaw", "Ines", "Tancredi",
            "Amara", "Benedikt", "Yolanda", "Orlando")

_KINDS: dict[str, _Kind] = {
    # --- prose ------------------------------------------------------------------------------
    "viber_export": _K(
        True, ("Viber chat history - \"Fairbairn family\" (exported 08.12.2026)\n",
               "Viber: chat with Mum\n"),
        (("{ts} Niamh: it's {v}, the Revolut one", "iban"),
         ("{ts} Mum: my new number is {v}, save it please", "phone"),
         ("{ts} Dad: the Netflix password is {v} don't change it again!!", "password"),
         ("{ts} Niamh: can you put the ferry on your card? mine is {v} but it's maxed",
          "payment_card"),
         ("{ts} Mum: card for the vet is {v} exp 09/28, she knows the code", "payment_card"),
         ("{ts} Cosima: send the photos to {v} not the old hotmail", "email"),
         ("{ts} Dad: Granny's {w} is {v} if you want to ring her on Sunday", "phone email"),
         ("{ts} Niamh: wifi at the cottage: {v}", "password"),
         ("{ts} Mum: Uncle Leopold's IBAN for the flowers money: {v}", "iban"),
         ("{ts} Dad: the number on Grandad's US pension letter (his social) is {v}", "us_ssn"),
         ("{ts} Cosima: new email btw {v}", "email"),
         ("{ts} Niamh: Mum the router password is on the back, it says {v}", "password")),
        ("{ts} Mum: did everyone get home ok?", "{ts} Dad: 👍", "{ts} Niamh: yes thanks x",
         "{ts} Cosima: who's bringing the trifle", "{ts} Mum: Sunday lunch at 1 please"),
        (("{ts} Dad: the Amazon password is {v}", "=the same as Netflix but with a 2 at the end"),
         ("{ts} Mum: tracking for Granny's present {v}", "tracking"),
         ("{ts} Niamh: ferry booking ref {v}", "order_no")),
        clock="%d.%m.%y %H:%M"),
    "webex_space": _K(
        True, ("Webex space: Platform on-call\n", "Webex space: payments-migration\n"),
        (("{who} {ts}\nhere's the staging Stripe key until Vault is back: {v}", "stripe_key"),
         ("{who} {ts}\nnew GitLab deploy token: {v}", "gitlab_token"),
         ("{who} {ts}\nuse my PAT for now, {v}, I'll rotate it tomorrow", "github_token"),
         ("{who} {ts}\nOpenAI key for the summariser job: {v}", "openai_api_key"),
         ("{who} {ts}\nand the Anthropic one: {v}", "anthropic_api_key"),
         ("{who} {ts}\nsession creds from assume-role, valid for an hour:\n"
          "    AWS_ACCESS_KEY_ID={v}\n    AWS_SECRET_ACCESS_KEY={+aws_secret_access_key}\n"
          "    AWS_SESSION_TOKEN={+aws_session_token}", "aws_access_key_id"),
         ("{who} {ts}\nsecret key for the backup user is {v}", "aws_secret_access_key"),
         ("{who} {ts}\nthe bastion is on {v} now, the old IP is gone", "ipv4"),
         ("{who} {ts}\nits v6 is {v}", "ipv6"),
         ("{who} {ts}\nDB URL for the replica: postgres://readonly:{v}@replica-2.pebblecrest.dev"
          ":5432/app", "url_password"),
         ("{who} {ts}\nbearer for the test user (expires tonight): {v}", "jwt"),
         ("{who} {ts}\nHF token for the model download: {v}", "huggingface_token"),
         ("{who} {ts}\nlink to the dump, valid till Friday: {SAS}", "azure_sas_signature"),
         ("{who} {ts}\nthe deploy key, don't ask:\n```\n{v}\n```", "private_key"),
         ("{who} {ts}\nnpm publish token: {v}", "npm_token"),
         ("{who} {ts}\nSendGrid key for the receipts: {v}", "sendgrid_api_key"),
         ("{who} {ts}\nslack bot token for the alerts app is {v}", "slack_token"),
         ("{who} {ts}\nthe API token they sent us: {v}", "vendor_token"),
         ("{who} {ts}\nroot pw on the core switch is {v}", "password"),
         ("{who} {ts}\nOIDC client secret for staging: {v}", "client_secret"),
         ("{who} {ts}\nsession token if you need it separately:\n    {v}", "aws_session_token")),
        ("{who} {ts}\nanyone looking at the 502s?", "{who} {ts}\non it",
         "{who} {ts}\nrollback done, graphs look normal again", "{who} {ts}\nthanks 🙏",
         "{who} {ts}\nwriting the postmortem now"),
        (("{who} {ts}\nthe key is in 1Password under \"{v}\"", "=Platform / Stripe staging"),
         ("{who} {ts}\nthat's the example from the AWS docs, not ours: {v}", "aws_example_id"),
         ("{who} {ts}\ncommit {v} fixes it", "sha1"),
         ("{who} {ts}\nrequest id {v} if you want to grep", "uuid"),
         ("{who} {ts}\nthe sample token from jwt.io for the unit test: {v}", "jwt_io"),
         ("{who} {ts}\nthe publishable key is fine to share: {v}", "pk_live")),
        clock="%I:%M %p"),
    "intercom_conversation": _K(
        True, ("Intercom conversation #4471 - Velomesh Support\n",
               "Conversation export (Intercom) - Fleet API help\n"),
        (("Customer · {ts}\nHi, my account email is {v} and I can't log in", "email"),
         ("Customer · {ts}\nyou can call me on {v}", "phone"),
         ("Customer · {ts}\nplease switch our billing to this card: {v}", "payment_card"),
         ("Customer · {ts}\nour API key stopped working: {v} - did you revoke it?", "vendor_token"),
         ("Velomesh Support · {ts}\nI've generated a new key for you: {v} - please keep it safe",
          "vendor_token"),
         ("Customer · {ts}\nour server calls you from {v}, can you allow-list it?", "ipv4 ipv6"),
         ("Customer · {ts}\nplease refund the double charge to {v}", "iban"),
         ("Customer · {ts}\nhere is the token our app sends, maybe it's malformed? {v}", "jwt"),
         ("Velomesh Support · {ts}\nhere's your data export: {SAS}", "azure_sas_signature"),
         ("Customer · {ts}\nthe Entra client secret we entered for SSO is {v}", "client_secret"),
         ("Customer · {ts}\nthe Maps key we put in your widget is {v}", "google_api_key"),
         ("Customer · {ts}\nthe webhook signing secret you show is {v}, is that right?",
          "stripe_key"),
         ("Customer · {ts}\nmy colleague's {w} is {v} if I'm not around", "email phone"),
         ("Customer · {ts}\nwe call Claude through your proxy with {v}, is that why it fails?",
          "anthropic_api_key")),
        ("Velomesh Support · {ts}\nThanks for reaching out! Let me look into this.",
         "Customer · {ts}\nthanks", "Velomesh Support · {ts}\nI'll escalate this to the team.",
         "Customer · {ts}\nit works now, thank you!"),
        (("Velomesh Support · {ts}\nthe card on file is {v}", "masked_card"),
         ("Velomesh Support · {ts}\nfor testing, use the test card {v}", "test_card"),
         ("Velomesh Support · {ts}\nyour invoice number is {v}", "order_no"),
         ("Velomesh Support · {ts}\nwhitelisting doesn't apply to {v}, that's a private address",
          "private_ipv4")),
        clock="%H:%M"),
    "nextcloud_talk": _K(
        True, ("Nextcloud Talk - \"Office IT\" (Zielinski & Joubert)\n",),
        (("{who} ({ts}): the new Wi-Fi password for guests is {v}", "password"),
         ("{who} ({ts}): NAS admin pw changed to {v}", "password"),
         ("{who} ({ts}): our public IP is {v} now, tell the bank's VPN people", "ipv4"),
         ("{who} ({ts}): IPv6 of the office router: {v}", "ipv6"),
         ("{who} ({ts}): backup bucket key {v} / {+aws_secret_access_key}", "aws_access_key_id"),
         ("{who} ({ts}): the NAS sends alerts via the Telegram bot, token {v}",
          "telegram_bot_token"),
         ("{who} ({ts}): GitLab token for the document scripts: {v}", "gitlab_token"),
         ("{who} ({ts}): the printer support guy is {v}", "phone email"),
         ("{who} ({ts}): key for the sftp user:\n{v}", "private_key"),
         ("{who} ({ts}): offsite share is sftp://backup:{v}@files.zielinski-law.pl/archive",
          "url_password"),
         ("{who} ({ts}): ask {v} for a new laptop", "email"),
         ("{who} ({ts}): OpenAI key for the transcription tool: {v}", "openai_api_key")),
        ("{who} ({ts}): printer on 2nd floor is jammed again", "{who} ({ts}): restarted it",
         "{who} ({ts}): can someone check the UPS beeping?", "{who} ({ts}): ok"),
        (("{who} ({ts}): the router is at {v}", "private_ipv4"),
         ("{who} ({ts}): the printer's MAC is {v}", "mac"),
         ("{who} ({ts}): the Wi-Fi password is {v}", "=on the card in the top drawer"),
         ("{who} ({ts}): firmware {v} fixed the scanning", "version4"))),
    "web_dev_handover": _K(
        True, ("Subject: Handover - brackenridge-books.com\n\nHi Yolanda,\n\nAs promised, here is "
               "everything you need now that I'm finishing up. Please move it into your password "
               "manager and delete this e-mail.\n",),
        (("The WordPress admin login is {+email} with password {v}", "password"),
         ("Hosting control panel: user brackenridge, password {v}", "password"),
         ("The server's IP address is {v} (you need it if you ever move the DNS).", "ipv4"),
         ("Its IPv6 address is {v}", "ipv6"),
         ("Database connection string for the next developer: mysql://wp_admin:{v}@db."
          "brackenridge-books.com:3306/wp", "url_password"),
         ("Stripe live secret key: {v} - please roll it once the new developer has it.",
          "stripe_key"),
         ("SendGrid key (order e-mails): {v}", "sendgrid_api_key"),
         ("Google Maps key for the shop finder: {v}", "google_api_key"),
         ("My deploy token for the private GitHub repository is {v} (revoke it when you add "
          "your own).", "github_token"),
         ("SSH key for the server (no passphrase, sorry):\n\n{v}\n", "private_key"),
         ("For questions in the next month my {w} is {v}", "phone email"),
         ("Contentful token for the blog: {v}", "vendor_token"),
         ("The domain registrar account is under {v}", "email"),
         ("OAuth client secret for 'Sign in with Google': {v}", "client_secret")),
        ("Backups run nightly and are kept for 30 days.",
         "Plugins are up to date as of today.",
         "The theme is a child theme of Storefront; don't update the parent without testing."),
        (("The old FTP password was {v}", "=the same as the hosting one, but FTP is off now"),
         ("Stripe publishable key (fine to share): {v}", "pk_live"),
         ("Google OAuth client ID: {v}", "google_client_id"),
         ("Test card for the checkout on staging: {v}", "test_card")),
        tail="\nAll the best,\nFlorentin"),
    "bookkeeper_queries": _K(
        True, ("Subject: October close - a few questions\n\nHi Bartholomew,\n\nI'm closing "
               "October for Trevelyan Joinery and need a few things cleared up:\n",),
        (("- A payment of EUR 2,480 went to {v} - who is that? There's no invoice.", "iban"),
         ("- The supplier says their bank changed; is {v} the new account? Please confirm by "
          "phone, not e-mail.", "iban"),
         ("- The Amex charges on {v} include a hotel in Lisbon: business or personal?",
          "payment_card"),
         ("- For the 1099 I still need the contractor's SSN; the W-9 says {v}", "us_ssn"),
         ("- Your own SSN on the payroll record is {v}, please check it against your card.",
          "us_ssn"),
         ("- For the read-only bank login you said the password would be {v}", "password"),
         ("- Call me on {v} if that's easier.", "phone"),
         ("- Please send invoices to my new address, {v}", "email"),
         ("- The fuel card {v} shows two fills on the same day.", "payment_card"),
         ("- The refund from the tool hire company should go to {w} {v}", "iban")),
        ("- The VAT return is due on the 7th.", "- Two receipts are missing for the van.",
         "- Petty cash is off by EUR 12.50; not worth chasing."),
        (("- Our EIN on the forms is {v}", "ein"), ("- The bank's routing number: {v}", "aba"),
         ("- Invoice {v} is paid twice", "order_no"),
         ("- The direct debit shows creditor ID {v}", "creditor_id"),
         ("- The remittance quoted reference {v}", "rf")),
        tail="\nThanks,\nClementine"),
    "theatre_contact_sheet": _K(
        True, ("GREYFRIARS PLAYERS - 'The Importance of Being Earnest' - company contact sheet "
               "(do not pass on)\n",),
        (("Director: Orlando Marchetti - {w} {v}", "phone email"),
         ("Stage manager: Eilidh Kilbride - mobile {v}", "phone"),
         ("SM e-mail: {v}", "email"),
         ("Lady Bracknell (Perpetua Quarles) - {v}", "phone email"),
         ("Jack (Desmond Ekwueme) - mob {v} / {+email}", "phone"),
         ("Props budget: the Society's debit card is {v}", "payment_card"),
         ("Expenses are paid to your own account; send the treasurer your IBAN (Una's is {v}, "
          "for example)", "iban"),
         ("Treasurer: Una Rautio, {v}", "email phone"),
         ("Box office system login: {+email} / {v}", "password"),
         ("Green room Wi-Fi: {v}", "password")),
        ("Rehearsals: Tue & Thu 19:30, Sun 14:00.", "Get-in: Friday 10am, all hands please.",
         "Costume fittings with Wenonah, book a slot."),
        (("Registered charity no. {v}", "charity"), ("Script licence order {v}", "order_no"),
         ("Hall answering machine: {v}", "fiction_phone"),
         ("Rehearsal room door code: {v}", "=ask the SM, it changes weekly"))),
    "regatta_crew_list": _K(
        True, ("Quayside Autumn Regatta - crew list\nYacht: 'Spinnaker's Folly' (sail no. IRL "
               "2291)\n",),
        (("Skipper: Valentijn Vandermeer, mobile {v}", "phone"),
         ("Skipper e-mail: {v}", "email"),
         ("Crew 2: Saoirse Prendergast, {w} {v}", "phone email"),
         ("Next of kin for crew 2: {v}", "phone"),
         ("Entry fee (EUR 180) charged to {v}", "payment_card"),
         ("Return the berth deposit to {v}", "iban"),
         ("Crew 3: Xaver Lindqvist, {v}", "phone"),
         ("Berth deposit paid from account {v}", "iban"),
         ("Emergency contact ashore: {v}", "phone")),
        ("Liferaft serviced March 2026.", "Crew briefing 08:30 at the club house.",
         "All crew to wear lifejackets at all times."),
        (("Boat's MMSI: {v}", "mmsi"), ("Liferaft service certificate {v}", "order_no"),
         ("Card used last year: {v}", "masked_card"))),
    "tattoo_consent": _K(
        True, ("INKWELL STUDIO - client consent and release\nArtist: Kerensa   Piece: fine-line "
               "botanical, left forearm\n",),
        (("Client e-mail: {v}", "email"), ("Client phone: {v}", "phone"),
         ("Emergency contact (name & number): Horatio, {v}", "phone"),
         ("Deposit ($150, non-refundable) taken on {v}", "payment_card"),
         ("Card for the balance: {v}", "payment_card"),
         ("Booking portal password you chose: {v}", "password"),
         ("Where should we send aftercare instructions? {v}", "email phone")),
        ("Are you pregnant or nursing? No", "Allergies: latex", "I am over 18: yes",
         "I have eaten in the last 4 hours: yes"),
        (("Ink lot no. {v}", "order_no"), ("Deposit receipt {v}", "order_no"),
         ("Card on file: {v}", "masked_card"))),
    "location_release": _K(
        True, ("LOCATION RELEASE AGREEMENT\nProduction: 'Low Tide' (Saltmarsh Films LLC)\n"
               "Property: 14 Harbor Rd, Gloucester, MA\n",),
        (("Owner's phone: {v}", "phone"), ("Owner's e-mail: {v}", "email"),
         ("Owner's SSN (for the 1099, location fee over $600): {v}", "us_ssn"),
         ("Co-owner's social security no.: {v}", "us_ssn"),
         ("For owners abroad, fee paid to IBAN {v}", "iban"),
         ("Security deposit held on the production's card {v}", "payment_card"),
         ("Location manager on the day: {w} {v}", "phone email")),
        ("Shoot days: 12-14 January, 7am to 8pm.", "Parking for two trucks on the drive.",
         "The production will restore the property to its original condition."),
        (("Production EIN: {v}", "ein"), ("Routing number for the fee: {v}", "aba"),
         ("Certificate of insurance no. {v}", "order_no"),
         ("Office line: {v}", "fiction_phone"))),
    "estate_sale_consignment": _K(
        True, ("BRACKENRIDGE ESTATE SALES - consignment agreement\nConsignor: the estate of "
               "Agnetha Lindqvist\n",),
        (("Consignor phone: {v}", "phone"), ("Consignor e-mail: {v}", "email"),
         ("Consignor's SSN (for the 1099-B): {v}", "us_ssn"),
         ("Proceeds paid to (IBAN, consignor lives in Sweden): {v}", "iban"),
         ("Card for the clean-out fee if sales fall short: {v}", "payment_card"),
         ("Executor: Amara Lindqvist, {w} {v}", "phone email")),
        ("Commission: 35% of gross sales.", "Unsold items donated unless collected in 7 days.",
         "Sale dates: Friday to Sunday, 9am to 3pm."),
        (("Lot 14: first edition, ISBN {v}", "isbn"), ("Consignor no. {v}", "order_no"),
         ("Our EIN: {v}", "ein"), ("Old account on file: {v}", "masked_iban"))),
    "wine_club_change": _K(
        True, ("Harrowgate Wines - Cellar Club\nMember change request\n",),
        (("Please update my card to {v}", "payment_card"),
         ("Take the subscription by direct debit from {v} instead of the card", "iban"),
         ("New e-mail: {v}", "email"), ("New mobile: {v}", "phone"),
         ("My online account password is {v} if you need to log in as me", "password"),
         ("Gift membership for my brother, his {w}: {v}", "phone email"),
         ("Card for the gift membership: {v}", "payment_card")),
        ("Case preference: mixed reds.", "Please skip the January case.",
         "Delivery to the side door."),
        (("Member number: {v}", "order_no"),
         ("Your creditor ID on the mandate: {v}", "creditor_id"),
         ("Old card: {v}", "masked_card"))),
    "leaving_collection": _K(
        True, ("Subject: Leaving collection for Horatio (shh!)\n\nHi all,\n\nHoratio retires on "
               "the 19th after 31 years, and we're putting together a collection.\n",),
        (("Bank transfer to my account please: {v} (Una Rautio)", "iban"),
         ("The online card: log in with the team e-mail and password {v}", "password"),
         ("Questions to me on {v}", "phone"), ("or e-mail {v}", "email"),
         ("Horatio's personal e-mail for after he leaves: {v}", "email"),
         ("His new mobile (he said it's fine to share): {v}", "phone"),
         ("If you're abroad, Benedikt's account is {v}", "iban")),
        ("Cake on Friday at 3 in the big meeting room.", "Please don't reply-all!",
         "Cards to sign are at reception."),
        (("Payment reference: {v}", "rf"),
         ("The online card's password is {v}", "=on the team page, same as last time"),
         ("Office extension: {v}", "control"))),
    "escape_room_booking": _K(
        True, ("Subject: group booking - 'The Lighthouse Keeper', Saturday 16:00\n\nHello,\n\n"
               "We'd like to book for 8 people (a hen party).\n",),
        (("My e-mail is {v}", "email"), ("Mobile on the day: {v}", "phone"),
         ("Please take the deposit from {v}", "payment_card"),
         ("If I'm late the bride's sister is in charge, {w} {v}", "phone email"),
         ("Card for the drinks package: {v}", "payment_card")),
        ("Two of us are claustrophobic, is that ok?", "We'll arrive 15 minutes early.",
         "Can we bring a cake?"),
        (("Booking ref {v}", "order_no"), ("Gift voucher code {v}", "voucher"),
         ("Card on the booking: {v}", "masked_card")),
        tail="\nThanks!\nSaoirse"),
    "livery_agreement": _K(
        True, ("KILBRIDE STABLES - full livery agreement\nHorse: 'Marmalade', 14.2hh gelding\n",),
        (("Owner phone: {v}", "phone"), ("Owner e-mail: {v}", "email"),
         ("Livery fee by standing order from {v}", "iban"),
         ("Card for vet emergencies (up to EUR 500 without asking): {v}", "payment_card"),
         ("Owner's vet: Dr. Gillespie, {v}", "phone"), ("Farrier: {v}", "phone email"),
         ("Yard Wi-Fi: {v}", "password"), ("Second card if the first declines: {v}",
                                            "payment_card")),
        ("Turnout: daily, weather permitting.", "Hard feed twice daily.",
         "Worming every 8 weeks by the yard."),
        (("Horse passport (UELN): {v}", "ueln"), ("Microchip: {v}", "chip"),
         ("Yard's bank BIC: {v}", "bic"))),
    "solar_site_survey": _K(
        True, ("SOLWIND ENERGY - site survey\nCustomer: Zebulon Yarborough\nRoof: south-facing, "
               "32°, composite shingle\n",),
        (("Homeowner phone: {v}", "phone"), ("Homeowner e-mail: {v}", "email"),
         ("Inverter portal login: {+email} / {v}", "password"),
         ("Home Wi-Fi for the inverter dongle: \"{v}\"", "password"),
         ("Public IP (for the monitoring allow-list): {v}", "ipv4"),
         ("IPv6 of the house router: {v}", "ipv6"),
         ("SSN for the tax credit paperwork: {v}", "us_ssn"),
         ("Deposit on card {v}", "payment_card")),
        ("Main panel: 200A, space for a 40A breaker.", "Shading: a maple on the west side.",
         "Customer wants a battery quote as well."),
        (("Router admin page: http://{v}/", "private_ipv4"), ("Dongle MAC: {v}", "mac"),
         ("Meter number {v}", "meter"), ("Inverter firmware {v}", "version4"))),
    "host_family_application": _K(
        True, ("Exchange student host family application (2027/28)\nFamily: Nakashima\n",),
        (("Host parent 1 phone: {v}", "phone"), ("Host parent 1 e-mail: {v}", "email"),
         ("Host parent 1 SSN (for the background check): {v}", "us_ssn"),
         ("Host parent 2 SSN: {v}", "us_ssn"),
         ("Host parent 2, {w}: {v}", "phone email"),
         ("Application fee paid with card {v}", "payment_card"),
         ("Emergency contact (a neighbour): {v}", "phone")),
        ("Bedrooms: 4; the student would share a bathroom.", "Pets: one dog.",
         "Our religion: none; we are happy to take the student to services."),
        (("Application ID: {v}", "app_id"), ("School district office: {v}", "fiction_phone"),
         ("Reference's e-mail: {v}", "reserved_email"))),
    "bike_share_damage_report": _K(
        True, ("VeloMesh - damage / incident report\nBike ID: VM-20417\n",),
        (("Rider e-mail: {v}", "email"), ("Rider phone: {v}", "phone"),
         ("Charge the repair to my card {v}", "payment_card"),
         ("Refund my deposit to {v}", "iban"),
         ("Witness: {w} {v}", "phone email")),
        ("What happened: the chain came off on a hill and I fell.",
         "Damage: bent front basket, scratched frame.", "Was anyone hurt? A grazed knee."),
        (("Lock IMEI: {v}", "imei"), ("Trip ID: {v}", "uuid"),
         ("Card on the account: {v}", "masked_card"))),
}


def _nb(*source: str, markdown: bool = False) -> str:
    """A Jupyter cell holding ``source`` (lines, placeholders kept)."""
    lines = ",\n    ".join(json.dumps(s, ensure_ascii=False) for s in source)
    if markdown:
        return (f'  {{\n   "cell_type": "markdown",\n   "metadata": {{}},\n   "source": [\n    '
                f'{lines}\n   ]\n  }}')
    return (f'  {{\n   "cell_type": "code",\n   "execution_count": {{n}},\n   "metadata": {{}},\n'
            f'   "outputs": [],\n   "source": [\n    {lines}\n   ]\n  }}')


def _vault(command: str, *rows: tuple[str, str]) -> str:
    width = max(len(k) for k, _ in rows) + 4
    body = "\n".join(f"{k.ljust(width)}{v}" for k, v in rows)
    return f"$ vault {command}\n{'Key'.ljust(width)}Value\n{'---'.ljust(width)}-----\n{body}"


def _kv(path: str, key: str, value: str = "{v}") -> str:
    return _vault(f"kv get -mount=secret {path}", (key, value))


def _curl(command: str, host: str, request: str, headers: str, status: str = "200",
          via: str = "{+ipv4}") -> str:
    return (f"$ curl -v {command}\n*   Trying {via}:443...\n* Connected to {host} ({{again}}) "
            f"port 443\n* ALPN: server accepted h2\n> {request} HTTP/2\n> Host: {host}\n"
            f"> User-Agent: curl/8.5.0\n> Accept: */*\n{headers + chr(10) if headers else ''}"
            f">\n< HTTP/2 {status}\n"
            f"< content-type: application/json")


_VCARD_UA = "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36"

_KINDS.update({
    # --- machine text -----------------------------------------------------------------------
    "hl7_adt": _K(
        False, ("MSH|^~\\&|REGADT|RIVERMEAD|LABSYS|RIVERMEAD|{ts}||ADT^A04^ADT_A01|RM{n}8|P|2.5.1\n"
                "EVN|A04|{ts}",),
        (("PID|1||RM20417^^^RIVERMEAD^MR||Dufresne^Cosima^M||19810317|F|||22 Quay St^^Newport^RI"
          "^02840^US||{v}^PRN^PH", "phone"),
         ("PID|1||RM33105^^^RIVERMEAD^MR||Iwasaki^Leopold||19640922|M|||8 Birch Ln^^Salem^MA^01970"
          "^US||{+phone}^PRN^PH||||||{v}", "us_ssn"),
         ("PID|1||RM41876^^^RIVERMEAD^MR||Oyelaran^Tancredi||19920105|M|||3 Elm Ct^^Quincy^MA"
          "^02169^US||^NET^Internet^{v}", "email"),
         ("NK1|1|Dufresne^Marcel|SPO^Spouse|22 Quay St^^Newport^RI^02840^US|{v}", "phone"),
         ("NK1|2|Marchetti^Una|MTH^Mother||{v}", "phone"),
         ("NK1|2|Lindqvist^Xaver|BRO^Brother||^NET^Internet^{v}", "email"),
         ("GT1|1||Iwasaki^Leopold||8 Birch Ln^^Salem^MA^01970^US|{+phone}||19640922|M|P|SEL|{v}",
          "us_ssn"),
         ("GT1|1||Dufresne^Marcel||22 Quay St^^Newport^RI^02840^US|{v}||19790630|M|P|SPO",
          "phone")),
        ("AL1|1|DA|^Penicillin|MO|Rash", "DG1|1||M17.11^Primary osteoarthritis, right knee^I10",
         "OBX|1|NM|8302-2^Body height^LN||172|cm"),
        (("PV1|1|O|ORTHO^^^RIVERMEAD||||{v}^Okafor^Ada^^^^MD^^^^NPI", "npi"),
         ("OBX|2|ST|DEVICE^Bedside monitor MAC||{v}", "mac"),
         ("PID|1||RM50022^^^RIVERMEAD^MR||Test^Patient||19700101|U|||1 Main St^^Boston^MA^02108^US"
          "||{v}^PRN^PH", "fiction_phone")),
        avoid="|^~\\&", order=("PID", "PV1", "NK1", "GT1", "AL1", "DG1", "OBX"),
        once=("PID", "PV1", "GT1"), clock="%Y%m%d%H%M%S"),
    "x12_834": _K(
        False, ("ISA*00*          *00*          *ZZ*RIVERMEADHR    *ZZ*BCBSMA         *261208*0914"
                "*^*00501*000004471*0*P*:~\nGS*BE*RIVERMEADHR*BCBSMA*20261208*0914*4471*X*005010X220A1~\n"
                "ST*834*0001*005010X220A1~\nBGN*00*RMHR-2026-12*20261208*0914****2~",),
        (("INS*Y*18*030*XN*A*E**FT~\nREF*0F*E{n}0417~\nNM1*IL*1*LINDQVIST*AMARA****34*{v}~\n"
          "DMG*D8*19860211*F~", "us_ssn"),
         ("INS*Y*18*021*28*A*E**FT~\nREF*0F*E{n}0533~\nNM1*IL*1*IWASAKI*LEOPOLD~\n"
          "PER*IP**HP*{v}~\nDMG*D8*19640922*M~", "phone"),
         ("INS*N*01*021*28*A~\nREF*0F*E{n}0533~\nNM1*IL*1*IWASAKI*HANA~\nPER*IP**EM*{v}~\n"
          "DMG*D8*19670530*F~", "email"),
         ("INS*Y*18*021*28*A*E**FT~\nREF*0F*{v}~\nNM1*IL*1*OYELARAN*TANCREDI~\n"
          "PER*IP**HP*{+phone}~", "us_ssn"),
         ("INS*Y*18*024*AI*A*E**FT~\nREF*0F*E{n}0719~\nNM1*IL*1*KILBRIDE*EILIDH****34*{+us_ssn}~\n"
          "PER*IP**CP*{v}*EM*{+email}~", "phone"),
         ("INS*N*19*021*28*A~\nREF*0F*E{n}0719~\nNM1*IL*1*KILBRIDE*NIAMH****34*{v}~\n"
          "DMG*D8*20090914*F~", "us_ssn")),
        ("INS*Y*18*024*07*A*E**TE~\nREF*0F*E{n}0999~\nNM1*IL*1*GILLESPIE*ORLANDO~\n"
         "DMG*D8*19591101*M~",),
        (("N1*P5*RIVERMEAD HEALTH*FI*{v}~", "ein9"), ("REF*38*{v}~", "control"),
         ("INS*Y*18*021*28*A*E**FT~\nREF*0F*E{n}0808~\nNM1*IL*1*SAMPLE*MEMBER~\n"
          "PER*IP**HP*{v}~", "fiction_phone")),
        tail="SE*31*0001~\nGE*1*4471~\nIEA*1*000004471~", avoid="*~:^", plain=True,
        order=("N1", "REF*38", "INS"), once=("N1", "REF*38"), clock="%H%M"),
    "swift_mt103": _K(
        False, ("{1:F01NDEANOKKAXXX0000000000}{2:I103DEUTDEFFXXXXN}{3:{108:PAY-1208-044}}{4:\n"
                ":20:NV-26-1208-044\n:23B:CRED\n:32A:261208EUR12500,00",),
        ((":50K:/{v}\nMARGIT HAKANSSON\nSTORGATAN 12\nSTOCKHOLM", "iban"),
         (":50F:/{v}\n1/AGNETHA LINDQVIST\n2/KUNGSGATAN 4\n3/SE/STOCKHOLM", "iban"),
         (":59:/{v}\nTREVELYAN JOINERY LTD\n4 MILL LANE\nPENZANCE", "iban"),
         (":59F:/{v}\n1/DESMOND EKWUEME\n2/22 RUE DU PORT\n3/FR/BREST", "iban"),
         (":70:/RFB/REFUND TO {v}", "iban"),
         (":72:/PHONBEN/{v}", "phone"), (":72:/INS/CALL ORDERING PARTY {v}", "phone"),
         (":72:/BNF/CONTACT {v}", "phone")),
        (":71A:SHA", ":33B:EUR12500,00"),
        ((":52A:{v}", "bic"), (":57A:{v}", "bic"), (":70:/RFB/{v}", "rf"),
         (":59:/{v}\nTEST BENEFICIARY\nSPECIMEN ONLY", "example_iban_flat")),
        tail="-}", plain=True, generic=False,
        order=(":33", ":50", ":52", ":56", ":57", ":59", ":70", ":71", ":72"),
        once=(":50", ":52", ":57", ":59", ":70", ":71", ":72", ":33")),
    "cobol_program": _K(
        False, (">>SOURCE FORMAT FREE\nIDENTIFICATION DIVISION.\nPROGRAM-ID. PAYRUN.\n"
                "*> Nightly payment run - Trevelyan Joinery\nDATA DIVISION.\n"
                "WORKING-STORAGE SECTION.",),
        (("    01 WS-PAYEE-IBAN       PIC X(34) VALUE '{v}'.", "iban"),
         ("    01 WS-DEBTOR-ACCOUNT   PIC X(34) VALUE '{v}'.", "iban"),
         ("    01 WS-CORP-CARD        PIC X(19) VALUE '{v}'.", "payment_card"),
         ("    01 WS-FUEL-CARD        PIC X(19) VALUE '{v}'.", "payment_card"),
         ("    01 WS-EMP-SSN          PIC X(11) VALUE '{v}'.", "us_ssn"),
         ("    01 WS-HELPDESK-PHONE   PIC X(20) VALUE '{v}'.", "phone"),
         ("    01 WS-REPORT-MAILTO    PIC X(60) VALUE '{v}'.", "email"),
         ("    01 WS-FTP-PASSWORD     PIC X(32) VALUE '{v}'.", "password"),
         ("    01 WS-DB-PASSWD        PIC X(24) VALUE '{v}'.", "password"),
         ("    01 WS-GATEWAY-TOKEN    PIC X(200) VALUE '{v}'.", "vendor_token"),
         ("    01 WS-STRIPE-KEY       PIC X(107) VALUE '{v}'.", "stripe_key"),
         ("    01 WS-SENDGRID-KEY     PIC X(69) VALUE '{v}'.", "sendgrid_api_key"),
         ("    01 WS-GEOCODE-KEY      PIC X(39) VALUE '{v}'.", "google_api_key"),
         ("    01 WS-LEDGER-DSN       PIC X(120)\n        VALUE 'postgresql://payrun:{v}@db01."
          "trevelyan-joinery.co.uk/ledger'.", "url_password")),
        ("    01 WS-RUN-DATE         PIC 9(8).",
         "    01 WS-TOTAL            PIC 9(9)V99 VALUE ZERO.",
         "    01 WS-RECORD-COUNT     PIC 9(7) VALUE 0."),
        (("    01 WS-TEST-CARD        PIC X(16) VALUE '{v}'. *> processor's test number",
          "test_card_flat"),
         ("    01 WS-ROUTING          PIC 9(9) VALUE {v}.", "aba"),
         ("    01 WS-PAYEE-BIC        PIC X(11) VALUE '{v}'.", "bic"),
         ("    01 WS-DB-PASSWD-ENV    PIC X(20) VALUE '{v}'. *> name of the variable holding it",
          "=PAYRUN_DB_PW")),
        tail="PROCEDURE DIVISION.\n    PERFORM 1000-INIT\n    PERFORM 2000-PAY-ALL\n    STOP RUN.",
        avoid="'"),
    "matlab_script": _K(
        False, ("%% telemetry_sync.m - pulls the fleet data and posts the daily summary\n"
                "% Ines Iwasaki, 2026-12-08",),
        (("apiKey = \"{v}\";", "openai_api_key google_api_key vendor_token"),
         ("setenv(\"AWS_ACCESS_KEY_ID\", \"{v}\");", "aws_access_key_id"),
         ("setenv(\"AWS_SECRET_ACCESS_KEY\", \"{v}\");", "aws_secret_access_key"),
         ("setenv(\"AWS_SESSION_TOKEN\", \"{v}\");", "aws_session_token"),
         ("opts = weboptions(\"HeaderFields\", [\"Authorization\", \"Bearer {v}\"]);",
          "openai_api_key huggingface_token jwt vendor_token"),
         ("opts = weboptions(\"HeaderFields\", [\"x-api-key\", \"{v}\"; \"anthropic-version\", "
          "\"2023-06-01\"]);", "anthropic_api_key"),
         ("url = \"https://maps.googleapis.com/maps/api/geocode/json?key={v}&address=\" + addr;",
          "google_api_key"),
         ("conn = database(\"warehouse\", \"analyst\", \"{v}\");", "password"),
         ("setpref(\"Internet\", \"SMTP_Password\", \"{v}\");", "password"),
         ("setpref(\"Internet\", \"E_mail\", \"{v}\");", "email"),
         ("mongoURL = \"mongodb://etl:{v}@mongo-a.fleet.velomesh.io:27017/telemetry\";",
          "url_password"),
         ("blobURL = \"{SAS}\";", "azure_sas_signature"),
         ("gateway = \"{v}\";  % telemetry gateway", "ipv4 ipv6"),
         ("sendSMS(\"{v}\", msg);  % on-call phone", "phone"),
         ("webwrite(\"https://api.telegram.org/bot{v}/sendMessage\", \"chat_id\", chatId, "
          "\"text\", msg);", "telegram_bot_token"),
         ("hfToken = '{v}';", "huggingface_token"), ("slackToken = '{v}';", "slack_token")),
        ("data = readtable(\"fleet.csv\");",
         "summary = groupsummary(data, \"vehicle\", \"mean\", \"speed\");", "disp(\"done\")"),
        (("apiKey = getenv(\"{v}\");", "=OPENAI_API_KEY"),
         ("% example key from the AWS docs: {v}", "aws_example_id"),
         ("chatId = \"{v}\";", "chat_id"), ("expectedHash = \"{v}\";", "sha256"))),
    "applescript": _K(
        False, ("-- morning_routine.applescript\n-- run by launchd at 07:30",),
        (("set dbPass to \"{v}\"", "password"),
         ("do shell script \"security add-generic-password -a backup -s nas-backup -w '{v}' -U\"",
          "password"),
         ("tell application \"Messages\" to send \"Leaving now\" to participant \"{v}\" of "
          "account 1", "phone email"),
         ("set slackToken to \"{v}\"", "slack_token"),
         ("do shell script \"curl -s https://api.telegram.org/bot{v}/sendMessage -d chat_id="
          "@fairbairn_home -d text=Morning\"", "telegram_bot_token"),
         ("do shell script \"AWS_ACCESS_KEY_ID={v} AWS_SECRET_ACCESS_KEY={+aws_secret_access_key} "
          "/usr/local/bin/aws s3 sync ~/Pictures s3://amara-photos\"", "aws_access_key_id"),
         ("set ghToken to \"{v}\"", "github_token"),
         ("do shell script \"/usr/local/bin/pg_dump postgres://amara:{v}@db.pebblecrest.dev/notes"
          " > ~/notes.sql\"", "url_password"),
         ("make new to recipient at end of to recipients with properties {address:\"{v}\"}",
          "email"),
         ("set openaiKey to \"{v}\"", "openai_api_key"),
         ("set claudeKey to \"{v}\"", "anthropic_api_key")),
        ("tell application \"Music\" to play playlist \"Morning\"", "delay 2",
         "display notification \"Backup started\" with title \"Morning\""),
        (("set dbPass to do shell script \"security find-generic-password -s {v} -w\"",
          "=nas-backup"),
         ("-- example from the AWS docs: {v}", "aws_example_id"),
         ("set nasAddress to \"{v}\"", "private_ipv4")),
        avoid="\"\\"),
    "autohotkey": _K(
        False, ("#Requires AutoHotkey v2.0\n; text expanders - Yolanda",),
        ((":*T:]em::{v}", "email"), (":*T:]wem::{v}", "email"), (":*T:]ph::{v}", "phone"),
         (":*T:]cc::{v}", "payment_card"), (":*T:]iban::{v}", "iban"), (":*T:]ssn::{v}", "us_ssn"),
         ("^!p::SendText \"{v}\"  ; bank login", "password"), (":*T:]pw::{v}", "password"),
         ("ghToken := \"{v}\"", "github_token"),
         ("Run 'curl -H \"PRIVATE-TOKEN: {v}\" https://gitlab.com/api/v4/projects'",
          "gitlab_token"),
         ("tgToken := \"{v}\"", "telegram_bot_token"), ("npmToken := \"{v}\"", "npm_token"),
         ("openaiKey := \"{v}\"", "openai_api_key"), (":*T:]cc2::{v}", "payment_card"),
         ("claudeKey := \"{v}\"", "anthropic_api_key")),
        ("#HotIf WinActive(\"ahk_exe chrome.exe\")", "#HotIf", "^!r::Reload",
         "::btw::by the way"),
        ((":*T:]test::{v}  ; Stripe test card", "test_card"),
         ("bankPw := EnvGet(\"{v}\")", "=BANK_PW"), (":*T:]bic::{v}", "bic")),
        avoid="`;\"'"),
    "apache_vhost": _K(
        False, ("<VirtualHost *:443>\n    ServerName shop.harrowgate-wines.co.uk\n"
                "    DocumentRoot /var/www/shop/public",),
        (("    ServerAdmin {v}", "email"), ("    SetEnv DB_PASSWORD \"{v}\"", "password"),
         ("    SetEnv DATABASE_URL \"mysql://shop:{v}@db-1.harrowgate-wines.co.uk:3306/shop\"",
          "url_password"),
         ("    SetEnv STRIPE_SECRET_KEY {v}", "stripe_key"),
         ("    SetEnv SENDGRID_API_KEY {v}", "sendgrid_api_key"),
         ("    SetEnv GOOGLE_MAPS_KEY {v}", "google_api_key"),
         ("    SetEnv SHOP_API_TOKEN {v}", "vendor_token"),
         ("    SetEnv ANTHROPIC_API_KEY {v}", "anthropic_api_key"),
         ("    SetEnv OPENAI_API_KEY {v}", "openai_api_key"),
         ("    OIDCClientSecret {v}", "client_secret"),
         ("    OIDCCryptoPassphrase \"{v}\"", "password"),
         ("    <Location /admin>\n        Require ip {v}\n    </Location>", "ipv4 ipv6"),
         ("    RemoteIPTrustedProxy {v}", "ipv4 ipv6"),
         ("    RequestHeader set Authorization \"Bearer {v}\"", "jwt vendor_token")),
        ("    SSLEngine on", "    ErrorLog ${APACHE_LOG_DIR}/shop_error.log",
         "    <Directory /var/www/shop/public>\n        AllowOverride All\n    </Directory>",
         "    Protocols h2 http/1.1"),
        (("    SSLCertificateKeyFile {v}", "=/etc/ssl/private/shop.harrowgate-wines.co.uk.key"),
         ("    SetEnv DB_PASSWORD \"{v}\"", "=${DB_PASS}"),
         ("    ServerAdmin {v}", "=webmaster@localhost"),
         ("    Header set X-Build {v}", "sha1")),
        tail="</VirtualHost>"),
    "bind_zone": _K(
        False, ("$ORIGIN fairbairn-arch.ie.\n$TTL 3600\n@       IN SOA  ns1.fairbairn-arch.ie. "
                "hostmaster.fairbairn-arch.ie. (\n                2026120801 ; serial\n"
                "                7200 3600 1209600 3600 )\n@       IN NS   ns1.fairbairn-arch.ie.\n"
                "@       IN NS   ns2.fairbairn-arch.ie.",),
        (("@       IN A     {v}", "ipv4"), ("www     IN A     {v}", "ipv4"),
         ("mail    IN A     {v}", "ipv4"), ("vpn     IN A     {v}", "ipv4"),
         ("ns1     IN A     {v}", "ipv4"), ("www     IN AAAA  {v}", "ipv6"),
         ("mail    IN AAAA  {v}", "ipv6"), ("ns2     IN AAAA  {v}", "ipv6"),
         ("_dmarc  IN TXT   \"v=DMARC1; p=quarantine; rua=mailto:{v}\"", "email"),
         ("@       IN CAA   0 iodef \"mailto:{v}\"", "email")),
        ("@       IN MX    10 mail.fairbairn-arch.ie.", "ftp     IN CNAME www",
         "@       IN TXT   \"v=spf1 mx include:_spf.google.com ~all\"",
         "autodiscover IN CNAME autodiscover.outlook.com."),
        (("@       IN TXT   \"google-site-verification={v}\"", "site_verification"),
         ("@       IN TXT   \"{v}\"", "ms_verify"), ("printer IN A     {v}", "private_ipv4"),
         ("test    IN A     {v}", "doc_ipv4"),
         ("sel1._domainkey IN TXT \"v=DKIM1; k=rsa; p={v}\"", "dkim"))),
    "nagios_objects": _K(
        False, ("# /etc/nagios4/conf.d/pebblecrest.cfg - maintained by hand",),
        (("define contact {\n    contact_name    desmond\n    alias           Desmond Ekwueme\n"
          "    email           {v}\n    service_notification_commands notify-service-by-email\n}",
          "email"),
         ("define contact {\n    contact_name    oncall-sms\n    pager           {v}\n}", "phone"),
         ("define contact {\n    contact_name    niamh\n    email           {+email}\n"
          "    pager           {v}\n}", "phone"),
         ("define host {\n    use             linux-server\n    host_name       web-01\n"
          "    address         {v}\n}", "ipv4 ipv6"),
         ("define host {\n    use             linux-server\n    host_name       db-01\n"
          "    address         {v}\n}", "ipv4 ipv6"),
         ("# from resource.cfg\n$USER3$={v}", "password"),
         ("define command {\n    command_name    notify-by-telegram\n    command_line    "
          "/usr/bin/curl -s \"https://api.telegram.org/bot{v}/sendMessage\" -d chat_id="
          "@pebblecrest_ops -d text=\"$HOSTNAME$ $HOSTSTATE$\"\n}", "telegram_bot_token"),
         ("define command {\n    command_name    notify-by-slack\n    command_line    "
          "/usr/local/bin/slack-notify --token {v} --channel ops\n}", "slack_token"),
         ("define command {\n    command_name    check_db\n    command_line    $USER1$/check_mysql"
          " -H $HOSTADDRESS$ -u nagios -p '{v}'\n}", "password"),
         ("define service {\n    host_name       web-01\n    service_description HTTPS API\n"
          "    check_command   check_http!-H api.pebblecrest.dev -S -k 'Authorization: Bearer "
          "{v}'\n}", "jwt vendor_token")),
        ("define timeperiod {\n    timeperiod_name workhours\n    monday          09:00-17:00\n}",
         "define hostgroup {\n    hostgroup_name  web\n    members         web-01\n}"),
        (("define service {\n    host_name       web-01\n    service_description Uptime\n"
          "    check_command   check_snmp!-o {v}\n}", "oid"),
         ("define host {\n    use             generic-switch\n    host_name       switch-01\n"
          "    address         {v}\n}", "private_ipv4"),
         ("define command {\n    command_name    check_db_ro\n    command_line    $USER1$/"
          "check_mysql -H $HOSTADDRESS$ -u nagios_ro -p {v}\n}", "=$USER3$"))),
    "fail2ban_log": _K(
        False, ("{ts} fail2ban.server         [1187]: INFO    Starting Fail2ban v1.1.0",),
        (("{ts} fail2ban.filter         [1187]: INFO    [sshd] Found {v}", "ipv4 ipv6"),
         ("{ts} fail2ban.actions        [1187]: NOTICE  [sshd] Ban {v}", "ipv4 ipv6"),
         ("{ts} fail2ban.actions        [1187]: NOTICE  [postfix-sasl] Ban {v}", "ipv4 ipv6"),
         ("{ts} fail2ban.actions        [1187]: NOTICE  [nginx-botsearch] Unban {v}", "ipv4 ipv6"),
         ("{ts} fail2ban.filter         [1187]: INFO    [dovecot] Found {v}", "ipv4 ipv6"),
         ("{ts} fail2ban.actions        [1187]: ERROR   Failed to execute ban jail 'sshd' action "
          "'sendmail-whois' info 'ActionInfo({'ip': '{+ipv4}'})': sendmail: recipient {v} unknown",
          "email"),
         ("{ts} fail2ban.filter         [1187]: INFO    [recidive] Found {v} - already banned",
          "ipv4 ipv6")),
        ("{ts} fail2ban.server         [1187]: INFO    Reload all jails",
         "{ts} fail2ban.jail           [1187]: INFO    Jail 'sshd' started",
         "{ts} fail2ban.filter         [1187]: INFO      maxRetry: 5"),
        (("{ts} fail2ban.filter         [1187]: INFO    [sshd] Ignore {v} by ip", "private_ipv4"),
         ("{ts} fail2ban.filter         [1187]: INFO    [sshd] Ignore {v} by ip", "local_ipv6")),
        clock="%Y-%m-%d %H:%M:%S,{ms}"),
    "iis_w3c_log": _K(
        False, ("#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
                "#Date: {ts}\n#Fields: date time cs-method cs-uri-stem cs-uri-query s-port "
                "cs-username c-ip cs(User-Agent) sc-status sc-substatus sc-win32-status "
                "time-taken",),
        (("{ts} GET /api/v2/orders - 443 - {v} " + _VCARD_UA + " 200 0 0 41", "ipv4 ipv6"),
         ("{ts} GET /maps/proxy key={v}&q=Ghent 443 - {+ipv4} okhttp/4.12.0 200 0 0 88",
          "google_api_key"),
         ("{ts} GET /api/v2/export access_token={v} 443 - {+ipv4} python-requests/2.32.3 200 0 0 "
          "312", "jwt vendor_token"),
         ("{ts} GET /files/report.pdf sv=2025-05-05&sr=b&sp=r&se=2027-01-31T18:00:00Z&sig={v} 443 "
          "- {+ipv6} " + _VCARD_UA + " 200 0 0 20", "azure_sas_signature"),
         ("{ts} POST /login.aspx - 443 {v} {+ipv4} " + _VCARD_UA + " 302 0 0 15", "email"),
         ("{ts} GET /hooks/slack token={v} 443 - {+ipv4} Slackbot+1.0 200 0 0 9", "slack_token"),
         ("{ts} GET /oauth/token client_id=portal&client_secret={v}&grant_type=client_credentials "
          "443 - {+ipv4} curl/8.5.0 200 0 0 64", "client_secret"),
         ("{ts} GET /api/ping api_key={v} 443 - {+ipv6} Go-http-client/2.0 200 0 0 3",
          "vendor_token sendgrid_api_key")),
        (),
        (("{ts} GET /health - 443 - {v} ELB-HealthChecker/2.0 200 0 0 1", "private_ipv4"),
         ("{ts} GET /api/v2/orders order={v} 443 - {+ipv4} okhttp/4.12.0 200 0 0 30", "uuid"),
         ("{ts} GET /download sha256={v} 443 - {+ipv4} Wget/1.21.4 200 0 0 512", "sha256")),
        clock="%Y-%m-%d %H:%M:%S"),
    "vault_cli": _K(
        False, ("$ export VAULT_ADDR=https://vault.pebblecrest.dev:8200\n$ vault login -method=oidc"
                "\nSuccess! You are now authenticated.",),
        ((_kv("payments/stripe", "api_key"), "stripe_key"),
         (_kv("mail/sendgrid", "key"), "sendgrid_api_key"),
         (_kv("ci/github", "token"), "github_token"), (_kv("ci/gitlab", "token"), "gitlab_token"),
         (_kv("ci/npm", "token"), "npm_token"), (_kv("ml/openai", "api_key"), "openai_api_key"),
         (_kv("ml/anthropic", "api_key"), "anthropic_api_key"),
         (_kv("ml/huggingface", "token"), "huggingface_token"),
         (_kv("integrations/vendor", "token"), "vendor_token"),
         (_kv("oidc/portal", "client_secret"), "client_secret"),
         (_kv("slack/alerts", "bot_token"), "slack_token"),
         (_vault("kv get -mount=secret smtp/relay", ("password", "{v}"),
                 ("username", "{+email}")), "password"),
         (_vault("read aws/creds/deploy", ("access_key", "{v}"),
                 ("secret_key", "{+aws_secret_access_key}"), ("security_token", "<nil>")),
          "aws_access_key_id"),
         (_vault("read aws/sts/deploy ttl=1h", ("access_key", "{+aws_access_key_id}"),
                 ("secret_key", "{+aws_secret_access_key}"), ("security_token", "{v}")),
          "aws_session_token"),
         ("$ vault kv get -field=secret_access_key secret/backup/s3\n{v}", "aws_secret_access_key"),
         (_vault("read database/creds/readonly", ("password", "{v}"),
                 ("username", "v-oidc-readonly-hzkq")), "password"),
         ("$ vault kv put secret/wifi/guest psk='{v}'", "password"),
         (_vault("write pki/issue/internal common_name=api.pebblecrest.dev",
                 ("private_key", "{v}"), ("private_key_type", "rsa")), "private_key"),
         ("$ vault kv get -field=url secret/db/reporting\npostgres://reporter:{v}@pg-reporting."
          "pebblecrest.dev:5432/reports", "url_password"),
         (_kv("edge/egress", "egress_v4"), "ipv4"), (_kv("edge/egress", "egress_v6"), "ipv6"),
         (_kv("people/oncall", "phone"), "phone"), (_kv("people/oncall", "email"), "email")),
        ("$ vault status | grep Sealed\nSealed          false",
         "$ vault kv list secret/ci\nKeys\n----\ngithub\ngitlab\nnpm"),
        ((_vault("read pki/cert/ca", ("certificate", "{v}")), "public_block"),
         (_vault("token lookup", ("accessor", "{v}"), ("display_name", "oidc-desmond")),
          "accessor"),
         (_vault("read auth/approle/role/ci/role-id", ("role_id", "{v}")), "uuid"),
         (_kv("payments/stripe-public", "publishable_key"), "pk_live")),
        generic=False),
    "curl_verbose": _K(
        False, ("$ curl --version | head -1\ncurl 8.5.0 (x86_64-pc-linux-gnu) libcurl/8.5.0 "
                "OpenSSL/3.0.13",),
        ((_curl("https://api.openai.com/v1/models -H \"Authorization: Bearer {v}\"",
                "api.openai.com", "GET /v1/models", "> Authorization: Bearer {v}"),
          "openai_api_key"),
         (_curl("https://api.anthropic.com/v1/models -H \"x-api-key: {v}\" -H \"anthropic-version:"
                " 2023-06-01\"", "api.anthropic.com", "GET /v1/models",
                "> x-api-key: {v}\n> anthropic-version: 2023-06-01"), "anthropic_api_key"),
         (_curl("-H \"Authorization: token {v}\" https://api.github.com/user", "api.github.com",
                "GET /user", "> Authorization: token {v}"), "github_token"),
         (_curl("--header \"PRIVATE-TOKEN: {v}\" https://gitlab.com/api/v4/user", "gitlab.com",
                "GET /api/v4/user", "> PRIVATE-TOKEN: {v}"), "gitlab_token"),
         (_curl("-H \"Authorization: Bearer {v}\" https://huggingface.co/api/whoami-v2",
                "huggingface.co", "GET /api/whoami-v2", "> Authorization: Bearer {v}"),
          "huggingface_token"),
         (_curl("-H \"Authorization: Bearer {v}\" https://registry.npmjs.org/-/whoami",
                "registry.npmjs.org", "GET /-/whoami", "> Authorization: Bearer {v}"), "npm_token"),
         (_curl("-H \"Authorization: Bearer {v}\" https://api.sendgrid.com/v3/scopes",
                "api.sendgrid.com", "GET /v3/scopes", "> Authorization: Bearer {v}"),
          "sendgrid_api_key"),
         (_curl("-H \"Authorization: Bearer {v}\" https://slack.com/api/auth.test", "slack.com",
                "GET /api/auth.test", "> Authorization: Bearer {v}"), "slack_token"),
         (_curl("https://api.stripe.com/v1/balance -H \"Authorization: Bearer {v}\"",
                "api.stripe.com", "GET /v1/balance", "> Authorization: Bearer {v}"), "stripe_key"),
         (_curl("https://api.telegram.org/bot{v}/getMe", "api.telegram.org", "GET /bot{v}/getMe",
                "", via="[{+ipv6}]"), "telegram_bot_token"),
         (_curl("\"https://maps.googleapis.com/maps/api/geocode/json?address=Ghent&key={v}\"",
                "maps.googleapis.com", "GET /maps/api/geocode/json?address=Ghent&key={v}", ""),
          "google_api_key"),
         (_curl("-H \"Authorization: Bearer {v}\" https://api.velomesh.io/v1/fleet",
                "api.velomesh.io", "GET /v1/fleet", "> Authorization: Bearer {v}"),
          "jwt vendor_token"),
         ("$ curl -v --aws-sigv4 \"aws:amz:eu-west-1:s3\" --user \"{+aws_access_key_id}:"
          "{+aws_secret_access_key}\" -H \"x-amz-security-token: {v}\" https://pebblecrest-backups"
          ".s3.eu-west-1.amazonaws.com/\n*   Trying {+ipv4}:443...\n* Connected to pebblecrest-"
          "backups.s3.eu-west-1.amazonaws.com ({again}) port 443\n> GET / HTTP/1.1\n"
          "> x-amz-security-token: {v}\n>\n< HTTP/1.1 200 OK", "aws_session_token"),
         ("$ curl -v -X PUT -T backup.tar.gz \"{SAS}\"\n*   Trying {+ipv4}:443...\n"
          "< HTTP/1.1 201 Created", "azure_sas_signature"),
         ("$ curl -s https://sso.pebblecrest.dev/realms/staff/protocol/openid-connect/token -d "
          "client_id=portal -d 'client_secret={v}' -d grant_type=client_credentials | jq -r "
          ".token_type\nBearer", "client_secret"),
         ("$ curl -s -o /dev/null -w '%{http_code}\\n' https://deploy:{v}@nexus.pebblecrest.dev/"
          "service/rest/v1/status\n200", "url_password"),
         ("$ curl -v -6 https://mirror.velomesh.io/\n*   Trying [{v}]:443...\n* Connected to "
          "mirror.velomesh.io ({v}) port 443\n< HTTP/2 200", "ipv6"),
         ("$ curl -v https://status.pebblecrest.dev/\n*   Trying {v}:443...\n* Connected to "
          "status.pebblecrest.dev ({v}) port 443\n< HTTP/2 200", "ipv4"),
         ("$ curl -s -X POST https://nas.pebblecrest.dev/api/auth -d '{\"user\":\"admin\","
          "\"password\":\"{v}\"}'\n{\"ok\":true}", "password")),
        ("$ echo $?\n0", "$ date -u\nTue Dec  8 09:14:03 UTC 2026"),
        (("$ curl -s -H \"Authorization: Bearer {v}\" https://api.pebblecrest.dev/health\nok",
          "=$API_TOKEN"),
         ("$ curl -v http://grafana.internal:3000/api/health\n*   Trying {v}:3000...\n"
          "* Connected to grafana.internal ({again}) port 3000\n< HTTP/1.1 200 OK",
          "private_ipv4"),
         ("$ curl -sI https://api.velomesh.io/v1/ping\nHTTP/2 200\nx-request-id: {v}", "uuid")),
        avoid="'\"\\"),
    "jupyter_notebook": _K(
        False, ("{\n \"cells\": [",),
        ((_nb("from openai import OpenAI\n", "client = OpenAI(api_key='{v}')"), "openai_api_key"),
         (_nb("import anthropic\n", "client = anthropic.Anthropic(api_key='{v}')"),
          "anthropic_api_key"),
         (_nb("from huggingface_hub import login\n", "login(token='{v}')"), "huggingface_token"),
         (_nb("import google.generativeai as genai\n", "genai.configure(api_key='{v}')"),
          "google_api_key"),
         (_nb("s3 = boto3.client('s3',\n", "    aws_access_key_id='{v}',\n",
              "    aws_secret_access_key='{+aws_secret_access_key}')"), "aws_access_key_id"),
         (_nb("session = boto3.Session(\n", "    aws_access_key_id='{+aws_access_key_id}',\n",
              "    aws_secret_access_key='{+aws_secret_access_key}',\n",
              "    aws_session_token='{v}')"), "aws_session_token"),
         (_nb("engine = create_engine('postgresql+psycopg://analyst:{v}@warehouse.velomesh.io:"
              "5432/fleet')"), "url_password"),
         (_nb("blob_url = '{SAS}'\n", "df = pd.read_parquet(blob_url)"), "azure_sas_signature"),
         (_nb("PEM = '''{j}'''\n", "key = serialization.load_pem_private_key(PEM.encode(), None)"),
          "private_key"),
         (_nb("smtp.login('{+email}', '{v}')"), "password"),
         (_nb("TO_ADDR = '{v}'"), "email"),
         (_nb("COLLECTOR = '{v}'  # the collector"), "ipv4 ipv6"),
         (_nb("twilio.messages.create(to='{v}', from_='{+phone}', body=msg)"), "phone"),
         (_nb("headers = {'Authorization': 'Bearer {v}'}"), "jwt vendor_token"),
         (_nb("slack = WebClient(token='{v}')"), "slack_token"),
         (_nb("bot = telebot.TeleBot('{v}')"), "telegram_bot_token"),
         (_nb("sg = SendGridAPIClient('{v}')"), "sendgrid_api_key"),
         (_nb("stripe.api_key = '{v}'"), "stripe_key"), (_nb("gh = Github('{v}')"), "github_token"),
         (_nb("oauth = OAuth2Session('fleet-notebook', client_secret='{v}')"), "client_secret")),
        (_nb("import pandas as pd\n", "import boto3"), _nb("## Weekly fleet report", markdown=True),
         _nb("df.describe()")),
        ((_nb("client = OpenAI(api_key=os.environ['{v}'])"), "=OPENAI_API_KEY"),
         (_nb("# the example key from the boto3 docs: '{v}'"), "aws_example_id"),
         (_nb("RUN_ID = '{v}'"), "uuid"),
         (_nb("Use the test card {v} in the sandbox.", markdown=True), "test_card")),
        tail=" ],\n \"metadata\": {\n  \"kernelspec\": {\"display_name\": \"Python 3\", "
             "\"language\": \"python\", \"name\": \"python3\"}\n },\n \"nbformat\": 4,\n "
             "\"nbformat_minor\": 5\n}", avoid="\"\\'", sep=",\n"),
    "bruno_env": _K(
        False, ("vars {\n  baseUrl: https://api.velomesh.io/v2",),
        (("  apiKey: {v}", "vendor_token google_api_key openai_api_key anthropic_api_key "
                           "sendgrid_api_key"),
         ("  stripeKey: {v}", "stripe_key"), ("  githubToken: {v}", "github_token"),
         ("  gitlabToken: {v}", "gitlab_token"), ("  hfToken: {v}", "huggingface_token"),
         ("  slackBotToken: {v}", "slack_token"), ("  tgBotToken: {v}", "telegram_bot_token"),
         ("  npmToken: {v}", "npm_token"), ("  accessToken: {v}", "jwt"),
         ("  awsAccessKeyId: {v}", "aws_access_key_id"),
         ("  awsSecretAccessKey: {v}", "aws_secret_access_key"),
         ("  awsSessionToken: {v}", "aws_session_token"),
         ("  clientSecret: {v}", "client_secret"), ("  adminPassword: {v}", "password"),
         ("  dbUrl: postgres://api:{v}@db.velomesh.io:5432/api", "url_password"),
         ("  blobUrl: {SAS}", "azure_sas_signature"), ("  testUserEmail: {v}", "email"),
         ("  testUserPhone: {v}", "phone"), ("  cardNumber: {v}", "payment_card"),
         ("  payoutIban: {v}", "iban"), ("  serverIp: {v}", "ipv4 ipv6")),
        ("  region: eu-west-1", "  tenant: kilbride", "  pageSize: 50"),
        (("  stripeKey: {v}", "={{process.env.STRIPE_KEY}}"), ("  testCard: {v}", "test_card_flat"),
         ("  publishableKey: {v}", "pk_live"), ("  requestId: {v}", "uuid")),
        tail="}\nvars:secret [\n  refreshToken\n]", plain=True),
    "yarnrc": _K(
        False, ("# .yarnrc.yml\nnodeLinker: node-modules\nenableTelemetry: false\n"
                "npmRegistryServer: \"https://registry.yarnpkg.com\"\nnpmScopes:",),
        (("  velomesh:\n    npmRegistryServer: \"https://npm.pkg.github.com\"\n"
          "    npmAuthToken: \"{v}\"\n    npmAlwaysAuth: true", "github_token"),
         ("  pebblecrest:\n    npmRegistryServer: \"https://gitlab.com/api/v4/projects/48213/"
          "packages/npm/\"\n    npmAuthToken: \"{v}\"", "gitlab_token"),
         ("  kilbride:\n    npmRegistryServer: \"https://registry.npmjs.org\"\n"
          "    npmAuthToken: \"{v}\"", "npm_token"),
         ("  solwind:\n    npmRegistryServer: \"https://npm.fury.io/solwind/\"\n"
          "    npmAuthIdent: \"ci-bot:{v}\"", "password"),
         ("  harrowgate:\n    npmRegistryServer: \"https://ci:{v}@nexus.harrowgate-wines.co.uk/"
          "repository/npm-group/\"", "url_password"),
         ("  inkwell:\n    npmRegistryServer: \"https://inkwell.jfrog.io/artifactory/api/npm/npm/\""
          "\n    npmAuthToken: \"{v}\"", "vendor_token"),
         ("  greyfriars:\n    npmRegistryServer: \"https://npm.greyfriars-players.org.uk\"\n"
          "    npmAuthIdent: \"{+email}:{v}\"", "password"),
         ("  # owner of the private scopes: {v}", "email")),
        ("  public:\n    npmRegistryServer: \"https://registry.npmjs.org\"",),
        (("  quayside:\n    npmRegistryServer: \"https://registry.npmjs.org\"\n"
          "    npmAuthToken: \"{v}\"", "=${NPM_TOKEN}"),
         ("  harbour:\n    npmRegistryServer: \"https://npm.pkg.github.com\"\n"
          "    npmAuthToken: \"{v}\"", "=${GITHUB_TOKEN:-}"))),
    "fetchmailrc": _K(
        False, ("# ~/.fetchmailrc - chmod 600!\nset daemon 300\nset logfile ~/.fetchmail.log\n"
                "set postmaster \"xaver\"",),
        (("poll imap.gmx.net protocol IMAP\n    user \"{v}\" there with password \"{+password}\" "
          "is xaver here\n    options ssl keep", "email"),
         ("poll outlook.office365.com protocol IMAP\n    user \"{+email}\" there with password "
          "\"{v}\" is xaver here\n    options ssl fetchall", "password"),
         ("poll {v} protocol POP3 port 995\n    user \"xaver\" there with password "
          "\"{+password}\" is xaver here\n    options ssl", "ipv4"),
         ("poll mail.zielinski-law.pl via {v} protocol IMAP\n    user \"archive\" there with "
          "password \"{+password}\" is xaver here", "ipv6"),
         ("poll imap.fastmail.com proto imap\n    user \"{+email}\" password \"{v}\" is xaver "
          "here\n    smtphost {+ipv4}", "password")),
        ("set no bouncemail", "defaults\n    fetchlimit 50"),
        (("poll {v} port 1143 protocol IMAP  # Proton Mail Bridge on this machine\n"
          "    user \"xaver\" is xaver here", "=127.0.0.1"),
         ("poll imap.example.org protocol IMAP\n    user \"{v}\" is xaver here  # from the wiki",
          "reserved_email")),
        avoid="\"\\"),
})
_LOOK.update({
    "ein9": lambda r: _ein(r).replace("-", ""),
    "dkim": lambda r: "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + _r(r, 340, _B64) + "IDAQAB",
})


# --- the composer -------------------------------------------------------------------------------

_PH = re.compile(r"\{(v|j|again|w|ts|n|who|\+[a-z0-9_]+)\}")
_QUOTES = "\"'`"

_Span = tuple[int, int, "str | None", str]


def _sas_url(rnd: random.Random) -> str:
    account = rnd.choice(("pebblecrestdumps", "velomeshexports", "harrowgatefiles",
                          "solwindmedia"))
    return (f"https://{account}.blob.core.windows.net/{rnd.choice(('exports', 'dumps', 'share'))}/"
            f"{rnd.choice(('fleet', 'orders', 'db'))}-{rnd.randint(100, 999)}."
            f"{rnd.choice(('csv', 'tar.gz', 'parquet'))}?sv=2025-05-05&st=2026-12-0"
            f"{rnd.randint(1, 8)}T08:00:00Z&se=2027-01-{rnd.randint(10, 28)}T18:00:00Z&sr=b"
            f"&sp={rnd.choice(('r', 'rl', 'rw', 'racwd'))}&sig={{v}}")


def _types(kind: _Kind) -> list[str]:
    return sorted({t for _, types in kind.slots for t in types.split()})


#: Type -> how many artifact kinds hold it.
_HOLDERS = Counter(t for kind in _KINDS.values() for t in _types(kind))


def _mutate(rnd: random.Random, shown: str) -> str:
    """``shown`` with one digit changed (not of a card's issuer number nor an IBAN's
    country), so that its check fails."""
    digits = [i for i, c in enumerate(shown) if c.isdigit()]
    spots = [i for i in digits if i >= 4] if shown[:2].isalpha() else digits[6:]
    at = rnd.choice(spots)
    new = shown[:at] + rnd.choice([c for c in _NUM if c != shown[at]]) + shown[at + 1:]
    assert not (iban_ok(new) if new[:2].isalpha() else luhn_ok(new)), new
    return new


class _Doc:
    """A document being written: its items (text and spans relative to it), put together
    (and sorted, for an artifact with an order) when it is finished."""

    def __init__(self, kind: _Kind, rnd: random.Random) -> None:
        self.kind = kind
        self.rnd = rnd
        self.items: list[tuple[str, list[_Span]]] = []
        self.used: set[str] = set()
        self.once: set[str] = set()
        self.clock = datetime(2026, 12, rnd.randint(1, 8), rnd.randint(6, 20), rnd.randint(0, 59),
                              rnd.randint(0, 59))
        self.count = rnd.randint(1, 9)

    # -- values --

    def _avoid(self, template: str, start: int, end: int) -> str:
        before = template[start - 1] if start else ""
        after = template[end] if end < len(template) else ""
        if before and before in _QUOTES and after == before:
            return self.kind.avoid + before
        return (self.kind.avoid + " \t" + (after if after != "\n" else "")
                + (_QUOTES if self.kind.prose else ""))

    def _value(self, type_: str, avoid: str) -> str:
        make = _MAKERS[type_]
        for _ in range(2000):
            if type_ == "phone":
                value = make(self.rnd, "*" in self.kind.avoid)
            elif type_ in _PLAIN_ABLE:
                value = make(self.rnd, self.kind.plain)
            else:
                value = make(self.rnd)
            if type_ == "private_key":
                return value
            bad = avoid if type_ in _SECRETS else self.kind.avoid
            if not any(c in bad for c in value):
                return value
        raise AssertionError(f"no {type_} without {avoid!r}")

    def _decoy_value(self, make: str, place: str | None, template: str) -> str:
        if make.startswith("="):
            return make[1:]
        at = re.search(r"\{(v|j|SAS)\}", template)
        assert at is not None, template
        before = template[at.start() - 1] if at.start() else ""
        quoted = bool(before) and before in _QUOTES and template[at.end():at.end() + 1] == before
        avoid = self.kind.avoid + (before if quoted else "")
        if place in _SECRETS and not quoted:
            avoid += " \t"
        for _ in range(80):
            value = _LOOK[make](self.rnd)
            if not any(c in avoid for c in value):
                return value
        return "********"

    def _tick(self) -> str:
        self.clock += timedelta(seconds=self.rnd.randint(7, 900))
        return self.clock.strftime(self.kind.clock).replace("{ms}",
                                                             f"{self.rnd.randint(0, 999):03d}")

    @staticmethod
    def _shown(value: str, template: str, start: int, as_json: bool) -> str:
        if as_json:
            return json.dumps(value, ensure_ascii=False)[1:-1]
        if "\n" not in value:
            return value
        line = template[template.rfind("\n", 0, start) + 1:start]
        indent = line[:len(line) - len(line.lstrip())]
        return value.replace("\n", "\n" + indent)

    def render(self, template: str, type_: str | None = None, value: str | None = None,
               decoy: str = "") -> tuple[str, list[_Span]]:
        """``template`` written out: ``{v}`` gets ``value`` (a decoy of kind ``decoy``) or a
        fresh value of ``type_``; each ``{+type}`` a fresh real value of that type."""
        rnd = self.rnd
        if "{SAS}" in template:
            template = template.replace("{SAS}", _sas_url(rnd))
        out: list[str] = []
        spans: list[_Span] = []
        size = pos = 0
        main: tuple[str, str | None, str] | None = None
        last: tuple[str, str | None, str] | None = None
        for m in _PH.finditer(template):
            out.append(template[pos:m.start()])
            size += m.start() - pos
            pos = m.end()
            key = m.group(1)
            if key == "ts":
                text = self._tick()
            elif key == "n":
                self.count += 1
                text = str(self.count)
            elif key == "who":
                text = rnd.choice(_PERSONS)
            elif key == "w":
                assert type_ is not None
                text = rnd.choice(_SAY[type_])
            else:
                if key in ("v", "j"):
                    if main is None:
                        assert type_ is not None or value is not None, template
                        if value is None:
                            assert type_ is not None
                            value = self._value(type_, self._avoid(template, m.start(), m.end()))
                        main = (value, None if decoy else type_, decoy)
                    current = main
                elif key == "again":
                    assert last is not None, template
                    current = last
                else:
                    extra = key[1:]
                    current = (self._value(extra, self._avoid(template, m.start(), m.end())),
                               extra, "")
                text = self._shown(current[0], template, m.start(), key == "j")
                spans.append((size, size + len(text), current[1], current[2]))
                last = current
            out.append(text)
            size += len(text)
        out.append(template[pos:])
        return "".join(out), spans

    # -- items --

    def _once_key(self, template: str) -> str | None:
        return next((p for p in self.kind.once if template.startswith(p)), None)

    def free(self, template: str) -> bool:
        key = self._once_key(template)
        return key is None or key not in self.once

    def put(self, template: str, type_: str | None = None, value: str | None = None,
            decoy: str = "") -> None:
        self.used.add(template)
        key = self._once_key(template)
        if key:
            self.once.add(key)
        self.items.append(self.render(template, type_, value, decoy))

    def slot(self, type_: str, bare: bool = False) -> str | None:
        """A template taking ``type_`` (without other values in it when ``bare``), one not
        used yet if there is one."""
        options = [t for t, types in self.kind.slots if type_ in types.split() and self.free(t)
                   and (not bare or "{+" not in t)]
        fresh = [t for t in options if t not in self.used]
        return self.rnd.choice(fresh or options) if options else None

    def real(self, type_: str) -> bool:
        template = self.slot(type_)
        if template is None:
            return False
        self.put(template, type_)
        return True

    def twin(self, type_: str) -> bool:
        template = self.slot(type_, bare=True)
        if template is None:
            return False
        made = _MAKERS[type_](self.rnd, self.kind.plain)
        self.put(template, type_, _mutate(self.rnd, made), "mutated")
        return True

    def lookalike(self, types: Sequence[str]) -> bool:
        kind, rnd = self.kind, self.rnd
        own = [(t, f) for t, f in kind.own if t + f not in self.used and self.free(t)]
        generic = [(place, family) for place in types for family in _GENERIC.get(place, ())
                   if kind.generic and self.slot(place, bare=True) is not None]
        if own and (not generic or rnd.random() < 0.6):
            template, make = rnd.choice(own)
            self.used.add(template + make)
            self.put(template, None, self._decoy_value(make, None, template), "lookalike")
            return True
        if not generic:
            return False
        place, make = rnd.choice(generic)
        template = self.slot(place, bare=True)
        assert template is not None
        self.put(template, place, self._decoy_value(make, place, template), "lookalike")
        return True

    def finish(self, head: str) -> tuple[str, list[PlantedP], list[str]]:
        kind = self.kind
        items = self.items
        if kind.order:
            def key(item: tuple[str, list[_Span]]) -> int:
                return next((i for i, p in enumerate(kind.order) if item[0].startswith(p)),
                            len(kind.order))
            items = sorted(items, key=key)
        text = head + "\n"
        planted: list[PlantedP] = []
        values: list[str] = []
        for i, (body, spans) in enumerate(items):
            if i:
                text += kind.sep
            for start, end, type_, decoy in spans:
                s, e = len(text) + start, len(text) + end
                values.append(body[start:end])
                planted.append((s, e, type_, False, decoy))
            text += body
        text += "\n"
        if kind.tail:
            tail, spans = self.render(kind.tail)
            assert not spans
            text += tail + "\n"
        planted = [(s, e, t, self._in_prose(text, s, e, t), d) for s, e, t, _, d in planted]
        return text, planted, values

    def _in_prose(self, text: str, start: int, end: int, type_: str | None) -> bool:
        """Whether a value is in prose: not a key or a block pasted in, nor on a line
        indented as code."""
        value = text[start:end]
        if not self.kind.prose or type_ == "private_key" or "\n" in value \
                or value.startswith(("-----BEGIN", "ssh-")):
            return False
        line = text[text.rfind("\n", 0, start) + 1:]
        return not line.startswith(("    ", "\t"))


def _pick(rnd: random.Random, types: Sequence[str], count: int) -> list[str]:
    """``count`` of ``types``, a type held by fewer artifacts more often, so that every type
    is planted about as often overall."""
    pool = list(types)
    chosen: list[str] = []
    while pool and len(chosen) < count:
        pick = rnd.choices(pool, weights=[_HOLDERS[t] ** -1.6 for t in pool])[0]
        chosen.append(pick)
        pool.remove(pick)
    return chosen


def _compose(seed: int, count: int) -> list[tuple[str, list[PlantedP], list[str]]]:
    rnd = random.Random(f"set P {seed}")
    names = sorted(_KINDS)
    out: list[tuple[str, list[PlantedP], list[str]]] = []
    for number in range(count):
        kind = _KINDS[names[(number + seed) % len(names)]]
        doc = _Doc(kind, rnd)
        head, spans = doc.render(rnd.choice(kind.heads))
        assert not spans
        types = _types(kind)
        chosen = _pick(rnd, types, rnd.randint(2, 4))
        plan: list[tuple[str, str]] = [(t, "") for t in chosen]
        twins = [t for t in ("payment_card", "iban") if t in types]
        if twins and rnd.random() < 0.85:
            plan.append((rnd.choice(twins), "mutated"))
        plan += [("", "lookalike")] * (2 if rnd.random() < 0.3 else 1)
        rnd.shuffle(plan)
        filler = [f for f in kind.filler]
        rnd.shuffle(filler)
        placed = 0
        for type_, decoy in plan:
            if decoy == "lookalike":
                doc.lookalike(types)
            elif decoy == "mutated":
                doc.twin(type_)
            else:
                placed += doc.real(type_)
            if filler and rnd.random() < 0.5:
                line = filler.pop()
                if doc.free(line):
                    doc.put(line)
        spare = [t for t in types if t not in chosen]
        rnd.shuffle(spare)
        while placed < 2 and spare:
            placed += doc.real(spare.pop())
        out.append(doc.finish(head))
    return out


def documents_p(seed: int, count: int) -> list[tuple[str, list[PlantedP]]]:
    """``count`` documents of set P, artifact kinds in turn, each with 2-4 planted values
    (a few more where an item holds two, or shows one twice), one or two look-alikes and, in
    most documents that hold a card number or IBAN, a one-digit-mutated twin of one."""
    return [(text, planted) for text, planted, _ in _compose(seed, count)]
