"""Built-in detectors of personal data: e-mail addresses, phone numbers, payment cards,
IBANs, US Social Security numbers and IP addresses.

Every number with a check digit is reported only when the check digit is right (Luhn
for cards, mod-97 for IBANs), so a mistyped or made-up number is not. Phone numbers
have no check digit and Athena ships no numbering-plan database: see
:func:`phone_detector` for what is and is not recognised.
"""

from __future__ import annotations

import ipaddress
import itertools
import re

from athena_core.privacy.checksums import card_issuer, iban_valid, luhn_valid, ssn_valid
from athena_core.privacy.columns import INSERT_ANCHOR, column_header, inserted_values
from athena_core.privacy.detector import Check, DetectorContext, Rule, RuleDetector
from athena_core.privacy.lookalikes import PUBLISHED_NUMBERS

__all__ = ["card_detector", "email_detector", "iban_detector", "ip_detector",
           "phone_detector", "ssn_detector"]

# --- e-mail ---------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-]|\.\w)")
#: Domains reserved for documentation and tests (RFC 2606, RFC 6761): nobody's address.
_RESERVED_DOMAIN = re.compile(
    r"(?:^|\.)(?:example\.(?:com|net|org|edu)|example|test|invalid|localhost)$", re.I)
#: ``scheme://user:password@host``: the part before ``@`` is a URL's user, not a mailbox.
_URL_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/@,;\"'<>]*$")
#: ``git@github.com:acme/api.git``, ``deploy@host.io:/srv``: a colon and a path right
#: after the host make it an SSH or scp remote, not a mailbox.
_REMOTE_PATH = re.compile(r":[\w~/.-]")
#: A message's identifier named as one before it on its line (``Message-ID:``,
#: ``message_id = "``, Exim's ``id=``): the ``local@host`` shape of a message, not a mailbox.
_MESSAGE_ID_BEFORE = re.compile(r"(?i)(?:message[-_ ]?id|msg[-_]?id)\b[^\n]{0,40}$|(?<![\w-])id=$")
#: The local part of a message identifier as mail software makes them: a UUID, a time and
#: a hex tag (``79490256273591.939257``), Gmail's ``CA+`` and 30 or more characters.
_MESSAGE_ID_LOCAL = re.compile(
    r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}|\d{10,}\.[0-9a-f]{4,}|CA\+[\w+=-]{30,}", re.I)
#: A mailbox's first letters and a mask right before a match of one or two letters:
#: ``b••••n@gmail.com``, ``n***i@icloud.com`` (not markdown's ``**ana@mail.br**``, after a
#: space).
_MASKED_BEFORE = re.compile(r"[A-Za-z0-9][\u2022\u25cf*\u2026]+$")


def _email(match: re.Match[str], text: str) -> float | None:
    local, _, domain = match.group().rpartition("@")
    if ".." in local or local.endswith(".") or _RESERVED_DOMAIN.search(domain):
        return None
    if len(local) <= 2 and _MASKED_BEFORE.search(text, max(0, match.start() - 20),
                                                 match.start()):
        return None  # a masked address: ``b••••n@gmail.com`` (the match starts at "n");
        # not ``EM*ana@mail.com`` (an X12 segment: the whole mailbox follows the ``*``)
    if _MESSAGE_ID_LOCAL.fullmatch(local) \
            or _MESSAGE_ID_BEFORE.search(text, max(0, match.start() - 60), match.start()):
        return None  # a message's identifier, not a mailbox
    if _URL_USERINFO.search(text, max(0, match.start() - 100), match.start()) \
            or _REMOTE_PATH.match(text, match.end()):
        return None
    return 1.0


def email_detector(context: DetectorContext) -> RuleDetector:
    """E-mail addresses, except those of domains reserved for documentation and tests
    (``example.com``, ``*.test``, ``*.invalid``, ...), the user part of a URL, SSH or
    scp remotes (``git@github.com:acme/api.git``: a colon and a path after the host),
    masked addresses (``b••••n@gmail.com``) and messages' identifiers (named so, or of
    the shapes mail software gives them)."""
    return RuleDetector(context.name, (Rule("email", _EMAIL, _email, keywords=("@",)),))


# --- phone numbers ----------------------------------------------------------------------

#: ITU-T E.164 country calling codes (assigned blocks, as of 2024).
_COUNTRY_CODES = frozenset(
    ["1", "7"]
    + [str(n) for n in [20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48,
                        49, 51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81,
                        82, 84, 86, 90, 91, 92, 93, 94, 95, 98]]
    + [str(n) for n in [*range(211, 270), *range(290, 300), *range(350, 360),
                        *range(370, 390), *range(420, 424), *range(500, 510),
                        *range(590, 600), *range(670, 693), 800, 808, 850, 852, 853, 855,
                        856, 870, 878, *range(880, 887), 888, *range(960, 979),
                        *range(992, 999)]])
_INTERNATIONAL = re.compile(
    r"\+(?<![\w+]\+)\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){1,6}(?!\d|[.-]\d)")
#: The ``00`` international prefix, in groups (``0044 20 7183 0958``) or not
#: (``00447911123456``): zero-padded numbers start with 00 too, so a phone word must be
#: on the line (``_international_00``).
_INTERNATIONAL_00 = re.compile(
    r"00(?<![\w+.-]00)(?<!\d[ .-]00)(?:[1-9]\d{0,2}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]\d{1,5}){1,6}"
    r"|[1-9]\d{7,13})(?!\d|[.-]\d)")
