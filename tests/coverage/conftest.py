"""Fixtures of the coverage tests: the demo city, and the CLI pointed at the test database."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from stations.settings import get_settings
from tests.fixtures.coverage.demo_city import build_demo_city


@pytest.fixture
async def demo_city(conn):
    await build_demo_city(conn)


@pytest.fixture
def cli_env(settings, monkeypatch):
    """Point the CLI's settings at the test session's database."""
    monkeypatch.setenv("STATIONS_DB_NAME", settings.db.name)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
