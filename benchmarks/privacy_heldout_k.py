"""The ninth fresh held-out set of the privacy benchmark (set K): a TUNING SET since round 10.

Written on 2026-12-08 after set J had been evaluated (and spent), before any of round 9's
detector changes were committed and without running the detectors on it; committed on its
own first, and evaluated once as held out at the end of round 9. Its misses are fixed by
class in round 10, so set K is spent: ``benchmarks/privacy.py`` scores it as "set K (tuned
on)", and the held-out set is set L (``privacy_heldout_l.py``).

Nothing here comes from sets A-J: no Faker, no ``athena_core`` import and no import of an
earlier set (Luhn, mod-97 and the SSN rules are written again below), its own value
generators and its own composer. Each document is one artifact of a kind no earlier set
uses (:data:`_ARTIFACTS`):

* prose: Mattermost channel exports (JSON lines, the message escaped in a string),
  iMessage and Skype chat logs, formal letters, Apple Notes exports, Google Docs comment
  threads, stand-up bot reports, presentation speaker notes, electronic lab notebook
  entries, NOC shift handover logs, loan applications, gym membership forms, car rental
  agreements, hotel registration cards, veterinary patient registrations, small-claims
  court filings, fax cover sheets, marketplace buyer-seller messages, survey responses
  and journal entries;
* machine text: Clojure EDN configuration, OCaml and Zig source, Erlang
  ``sys.config.src``, Windows batch files, HAProxy, Traefik and PgBouncer configuration,
  Packer templates, Serverless Framework files, Salt pillars, Puppet Hiera data, ``docker
  inspect`` output, ``tcpdump -A`` captures, unified diffs, VS Code ``launch.json``,
  JetBrains data-source XML, supervisord programs, Grafana data-source provisioning,
  Alertmanager configuration, AWS CLI sessions, IPython sessions and SOAP envelopes.

``in_prose`` is true for the first group: chats, notes, letters, comments, logs written
by people and filled-in forms; a Mattermost export is JSON, but its values sit in the
messages' sentences.

Values: vendors' documented token formats, many from vendors no earlier set plants
(Netlify, Dynatrace, Mapbox secret tokens, Contentful, Prefect, Sourcegraph, Scalingo,
Shippo, Frame.io, Duffel, EasyPost, Flutterwave, Adafruit IO, Clojars, RubyGems, Harness,
Asana, HubSpot private apps, Intercom, Square, Replicate, Perplexity, LangSmith, Octopus
Deploy, JFrog, Bitbucket app passwords, Infracost, Twilio API keys) next to the listed
types in several of their documented prefixes; passwords as people and password managers
make them, with symbols, quotes and spaces where the syntax allows them, and
percent-encoded inside URLs; cards of the listed issuer ranges only (Visa 13/16/19,
Mastercard 51-55 and 2221-2720, Amex, Discover, JCB, Diners, Maestro) written as issuers
group them; IBANs of 33 countries with the registry's BBAN shapes; SSNs with dashes,
spaces or none; phones of 24 countries in national and international writings, none in a
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

__all__ = ["KINDS_K", "PlantedK", "documents_k"]

_LOW = string.ascii_lowercase
_UP = string.ascii_uppercase
_DIG = string.digits
_AN = string.ascii_letters + string.digits
_B64 = _AN + "+/"
_URL = _AN + "_-"
_HEXL = "0123456789abcdef"
_B32 = _UP + "234567"

#: (start, end, type or None for a decoy, in prose, decoy kind: "", "lookalike", "mutated").
PlantedK = tuple[int, int, "str | None", bool, str]


def _s(rnd: random.Random, n: int, alphabet: str = _AN) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def _d(rnd: random.Random, n: int) -> str:
    return _s(rnd, n, _DIG)


# --- checksums ----------------------------------------------------------------------------


def luhn_valid(number: str) -> bool:
    """Whether the digits of ``number`` (separators ignored) pass the Luhn check."""
    total, double = 0, False
    for ch in reversed([c for c in number if c.isdigit()]):
        digit = int(ch)
        if double:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
        double = not double
    return total % 10 == 0


def _luhn_complete(partial: str) -> str:
    return next(partial + c for c in _DIG if luhn_valid(partial + c))


def _mod97(text: str) -> int:
    return int("".join(str(int(c, 36)) for c in text)) % 97


def iban_valid(value: str) -> bool:
    """Whether ``value`` (spaces allowed) passes ISO 13616's mod-97 check."""
    compact = value.replace(" ", "")
    return _mod97(compact[4:] + compact[:4]) == 1


def _make_iban(country: str, bban: str) -> str:
    return f"{country}{98 - _mod97(bban + country + '00'):02d}{bban}"


def ssn_issuable(value: str) -> bool:
    """Whether ``value`` could be an issued SSN: area 001-899 but 666, group and serial
    not zero, and none of the numbers SSA has advertised or set aside."""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) != 9:
        return False
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return (0 < area < 900 and area != 666 and group > 0 and serial > 0
            and digits not in ("078051120", "219099999"))


# --- personal values --------------------------------------------------------------------------

#: Issuer -> (makes a prefix, lengths); only the ranges the benchmark lists.
_ISSUERS: dict[str, tuple[Callable[[random.Random], str], tuple[int, ...]]] = {
    "amex": (lambda r: r.choice(("34", "37")), (15,)),
    "diners": (lambda r: r.choice(("36", "38", "39", str(r.randint(300, 305)))), (14,)),
    "discover": (lambda r: r.choice(("6011", "65", str(r.randint(644, 649)),
                                     str(r.randint(622126, 622925)))), (16, 19)),
    "jcb": (lambda r: str(r.randint(3528, 3589)), (16,)),
    "maestro": (lambda r: r.choice(("5018", "5020", "5038", "5893", "6304", "6759", "6761",
                                    "6762", "6763")), (16, 19)),
    "mastercard": (lambda r: str(r.randint(51, 55)), (16,)),
    "mastercard_2": (lambda r: str(r.randint(2221, 2720)), (16,)),
    "visa": (lambda r: "4", (13, 16, 16, 16, 19)),
}

_CARD_GROUPS = {13: (4, 3, 3, 3), 14: (4, 6, 4), 15: (4, 6, 5), 16: (4, 4, 4, 4),
                19: (4, 4, 4, 4, 3)}


def _grouped(number: str, sep: str) -> str:
    parts, at = [], 0
    for size in _CARD_GROUPS[len(number)]:
        parts.append(number[at:at + size])
        at += size
    return sep.join(parts)


def card_k(rnd: random.Random) -> str:
    prefix, lengths = _ISSUERS[rnd.choice(sorted(_ISSUERS))]
    head, size = prefix(rnd), rnd.choice(lengths)
    number = _luhn_complete(head + _d(rnd, size - len(head) - 1))
    sep = rnd.choice(("", " ", " ", " ", "-"))
    return _grouped(number, sep) if sep else number


#: Country -> BBAN shape from the SWIFT IBAN registry (n digit, a capital, c either).
_BBAN_K = {
    "AL": "n" * 8 + "c" * 16, "BA": "n" * 16, "BE": "n" * 12, "BG": "aaaa" + "n" * 6 + "c" * 8,
    "BH": "aaaa" + "c" * 14, "BR": "n" * 23 + "ac", "BY": "cccc" + "n" * 4 + "c" * 16,
    "CY": "n" * 8 + "c" * 16, "CZ": "n" * 20, "DE": "n" * 18, "DK": "n" * 14,
    "DO": "cccc" + "n" * 20, "EE": "n" * 16, "EG": "n" * 25, "ES": "n" * 20, "FO": "n" * 14,
    "FR": "n" * 10 + "c" * 11 + "nn", "GB": "aaaa" + "n" * 14, "GE": "aa" + "n" * 16,
    "IE": "aaaa" + "n" * 14, "IT": "a" + "n" * 10 + "c" * 12, "JO": "aaaa" + "n" * 4 + "c" * 18,
    "KW": "aaaa" + "c" * 22, "LV": "aaaa" + "c" * 13, "NL": "aaaa" + "n" * 10,
    "PK": "aaaa" + "c" * 16, "PL": "n" * 24, "PT": "n" * 21, "QA": "aaaa" + "c" * 21,
    "SC": "aaaa" + "n" * 20 + "aaa", "SE": "n" * 20, "ST": "n" * 21, "UA": "n" * 6 + "c" * 19,
}


def iban_k(rnd: random.Random) -> str:
    country = rnd.choice(sorted(_BBAN_K))
    alphabet = {"n": _DIG, "a": _UP, "c": _DIG * 5 + _UP}
    value = _make_iban(country, "".join(rnd.choice(alphabet[c]) for c in _BBAN_K[country]))
    if rnd.random() < 0.6:  # the paper form: groups of four
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def ssn_k(rnd: random.Random) -> str:
    while True:
        area, group, serial = rnd.randint(1, 899), rnd.randint(1, 99), rnd.randint(1, 9999)
        sep = rnd.choice(("-", "-", "-", " ", ""))
        value = f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"
        if ssn_issuable(value):
            return value


def phone_k(rnd: random.Random) -> str:
    """Numbers of 26 countries in their national and international writings."""
    def d(k: int) -> str:
        return _d(rnd, k)
    us_area = rnd.choice((206, 215, 281, 317, 415, 470, 512, 614, 702, 720, 818, 919))
    exch = rnd.choice([e for e in range(201, 1000) if e != 555 and e % 100 != 11])
    uk = "07" + rnd.choice("123458") + d(2)
    au = "04" + rnd.choice("0123568") + d(1)
    fr = rnd.choice(("06 " + rnd.choice("1245"), "07 " + rnd.choice("5678"))) + d(1)
    return rnd.choice((
        f"+49 15{rnd.choice('12579')} {d(8)}", f"015{rnd.choice('12579')} {d(8)}",
        f"+33 {fr[1:]} {d(2)} {d(2)} {d(2)}", f"{fr} {d(2)} {d(2)} {d(2)}",
        f"+34 6{d(2)} {d(3)} {d(3)}", f"+351 91{d(1)} {d(3)} {d(3)}",
        f"+32 47{d(1)} {d(2)} {d(2)} {d(2)}", f"04{rnd.choice('789')}{d(1)} {d(2)} {d(2)} {d(2)}",
        f"+45 {rnd.choice('2345')}{d(1)} {d(2)} {d(2)} {d(2)}", f"+46 70 {d(3)} {d(2)} {d(2)}",
        f"070-{d(3)} {d(2)} {d(2)}", f"+420 60{d(1)} {d(3)} {d(3)}",
        f"+81 90-{d(4)}-{d(4)}", f"080-{d(4)}-{d(4)}", f"+91 9{d(4)} {d(5)}",
        f"+55 11 9{d(4)}-{d(4)}", f"(21) 9{d(4)}-{d(4)}", f"+52 55 {d(4)} {d(4)}",
        f"+27 82 {d(3)} {d(4)}", f"072 {d(3)} {d(4)}", f"+254 7{d(2)} {d(6)}",
        f"+64 21 {d(3)} {d(4)}", f"021 {d(3)} {d(4)}", f"+63 917 {d(3)} {d(4)}",
        f"+66 8{d(1)} {d(3)} {d(4)}", f"+60 12-{d(3)} {d(4)}", f"+380 67 {d(3)} {d(4)}",
        f"+30 69{d(1)} {d(3)} {d(4)}", f"+36 30 {d(3)} {d(4)}",
        f"({us_area}) {exch}-{d(4)}", f"{us_area}.{exch}.{d(4)}", f"+1 {us_area}-{exch}-{d(4)}",
        f"{uk} {d(6)}", f"+44 {uk[1:]} {d(6)}", f"{au} {d(3)} {d(3)}",
        f"+61 {au[1:]} {d(3)} {d(3)}",
    ))