#: The North American shape, with the trunk prefix 1 or not: ``(415) 867-5309``,
#: ``1-415-867-5309``, ``1 (415) 867-5309``; any digits (``_nanp`` checks them).
_NANP = re.compile(r"(?<![\w+.-])(?<!\d[ .-])(?:1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])"
                   r"\d{3}[ .-]\d{4}(?!\d|[ .-]\d)")
_TRUNK = re.compile(r"0(?<![\w+.-]0)(?<!\d[ .-]0)[1-9]\d{0,4}(?:[ .-]\d{2,8}){1,4}(?!\d|[ .-]\d)")
#: A trunk prefix and area code in parentheses: ``(0161) 556 0066``, ``(0117)5560618``,
#: ``(02) 9374 4000``.
_TRUNK_PARENTHESES = re.compile(
    r"(?<![\w+.-])\(0[1-9]\d{0,4}\)(?:[ .-]?\d{2,8})(?:[ .-]\d{2,8}){0,3}(?!\d|[ .-]\d)")
#: A phone in an X12 segment's contact fields: ``PER*IP**HP*6144447031`` (home, cell, work,
#: telephone, fax).
_X12_PHONE = re.compile(r"\bPER\*[^~\n]{0,60}?\*(?:HP|CP|WP|TE|FX|BN)\*(\+?\d{10,15})(?=[~*\n]|$)")
#: A trunk digit (8 in Russia, 0 in Turkey) before an area code in parentheses:
#: ``8 (925) 649-80-48``, ``0 (541) 710 15 43``.
_TRUNK_AREA = re.compile(
    r"(?<![\w+.-])[08][ \t]?\(\d{3,4}\)[ \t]?\d{2,4}(?:[ -]\d{2,4}){1,3}(?!\d|[ .-]\d)")
#: A two-digit area code in parentheses and a number of eight or nine digits with a
#: hyphen, as Brazil writes them: ``(11) 94316-0766`` (a mobile: nine digits, the first 9),
#: ``(21) 3456-7890`` (a landline: reported near a phone word).
_AREA_PARENTHESES = re.compile(r"(?<![\w+.-])\([1-9]\d\)[ ]?(9?)\d{4}-\d{4}(?![\w-])")
#: A trunk prefix and area code before a slash: ``089/1234 5678``, ``02/ 511 22 33``,
#: ``089 / 1234567``.
_TRUNK_SLASH = re.compile(
    r"(?<![\w+./-])0[1-9]\d{0,4} ?/ ?\d{2,8}(?:[ .-]\d{2,8}){0,3}(?!\d|[ ./-]\d)")
#: Digits that only the words around them make a phone number: a run of 8 to 11 digits
#: (``07712900123``, ``4158675309``, ``41726354``) or 8 to 13 digits in groups
#: (``612 34 56 78``, ``2145 6789``); not the tail of a longer run of groups (the last
#: twelve digits of a card number in fours).
_CONTEXT_NUMBER = re.compile(
    r"(?<![\w+.,/:#$€£-])(?<!\d[ .-])(?:\d{8,11}|\d{2,4}(?:[ .-]\d{2,4}){0,4}[ .-]\d{2,8})"
    r"(?![\w/-]|[.,:]\d|[ .-]\d)")
#: Words that call a number a phone number; ``_phone_word`` looks for them around it.
_PHONE_WORDS = re.compile(
    r"(?<![a-z])(?:phones?|telephone|tel|mobile|cell|cellphone|landline|call|called|calling"
    r"|fax|sms|text me|number to text|whatsapp|dial|ring me|contact number|reach me|reach us"
    r"|contact me|reach you|contacted at|helpline|hotline"
    # the words in other languages: German, French, Spanish, Italian, Portuguese, Nordic
    r"|telefon[a-z]{0,3}|tel\u00e9fono|t\u00e9l\u00e9phone|t\u00e9l|tlf|handy|fon|mobil"
    r"|m\u00f3vil|movil|celular|cellulare|portable|puhelin|gsm)(?![a-z])")
#: Words that name a number something else.
_OTHER_WORDS = (r"order|invoice|ticket|id|ref|reference|account|acct|tracking|case|booking"
                r"|confirmation|serial|sku|card|pin|otp|code|ein")
#: Words that name a number something else when they come right before it, alone or with
#: "number" and "is": ``ticket #``, ``order no.``, "our ticket number is ...".
_OTHER_LABELS = re.compile(
    rf"(?<![a-z])(?:(?:{_OTHER_WORDS})(?:[ _-]?(?:number|num|no|nr)\b)?|no|nr|#)"
    r"(?:\W{0,3}|[ \t]+(?:is|was)[ \t]+)$")
_OTHER_NAME = re.compile(rf"\b(?:{_OTHER_WORDS})\b")
#: A phone word before "no.", "#" or "number": the label is a phone's ("Phone No.:").
_PHONE_NUMBER_LABEL = re.compile(
    r"(?:phone|tel|mobile|cell|fax|contact|telefon[a-z]{0,3})\.?[ \t]*(?:no|nr|#|number)\W{0,3}$")


def _other_label(text: str, start: int, reach: int = 20) -> bool:
    """Whether a word that names a number something else comes right before ``start``
    (:data:`_OTHER_LABELS`), and not as part of a phone's label ("Phone No.:")."""
    before = text[max(0, start - reach):start].lower()
    return bool(_OTHER_LABELS.search(before)) and not _PHONE_NUMBER_LABEL.search(before)
