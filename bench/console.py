"""Page weight of the staff console: bytes on the wire for a first load, in Chromium.

    .venv/bin/python bench/console.py

Issue 17 asks for a first load of ``/staff/`` of at most 400 kB *including the map
library* (Leaflet, vendored). The console loads Leaflet only on the pages that draw a
map, so two figures are printed: the console's first load alone, and the first load
plus the map library as a map page fetches it (``leaflet.js`` and ``leaflet.css``, from
the service). The peer is the rider page, whose first load includes Leaflet: its figure
comes from the same run, with the ratio. Sizes are ``transferSize`` from the browser's
Resource Timing (headers and gzip included), on a fresh context (empty cache).

Builds its own database ``stations_bench_console`` on the project's cluster (the app's
lifespan needs a migrated one; no rows are needed) and drops it at the end. Serves the
app with uvicorn in a thread, like the browser tests; Debian's Chromium, every request
outside the service aborted.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stations.db import admin as dbadmin  # noqa: E402
from stations.db import embedded  # noqa: E402
from stations.settings import Settings, TileSettings  # noqa: E402

DATABASE = "stations_bench_console"
BUDGET = 400_000
TRANSFERRED = """() => [...performance.getEntriesByType("navigation"),
                       ...performance.getEntriesByType("resource")]
                      .reduce((sum, e) => sum + e.transferSize, 0)"""
WITH_MAP = """async () => {
    const api = [...document.querySelectorAll("link[rel=modulepreload]")]
        .find((l) => l.href.includes("/common/scripts.js")).href;
    const { loadScript } = await import(api);
    await loadScript("/static/maps/vendor/leaflet-1.9.3/leaflet.js");
    await fetch("/static/maps/vendor/leaflet-1.9.3/leaflet.css");
}"""


async def measure(settings: Settings) -> dict[str, int]:
    from api.main import create_app
    from tests.browser.chromium import Watch, chromium, gate, serve

    app = create_app(settings.model_copy(update={"tiles": TileSettings(url=None)}))
    figures: dict[str, int] = {}
    async with serve(app) as base, chromium() as browser:
        for name, path, ready in (
            ("rider", "/", "#stations"),
            ("console", "/staff/", "#signin-name"),
        ):
            watch = Watch()
            context = await browser.new_context(locale="zh-CN", service_workers="block")
            page = await context.new_page()
            await gate(page, base + "/", watch)
            await page.goto(base + path)
            await page.wait_for_selector(ready, state="attached")
            await page.wait_for_load_state("networkidle")
            figures[name] = await page.evaluate(TRANSFERRED)
            if name == "console":
                await page.evaluate(WITH_MAP)
                figures["console_with_map"] = await page.evaluate(TRANSFERRED)
            await context.close()
            if watch.blocked:
                raise SystemExit(f"{name} page asked for outside resources: {watch.blocked}")
    return figures


def main() -> None:
    settings = Settings()
    settings = settings.model_copy(update={"db": settings.db.model_copy(update={"name": DATABASE})})
    if settings.db.embedded:
        embedded.start(settings.db)

    async def prepare() -> None:
        await dbadmin.drop_database(settings.db, DATABASE)
        await dbadmin.create_database(settings.db, DATABASE)
        await dbadmin.migrate(settings.db, database=DATABASE)

    asyncio.run(prepare())
    try:
        figures = asyncio.run(measure(settings))
    finally:
        asyncio.run(dbadmin.drop_database(settings.db, DATABASE))
    console, with_map, rider = figures["console"], figures["console_with_map"], figures["rider"]
    print(f"staff console first load:        {console / 1000:7.1f} kB")
    budget = f"(budget {BUDGET / 1000:.0f} kB)"
    print(f"  plus the map library (Leaflet): {with_map / 1000:7.1f} kB  {budget}")
    print(f"rider page first load (peer):     {rider / 1000:7.1f} kB")
    print(f"console with map / rider page:    {with_map / rider:7.2f}×")
    if with_map > BUDGET:
        raise SystemExit("the console's first load with the map library is over budget")


if __name__ == "__main__":
    main()
