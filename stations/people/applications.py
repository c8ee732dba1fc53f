"""Membership applications (扫码入会): a rider who is not a member applies; the union
branch that owns the applicant's district approves or declines.

What is kept, and why (PIPL: the least the union needs; the rider page's consent text
says the same): the phone as the keyed hash members are stored with (it finds the one
open application of a phone, and becomes the member's on approval), the phone in clear
only while the application is open (so the branch can call back; erased when it is
decided), and what a member record holds: name, occupation, employer or platform,
district. A second application from the same phone while one is open updates it.

An applicant gets a reference; with it and the phone they look the application up: its
state, the member number once approved (and then sign in with it at once, as any
member), or the reason it was declined. Approval creates the member through the member
list's own import (:func:`stations.people.members.import_members`), so a member made
here is the same record an imported one is. Applications are counted per client address
(:mod:`stations.people.throttle`), and so are failed look-ups.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

import asyncpg

from stations.catalog.vocab import OCCUPATIONS
from stations.errors import Conflict, InvalidInput, NotFound
from stations.people import branches, members, throttle
from stations.settings import SecuritySettings
from stations.sql import load

SQL = load("applications")

REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out on the phone
REFERENCE_LENGTH = 10
NAME_MAX, EMPLOYER_MAX, REASON_MAX = 100, 200, 500
LIST_LIMIT = 500

# Sending applications, per client address: a few an hour are free (a family on one
# phone's hotspot), then each waits twice as long, then the address waits an hour.
SUBMIT_POLICY = throttle.Policy(free=5, lockout_after=30, lockout_s=3600, forget_after_s=3600)
# Looking one up with a wrong reference or phone, per client address.
LOOKUP_POLICY = throttle.Policy(free=5, lockout_after=20, lockout_s=900, forget_after_s=3600)


def clean_text(value: str | None, *, field: str, max_length: int, required: bool) -> str | None:
    """Whitespace runs to one space, stripped; control characters (NUL …) refused."""
    if value is None:
        value = ""
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise InvalidInput(
            f"{field}: contains control characters (such as NUL); send plain text",
            field=field,
        )
    text = " ".join(value.split())
    if not text:
        if required:
            raise InvalidInput(f"{field}: required", field=field)
        return None
    if len(text) > max_length:
        raise InvalidInput(f"{field}: at most {max_length} characters", field=field)
    return text


def validate_occupation(value: str) -> str:
    if value not in OCCUPATIONS:
        raise InvalidInput(
            f"occupation: unknown {value!r}; allowed values: {', '.join(OCCUPATIONS)}",
            field="occupation",
        )
    return value


def validate_district_code(value: str) -> str:
    code = clean_text(value, field="district_code", max_length=6, required=True) or ""
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        raise InvalidInput(
            "district_code: a district's 6-digit code (GB/T 2260), e.g. 340603",
            field="district_code",
        )
    return code


def new_reference() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def normalise_reference(value: str) -> str:
    text = clean_text(value, field="reference", max_length=40, required=True) or ""
    return text.replace(" ", "").replace("-", "").upper()


@dataclass(frozen=True)
class Application:
    """What an applicant may send."""

    name: str
    phone: str
    occupation: str
    employer: str | None
    district_code: str


def parse(
    *, name: str, phone: str, occupation: str, employer: str | None, district_code: str
) -> Application:
    """Check an application's fields; every refusal names its field."""
    clean_name = clean_text(name, field="name", max_length=NAME_MAX, required=True)
    raw_phone = clean_text(phone, field="phone", max_length=32, required=True) or ""
    return Application(
        name=clean_name or "",
        phone=members.normalise_phone(raw_phone),
        occupation=validate_occupation(
            clean_text(occupation, field="occupation", max_length=40, required=True) or ""
        ),
        employer=clean_text(employer, field="employer", max_length=EMPLOYER_MAX, required=False),
        district_code=validate_district_code(district_code),
    )


def _keys(
    kind: str, address: str, policy: throttle.Policy, security: SecuritySettings
) -> list[throttle.Key]:
    secret = security.pii_hash_key.get_secret_value().encode()
    return [throttle.key(kind, address, policy, secret=secret)]


async def submit(
    conn: asyncpg.Connection,
    *,
    application: Application,
    address: str,
    security: SecuritySettings,
) -> dict[str, Any]:
    """Store an application, or update the phone's open one; counted per address.

    Returns the reference, the state and whether an open application was updated.
    """
    keys = _keys("application_address", address, SUBMIT_POLICY, security)
    await throttle.guard(conn, keys)
    await throttle.failed(conn, keys)  # every application counts, not only bad ones
    digest = members.phone_hash(application.phone, security)
    async with conn.transaction():
        for _ in range(5):  # a reference already taken (1 in 32^10): draw again
            try:
                async with conn.transaction():
                    row = await conn.fetchrow(
                        SQL.submit_application,
                        new_reference(),
                        digest,
                        application.phone,
                        application.name,
                        application.occupation,
                        application.employer,
                        application.district_code,
                    )
                break
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name != "membership_applications_reference_key":
                    raise
        else:  # pragma: no cover - needs five collisions in a row
            raise Conflict("could not draw a free application reference; send it again")
    return dict(row)