#: ``078-05-1120``: the way an SSN is written, the SSN rule's (a sample one is nobody's).
_SSN_WRITING = re.compile(r"\d{3}-\d{2}-\d{4}")
#: ``198.51.100.23``: an IPv4 address's writing, never a phone number's.
_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_DATE = re.compile(r"\d{4}([ .-])\d{1,2}\1\d{1,2}|\d{1,2}([ .-])\d{1,2}\2\d{4}")


#: The end of a fictional North American number written in groups: ``202-555-0173``.
_FICTIONAL_GROUPED = re.compile(r"(?<!\d)555[ .-]?01\d\d$")


def _nanp_fictional(digits: str) -> bool:
    """555-0100 to 555-0199: reserved for fiction and documentation."""
    return digits[-7:-2] == "55501"


#: The UK's numbers for drama (Ofcom), national significant numbers without the trunk 0:
#: mobile 07700 900000-900999, 01632 960000-960999, London 020 7946 0000-0999, the 496
#: 0000-0999 ranges of Leeds, Sheffield, Nottingham, Leicester, Bristol, Reading,
#: Birmingham, Edinburgh, Glasgow, Liverpool and Manchester, Tyneside 0191 498 0xxx,
#: Belfast 028 9649 6xxx, Cardiff 029 2018 0xxx, freephone 0808 157 0xxx, premium 0909
#: 879 0xxx and 03069 990xxx.
_UK_DRAMA = re.compile(
    r"(?:7700900|1632960|2079460|1(?:1[3-8]|21|31|41|51|61)4960|1914980|2896496|2920180"
    r"|8081570|9098790|3069990)\d{3}")
#: Australia's numbers for creative works (ACMA), without the trunk 0: mobile 0491 570 000
#: to 0491 579 999, the ``5550 xxxx`` and ``7010 xxxx`` blocks of the 02, 03, 07 and 08
#: areas, and freephone 1800 160 401, 1800 975 707-711 and 1300 975 707-711.
_AU_DRAMA = re.compile(r"49157\d{4}|[2378](?:5550|7010)\d{4}|1[38]00975(?:70[7-9]|71[01])"
                       r"|1800160401")
#: France's numbers for audiovisual works (ARCEP), without the trunk 0: ``01 99 00 xx xx``,
#: ``02 61 91``, ``03 53 01``, ``04 65 71``, ``05 36 49`` and ``06 39 98 xx xx``.
_FR_DRAMA = re.compile(r"(?:19900|26191|35301|46571|53649|63998)\d{4}")


def _fictional(value: str) -> bool:
    """Whether a number written as ``value`` is in a range set aside for fiction and
    documentation: the North American 555-0100 to 555-0199, the UK's drama ranges
    (:data:`_UK_DRAMA`, written nationally with the trunk 0 or after +44 / 0044),
    France's (:data:`_FR_DRAMA`, with the trunk 0 or after +33 / 0033) or Australia's
    (:data:`_AU_DRAMA`, with the trunk 0 or after +61 / 0061)."""
    digits = re.sub(r"\D", "", value.replace("(0)", ""))
    if (len(digits) == 10 or (len(digits) == 11 and digits[0] == "1")) \
            and _nanp_fictional(digits):
        return True
    for head in ("0044", "44", "0"):
        if digits.startswith(head) and _UK_DRAMA.fullmatch(digits[len(head):]):
            return True
    if any(digits.startswith(head) and _FR_DRAMA.fullmatch(digits[len(head):])
           for head in ("0033", "33", "0")):
        return True
    return any(digits.startswith(head) and _AU_DRAMA.fullmatch(digits[len(head):])
               for head in ("0061", "61", "0", ""))


#: The UK's or Australia's country code left out of a match (``+44 (0)20 7946 0018``,
#: ``+61 491 570 159``), or an area code in parentheses (``(02) 5550 3006``).
_CODE_BEFORE = re.compile(
    r"(?:(?:\+|00)(?P<code>44|61)[ \t]*(?:\(0\)[ \t]*)?|\((?P<area>\d{1,5})\)[ \t]*)$")


def _not_fictional(check: Check) -> Check:
    """``check``, but no number in a range set aside for fiction (:func:`_fictional`) nor
    the last groups of an IBAN."""
    def checked(match: re.Match[str], text: str) -> float | None:
        value = match.group()
        if _IBAN_HEAD.search(text, max(0, match.start() - 40), match.start()):
            return None  # the last groups of an IBAN written in fours
        before = _CODE_BEFORE.search(text, max(0, match.start() - 12), match.start())
        if before:
            value = (before["code"] or before["area"]) + value
        return None if _fictional(value) else check(match, text)
    return checked


def _international(match: re.Match[str], text: str) -> float | None:
    value = match.group()
    digits = re.sub(r"\D", "", value.replace("(0)", ""))
    if digits.startswith("00"):
        digits = digits[2:]
    if not 8 <= len(digits) <= 15:
        return None
    if not any(digits[:n] in _COUNTRY_CODES for n in (1, 2, 3)):
        return None
    if digits[0] == "1" and (len(digits) != 11 or digits[1] in "01" or digits[4] in "01"
                             or _nanp_fictional(digits)):
        return None
    return 0.9


def _nanp(match: re.Match[str], text: str) -> float | None:
    """A number in the North American plan (area code and exchange not starting with 0 or
    1), or in its shape with codes nobody is assigned when a phone word is near and no
    other label comes right before it (as mistyped and made-up numbers are written)."""
    digits = re.sub(r"\D", "", match.group())[-10:]
    if _nanp_fictional(digits) or _labelled_otherwise(text, match.start()):
        return None
    if digits[0] in "01" or digits[3] in "01":
        start, end = match.span()
        if _other_label(text, start) \
                or not _phone_word(text, start, end):
            return None
        return 0.6
    return 0.8


