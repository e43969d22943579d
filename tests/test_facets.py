"""ISIMIP facets read from paths, and the archive index filtered by them."""

import pytest

from isimip_mask.files.datasets import FileIndex
from isimip_mask.files.facets import FACETS, FacetTable, parse

# real ISIMIP paths of every round and product, with the facets the repository gives them
NAMES = [
    (
        "ISIMIP3b/OutputData/water_global/CWatM/gfdl-esm4/future/"
        "cwatm_gfdl-esm4_w5e5_ssp585_2015soc_default_dis_global_daily_2015_2100.nc",
        {
            "simulation_round": "ISIMIP3b",
            "product": "OutputData",
            "sector": "water_global",
            "model": "cwatm",
            "climate_forcing": "gfdl-esm4",
            "bias_adjustment": "w5e5",
            "climate_scenario": "ssp585",
            "soc_scenario": "2015soc",
            "sens_scenario": "default",
            "variable": "dis",
            "region": "global",
            "time_step": "daily",
            "period": "2015-2100",
        },
    ),
    (
        "ISIMIP3b/InputData/climate/atmosphere/bias-adjusted/global/daily/ssp585/GFDL-ESM4/"
        "gfdl-esm4_r1i1p1f1_w5e5_ssp585_tas_global_daily_2015_2020.nc",
        {
            "simulation_round": "ISIMIP3b",
            "product": "InputData",
            "sector": "climate",
            "climate_forcing": "gfdl-esm4",
            "ensemble_member": "r1i1p1f1",
            "bias_adjustment": "w5e5",
            "climate_scenario": "ssp585",
            "variable": "tas",
            "region": "global",
            "time_step": "daily",
            "period": "2015-2020",
        },
    ),
    (
        "ISIMIP3a/OutputData/agriculture/LPJmL/gswp3-w5e5/historical/"
        "lpjml_gswp3-w5e5_obsclim_histsoc_default_yield-mai-firr_global_annual-gs_1901_2016.nc",
        {
            "simulation_round": "ISIMIP3a",
            "product": "OutputData",
            "sector": "agriculture",
            "model": "lpjml",
            "climate_forcing": "gswp3-w5e5",
            "climate_scenario": "obsclim",
            "soc_scenario": "histsoc",
            "sens_scenario": "default",
            "variable": "yield-mai-firr",
            "region": "global",
            "time_step": "annual-gs",
            "period": "1901-2016",
        },
    ),
    (
        "ISIMIP3a/InputData/climate/atmosphere/obsclim/global/daily/historical/W5E5v2.0/"
        "w5e5v2.0_obsclim_tas_global_daily_1979_1980.nc",
        {
            "simulation_round": "ISIMIP3a",
            "product": "InputData",
            "sector": "climate",
            "climate_forcing": "w5e5v2.0",
            "climate_scenario": "obsclim",
            "variable": "tas",
            "region": "global",
            "time_step": "daily",
            "period": "1979-1980",
        },
    ),
    (
        "ISIMIP2a/OutputData/water_global/H08/wfdei/historical/"
        "h08_wfdei_nobc_hist_varsoc_co2_dis_global_daily_1971_1980.nc4",
        {
            "simulation_round": "ISIMIP2a",
            "product": "OutputData",
            "sector": "water_global",
            "model": "h08",
            "climate_forcing": "wfdei",
            "bias_adjustment": "nobc",
            "climate_scenario": "hist",
            "soc_scenario": "varsoc",
            "sens_scenario": "co2",
            "variable": "dis",
            "region": "global",
            "time_step": "daily",
            "period": "1971-1980",
        },
    ),
    (  # a monthly period, in a secondary product
        "ISIMIP3b/SecondaryInputData/climate/atmosphere/uk/monthly/"
        "ukesm1-0-ll_r1i1p1f2_w5e5_picontrol_pr_global_monthly_185001_189912.nc",
        {
            "simulation_round": "ISIMIP3b",
            "product": "SecondaryInputData",
            "sector": "climate",
            "climate_forcing": "ukesm1-0-ll",
            "ensemble_member": "r1i1p1f2",
            "bias_adjustment": "w5e5",
            "climate_scenario": "picontrol",
            "variable": "pr",
            "region": "global",
            "time_step": "monthly",
            "period": "1850-1899",
        },
    ),
    (  # the repository's sample files carry extra words after the time step
        "isimip/h08_gfdl-esm2m_ewembi_historical_histsoc_co2_dis_global_daily_DEMO_FR_2001_2003.nc",
        {
            "model": "h08",
            "climate_forcing": "gfdl-esm2m",
            "bias_adjustment": "ewembi",
            "climate_scenario": "historical",
            "soc_scenario": "histsoc",
            "sens_scenario": "co2",
            "variable": "dis",
            "region": "global",
            "time_step": "daily",
            "period": "2001-2003",
        },
    ),
    (  # ISIMIP2b climate input follows CMIP's order: only what cannot be mistaken
        "ISIMIP2b/InputData/GCM_atmosphere/biascorrected/global/rcp26/GFDL-ESM2M/"
        "tas_day_GFDL-ESM2M_rcp26_r1i1p1_EWEMBI_20060101-20101231.nc4",
        {
            "simulation_round": "ISIMIP2b",
            "product": "InputData",
            "sector": "GCM_atmosphere",
            "climate_scenario": "rcp26",
            "ensemble_member": "r1i1p1",
            "period": "2006-2010",
        },
    ),
    ("my_own/results_final.nc", {}),
    ("demo/demo_tas_global_monthly_2001.nc", {"variable": "tas", "region": "global", "time_step": "monthly"}),
]