_FIRST = ["amara", "bruno", "camille", "dawit", "elif", "florin", "greta", "hiroshi",
          "ilse", "joaquim", "kavya", "lars", "mireille", "njeri", "olek", "paulo", "rania",
          "soren", "tomasz", "yusuf"]
_LAST = ["achterberg", "benedetti", "cardoso", "dufour", "egede", "fischer", "gashi",
         "hallberg", "ishikawa", "jovanovic", "koenig", "lindqvist", "mbeki", "novak",
         "okafor", "petrov", "quintero", "rahman", "svoboda", "tanaka"]
_PROVIDERS = ["gmx.de", "web.de", "orange.fr", "free.fr", "sapo.pt", "telenet.be",
              "seznam.cz", "mail.ru", "proton.me", "tutanota.com", "zoho.com", "aol.com",
              "yahoo.co.jp", "rediffmail.com", "uol.com.br", "xtra.co.nz", "gmail.com",
              "live.co.uk", "optusnet.com.au", "t-online.de"]
_OWN_DOMAINS = ["hallberg-bygg.se", "cardoso-advogados.pt", "okafor.studio", "novak-dental.cz",
                "quintero.farm", "rahman-accounts.co.uk"]


def email_k(rnd: random.Random) -> str:
    f, last = rnd.choice(_FIRST), rnd.choice(_LAST)
    local = rnd.choice((f"{f}.{last}", f"{f}{last[0]}", f"{f[0]}.{last}", f"{last}-{f}",
                        f"{f}.{last}{rnd.randint(1, 99)}", f"{f}+orders", f"{last}_{f[:3]}",
                        f"{f.title()}.{last.title()}"))
    if rnd.random() < 0.25:
        return f"{local}@{rnd.choice(_OWN_DOMAINS)}"
    return f"{local}@{rnd.choice(_PROVIDERS)}"


def ipv4_k(rnd: random.Random) -> str:
    reserved = {0, 10, 100, 127, 169, 172, 192, 198, 203}
    first = rnd.choice([a for a in range(1, 224) if a not in reserved])
    return f"{first}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"


def ipv6_k(rnd: random.Random) -> str:
    head = rnd.choice(("2a00:1450", "2620:fe", "2a03:2880", "2001:67c", "2604:1380",
                       "2a01:111", "2406:da18", "2600:1f18", "2a0e:97c0"))
    groups = [f"{rnd.randint(1, 0xffff):x}" for _ in range(6)]
    style = rnd.randrange(4)
    if style == 0:
        return ":".join([head, *groups])
    if style == 1:
        return f"{head}:{groups[0]}::{groups[1]}"
    if style == 2:
        return f"{head}:{groups[0]}:{groups[1]}:{groups[2]}::{groups[3]}"
    return ":".join([head, *groups]).upper()


# --- secrets ------------------------------------------------------------------------------------

_WORDS = ["harbor", "quince", "saffron", "tundra", "falcon", "walnut", "meadow", "copper",
          "lagoon", "trellis", "juniper", "cobalt", "pepper", "magpie", "summit", "ember"]


def password_k(rnd: random.Random) -> str:
    """Passwords as people and password managers make them."""
    style = rnd.randrange(11)
    if style == 0:  # Bitwarden's generator with special characters
        return _s(rnd, rnd.choice((14, 18, 22)), _AN + "!@#$%^&*")
    if style == 1:  # Bitwarden's passphrase: capitalised words, a digit
        words = [w.title() for w in rnd.sample(_WORDS, 3)]
        return rnd.choice(("-", "_", ".")).join(words) + _d(rnd, 1)
    if style == 2:  # a sentence with spaces
        return rnd.choice(("my dog ate the ", "correct horse ", "two coffees before ")) \
            + rnd.choice(_WORDS) + " " + _d(rnd, 2)
    if style == 3:  # Apple's strong password
        return "-".join(_s(rnd, 6, _LOW + _DIG) for _ in range(3))
    if style == 4:  # a name, a year and a symbol
        return rnd.choice(("Porto", "Bella", "Tigger", "Oliver", "Simba")) \
            + str(rnd.randint(1975, 2025)) + rnd.choice("!?*$")
    if style == 5:  # a quote and brackets
        return rnd.choice(("O'Brien[", "we're{in}", "\"Quoted\"", "c'est_la_vie<")) \
            + _d(rnd, 3) + rnd.choice("]}>)")
    if style == 6:  # Dashlane's long random one
        return _s(rnd, 28, _AN + "&%+=;:,.~")
    if style == 7:  # leet speak
        return rnd.choice(("P@ssw0rd", "S3cur1ty", "W1nt3r", "Adm1n!")) + "_" \
            + rnd.choice(_WORDS) + _d(rnd, 2)
    if style == 8:  # a Bitwarden passphrase with spaces
        return " ".join(rnd.sample(_WORDS, 4))
    if style == 9:  # a PIN-like suffix with a hash
        return rnd.choice(_WORDS).title() + "#" + _d(rnd, 4)
    return _s(rnd, 3, _UP) + "$" + _s(rnd, 5, _LOW) + "%" + _d(rnd, 4) + "\\" + _s(rnd, 2, _UP)


def url_password_k(rnd: random.Random) -> str:
    """A password as it stands in a URL: unreserved characters or percent-encoded ones."""
    if rnd.random() < 0.4:
        raw = _s(rnd, rnd.randint(10, 18), _AN) + rnd.choice("@:/#?!&") + _s(rnd, 4, _AN)
        return quote(raw, safe="")
    return _s(rnd, rnd.randint(16, 32), _AN + "-._~")


def _b64url(data: object) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt_k(rnd: random.Random) -> str:
    alg = rnd.choice(("RS256", "HS256", "ES384", "PS256"))
    head = {"alg": alg, "typ": "JWT"} if rnd.random() < 0.5 else \
        {"typ": "JWT", "alg": alg, "kid": _s(rnd, 16, _URL)}
    claims = {"iss": rnd.choice(("https://login.hallberg-bygg.se/", "https://sts.okafor.studio",
                                 "urn:novak-dental:auth")),
              "sub": rnd.choice((str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                                 f"user|{_d(rnd, 9)}")),
              "exp": rnd.randint(1_765_100_000, 1_768_000_000),
              "email_verified": True, "roles": rnd.choice((["admin"], ["clinic", "billing"]))}
    size = {"RS256": 342, "PS256": 342, "HS256": 43, "ES384": 128}[alg]
    return f"{_b64url(head)}.{_b64url(claims)}.{_s(rnd, size, _URL)}"


def private_key_k(rnd: random.Random) -> str:
    kind = rnd.choice(("PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY",
                       "OPENSSH PRIVATE KEY"))
    width = 70 if kind == "OPENSSH PRIVATE KEY" else 64
    start = {"PRIVATE KEY": rnd.choice(("MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQ",
                                        "MC4CAQAwBQYDK2VwBCIEI")),
             "RSA PRIVATE KEY": "MIIEowIBAAKCAQEA",
             "EC PRIVATE KEY": "MHQCAQEEI",
             "OPENSSH PRIVATE KEY": "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB"}[kind]
    if start == "MC4CAQAwBQYDK2VwBCIEI":  # a whole Ed25519 PKCS#8 key is one line
        lines = [start + _s(rnd, 43, _B64)]
    else:
        middle = {"EC PRIVATE KEY": (1, 1), "OPENSSH PRIVATE KEY": (4, 6)}.get(kind, (20, 24))
        lines = [start + _s(rnd, width - len(start), _B64)]
        lines += [_s(rnd, width, _B64) for _ in range(rnd.randint(*middle))]
        lines.append(_s(rnd, rnd.randint(8, 60), _B64) + rnd.choice(("=", "==", "")))
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"


def aws_session_k(rnd: random.Random) -> str:
    if rnd.random() < 0.6:
        return "IQoJb3JpZ2luX2VjE" + _s(rnd, 6, _B64) + "//////////" \
            + _s(rnd, rnd.choice((380, 450, 600)), _B64) + "="
    return "FwoGZXIvYXdzE" + _s(rnd, 10, _B64) + "//////////" + _s(rnd, 300, _B64)


def _intercom(rnd: random.Random) -> str:
    ident = str(uuid.UUID(int=rnd.getrandbits(128), version=4)).replace("-", "_")
    return base64.b64encode(f"tok:{ident}:1:0".encode()).decode()


def _mapbox_secret(rnd: random.Random) -> str:
    user = rnd.choice(("okafor-studio", "quintero", "hallbergbygg"))
    return "sk." + _b64url({"u": user, "a": _s(rnd, 25, _LOW + _DIG)}) + "." + _s(rnd, 22, _URL)