def _not_found() -> NotFound:
    return NotFound(
        "no application has this reference and phone; check both (the reference is on the "
        "screen you saw after applying)",
        code="application_not_found",
    )


async def look_up(
    conn: asyncpg.Connection,
    *,
    reference: str,
    phone: str,
    address: str,
    security: SecuritySettings,
) -> dict[str, Any]:
    """An applicant's view of their application: state, member number, decline reason."""
    keys = _keys("application_lookup", address, LOOKUP_POLICY, security)
    await throttle.guard(conn, keys)
    row = None
    try:
        digest = members.phone_hash(phone, security)
        row = await conn.fetchrow(SQL.application_by_reference, normalise_reference(reference))
    except InvalidInput:
        pass
    if row is None or not secrets.compare_digest(bytes(row["phone_hash"]), digest):
        await throttle.failed(conn, keys)
        raise _not_found()
    return {
        "reference": row["reference"],
        "status": row["status"],
        "district_code": row["district_code"],
        "member_no": row["member_no"],
        "decline_reason": row["decline_reason"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "decided_at": row["decided_at"],
    }


async def list_applications(
    conn: asyncpg.Connection, *, branch: str | None, status: str | None = None
) -> list[dict[str, Any]]:
    """The applications of the districts under ``branch`` (None: all), open ones first."""
    if status is not None and status not in ("open", "approved", "declined"):
        raise InvalidInput(
            "status: one of open, approved, declined (or leave it out for all)", field="status"
        )
    rows = await conn.fetch(SQL.applications_in_branch, branch, status, LIST_LIMIT)
    return [dict(r) for r in rows]


async def _open_application(
    conn: asyncpg.Connection, *, application_id: int, branch: str | None
) -> asyncpg.Record:
    row = await conn.fetchrow(SQL.application_for_decision, application_id)
    if row is None:
        raise NotFound(
            f"no application has id {application_id}",
            code="application_not_found",
            application_id=application_id,
        )
    if not branches.covers(branch, row["district_code"]):
        raise branches.outside(
            branch,
            f"application {application_id} is for district {row['district_code']}, "
            "not under your branch",
            application_id=application_id,
        )
    if row["status"] != "open":
        raise Conflict(
            f"application {application_id} was {row['status']} already",
            code="application_decided",
            application_id=application_id,
            status=row["status"],
        )
    return row


def member_number(application_id: int, district_code: str) -> str:
    """The member number an approved application gets: its district and its id."""
    return f"RH{district_code}{application_id:06d}"


async def approve(
    conn: asyncpg.Connection,
    *,
    application_id: int,
    branch: str | None,
    actor: str,
    security: SecuritySettings,
) -> dict[str, Any]:
    """Make the applicant a member (one transaction); returns the member number.

    Refused with ``already_member`` when a member has this phone already (the member
    number is in the answer, for the administrator to tell the applicant).
    """
    async with conn.transaction():
        row = await _open_application(conn, application_id=application_id, branch=branch)
        existing = await conn.fetchval(SQL.member_with_phone, bytes(row["phone_hash"]))
        if existing is not None:
            raise Conflict(
                f"this phone belongs to member {existing} already; decline the application "
                "and tell the applicant their number",
                code="already_member",
                application_id=application_id,
                member_no=existing,
            )
        number = member_number(row["id"], row["district_code"])
        report = await members.import_members(
            conn,
            rows=[
                {
                    "member_no": number,
                    "phone": row["callback_phone"],
                    "name": row["name"],
                    "occupation": row["occupation"],
                    "employer": row["employer"] or "",
                    "district_code": row["district_code"],
                }
            ],
            security=security,
        )
        result = report.rows[0]
        if result.action != "created":
            why = "; ".join(result.problems) or result.action
            raise Conflict(
                f"member {number} could not be created: {why}",
                code="application_decided",
                application_id=application_id,
                status=result.action,
            )
        member_id = await conn.fetchval(SQL.member_id_by_number, number)
        await conn.execute(SQL.approve_application, row["id"], member_id, actor)
    return {"id": row["id"], "status": "approved", "member_no": number}


async def decline(
    conn: asyncpg.Connection,
    *,
    application_id: int,
    branch: str | None,
    reason: str,
    actor: str,
) -> dict[str, Any]:
    """Decline with a reason the applicant sees when they look the application up."""
    text = clean_text(reason, field="reason", max_length=REASON_MAX, required=True)
    async with conn.transaction():
        row = await _open_application(conn, application_id=application_id, branch=branch)
        await conn.execute(SQL.decline_application, row["id"], text, actor)
    return {"id": row["id"], "status": "declined", "decline_reason": text}


EXPIRED_REASON = (
    "超过 {days} 天没有处理，申请已自动关闭；如仍需入会，请重新申请。"
    " (Not handled within {days} days, so it was closed; please apply again.)"
)


async def expire(conn: asyncpg.Connection, *, days: int) -> int:
    """Close the open applications unchanged for ``days`` days (their phone erased), so
    no applicant's number stays on file because nobody decided; returns how many."""
    if days < 1:
        raise InvalidInput("days: at least 1", field="days")
    return int(await conn.fetchval(SQL.expire_applications, days, EXPIRED_REASON.format(days=days)))


async def districts(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """The districts a rider may apply in, each with the branch that owns it."""
    return [dict(r) for r in await conn.fetch(SQL.application_districts)]
