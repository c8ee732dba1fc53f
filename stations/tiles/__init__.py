"""Vector tiles of the catalog (Mapbox Vector Tiles in the WebMercatorQuad grid).

* :mod:`stations.tiles.grid` — the tile grid: a tile's checks, its bounds, what it shows;
* :mod:`stations.tiles.build` — one tile, built by PostGIS (``ST_AsMVT``);
* :mod:`stations.tiles.cache` — built tiles kept with their ETag until the catalog changes.
"""
