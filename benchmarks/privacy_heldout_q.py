"""The fifteenth fresh held-out set of the privacy benchmark (set Q): HELD OUT.

Written on 2026-12-08 after set P had been scored, for round 15 and blind to that round's
detector changes, without running the detectors on it; committed on its own first, not yet
wired into ``benchmarks/privacy.py`` and not yet scored. A miss found here is reported, not
fixed against this set.

Nothing here comes from sets A-P: no Faker, no ``athena_core`` import and no import of an
earlier set (Luhn, ISO 7064 mod 97 with the registry's BBAN shapes and several countries'
national check digits, and the SSN rules are written again below), its own value generators,
its own look-alikes and its own composer. Each document is one artifact of a kind no earlier
set uses (:data:`_KINDS`):

* prose: Wire team chats, Zalo family chats, Steam friends' chat logs, beekeepers'
  association renewal forms, dog-walker client intake forms, dive-centre registration forms,
  chess-tournament entry forms, lottery-syndicate agreements, au pair agreements, pension
  transfer letters, airline refund claims, kennel and cattery boarding forms, driving-school
  enrolment forms, quiz-night team registrations, band tour advance sheets, translation
  agency job briefs, blood-donor registration forms and campsite reservation forms;
* machine text: Ada packages, Prolog fact files, Common Lisp configuration, Icinga 2 object
  configuration, Monit ``monitrc`` files, keepalived configuration, netplan YAML,
  ``wpa_supplicant.conf`` files, ``ddclient.conf`` files, Composer ``auth.json`` files,
  ``NuGet.Config`` files, MinIO client ``config.json`` files, Android ``logcat`` output,
  GEDCOM 5.5 family files, UN/EDIFACT PAYMUL payment messages, Peppol UBL invoices, Azure
  Pipelines YAML and password-store (``pass``) sessions.

``in_prose`` is true for the first group: chats, letters, forms and sheets written or filled
in by people. A key pasted into them as a block, or a line indented as code, is not prose.

Values: vendors' documented token formats (prefix, length and alphabet as each vendor
documents them), with vendors of this set's own next to the listed types; passwords as people
and password managers make them, with symbols, quotes, spaces and letters beyond ASCII where
the syntax allows them, and percent-encoded inside URLs; cards of the listed issuer ranges
only (Visa 13/16/19, Mastercard 51-55 and 2221-2720, Amex, Discover, JCB, Diners, Maestro)
grouped as issuers print them, none a processor's published test number; IBANs of many
countries with the registry's BBAN shapes and lengths (and the national check digits of
several), none a published example; SSNs written several ways; phones of many countries in
national and international writings, none in a range set aside for fiction; e-mail
addresses; public IPv4 and IPv6 addresses only. People name the values in many ways (labels,
remarks, several phrasings and languages).

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

__all__ = ["KINDS_Q", "PlantedQ", "documents_q"]

#: (start, end, type or None for a decoy, in prose, decoy kind: "", "lookalike", "mutated").
PlantedQ = tuple[int, int, "str | None", bool, str]

_LOWER = string.ascii_lowercase
_UPPER = string.ascii_uppercase
_DIGITS = string.digits
_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"
_URLSAFE = _ALNUM + "-_"
_HEX = "0123456789abcdef"
_HEXU = "0123456789ABCDEF"
_BASE32 = _UPPER + "234567"
_BECH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _pick_chars(rnd: random.Random, size: int, alphabet: str = _ALNUM) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(size))


def _dig(rnd: random.Random, size: int) -> str:
    return _pick_chars(rnd, size, _DIGITS)


# --- check digits --------------------------------------------------------------------------------


def luhn_ok(number: str) -> bool:
    """Whether the digits of ``number`` pass the Luhn check (anything else skipped)."""
    digits = [int(c) for c in number if c.isdigit()]
    if not digits:
        return False
    total = 0
    for place, digit in enumerate(reversed(digits)):
        if place % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _luhn_complete(body: str) -> str:
    for c in _DIGITS:
        if luhn_ok(body + c):
            return body + c
    raise AssertionError(body)


def _mod97(text: str) -> int:
    """ISO 7064 MOD 97-10 remainder of ``text``, letters counting 10-35."""
    remainder = 0
    for ch in text:
        for d in str(int(ch, 36)):
            remainder = (remainder * 10 + int(d)) % 97
    return remainder


def iban_ok(value: str) -> bool:
    """Whether ``value`` (blanks allowed) has its country's IBAN length and passes mod 97."""
    flat = value.replace(" ", "")
    return (len(flat) == _IBAN_LENGTH.get(flat[:2], 0) and flat[2:4].isdigit()
            and flat.isalnum() and _mod97(flat[4:] + flat[:4]) == 1)


def ssn_ok(value: str) -> bool:
    """Whether ``value`` could be an issued SSN: area 001-899 but not 666, group 01-99,
    serial 0001-9999, and none of the numbers famous from advertising and specimens."""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) != 9:
        return False
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return (1 <= area <= 899 and area != 666 and group != 0 and serial != 0
            and digits not in {"078051120", "219099999", "123456789", "111111111"})


# --- payment cards -------------------------------------------------------------------------------


def _visa(r: random.Random) -> tuple[str, int]:
    return "4" + _dig(r, 5), r.choice((16, 16, 16, 16, 16, 13, 19))


def _mastercard(r: random.Random) -> tuple[str, int]:
    if r.random() < 0.6:
        return str(r.randint(51, 55)) + _dig(r, 4), 16
    return str(r.randint(2221, 2720)) + _dig(r, 2), 16


def _amex(r: random.Random) -> tuple[str, int]:
    return r.choice(("34", "37")) + _dig(r, 4), 15


def _discover(r: random.Random) -> tuple[str, int]:
    head = r.choice(("6011" + _dig(r, 2), "65" + _dig(r, 4), str(r.randint(644, 649)) + _dig(r, 3)))
    return head, r.choice((16, 16, 19))


def _jcb(r: random.Random) -> tuple[str, int]:
    return str(r.randint(3528, 3589)) + _dig(r, 2), 16


def _diners(r: random.Random) -> tuple[str, int]:
    return r.choice(("36", "38", "39", str(r.randint(300, 305)))) + _dig(r, 4), 14


def _maestro(r: random.Random) -> tuple[str, int]:
    return (r.choice(("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763"))
            + _dig(r, 2)), r.choice((16, 16, 18, 19))


_ISSUERS: tuple[Callable[[random.Random], tuple[str, int]], ...] = (
    _visa, _visa, _visa, _mastercard, _mastercard, _mastercard, _amex, _discover, _jcb,
    _diners, _maestro)

#: Numbers payment processors publish for testing: never planted as real cards.
_TEST_CARDS = (
    "4242424242424242", "4111111111111111", "4000056655665556", "4012888888881881",
    "4222222222222", "5555555555554444", "5105105105105100", "5200828282828210",
    "2223003122003222", "378282246310005", "371449635398431", "378734493671000",
    "6011111111111117", "6011000990139424", "3566002020360505", "3530111333300000",
    "30569309025904", "38520000023237", "36227206271667", "6200000000000005",
    "4000002500003155", "4000000000003220", "5454545454545454", "6759649826438453",
)


def _print_groups(digits: str) -> str:
    sizes = {13: (4, 3, 3, 3), 14: (4, 6, 4), 15: (4, 6, 5), 18: (4, 4, 4, 4, 2),
             19: (4, 4, 4, 4, 3)}.get(len(digits), (4, 4, 4, 4))
    parts, at = [], 0
    for size in sizes:
        parts.append(digits[at:at + size])
        at += size
    return " ".join(parts)


def card_digits(rnd: random.Random) -> str:
    while True:
        head, length = rnd.choice(_ISSUERS)(rnd)
        number = _luhn_complete(head + _dig(rnd, length - 1 - len(head)))
        if number not in _TEST_CARDS:
            return number


def card_q(rnd: random.Random, plain: bool = False) -> str:
    digits = card_digits(rnd)
    if plain:
        return digits
    style = rnd.random()
    if style < 0.6:
        return _print_groups(digits)
    if style < 0.8:
        return _print_groups(digits).replace(" ", "-")
    return digits


# --- IBANs ---------------------------------------------------------------------------------------

#: Country -> BBAN structure as the SWIFT IBAN registry writes it (n digits, a capitals,
#: c capitals or digits).
_BBAN = {
    "AD": "4n4n12c", "AE": "3n16n", "AL": "8n16c", "AT": "5n11n", "AZ": "4a20c",
    "BA": "3n3n8n2n", "BE": "3n7n2n", "BG": "4a4n2n8c", "BH": "4a14c", "BR": "8n5n10n1a1c",
    "BY": "4c4n16c", "CH": "5n12c", "CR": "4n14n", "CY": "3n5n16c", "CZ": "4n6n10n",
    "DE": "8n10n", "DK": "4n9n1n", "DO": "4c20n", "EE": "2n2n11n1n", "EG": "4n4n17n",
    "ES": "4n4n1n1n10n", "FI": "3n11n", "FO": "4n9n1n", "FR": "5n5n11c2n", "GB": "4a6n8n",
    "GE": "2a16n", "GI": "4a15c", "GL": "4n9n1n", "GR": "3n4n16c", "GT": "4c20c",
    "HR": "7n10n", "HU": "3n4n1n15n1n", "IE": "4a6n8n", "IL": "3n3n13n", "IQ": "4a3n12n",
    "IS": "4n2n6n10n", "IT": "1a5n5n12c", "JO": "4a4n18c", "KW": "4a22c", "KZ": "3n13c",
    "LB": "4n20c", "LC": "4a24c", "LI": "5n12c", "LT": "5n11n", "LU": "3n13c", "LV": "4a13c",
    "MC": "5n5n11c2n", "MD": "2c18c", "ME": "3n13n2n", "MK": "3n10c2n", "MR": "5n5n11n2n",
    "MT": "4a5n18c", "MU": "4a2n2n12n3n3a", "NL": "4a10n", "NO": "4n6n1n", "PK": "4a16c",
    "PL": "8n16n", "PS": "4a21c", "PT": "4n4n11n2n", "QA": "4a21c", "RO": "4a16c",
    "RS": "3n13n2n", "SA": "2n18c", "SC": "4a2n2n16n3a", "SE": "3n16n1n", "SI": "5n8n2n",
    "SK": "4n6n10n", "SM": "1a5n5n12c", "ST": "4n4n11n2n", "SV": "4a20n", "TL": "3n14n2n",
    "TN": "2n3n13n2n", "TR": "5n1n16c", "UA": "6n19c", "VA": "3n15n", "VG": "4a16n",
    "XK": "4n10n2n",
}
#: IBAN length per country, as the registry lists it.
_IBAN_LENGTH = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}
assert set(_BBAN) == set(_IBAN_LENGTH)
assert all(4 + sum(map(int, re.findall(r"\d+", shape))) == _IBAN_LENGTH[cc]
           for cc, shape in _BBAN.items())
#: Countries people in these documents bank in most (drawn more often).
_COMMON_IBAN = ("DE", "FR", "NL", "BE", "ES", "IT", "AT", "IE", "GB", "CH", "PT", "NO", "FI",
                "SE", "DK", "PL", "CZ", "LU")
#: Example IBANs the registry, banks and payment documentation publish: never planted.
_EXAMPLE_IBANS = (
    "DE89370400440532013000", "GB82WEST12345698765432", "GB29NWBK60161331926819",
    "GB33BUKB20201555555555", "FR1420041010050500013M02606", "FR7630006000011234567890189",
    "NL91ABNA0417164300", "BE68539007547034", "BE71096123456769", "CH9300762011623852957",
    "CH5604835012345678009", "AT611904300234573201", "ES9121000418450200051332",
    "IT60X0542811101000000123456", "NO9386011117947", "SE4550000000058398257466",
    "DK5000400440116243", "FI2112345600000785", "PL61109010140000071219812874",
    "IE29AIBK93115212345678", "PT50000201231234567890154", "LU280019400644750000",
    "SI56263300012039086", "CZ6508000000192000145399", "SK3112000000198742637541",
    "HR1210010051863000160", "LT121000011101001000", "EE382200221020145685",
    "GR1601101250000000012300695", "ME25505000012345678951", "RS35260005601001611379",
)

_CZ_PREFIX_W = (10, 5, 8, 4, 2, 1)
_CZ_ACCOUNT_W = (6, 3, 7, 9, 10, 5, 8, 4, 2, 1)
_ES_W = (1, 2, 4, 8, 5, 10, 9, 7, 3, 6)


def _es_digit(ten: str) -> str:
    d = 11 - sum(int(c) * w for c, w in zip(ten, _ES_W, strict=True)) % 11
    return str({11: 0, 10: 1}.get(d, d))


def _national(rnd: random.Random, country: str, bban: str) -> str | None:
    """``bban`` with the country's own check digits put right (None to draw again)."""
    if country == "BE":
        return bban[:10] + f"{int(bban[:10]) % 97 or 97:02d}"
    if country == "NL":
        ok = sum(int(d) * (10 - i) for i, d in enumerate(bban[4:])) % 11 == 0
        return bban if ok else None
    if country == "NO":
        weights = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
        check = 11 - sum(int(d) * w for d, w in zip(bban[:10], weights, strict=True)) % 11
        if check == 10:
            return None
        return bban[:10] + str(check % 11)
    if country in ("FR", "MC"):
        account = "".join(rnd.choice(_DIGITS) for _ in range(11))
        head = bban[:10] + account
        key = 97 - (89 * int(head[:5]) + 15 * int(head[5:10]) + 3 * int(head[10:])) % 97
        return f"{head}{key:02d}"
    if country == "ES":
        bank_branch, account = bban[:8], bban[10:]
        return bank_branch + _es_digit("00" + bank_branch) + _es_digit(account) + account
    if country in ("PT", "ST"):
        return bban[:19] + f"{98 - int(bban[:19]) * 100 % 97:02d}"
    if country == "SI":
        return bban[:13] + f"{98 - int(bban[:13]) * 100 % 97:02d}"
    if country in ("ME", "RS", "BA"):
        return bban[:-2] + f"{98 - int(bban[:-2]) * 100 % 97:02d}"
    if country == "FI":
        return _luhn_complete(bban[:13])
    if country in ("CZ", "SK"):
        prefix = "000000" if rnd.random() < 0.7 else "0000" + _dig(rnd, 2)
        if sum(int(d) * w for d, w in zip(prefix, _CZ_PREFIX_W, strict=True)) % 11:
            return None
        account = bban[10:]
        if sum(int(d) * w for d, w in zip(account, _CZ_ACCOUNT_W, strict=True)) % 11:
            return None
        return bban[:4] + prefix + account
    return bban


def _draw_bban(rnd: random.Random, country: str) -> str:
    while True:
        parts = []
        for size, sort in re.findall(r"(\d+)([nac])", _BBAN[country]):
            count = int(size)
            if sort == "n":
                parts.append(_dig(rnd, count))
            elif sort == "a":
                parts.append(_pick_chars(rnd, count, _UPPER))
            else:
                parts.append("".join(rnd.choice(_UPPER) if rnd.random() < 0.1
                                     else rnd.choice(_DIGITS) for _ in range(count)))
        bban = _national(rnd, country, "".join(parts))
        if bban is not None:
            return bban


def iban_compact(rnd: random.Random) -> str:
    while True:
        country = rnd.choice(_COMMON_IBAN) if rnd.random() < 0.6 else rnd.choice(sorted(_BBAN))
        bban = _draw_bban(rnd, country)
        iban = f"{country}{98 - _mod97(bban + country + '00'):02d}{bban}"
        if iban not in _EXAMPLE_IBANS:
            assert iban_ok(iban), iban
            return iban


