"""Files: everything about the files on disk and what is in them.

NetCDF reading and atomic writing (``netcdf``: layout, fill values, chunks, mask files), a
file's grid (``grid``), the data root's path guard (``paths``), listing, searching and
describing datasets (``datasets``), ISIMIP facets read from paths, the period in a name among
them (``facets``), periods and calendar windows on a time axis (``timeaxis``, ``steps``), and
where results live (``results``).

May import: the ground (``settings``, ``errors``) only.
"""
