"""The contract between a kiosk and the hub, declared once: what both sides must agree on.

- **The record**: its fields in hash order (``RECORD_FIELDS``), the event kinds, what each wire
  field may hold (``FIELD_RULES``), the canonical form and hash (``record_hash``), the keyed
  chain (``chain_mac``). The kiosk's ledger writes records to it, its SQL triggers are checked
  against it (tests/test_contract.py), the hub validates by it and its OpenAPI schema is made
  from it.
- **The roster**: the rules for a guard account and for a pass row (the kiosk's CSV and the
  hub's), and the settings a hub may send (``HUB_SETTINGS``, with their allowed values).
- **Privacy**: how a phone number is masked in every list.

Pure declarations and functions, no I/O: ``kiosk/`` and ``sync/hub/`` import it, it imports
neither. Credential hashing is ``sync.auth``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

# -- the record ------------------------------------------------------------------------------

GENESIS_HASH = "0" * 64

# The columns that make up a record and enter its hash, in hash order.
RECORD_FIELDS = (
    "id",
    "kiosk_id",
    "epoch",
    "seq",
    "kind",
    "wall_time",
    "clock_synced",
    "boot_id",
    "boottime_ns",
    "verdict",
    "reason",
    "estimate_c",
    "threshold_c",
    "object_c",
    "ambient_c",
    "pass_code",
    "links_to",
    "detail",
    "prev_hash",
)
# Fields added after the first kiosks shipped. They enter the hash only when set (see
# record_hash), so that every record written before them keeps its hash and its chain.
LATER_RECORD_FIELDS = ("utc_offset_min",)
# A record on the wire: the record's fields plus its hash and keyed mac.
WIRE_FIELDS = (*RECORD_FIELDS, *LATER_RECORD_FIELDS, "hash", "mac")
EVENT_KINDS = (
    "screening",
    "alarm",
    "sensor_fault",
    "sensor_recovered",
    "identify",
    "override",
    "visitor",
    "vehicle",
    "shift",  # a staff member signs on (verdict on / blocked) or off duty at the gate
    "disinfection",  # a disinfection round (detail: place, agent, by)
    "guard_pin",  # wrong guard PINs, one record per burst (verdict locked / wrong; no digits)
)
MAX_DETAIL_BYTES = 64 * 1024
# The agents a disinfection round may name (the guard screen's one-touch list; the hub's form).
DISINFECTANTS = ("含氯消毒液", "75%酒精", "过氧乙酸", "紫外线灯")

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
HEX64_PATTERN = r"^[0-9a-f]{64}$"
WALL_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?\+00:00$"


@dataclass(frozen=True)
class FieldRule:
    """What one wire field may hold. ``minimum``/``maximum`` bound numbers; ``pattern`` and
    ``max_length`` bound text; every text field refuses control characters and lone
    surrogates; every number must be finite."""

    type: str  # "string", "integer" or "number"
    nullable: bool = False
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


def _temperature(low: float, high: float, what: str) -> FieldRule:
    return FieldRule("number", nullable=True, minimum=low, maximum=high, description=what)


FIELD_RULES: dict[str, FieldRule] = {
    "id": FieldRule("string", max_length=36, pattern=UUID_PATTERN),
    "kiosk_id": FieldRule("string", max_length=64, description="must match the token's kiosk"),
    "epoch": FieldRule("string", max_length=64, pattern=r"^[0-9A-Za-z_-]{1,64}$"),
    "seq": FieldRule("integer", minimum=1, maximum=2**62),
    "kind": FieldRule("string", enum=EVENT_KINDS),
    "wall_time": FieldRule(
        "string",
        max_length=32,
        pattern=WALL_TIME_PATTERN,
        description="UTC ISO 8601; within a window of the hub's clock (docs/sync-protocol.md)",
    ),
    "clock_synced": FieldRule("integer", enum=(0, 1)),
    "boot_id": FieldRule("string", max_length=64),
    "boottime_ns": FieldRule("integer", minimum=0, maximum=2**63 - 1),
    "verdict": FieldRule("string", nullable=True, max_length=32, pattern=r"^[a-z_]{1,32}$"),
    "reason": FieldRule("string", nullable=True, max_length=256),
    # The MLX90614's ranges: object -70 to 382.2 °C, ambient -40 to 125 °C.
    "estimate_c": _temperature(-70.0, 382.2, "body estimate, °C"),
    "threshold_c": _temperature(30.0, 45.0, "fever threshold in force, °C"),
    "object_c": _temperature(-70.0, 382.2, "object temperature, °C"),
    "ambient_c": _temperature(-40.0, 125.0, "ambient temperature, °C"),
    "pass_code": FieldRule("string", nullable=True, max_length=64),
    "links_to": FieldRule("string", nullable=True, max_length=36, pattern=UUID_PATTERN),
    "detail": FieldRule(
        "string", max_length=MAX_DETAIL_BYTES, description="a JSON object as text, as hashed"
    ),
    "prev_hash": FieldRule("string", max_length=64, pattern=HEX64_PATTERN),
    "utc_offset_min": FieldRule(
        "integer",
        nullable=True,
        minimum=-720,
        maximum=840,
        description="the kiosk's local time zone at wall_time, in minutes east of UTC (480 in"
        " Beijing); absent from records written before kiosks sent it",
    ),
    "hash": FieldRule("string", max_length=64, pattern=HEX64_PATTERN),
    "mac": FieldRule(
        "string",
        nullable=True,
        max_length=64,
        pattern=HEX64_PATTERN,
        description="HMAC-SHA256 of hash with the kiosk's chain key (keyed chain)",
    ),
}
assert tuple(FIELD_RULES) == WIRE_FIELDS


# json.dumps(values, ensure_ascii=False, separators=(",", ":")), made once (it is on every append).
_CANONICAL_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 over the record's fields in a canonical JSON form; ``prev_hash`` links the chain.

    The form is the JSON list of ``RECORD_FIELDS``' values; when any later field is set, an
    object of the set ones follows as one more element (a record without them hashes as it
    always did, and the two forms cannot be taken for each other: the list's length differs)."""
    values: list[Any] = [record[name] for name in RECORD_FIELDS]
    later = {n: record[n] for n in LATER_RECORD_FIELDS if record.get(n) is not None}
    if later:
        values.append(later)
    return hashlib.sha256(_CANONICAL_JSON.encode(values).encode()).hexdigest()