def _in_fours(flat: str) -> str:
    return " ".join(flat[i:i + 4] for i in range(0, len(flat), 4))


def iban_q(rnd: random.Random, plain: bool = False) -> str:
    flat = iban_compact(rnd)
    return flat if plain or rnd.random() < 0.3 else _in_fours(flat)


# --- SSNs ----------------------------------------------------------------------------------------


def ssn_q(rnd: random.Random, plain: bool = False) -> str:
    while True:
        digits = f"{rnd.randint(1, 899):03d}{rnd.randint(1, 99):02d}{rnd.randint(1, 9999):04d}"
        if ssn_ok(digits):
            break
    if plain:
        return digits
    a, g, s = digits[:3], digits[3:5], digits[5:]
    return rnd.choice((f"{a}-{g}-{s}", f"{a}-{g}-{s}", f"{a}-{g}-{s}", f"{a}-{g}-{s}",
                       f"{a} {g} {s}", digits, f"{a}.{g}.{s}", f"{a}/{g}/{s}"))


# --- phones --------------------------------------------------------------------------------------

#: US and Canadian area codes in service.
_US_AREAS = ("201", "216", "248", "253", "305", "312", "317", "347", "385", "412", "415",
             "425", "480", "502", "512", "541", "570", "609", "617", "678", "708", "720",
             "757", "773", "801", "832", "845", "907", "941", "971")
_CA_AREAS = ("204", "226", "289", "403", "416", "514", "604", "613", "647", "709", "778",
             "902")


def _nanp(rnd: random.Random, areas: Sequence[str]) -> tuple[str, str, str]:
    """Area, exchange, line: never the 555 exchange (fiction and directory), never N11."""
    while True:
        exchange = f"{rnd.randint(2, 9)}{_dig(rnd, 2)}"
        if exchange != "555" and exchange[1:] != "11" and exchange not in ("950", "958", "959",
                                                                            "976"):
            return rnd.choice(areas), exchange, _dig(rnd, 4)


def _us(rnd: random.Random, plain: bool) -> str:
    a, e, x = _nanp(rnd, _US_AREAS)
    if plain:
        return f"+1{a}{e}{x}"
    return rnd.choice((f"({a}) {e}-{x}", f"({a}) {e}-{x}", f"{a}-{e}-{x}", f"{a}.{e}.{x}",
                       f"+1 {a} {e} {x}", f"+1 ({a}) {e}-{x}", f"1-{a}-{e}-{x}",
                       f"{a} {e} {x}"))


def _ca(rnd: random.Random, plain: bool) -> str:
    a, e, x = _nanp(rnd, _CA_AREAS)
    return f"+1{a}{e}{x}" if plain else rnd.choice((f"({a}) {e}-{x}", f"+1 {a} {e}-{x}"))


def _gb(rnd: random.Random, plain: bool) -> str:
    # mobiles 071-075 and 077-079 (not 07700 900: drama); Manchester 0161 and Leeds 0113 with
    # a first digit that keeps clear of the 496 0 drama blocks
    mobile = "7" + rnd.choice("123589") + _dig(rnd, 2)
    if plain:
        return f"+44{mobile}{_dig(rnd, 6)}"
    return rnd.choice((f"0{mobile} {_dig(rnd, 6)}", f"0{mobile} {_dig(rnd, 3)} {_dig(rnd, 3)}",
                       f"+44 {mobile} {_dig(rnd, 6)}", f"+44 (0) {mobile} {_dig(rnd, 6)}",
                       f"0161 {rnd.choice('2378')}{_dig(rnd, 2)} {_dig(rnd, 4)}",
                       f"0113 {rnd.choice('2357')}{_dig(rnd, 2)} {_dig(rnd, 4)}"))


def _de(rnd: random.Random, plain: bool) -> str:
    prefix = rnd.choice(("151", "157", "160", "170", "175", "176", "179"))
    if plain:
        return f"+49{prefix}{_dig(rnd, 8)}"
    return rnd.choice((f"0{prefix} {_dig(rnd, 8)}", f"+49 {prefix} {_dig(rnd, 4)} {_dig(rnd, 4)}",
                       f"0{prefix}/{_dig(rnd, 8)}",
                       f"040 {rnd.choice('234')}{_dig(rnd, 3)} {_dig(rnd, 3)}",
                       f"+49 221 {rnd.choice('56')}{_dig(rnd, 5)}"))


def _fr(rnd: random.Random, plain: bool) -> str:
    # mobiles 06 xx (never 06 39 98) and 07 5x-7x; landlines 01 4x and 04 7x (not 01 99 00)
    second = rnd.choice([f"{n:02d}" for n in range(10, 99) if n != 39])
    tail = f"{_dig(rnd, 2)} {_dig(rnd, 2)} {_dig(rnd, 2)}"
    if plain:
        return f"+336{second}{tail.replace(' ', '')}"
    return rnd.choice((f"06 {second} {tail}", f"+33 6 {second} {tail}",
                       f"07 {rnd.randint(50, 79)} {tail}", f"01 4{_dig(rnd, 1)} {tail}",
                       f"+33 4 7{_dig(rnd, 1)} {tail}", f"06{second}{tail.replace(' ', '')}"))


def _au(rnd: random.Random, plain: bool) -> str:
    # mobiles 040x-048x (not 0491 57x), Sydney 02 8/9xxx and Melbourne 03 9xxx (not 5550/7010)
    mobile = f"4{rnd.choice('0123578')}{_dig(rnd, 1)}"
    if plain:
        return f"+61{mobile}{_dig(rnd, 6)}"
    return rnd.choice((f"0{mobile} {_dig(rnd, 3)} {_dig(rnd, 3)}",
                       f"+61 {mobile} {_dig(rnd, 3)} {_dig(rnd, 3)}",
                       f"(02) {rnd.choice('89')}{_dig(rnd, 3)} {_dig(rnd, 4)}",
                       f"(03) 9{rnd.choice('3468')}{_dig(rnd, 2)} {_dig(rnd, 4)}"))


def _ie(rnd: random.Random, plain: bool) -> str:
    # mobiles 083/085-087/089; never the 020 910 drama range
    mobile = rnd.choice(("83", "85", "86", "87", "89"))
    if plain:
        return f"+353{mobile}{_dig(rnd, 7)}"
    return rnd.choice((f"0{mobile} {_dig(rnd, 3)} {_dig(rnd, 4)}",
                       f"+353 {mobile} {_dig(rnd, 3)} {_dig(rnd, 4)}",
                       f"(01) {rnd.choice('4568')}{_dig(rnd, 2)} {_dig(rnd, 4)}"))


def _se(rnd: random.Random, plain: bool) -> str:
    # mobiles 070/072/073/076 but never 070-17406xx (fiction)
    while True:
        prefix, rest = rnd.choice(("70", "72", "73", "76")), _dig(rnd, 7)
        if not (prefix == "70" and rest.startswith("17406")):
            break
    if plain:
        return f"+46{prefix}{rest}"
    return rnd.choice((f"0{prefix}-{rest[:3]} {rest[3:5]} {rest[5:]}",
                       f"+46 {prefix} {rest[:3]} {rest[3:5]} {rest[5:]}"))


def _vn(rnd: random.Random, plain: bool) -> str:
    prefix = rnd.choice(("90", "91", "93", "94", "96", "97", "98", "32", "33", "35", "38", "70",
                         "77", "79", "81", "83", "85", "86"))
    rest = _dig(rnd, 7)
    if plain:
        return f"+84{prefix}{rest}"
    return rnd.choice((f"0{prefix} {rest[:3]} {rest[3:]}", f"+84 {prefix} {rest[:3]} {rest[3:]}",
                       f"0{prefix}{rest}", f"(+84) {prefix}-{rest[:3]}-{rest[3:]}"))


def _simple(cc: str, heads: Sequence[str], shape: str, national: str = "0",
            glue: bool = False) -> Callable[[random.Random, bool], str]:
    """A country's mobiles: ``shape`` groups the digits after ``head`` ("3 4" -> xxx xxxx),
    the head written apart or, with ``glue``, joined to the first group."""
    sizes = [int(s) for s in shape.split()]

    def make(rnd: random.Random, plain: bool) -> str:
        head = rnd.choice(heads)
        groups = [_dig(rnd, s) for s in sizes]
        if plain:
            return f"+{cc}{head}{''.join(groups)}".replace(" ", "")
        body = f"{head}{' ' if not glue else ''}{' '.join(groups)}"
        if national and rnd.random() < 0.4:
            return f"{national}{body}"
        return f"+{cc} {body}"
    return make


_PHONES: tuple[Callable[[random.Random, bool], str], ...] = (
    _us, _us, _us, _us, _us, _ca, _gb, _gb, _gb, _de, _de, _fr, _fr, _au, _ie, _se, _vn,
    _simple("31", ("6",), "4 4"),                                     # Netherlands
    _simple("32", ("470", "475", "486", "496"), "2 2 2"),            # Belgium
    _simple("34", ("6", "7"), "2 3 3", "", glue=True),                          # Spain
    _simple("39", ("320", "331", "347", "349", "366"), "3 4", ""),   # Italy
    _simple("351", ("91", "93", "96"), "3 4", ""),                   # Portugal
    _simple("41", ("76", "78", "79"), "3 2 2"),                      # Switzerland
    _simple("43", ("664", "676", "699"), "3 4"),                     # Austria
    _simple("45", ("2", "3", "4"), "1 2 2 2", "", glue=True),                   # Denmark
    _simple("47", ("4", "9"), "2 2 3", "", glue=True),                          # Norway
    _simple("358", ("40", "44", "50"), "3 4"),                       # Finland
    _simple("48", ("501", "602", "694", "780"), "3 3", ""),          # Poland
    _simple("420", ("602", "731", "777"), "3 3", ""),                # Czechia
    _simple("30", ("693", "694", "697", "698"), "3 4", ""),          # Greece
    _simple("90", ("532", "533", "542", "555"), "3 2 2"),            # Turkey
    _simple("81", ("80", "90"), "4 4"),                              # Japan
    _simple("82", ("10",), "4 4"),                                   # South Korea
    _simple("65", ("8", "9"), "3 4", "", glue=True),                            # Singapore
    _simple("91", ("98", "97", "88", "70"), "3 5", ""),              # India
    _simple("27", ("72", "82", "83"), "3 4"),                        # South Africa
    _simple("254", ("712", "722", "733"), "3 3"),                    # Kenya
    _simple("52", ("55", "33", "81"), "4 4", ""),                    # Mexico
    _simple("55", ("11 9", "21 9"), "4 4", "", glue=True),                      # Brazil
    _simple("971", ("50", "52", "55"), "3 4"),                       # UAE
)


def phone_q(rnd: random.Random, plain: bool = False) -> str:
    return rnd.choice(_PHONES)(rnd, plain)


# --- e-mail and IP addresses ---------------------------------------------------------------------

_FIRST = ["aurelio", "bronagh", "cassius", "delphine", "emrys", "fionnuala", "gwendolyn",
          "hamish", "isolde", "jovan", "katalin", "lorcan", "mireille", "nkechi", "oisin",
          "philippa", "quentin", "rosalind", "sigrun", "thaddeus", "ulrike", "vesna", "wilhelm",
          "ximena", "yusuf", "zofia", "ansel", "beatrix", "cormac", "dagny", "thao", "minh"]
_LAST = ["achterberg", "blackwood", "castellanos", "dimitriou", "eriksen", "fitzgerald",
         "gallagher", "hollingsworth", "ivanova", "jankowski", "kowalczyk", "lachance",
         "montgomery", "nguyen", "okonkwo", "pemberton", "quinlan", "rasmussen", "stavros",
         "thornbury", "urquhart", "villanueva", "whitlock", "yamamoto", "zabrowski", "tran"]
_MAILHOSTS = ["gmail.com", "gmail.com", "gmail.com", "gmail.com", "outlook.com", "hotmail.co.uk",
              "yahoo.com", "icloud.com", "me.com", "proton.me", "aol.com", "web.de", "t-online.de",
              "orange.fr", "free.fr", "eircom.net", "xs4all.nl", "skynet.be", "bigpond.com",
              "shaw.ca", "comcast.net", "fastmail.com", "posteo.de", "mail.com", "virginmedia.com",
              "telia.com", "hotmail.fr", "yandex.com", "naver.com", "fpt.vn",
              "thornbury-apiaries.co.uk", "bluefin-divers.ie", "knightsgambit.org",
              "lingoria-translations.com", "harbourlight-kennels.com", "pinecrest-camping.de",
              "riverside-motoring.co.uk", "crescentwave.io", "ostara-labs.dev",
              "fernhollow.audio"]


def email_q(rnd: random.Random) -> str:
    first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
    local = rnd.choice((
        f"{first}.{last}", f"{first}.{last}", f"{first}{last}", f"{first[0]}.{last}",
        f"{first}_{last}", f"{last}.{first}", f"{first}{rnd.randint(1, 99)}",
        f"{first}.{last}{rnd.randint(60, 99)}", f"{first[0]}{last}{rnd.randint(1, 9)}",
        f"{first}+{rnd.choice(('bees', 'dive', 'chess', 'gigs', 'jobs', 'camp'))}",
        f"{first.capitalize()}.{last.capitalize()}", f"{first}-{last}"))
    return f"{local}@{rnd.choice(_MAILHOSTS)}"


#: First octets of public unicast space only (nothing in 0/8, 10/8, 100.64/10, 127/8,
#: 169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.168/16, 198.18/15, 198.51.100/24,
#: 203.0.113/24, 224/4 or 240/4: those octets are not drawn at all).
_V4_FIRST = (2, 3, 8, 13, 18, 20, 24, 34, 35, 45, 47, 52, 63, 64, 69, 70, 72, 76, 80, 82, 85,
             88, 89, 94, 95, 98, 101, 103, 108, 110, 115, 121, 128, 136, 139, 144, 146, 147,
             154, 157, 159, 163, 164, 176, 180, 183, 186, 190, 195, 196, 200, 201, 209, 213, 216)


def ipv4_q(rnd: random.Random) -> str:
    return (f"{rnd.choice(_V4_FIRST)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}."
            f"{rnd.randint(1, 254)}")


#: Global unicast allocations (never 2001:db8::/32, 3fff::/20, 2001::/32, 2002::/16, fc00::/7).
_V6_PREFIXES = ("2a00:1450:4001", "2a01:111:f400", "2607:f8b0:4004", "2606:4700:3033",
                "2a03:2880:f12f", "2001:41d0:303", "2a01:7e00", "2600:3c03", "2a02:c207",
                "2400:cb00:2049", "2a10:3781", "2a0d:5600:24", "2001:470:1f0b", "2604:1380:4641",
                "2a01:4b00", "2401:db00:3020", "2800:3f0:4001")


def ipv6_q(rnd: random.Random) -> str:
    head = rnd.choice(_V6_PREFIXES).split(":")
    groups = head + [format(rnd.randint(1, 0xFFFF), "x") for _ in range(8 - len(head))]
    style = rnd.randrange(6)
    if style == 0:
        text = ":".join(groups[:4]) + "::" + groups[-1]
    elif style == 1:
        text = ":".join(groups[:len(head)]) + "::" + ":".join(groups[-2:])
    elif style == 2:
        text = ":".join(g.zfill(4) for g in groups)
    else:
        text = ":".join(groups)
    return text.upper() if rnd.random() < 0.12 else text


# --- passwords and secrets -----------------------------------------------------------------------

