"""Finding stations: nearest (exact, filtered, in-process index), along a route, text/bbox search.

* :mod:`stations.search.index` — the in-memory index and its exact k-nearest search;
* :mod:`stations.search.columns` — the index's columns (one array per attribute) and tree;
* :mod:`stations.search.batch` — nearest for many points at once, vectorised;
* :mod:`stations.search.service` — loading it and keeping it coherent with PostGIS;
* :mod:`stations.search.filters` — the filters every entry point shares, validated once;
* :mod:`stations.search.openness` — open/closed per hours expression, cached until it changes;
* :mod:`stations.search.render` — answers assembled from JSON rendered once per station;
* :mod:`stations.search.route` — stations along a route;
* :mod:`stations.search.lookup` — search, one station and its history, from PostGIS;
* :mod:`stations.search.live` — rating summary and today's water (filled by the visit work).
"""