#: Vendors' documented token formats (prefix, length and alphabet as documented).
_VENDORS_K: tuple[Callable[[random.Random], str], ...] = (
    lambda r: "nfp_" + _s(r, 36),                                          # Netlify
    lambda r: "dt0c01." + _s(r, 24, _UP + _DIG) + "." + _s(r, 64, _UP + _DIG),  # Dynatrace
    _mapbox_secret,                                                        # Mapbox secret
    lambda r: "CFPAT-" + _s(r, 43, _URL),                                  # Contentful
    lambda r: "pnu_" + _s(r, 36, _LOW + _DIG),                             # Prefect
    lambda r: "sgp_" + _s(r, 40, _HEXL),                                   # Sourcegraph
    lambda r: "tk-us-" + _s(r, 48, _URL),                                  # Scalingo
    lambda r: "shippo_live_" + _s(r, 40, _HEXL),                           # Shippo
    lambda r: "fio-u-" + _s(r, 64, _URL),                                  # Frame.io
    lambda r: "duffel_live_" + _s(r, 43, _URL),                            # Duffel
    lambda r: "EZAK" + _s(r, 54),                                          # EasyPost
    lambda r: "FLWSECK-" + _s(r, 32, _HEXL) + "-X",                        # Flutterwave
    lambda r: "aio_" + _s(r, 28),                                          # Adafruit IO
    lambda r: "CLOJARS_" + _s(r, 60, _LOW + _DIG),                         # Clojars
    lambda r: "rubygems_" + _s(r, 48, _HEXL),                              # RubyGems
    lambda r: "pat." + _s(r, 22, _URL) + "." + _s(r, 24, _HEXL) + "." + _s(r, 20),  # Harness
    lambda r: "1/" + _d(r, 16) + ":" + _s(r, 32, _HEXL),                   # Asana PAT
    lambda r: "pat-" + r.choice(("na1", "eu1")) + "-"
    + str(uuid.UUID(int=r.getrandbits(128), version=4)),                   # HubSpot app
    _intercom,                                                             # Intercom
    lambda r: "EAAA" + _s(r, 60, _URL),                                    # Square
    lambda r: "r8_" + _s(r, 37),                                           # Replicate
    lambda r: "pplx-" + _s(r, 48),                                         # Perplexity
    lambda r: "lsv2_pt_" + _s(r, 32, _HEXL) + "_" + _s(r, 10, _HEXL),      # LangSmith
    lambda r: "API-" + _s(r, 26, _UP + _DIG),                              # Octopus Deploy
    lambda r: "AKCp" + _s(r, 69),                                          # JFrog API key
    lambda r: "ATBB" + _s(r, 32),                                          # Bitbucket app pw
    lambda r: "ico-" + _s(r, 32),                                          # Infracost
    lambda r: "SK" + _s(r, 32, _HEXL),                                     # Twilio API key
)

SECRETS_K: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: r.choice(("AKIA", "AKIA", "ASIA")) + _s(r, 16, _B32),
    "aws_secret_access_key": lambda r: _s(r, 40, _B64),
    "aws_session_token": aws_session_k,
    "azure_sas_signature": lambda r: quote(base64.b64encode(
        bytes(r.getrandbits(8) for _ in range(32))).decode(), safe=""),
    "github_token": lambda r: r.choice((
        "ghp_" + _s(r, 36), "ghs_" + _s(r, 36), "gho_" + _s(r, 36),
        "github_pat_11" + _s(r, 20, _UP + _DIG) + "_" + _s(r, 59))),
    "gitlab_token": lambda r: r.choice((
        "glpat-" + _s(r, 20, _URL), "gldt-" + _s(r, 20, _URL), "glptt-" + _s(r, 40, _HEXL))),
    "slack_token": lambda r: r.choice((
        "xoxb-" + _d(r, 13) + "-" + _d(r, 13) + "-" + _s(r, 24),
        "xoxp-" + _d(r, 12) + "-" + _d(r, 12) + "-" + _d(r, 13) + "-" + _s(r, 32, _HEXL),
        "xapp-1-A" + _s(r, 10, _UP + _DIG) + "-" + _d(r, 13) + "-" + _s(r, 64, _HEXL))),
    "stripe_key": lambda r: r.choice((
        "sk_live_51" + _s(r, 97), "rk_live_51" + _s(r, 97), "whsec_" + _s(r, 32))),
    "openai_api_key": lambda r: r.choice(("sk-proj-", "sk-svcacct-")) + _s(r, 74, _URL)
    + "T3BlbkFJ" + _s(r, 74, _URL),
    "anthropic_api_key": lambda r: "sk-ant-api03-" + _s(r, 93, _URL) + "AA",
    "jwt": jwt_k,
    "private_key": private_key_k,
    "npm_token": lambda r: "npm_" + _s(r, 36),
    "huggingface_token": lambda r: "hf_" + _s(r, 34, string.ascii_letters),
    "sendgrid_api_key": lambda r: "SG." + _s(r, 22, _URL) + "." + _s(r, 43, _URL),
    "google_api_key": lambda r: "AIza" + _s(r, 35, _URL),
    "telegram_bot_token": lambda r: str(r.randint(10**8, 10**10 - 1)) + ":AA"
    + _s(r, 33, _URL),
    "vendor_token": lambda r: r.choice(_VENDORS_K)(r),
    "client_secret": lambda r: r.choice((
        _s(r, 3) + "8Q~" + _s(r, 34, _AN + "_~.-"),                          # Entra ID
        "GOCSPX-" + _s(r, 28, _URL),                                          # Google OAuth
        "sq0csp-" + _s(r, 43, _URL),                                          # Square app
        _s(r, 64, _URL),                                                      # Auth0
        _s(r, 32))),                                                          # Keycloak
    "password": password_k,
    "url_password": url_password_k,
}

PERSONAL_K: dict[str, Callable[[random.Random], str]] = {
    "email": email_k, "phone": phone_k, "payment_card": card_k, "iban": iban_k,
    "us_ssn": ssn_k, "ipv4": ipv4_k, "ipv6": ipv6_k}
#: Every type set K plants: the names set J uses.
KINDS_K = tuple(sorted({**SECRETS_K, **PERSONAL_K}))

#: Type -> (identifier words, how a person names it).
_NAMES: dict[str, tuple[Sequence[Sequence[str]], Sequence[str]]] = {
    "email": ((("email",), ("reply", "to"), ("owner", "email"), ("alert", "email")),
              ("email", "e-mail", "email address", "personal email", "home email")),
    "phone": ((("phone",), ("mobile",), ("contact", "number"), ("oncall", "phone")),
              ("phone", "mobile number", "cell", "phone number", "home phone", "WhatsApp")),
    "payment_card": ((("card", "number"), ("card", "pan"), ("billing", "card")),
                     ("card number", "credit card", "Visa", "card", "debit card number")),
    "iban": ((("iban",), ("refund", "iban"), ("settlement", "iban")),
             ("IBAN", "bank account", "IBAN for the refund", "account (IBAN)")),
    "us_ssn": ((("ssn",), ("tax", "ssn"), ("social", "security")),
               ("SSN", "social security number", "Social Security no.", "SSN/TIN")),
    "ipv4": ((("ip",), ("client", "ip"), ("remote", "addr")),
             ("IP", "IP address", "public IP", "home IP")),
    "ipv6": ((("ipv6",), ("client", "ipv6")), ("IPv6 address", "v6 address")),
    "aws_access_key_id": ((("aws", "access", "key", "id"), ("aws", "key", "id")),
                          ("AWS access key ID", "access key ID")),
    "aws_secret_access_key": ((("aws", "secret", "access", "key"), ("aws", "secret", "key")),
                              ("AWS secret access key", "AWS secret")),
    "aws_session_token": ((("aws", "session", "token"),), ("AWS session token",
                                                            "session token")),
    "azure_sas_signature": ((("blob", "sas", "url"), ("sas", "url")),
                            ("SAS URL", "blob SAS link")),
    "github_token": ((("github", "token"), ("gh", "token")), ("GitHub token", "GH token")),
    "gitlab_token": ((("gitlab", "token"), ("gitlab", "deploy", "token")),
                     ("GitLab token", "deploy token")),
    "slack_token": ((("slack", "token"), ("slack", "app", "token")),
                    ("Slack token", "Slack app token")),
    "stripe_key": ((("stripe", "secret"), ("stripe", "key")), ("Stripe key", "Stripe secret")),
    "openai_api_key": ((("openai", "key"), ("openai", "api", "key")),
                       ("OpenAI key", "OpenAI API key")),
    "anthropic_api_key": ((("anthropic", "key"), ("anthropic", "api", "key")),
                          ("Anthropic key", "Anthropic API key")),
    "jwt": ((("bearer", "token"), ("access", "token"), ("id", "token")),
            ("bearer token", "access token", "JWT")),
    "private_key": ((("private", "key"), ("signing", "key"), ("ssh", "private", "key")),
                    ("private key", "signing key", "SSH key")),
    "npm_token": ((("npm", "token"),), ("npm token", "npm publish token")),
    "huggingface_token": ((("hf", "token"), ("hugging", "face", "token")),
                          ("HF token", "Hugging Face token")),
    "sendgrid_api_key": ((("sendgrid", "key"), ("sendgrid", "api", "key")),
                         ("SendGrid key", "SendGrid API key")),
    "google_api_key": ((("google", "api", "key"), ("gcp", "api", "key")),
                       ("Google API key", "GCP key")),
    "telegram_bot_token": ((("telegram", "bot", "token"), ("tg", "token")),
                           ("Telegram bot token", "bot token")),
    "vendor_token": ((("api", "key"), ("api", "token"), ("auth", "token"), ("service", "token")),
                     ("API key", "API token", "token", "service token")),
    "client_secret": ((("client", "secret"), ("oauth", "secret")),
                      ("client secret", "OAuth secret")),
    "password": ((("password",), ("passwd",), ("admin", "password"), ("db", "pass"),
                  ("login", "password")),
                 ("password", "admin password", "the wifi password", "login", "pass")),
    "url_password": ((("db", "url"), ("dsn",), ("connection", "string")),
                     ("connection string", "DB URL", "DSN")),
}

#: Values whose format says what they are: a bare line need not name them.
_OBVIOUS = frozenset({
    "email", "payment_card", "iban", "ipv4", "ipv6", "aws_access_key_id", "github_token",
    "gitlab_token", "slack_token", "stripe_key", "openai_api_key", "anthropic_api_key", "jwt",
    "private_key", "npm_token", "sendgrid_api_key", "google_api_key", "huggingface_token",
    "url_password", "azure_sas_signature"})

_DSN_FORMS = (
    "postgres://clinic_app:{v}@db-1.novak-dental.cz:5432/clinic",
    "mysql://wp:{v}@10.4.0.12:3306/wordpress",
    "redis://default:{v}@redis.quintero.farm:6380/0",
    "mongodb+srv://orders:{v}@cluster0.okafor.studio/shop?retryWrites=true",
    "amqps://bookings:{v}@mq.hallberg-bygg.se:5671/prod",
    "https://ci:{v}@artifacts.rahman-accounts.co.uk/simple",
    "sftp://scans:{v}@files.cardoso-advogados.pt:2222/inbox",
)


def _shown(type_: str, value: str, template: str, rnd: random.Random) -> str:
    """The text around a value that stands inside a URL."""
    if type_ == "url_password" and "://" not in template.split("{v}")[0]:
        return rnd.choice(_DSN_FORMS).replace("{v}", value)
    if type_ == "azure_sas_signature":
        account = rnd.choice(("clinicscans", "loandocs", "rentalphotos"))
        return (f"https://{account}.blob.core.windows.net/uploads/batch-7.zip?sv=2023-11-03"
                f"&ss=b&srt=o&sp=rl&se=2027-01-15T00:00:00Z&st=2026-12-08T08:00:00Z"
                f"&spr=https&sig={value}")
    return value


# --- decoys ----------------------------------------------------------------------------------


