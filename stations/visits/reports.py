"""Campaign reports: bottles, claims and workers reached, by day, station, district, trade.

What a union administrator cites to the higher union ("164 water points, 22万 workers
reached"): for one campaign and a range of local days, the granted claims (one bottle
each, taken from the station's stock), the bottles whose hand-over staff confirmed,
and the distinct members who claimed — in total, today, and per group:

* ``day`` — every local day of the range, days without claims too;
* ``station`` — every station taking part (and any that had claims before it left);
* ``district`` — by the stations' district code;
* ``occupation`` — by the member's occupation (the member list's vocabulary, every
  trade listed, in its order), as the member list says it now.

Distinct members are counted within each group: a rider who claimed on three days
counts once in the total and once on each of those days, so the days do not add up to
the total (nor the stations, nor the districts). Claims and hand-overs do add up.

Besides the groups: each prize pool (total, awarded, left), the stations whose stock
ran out on days of the range, the active stations without a claim for
``silent_days`` days, and members' ratings of the stations in the range with their
reports that a listing is wrong (no water, closed although listed open).
:func:`report_tables` turns a report into the titled tables that the CSV and XLSX
exports write (:mod:`stations.tables`), with zh or en headers.

A report is branch-scoped like every administrator read: the caller's branch must run
the campaign or be above the branch that does (:func:`stations.people.branches.check_campaign`).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import asyncpg

from stations.catalog.vocab import OCCUPATIONS
from stations.errors import InvalidInput
from stations.people import branches
from stations.sql import load
from stations.tables import Table

SQL = load("reports")

Group = Literal["day", "station", "district", "occupation"]
GROUPS: tuple[Group, ...] = ("day", "station", "district", "occupation")
MAX_DAYS = 3660
"""Longest range of a report, in days (ten years: a by-day table stays a table)."""
DEFAULT_SILENT_DAYS = 3

_QUERIES = {
    "day": "report_by_day",
    "station": "report_by_station",
    "district": "report_by_district",
    "occupation": "report_by_occupation",
}


def parse_groups(text: str | None) -> list[Group]:
    """``day`` or several comma-separated (``day,station``), each once, in the given order."""
    names = [p.strip() for p in (text or "day").split(",") if p.strip()]
    unknown = [n for n in names if n not in GROUPS]
    if unknown or not names:
        raise InvalidInput(
            f"group: {', '.join(unknown) or '(empty)'} is not a report group; use one or "
            f"more of {', '.join(GROUPS)}, comma-separated",
            field="group",
        )
    out: list[Group] = []
    for name in names:
        if name not in out:
            out.append(name)  # type: ignore[arg-type]
    return out


async def campaign_report(
    conn: asyncpg.Connection,
    *,
    campaign_id: int,
    groups: list[Group] | None = None,
    from_day: date | None = None,
    to_day: date | None = None,
    silent_days: int = DEFAULT_SILENT_DAYS,
    branch: str | None = None,
) -> dict[str, Any]:
    """The report of a campaign over its local days ``from_day``..``to_day`` (both
    included; by default the campaign's first day up to its last day or today,
    whichever is first: the latest local today of its stations).

    Forbidden (``outside_branch``) when ``branch`` neither runs the campaign nor is above
    the branch that does; 404 ``campaign_not_found`` when there is none.
    """
    await branches.check_campaign(conn, branch=branch, campaign_id=campaign_id)
    if not 1 <= silent_days <= 365:
        raise InvalidInput("silent_days: 1 to 365 days", field="silent_days")
    chosen = groups or ["day"]
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        # One snapshot: totals, groups and lists agree even while claims come in.
        campaign = await conn.fetchrow(
            "SELECT id, name, starts_on, ends_on, branch, status FROM campaigns WHERE id = $1",
            campaign_id,
        )
        first = from_day or campaign["starts_on"]
        last = to_day or min(
            campaign["ends_on"], await conn.fetchval(SQL.report_today, campaign_id)
        )
        if last < first:
            field = "to" if to_day is not None else "from"
            raise InvalidInput(
                f"{field}: the range ends ({last.isoformat()}) before it starts "
                f"({first.isoformat()}); give from ≤ to",
                field=field,
            )
        if (last - first).days + 1 > MAX_DAYS:
            raise InvalidInput(
                f"to: a report covers at most {MAX_DAYS} days; shorten the range", field="to"
            )
        totals = dict(await conn.fetchrow(SQL.report_totals, campaign_id, first, last))
        tables: dict[str, list[dict[str, Any]]] = {}
        for group in chosen:
            rows = [
                dict(r)
                for r in await conn.fetch(getattr(SQL, _QUERIES[group]), campaign_id, first, last)
            ]
            tables[group] = _with_occupations(rows) if group == "occupation" else rows
        prizes = [dict(r) for r in await conn.fetch(SQL.report_prizes, campaign_id, first, last)]
        stock_out = [
            dict(r) for r in await conn.fetch(SQL.report_stock_out, campaign_id, first, last)
        ]
        silent = [
            dict(r)
            for r in await conn.fetch(SQL.report_silent, campaign_id, first, last, silent_days)
        ]
        ratings = [dict(r) for r in await conn.fetch(SQL.report_ratings, campaign_id, first, last)]
    return {
        "campaign": dict(campaign),
        "from": first,
        "to": last,
        "silent_days": silent_days,
        "totals": totals,
        "groups": tables,
        "prizes": prizes,
        "stock_out": stock_out,
        "silent": silent,
        "ratings": ratings,
    }


def _with_occupations(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every trade of the vocabulary, in its order, with its words; zeros included."""
    found = {r["occupation"]: r for r in rows}
    out = []
    for key, (zh, en) in OCCUPATIONS.items():
        row = found.get(key, {"claims": 0, "handed_over": 0, "members": 0})
        out.append(
            {
                "occupation": key,
                "label_zh": zh,
                "label_en": en,
                "claims": row["claims"],
                "handed_over": row["handed_over"],
                "members": row["members"],
            }
        )
    return out


