"""Built-in detector of secrets: API keys, tokens, private keys and passwords.

Most secret types have a fixed prefix (``ghp_``, ``AKIA``, ``sk-ant-``, ``xoxb-``) or
shape (a JWT's base64url JSON header, a PEM block), which finds them in code and in
prose alike. Values with no shape of their own (an AWS secret access key, a password)
are found by their context: the word before them (``password=``, ``secret:``, "the
password is"), a URL's user part, a nearby AWS key id. Documentation look-alikes are
dropped (:func:`~athena_core.privacy.lookalikes.is_lookalike`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
from collections.abc import Sequence
from urllib.parse import unquote

from athena_core.privacy.columns import INSERT_ANCHOR, column_header, inserted_values
from athena_core.privacy.detector import (
    Check,
    DetectorContext,
    Rule,
    RuleDetector,
    literal_alternation,
)
from athena_core.privacy.lookalikes import (
    ENV_LOOKUP,
    KNOWN_SAMPLES,
    entropy,
    is_identifier_reference,
    is_lookalike,
    is_structured_identifier,
    is_uuid_or_digest,
    mixed_case_and_digit,
    note_at,
)
from athena_core.privacy.placeholders import MARK
from athena_core.privacy.vendor_tokens import VENDOR_TOKENS, VendorShape

__all__ = ["SECRET_TYPES", "secrets_detector"]

#: A token ends where these characters end (and must not start right after one).
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "_-")
_AFTER = r"(?![A-Za-z0-9_-])"


def _token(group: int | str = 0) -> Check:
    """A prefixed token: reported unless it is a look-alike."""
    def check(match: re.Match[str], text: str) -> float | None:
        return None if is_lookalike(match.group(group)) else 1.0
    return check


def _mixed(match: re.Match[str], text: str) -> float | None:
    """A token without a distinctive prefix: needs upper and lower case letters and digits."""
    value = match.group()
    if not mixed_case_and_digit(value) or is_lookalike(value):
        return None
    return 1.0


def _b64json(part: str) -> object:
    try:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError):
        return None


#: The issuers of JWTs published for local development: the Supabase CLI's anon and
#: service-role keys (``"iss": "supabase-demo"``), the same on every developer's machine.
_DEMO_ISSUERS = frozenset({"supabase-demo"})


def _jwt(match: re.Match[str], text: str) -> float | None:
    header, payload, _ = match.group().split(".", 2)
    decoded = _b64json(header)
    claims = _b64json(payload)
    if not isinstance(decoded, dict) or "alg" not in decoded or not isinstance(claims, dict) \
            or match.group() in KNOWN_SAMPLES or claims.get("iss") in _DEMO_ISSUERS:
        return None
    return 1.0


def _private_key(match: re.Match[str], text: str) -> float | None:
    body = match.group("body")
    if len(re.findall(r"[A-Za-z0-9+/]", body)) < 40 or "..." in body or "xxxx" in body.lower():
        return None
    return 1.0


_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_SECRET_WORD = re.compile(r"(?i)secret|aws_?sk")
#: Words before a random-looking value that make it a signature or digest, not a key.
_SIGNATURE_CONTEXT = re.compile(
    r"(?i)sign|\bsig\b|hmac|digest|hash|checksum|etag|sha-?\d{3}|integrity")


def _aws_secret(match: re.Match[str], text: str) -> float | None:
    """40 base64 characters near the word "secret" or after an AWS key id: upper and lower
    case letters and a digit, ``/`` or ``+`` (a random key lacks digits once in a
    thousand), and not a long identifier."""
    value = match.group()
    if is_lookalike(value) or not (any(c.isupper() for c in value)
                                   and any(c.islower() for c in value)
                                   and any(c.isdigit() or c in "/+" for c in value)):
        return None
    if _in_pem_block(text, match.start()):
        return None  # a line of a PEM block (a public key's: a private key's is reported whole)
    if "/" not in value and "+" not in value and sum(c.isdigit() for c in value) < 2 \
            and entropy(value) < 4.45:
        return None  # a long identifier (``getAwsSecretAccessKeyFromParameterStore2``)
    start, end = match.span()
    if text[start - 1:start] in ("-", "_", ".") or text[end:end + 1] in ("-", "_") \
            or (text[end:end + 1] == "." and text[end + 1:end + 2].isalnum()):
        return None  # a part of a longer token (a JWT's signature cut at ``_``)
    if _SECRET_WORD.search(text, max(0, start - 40), start) \
            or _SECRET_WORD.search(text, end, end + 40):
        return 0.9
    if _AWS_KEY_ID.search(text, max(0, start - 200), start):
        return 0.8
    if ("/" in value or "+" in value) and any(c.isdigit() for c in value) \
            and entropy(value) >= 4.3 and text[end:end + 1] != "." \
            and not _SIGNATURE_CONTEXT.search(text, max(0, start - 40), start):
        return 0.6  # the shape alone: mixed case, digits, ``/`` or ``+``, random
    return None


_AZURE_CONTEXT = re.compile(r"(?i)accountkey=|azure|storage|account key|access key")


def _azure_key(match: re.Match[str], text: str) -> float | None:
    """86 base64 characters and ``==``: near a word naming Azure storage; alone when it
    reads as random (mixed case and digits) and no word names it a signature or digest."""
    start, end = match.span()
    value = match.group()
    if text[max(0, start - 7):start].lower() == "sha512-" or is_lookalike(value):
        return None
    near = _AZURE_CONTEXT.search(text, max(0, start - 80), start) \
        or _AZURE_CONTEXT.search(text, end, end + 60)
    if near:
        return 0.9
    if _SIGNATURE_CONTEXT.search(text, max(0, start - 40), start) \
            or not mixed_case_and_digit(value) or entropy(value) < 4.8:
        return None
    return 0.6


_NOT_PASSWORDS = frozenset({"none", "null", "nil", "true", "false", "required", "optional",
                            "empty", "hidden", "undefined", "string", "str", "bytes",
                            "password", "passwd", "secret", "token", "pass", "pwd", "%s",
                            "bearer", "basic", "digest", "negotiate"})


#: The groups a password rule may find its value in: in a raw string (``"""..."""``, as
#: Kotlin, Scala and Swift write them), in a Lua long string (``[[...]]``), quoted, in
#: curly quotes, between markdown emphasis, in an HTML inline element, or bare.
_VALUE_GROUPS = ("raw", "triple", "long", "quoted", "curly", "emphasis", "tagged", "bare")
#: And, for the rules that have them, a literal: a value where no code can stand (an
#: OpenAPI example, an XML element's text), taken as written, as a quoted one is.
_ALL_VALUE_GROUPS = (*_VALUE_GROUPS, "attr_value", "literal")
#: Characters that end a bare value: spaces, quotes (curly ones too), separators and
#: closing brackets; a bare value does not end in a full stop or colon either (the end
#: of the sentence) nor in ``<`` (a closing tag follows) or ``>`` (a prompt: ``redis>``),
#: but may in ``!`` or ``?``:
#: better to take a question or exclamation mark with a password than to leave a
#: password's last character out.
_STOP = "\\s\"'`\u201c\u201d\u2018\u2019,;)}\\]"
_LAST = _STOP + ".:<>\\\\"
#: Inside a bare value (not first, not last) quotes, parentheses, braces, brackets, ``;``
#: and ``,`` may stand: ``it's-Fr1day31``, ``wJ6/B)caI#0xjS``, ``say"cheese"167``,
#: ``VMZ}okwnvh934``, ``WEP;durlah391``, ``GH99,ngkxuixn#``; not ``;``, ``,`` or a closing
#: brace or bracket before a space or the next setting (``Pwd=...;Database=crm``, ``{"pw":
#: abc}``, ``pw=abc,user=x``), which end it (:data:`_INNER_END`); it does not start as an
#: object or a list does (``{"``, ``[{``, ``[]``), nor with an escaped quote (``\"``).
_INNER_STOP = "\\s\u201c\u201d\u2018\u2019"
_INNER_END = r"[;,}\]](?=[\s,;}\]\"'`]|$|[A-Za-z_][\w.-]*=[^\s=])|\}(?=\))"
#: The next field of form data or a query string (``&remember=1``), or a wiki macro
#: (``{{noformat}}``): a bare value ends there.
_NEXT_FIELD = r"&[A-Za-z_][\w.-]{0,30}=|\{\{"
#: HTML elements a value is shown in (``<b>S3cret!</b>``, ``<code>S3cret!</code>``).
_INLINE_TAGS = "b|strong|code|em|i|tt|kbd|samp|mark|span|td|pre"
#: A value in a C++ raw string (``R"(...)"``, ``R"tag(...)tag"``), triple quotes (its
#: value alone on the line between them too), a Lua long string (``[[...]]``), in quotes
#: (holding the other quotes: ``"(Oslo)2024'64"``; escaped
#: ones too, as in JSON inside a JSON string: ``\"S3cret!\"``),
#: curly quotes, markdown emphasis or an HTML inline element, or a bare one up to the next
#: space, quote, separator or closing bracket.
_VALUE = (r"(?:R\"(?P<delim>[^()\\\s\"]{0,16})\((?P<raw>[^\n]{1,200}?)\)(?P=delim)\""
          r"|(?P<tq>\"\"\"|''')\n?(?P<triple>[^\"'\n]{1,200})\n?(?P=tq)"
          r"|\[\[(?P<long>[^\n]{1,200}?)\]\](?!\])"
          r"|(?P<q>\\?[\"'`])(?P<quoted>(?:(?!(?P=q))[^\n]){1,200})(?P=q)"
          r"|[\u201c\u2018](?P<curly>[^\u201c\u201d\u2018\u2019\n]{1,200})[\u201d\u2019]"
          r"|(?P<em>\*{1,2})(?P<emphasis>[^\s*]{1,200})(?P=em)(?!\*)"
          rf"|<(?P<tag>{_INLINE_TAGS})(?:[ \t][^<>\n]{{0,60}})?>(?P<tagged>[^<>\s]{{1,200}})"
          r"</(?P=tag)>"
          rf"|(?P<bare>(?![<>]|[{{\[][\"'{{\[\]]|\\[\"'])[^{_STOP}]"
          rf"(?:(?:(?!{_NEXT_FIELD}|</|{_INNER_END})[^{_INNER_STOP}]){{0,198}}"
          rf"(?!{_NEXT_FIELD})[^{_LAST}])?))")
#: The whole run of non-space characters at a value's start, without a brace or quote
#: around it.
_WORD_AT = re.compile(r"[{\"'(`]?(?P<word>[^\s\"'`{}]+)")
#: The published samples by their first character (a password rule's value may be cut
#: from one: ``ghp_16C7e42F...`` before a quote).
_SAMPLES_BY_FIRST: dict[str, tuple[str, ...]] = {
    first: tuple(sample for sample in KNOWN_SAMPLES if sample[0] == first)
    for first in {sample[0] for sample in KNOWN_SAMPLES}}
#: An HTTP authorization value: its scheme and the credential (``Bearer ...``).
_AUTH_SCHEME = re.compile(r"(?i)(?:bearer|basic|token|digest)[ \t]+(?P<credential>\S+)")
#: ``service=l2tp``: a setting (a name in small letters) and its value, not a password.
_SETTING_PAIR = re.compile(r"[a-z][a-z_.-]{2,}=[^\s=]+")
#: ``on-call``, ``follow-up``, ``sign-in``: a compound word, not a password.
_COMPOUND_WORD = re.compile(r"[a-z]+(?:-[a-z]+){1,2}")
#: ``Python3.11``, ``node-v18.2``: a name with a version, not a password.
_VERSIONED = re.compile(r"[A-Za-z][\w-]*?v?\d+(?:\.\d+)+")


def _value(match: re.Match[str]) -> tuple[str, bool]:
    """The value a password rule matched, and whether it was quoted."""
    groups = match.re.groupindex
    for name in _ALL_VALUE_GROUPS:
        if name in groups and match.group(name) is not None:
            return match.group(name), name != "bare"
    raise AssertionError("unreachable: a password rule matches one of its value groups")


def _argv_password(match: re.Match[str], text: str) -> float | None:
    """A command's password argument, taken as written; not after ``-p `` in a mysql
    command, which asks for the password and reads the next word as the database."""
    line_start = text.rfind("\n", 0, match.start()) + 1
    if match.group().startswith("-u") and "mysql" in text[line_start:match.start()]:
        return None
    return _password(match, text, literal=True)


def _password_literal(match: re.Match[str], text: str) -> float | None:
    """A password where no code can stand (a command's argument): taken as written."""
    return _password(match, text, literal=True)


def _password(match: re.Match[str], text: str, *, literal: bool = False) -> float | None:
    value, quoted = _value(match)
    quoted = quoted or literal
    if value.startswith("-----BEGIN"):
        return None  # a PEM block under ``key: |``: the private-key rule's
    if value.endswith(("...", "\u2026")):
        return None  # cut short for display: ``eyJhbGciOiJSUzI1NiJ9.eyJ…``
    if not quoted and _NUMBER_LITERAL.fullmatch(value):
        return None  # code's number with separators: ``{"max_tokens": 10_000}``
    if value[0] in "<>":
        return None  # a tag's edge (``Type="PasswordText">S3cret</Password>``): the value,
        # if any, is between the tags, where a rule for elements finds it
    if value[0] == "[" and (is_identifier_reference(value[1:].rstrip("]"))
                            or _is_call(value[1:])):
        return None  # a list of references (``[dependency.secrets.outputs.token]``)
    if _URL_START.match(value):
        return None  # a URL (a SAS URL named a token): credentials in it have rules of their own
    start = _value_start(match)
    if _place_taken(match, text) or ENV_LOOKUP.match(text, start) or note_at(text, start) \
            or _inside_slot(text, match.start()) or _SAMPLE_COMMENT.match(text, match.end()) \
            or _TRUNCATED.match(text, start + len(value)):
        return None  # the secret's place is taken, the value is looked up or a note (a bare
        # value ends at the space of ``lookupEnv "X"``, the brace of ``{env.X}`` or the
        # note's space: ``(sensitive value)``)
    if _ARN_BEFORE.search(text[max(0, match.start() - 100):match.start()]):
        return None  # ``arn:aws:secretsmanager:...:secret:prod/db-AbCdEf`` names a secret
    if not quoted and (text[match.end():match.end() + 1] in ("(", "[")
                       or _is_call(value, text[_value_start(match) + len(value):][:1])):
        return None  # code: a call, a subscript (``os.environ["X"]``)
    if value.startswith("--"):
        return None  # the next flag (``--value '...'``), not a value
    if any(text.startswith(sample, start) for sample in _SAMPLES_BY_FIRST.get(text[start], ())):
        return None  # a documented sample the value is part of
    word = _WORD_AT.match(text, start)
    if word and word.end() >= match.end() and (is_structured_identifier(word["word"])
                                               or word["word"] in KNOWN_SAMPLES):
        return None  # the value is the start of a longer identifier or sample (a rule's
        # length limit cut it: a Bitwarden cipher string, ``{eyJ...}``)
    scheme = _AUTH_SCHEME.fullmatch(value)
    if scheme and is_lookalike(scheme["credential"]):
        return None  # ``"Bearer sk_test_4eC39..."``: a documented sample after its scheme
    if len(value) < 6 or value.lower() in _NOT_PASSWORDS or is_lookalike(value) \
            or is_structured_identifier(value) or _SHELL_VARIABLE.fullmatch(value) \
            or (not quoted and is_identifier_reference(value)):
        return None
    if is_uuid_or_digest(value) and not (_HEX.fullmatch(value) and _names_password(match)):
        return None  # an identifier; hex is a password only where a password is named
    return 0.8 if quoted else 0.7


#: A number as code writes it with separators: ``10_000``, ``1_048_576``.
_NUMBER_LITERAL = re.compile(r"\d{1,3}(?:_\d{3})+")
#: A value cut short for display: ``eyJhbGciOiJIUzI1NiJ9...(truncated)``, ``sk-...``.
_TRUNCATED = re.compile(r"\.{3}|\u2026")
#: A comment after a value on its line that calls it a sample: ``# example``, ``// dummy``.
_SAMPLE_COMMENT = re.compile(
    r"[\"'`,;)]*[ \t]+(?:#|//|--)[^\n]*?(?i:\b(?:example|sample|placeholder|dummy|fake"
    r"|not (?:a )?real)\b)")
#: The opening of a template's slot or a command's substitution: ``{{``, ``${``, ``$(``.
_SLOT_OPEN = re.compile(r"\{\{|\$\{|\$\(")
_SLOT_CLOSE = {"{{": "}}", "${": "}", "$(": ")"}


def _inside_slot(text: str, at: int) -> bool:
    """Whether ``at`` is inside a slot opened earlier on its line and not closed before it:
    the name and value there are the lookup's (``{{resolve:secretsmanager:app:SecretString:
    password}}``, ``$(vault kv get -field=password secret/db)``), not a setting's."""
    line_start = text.rfind("\n", 0, at) + 1
    return any(_SLOT_CLOSE[slot.group()] not in text[slot.end():at]
               for slot in _SLOT_OPEN.finditer(text, max(line_start, at - 200), at))


def _value_start(match: re.Match[str]) -> int:
    """Where the value a password rule matched starts."""
    return next(span for span in map(match.span, _groups(match)) if span[0] >= 0)[0]


def _place_taken(match: re.Match[str], text: str) -> bool:
    """Whether a placeholder or a redaction (``[PASSWORD]``, as the audit log keeps a
    secret) is the value, stands between the name and the value, holds the name, or is
    the value of a name that comes after the value: the secret's place is taken, and a
    value beside it is another field's (``token='[PASSWORD]', card_id='card_7243'``)."""
    low = max(0, match.start() - 60)
    end = next(span for span in map(match.span, _groups(match)) if span[0] >= 0)[1]
    if "[" in text[low:end] and any(mark.end() > match.start()
                                    for mark in MARK.finditer(text, low, end + 1)):
        return True
    return end < match.end() and _names_a_mark(text, match.end())


#: The start of a URL: ``https://``, ``postgres://``.
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{1,15}://")
#: ``get_password(user``, ``String::from(``, ``os.environ[``: code, a call or a
#: subscript, not a value.
_CALL_OR_SUBSCRIPT = re.compile(r"(?:[\w.$]|::)+(?=[(\[])")


#: A generic type's name before its bracket: ``dict[``, ``tuple[``, ``Mapping[``.
_GENERIC_TYPE = re.compile(
    r"(?:^|\.)(?:dict|list|tuple|set|frozenset|type|Dict|List|Tuple|Set|FrozenSet|Type"
    r"|Mapping|MutableMapping|Sequence|MutableSequence|Iterable|Iterator|Collection|Optional"
    r"|Union|Callable|Literal|Annotated|Generator|Awaitable)$")
#: What follows a call's parenthesis in a value: a string, with its prefix if any
#: (``read("env:DB_PASSWORD``, ``compile(r"...``), or
#: names, numbers, ``.``, ``,`` and ``:``, up to the closing parenthesis if the value holds it.
_ARGUMENTS = re.compile(r"(?:[rRbBfFuU]{1,2})?[\"'`].*|[\w.,: ]*(?:\).*)?")
#: Code in a word of running text: a call with a string or nothing (``read('``, ``get()``)
#: or a call of a name in snake or camel case (``k8s_yaml(``, ``getSecret(``).
_CALL_IN_TEXT = re.compile(r"[\w.]\((?:[\"'`]|\))|_[A-Za-z0-9]+\(|[a-z][A-Z]\w*\(")


def _is_call(value: str, after: str = "") -> bool:
    """Whether ``value`` starts as code calling or indexing a name (``get_password(``,
    ``os.environ[``): a name without digits or of words, not a random run of characters
    that holds a parenthesis (``XEw2UWPbHfEZFk10Poh0eiT(BXsx``), nor a bracket that is
    closed neither in the value nor right after it (``after``: ``ORS[qrjxcv736``)."""
    name = _CALL_OR_SUBSCRIPT.match(value)
    if name is None:
        return False
    rest = value[name.end() + 1:]
    if value[name.end()] == "[" and rest and rest[0] not in "\"'`]" and "]" not in rest \
            and after != "]" and not _GENERIC_TYPE.search(name.group()):
        return False  # ``ORS[qrjxcv736``: a bracket that never closes, no subscript (a
        # generic type cut at its comma is one: ``dict[str``, ``Mapping[str``)
    words = name.group().replace("::", ".").replace("$", "")
    function = words.rsplit(".", 1)[-1]
    named = len(function) > 3 and not any(c.isdigit() for c in function) \
        and _camel_words(function)
    if value[name.end()] == "(" and not named and not _ARGUMENTS.fullmatch(rest):
        return False  # ``YD20(auplzwcf&``, ``pK(Wak0L>fu~dc``, ``nxplvRsR(zKX3!Ip``: a name
        # of no words and symbols no argument list holds, no call (``get_password(user``,
        # cut at its comma, and ``re.compile(r"\d+(?:...`` are)
    return not any(c.isdigit() for c in words) or all(
        _camel_words(part) for part in words.split(".") if part)
#: ``$API_TOKEN``, quoted or not: a variable, not its value.
_SHELL_VARIABLE = re.compile(r"\$[A-Za-z_]\w*")
_HEX = re.compile(r"[0-9a-f]+|[0-9A-F]+")
#: Names of a password, of a vendor's auth token (Twilio's is 32 hex digits), of an OAuth
#: client secret (GitHub's is 40) and of an API or secret key (Datadog's and many others'
#: are 32 hex digits), as they are written in code and prose: a hex value they name is a
#: password made by ``openssl rand -hex`` or a secret, not a digest.
_PASSWORD_WORD = r"pass(?:word|wd|phrase|code)?(?![a-z])|pwd|(?<![a-z])pw(?![a-z])"
_PASSWORD_NAME = re.compile(
    rf"(?i){_PASSWORD_WORD}|psk|auth[_ -]?token|(?:client|oauth|app|consumer)[_ -]?secret"
    r"|api[_ -]?key|apikey|secret[_ -]?key"
    r"|identified[ \t]+by")


def _names_password(match: re.Match[str]) -> bool:
    """Whether the text of ``match`` outside its value, or the word right before it (the
    "OAuth" of "the OAuth secret is ..."), names a password."""
    start, end = next(span for span in map(match.span, _groups(match)) if span[0] >= 0)
    outside = match.string[max(0, match.start() - 8):start] + " " \
        + match.string[end:match.end()]
    if "named" in match.re.groupindex and match.group("named"):
        outside += " " + match.group("named")
    return bool(_PASSWORD_NAME.search(outside))


def _groups(match: re.Match[str]) -> tuple[str, ...]:
    names = match.re.groupindex
    return tuple(name for name in _ALL_VALUE_GROUPS if name in names) or ("bare",)


#: The fields of an ARN before its resource type: ``arn:aws:secretsmanager:eu-west-1:1234:``.
_ARN_BEFORE = re.compile(r"\barn:[\w-]+:[\w-]+:[\w-]*:\d*:$")


def _password_named(match: re.Match[str], text: str) -> float | None:
    """A value named a password by the words around it: it must look like one (a letter
    and a digit or symbol), not like a word of the sentence, a URL or a versioned name."""
    value, _ = _value(match)
    if _COMPOUND_WORD.fullmatch(value) or _SETTING_PAIR.fullmatch(value) \
            or _FLAG_BEFORE.search(text, max(0, _value_start(match) - 40), _value_start(match)):
        return None  # "on-call", "follow-up": a word of the sentence; ``service=l2tp``; a
        # flag's argument (``--size s-1vcpu-1gb`` near "PASSWORD")
    core = value.rstrip("?!")  # "again?" is a word and a question mark
    if not (any(c.isalpha() for c in core) and any(not c.isalpha() for c in core)) \
            or "://" in value or _VERSIONED.fullmatch(value):
        return None
    return _password(match, text)


def _password_near(match: re.Match[str], text: str) -> float | None:
    """A value in the sentence of the word "password" that could be nothing else: 8 or
    more characters with letters, digits and symbols."""
    value, _ = _value(match)
    if not (any(c.isalpha() for c in value) and any(c.isdigit() for c in value)
            and any(not c.isalnum() for c in value)) or ("@" in value and "." in value):
        return None
    confidence = _password_named(match, text)
    return None if confidence is None else 0.6


def _strong(value: str) -> bool:
    """Letters, digits and a symbol, and not an e-mail address, a URL, a file or host name
    (``backup_v2.tar.gz``, ``api2.acme.io``), a versioned name (``Python3.11``) or code
    (``k8s_yaml(secret_from_dict('``)."""
    return (any(c.isalpha() for c in value) and any(c.isdigit() for c in value)
            and any(not c.isalnum() for c in value) and not ("@" in value and "." in value)
            and "://" not in value and not _file_or_host(value)
            and not _VERSIONED.fullmatch(value) and not _SETTING.match(value)
            and not _CALL_IN_TEXT.search(value))


#: ``Server=sql01``, ``Database=crm``: a setting and its value, not one value; and a
#: setting's name with its ``=`` (``host_ipv6=``, before a quoted value).
_SETTING = re.compile(r"[A-Za-z_][\w.-]*=(?!=)")


#: ``backup_v2.tar.gz``, ``api2.acme.io``, ``cache-01.internal:6379``, ``src/app.py``: a
#: name with extensions (a host with its port) or a path.
_FILE_OR_HOST = re.compile(r"[\w./-]*\.[A-Za-z][A-Za-z0-9]{0,5}|[\w.-]*/[\w./-]*"
                           r"|[\w.-]+\.[A-Za-z][\w-]*:\d{2,5}")


def _file_or_host(value: str) -> bool:
    """Whether ``value`` reads as a file or host name or a path
    (:func:`_file_or_host_name`), and is no memorable password of dotted words."""
    if _DOTTED_PASSPHRASE.fullmatch(value):
        return False  # ``quarry.Quarry6.lantern.otter``: a memorable password, not a host
    return _file_or_host_name(value)


#: Words joined by dots with a capital and a digit among them, as password managers make
#: memorable passwords; host names are written in small letters.
_DOTTED_PASSPHRASE = re.compile(
    r"(?=.*\d)(?=.*[A-Z])[A-Za-z]{3,}\d{0,2}(?:\.[A-Za-z]{3,}\d{0,2}){2,5}")


def _file_or_host_name(value: str) -> bool:
    """Whether ``value`` reads as a file or host name or a path (:data:`_FILE_OR_HOST`),
    and, without a ``/``, no part of it between dots reads as random (16 or more
    characters with upper and lower case letters and a digit, not words in camel case):
    an OAuth client secret may hold a dot (``aNMMaZJlsKSLOsjLcm5rXNrT5LC1XH.rEXP``)."""
    if not _FILE_OR_HOST.fullmatch(value):
        return False
    return "/" in value or not any(
        len(part) >= 16 and mixed_case_and_digit(part) and not _camel_words(part)
        for part in value.split("."))


def _password_strong(match: re.Match[str], text: str) -> float | None:
    """A value only loosely tied to the word "password" (in the sentence before it, or
    many words before it): it must have letters, digits and a symbol (:func:`_strong`)."""
    value, _ = _value(match)
    if not _strong(value):
        return None
    confidence = _password_named(match, text)
    return None if confidence is None else 0.6



def _password_strong_or_random(match: re.Match[str], text: str) -> float | None:
    """A value loosely tied to a password that looks like one beyond doubt: letters, digits
    and a symbol, or 10 or more random-looking characters (upper and lower case letters and
    a digit, not words in camel case): ``9UCnDNdAjF7ElzRA``."""
    value, _ = _value(match)
    if len(value) >= 10 and mixed_case_and_digit(value) and not _camel_words(value):
        return _password_named(match, text)
    return _password_strong(match, text)


#: A network's name right before a value: "Wi-Fi is 'Orchard-2G', password ...", "SSID:
#: ...": the value before the password word is the network's, not the password.
_SSID_BEFORE = re.compile(
    r"(?i)(?:\bssid|\bwi-?fi(?:[ \t]+network)?(?:[ \t]+name)?|\bnetwork[ \t]+name)"
    r"(?:[ \t]+is)?[ \t]*[:=]?[ \t]*[\"'`\u201c\u2018]?$")


def _password_before_word(match: re.Match[str], text: str) -> float | None:
    """A strong value before the word "password" on its line, unless a network's name is
    what comes before it (:data:`_SSID_BEFORE`)."""
    start = _value_start(match)
    if _SSID_BEFORE.search(text, max(0, start - 30), start):
        return None
    return _password_strong(match, text)


def _password_named_after(match: re.Match[str], text: str) -> float | None:
    """"X is the password", and with more than three words between ("X is what we use as
    the admin password"), where X must then look like a password beyond doubt; not a
    network's name (:data:`_SSID_BEFORE`)."""
    start = _value_start(match)
    if _SSID_BEFORE.search(text, max(0, start - 30), start):
        return None
    if len(match.group("gap").split()) > 3:
        return _password_strong(match, text)
    return _password_named(match, text)


def _password_quoted_after(match: re.Match[str], text: str) -> float | None:
    """A quoted value after "password", "password to", "password as" or "password for"; after
    "for" it may be an account's name ("the password for 'jdoe2'"), so it must be strong."""
    if (match.group("prep") or "").lower() == "for":
        return _password_strong(match, text)
    return _password_named(match, text)


def _password_answer(match: re.Match[str], text: str) -> float | None:
    """A line answering a question about a password: the whole answer must look like one
    (letters and a digit, or upper and lower case and two symbols), not like a word."""
    value, _ = _value(match)
    if not any(c.isdigit() for c in value) and not (
            value.lower() != value != value.upper()
            and sum(not c.isalnum() for c in value) >= 2):
        return None
    return _password_named(match, text)


#: The parts of an identifier: a word (capitalised or not), capitals, digits.
_CAMEL_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _camel_words(value: str) -> bool:
    """Whether ``value`` reads as an identifier of words in camel or upper case with a
    few digits (``PasswordPolicyV2Strict``): each part with small letters has three or
    more, each run of digits at most four. (Parts are found in one pass, so a long
    value costs linear time.)"""
    return all((len(part) >= 3 if part[-1].islower() else not part.isdigit() or len(part) <= 4)
               for part in _CAMEL_PART.findall(value))


def _password_random(match: re.Match[str], text: str) -> float | None:
    """A value in the sentence of the word "password" without a symbol: 16 or more
    letters and digits that read as random (upper and lower case and a digit, not words
    in camel case, not a digest)."""
    value, _ = _value(match)
    if _camel_words(value) or entropy(value) < 3.5 or is_uuid_or_digest(value):
        return None
    confidence = _password(match, text)
    return None if confidence is None else 0.6


def _password_below(match: re.Match[str], text: str) -> float | None:
    """A value on its own line below the line naming it: letters and a digit, and not a
    URL, an absolute or relative path or a file or host name."""
    value, _ = _value(match)
    if "://" in value or value.startswith(("/", "./", "~/")) or _FILE_NAME.fullmatch(value):
        return None
    return _password_answer(match, text)


#: ``backup_v2.tar.gz``, ``api2.acme.io``: a name with extensions.
_FILE_NAME = re.compile(r"[\w.-]*\.[A-Za-z][A-Za-z0-9]{0,5}")


def _password_argument(match: re.Match[str], text: str) -> float | None:
    """A password passed by position: not a word or a name (``"database_name"``), so a
    digit or a symbol besides ``_``, ``-`` and ``.``."""
    value, _ = _value(match)
    if not any(c.isdigit() or not (c.isalnum() or c in "_-. ") for c in value):
        return None
    return _password(match, text)


def _bearer(match: re.Match[str], text: str) -> float | None:
    """An opaque token after ``Bearer``: letters and digits, not a look-alike."""
    value = match.group("bare")
    if is_lookalike(value) or is_structured_identifier(value) \
            or not (any(c.isalpha() for c in value) and any(c.isdigit() for c in value)):
        return None
    return 0.8


def _url_password(match: re.Match[str], text: str) -> float | None:
    value = unquote(match.group("password"))  # ``%2A%2A%2A%2A`` is a mask too
    if value.lower() in _NOT_PASSWORDS or is_lookalike(value) or set(value) <= {"*", "x", "X"}:
        return None
    return 0.9


#: The word in other languages people write to each other in, and its common misspellings.
_PASSWORD_ELSEWHERE = ("passwort", "passord", "wachtwoord", "lösenord", "hasło", "contraseña",
                       "senha", "mot de passe", "salasana", "adgangskode", "heslo", "jelszó",
                       "пароль", "şifre", "passwrd", "pasword", "psswd", "passw")
_KEY_WORDS = (r"password|passwd|passphrase|passcode|pwd|pw|psk|pre-?shared-?key|pass|secret"
              r"|client[_ -]?secret"
              r"|secret[_ -]?key"
              r"|api[_ -]?key|apikey|access[_ -]?token|auth[_ -]?token|token"
              r"|private_key_password|authorization|authtok")
#: A command's flag right before a value (``--size s-1vcpu-1gb``): the value is the
#: flag's, whatever names a password nearby, unless the flag names a secret or says the
#: value is written in clear (``rootpw --plaintext ...``).
_FLAG_BEFORE = re.compile(
    rf"(?i)(?<![\w-])--?(?![\w-]*(?:{_KEY_WORDS}|plaintext))[a-z][\w-]*[ \t=]+$")
#: Words that name a password in prose: "password", and "pw", "pwd", "passwd" and "PSK"
#: (a Wi-Fi or VPN pre-shared key), as chat and notes write them.
_PASSWORD_KEYWORDS = ("password", "passphrase", "passcode", "passwd", "pwd", "pw", "psk")
_PASSWORD_WORDS = f"(?:{literal_alternation(_PASSWORD_KEYWORDS)})"
#: The same in other languages and misspelt (:data:`_PASSWORD_ELSEWHERE`): rules of their
#: own, which run only on the texts that hold one (as one alternation with the English
#: words, their first letters would make every rule try most words of every text).
_ELSEWHERE_WORDS = f"(?:{literal_alternation(_PASSWORD_ELSEWHERE)})"
_PASSWORD_ANCHOR = re.compile(rf"\b{_PASSWORD_WORDS}\b")
#: A remark in parentheses between the word and its colon: "password (confirmed twice):".
_REMARK = r"\([^()\n]{1,40}\)"
#: HTML tags between a label and its value: ``Password:</td><td><code>``.
_TAGS_BETWEEN = rf"(?:</?(?:{_INLINE_TAGS}|p|div|li|dd|dt|th|tr|br)\b[^<>\n]{{0,60}}>[ \t]*)"
#: A type between a name and ``=``: ``ROOT_PW: &str = ...`` (Rust), ``adminPassword:
#: String = ...`` (Kotlin, Swift, TypeScript).
_TYPE_ANNOTATION = (r"(?:[ \t]*:[ \t]*&?(?:'static[ \t]+)?(?:str|string)\b(?=[ \t]*=)"
                    r"|[ \t]+As[ \t]+String\b(?=[ \t]*=)"
                    r"|[ \t]*:[ \t]*\[\]const[ \t]+u8\b(?=[ \t]*=))?")
#: What may wrap a quoted value: C#'s verbatim string (``@"..."``), a constructor of a
#: string (``String::from("...")``, ``SecretString::new("...")``, ``std::string("...")``),
#: an Elixir sigil (``~s(...)``).
_STRING_WRAPPER = (r"(?:@(?=\")|(?:[A-Za-z_]\w*::)+(?:from|new)\([ \t]*(?=[\"'])"
                   r"|std::string\([ \t]*(?=[\"'])|~[a-zA-Z]\((?=[^()\s]+\)))?")
_ASSIGNMENT = re.compile(
    rf"(?i)(?:{_KEY_WORDS})s?\b(?:\\?[\"'\]]|\*{{1,2}}){{0,2}}{_TYPE_ANNOTATION}"
    rf"(?:(?:[ \t]+[\w'-]{{1,20}}){{1,6}}?(?=[ \t]*(?:{_REMARK}[ \t]*)?:[ \t]|[ \t]+is[ \t]))?"
    rf"(?:[ \t]*{_REMARK}(?=[ \t]*:))?"
    r"[ \t]*(?::[ \t]*[>|][-+]?[ \t]*\n[ \t]+"  # a YAML block scalar: the value on the next line
    r"|(?:\|\||\?\?)=|:=|\?=|=>|->|\u2192|<-|[!=]=|=|:|[\u2013\u2014](?=[ \t])|\|(?=[ \t]*[^\s|])"
    r"|\.{3,}(?=[ \t])"
    r"|[ \t](?:is[ \t]+|was[ \t]+)?(?:set|changed|updated|reset)[ \t]+to[ \t]"
    r"|[ \t]is[ \t]|[ \t]was[ \t])"
    r"[ \t]*(?:\*{1,2}[ \t]+)?"
    r"(?:\$\{\?[\w.-]+\}[ \t]+|(?:string|bytes)[ \t]*\|[ \t]*\*|:{1,2}[ \t]*)?"
    r"(?:\[[ \t]*(?:\n[ \t]*\+?[ \t]*)?(?=[\"']))?"  # a list's first string, a plan's too
    rf"{_TAGS_BETWEEN}{{0,4}}?{_STRING_WRAPPER}" + _VALUE)
#: A character inside a word of running text that could be a password: not a space, quote
#: or separator, nor ``<`` starting a tag; a comma only before another such character
#: (``a,VW-Y[bFl$>is``: ", " ends a word).
_IN_WORD = rf"(?:[^{_STOP}<]|<(?!/|[A-Za-z]+[ \t>])|,(?=[^\s{_STOP}]))"
#: "the password S3cure#Pass", "the password on file (S3cure#Pass)", "the leaked password
#: (`S3cure#Pass`)": a value that looks like a password (a letter and a digit or symbol) a
#: few words after the word.
_NAMED_BEFORE = re.compile(
    rf"(?i)\b{_PASSWORD_WORDS}(?:[ \t]+[a-z'-]{{1,20}}){{0,2}}?[ \t]+(?:\(`?)?"
    rf"(?P<bare>(?=\S*[A-Za-z])(?=\S*[^A-Za-z\s])[^{_STOP}(<>]{_IN_WORD}{{4,62}}[^{_LAST}])")
#: The word in another language or misspelt, then the value: as a label ("Mot de passe :
#: ...", "hasło: ...", "psswd = ...") or a few words before it ("das Passwort auf ...").
_NAMED_ELSEWHERE = re.compile(
    rf"(?i)\b{_ELSEWHERE_WORDS}\b(?:[ \t]*{_REMARK})?(?:[ \t]*[:=][ \t]*"
    r"|(?:[ \t]+[^\W\d_]{1,20}){0,2}?[ \t]+(?=\S*[^\w\s]|\S*\d))"
    r"(?:\(`?)?" + _VALUE)
#: "X is the password", "X is still the right password", "X as the new password",
#: "X <- that's the password", "X - this is my password": the value before the word
#: (more than three words between only for a strong value: ``_password_named_after``).
_NAMED_AFTER = re.compile(
    rf"(?<![^\s\"'`(\u201c\u2018])(?P<bare>[^{_STOP}(]{{5,63}}?[^{_LAST}])[\"'`.,]?[ \t]+"
    r"(?:(?:is|as|was)[ \t]+|(?:<-|\u2190|-{1,2}|\u2013|\u2014)[ \t]*"
    r"(?:(?:that's|that is|this is|it's|it is|which is)[ \t]+)?)"
    r"(?P<gap>(?:[\w'-]+[ \t]+){0,8}?)" + _PASSWORD_WORDS + r"\b", re.I)
#: A word of running text that could be a password: 8 to 64 characters, not starting with
#: a parenthesis or an angle bracket, ending before an HTML tag (``...</div>``).
_TOKEN_IN_TEXT = rf"[^{_STOP}(<>]{_IN_WORD}{{6,62}}[^{_LAST}<]"
#: Lookaheads that a candidate has a letter, a digit and a symbol, so that a pattern
#: searching a sentence for one passes over its words instead of stopping at the first.
_SHAPED = (rf"(?={_IN_WORD}*?[A-Za-z])(?={_IN_WORD}*?\d)"
           rf"(?={_IN_WORD}*?[^A-Za-z0-9{_STOP}(])")
#: A value with letters, digits and symbols after the word in the same sentence:
#: "rotated the password today; the new one (hunter2!Blue) is in the vault".
_NEAR = re.compile(
    rf"(?i)\b{_PASSWORD_WORDS}\b[^.!?\n]{{0,60}}?(?<![^\s(\"'`\u201c\u2018])"
    rf"(?P<bare>{_SHAPED}{_TOKEN_IN_TEXT})(?![^{_LAST}<])")
#: A strong value after "login" or "pass" in the same sentence or label ("temporary login:
#: ...", "rotated the pass for billing, new one is ...", "# login: ..."): the words also
#: name a user and a verb, so the value must look like a password beyond doubt
#: (:func:`_strong`).
_LOGIN_NEAR = re.compile(
    r"(?i)\b(?:login|logon|pass)\b[^.!?\n]{0,60}?(?<![^\s(\"'`\u201c\u2018])"
    rf"(?P<bare>{_SHAPED}{_TOKEN_IN_TEXT})(?![^{_LAST}<])")
#: A strong value opening the sentence after one naming a password: "I was told to keep
#: the admin password somewhere safe. Tundra#1842. This is somewhere."
_NEXT_SENTENCE = re.compile(
    rf"(?i)\b{_PASSWORD_WORDS}\b[^.!?\n]{{0,80}}[.!?][ \t]+"
    rf"(?P<bare>{_SHAPED}{_TOKEN_IN_TEXT})(?=[.!?,;]?(?:[ \t]|\n|$))")
#: A random-looking token after the word in the same sentence: "the password for the NAS
#: is still uIkH59pPk6LF4AhKln8seU40".
_NEAR_RANDOM = re.compile(
    rf"(?i)\b{_PASSWORD_WORDS}\b[^.!?\n]{{0,60}}?(?<![^\s(\"'`\u201c\u2018])"
    r"(?P<bare>(?-i:(?=[A-Za-z0-9]*?[A-Z])(?=[A-Za-z0-9]*?[a-z])(?=[A-Za-z0-9]*?\d)"
    r"[A-Za-z0-9]{16,64}))(?![^\s\"'`\u201d\u2019,;)])")
#: A strong value in the sentence before the one naming it: "Please retry with X. It
#: should be the new root password." (at most 100 characters on, on the same line).
_NEAR_BEFORE = re.compile(
    rf"(?<![^\s\"'`(\u201c\u2018])(?P<bare>{_SHAPED}{_TOKEN_IN_TEXT})(?![^{_LAST}<])"
    rf"[^\n]{{0,100}}?\b{_PASSWORD_WORDS}\b", re.I)
#: A name/value pair naming a secret: ``<add key="DB_PASSWORD" value="..."/>``, a
#: Kubernetes ``- name: DB_PASSWORD`` with ``value: ...`` on the next line.
_PAIR = re.compile(
    rf"(?i)\b(?:name|key)[\"']?[ \t]*[=:][ \t]*[\"']?[\w./-]*?(?:{_KEY_WORDS})[\w.-]*[\"']?"
    r"[^\n]{0,40}?(?:\n[ \t-]*)?\bvalue[\"']?[ \t]*[=:][ \t]*" + _VALUE)
#: A name/value pair as a command's flags: ``aws ssm put-parameter --name /prod/db_password
#: --value '...'``.
_FLAG_PAIR = re.compile(
    rf"(?i)--(?:name|key)[ \t=]+[\"']?[\w./-]*?(?:{_KEY_WORDS})[\w./-]*[\"']?"
    r"[^\n]{0,60}?--value[ \t=]+" + _VALUE)
#: A value before the name that says what it is: ``SET value = '...' WHERE name =
#: 'admin_password'`` (a settings table), ``{"value": "...", "key": "DB_PASSWORD"}``.
_PAIR_REVERSED = re.compile(
    r"(?i)\bvalue[\"']?[ \t]*[=:][ \t]*" + _VALUE
    + rf"(?=[^\n]{{0,60}}?\b(?:name|key)[\"']?[ \t]*[=:][ \t]*[\"']?"
    rf"(?P<named>[\w./-]*?(?:{_KEY_WORDS})))")
#: A header set with its value before its name, as Swift and Objective-C write it:
#: ``request.setValue("...", forHTTPHeaderField: "X-Api-Key")``, ``[request
#: setValue:@"..." forHTTPHeaderField:@"X-Api-Key"]``.
_HEADER_SETTER = re.compile(
    r"(?i)\bsetValue[(:][ \t]*@?(?P<q>[\"'])(?P<quoted>[^\"'\n]{1,200})(?P=q)[ \t]*,?[ \t]*"
    rf"forHTTPHeaderField:[ \t]*@?\"(?P<named>[\w-]*?(?:{_KEY_WORDS})[\w-]*)\"")
#: A quoted value right after the word, as SQL writes it: ``WITH PASSWORD 'S3cret!x'``,
#: ``IDENTIFIED BY 'S3cret!x'`` (not after "pass", "token" or "key": "pass `x`" is a
#: verb and its object).
_QUOTED_AFTER_WORDS = r"password|passwd|passphrase|passcode|pwd|pw|identified[ \t]+by"
_QUOTED_AFTER = re.compile(
    rf"(?i)(?:{_QUOTED_AFTER_WORDS})[ \t]+(?:(?P<prep>to|as|for)[ \t]+)?"
    r"(?:(?P<q>[\"'`])(?P<quoted>[^\s\"'`]{6,200})(?P=q)"
    r"|[\u201c\u2018](?P<curly>[^\s\u201c\u201d\u2018\u2019]{6,200})[\u201d\u2019])")
#: A quoted default of a secret-named setting: ``process.env.DB_PASSWORD || "..."``,
#: ``os.environ.get("API_TOKEN") or "..."``, ``os.getenv("SMTP_PASSWORD", "...")``,
#: ``ENV.fetch("SECRET_KEY", "...")``, and a shell default ``${PGPASS:-...}``.
_QUOTED = r"(?P<q>[\"'`])(?P<quoted>(?:(?!(?P=q))[^\n]){1,200})(?P=q)"
_DEFAULT_OR = re.compile(
    rf"(?i)(?:{_KEY_WORDS})[\w.\[\]\"'()]{{0,60}}?[ \t]*(?:\|\||\?\?|\bor\b)[ \t]*{_QUOTED}")
_CALL_WITH_NAME = (r"(?:\b(?:getenv|get|fetch|getproperty|env|setenv|set_var|setproperty|put"
                   r"|add|define|setenvironmentvariable|getorelse)\("
                   # MATLAB's preferences: ``setpref("Internet", "SMTP_Password", "...")``
                   r"|\bsetpref\([ \t]*[\"'][\w.-]{1,40}[\"'][ \t]*,)")
_DEFAULT_ARGUMENT = re.compile(
    rf"(?i){_CALL_WITH_NAME}[ \t]*(?:ENV[ \t]*,[ \t]*)?[\"'][\w.:/-]*?(?:{_KEY_WORDS})"
    rf"[\w.:/-]*[\"'][ \t]*,[ \t]*{_QUOTED}")
_DEFAULT_SHELL = re.compile(
    rf"(?i)\$\{{\w*?(?:{_KEY_WORDS})\w*(?::?-|:)(?P<bare>[^}}\s\"']{{1,200}})(?=\}})")
#: A setter named for a secret, called with a quoted value: ``client.setPassword("...")``,
#: ``oauth.setClientSecret("...")``, ``api.setApiToken("...")``; and PowerShell's
#: ``ConvertTo-SecureString '...' -AsPlainText`` (a password in clear, to be wrapped).
_SETTER = re.compile(
    r"(?:(?<![\w$])set(?:[A-Z][a-z0-9]*)*?(?:Password|Passwd|Passphrase|Pwd|Secret|Token"
    r"|ApiKey|AccessKey|SecretKey|AuthKey)\([ \t]*"
    r"|(?i:ConvertTo-SecureString)[ \t]+(?:-String[ \t]+)?)" + _QUOTED)
#: Credentials in an HTTP request: ``Authorization: Bearer ...``, ``curl -u user:pass``.
_BEARER = re.compile(r"(?i)\b(?:bearer|authorization:[ \t]*token)[ \t]+"
                     r"(?P<bare>[A-Za-z0-9._~+/-]{16,}=*(?![A-Za-z0-9._~+/=-])"
                     r"|[^\s\"'<>]{7,199}[^\s\"'<>.,;:])")
_BASIC_USER = re.compile(r"\bcurl\b[^\n|;&]*?[ \t](?:-u|--user)[ \t]+[\"']?[^\s:\"'@]{1,64}:"
                         r"(?P<bare>[^\s\"']{1,128}[^\s\"'.,;:])")
#: A command-line flag: ``--password VALUE``, ``--api-key VALUE``, ``--admin-pass VALUE``.
_FLAG = re.compile(
    r"(?i)(?<![\w-])--(?:[a-z0-9]+-){0,3}(?:password|passwd|pass|secret|api-key|apikey|token)"
    r"(?:[ \t]+|\\?[\"'][ \t]*,[ \t]*)(?!-)" + _VALUE)
#: A secret-named environment variable with a prefix glued on: ``PGPASSWORD=...``,
#: ``MYSQLPWD=...`` (upper case, as environments write them).
_GLUED_NAME = re.compile(
    r"(?<![\w$])[A-Z][A-Z0-9]*(?:PASSWORD|PASSWD|PASSPHRASE|PWD|PSK|SECRET|TOKEN)"
    r"[ \t]*(?:=|:[ \t])[ \t]*" + _VALUE)
#: Commands that take a password as a flag: ``mysql -p'...'`` (glued: ``-p`` alone makes
#: mysql ask), ``sshpass -p``, ``docker login -p`` (and podman, buildah, skopeo, oras,
#: helm registry), ``mongo -p``, ``redis-cli -a``, ``ldapsearch -w``, and redis' ``AUTH``
#: at a prompt or a line's start (``cache-01:6379> AUTH ...``), SQL Server's ``sqlcmd -P``,
#: Windows' ``net use \\\\host\\share /user:DOMAIN\\user ...`` and ``net user NAME ...``,
#: HAProxy's ``stats auth admin:...``, ``htpasswd -b FILE USER ...``, Samba's ``-U
#: user%...``, FreeRDP's ``/p:...`` and IRC's ``/msg NickServ IDENTIFY [account] ...``.
_COMMAND_PASSWORD = re.compile(
    r"\b(?:mysql\w*\b[^\n|;&]*?[ \t\"']-p(?=\S)|check_mysql\w*\b[^\n|;&]*?[ \t]-p[ \t]+"
    r"|(?:sshpass|(?:docker|podman|buildah|skopeo|oras|helm[ \t]+registry)[ \t]+login"
    r"|mongo\w*)\b[^\n|;&]*?[ \t]-p[ \t]+"
    r"|redis-cli\b[^\n|;&]*?[ \t]-a[ \t]+|ldap\w+\b[^\n|;&]*?[ \t]-w[ \t]+"
    r"|(?:sqlcmd|osql|bcp)\b[^\n|;&]*?[ \t]-P[ \t]*"
    r"|\bnet[ \t]+use\b[^\n|;&]*?[ \t]/user:[^\s/]+[ \t]+"
    r"|\bnet[ \t]+user[ \t]+[^\s/]+[ \t]+(?=[^\s/*])"
    r"|\bstats[ \t]+auth[ \t]+[^\s:]{1,64}:"
    r"|\bhtpasswd\b[^\n|;&]*?[ \t]-[a-zA-Z]*b[a-zA-Z]*[ \t]+\S+[ \t]+\S+[ \t]+"
    r"|(?<=\s-)U[ \t]*[^\s%]{1,64}%|(?<=\s--)user=[^\s%]{1,64}%|(?<=\s/)p:"
    r"|(?i:nickserv)[ \t]+(?i:identify)[ \t]+(?:\S+[ \t]+(?=\S+[ \t]*(?:\n|$)))?"
    r"|(?m:^|>[ \t]*)AUTH[ \t]+)" + _VALUE)
#: Passwords in command arguments and network devices' configuration: ``-u user -p ...``
#: in any command, auditd's argument records of ``mysql -p...`` (``a2="-p..."``), Cisco's
#: type-0 (clear text) secrets and ISAKMP keys, strongSwan's ``: PSK "..."`` and ``: EAP
#: "..."``.
_ARGV_PASSWORD = re.compile(
    r"(?:(?<!\S)-u[ \t]+\S+[ \t]+-p[ \t]+"
    r"|\ba0=\"mysql\w*\"[^\n]*?\ba\d+=\"-p(?=[^\"\s])"
    r"|\b(?:enable[ \t]+)?(?:secret|password)[ \t]+0[ \t]+|\bisakmp[ \t]+key[ \t]+(?!\d[ \t])"
    r"|(?m:^)[ \t]*(?:\S+[ \t]+)?:[ \t]*(?:PSK|EAP|XAUTH)[ \t]+)" + _VALUE)
#: A secret-named identifier right before its value, with no separator: "rejected
#: smtp_password M3@dow!3284", "Using wifi_psk '...'"; not one after ``env:`` or ``$``
#: (a reference: ``SENTRY_TOKEN=env:SENTRY_TOKEN /usr/local/bin/backup.sh``).
_NAMED_IDENTIFIER = re.compile(
    r"(?i)(?<![:$])\b(?:[a-z0-9]+_)+(?:password|passwd|pass|pwd|psk|secret|token)\b[ \t]+(?![=:])"
    + _VALUE)
#: A preprocessor's definition of a secret-named macro: C's ``#define DB_PASSWORD "..."``,
#: Kamailio's ``#!define DBPASS "..."``.
_DEFINE = re.compile(
    r"(?i)#!?define[ \t]+\w*?(?:password|passwd|pass|pwd|secret|token)\w*[ \t]+" + _VALUE)
#: The value alone on the line below a line naming a password or secret that ends in a
#: dash or colon: "Please find below the root password -" then "    ...", "new DB
#: password:" then "...".
_BLOCK_BELOW = re.compile(
    rf"(?i)\b(?:{_PASSWORD_WORDS}|secret|token)\b[^\n]{{0,80}}?[-:\u2013\u2014][ \t]*\n"
    r"(?:[ \t]*\n)?[ \t]*(?P<bare>[^\s\"'`]{8,128})(?=[ \t]*(?:\n|$))")
#: A user and password as a pair: "login: admin / ...", "creds are admin:...",
#: "credentials for staging -> admin / ...", a Wi-Fi network and its key ("wifi: HomeNet /
#: ..."), "u: admin p: ...".
_CREDENTIAL_PAIR = re.compile(
    r"(?i)(?:\b(?:login|logon|creds|credentials|user/pass(?:word)?|u/p|wi-?fi)\b"
    r"(?:[ \t]+(?:for|to|on)[ \t]+[\w.-]{1,30})?[ \t]*"
    r"(?::|=|\bare\b|\bis\b|->|\u2192)[ \t]*[\w.@+-]{1,64}[ \t]*[/:][ \t]*"
    r"|\bu(?:ser)?[ \t]*:[ \t]*[\w.@+-]{1,40}[ \t]+p(?:w|wd|ass)?[ \t]*:[ \t]*)" + _VALUE)
#: A Wi-Fi's key after its name or place and a colon: "Yard Wi-Fi: ...", "Home Wi-Fi for
#: the inverter dongle: ..." (not a network's name and key: "Wi-Fi: HomeNet / ..."), or
#: quoted and ending the line, as a password book writes it: ``Wi-Fi "..."``.
_WIFI = re.compile(r"(?im)\bwi-?fi\b(?:[^\n:=/]{0,40}:"
                   r"|[ \t]*[=-]?(?=[ \t]*[\"'][^\n]{6,64}[\"'][ \t]*$))[ \t]*" + _VALUE
                   + r"(?![ \t]*/)")
#: A password after "with" or "and": fetchmail's ``user "x" there with password "..."``,
#: "log in with the team e-mail and password ...".
_WITH_PASSWORD = re.compile(r"(?i)\b(?:with|and)[ \t]+(?:the[ \t]+)?password[ \t]+" + _VALUE)
#: Nagios' secret macros in ``resource.cfg``: ``$USER3$=...``.
_NAGIOS_RESOURCE = re.compile(r"(?m)^\$USER\d{1,3}\$=(?P<bare>\S{6,128})[ \t]*$")
#: Yarn's registry credentials: ``npmAuthIdent: "user:..."``.
_AUTH_IDENT = re.compile(
    r"\bnpmAuthIdent[ \t]*:[ \t]*[\"']?[^:\s\"']{1,64}:(?P<literal>[^\s\"']{1,128})")
#: A superuser and a password: "root / ...", "admin / ..." (spaces around the slash: not a
#: path), where the value must look like a password beyond doubt or random.
_SUPERUSER_PAIR = re.compile(
    r"(?i)(?<![\w/.-])(?:root|admin|administrator)[ \t]+/[ \t]+"
    rf"(?P<bare>(?=\S*[A-Za-z])(?=\S*\d){_TOKEN_IN_TEXT})(?![^{_LAST}<])")
#: A Wi-Fi network's key or a code to get in, named in prose or a note: "the wifi key is
#: ...", "network key: ...", "the tablet's unlock code is ...", "access code: ...", "the
#: code for the lockbox app (spare key inside) is ...".
_KEY_OR_CODE = re.compile(
    r"(?i)\b(?:(?:wi-?fi|wlan|wpa2?|wireless|network)[ \t]+(?:key|passkey|code)\b"
    r"|(?:unlock|access|entry|login|security)[ \t]+code\b"
    r"|code[ \t]+for[ \t]+(?:the[ \t]+|my[ \t]+|our[ \t]+)?[\w'-]{1,20}(?:[ \t]+[\w'-]{1,20})?"
    rf"(?:[ \t]*{_REMARK})?(?=[ \t]+is\b))"
    r"(?:[ \t]+is|[ \t]*[:=\u2013\u2014-])[ \t]*" + _VALUE)
#: A password to log in with, in prose: "use ... to log in", "log in with ...", "sign in
#: with ...".
_LOG_IN_WITH = re.compile(
    r"(?i)(?:\b(?:log|sign)[ \t-]?[io]n[ \t]+with[ \t]+"
    r"|\buse[ \t]+(?=\S+[ \t]+to[ \t]+(?:log|sign)[ \t-]?[io]n\b))"
    rf"(?P<bare>{_SHAPED}{_TOKEN_IN_TEXT})(?![^{_LAST}<])")
#: A line of PostgreSQL's password file: ``host:port:database:user:password``.
_PGPASS_LINE = re.compile(
    r"(?m)^(?=[^:\n]*[A-Za-z.*])[\w.*-]{1,253}:(?:\d{2,5}|\*):[\w.*-]{1,63}:[\w.*@-]{1,63}:"
    r"(?P<literal>\S{1,128})[ \t]*$")
#: A user and password for ``chpasswd``: ``echo 'user:...' | chpasswd``, or the lines of
#: cloud-init's ``chpasswd: list:``.
_CHPASSWD = re.compile(
    r"(?m)(?:\b(?:echo|printf)[ \t]+['\"]?|^[ \t]+)[a-z_][\w.-]{0,31}:"
    r"(?P<bare>[^\s'\":]{6,128})(?=['\"]?[ \t]*\|[ \t]*(?:sudo[ \t]+)?chpasswd\b|[ \t]*$)")
#: The end of a question, with or without its question mark: "VPN password?", "whats the
#: wifi password again", "can I get the password please".
_QUESTION_END = r"(?:\?|[ \t]+(?:again|please|now|below)[ \t]*(?=\n|  ))"
#: A chat answer: the value alone on the line after a question about a password or key
#: ("VPN password?" then "[10:06] sam: ..."), after the speaker's name if any and a "yes
#: it's", or on the line after a line of its own naming the speaker and the time ("Kenji
#: Tanaka  14:05"), or in the next message of a JSON export (``"text": "which password?"},``
#: then ``{"from": "Chiara", "text": "..."}``); or after the question in the same message
#: ("the password? I have ...").
_ANSWER = re.compile(
    rf"(?i)\b(?:{_PASSWORD_WORDS}|{_KEY_WORDS})\b[^\n?]{{0,20}}?{_QUESTION_END}"
    r"(?:(?:[ \t]*\n|  )(?:[^\n]{0,40}?\b\d{1,2}:\d{2}\b[^\n]{0,30}\n)?(?:[^\n]{0,40}?:[ \t]+)?"
    r"|[ \t]+(?:i have|i've got|i got)[ \t]+"
    r"|(?<=\?)\"[ \t]*\}?,?[ \t]*\n[^\n]{0,80}?"
    r"\"(?:text|message|body|content|msg)\"[ \t]*:[ \t]*\")"
    r">?[ \t]*(?:(?:yes|yeah|yep|sure|ok)[ \t,]+)?(?:(?:it's|it is|its|that's)[ \t]+)?"
    r"(?P<bare>[^\s\"'`>]{6,128})(?=[ \t]*(?:\n|$)|\"[,}\]\s])")
_URL_PASSWORD = (
    r"\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s:/@\"'<>]{0,64}:(?P<password>[^\s@/\"'<>]{1,128})"
    r"@[A-Za-z0-9.-]+")


#: A configuration directive that sets a secret-named variable, its name and value
#: apart: Apache's ``SetEnv SMTP_PASSWORD "..."``, nginx's ``set $smtp_pwd "...";``, a
#: Dockerfile's ``ENV DB_PASSWORD ...``.
_DIRECTIVE = re.compile(
    rf"(?i)[ \t]*(?:setenv|set|env)[ \t]+\$?[\w.-]*?(?:{_KEY_WORDS})[\w.-]*[ \t]+(?![=:])"
    + _VALUE)

#: An argument of a call, quoted or not (no nested call).
_ARGUMENT = r"(?:\"[^\"\n]{0,200}\"|'[^'\n]{0,200}'|[^(),\n\"']{1,80})"
#: A password passed by position: the third argument of a database connection with a
#: user as the second (Perl's ``DBI->connect($dsn, 'app', '...')``, ``new PDO($dsn,
#: 'app', '...')``, ``mysqli_connect('db', 'app', '...')``, JDBC's ``getConnection(url,
#: "app", "...")``); the second of a login or a bind with a quoted user
#: (``client.login("ana", "...")``, ``conn.simple_bind_s("cn=admin", "...")``,
#: ``HTTPBasicAuth("ana", "...")``, ``auth=("ana", "...")``); the only one of an
#: ``auth`` call (Lua's and Ruby's redis clients: ``redis:auth("...")``).
_CONNECT_CALLS = ("connect", "mysqli_connect", "mysql_connect", "pg_connect", "getConnection",
                  "PDO")
_LOGIN_CALLS = ("login", "log_in", "logon", "signin", "sign_in", "authenticate",
                "simple_bind_s", "bind_s", "bind", "HTTPBasicAuth", "HTTPDigestAuth",
                "BasicAuth", "basic_auth", "NetworkCredential", "UsernamePasswordCredentials",
                "PasswordAuthentication")
_POSITIONAL_PASSWORD = re.compile(
    rf"(?:(?<![\w$])(?:{'|'.join(_CONNECT_CALLS)})"
    rf"[ \t]*\([ \t]*{_ARGUMENT}[ \t]*,[ \t]*[\"'][^\"'\n]{{1,64}}[\"'][ \t]*,[ \t]*"
    rf"|(?<![\w$])(?:{'|'.join(_LOGIN_CALLS)}|auth[ \t]*=)"
    r"[ \t]*\([ \t]*[\"'][^\"'\n]{1,64}[\"'][ \t]*,[ \t]*"
    r"|(?<![\w$-])auth[ \t]*\([ \t]*(?=[\"'][^\"'\n]{1,200}[\"'][ \t]*\)))" + _QUOTED)
#: Groovy's and Gradle's setting without ``=``: ``storePassword "..."``, ``keyPassword
#: '...'`` at a line's start or after ``{`` or ``;``.
_SPACED_SETTING = re.compile(rf"(?i:{_PASSWORD_WORD}|secret|token)\w*[ \t]+"
                             r"(?P<q>[\"'])(?P<quoted>[^\"'\n]{1,200})(?P=q)")
_SPACED_SETTING_ANCHOR = re.compile(r"pass|pwd|pw|secret|token")


def _spaced_setting(match: re.Match[str], text: str) -> float | None:
    """A setting without ``=``: the identifier (``store`` + ``Password``) starts a line or
    follows ``{`` (not a template's ``{{``) or ``;``, and is not the verb "pass" ("; pass
    "py.exe" instead")."""
    start = match.start()
    while start and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    before = text[:start].rstrip(" \t")
    if (before and before[-1] not in "\n{;") or before.endswith(("{{", "${", "%{")) \
            or text[start:match.start("q")].strip().lower() == "pass":
        return None
    return _password_named(match, text)
#: A property list's key or a Maven property's name naming a secret, with the value in
#: the ``<string>`` or ``<value>`` after it, on the same line or the next:
#: ``<key>Password</key>`` then ``<string>...</string>``; and an element named for a
#: secret: ``<password>...</password>``, ``<smtp.password>...</smtp.password>``.
_PROPERTY_LIST = re.compile(
    rf"(?i)<(?P<k>key|name)>[\w .-]*?(?:{_KEY_WORDS})[\w .-]*</(?P=k)>[ \t]*\n?[ \t]*"
    r"<(?P<v>string|value)>(?P<tagged>[^<>\n]{1,200})</(?P=v)>"
    rf"|<(?P<named_element>[\w.:-]+)[ \t][^<>\n]{{0,60}}?\b[Nn]ame=\"[\w.:-]*?(?i:{_KEY_WORDS})"
    r"[\w.:-]*\"[^<>\n]{0,60}>(?P<attr_value>[^<>\n]{1,200})</(?P=named_element)>"
    rf"|<(?P<element>[\w.:-]*?(?:{_KEY_WORDS})[\w.:-]*)(?:[ \t][^<>\n]{{0,80}})?>"
    r"(?P<literal>[^<>\n]{1,200})"
    r"</(?P=element)>")
#: An example in an API description under the schema, property or header that names a
#: secret: OpenAPI's ``DbPassword:`` (or ``name: X-Client-Secret``) and, up to three lines
#: below, ``example:``, ``default:``, ``x-example:`` or ``x-test-value:``; and a
#: configuration key's ``value:`` below it (Pulumi's ``app:dbPassword:``).
_SCHEMA_EXAMPLE = re.compile(
    rf"(?im)^[ \t]*(?:-[ \t]*)?(?:name:[ \t]*[\"']?)?[\w.:-]*?(?:{_KEY_WORDS})[\w-]*[\"']?:?"
    r"[ \t]*\n(?:[ \t]+(?!name:)[\w-]+:[^\n]*\n){0,3}?"
    r"[ \t]+(?:example|default|x-example|x-test-value|value):[ \t]*"
    rf"(?:{_QUOTED}|(?P<literal>[^\s\"'][^\n]{{0,199}}?))[ \t]*$")
#: A passphrase of words after a password's name (or "login", "pass"): "the login
#: password for staging is monsoon gravel kestrel velvet", ``# password: orbit nutmeg
#: thimble monsoon``, "my pass: my dog ate the lagoon 51" (:func:`_passphrase_words`).
_PASSWORD_WORDS_AND_LOGIN = rf"(?:{_PASSWORD_WORDS}|pass|login)"
_PASSPHRASE = re.compile(
    rf"(?i)(?:\b|(?<=_)){_PASSWORD_WORDS_AND_LOGIN}\b[^\n.:=?]{{0,30}}?"
    r"(?::|=|->|[ \t]is|[ \t]was)[ \t]*"
    r"(?P<bare>(?-i:[a-z]{2,10}(?:[ \t][a-z]{2,10}){2,5}(?:[ \t]\d{1,4})?))"
    r"(?=[ \t]*(?:[,.;)?\n\"'<]|$| -| \(|\*\)))")
#: Words of running text, which a passphrase's words are not ("the password is stored in
#: the vault", "your password is the one you chose").
_COMMON_WORDS = frozenset("""
    the and for you your are was were been being has have had not but all any can will just
    one our out use used with that this from they them then than there their what when where
    which who why how its into onto over under same new old still also only very more most
    some such each both few other own set reset stored kept saved sent shared found given
    changed rotated written listed shown typed entered chose chosen choose pick picked using
    vault manager file wiki note notes page team admin user account login sign signup email
    mail phone here now later below above again please thanks ask asked tell told know known
    make made need needed want wanted wrong right expired valid invalid blank
    on off call duty him her his she he we us me my mine got get without
    empty required optional hidden secret private public default case sensitive long short
""".split())  # noqa: SIM905 - a word list is easier to read and edit as text


def _passphrase_words(value: str) -> bool:
    """Whether ``value`` reads as a passphrase: three to six words of small letters, none
    of them a common word of running text (:data:`_COMMON_WORDS`: "monsoon gravel kestrel
    velvet"); or, ending in a number, four to seven words of which most are not ("my dog
    ate the lagoon 51", "correct horse copper 19")."""
    words = value.split()
    number = words[-1].isdigit() and len(words[-1]) <= 4
    if number:
        words = words[:-1]
    if not (3 <= len(words) <= 6 and all(
            2 <= len(word) <= 10 and word.isalpha() and word.islower() for word in words)):
        return False
    common = sum(word in _COMMON_WORDS or len(word) < 3 for word in words)
    return common * 2 < len(words) if number else common == 0


def _passphrase(match: re.Match[str], text: str) -> float | None:
    """Words after a password's name that read as a diceware passphrase."""
    return _password(match, text) if _passphrase_words(match.group("bare")) else None


#: A header set by a web server's configuration: Caddy's ``header X-Db-Password "..."``
#: and ``header_up``, nginx's ``add_header``, ``proxy_set_header`` and
#: ``more_set_headers``, Apache's ``RequestHeader set``.
_HEADER_DIRECTIVE = re.compile(
    r"(?i)\b(?:header(?:_up|_down)?|add_header|proxy_set_header|more_set_headers"
    r"|(?:request)?header[ \t]+set)[ \t]+[\"']?"
    rf"[\w-]*?(?:{_KEY_WORDS})[\w-]*:?[\"']?[ \t]+" + _VALUE)
#: CMake's ``set(ENV{DB_PASSWORD} "...")``.
_CMAKE_ENV = re.compile(
    rf"(?i)\bset\([ \t]*ENV\{{[\w.-]*?(?:{_KEY_WORDS})[\w.-]*\}}[ \t]+{_QUOTED}")
#: PgBouncer's ``userlist.txt``: ``"user" "password"`` on lines of their own, in a text that
#: names the file.
_USERLIST = re.compile(r"(?m)^\"[\w.@-]{1,64}\"[ \t]+\"(?P<quoted>[^\"\n]{1,200})\"[ \t]*$")
#: An Erlang or Elixir tuple naming a secret: ``{password, "..."}``, ``{db_pass,
#: <<"...">>}``.
_TUPLE = re.compile(
    rf"(?i)\{{[ \t]*:?[\w]*?(?:{_KEY_WORDS})\w*[ \t]*,[ \t]*(?:<<)?{_QUOTED}(?:>>)?[ \t]*\}}")
#: An interactive session's answer to a name: IPython's ``In [5]: db_password`` then
#: ``Out[5]: '...'``.
_SESSION_OUT = re.compile(
    rf"(?i)\bIn[ \t]*\[\d+\]:[ \t]*[\w.]*?(?:{_KEY_WORDS})\w*[ \t]*\n"
    rf"Out[ \t]*\[\d+\]:[ \t]*{_QUOTED}")
#: A here-string fed to a command that names a secret: ``gcloud secrets versions add
#: db_password --data-file=- <<< '...'``, ``vercel env add API_TOKEN production <<< ...``.
_HERE_STRING = re.compile(
    rf"(?i)\b[\w.-]*?(?:{_KEY_WORDS}|secrets?)\b[^\n<]{{0,80}}?<<<[ \t]*" + _VALUE)
#: OpenVPN's inline credentials: the user, then the password, on lines of their own.
_AUTH_USER_PASS = re.compile(
    r"<auth-user-pass>[ \t]*\n[^\n]{1,100}\n[ \t]*(?P<bare>[^\n]{1,128}?)[ \t]*\n"
    r"[ \t]*</auth-user-pass>")
#: A setting and its value at a line's start without ``=`` or ``:``, as Fluent Bit and
#: other INI-like formats write them: ``HTTP_Passwd ...``, ``    Password ...``, Redis's
#: ``requirepass ...`` and ``masterauth ...``, kickstart's ``rootpw --plaintext ...``.
_BARE_SETTING = re.compile(
    rf"(?im)^[ \t]*[\w.-]*?(?:{_PASSWORD_WORDS}|secret|token|requirepass|masterauth)[ \t]+"
    r"(?:--plaintext[ \t]+)?(?P<bare>[^\s\"'`=:][^\s]{5,127})[ \t]*$")
#: Postfix's ``sasl_passwd`` map: ``[smtp.example.com]:587 user@example.com:...``.
_SASL_MAP = re.compile(
    r"(?m)^\[[\w.-]+\](?::\d{1,5})?[ \t]+[^\s:]{1,64}:(?P<bare>\S{1,128})[ \t]*$")
#: A protocol's password command as a trace or log shows it (FTP's and POP3's ``PASS ...``,
#: in ``strace``'s ``write(4, "PASS ...\\r\\n", 24)`` too).
_PASS_COMMAND = re.compile(r"(?:^|(?<=[\"\s]))PASS[ \t]+(?P<literal>[^\s\"\\]{1,128})"
                           r"(?=[ \t]*(?:\\r|\\n|\"|\n|$))", re.M)
#: A brute-force tool's finding, as nmap's ``*-brute`` scripts report it: ``|     admin:...
#: - Valid credentials`` (the password as written, spaces and all).
_VALID_CREDENTIALS = re.compile(
    r"(?m)^\|[ \t]+[^\s:]{1,64}:(?P<literal>[^\n]{1,128}?) - Valid credentials[ \t]*$")
#: SQL's ``INSERT INTO t (a, smtp_pass) VALUES (7, '...')``: the value in the place of a
#: column named for a secret; and a settings table's pair, ``VALUES ('admin_pass', '...')``.
_INSERTS = inserted_values(rf"[\w.]*?(?:{_KEY_WORDS})[\w.]*")
_SETTING_ROW = re.compile(
    rf"(?i)\bvalues[ \t]*\([ \t]*'[\w.-]*?(?:{_KEY_WORDS})[\w.-]*'[ \t]*,[ \t]*"
    r"'(?P<quoted>[^'\n]{1,200})'")

#: Setting a secret-named variable in prose: "I set `ADMIN_PASSWORD` to `...`", "changed
#: the api_key to ...", "updated the admin password on file to ...".
_SET_TO = re.compile(
    rf"(?i)\b(?:set|change[sd]?|update[sd]?|rotate[sd]?)[ \t]+(?:the[ \t]+)?"
    rf"(?:[\w-]+[ \t]+){{0,2}}?[`'\"]?[\w.-]*?(?:{_KEY_WORDS})[\w.-]*[`'\"]?"
    r"(?:[ \t]+[\w-]+){0,3}?[ \t]+to[ \t]+" + _VALUE)
#: A Terraform variable named as a secret and its default: ``variable "db_password" {``
#: then ``default = "..."``.
_VARIABLE_DEFAULT = re.compile(
    rf"(?i)\bvariable[ \t]+\"[\w-]*?(?:{_KEY_WORDS})[\w-]*\"[ \t]*\{{[^{{}}]{{0,120}}?"
    r"\bdefault[ \t]*=[ \t]*" + _VALUE)
#: A value written to a file that names a secret: ``echo "..." > /run/secrets/db_password``.
_ECHO_TO_FILE = re.compile(
    r"\becho[ \t]+(?:-[neE]{1,3}[ \t]+)?(?:(?P<q>[\"'])(?P<quoted>[^\"'\n]{1,200})(?P=q)"
    r"|(?P<bare>[^\s\"'|>;&]{1,200}))[ \t]*>>?[ \t]*[^\s;&|]{0,100}?"
    r"(?i:pass|pwd|pw\b|psk|secret|token|_key\b)")


#: A random-looking token of 20 to 200 characters in running text or a setting's value
#: (ending in a letter, a digit, ``~``, as an Azure client secret may, or ``_`` or ``-``,
#: as URL-safe base64 may).
_TOKEN_CANDIDATE = re.compile(
    r"(?<![\w./+$-])[A-Za-z0-9][A-Za-z0-9_.+/~-]{18,198}[A-Za-z0-9~_-]={0,2}(?![\w/+=~-]|\.\w)")
#: Words naming a credential that is not a password: a key, token, secret, credentials.
_TOKEN_WORD = re.compile(
    r"(?i)(?<![a-z])(?:api[_ -]?)?(?:key|token|secret|credentials?|auth|apikey)s?(?![a-z])")
#: Keys that are not credentials: ``public key``, ``primary_key``, ``cache key``, ...
_NOT_SECRET_KEY = re.compile(
    r"(?i)(?:public|publishable|cache|primary|sort|partition|foreign|idempotency|hash|row"
    r"|license|product|ssh|gpg|pgp|host)[ _.-]?$")
#: What a line may hold before a value that answers the line above: a speaker (after a
#: time: ``Mon 09:16  Me:``), a quote, "yes it's".
_ANSWER_PREFIX = re.compile(
    r"[ \t>*-]*(?:\[[^\]\n]{1,20}\][ \t]*)?(?:[\w .:/-]{1,40}:[ \t]*)?[ \t>]*"
    r"(?i:(?:yes|yeah|yep|sure|ok)[ \t,]+)?(?i:(?:it's|it is|its)[ \t]+)?$")


#: The end of a line that asks for what the next line answers: a question (with or
#: without its mark: "whats the token again"), a label's colon.
_ASKING = re.compile(r"(?i)(?:[?:]|\bagain|\bplease)[ \t]*$")


def _naming_windows(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Where a word naming the value ``text[start:end]`` may be: 80 characters before it
    and 50 after on its line, and the end of the line above when that line asks for it
    and nothing but a speaker or quote mark comes before the value on its line."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    windows = [(max(line_start, start - 80), start), (end, min(line_end, end + 50))]
    if line_start and _ANSWER_PREFIX.match(text, line_start, start):
        above = text.rfind("\n", 0, line_start - 1) + 1
        if _ASKING.search(text, above, line_start - 1):
            windows.append((max(above, line_start - 81), line_start - 1))
    return windows


def _credential_word(text: str, start: int, end: int) -> bool:
    """Whether a word naming a key, token or secret is where it names the value
    ``text[start:end]`` (:func:`_naming_windows`), and not as a public, cache, sort, ...
    key."""
    for low, high in _naming_windows(text, start, end):
        for word in _TOKEN_WORD.finditer(text, low, high):
            if not _NOT_SECRET_KEY.search(text, max(0, word.start() - 15), word.start()) \
                    and not _word_names_a_mark(text, word):
                return True
    return False


#: Between a name and its value: the rest of the name, a type annotation, ``:`` or
#: ``=``, an opening quote.
_TO_VALUE = re.compile(r"[\w\]\[\"']*?(?:\s*:\s*[\w |]+?)?\s*[:=]\s*[\"'`]?(?=\[)")


def _word_names_a_mark(text: str, word: re.Match[str]) -> bool:
    """Whether the key or token ``word`` is part of a placeholder or redaction, or names
    one (``access_token: str='[API_TOKEN]'``): then it names no other value on its line."""
    opening = text.rfind("[", max(0, word.start() - 40), word.start() + 1)
    if opening >= 0:
        mark = MARK.match(text, opening)
        if mark is not None and mark.end() >= word.end():
            return True
    return _names_a_mark(text, word.end())


def _names_a_mark(text: str, after: int) -> bool:
    """Whether the name ending at ``after`` has a placeholder or redaction for its value."""
    to_value = _TO_VALUE.match(text, after)
    return to_value is not None and MARK.match(text, to_value.end()) is not None


#: Words naming an AWS session token (STS credentials), in any case and spelling.
_SESSION_WORD = re.compile(r"(?i)(?:session|security|sts)[ _.-]?token|x-amz-security-token")


def _session_token(match: re.Match[str], text: str) -> float | None:
    """A long base64 value (100 characters or more) that reads as random and that a word
    naming an AWS session token names (:func:`_naming_windows`)."""
    value = match.group()
    start, end = match.span()
    if not mixed_case_and_digit(value) or entropy(value) < 4.5 or _in_pem_block(text, start):
        return None
    if any(_SESSION_WORD.search(text, low, high)
           for low, high in _naming_windows(text, start, end)):
        return 0.9
    return None


#: The other fields of a shared access signature's query (its version, expiry,
#: permissions, resource types): the ``sig`` beside them is a SAS signature.
_SAS_FIELDS = re.compile(r"[?&;](?:sv|se|sp|srt|ss|sr|st|spr|skoid)=")


def _sas_signature(match: re.Match[str], text: str) -> float | None:
    """The ``sig`` of an Azure shared access signature: base64 (URL-encoded or not) of an
    HMAC-SHA256, in a query with the other fields of a SAS."""
    line_start = text.rfind("\n", 0, match.start()) + 1
    if not _SAS_FIELDS.search(text, max(line_start, match.start() - 400), match.start()) \
            or is_lookalike(match.group("sig")):
        return None
    return 0.9


#: A cell of a CSV or TSV row (after its delimiter) or of a Markdown table (between
#: pipes): named by its column's header.
_CELL = re.compile(r"(?:[,;\t]\"?|\|[ \t]*)(?P<bare>[^\s,;\t\"|](?:[^,;\t\"|\n]{4,198})"
                   r"[^\s,;\t\"|])"
                   r"(?:\"?(?=[,;\t]|[ \t]*(?:\n|$))|[ \t]*(?=\|))")
_PASSWORD_COLUMN = re.compile(rf"(?i){_PASSWORD_WORD}")
_SECRET_COLUMN = re.compile(rf"(?i)(?:{_KEY_WORDS})(?![a-z])")
#: Columns whose name holds a secret word but not a secret: ``password_changed``,
#: ``token_count``, ``key_id``, ``public_key``.
#: The word must be the header's last word, after a separator or at a camel-case
#: capital (``passwordHash``, ``token_count``), not the last letters of a word
#: (``fcm_key_android`` ends in "id", ``slack_token_chat`` in "at").
_NOT_SECRET_COLUMN = re.compile(
    r"(?:^|[_.-]|(?<=[a-z0-9])(?=[A-Z]))"
    r"(?i:changed|updated|reset|expir\w*|hint|policy|count|type|id|name|length|hash|url"
    r"|last|at|date|set|required)$|(?i:^(?:public|primary|foreign|sort|cache|ssh|gpg))")


def _column_secret(match: re.Match[str], text: str) -> float | None:
    """A cell under a header naming a password (not a word or a number) or a key, token
    or secret (16 or more characters that read as random; hex where the header names a
    password, an auth token or Twilio), unless the header names something about it
    (``password_changed``, ``token_count``, ``public_key``)."""
    value = match.group("bare")
    if value.isdigit() or value.isalpha() or (" " in value and not _passphrase_words(value)):
        return None  # a number, a word, or words that are no passphrase
    header = column_header(text, match.start(), match.group()[0])
    if not header or _NOT_SECRET_COLUMN.search(header.replace(" ", "_")) \
            or is_lookalike(value) or is_structured_identifier(value):
        return None
    if _PASSWORD_COLUMN.search(header):
        if is_uuid_or_digest(value) and not _HEX.fullmatch(value):
            return None
        return None if "://" in value else 0.7
    if not _SECRET_COLUMN.search(header) or len(value) < 16 or entropy(value) < 3.5 \
            or _camel_words(value) or _file_or_host(value):
        return None
    if is_uuid_or_digest(value):
        return 0.7 if _HEX.fullmatch(value) and (_PASSWORD_NAME.search(header)
                                                 or _TWILIO.search(header)) else None
    return 0.7 if mixed_case_and_digit(value) else None


_TWILIO = re.compile(r"(?i)twilio")


def _twilio_auth_token(match: re.Match[str], text: str) -> float | None:
    """32 hex digits that "twilio" names (:func:`_naming_windows`: ``TWILIO_AUTH_TOKEN``,
    ``twilioAuthToken``, "the twilio token"), where no word before names a digest or
    signature and it is not a documentation digest."""
    start, end = match.span()
    if match.group() in KNOWN_SAMPLES \
            or _SIGNATURE_CONTEXT.search(text, max(0, start - 40), start) \
            or _COMMIT_CONTEXT.search(text, max(0, start - 20), start):
        return None
    if any(_TWILIO.search(text, low, high) for low, high in _naming_windows(text, start, end)):
        return 0.9
    return None


#: Words right before a hex value that make it a revision, not a token.
_COMMIT_CONTEXT = re.compile(r"(?i)\b(?:commit|revision|rev|sha)\b\W{0,3}$")


def _named_token(match: re.Match[str], text: str) -> float | None:
    """A token a key, token or secret word names (:func:`_credential_word`) that reads as
    random - upper and lower case letters and digits, not words in camel case, not a path,
    file or host name, a digest, a structured identifier or a look-alike - and that no
    rule of a vendor's prefix takes; not a public key, a base64 image or a line of a PEM
    block."""
    value = match.group()
    start, end = match.span()
    if not mixed_case_and_digit(value) or value.count("/") > 2 \
            or value.startswith("AAAA") or text[max(0, start - 7):start] == "base64," \
            or _PREFIXED.match(value) or not _credential_word(text, start, end) \
            or _TRUNCATED.match(text, end):
        return None  # the cheap tests first: most long tokens are dropped here (and one cut
        # short for display: ``eyJhbGciOiJIUzI1NiJ9...``)
    if _in_pem_block(text, start) or is_uuid_or_digest(value) or entropy(value) < 3.7 \
            or _camel_words(value) or _file_or_host(value) or is_lookalike(value) \
            or is_structured_identifier(value):
        return None
    return 0.6


def _in_pem_block(text: str, at: int) -> bool:
    begin = text.rfind("-----BEGIN", 0, at)
    return begin >= 0 and text.find("-----END", begin, at) < 0



def _vendor_token(match: re.Match[str], text: str) -> float | None:
    """A vendor's token: not a look-alike, and (Notion's ``secret_``, a common word) reads
    as random after the prefix: upper and lower case and digits, not camel-case words."""
    value = match.group()
    if is_lookalike(value):
        return None
    if value.startswith("secret_") and (_mixed(match, text) is None
                                        or _camel_words(value[len("secret_"):])):
        return None
    return 1.0


def _vendor_rule(tokens: tuple[VendorShape, ...]) -> Rule:
    """One rule for vendors' token shapes: an alternation of named groups (a match's type
    is its group's), tried where a prefix is. The prefixes' trie (``literal_alternation``)
    is the only test: one scan of the text, cheaper than a substring test per prefix."""
    return Rule(
        "vendor_token",
        re.compile("(?:" + "|".join(f"(?P<v{i}>{pattern})" for i, (_, pattern, _) in
                                    enumerate(tokens)) + ")" + _AFTER),
        _vendor_token, not_after=_TOKEN_CHARS, anchor=re.compile(literal_alternation(
            word for _, _, words in tokens for word in words)),
        group_types=tuple((f"v{i}", kind) for i, (kind, _, _) in enumerate(tokens)))


def _rule(type: str, pattern: str, check: Check | None = None, *keywords: str,
          group: int | str = 0, token: bool = True) -> Rule:
    """A rule; a ``token`` must not start right after a letter, digit, ``_`` or ``-``."""
    return Rule(type, re.compile(pattern), check or _token(group), group=group,
                keywords=tuple(keywords), not_after=_TOKEN_CHARS if token else frozenset())


_RULES: tuple[Rule, ...] = (
    _rule("aws_access_key_id", r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA"
          r"|AROA|ASCA)[A-Z0-9]{16}" + _AFTER),
    _rule("aws_secret_access_key", r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
          _aws_secret, "secret", "aws", "akia", "asia", "/", "+", token=False),
    _rule("github_token", r"gh[pousr]_[A-Za-z0-9]{36}" + _AFTER, None, "gh"),
    _rule("github_token", r"github_pat_[A-Za-z0-9_]{82}" + _AFTER, None,
          "github_pat_"),
    _rule("gitlab_token", r"gl(?:pat|oas|dt|rt|rtr|ptt|ft|imt|agent|soat|ffct|cbt|wt)"
          r"-[A-Za-z0-9_-]{20,}"
          + _AFTER, None, "gl"),
    # Runner registration tokens: ``GR1348941`` and 20 characters.
    _rule("gitlab_token", r"GR1348941[A-Za-z0-9_-]{20}" + _AFTER, None, "gr1348941"),
    _rule("slack_token", r"xox[abposre]-(?:\d-)?\d{6,}-[A-Za-z0-9-]{8,}[A-Za-z0-9]" + _AFTER,
          None, "xox"),
    # Rotating tokens: an access token (``xoxe.xoxp-1-...``) and its refresh token.
    _rule("slack_token", r"xoxe(?:\.xox[abp])?-\d-[A-Za-z0-9]{40,}" + _AFTER, None, "xoxe"),
    # App-level tokens (Socket Mode): ``xapp-1-A0123ABCD-1234567890123-<64 hex>``.
    _rule("slack_token", r"xapp-\d-[A-Z0-9]{6,}-\d{6,}-[A-Za-z0-9]{32,}" + _AFTER, None,
          "xapp-"),
    _rule("slack_webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/"
          r"T[A-Z0-9]{6,}/[A-Z0-9]{6,}/[A-Za-z0-9]{16,}", None, "hooks.slack.com", token=False),
    _rule("stripe_key", r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{24,99}" + _AFTER,
          None, "_live_", "_test_"),
    # A webhook endpoint's signing secret.
    _rule("stripe_key", r"whsec_[A-Za-z0-9+/]{24,88}" + _AFTER, None, "whsec_"),
    _rule("openai_api_key", r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{40,}" + _AFTER,
          None, "sk-"),
    # ``T3BlbkFJ`` is "OpenAI" in base64, in the middle of every key of this shape.
    _rule("openai_api_key", r"sk-[A-Za-z0-9_-]{20,64}T3BlbkFJ[A-Za-z0-9_-]{20,64}" + _AFTER,
          None, "sk-"),
    _rule("openai_api_key", r"sk-[A-Za-z0-9]{48}" + _AFTER, _mixed, "sk-"),
    # API keys (api03), admin keys (admin01), OAuth access and refresh tokens (oat01, ort01).
    _rule("anthropic_api_key", r"sk-ant-(?:api|admin|sid|oat|ort)\d{2}-[A-Za-z0-9_-]{32,}"
          + _AFTER, None, "sk-ant-"),
    _rule("jwt", r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
          + _AFTER, _jwt, "eyj"),
    _rule("private_key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
          r"(?P<body>[\s\S]{40,}?)-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
          _private_key, "private key", token=False),
    # PuTTY's key files (``.ppk``): the header to the private part's MAC.
    _rule("private_key", r"PuTTY-User-Key-File-\d+:[^\n]*\n(?P<body>(?:[^\n]*\n){2,40}?)"
          r"Private-MAC:[ \t]*[0-9a-f]{40,64}", _private_key, "putty-user-key-file",
          token=False),
    _rule("pypi_token", r"pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,}"
          + _AFTER, None, "pypi-"),
    _rule("npm_token", r"npm_[A-Za-z0-9]{36}" + _AFTER, None, "npm_"),
    _rule("twilio_api_key", r"SK[0-9a-f]{32}" + _AFTER),
    # Mailchimp: 32 hex digits and the data centre (``-us14``).
    _rule("mailchimp_api_key", r"[0-9a-f]{32}-us\d{1,2}" + _AFTER, None, "-us"),
    _rule("twilio_auth_token", r"[0-9a-f]{32}" + _AFTER, _twilio_auth_token, "twilio"),
    _rule("sendgrid_api_key", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}" + _AFTER,
          None, "sg."),
    _rule("google_api_key", r"AIza[0-9A-Za-z_-]{35}" + _AFTER, None, "aiza"),
    _rule("google_oauth_secret", r"GOCSPX-[A-Za-z0-9_-]{28}" + _AFTER, None,
          "gocspx-"),
    _rule("azure_storage_key", r"(?<![A-Za-z0-9+/-])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])",
          _azure_key, "==", token=False),
    _rule("digitalocean_token", r"do[opr]_v1_[a-f0-9]{64}" + _AFTER, None, "_v1_"),
    _rule("shopify_token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + _AFTER, None,
          "shp"),
    # Access tokens (``hf_``) and the older organisation API tokens (``api_org_``).
    _rule("huggingface_token", r"(?:hf|api_org)_[A-Za-z]{34}" + _AFTER, None, "hf_", "api_org_"),
    _rule("discord_webhook", r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/"
          r"\d{17,20}/[A-Za-z0-9_-]{60,68}", None, "discord", token=False),
    # Shapes whose prefix is a common string (``pat``, ``KEY``, ``AAAA``, ``access-``): rules
    # of their own, searched for case-sensitively (the vendor rule's lower-case anchor would
    # stop at every "path" and "key"). Airtable's personal access tokens, Telnyx's API keys,
    # Firebase Cloud Messaging's legacy server keys and Plaid's access tokens.
    _rule("airtable_token", r"pat[A-Za-z0-9]{14}\.[0-9a-f]{64}" + _AFTER, None, "pat"),
    _rule("telnyx_api_key", r"KEY[0-9A-F]{32}_[A-Za-z0-9]{22}" + _AFTER, None, "key"),
    _rule("firebase_server_key", r"AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{134}" + _AFTER,
          None, "apa91b"),
    _rule("plaid_access_token", r"access-(?:sandbox|development|production)-[0-9a-f]{8}"
          r"-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}" + _AFTER, None, "access-"),
    # Microsoft Entra ID (Azure AD) client secrets: three characters, ``8Q~`` or ``7Q~``.
    _rule("azure_ad_client_secret", r"[A-Za-z0-9_~.-]{3}[78]Q~[A-Za-z0-9_~.-]{31,34}" + _AFTER,
          _mixed, "8q~", "7q~"),
    _vendor_rule(VENDOR_TOKENS),
    _rule("terraform_cloud_token", r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_-]{60,70}" + _AFTER,
          None, ".atlasv1."),
    # Telegram's bot tokens, in the Bot API's URLs too (``api.telegram.org/bot<token>/``).
    _rule("telegram_bot_token", r"(?:(?<=/bot)|(?<![A-Za-z0-9_-]))\d{8,10}:AA[A-Za-z0-9_-]{33}"
          + _AFTER, None, ":aa", token=False),
    # Discord bot tokens: the bot's id in base64 (``M``, ``N`` or ``O`` first), a time
    # stamp and an HMAC, joined by dots.
    _rule("discord_bot_token", r"[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}"
          + _AFTER, _mixed),
    _rule("url_password", _URL_PASSWORD, _url_password, "://", group="password", token=False),
    # STS session tokens: base64 of a structure whose first bytes give these prefixes.
    _rule("aws_session_token", r"(?<![A-Za-z0-9+/])(?:IQoJb3JpZ2luX2Vj|F[wQ]oGZXIvYXdzE)"
          r"[A-Za-z0-9+/]{80,}={0,2}(?![A-Za-z0-9+/=])", None, "iqojb3jpz2lux2vj", "ogzxivyxdz",
          token=False),
    _rule("aws_session_token", r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/]{100,2000}={0,2}"
          r"(?![A-Za-z0-9+/=_-])", _session_token, "session", "security", "sts token",
          "sts_token", "sts-token", "ststoken", "sts.token", token=False),
    _rule("azure_sas_signature", r"[?&;]sig=(?P<sig>(?:[A-Za-z0-9+/]|%2[BbFf]){30,}"
          r"(?:%3[Dd]|=){0,2})(?![\w%+/=])", _sas_signature, "sig=", group="sig", token=False),
    Rule("password", _NAMED_AFTER, _password_named_after, group="bare",
         keywords=_PASSWORD_KEYWORDS),
    Rule("password", _NEAR_BEFORE, _password_before_word, group="bare",
         keywords=_PASSWORD_KEYWORDS),
    Rule("password", _NAMED_BEFORE, _password_named, group="bare",
         keywords=_PASSWORD_KEYWORDS, anchor=_PASSWORD_ANCHOR),
    Rule("password", _NAMED_ELSEWHERE, _password_named, group=_VALUE_GROUPS,
         keywords=_PASSWORD_ELSEWHERE),
    Rule("password", _NEAR, _password_near, group="bare",
         keywords=_PASSWORD_KEYWORDS, anchor=_PASSWORD_ANCHOR),
    Rule("password", _NEXT_SENTENCE, _password_strong, group="bare",
         keywords=_PASSWORD_KEYWORDS, anchor=_PASSWORD_ANCHOR),
    Rule("password", _LOGIN_NEAR, _password_strong, group="bare",
         keywords=("login", "logon", "pass"), anchor=re.compile(r"\b(?:login|logon|pass)\b")),
    Rule("password", _ASSIGNMENT, _password, group=_VALUE_GROUPS,
         keywords=("pass", "pw", "psk", "secret", "key", "token", "authorization", "authtok"),
         anchor=re.compile(rf"(?:{_KEY_WORDS})s?\b"),
         not_after=frozenset(string.ascii_letters + string.digits), camel_case=True),
    Rule("password", _PAIR, _password, group=_VALUE_GROUPS, keywords=("value",),
         anchor=re.compile(r"\b(?:name|key)[\"']?[ \t]*[=:]")),
    Rule("password", _FLAG_PAIR, _password, group=_VALUE_GROUPS, keywords=("--value",)),
    Rule("password", _PAIR_REVERSED, _password, group=_VALUE_GROUPS, keywords=("value",),
         anchor=re.compile(r"\bvalue[\"']?[ \t]*[=:]")),
    Rule("password", _GLUED_NAME, _password, group=_VALUE_GROUPS,
         keywords=("password", "passwd", "passphrase", "pwd", "psk", "secret", "token")),
    Rule("password", _COMMAND_PASSWORD, _password, group=_VALUE_GROUPS,
         keywords=("mysql", "sshpass", "login", "mongo", "redis-cli", "ldap", "auth ",
                   "sqlcmd", "osql", "bcp", "net use", "net user", "stats auth", "htpasswd",
                   "-u", "--user=", "/p:", "identify")),
    Rule("password", _ARGV_PASSWORD, _argv_password, group=_VALUE_GROUPS,
         keywords=("-p", " 0 ", "isakmp", "psk", "eap")),
    Rule("password", _SUPERUSER_PAIR, _password_strong_or_random, group="bare",
         keywords=("root", "admin")),
    Rule("password", _WIFI, _password_named, group=_VALUE_GROUPS, keywords=("wifi", "wi-fi")),
    Rule("password", _AUTH_IDENT, _password_literal, group="literal",
         keywords=("npmauthident",)),
    Rule("password", _WITH_PASSWORD, _password_named, group=_VALUE_GROUPS,
         keywords=("with password", "and password", "the password")),
    Rule("password", _NAGIOS_RESOURCE, _password_strong, group="bare", keywords=("$user",)),
    Rule("password", _KEY_OR_CODE, _password_named, group=_VALUE_GROUPS,
         keywords=(" key", " passkey", " code")),
    Rule("password", _LOG_IN_WITH, _password_strong, group="bare",
         keywords=("log in", "log-in", "login with", "sign in", "sign-in", "signin with",
                   "log on", "logon with", "sign on")),
    Rule("password", _PGPASS_LINE, _password_literal, group="literal", keywords=(":",)),
    Rule("password", _CHPASSWD, _password_strong, group="bare", keywords=("chpasswd",)),
    Rule("password", _CREDENTIAL_PAIR, _password_named, group=_VALUE_GROUPS,
         keywords=("login", "logon", "creds", "credentials", "u/p", "user/pass", "wifi",
                   "wi-fi", "u:", "user:")),
    Rule("password", _ANSWER, _password_answer, group="bare",
         keywords=("?", "again", "please", "now", "below")),
    Rule("password", _NEAR_RANDOM, _password_random, group="bare",
         keywords=_PASSWORD_KEYWORDS, anchor=_PASSWORD_ANCHOR),
    Rule("password", _NAMED_IDENTIFIER, _password_named, group=_VALUE_GROUPS,
         keywords=("_pass", "_pwd", "_psk", "_secret", "_token")),
    Rule("password", _DEFINE, _password_named, group=_VALUE_GROUPS, keywords=("define",)),
    Rule("password", _BLOCK_BELOW, _password_below, group="bare", keywords=("\n",)),
    Rule("password", _FLAG, _password, group=_VALUE_GROUPS, keywords=("--",),
         anchor=re.compile(r"--[a-z]")),
    Rule("password", _QUOTED_AFTER, _password_quoted_after, group=("quoted", "curly"),
         keywords=("passw", "passphrase", "passcode", "pw", "identified"),
         anchor=re.compile(rf"(?:{_QUOTED_AFTER_WORDS})[ \t]+(?:(?:to|as|for)[ \t]+)?"
                           "[\"'`\u201c\u2018]"),
         not_after=frozenset(string.ascii_letters + string.digits + "_")),
    Rule("password", _DEFAULT_OR, _password_named, group="quoted",
         keywords=("||", "??", " or "), anchor=re.compile(rf"(?:{_KEY_WORDS})"),
         not_after=frozenset(string.ascii_letters + string.digits)),
    Rule("password", _DEFAULT_ARGUMENT, _password_named, group="quoted",
         keywords=("get", "fetch", "env(", "set", "put(", "add(", "define("),
         anchor=re.compile(_CALL_WITH_NAME)),
    Rule("password", _HEADER_SETTER, _password, group="quoted",
         keywords=("setvalue(", "setvalue:")),
    Rule("password", _SETTER, _password, group="quoted",
         keywords=("set", "convertto-securestring")),
    Rule("password", _DEFAULT_SHELL, _password_named, group="bare", keywords=("${",),
         anchor=re.compile(r"\$\{")),
    Rule("password", _BEARER, _bearer, group="bare", keywords=("bearer", "authorization"),
         anchor=re.compile(r"\b(?:bearer|authorization:)")),
    Rule("password", _BASIC_USER, _password, group="bare", keywords=("curl",),
         anchor=re.compile(r"\bcurl\b")),
    Rule("password", _SET_TO, _password_named, group=_VALUE_GROUPS,
         keywords=("set", "chang", "updat", "rotat"),
         anchor=re.compile(r"\b(?:set|change[sd]?|update[sd]?|rotate[sd]?)[ \t]")),
    Rule("password", _VARIABLE_DEFAULT, _password, group=_VALUE_GROUPS, keywords=("variable",),
         anchor=re.compile(r"\bvariable[ \t]")),
    Rule("password", _DIRECTIVE, _password, group=_VALUE_GROUPS, keywords=("set", "env"),
         anchor=re.compile(r"(?m)^[ \t]*(?:setenv|set|env)[ \t]")),
    Rule("password", _ECHO_TO_FILE, _password_named, group=("quoted", "bare"),
         keywords=("echo",), anchor=re.compile(r"\becho[ \t]")),
    Rule("password", _POSITIONAL_PASSWORD, _password_argument, group="quoted",
         keywords=("connect", "pdo", "login", "log_in", "logon", "signin", "sign_in", "auth",
                   "bind", "credential"),
         anchor=re.compile(literal_alternation(
             name.lower() for name in (*_CONNECT_CALLS, *_LOGIN_CALLS, "auth")))),
    Rule("password", _SPACED_SETTING, _spaced_setting, group="quoted",
         keywords=("pass", "pw", "secret", "token"), anchor=_SPACED_SETTING_ANCHOR),
    Rule("password", _PROPERTY_LIST, _password_literal,
         group=("tagged", "attr_value", "literal"),
         keywords=("<key>", "<name>", "pass", "secret", "token", "key>")),
    Rule("password", _SCHEMA_EXAMPLE, _password, group=("quoted", "literal"),
         keywords=("example:", "default:", "x-test-value:", "value:")),
    Rule("password", _PASSPHRASE, _passphrase, group="bare",
         keywords=(*_PASSWORD_KEYWORDS, "pass", "login"),
         anchor=re.compile(rf"(?:\b|(?<=_)){_PASSWORD_WORDS_AND_LOGIN}\b")),
    Rule("password", _HEADER_DIRECTIVE, _password, group=_VALUE_GROUPS,
         keywords=("header", "headers")),
    Rule("password", _CMAKE_ENV, _password, group="quoted", keywords=("env{",)),
    Rule("password", _SASL_MAP, _password, group="bare", keywords=("]:",)),
    Rule("password", _PASS_COMMAND, _password_literal, group="literal", keywords=("pass ",)),
    Rule("password", _VALID_CREDENTIALS, _password_literal, group="literal",
         keywords=("valid credentials",)),
    Rule("password", _HERE_STRING, _password, group=_VALUE_GROUPS, keywords=("<<<",)),
    Rule("password", _AUTH_USER_PASS, _password, group="bare", keywords=("<auth-user-pass>",)),
    Rule("password", _BARE_SETTING, _password_strong_or_random, group="bare",
         keywords=(*_PASSWORD_KEYWORDS, "secret", "token", "requirepass", "masterauth")),
    Rule("password", _USERLIST, _password, group="quoted", keywords=("userlist",)),
    Rule("password", _TUPLE, _password, group="quoted", keywords=("{",)),
    Rule("password", _SESSION_OUT, _password, group="quoted", keywords=("out[",)),
    *(Rule("password", pattern, _password, group="quoted", keywords=("insert",),
           anchor=INSERT_ANCHOR) for pattern in _INSERTS),
    Rule("password", _SETTING_ROW, _password, group="quoted", keywords=("values",)),
    Rule("password", _CELL, _column_secret, group="bare",
         keywords=("pass", "pw", "psk", "secret", "key", "token", "auth")),
    Rule("api_token", _TOKEN_CANDIDATE, _named_token,
         keywords=("key", "token", "secret", "credential", "auth")),
)