def _fiction_phone(rnd: random.Random) -> str:
    """Numbers NANPA and Ofcom set aside for fiction and documentation."""
    k = rnd.randrange(5)
    if k == 0:
        area = rnd.choice((206, 415, 512, 614, 818))
        line = f"01{rnd.randint(0, 99):02d}"
        return rnd.choice((f"({area}) 555-{line}", f"{area}-555-{line}", f"+1 {area} 555 {line}"))
    if k == 1:
        return rnd.choice(("07700 900", "+44 7700 900")) + f"{rnd.randint(0, 999):03d}"
    if k == 2:
        return rnd.choice(("020 7946 0", "+44 20 7946 0")) + f"{rnd.randint(0, 999):03d}"
    if k == 3:
        return rnd.choice(("0117 496 0", "0118 496 0", "+44 117 496 0")) \
            + f"{rnd.randint(0, 999):03d}"
    return rnd.choice(("01632 960", "+44 1632 960")) + f"{rnd.randint(0, 999):03d}"


_JWT_IO = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9l"
           "IiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")


def _bcrypt(rnd: random.Random) -> str:
    return "$2y$10$" + _s(rnd, 53, _AN + "./")


def _sha512_crypt(rnd: random.Random) -> str:
    return "$6$" + _s(rnd, 16, _AN + "./") + "$" + _s(rnd, 86, _AN + "./")


def _vin(rnd: random.Random) -> str:
    return rnd.choice(("WVW", "WBA", "VF1", "JTD", "1HG")) + _s(rnd, 14, "ABCDEFGHJKLMNPRSTUVWXYZ"
                                                                  + _DIG)


@attrs.frozen
class _Decoy:
    """A look-alike: its value (or what makes it), the type whose place it takes, its
    identifier words and name, whether a paper form may hold it, and the artifacts it
    belongs to (empty: any)."""

    value: str | Callable[[random.Random], str]
    place: str
    words: Sequence[str]
    what: str
    paper: bool = False
    homes: frozenset[str] = frozenset()


def _at(*names: str) -> frozenset[str]:
    return frozenset(names)


_DECOYS_K: tuple[_Decoy, ...] = (
    # documentation samples and published test values
    _Decoy("AKIAIOSFODNN7EXAMPLE", "aws_access_key_id", ("aws", "access", "key", "id"),
           "AWS access key ID"),
    _Decoy("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key",
           ("aws", "secret", "access", "key"), "AWS secret access key"),
    _Decoy("sk_test_4eC39HqLyjWDarjtT1zdp7dc", "stripe_key", ("stripe", "key"), "Stripe key"),
    _Decoy(_JWT_IO, "jwt", ("bearer", "token"), "bearer token"),
    _Decoy("4111 1111 1111 1111", "payment_card", ("card", "number"), "card number", True),
    _Decoy("4242424242424242", "payment_card", ("card", "number"), "test card", True),
    _Decoy("5105 1051 0510 5100", "payment_card", ("card", "number"), "card number", True),
    _Decoy("3714 496353 98431", "payment_card", ("card", "number"), "Amex", True),
    _Decoy("3056 9309 0259 04", "payment_card", ("card", "number"), "card number", True),
    _Decoy("3566 0020 2036 0505", "payment_card", ("card", "number"), "JCB test card", True),
    _Decoy("6011 0009 9013 9424", "payment_card", ("card", "number"), "card number", True),
    _Decoy("4012888888881881", "payment_card", ("card", "number"), "card", True),
    _Decoy("DE89 3704 0044 0532 0130 00", "iban", ("iban",), "IBAN", True),
    _Decoy("FR14 2004 1010 0505 0001 3M02 606", "iban", ("iban",), "IBAN", True),
    _Decoy("BE68539007547034", "iban", ("iban",), "IBAN", True),
    _Decoy("GB29 NWBK 6016 1331 9268 19", "iban", ("iban",), "example IBAN", True),
    _Decoy(lambda r: f"987-65-432{r.randint(0, 9)}", "us_ssn", ("ssn",), "SSN", True),
    _Decoy("078-05-1120", "us_ssn", ("ssn",), "SSN", True),
    _Decoy(lambda r: f"{r.choice(('000', '666', '900', '987'))}-{_d(r, 2)}-{_d(r, 4)}",
           "us_ssn", ("ssn",), "SSN", True),
    _Decoy(lambda r: f"{r.randint(1, 899):03d}-{_d(r, 2)}-0000", "us_ssn", ("ssn",), "SSN",
           True),
    # shipped defaults
    _Decoy("changeme", "password", ("password",), "password",
           homes=_at("grafana_datasource", "puppet_hiera", "salt_pillar")),
    _Decoy("example", "password", ("password",), "password",
           homes=_at("docker_inspect", "unified_diff")),
    # references to values kept elsewhere, in each tool's syntax
    _Decoy("(System/getenv \"STRIPE_KEY\")", "stripe_key", ("stripe", "key"), "Stripe key",
           homes=_at("clojure_edn")),
    _Decoy("#env DB_PASSWORD", "password", ("password",), "password", homes=_at("clojure_edn")),
    _Decoy("Sys.getenv \"API_TOKEN\"", "vendor_token", ("api", "token"), "API token",
           homes=_at("ocaml_source")),
    _Decoy("std.posix.getenv(\"GITHUB_TOKEN\")", "github_token", ("github", "token"),
           "GitHub token", homes=_at("zig_source")),
    _Decoy("${SMTP_PASS}", "password", ("password",), "password",
           homes=_at("erlang_sysconfig")),
    _Decoy("%DB_PASSWORD%", "password", ("db", "pass"), "DB password",
           homes=_at("windows_batch")),
    _Decoy("\"$STATS_PASSWORD\"", "password", ("admin", "password"), "stats password",
           homes=_at("haproxy_cfg")),
    _Decoy("${DB_PASSWORD}", "password", ("db", "pass"), "DB password",
           homes=_at("grafana_datasource")),
    _Decoy("{{ env \"API_TOKEN\" }}", "vendor_token", ("api", "token"), "API token",
           homes=_at("traefik_dynamic")),
    _Decoy("{{user `db_password`}}", "password", ("db", "pass"), "DB password",
           homes=_at("packer_template")),
    _Decoy("${ssm:/bookings/prod/stripe-key}", "stripe_key", ("stripe", "key"), "Stripe key",
           homes=_at("serverless_yml")),
    _Decoy("${env:SENDGRID_API_KEY}", "sendgrid_api_key", ("sendgrid", "key"), "SendGrid key",
           homes=_at("serverless_yml", "vscode_launch")),
    _Decoy("{{ pillar['mysql']['root_password'] }}", "password", ("password",), "password",
           homes=_at("salt_pillar")),
    _Decoy("%{lookup('profile::db::password')}", "password", ("db", "pass"), "DB password",
           homes=_at("puppet_hiera")),
    _Decoy("ENC[PKCS7,MIIBeQYJKoZIhvcNAQcDoIIBajCCAWYCAQAxggEhMIIBHQIBADAFMAACAQEwDQYJKoZIhvcN"
           "AQEBBQAEggEAbK4Q]", "password", ("password",), "password",
           homes=_at("puppet_hiera")),
    _Decoy("%(ENV_WORKER_API_KEY)s", "vendor_token", ("api", "key"), "API key",
           homes=_at("supervisord_conf")),
    _Decoy("$__file{/run/secrets/grafana_db_password}", "password", ("password",), "password",
           homes=_at("grafana_datasource")),
    _Decoy("/etc/alertmanager/secrets/smtp_password", "password_file", ("password",),
           "password", homes=_at("alertmanager_yml")),
    _Decoy("${input:openaiKey}", "openai_api_key", ("openai", "key"), "OpenAI key",
           homes=_at("vscode_launch")),
    _Decoy("os.environ[\"HF_TOKEN\"]", "huggingface_token", ("hf", "token"), "HF token",
           homes=_at("ipython_session")),
    # masks and placeholders
    _Decoy(lambda r: "•••• •••• •••• " + _d(r, 4), "payment_card", ("card", "number"),
           "card", True),
    _Decoy(lambda r: "************" + _d(r, 4), "payment_card", ("card", "number"),
           "card number", True),
    _Decoy(lambda r: "***-**-" + _d(r, 4), "us_ssn", ("ssn",), "SSN", True),
    _Decoy(lambda r: r.choice(("DE", "FR", "ES")) + _d(r, 2) + " **** **** **** " + _d(r, 4),
           "iban", ("iban",), "IBAN", True),
    _Decoy("<your-api-key>", "vendor_token", ("api", "key"), "API key"),
    _Decoy("sk-ant-api03-...", "anthropic_api_key", ("anthropic", "key"), "Anthropic key"),
    _Decoy("ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "github_token", ("github", "token"),
           "GitHub token"),
    _Decoy("********", "password", ("password",), "password", True),
    _Decoy("TODO", "client_secret", ("client", "secret"), "client secret"),
    # public identifiers, hashes and numbers of other kinds
    _Decoy(lambda r: "pk_live_" + _s(r, 24), "stripe_key", ("stripe", "publishable", "key"),
           "Stripe publishable key"),
    _Decoy(lambda r: f"{_d(r, 12)}-{_s(r, 32, _LOW + _DIG)}.apps.googleusercontent.com",
           "", ("client", "id"), "OAuth client ID"),
    _Decoy(lambda r: "AC" + _s(r, 32, _HEXL), "", ("account", "sid"),
           "Twilio account SID"),
    _Decoy(_bcrypt, "password", ("password", "hash"), "password hash"),
    _Decoy(lambda r: "$apr1$" + _s(r, 8, _AN + "./") + "$" + _s(r, 22, _AN + "./"), "crypt",
           ("password",), "password", homes=_at("traefik_dynamic")),
    _Decoy(lambda r: "md5" + _s(r, 32, _HEXL), "crypt", ("password",), "password",
           homes=_at("pgbouncer_ini")),
    _Decoy(_sha512_crypt, "crypt", ("password",), "password",
           homes=_at("haproxy_cfg", "salt_pillar", "puppet_hiera")),
    _Decoy(lambda r: "sha256:" + _s(r, 64, _HEXL), "", ("image", "digest"), "image digest"),
    _Decoy(lambda r: _s(r, 64, _HEXL), "", ("container", "id"), "container ID",
           homes=_at("docker_inspect")),
    _Decoy(lambda r: _s(r, 40, _HEXL), "", ("commit",), "commit"),
    _Decoy(lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)), "", ("request", "id"),
           "request ID", True),
    _Decoy(_vin, "", ("vin",), "VIN", True, _at("car_rental_agreement")),
    _Decoy(lambda r: "985" + _d(r, 12), "", ("microchip",), "microchip number", True,
           _at("vet_registration")),
    _Decoy(lambda r: f"{r.choice(('SC', 'CV'))}-{r.randint(2025, 2026)}-{_d(r, 6)}", "",
           ("case", "number"), "case number", True, _at("small_claims_form")),
    _Decoy(lambda r: f"10.0.{r.choice(('19045', '22621', '26100'))}.{r.randint(1000, 5000)}",
           "", ("os", "build"), "OS build"),
    _Decoy(lambda r: f"{r.randint(1, 3)}.{r.randint(0, 30)}.{r.randint(0, 9)}."
           f"{r.randint(0, 99)}", "", ("version",), "version"),
    _Decoy(lambda r: f"{_d(r, 4)} {_d(r, 4)} {_d(r, 4)}", "", ("loan", "reference"),
           "loan reference", True, _at("loan_application", "formal_letter")),
    # ranges reserved for documentation or fiction
    _Decoy(_fiction_phone, "phone", ("phone",), "phone", True),
    _Decoy(_fiction_phone, "phone", ("mobile",), "mobile number", True),
    _Decoy(lambda r: f"{r.choice(_FIRST)}@example.com", "email", ("email",), "email", True),
    _Decoy(lambda r: f"{r.choice(_FIRST)}.{r.choice(_LAST)}@"
           f"{r.choice(('example.org', 'clinic.example', 'shop.test', 'mail.invalid'))}",
           "email", ("email",), "email", True),
    _Decoy(lambda r: f"203.0.113.{r.randint(1, 254)}", "ipv4", ("client", "ip"), "IP"),
    _Decoy(lambda r: f"198.51.100.{r.randint(1, 254)}", "ipv4", ("ip",), "IP address"),
    _Decoy(lambda r: f"192.0.2.{r.randint(1, 254)}", "ipv4", ("remote", "addr"), "IP"),
    _Decoy(lambda r: f"2001:db8:{r.randint(1, 0xffff):x}::{r.randint(1, 0xfff):x}", "ipv6",
           ("ipv6",), "IPv6 address"),
)

