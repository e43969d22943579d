"""Hostile inputs through every door: the API (JSON and multipart), the command line, the
settings and the page. Each door gets the whole corpus and is held to the same three figures:
no answer 500 (or uncaught exception), no traceback in what the user sees, no input modified
(sha256 of every file under the data root before and after). The figures are printed at the
end of the run (see ``conftest.pytest_terminal_summary``).
"""

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from pydantic import ValidationError
from streamlit.testing.v1 import AppTest

from isimip_mask.api import create_app
from isimip_mask.cli import main as cli
from isimip_mask.errors import IsimipMaskError
from isimip_mask.jobs.queue import JobQueue
from isimip_mask.logs import file_handlers
from isimip_mask.settings import Settings, load_settings
from tests.helpers import DIS, DIS_FILE, ROOT, write_mask_file

MAP = "map"  # where st_folium leaves what the browser sent (streamlit_app.MAP_KEY)

# values that break parsers: wrong types, extremes, non-numbers, paths out of the root, sizes
VALUES = {
    "null": "null",
    "true": "true",
    "zero": "0",
    "minus one": "-1",
    "1e308": "1e308",
    "-1e308": "-1e308",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "400 digits": "9" * 400,
    "empty string": '""',
    "NUL": '"\\u0000"',
    "lone surrogate": '"\\ud800"',
    "5000 characters": json.dumps("a" * 5000),
    "traversal": '"../../../../etc/passwd"',
    "absolute path": '"/etc/passwd"',
    "unicode digits": '"\\u00b2\\u00b3"',
    "empty list": "[]",
    "nested lists": "[[[[[[[[[[]]]]]]]]]]",
    "empty object": "{}",
    "object": '{"a": {"b": [1, 2]}}',
    "100,000 numbers": json.dumps(list(range(100_000))),
    "5000 digits": "9" * 5000,
    "lists 500 deep": "[" * 500 + "]" * 500,
}
BOX = '{"operation": "mask_bbox", "bbox": [0, 5, 44, 48]}'
SQUARE = '{"type": "Polygon", "coordinates": [[[0, 44], [5, 44], [5, 48], [0, 48], [0, 44]]]}'
HOLE = "@"


def chain(*operations: str) -> str:
    return '{"paths": ["' + DIS + '"], "operations": [' + ", ".join(operations) + "]}"


# where a value goes: a JSON request with one HOLE; every value fills every hole
SLOTS = {
    "body": HOLE,
    "paths": '{"paths": @, "operations": [' + BOX + "]}",
    "a path": '{"paths": [@], "operations": [' + BOX + "]}",
    "operations": '{"paths": ["' + DIS + '"], "operations": @}',
    "an operation": chain(HOLE),
    "operation name": chain('{"operation": @}'),
    "bbox": chain('{"operation": "mask_bbox", "bbox": @}'),
    "a bbox number": chain('{"operation": "mask_bbox", "bbox": [0, @, 44, 48]}'),
    "point": chain('{"operation": "select_point", "point": @}'),
    "shape": chain('{"operation": "mask_shape", "shape": @}'),
    "coordinates": chain('{"operation": "mask_shape", "shape": {"type": "Polygon", "coordinates": @}}'),
    "layer": chain('{"operation": "mask_shape", "shape": ' + SQUARE + ', "layer": @}'),
    "country": chain('{"operation": "mask_country", "country": @}'),
    "mask name": chain('{"operation": "mask_mask", "mask": @}'),
    "create_mask name": chain('{"operation": "create_mask", "shape": ' + SQUARE + ', "mask": @}'),
    "rule": chain('{"operation": "mask_landonly", "rule": @}'),
    "output_csv": chain(BOX, '{"operation": "compute_mean", "output_csv": @}'),
    "period": chain(BOX, '{"operation": "select_time", "period": @}'),
    "a period bound": chain(BOX, '{"operation": "select_time", "period": [2001, @]}'),
    "window": chain(BOX, '{"operation": "time_mean", "window": @}'),
    "weights": chain('{"operation": "mask_country", "country": "FRA", "compute_mean": true, "weights": @}'),
    "regions": chain('{"operation": "mask_regions", "regions": @}'),
    "a region": chain('{"operation": "mask_regions", "regions": ["FRA", @]}'),
    "points": chain('{"operation": "select_points", "points": @}'),
    "a point": chain('{"operation": "select_points", "points": [[48, 2], @]}'),
    "legacy task": '{"paths": ["' + DIS + '"], "task": @}',
    "legacy bbox": '{"paths": ["' + DIS + '"], "task": "mask_bbox", "bbox": @}',
}
OUT_OF_ROOT = b"root:x:0:0"  # a line of /etc/passwd: no answer may carry it
# Python's own words, which no answer may carry either: the project says what is wrong itself
PYTHON_TEXT = (
    "Exceeds the limit",
    "set_int_max_str_digits",
    "maximum recursion depth",
    "unhashable type",
    "object has no attribute",
    "codec can't decode",
    "invalid literal for",
    "Expecting value",
    "Expecting property name",
    "NoneType",
)
SERVER_ERRORS = (500,)  # 503 is the true answer while Redis is away
NO_SERVER = {"redis_url": "redis://127.0.0.1:1/0"}  # a port nobody listens on: valid requests get 503


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