#: The start of a token a rule of its own finds (a vendor's prefix, a JWT, an AWS key id):
#: the generic ``api_token`` rule leaves those to it.
_PREFIXED = re.compile("|".join(
    rule.pattern.pattern for rule in _RULES
    if rule.type not in ("password", "api_token", "url_password", "aws_secret_access_key",
                         "azure_storage_key", "private_key", "slack_webhook",
                         "azure_sas_signature") and rule.check is not _session_token))


#: Every type of secret the built-in detector reports.
SECRET_TYPES: Sequence[str] = tuple(dict.fromkeys(kind for rule in _RULES
                                                  for kind in rule.types))


def secrets_detector(context: DetectorContext) -> RuleDetector:
    """API keys and tokens of AWS, GitHub, GitLab, Slack, Stripe, OpenAI, Anthropic, PyPI,
    npm, Twilio, SendGrid, Google, Azure storage, DigitalOcean, Shopify and Hugging Face;
    JWTs (whose header decodes to JSON naming an ``alg``); PEM private keys; passwords
    in URLs; and values assigned to ``password``, ``secret``, ``api_key``, ``token`` and
    the like, in code (``password = "..."``, ``PASSWORD=...``, ``"secret": "..."``, the
    quoted default of a secret-named setting, a flag) and in prose ("the password is
    ...", a strong value in or just before a sentence naming a password)."""
    return RuleDetector(context.name, _RULES)
