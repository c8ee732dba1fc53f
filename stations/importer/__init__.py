"""Importing station files and frames into the catalog (``stations import``).

:func:`import_frame` takes a DataFrame in catalog form; :func:`import_file` reads CSV,
JSON arrays, GeoJSON, GeoPackage, Shapefile and GeoParquet through a mapping file.
Both check every row with :mod:`stations.catalog.rules`, report problems per row, and
write the good rows in one transaction (see :mod:`stations.importer.run`).
"""

from stations.importer.files import import_file
from stations.importer.report import ROW_NUMBERING, ImportReport, Problem
from stations.importer.run import import_frame

__all__ = [
    "ROW_NUMBERING",
    "ImportReport",
    "Problem",
    "import_file",
    "import_frame",
]