class Tally:
    """Cases tried through one door, and what went wrong with which."""

    def __init__(self, door: str, root: Path):
        self.door, self.root, self.tried = door, root, 0
        self.crashes: list[str] = []
        self.tracebacks: list[str] = []
        self.before = tree_hashes(root)

    def check(self, case: str, crashed: bool, shown: str | bytes) -> None:
        self.tried += 1
        text = shown.decode(errors="replace") if isinstance(shown, bytes) else shown
        if crashed:
            self.crashes.append(f"{case}: {text[:300]}")
        python_text = any(phrase in text for phrase in PYTHON_TEXT)
        if "Traceback" in text or 'File "' in text or OUT_OF_ROOT.decode() in text or python_text:
            self.tracebacks.append(f"{case}: {text[:300]}")

    def finish(self, record) -> list[str]:
        """Record the door's figures; what went wrong, one line per case."""
        modified = sorted(
            name for name, digest in self.before.items() if tree_hashes(self.root).get(name) != digest
        )
        record("hostile", [self.door, self.tried, len(self.crashes), len(self.tracebacks), len(modified)])
        return [
            *(f"{self.door}, answered 500 or crashed: {case}" for case in self.crashes),
            *(f"{self.door}, showed a traceback: {case}" for case in self.tracebacks),
            *(f"{self.door}, modified {name}" for name in modified),
        ]


@pytest.fixture
def tally(settings, record_property):
    made = []

    def make(door: str) -> Tally:
        made.append(Tally(door, settings.input_path))
        return made[-1]

    yield make
    wrong = [line for each in made for line in each.finish(record_property)]
    assert not wrong, "\n".join(wrong)


def zip_of(members: dict[str, bytes]) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    return archive.getvalue()


# uploaded files that break readers: not what their name says, damaged, huge when inflated
UPLOADS = {
    "empty file": ("shape.geojson", b""),
    "binary noise": ("shape.geojson", bytes(range(256)) * 40),
    "non-UTF-8 text": ("shape.geojson", '{"type": "Polygon", "name": "é"}'.encode("latin-1")),
    "JSON nested 100,000 deep": ("shape.geojson", b"[" * 100_000 + b"]" * 100_000),
    "GeoJSON with NaN": ("shape.geojson", SQUARE.replace("[5, 44]", "[NaN, 44]").encode()),
    "GeoJSON of a point": ("shape.geojson", b'{"type": "Point", "coordinates": [1, 2]}'),
    "GeoJSON features 5": ("shape.geojson", b'{"type": "FeatureCollection", "features": 5}'),
    "a zip that is not one": ("shape.zip", b"PK\x03\x04 not a zip at all"),
    "a zip without .shp": ("shape.zip", zip_of({"a.txt": b"hello"})),
    "a zip bomb": ("shape.zip", zip_of({"a.shp": b"\0" * 50_000_000, "a.shx": b"", "a.dbf": b""})),
    "a zip of 500 members": ("shape.zip", zip_of({f"m{i}.shp": b"" for i in range(500)})),
    "a zip with ../ names": ("shape.zip", zip_of({"../../evil.shp": b"x" * 100, "../evil.dbf": b""})),
    "a shapefile of noise": (
        "shape.zip",
        zip_of({"a.shp": bytes(range(256)) * 8, "a.shx": b"\0" * 100, "a.dbf": b"\1" * 100}),
    ),
    "a zip in a zip": ("shape.zip", zip_of({"inner.zip": zip_of({"a.shp": b"\0" * 1000})})),
}


