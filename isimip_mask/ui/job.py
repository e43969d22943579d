"""Step 4 of the page: submit, follow the job (polling), cancel, run again, and the result:
a download link to the file server, the link for scripts, how long it is kept and a quick
look; and, before and after, the same request as commands (with the masks cdo reads)."""

import json
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from isimip_mask.errors import IsimipMaskError, JobNotFound
from isimip_mask.files import datasets
from isimip_mask.files.netcdf import write_mask
from isimip_mask.files.paths import resolve
from isimip_mask.files.results import result_url
from isimip_mask.jobs.status import JobInfo
from isimip_mask.regions.kinds import Region
from isimip_mask.requests.plan import Plan
from isimip_mask.requests.submission import JobRequest, build_request
from isimip_mask.settings import Settings
from isimip_mask.ui.estimates import human_size
from isimip_mask.ui.reproduce import commands
from isimip_mask.ui.state import get_queue, get_settings, input_credits, quick_look_field, quick_look_series

POLL_S = 2
CHART_COLUMNS = 8  # a table of every country is too many lines for one chart
TERMINAL = ("finished", "failed", "cancelled")


def submit(settings: Settings, infos, plan: Plan) -> None:
    try:
        request = build_request(settings, [i.path for i in infos], plan.operations())
        info, created = get_queue().submit(request)
    except IsimipMaskError as error:
        st.error(str(error))
        return
    remember(info.id)
    st.toast("Job queued" if created else f"This request was submitted before: job is {info.label}")


RECENT = 10  # jobs of this browser listed on the page, kept in a cookie of the page's origin
COOKIE = "isimip_mask_jobs"
JOB_ID = re.compile(r"^[0-9a-f]{8,64}$")


def recent_jobs() -> list[str]:
    """The ids of this browser's recent jobs, newest first: read from its cookie when the tab
    opens (every tab of the browser has them), then kept with the session."""
    if "recent" not in st.session_state:
        listed = st.context.cookies.get(COOKIE, "") or ""
        st.session_state["recent"] = [j for j in listed.split(",") if JOB_ID.match(j)][:RECENT]
        st.session_state["recent_cookie"] = ",".join(st.session_state["recent"])
    return st.session_state["recent"]


def remember(job_id: str) -> None:
    """Show ``job_id`` (in the address: a link to share) and put it first among the recent jobs."""
    st.query_params["job"] = job_id
    st.session_state["recent"] = [job_id, *[j for j in recent_jobs() if j != job_id]][:RECENT]


def keep_in_browser(job_ids: list[str]) -> None:
    """Write the recent jobs into the browser's cookie when they changed, for its other tabs
    (a script in a frame of the page's own origin; Streamlit reads cookies, it sets none)."""
    listed = ",".join(job_ids)
    if st.session_state.get("recent_cookie") == listed:
        return
    st.session_state["recent_cookie"] = listed
    age = get_settings().result_ttl_s  # as long as their results are kept
    components.html(
        f"<script>document.cookie = '{COOKIE}={listed}; path=/; max-age={age}; SameSite=Lax';</script>",
        height=0,
    )


def show_recent_jobs() -> None:
    """Links to this browser's recent jobs with what they were and how they stand; expired
    ones are left out of the list (and of the cookie)."""
    known = recent_jobs()
    lines, kept = [], []
    for job_id in known:
        try:
            info = get_queue().info(job_id)
        except JobNotFound:  # expired or forgotten: not listed
            continue
        except IsimipMaskError:  # Redis away: kept for later
            kept.append(job_id)
            continue
        kept.append(job_id)
        lines.append(f"- [{job_id[:8]}](?job={job_id}) · {info.label} · {_plain(info.summary)}")
    st.session_state["recent"] = kept
    keep_in_browser(kept)
    if lines:
        with st.expander(f"Recent jobs of this browser ({len(lines)})"):
            st.markdown("\n".join(lines))


