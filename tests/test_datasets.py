import os

import pytest

from isimip_mask.errors import DatasetError
from isimip_mask.files.datasets import (
    FileIndex,
    dataset_stem,
    describe,
    labels,
    list_folder,
    same_dataset,
)
from isimip_mask.files.paths import resolve, resolve_all
from tests.helpers import DIS, DIS_FILE, YIELD, global_axes, write_netcdf


def test_resolve_finds_a_file_inside_the_root(settings):
    assert resolve(settings.input_path, DIS) == (settings.input_path / DIS).resolve()


@pytest.mark.parametrize(
    ("user_path", "message"),
    [
        ("../secret.nc", "without '..'"),
        ("isimip/../../secret.nc", "without '..'"),
        ("/etc/passwd", "must be relative"),
        ("", "non-empty string"),
        (None, "non-empty string"),
        ("isimip/missing.nc", "does not exist"),
        ("isimip", "is not a file"),
        ("notes.txt", "is not a NetCDF file"),
        ("fake.nc", "fake.nc is not a NetCDF file"),
        ("escape.nc", "leads outside the data root"),
    ],
)
def test_resolve_refuses_paths_it_must_not_open(settings, tmp_path, user_path, message):
    root = settings.input_path
    (root / "notes.txt").write_text("hello")
    (root / "fake.nc").write_text("just text")
    outside = tmp_path / "outside.nc"
    outside.write_bytes(DIS_FILE.read_bytes())
    os.symlink(outside, root / "escape.nc")
    with pytest.raises(DatasetError, match=message):
        resolve(root, user_path)


def test_resolve_all_reports_every_bad_path(settings):
    with pytest.raises(DatasetError) as error:
        resolve_all(settings.input_path, [DIS, "../x.nc", "nope.nc", f"./{DIS}"], max_files=3)
    messages = " | ".join(error.value.errors["paths"])
    assert "more than the limit of 3" in messages and "twice" in messages
    assert "'..'" in messages and "does not exist" in messages


def test_list_folder_shows_one_level(settings):
    top = list_folder(settings.input_path)
    assert top.folders == ["isimip"] and top.files == []
    inside = list_folder(settings.input_path, "isimip")
    assert inside.files == sorted([DIS, YIELD])
    with pytest.raises(DatasetError, match="without '..'"):
        list_folder(settings.input_path, "../..")
    with pytest.raises(DatasetError, match="not a folder"):
        list_folder(settings.input_path, "isimip/nothing")


def test_file_index_searches_every_word(settings):
    for i in range(50):
        folder = settings.input_path / "archive" / f"model{i % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"model{i % 5}_tas_global_daily_{1900 + i}.nc").write_bytes(b"")
    index = FileIndex(settings.input_path)
    assert len(index.paths()) == 52
    assert index.folders() == [
        "archive/model0",
        "archive/model1",
        "archive/model2",
        "archive/model3",
        "archive/model4",
        "isimip",
    ]
    assert index.search("MODEL3 tas 1913").paths == ["archive/model3/model3_tas_global_daily_1913.nc"]
    assert len(index.search("tas", limit=7).paths) == 7
    assert index.search("tas", limit=7).total == 50
    assert index.search("dis").paths == [DIS]


def test_describe_the_daily_discharge_file(settings):
    info = describe(settings.input_path, DIS)
    assert info.variables == {"dis": "m3 s-1"}
    assert (info.nlat, info.nlon, info.n_times) == (19, 27, 1095)
    assert info.resolution == (0.5, 0.5)
    assert info.lat_range == (42.25, 51.25) and info.lon_range == (-4.75, 8.25)
    assert info.time_span == ("2001-01-01", "2003-12-31")
    assert info.size_bytes == DIS_FILE.stat().st_size


def test_describe_the_annual_yield_file(settings):
    info = describe(settings.input_path, YIELD)
    assert info.variables == {"yield": "t ha-1 yr-1"}
    assert info.time_span == ("1861-01-01", "2005-01-01")


@pytest.mark.parametrize(
    ("path", "stem"),
    [
        ("a/gfdl_tas_global_daily_2001_2010.nc", "a/gfdl_tas_global_daily"),
        ("a/gfdl_tas_global_monthly_185001_189912.nc", "a/gfdl_tas_global_monthly"),
        ("a/gfdl_tas_global_daily_20010101_20101231.nc", "a/gfdl_tas_global_daily"),
        ("a/landmask.nc", "a/landmask"),
    ],
)
def test_dataset_stem_drops_the_period(path, stem):
    assert dataset_stem(path) == stem


def test_same_dataset_finds_every_period():
    paths = [
        "m/x_tas_daily_2001_2010.nc",
        "m/x_tas_daily_2011_2020.nc",
        "m/x_pr_daily_2001_2010.nc",
        "n/x_tas_daily_2001_2010.nc",
    ]
    assert same_dataset(paths, "m/x_tas_daily_2011_2020.nc") == [
        "m/x_tas_daily_2001_2010.nc",
        "m/x_tas_daily_2011_2020.nc",
    ]


def test_a_link_that_loops_is_left_out_of_a_listing(tmp_path):
    (tmp_path / "a").mkdir()
    write_netcdf(tmp_path / "a" / "x.nc", *global_axes(5.0))
    (tmp_path / "a" / "loop").symlink_to("loop")  # points at itself
    (tmp_path / "a" / "gone").symlink_to("missing")
    assert list_folder(tmp_path, "a").files == ["a/x.nc"] and list_folder(tmp_path, "a").folders == []
    with pytest.raises(DatasetError, match="does not exist"):
        resolve(tmp_path, "a/loop/x.nc")


def test_files_of_the_same_name_are_labelled_with_their_folder():
    assert labels(["a/x.nc", "b/x.nc", "b/y.nc"]) == {
        "a/x.nc": "x.nc (a)",
        "b/x.nc": "x.nc (b)",
        "b/y.nc": "y.nc",
    }


def test_periods_of_one_dataset_are_told_apart_by_their_first_words():
    names = labels(["t/tas_global_daily_2001_2010.nc", "t/tas_global_daily_2011_2020.nc", "t/x.nc"])
    assert names == {
        "t/tas_global_daily_2001_2010.nc": "2001-2010 · tas_global_daily.nc",
        "t/tas_global_daily_2011_2020.nc": "2011-2020 · tas_global_daily.nc",
        "t/x.nc": "x.nc",
    }
