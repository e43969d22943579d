import csv
import hashlib
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from isimip_mask.cli import main
from tests.helpers import DATA, DIS_FILE, global_axes, write_netcdf


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (
            ["--country", "fra"],
            "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_fra_daily_DEMO_FR_2001_2003.nc",
        ),
        (
            ["--bbox", "0", "5", "44", "48", "--crop"],
            "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_lon0.0to5.0lat44.0to48.0_daily_DEMO_FR_2001_2003.nc",
        ),
        (
            ["--landonly"],
            "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_landonly_daily_DEMO_FR_2001_2003.nc",
        ),
        (
            ["--geojson", str(DATA / "ile-de-france-box.geojson")],
            "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_ile-de-france-box_daily_DEMO_FR_2001_2003.nc",
        ),
        (
            ["--point", "48", "2", "--csv"],
            "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_lat48.0lon2.0_daily_DEMO_FR_2001_2003.csv",
        ),
        (
            ["--country", "fra", "--mean"],
            "h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_fra_fldmean_daily_DEMO_FR_2001_2003.nc",
        ),
    ],
)
def test_cli_writes_into_a_folder(tmp_path, capsys, args, name):
    assert main([str(DIS_FILE), str(tmp_path), *args]) == 0
    written = capsys.readouterr().out.strip()
    if name:
        assert written == str(tmp_path / name)
    assert [p.name for p in tmp_path.iterdir()] == [written.rsplit("/", 1)[-1]]


def test_cli_writes_the_named_file(tmp_path):
    target = tmp_path / "france.nc"
    assert main([str(DIS_FILE), str(target), "--country", "FRA"]) == 0
    with netCDF4.Dataset(target) as out:
        assert out["dis"].shape == (1095, 19, 27)
    assert [p.name for p in tmp_path.iterdir()] == ["france.nc"]