def show_credits(settings: Settings, paths: list[str]) -> None:
    """The licence and citation attributes of the (first) input file, with its result."""
    try:
        source = resolve(settings.input_path, paths[0])
        found = input_credits(str(source), source.stat().st_mtime_ns)
    except (IndexError, OSError, IsimipMaskError):
        return
    if found:
        st.caption(
            "From the input file: " + " · ".join(f"{key}: {_plain(value)}" for key, value in found.items())
        )


def _plain(text: str) -> str:
    """Text shown as it is in Markdown (file names have underscores)."""
    return "".join(f"\\{c}" if c in "\\`*_[]()#|<>" else c for c in text)


def request_of(infos: list[datasets.DatasetInfo], plan: Plan) -> dict:
    """The request the page's inputs make, in the form a job keeps it (JobRequest.canonical)."""
    return JobRequest(tuple(i.path for i in infos), plan).canonical()


def run_again(info: JobInfo) -> None:
    """Submit a failed job's request again (checked again: its files may have changed)."""
    request = info.request
    try:
        plan = Plan.from_config(request["plan"])
        get_queue().submit(build_request(get_settings(), request["paths"], plan.operations()))
    except IsimipMaskError as error:
        st.error(str(error))
        return
    st.rerun()


def show_job(job_id: str, chosen: dict | None) -> Region | None:
    """The job of the page's address; ``chosen`` is the request the page's inputs make now.
    Returns the job's region (for the map), None if there is no such job."""
    st.subheader("4 · Job")
    try:
        info = get_queue().info(job_id)
    except JobNotFound:
        st.warning(f"Job {job_id} does not exist (any more): results expire. Submit the request again.")
        return None
    except IsimipMaskError as error:
        st.error(str(error))
        return None
    st.caption(f"Job `{info.id[:8]}`: {info.summary}")
    if chosen is not None and chosen != info.request:
        st.info("This job is for an earlier choice of files or region: press Submit to run the current one.")
    if info.status in TERMINAL:
        show_result(info)
        if chosen != info.request:  # the box above the job is for the current choice
            show_reproduce(get_settings(), info.request, "this job")
    else:
        follow_job(job_id)
    return job_region(info.id, info.request)


@st.cache_data(max_entries=64, show_spinner=False)
def reproduction(request_text: str) -> tuple[dict[str, str], list]:
    """The commands of a request (its JSON) and the mask files cdo reads, made once per request."""
    masks: list = []
    texts = commands(get_settings(), json.loads(request_text), masks)
    return texts, masks


def show_reproduce(settings: Settings, request: dict, when: str) -> None:
    """The request as curl, isimip-client and cdo commands, and the mask files the cdo
    commands read, to download: what runs as printed next to the input files."""
    texts, masks = reproduction(json.dumps(request, sort_keys=True))
    with st.expander(f"Reproduce {when}: curl, the ISIMIP client, or cdo"):
        for language, text in texts.items():
            st.code(text, language="bash" if language != "python" else "python")
        for recipe in masks:
            st.download_button(
                f"{recipe.mask_name}: the mask the cdo command reads",
                data=lambda recipe=recipe: mask_bytes(recipe),
                file_name=recipe.mask_name,
                mime="application/x-netcdf",
                key=f"mask_{when}_{recipe.mask_name}",
                on_click="ignore",
            )


def mask_bytes(recipe) -> bytes:
    """A recipe's mask as a NetCDF file (1 kept, missing elsewhere, as ``cdo -ifthen`` reads it)."""
    with tempfile.TemporaryDirectory() as folder:
        return write_mask(Path(folder) / recipe.mask_name, recipe.grid, recipe.cells).read_bytes()


@st.cache_resource(max_entries=32, show_spinner=False)
def job_region(job_id: str, _request: dict) -> Region | None:
    """The region of a job's request, read once per job (a request never changes; an uploaded
    shape can be large)."""
    try:
        return Plan.from_config(_request["plan"]).region
    except (IsimipMaskError, KeyError, TypeError):  # a request of an older version: no outline
        return None