def multipart(body: dict, files: dict[str, tuple[str, bytes]]) -> dict:
    data = {"data": json.dumps(body)}
    for key, (name, content) in files.items():
        data[key] = (io.BytesIO(content), name)
    return data


def test_the_api_answers_every_hostile_request_without_a_500(settings, tally, tmp_path):
    client = create_app(settings.model_copy(update=NO_SERVER)).test_client()
    json_door, multipart_door, url_door = tally("API, JSON body"), tally("API, multipart"), tally("API, URLs")
    for slot, template in SLOTS.items():
        for value_name, value in VALUES.items():
            answer = client.post("/", data=template.replace(HOLE, value), content_type="application/json")
            json_door.check(f"{slot} = {value_name}", answer.status_code in SERVER_ERRORS, answer.data)
    shape_request = {"paths": [DIS], "operations": [{"operation": "mask_shape", "shape": "upload"}]}
    for case, (name, content) in UPLOADS.items():
        answer = client.post("/", data=multipart(shape_request, {"upload": (name, content)}))
        multipart_door.check(case, answer.status_code in SERVER_ERRORS, answer.data)
    noise_mask = write_mask_file(tmp_path / "m.nc", {"other": [[1]]}, [0.0], [0.0]).read_bytes()
    mask_request = {"paths": [DIS], "operations": [{"operation": "mask_mask", "mask": "m.nc"}]}
    for case, content in {
        "a mask of noise": bytes(range(256)) * 10,
        "a mask with no usable variable": noise_mask,
        "a mask that is text": b"CDF not really",
        "an HDF5 signature and nothing more": b"\x89HDF\r\n\x1a\n" + b"\0" * 100,
    }.items():
        answer = client.post("/", data=multipart(mask_request, {"m.nc": ("m.nc", content)}))
        multipart_door.check(case, answer.status_code in SERVER_ERRORS, answer.data)
    for case, form in {
        "data is not UTF-8": {"data": (io.BytesIO(b"\xff\xfe{"), "data")},
        "data missing": {"other": "x"},
        "data empty": {"data": ""},
        "data is a number": {"data": "5"},
        "two data parts": {"data": ["{}", "[]"]},
    }.items():
        answer = client.post("/", data=form, content_type="multipart/form-data")
        multipart_door.check(case, answer.status_code in SERVER_ERRORS, answer.data)
    for url in [
        "/%00",
        "/..%2f..%2fetc%2fpasswd",
        "/output/../../etc/passwd",
        "/output/%2e%2e/%2e%2e/etc/passwd",
        "/output/" + "0" * 40 + "/..%2f..%2f..%2fetc%2fpasswd",
        "/output//etc/passwd",
        "/%C2%B2%C2%B3",
        "/" + "f" * 5000,
        "/" + "0" * 40,
        "/output/" + "0" * 40 + "/x.nc",
        "/?a=%00",
        "/\u00e9",
    ]:
        for method in (client.get, client.delete):
            answer = method(url)
            url_door.check(f"{method.__name__} {url[:60]}", answer.status_code in SERVER_ERRORS, answer.data)
    for content_type in ("text/plain", "application/xml", "", "application/json; charset=latin-1"):
        answer = client.post("/", data=b"\xff", content_type=content_type)
        json_door.check(f"content type {content_type!r}", answer.status_code in SERVER_ERRORS, answer.data)


