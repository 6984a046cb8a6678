"""Values that look like secrets but are documentation, templates or masks.

Documentation and sample code are full of things shaped like credentials:
``AKIAIOSFODNN7EXAMPLE``, ``ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx``, ``${API_KEY}``,
``<your-token>``, ``********``. Reporting them would bury the real findings, so the
secret detectors drop a value when :func:`is_lookalike` says it is one.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter

__all__ = ["ENV_LOOKUP", "KNOWN_SAMPLES", "PUBLISHED_NUMBERS", "SHIPPED_DEFAULTS", "entropy",
           "is_identifier_reference", "is_lookalike", "is_structured_identifier",
           "is_uuid_or_digest", "mixed_case_and_digit", "note_at"]

#: Credentials published in vendors' documentation as examples.
KNOWN_SAMPLES = frozenset({
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
    "xoxb-not-a-real-token-this-will-not-work",
    "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
    "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    # GitHub's documentation token (its REST API pages).
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    # The storage emulators' published account keys: Azurite's and the older Azure storage
    # emulator's ``devstoreaccount1`` key, and the Azure Cosmos DB emulator's key.
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==",
    # The MD5, SHA-1 and SHA-256 digests of empty input, the digests documentation shows.
    "d41d8cd98f00b204e9800998ecf8427e",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
})

#: Passwords a product ships with and documents, the same on every install: MinIO's
#: root password and Neo4j's initial one.
SHIPPED_DEFAULTS = frozenset({"minioadmin", "neo4j"})
#: A mask that keeps a number's last digits (``XXX-XX-1515``, ``**** **** **** 4242``,
#: ``•••• 4242``) or says which they are ("ending in 2147", "last four 4242").
_MASK = re.compile("(?:[Xx*\u2022#]{2,}[ -]?)+\\d{2,4}"
                   r"|(?i:(?:card )?(?:ending|ends)(?: in| with)?|last (?:4|four)(?: digits)?)"
                   r":? \d{2,4}")

#: Card numbers and IBANs published as test and documentation values: the payment
#: processors' test card numbers (Stripe, Braintree, Adyen, PayPal, Worldpay, Checkout.com
#: documentation; no bank issues them) and the IBAN registry's and national banks' example
#: IBANs. Digits (and capitals) only, without spaces (decision 20).
_PUBLISHED = (
    # Visa
    "4111111111111111 4242424242424242 4012888888881881 4222222222222 4000056655665556 "
    "4000000000000002 4000000000009995 4000000000000077 4000002500003155 4000000000003220 "
    "4012000033330026 4005519200000004 4009348888881881 4012000077777777 4217651111111119 "
    "4500600000000061 4000000000000010 4000000000000101 4000000000000341 4000000000000069 "
    "4000000000000127 4000000000000119 4000002760003184 4000000000003063 4000000000000259 "
    "4988438843884305 4035501000000008 4444333322221111 4917610000000000 4484070000000000 "
    # Mastercard
    "5555555555554444 5200828282828210 5105105105105100 2223003122003222 5454545454545454 "
    "5431111111111111 2223000048400011 5425233430109903 2222400010000008 5555341244441115 "
    "2223000010246699 5577000055770004 5111111111111118 5500000000000004 5204740000001002 "
    "2222400070000005 2222410740360010 5101180000000007 4111111145551142 "
    # American Express, Discover, Diners Club, JCB, Maestro
    "378282246310005 371449635398431 378734493671000 340000000000009 370000000000002 "
    "343434343434343 374245455400126 6011111111111117 6011000990139424 6011981111111113 "
    "6011000000000004 6445644564456445 6011601160116611 6011000400000000 30569309025904 "
    "38520000023237 36227206271667 3056930009020004 36006666333344 36148900647913 "
    "3530111333300000 3566002020360505 3566111111111113 3528000000000007 6759649826438453 "
    "6799990100000000019 6304000000000000 6771798021000008 "
    # UnionPay
    "6200000000000005 6200000000000047 6205500000000000004 6212345678901232 "
    # Example IBANs
    "DE89370400440532013000 GB82WEST12345698765432 GB29NWBK60161331926819 "
    "GB33BUKB20201555555555 FR1420041010050500013M02606 NL91ABNA0417164300 "
    "CH9300762011623852957 AT611904300234573201 BE68539007547034 ES9121000418450200051332 "
    "IT60X0542811101000000123456 NO9386011117947 PT50000201231234567890154 DK5000400440116243 "
    "FI2112345600000785 SE4550000000058398257466 SE3550000000054910000003 "
    "PL61109010140000071219812874 IE29AIBK93115212345678 LU280019400644750000 "
    "SA0380000000608010167519 CZ6508000000192000145399 HU42117730161111101800000000 "
    "RO49AAAA1B31007593840000 GR1601101250000000012300695 TR330006100519786457841326 "
    "HR1210010051863000160 SK3112000000198742637541 SI56263300012039086 LT121000011101001000 "
    "EE382200221020145685 LV80BANK0000435195001 BG80BNBG96611020345678 "
    "CY17002001280000001200527600 MT84MALT011000012345MTLCAST001S AE070331234567890123456 "
    "IL620108000000099999999 IS140159260076545510730339 QA58DOHB00001234567890ABCDEFG "
    "KW81CBKU0000000000001234560101 BR1800360305000010009795493C1 PK36SCBL0000001123456702 "
    "MU17BOMM0101101030300200000MUR JO94CBJO0010000000000131000302 GE29NB0000000101904917 "
    "UA213223130000026007233566001 DO28BAGR00000001212453611324 BH67BMAG00001299123456 "
    "LI21088100002324013AA MC5811222000010123456789030 SM86U0322509800000000270100 "
    "AD1200012030200359100100 GI75NWBK000000007099453 ME25505000012345678951 "
    "RS35260005601001611379 MK07250120000058984 AL47212110090000000235698741 "
    "BA391290079401028494 LB62099900000001001901229114 KZ86125KZT5004100100 "
    "CR05015202001026284066 AZ21NABZ00000000137010001944 MD24AG000225100013104168 "
    "XK051212012345678906 TN5910006035183598478831 FO6264600001631634 GL8964710001000206"
)
PUBLISHED_NUMBERS = frozenset(_PUBLISHED.split())

#: Words that mark a value as a stand-in for a real one (templates: ``_TEMPLATE``).
_MARKERS = ("example", "sample", "placeholder", "redacted", "filtered", "masked", "hidden",
            "dummy", "your", "fake", "not-a-real", "not_a_real",
            "changeme", "insert", "replace", "xxxx", "****", "....", "...", "&lt;",
            "\u2022\u2022\u2022", "\u25cf\u25cf\u25cf")
#: A note or a label in a value's place: "(set in the vault)", "(see 1Password)", a word
#: in small letters in parentheses ("(unchanged)"), "see 1Password", ``[Sticker]``.
_NOTE = re.compile(r"\([A-Za-z0-9'-]+(?: [A-Za-z0-9'-]+)+\)|\([a-z][a-z'-]{2,30}\)"
                   r"|[Ss]ee [\w'-]+(?: [\w'-]+){0,3}|\[[A-Za-z][A-Za-z ]{1,30}\]")
#: Words that stand for a value yet to be written, when they are the whole value (inside a
#: random token, ``tbd`` or ``TODO`` turn up by chance).
_TO_BE_WRITTEN = frozenset({"todo", "tbd", "tba", "fixme", "n/a"})
#: A template's slot: ``{{ .Values.x }}``, ``${VAR}``, ``%(name)s``, ``$(cat f)``, closed
#: or cut off by the end of the value, a name in angle brackets (``<your-password>``,
#: ``<db.pass>``, ``<>``, cut off: ``<password``; Argo CD's vault references
#: ``<path:kv/data/app#key>``), ERB's ``<%= ... %>``, Concourse's ``((name))``, Octopus'
#: and Ruby's ``#{NAME}``, and the whole value as token replacement writes it
#: (``__DB_PASSWORD__``, ``@@DB_PASSWORD@@``), a SAS macro variable (``&dbpass.``), a
#: Nagios macro (``$USER3$``); not
#: ``{{`` or ``}}``, ``<`` or ``>`` alone inside a value, which a generated password may
#: hold (``mb*BY^y3bF{{K}(%]+yO``, ``GJ44?npzhimad>``).
_TEMPLATE = re.compile(r"\{\{[^{}]*(?:\}\}|$)|\$\{[^{}]*(?:\}|$)|%\([^()]*(?:\)|$)"
                       r"|\$\([^()]*(?:\)|$)|\$__(?:file|env)\{[^{}]*(?:\}|$)"
                       r"|^%\{[^{}]*(?:\}|$)|<[A-Za-z_.][\w .:/#-]{0,60}>|<>|^<[A-Za-z_-]+$"
                       r"|<%.*?(?:%>|$)|^\(\([\w./-]+(?:\)\)|$)|#\{[\w.]+\}"
                       r"|^__[A-Z][A-Z0-9_]*__$|^@@[A-Za-z_]\w*@@$|^&[A-Za-z_]\w*\.$|^&[a-z_][a-z0-9_]*$"
                       r"|^\$[A-Z][A-Z0-9_]*\$$")
#: A marker as people write it: in lower case, upper case or capitalised, each word of
#: it (``YOUR_KEY``, ``YourKey``, ``changeMe``, ``XXXX``); not in mixed case such as
#: ``xXXx`` or ``yOuR``, which a random token holds by chance (one 100-character token in
#: a few thousand holds some marker when case is ignored).
_MARKER_AS_WRITTEN = re.compile("|".join(
    "".join(f"(?:{re.escape(word)}|{re.escape(word.upper())}|{re.escape(word.capitalize())})"
            for word in (("change", "me") if marker == "changeme" else (marker,)))
    for marker in _MARKERS))
#: A reference to a secret kept elsewhere, as configuration loaders write it:
#: ``env:SENTRY_TOKEN``, ``secret:db/password``, ``vault:secret/data/app#key``,
#: ``file:/run/secrets/token``, ``ssm:/prod/db``, 1Password's ``op://vault/item/field``,
#: systemd's credentials (``%d/db_password``: a file in the unit's credentials directory),
#: ``secretref:name`` (Azure Container Apps), ``ref+vault://...`` (vals), Azure App
#: Service's ``@Microsoft.KeyVault(...)``, a YAML tag that fetches or encrypts the value
#: (``!vault``, Home Assistant's and ESPHome's ``!secret``, CloudFormation's ``!Ref``,
#: ``!Sub``, ``!GetAtt``, ``!ImportValue``).
_STORE_REFERENCE = re.compile(
    r"(?:env|secrets?|vault|file|ssm|keyring|sm|awssm|gcpsm|azkv|secretref)::?/{0,2}"
    r"[A-Za-z_][\w./#:-]*"
    r"|op://[\w .-]+/[\w .-]+(?:/[\w .-]+){1,2}(?:\?[\w=&-]*)?|%d/[\w.-]+"
    r"|ref\+\w+://\S+|@Microsoft\.KeyVault\(.*\)?"
    r"|!(?:vault|secret|Ref|Sub|GetAtt|ImportValue|FindInMap|Join|Select|Base64|encrypted\S*)")
#: A reference to an environment variable as Windows and PowerShell write it, whole:
#: ``%SMTP_PASSWORD%``, ``$env:API_KEY``, ``${env:API_KEY}``.
_ENV_REFERENCE = re.compile(r"%[A-Za-z_][A-Za-z0-9_]*%|\$\{?env:[A-Za-z_][\w.]*\}?", re.I)
#: A lookup of an environment variable as code writes it, standing where a value goes:
#: Perl's ``$ENV{X}``, Ruby's and Julia's ``ENV["X"]`` and ``ENV.fetch("X")``, R's
#: ``Sys.getenv("X")``, ``os.getenv``, ``System.getenv``, Go's ``os.Getenv``, .NET's
#: ``Environment.GetEnvironmentVariable``, Rust's ``std::env::var``, Python's
#: ``os.environ["X"]``, Raku's ``%*ENV<X>``, Node's ``process.env.X``, Deno's
#: ``Deno.env.get``, Laravel's ``env('X')``, Tcl's ``$::env(X)``, Haskell's ``lookupEnv
#: "X"``, Objective-C's ``[NSProcessInfo processInfo].environment[@"X"]``, Caddy's
#: ``{env.X}`` (``{env:X}``); a password manager's command
#: (``pass show mail/work``, ``op read op://...``), Drone's ``{from_secret: name}`` and
#: SAS's ``%sysget(NAME)``; the rest of the value may be cut off where a quote inside it
#: ended it.
ENV_LOOKUP = re.compile(
    r"(?:\{\|)?(?:\$ENV\{|ENV(?:\.fetch)?[\[(]|process\.env[.\[]|\{env[.:]\w+\}|\{?\$::env\("
    r"|\((?:getenv|auth-source-[\w-]+|password-store-get|secrets-get-secret)\b"
    r"|(?:\w+\.)?(?:lookupEnv|getEnv|getenv)[ \t]+\""
    r"|%\*ENV<"
    r"|\[NSProcessInfo processInfo\]\.environment\["
    r"|(?:\w+(?:\.|::))*(?:getenv|Getenv|getEnv|GetEnvironmentVariable|environ(?:\.get)?"
    r"|env(?:::var|\.get)?)[\[(]"
    # a password manager's command that prints the value: pass, gopass, 1Password, Bitwarden
    r"|(?:`|\$\()?(?:pass|gopass)[ \t]+show[ \t]|(?:`|\$\()?(?:op[ \t]+read|bw[ \t]+get)[ \t]"
    r"|security[ \t]+find-generic-password\b"
    # a CI system's reference to a secret it keeps: Drone's ``{from_secret: name}``
    r"|\{[ \t]*from_secret[ \t]*:"
    # SAS's lookup of an environment variable
    r"|%sysget\()")
#: A mask that keeps a token's prefix: ``xoxb-***``, ``sk_live_***``, ``***``.
_PREFIX_MASK = re.compile(r"[A-Za-z0-9]*(?:[_.-][A-Za-z0-9]*)*[_.-]?\*{3,}")
_SEQUENCES = ("0123456789", "123456789", "abcdefghij", "qwertyuiop")
#: Any of :data:`_SEQUENCES` in a value in lower case, in one search.
_SEQUENCE = re.compile("|".join(_SEQUENCES))
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_HEX_DIGEST = re.compile(r"(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})", re.I)
#: A reference to a value rather than the value: ``os.environ["X"]``, ``settings.DB_PASS``,
#: ``get_secret()``, ``PASSWORD``, ``$PASSWORD``, ``%PASSWORD%``.
_REFERENCE = re.compile(
    r"(?:\$\w+|%\w+%|[A-Z][A-Z0-9_]*|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(.*\))?"
    r"|[A-Za-z_][\w.]*\(.*\)|[A-Za-z_][\w.]*\[.*\]|[a-z_]+)")


def entropy(value: str) -> float:
    """Shannon entropy of ``value``'s characters, in bits per character: ``log2(n) -
    sum(c log2 c) / n`` over the counts ``c`` of its ``n`` characters (the sum from a
    table: the detectors ask for it on every candidate value)."""
    if not value:
        return 0.0
    size = len(value)
    counts = Counter(value).values()
    if size < len(_C_LOG_C):
        return math.log2(size) - sum(map(_C_LOG_C.__getitem__, counts)) / size
    return math.log2(size) - sum(c * math.log2(c) for c in counts) / size


#: ``c * log2(c)`` for the counts a value of up to 1,024 characters holds.
_C_LOG_C = tuple(c * math.log2(c) if c else 0.0 for c in range(1025))


def is_lookalike(value: str, *, min_entropy: float = 3.0) -> bool:
    """Whether ``value`` is a documentation sample, a template or a mask, not a secret.

    True for vendors' published samples, values holding a marker (``example``,
    ``your``, ``xxxx``, ``****``, ``<name>``, ``${``, ...) in lower, upper or capitalised
    case, a token's prefix and a mask (``xoxb-***``), references to a secret store or
    the environment (``env:API_TOKEN``, ``vault:secret/app#key``, ``%SMTP_PASSWORD%``,
    ``$env:API_KEY``), lookups of an environment variable or a password manager's entry in
    code (``$ENV{X}``, ``Sys.getenv("X")``, ``process.env.X``, ``pass show ...``: see
    :data:`ENV_LOOKUP`), products' shipped default passwords (``minioadmin``), masks that
    keep a number's last digits (``XXX-XX-1515``), notes and labels in a value's place
    ("(set in the vault)", ``[hidden]``), ``TODO`` as the whole value, counting sequences
    (``123456789``), and values of 16 characters or more whose entropy is below
    ``min_entropy`` bits per character (``aaaaaaaa...``, ``abababab...``).
    """
    if value in KNOWN_SAMPLES or value.lower() in SHIPPED_DEFAULTS \
            or value.lower() in _TO_BE_WRITTEN or _MASK.fullmatch(value) \
            or _NOTE.fullmatch(value):
        return True
    lowered = value.lower()
    if any(map(lowered.__contains__, _MARKERS)) and _MARKER_AS_WRITTEN.search(value):
        return True  # a substring test first: the pattern is slow, and most values pass
    if _TEMPLATE.search(value) or _STORE_REFERENCE.fullmatch(value) or ENV_LOOKUP.match(value) \
            or _SEQUENCE.search(lowered) or _ENV_REFERENCE.fullmatch(value) \
            or _PREFIX_MASK.fullmatch(value):
        return True
    return len(value) >= 16 and entropy(value) < min_entropy


def note_at(text: str, start: int) -> bool:
    """Whether a note stands in a value's place at ``start`` ("(sensitive value)", as a
    Terraform plan hides one, "(unchanged)", "see 1Password"): a bare value ends at the
    note's first space or closing parenthesis, so the value alone does not show it."""
    return _NOTE.match(text, start) is not None


