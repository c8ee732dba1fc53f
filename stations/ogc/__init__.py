"""OGC API – Features over the catalog, read by GIS clients (QGIS, GDAL, OWSLib).

The documents and feature pages of ``/ogc`` as plain data: :mod:`.collections` names
the collections (a station kind narrowed view of the catalog each), :mod:`.params`
parses a request's query parameters once (every mistake a 400 with its parameter
named, as the standard asks), :mod:`.features` reads pages of features from PostGIS,
:mod:`.documents` shapes the landing page, conformance, collections, queryables and
GeoJSON, and :mod:`.openapi` writes the OpenAPI 3.0 description of it all. The routes
in ``api/routes/ogc.py`` only acquire a connection, call these and pick the media type.
"""
