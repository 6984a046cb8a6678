"""The twelfth fresh held-out set of the privacy benchmark (set N): HELD OUT.

Written on 2026-12-08 after set M had been evaluated (and spent), during round 12 and blind
to its detector changes, without running the detectors on it; committed on its own first.
``benchmarks/privacy.py`` scores it once, at the end of round 12, as "held-out N"; a miss
found here is reported, not fixed against this set.

Nothing here comes from sets A-M: no Faker, no ``athena_core`` import and no import of an
earlier set (Luhn, mod-97 and the SSN rules are written again below), its own value
generators and its own composer. Each document is one artifact of a kind no earlier set
uses (:data:`_ARTIFACTS`):

* prose: neighbourhood-forum posts, mailing-list digests, allotment applications, escrow
  instruction letters, wire-recall requests, pledge cards, car-pool sign-ups, team-roster
  e-mails, podcast guest forms, mooring applications, funeral arrangement forms,
  deposit-return requests, parental-leave handover notes, dental recall replies, choir tour
  forms, tenants' association minutes, sublet agreements and genealogy forum replies;
* machine text: Podman Quadlet units, justfiles, Taskfiles, Tiltfiles, direnv ``.envrc``
  files, Terragrunt configuration, Drone and Woodpecker CI pipelines, Varnish VCL, Samba
  ``smb.conf``, dnsmasq configuration, Zabbix agent configuration, ``terraform plan``
  output, Raku source, awk scripts, ``nmap`` output, Dovecot configuration and Cloudflare
  ``wrangler.toml`` files.

``in_prose`` is true for the first group: posts, letters, notes and filled-in forms. A key
pasted into a letter as a block, or a line indented as code, is not prose.

Values: vendors' documented token formats (prefix, length and alphabet as each vendor
documents them), a broad mix with vendors of its own next to the listed types in several of
their documented prefixes; passwords as people and password managers make them, with
symbols, quotes and spaces where the syntax allows them, and percent-encoded inside URLs;
cards of the listed issuer ranges only (Visa 13/16/19, Mastercard 51-55 and 2221-2720, Amex,
Discover, JCB, Diners, Maestro) written as issuers group them; IBANs of many countries with
the registry's BBAN shapes; SSNs written several ways; phones of many countries in national
and international writings, none in a range set aside for fiction; e-mail addresses; public
IPv4 and IPv6 addresses.

Decoys sit where such values really sit in each artifact, chosen as a careful adversary of
a scanner would choose them: values a reader recognises as samples, references to values
kept elsewhere, masks, placeholders, identifiers and numbers that are not sensitive, values
reserved for documentation or fiction, and one-digit-mutated card numbers and IBANs where a
card number or IBAN goes.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable, Sequence
from urllib.parse import quote

import attrs

__all__ = ["KINDS_N", "PlantedN", "documents_n"]

_LO = string.ascii_lowercase
_UP = string.ascii_uppercase
_DG = string.digits
_ALNUM = string.ascii_letters + string.digits
_B64 = _ALNUM + "+/"
_URLSAFE = _ALNUM + "_-"
_HX = "0123456789abcdef"
_BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"

#: (start, end, type or None for a decoy, in prose, decoy kind: "", "lookalike", "mutated").
PlantedN = tuple[int, int, "str | None", bool, str]


def _r(rnd: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def _n(rnd: random.Random, n: int) -> str:
    return _r(rnd, n, _DG)


# --- checksums ----------------------------------------------------------------------------


def luhn_ok(number: str) -> bool:
    """Whether the digits of ``number`` (other characters ignored) pass the Luhn check."""
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _with_check_digit(body: str) -> str:
    return next(body + c for c in _DG if luhn_ok(body + c))


def _mod97(text: str) -> int:
    numeric = "".join(str(int(c, 36)) for c in text)
    return int(numeric) % 97


def iban_ok(value: str) -> bool:
    """Whether ``value`` (spaces allowed) passes the ISO 13616 mod-97 check."""
    flat = value.replace(" ", "")
    return len(flat) > 4 and flat[:2].isalpha() and _mod97(flat[4:] + flat[:4]) == 1


def ssn_issuable(value: str) -> bool:
    """Whether ``value`` could be an issued SSN: area 001-899 but not 666, group 01-99,
    serial 0001-9999, not a number SSA names as advertised or reserved for advertising."""
    d = "".join(c for c in value if c.isdigit())
    if len(d) != 9:
        return False
    area, group, serial = int(d[:3]), int(d[3:5]), int(d[5:])
    return (0 < area < 900 and area != 666 and group > 0 and serial > 0
            and d not in ("078051120", "219099999"))


# --- personal values ------------------------------------------------------------------------

_CARD_MAKERS: tuple[tuple[Callable[[random.Random], str], tuple[int, ...]], ...] = (
    (lambda r: "4" + _n(r, 5), (16, 16, 13, 19)),                               # Visa
    (lambda r: "5" + r.choice("12345") + _n(r, 4), (16,)),                      # Mastercard
    (lambda r: str(r.randint(2221, 2720)) + _n(r, 2), (16,)),                   # Mastercard 2
    (lambda r: "3" + r.choice("47") + _n(r, 4), (15,)),                         # Amex
    (lambda r: r.choice(("6011", "65" + _n(r, 2), str(r.randint(644, 649)) + _n(r, 1)))
     + _n(r, 2), (16,)),                                                          # Discover
    (lambda r: "35" + str(r.randint(28, 89)) + _n(r, 2), (16,)),                # JCB
    (lambda r: r.choice(("36", "38", "300", "305")) + _n(r, 3), (14,)),         # Diners
    (lambda r: r.choice(("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762",
                         "6763")) + _n(r, 2), (16, 18, 19)),                      # Maestro
)
_VENDOR_TEST_CARDS = frozenset({
    "4242424242424242", "4111111111111111", "4000056655665556", "5555555555554444",
    "2223003122003222", "5200828282828210", "378282246310005", "371449635398431",
    "6011111111111117", "6011000990139424", "3566002020360505", "30569309025904",
    "36227206271667", "6759649826438453"})


def _group(digits: str, sep: str) -> str:
    sizes = {14: (4, 6, 4), 15: (4, 6, 5)}.get(len(digits))
    if sizes is None:
        return sep.join(digits[i:i + 4] for i in range(0, len(digits), 4))
    out, at = [], 0
    for size in sizes:
        out.append(digits[at:at + size])
        at += size
    return sep.join(out)


def card_n(rnd: random.Random) -> str:
    while True:
        prefix, lengths = rnd.choice(_CARD_MAKERS)
        length = rnd.choice(lengths)
        digits = _with_check_digit((prefix(rnd) + _n(rnd, 19))[:length - 1])
        if digits not in _VENDOR_TEST_CARDS:
            break
    sep = rnd.choice(("", " ", " ", "-", ""))
    return _group(digits, sep) if sep else digits


#: Country -> BBAN shape as the IBAN registry gives it (n digits, a capitals, c either).
_BBAN = {
    "AD": "4n 4n 12c", "AE": "3n 16n", "AT": "5n 11n", "BE": "3n 7n 2n", "BH": "4a 14c",
    "BR": "8n 5n 10n 1a 1c", "CH": "5n 12c", "CY": "3n 5n 16c", "CZ": "4n 6n 10n",
    "DE": "8n 10n", "DK": "4n 9n 1n", "EE": "2n 2n 11n 1n", "ES": "4n 4n 1n 1n 10n",
    "FI": "3n 11n", "FR": "5n 5n 11c 2n", "GB": "4a 6n 8n", "GR": "3n 4n 16c",
    "HR": "7n 10n", "HU": "3n 4n 1n 15n 1n", "IE": "4a 6n 8n", "IL": "3n 3n 13n",
    "IQ": "4a 3n 12n", "IS": "4n 2n 6n 10n", "IT": "1a 5n 5n 12c", "JO": "4a 4n 18c",
    "KW": "4a 22c", "LI": "5n 12c", "LT": "5n 11n", "LU": "3n 13c", "LV": "4a 13c",
    "MC": "5n 5n 11c 2n", "MT": "4a 5n 18c", "NL": "4a 10n", "NO": "4n 6n 1n",
    "PL": "8n 16n", "PT": "4n 4n 11n 2n", "QA": "4a 21c", "RO": "4a 16c", "SA": "2n 18c",
    "SE": "3n 16n 1n", "SI": "5n 8n 2n", "SK": "4n 6n 10n", "SM": "1a 5n 5n 12c",
    "TR": "5n 1n 16c", "VA": "3n 15n", "BY": "4c 4n 16c", "LC": "4a 24c", "SC": "4a 2n 2n 16n 3a",
}
_REGISTRY_EXAMPLES = frozenset({"GB29NWBK60161331926819", "DE89370400440532013000",
                                "GB82WEST12345698765432", "CH9300762011623852957",
                                "NL91ABNA0417164300", "BE68539007547034"})


def iban_n(rnd: random.Random) -> str:
    while True:
        country = rnd.choice(sorted(_BBAN))
        bban = "".join(
            _n(rnd, int(p[:-1])) if p[-1] == "n" else _r(rnd, int(p[:-1]), _UP)
            if p[-1] == "a" else _r(rnd, int(p[:-1]), _UP + _DG * 3)
            for p in _BBAN[country].split())
        flat = f"{country}{98 - _mod97(bban + country + '00'):02d}{bban}"
        if flat not in _REGISTRY_EXAMPLES:
            break
    assert iban_ok(flat)
    return flat if rnd.random() < 0.45 else " ".join(flat[i:i + 4]
                                                      for i in range(0, len(flat), 4))


def ssn_n(rnd: random.Random) -> str:
    while True:
        d = f"{rnd.randint(1, 899):03d}{rnd.randint(1, 99):02d}{rnd.randint(1, 9999):04d}"
        if ssn_issuable(d):
            break
    return rnd.choice((f"{d[:3]}-{d[3:5]}-{d[5:]}", f"{d[:3]}-{d[3:5]}-{d[5:]}",
                       f"{d[:3]} {d[3:5]} {d[5:]}", d, f"{d[:3]}/{d[3:5]}/{d[5:]}"))


def _us(rnd: random.Random) -> str:
    area = rnd.choice(("215", "303", "317", "404", "469", "503", "608", "702", "808", "904",
                       "919", "952"))
    exch = str(rnd.randint(212, 979))
    while exch == "555" or exch[1:] == "11":
        exch = str(rnd.randint(212, 979))
    line = _n(rnd, 4)
    return rnd.choice((f"{area}.{exch}.{line}", f"({area}){exch}-{line}",
                       f"+1-{area}-{exch}-{line}",
                       f"+1 ({area}) {exch}-{line}", f"{area} {exch} {line}"))


#: Phone writers of many countries, none in a range set aside for fiction or documentation.
_PHONES: tuple[Callable[[random.Random], str], ...] = (
    _us, _us,
    lambda r: r.choice((f"+44 7{r.choice('4589')}{_n(r, 2)} {_n(r, 3)} {_n(r, 3)}",
                        f"07{r.choice('4589')}{_n(r, 2)} {_n(r, 6)}")),
    lambda r: r.choice((f"+49 151 {_n(r, 8)}", f"0172/{_n(r, 7)}")),
    lambda r: r.choice((f"+33 6 {_n(r, 2)} {_n(r, 2)} {_n(r, 2)} {_n(r, 2)}",
                        f"07 {_n(r, 2)} {_n(r, 2)} {_n(r, 2)} {_n(r, 2)}")),
    lambda r: r.choice((f"+31 6 {_n(r, 4)} {_n(r, 4)}", f"06-{_n(r, 8)}")),
    lambda r: r.choice((f"+32 47{_n(r, 1)} {_n(r, 2)} {_n(r, 2)} {_n(r, 2)}",
                        f"049{_n(r, 1)}/{_n(r, 2)}.{_n(r, 2)}.{_n(r, 2)}")),
    lambda r: r.choice((f"+41 79 {_n(r, 3)} {_n(r, 2)} {_n(r, 2)}",
                        f"078 {_n(r, 3)} {_n(r, 2)} {_n(r, 2)}")),
    lambda r: r.choice((f"+43 664 {_n(r, 7)}", f"0650 {_n(r, 3)} {_n(r, 4)}")),
    lambda r: r.choice((f"+46 70-{_n(r, 3)} {_n(r, 2)} {_n(r, 2)}", f"073-{_n(r, 7)}")),
    lambda r: r.choice((f"+45 {_n(r, 2)} {_n(r, 2)} {_n(r, 2)} {_n(r, 2)}",)),
    lambda r: r.choice((f"+353 8{r.choice('3567')} {_n(r, 3)} {_n(r, 4)}",
                        f"08{r.choice('3567')} {_n(r, 3)} {_n(r, 4)}")),
    lambda r: r.choice((f"+351 91{_n(r, 1)} {_n(r, 3)} {_n(r, 3)}", f"96{_n(r, 1)} {_n(r, 3)} "
                        f"{_n(r, 3)}")),
    lambda r: r.choice((f"+48 5{_n(r, 2)} {_n(r, 3)} {_n(r, 3)}", f"6{_n(r, 2)}-{_n(r, 3)}-"
                        f"{_n(r, 3)}")),
    lambda r: r.choice((f"+90 53{_n(r, 1)} {_n(r, 3)} {_n(r, 2)} {_n(r, 2)}",
                        f"0 (54{_n(r, 1)}) {_n(r, 3)} {_n(r, 2)} {_n(r, 2)}")),
    lambda r: r.choice((f"+27 8{_n(r, 1)} {_n(r, 3)} {_n(r, 4)}", f"07{_n(r, 1)} {_n(r, 3)} "
                        f"{_n(r, 4)}")),
    lambda r: r.choice((f"+234 80{_n(r, 1)} {_n(r, 3)} {_n(r, 4)}", f"0803 {_n(r, 3)} {_n(r, 4)}")),
    lambda r: r.choice((f"+65 9{_n(r, 3)} {_n(r, 4)}", f"8{_n(r, 3)} {_n(r, 4)}")),
    lambda r: r.choice((f"+852 9{_n(r, 3)} {_n(r, 4)}",)),
    lambda r: r.choice((f"+82 10-{_n(r, 4)}-{_n(r, 4)}", f"010-{_n(r, 4)}-{_n(r, 4)}")),
    lambda r: r.choice((f"+86 13{_n(r, 1)} {_n(r, 4)} {_n(r, 4)}", f"158{_n(r, 8)}")),
    lambda r: r.choice((f"+63 917 {_n(r, 3)} {_n(r, 4)}", f"0918-{_n(r, 3)}-{_n(r, 4)}")),
    lambda r: r.choice((f"+54 9 11 {_n(r, 4)}-{_n(r, 4)}", f"011 15-{_n(r, 4)}-{_n(r, 4)}")),
    lambda r: r.choice((f"+1 416 {r.randint(212, 549)} {_n(r, 4)}",
                        f"(604) {r.randint(560, 899)}-{_n(r, 4)}")),
    lambda r: r.choice((f"+61 4{_n(r, 2)} {_n(r, 3)} {_n(r, 3)}".replace("+61 49", "+61 41"),)),
    lambda r: r.choice((f"+212 6{_n(r, 2)}-{_n(r, 6)}", f"06 {_n(r, 2)} {_n(r, 2)} {_n(r, 2)} "
                        f"{_n(r, 2)}")),
    lambda r: r.choice((f"+7 916 {_n(r, 3)}-{_n(r, 2)}-{_n(r, 2)}", f"8 (925) {_n(r, 3)}-"
                        f"{_n(r, 2)}-{_n(r, 2)}")),
)


def phone_n(rnd: random.Random) -> str:
    return rnd.choice(_PHONES)(rnd)


_GIVEN = ["aurelio", "brigitte", "cosmin", "delphine", "eamon", "fenna", "giorgos", "heloise",
          "ingrid", "jarek", "kalani", "ludovic", "marisol", "nnamdi", "orla", "priya", "ragnar",
          "solveig", "tobias", "ulla", "wendeline", "yusuf"]
_FAMILY = ["abernathy", "brandvold", "ciobanu", "deschamps", "esposito", "fairweather", "grunewald",
           "hakkinen", "iwu", "jorgensen", "kerrigan", "lindqvist", "moreau", "nakashima",
           "oyelaran", "pellegrini", "quist", "rautio"]
_MAILHOSTS = ["gmail.com", "outlook.com", "icloud.com", "yahoo.co.uk", "proton.me", "gmx.at",
              "t-online.de", "libero.it", "wp.pl", "seznam.cz", "laposte.net", "telenet.be",
              "bluewin.ch", "kolumbus.fi", "naver.com", "brandvold-marine.no",
              "esposito-funerali.it", "kerrigan-dental.ie", "lindqvist-bygg.se",
              "moreau-notaires.fr"]


def email_n(rnd: random.Random) -> str:
    g, f = rnd.choice(_GIVEN), rnd.choice(_FAMILY)
    local = rnd.choice((f"{g}.{f}", f"{g[0]}{f}", f"{g}_{f[:4]}{_n(rnd, 2)}", f"{f}.{g[0]}",
                        f"{g}+{rnd.choice(('escrow', 'school', 'club'))}",
                        f"{g}{rnd.randint(70, 99)}",
                        f"{g.upper()[0]}{g[1:]}.{f.capitalize()}"))
    return f"{local}@{rnd.choice(_MAILHOSTS)}"


def ipv4_n(rnd: random.Random) -> str:
    first = rnd.choice((5, 31, 37, 46, 51, 62, 66, 77, 81, 86, 91, 104, 109, 136, 141, 151, 162,
                        173, 178, 185, 193, 199, 212, 217))
    return f"{first}.{rnd.randint(1, 254)}.{rnd.randint(0, 255)}.{rnd.randint(2, 253)}"


def ipv6_n(rnd: random.Random) -> str:
    head = rnd.choice(("2a02:26f0", "2600:1f18", "2a01:111", "2607:f8b0", "2c0f:fb50",
                       "2001:67c", "2a0e:97c0", "2403:6200", "2a00:1098", "2602:fd3f"))
    groups = head.split(":") + [format(rnd.getrandbits(16), "x") for _ in range(8)]
    groups = groups[:8]
    style = rnd.randrange(3)
    if style == 0:
        return ":".join(groups[:4]) + "::" + groups[7]
    if style == 1:
        return ":".join(groups).upper()
    return ":".join(groups)


# --- secret values --------------------------------------------------------------------------

_PASS_WORDS = ["lantern", "otter", "quartz", "bramble", "cobalt", "juniper", "marmot", "pylon",
               "rhubarb", "sleet", "thistle", "umber", "vortex", "wicker", "yarrow", "zinnia"]
_SYM = "!@#$%^&*()-_=+[]{}:;,.?/~|<>"


def password_n(rnd: random.Random) -> str:
    """A password as people and password managers make them."""
    style = rnd.randrange(9)
    if style == 0:  # a manager's random string with symbols
        while True:
            value = _r(rnd, rnd.choice((16, 20, 24, 28)), _ALNUM + _SYM)
            if any(c in _SYM for c in value) and any(c in _DG for c in value):
                return value
    if style == 1:  # a manager's word list
        words = [w.capitalize() if rnd.random() < 0.3 else w
                 for w in rnd.sample(_PASS_WORDS, rnd.choice((3, 4)))]
        return rnd.choice(("-", ".", "_", " ")).join(words) + rnd.choice(("", "7", "42", "!"))
    if style == 2:  # a pet, a year, a mark
        return rnd.choice(("Pippin", "Nala", "Biscuit", "Juno", "Toffee")) + str(
            rnd.randint(1985, 2025)) + rnd.choice(("!", "#", "*", "?!"))
    if style == 3:  # a sentence
        return (f"{rnd.choice(('my', 'the', 'our'))} {rnd.choice(_PASS_WORDS)} has "
                f"{rnd.randint(2, 12)} {rnd.choice(_PASS_WORDS)}s")
    if style == 4:  # a quote or a backslash inside
        return _r(rnd, 4) + rnd.choice(("'", '"', "\\", "`")) + _r(rnd, 6) + _n(rnd, 2) + "&"
    if style == 5:  # leetspeak
        return rnd.choice(("S3cur1ty", "P@ssw0rd", "W1nt3r", "Dr@g0n", "M0nk3y")) + _n(rnd, 3) \
            + rnd.choice("!$%")
    if style == 6:  # Apple's generated password
        return "-".join(_r(rnd, 6, _LO + _DG + _UP[:4]) for _ in range(3))
    if style == 7:  # a dated rotation
        return rnd.choice(("Winter", "Summer", "Autumn", "Spring")) + str(rnd.randint(2024, 2026)) \
            + rnd.choice(("!", "@", "$")) + _n(rnd, 2)
    return _r(rnd, 2, _UP) + _n(rnd, 2) + rnd.choice(_SYM) + _r(rnd, 8, _LO) + rnd.choice(_SYM)


def url_password_n(rnd: random.Random) -> str:
    """The password part of a URL, percent-encoded as it must be there."""
    return quote(password_n(rnd), safe="-_.~")


def _b64url(obj: object) -> str:
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt_n(rnd: random.Random) -> str:
    head = {"typ": "JWT", "alg": rnd.choice(("RS256", "ES256", "EdDSA", "HS512"))}
    if rnd.random() < 0.5:
        head["kid"] = _r(rnd, 20, _URLSAFE)
    body = {"iss": rnd.choice(("https://id.brandvold-marine.no", "https://auth.moreau-notaires.fr",
                               "https://kerrigan-dental.ie/oauth")),
            "sub": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            "scope": rnd.choice(("openid profile", "billing:read", "offline_access")),
            "iat": 1796700000 + rnd.randint(0, 500000), "exp": 1796800000 + rnd.randint(0, 500000)}
    return f"{_b64url(head)}.{_b64url(body)}.{_r(rnd, rnd.choice((43, 86, 342)), _URLSAFE)}"


def private_key_n(rnd: random.Random) -> str:
    kind = rnd.choice(("OPENSSH PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY",
                       "ENCRYPTED PRIVATE KEY"))
    body = {"OPENSSH PRIVATE KEY": "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB"
            "AAAAMwAAAAtzc2gtZWQyNTUxOQAAACB" + _r(rnd, 300, _B64),
            "PRIVATE KEY": "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQ"
            + _r(rnd, 1540, _B64),
            "RSA PRIVATE KEY": "MIIEpAIBAAKCAQEA" + _r(rnd, 1570, _B64),
            "EC PRIVATE KEY": "MHQCAQEEI" + _r(rnd, 150, _B64),
            "ENCRYPTED PRIVATE KEY": "MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI"
            + _r(rnd, 1700, _B64)}[kind]
    width = 70 if kind.startswith("OPENSSH") else 64
    rows = [body[i:i + width] for i in range(0, len(body), width)]
    return f"-----BEGIN {kind}-----\n" + "\n".join(rows) + f"\n-----END {kind}-----"


#: Vendors' documented token formats (prefix, length and alphabet as the vendor documents them).
_VENDOR: tuple[Callable[[random.Random], str], ...] = (
    lambda r: "dp.pt." + _r(r, 43),                                      # Doppler personal
    lambda r: "dp.st.prd." + _r(r, 40),                                  # Doppler service
    lambda r: "lin_api_" + _r(r, 40),                                    # Linear
    lambda r: "PMAK-" + _r(r, 24, _HX) + "-" + _r(r, 34, _HX),           # Postman
    lambda r: r.choice(("shpat_", "shpca_", "shppa_")) + _r(r, 32, _HX),  # Shopify
    lambda r: "pypi-AgEIcHlwaS5vcmc" + _r(r, 150, _URLSAFE),             # PyPI
    lambda r: "dop_v1_" + _r(r, 64, _HX),                                # DigitalOcean
    lambda r: "dapi" + _r(r, 32, _HX),                                   # Databricks
    lambda r: "key-" + _r(r, 32, _HX),                                   # Mailgun
    lambda r: "pul-" + _r(r, 40, _HX),                                   # Pulumi
    lambda r: _r(r, 14) + ".atlasv1." + _r(r, 67),                        # Terraform Cloud
    lambda r: "glsa_" + _r(r, 32) + "_" + _r(r, 8, _HX),                 # Grafana
    lambda r: "NRAK-" + _r(r, 27, _UP + _DG),                            # New Relic
    lambda r: "sntryu_" + _r(r, 64, _HX),                                # Sentry user
    lambda r: "tskey-auth-k" + _r(r, 10) + "CNTRL-" + _r(r, 33),          # Tailscale
    lambda r: "figd_" + _r(r, 40, _URLSAFE),                             # Figma
    lambda r: "sbp_" + _r(r, 40, _HX),                                   # Supabase
    lambda r: "AGE-SECRET-KEY-1" + _r(r, 58, _BECH32),                   # age
    lambda r: "pat" + _r(r, 14) + "." + _r(r, 64, _HX),                  # Airtable
    lambda r: "sl." + _r(r, 135, _URLSAFE),                              # Dropbox
    lambda r: "ATATT3xFfGF0" + _r(r, 170, _URLSAFE) + "=" + _r(r, 8, _HX.upper()),  # Atlassian
    lambda r: "sk_" + _r(r, 48, _HX),                                    # ElevenLabs
    lambda r: "hvs." + _r(r, 90, _URLSAFE),                              # HashiCorp Vault
    lambda r: "CFPAT-" + _r(r, 43, _URLSAFE),                            # Contentful
    lambda r: "dckr_pat_" + _r(r, 27, _URLSAFE),                         # Docker Hub
    lambda r: "rubygems_" + _r(r, 48, _HX),                              # RubyGems
    lambda r: "oy2" + _r(r, 43, _LO + _DG),                              # NuGet
    lambda r: "ya29." + _r(r, 150, _URLSAFE),                            # Google OAuth access
)

SECRETS_N: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: r.choice(("AKIA", "AKIA", "ASIA")) + _r(r, 16, _UP + "234567"),
    "aws_secret_access_key": lambda r: _r(r, 40, _B64),
    "aws_session_token": lambda r: "IQoJb3JpZ2luX2VjE" + _r(r, 8, _B64) + "//////////"
    + _r(r, r.choice((360, 420, 560)), _B64) + r.choice(("", "=", "==")),
    "azure_sas_signature": lambda r: quote(base64.b64encode(r.randbytes(32)).decode(), safe=""),
    "github_token": lambda r: r.choice(("ghp_", "gho_", "ghu_", "ghs_", "ghr_")) + _r(r, 36)
    if r.random() < 0.7 else "github_pat_11" + _r(r, 20, _UP + _DG) + "_" + _r(r, 59),
    "gitlab_token": lambda r: r.choice(("glpat-", "glpat-", "gloas-", "glcbt-", "glffct-"))
    + _r(r, 20, _URLSAFE),
    "slack_token": lambda r: r.choice((
        "xoxb-" + _n(r, 12) + "-" + _n(r, 13) + "-" + _r(r, 24),
        "xoxe.xoxp-1-" + _r(r, 150),
        "xoxp-" + _n(r, 11) + "-" + _n(r, 12) + "-" + _n(r, 13) + "-" + _r(r, 32, _HX))),
    "stripe_key": lambda r: r.choice(("sk_live_", "rk_live_")) + "51" + _r(r, 97)
    if r.random() < 0.7 else "whsec_" + _r(r, 32),
    "openai_api_key": lambda r: r.choice(("sk-proj-", "sk-svcacct-", "sk-admin-"))
    + _r(r, 74, _URLSAFE) + "T3BlbkFJ" + _r(r, 74, _URLSAFE),
    "anthropic_api_key": lambda r: "sk-ant-api03-" + _r(r, 93, _URLSAFE) + "AA",
    "jwt": jwt_n,
    "private_key": private_key_n,
    "npm_token": lambda r: "npm_" + _r(r, 36),
    "huggingface_token": lambda r: "hf_" + _r(r, 34, string.ascii_letters),
    "sendgrid_api_key": lambda r: "SG." + _r(r, 22, _URLSAFE) + "." + _r(r, 43, _URLSAFE),
    "google_api_key": lambda r: "AIza" + _r(r, 35, _URLSAFE),
    "telegram_bot_token": lambda r: f"{r.randint(10 ** 8, 8 * 10 ** 9)}:AA" + _r(r, 33, _URLSAFE),
    "vendor_token": lambda r: r.choice(_VENDOR)(r),
    "client_secret": lambda r: r.choice((
        _r(r, 3) + "8Q~" + _r(r, 34, _ALNUM + "_~.-"),                      # Entra ID
        "GOCSPX-" + _r(r, 28, _URLSAFE),                                    # Google OAuth
        _r(r, 40, _HX),                                                     # GitHub OAuth app
        _r(r, 64, _URLSAFE))),                                              # Auth0
    "password": password_n,
    "url_password": url_password_n,
}

PERSONAL_N: dict[str, Callable[[random.Random], str]] = {
    "email": email_n, "phone": phone_n, "payment_card": card_n, "iban": iban_n,
    "us_ssn": ssn_n, "ipv4": ipv4_n, "ipv6": ipv6_n}
#: Every type set N plants: the names set M uses.
KINDS_N = tuple(sorted({**SECRETS_N, **PERSONAL_N}))

#: Type -> (identifier words, how a person names it).
_NAMING: dict[str, tuple[Sequence[Sequence[str]], Sequence[str]]] = {
    "email": ((("email",), ("contact", "email"), ("notify", "to"), ("billing", "email")),
              ("email", "e-mail", "home email", "email address", "private mail")),
    "phone": ((("phone",), ("mobile",), ("emergency", "phone"), ("sms", "to")),
              ("phone", "mobile", "cell", "landline", "number to text")),
    "payment_card": ((("card", "number"), ("pan",), ("cc", "number")),
                     ("card", "card number", "Visa", "credit card", "debit card")),
    "iban": ((("iban",), ("payout", "iban"), ("refund", "iban")),
             ("IBAN", "account (IBAN)", "bank account", "IBAN for the refund")),
    "us_ssn": ((("ssn",), ("tin",), ("social", "security", "number")),
               ("SSN", "social security number", "Soc. Sec. #", "SSN (for the 1099)")),
    "ipv4": ((("peer", "ip"), ("source", "address"), ("allow", "from")),
             ("IP", "IP address", "static IP", "home IP")),
    "ipv6": ((("peer", "ipv6"), ("source", "v6")), ("IPv6 address", "v6 address")),
    "aws_access_key_id": ((("aws", "access", "key", "id"),), ("AWS access key ID", "access key")),
    "aws_secret_access_key": ((("aws", "secret", "access", "key"), ("aws", "secret")),
                              ("AWS secret key", "secret access key")),
    "aws_session_token": ((("aws", "session", "token"),), ("session token", "STS token")),
    "azure_sas_signature": ((("sas", "url"), ("blob", "url")), ("SAS link", "blob URL")),
    "github_token": ((("github", "token"), ("gh", "token")), ("GitHub token", "PAT")),
    "gitlab_token": ((("gitlab", "token"), ("gl", "token")), ("GitLab token", "runner token")),
    "slack_token": ((("slack", "bot", "token"), ("slack", "token")), ("Slack token",)),
    "stripe_key": ((("stripe", "secret", "key"), ("stripe", "key")), ("Stripe key",)),
    "openai_api_key": ((("openai", "api", "key"),), ("OpenAI key",)),
    "anthropic_api_key": ((("anthropic", "api", "key"),), ("Anthropic key",)),
    "jwt": ((("access", "token"), ("bearer",), ("id", "token")), ("bearer token", "JWT")),
    "private_key": ((("private", "key"), ("deploy", "key")), ("private key", "deploy key")),
    "npm_token": ((("npm", "token"),), ("npm token",)),
    "huggingface_token": ((("hf", "token"),), ("Hugging Face token",)),
    "sendgrid_api_key": ((("sendgrid", "api", "key"),), ("SendGrid key",)),
    "google_api_key": ((("maps", "api", "key"), ("google", "api", "key")), ("Google API key",)),
    "telegram_bot_token": ((("telegram", "token"), ("bot", "token")), ("bot token",)),
    "vendor_token": ((("api", "token"), ("api", "key"), ("auth", "token")),
                     ("API token", "API key", "token", "access token")),
    "client_secret": ((("client", "secret"), ("oauth", "client", "secret")),
                      ("client secret", "OAuth secret")),
    "password": ((("password",), ("passwd",), ("admin", "password"), ("smtp", "pass")),
                 ("password", "pass", "login password", "passcode", "Wi-Fi password")),
    "url_password": ((("database", "url"), ("dsn",), ("broker", "url")),
                     ("connection string", "DSN")),
}

_URLS = (
    "postgresql://ledger:{v}@pg.lindqvist-bygg.se:5432/ledger",
    "mysql://crm_app:{v}@mysql.moreau-notaires.fr/crm",
    "redis://:{v}@cache.kerrigan-dental.ie:6379/2",
    "amqp://booking:{v}@rabbit.brandvold-marine.no:5672/%2F",
    "mongodb://reporter:{v}@mongo.esposito-funerali.it:27017/?authSource=admin",
    "ftp://uploads:{v}@ftp.lindqvist-bygg.se/incoming",
)


def _wrap(type_: str, value: str, rnd: random.Random) -> str:
    """The text a value sits in: a URL for passwords in URLs and for SAS signatures."""
    if type_ == "url_password":
        return rnd.choice(_URLS).replace("{v}", value)
    if type_ == "azure_sas_signature":
        acct = rnd.choice(("mooringdocs", "escrowfiles", "choirscans"))
        return (f"https://{acct}.blob.core.windows.net/in/{_n(rnd, 5)}.pdf?sp=r&st=2026-12-08T08:00"
                f":00Z&se=2026-12-22T08:00:00Z&spr=https&sv=2022-11-02&sr=b&sig={value}")
    return value


# --- decoys --------------------------------------------------------------------------------


def _reserved_phone(rnd: random.Random) -> str:
    return rnd.choice((f"(312) 555-01{_n(rnd, 2)}", f"+1-415-555-01{_n(rnd, 2)}",
                       f"555-01{_n(rnd, 2)}", f"07700 900{_n(rnd, 3)}",
                       f"+44 113 496 0{_n(rnd, 3)}",
                       f"0161 496 0{_n(rnd, 3)}"))


def _doc_ipv4(rnd: random.Random) -> str:
    return rnd.choice(("192.0.2.", "198.51.100.", "203.0.113.")) + str(rnd.randint(2, 250))


def _doc_ipv6(rnd: random.Random) -> str:
    return f"2001:db8:{rnd.randint(1, 4095):x}:{rnd.randint(1, 255):x}::{rnd.randint(1, 4095):x}"


def _doc_email(rnd: random.Random) -> str:
    return rnd.choice(_GIVEN) + "@" + rnd.choice(("example.com", "example.org", "example.net",
                                                  "mail.example", "school.test"))


def _masked_card(rnd: random.Random) -> str:
    return rnd.choice(("•••• •••• •••• ", "XXXX-XXXX-XXXX-", "************", "ending in ")) \
        + _n(rnd, 4)


def _masked_iban(rnd: random.Random) -> str:
    return rnd.choice(("DE** **** **** **** ** ", "IE** ****  **** **** ", "BE** **** **** ",
                       "FR76 **** **** **** **** ***")) + _n(rnd, 2)


def _not_luhn(rnd: random.Random, length: int) -> str:
    while True:
        digits = str(rnd.randint(1, 9)) + _n(rnd, length - 1)
        if not luhn_ok(digits):
            return digits


@attrs.frozen
class _Decoy:
    """A look-alike: it takes the slot of ``place``; ``words`` and ``what`` name it there;
    ``named`` decoys go only where their name is written beside them."""

    place: str
    words: Sequence[str]
    what: str
    make: Callable[[random.Random], str]
    named: bool = False


_DECOYS: tuple[_Decoy, ...] = (
    _Decoy("payment_card", ("sandbox", "card"), "sandbox card from the processor's testing page",
           lambda r: r.choice(("4000 0566 5566 5556", "5200 8282 8282 8210", "2223003122003222",
                               "3566 0020 2036 0505", "6011 0009 9013 9424", "36227206271667")),
           True),
    _Decoy("payment_card", ("card", "number"), "card", _masked_card),
    _Decoy("payment_card", ("order", "number"), "order number", lambda r: _not_luhn(r, 16), True),
    _Decoy("iban", ("example", "iban"), "example IBAN from the registry",
           lambda r: r.choice(("GB29 NWBK 6016 1331 9268 19", "CH9300762011623852957",
                               "BE68 5390 0754 7034", "DE89 3704 0044 0532 0130 00")), True),
    _Decoy("iban", ("iban",), "IBAN", _masked_iban),
    _Decoy("us_ssn", ("ssn",), "SSN",
           lambda r: r.choice(("XXX-XX-", "***-**-", "xxx xx ")) + _n(r, 4)),
    _Decoy("us_ssn", ("sample", "ssn"), "SSN from the advertising range",
           lambda r: f"987-65-432{r.randint(0, 9)}", True),
    _Decoy("phone", ("phone",), "phone", _reserved_phone),
    _Decoy("phone", ("ticket", "number"), "ticket number", lambda r: f"{_n(r, 3)}-{_n(r, 7)}",
           True),
    _Decoy("email", ("email",), "email", _doc_email),
    _Decoy("ipv4", ("peer", "ip"), "IP", _doc_ipv4),
    _Decoy("ipv4", ("version",), "version", lambda r: f"{r.randint(1, 9)}.{r.randint(0, 20)}."
           f"{r.randint(0, 40)}.{r.randint(100, 9999)}", True),
    _Decoy("ipv6", ("peer", "ipv6"), "IPv6 address", _doc_ipv6),
    _Decoy("aws_access_key_id", ("aws", "access", "key", "id"), "AWS access key ID",
           lambda r: r.choice(("AKIAIOSFODNN7EXAMPLE", "AKIA****************",
                               "AKIAXXXXXXXXXXXXXXXX"))),
    _Decoy("password", ("password",), "password",
           lambda r: r.choice(("<your-password>", "**********", "(in the safe)", "(unchanged)",
                               "[hidden]", "see 1Password", "TBD", "••••••••"))),
    _Decoy("vendor_token", ("api", "token"), "API token",
           lambda r: r.choice(("<API_TOKEN>", "your-token-here", "xxxxxxxxxxxxxxxxxxxxxxxx",
                               "REDACTED", "tok_...", "${API_TOKEN}"))),
    _Decoy("vendor_token", ("checksum",), "SHA-256 checksum", lambda r: _r(r, 64, _HX), True),
    _Decoy("vendor_token", ("commit",), "commit", lambda r: _r(r, 40, _HX), True),
    _Decoy("vendor_token", ("request", "id"), "request ID",
           lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)), True),
    _Decoy("vendor_token", ("etag",), "ETag", lambda r: _r(r, 32, _HX), True),
    _Decoy("jwt", ("sample", "jwt"), "sample JWT from jwt.io",
           lambda r: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6"
           "IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
           True),
    _Decoy("stripe_key", ("stripe", "key"), "Stripe key",
           lambda r: r.choice(("sk_live_••••••••", "sk_live_<redacted>", "sk_live_xxxxxxxx"))),
    _Decoy("slack_token", ("slack", "token"), "Slack token",
           lambda r: r.choice(("xoxb-your-token", "xoxb-***", "xoxb-0000-0000-xxxx"))),
)


def _mutate(value: str, rnd: random.Random) -> str:
    """``value`` with one digit changed, so its check digit fails."""
    spots = [i for i, c in enumerate(value) if c.isdigit()]
    at = rnd.choice(spots[4:] or spots[2:])
    new = value[:at] + rnd.choice([c for c in _DG if c != value[at]]) + value[at + 1:]
    assert not (iban_ok(new) if value[:2].isalpha() else luhn_ok(new))
    return new


# --- artifacts -----------------------------------------------------------------------------

_PERSONAL = frozenset({"email", "phone", "payment_card", "iban", "us_ssn"})
_NET = frozenset({"ipv4", "ipv6"})
_TOKENS = frozenset({"vendor_token", "github_token", "gitlab_token", "slack_token", "stripe_key",
                     "openai_api_key", "anthropic_api_key", "npm_token", "huggingface_token",
                     "sendgrid_api_key", "google_api_key", "jwt", "client_secret"})


def _only(template: str, types: str) -> tuple[str, frozenset[str]]:
    return template, frozenset(types.split())


@attrs.frozen
class _Artifact:
    """One kind of document. ``lines`` are templates with ``{k}`` (an identifier in the
    artifact's ``case``), ``{K}`` (upper case), ``{w}`` (how a person names the value) and
    ``{v}``, alone (any type) or with the types they suit; ``pem`` is a template a private
    key fits in; ``holds`` restricts the types; ``refs`` are the artifact's ways of pointing
    at a secret kept elsewhere (look-alikes in a password's or token's place); ``avoid``
    are characters a password or token may not hold there."""

    prose: bool
    head: tuple[str, ...]
    lines: tuple[str | tuple[str, frozenset[str]], ...]
    filler: tuple[str, ...]
    tail: tuple[str, ...] = ()
    case: str = "snake"
    avoid: str = ""
    pem: str = ""
    holds: frozenset[str] = frozenset()
    refs: tuple[str, ...] = ()


_A = _Artifact
_Q = "\"'\\`"

_ARTIFACTS: dict[str, _Artifact] = {
    # --- prose ---
    "neighbourhood_forum_post": _A(
        True, ("Maple Row Neighbours > Lost & found > Re: found a wallet by the bus shelter",
               "Posted by Orla K. · 2 hours ago"),
        (_only("Whoever dropped it: the {w} inside is {v}, message me and describe the wallet.",
               "payment_card us_ssn"),
         _only("Update - the owner rang, her {w} is {v} if anyone else finds the keys.",
               "phone email"),
         _only("Also the guest Wi-Fi at the community hall is back, password {v}", "password"),
         _only("Sorry, wrong thread, the hall committee's {w} is {v}", "email phone")),
        ("Thanks to everyone who shared this!", "Bumping this, still nobody has come forward.",
         "Please don't post full card details in public, folks."),
        ("12 replies · Follow thread",), avoid=" ",
        holds=_PERSONAL | {"password"}),
    "mailing_list_digest": _A(
        True, ("infra-discuss Digest, Vol 214, Issue 9", "", "Today's Topics:",
               "   1. Re: staging deploy broken again", "", "Message: 1",
               "Date: Mon, 7 Dec 2026 17:52:10 +0100", "Subject: Re: staging deploy broken again"),
        ("> The {w} in the runbook ({v}) no longer works.",
         "Here you go, the {w} is {v} (rotate after).",
         "Sorry all, I pasted the wrong one, the staging {w} is {v}",
         "    export {K}={v}", _only("If it fails call me on {v}", "phone")),
        ("Please stop sending credentials to the list.", "-- ", "infra-discuss mailing list",
         "> It worked yesterday, no idea what changed."),
        ("", "End of infra-discuss Digest, Vol 214, Issue 9",), case="snake", avoid=" " + _Q,
        pem="Attaching the deploy key inline since the list strips attachments:\n{v}",
        refs=("in the team vault", "same as last week", "<redacted by moderator>")),
    "allotment_application": _A(
        True, ("Riverside Allotment Society - application for a plot", "Plot size wanted: half"),
        ("Applicant's {w}: {v}", "Second contact ({w}): {v}",
         _only("Annual rent to be collected from {w} {v} by direct debit.", "iban"),
         _only("If paying by card, {w}: {v}", "payment_card")),
        ("Experience: grew vegetables at my parents' house for years.",
         "I understand sheds need committee approval.", "Waiting list position: to be advised."),
        ("Signed: ______  Date: 08/12/2026",), holds=_PERSONAL),
    "escrow_instructions": _A(
        True, ("MOREAU & ASSOCIÉS - NOTAIRES",
               "Re: escrow instructions, purchase of 14 rue des Lilas",
               "Dear Mr Fairweather,"),
        (_only("The balance is to be wired to the escrow {w} {v} no later than 15 December.",
               "iban"),
         _only("For the seller's refund please confirm the {w}: {v}.", "iban"),
         _only("Should you need to reach me out of office hours, my {w} is {v}.", "phone email"),
         "Our client's {w} as recorded on the deed is {v}."),
        ("Please note that we will never change payment details by e-mail.",
         "The deposit of ten per cent has been received with thanks.",
         "Kindly bring photo identification to the signing."),
        ("Yours sincerely,", "Delphine Deschamps, notaire"), avoid=" ",
        holds=_PERSONAL),
    "wire_recall_request": _A(
        True, ("To: Payments Operations", "Subject: URGENT - recall of outgoing transfer",
               "Hello,"),
        (_only("I sent money to the wrong {w} this morning: {v}.", "iban"),
         _only("The correct {w} should have been {v}", "iban"),
         _only("The transfer was debited from our {w} {v} at 09:14.", "iban"),
         _only("You can reach me at {v} all day.", "phone email")),
        ("Amount: EUR 4,870.00, reference INVOICE 2026-311.",
         "Please confirm once the recall has been sent to the beneficiary bank.",
         "I have attached the screenshot of the confirmation page."),
        ("Thank you, Ludovic",), avoid=" ", holds=_PERSONAL),
    "pledge_card": _A(
        True, ("St. Brendan's Parish - 2027 stewardship pledge card",),
        ("Name: Eamon & Ulla Kerrigan   {w}: {v}",
         _only("I/we pledge $40 per week, to be charged to {w} {v}", "payment_card"),
         _only("Please debit the {w} {v} on the first of each month.", "iban"),
         _only("Best way to reach us: {v}", "phone email")),
        ("[x] Weekly   [ ] Monthly   [ ] One-time gift",
         "Pledges are confidential and may be changed at any time."),
        ("Thank you for your generosity!",), holds=_PERSONAL),
    "carpool_signup": _A(
        True, ("Hillcrest Primary - car-pool sign-up (spring term)", "Family | Seats | Contact"),
        (_only("Nakashima | 3 | {v}", "phone email"), "Abernathy | 2 | {w} {v}",
         _only("Lindqvist | 4 | {v} (text, don't call)",
               "phone"), "Note from the Iwu family: our {w} is {v}"),
        ("Drop-off rota goes out on Friday.", "Please keep booster seats in the car.",
         "Mondays are still short of a driver."),
        holds=frozenset({"email", "phone"})),
    "team_roster_email": _A(
        True, ("Subject: U12 Falcons roster + logins for the new season", "Hi parents,"),
        (_only("Coach Ragnar's {w}: {v}", "email phone"),
         "The shared team-app login is falcons.u12 and the {w} is {v}",
         _only("Fees go to the club {w}: {v}", "iban"),
         _only("If a kid gets hurt, call my {w} {v}.", "phone"),
         _only("The photo uploader uses this {w}, please don't share it: {v}", "vendor_token")),
        ("Games are on Saturday mornings, arrive 30 minutes early.",
         "Jerseys will be handed out at the first practice.", "Cheers, Tobias"),
        avoid=" ", holds=_PERSONAL | {"password", "vendor_token"},
        refs=("on the paper I handed out", "ask me at practice")),
    "podcast_guest_form": _A(
        True, ("The Quiet Harbour Podcast - guest intake form", "Episode: 118"),
        ("Guest {w}: {v}", "Backup {w} in case the call drops: {v}",
         _only("Payout for the appearance fee ({w}): {v}", "iban"),
         _only("Your {w} for the 1099: {v}", "us_ssn")),
        ("Preferred pronunciation of your name: Nuh-NAHM-dee",
         "Recording platform: we send a link the day before.",
         "Topics you'd rather not discuss: none"),
        holds=_PERSONAL),
    "mooring_application": _A(
        True, ("Brandvold Marina - application for a seasonal mooring",
               "Vessel: Solveig II, 9.2 m sailing yacht"),
        (_only("Owner's {w}: {v}", "email phone us_ssn"),
         _only("Harbour master may contact me on {v} (VHF 16 as fallback).", "phone"),
         _only("Mooring fees from {w}: {v}", "iban payment_card"),
         _only("Insurance claims paid to {w} {v}", "iban")),
        ("Length overall: 9.2 m   Draft: 1.6 m", "Berth preference: pontoon C, near the fuel dock",
         "Home port: Tromsø"),
        ("Signature of owner ______",), holds=_PERSONAL),
    "funeral_arrangement_form": _A(
        True, ("Esposito Funeral Services - arrangement form", "Deceased: Giorgos Pellegrini"),
        (_only("Deceased's {w} (for the death certificate): {v}", "us_ssn"),
         _only("Next of kin {w}: {v}", "phone email"), _only("Balance to be charged to {w} {v}",
               "payment_card"),
         _only("Family's {w} for the flower fund: {v}", "iban")),
        ("Service: Thursday 11:00, chapel of rest", "Hymns: to be confirmed with the family",
         "Obituary to run in Saturday's paper."),
        holds=_PERSONAL),
    "deposit_return_request": _A(
        True, ("Subject: Request for return of tenancy deposit - Flat 3, 22 Quay Street",
               "Dear Ms Fairweather,"),
        (_only("I moved out on 30 November; please return the deposit to my {w}: {v}", "iban"),
         _only("My forwarding {w} is {v}.", "email phone"),
         _only("If you need to discuss deductions, call {v}.", "phone"),
         "For your records my {w} is {v}"),
        ("The inventory at check-out noted no damage.", "I have returned both sets of keys.",
         "I look forward to hearing from you within ten days."),
        ("Kind regards, Marisol Esposito",), avoid=" ", holds=_PERSONAL),
    "parental_leave_handover": _A(
        True, ("Handover - Priya's parental leave (Dec 2026 - Jun 2027)", "",
               "Things you will need while I'm out:"),
        ("- the vendor portal {w} is {v}", "- the {w} for the reporting job: {v}",
         _only("- escalations go to Ingrid, {w} {v}", "phone email"),
         _only("- corporate card for renewals: {v}", "payment_card"),
         "    {k}={v}", _only("- nightly export pulls from {v}",
                              "url_password azure_sas_signature ipv4 ipv6")),
        ("- the weekly sync moves to Thursdays", "- don't merge the migration before QA signs off",
         "- ask Jarek about the invoice backlog"),
        ("Good luck and thanks!",), avoid=" ",
        pem="- the deploy key (it is not in the vault yet, sorry):\n{v}",
        refs=("in the shared vault under 'reporting'", "Jarek has it", "rotating Monday")),
    "dental_recall_reply": _A(
        True, ("Re: Your 6-month check-up at Kerrigan Dental", "",
               "> Please confirm your details before the appointment."),
        (_only("Hi, confirming Tuesday. My {w} changed, it is now {v}", "email phone"),
         _only("Please bill the balance to my {w} {v}", "payment_card"),
         _only("Insurance asked for my {w}: {v}", "us_ssn"),
         _only("New {w}: {v} (the old one is closed)", "email payment_card iban")),
        ("Also could I get the first slot of the day?", "Thanks, Heloise",
         "> Appointment: Tuesday 15 December, 08:30"),
        avoid=" ", holds=_PERSONAL),
    "choir_tour_form": _A(
        True, ("Cantate Youth Choir - spring tour to Vienna, consent and payment form",),
        ("Parent/guardian {w}: {v}", _only("Emergency {w} during the tour: {v}", "phone"),
         _only("Deposit of EUR 250 charged to {w}: {v}", "payment_card"),
         _only("Refunds (if the tour is cancelled) to {v}", "iban")),
        ("Dietary needs: vegetarian", "Passport valid until: 2031",
         "I consent to my child's photo being used in the programme."),
        holds=_PERSONAL),
    "tenants_minutes": _A(
        True, ("Quay Street Tenants' Association - minutes, 3 December 2026",
               "Present: 14 households. Chair: Fenna Quist."),
        (_only("3. Treasurer reports dues now go to the association {w} {v}.", "iban"),
         _only("4. The new laundry-room Wi-Fi password is {v}, changed after the break-in.",
               "password"),
         _only("5. Complaints about the lift go to the agent, {w} {v}.", "email phone"),
         "6. The shared camera app {w} is {v} (for committee members only)."),
        ("1. Minutes of the last meeting were approved.", "2. The garden party raised EUR 312.",
         "7. Next meeting: 7 January."),
        avoid=" ", holds=_PERSONAL | {"password", "vendor_token"},
        refs=("held by the secretary", "on the noticeboard")),
    "sublet_agreement": _A(
        True, ("SUBLET AGREEMENT",
               "between Yusuf Oyelaran (tenant) and Wendeline Rautio (subtenant)"),
        (_only("Rent of EUR 780 is payable monthly to the tenant's {w} {v}.", "iban"),
         "The subtenant's {w} is {v}.", _only("The tenant can be reached at {v} while abroad.",
                                              "phone email"),
         "Subtenant's {w} (for the landlord's records): {v}"),
        ("The subtenant will not keep pets.", "The agreement runs from 1 January to 30 June 2027.",
         "Utilities are included in the rent."),
        ("Signed in two copies.",), avoid=" ", holds=_PERSONAL),
    "genealogy_forum_reply": _A(
        True, ("Re: Hakkinen family of Oulu, emigrated 1903 - looking for descendants",),
        (_only("I'm a great-granddaughter! Write to me at {v}", "email"),
         _only("Or ring me, {w} {v}", "phone"),
         "My cousin Solveig also researches this line, her {w} is {v}",
         "The archive login you asked about: user hakkinen_research, {w} {v}"),
        ("The ship manifest lists four children.", "Parish records were transcribed in 2019.",
         "Do you have the baptism dates?"),
        avoid=" ", holds=frozenset({"email", "phone", "password"}),
        refs=("I'll send it privately", "it's in my PM to you")),
    # --- machine text ---
    "podman_quadlet": _A(
        False, ("# ~/.config/containers/systemd/ledger.container", "[Unit]",
                "Description=Ledger API", "", "[Container]",
                "Image=registry.lindqvist-bygg.se/ledger/api:2.14.0"),
        ("Environment={K}={v}", "Environment=\"{K}={v}\"",
         _only("PublishPort={v}:8443:8443", "ipv4"),
         _only("AddHost=db.internal:{v}", "ipv4 ipv6"), "Label=owner.{k}={v}"),
        ("Volume=ledger-data:/var/lib/ledger:Z", "AutoUpdate=registry", "Network=ledger.network"),
        ("", "[Install]", "WantedBy=default.target"), case="snake", avoid=" " + _Q + "%",
        holds=frozenset(KINDS_N) - {"private_key", "us_ssn", "payment_card", "iban",
                                    "url_password", "azure_sas_signature"},
        refs=("%d/ledger_token",)),
    "justfile": _A(
        False, ("# justfile", "set dotenv-load := false", ""),
        ("export {K} := \"{v}\"", "{k} := \"{v}\"",
         _only("deploy:\n    curl -fsS -H 'Authorization: Bearer {v}' "
               "https://api.moreau-notaires.fr/v2/hooks", " ".join(sorted(_TOKENS))),
         _only("seed:\n    psql \"{v}\" -f seed.sql", "url_password")),
        ("build:\n    cargo build --release", "test:\n    cargo test --workspace",
         "fmt:\n    cargo fmt --all"),
        case="snake", avoid=_Q + " $'",
        holds=frozenset(KINDS_N) - {"private_key", "us_ssn", "payment_card", "iban"},
        refs=("env_var('LEDGER_TOKEN')",)),
    "taskfile": _A(
        False, ("# Taskfile.yml", "version: '3'", "", "env:"),
        ("  {K}: \"{v}\"", "  {K}: '{v}'", "vars:\n  {K}: \"{v}\""),
        ("  CGO_ENABLED: '0'", "  GOFLAGS: -trimpath"),
        ("", "tasks:", "  build:", "    cmds:", "      - go build ./..."),
        case="upper", avoid=_Q,
        holds=frozenset(KINDS_N) - {"private_key", "us_ssn", "payment_card", "iban", "phone"},
        refs=("'{{.LEDGER_TOKEN}}'", "{sh: cat .secrets/token}")),
    "tiltfile": _A(
        False, ("# Tiltfile", "load('ext://helm_resource', 'helm_resource')", ""),
        ("{k} = \"{v}\"", "k8s_yaml(secret_from_dict('ledger', inputs={'{K}': '{v}'}))",
         _only("local_resource('seed', cmd='curl -H \"X-Api-Key: {v}\" localhost:8080/seed')",
               " ".join(sorted(_TOKENS)))),
        ("docker_build('ledger-api', '.')", "k8s_resource('ledger-api', port_forwards=8080)",
         "allow_k8s_contexts('kind-dev')"),
        case="snake", avoid=_Q + " {}",
        holds=frozenset(KINDS_N) - {"private_key", "us_ssn", "payment_card", "iban", "phone"},
        refs=("os.getenv('LEDGER_TOKEN')", "read_file('.secrets/token')")),
    "envrc": _A(
        False, ("# .envrc - loaded by direnv", "use flake", "dotenv_if_exists .env.local"),
        ("export {K}=\"{v}\"", "export {K}='{v}'",
         "export {K}=\"{v}\"  # until the vault is wired up"),
        ("layout python3", "watch_file flake.lock", "export RUST_LOG=info"),
        case="upper", avoid=_Q + "$!",
        pem="export DEPLOY_KEY=\"$(cat <<'EOF'\n{v}\nEOF\n)\"",
        refs=("$(op read op://Dev/ledger/credential)", "$(pass show ledger/token)")),
    "terragrunt": _A(
        False, ("# terragrunt.hcl", "include \"root\" {", "  path = find_in_parent_folders()",
                "}", "", "inputs = {"),
        ("  {k} = \"{v}\"", "  {k}s = [\"{v}\"]"),
        ("  region = \"eu-north-1\"", "  instance_type = \"t3.small\"", "  enable_backups = true"),
        ("}",), case="snake", avoid=_Q + "${}",
        pem="  {k} = <<-EOT\n{v}\n  EOT",
        refs=("get_env(\"LEDGER_TOKEN\")", "dependency.secrets.outputs.token")),
    "drone_ci": _A(
        False, ("kind: pipeline", "type: docker", "name: default", "", "steps:", "- name: deploy",
                "  image: alpine:3.20", "  environment:"),
        ("    {K}: \"{v}\"", "    {K}: '{v}'"),
        ("    GOFLAGS: -mod=vendor", "    TZ: Europe/Oslo"),
        ("  commands:", "  - ./scripts/deploy.sh"),
        case="upper", avoid=_Q + " #",
        refs=("{from_secret: ledger_token}",)),
    "woodpecker_ci": _A(
        False, ("# .woodpecker/deploy.yaml", "when:", "  - event: push", "    branch: main", "",
                "steps:", "  - name: publish", "    image: node:22", "    environment:"),
        ("      {K}: \"{v}\"", "      {K}: '{v}'"),
        ("      NODE_ENV: production", "      NPM_CONFIG_PROVENANCE: 'true'"),
        ("    commands:", "      - npm ci", "      - npm publish"),
        case="upper", avoid=_Q,
        holds=frozenset(KINDS_N) - {"private_key", "us_ssn", "phone"},
        refs=("{ from_secret: npm_token }",)),
    "varnish_vcl": _A(
        False, ("vcl 4.1;", "import std;", "", "backend default {",
                "    .host = \"ledger-api\";", "    .port = \"8080\";", "}", "",
                "sub vcl_recv {"),
        (_only("    if (client.ip == \"{v}\") { return (pass); }", "ipv4 ipv6"),
         "    set req.http.{k} = \"{v}\";",
         _only("    if (req.http.X-Purge-Token != \"{v}\") { return (synth(403)); }",
               "vendor_token password")),
        ("    unset req.http.Cookie;", "    if (req.method == \"PURGE\") { return (purge); }"),
        ("}",), case="kebab", avoid=_Q + " {}",
        holds=frozenset(KINDS_N) - {"private_key", "us_ssn", "payment_card", "iban", "phone",
                                    "email"}),
    "smb_conf": _A(
        False, ("# /etc/samba/smb.conf", "[global]", "   workgroup = LINDQVIST",
                "   security = ads"),
        (_only("   hosts allow = {v}", "ipv4 ipv6"), "   {k} = {v}",
         "   ; {k} = {v}  (old, kept for now)"),
        ("   log level = 1", "   server min protocol = SMB2_10", "   map to guest = never"),
        ("", "[scans]", "   path = /srv/scans", "   read only = no"), case="space",
        avoid=_Q + " #;%",
        holds=frozenset({"ipv4", "ipv6", "password", "email", "vendor_token"})),
    "dnsmasq_conf": _A(
        False, ("# /etc/dnsmasq.d/office.conf", "domain-needed", "bogus-priv"),
        (_only("server={v}", "ipv4 ipv6"),
         _only("dhcp-host=nas,{v},infinite", "ipv4"),
         _only("address=/nas.office/{v}", "ipv4 ipv6"),
         _only("listen-address={v}", "ipv4 ipv6")),
        ("dhcp-authoritative", "cache-size=1000", "no-resolv"),
        holds=_NET),
    "zabbix_agent_conf": _A(
        False, ("# /etc/zabbix/zabbix_agent2.conf", "LogFile=/var/log/zabbix/zabbix_agent2.log",
                "Hostname=ledger-db-1"),
        (_only("Server={v}", "ipv4 ipv6"), _only("ServerActive={v}", "ipv4 ipv6"),
         _only("Plugins.PostgreSQL.Sessions.ledger.Password={v}", "password"),
         _only("Plugins.Mysql.Sessions.crm.Password={v}", "password"), "# {w}: {v}"),
        ("Timeout=10", "ControlSocket=/tmp/agent.sock",
         "Include=./zabbix_agent2.d/plugins.d/*.conf"),
        avoid=" #", holds=_NET | {"password", "email"}),
    "terraform_plan": _A(
        False, ("Terraform will perform the following actions:", "",
                "  # module.ledger.aws_db_instance.main will be created",
                "  + resource \"aws_db_instance\" \"main\" {"),
        ("      + {k} = \"{v}\"", "      + {k} = [\n          + \"{v}\",\n        ]",
         "      ~ {k} = \"{v}\" -> (known after apply)"),
        ("      + allocated_storage = 50", "      + engine            = \"postgres\"",
         "      + id                = (known after apply)"),
        ("    }", "", "Plan: 1 to add, 0 to change, 0 to destroy."), avoid=_Q + "${}",
        refs=("(sensitive value)",)),
    "raku_source": _A(
        False, ("use v6.d;", "use Cro::HTTP::Client;", ""),
        ("my ${k} = '{v}';", "constant {K} = '{v}';",
         "my %config = {k} => '{v}', timeout => 30;"),
        ("my $client = Cro::HTTP::Client.new(base-uri => $base);", "say 'sync finished';",
         "sub MAIN(Bool :$dry-run) { ... }"),
        case="kebab", avoid=_Q,
        refs=("%*ENV<LEDGER_TOKEN>",)),
    "awk_script": _A(
        False, ("#!/usr/bin/awk -f", "# mask-export.awk - flags rows for review", "BEGIN {",
                "    FS = \",\""),
        ("    {k} = \"{v}\"", _only("    if ($3 == \"{v}\") print NR \": flagged\"",
                                    "email phone payment_card iban us_ssn ipv4 ipv6"),
         _only("    notify = \"{v}\"", "email phone")),
        ("    OFS = \";\"", "    count = 0"),
        ("}", "{ count++ }", "END { print count \" rows\" }"), avoid=_Q,
        holds=frozenset(KINDS_N) - {"private_key"}),
    "nmap_output": _A(
        False, ("Starting Nmap 7.95 ( https://nmap.org ) at 2026-12-08 09:14 CET",),
        (_only("Nmap scan report for {v}", "ipv4 ipv6"),
         _only("Nmap scan report for mail.lindqvist-bygg.se ({v})", "ipv4 ipv6"),
         _only("| ftp-brute:\n|   Accounts:\n|     admin:{v} - Valid credentials", "password"),
         _only("| http-brute:\n|   Accounts:\n|     operator:{v} - Valid credentials", "password")),
        ("Host is up (0.021s latency).", "Not shown: 996 closed tcp ports (reset)",
         "PORT    STATE SERVICE\n22/tcp  open  ssh\n443/tcp open  https"),
        ("Nmap done: 256 IP addresses (3 hosts up) scanned in 14.22 seconds",), avoid=" ",
        holds=_NET | {"password"}),
    "dovecot_conf": _A(
        False, ("# /etc/dovecot/conf.d/10-auth.conf", "auth_mechanisms = plain login"),
        (_only("login_trusted_networks = {v}", "ipv4 ipv6"),
         _only("postmaster_address = {v}", "email"),
         _only("passdb {\n  driver = static\n  args = password={v}\n}", "password"),
         "  {k} = {v}"),
        ("disable_plaintext_auth = yes", "auth_username_format = %Ln",
         "!include auth-system.conf.ext"),
        avoid=_Q + " #{}%", holds=_NET | {"password", "email"}),
    "wrangler_toml": _A(
        False, ("# wrangler.toml", "name = \"ledger-edge\"", "main = \"src/index.ts\"",
                "compatibility_date = \"2026-11-20\"", "", "[vars]"),
        ("{K} = \"{v}\"", "{K} = '{v}'", "{k} = \"{v}\""),
        ("ENVIRONMENT = \"production\"", "[[kv_namespaces]]\nbinding = \"CACHE\"",
         "[observability]\nenabled = true"),
        case="upper", avoid=_Q,
        holds=frozenset(KINDS_N) - {"private_key", "us_ssn"}),
}


def _identifier(words: Sequence[str], case: str) -> str:
    if case == "upper":
        return "_".join(words).upper()
    if case == "kebab":
        return "-".join(words)
    if case == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if case == "space":
        return " ".join(words)
    return "_".join(words)


def _text(line: str | tuple[str, frozenset[str]]) -> str:
    return line if isinstance(line, str) else line[0]


def _suits(line: str | tuple[str, frozenset[str]], type_: str) -> bool:
    return isinstance(line, str) or type_ in line[1]


def _names_it(line: str | tuple[str, frozenset[str]]) -> bool:
    text = _text(line)
    return "{k}" in text or "{K}" in text or "{w}" in text


class _Document:
    def __init__(self, art: _Artifact) -> None:
        self.art = art
        self.text = ""
        self.planted: list[PlantedN] = []

    def line(self, text: str) -> None:
        self.text += text + "\n"

    def plant(self, template: str, value: str, shown: str, type_: str | None, decoy: str,
              private_key: bool = False) -> None:
        before, after = template.split("{v}", 1)
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
        text = _text(rnd.choice([line for line in art.lines if _suits(line, type_)
                                 and (_names_it(line) or not named)]))
    text = text.replace("{k}", _identifier(words, art.case))
    return text.replace("{K}", _identifier(words, "upper")).replace("{w}", what)


def _make(rnd: random.Random, type_: str, art: _Artifact) -> tuple[str, str]:
    """A value of ``type_`` and the text it is shown in, holding none of the artifact's
    ``avoid`` characters (in prose only a secret's value is held to that)."""
    make = {**SECRETS_N, **PERSONAL_N}[type_]
    for _ in range(500):
        value = make(rnd)
        if type_ == "private_key":
            return value, value
        shown = _wrap(type_, value, rnd)
        checked = value if art.prose else shown
        if (art.prose and type_ in PERSONAL_N) or not any(c in art.avoid for c in checked):
            return value, shown
    raise AssertionError(f"no {type_} without {art.avoid!r}")


def _types_of(art: _Artifact) -> list[str]:
    types = sorted(art.holds) if art.holds else list(KINDS_N)
    return [t for t in types if (bool(art.pem) if t == "private_key"
                                 else any(_suits(line, t) for line in art.lines))]


def _decoys_of(art: _Artifact, types: Sequence[str]) -> list[_Decoy]:
    return [d for d in _DECOYS if d.place in types
            and any(_suits(line, d.place) and (_names_it(line) or not d.named)
                    for line in art.lines)]


def _decoy_value(rnd: random.Random, decoy: _Decoy, art: _Artifact) -> str:
    for _ in range(40):
        value = decoy.make(rnd)
        if decoy.place not in ("password", "vendor_token") or not any(c in art.avoid
                                                                        for c in value):
            return value
    return "x" * 16


def documents_n(seed: int, count: int) -> list[tuple[str, list[PlantedN]]]:
    """``count`` documents of set N, artifact kinds in turn, each with 2-4 planted values,
    one or two decoys and, in about two thirds, a one-digit-mutated card number or IBAN."""
    rnd = random.Random(seed)
    names = sorted(_ARTIFACTS)
    out: list[tuple[str, list[PlantedN]]] = []
    for number in range(count):
        art = _ARTIFACTS[names[number % len(names)]]
        doc = _Document(art)
        for text in art.head:
            doc.line(text)
        types = _types_of(art)
        chosen = rnd.sample(types, min(len(types), rnd.randint(2, 4)))
        for rare, chance in (("password", 0.4), ("private_key", 0.3)):
            if rare in types and rare not in chosen and rnd.random() < chance:
                chosen[-1] = rare
        slots = [(t, "") for t in chosen]
        twins = [t for t in ("payment_card", "iban") if t in types]
        if twins and rnd.random() < 0.97:
            slots.append((rnd.choice(twins), "mutated"))
        slots += [("", "lookalike")] * (2 if rnd.random() < 0.35 else 1)
        rnd.shuffle(slots)
        decoys = _decoys_of(art, types)
        ref_places = [t for t in ("password", "vendor_token") if t in types]
        for type_, kind in slots:
            if kind == "lookalike":
                if art.refs and ref_places and (rnd.random() < 0.45 or not decoys):
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
                value, shown = _make(rnd, type_, art)
                if kind == "mutated":
                    value = shown = _mutate(value, rnd)
                words, whats = _NAMING[type_]
                template = _fill(rnd, art, type_, rnd.choice(words), rnd.choice(whats), False)
                doc.plant(template, value, shown, None if kind else type_, kind,
                          type_ == "private_key")
            if rnd.random() < 0.5:
                doc.line(rnd.choice(art.filler))
        for text in art.tail:
            doc.line(text)
        out.append((doc.text, doc.planted))
    return out
