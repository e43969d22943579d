"""The country outlines (Natural Earth 1:50m, shipped with the package) and land made of them,
loaded once per process at first use."""

import json
import threading
from functools import lru_cache, wraps
from importlib import resources

import shapely
from shapely.geometry import shape

COUNTRIES_FILE = "ne_50m_admin_0_countries_iso3.geojson"
# codes of ISIMIP's country masks that Natural Earth has no outline of (overseas departments,
# Antarctica, small island groups): they need COUNTRYMASKS_FILE_PATH
ISIMIP_ONLY_COUNTRIES = frozenset(
    {"REU", "MTQ", "GLP", "GUF", "MYT", "SJM", "ANT", "CSID", "IOSID", "PSID", "JKX"}
)
LAND_EXCLUDED_ISO3 = frozenset({"ATA"})  # ISIMIP land masks leave out Antarctica


def once(build):
    """Build a value at its first use and keep it; threads that ask meanwhile wait for that one
    build instead of each doing it (20 requests at once on a cold API each built the catalogue)."""
    lock, cached = threading.Lock(), lru_cache(maxsize=1)(build)

    def get():
        with lock:
            return cached()

    get.cache_clear = cached.cache_clear
    return wraps(build)(get)


@once
def outlines_stamp() -> str:
    """A short hash of the outlines shipped: what is built from them is kept under it."""
    import hashlib

    data = resources.files(__package__).joinpath("data").joinpath(COUNTRIES_FILE).read_bytes()
    return hashlib.sha256(data).hexdigest()[:16]


@once
def country_catalogue() -> dict[str, tuple[str, shapely.Geometry]]:
    """ISO3 code -> (name, geometry) for every Natural Earth 1:50m country."""
    text = resources.files(__package__).joinpath("data").joinpath(COUNTRIES_FILE).read_text("utf-8")
    catalogue = {}
    for feature in json.loads(text)["features"]:
        geometry = shape(feature["geometry"])
        shapely.prepare(geometry)
        catalogue[feature["properties"]["ISO_A3"]] = (feature["properties"]["NAME"], geometry)
    return catalogue


def country_names() -> list[tuple[str, str]]:
    """(ISO3, name) of every country, sorted by name, for pickers."""
    return sorted(((code, name) for code, (name, _) in country_catalogue().items()), key=lambda item: item[1])


@once
def land_geometry():
    """Every country polygon but Antarctica's, as one multipolygon (parts not merged)."""
    parts = []
    for code, (_, geometry) in country_catalogue().items():
        if code not in LAND_EXCLUDED_ISO3:
            parts.extend(shapely.get_parts(geometry))
    return shapely.MultiPolygon(parts)
