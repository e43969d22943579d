"""ISIMIP facets of a file, read from its path: what the ISIMIP repository's search filters by.

The ISIMIP protocols (https://protocol.isimip.org) name every file and folder the same way::

    ISIMIP3b/OutputData/water_global/CWatM/gfdl-esm4/future/
        cwatm_gfdl-esm4_w5e5_ssp585_2015soc_default_dis_global_daily_2015_2100.nc
        <model>_<forcing>_<bias>_<scenario>_<soc>_<sens>_<variable>_<region>_<time step>_<start>_<end>

    ISIMIP3b/InputData/climate/atmosphere/bias-adjusted/global/daily/ssp585/GFDL-ESM4/
        gfdl-esm4_r1i1p1f1_w5e5_ssp585_tas_global_daily_2015_2020.nc
        <forcing>_<member>_<bias>_<scenario>_<variable>_<region>_<time step>_<start>_<end>

Parts are told apart by what they look like (a time step word, a scenario, ``...soc``, a member
``r1i1p1f1``) and by their place around those anchors, so ISIMIP2a/2b/3a/3b names and names
with extra words after the time step all parse. A name that does not follow the protocol gets
the facets that can be told for sure and no more; it stays findable by its folder and words.
"""

import functools
import re

import numpy as np

FACETS = {
    "simulation_round": "Simulation round",
    "product": "Product",
    "sector": "Sector or category",
    "model": "Impact model",
    "climate_forcing": "Climate forcing",
    "ensemble_member": "Ensemble member",
    "bias_adjustment": "Bias adjustment",
    "climate_scenario": "Climate scenario",
    "soc_scenario": "Socioeconomic scenario",
    "sens_scenario": "Sensitivity scenario",
    "variable": "Variable",
    "region": "Region",
    "time_step": "Time step",
    "period": "Period",
}

ROUND = re.compile(r"^ISIMIP(\d[a-z]?|FT)$", re.IGNORECASE)
PRODUCT = re.compile(r"^(Secondary|Derived)?(Input|Output)Data$", re.IGNORECASE)
TIME_STEPS = frozenset({"1hr", "3hr", "6hr", "daily", "monthly", "annual", "annual-gs", "seasonal", "fixed"})
SCENARIO = re.compile(
    r"^(historical|hist|picontrol|pre-industrial|ssp\d{3}(-over)?|rcp\d{2}|"
    r"obsclim|counterclim|spinclim|transclim|histclim|1850-?cntrl)$"
)
MEMBER = re.compile(r"^r\d+i\d+p\d+(f\d+)?$")
BIAS_ADJUSTMENTS = frozenset({"w5e5", "ewembi", "nobc"})  # after the forcing: gfdl-esm4_w5e5_...
SOC = re.compile(r"^[a-z0-9-]*soc(-[a-z0-9-]+)?$")  # histsoc, 2015soc, nosoc, 2015soc-from-histsoc


def parse(path: str) -> dict[str, str]:
    """The facets of one file (relative path under the data root); absent ones are left out."""
    folder, _, name = path.rpartition("/")
    facets = dict(_folder_facets(folder))
    tokens = name.rpartition(".")[0].lower().split("_") if "." in name else name.lower().split("_")
    tokens, period = _split_period(tokens)
    if period:
        facets["period"] = period
    facets.update(_name_facets(tokens))
    return facets


@functools.lru_cache(maxsize=4096)
def _folder_facets(path: str) -> dict[str, str]:
    """The facets of a folder path (shared by all its files: do not change the result)."""
    folders = path.split("/")
    for i, folder in enumerate(folders):
        if ROUND.match(folder):
            facets = {"simulation_round": folder}
            if i + 1 < len(folders) and PRODUCT.match(folders[i + 1]):
                facets["product"] = folders[i + 1]
                if i + 2 < len(folders):
                    facets["sector"] = folders[i + 2]
            return facets
    return {}


def _split_period(tokens: list[str]) -> tuple[list[str], str | None]:
    """The name's tokens without its period, and the period as ``first-last`` year."""
    for count in (2, 1):
        if len(tokens) > count and (years := name_period("_" + "_".join(tokens[-count:]))):
            return tokens[:-count], f"{years[0]}-{years[1]}"
    return tokens, None


# the one rule for the period in a file's name: at the end of its stem, years with or without
# months and days, joined by "_" (ISIMIP outputs) or "-" (ISIMIP2b inputs)
NAME_PERIOD = re.compile(r"_(\d{4})(\d{2})?(\d{2})?([_-])(\d{4})(\d{2})?(\d{2})?(?=\.[^./]+$|$)")


def name_period(name: str) -> tuple[int, int] | None:
    """The first and last year of the period a file's name ends with (``_2001_2010``,
    ``_185001_189912``, ``_20060101-20101231``, before the extension if any), else None."""
    match = NAME_PERIOD.search(name)
    return (int(match[1]), int(match[5])) if match else None