_WORDS = ["anchor", "beeswax", "cobalt", "driftwood", "ember", "fjord", "gannet", "heather",
          "inkwell", "jackdaw", "kelpie", "lichen", "moorland", "nettle", "otter", "puffin",
          "quartz", "rook", "shingle", "tundra", "upland", "vellum", "wren", "yarrow", "zircon",
          "bishop", "knight", "regulator", "snorkel", "tambourine"]
_SYMBOLS = "!@#$%^&*()-_=+[]{};:,.<>/?~|"


def password_q(rnd: random.Random) -> str:
    """A password as password managers and people really make them."""
    style = rnd.randrange(13)
    if style == 0:  # a manager's long random string with symbols
        while True:
            pw = _pick_chars(rnd, rnd.choice((14, 18, 20, 24, 32)), _ALNUM + _SYMBOLS)
            if any(c in _SYMBOLS for c in pw) and any(c.isdigit() for c in pw):
                return pw
    if style == 1:  # letters and digits
        while True:
            pw = _pick_chars(rnd, rnd.choice((10, 12, 16)))
            if any(c.isdigit() for c in pw) and any(c.isupper() for c in pw):
                return pw
    if style == 2:  # a passphrase from a word list
        words = rnd.sample(_WORDS, rnd.choice((3, 4)))
        words[rnd.randrange(len(words))] = words[0].capitalize()
        return rnd.choice(("-", "_", ".", " ", "+")).join(words) + str(rnd.randint(1, 99))
    if style == 3:  # a club or a team and a year
        return rnd.choice(("Arsenal", "Galway", "Leinster", "Bayern", "Celtic", "Ajax",
                           "Canucks", "Wexford")) + str(rnd.randint(1987, 2026)) \
            + rnd.choice(("!", "!!", "#", "$", "?", ""))
    if style == 4:  # a sentence, spaces and all
        return (f"{rnd.choice(('the bees', 'Rosie', 'my old Saab', 'Uncle Jovan'))} "
                f"{rnd.choice(('hum', 'loves', 'ate', 'drove to'))} "
                f"{rnd.randint(2, 64)} {rnd.choice(_WORDS)}s{rnd.choice(('!', '.', '?', ''))}")
    if style == 5:  # quotes and backslashes inside
        return (_pick_chars(rnd, 5) + rnd.choice(("'", '"', "\\", "`")) + _pick_chars(rnd, 5)
                + rnd.choice(_SYMBOLS) + _dig(rnd, 2))
    if style == 6:  # a keyboard pattern and a date
        return rnd.choice(("Asdf", "Qazwsx", "Zaq1@wsx", "1qaz!QAZ", "Mnbvcx")) \
            + rnd.choice(("", "#", "_")) + f"{rnd.randint(1, 12):02d}{rnd.randint(20, 27)}"
    if style == 7:  # an Apple-style suggestion
        while True:
            pw = "-".join(_pick_chars(rnd, 6, _LOWER + _DIGITS + _UPPER) for _ in range(3))
            if any(c.isdigit() for c in pw) and any(c.isupper() for c in pw):
                return pw
    if style == 8:  # a word with its letters swapped
        word = rnd.choice(("Lighthouse", "Dragonfly", "Salamander", "Honeycomb", "Checkmate"))
        return word.replace("o", "0").replace("e", "3").replace("a", "@") \
            + rnd.choice(("!", "_", "")) + _dig(rnd, 3)
    if style == 9:  # a child's name and birthday
        return rnd.choice(("Aoife", "Milo", "Lucía", "Finn", "Noor", "Tomasz")) \
            + f"{rnd.randint(1, 28):02d}.{rnd.randint(1, 12):02d}" + rnd.choice(("!", "*", ""))
    if style == 10:  # letters beyond ASCII
        return rnd.choice(("Bienenstock", "Fjärilsväg", "Hòa-Bình", "Żółw", "Ærøskøbing",
                           "Straße", "Łabędź")) + rnd.choice(("#", "-", "")) + _dig(rnd, 4)
    if style == 11:  # a PIN-like word and symbols
        return rnd.choice(_UPPER) + _pick_chars(rnd, 5, _LOWER) + rnd.choice(_SYMBOLS) \
            + _dig(rnd, 2) + rnd.choice(_SYMBOLS)
    return _pick_chars(rnd, 8, _LOWER) + rnd.choice("%&") + _pick_chars(rnd, 4, _UPPER + _DIGITS)


def url_password_q(rnd: random.Random) -> str:
    """A password as it is written inside a URL (percent-encoded where it needs to be)."""
    while True:
        pw = password_q(rnd)
        if rnd.random() < 0.7 or any(c in pw for c in "@:/?#% "):
            return quote(pw, safe="-_.~!$*+,;=")
        return quote(pw, safe="-_.~")


def _b64u(raw: str | bytes) -> str:
    data = raw.encode() if isinstance(raw, str) else raw
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt_q(rnd: random.Random) -> str:
    alg = rnd.choice(("RS256", "RS256", "HS256", "ES256", "EdDSA", "HS384"))
    header: dict[str, object] = {"alg": alg, "typ": "JWT"}
    if alg not in ("HS256", "HS384") and rnd.random() < 0.7:
        header["kid"] = _pick_chars(rnd, rnd.choice((16, 22, 40)), _URLSAFE)
    issued = 1796600000 + rnd.randint(0, 2500000)
    claims = rnd.choice((
        {"iss": "https://auth.crescentwave.io", "sub": str(uuid.UUID(int=rnd.getrandbits(128),
                                                                       version=4)),
         "aud": "mobile-app", "iat": issued, "exp": issued + 1800},
        {"sub": f"{rnd.choice(_FIRST)}@{rnd.choice(_MAILHOSTS[-6:])}", "scope": "openid profile",
         "iat": issued, "exp": issued + 3600},
        {"uid": rnd.randint(10000, 999999), "roles": ["member"], "iat": issued},
        {"iss": "ostara-labs", "tid": _pick_chars(rnd, 10, _LOWER + _DIGITS), "iat": issued,
         "exp": issued + 600, "jti": _pick_chars(rnd, 20, _HEX)}))
    signature = {"RS256": 342, "HS256": 43, "ES256": 86, "EdDSA": 86, "HS384": 64}[alg]
    return (f"{_b64u(json.dumps(header, separators=(',', ':')))}."
            f"{_b64u(json.dumps(claims, separators=(',', ':')))}."
            f"{_pick_chars(rnd, signature, _URLSAFE)}")


def _lines(body: str, width: int) -> list[str]:
    return [body[i:i + width] for i in range(0, len(body), width)]


def private_key_q(rnd: random.Random) -> str:
    sort = rnd.choice(("OPENSSH", "OPENSSH", "RSA", "PKCS8", "EC", "ENC", "DSA"))
    label, body, width = {
        "OPENSSH": ("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB"
                    "AAAAMwAAAAtzc2gtZWQyNTUxOQAAACA" + _pick_chars(rnd, 330, _B64), 70),
        "RSA": ("RSA PRIVATE KEY", "MIIEowIBAAKCAQEA" + _pick_chars(rnd, 1560, _B64), 64),
        "PKCS8": ("PRIVATE KEY", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ"
                  + _pick_chars(rnd, 1540, _B64), 64),
        "EC": ("EC PRIVATE KEY", "MHcCAQEEI" + _pick_chars(rnd, 146, _B64) + "==", 64),
        "ENC": ("ENCRYPTED PRIVATE KEY", "MIIFLTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI"
                + _pick_chars(rnd, 1660, _B64), 64),
        "DSA": ("DSA PRIVATE KEY", "MIIBuwIBAAKBgQ" + _pick_chars(rnd, 570, _B64), 64),
    }[sort]
    return "\n".join([f"-----BEGIN {label}-----", *_lines(body, width), f"-----END {label}-----"])


#: Vendors' documented token formats, vendors of this set's own choosing.
_VENDOR_TOKENS: tuple[Callable[[random.Random], str], ...] = (
    lambda r: "dp.st." + r.choice(("prd", "dev", "stg")) + "." + _pick_chars(r, 40),  # Doppler
    lambda r: "dp.pt." + _pick_chars(r, 43),                                # Doppler personal
    lambda r: "secret_" + _pick_chars(r, 43),                               # Notion integration
    lambda r: "dop_v1_" + _pick_chars(r, 64, _HEX),                         # DigitalOcean
    lambda r: "NRAK-" + _pick_chars(r, 27, _UPPER + _DIGITS),               # New Relic user key
    lambda r: f"dt0c01.{_pick_chars(r, 24, _UPPER + _DIGITS)}."
              f"{_pick_chars(r, 64, _UPPER + _DIGITS)}",                    # Dynatrace
    lambda r: "shippo_live_" + _pick_chars(r, 40, _HEX),                    # Shippo
    lambda r: _pick_chars(r, 32, _HEX) + "-us" + str(r.randint(1, 21)),     # Mailchimp
    lambda r: "gsk_" + _pick_chars(r, 52),                                  # Groq
    lambda r: "r8_" + _pick_chars(r, 37),                                   # Replicate
    lambda r: f"tskey-auth-k{_pick_chars(r, 11)}CNTRL-{_pick_chars(r, 33)}",  # Tailscale
    lambda r: "bkua_" + _pick_chars(r, 40, _HEX),                           # Buildkite
    lambda r: "pnu_" + _pick_chars(r, 36),                                  # Prefect
    lambda r: "pscale_tkn_" + _pick_chars(r, 43, _URLSAFE),                 # PlanetScale
    lambda r: "FLWSECK-" + _pick_chars(r, 32, _HEX) + "-X",                 # Flutterwave
    lambda r: "aio_" + _pick_chars(r, 28),                                  # Adafruit IO
    lambda r: "duffel_live_" + _pick_chars(r, 43, _URLSAFE),                # Duffel
    lambda r: "EZAK" + _pick_chars(r, 54, _HEX),                            # EasyPost
    lambda r: "SK" + _pick_chars(r, 32, _HEX),                              # Twilio API key
    lambda r: "sq0atp-" + _pick_chars(r, 22, _URLSAFE),                     # Square
    lambda r: "EAAA" + _pick_chars(r, 60, _URLSAFE),                        # Square production
    lambda r: "nfp_" + _pick_chars(r, 40),                                  # Netlify
    lambda r: "CLOJARS_" + _pick_chars(r, 60, _HEX),                        # Clojars
    lambda r: "sk.eyJ1Ijoi" + _pick_chars(r, 60, _URLSAFE) + "." + _pick_chars(r, 22, _URLSAFE),
    lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)) + ":fx",   # DeepL (free)
    lambda r: "ico-" + _pick_chars(r, 32),                                  # Infracost
)

SECRETS_Q: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: r.choice(("AKIA", "AKIA", "AKIA", "ASIA")) + _pick_chars(
        r, 16, _BASE32),
    "aws_secret_access_key": lambda r: _pick_chars(r, 40, _B64),
    "aws_session_token": lambda r: r.choice(("IQoJb3JpZ2luX2VjE", "IQoJb3JpZ2luX2VjEJ",
                                             "FwoGZXIvYXdzEL")) + _pick_chars(r, 24, _B64)
    + "//////////" + _pick_chars(r, r.choice((280, 360, 520)), _B64) + r.choice(("", "=", "==")),
    "azure_sas_signature": lambda r: quote(base64.b64encode(r.randbytes(32)).decode(), safe=""),
    "github_token": lambda r: (r.choice(("ghp_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_"))
                               + _pick_chars(r, 36)) if r.random() < 0.65
    else "github_pat_11" + _pick_chars(r, 20, _UPPER + _DIGITS) + "_" + _pick_chars(r, 59),
    "gitlab_token": lambda r: r.choice((
        "glpat-" + _pick_chars(r, 20, _URLSAFE), "glpat-" + _pick_chars(r, 20, _URLSAFE),
        "gldt-" + _pick_chars(r, 20, _URLSAFE), "glrt-" + _pick_chars(r, 20, _URLSAFE),
        "glcbt-" + _pick_chars(r, 20, _URLSAFE), "glft-" + _pick_chars(r, 20, _URLSAFE),
        "glsoat-" + _pick_chars(r, 20, _URLSAFE))),
    "slack_token": lambda r: r.choice((
        f"xoxb-{_dig(r, 12)}-{_dig(r, 13)}-{_pick_chars(r, 24)}",
        f"xoxp-{_dig(r, 12)}-{_dig(r, 12)}-{_dig(r, 13)}-{_pick_chars(r, 32, _HEX)}",
        f"xoxe.xoxp-1-{_pick_chars(r, 150)}", f"xoxe-1-{_pick_chars(r, 140)}",
        f"xapp-1-A0{_pick_chars(r, 9, _UPPER + _DIGITS)}-{_dig(r, 13)}-"
        f"{_pick_chars(r, 64, _HEX)}")),
    "stripe_key": lambda r: r.choice((
        "sk_live_" + _pick_chars(r, 24), "sk_live_51" + _pick_chars(r, 97),
        "rk_live_51" + _pick_chars(r, 97), "whsec_" + _pick_chars(r, 32))),
    "openai_api_key": lambda r: r.choice((
        "sk-proj-" + _pick_chars(r, 74, _URLSAFE) + "T3BlbkFJ" + _pick_chars(r, 74, _URLSAFE),
        "sk-proj-" + _pick_chars(r, 74, _URLSAFE) + "T3BlbkFJ" + _pick_chars(r, 74, _URLSAFE),
        "sk-svcacct-" + _pick_chars(r, 74, _URLSAFE) + "T3BlbkFJ" + _pick_chars(r, 74, _URLSAFE),
        "sk-" + _pick_chars(r, 20) + "T3BlbkFJ" + _pick_chars(r, 20))),
    "anthropic_api_key": lambda r: r.choice(("sk-ant-api03-", "sk-ant-api03-",
                                             "sk-ant-admin01-")) + _pick_chars(r, 93, _URLSAFE)
    + "AA",
    "jwt": jwt_q,
    "private_key": private_key_q,
    "npm_token": lambda r: "npm_" + _pick_chars(r, 36),
    "huggingface_token": lambda r: "hf_" + _pick_chars(r, 34, string.ascii_letters),
    "sendgrid_api_key": lambda r: "SG." + _pick_chars(r, 22, _URLSAFE) + "."
    + _pick_chars(r, 43, _URLSAFE),
    "google_api_key": lambda r: "AIza" + _pick_chars(r, 35, _URLSAFE),
    "telegram_bot_token": lambda r: f"{r.randint(10 ** 9, 7 * 10 ** 9)}:AA"
    + _pick_chars(r, 33, _URLSAFE),
    "vendor_token": lambda r: r.choice(_VENDOR_TOKENS)(r),
    "client_secret": lambda r: r.choice((
        _pick_chars(r, 3) + "8Q~" + _pick_chars(r, 34, _ALNUM + "_~.-"),     # Microsoft Entra
        _pick_chars(r, 3) + "7Q~" + _pick_chars(r, 34, _ALNUM + "_~.-"),     # Microsoft Entra
        "GOCSPX-" + _pick_chars(r, 28, _URLSAFE),                            # Google OAuth
        _pick_chars(r, 64, _URLSAFE),                                        # Auth0
        _pick_chars(r, 40, _URLSAFE))),                                      # Okta
    "password": password_q,
    "url_password": url_password_q,
}

PERSONAL_Q: dict[str, Callable[..., str]] = {
    "email": email_q, "phone": phone_q, "payment_card": card_q, "iban": iban_q,
    "us_ssn": ssn_q, "ipv4": ipv4_q, "ipv6": ipv6_q}