def run_cli(argv: list[str], capsys) -> tuple[bool, str]:
    """(crashed, what the user saw): a crash is any exception leaving ``main`` but argparse's exit."""
    try:
        code = cli(argv)
    except SystemExit as done:
        code = done.code
    except Exception as error:  # noqa: BLE001 - that is what is being counted
        return True, f"{type(error).__name__}: {error}"
    seen = capsys.readouterr()
    return code in (None, 0) and "error" in seen.err, seen.err + seen.out


def test_the_command_line_fails_every_hostile_input_with_one_line(settings, tally, tmp_path, capsys):
    door = tally("command line")
    data = settings.input_path / "isimip"
    source = data / DIS_FILE.name
    files = {"a folder": data, "/dev/null": Path("/dev/null"), "missing": data / "none.nc"}
    for case, content in {
        "empty": b"",
        "text": b"not a netcdf",
        "truncated": source.read_bytes()[:20_000],
        "HDF5 signature only": b"\x89HDF\r\n\x1a\n" + b"\0" * 200,
    }.items():
        files[case] = data / f"{case.replace(' ', '_')}.nc"
        files[case].write_bytes(content)
    files["no lat/lon"] = write_mask_file(data / "nolatlon.nc", {"other": [[1]]}, [0.0], [0.0])
    for case, path in files.items():
        door.check(f"input: {case}", *run_cli([str(path), str(tmp_path / "o.nc"), "--landonly"], capsys))
    numbers = ["nan", "inf", "-inf", "1e308", "9" * 400, "-0", "x", "0x10"]
    for value in numbers:
        door.check(
            f"bbox {value}", *run_cli([str(source), str(tmp_path), "--bbox", "0", value, "44", "48"], capsys)
        )
        door.check(f"point {value}", *run_cli([str(source), str(tmp_path), "--point", value, "2"], capsys))
        door.check(
            f"threads {value}",
            *run_cli([str(source), str(tmp_path), "--landonly", "--threads", value], capsys),
        )
        door.check(
            f"period {value}",
            *run_cli([str(source), str(tmp_path), "--landonly", "--period", value, "2002"], capsys),
        )
        door.check(
            f"points {value}", *run_cli([str(source), str(tmp_path), "--points", f"{value},2"], capsys)
        )
    for regions in ["", ",,", "XX,FRA", "../../etc/passwd", "FRA;DEU", "a.zip"]:
        door.check(
            f"regions {regions!r}", *run_cli([str(source), str(tmp_path), "--regions", regions], capsys)
        )
    for case, (name, content) in UPLOADS.items():
        shape = tmp_path / "shapes" / f"{len(door.crashes)}{case.replace(' ', '_')}_{name}"
        shape.parent.mkdir(exist_ok=True)
        shape.write_bytes(content)
        door.check(
            f"--geojson {case}", *run_cli([str(source), str(tmp_path), "--geojson", str(shape)], capsys)
        )
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for case, output in {
        "the input itself": str(source),
        "the input through ..": str(data / ".." / "isimip" / source.name),
        "below a file": str(blocker / "o.nc"),
        "a folder below a file": str(blocker) + "/",
        "/proc": "/proc/version",
        "an existing file folder-like": str(blocker),
        "NUL in the name": str(tmp_path / "a\0b.nc"),
        "a 5000-character name": str(tmp_path / ("a" * 5000 + ".nc")),
    }.items():
        door.check(f"output: {case}", *run_cli([str(source), output, "--country", "FRA"], capsys))
    for country in ["", "XX", "../../etc/passwd", "\u00b2\u00b3", "FRA" * 1000, "fra"]:
        door.check(
            f"country {country[:20]!r}", *run_cli([str(source), str(tmp_path), "--country", country], capsys)
        )


SETTINGS_VALUES = ["", "-1", "0", "abc", "1e400", "nan", "inf", "9" * 400, " ", "1.5"]


