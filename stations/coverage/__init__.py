"""Coverage of outdoor workers by stations: bands, regions, analysis, site suggestions.

The 15-minute service circle (15分钟服务圈) asks that every outdoor worker be within
reach of a station. :mod:`.analysis` measures it per H3 cell of a region,
:mod:`.suggestions` picks sites that cover the most demand left out, and
:mod:`.dask_engine` runs the same analysis on a cluster for national runs.
"""