def _trunk(match: re.Match[str], text: str) -> float | None:
    """10 or 11 digits with the trunk 0; 12 where a phone word is near (a German mobile,
    ``0155 05309251``), and 13 as Argentina writes a mobile there (``011 15-4821-7730``:
    the trunk 0 and area code, then 15)."""
    digits = sum(c.isdigit() for c in match.group())
    if _labelled_otherwise(text, match.start()):
        return None
    if 10 <= digits <= 11:
        return 0.7
    if (digits == 12 or (digits == 13 and _AR_MOBILE.match(match.group()))) \
            and _phone_word(text, *match.span()):
        return 0.7
    return None


#: Argentina's mobile after the trunk 0 and area code: ``011 15-``, ``0351 15 ``.
_AR_MOBILE = re.compile(r"0\d{2,4}[ -]15[ -]")


def _x12_phone(match: re.Match[str], text: str) -> float | None:
    """A number an X12 ``PER`` segment qualifies as a phone: 10 to 15 digits."""
    return 0.8


def _trunk_area(match: re.Match[str], text: str) -> float | None:
    """A trunk digit and a three- or four-digit area code in parentheses, 11 digits in
    all: ``8 (925) 649-80-48`` (Russia), ``0 (541) 710 15 43`` (Turkey)."""
    if _labelled_otherwise(text, match.start()):
        return None
    return 0.7 if sum(c.isdigit() for c in match.group()) == 11 else None


def _trunk_slash(match: re.Match[str], text: str) -> float | None:
    """``0`` and an area code before a slash: 9 to 11 digits (a Belgian or Austrian
    landline has 9)."""
    return 0.7 if 9 <= sum(c.isdigit() for c in match.group()) <= 11 else None


def _area_parentheses(match: re.Match[str], text: str) -> float | None:
    if match.group(1) or _phone_word(text, *match.span()):
        return 0.7
    return None


def _phone_word(text: str, start: int, end: int, reach: int = 40) -> bool:
    """Whether a phone word is within ``reach`` characters before ``start`` or after
    ``end``."""
    return bool(_PHONE_WORDS.search(text[max(0, start - reach):start].lower())
                or _PHONE_WORDS.search(text[end:end + reach].lower()))


def _counting(value: str) -> bool:
    """Whether the groups of digits in ``value`` count (``21 22 23 24``, ``123456789``) or
    use two digits at most (``10000000000``): a table or a round number, not a phone."""
    digits = re.sub(r"\D", "", value)
    groups = [int(group) for group in re.findall(r"\d+", value)]
    steps = {b - a for a, b in itertools.pairwise(groups)}
    return len(set(digits)) <= 2 or "123456789" in digits or "987654321" in digits \
        or (len(groups) > 2 and len(steps) == 1)


def _international_00(match: re.Match[str], text: str) -> float | None:
    """``00`` and a country code: zero-padded numbers start with 00 too (code points, hex
    dumps), so a phone word must be within 80 characters on the same line."""
    start, end = match.span()
    line_start, line_end = text.rfind("\n", 0, start) + 1, text.find("\n", end)
    line = text[line_start:len(text) if line_end < 0 else line_end]
    if not _phone_word(line, start - line_start, end - line_start, reach=80):
        return None
    return _international(match, text)


def _context_number(match: re.Match[str], text: str) -> float | None:
    value = match.group()
    digits = re.sub(r"\D", "", value)
    if value.isdigit():  # a run of 8 to 11 digits, not the 00 international prefix
        plausible = not digits.startswith("00") and not _nanp_fictional(digits)
    else:  # in groups: not a date, not a fictional ``555-01xx`` number
        plausible = 8 <= len(digits) <= 13 and not _DATE.fullmatch(value) \
            and not _FICTIONAL_GROUPED.search(value)
    start, end = match.span()
    plausible = plausible and not _counting(value) and not _SSN_WRITING.fullmatch(value) \
        and not _DOTTED_QUAD.fullmatch(value)
    if not plausible or _other_label(text, start) \
            or _named_otherwise(text, start) or not _phone_word(text, start, end):
        return None
    return 0.6


#: The key or setting a value is given to right before it: a quoted key (``"duration": ``)
#: or a name with ``=`` or ``:`` (``timeout=``, ``retry_after_ms:``).
_NAME_BEFORE = re.compile(r"(?P<quote>[\"']?)(?P<name>[A-Za-z_][\w.-]{0,40})(?P=quote)"
                          r"[ \t]*(?P<sep>[:=])[ \t]*[\"']?$")
#: Names that say nothing of what a value is: the pair's other name does
#: (``{"key": "phone", "value": ...}``, ``variable "mobile" { default = ... }``).
_GENERIC_NAMES = frozenset({"value", "default", "example", "val", "text", "data", "content"})
#: What may come before a YAML key on its line: indentation and a list's dash.
_KEY_AT_LINE_START = re.compile(r"[ \t]*(?:-[ \t]+)?")
#: An identifier rather than a word of prose: with ``_``, ``.`` or ``-``, or in camel case.
_IDENTIFIER = re.compile(r"\w+[_.-]\w+|[a-z]+[A-Z]\w*")