def mixed_case_and_digit(value: str) -> bool:
    """Whether ``value`` holds a capital, a small letter and a digit (tested by the
    string methods, without a loop in Python: detectors ask it of every candidate)."""
    return value.lower() != value and value.upper() != value \
        and _DIGIT.search(value) is not None


_DIGIT = re.compile(r"\d")


def is_uuid_or_digest(value: str) -> bool:
    """Whether ``value`` is a UUID or a hex digest (a git hash, a SHA-256): identifiers,
    not credentials."""
    return bool(_UUID.fullmatch(value) or _HEX_DIGEST.fullmatch(value))


#: Identifiers and numbers of other kinds, which are found where a credential goes too (an
#: ``X-Api-Key`` header, ``IDENTIFIED BY '...'``) in documentation and test data: an
#: IBAN's shape, a card number's (12 to 19 digits), digits with separators (a phone, an
#: SSN, a date), a ULID, a subresource-integrity or image digest, an ARN, a data URI,
#: an Ansible vault blob, a bcrypt hash, Pulumi's, SOPS' and Hiera's encrypted values
#: (``v1:<nonce>:<ciphertext>``, ``ENC[AES256_GCM,...]``, ``ENC[PKCS7,...]``), Bitwarden's
#: encrypted strings (``2.<iv>|<ciphertext>|<mac>``), a password
#: hash as crypt(3), PostgreSQL and Argon2 write it (``$6$salt$...``, ``md5`` and 32 hex,
#: ``SCRAM-SHA-256$...``), an absolute path in small letters (a file holding the secret:
#: ``/run/secrets/db_password``; a random value may start with ``/``), an ISO 8601
#: timestamp, an IP address.
_STRUCTURED = re.compile(
    r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}|\d(?:[ -]?\d){11,18}"
    r"|[+(]?\d[\d()]*(?:[ ./-]+[\d()]+)+"
    r"|[0-7][0-9A-HJKMNP-TV-Z]{25}|sha(?:1|256|384|512)[-:][A-Za-z0-9+/=]{16,}"
    r"|arn:[\w-]+:\S+|data:[\w/+.-]+[;,]\S*|\$ANSIBLE_VAULT;[\s\S]*"
    r"|\$2[aby]?\$\d{2}\$[./A-Za-z0-9]{53}"
    r"|v1:[A-Za-z0-9+/]{16}:[A-Za-z0-9+/]{16,}={0,2}|ENC\[[A-Z0-9_]+,[^\]\n]*\]"
    r"|\$(?:1|2[aby]?|5|6|7|y|gy|sha1|md5|argon2(?:id|i|d)|pbkdf2[\w-]*|scrypt)\$[^\s\"']{8,}"
    r"|md5[0-9a-f]{32}|SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=:]+"
    r"|\d\.[A-Za-z0-9+/]{16,}={0,2}\|[A-Za-z0-9+/]{16,}={0,2}\|[A-Za-z0-9+/]{16,}={0,2}"
    r"|(?:~|\.{1,2})?/(?:[a-z0-9_.@-]+/)+[a-z0-9_.@-]+"
    r"|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?")