#: Decoys that are expressions of a language or a tool: they stand without quotes there.
_BARE_DECOYS = frozenset({"(System/getenv \"STRIPE_KEY\")",
                          "#env DB_PASSWORD", "Sys.getenv \"API_TOKEN\"",
                          "std.posix.getenv(\"GITHUB_TOKEN\")",
                          "os.environ[\"HF_TOKEN\"]"})


def _mutated(value: str, rnd: random.Random) -> str:
    """``value`` with one digit after its first four characters changed (a slip)."""
    at = rnd.choice([i for i, c in enumerate(value) if c.isdigit() and i >= 4])
    return value[:at] + rnd.choice([c for c in _DIG if c != value[at]]) + value[at + 1:]


# --- artifacts ----------------------------------------------------------------------------------


def _ident(words: Sequence[str], case: str) -> str:
    if case == "upper":
        return "_".join(words).upper()
    if case == "camel":
        return words[0] + "".join(w.title() for w in words[1:])
    if case == "kebab":
        return "-".join(words)
    if case == "dotted":
        return ".".join(words)
    return "_".join(words)


@attrs.frozen
class _Artifact:
    """One kind of document: ``lines`` are templates with ``{v}`` and a name (``{name}``
    in ``case``, ``{NAME}``, ``{what}``, ``{What}``), each with the types it suits (empty:
    any); ``bare`` lines name nothing; ``filler`` goes between values. ``holds`` limits
    the types; ``escape`` is "json" or "xml" when values sit in such strings; ``avoid``
    lists characters a password may not hold there; ``pem`` allows PEM keys (the first
    line that suits them puts them on lines of their own)."""

    prose: bool
    head: Sequence[str]
    lines: Sequence[tuple[str, frozenset[str]]]
    bare: Sequence[str]
    filler: Sequence[str]
    tail: Sequence[str]
    case: str = "snake"
    escape: str = ""
    avoid: str = ""
    holds: frozenset[str] = frozenset()
    pem: bool = False


def _any(*lines: str) -> list[tuple[str, frozenset[str]]]:
    return [(line, frozenset()) for line in lines]


def _for(line: str, *types: str) -> tuple[str, frozenset[str]]:
    return (line, frozenset(types))


_PII = frozenset({"email", "phone", "payment_card", "iban", "us_ssn"})
_SECRET = tuple(sorted({"aws_access_key_id", "aws_secret_access_key", "aws_session_token",
                      "github_token", "gitlab_token", "slack_token", "stripe_key",
                      "openai_api_key", "anthropic_api_key", "jwt", "npm_token",
                      "huggingface_token", "sendgrid_api_key", "google_api_key",
                      "telegram_bot_token", "vendor_token", "client_secret", "password"}))
_HEADER = ("aws_session_token", "github_token", "gitlab_token", "slack_token", "stripe_key",
           "openai_api_key", "anthropic_api_key", "jwt", "npm_token", "huggingface_token",
           "sendgrid_api_key", "google_api_key", "telegram_bot_token", "vendor_token",
           "client_secret")