def _labelled_otherwise(text: str, start: int) -> bool:
    """Whether a word that names the number at ``start`` something else comes right before
    it ("ticket number is ...", "order #"), names its key (``TICKET_NUMBER = '...'``) or is
    in its line's label ("booking reference of the carrier NOC: ..."), without a phone
    word there: for the shapes that are a phone's without one."""
    if _other_label(text, start, reach=24):
        return True
    line = _LINE_LABEL.search(text, max(text.rfind("\n", 0, start) + 1, start - 80), start)
    named = _NAME_BEFORE.search(text, max(0, start - 48), start)
    names = [_words(found) for found in (line and line["label"], named and named["name"])
             if found]
    return any(_OTHER_NAME.search(name) and not _PHONE_WORDS.search(name) for name in names)


def _words(name: str) -> str:
    """A key's or label's words in small letters: ``TICKET_NUMBER``, ``ticketNumber`` ->
    "ticket number"."""
    return re.sub(r"[_.-]|(?<=[a-z])(?=[A-Z])", " ", name).lower()


#: A form's label ending at a value on its line: "booking reference of the carrier NOC: ".
_LINE_LABEL = re.compile(r"(?:^|(?<=\n))(?P<label>[^\n:]{1,70}):[ \t]*$")


def _named_otherwise(text: str, start: int) -> bool:
    """Whether the number at ``start`` is the value of a key or setting whose name is no
    phone's (``"duration": 132000000``, ``timeout_ms=...``): a phone word elsewhere in
    the text does not make it one. A word of prose before a colon ("text me: ...") is no
    key; a word at a line's start is (YAML's ``when: 1764580100``)."""
    named = _NAME_BEFORE.search(text, max(0, start - 48), start)
    if named is None or not (named["quote"] or named["sep"] == "="
                             or _IDENTIFIER.fullmatch(named["name"])
                             or _KEY_AT_LINE_START.fullmatch(
                                 text, text.rfind("\n", 0, named.start()) + 1, named.start())) \
            or named["name"].lower() in _GENERIC_NAMES:
        return False
    name = _words(named["name"])
    if _PHONE_WORDS.search(name):
        return False
    return bool(_OTHER_NAME.search(name)) or not re.search(r"number|contact|num\b|no\b", name)


def phone_detector(context: DetectorContext) -> RuleDetector:
    """Phone numbers, without a numbering-plan database:

    - international: ``+`` and an assigned country calling code, 8 to 15 digits in all,
      groups separated by spaces, dots or hyphens, an optional ``(0)`` or area code in
      parentheses (``+44 20 7183 0958``, ``+1 (415) 555-2671``); ``+1`` numbers follow
      the North American plan's rules; the same after the ``00`` prefix, in groups or as
      one run, with a phone word (below) on the line within 80 characters:
      ``dial 0033 1 23 45 67 89``, ``phone: 00447911123456``;
    - North American national, with the trunk prefix 1 or not: ``(415) 555-2671``,
      ``415-555-2671``, ``415.555.2671``, ``1-415-555-2671`` (area code and exchange not
      starting with 0 or 1; in the same shape with such codes only near a phone word);
    - national with a trunk prefix 0, 10 or 11 digits in at least two groups
      (``020 7183 0958``, ``07712 900123``, ``01 42 68 53 00``, ``030 12345678``), with
      the trunk prefix and area code in parentheses (``(0161) 556 0066``,
      ``(02) 9374 4000``), or 9 to 11 digits with the area code before a slash
      (``089/1234 5678``, ``02/ 511 22 33``); a two-digit area code in parentheses and
      nine digits starting with 9 (a Brazilian mobile: ``(11) 94316-0766``), or eight
      near a phone word; a trunk digit before an area code in parentheses, 11 digits
      (``8 (925) 649-80-48``, ``0 (541) 710 15 43``); 13 digits as Argentina writes a
      mobile (``011 15-4821-7730``) near a phone word; none of these after a word that
      names the number something else ("ticket number is", ``TICKET_NO = ...``);
    - numbers that only the words around them make phone numbers: a run of 8 to 11
      digits (not starting with 00) or 8 to 13 digits in groups (not a date), at most 40
      characters after or before a phone word ("phone", "tel", "mobile", "cell", "call",
      "landline", "fax", "SMS", "text me", "WhatsApp", "dial", "ring me", and the word in
      other languages: "Telefon", "Handy", "portable", "móvil", "celular", ...), not
      right after a word that names it something else ("order", "invoice", "ticket
      number is", "account", "card", "pin", "code", "#", ...) and not counting
      (``21 22 23 24``, ``123456789``,
      ``10000000000``): ``phone: 07712900123``, ``MOBILE=4158675309``, ``call me on
      3921823282``.

    Not recognised: other runs of digits, short or local numbers. Numbers in ranges set
    aside for fiction and documentation (the US ``555-01xx``, the UK's drama ranges such
    as ``07700 900xxx``, ``01632 960xxx`` and ``020 7946 0xxx``, Australia's and France's)
    are not reported.
    """
    return RuleDetector(context.name, (
        Rule("phone", _INTERNATIONAL, _not_fictional(_international), keywords=("+",)),
        Rule("phone", _INTERNATIONAL_00, _not_fictional(_international_00), keywords=("00",)),
        Rule("phone", _NANP, _not_fictional(_nanp)),
        Rule("phone", _TRUNK, _not_fictional(_trunk), keywords=("0",)),
        Rule("phone", _TRUNK_PARENTHESES, _not_fictional(_trunk), keywords=("(0",)),
        Rule("phone", _TRUNK_SLASH, _not_fictional(_trunk_slash), keywords=("/",)),
        Rule("phone", _X12_PHONE, _not_fictional(_x12_phone), group=1, keywords=("per*",)),
        Rule("phone", _TRUNK_AREA, _not_fictional(_trunk_area),
             keywords=("8 (", "0 (", "8(", "0(")),
        Rule("phone", _AREA_PARENTHESES, _not_fictional(_area_parentheses),
             keywords=tuple(f"({digit}" for digit in "123456789")),
        Rule("phone", _CONTEXT_NUMBER, _not_fictional(_context_number),
             keywords=("phone", "tel", "mobile", "cell", "call", "fax", "sms", "text",
                       "messag", "whatsapp", "dial", "ring", "reach", "contact", "landline",
                       "t\u00e9l", "tlf", "handy", "fon", "mobil", "m\u00f3vil", "movil", "celular",
                       "portable", "puhelin", "gsm", "helpline", "hotline")),
    ))


