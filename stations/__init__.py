"""Love Stations: a catalog of rest stations and water points for outdoor workers.

The package is the domain: plain functions over an asyncpg connection. It never imports
FastAPI; the HTTP layer lives in ``api/`` and the command line in ``stations.cli``.
"""