#: Every type set Q plants: the names set P uses.
KINDS_Q = tuple(sorted({**SECRETS_Q, **PERSONAL_Q}))
_MAKERS: dict[str, Callable[..., str]] = {**SECRETS_Q, **PERSONAL_Q}
_SECRET_TYPES = frozenset(SECRETS_Q)
_PLAIN_TYPES = frozenset({"payment_card", "iban", "us_ssn", "phone"})

#: How people name each value in prose ({w}).
_NAMES: dict[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "email addr", "mail", "e-mail address", "Gmail", "adresse mail",
              "E-Mail-Adresse"),
    "phone": ("phone", "mobile", "cell", "mob.", "number", "tel", "phone no.", "WhatsApp",
              "Handy", "số điện thoại"),
    "payment_card": ("card", "card no.", "credit card", "debit card", "Visa", "Mastercard",
                     "card number", "long card number"),
    "iban": ("IBAN", "bank account", "account", "IBAN number", "Kontonummer (IBAN)",
             "numéro IBAN", "bank details"),
    "us_ssn": ("SSN", "social security number", "social", "SS#", "Social Security no."),
    "ipv4": ("IP", "IP address", "public IP", "external IP", "WAN address"),
    "ipv6": ("IPv6", "v6 address", "IPv6 address", "v6"),
    "password": ("password", "pw", "passwd", "pass", "login password", "Passwort", "mật khẩu",
                 "code"),
}


# --- look-alikes ---------------------------------------------------------------------------------


def _fails_luhn(rnd: random.Random, size: int, head: str = "") -> str:
    while True:
        digits = head + _dig(rnd, size - len(head))
        if not luhn_ok(digits):
            return digits


def _fiction_phone(rnd: random.Random) -> str:
    return rnd.choice((
        f"({rnd.choice(_US_AREAS)}) 555-01{_dig(rnd, 2)}", f"555-01{_dig(rnd, 2)}",
        f"+1 {rnd.choice(_US_AREAS)} 555 01{_dig(rnd, 2)}", f"07700 900{_dig(rnd, 3)}",
        f"+44 7700 900{_dig(rnd, 3)}", f"0161 496 0{_dig(rnd, 3)}", f"0113 496 0{_dig(rnd, 3)}",
        f"01632 960{_dig(rnd, 3)}", f"028 9649 6{_dig(rnd, 3)}", f"020 7946 0{_dig(rnd, 3)}",
        "0491 570 " + rnd.choice(("006", "156", "157", "158", "159", "110", "313", "737")),
        f"(02) 5550 {_dig(rnd, 4)}", f"(08) 5550 {_dig(rnd, 4)}", f"(03) 7010 {_dig(rnd, 4)}",
        f"01 99 00 {_dig(rnd, 2)} {_dig(rnd, 2)}", f"06 39 98 {_dig(rnd, 2)} {_dig(rnd, 2)}",
        f"070-174 06 {_dig(rnd, 2)}", f"020 910 {_dig(rnd, 4)}", f"030 23125 {_dig(rnd, 3)}"))


def _masked_card(rnd: random.Random) -> str:
    last = _dig(rnd, 4)
    return rnd.choice((f"**** **** **** {last}", f"XXXX XXXX XXXX {last}", f"•••• {last}",
                       f"xxxx-xxxx-xxxx-{last}", f"{rnd.choice(('4', '5'))}{_dig(rnd, 5)}******"
                       f"{last}", f"************{last}", f"ending in {last}",
                       f"37{'*' * 9}{_dig(rnd, 4)}"))


def _masked_iban(rnd: random.Random) -> str:
    cc = rnd.choice(("DE", "FR", "NL", "IE", "ES", "BE", "AT", "IT"))
    return rnd.choice((f"{cc}{_dig(rnd, 2)} **** **** **** {_dig(rnd, 4)}",
                       f"{cc}** XXXX XXXX XXXX XX{_dig(rnd, 2)}", f"{cc}{'•' * 14}{_dig(rnd, 4)}",
                       f"{cc}{_dig(rnd, 2)}{'x' * 12}{_dig(rnd, 4)}"))


def _masked_ssn(rnd: random.Random) -> str:
    return rnd.choice(("***-**-", "XXX-XX-", "xxx-xx-", "•••-••-", "*** ** ")) + _dig(rnd, 4)


def _reserved_email(rnd: random.Random) -> str:
    local = rnd.choice((rnd.choice(_FIRST), f"{rnd.choice(_FIRST)}.{rnd.choice(_LAST)}",
                        "someone", "your.name", "firstname.lastname"))
    return local + "@" + rnd.choice(("example.com", "example.org", "example.net",
                                     "mail.example", "club.test", "nowhere.invalid"))


def _masked_email(rnd: random.Random) -> str:
    first = rnd.choice(_FIRST)
    return f"{first[0]}{rnd.choice(('***', '*****', '•••'))}{first[-1]}@" \
        + rnd.choice(_MAILHOSTS[:12])


def _private_ipv4(rnd: random.Random) -> str:
    return rnd.choice((
        f"10.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
        f"172.{rnd.randint(16, 31)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
        f"192.168.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
        f"100.{rnd.randint(64, 127)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
        f"127.0.0.{rnd.randint(1, 9)}", f"169.254.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"))


def _doc_ipv4(rnd: random.Random) -> str:
    return rnd.choice(("192.0.2.", "198.51.100.", "203.0.113.")) + str(rnd.randint(1, 254))


def _doc_ipv6(rnd: random.Random) -> str:
    return rnd.choice((f"2001:db8:{rnd.randint(1, 0xFFFF):x}::{rnd.randint(1, 0xFFFF):x}",
                       f"2001:db8::{rnd.randint(1, 0xFFF):x}",
                       f"3fff:{rnd.randint(0, 0xFFF):x}:{rnd.randint(1, 0xFFFF):x}::1"))


def _local_ipv6(rnd: random.Random) -> str:
    return rnd.choice((f"fd{_pick_chars(rnd, 2, _HEX)}:{_pick_chars(rnd, 4, _HEX)}:"
                       f"{_pick_chars(rnd, 4, _HEX)}::{rnd.randint(1, 0xFFF):x}",
                       f"fe80::{_pick_chars(rnd, 3, _HEX)}:{_pick_chars(rnd, 4, _HEX)}:"
                       f"{_pick_chars(rnd, 4, _HEX)}:{_pick_chars(rnd, 4, _HEX)}", "::1"))


def _pw_mask(rnd: random.Random) -> str:
    return rnd.choice(("********", "•" * rnd.randint(6, 12), "[redacted]", "(not shown)",
                       "<hidden>", "******", "XXXXXXXX", "[see password manager]", "n/a"))


def _placeholder(rnd: random.Random) -> str:
    return rnd.choice(("<YOUR_TOKEN>", "INSERT_KEY_HERE", "your-api-key", "<redacted>",
                       "TODO", "REPLACE_ME", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "[secret]",
                       "dummy"))


_PREFIXES = {
    "github_token": "ghp_", "gitlab_token": "glpat-", "slack_token": "xoxb-",
    "stripe_key": "sk_live_", "openai_api_key": "sk-proj-", "anthropic_api_key": "sk-ant-api03-",
    "npm_token": "npm_", "huggingface_token": "hf_", "sendgrid_api_key": "SG.",
    "google_api_key": "AIza", "aws_access_key_id": "AKIA", "aws_session_token": "IQoJb3JpZ2lu",
    "vendor_token": "", "client_secret": "", "telegram_bot_token": "",
    "aws_secret_access_key": "",
}


def _masked_token(kind: str) -> Callable[[random.Random], str]:
    head = _PREFIXES[kind]

    def make(rnd: random.Random) -> str:
        return rnd.choice((f"{head}{'*' * rnd.randint(10, 20)}", f"{head}...{_pick_chars(rnd, 4)}",
                           f"{head}{'x' * rnd.randint(20, 30)}", f"{head}<redacted>",
                           f"{head}\u2022\u2022\u2022\u2022{_pick_chars(rnd, 4)}"))
    return make


def _cert_block(rnd: random.Random) -> str:
    if rnd.random() < 0.5:
        label, body = "CERTIFICATE", "MIIDdzCCAl+gAwIBAgIE" + _pick_chars(rnd, 800, _B64)
    else:
        label, body = "PUBLIC KEY", "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" \
            + _pick_chars(rnd, 330, _B64) + "IDAQAB"
    return "\n".join([f"-----BEGIN {label}-----", *_lines(body, 64), f"-----END {label}-----"])


def _imei(rnd: random.Random) -> str:
    return _luhn_complete(rnd.choice(("35", "35", "86", "99")) + _dig(rnd, 12))


def _iccid(rnd: random.Random) -> str:
    return _luhn_complete("89" + rnd.choice(("44", "49", "353", "33", "1")) + _dig(rnd, 14))[:20]


def _lei(rnd: random.Random) -> str:
    body = rnd.choice(("5493", "2138", "9695", "7245", "8156")) + "00" \
        + _pick_chars(rnd, 12, _UPPER + _DIGITS)
    return f"{body}{98 - _mod97(body + '00'):02d}"


def _isin(rnd: random.Random) -> str:
    body = rnd.choice(("US", "IE", "DE", "GB", "LU")) + _pick_chars(rnd, 9, _UPPER + _DIGITS)
    digits = "".join(str(int(c, 36)) for c in body)
    return body + _luhn_complete(digits)[-1]


def _eu_vat(rnd: random.Random) -> str:
    return rnd.choice((f"DE{_dig(rnd, 9)}", f"BE0{_dig(rnd, 9)}",
                       f"FR{_dig(rnd, 2)}{_dig(rnd, 9)}", f"NL{_dig(rnd, 9)}B0{rnd.randint(1, 9)}",
                       f"IE{_dig(rnd, 7)}{rnd.choice(_UPPER)}", f"ATU{_dig(rnd, 8)}"))


def _aba(rnd: random.Random) -> str:
    while True:
        body = rnd.choice(("01", "02", "03", "04", "06", "07", "09", "10", "11", "12", "21",
                           "22", "26", "32")) + _dig(rnd, 6)
        for c in _DIGITS:
            number = body + c
            weights = (3, 7, 1, 3, 7, 1, 3, 7, 1)
            if sum(int(d) * w for d, w in zip(number, weights, strict=True)) % 10 == 0:
                return number


def _ticket(rnd: random.Random) -> str:
    return f"{rnd.choice(('220', '125', '074', '057', '176', '081'))}-{_dig(rnd, 10)}"


def _microchip(rnd: random.Random) -> str:
    return _fails_luhn(rnd, 15, rnd.choice(("900", "941", "956", "977", "981", "985")))


_LOOK: dict[str, Callable[[random.Random], str]] = {
    "fiction_phone": _fiction_phone, "masked_card": _masked_card, "masked_iban": _masked_iban,
    "masked_ssn": _masked_ssn, "reserved_email": _reserved_email, "masked_email": _masked_email,
    "private_ipv4": _private_ipv4, "doc_ipv4": _doc_ipv4, "doc_ipv6": _doc_ipv6,
    "local_ipv6": _local_ipv6, "pw_mask": _pw_mask, "placeholder": _placeholder,
    "cert_block": _cert_block, "imei": _imei, "iccid": _iccid, "lei": _lei, "isin": _isin,
    "eu_vat": _eu_vat, "aba": _aba, "ticket": _ticket, "microchip": _microchip,
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "sha1": lambda r: _pick_chars(r, 40, _HEX), "sha256": lambda r: _pick_chars(r, 64, _HEX),
    "short_sha": lambda r: _pick_chars(r, 7, _HEX),
    "bic": lambda r: r.choice(("COBADEFFXXX", "BOFIIE2D", "ABNANL2A", "BBRUBEBB", "CAIXESBB",
                               "BNPAFRPP", "SWEDSESS", "DABADKKK", "OKOYFIHH", "NWBKGB2L")),
    "sort_code": lambda r: f"{_dig(r, 2)}-{_dig(r, 2)}-{_dig(r, 2)}",
    "aws_account": lambda r: _dig(r, 12),
    "twilio_sid": lambda r: "AC" + _pick_chars(r, 32, _HEX),
    "mapbox_pk": lambda r: "pk.eyJ1Ijoi" + _pick_chars(r, 50, _URLSAFE) + "."
    + _pick_chars(r, 22, _URLSAFE),
    "pk_live": lambda r: "pk_live_51" + _pick_chars(r, 97),
    "google_client": lambda r: f"{_dig(r, 12)}-{_pick_chars(r, 32, _LOWER + _DIGITS)}"
                               ".apps.googleusercontent.com",
    "test_card": lambda r: _print_groups(r.choice(_TEST_CARDS)),
    "test_card_flat": lambda r: r.choice(_TEST_CARDS),
    "example_iban": lambda r: _in_fours(r.choice(_EXAMPLE_IBANS)),
    "example_iban_flat": lambda r: r.choice(_EXAMPLE_IBANS),
    "aws_example_id": lambda r: r.choice(("AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPLE")),
    "aws_example_secret": lambda r: r.choice(("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                              "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")),
    "jwt_sample": lambda r: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFt"
                            "ZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf3"
                            "6POk6yJV_adQssw5c",
    "booking": lambda r: _pick_chars(r, 6, "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"),
    "order": lambda r: rnd_order(r),
    "version": lambda r: f"{r.randint(1, 14)}.{r.randint(0, 30)}.{r.randint(0, 99)}."
                         f"{r.randint(100, 9999)}",
    "friend_code": lambda r: str(r.randint(10 ** 7, 4 * 10 ** 8)),
    "steam_id": lambda r: "7656119" + _dig(r, 10),
    "fide_id": lambda r: str(r.randint(100000, 35000000)),
    "pstr": lambda r: f"{_dig(r, 8)}R{r.choice(_UPPER)}",
    "sevis": lambda r: "N00" + _dig(r, 8),
    "din": lambda r: f"W{_dig(r, 4)} {r.choice(('26', '27'))} {_dig(r, 6)} "
                     f"{r.choice(_UPPER)}",
    "mac": lambda r: ":".join(_pick_chars(r, 2, _HEX) for _ in range(6)),
    "ean": lambda r: _ean13(r),
}


def rnd_order(rnd: random.Random) -> str:
    return rnd.choice((f"#{rnd.randint(1000, 99999)}", f"BK-{_dig(rnd, 5)}",
                       f"{_pick_chars(rnd, 2, _UPPER)}{_dig(rnd, 5)}",
                       f"{rnd.randint(2026, 2027)}/{_dig(rnd, 4)}"))


def _ean13(rnd: random.Random) -> str:
    body = rnd.choice(("400", "500", "539", "590", "871", "893")) + _dig(rnd, 9)
    check = (10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body)) % 10) % 10
    return body + str(check)


#: Look-alikes any slot of a type may hold, by the type of the slot.
_GENERIC: dict[str, tuple[str, ...]] = {
    "payment_card": ("masked_card", "test_card"), "iban": ("masked_iban", "example_iban"),
    "us_ssn": ("masked_ssn",), "phone": ("fiction_phone",),
    "email": ("reserved_email", "masked_email"), "ipv4": ("doc_ipv4", "private_ipv4"),
    "ipv6": ("doc_ipv6", "local_ipv6"), "password": ("pw_mask",),
    "url_password": ("url_mask",), "azure_sas_signature": ("sig_mask",),
    "private_key": ("cert_block",), "jwt": ("jwt_sample", "jwt_cut"),
    "aws_access_key_id": ("aws_example_id", "masked_aws_access_key_id"),
    "aws_secret_access_key": ("aws_example_secret", "placeholder"),
    **{t: (f"masked_{t}", "placeholder") for t in _PREFIXES
       if t not in ("aws_access_key_id", "aws_secret_access_key")},
}
_LOOK.update({f"masked_{t}": _masked_token(t) for t in _PREFIXES})
_LOOK.update({
    "url_mask": lambda r: r.choice(("%2A%2A%2A%2A%2A%2A", "REDACTED", "xxxxx", "%3Csecret%3E",
                                    "${PASSWORD}", "********")),
    "sig_mask": lambda r: r.choice(("REDACTED", "%3Csig%3E", "xxxxx", "...")),
    "jwt_cut": lambda r: r.choice(("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJ\u2026",
                                   "eyJ...<truncated>", "<jwt>", "Bearer <token>")),
})