def chain_mac(key: bytes, record_hash_hex: str) -> str:
    """HMAC-SHA256 of a record's hash (which covers prev_hash, so the whole chain before it)."""
    return hmac.new(key, record_hash_hex.encode("ascii"), hashlib.sha256).hexdigest()


# -- privacy ---------------------------------------------------------------------------------


def mask_phone(phone: str) -> str:
    """``138****5678``: how a phone number appears in every list, at the gate and at the hub."""
    return phone[:3] + "****" + phone[-4:] if len(phone) == 11 else "****"


# Mainland resident ID numbers (GB 11643-1999): 6 digits of region, 8 of birth date, 3 of
# sequence and a check character (ISO 7064 MOD 11-2). Never stored in full, at the gate or at the
# hub: masked (the birth date hidden) and as a keyed hash for look-up (docs/schema.md, "Visitor
# ID numbers"; residents' on the hub: sync/hub/id_numbers.py).
ID_NUMBER_PATTERN = re.compile(r"^[1-9][0-9]{16}[0-9X]$")
ID_NUMBER_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_NUMBER_CHECK = "10X98765432"


def id_number_check(first_17: str) -> str:
    """The check character GB 11643 gives the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first_17, ID_NUMBER_WEIGHTS, strict=True))
    return ID_NUMBER_CHECK[total % 11]


def valid_id_number(raw: str) -> str | None:
    """The number (upper-case X), or None when it is not 18 characters or its check fails."""
    number = raw.strip().upper()
    if not ID_NUMBER_PATTERN.fullmatch(number):
        return None
    return number if id_number_check(number[:17]) == number[17] else None


def mask_id_number(number: str) -> str:
    """``110105********1234``: the region and the last four kept, the birth date hidden."""
    return number[:6] + "*" * 8 + number[-4:]


def id_number_hash(key: bytes, number: str) -> str:
    """The keyed hash an ID number is looked up by (HMAC-SHA256, hex)."""
    return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()


def visitor_id_key(id_key: bytes, kiosk_id: str) -> bytes:
    """The key a kiosk hashes its visitors' ID numbers with: derived by the hub from its own ID
    key for that kiosk alone, sent once in the answer to the enrolment. The hub derives it again
    to look a visitor up; the hub's own key never leaves the hub (see docs/schema.md)."""
    return hmac.new(id_key, b"menwei visitor id v1|" + kiosk_id.encode(), hashlib.sha256).digest()