def test_settings_refuse_every_hostile_value_naming_it(tally, monkeypatch, tmp_path):
    door = tally("settings")
    monkeypatch.chdir(tmp_path)  # LOG_FILE=abc and the like create their file where the program runs
    numeric = [
        name.upper() for name, field in Settings.model_fields.items() if field.annotation in (int, float)
    ]
    for variable in numeric + ["CORS", "INPUT_PATH", "LOG_FILE", "LOG_LEVEL"]:
        for value in [*SETTINGS_VALUES, str(tmp_path), "/proc/version/x"]:
            with monkeypatch.context() as patch:
                patch.setenv(variable, value)
                try:
                    for handler in file_handlers(load_settings(_env_file=None)):  # as the programs do
                        handler.close()
                    crashed, shown = False, ""
                except SystemExit as refused:
                    crashed, shown = variable not in str(refused.code), str(refused.code)
                except Exception as error:  # noqa: BLE001
                    crashed, shown = True, f"{type(error).__name__}: {error}"
                door.check(f"{variable}={value[:20]!r}", crashed, shown)
    for url in ["nonsense", "redis://", "http://example.org", "redis://127.0.0.1:1/0", "redis://:@[::1/0"]:
        with monkeypatch.context() as patch:
            patch.setenv("REDIS_URL", url)
            try:
                JobQueue(load_settings(_env_file=None))
                crashed, shown = True, "a queue on a Redis that is not there"
            except IsimipMaskError as refused:
                crashed, shown = False, str(refused)
            except SystemExit as refused:
                crashed, shown = False, str(refused.code)
            except (Exception, ValidationError) as error:  # noqa: BLE001
                crashed, shown = True, f"{type(error).__name__}: {error}"
            door.check(f"REDIS_URL={url!r}", crashed, shown)


NAN = float("nan")
DRAWINGS = {
    "a string": "x",
    "drawings a number": {"all_drawings": 5, "last_active_drawing": 5},
    "a drawing without geometry": {"all_drawings": [{"type": "Feature"}], "last_active_drawing": None},
    "geometry None": {"all_drawings": [{"type": "Feature", "geometry": None}]},
    "coordinates a string": {
        "all_drawings": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": "x"}}]
    },
    "coordinates NaN": {
        "all_drawings": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[[NAN, 1], [2, NAN], [3, 3]]]},
            }
        ]
    },
    "a circle": {"all_drawings": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}}]},
    "a click of words": {"last_clicked": {"lat": "a", "lng": "b"}},
    "a click at infinity": {"last_clicked": {"lat": float("inf"), "lng": NAN}},
    "a click without lng": {"last_clicked": {"lat": 1}},
    "a click a list": {"last_clicked": [1, 2]},
}
JOB_LINKS = ["../../etc/passwd", "f" * 5000, "\u00b2\u00b3", "<script>alert(1)</script>"]
FILTERS = ["(", "*" * 5000, "\0"]


def page_check(door: Tally, case: str, at):
    """Count the page's answer to one input; a page that crashed is opened afresh."""
    shown = " ".join(str(e.value) for e in [*at.error, *at.warning, *at.info, *at.markdown, *at.exception])
    door.check(case, bool(at.exception), shown)
    return open_page() if at.exception else at


def open_page(**state):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.session_state["paths"] = [DIS]
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_the_page_shows_a_message_for_every_hostile_input(queue_service, tally, monkeypatch):
    door = tally("page")
    for key, value in queue_service.settings.model_dump().items():
        if value is not None:
            monkeypatch.setenv(key.upper(), str(value))
    at = open_page()
    for case, value in DRAWINGS.items():
        at.session_state[MAP] = value
        at = page_check(door, f"map: {case}", at.radio(key="mode").set_value("Draw on the map").run())
    at.session_state[MAP] = {}
    for case, (name, content) in UPLOADS.items():
        if at.radio(key="mode").value != "GeoJSON upload":  # a page opened afresh after a crash
            at = at.radio(key="mode").set_value("GeoJSON upload").run()
        at = page_check(
            door, f"upload: {case}", at.file_uploader(key="upload").upload(name, content, "x").run()
        )
    for link in JOB_LINKS:
        at.query_params["job"] = link
        at = page_check(door, f"job link {link[:20]!r}", at.run())
    at.query_params.pop("job", None)
    for words in FILTERS:
        at = page_check(door, f"filter {words[:20]!r}", at.text_input(key="query").input(words).run())
