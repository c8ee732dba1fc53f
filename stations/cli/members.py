"""``stations members import | suspend | reinstate | expire-applications``: the union's
member list, and membership applications nobody decided."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import typer

from stations.catalog.vocab import MemberStatus
from stations.cli.runner import run_connected
from stations.people import applications, members
from stations.settings import get_settings

app = typer.Typer(help="Union members: import the member list, suspend, reinstate.")


@app.command("import")
def import_(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV export (UTF-8 or GBK) or Excel .xlsx."
    ),
    sheet: str | None = typer.Option(
        None, "--sheet", help="The sheet of an Excel workbook (default: the first)."
    ),
    report: Path | None = typer.Option(None, help="Write the per-row report to this CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Create or update members from a CSV or Excel export; importing twice changes nothing.

    Columns (English or Chinese names): member_no/会员号, phone/手机号, occupation/职业,
    and optionally name/姓名, employer/所属平台, status/状态. Phones are stored only as
    a keyed hash.
    """
    security = get_settings().security
    result = run_connected(
        lambda conn: members.import_file(conn, path=file, security=security, sheet=sheet)
    )
    rows = [
        {
            "row": r.row,
            "member_no": r.member_no,
            "action": r.action,
            "changed": ";".join(r.changed),
            "problems": " | ".join(r.problems),
        }
        for r in result.rows
    ]
    if report is not None:
        with report.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["row"])
            writer.writeheader()
            writer.writerows(rows)
    if as_json:
        body = {"counts": result.counts, "row_numbering": result.row_numbering, "rows": rows}
        print(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            if r["action"] == "rejected":
                print(f"row {r['row']}: rejected: {r['problems']}", file=sys.stderr)
        if result.counts["rejected"]:
            print(result.row_numbering, file=sys.stderr)
        counts = result.counts
        print(
            f"{counts['created']} created, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged, {counts['rejected']} rejected"
        )
    if result.counts["rejected"]:
        raise typer.Exit(2)


def _set_status(member_no: str, status: MemberStatus) -> None:
    run_connected(lambda conn: members.set_status(conn, member_no=member_no, status=status))
    print(f"member {member_no} is {status.value}")


@app.command()
def suspend(member_no: str) -> None:
    """Suspend a member: no sign-in, no claims, no check-ins, no ratings."""
    _set_status(member_no, MemberStatus.SUSPENDED)


@app.command()
def reinstate(member_no: str) -> None:
    """Make a suspended member active again."""
    _set_status(member_no, MemberStatus.ACTIVE)


@app.command("expire-applications")
def expire_applications(
    days: int = typer.Option(90, min=1, help="Close open applications unchanged this long."),
) -> None:
    """Close membership applications nobody decided in DAYS days (run it daily, e.g.
    from cron): the applicant reads that it was closed and may apply again; the phone
    kept for calling back is erased."""
    closed = run_connected(lambda conn: applications.expire(conn, days=days))
    print(f"closed {closed} open applications older than {days} days")