# What a ``visitor`` record's detail holds (the kiosk writes exactly these; docs/schema.md).
VISITOR_DETAIL: dict[str, str] = {
    "phone": "mobile number, 11 digits (lists show it masked)",
    "name": "姓名 as the guard entered it (at the kiosk: surname and 先生/女士)",
    "building": "楼栋 of the host, from the roster",
    "unit": "单元 of the host, from the roster",
    "room": "房号 of the host (from the roster when it knows the unit's rooms)",
    "id_masked": "身份证号 masked (110105********1234), or null when not given",
    "id_hash": "HMAC-SHA256 of the ID number with the kiosk's visitor ID key, or null (not given,"
    " or the kiosk has no key yet)",
    "purpose": "事由 code (visit_family, delivery, repair, housekeeping, medical, official, other)",
    "risk_area": "a risk area from the kiosk's list visited in the last 14 days, or none",
    "code_colour": "health-code colour the guard saw: green, yellow, red",
    "guard_id": "the guard who registered the visitor",
    "direction": "in or out, the gate's direction at the time",
}


# -- guard accounts --------------------------------------------------------------------------

PIN_PATTERN = re.compile(r"^[0-9]{6,8}$")
GUARD_ID_PATTERN = re.compile(r"^[a-z0-9_-]{1,32}$")


class GuardError(ValueError):
    """A guard could not be added (bad id, name or PIN)."""


def check_guard(guard_id: str, name: str, pin: str) -> str:
    """The rules for a guard account, wherever it is made; returns the name, trimmed."""
    if not GUARD_ID_PATTERN.fullmatch(guard_id):
        raise GuardError(
            "门卫编号须为 1-32 位小写字母、数字、- 或 _（如 wang-01）"
            " guard id: 1-32 lower-case letters, digits, '-' or '_'"
        )
    name = name.strip()
    if not name or len(name) > 32 or any(c in name for c in "<>&\"'"):
        raise GuardError(
            "姓名须为 1-32 个字，不含 < > & 或引号 name: 1-32 characters, without < > & or quotes"
        )
    if not PIN_PATTERN.fullmatch(pin):
        raise GuardError("PIN 须为 6-8 位数字 PIN: 6 to 8 digits")
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        raise GuardError(
            "PIN 太容易猜（全是同一个数字或连号），请换一个"
            " PIN: too easy to guess (all the same digit, or a run)"
        )
    return name


# -- passes ----------------------------------------------------------------------------------

PASS_CODE_PATTERN = re.compile(r"^[A-Za-z0-9-]{4,32}$")
PASS_CSV_COLUMNS = (
    "code",
    "name",
    "building",
    "unit",
    "room",
    "expires_on",
    "revoked",
    "quarantine_until",
    "resident_id",
)


def normalise_code(raw: str) -> str | None:
    code = raw.strip()
    return code.upper() if PASS_CODE_PATTERN.fullmatch(code) else None


def _parse_date(value: str, column: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"{column} {value!r} is not a date like 2026-12-31") from None


def parse_pass_row(raw: dict[str, str]) -> dict[str, Any]:
    """One pass from a CSV row (the kiosk's ``kiosk passes load``, the hub's ``hub roster
    passes``); raises ValueError saying what is wrong."""
    code = normalise_code(raw.get("code") or "")
    if code is None:
        raise ValueError("code must be 4-32 letters, digits or '-'")
    revoked = (raw.get("revoked") or "").strip().lower()
    if revoked not in ("", "0", "1", "yes", "no", "true", "false"):
        raise ValueError(f"revoked {revoked!r} must be yes/no")
    row: dict[str, Any] = {
        "code": code,
        "resident_id": (raw.get("resident_id") or "").strip()[:64] or None,
        "expires_on": _parse_date(raw.get("expires_on") or "", "expires_on"),
        "revoked": int(revoked in ("1", "yes", "true")),
        "quarantine_until": _parse_date(raw.get("quarantine_until") or "", "quarantine_until"),
    }
    for column in ("name", "building", "unit", "room"):
        value = (raw.get(column) or "").strip()
        if len(value) > 64 or any(c in value for c in "<>"):
            raise ValueError(f"{column} is too long or contains < or >")
        row[column] = value or None
    return row


