"""The same request without the page: the ``curl`` and ``isimip-client`` commands that submit
it to the API, and for each file the ``cdo`` command that gives the same output, with the mask
files those commands read (the page offers them for download)."""

import json
import shlex
from pathlib import Path

from isimip_mask.errors import IsimipMaskError
from isimip_mask.files.paths import resolve
from isimip_mask.jobs.bundle import cdo_recipe
from isimip_mask.requests.plan import Plan
from isimip_mask.settings import Settings


def commands(settings: Settings, request: dict, masks: list | None = None) -> dict[str, str]:
    """``curl``, ``python`` (isimip-client) and ``cdo`` texts for a canonical request (as a
    job keeps it: ``{"paths", "plan"}``); the mask files the cdo commands read are added to
    ``masks`` (recipes with a ``mask_name``, ``grid`` and ``cells``)."""
    plan = Plan.from_config(request["plan"])
    body = {"paths": list(request["paths"]), "operations": plan.operations()}
    api = settings.base_url.rstrip("/") + "/"
    curl = (
        f"curl -s -X POST {shlex.quote(api)} -H 'Content-Type: application/json' \\\n"
        f"     -d {shlex.quote(json.dumps(body))}"
    )
    python = "\n".join(
        [
            "from isimip_client.client import ISIMIPClient",
            "",
            f'client = ISIMIPClient(files_api_url="{api}", files_api_version="v2")',
            f"job = client.submit_job({body['paths']!r}, {body['operations']!r}, {{}}, poll=2)",
            'client.download(job["file_url"], path="downloads", extract=True)',
        ]
    )
    return {"curl": curl, "python": python, "cdo": _cdo(settings, plan, request["paths"], masks)}


def _cdo(settings: Settings, plan: Plan, paths: list[str], wanted: list | None) -> str:
    lines, masks = [], {}
    for user_path in paths:
        try:
            source = resolve(settings.input_path, user_path)
            recipe = cdo_recipe(plan, source, plan.output_name(Path(user_path).name), masks)
        except IsimipMaskError as error:
            lines.append(f"# {user_path}: {error}")
            continue
        lines.append(recipe.command)
    if wanted is not None:
        wanted.extend(masks.values())
    named = [recipe.mask_name for recipe in masks.values()]
    if named:
        lines.append(
            f"# {', '.join(named)}: the region as a 1/0 mask on the file's grid, next to the files "
            "(offered beside these commands, and in the zip of a job of several files)"
        )
    return "\n".join(lines)
