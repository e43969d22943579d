"""The zip of a job of several files, made so that a user can see and redo what was done.

It holds every output, a ``README.txt`` that gives for each output the ``cdo`` command that
makes it from the input file, the masks those commands use (``mask_<region>_<grid>.nc``: 1 where
a cell is kept), the polygons of the region as GeoJSON (an uploaded shape, a drawing), and
``errors.json`` naming the files that failed and why. Paths in it are the
request's own (relative to the data root): no server path is written.
"""

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from shapely.geometry import mapping

from isimip_mask import __version__
from isimip_mask.files.grid import Grid
from isimip_mask.files.netcdf import atomic_output, open_dataset, read_layout, temporary_path, write_mask
from isimip_mask.files.timeaxis import CDO_NAMES
from isimip_mask.regions.kinds import BBox, Point, Shape, Touching, slug
from isimip_mask.regions.masks import grid_mask, nearest_cell
from isimip_mask.regions.sets import PointSet, RegionSet
from isimip_mask.regions.window import mask_bounds
from isimip_mask.requests.plan import Plan


@dataclass(frozen=True)
class Output:
    """One file of the job: the path the request named, the input file and what was written."""

    user_path: str
    source: Path
    path: Path


@dataclass(frozen=True)
class Recipe:
    """The cdo command that makes an output, and the mask it reads (None for boxes and points)."""

    command: str
    mask_name: str | None = None
    grid: Grid | None = None
    cells: np.ndarray | None = None


MASK_RECIPE_CELLS = 16_000_000  # a mask file for cdo is written whole: not for a 30-arcsec grid


def cdo_recipe(plan: Plan, source: Path, output_name: str, masks: dict) -> Recipe:
    """The cdo command that gives ``output_name`` from ``source`` (CSV: the same values, cdo's layout).

    ``masks`` maps a grid (its coordinates) to its mask file, so that files on one grid share one
    mask, built once, and cut-outs of the same size elsewhere get masks of their own.
    """
    with open_dataset(source) as dataset:
        grid = read_layout(dataset, source.name).grid
    region, series = plan.region, plan.is_series
    if isinstance(region, RegionSet | PointSet):
        each = "-fldmean -ifthen <its mask>" if isinstance(region, RegionSet) else "-selindexbox at its cell"
        return Recipe(
            f"(a table of {len(region.names)} {region.kind}; with cdo, one `cdo {each}` per column)"
        )
    if plan.compute_mean and (plan.weights or plan.statistics != ("mean",)):
        return Recipe(statistics_recipe(plan))
    operators = [f"-{CDO_NAMES[plan.window]}"] if plan.window else []
    operators += ["-fldmean"] if plan.compute_mean else []
    recipe = Recipe("")
    if isinstance(region, Point):
        row, col = nearest_cell(grid, region)
        operators.append(f"-selindexbox,{col + 1},{col + 1},{row + 1},{row + 1}")
    elif isinstance(region, BBox):
        box = ",".join(str(v) for v in (region.west, region.east, region.south, region.north))
        operators.append(f"-{'sellonlatbox' if plan.crop else 'masklonlatbox'},{box}")
    elif grid.lat.size * grid.lon.size > MASK_RECIPE_CELLS:
        return Recipe(
            f"(cdo would read a mask of all {grid.lat.size * grid.lon.size:,} cells of this grid; "
            "the mask files of isimip-mask cover the region's window only: use the API)"
        )
    else:
        key = (grid.lat.tobytes(), grid.lon.tobytes())
        if key not in masks:
            base = f"mask_{slug(region.tag)}_{grid.lat.size}x{grid.lon.size}"
            same_size = sum(1 for known in masks.values() if known.mask_name.startswith(base))
            name = f"{base}_{same_size + 1}.nc" if same_size else f"{base}.nc"
            masks[key] = Recipe("", name, grid, grid_mask(grid, region))
        recipe = masks[key]
        cells = recipe.cells
        if plan.crop:
            cut = grid_mask(grid, plan.crop_to) if plan.crop_to is not None else cells  # the chain's grid
            rows, cols = mask_bounds(cut, grid.is_global)
            if np.all(np.diff(cols) == 1):  # cdo cuts one index box; across the grid's edge it needs two
                operators.append(f"-selindexbox,{cols[0] + 1},{cols[-1] + 1},{rows.start + 1},{rows.stop}")
        operators += ["-ifthen", recipe.mask_name]
    if plan.period:
        operators.append(plan.period.cdo_operator)
    if plan.output_csv:
        columns = "date,value" if series else "date,lat,lon,value"
        command = ["cdo", "-s", f"outputtab,{columns},nohead", *operators, source.name, ">", output_name]
    else:
        command = ["cdo", "-f", "nc4c", "-z", "zip_5", "-L", *operators, source.name, output_name]
    return Recipe(" ".join(command), recipe.mask_name, recipe.grid, recipe.cells)