@pytest.mark.parametrize(("path", "expected"), NAMES, ids=[path.rsplit("/", 1)[-1] for path, _ in NAMES])
def test_facets_of_isimip_paths(path, expected):
    assert parse(path) == expected
    assert set(expected) <= set(FACETS)


def archive_rows():
    """Two models x two forcings x two scenarios x two variables, and a file without facets."""
    rows = []
    for model in ("cwatm", "h08"):
        for forcing in ("gfdl-esm4", "ipsl-cm6a-lr"):
            for scenario in ("ssp126", "ssp585"):
                for variable in ("dis", "qtot"):
                    rows.append(
                        parse(
                            f"ISIMIP3b/OutputData/water_global/{model}/{model}_{forcing}_w5e5_{scenario}"
                            f"_2015soc_default_{variable}_global_daily_2015_2100.nc"
                        )
                    )
    return rows + [{}]


def test_choices_combine_as_the_repository_search_does():
    table = FacetTable(archive_rows())
    assert table.size == 17
    assert table.matching({}).sum() == 17
    # any value of one facet, every facet that has a choice
    assert table.matching({"model": ["h08"]}).sum() == 8
    assert table.matching({"model": ["h08", "cwatm"]}).sum() == 16
    assert table.matching({"model": ["h08"], "variable": ["dis"], "climate_scenario": ["ssp585"]}).sum() == 2
    # a value no file has, or a facet no file has, keeps nothing
    assert table.matching({"model": ["lpjml"]}).sum() == 0
    assert table.matching({"ensemble_member": ["r1i1p1f1"]}).sum() == 0
    assert table.matching({"model": []}).sum() == 17  # nothing chosen: no filter


def test_counts_say_what_each_further_choice_would_give():
    table = FacetTable(archive_rows())
    counts = table.counts({"model": ["h08"], "variable": ["dis"]})
    # a facet's own choice does not narrow its counts: the user can add another model
    assert counts["model"] == {"cwatm": 4, "h08": 4}
    assert counts["variable"] == {"dis": 4, "qtot": 4}
    assert counts["climate_scenario"] == {"ssp126": 2, "ssp585": 2}
    assert counts["time_step"] == {"daily": 4}
    # a chosen value that no longer gives anything still shows, with 0
    counts = table.counts({"model": ["cwatm"], "climate_forcing": ["ipsl-cm6a-lr"], "variable": ["snow"]})
    assert counts["variable"] == {"dis": 2, "qtot": 2, "snow": 0}
    assert counts["model"] == {"cwatm": 0}  # no model has the variable chosen


