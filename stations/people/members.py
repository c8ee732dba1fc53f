"""Union members: import from the union's member database, phone hashing, sign-in.

Phone numbers never reach the database or a log in clear: they are normalised and
stored as HMAC-SHA256 under ``STATIONS_PII_HASH_KEY``. A member signs in with member
number and phone and receives a bearer token; suspended members are refused.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from stations.catalog.problems import ROW_NUMBERING
from stations.catalog.vocab import OCCUPATIONS, MemberStatus
from stations.errors import InvalidInput, NotFound, Unauthorized
from stations.people import branches, throttle, tokens
from stations.settings import MemberSignInSettings, SecuritySettings
from stations.sql import load
from stations.tables import XLSX_MAGIC, read_xlsx

SQL = load("members")

MEMBER_NO = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,31}$")
_PHONE_CHARS = re.compile(r"[\s\-().]")

# Column names seen in member-database exports, by the field they fill.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "member_no": ("member_no", "member_number", "会员号", "会员编号", "会员证号", "工会会员号"),
    "phone": ("phone", "mobile", "phone_number", "手机号", "手机号码", "联系电话", "手机"),
    "name": ("name", "姓名"),
    "occupation": ("occupation", "职业", "工种"),
    "employer": ("employer", "platform", "employer_platform", "工作单位", "所属平台", "平台"),
    "status": ("status", "状态", "会员状态"),
    # Which union branch the member belongs to (a branch owns district code prefixes);
    # members without one belong to the national root.
    "district_code": ("district_code", "区县代码", "行政区划代码", "所属区县代码"),
}
_DISTRICT_CODE = re.compile(r"^\d{2,12}$")
REQUIRED_COLUMNS = ("member_no", "phone", "occupation")
KEEP: Any = object()  # an optional column the file does not have: keep the stored value

# Occupation as written in exports: the key, its labels, and common variants.
_OCCUPATION_WORDS: dict[str, str] = {
    **{key: key for key in OCCUPATIONS},
    **{zh: key for key, (zh, _) in OCCUPATIONS.items()},
    **{en.lower(): key for key, (_, en) in OCCUPATIONS.items()},
    "快递小哥": "courier",
    "快递": "courier",
    "外卖员": "food_delivery",
    "外卖送餐员": "food_delivery",
    "骑手": "food_delivery",
    "网约配送员": "food_delivery",
    "司机": "ride_hailing",
    "网约车": "ride_hailing",
    "货车": "truck_driver",
    "环卫工": "sanitation",
    "环卫": "sanitation",
    "保安": "security_guard",
    "家政": "domestic_service",
}
_STATUS_WORDS: dict[str, str] = {
    "active": "active",
    "正常": "active",
    "在册": "active",
    "有效": "active",
    "suspended": "suspended",
    "暂停": "suspended",
    "停用": "suspended",
    "冻结": "suspended",
}


def normalise_phone(text: str, *, field: str = "phone") -> str:
    """Digits only, mainland prefix (+86/0086) dropped; other countries keep a leading +."""
    value = _PHONE_CHARS.sub("", text or "")
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("0086"):
        value = value[4:]
    international = value.startswith("+")
    digits = value[1:] if international else value
    if not digits.isdigit() or not 7 <= len(digits) <= 15 or not digits.isascii():
        raise InvalidInput(
            f"{field}: not a phone number; send the 11-digit mobile number, e.g. 13800138000",
            field=field,
        )
    if not international and len(digits) == 11 and not re.fullmatch(r"1[3-9]\d{9}", digits):
        raise InvalidInput(
            f"{field}: not a mainland mobile number (they start with 13-19)", field=field
        )
    return ("+" if international else "") + digits


def phone_hash(phone: str, security: SecuritySettings) -> bytes:
    """HMAC-SHA256 of the normalised phone under the server's key (what is stored)."""
    key = security.pii_hash_key.get_secret_value().encode()
    return hmac.new(key, b"phone:" + normalise_phone(phone).encode(), hashlib.sha256).digest()