# --- artifacts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    """One kind of artifact. ``slots`` are (template, types): ``{v}`` the value (``{j}`` the
    value escaped for a JSON string), ``{+type}`` another real value, ``{again}`` the last
    value once more, ``{w}`` how a person names the value, ``{ts}`` a clock reading in
    ``clock``, ``{n}`` a counter, ``{who}`` a name, ``{SAS}`` a blob URL whose signature is
    ``{v}``. ``own`` are (template, look-alike maker or ``=literal``) of decoys in the
    artifact's own syntax; ``avoid`` are characters no value may hold there; ``plain``
    writes cards, IBANs, SSNs and phones without blanks; ``sep`` joins items; ``generic``
    lets slots of a type hold that type's generic look-alikes."""

    prose: bool
    heads: tuple[str, ...]
    slots: tuple[tuple[str, str], ...]
    filler: tuple[str, ...] = ()
    own: tuple[tuple[str, str], ...] = ()
    tail: str = ""
    avoid: str = ""
    plain: bool = False
    sep: str = "\n"
    clock: str = "%H:%M"
    generic: bool = True


_K = _Kind
_WHO = ("Aurelio", "Bronagh", "Cassius", "Delphine", "Emrys", "Fionnuala", "Hamish", "Isolde",
        "Katalin", "Lorcan", "Nkechi", "Sigrun", "Thao", "Minh", "Yusuf")

_KINDS: dict[str, _Kind] = {
    # --- prose ------------------------------------------------------------------------------
    "wire_chat": _K(
        True, ("Wire - conversation \"ostara-platform\" - exported history\n",
               "Wire export: group \"release-crew\"\n"),
        (("[{ts}] {who}: staging Anthropic key for the triage bot: {v}", "anthropic_api_key"),
         ("[{ts}] {who}: new fine-grained GitHub token for the release job (30 days): {v}",
          "github_token"),
         ("[{ts}] {who}: runner registration token -> {v}", "gitlab_token"),
         ("[{ts}] {who}: Slack bot token, scopes are chat:write only: {v}", "slack_token"),
         ("[{ts}] {who}: the new Hetzner box is at {v}", "ipv4 ipv6"),
         ("[{ts}] {who}: and the AAAA record should point to {v}", "ipv6"),
         ("[{ts}] {who}: temporary creds from the SSO portal, expire at 6:\n"
          "    export AWS_ACCESS_KEY_ID={v}\n    export AWS_SECRET_ACCESS_KEY="
          "{+aws_secret_access_key}\n    export AWS_SESSION_TOKEN={+aws_session_token}",
          "aws_access_key_id"),
         ("[{ts}] {who}: the session token again, it got cut off:\n    {v}", "aws_session_token"),
         ("[{ts}] {who}: secret access key for the backup IAM user = {v}",
          "aws_secret_access_key"),
         ("[{ts}] {who}: HF read token so CI can pull the gated model: {v}", "huggingface_token"),
         ("[{ts}] {who}: bearer from the login call if you want to replay it: {v}", "jwt"),
         ("[{ts}] {who}: replica DSN: postgresql://analytics:{v}@db-replica.ostara-labs.dev:"
          "5432/events", "url_password"),
         ("[{ts}] {who}: redis on prod has password {v} now, don't paste it anywhere pls",
          "password"),
         ("[{ts}] {who}: SAS link for the export, 48h: {SAS}", "azure_sas_signature"),
         ("[{ts}] {who}: npm automation token for publishing @ostara/ui: {v}", "npm_token"),
         ("[{ts}] {who}: the deploy key, sorry for pasting it here:\n{v}", "private_key"),
         ("[{ts}] {who}: Entra app secret for the SSO test tenant: {v}", "client_secret"),
         ("[{ts}] {who}: service token for the secrets manager: {v}", "vendor_token"),
         ("[{ts}] {who}: OpenAI key for the eval harness: {v}", "openai_api_key")),
        ("[{ts}] {who}: standup in 5", "[{ts}] {who}: merged 👍",
         "[{ts}] {who}: the flaky test is back", "[{ts}] {who}: deploying now",
         "[{ts}] {who}: lunch?"),
        (("[{ts}] {who}: relax, that's the example key from the AWS docs: {v}", "aws_example_id"),
         ("[{ts}] {who}: it lives in Doppler as {v}, never paste it here",
          "=ostara/prd/STRIPE_SECRET_KEY"),
         ("[{ts}] {who}: account id for the trust policy: {v}", "aws_account"),
         ("[{ts}] {who}: commit {v} reverts it", "sha1"),
         ("[{ts}] {who}: the public Mapbox token for the tiles (it's meant to be public): {v}",
          "mapbox_pk"),
         ("[{ts}] {who}: internally it's {v}", "private_ipv4")),
        clock="%d/%m/%Y, %H:%M"),
    "zalo_chat": _K(
        True, ("Zalo - nhóm \"Gia đình Nguyễn\" (xuất ngày 08/12/2026)\n",
               "Zalo chat export - Trần family\n"),
        (("{ts} - Thảo: số điện thoại mới của bà ngoại là {v}", "phone"),
         ("{ts} - Minh: gửi tiền vào tài khoản Đức của anh Jovan nhé, IBAN {v}", "iban"),
         ("{ts} - Thảo: mật khẩu wifi ở nhà: {v}", "password"),
         ("{ts} - Minh: email của em đổi rồi: {v}", "email"),
         ("{ts} - Bố: use this card for Grandma's flight: {v}", "payment_card"),
         ("{ts} - Thảo: Netflix pw là {v} nha", "password"),
         ("{ts} - Minh: chị Thảo's social for the tax form is {v}", "us_ssn"),
         ("{ts} - Bố: {w} của chú Tư: {v}", "phone email"),
         ("{ts} - Minh: số thẻ để trả tiền khách sạn: {v}", "payment_card"),
         ("{ts} - Mẹ: tiền học của bé chuyển vào {v}", "iban")),
        ("{ts} - Mẹ: ăn cơm chưa?", "{ts} - Thảo: 😂😂", "{ts} - Bố: Chủ nhật về ăn giỗ nhé",
         "{ts} - Minh: dạ"),
        (("{ts} - Minh: mã đơn hàng Shopee: {v}", "order"),
         ("{ts} - Thảo: mật khẩu wifi hả? {v}", "=dán sau tủ lạnh đó"),
         ("{ts} - Bố: số tài khoản cũ {v} đừng dùng nữa", "masked_iban"),
         ("{ts} - Minh: mã vận đơn {v}", "ean")),
        clock="%H:%M %d/%m"),
    "steam_chat": _K(
        True, ("Steam chat log - friends: \"the lads\"\n", "Chat history with Lorcan (Steam)\n"),
        (("[{ts}] Lorcan: srv ip for tonight {v} port 27015", "ipv4"),
         ("[{ts}] Hamish: v6 if v4 is borked: [{v}]:27015", "ipv6"),
         ("[{ts}] Lorcan: rcon password is {v}", "password"),
         ("[{ts}] Cassius: my steam pw is {v} can u log in and grab the skins lol", "password"),
         ("[{ts}] Hamish: the server's telegram alert bot token {v}", "telegram_bot_token"),
         ("[{ts}] Lorcan: openai key for the discord bot, dont leak it {v}", "openai_api_key"),
         ("[{ts}] Cassius: my paypal is {v} send the fiver for the server", "email"),
         ("[{ts}] Hamish: text me {v}", "phone"),
         ("[{ts}] Lorcan: or my {w}: {v}", "phone email"),
         ("[{ts}] Cassius: just use my card for the server rent {v} exp 11/28", "payment_card"),
         ("[{ts}] Hamish: the box is {v} if u want to ssh in", "ipv4 ipv6"),
         ("[{ts}] Lorcan: npm token so u can install the bot's private package {v}",
          "npm_token"),
         ("[{ts}] Hamish: hf token for the bot's voice model {v}", "huggingface_token")),
        ("[{ts}] Lorcan: gg", "[{ts}] Cassius: brb dinner", "[{ts}] Hamish: who's on tonight?",
         "[{ts}] Lorcan: lag is insane"),
        (("[{ts}] Hamish: my friend code is {v}", "friend_code"),
         ("[{ts}] Lorcan: it's on my LAN {v} so u need the vpn", "private_ipv4"),
         ("[{ts}] Cassius: my SteamID64 {v}", "steam_id"),
         ("[{ts}] Hamish: the rcon pw? {v}", "=same as last season lol")),
        clock="%m/%d/%Y %I:%M %p"),
    "beekeepers_renewal": _K(
        True, ("THORNBURY & DISTRICT BEEKEEPERS' ASSOCIATION\nMembership renewal 2027\n",),
        (("E-mail: {v}", "email"), ("Telephone (day): {v}", "phone"),
         ("Mobile for swarm calls: {v}", "phone"),
         ("Members paying from abroad - subscription (£38) collected from IBAN: {v}", "iban"),
         ("Or card payment: {v}   expiry 07/29", "payment_card"),
         ("Password chosen for the members' area: {v}", "password"),
         ("Landowner of the out-apiary (in case of swarms), {w}: {v}", "phone email"),
         ("Secretary's {w} for queries: {v}", "email phone")),
        ("Number of colonies: 4", "Apiary location: Hollow Lane allotments",
         "Insurance: BDI cover required? Yes", "Newsletter by post? No"),
        (("Association sort code (for your records): {v}", "sort_code"),
         ("Card previously on file: {v}", "masked_card"),
         ("Swarm hotline: {v}", "fiction_phone"),
         ("Association LEI (for the bank): {v}", "lei"))),
    "dog_walker_intake": _K(
        True, ("PAWS & PAVEMENTS DOG WALKING - new client intake\nDog: Biscuit (cockapoo, 4)\n",),
        (("Owner e-mail: {v}", "email"), ("Owner mobile: {v}", "phone"),
         ("Emergency contact (neighbour): {v}", "phone"), ("Vet practice phone: {v}", "phone"),
         ("Card for monthly billing: {v}", "payment_card"),
         ("Ring doorbell app login (so you can let yourself in): {+email} / {v}", "password"),
         ("Pet cam Wi-Fi password: {v}", "password"),
         ("Second owner's {w}: {v}", "phone email")),
        ("Walks: Mon-Fri, 12:00-13:00", "Pulls on the lead near cats.",
         "Allergic to chicken treats.", "Keys: lockbox by the back gate."),
        (("Microchip no.: {v}", "microchip"), ("Lockbox code: {v}", "=I'll text it to you"),
         ("Card on file: {v}", "masked_card"), ("Vet's out-of-hours line: {v}", "fiction_phone"))),
    "dive_registration": _K(
        True, ("BLUEFIN DIVERS, Kilkee - diver registration & medical statement\n",),
        (("E-mail: {v}", "email"), ("Mobile (while in Ireland): {v}", "phone"),
         ("Emergency contact ashore: {v}", "phone"),
         ("Deposit (€150) charged to card: {v}", "payment_card"),
         ("Refund account for cancelled dives (IBAN): {v}", "iban"),
         ("Equipment hire guarantee card: {v}", "payment_card"),
         ("Buddy's {w}: {v}", "phone email")),
        ("Certification level: Advanced Open Water", "Logged dives: 64",
         "Last dive: September 2026", "Any medical conditions? None"),
        (("Certification no.: {v}", "order"), ("Dive computer serial: {v}", "uuid"),
         ("Card kept on file: {v}", "masked_card"),
         ("Club's VAT number: {v}", "eu_vat"))),
    "chess_entry": _K(
        True, ("KNIGHT'S GAMBIT CONGRESS 2027 - entry form\nSection: Open / Major / Minor\n",),
        (("E-mail: {v}", "email"), ("Phone: {v}", "phone"),
         ("Entry fee ($65) charged to card: {v}", "payment_card"),
         ("Prize money paid by transfer to (non-US players) IBAN: {v}", "iban"),
         ("US residents winning $600 or more - SSN for the 1099: {v}", "us_ssn"),
         ("Lichess account for the online blitz side event, password: {v}", "password"),
         ("Parent/guardian (juniors), {w}: {v}", "phone email")),
        ("Rating: 1874", "Bye requested for round 3: yes", "Byes: max two half-point byes."),
        (("FIDE ID: {v}", "fide_id"), ("Entry no.: {v}", "order"),
         ("Card on file: {v}", "masked_card"), ("Arbiter's line: {v}", "fiction_phone"))),
    "lottery_syndicate": _K(
        True, ("OFFICE LOTTERY SYNDICATE AGREEMENT - 3rd floor, Castellanos & Pemberton\n",),
        (("Manager: Nkechi Okonkwo, e-mail {v}", "email"),
         ("Manager's mobile: {v}", "phone"),
         ("Winnings are paid to each member's account; Hamish: {v}", "iban"),
         ("Isolde's account for her share: {v}", "iban"),
         ("Weekly tickets are bought on the manager's debit card {v}", "payment_card"),
         ("Online lottery account: {+email}, password {v}", "password"),
         ("US members (big wins need a claim form): Cassius's SSN {v}", "us_ssn"),
         ("Deputy manager's {w}: {v}", "phone email")),
        ("Stake: £2 per member per week.", "Numbers: fixed, chosen at the first meeting.",
         "Members who have not paid miss that week's draw."),
        (("Ticket serial: {v}", "order"), ("Old card: {v}", "masked_card"),
         ("Previous account (closed): {v}", "masked_iban"))),
    "au_pair_agreement": _K(
        True, ("AU PAIR AGREEMENT between the Hollingsworth family (Portland, OR) and the au "
               "pair\n",),
        (("Au pair's e-mail: {v}", "email"), ("Au pair's German mobile: {v}", "phone"),
         ("Host mother's cell: {v}", "phone"),
         ("Au pair's home account (for transfers to Germany), IBAN: {v}", "iban"),
         ("Au pair's SSN (applied for on arrival): {v}", "us_ssn"),
         ("Family debit card for groceries and outings: {v}", "payment_card"),
         ("House Wi-Fi: {v}", "password"),
         ("Au pair's parents in Germany, {w}: {v}", "phone email")),
        ("Weekly stipend: $195.75", "Working hours: max. 45 per week.",
         "Two weeks of paid vacation.", "Curfew on school nights: 23:00."),
        (("SEVIS ID: {v}", "sevis"), ("Agency application no.: {v}", "order"),
         ("SSN on the agency form: {v}", "masked_ssn"),
         ("Alarm code: {v}", "=on the sheet in the kitchen drawer"))),
    "pension_transfer_letter": _K(
        True, ("Dear Sir or Madam,\n\nRe: transfer of my pension to my new employer's plan\n",),
        (("For the 401(k) rollover you asked for my Social Security number; it is {v}.",
          "us_ssn"),
         ("Please pay the transfer value into my account {v}.", "iban"),
         ("The receiving scheme's account is {v}.", "iban"),
         ("You can reach me on {v} during the day.", "phone"),
         ("Or by e-mail at {v}.", "email"),
         ("The password I set on your online portal is {v} in case you need it to unlock it.",
          "password"),
         ("My financial adviser's {w} is {v}.", "phone email")),
        ("I left the company on 31 October 2026.", "I enclose a copy of my passport.",
         "Please confirm receipt of this letter."),
        (("The scheme's registration number is {v}.", "pstr"),
         ("The bank's BIC is {v}.", "bic"),
         ("The old account ending {v} is closed.", "=4471"),
         ("Your letter quoted account {v}.", "masked_iban")),
        tail="\nYours faithfully,\nUlrike Achterberg"),
    "airline_refund_claim": _K(
        True, ("Subject: Refund claim - cancelled flight, EU 261/2004\n\nDear customer relations,"
               "\n",),
        (("The tickets were paid with card {v}; please refund to that card.", "payment_card"),
         ("If a card refund isn't possible, please transfer to {v}.", "iban"),
         ("My e-mail for the reply: {v}", "email"), ("My phone: {v}", "phone"),
         ("My partner also travelled; her {w} is {v}.", "phone email"),
         ("The hotel for the extra night was paid with {v}.", "payment_card")),
        ("The flight was cancelled two hours before departure.",
         "We were rebooked for the following evening.", "I attach the receipts for meals."),
        (("Ticket number: {v}", "ticket"), ("Booking reference: {v}", "booking"),
         ("Your chat agent quoted card {v}.", "masked_card"),
         ("Your office's phone: {v}", "fiction_phone"))),
    "kennel_boarding": _K(
        True, ("HARBOURLIGHT KENNELS & CATTERY - boarding form\n",),
        (("Owner e-mail: {v}", "email"), ("Owner phone: {v}", "phone"),
         ("Emergency contact while away: {v}", "phone"), ("Vet: {v}", "phone"),
         ("Deposit card: {v}", "payment_card"),
         ("Pet-cam app password (so we can set up your login): {v}", "password"),
         ("Person collecting, {w}: {v}", "phone email")),
        ("Vaccinations up to date: yes", "Feeding: twice a day, own food supplied.",
         "Medication: none"),
        (("Microchip: {v}", "microchip"), ("Booking no.: {v}", "order"),
         ("Card on file: {v}", "masked_card"))),
    "driving_school_enrolment": _K(
        True, ("RIVERSIDE MOTORING SCHOOL - pupil enrolment\n",),
        (("Pupil e-mail: {v}", "email"), ("Pupil mobile: {v}", "phone"),
         ("Parent's phone: {v}", "phone"), ("Parent's e-mail: {v}", "email"),
         ("Card for the 10-lesson block: {v}", "payment_card"),
         ("Refund of unused lessons to: {v}", "iban"),
         ("Password for the lesson-booking app: {v}", "password")),
        ("Gearbox: manual", "Previous lessons: 6 hours", "Theory test: passed"),
        (("Instructor's ADI no.: {v}", "order"), ("Card on file: {v}", "masked_card"),
         ("Office: {v}", "fiction_phone"))),
    "quiz_night": _K(
        True, ("Riverside Rotary Quiz Night - team registration\nTeam name: Quizteama Aguilera\n",),
        (("Captain's e-mail: {v}", "email"), ("Captain's mobile: {v}", "phone"),
         ("Tickets (6 x £12) paid by card {v}", "payment_card"),
         ("Or transfer to the club's account {v}", "iban"),
         ("Password for the answer-sheet app (hall Wi-Fi): {v}", "password"),
         ("Vice-captain's {w}: {v}", "phone email")),
        ("Table for 6, near the stage please.", "Dietary needs: 1 vegan.",
         "Raffle prizes welcome!"),
        (("Registered charity no. {v}", "order"), ("Raffle ticket block {v}", "order"),
         ("Card on file: {v}", "masked_card"), ("Organiser: {v}", "reserved_email"))),
    "band_tour_advance": _K(
        True, ("FERN HOLLOW - EU tour 2027 - advance sheet\nShow: Leipzig, Moritzbastei\n",),
        (("Promoter: Wilhelm Eriksen, {v}", "phone"), ("Promoter e-mail: {v}", "email"),
         ("Guarantee (€1,200) to the band's account {v}", "iban"),
         ("Venue Wi-Fi: {v}", "password"),
         ("Tour manager's mobile: {v}", "phone"),
         ("Merch card reader login: {+email} / {v}", "password"),
         ("Hotel booked on the label's card {v}", "payment_card"),
         ("Ticketing API key for the guest list: {v}", "vendor_token"),
         ("Stems for the support act to download: {SAS}", "azure_sas_signature"),
         ("Production contact, {w}: {v}", "phone email")),
        ("Load-in 15:00, soundcheck 17:00, doors 19:30.", "Curfew 23:00.",
         "Rider: water, fruit, 24 beers."),
        (("Hotel confirmation: {v}", "order"), ("Venue VAT ID: {v}", "eu_vat"),
         ("Old account (don't use): {v}", "masked_iban"),
         ("Merch login: {v}", "=same as last tour"))),
    "translator_brief": _K(
        True, ("LINGORIA TRANSLATIONS - job brief\nLanguage pair: DE > EN, 12,400 words\n",),
        (("Client portal password: {v}", "password"),
         ("Source files: sftp://jobs:{v}@files.lingoria-translations.com/in", "url_password"),
         ("DeepL key for the pre-translation (don't share): {v}", "vendor_token"),
         ("OpenAI key for the terminology script: {v}", "openai_api_key"),
         ("Google Translate API key for the QA check: {v}", "google_api_key"),
         ("PM's {w}: {v}", "phone email"),
         ("Your IBAN on file: {v} - please confirm", "iban"),
         ("Anthropic key for the review step: {v}", "anthropic_api_key"),
         ("Reference files (link expires with the job): {SAS}", "azure_sas_signature")),
        ("Deadline: 14 January, 09:00 CET.", "Use the client's termbase.",
         "Invoice at the end of the month."),
        (("PO number: {v}", "order"), ("Client VAT: {v}", "eu_vat"),
         ("The portal password is {v}", "=coming by SMS from your PM"),
         ("Job ID: {v}", "uuid"))),
    "blood_donor_form": _K(
        True, ("Blood donor registration - new donor\nDonor centre: Eastside\n",),
        (("E-mail: {v}", "email"), ("Mobile: {v}", "phone"), ("Home phone: {v}", "phone"),
         ("Social Security number (optional, to match your records): {v}", "us_ssn"),
         ("Emergency contact, {w}: {v}", "phone email")),
        ("Weight: over 110 lbs", "Travelled outside the US in the last 3 years: no",
         "Blood type (if known): O+"),
        (("Donation number: {v}", "din"), ("SSN: {v}", "masked_ssn"),
         ("Centre phone: {v}", "fiction_phone"))),
    "campsite_booking": _K(
        True, ("Campingplatz Pinecrest am See - Reservierung / reservation form\n",),
        (("E-Mail: {v}", "email"), ("Telefon / phone: {v}", "phone"),
         ("Anzahlung (deposit) card: {v}", "payment_card"),
         ("Rückerstattung der Kaution an IBAN: {v}", "iban"),
         ("Notfallkontakt, {w}: {v}", "phone email")),
        ("Stellplatz: 40 m², Strom ja", "Anreise 12.07., Abreise 19.07.", "Hund: ja"),
        (("Buchungsnr.: {v}", "order"), ("USt-IdNr.: {v}", "eu_vat"),
         ("Karte: {v}", "masked_card"))),
}