@st.fragment(run_every=POLL_S)
def follow_job(job_id: str) -> None:
    try:
        info = get_queue().info(job_id)
    except IsimipMaskError as error:
        st.error(str(error))
        return
    if info.status in TERMINAL:
        st.rerun()  # the whole page shows the result, and polling stops
    if info.status == "queued":
        where = (
            f"position {info.position + 1} in the queue" if info.position is not None else "about to start"
        )
        st.info(f"Queued, {where}.")
    else:
        current = f"file {min(info.files_done + 1, info.files_total)} of {info.files_total}"
        steps = f", time step {info.steps_done} of {info.steps_total}" if info.steps_total else ""
        st.progress(info.fraction, text=f"Running: {current}{steps}")
    if st.button("Cancel job", key="cancel"):
        get_queue().cancel(job_id)
        st.rerun()


def show_result(info: JobInfo) -> None:
    queue = get_queue()
    if info.status == "failed":
        st.error(f"The job failed: {info.message}")
        if st.button("Run it again", key="again"):
            run_again(info)
        return
    if info.status == "cancelled":
        st.info("The job was cancelled; its files were removed.")
        return
    path = queue.result_path(info)
    status, look = st.columns([1, 1])
    with status:
        (st.warning if info.with_errors else st.success)(
            f"Job {info.label}: {len(info.created_files)} of {info.files_total} file(s) written."
        )
        for failed, message in info.errors.items():
            st.error(f"{failed}: {message}")
        if path is None:
            st.warning("The result file is no longer there (it expired). Submit the request again.")
            return
        url = result_url(queue.settings, info.id, path.name)
        # a link, not st.download_button: the file goes from the file server to the browser, never
        # through this process's memory (a 1.3 GB result once took it to 4 GB)
        # the size first: a long name is cut at the button's edge
        st.link_button(f"Download ({human_size(path.stat().st_size)}) {path.name}", url, type="primary")
        st.caption(f"For scripts: {url}")
        if info.ttl is not None:
            until = datetime.now(UTC) + timedelta(seconds=info.ttl)
            st.caption(
                f"Kept until {until:%Y-%m-%d %H:%M} UTC ({_duration(info.ttl)} from now), then removed."
            )
        show_credits(queue.settings, info.request.get("paths", []))
    with look:
        show_quick_look(path)


def _duration(seconds: int) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} hours"
    return f"{max(1, seconds // 60)} minutes"


def show_quick_look(path: Path) -> None:
    """A chart of a CSV result, a picture of the first step of a NetCDF grid."""
    if path.suffix == ".csv":
        times, columns = quick_look_series(str(path), path.stat().st_mtime_ns)
        if len(columns) > CHART_COLUMNS:
            st.caption(f"The first {CHART_COLUMNS} of {len(columns)} columns:")
            columns = dict(list(columns.items())[:CHART_COLUMNS])
        show_chart(times, columns)
    elif path.suffix == ".nc" and (look := quick_look_field(str(path), path.stat().st_mtime_ns)):
        picture, caption, legend = look  # a series NetCDF has no field to picture
        st.image(picture, caption=caption, alt=f"Map of the result's first time step: {caption}")
        if legend is not None:
            st.image(legend[0], caption=legend[1], width=256, alt=f"Colour scale of that map: {legend[1]}")


def show_chart(times: list[str], columns: dict[str, list[float]]) -> None:
    """The series of a CSV result, each column a line, the value axis fitted to the values
    (not from 0: a temperature in K would be a flat line)."""
    rows = [
        {"time": time, "column": name, "value": value}
        for name, values in columns.items()
        for time, value in zip(times, values)
        if value == value  # NaN: a missing step
    ]
    spec = {
        "mark": {"type": "line"},
        "encoding": {
            "x": {"field": "time", "type": "temporal", "title": None},
            "y": {"field": "value", "type": "quantitative", "scale": {"zero": False}, "title": None},
            "color": {"field": "column", "type": "nominal", "title": None},
        },
    }
    st.vega_lite_chart(rows, spec, use_container_width=True)