_ARTIFACTS: dict[str, _Artifact] = {
    # --- prose ---
    "mattermost_export": _Artifact(
        True, ['{"type": "version", "version": 1}',
               '{"type": "channel", "channel": {"team": "ops", "name": "clinic-it"}}'],
        _any('{"type": "post", "post": {"user": "njeri", "message": "the {what} for the'
             ' portal is {v}"}}',
             '{"type": "post", "post": {"user": "soren", "message": "@njeri is `{v}` still'
             ' our {what}?"}}',
             '{"type": "post", "post": {"user": "njeri", "message": "{What}:\\n```\\n{v}\\n```'
             '\\nplease don\'t forward"}}',
             '{"type": "reply", "reply": {"user": "amara", "message": "new {what} after the'
             ' reset: {v}"}}'),
        ['{"type": "post", "post": {"user": "amara", "message": "{v}"}}'],
        ['{"type": "post", "post": {"user": "soren", "message": "printer on floor 2 is'
         ' jammed again"}}',
         '{"type": "post", "post": {"user": "amara", "message": "lunch?"}}'],
        [], escape="json", pem=True),
    "imessage_export": _Artifact(
        True, ["Messages with Paulo Cardoso", "Dec 6, 2026 at 21:14"],
        _any("Paulo Cardoso: what's the {what} again?\nMe: {v}",
             "Me: {what} is {v} - delete this after",
             "Paulo Cardoso: ok I wrote down {v} as the {what}",
             "Me: sorry wrong one. {What}: {v}"),
        ["Me: {v}"],
        ["Paulo Cardoso: Loved \"see you Sunday\"", "Me: 😂", "Paulo Cardoso: are you home?"],
        ["Read 21:40"], pem=True),
    "skype_log": _Artifact(
        True, ["[12/07/2026 10:02:11] Tomasz Svoboda: morning",
               "[12/07/2026 10:02:40] Rania Rahman: hi, did you get the invoice?"],
        [_for("[12/07/2026 10:03:05] Tomasz Svoboda: yes. pay it with my {what} {v}",
              "payment_card"),
         *_any("[12/07/2026 10:04:19] Rania Rahman: {What} for the shared drive: {v}",
             "[12/07/2026 10:05:51] Tomasz Svoboda: <<< the {what} is {v}",
             "[12/07/2026 10:06:30] Rania Rahman: I have {v} as your {what}, correct?")],
        ["[12/07/2026 10:07:02] Tomasz Svoboda: {v}"],
        ["[12/07/2026 10:05:00] *** Call ended, duration 03:12 ***",
         "[12/07/2026 10:08:15] Rania Rahman: (y)"],
        []),
    "formal_letter": _Artifact(
        True, ["Lars Lindqvist", "Storgatan 14, 411 38 Göteborg", "", "7 December 2026", "",
               "Dear Sir or Madam,"],
        [_for("Please transfer the deposit of 1,200 EUR to my {what}: {v}.", "iban"),
         _for("I can be reached by {what} on {v} during office hours.", "phone", "email"),
         _for("For identification, my {what} is {v}.", "us_ssn", "email", "phone"),
         _for("You may also write to me at {v} ({what}).", "email"),
         *_any("My {what} is {v}.", "Please update the {what} you hold for me to {v}.")],
        ["Ref.: {v}"],
        ["I am writing to terminate the lease of the flat at Storgatan 14 as of 31 January.",
         "Please confirm receipt of this letter in writing."],
        ["", "Yours faithfully,", "Lars Lindqvist"], holds=_PII),
    "apple_notes": _Artifact(
        True, ["Notes export — \"Household\"", "Edited 4 Dec 2026 at 22:10", ""],
        [*_any("{What} - {v}", "{what}:\n{v}"),
         _for("Wifi {what}: {v}", "password"),
         _for("- [ ] renew {what} {v}", "payment_card", *_HEADER),
         _for("Mum's {what} {v}", "phone", "email", "payment_card", "iban", "us_ssn")],
        ["{v}"],
        ["Bins: Tuesday (green), Friday (grey)", "Boiler service due March",
         "Dentist 14 Jan 9:30"],
        [], pem=True),
    "gdoc_comments": _Artifact(
        True, ["Vendor onboarding checklist (Google Docs) — comments", ""],
        _any("Amara Okafor  10:14 Dec 5\n\"{what}\" — I've put {v} here for now, we'll move"
             " it to the vault.",
             "Florin Petrov  10:20 Dec 5\nReplying: is {v} the {what} for prod or staging?",
             "Amara Okafor  10:22 Dec 5\nprod. {What}: {v}\nResolved",
             "Greta Koenig  11:05 Dec 5\n@amara.okafor the {what} in the table is wrong, use"
             " {v}"),
        ["Greta Koenig  11:07 Dec 5\n{v}"],
        ["Florin Petrov  10:25 Dec 5\nThanks, resolving.", "Amara Okafor  10:30 Dec 5\n+1"],
        [], pem=True),
    "standup_report": _Artifact(
        True, ["Geekbot · Daily stand-up · #platform", "Yusuf Rahman — Dec 7"],
        [_for("Yesterday: rotated the {what} for billing, new one is {v}", *_SECRET),
         *_any("Today: hand the {what} ({v}) to Mireille so she can test the webhook",
             "Blockers: vendor won't accept {v} as the {what} anymore",
             "Notes: {What} = {v}")],
        ["Notes: {v}"],
        ["Yesterday: finished the Terraform module for the queues",
         "Blockers: none", "Today: pairing with Olek on the migration"],
        ["", "Posted in #platform"], pem=True),
    "shift_handover": _Artifact(
        True, ["NOC shift handover — night → day, 08 Dec 2026", "Outgoing: Hiroshi Tanaka",
               "Incoming: Kavya Egede", ""],
        [_for("- Customer called from {v} ({what}), wants a callback before 10:00.", "phone"),
         _for("- Vendor support gave us a temporary {what}: {v}", *_SECRET),
         _for("- Blocked {v} at the edge ({what}) after the brute-force alerts.", "ipv4",
              "ipv6"),
         _for("- Left the {what} with the on-call: {v}", *_SECRET),
         _for("- Repeated login failures from {v}; the {what} is now on the deny list.",
              "ipv4", "ipv6"),
         *_any("- {What} noted for the day team: {v}", "- Customer gave their {what} as {v}")],
        ["- {v}"],
        ["- Backups green. Disk on mx-2 at 81%.", "- Change freeze from Friday 18:00."],
        ["", "Open tickets: 4"]),
    "loan_application": _Artifact(
        True, ["PERSONAL LOAN APPLICATION", "Applicant: Joaquim Cardoso",
               "Loan amount requested: 18,000.00   Term: 60 months"],
        [*_any("{What}: {v}", "Applicant {what} ........ {v}", "Co-applicant {what}: {v}"),
         _for("Disburse funds to {what}: {v}", "iban"),
         _for("Repayments from {what}: {v}", "iban", "payment_card")],
        ["Notes: {v}"],
        ["Employment status: full-time, 6 years", "Housing: rent", "Annual income: 52,400"],
        ["", "I declare that the information above is true and complete."], holds=_PII),
    "gym_membership": _Artifact(
        True, ["FITLAB MEMBERSHIP FORM", "Member: Camille Dufour   Plan: Annual, monthly billing"],
        [*_any("{What}: {v}", "Emergency contact {what}: {v}"),
         _for("Direct debit from {what} {v}", "iban"),
         _for("Card for monthly fee ({what}): {v}", "payment_card")],
        ["Comments: {v}"],
        ["Start date: 01/01/2027", "Locker: no", "Health declaration: signed"],
        ["", "Signature: C. Dufour"], holds=_PII),
    "car_rental_agreement": _Artifact(
        True, ["RENTAL AGREEMENT No. 7741-0932", "Renter: Dawit Mbeki",
               "Vehicle: VW Golf 1.5 TSI, grey"],
        [*_any("Renter {what}: {v}", "Additional driver {what}: {v}"),
         _for("Deposit pre-authorised on {what} {v}", "payment_card"),
         _for("Local {what} during rental: {v}", "phone")],
        ["Remarks: {v}"],
        ["Pick-up: Lisbon Airport, 08/12/2026 09:00", "Fuel: full to full",
         "Mileage out: 24,118 km"],
        ["", "Renter's signature: ______"], holds=_PII),
    "hotel_registration": _Artifact(
        True, ["HOTEL REGISTRATION CARD — Hotel Quinta Azul", "Guest: Ilse Achterberg",
               "Arrival: 07.12.2026   Departure: 10.12.2026   Room: 214"],
        [*_any("{What}: {v}", "Guest {what}: {v}"),
         _for("Guarantee: {what} {v}", "payment_card"),
         _for("Company invoice, pay from {what} {v}", "iban")],
        ["Special requests: {v}"],
        ["Nationality: Dutch", "Passport no.: on file", "Adults: 2"],
        ["", "Guest signature: I. Achterberg"], holds=_PII),
    "vet_registration": _Artifact(
        True, ["NEW PATIENT REGISTRATION — Riverbend Veterinary Clinic",
               "Owner: Greta Hallberg", "Pet: Mosse (cat, 4 yrs, neutered)"],
        [*_any("Owner {what}: {v}", "Alternate {what}: {v}", "{What}: {v}"),
         _for("Card on file for treatment ({what}): {v}", "payment_card")],
        ["Notes: {v}"],
        ["Vaccinations: up to date", "Previous clinic: Djurkliniken Väst"],
        ["", "I agree to pay for services at the time they are provided."], holds=_PII),
    "small_claims_form": _Artifact(
        True, ["SMALL CLAIMS — STATEMENT OF CLAIM", "Plaintiff: Olek Novak",
               "Defendant: Bright Renovations LLC"],
        [*_any("Plaintiff's {what}: {v}", "Defendant's {what}: {v}"),
         _for("The defendant charged my {what} {v} for work that was never done.",
              "payment_card"),
         _for("Payment to be made to the plaintiff's {what}: {v}", "iban"),
         _for("Plaintiff's {what} (for the judgment record): {v}", "us_ssn")],
        ["Exhibit B: {v}"],
        ["Amount claimed: $4,850.00", "Date of incident: 09/14/2026"],
        ["", "I declare under penalty of perjury that the foregoing is true."], holds=_PII),
    "fax_cover_sheet": _Artifact(
        True, ["FAX", "To: Claims Department, Nordic Mutual", "From: Mireille Dufour",
               "Pages (including cover): 4"],
        [*_any("{What}: {v}", "Sender {what}: {v}"),
         _for("Please call me at {v} ({what}) if any page is unreadable.", "phone"),
         _for("Reimbursement to {what} {v}", "iban"),
         _for("Policyholder {what}: {v}", "us_ssn", "email")],
        ["Re: {v}"],
        ["Urgent [ ] For review [x] Please reply [x]",
         "CONFIDENTIALITY NOTICE: this fax is intended for the addressee only."],
        [], holds=_PII),
    "marketplace_messages": _Artifact(
        True, ["Marketplace · \"Road bike, 54 cm, barely used\" · 350 €",
               "Conversation with Bruno Benedetti"],
        [_for("Bruno: still available? my {what} is {v} if easier", "phone", "email", "iban"),
         _for("You: yes! send the money to {v} ({what}) and I'll ship Monday", "iban"),
         _for("Bruno: done, paid from {v} — {what}", "iban", "payment_card"),
         *_any("You: my {what}: {v}", "Bruno: here you go, {what} {v}"),
         _for("Bruno: can I pay by card? {v} exp 09/29", "payment_card")],
        ["Bruno: {v}"],
        ["You: the bike has new tyres", "Bruno: 👍"],
        ["", "Marketplace reminds you never to share payment details in chat."],
        holds=_PII | {"password"}),
    "slide_notes": _Artifact(
        True, ["Speaker notes — \"Q4 platform review.pptx\"", ""],
        [_for("Slide 7 (demo): log in as demo-admin, the {what} is {v}. Don't show the"
              " screen while typing it.", "password"),
         _for("Slide 9: if they ask, the vendor's {what} is {v} - not on the slide itself.",
              *_SECRET),
         _for("Backup plan if the projector dies: call Lars on {v} ({what}).", "phone"),
         _for("Slide 12: questions to {v} ({what}).", "email"),
         *_any("Slide 4: mention that the {what} ({v}) was rotated in November.",
               "Reminder for myself - {what}: {v}")],
        ["Slide 15: {v}"],
        ["Slide 2: keep this under a minute.", "Slide 5: latency chart, p95 down 40%."],
        ["", "Total: 25 minutes"], pem=False),
    "lab_notebook": _Artifact(
        True, ["ELN entry — Protein purification, run 14", "Author: Dr. Njeri Okafor",
               "Date: 2026-12-07", ""],
        [_for("Instrument PC (ÄKTA) login: {what} {v}", "password"),
         _for("Raw data uploaded to the core facility share ({what}: {v}).", *_SECRET,
              "url_password", "azure_sas_signature"),
         _for("Sequencing core contact, {what}: {v}", "phone", "email"),
         _for("Plate reader is on the lab network at {v} ({what}).", "ipv4", "ipv6"),
         *_any("{What}: {v}", "Note to self: {what} = {v}")],
        ["Observation: {v}"],
        ["Buffer A: 20 mM Tris pH 8.0, 150 mM NaCl.", "Yield: 4.2 mg from 1 L culture.",
         "Gel attached (lanes 1-6)."],
        ["", "Witnessed by: T. Svoboda"], pem=True),
    "survey_response": _Artifact(
        True, ["Typeform — \"Community garden sign-up\" — response #218",
               "Submitted 06 Dec 2026, 18:42"],
        [*_any("Q: What is your {what}?\nA: {v}", "Q: Anything else we should know?\nA: my"
               " {what} changed, it's {v} now"),
         _for("Q: Where should we send the plot invoice?\nA: {v}", "email"),
         _for("Q: A number we can text on watering days?\nA: {v}", "phone"),
         _for("Q: Annual fee (25 €) - pay from which account?\nA: {what} {v}", "iban",
              "payment_card")],
        ["A: {v}"],
        ["Q: Which plot size would you like?\nA: half plot",
         "Q: Can you help on work days?\nA: Saturdays"],
        ["", "Hidden fields: utm_source=newsletter"], holds=_PII),
    "journal_entry": _Artifact(
        True, ["Day One — Journal", "Sunday, 6 December 2026 · 23:05 · Lisbon", ""],
        [*_any("Finally sorted the admin stuff. Wrote the {what} on a sticky note and then"
               " lost it, so for the record: {v}",
               "Remember: {what} is {v} (I will forget again)."),
         _for("Mum called from a new {what}, {v}. Need to save it.", "phone"),
         _for("Work: I was told to keep the {what} somewhere safe. {v}. This is somewhere.",
              *_SECRET, "private_key")],
        ["{v}"],
        ["Rain all day. Read two chapters and made soup.",
         "Tomorrow: dentist at 9, then the long call with the Oslo team."],
        ["", "Tags: #home #admin"], pem=True),
    # --- machine text ---
    "clojure_edn": _Artifact(
        False, [";; resources/config.edn", "{:http {:port 8080}"],
        [*_any(" :{name} \"{v}\"", " :secrets {:{name} \"{v}\"}", " ;; {what}: {v}"),
         _for(" :db {:dbtype \"postgresql\" :user \"clinic\" :password \"{v}\"}", "password"),
         _for(" :deploy-repositories [[\"clojars\" {:username \"quintero\" :password \"{v}\"}]]",
              "vendor_token", "password")],
        [" ;; {v}"],
        [" :log-level :info", " :workers 4"],
        ["}"], case="kebab", avoid="\"\\"),
    "ocaml_source": _Artifact(
        False, ["(* lib/settings.ml *)", "open Printf"],
        [_for("let headers = [ (\"Authorization\", \"Bearer {v}\") ]", *_HEADER),
         *_any("let {name} = \"{v}\"", "let config = { host = \"db-1\"; {name} = \"{v}\" }",
               "(* {what}: {v} *)", "let {name} = {|{v}|}")],
        ["(* {v} *)"],
        ["let timeout = 30.0", "let () = Lwt_main.run (main ())"],
        [], avoid="\"\\|}", pem=True),
    "zig_source": _Artifact(
        False, ["const std = @import(\"std\");", ""],
        [_for("try headers.append(\"authorization\", \"Bearer {v}\");", *_HEADER),
         *_any("const {name} = \"{v}\";", "pub const {NAME}: []const u8 = \"{v}\";",
               "// {what}: {v}")],
        ["// {v}"],
        ["pub fn main() !void {", "    var gpa = std.heap.GeneralPurposeAllocator(.{}){};",
         "}"],
        [], avoid="\"\\"),
    "erlang_sysconfig": _Artifact(
        False, ["%% config/sys.config.src", "[", " {kernel, [{logger_level, info}]},"],
        [*_any(" {bookings, [{{name}, \"{v}\"}]},", " {bookings, [{{name}, <<\"{v}\">>}]},",
               " %% {what}: {v}"),
         _for(" {epgsql, [{host, \"db-1\"}, {username, \"bookings\"}, {password, \"{v}\"}]},",
              "password")],
        [" %% {v}"],
        [" {sasl, [{sasl_error_logger, false}]},"],
        [" {lager, []}", "]."], avoid="\"\\"),
    "windows_batch": _Artifact(
        False, ["@echo off", "REM deploy.cmd - copies the build to the file share",
                "setlocal"],
        [*_any("set {NAME}={v}", "set \"{NAME}={v}\"", "REM {what}: {v}"),
         _for("curl -H \"Authorization: Bearer {v}\" https://api.okafor.studio/deploy",
              *_HEADER),
         _for("net use Z: \\\\files01\\builds /user:CORP\\svc_build {v}", "password"),
         _for("sqlcmd -S db01 -U sa -P {v} -i migrate.sql", "password")],
        ["REM {v}"],
        ["xcopy /E /Y build Z:\\releases\\%DATE:~-4%", "if errorlevel 1 goto :fail"],
        ["endlocal"], case="upper", avoid="\" %^&|<>!"),
    "haproxy_cfg": _Artifact(
        False, ["global", "    log /dev/log local0", "defaults", "    mode http"],
        [_for("listen stats\n    bind :8404\n    stats enable\n    stats auth admin:{v}",
              "password"),
         _for("userlist ops\n    user kavya insecure-password {v}", "password"),
         _for("userlist ops\n    user kavya password {v}", "crypt"),
         _for("backend api\n    http-request set-header Authorization \"Bearer {v}\"",
              *_HEADER),
         _for("backend api\n    server api1 {v}:8443 check ssl verify none", "ipv4"),
         *_any("    # {what}: {v}", "    http-request set-header X-{NAME} {v}")],
        ["    # {v}"],
        ["    timeout connect 5s", "    timeout client 30s"],
        [], case="kebab", avoid="\"' \\#:"),
    "traefik_dynamic": _Artifact(
        False, ["# dynamic/routers.toml", "[http.routers.api]",
                "  rule = \"Host(`api.okafor.studio`)\"",
                "  middlewares = [\"auth\", \"headers\"]"],
        [_for("[http.middlewares.auth.basicAuth]\n  users = [\"admin:{v}\"]", "crypt"),
         _for("[http.middlewares.headers.headers.customRequestHeaders]\n  Authorization ="
              " \"Bearer {v}\"", *_HEADER),
         _for("[[http.services.api.loadBalancer.servers]]\n  url = \"http://{v}:8080\"",
              "ipv4"),
         *_any("[http.middlewares.headers.headers.customRequestHeaders]\n  X-{name} = \"{v}\"",
               "# {what}: {v}")],
        ["# {v}"],
        ["[http.routers.api.tls]\n  certResolver = \"le\""],
        [], case="kebab", avoid="\"\\"),
    "pgbouncer_ini": _Artifact(
        False, [";; /etc/pgbouncer/pgbouncer.ini", "[databases]"],
        [_for("clinic = host=db-1 port=5432 dbname=clinic user=clinic password={v}", "password"),
         _for(";; /etc/pgbouncer/userlist.txt\n\"clinic\" \"{v}\"", "password", "crypt"),
         _for("[pgbouncer]\nlisten_addr = {v}", "ipv4", "ipv6"),
         _for("admin_users = postgres\n;; contact {what}: {v}", "email", "phone"),
         *_any(";; {what}: {v}", "{name} = {v}")],
        [";; {v}"],
        ["pool_mode = transaction", "max_client_conn = 400", "auth_type = scram-sha-256"],
        [], avoid="\"' \\;#="),
    "packer_template": _Artifact(
        False, ['{', '  "builders": [{', '    "type": "amazon-ebs",',
                '    "region": "eu-west-1",'],
        [*_any('    "{name}": "{v}",'),
         _for('    "access_key": "{v}",', "aws_access_key_id"),
         _for('    "secret_key": "{v}",', "aws_secret_access_key"),
         _for('    "token": "{v}",', "aws_session_token"),
         _for('    "ssh_password": "{v}",', "password"),
         _for('  "provisioners": [{"type": "shell", "inline": ["echo \'{v}\' >'
              ' /etc/ssl/private/app.key"]}],', "private_key")],
        ['    "_comment": "{v}",'],
        ['    "instance_type": "t3.small",', '    "ssh_username": "ubuntu",'],
        ['    "ami_name": "clinic-{{timestamp}}"', '  }]', '}'], escape="json", avoid="'",
        pem=True),
    "serverless_yml": _Artifact(
        False, ["service: bookings-api", "provider:", "  name: aws",
                "  runtime: nodejs20.x", "  environment:"],
        [*_any("    {NAME}: {v}", "    {NAME}: '{v}'", "    # {what}: {v}"),
         _for("custom:\n  dbUrl: {v}", "url_password")],
        ["    # {v}"],
        ["    NODE_ENV: production", "functions:\n  create:\n    handler: src/create.handler"],
        [], case="upper", avoid="\"' \\#:{}[]&*!|>%@`,"),
    "salt_pillar": _Artifact(
        False, ["# /srv/pillar/mysql.sls", "mysql:", "  server:"],
        [*_any("    {name}: {v}", "    {name}: '{v}'", "  # {what}: {v}"),
         _for("  root_password: '{v}'", "password"),
         _for("  ssl_key: |\n    {v}", "private_key")],
        ["  # {v}"],
        ["    bind-address: 0.0.0.0", "    port: 3306"],
        [], avoid="\"' \\#:{}[]&*!|>%@`,", pem=True),
    "puppet_hiera": _Artifact(
        False, ["---", "# data/common.yaml"],
        [*_any("profile::app::{name}: \"{v}\"", "profile::app::{name}: '{v}'",
               "# {what}: {v}"),
         _for("profile::db::password: '{v}'", "password"),
         _for("profile::mail::admin_email: {v}", "email")],
        ["# {v}"],
        ["profile::app::workers: 4", "classes:\n  - profile::app"],
        [], avoid="\"'\\%"),
    "docker_inspect": _Artifact(
        False, ["[", "    {", "        \"Name\": \"/billing-worker\",", "        \"Config\": {",
                "            \"Env\": ["],
        [*_any("                \"{NAME}={v}\","),
         _for("                \"DATABASE_URL={v}\",", "url_password"),
         _for("        \"NetworkSettings\": {\"IPAddress\": \"{v}\"},", "ipv4"),
         _for("        \"NetworkSettings\": {\"GlobalIPv6Address\": \"{v}\"},", "ipv6")],
        ["            \"Labels\": {\"note\": \"{v}\"},"],
        ["                \"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin\",",
         "                \"LANG=C.UTF-8\","],
        ["            ]", "        }", "    }", "]"], case="upper", escape="json"),
    "tcpdump_ascii": _Artifact(
        False, ["tcpdump: listening on eth0, link-type EN10MB (Ethernet), snapshot length"
                " 262144 bytes"],
        [_for("09:14:02.118231 IP {v}.51544 > 10.0.3.7.80: Flags [P.], seq 1:412, length 411",
              "ipv4"),
         _for("E..... Authorization: Bearer {v}", *_HEADER),
         _for("E..... POST /login HTTP/1.1\nusername=amara&password={v}", "password"),
         _for("E..... GET /hook?{name}={v} HTTP/1.1", *_HEADER),
         *_any("E..... X-{name}: {v}")],
        ["E..... {v}"],
        ["09:14:02.118300 IP 10.0.3.7.80 > 10.0.3.9.51544: Flags [.], ack 412, win 501,"
         " length 0", "E..4..@.@..."],
        ["", "2 packets captured"], case="kebab",
        avoid=" &%\\+#@=;:,/?'\"()!$^*[]{}<>|`~"),
    "unified_diff": _Artifact(
        False, ["diff --git a/config/settings.ini b/config/settings.ini",
                "index 3f2c1ab..9e04d7c 100644", "--- a/config/settings.ini",
                "+++ b/config/settings.ini", "@@ -4,6 +4,9 @@ [service]"],
        [*_any("+{name} = {v}", "-{name} = {v}", "+; {what}: {v}"),
         _for("+dsn = {v}", "url_password")],
        ["+; {v}"],
        [" timeout = 30", " retries = 3"],
        [], avoid=";#"),
    "vscode_launch": _Artifact(
        False, ["{", "  \"version\": \"0.2.0\",", "  \"configurations\": [{",
                "    \"type\": \"debugpy\",", "    \"name\": \"Run worker\",",
                "    \"env\": {"],
        [*_any("      \"{NAME}\": \"{v}\","),
         _for("      \"DATABASE_URL\": \"{v}\",", "url_password")],
        ["      // {v}"],
        ["      \"PYTHONUNBUFFERED\": \"1\",", "      \"LOG_LEVEL\": \"debug\","],
        ["    }", "  }]", "}"], case="upper", escape="json"),
    "jetbrains_datasources": _Artifact(
        False, ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<project version=\"4\">",
                "  <component name=\"DataSourceManagerImpl\" format=\"xml\">",
                "    <data-source source=\"LOCAL\" name=\"clinic@prod\">"],
        [_for("      <jdbc-url>jdbc:postgresql://db-1:5432/clinic?user=clinic&amp;password={v}"
              "</jdbc-url>", "password"),
         _for("      <property name=\"password\" value=\"{v}\" />", "password"),
         _for("      <ssh-properties><host>{v}</host><user>ops</user></ssh-properties>",
              "ipv4", "ipv6"),
         *_any("      <property name=\"{name}\" value=\"{v}\" />", "      <!-- {what}: {v} -->")],
        ["      <!-- {v} -->"],
        ["      <driver-ref>postgresql</driver-ref>", "      <synchronize>true</synchronize>"],
        ["    </data-source>", "  </component>", "</project>"], case="dotted", escape="xml",
        avoid="&<>\"' -"),
    "supervisord_conf": _Artifact(
        False, ["; /etc/supervisor/conf.d/worker.conf", "[program:billing-worker]",
                "command=/srv/billing/.venv/bin/python -m worker"],
        [*_any("environment={NAME}=\"{v}\",LOG_LEVEL=\"info\"", "; {what}: {v}"),
         _for("[inet_http_server]\nport=127.0.0.1:9001\nusername=admin\npassword={v}",
              "password")],
        ["; {v}"],
        ["autostart=true", "autorestart=true", "stdout_logfile=/var/log/worker.log"],
        [], case="upper", avoid="\",%; "),
    "grafana_datasource": _Artifact(
        False, ["# provisioning/datasources/clinic.yaml", "apiVersion: 1", "datasources:",
                "  - name: Clinic DB", "    type: postgres"],
        [*_any("    jsonData:\n      {name}: {v}", "    # {what}: {v}"),
         _for("    secureJsonData:\n      httpHeaderValue1: 'Bearer {v}'", *_HEADER),
         _for("    secureJsonData:\n      password: '{v}'", "password"),
         _for("    secureJsonData:\n      tlsClientKey: |\n        {v}", "private_key"),
         _for("    url: {v}:5432", "ipv4")],
        ["    # {v}"],
        ["    access: proxy", "    isDefault: true"],
        [], case="camel", avoid="\"' \\#:{}[]&*!|>%@`,", pem=True),
    "alertmanager_yml": _Artifact(
        False, ["global:", "  resolve_timeout: 5m", "  smtp_smarthost: smtp.fastmail.com:587"],
        [_for("  smtp_auth_password: '{v}'", "password"),
         _for("  smtp_auth_password_file: {v}", "password_file"),
         _for("  smtp_from: {v}", "email"),
         _for("receivers:\n  - name: oncall\n    email_configs:\n      - to: {v}", "email"),
         _for("receivers:\n  - name: telegram\n    telegram_configs:\n      - bot_token: {v}",
              "telegram_bot_token"),
         _for("receivers:\n  - name: slack\n    slack_configs:\n      - api_url:"
              " https://slack.com/api/chat.postMessage\n        http_config:\n"
              "          authorization:\n            credentials: {v}", "slack_token"),
         *_any("  # {what}: {v}")],
        ["  # {v}"],
        ["route:\n  receiver: oncall\n  group_wait: 30s"],
        [], avoid="\"' \\#:{}[]&*!|>%@`,"),
    "aws_cli_session": _Artifact(
        False, ["$ aws sts assume-role --role-arn arn:aws:iam::381492005115:role/deploy"
                " --role-session-name ci"],
        [_for("{\n    \"Credentials\": {\n        \"AccessKeyId\": \"{v}\",", "aws_access_key_id"),
         _for("        \"SecretAccessKey\": \"{v}\",", "aws_secret_access_key"),
         _for("        \"SessionToken\": \"{v}\",", "aws_session_token"),
         _for("$ aws configure set aws_secret_access_key {v}", "aws_secret_access_key"),
         _for("$ aws ses send-email --from ops@hallberg-bygg.se --to {v} --subject test",
              "email"),
         *_any("$ export {NAME}={v}", "$ aws ssm put-parameter --name /prod/{name} --value"
               " '{v}' --type SecureString")],
        ["$ echo {v}"],
        ["        \"Expiration\": \"2026-12-08T10:14:02+00:00\"",
         "$ aws s3 ls s3://hallberg-releases/"],
        [], case="kebab", avoid="\"' \\$`!&|;<>()*?"),
    "ipython_session": _Artifact(
        False, ["Python 3.12.7 | IPython 8.29.0", ""],
        [_for("In [4]: client = Client(api_key=\"{v}\")", *_HEADER),
         *_any("In [3]: {name} = \"{v}\"",
               "In [5]: {name}\nOut[5]: '{v}'", "In [6]: # {what}: {v}"),
         _for("In [7]: engine = create_engine(\"{v}\")", "url_password")],
        ["In [8]: # {v}"],
        ["In [1]: import pandas as pd", "In [2]: df = pd.read_parquet(\"bookings.parquet\")"],
        [], avoid="\"'\\"),
    "soap_envelope": _Artifact(
        False, ["<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">",
                "  <soapenv:Header>", "    <wsse:Security>", "      <wsse:UsernameToken>",
                "        <wsse:Username>svc_claims</wsse:Username>"],
        [_for("        <wsse:Password Type=\"#PasswordText\">{v}</wsse:Password>", "password"),
         _for("    <ns:Policyholder><ns:Email>{v}</ns:Email></ns:Policyholder>", "email"),
         _for("    <ns:Policyholder><ns:TaxId>{v}</ns:TaxId></ns:Policyholder>", "us_ssn"),
         _for("    <ns:Payment><ns:Iban>{v}</ns:Iban></ns:Payment>", "iban"),
         _for("    <ns:Payment><ns:CardNumber>{v}</ns:CardNumber></ns:Payment>", "payment_card"),
         *_any("    <ns:{name}>{v}</ns:{name}>", "    <!-- {what}: {v} -->")],
        ["    <!-- {v} -->"],
        ["      </wsse:UsernameToken>\n    </wsse:Security>\n  </soapenv:Header>\n"
         "  <soapenv:Body>"],
        ["  </soapenv:Body>", "</soapenv:Envelope>"], case="camel", escape="xml"),
}