_MINIO_PLAY = ('"play": {"url": "https://play.min.io", "accessKey": "Q3AM3UQ867SPQQA43P2F", '
               '"secretKey": "zuf+tfteSlswRu7BJ86wekitnifILbZam1KYY3TG", "api": "S3v4"}')
_LOOK.update({
    "minio_play": lambda r: _MINIO_PLAY,
    "totp": lambda r: _dig(r, 6),
    "fs_id": lambda r: f"{_pick_chars(r, 4, _UPPER + _DIGITS)}-"
                       f"{_pick_chars(r, 3, _UPPER + _DIGITS)}",
    "project_no": lambda r: str(r.randint(10 ** 11, 10 ** 12 - 1)),
})

_KINDS.update({
    # --- machine text -----------------------------------------------------------------------
    "ada_package": _K(
        False, ("--  billing_config.ads - settings the billing daemon reads at start-up\n"
                "package Billing_Config is",),
        (('   Stripe_Key     : constant String := "{v}";', "stripe_key"),
         ('   Sendgrid_Key   : constant String := "{v}";', "sendgrid_api_key"),
         ('   Geocoder_Key   : constant String := "{v}";', "google_api_key"),
         ('   Ledger_URL     : constant String :=\n     "postgres://billing:{v}@ledger.crescentwave'
          '.io:5432/billing";', "url_password"),
         ('   Admin_Password : constant String := "{v}";', "password"),
         ('   Alert_Bot      : constant String := "{v}";  --  Telegram', "telegram_bot_token"),
         ('   Payout_IBAN    : constant String := "{v}";', "iban"),
         ('   Support_Mail   : constant String := "{v}";', "email"),
         ('   Ops_Phone      : constant String := "{v}";', "phone"),
         ('   Shipping_Token : constant String := "{v}";', "vendor_token")),
        ("   Retry_Limit    : constant := 5;", "   Timeout        : constant Duration := 30.0;",
         "   Currency       : constant String := \"EUR\";"),
        (('   Stripe_Key_Var : constant String := "{v}";  --  name of the variable',
          "=BILLING_STRIPE_KEY"),
         ('   Publishable    : constant String := "{v}";', "pk_live"),
         ('   Test_Card      : constant String := "{v}";  --  the processor\'s test number',
          "test_card_flat"),
         ('   Build_Id       : constant String := "{v}";', "sha1")),
        tail="end Billing_Config;", avoid='"', plain=True),
    "prolog_facts": _K(
        False, ("% credentials.pl - facts the assistant loads at start\n"
                ":- module(credentials, [api_key/2, contact/3, host/2, db_password/2]).",),
        (("api_key(openai, '{v}').", "openai_api_key"),
         ("api_key(anthropic, '{v}').", "anthropic_api_key"),
         ("api_key(huggingface, '{v}').", "huggingface_token"),
         ("api_key(inference, '{v}').", "vendor_token"),
         ("db_password(reporting, '{v}').", "password"),
         ("contact(oncall, phone, '{v}').", "phone"),
         ("contact(billing, email, '{v}').", "email"),
         ("host(gateway, '{v}').", "ipv4"), ("host(gateway6, '{v}').", "ipv6"),
         ("api_key(sendgrid, '{v}').", "sendgrid_api_key"),
         ("publish_token(npm, '{v}').", "npm_token")),
        ("retries(3).", "timeout_ms(15000).", "model(default, 'large-2027').", "% end of keys"),
        (("api_key(openai, env('{v}')).", "=OPENAI_API_KEY"),
         ("host(local, '{v}').", "private_ipv4"), ("host(docs, '{v}').", "doc_ipv4"),
         ("checksum(model, '{v}').", "sha256")),
        avoid="'\\"),
    "common_lisp_config": _K(
        False, (";;;; config.lisp - deploy settings for the scraper\n(in-package :scraper)",),
        (('(defparameter *aws-access-key-id* "{v}")', "aws_access_key_id"),
         ('(defparameter *aws-secret-access-key* "{v}")', "aws_secret_access_key"),
         ('(defparameter *aws-session-token*\n  "{v}")', "aws_session_token"),
         ('(defparameter *github-token* "{v}")', "github_token"),
         ('(defparameter *slack-token* "{v}")', "slack_token"),
         ('(defparameter *database-url*\n  "mysql://scraper:{v}@mysql.ostara-labs.dev:3306/'
          'scrape")', "url_password"),
         ('(defparameter *session-jwt* "{v}")', "jwt"),
         ('(setf (gethash :hf *tokens*) "{v}")', "huggingface_token"),
         ('(setf (gethash :gitlab *tokens*) "{v}")', "gitlab_token"),
         ('(defparameter *notify-address* "{v}")', "email"),
         ('(defparameter *deploy-key* "\n{v}\n")', "private_key")),
        ("(defparameter *max-pages* 500)", "(defparameter *user-agent* \"scraper/0.9\")",
         "(defparameter *delay-seconds* 2)"),
        (('(defparameter *github-token* (uiop:getenv "{v}"))', "=GITHUB_TOKEN"),
         ('(defparameter *aws-account* "{v}")', "aws_account"),
         ('(defparameter *doc-example-key* "{v}") ; from the AWS docs', "aws_example_id"),
         ('(defparameter *proxy-host* "{v}")', "private_ipv4")),
        avoid='"\\'),
    "icinga2_conf": _K(
        False, ("/* zones.d/master/hosts.conf - managed by hand, sorry */",),
        (('object ApiUser "root" {{\n  password = "{v}"\n  permissions = [ "*" ]\n}}', "password"),
         ('object Host "edge-fra-{n}" {{\n  address = "{v}"\n  check_command = "hostalive"\n}}',
          "ipv4"),
         ('object Host "edge-ams-{n}" {{\n  address6 = "{v}"\n  check_command = "hostalive"\n}}',
          "ipv6"),
         ('object User "oncall" {{\n  email = "{v}"\n}}', "email"),
         ('object User "oncall-sms" {{\n  pager = "{v}"\n}}', "phone"),
         ('const TelegramBotToken = "{v}"', "telegram_bot_token"),
         ('const SlackBotToken = "{v}"', "slack_token"),
         ('object Host "db-{n}" {{\n  address = "{v}"\n  vars.mysql_password = "{+password}"\n}}',
          "ipv4")),
        ('object HostGroup "edge" {{\n  display_name = "Edge nodes"\n}}',
         'apply Service "ping4" {{\n  check_command = "ping4"\n  assign where host.address\n}}'),
        (('object Host "lab-{n}" {{\n  address = "{v}"\n}}', "private_ipv4"),
         ('object Host "docs-example" {{\n  address6 = "{v}"\n}}', "doc_ipv6"),
         ('object Zone "master" {{\n  endpoints = [ "{v}" ]\n}}', "=icinga2-master1.localdomain"),
         ('object Host "fw-{n}" {{\n  vars.os_build = "{v}"\n}}', "version")),
        avoid='"\\', sep="\n\n"),
    "monitrc": _K(
        False, ("set daemon 60\nset log syslog",),
        (('set mailserver smtp.fastmail.com port 587\n    username "{+email}" password "{v}"\n'
          "    using tls", "password"),
         ("set alert {v}", "email"),
         ("set mmonit https://monit:{v}@mmonit.fernhollow.audio:8443/collector", "url_password"),
         ('set httpd port 2812\n    use address {v}\n    allow admin:"{+password}"', "ipv4"),
         ('set httpd port 2812\n    allow admin:"{v}"', "password"),
         ("check host upstream-{n} with address {v}\n    if failed ping then alert", "ipv4 ipv6"),
         ('check program slack-notify with path "/usr/local/bin/notify --token {v}"\n'
          "    if status != 0 then alert", "slack_token")),
        ("check system $HOST\n    if loadavg (5min) > 4 then alert",
         "check filesystem rootfs with path /\n    if space usage > 90% then alert"),
        (("set alert {v} not on {{ instance }}", "reserved_email"),
         ("check host lan-gw with address {v}\n    if failed ping then alert", "private_ipv4"),
         ("set httpd port 2812\n    allow @{v}", "=monitadmins")),
        avoid='"{}', sep="\n\n"),
    "keepalived_conf": _K(
        False, ("! Configuration File for keepalived",),
        (("global_defs {{\n   notification_email {{\n     {v}\n   }}\n   router_id LB_{n}\n}}",
          "email"),
         ("global_defs {{\n   smtp_server {v}\n   smtp_connect_timeout 30\n}}", "ipv4"),
         ("vrrp_instance VI_{n} {{\n    state MASTER\n    interface eth0\n    priority 150\n"
          "    authentication {{\n        auth_type PASS\n        auth_pass {v}\n    }}\n}}",
          "password"),
         ("vrrp_instance VI_{n} {{\n    unicast_peer {{\n        {v}\n    }}\n}}", "ipv4"),
         ("vrrp_instance VI_{n} {{\n    virtual_ipaddress {{\n        {v}/32 dev eth0\n    }}\n}}",
          "ipv4"),
         ("vrrp_instance VI6_{n} {{\n    virtual_ipaddress {{\n        {v}/64 dev eth0\n    }}\n}}",
          "ipv6")),
        ("vrrp_script chk_haproxy {{\n    script \"killall -0 haproxy\"\n    interval 2\n}}",),
        (("vrrp_instance VI_{n} {{\n    unicast_src_ip {v}\n}}", "private_ipv4"),
         ("global_defs {{\n   notification_email_from {v}\n}}", "reserved_email"),
         ("vrrp_instance VI_{n} {{\n    virtual_ipaddress {{\n        {v}/24\n    }}\n}}",
          "doc_ipv4")),
        avoid='"{}#!', sep="\n\n"),
    "netplan_yaml": _K(
        False, ("# /etc/netplan/01-netcfg.yaml\nnetwork:\n  version: 2\n  renderer: networkd",),
        (("  ethernets:\n    eno{n}:\n      addresses:\n        - {v}/29", "ipv4"),
         ('  ethernets:\n    eno{n}:\n      addresses:\n        - "{v}/64"', "ipv6"),
         ("  ethernets:\n    enp{n}s0:\n      routes:\n        - to: default\n          via: {v}",
          "ipv4"),
         ("  ethernets:\n    enp{n}s0:\n      nameservers:\n        addresses: [{v}]", "ipv4 ipv6"),
         ('  wifis:\n    wlp{n}s0:\n      access-points:\n        "Pinecrest-Guest":\n'
          '          password: "{v}"', "password"),
         ('  wifis:\n    wlan{n}:\n      access-points:\n        "eduroam":\n          auth:\n'
          '            key-management: eap\n            method: peap\n            identity: "{v}"\n'
          '            password: "{+password}"', "email")),
        ("  bridges:\n    br0:\n      interfaces: [eno1]\n      dhcp4: false",),
        (("  ethernets:\n    eno{n}:\n      addresses:\n        - {v}/24", "private_ipv4"),
         ('  ethernets:\n    eno{n}:\n      addresses:\n        - "{v}/64"', "local_ipv6"),
         ("  ethernets:\n    eno{n}:\n      match:\n        macaddress: \"{v}\"", "mac")),
        avoid='"\\'),
    "wpa_supplicant": _K(
        False, ("ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev\nupdate_config=1\n"
                "country=IE",),
        (('network={{\n    ssid="Bluefin-Office"\n    psk="{v}"\n    key_mgmt=WPA-PSK\n}}',
          "password"),
         ('network={{\n    ssid="eduroam"\n    key_mgmt=WPA-EAP\n    eap=PEAP\n    identity="{v}"\n'
          '    password="{+password}"\n    phase2="auth=MSCHAPV2"\n}}', "email"),
         ('network={{\n    ssid="Kilkee-Harbour"\n    key_mgmt=WPA-EAP\n    eap=TTLS\n'
          '    identity="{+email}"\n    password="{v}"\n}}', "password")),
        ('network={{\n    ssid="Cafe-Open"\n    key_mgmt=NONE\n    priority=1\n}}',),
        (('network={{\n    ssid="eduroam"\n    anonymous_identity="{v}"\n    key_mgmt=WPA-EAP\n}}',
          "=anonymous@ul.ie"),
         ('network={{\n    ssid="Lab"\n    bssid={v}\n    key_mgmt=WPA-PSK\n}}', "mac"),
         ('network={{\n    ssid="Old-Office"\n    identity="{v}"\n}}', "reserved_email")),
        avoid='"\\', sep="\n\n"),
    "ddclient_conf": _K(
        False, ("# /etc/ddclient.conf\ndaemon=300\nsyslog=yes\nssl=yes",),
        (("protocol=dyndns2\nserver=members.dyndns.org\nlogin=fernhollow\npassword='{v}'\n"
          "gigs.fernhollow.audio", "password"),
         ("protocol=digitalocean\nzone=fernhollow.audio\npassword={v}\nnas.fernhollow.audio",
          "vendor_token"),
         ("mail={v}", "email"), ("mail-failure={v}", "email"),
         ("# last address pushed: {v}", "ipv4 ipv6"),
         ("usev4=ifv4, ifv4=eth0\n# current WAN {v}", "ipv4"),
         ("usev6=ifv6, ifv6=eth0\n# current prefix address {v}", "ipv6")),
        ("use=web, web=checkip.dyndns.org", "ssl=yes\nquiet=yes"),
        (("# checkip test address {v}", "doc_ipv4"), ("login={v}", "reserved_email"),
         ("password='{v}'", "=changeme")),
        avoid="' ,#"),
    "composer_auth": _K(
        False, ("{",),
        (('  "github-oauth": {{"github.com": "{j}"}}', "github_token"),
         ('  "gitlab-token": {{"gitlab.com": "{j}"}}', "gitlab_token"),
         ('  "http-basic": {{"repo.packagist.com": {{"username": "token", "password": "{j}"}}}}',
          "password"),
         ('  "http-basic": {{"nova.laravel.com": {{"username": "{j}", "password": '
          '"{+password}"}}}}', "email"),
         ('  "bearer": {{"satis.crescentwave.io": "{j}"}}', "jwt"),
         ('  "bitbucket-oauth": {{"bitbucket.org": {{"consumer-key": "fernhollow-ci", '
          '"consumer-secret": "{j}"}}}}', "client_secret")),
        (),
        (('  "_comment": "{j}"', "=tokens for CI come from COMPOSER_AUTH, not this file"),
         ('  "_lock-hash": "{j}"', "sha256")),
        tail="}", sep=",\n"),
    "nuget_config": _K(
        False, ('<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n'
                "  <packageSourceCredentials>",),
        (('    <github>\n      <add key="Username" value="{+email}" />\n'
          '      <add key="ClearTextPassword" value="{v}" />\n    </github>', "github_token"),
         ('    <azure-artifacts>\n      <add key="Username" value="build" />\n'
          '      <add key="ClearTextPassword" value="{v}" />\n    </azure-artifacts>', "password"),
         ('    <myget>\n      <add key="Username" value="{v}" />\n'
          '      <add key="ClearTextPassword" value="{+vendor_token}" />\n    </myget>', "email"),
         ('    <gitlab>\n      <add key="Username" value="deploy" />\n'
          '      <add key="ClearTextPassword" value="{v}" />\n    </gitlab>', "gitlab_token"),
         ('    <proxy>\n      <add key="http_proxy.password" value="{v}" />\n    </proxy>',
          "password"),
         ('    <feed>\n      <add key="ApiKey" value="{v}" />\n    </feed>', "vendor_token"),
         ('    <config>\n      <add key="http_proxy" value="http://build:{v}@proxy.crescentwave.io:'
          '3128" />\n    </config>', "url_password")),
        ('    <!-- credentials for the private feeds -->',),
        (('    <github>\n      <add key="ClearTextPassword" value="%{v}%" />\n    </github>',
          "=NUGET_GITHUB_PAT"),
         ('    <signer>\n      <certificate fingerprint="{v}" hashAlgorithm="SHA256" />\n'
          "    </signer>", "sha256")),
        tail="  </packageSourceCredentials>\n</configuration>", avoid="\"'<>&"),
    "minio_mc_config": _K(
        False, ('{\n  "version": "10",\n  "aliases": {',),
        (('    "s3": {{"url": "https://s3.amazonaws.com", "accessKey": "{v}", "secretKey": '
          '"{+aws_secret_access_key}", "api": "s3v4", "path": "dns"}}', "aws_access_key_id"),
         ('    "archive": {{"url": "https://s3.eu-west-1.amazonaws.com", "accessKey": '
          '"{+aws_access_key_id}", "secretKey": "{j}", "api": "s3v4", "path": "auto"}}',
          "aws_secret_access_key"),
         ('    "backup": {{"url": "https://{v}:9000", "accessKey": "backup", "secretKey": '
          '"{+password}", "api": "s3v4", "path": "auto"}}', "ipv4"),
         ('    "edge6": {{"url": "https://[{v}]:9000", "accessKey": "edge", "secretKey": '
          '"{+password}", "api": "s3v4", "path": "auto"}}', "ipv6"),
         ('    "nas": {{"url": "https://nas.fernhollow.audio:9000", "accessKey": "admin", '
          '"secretKey": "{j}", "api": "s3v4", "path": "auto"}}', "password")),
        (),
        (('    {v}', "minio_play"),
         ('    "local": {{"url": "http://{v}:9000", "accessKey": "", "secretKey": "", '
          '"api": "s3v4", "path": "auto"}}', "private_ipv4")),
        tail="  }\n}", sep=",\n", avoid='"\\'),
    "android_logcat": _K(
        False, ("--------- beginning of main",),
        (("{ts}  4211  4290 D OkHttp  : Authorization: Bearer {v}", "jwt"),
         ("{ts}  4211  4233 I AuthRepository: login ok for {v}", "email"),
         ("{ts}  4211  4211 D CheckoutViewModel: card entered {v}", "payment_card"),
         ("{ts}  4211  4211 D ProfileFragment: phone={v}", "phone"),
         ("{ts}  4211  4320 W MapsInit: using key {v}", "google_api_key"),
         ("{ts}  4211  4320 D NetworkMonitor: public address {v}", "ipv4 ipv6"),
         ("{ts}  4211  4290 D OkHttp  : --> GET https://api.crescentwave.io/v1/sync?"
          "user=mobile&pass={v}", "url_password"),
         ("{ts}  4211  4330 D PaymentsConfig: secret={v}", "stripe_key"),
         ("{ts}  4211  4331 D SupportChat: init assistant with key {v}", "openai_api_key"),
         ("{ts}  4211  4332 D Telemetry: ingest token {v}", "vendor_token"),
         ("{ts}  4211  4334 D AwsCredentials: sessionToken={v}", "aws_session_token"),
         ("{ts}  4211  4335 D UploadWorker: PUT {SAS}", "azure_sas_signature")),
        ("{ts}  4211  4211 I ActivityManager: Displayed com.crescentwave.app/.MainActivity",
         "{ts}  4211  4240 W Choreographer: Skipped 31 frames!",
         "{ts}  4211  4211 D ViewRootImpl: visibility changed"),
        (("{ts}  4211  4211 I FirebaseApp: project number {v}", "project_no"),
         ("{ts}  4211  4320 D MapsInit: public tile token {v}", "mapbox_pk"),
         ("{ts}  4211  4320 D NetworkMonitor: local address {v}", "private_ipv4"),
         ("{ts}  4211  4211 I Install: id {v}", "uuid"),
         ("{ts}  4211  4233 I GoogleSignIn: client {v}", "google_client")),
        clock="%m-%d %H:%M:%S.{ms}"),
    "gedcom": _K(
        False, ("0 HEAD\n1 SOUR FTM\n1 GEDC\n2 VERS 5.5.1\n2 FORM LINEAR\n1 CHAR UTF-8",),
        (("0 @I{n}@ INDI\n1 NAME Ansel /Whitlock/\n1 SEX M\n1 SSN {v}", "us_ssn"),
         ("0 @I{n}@ INDI\n1 NAME Dagny /Rasmussen/\n1 SEX F\n1 SSN {v}", "us_ssn"),
         ("0 @I{n}@ INDI\n1 NAME Beatrix /Whitlock/\n1 EMAIL {v}", "email"),
         ("0 @I{n}@ INDI\n1 NAME Cormac /Whitlock/\n1 PHON {v}", "phone"),
         ("0 @SUBM1@ SUBM\n1 NAME Zofia Whitlock\n1 EMAIL {v}\n1 PHON {+phone}", "email"),
         ("0 @I{n}@ INDI\n1 NAME Quentin /Rasmussen/\n1 RESI\n2 PHON {v}", "phone")),
        ("0 @F1@ FAM\n1 HUSB @I1@\n1 WIFE @I2@", "0 @I9@ INDI\n1 NAME Emrys /Whitlock/\n"
         "1 BIRT\n2 DATE 14 MAR 1921"),
        (("0 @I{n}@ INDI\n1 NAME Wilhelm /Rasmussen/\n1 _FSFTID {v}", "fs_id"),
         ("0 @I{n}@ INDI\n1 NAME Philippa /Whitlock/\n1 REFN {v}", "order"),
         ("0 @I{n}@ INDI\n1 NAME Ximena /Whitlock/\n1 _UID {v}", "uuid")),
        tail="0 TRLR"),
    "edifact_paymul": _K(
        False, ("UNA:+.? '\nUNB+UNOC:3+ACHTERBERG:ZZZ+COBADEFF:ZZZ+261208:0914+PM{n}'\n"
                "UNH+1+PAYMUL:D:96A:UN'\nBGM+452+PAY{n}+9'\nDTM+137:261208:101'",),
        (("LIN+{n}'\nFII+OR+{v}:ACHTERBERG GMBH+COBADEFFXXX:25:5'", "iban"),
         ("SEQ++{n}'\nFII+BF+{v}:ERIKSEN MUSIKK+DNBANOKKXXX:25:5'", "iban"),
         ("SEQ++{n}'\nFII+BF+{v}:VILLANUEVA TRANSLATIONS+CAIXESBBXXX:25:5'", "iban"),
         ("CTA+IC+:KATALIN VILLANUEVA'\nCOM+{v}:TE'", "phone"),
         ("CTA+AD+:ACCOUNTS PAYABLE'\nCOM+{v}:EM'", "email")),
        ("MOA+9:1200.00'", "FTX+PMD+++INVOICE 2026 114'"),
        (("SEQ++{n}'\nFII+BF+{v}:SAMPLE BENEFICIARY+NWBKGB2LXXX:25:5'", "example_iban_flat"),
         ("NAD+OY+{v}::9'", "ean"), ("FII+I1++{v}:25:5'", "bic"),
         ("RFF+PQ:{v}'", "order")),
        tail="UNT+24+1'\nUNZ+1+PM1'", avoid="+:'?", plain=True, generic=False),
    "ubl_invoice": _K(
        False, ('<?xml version="1.0" encoding="UTF-8"?>\n<Invoice xmlns="urn:oasis:names:'
                'specification:ubl:schema:xsd:Invoice-2">\n  <cbc:ID>INV-2026-114</cbc:ID>',),
        (("  <cac:Contact>\n    <cbc:ElectronicMail>{v}</cbc:ElectronicMail>\n  </cac:Contact>",
          "email"),
         ("  <cac:Contact>\n    <cbc:Telephone>{v}</cbc:Telephone>\n  </cac:Contact>", "phone"),
         ("  <cac:PaymentMeans>\n    <cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>\n"
          "    <cac:PayeeFinancialAccount>\n      <cbc:ID>{v}</cbc:ID>\n"
          "    </cac:PayeeFinancialAccount>\n  </cac:PaymentMeans>", "iban"),
         ("  <cac:PaymentMeans>\n    <cbc:PaymentMeansCode>54</cbc:PaymentMeansCode>\n"
          "    <cac:CardAccount>\n      <cbc:PrimaryAccountNumberID>{v}"
          "</cbc:PrimaryAccountNumberID>\n      <cbc:NetworkID>VISA</cbc:NetworkID>\n"
          "    </cac:CardAccount>\n  </cac:PaymentMeans>", "payment_card"),
         ("  <cac:PaymentMandate>\n    <cac:PayerFinancialAccount>\n      <cbc:ID>{v}</cbc:ID>\n"
          "    </cac:PayerFinancialAccount>\n  </cac:PaymentMandate>", "iban")),
        ("  <cbc:IssueDate>2026-12-08</cbc:IssueDate>",
         "  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"),
        (('  <cbc:CompanyID schemeID="VAT">{v}</cbc:CompanyID>', "eu_vat"),
         ('  <cbc:EndpointID schemeID="0088">{v}</cbc:EndpointID>', "ean"),
         ('  <cbc:ID schemeID="0199">{v}</cbc:ID>', "lei"),
         ("  <cac:FinancialInstitutionBranch>\n    <cbc:ID>{v}</cbc:ID>\n"
          "  </cac:FinancialInstitutionBranch>", "bic")),
        tail="</Invoice>", avoid="\"'<>&", plain=True),
    "azure_pipelines": _K(
        False, ("trigger:\n  - main\npool:\n  vmImage: ubuntu-latest\nvariables:",),
        (("  - name: AWS_ACCESS_KEY_ID\n    value: {v}", "aws_access_key_id"),
         ("  - name: AWS_SECRET_ACCESS_KEY\n    value: '{v}'", "aws_secret_access_key"),
         ("  - name: AWS_SESSION_TOKEN\n    value: '{v}'", "aws_session_token"),
         ("  - name: NPM_TOKEN\n    value: {v}", "npm_token"),
         ("  - name: SENDGRID_API_KEY\n    value: {v}", "sendgrid_api_key"),
         ("  - name: BLOB_SAS_URL\n    value: '{SAS}'", "azure_sas_signature"),
         ("  - name: OPENAI_API_KEY\n    value: {v}", "openai_api_key"),
         ("  - name: ANTHROPIC_API_KEY\n    value: {v}", "anthropic_api_key"),
         ("  - name: SLACK_BOT_TOKEN\n    value: {v}", "slack_token"),
         ("  - name: HF_TOKEN\n    value: {v}", "huggingface_token"),
         ("  - name: ARM_CLIENT_SECRET\n    value: '{v}'", "client_secret"),
         ("  - name: DEPLOY_SSH_KEY\n    value: |\n      {v}", "private_key"),
         ("  - name: SMOKE_TEST_JWT\n    value: {v}", "jwt"),
         ("  - name: GITLAB_MIRROR_TOKEN\n    value: {v}", "gitlab_token"),
         ("  - name: DATABASE_URL\n    value: postgres://ci:{v}@pg-ci.crescentwave.io:5432/app",
          "url_password")),
        ("  - name: NODE_VERSION\n    value: '20.x'", "  - name: BUILD_CONFIGURATION\n"
         "    value: Release"),
        (("  - name: ARM_CLIENT_SECRET\n    value: {v}", "=$(armClientSecret)"),
         ("  - group: {v}", "=release-secrets"),
         ("  - name: ARM_TENANT_ID\n    value: {v}", "uuid"),
         ("  - name: NPM_TOKEN\n    value: {v}", "=$[variables.npmTokenFromKeyVault]")),
        tail="steps:\n  - script: npm ci && npm run build\n    displayName: Build",
        avoid="'\"#"),
    "pass_session": _K(
        False, ("$ pass ls\nPassword Store\n├── bank\n├── cloud\n├── dev\n└── web",),
        (("$ pass show web/lichess.org\n{v}\nlogin: {+email}", "password"),
         ("$ pass show web/fastmail\n{v}\nuser: {+email}", "password"),
         ("$ pass show cloud/aws-backup\n{v}\naccess_key_id: {+aws_access_key_id}",
          "aws_secret_access_key"),
         ("$ pass show dev/github-token\n{v}", "github_token"),
         ("$ pass show dev/npm\n{v}", "npm_token"),
         ("$ pass show dev/huggingface\n{v}", "huggingface_token"),
         ("$ pass show ssh/deploy-key\n{v}", "private_key"),
         ("$ pass show db/reporting-url\npostgresql://report:{v}@pg.fernhollow.audio:5432/sales",
          "url_password"),
         ("$ pass show bank/visa\n{v}\nexp: 09/29", "payment_card"),
         ("$ pass show bank/iban\n{v}", "iban"),
         ("$ pass show dev/telegram-bot\n{v}", "telegram_bot_token"),
         ("$ pass show cloud/aws-sso-session\n{v}", "aws_session_token"),
         ("$ pass show cloud/blob-share-link\n{SAS}", "azure_sas_signature"),
         ("$ pass show dev/staging-jwt\n{v}", "jwt")),
        ("$ pass git pull\nAlready up to date.", "$ pass insert -m web/notes\n"
         "Enter contents of web/notes and press Ctrl+D when finished:"),
        (("$ pass otp web/fastmail-2fa\n{v}", "totp"),
         ("$ pass show bank/online\n{v}", "=gpg: decryption failed: No secret key"),
         ("$ pass git log -1 --format=%H\n{v}", "sha1")),
        sep="\n$ clear\n"),
})


