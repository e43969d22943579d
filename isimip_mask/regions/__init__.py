"""Regions: what a user can ask to keep, and which cells of a grid that is.

The region kinds, small frozen dataclasses with a registry by ``kind`` (``kinds``: box,
polygon, country, land only, point, mask file, touch rule, intersections), sets of regions or
points for tables (``sets``), polygons from uploads (``shapes``), the Natural Earth countries
and land (``countries``), and the cells a region keeps on a grid: masks held over the region's
window (``masks``), the row-by-row rasteriser of outlines (``scanline``) and the share of each
cell a region covers (``coverage``).

May import: ``files`` and the ground.
"""