#: Bare lines that suit some types only.
_BARE_ONLY = {"Ref.: {v}": {"email", "phone", "iban"}, "Exhibit B: {v}": {"payment_card",
                                                                          "iban"},
              "Re: {v}": {"email", "phone"}}


def _filled(template: str, words: Sequence[str], art: _Artifact, what: str) -> str:
    pairs = (("{name}", _ident(words, art.case) if words else ""),
             ("{NAME}", _ident(words, "upper") if words else ""),
             ("{What}", what[:1].upper() + what[1:]), ("{what}", what))
    for slot, text in pairs:
        template = template.replace(slot, text)
    return template


def _escaped(text: str, art: _Artifact) -> str:
    if art.escape == "json":
        return json.dumps(text)[1:-1]
    if art.escape == "xml":
        return xml_escape(text, {"\"": "&quot;"})
    return text


class _Doc:
    def __init__(self, art: _Artifact) -> None:
        self.art = art
        self.text = ""
        self.planted: list[PlantedK] = []

    def add(self, line: str) -> None:
        self.text += line + "\n"

    def plant(self, template: str, value: str, shown: str, type_: str | None,
              decoy: str) -> None:
        before, after = template.split("{v}", 1)
        value, shown = _escaped(value, self.art), _escaped(shown, self.art)
        start = len(self.text) + len(before) + shown.index(value)
        self.text += before + shown + after + "\n"
        assert self.text[start:start + len(value)] == value
        self.planted.append((start, start + len(value), type_, self.art.prose, decoy))


