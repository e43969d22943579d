"""isimip-mask: mask regions of ISIMIP NetCDF files, from a page, an HTTP API, a queue or a script."""

__version__ = "0.1.0"
