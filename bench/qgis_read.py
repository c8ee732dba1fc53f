"""Read /ogc with QGIS's own OAPIF provider, as a planner's QGIS does; print what it saw.

    /usr/bin/python3 bench/qgis_read.py http://127.0.0.1:PORT/ogc

Run by ``bench/ogc.py`` with Debian's Python and ``python3-qgis`` (not the project's
virtualenv: QGIS's Python bindings are built for the system's interpreter), with no
screen (Qt's offscreen platform). Prints one JSON object: the layers QGIS lists, each
collection's feature count as QGIS reports it, the features QGIS iterated page by page
(ids and positions of the water points), the count of a subset string QGIS evaluates,
and the first water point transformed by QGIS into EPSG:4490.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsProject,
    QgsProviderRegistry,
    QgsVectorLayer,
)


def layer(url: str, typename: str, page_size: int = 1000) -> QgsVectorLayer:
    uri = f"url='{url}' typename='{typename}' pageSize='{page_size}'"
    found = QgsVectorLayer(uri, typename, "OAPIF")
    if not found.isValid():
        raise SystemExit(f"QGIS could not open {typename}: {found.error().summary()}")
    return found


def main() -> None:
    url = sys.argv[1]
    app = QgsApplication([], False)
    app.initQgis()
    try:
        metadata = QgsProviderRegistry.instance().providerMetadata("OAPIF")
        if metadata is None:
            raise SystemExit("this QGIS has no OAPIF provider")
        stations = layer(url, "stations")
        water = layer(url, "water_points")
        points = []
        for feature in water.getFeatures():
            geometry = feature.geometry().asPoint()
            points.append([feature["code"], geometry.y(), geometry.x()])
        subset = layer(url, "stations")
        subset.setSubsetString("kind = 'water_point' AND status = 'active'")
        active_water = sum(1 for _ in subset.getFeatures())
        to_cgcs = QgsCoordinateTransform(
            water.crs(), QgsCoordinateReferenceSystem("EPSG:4490"), QgsProject.instance()
        )
        first = next(iter(water.getFeatures()))
        moved = to_cgcs.transform(first.geometry().asPoint())
        print(
            json.dumps(
                {
                    "qgis": Qgis.QGIS_VERSION,
                    "stations_count": stations.featureCount(),
                    "water_count": water.featureCount(),
                    "water_points": points,
                    "active_water_points": active_water,
                    "crs": water.crs().authid(),
                    "first_code": first["code"],
                    "first_in_4490": [moved.y(), moved.x()],
                }
            )
        )
    finally:
        sys.stdout.flush()
        # QGIS 3.22's teardown (exitQgis) crashes without a display once the OAPIF
        # provider has run; everything is printed by now, so leave without it.
        os._exit(0)


if __name__ == "__main__":
    main()
