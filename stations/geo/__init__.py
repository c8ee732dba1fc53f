"""Geometry at the boundary: coordinate systems, H3 cells, points on the unit sphere."""