def validate_member_no(text: str, *, field: str = "member_no") -> str:
    value = (text or "").strip()
    if not MEMBER_NO.fullmatch(value):
        raise InvalidInput(
            f"{field}: member numbers are 1-32 letters, digits or '-' (as on the union card)",
            field=field,
        )
    return value


# --- sign-in --------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberSession:
    token: str
    expires_at: datetime
    member: dict[str, Any]
    failed_attempts: int = 0
    """Wrong sign-ins with this member number since its last sign-in (shown to the member)."""
    last_failed_at: datetime | None = None


NUMBER_KIND = "member_no"
ADDRESS_KIND = "member_address"


def sign_in_keys(
    member_no: str, address: str, *, limits: MemberSignInSettings, secret: bytes
) -> tuple[throttle.Key, throttle.Key]:
    """The throttle keys of a sign-in: its member number and the client's address."""
    lockout_s = limits.lockout_minutes * 60
    by_number = throttle.Policy(
        free=limits.attempts_free, lockout_after=limits.attempts_lockout, lockout_s=lockout_s
    )
    by_address = throttle.Policy(
        free=limits.address_attempts_free,
        lockout_after=limits.address_attempts_lockout,
        lockout_s=lockout_s,
    )
    return (
        throttle.key(NUMBER_KIND, member_no, by_number, secret=secret),
        throttle.key(ADDRESS_KIND, address, by_address, secret=secret),
    )


async def sign_in(
    conn: asyncpg.Connection,
    *,
    member_no: str,
    phone: str,
    security: SecuritySettings,
    address: str = "unknown",
    limits: MemberSignInSettings | None = None,
) -> MemberSession:
    """Exchange member number + phone for a bearer token (throttled).

    Failures count against the member number and the client's address
    (:mod:`stations.people.throttle`); while either must wait, an attempt is refused
    with ``too_many_attempts`` before the phone is compared. A suspended member gets
    the same refusal as a wrong phone, so the refusal never tells whether the phone
    was right. A success ends the number's streak and reports it in the session.
    """
    refused = Unauthorized(
        "member number and phone do not match a union member; check both, "
        "or ask your union branch to check your registration",
        code="sign_in_failed",
    )
    secret = security.pii_hash_key.get_secret_value().encode()
    number_key, address_key = sign_in_keys(
        member_no, address, limits=limits or MemberSignInSettings(), secret=secret
    )
    keys = [number_key, address_key]
    await throttle.guard(conn, keys)
    try:
        number = validate_member_no(member_no)
        digest = phone_hash(phone, security)
    except InvalidInput:
        await throttle.failed(conn, keys)
        raise refused from None
    row = await conn.fetchrow(SQL.member_for_login, number)
    if (
        row is None
        or not hmac.compare_digest(bytes(row["phone_hash"]), digest)
        or row["status"] != MemberStatus.ACTIVE
    ):
        await throttle.failed(conn, keys)
        raise refused
    streak = await throttle.forget(conn, number_key)
    issued = await tokens.issue(
        conn, days=security.member_token_days, member_id=row["id"], label="member sign-in"
    )
    return MemberSession(
        token=issued.token,
        expires_at=issued.expires_at,
        member={
            "member_no": row["member_no"],
            "name": row["name"],
            "occupation": row["occupation"],
            "employer": row["employer"],
        },
        failed_attempts=streak.failures,
        last_failed_at=streak.last_failure_at,
    )


async def set_status(conn: asyncpg.Connection, *, member_no: str, status: MemberStatus) -> None:
    """Suspend or reinstate a member (tokens stay; every visit checks the status)."""
    row = await conn.fetchrow(SQL.set_member_status, validate_member_no(member_no), str(status))
    if row is None:
        raise NotFound(f"no member has number {member_no!r}", code="member_not_found")


# --- import ---------------------------------------------------------------------------


