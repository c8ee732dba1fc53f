"""``stations branches add | list``: the union branches (省总 → 市总 → 区县总工会).

A branch is named by the district code prefix it owns; its administrators and planners
(``stations accounts add NAME --role admin --branch CODE``) see and change only what
is under it. The national root needs no entry: accounts made without ``--branch``, and
the settings' administrator token, are national.
"""

from __future__ import annotations

import typer

from stations.cli.runner import run_connected
from stations.people import branches

app = typer.Typer(help="Union branches: who owns which districts, stations and campaigns.")


@app.command()
def add(
    code: str = typer.Argument(
        ..., help="District code prefix it owns: 34 (province), 3406 (city), 340603 (district)."
    ),
    name: str = typer.Argument(..., help="e.g. 淮北市总工会"),
) -> None:
    """Add a union branch."""
    row = run_connected(lambda conn: branches.add_branch(conn, code=code, name=name))
    print(f"{branches.level(row['code'])} branch {row['code']} {row['name']} added")


@app.command("list")
def list_() -> None:
    """Every branch, indented under the branch above it."""
    rows = run_connected(lambda conn: branches.list_branches(conn, under=None))
    depth: dict[str, int] = {}
    print("national root (全国): the settings' administrator token, accounts without --branch")
    for row in rows:
        depth[row["code"]] = depth.get(row["parent"], 0) + 1 if row["parent"] else 1
        indent = "  " * depth[row["code"]]
        print(f"{indent}{row['code']:8} {row['level']:9} {row['name']}")