def test_the_index_finds_files_by_facets_and_words(tmp_path):
    folder = tmp_path / "ISIMIP3b" / "OutputData" / "water_global"
    for model in ("cwatm", "h08"):
        for scenario in ("historical", "ssp585"):
            for start in (2015, 2021):
                path = folder / model / f"{model}_gfdl-esm4_w5e5_{scenario}_2015soc_default_dis_global_daily"
                path.parent.mkdir(parents=True, exist_ok=True)
                (path.parent / f"{path.name}_{start}_{start + 5}.nc").touch()
    (tmp_path / "notes.nc").touch()
    index = FileIndex(tmp_path)
    found = index.search("", chosen={"model": ["h08"], "climate_scenario": ["ssp585"]})
    assert found.total == 2
    assert [p.rsplit("_", 2)[-2] for p in found.paths] == ["2015", "2021"]
    assert all("/h08/" in p and "_ssp585_" in p for p in found.paths)
    assert index.search("2021", chosen={"model": ["h08"]}).total == 2  # words narrow facets further
    assert index.search("", limit=3, chosen={"period": ["2021-2026"]}) == index.search("2021_2026", limit=3)
    assert index.search("", chosen={"model": ["h08"], "region": ["africa"]}).total == 0
    assert index.facets().counts({})["period"] == {"2015-2020": 4, "2021-2026": 4}


def test_the_index_parses_each_name_once_across_rebuilds(tmp_path, monkeypatch):
    from isimip_mask.files import datasets

    for i in range(5):
        (tmp_path / f"h08_wfdei_nobc_hist_varsoc_co2_dis_global_daily_{1971 + i}_{1971 + i}.nc").touch()
    calls = []

    def counting(path):
        calls.append(path)
        return parse(path)

    monkeypatch.setattr(datasets, "parse_facets", counting)
    index = FileIndex(tmp_path, max_age_s=0)
    assert index.facets().counts({})["model"] == {"h08": 5}
    (tmp_path / "h08_wfdei_nobc_hist_varsoc_co2_qtot_global_daily_1971_1971.nc").touch()
    assert index.facets().counts({})["variable"] == {"dis": 5, "qtot": 1}  # rebuilt: the new file is in
    assert len(calls) == 6  # the five known names were not parsed again


@pytest.mark.parametrize(
    ("name", "years", "stem", "narrowed"),
    [
        ("x_daily_2001_2010.nc", (2001, 2010), "x_daily.nc", "x_daily_2003_2005.nc"),
        ("x_monthly_185001_189912.nc", (1850, 1899), "x_monthly.nc", "x_monthly_200301_200512.nc"),
        ("x_20060101-20101231.nc4", (2006, 2010), "x.nc4", "x_20030101-20051231.nc4"),
        ("x_daily_2001_2010", (2001, 2010), "x_daily", "x_daily_2003_2005"),
        ("x_global_daily.nc", None, "x_global_daily.nc", None),
    ],
)
def test_one_rule_reads_the_period_of_a_name_for_facets_datasets_names_and_joins(name, years, stem, narrowed):
    from isimip_mask.files.datasets import dataset_stem
    from isimip_mask.files.facets import name_period, with_name_period, without_period
    from isimip_mask.jobs.merge import mergeable

    assert name_period(name) == years and without_period(name) == stem
    if years:
        assert with_name_period(name, 2003, 2005) == narrowed
        later = with_name_period(name, years[1] + 1, years[1] + 10)
        assert mergeable([name, later]) and dataset_stem(name) == dataset_stem(later)
        assert parse(f"isimip/{name}").get("period") == f"{years[0]}-{years[1]}"