@dataclass
class RowResult:
    """What happened to one data row (``row`` counts records from 1, as station imports
    do: the header is not counted; see ``ROW_NUMBERING``)."""

    row: int
    member_no: str
    action: str  # created | updated | unchanged | rejected
    problems: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    rows: list[RowResult]
    row_numbering: str = ROW_NUMBERING

    @property
    def counts(self) -> dict[str, int]:
        counts = Counter(r.action for r in self.rows)
        return {a: counts.get(a, 0) for a in ("created", "updated", "unchanged", "rejected")}


def _field_names(header: list[str]) -> list[str | None]:
    names: list[str | None] = []
    for raw in header:
        key = raw.strip().lower()
        names.append(next((f for f, aliases in COLUMN_ALIASES.items() if key in aliases), None))
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        wanted = "; ".join(f"{c} (or {', '.join(COLUMN_ALIASES[c][1:4])})" for c in missing)
        raise InvalidInput(f"the member file has no column for: {wanted}")
    return names


def _cell_text(value: Any) -> str:
    """An Excel cell as the text a CSV export would hold: 13900000001, not 1.39e10."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    return str(value).strip()


def read_xlsx_table(data: bytes, *, sheet: str | None = None) -> list[dict[str, str]]:
    """The rows of an Excel workbook's first sheet (or ``sheet``) as :func:`read_table`
    gives CSV rows; each keeps its record number under ``__row__`` (blank rows skipped,
    numbering as the importers' reports state it)."""
    found = read_xlsx(data, sheet=sheet, name="the member file")
    names = _field_names(found.header)
    rows = []
    for number, values in found.records:
        row = {
            name: _cell_text(value)
            for name, value in zip(names, values, strict=False)
            if name is not None
        }
        row["__row__"] = str(number)
        rows.append(row)
    return rows


def read_member_file(data: bytes, *, sheet: str | None = None) -> list[dict[str, str]]:
    """A member list as CSV (UTF-8 or GB18030) or as an Excel .xlsx workbook."""
    if data.startswith(XLSX_MAGIC):
        return read_xlsx_table(data, sheet=sheet)
    if sheet is not None:
        raise InvalidInput("sheet: only Excel workbooks have sheets", field="sheet")
    return read_table(data)


def read_table(data: bytes) -> list[dict[str, str]]:
    """CSV rows as dicts keyed by field name; UTF-8 (with or without BOM) or GB18030."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        text = str(best) if best is not None else data.decode("gb18030", errors="replace")
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("the member file is empty") from None
    except csv.Error as exc:
        raise InvalidInput(f"the member file is not readable CSV ({exc})") from None
    names = _field_names(header)
    rows = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            row = {
                name: value.strip()
                for name, value in zip(names, values, strict=False)
                if name is not None
            }
            rows.append(row)
    except csv.Error as exc:
        raise InvalidInput(
            f"the member file is not readable CSV at line {reader.line_num} ({exc}); "
            "export it again as CSV"
        ) from None
    return rows


def _parse_row(raw: dict[str, str], security: SecuritySettings) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    out: dict[str, Any] = {}
    try:
        out["member_no"] = validate_member_no(raw.get("member_no", ""))
    except InvalidInput as exc:
        problems.append(str(exc.detail))
    try:
        out["phone_hash"] = phone_hash(raw.get("phone", ""), security)
    except InvalidInput as exc:
        problems.append(str(exc.detail))  # the message never repeats the number
    occupation = _OCCUPATION_WORDS.get(raw.get("occupation", "").strip().lower())
    if occupation is None:
        problems.append(
            f"occupation: {raw.get('occupation', '')!r} is not known; use one of "
            + ", ".join(f"{k} ({zh})" for k, (zh, _) in OCCUPATIONS.items())
        )
    out["occupation"] = occupation
    # An optional column missing from the file keeps what is stored; an empty cell clears.
    for name, limit in (("name", 100), ("employer", 200)):
        if name not in raw:
            out[name] = KEEP
            continue
        value = raw[name] or None
        if value is not None and len(value) > limit:
            problems.append(f"{name}: longer than {limit} characters")
        out[name] = value
    if "district_code" not in raw:
        out["district_code"] = KEEP
    else:
        district = (raw["district_code"] or "").strip() or None
        if district is not None and not _DISTRICT_CODE.fullmatch(district):
            problems.append(f"district_code: {district!r} is not a district code (GB/T 2260)")
        out["district_code"] = district
    status_text = (raw.get("status") or "").strip().lower()
    if status_text:
        status = _STATUS_WORDS.get(status_text)
        if status is None:
            problems.append(f"status: {status_text!r} is not 'active' or 'suspended'")
        out["status"] = status
    else:
        out["status"] = KEEP  # new members start active
    return out, problems


async def import_members(
    conn: asyncpg.Connection,
    *,
    rows: list[dict[str, str]],
    security: SecuritySettings,
    branch: str | None = None,
) -> ImportReport:
    """Create or update members by member number; unchanged rows write nothing.

    ``branch``: a union branch's import. Each member must have (or keep) a district code
    under it, and a member of another branch is never changed: such rows are rejected.

    Runs in the caller's transaction. A row that breaks a rule is rejected with its
    reasons and the others still go in; importing the same file twice changes nothing.
    """
    results: list[RowResult] = []
    parsed: dict[str, tuple[RowResult, dict[str, Any]]] = {}
    for position, raw in enumerate(rows, start=1):
        index = int(raw.get("__row__", position))
        values, problems = _parse_row(raw, security)
        number = values.get("member_no") or raw.get("member_no", "")
        result = RowResult(row=index, member_no=number, action="rejected", problems=problems)
        results.append(result)
        if problems:
            continue
        if number in parsed:
            result.problems.append(
                f"member_no {number} already appears on row {parsed[number][0].row}"
            )
            continue
        parsed[number] = (result, values)

    existing = {r["member_no"]: r for r in await conn.fetch(SQL.members_by_number, list(parsed))}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for number, (result, values) in parsed.items():
        old = existing.get(number)
        if branch is not None:
            district = values["district_code"]
            if district is KEEP:
                district = old["district_code"] if old is not None else None
            if old is not None and not branches.covers(branch, old["district_code"]):
                result.problems.append(
                    f"member_no {number} belongs to another union branch than yours ({branch})"
                )
                continue
            if not branches.covers(branch, district):
                result.problems.append(
                    f"district_code: {district or '(none)'} is not a district of your union "
                    f"branch ({branch}); give each member a district code starting with {branch}"
                )
                continue
        if old is None:
            defaults = {
                "name": None,
                "employer": None,
                "district_code": None,
                "status": MemberStatus.ACTIVE.value,
            }
            values.update({k: v for k, v in defaults.items() if values[k] is KEEP})
            inserts.append(values)
            result.action = "created"
            continue
        kept = ("name", "employer", "status", "district_code")
        values.update({k: old[k] for k in kept if values[k] is KEEP})
        changed = [
            name
            for name in ("phone_hash", "name", "occupation", "employer", "status", "district_code")
            if (bytes(old[name]) if name == "phone_hash" else old[name]) != values[name]
        ]
        if changed:
            result.action = "updated"
            result.changed = ["phone" if c == "phone_hash" else c for c in changed]
            updates.append(values)
        else:
            result.action = "unchanged"
    for statement, batch in ((SQL.insert_members, inserts), (SQL.update_members, updates)):
        if batch:
            await conn.execute(
                statement,
                *(
                    [v[name] for v in batch]
                    for name in ("member_no", "phone_hash", "name", "occupation", "employer")
                ),
                [v["status"] for v in batch],
                [v["district_code"] for v in batch],
            )
    return ImportReport(rows=results)


async def import_file(
    conn: asyncpg.Connection, *, path: Path, security: SecuritySettings, sheet: str | None = None
) -> ImportReport:
    """Import an export of the member database (CSV or .xlsx) in one transaction."""
    data = path.read_bytes()  # noqa: ASYNC240 - a local file read once by the CLI
    rows = read_member_file(data, sheet=sheet)
    async with conn.transaction():
        return await import_members(conn, rows=rows, security=security)