#: The characters an IP address is written with (a quick test before parsing one).
_IP_CHARACTERS = re.compile(r"[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]*(?:%[\w.-]+)?")


def is_structured_identifier(value: str) -> bool:
    """Whether ``value`` is an identifier or number of a kind that is not a credential
    (:data:`_STRUCTURED`), whatever name it is given."""
    if _STRUCTURED.fullmatch(value):
        return True
    if not _IP_CHARACTERS.fullmatch(value):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_identifier_reference(value: str) -> bool:
    """Whether an unquoted ``value`` after ``password =`` is code naming a value (a
    variable, a constant, an attribute, a call, an environment variable) rather than
    the value itself; not three or more dotted words ending in digits, which is how
    diceware passwords are written (``meadow.Quartz.saffron87``), nor a generated
    password's shape (``ZLQ.imywr759``) or a key of hex digits in capitals."""
    return bool(_REFERENCE.fullmatch(value)) and not _DICEWARE.fullmatch(value) \
        and not _GENERATED_DOTTED.fullmatch(value) and not _HEX_KEY.fullmatch(value)


#: 32 or more hex digits in capitals: a key (``openssl rand -hex 32 | tr a-f A-F``), not a
#: constant's name.
_HEX_KEY = re.compile(r"[0-9A-F]{32,}")
#: A generated password with a dot in it, not an attribute: two to four capitals and two
#: digits, or capitals, then small letters and digits (``HW12.nuxmqgyu``, ``ZLQ.imywr759``).
_GENERATED_DOTTED = re.compile(r"[A-Z]{2,4}\d{2}\.[a-z]{3,}\d{0,3}|[A-Z]{2,4}\.[a-z]{3,}\d{2,3}")
#: Diceware: three or more words of letters joined by dots, the last ending in digits,
#: with a capital and a digit among them (``quarry.Quarry6.lantern.otter``), or some
#: capitalised and some not after the first word in small letters (``rhubarb.Marmot.Juniper``;
#: not ``this.Config.Password``, code naming an attribute).
_DICEWARE = re.compile(r"[A-Za-z]{3,}(?:\.[A-Za-z]{3,}){2,}\d{1,4}"
                       r"|(?=.*\d)(?=.*[A-Z])[A-Za-z]{3,}\d{0,2}(?:\.[A-Za-z]{3,}\d{0,2}){2,5}"
                       r"|(?=.*\.[A-Z][a-z])(?!(?:self|this|config|settings|options|props|state)\.)"
                       r"(?!.*\.(?:[Pp]ass\w*|[Ss]ecrets?|[Tt]oken|[Kk]ey|[Vv]alue)$)"
                       r"[a-z]{3,}(?:\.[A-Za-z][a-z]{2,}){2,5}")