CDO_STATISTICS = {
    "mean": "fldmean",
    "sum": "fldsum -mul <in> -gridarea <in>",
    "min": "fldmin",
    "max": "fldmax",
    "std": "fldstd",
}


def statistics_recipe(plan: Plan) -> str:
    """What cdo needs for the statistics of a region: one command each, on the file masked
    with the region (``-ifthen <its mask>``); weights are beyond one cdo operator."""
    each = [CDO_STATISTICS.get(name, f"fldpctl,{name[1:]}") for name in plan.statistics]
    text = f"(with cdo, one command per statistic on the masked file: {'; '.join('cdo -' + e for e in each)}"
    if plan.weights:
        text += (
            f"; weighted by {plan.weights.var}: cdo -div -fldsum -mul -mul <in> <weights> -gridarea <in> "
            "-fldsum -mul <weights> -gridarea <in>"
        )
    return text + ")"


def shapes(region) -> list[Shape]:
    """The polygons a region is made of (a shape, or the shapes of a chain)."""
    if isinstance(region, Shape):
        return [region]
    parts = getattr(region, "parts", None) or ([region.area] if isinstance(region, Touching) else [])
    return [shape for part in parts for shape in shapes(part)]


def zip_results(
    target_dir: Path, job_id: str, request: dict, plan: Plan, outputs: list[Output], errors: dict
) -> Path:
    """One zip with every output, README.txt, the masks its commands use and errors.json."""
    name = (
        f"download-{job_id}.zip" if plan.upstream else f"isimip-mask_{slug(plan.region.tag)}_{job_id[:8]}.zip"
    )
    target = target_dir / name
    masks: dict = {}
    recipes = {
        output.path.name: cdo_recipe(plan, output.source, output.path.name, masks) for output in outputs
    }
    with atomic_output(target) as partial, zipfile.ZipFile(partial, "w") as archive:
        archive.writestr(
            "README.txt", readme_text(job_id, request, plan, outputs, recipes, errors), zipfile.ZIP_DEFLATED
        )
        if errors:
            archive.writestr(
                "errors.json", json.dumps(errors, indent=2, sort_keys=True), zipfile.ZIP_DEFLATED
            )
        for shape in shapes(plan.region):  # the polygons used, as GeoJSON (an upload, a drawing)
            archive.writestr(
                f"{shape.name}.geojson", json.dumps(mapping(shape.geometry)), zipfile.ZIP_DEFLATED
            )
        for recipe in {r.mask_name: r for r in recipes.values() if r.mask_name}.values():
            mask = write_mask(temporary_path(target_dir / recipe.mask_name), recipe.grid, recipe.cells)
            archive.write(mask, recipe.mask_name, zipfile.ZIP_STORED)
            mask.unlink()
        for output in outputs:  # NetCDF outputs are deflated already; CSV compresses well
            compress = zipfile.ZIP_DEFLATED if output.path.suffix == ".csv" else zipfile.ZIP_STORED
            archive.write(output.path, output.path.name, compress)
    for output in outputs:
        output.path.unlink()
    return target


def readme_text(
    job_id: str, request: dict, plan: Plan, outputs: list[Output], recipes: dict, errors: dict
) -> str:
    lines = [
        f"isimip-mask {__version__}, job {job_id}",
        "",
        f"Operation: {plan.describe()}",
        f"Region: {plan.region.tag} ({plan.region.kind})",
        "Rule: a cell belongs to the region when its centre lies inside it (edges included; where no",
        "      centre does, the cells it overlaps); with rule 'touch', every cell it overlaps; a mask",
        "      file keeps the cells it marks. Other cells are missing values.",
        "",
        "Files, and the cdo command that makes each from its input (masks are in this zip):",
    ]
    made = {output.user_path: output for output in outputs}
    for user_path in request["paths"]:
        if user_path in errors:
            lines.append(f"  {user_path}\n    FAILED: {errors[user_path]}")
        else:
            name = made[user_path].path.name
            lines.append(f"  {user_path}\n    -> {name}\n    {recipes[name].command}")
    lines += ["", "Request:", json.dumps(request, indent=2, sort_keys=True), ""]
    return "\n".join(lines)