# --- payment cards and IBANs ------------------------------------------------------------

_CARD = re.compile(r"\d(?<![\w.-]\d)(?:[ -]?\d){11,18}(?![\w-])")


#: The start of an IBAN written in groups, right before a match: the digits are its own.
_IBAN_HEAD = re.compile(r"[A-Z]{2}\d{2}(?: [A-Z0-9]{4})* $")


def _card(match: re.Match[str], text: str) -> float | None:
    digits = re.sub(r"[ -]", "", match.group())
    separators = set(re.findall(r"[ -]", match.group()))
    if len(separators) > 1 or not luhn_valid(digits) or card_issuer(digits) is None \
            or digits in PUBLISHED_NUMBERS:
        return None
    if _IBAN_HEAD.search(text, max(0, match.start() - 40), match.start()):
        return None
    return 1.0


def card_detector(context: DetectorContext) -> RuleDetector:
    """Payment card numbers (12 to 19 digits, written together or grouped with spaces or
    hyphens) that pass the Luhn check and fall in a real issuer's range with a length
    that issuer uses: Visa, Mastercard, American Express, Discover, JCB, Diners Club,
    Maestro, UnionPay and Mir; not the payment processors' published test numbers (``4242
    4242 4242 4242``, ``4111 1111 1111 1111``, ...
    :data:`~athena_core.privacy.lookalikes.PUBLISHED_NUMBERS`)."""
    return RuleDetector(context.name, (Rule("payment_card", _CARD, _card),))


_IBAN = re.compile(r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}"
                   r"(?:[ ]?[A-Z0-9]{1,4})?"
                   r"(?![A-Za-z0-9])")


def _iban(match: re.Match[str], text: str) -> float | None:
    value = match.group().replace(" ", "")
    return 1.0 if iban_valid(value) and value not in PUBLISHED_NUMBERS else None


def iban_detector(context: DetectorContext) -> RuleDetector:
    """IBANs, written together or in groups of four, that have their country's length
    (every country of the IBAN registry) and pass the mod-97 check; not the registry's
    and banks' published examples (``DE89 3704 0044 0532 0130 00``, ...)."""
    return RuleDetector(context.name, (Rule("iban", _IBAN, _iban),))


# --- US Social Security numbers ---------------------------------------------------------

#: ``123-45-6789``, ``123 45 6789``, ``123.45.6789`` (dots: not a version, ``_ssn``),
#: and with en dashes (U+2013) between the groups, as word processors turn hyphens.
_SSN = re.compile(r"(\d(?<![\w.-]\d)\d\d)([- .\u2013])(\d{2})\2(\d{4})(?![\w-]|\.\d)")
#: A form's leader between a label and its value: ``Tax ID ......... 512440718``.
_LEADER = r"[ \t]*\.{3,}[ \t]*"
#: Where an SSN's name starts: a word's start, after ``_`` (``PATIENT_SSN``) or, in camel
#: case, at a capital after a small letter (``EmployeeSsn``).
_SSN_START = r"(?:\b|(?<=_)|(?-i:(?<=[a-z])(?=S)))"
#: A remark in parentheses after an SSN's name: "SSN (for the 1099): ...".
_SSN_REMARK = r"(?:[ \t]*\([^()\n]{1,40}\)){0,2}"
#: Nine digits where a name says they are an SSN: together, in slashes (``704/96/7333``),
#: after one hyphen (``557-551349``) or with spaces around the hyphens (``258 - 60 - 1436``).
_NINE = r"(\d{9}|\d{3}/\d{2}/\d{4}|\d{3}-\d{6}|\d{3}[ \t]+-[ \t]+\d{2}[ \t]+-[ \t]+\d{4})"
_SSN_PLAIN = re.compile(
    rf"(?i){_SSN_START}(?:ssn|social security(?: number| no\.?| #)?|ss[ \t]*\#"
    r"|soc\.?[ \t]?sec\.?(?:[ \t]*(?:no\.?|\#|number))?)" + _SSN_REMARK +
    rf"(?:{_LEADER}|\W{{0,10}}|[^.?!\n\d]{{1,60}}?){_NINE}\b")
#: Nine digits before "SSN": "can you try 859025506 as the SSN?".
_SSN_BEFORE = re.compile(r"(?i)(?<![\w-])(\d{9})\b[^.?!\n\d]{1,30}?\b(?:ssn|social security)\b")
#: Nine digits named "social", "soc sec #" or "tax id" (in any case: ``SocialSecurityNumber``,
#: ``TAX_ID``, ``spring.tax.id``) as a field is (``"social": "..."``, ``|social|...|``,
#: ``{"key": "social", "value": "..."}``, ``TAX_ID := ...``, ``@"..."``), in a sentence
#: ("my tax id is ..."), in parentheses or quotes after it, or as the answer on the line
#: after a question about it ("what's the social again?", "whats the soc sec # again").
_SSN_NAME = (r"(?:(?:social(?:[ _.-]?(?:security|sec))?|soc(?:\.[ \t]?|[ _.-])?sec)"
             r"(?:[ _.-]?(?:number|num|no))?"
             r"|tax(?:payer)?[ _.-]?id(?:entification)?(?:[ _-]?(?:number|num|no))?"
             r"|ssn(?:/tin)?|tin|ss(?=[ \t]*\#))\b"
             r"\.?(?:[ \t]*\#)?")