def _pool(art: _Artifact) -> list[str]:
    types = sorted(art.holds) if art.holds else list(KINDS_K)
    return [t for t in types if art.pem or t != "private_key"]


def _line_for(rnd: random.Random, art: _Artifact, type_: str, words: Sequence[str],
              what: str) -> str:
    fitting = [line for line, types in art.lines if not types or type_ in types]
    own = [line for line, types in art.lines if types and type_ in types]
    if type_ == "private_key":  # a PEM key where the syntax gives it lines of its own
        blocks = [line for line in fitting if "\n{v}" in line or "\n    {v}" in line
                  or "\n        {v}" in line or "\\n{v}" in line or "{|{v}" in line
                  or "\\\\{v}" in line or "'{v}'" in line]
        line = rnd.choice(own or blocks or fitting)
    elif own and rnd.random() < 0.65:
        line = rnd.choice(own)
    else:
        line = rnd.choice(fitting)
    return _filled(line, words, art, what)


def _value(rnd: random.Random, type_: str, art: _Artifact) -> str:
    make = {**SECRETS_K, **PERSONAL_K}[type_]
    for _ in range(500):
        value = make(rnd)
        if type_ == "private_key":
            return _indented_pem(value, art)
        if type_ != "password" or not any(c in art.avoid for c in value):
            return value
    raise AssertionError(f"no password without {art.avoid!r}")


def _indented_pem(value: str, art: _Artifact) -> str:
    indent = {"salt_pillar": "    ", "grafana_datasource": "        "}
    return value.replace("\n", "\n" + indent.get(_name_of(art), ""))


def _name_of(art: _Artifact) -> str:
    return next(name for name, other in _ARTIFACTS.items() if other is art)


def _decoys_for(name: str, art: _Artifact) -> list[_Decoy]:
    paper = bool(art.holds) and art.prose
    return [d for d in _DECOYS_K if (not d.homes or name in d.homes)
            and (d.paper or not paper)
            and (not art.holds or not d.place or d.place in art.holds)]


def documents_k(seed: int, count: int) -> list[tuple[str, list[PlantedK]]]:
    """``count`` documents of set K, artifact kinds in turn, each with 2-4 planted values,
    one or two decoys and, in about two thirds, a one-digit-mutated card number or IBAN."""
    rnd = random.Random(seed)
    names = sorted(_ARTIFACTS)
    out: list[tuple[str, list[PlantedK]]] = []
    for number in range(count):
        name = names[number % len(names)]
        art = _ARTIFACTS[name]
        doc = _Doc(art)
        for line in art.head:
            doc.add(line)
        pool = _pool(art)
        chosen = rnd.sample(pool, rnd.randint(2, 4))
        for rare, chance in (("password", 0.35), ("private_key", 0.2)):
            if rare in pool and rare not in chosen and rnd.random() < chance:
                chosen[-1] = rare
        slots = [(t, "") for t in chosen]
        if rnd.random() < 2 / 3:
            slots.append((rnd.choice(("payment_card", "iban")), "mutated"))
        slots += [("", "lookalike")] * (2 if rnd.random() < 0.35 else 1)
        rnd.shuffle(slots)
        decoys = _decoys_for(name, art)
        own = [d for d in decoys if d.homes]
        for type_, kind in slots:
            if kind == "lookalike":
                decoy = rnd.choice(own if own and rnd.random() < 0.5 else decoys)
                value = decoy.value if isinstance(decoy.value, str) else decoy.value(rnd)
                template = _line_for(rnd, art, decoy.place, decoy.words, decoy.what)
                if value in _BARE_DECOYS and not art.prose:
                    template = template.replace("\"{v}\"", "{v}").replace("'{v}'", "{v}")
                doc.plant(template, value, value, None, kind)
                continue
            value = _value(rnd, type_, art)
            if kind == "mutated":
                value = _mutated(value, rnd)
            bare = [b for b in art.bare
                    if (type_ in _BARE_ONLY[b] if b in _BARE_ONLY else type_ in _OBVIOUS)]
            if not kind and bare and type_ != "private_key" and rnd.random() < 0.15:
                template = _filled(rnd.choice(bare), (), art, "")
            else:
                words, whats = _NAMES[type_]
                template = _line_for(rnd, art, type_, rnd.choice(words), rnd.choice(whats))
            shown = _shown(type_, value, template, rnd)
            doc.plant(template, value, shown, None if kind else type_, kind)
            if rnd.random() < 0.4:
                doc.add(rnd.choice(art.filler))
        for line in art.tail:
            doc.add(line)
        out.append((doc.text, doc.planted))
    return out