# --- the composer --------------------------------------------------------------------------------

_SLOT = re.compile(r"\{(v|j|again|w|ts|n|who|\+[a-z0-9_]+)\}")
_QUOTE_CHARS = "\"'`"

_Span = tuple[int, int, "str | None", str]


def _literal(text: str) -> str:
    return text.replace("{{", "{").replace("}}", "}")


def _sas_link(rnd: random.Random) -> str:
    account = rnd.choice(("ostaraexports", "fernhollowmedia", "crescentwavebackups"))
    return (f"https://{account}.blob.core.windows.net/{rnd.choice(('exports', 'backups', 'media'))}"
            f"/{rnd.choice(('events', 'stems', 'invoices'))}-{rnd.randint(10, 99)}."
            f"{rnd.choice(('zip', 'tar.gz', 'jsonl'))}?sp={rnd.choice(('r', 'rl', 'racw'))}"
            f"&st=2026-12-0{rnd.randint(1, 8)}T09:00:00Z&se=2027-0{rnd.randint(1, 3)}-"
            f"{rnd.randint(10, 28)}T17:00:00Z&spr=https&sv=2024-11-04&sr=b&sig={{v}}")


def _kind_types(kind: _Kind) -> list[str]:
    return sorted({t for _, types in kind.slots for t in types.split()})