# --- the report as tables (CSV and XLSX) ---------------------------------------------------

Lang = Literal["zh", "en"]

_WORDS: dict[str, tuple[str, str]] = {
    "summary": ("汇总", "Summary"),
    "day": ("按日", "By day"),
    "station": ("按站点", "By station"),
    "district": ("按区县", "By district"),
    "occupation": ("按职业", "By occupation"),
    "prizes": ("奖品", "Prizes"),
    "stock_out": ("断水站点", "Stock out"),
    "silent": ("无人领取站点", "No claims"),
    "ratings": ("评价与反映", "Ratings and reports"),
    "rating_count": ("评价数", "Ratings"),
    "mean_stars": ("平均星级", "Mean stars"),
    "no_water": ("反映没水", "Reported no water"),
    "closed_when_listed_open": ("反映显示开放但关闭", "Reported closed while listed open"),
    "item": ("项目", "Item"),
    "value": ("数值", "Value"),
    "campaign": ("活动", "Campaign"),
    "from": ("起始日", "From"),
    "to": ("截止日", "To"),
    "claims": ("领取(瓶)", "Claims (bottles)"),
    "handed_over": ("已确认交付(瓶)", "Handed over (bottles)"),
    "members": ("惠及会员(人)", "Members reached"),
    "prizes_won": ("中奖(份)", "Prizes won"),
    "stations": ("站点数", "Stations"),
    "stations_with_claims": ("有领取的站点", "Stations with claims"),
    "claims_today": ("今日领取(瓶)", "Claims today"),
    "handed_over_today": ("今日已交付(瓶)", "Handed over today"),
    "members_today": ("今日惠及会员(人)", "Members today"),
    "date": ("日期", "Date"),
    "code": ("站点编号", "Station code"),
    "name": ("站点名称", "Station"),
    "district_name": ("区县", "District"),
    "district_code": ("区县代码", "District code"),
    "last_claim_day": ("最近领取日", "Last claim"),
    "trade": ("职业", "Occupation"),
    "prize": ("奖品", "Prize"),
    "total": ("总数", "Total"),
    "awarded": ("已发出", "Awarded"),
    "awarded_in_range": ("期间发出", "Awarded in range"),
    "remaining": ("剩余", "Left"),
    "days_out": ("断水天数", "Days out"),
    "last_day_out": ("最近断水日", "Last day out"),
    "out_today": ("今日断水", "Out today"),
    "days_silent": ("连续无领取天数", "Days without claims"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
}


def word(key: str, lang: Lang) -> str:
    zh, en = _WORDS[key]
    return zh if lang == "zh" else en


def report_tables(
    report: dict[str, Any], *, lang: Lang = "zh", summary: bool = True
) -> list[Table]:
    """The report's tables with headers in ``lang``: the summary (when asked), each
    group asked for, then prizes, stations out of stock and silent stations."""

    def w(key: str) -> str:
        return word(key, lang)

    counts = [w("claims"), w("handed_over"), w("members")]
    tables: list[Table] = []
    if summary:
        t = report["totals"]
        rows: list[list[Any]] = [
            [w("campaign"), report["campaign"]["name"]],
            [w("from"), report["from"]],
            [w("to"), report["to"]],
            [w("stations"), t["stations"]],
            [w("stations_with_claims"), t["stations_with_claims"]],
            [w("claims"), t["claims"]],
            [w("handed_over"), t["handed_over"]],
            [w("members"), t["members"]],
            [w("prizes_won"), t["prizes"]],
            [w("claims_today"), t["claims_today"]],
            [w("handed_over_today"), t["handed_over_today"]],
            [w("members_today"), t["members_today"]],
        ]
        tables.append(Table(w("summary"), [w("item"), w("value")], rows))
    for group, rows_of in report["groups"].items():
        if group == "day":
            table = Table(
                w("day"),
                [w("date"), *counts],
                [[r["day"], r["claims"], r["handed_over"], r["members"]] for r in rows_of],
            )
        elif group == "station":
            table = Table(
                w("station"),
                [w("code"), w("name"), w("district_name"), *counts, w("last_claim_day")],
                [
                    [
                        r["code"],
                        r["name"],
                        r["district"],
                        r["claims"],
                        r["handed_over"],
                        r["members"],
                        r["last_claim_day"],
                    ]
                    for r in rows_of
                ],
            )
        elif group == "district":
            table = Table(
                w("district"),
                [w("district_code"), w("district_name"), w("stations"), *counts],
                [
                    [
                        r["district_code"],
                        r["district"],
                        r["stations"],
                        r["claims"],
                        r["handed_over"],
                        r["members"],
                    ]
                    for r in rows_of
                ],
            )
        else:
            label = "label_zh" if lang == "zh" else "label_en"
            table = Table(
                w("occupation"),
                [w("trade"), *counts],
                [[r[label], r["claims"], r["handed_over"], r["members"]] for r in rows_of],
            )
        tables.append(table)
    if not summary:
        return tables
    tables.append(
        Table(
            w("prizes"),
            [w("prize"), w("total"), w("awarded"), w("awarded_in_range"), w("remaining")],
            [
                [p["name"], p["total"], p["awarded"], p["awarded_in_range"], p["remaining"]]
                for p in report["prizes"]
            ],
        )
    )
    tables.append(
        Table(
            w("stock_out"),
            [
                w("code"),
                w("name"),
                w("district_name"),
                w("days_out"),
                w("last_day_out"),
                w("out_today"),
            ],
            [
                [
                    s["code"],
                    s["name"],
                    s["district"],
                    s["days_out"],
                    s["last_day_out"],
                    w("yes") if s["out_today"] else w("no"),
                ]
                for s in report["stock_out"]
            ],
        )
    )
    tables.append(
        Table(
            w("silent"),
            [w("code"), w("name"), w("district_name"), w("last_claim_day"), w("days_silent")],
            [
                [s["code"], s["name"], s["district"], s["last_claim_day"], s["days_silent"]]
                for s in report["silent"]
            ],
        )
    )
    tables.append(
        Table(
            w("ratings"),
            [
                w("code"),
                w("name"),
                w("district_name"),
                w("rating_count"),
                w("mean_stars"),
                w("no_water"),
                w("closed_when_listed_open"),
            ],
            [
                [
                    r["code"],
                    r["name"],
                    r["district"],
                    r["ratings"],
                    r["mean_stars"],
                    r["no_water"],
                    r["closed_when_listed_open"],
                ]
                for r in report["ratings"]
            ],
        )
    )
    return tables