_SSN_SOCIAL = re.compile(
    rf"(?i){_SSN_START}{_SSN_NAME}{_SSN_REMARK}"
    r"(?:\\?[\"'|]?\]?[ \t]*(?:[:?]?=|[:|,]|\.{3,})[ \t]*@?\\?[\"'`]?"
    r"(?:value[\"']?[ \t]*[:=][ \t]*[\"']?)?"
    r"|[\"']?[ \t]*\n[ \t-]*value[\"']?[ \t]*:[ \t]*[\"']?"
    r"|(?:[ \t]+[\w'-]+){0,4}?[ \t]+(?:is|was)[ \t]+|\)[ \t]+(?:is|was)[ \t]+|[ \t]*\([ \t]*"
    r"|[ \t]+\\?[\"']"
    r"|[^\n?]{0,20}(?:\?|[ \t]+again|[ \t]+please)[ \t]*\n?(?:[^\n]{0,40}?:[ \t]+)?"
    rf"[^\n\d]{{0,40}}?){_NINE}\b")


#: ``version 100.12.2024``, ``v.``, ``release``, ``build``: a version, not an SSN.
_VERSION_BEFORE = re.compile(r"(?i)\b(?:version|ver|v|release|build|rev)\.?[ \t]*$")


#: A label on the number's line that names it something else - a study, juror, permit or
#: member number, a reference - and nothing that names an SSN: the number is that id.
_OTHER_ID_LABEL = re.compile(
    r"(?i)\b(?:id|number|no\.|nr|ref|reference|permit|participant|member|account|case|order"
    r"|claim|policy|booking|ticket|invoice|serial|licen[cs]e)\b[^\n]{0,30}[:#][ \t]*$")
#: Any word naming an SSN anywhere in a label, glued to a prefix too (QIF's ``Msocial
#: security number:``): looser than :data:`_SSN_NAME`, which must start a name.
_SSN_WORDS = re.compile(r"(?i)ssn|social|soc\.?[ \t]?sec|\btax|\btin\b|\bss[ \t]*#|itin")


def _ssn(match: re.Match[str], text: str) -> float | None:
    if match.group(2) == "." and _VERSION_BEFORE.search(text, max(0, match.start() - 12),
                                                         match.start()):
        return None  # ``version 100.12.2024``
    line_start = text.rfind("\n", 0, match.start()) + 1
    line = text[line_start:match.start()]
    # the label's words: its line's, and the line before's where the label is one word
    # there (``NoteType:Social Security`` then ``Number:...``)
    label = text[text.rfind("\n", 0, max(0, line_start - 1)) + 1:match.start()] \
        if len(line.strip()) <= 8 else line
    if _OTHER_ID_LABEL.search(line) and not _SSN_WORDS.search(label):
        return None  # "Study ID (assigned at visit 1): 551-07-3670"
    return 0.85 if ssn_valid(match.group(1), match.group(3), match.group(4)) else None


#: Nine digits in a cell of a CSV or TSV row or a Markdown table: an SSN where the column's
#: header names one.
_SSN_CELL = re.compile(r"(?:[,;\t]\"?|\|[ \t]*)(\d{9})"
                       r"(?:\"?(?=[,;\t]|[ \t]*(?:\n|$))|[ \t]*(?=\|))")
_SSN_COLUMN = re.compile(rf"(?i)^{_SSN_NAME}$|ssn(?![a-z])")


#: Nine digits that SQL's ``INSERT`` gives a column named for an SSN.
_SSN_INSERTS = inserted_values(rf"(?:\w*_)?{_SSN_NAME}", r"\d{9}")


def _ssn_cell(match: re.Match[str], text: str) -> float | None:
    header = column_header(text, match.start(), match.group()[0])
    if header is None or not _SSN_COLUMN.search(header):
        return None
    return _ssn_plain(match, text)


#: A COBOL field named for an SSN with its value: ``01 WS-EMP-SSN PIC X(11) VALUE '...'``.
_COBOL_SSN = re.compile(
    rf"(?i)\b[\w-]*ssn[\w-]*[ \t]+PIC[ \t]+[X9]\(\d{{1,2}}\)[ \t]+VALUE[ \t]+'{_NINE}'")
#: An SSN where a healthcare or benefits file puts one: X12's subscriber number
#: (``REF*0F*...``) and a member's id with the SSN qualifier (``NM1*IL*1*...*34*...``), HL7's
#: PID-19 and GT1-12 fields.
_FILE_SSN = re.compile(
    r"(?:\bREF\*0F\*|\bNM1\*[^~\n]{0,80}?\*34\*)(?P<x12>\d{9})(?=[~*\n]|$)"
    r"|(?m:^)(?:PID(?:\|[^|\n]*){18}|GT1(?:\|[^|\n]*){11})\|"
    r"(?P<hl7>\d{3}(?:[ \t]*-[ \t]*)?\d{2}(?:[ \t]*-[ \t]*)?\d{4})(?=\||$|\n)")


def _file_ssn(match: re.Match[str], text: str) -> float | None:
    digits = re.sub(r"\D", "", match.group("x12") or match.group("hl7"))
    return 0.9 if ssn_valid(digits[:3], digits[3:5], digits[5:]) else None