# -- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One kiosk setting: name, default, what it means and what it may be."""

    key: str  # "section.name"
    default: Any
    help: str
    kind: type = float
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    optional: bool = False  # may be left out (a part that is not fitted)

    def describe_allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind is bool:
            return "true or false"
        if self.minimum is not None and self.maximum is not None:
            unit = "an integer" if self.kind is int else "a number"
            return f"{unit} from {self.minimum:g} to {self.maximum:g}"
        return {str: "text", int: "an integer", float: "a number"}[self.kind]


class SettingValueError(ValueError):
    """A value a setting cannot take; the message names the key and what is allowed."""


def checked_value(setting: Setting, value: Any) -> Any:
    """The value as the setting holds it (an int for a float setting becomes a float), or
    :class:`SettingValueError`."""

    def bad() -> SettingValueError:
        return SettingValueError(
            f"{setting.key} = {value!r} is not allowed: expected {setting.describe_allowed()}"
        )

    if value is None:
        if setting.optional:
            return None
        raise bad()
    kind = setting.kind
    if kind is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if isinstance(value, bool):
        raise bad()
    if kind is int:
        if not isinstance(value, int):
            raise bad()
    elif kind is float:
        if not isinstance(value, int | float):
            raise bad()
        try:
            value = float(value) + 0.0  # + 0.0: -0 is held, shown and sent as 0.0
        except OverflowError:  # an integer of hundreds of digits
            raise bad() from None
    elif kind is str and (not isinstance(value, str) or not value.strip()):
        raise bad()
    if setting.choices and value not in setting.choices:
        raise bad()
    if setting.minimum is not None and value < setting.minimum:
        raise bad()
    if setting.maximum is not None and value > setting.maximum:
        raise bad()
    return value


# The settings the hub may set on a kiosk (the rest are the site's own: pins, paths). The kiosk's
# table (kiosk/settings.py) holds them as declared here.
HUB_SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting(
            "screening.threshold_c",
            37.3,
            "Above this estimate entry is blocked.",
            float,
            37.0,
            38.5,
        ),
        Setting(
            "screening.site",
            "forehead",
            "Where the sensor measures: forehead or wrist.",
            str,
            choices=("forehead", "wrist"),
        ),
        Setting(
            "screening.forehead_offset_c",
            2.6,
            "Added to forehead skin temperature to estimate core temperature.",
            float,
            0,
            6,
        ),
        Setting(
            "screening.wrist_offset_c",
            3.4,
            "Added to wrist skin temperature to estimate core temperature.",
            float,
            0,
            8,
        ),
        Setting(
            "screening.model",
            "offset",
            "Compensation model: 'offset' (constant) or 'ambient' (adds ambient_coeff per °C below"
            " the reference ambient).",
            str,
            choices=("offset", "ambient"),
        ),
        Setting(
            "screening.ambient_coeff",
            0.1,
            "Ambient model: °C added per °C that ambient is below reference_ambient_c.",
            float,
            0,
            0.5,
        ),
        Setting(
            "kiosk.identify",
            "before",
            "When a resident shows a pass: 'before' the reading, 'after' it, or 'off'"
            " (screen only).",
            str,
            choices=("before", "after", "off"),
        ),
        Setting(
            "kiosk.identify_required",
            False,
            "Refuse to measure (or to admit) anyone without a valid pass.",
            bool,
        ),
        Setting(
            "kiosk.retention_days",
            28,
            "Events older than this are deleted once the hub holds them (counts per day are kept).",
            int,
            1,
            365,
        ),
        Setting(
            "kiosk.store_temperatures",
            True,
            "Keep temperatures in the ledger; false keeps only pass/fail (no recalibration then).",
            bool,
        ),
    )
}