#: Type -> how many artifact kinds can hold it.
_HOLDERS = Counter(t for kind in _KINDS.values() for t in _kind_types(kind))


def _mutate(rnd: random.Random, shown: str) -> str:
    """``shown`` with one digit changed (not in a card's issuer prefix nor an IBAN's country
    and check digits), so that its checksum fails."""
    places = [i for i, c in enumerate(shown) if c.isdigit()]
    places = [i for i in places if i >= 4] if shown[:2].isalpha() else places[6:]
    at = rnd.choice(places)
    twin = shown[:at] + rnd.choice([c for c in _DIGITS if c != shown[at]]) + shown[at + 1:]
    assert not (iban_ok(twin) if twin[:2].isalpha() else luhn_ok(twin)), twin
    return twin


class _Doc:
    """A document being written: its items (text and spans within it), joined at the end."""

    def __init__(self, kind: _Kind, rnd: random.Random) -> None:
        self.kind = kind
        self.rnd = rnd
        self.items: list[tuple[str, list[_Span]]] = []
        self.used: set[str] = set()
        self.clock = datetime(2026, 12, rnd.randint(1, 8), rnd.randint(7, 21),
                              rnd.randint(0, 59), rnd.randint(0, 59))
        self.count = rnd.randint(1, 8)

    # -- values --

    def _forbidden(self, template: str, start: int, end: int) -> str:
        """Characters a secret at ``template[start:end]`` must not hold."""
        before = template[start - 1] if start else "\n"
        after = template[end] if end < len(template) else "\n"
        if before in _QUOTE_CHARS and after == before:
            return self.kind.avoid + before
        if before == "\n" and after == "\n":  # a value on a line of its own
            return self.kind.avoid
        return (self.kind.avoid + " \t" + (after if after != "\n" else "")
                + (_QUOTE_CHARS if self.kind.prose else ""))

    def _value(self, type_: str, forbidden: str) -> str:
        make = _MAKERS[type_]
        for _ in range(3000):
            if type_ in _PLAIN_TYPES:
                value = make(self.rnd, self.kind.plain)
                if type_ == "phone" and "+" in self.kind.avoid and value.startswith("+"):
                    value = "00" + value[1:]
            else:
                value = make(self.rnd)
            if type_ == "private_key":
                return value
            bad = forbidden if type_ in _SECRET_TYPES else self.kind.avoid
            if not any(c in bad for c in value):
                return value
        raise AssertionError(f"no {type_} without {forbidden!r}")

    def _decoy(self, maker: str, place: str | None, template: str) -> str:
        if maker.startswith("="):
            return maker[1:]
        found = re.search(r"\{(v|j|SAS)\}", template)
        assert found is not None, template
        forbidden = self._forbidden(template, found.start(), found.end())
        if place not in _SECRET_TYPES:
            forbidden = self.kind.avoid
        for _ in range(200):
            value = _LOOK[maker](self.rnd)
            if not any(c in forbidden for c in value):
                return value
        return "********"

    def _tick(self) -> str:
        self.clock += timedelta(seconds=self.rnd.randint(5, 1200))
        stamp = self.clock.strftime(self.kind.clock)
        return stamp.replace("{ms}", f"{self.rnd.randint(0, 999):03d}")

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
        """``template`` written out: ``{v}`` holds ``value`` (a decoy of kind ``decoy``) or a
        fresh value of ``type_``, each ``{+type}`` a fresh real value of that type."""
        rnd = self.rnd
        if "{SAS}" in template:
            template = template.replace("{SAS}", _sas_link(rnd))
        parts: list[str] = []
        spans: list[_Span] = []
        size = pos = 0
        main: tuple[str, str | None, str] | None = None
        last: tuple[str, str | None, str] | None = None
        for m in _SLOT.finditer(template):
            piece = _literal(template[pos:m.start()])
            parts.append(piece)
            size += len(piece)
            pos = m.end()
            key = m.group(1)
            if key == "ts":
                text = self._tick()
            elif key == "n":
                self.count += 1
                text = str(self.count)
            elif key == "who":
                text = rnd.choice(_WHO)
            elif key == "w":
                assert type_ is not None, template
                text = rnd.choice(_NAMES[type_])
            else:
                if key in ("v", "j"):
                    if main is None:
                        if value is None:
                            assert type_ is not None, template
                            value = self._value(type_,
                                                self._forbidden(template, m.start(), m.end()))
                        main = (value, None if decoy else type_, decoy)
                    current = main
                elif key == "again":
                    assert last is not None, template
                    current = last
                else:
                    extra = key[1:]
                    current = (self._value(extra, self._forbidden(template, m.start(), m.end())),
                               extra, "")
                text = self._shown(current[0], template, m.start(), key == "j")
                spans.append((size, size + len(text), current[1], current[2]))
                last = current
            parts.append(text)
            size += len(text)
        parts.append(_literal(template[pos:]))
        return "".join(parts), spans

    # -- items --

    def put(self, template: str, type_: str | None = None, value: str | None = None,
            decoy: str = "") -> None:
        self.used.add(template)
        self.items.append(self.render(template, type_, value, decoy))

    def slot(self, type_: str, bare: bool = False) -> str | None:
        """A template taking ``type_`` (holding no other value when ``bare``), preferably one
        not used yet in this document."""
        options = [t for t, types in self.kind.slots if type_ in types.split()
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
        own = [(t, f) for t, f in kind.own if t + f not in self.used]
        generic = [(place, family) for place in types for family in _GENERIC.get(place, ())
                   if kind.generic and self.slot(place, bare=True) is not None]
        if own and (not generic or rnd.random() < 0.6):
            template, maker = rnd.choice(own)
            self.used.add(template + maker)
            self.put(template, None, self._decoy(maker, None, template), "lookalike")
            return True
        if not generic:
            return False
        place, maker = rnd.choice(generic)
        template = self.slot(place, bare=True)
        assert template is not None
        self.put(template, place, self._decoy(maker, place, template), "lookalike")
        return True

    def finish(self, head: str) -> tuple[str, list[PlantedQ], list[str]]:
        kind = self.kind
        text = head + "\n"
        planted: list[PlantedQ] = []
        shown: list[str] = []
        for i, (body, spans) in enumerate(self.items):
            if i:
                text += kind.sep
            for start, end, type_, decoy in spans:
                shown.append(body[start:end])
                planted.append((len(text) + start, len(text) + end, type_, False, decoy))
            text += body
        text += "\n"
        if kind.tail:
            tail, spans = self.render(kind.tail)
            assert not spans
            text += tail + "\n"
        planted = [(s, e, t, self._in_prose(text, s, e, t), d) for s, e, t, _, d in planted]
        return text, planted, shown

    def _in_prose(self, text: str, start: int, end: int, type_: str | None) -> bool:
        """Whether a value stands in prose: not a key or block pasted in, nor on a line
        indented as code."""
        value = text[start:end]
        if not self.kind.prose or type_ == "private_key" or "\n" in value \
                or value.startswith("-----BEGIN"):
            return False
        line = text[text.rfind("\n", 0, start) + 1:]
        return not line.startswith(("    ", "\t"))


def _choose(rnd: random.Random, types: Sequence[str], count: int) -> list[str]:
    """``count`` of ``types``, those fewer kinds hold drawn more often, so that every type
    is planted about as often overall."""
    pool = list(types)
    chosen: list[str] = []
    while pool and len(chosen) < count:
        pick = rnd.choices(pool, weights=[_HOLDERS[t] ** -2.2 for t in pool])[0]
        chosen.append(pick)
        pool.remove(pick)
    return chosen


def _compose(seed: int, count: int) -> list[tuple[str, list[PlantedQ], list[str]]]:
    rnd = random.Random(f"held-out set Q / {seed}")
    names = sorted(_KINDS)
    out: list[tuple[str, list[PlantedQ], list[str]]] = []
    for number in range(count):
        kind = _KINDS[names[(number * 7 + seed) % len(names)]]
        doc = _Doc(kind, rnd)
        head, spans = doc.render(rnd.choice(kind.heads))
        assert not spans
        types = _kind_types(kind)
        chosen = _choose(rnd, types, rnd.randint(2, 4))
        plan: list[tuple[str, str]] = [(t, "") for t in chosen]
        twins = [t for t in ("payment_card", "iban") if t in types]
        if twins and rnd.random() < 0.85:
            plan.append((rnd.choice(twins), "mutated"))
        plan += [("", "lookalike")] * (2 if rnd.random() < 0.35 else 1)
        rnd.shuffle(plan)
        filler = list(kind.filler)
        rnd.shuffle(filler)
        placed = 0
        for type_, decoy in plan:
            if decoy == "lookalike":
                doc.lookalike(types)
            elif decoy == "mutated":
                doc.twin(type_)
            else:
                placed += doc.real(type_)
            if filler and rnd.random() < 0.55:
                doc.put(filler.pop())
        spare = [t for t in types if t not in chosen]
        rnd.shuffle(spare)
        while placed < 2 and spare:
            placed += doc.real(spare.pop())
        out.append(doc.finish(head))
    return out


def documents_q(seed: int, count: int) -> list[tuple[str, list[PlantedQ]]]:
    """``count`` documents of set Q, artifact kinds in turn, each with 2-4 planted values
    (a few more where an item holds two), one or two look-alikes and, in most documents that
    hold a card number or IBAN, a one-digit-mutated twin of one."""
    return [(text, planted) for text, planted, _ in _compose(seed, count)]
