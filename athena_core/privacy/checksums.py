"""Check digits and number ranges: Luhn, IBAN mod-97 with each country's length, card
issuer ranges, US Social Security number rules.

Pure functions over digit strings, shared by the detectors and by the benchmark's corpus
generator (which must produce numbers the real schemes accept).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["CARD_ISSUERS", "IBAN_LENGTHS", "card_issuer", "iban_check_digits", "iban_valid",
           "luhn_check_digit", "luhn_valid", "ssn_valid"]


def luhn_valid(digits: str) -> bool:
    """Whether the digit string ``digits`` passes the Luhn check (ISO/IEC 7812-1)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass the Luhn check."""
    for digit in "0123456789":
        if luhn_valid(payload + digit):
            return digit
    raise AssertionError("unreachable: one of ten digits always completes a Luhn number")


#: Issuer -> ((first digits low, high), allowed lengths) ranges, from the issuers' published
#: IIN ranges, with the ranges still in circulation that older tables list (JCB's 15-digit
#: 1800 and 2131, Diners Club 38-39 with 14 digits, Maestro's 50 and 56-69 blocks as the
#: widely used card-type tables give them: 50, 56-59, 63, 67), UnionPay's 62 and Mir's
#: 2200-2204. A number is a card number only if its prefix falls in a range whose lengths
#: include its own length.
CARD_ISSUERS: Mapping[str, tuple[tuple[tuple[int, int], tuple[int, ...]], ...]] = {
    "visa": (((4, 4), (13, 16, 19)),),
    "mastercard": (((51, 55), (16,)), ((2221, 2720), (16,))),
    "amex": (((34, 34), (15,)), ((37, 37), (15,))),
    "discover": (((6011, 6011), (16, 17, 18, 19)), ((644, 649), (16, 17, 18, 19)),
                 ((65, 65), (16, 17, 18, 19)), ((622126, 622925), (16, 17, 18, 19))),
    "jcb": (((3528, 3589), (16, 17, 18, 19)), ((1800, 1800), (15,)), ((2131, 2131), (15,))),
    "diners": (((300, 305), (14, 15, 16, 17, 18, 19)), ((3095, 3095), (14, 15, 16, 17, 18, 19)),
               ((36, 36), (14, 15, 16, 17, 18, 19)), ((38, 39), (14, 16, 17, 18, 19))),
    "maestro": (((50, 50), tuple(range(12, 20))), ((56, 59), tuple(range(12, 20))),
                ((63, 63), tuple(range(12, 20))), ((67, 67), tuple(range(12, 20)))),
    "unionpay": (((62, 62), (16, 17, 18, 19)),),
    "mir": (((2200, 2204), (16, 17, 18, 19)),),
}


def card_issuer(digits: str) -> str | None:
    """The issuer whose IIN range and lengths ``digits`` fits, or ``None`` (no Luhn check)."""
    for issuer, ranges in CARD_ISSUERS.items():
        for (low, high), lengths in ranges:
            width = len(str(low))
            if len(digits) in lengths and low <= int(digits[:width]) <= high:
                return issuer
    return None


#: Country code -> IBAN length, for every country of the SWIFT IBAN registry.
IBAN_LENGTHS: Mapping[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


def _mod97(country: str, check: str, bban: str) -> int:
    rearranged = bban + country + check
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97


def iban_check_digits(country: str, bban: str) -> str:
    """The two check digits of the IBAN of ``country`` with account part ``bban``."""
    return f"{98 - _mod97(country, '00', bban):02d}"


def iban_valid(iban: str) -> bool:
    """Whether ``iban`` (upper case, no spaces) has its country's length and passes mod-97."""
    country = iban[:2]
    return (IBAN_LENGTHS.get(country) == len(iban) and iban[2:4].isdigit()
            and iban[4:].isalnum() and iban.isascii()
            and _mod97(country, iban[2:4], iban[4:]) == 1)


#: Numbers the Social Security Administration never issued but that circulate (an
#: advertising card, a sample in a wallet insert).
_SSN_NEVER_ISSUED = frozenset({"078051120", "219099999", "123456789"})


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """Whether a US Social Security number could have been issued: area not 000, 666 or
    900-999; group not 00; serial not 0000; not one of the well-known sample numbers."""
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return area + group + serial not in _SSN_NEVER_ISSUED