def without_period(name: str) -> str:
    """The name without its period: what the files of one dataset share."""
    return NAME_PERIOD.sub("", name, count=1)


def with_name_period(name: str, start: int, end: int) -> str:
    """The name with its period set to ``start``-``end`` in the form it had (years, months,
    days: a monthly ``_185001_189912`` becomes ``_186001_187012``)."""
    match = NAME_PERIOD.search(name)
    first = f"{start:04d}" + ("01" if match[2] else "") + ("01" if match[3] else "")
    last = f"{end:04d}" + ("12" if match[6] else "") + ("31" if match[7] else "")
    return name[: match.start()] + f"_{first}{match[4]}{last}" + name[match.end() :]


def _name_facets(tokens: list[str]) -> dict[str, str]:  # noqa: C901 (one branch per facet of the ISIMIP protocols' file names)
    facets = {}
    step = next((i for i in range(len(tokens) - 1, 1, -1) if tokens[i] in TIME_STEPS), None)
    if step is None:  # not a protocol name: only what no other word can be mistaken for
        for token in tokens:
            if MEMBER.match(token):
                facets["ensemble_member"] = token
            elif SCENARIO.match(token):
                facets.setdefault("climate_scenario", token)
        return facets
    facets["time_step"] = tokens[step]
    facets["region"] = tokens[step - 1]
    facets["variable"] = tokens[step - 2]
    head = tokens[: step - 2]
    scenario = next((i for i, token in enumerate(head) if SCENARIO.match(token)), None)
    if scenario is None:
        return facets
    facets["climate_scenario"] = head[scenario]
    names = []
    for token in head[:scenario]:
        if MEMBER.match(token):
            facets["ensemble_member"] = token
        elif token in BIAS_ADJUSTMENTS:
            facets["bias_adjustment"] = token
        else:
            names.append(token)
    if not names and "bias_adjustment" in facets:  # w5e5_obsclim_...: the data set is the forcing
        names.append(facets.pop("bias_adjustment"))
    if len(names) == 1:  # input data: the forcing comes first
        facets["climate_forcing"] = names[0]
    elif len(names) >= 2:  # output data: the impact model, then the forcing
        facets["model"], facets["climate_forcing"] = names[0], names[1]
    sens = []
    for token in head[scenario + 1 :]:
        if SOC.match(token) and "soc_scenario" not in facets:
            facets["soc_scenario"] = token
        else:
            sens.append(token)
    if sens:
        facets["sens_scenario"] = "_".join(sens)
    return facets


class FacetTable:
    """The facets of many files as integer codes, one column per facet, for filtering and
    counting a 100,000-file archive in milliseconds.

    Filters combine as the ISIMIP repository's search does: any of the values chosen for
    one facet, and every facet that has a choice.
    """

    def __init__(self, rows: list[dict[str, str]]):
        self.size = len(rows)
        self.values: dict[str, list[str]] = {}  # facet: its values, sorted
        self.number: dict[str, dict[str, int]] = {}  # facet: value -> its code
        self.codes: dict[str, np.ndarray] = {}  # facet: the code of every file's value (-1: none)
        for facet in FACETS:
            column = [row.get(facet) for row in rows]
            values = sorted({value for value in column if value is not None})
            if not values:
                continue
            number = {value: code for code, value in enumerate(values)}
            self.values[facet], self.number[facet] = values, number
            self.codes[facet] = np.fromiter(
                (number.get(value, -1) for value in column), dtype=np.int32, count=self.size
            )

    def matching(self, chosen: dict[str, list[str]], leave_out: str | None = None) -> np.ndarray:
        """Which files have one of the chosen values of every facet (``leave_out`` ignored)."""
        keep = np.ones(self.size, dtype=bool)
        for facet, values in chosen.items():
            if facet == leave_out or not values:
                continue
            if facet not in self.codes:
                return np.zeros(self.size, dtype=bool)
            number = self.number[facet]
            wanted = [number[value] for value in values if value in number]
            keep &= np.isin(self.codes[facet], wanted)
        return keep

    def counts(self, chosen: dict[str, list[str]]) -> dict[str, dict[str, int]]:
        """For every facet, how many files each value would give with the other facets' choices
        (values that would give none are left out, unless chosen)."""
        counts = {}
        for facet, values in self.values.items():
            keep = self.matching(chosen, leave_out=facet)
            codes = self.codes[facet][keep]
            tally = np.bincount(codes[codes >= 0], minlength=len(values))
            counts[facet] = {value: int(n) for value, n in zip(values, tally) if n}
        for facet, values in chosen.items():
            for value in values:
                counts.setdefault(facet, {}).setdefault(value, 0)
        return counts