def _ssn_plain(match: re.Match[str], text: str) -> float | None:
    digits = re.sub(r"\D", "", match.group(1))
    return 0.9 if ssn_valid(digits[:3], digits[3:5], digits[5:]) else None


def ssn_detector(context: DetectorContext) -> RuleDetector:
    """US Social Security numbers written ``123-45-6789`` or ``123 45 6789``, or as nine
    digits in the sentence of "SSN" or "social security number" (after it, or right
    before it), as the value of a field named "social" or "tax id" (in any case), "the
    social ... is ...", "my tax id is ...", in parentheses after the name, or the answer
    to a question about it, that could have been issued
    (area not 000, 666 or 900-999, group not 00, serial not 0000; not a well-known
    sample number)."""
    return RuleDetector(context.name, (
        Rule("us_ssn", _SSN, _ssn),
        Rule("us_ssn", _SSN_PLAIN, _ssn_plain, group=1,
             keywords=("ssn", "social security", "ss#", "ss #", "soc"),
             anchor=re.compile(r"ssn|\bsocial security|\bss[ \t]*#|\bsoc\.?[ \t]?sec")),
        Rule("us_ssn", _SSN_BEFORE, _ssn_plain, group=1, keywords=("ssn", "social security")),
        Rule("us_ssn", _SSN_SOCIAL, _ssn_plain, group=1,
             keywords=("soc", "tax", "ssn", "tin", "ss#", "ss #"),
             anchor=re.compile(r"(?:\b|_)(?:soc|tax|tin\b|ss[ \t]*#)|ssn")),
        Rule("us_ssn", _SSN_CELL, _ssn_cell, group=1, keywords=("ssn", "soc", "tax")),
        Rule("us_ssn", _COBOL_SSN, _ssn_plain, group=1, keywords=("pic",)),
        Rule("us_ssn", _FILE_SSN, _file_ssn, group=("x12", "hl7"),
             keywords=("ref*0f*", "*34*", "pid|", "gt1|")),
        *(Rule("us_ssn", pattern, _ssn_plain, group=1, keywords=("insert",),
               anchor=INSERT_ANCHOR) for pattern in _SSN_INSERTS),
    ))


# --- IP addresses -------------------------------------------------------------------------

_IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}"
                   r"|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])")
_VERSION = re.compile(r"(?i)\b(?:version|ver\.?|release|build|v)[\"']?[ \t]*(?:[:=][ \t]*)?"
                      r"[\"']?\s*$")
_PREFIX_LENGTH = re.compile(r"/(\d{1,3})(?!\d)")
#: Addresses that identify nobody: documentation ranges, loopback, unspecified, masks.
_UNREPORTED = tuple(ipaddress.ip_network(net) for net in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "127.0.0.0/8", "0.0.0.0/8",
    "255.0.0.0/8", "2001:db8::/32", "::1/128", "::/128"))


#: The next group of a number written in groups of four: ``-0317``, `` 2493``.
_GROUPED_NUMBER_AFTER = re.compile(r"[- ]\d{4}(?![\w:])")


def _ip(match: re.Match[str], text: str) -> float | None:
    value = match.group()
    if ":" in value and value.count(":") < 3 and not any(c.isdigit() for c in value):
        return None  # ``Abc::Def`` is a C++ name, not an address
    if ":" in value and _GROUPED_NUMBER_AFTER.match(text, match.end()) \
            and re.search(r"(?<![0-9a-fA-F])\d{4}$", value):
        return None  # ``cc::5111-0317-2840-3633``, ``cc2::3530 2493 5860 5721`` (an
        # AutoHotkey hotstring before a card number): the first group of a number
    if _VERSION.search(text, max(0, match.start() - 16), match.start()) \
            or _version_near(text, *match.span()):
        return None  # ``version 1.2.3.4``, ``VERSION: '1.2.3.4'``
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if any(address.version == net.version and address in net for net in _UNREPORTED):
        return None
    prefix = _PREFIX_LENGTH.match(text, match.end())
    if prefix is not None and _network(f"{value}/{prefix.group(1)}"):
        return None  # ``10.0.0.0/8``, ``fe80::/10``: a range, not an address
    return 0.9


#: The word "version" on a four-part number's line: "won't accept 1.14.9.23 as the
#: version", ``<property name="version" value="1.4.3.72" />``.
_VERSION_WORD = re.compile(r"(?i)\bversion\b")


def _version_near(text: str, start: int, end: int, reach: int = 40) -> bool:
    """Whether "version" is on the line of ``text[start:end]`` within ``reach``."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    return bool(_VERSION_WORD.search(text, max(line_start, start - reach), start)
                or _VERSION_WORD.search(text, end, min(line_end, end + reach)))


def _network(cidr: str) -> bool:
    """Whether ``cidr`` names a network of more than one address by its first address."""
    try:
        network = ipaddress.ip_network(cidr)  # strict: host bits must be zero
    except ValueError:
        return False
    return network.num_addresses > 1


def ip_detector(context: DetectorContext) -> RuleDetector:
    """IPv4 and IPv6 addresses, validated by the standard library's ``ipaddress``; not
    the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
    2001:db8::/32), loopback, unspecified addresses, netmasks (255.x.x.x) or network
    ranges written by their first address (``10.0.0.0/8``, ``fe80::/10``; an address
    with its prefix length, ``81.2.69.77/24``, is still reported)."""
    return RuleDetector(context.name, (
        Rule("ipv4", _IPV4, _ip, keywords=(".",)),
        Rule("ipv6", _IPV6, _ip, keywords=(":",)),
    ))