def test_cli_mean_csv(tmp_path):
    target = tmp_path / "mean.csv"
    assert main([str(DIS_FILE), str(target), "--country", "FRA", "--mean", "--csv"]) == 0
    rows = list(csv.reader(target.open()))
    assert rows[0] == ["time", "dis [m3 s-1] area-weighted mean"] and len(rows) == 1096


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--country", "XYZ"], "'XYZ' is not a known ISO3 code"),
        (["--bbox", "0", "5", "48", "44"], "south=48.0 must be below north=44.0"),
        (["--geojson", "missing.json"], "cannot read GeoJSON file"),
        (["--point", "10", "100"], "outside the grid"),
    ],
)
def test_cli_bad_input_exits_non_zero_with_one_line(tmp_path, capsys, args, message):
    assert main([str(DIS_FILE), str(tmp_path), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_a_text_file_and_a_missing_file(tmp_path, capsys):
    fake = tmp_path / "fake.nc"
    fake.write_text("text")
    assert main([str(fake), str(tmp_path / "o.nc"), "--landonly"]) == 1
    assert main([str(tmp_path / "none.nc"), str(tmp_path / "o.nc"), "--landonly"]) == 1
    err = capsys.readouterr().err
    assert "fake.nc is not a NetCDF file" in err and "does not exist" in err


def test_cli_never_overwrites_its_input(tmp_path, capsys):
    source = tmp_path / DIS_FILE.name
    source.write_bytes(DIS_FILE.read_bytes())
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    for output in (source, tmp_path / "." / source.name):
        assert main([str(source), str(output), "--country", "FRA"]) == 1
        assert "is the input file: the input is never overwritten" in capsys.readouterr().err
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    assert [p.name for p in tmp_path.iterdir()] == [source.name]


def test_cli_output_ending_in_a_slash_is_a_new_folder(tmp_path, capsys):
    assert main([str(DIS_FILE), f"{tmp_path}/results/", "--country", "FRA"]) == 0
    written = Path(capsys.readouterr().out.strip())
    assert written.parent == tmp_path / "results" and written.name.endswith("_fra_daily_DEMO_FR_2001_2003.nc")


def test_cli_touch_keeps_every_cell_the_country_overlaps(tmp_path):
    centre, touch = tmp_path / "centre.nc", tmp_path / "touch.nc"
    assert main([str(DIS_FILE), str(centre), "--country", "FRA"]) == 0
    assert main([str(DIS_FILE), str(touch), "--country", "FRA", "--touch"]) == 0
    with netCDF4.Dataset(centre) as a, netCDF4.Dataset(touch) as b:
        kept_centre, kept_touch = (a["dis"][0].mask == False), (b["dis"][0].mask == False)  # noqa: E712
    assert (kept_centre & ~kept_touch).sum() == 0 and kept_touch.sum() > kept_centre.sum()


def test_cli_tables_periods_and_windows(tmp_path, capsys):
    points = tmp_path / "cities.csv"
    points.write_text("name,lat,lon\nParis,48.85,2.35\nLyon,45.75,4.85\n")
    assert (
        main(
            [
                str(DIS_FILE),
                str(tmp_path / "p.csv"),
                "--points",
                str(points),
                "--period",
                "2002-06",
                "2002-06-05",
                "--csv",
            ]
        )
        == 0
    )
    rows = list(csv.reader((tmp_path / "p.csv").open()))
    assert rows[0] == ["time", "Paris [m3 s-1]", "Lyon [m3 s-1]"]
    assert [row[0] for row in rows[1:]] == [f"2002-06-0{day}" for day in range(1, 6)]
    assert (
        main(
            [
                str(DIS_FILE),
                str(tmp_path) + "/",
                "--regions",
                "FRA,CHE",
                "--window",
                "year",
                "--fraction",
                "--csv",
            ]
        )
        == 0
    )
    written = capsys.readouterr().out.split()[-1]
    assert written.endswith("_dis_countries_yearmean_annual_DEMO_FR_2001_2003.csv")
    rows = list(csv.reader(Path(written).read_text().splitlines()))
    assert rows[0] == ["time", "FRA [m3 s-1]", "CHE [m3 s-1]"] and len(rows) == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["--country", "FRA", "--period", "2010", "2011"], "the period 2010 to 2011 is outside the file"),
        (["--country", "FRA", "--fraction"], "weights 'fraction' applies to means"),
        (["--points", "48.85,x"], "point 0: point lon='x' is not a number"),
        (["--points", "missing.csv"], "cannot read points file missing.csv"),
        (["--regions", "FRA", "--crop"], "crop does not apply to mask_regions and select_points"),
    ],
)
def test_cli_refuses_bad_tables_and_periods_in_one_line(tmp_path, capsys, args, message):
    assert main([str(DIS_FILE), str(tmp_path / "out.nc"), *args]) == 1
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "out.nc").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--points", "-33.9,18.4;48.5,2.3"],  # the documented form, starting with a negative latitude
        ["--bbox", "-4", "5", "44", "48"],
        ["--point", "48.1", "-1.5", "--csv"],
    ],
)
def test_values_that_start_with_a_minus_are_values(tmp_path, capsys, args):
    code = main([str(DIS_FILE), str(tmp_path), *args])
    err = capsys.readouterr().err
    assert "expected one argument" not in err and "expected 4 arguments" not in err
    assert code == 0 or "outside the grid" in err  # -33.9 is not in the French cut-out: said so


def test_cli_weights_from_a_file_beside_and_statistics(tmp_path, capsys):
    """``--weights FILE:VAR`` reads a weight grid where it is; the statistics name the columns."""
    lat, lon = global_axes()
    write_netcdf(tmp_path / "pop.nc", lat, lon, None, name="pop", values=np.ones((lat.size, lon.size)))
    code = main(
        [str(DIS_FILE), str(tmp_path / "out") + "/", "--country", "FRA", "--mean", "--csv"]
        + ["--weights", f"{tmp_path / 'pop.nc'}:pop", "--statistics", "mean,max"]
    )
    written = Path(capsys.readouterr().out.strip())
    assert code == 0 and written.name.endswith("_fra_fldstats_pop-weighted_daily_DEMO_FR_2001_2003.csv")
    header = written.read_text().splitlines()[0]
    assert header == "time,dis [m3 s-1] pop-weighted mean,dis [m3 s-1] maximum"
    unweighted = main([str(DIS_FILE), str(tmp_path / "plain.csv"), "--country", "FRA", "--mean", "--csv"])
    plain = (tmp_path / "plain.csv").read_text().splitlines()
    assert unweighted == 0 and [row.split(",")[1] for row in plain[1:]] == [
        row.split(",")[1] for row in written.read_text().splitlines()[1:]
    ]  # weights of 1 everywhere: the area-weighted mean
    assert (
        main([str(DIS_FILE), str(tmp_path / "x.csv"), "--country", "FRA", "--mean", "--weights", "pop"]) == 1
    )
    assert "--weights must be FILE:VAR" in capsys.readouterr().err
