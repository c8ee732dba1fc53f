"""``stations coverage report``: the coverage analysis of a region, as files for planners.

Writes the map (one self-contained HTML file: no network needed to open it), the gap
table as CSV and every cell as GeoJSON (FlatGeobuf beyond :data:`GEOJSON_MAX_CELLS`
cells, where GeoJSON would weigh hundreds of megabytes), and prints the summary.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer

from stations.cli.runner import run_connected
from stations.errors import InvalidInput
from stations.settings import Settings, get_settings

app = typer.Typer(help="Coverage of outdoor workers by stations (15-minute service circle).")

GEOJSON_MAX_CELLS = 100_000
"""Up to this many cells the cell file is GeoJSON (about 600 bytes a cell, ~60 MB);
beyond, FlatGeobuf: a third of the size, indexed, read by GDAL and QGIS."""


def _say(message: str) -> None:
    print(f"[coverage] {message}", flush=True)


@app.command()
def report(
    city: str = typer.Option(None, help="A city outline shipped with the service (huaibei, xian)."),
    bbox: str = typer.Option(None, help="min_lng,min_lat,max_lng,max_lat in WGS84."),
    polygon: Annotated[
        Path | None, typer.Option(help="A GeoJSON file with the region's polygon.")
    ] = None,
    district: str = typer.Option(None, help="A district named by the stations."),
    res: int = typer.Option(
        None, help="H3 resolution 7–10 (default STATIONS_H3_COVERAGE_DEFAULT)."
    ),
    amenity: Annotated[
        list[str] | None, typer.Option(help="Only stations with this amenity (repeatable).")
    ] = None,
    open_at: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"],
            help="Only stations open then, e.g. 2025-07-01T12:00+0800.",
        ),
    ] = None,
    target: str = typer.Option(None, help="Band of the service circle (default walk_15min)."),
    walk_kmh: float = typer.Option(None, help="Walking speed for the minutes bands."),
    ebike_kmh: float = typer.Option(None, help="E-bike speed for the minutes bands."),
    suggest: int = typer.Option(0, help="Also pick this many new sites."),
    min_gain: float = typer.Option(
        None, help="Least demand a suggested site must add (default 1% of the region's)."
    ),
    candidates: Annotated[
        Path | None, typer.Option(help="CSV/GeoJSON of candidate sites to pick from.")
    ] = None,
    candidates_crs: str = typer.Option(None, help="CRS of --candidates (wgs84, gcj02, EPSG:n)."),
    engine: str = typer.Option("numpy", help="numpy (this machine) or dask (partitioned)."),
    workers: int = typer.Option(2, min=1, help="Local dask workers for --engine dask."),
    lang: str = typer.Option("zh", help="Labels: zh or en."),
    top: int = typer.Option(20, help="Worst-served cells in the printed summary."),
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The map; CSV and GeoJSON beside it.")
    ] = Path("coverage-report.html"),
) -> None:
    """Analyse a region; write the map, the gap table (CSV) and the cells (GeoJSON)."""
    if lang not in ("zh", "en"):
        raise InvalidInput(f"lang: {lang!r}; allowed values: zh, en", field="lang")
    if engine not in ("numpy", "dask"):
        raise InvalidInput(f"engine: {engine!r}; allowed values: numpy, dask", field="engine")
    polygon_text = polygon.read_text(encoding="utf-8") if polygon else None
    summary = _report(
        city=city,
        bbox=bbox,
        polygon=polygon_text,
        district=district,
        res=res,
        amenities=tuple(amenity or ()),
        open_at=open_at,
        target=target,
        walk_kmh=walk_kmh,
        ebike_kmh=ebike_kmh,
        suggest=suggest,
        min_gain=min_gain,
        candidates=candidates,
        candidates_crs=candidates_crs,
        engine=engine,
        workers=workers,
        lang=lang,
        top=top,
        output=output,
    )
    t = summary["target"]
    share = t["covered_share"]
    _say(
        f"{summary['region']['label']}: {summary['cells']:,} cells at res {summary['resolution']}, "
        f"{summary['stations_used']} stations, demand {summary['demand']['total']:,.1f}"
    )
    _say(f"{t['label']}: " + ("no demand" if share is None else f"{share * 100:.1f}% of demand"))
    for row in summary["bands"]:
        share_text = "—" if row["share"] is None else f"{row['share'] * 100:5.1f}%"
        _say(f"  {row['label']:<32} {row['cells']:>9,} cells  {share_text}")
    _say(summary["notes"][0])


def _report(**kw: Any) -> dict[str, Any]:
    from maps.assets import render_html
    from maps.coverage import build_coverage_map
    from stations.coverage.export import gap_csv, gap_rows
    from stations.geo.crs import WGS84
    from stations.tiles.reference import reference_layer

    settings = get_settings()
    result, suggestions, stations = run_connected(lambda conn: _analyse(conn, settings, **kw))
    m = build_coverage_map(
        result,
        stations=stations,
        suggestions=suggestions,
        lang=kw["lang"],
        tiles=settings.tiles,
        reference=reference_layer(),
    )
    _write_files(
        kw["output"],
        result,
        lang=kw["lang"],
        html=render_html(m, assets="inline"),
        gaps=gap_csv(gap_rows(result, crs=WGS84)),
    )
    summary = result.summary(kw["lang"])
    if suggestions is not None:
        summary["suggestions"] = suggestions.as_dict(kw["lang"])
        for row in suggestions.rows:
            _say(f"site #{row['rank']}: {row['lat']}, {row['lng']} (+{row['gain']:,.1f} demand)")
        if suggestions.stopped_at_min_gain:
            _say(
                f"{len(suggestions.rows)} of {kw['suggest']} sites: the next would add less "
                f"than {suggestions.min_gain:,.1f} demand (--min-gain)"
            )
    return summary


async def _analyse(conn: asyncpg.Connection, settings: Settings, **kw: Any) -> tuple[Any, Any, Any]:
    """The analysis, its suggested sites and the stations to draw: what needs the database."""
    from stations.coverage.analysis import CoverageRequest, analyse_coverage, resolve_region
    from stations.coverage.bands import band_set
    from stations.coverage.demand import read_points_file
    from stations.coverage.mapdata import load_map_stations
    from stations.coverage.suggestions import candidates_from_frame, suggest_sites

    region = await resolve_region(
        conn, bbox=kw["bbox"], polygon=kw["polygon"], district=kw["district"], city=kw["city"]
    )
    request = CoverageRequest(
        region=region,
        res=kw["res"] or settings.h3.coverage_default,
        bands=band_set(
            settings=settings.coverage,
            walk_kmh=kw["walk_kmh"],
            ebike_kmh=kw["ebike_kmh"],
            target=kw["target"],
        ),
        amenities=kw["amenities"],
        open_at=kw["open_at"],
        top_n=kw["top"],
    )
    client = cluster = None
    if kw["engine"] == "dask":
        from dask.distributed import Client

        from stations.coverage.dask_engine import local_cluster

        cluster = local_cluster(kw["workers"])
        client = Client(cluster)
    try:
        result = await analyse_coverage(conn, request=request, engine=kw["engine"], client=client)
    finally:
        if client is not None:
            client.close()
            cluster.close()  # type: ignore[union-attr]
    suggestions = None
    if kw["suggest"]:
        cands = None
        if kw["candidates"]:
            frame, crs = read_points_file(kw["candidates"], crs=kw["candidates_crs"])
            cands = candidates_from_frame(frame, crs=crs)
        suggestions = suggest_sites(
            result, n=kw["suggest"], candidates=cands, min_gain=kw["min_gain"]
        )
    stations = await load_map_stations(
        conn, region=region, at=datetime.now(UTC), margin_m=result.bands.reach_m
    )
    return result, suggestions, stations


def _write_files(output: Path, result: Any, *, lang: str, html: str, gaps: str) -> None:
    from stations.coverage.export import cells_geojson, write_cells_flatgeobuf
    from stations.geo.crs import WGS84

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")
    gaps_path = output.with_name(output.stem + "-gaps.csv")
    gaps_path.write_text(gaps, encoding="utf-8-sig")  # with a BOM: Excel reads it as UTF-8
    count = len(result.cells)
    if count <= GEOJSON_MAX_CELLS:
        cells_path = output.with_name(output.stem + "-cells.geojson")
        body = cells_geojson(result, crs=WGS84, lang=lang)
        cells_path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        how = "cells as GeoJSON"
    else:
        cells_path = output.with_name(output.stem + "-cells.fgb")
        write_cells_flatgeobuf(result, cells_path, lang=lang)
        how = (
            f"cells as FlatGeobuf ({count:,} cells, more than {GEOJSON_MAX_CELLS:,}: GeoJSON "
            "would be too large; GDAL and QGIS read it)"
        )
    _say(f"wrote {output} ({output.stat().st_size / 1e6:.2f} MB), {gaps_path}")
    _say(f"wrote {cells_path} ({cells_path.stat().st_size / 1e6:.2f} MB): {how}")
