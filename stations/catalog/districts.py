"""District codes and the union branch that owns them: the one rule of tenancy.

A union branch is named by the district code prefix it owns (GB/T 2260: ``34`` Anhui,
``3406`` Huaibei, ``340603`` Xiangshan); a record is under a branch when its district
code starts with the branch's code. The national root (``None``) owns everything, also
records with no district. The database's ``in_branch(code, branch)`` is the same rule
in SQL; :mod:`stations.people.branches` keeps the branches themselves.
"""

from __future__ import annotations

from typing import Any

from stations.errors import Forbidden

NATIONAL = "national"


def covers(branch: str | None, code: str | None) -> bool:
    """Whether ``code`` (a district code or a branch's code) is under ``branch``.

    The same rule as the database's ``in_branch``, for values already in hand.
    """
    return branch is None or (code is not None and code.startswith(branch))


def outside(branch: str | None, detail: str, **facts: Any) -> Forbidden:
    return Forbidden(
        f"{detail}; your union branch is {branch or NATIONAL}",
        code="outside_branch",
        branch=branch,
        **facts,
    )


def check_district(branch: str | None, district_code: str | None) -> None:
    """Refuse a record (a new station, a station moved) whose district is not under ``branch``."""
    if not covers(branch, district_code):
        raise outside(
            branch,
            f"district code {district_code or '(none)'} is not under your branch; "
            "give the station a district code of your branch",
            district_code=district_code,
        )
