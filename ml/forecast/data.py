"""Time series for the forecaster: the built-in series (data bundled in the `arch` and `statsmodels` wheels, no
download), users' CSV files checked line by line, chronological splits, and the windows a model learns from.

A series is a 1-D float array with a label per point (a date or a position). Splits are by time only::

    |------------------ train ------------------|---- val ----|------- test (last 20 %) -------|
    fit: the scale, the weights                   early stopping  rolling-origin evaluation

Nothing fitted for training (the scale, the windows, the choice of epoch) reads past the validation part.

A model sees a window of the last ``context`` values *relative to the last one* and predicts the next ``horizon``
values as changes from it, both divided by the training part's typical one-step change. So a level it has never
seen (CO2 keeps rising; a stock index doubles) looks like the levels it learnt from, and predicting "no change"
is the natural start: the naive forecast.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np

MAX_POINTS = 100_000
MAX_BYTES = 5 * 1024 * 1024
MIN_POINTS = 30
SEASON_BY_FREQUENCY = {"hourly": 24, "daily": 7, "weekly": 52, "monthly": 12, "quarterly": 4, "yearly": 0}


class SeriesError(ValueError):
    """A series that cannot be used, with the reason a person can act on."""


@dataclass
class Series:
    name: str
    values: np.ndarray                  # (N,) float64, finite
    index: list[str]                    # N labels: ISO dates or positions
    season: int = 0                     # steps in one seasonal cycle (0 = none)
    frequency: str = ""                 # "daily", "weekly", "monthly", ... ("" = unknown)
    unit: str = ""
    kind: str = "level"                 # "price": a market price, where "tomorrow = today" is the honest bar
    title: str = ""
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)


# --- built-in series ------------------------------------------------------------------------------------------

def _from_pandas(name, column, **meta) -> Series:
    column = column.astype(float)
    return Series(name=name, values=column.to_numpy(dtype=np.float64),
                  index=[d.strftime("%Y-%m-%d") for d in column.index], **meta)


def _market(module_name: str, name: str, title: str) -> Series:
    import importlib
    frame = importlib.import_module(f"arch.data.{module_name}").load()
    return _from_pandas(name, frame["Adj Close"], frequency="daily", unit="index points", kind="price", title=title,
                        source="arch.data (Yahoo! Finance daily adjusted close)")


def _sp500() -> Series:
    return _market("sp500", "sp500", "S&P 500")


def _nasdaq() -> Series:
    return _market("nasdaq", "nasdaq", "NASDAQ Composite")


def _oil() -> Series:
    from arch.data import wti
    column = wti.load()["DCOILWTICO"]
    missing = int(column.isna().sum())
    return _from_pandas("oil", column.dropna(), frequency="daily", unit="US$ per barrel", kind="price",
                        title="WTI crude oil", source="arch.data (FRED DCOILWTICO)",
                        notes=[f"{missing} market holidays without a price are left out"])


def _vix() -> Series:
    from arch.data import vix
    column = vix.load()["vix"]
    missing = int(column.isna().sum())
    return _from_pandas("vix", column.dropna(), frequency="daily", unit="index points", kind="price",
                        title="VIX volatility index", source="arch.data (CBOE VIX)",
                        notes=[f"{missing} days without a value are left out"])


def _co2() -> Series:
    import statsmodels.api as sm
    column = sm.datasets.co2.load_pandas().data["co2"]
    missing = int(column.isna().sum())
    return _from_pandas("co2", column.interpolate(limit_direction="both"), season=52, frequency="weekly",
                        unit="ppm", title="Atmospheric CO2 at Mauna Loa",
                        source="statsmodels.datasets.co2 (Scripps, weekly 1958-2001)",
                        notes=[f"{missing} missing weeks are filled by straight lines between their neighbours"])


def _sunspots() -> Series:
    import statsmodels.api as sm
    frame = sm.datasets.sunspots.load_pandas().data
    return Series(name="sunspots", values=frame["SUNACTIVITY"].to_numpy(dtype=np.float64),
                  index=[str(int(y)) for y in frame["YEAR"]], season=11, frequency="yearly",
                  unit="sunspot number", title="Yearly sunspots", source="statsmodels.datasets.sunspots (1700-2008)",
                  notes=["the solar cycle averages about 11 years but varies from 9 to 14: a season of 11 is an "
                         "approximation"])


def _elnino() -> Series:
    import statsmodels.api as sm
    frame = sm.datasets.elnino.load_pandas().data
    months = list(frame.columns[1:])
    values, index = [], []
    for _, row in frame.iterrows():
        for number, month in enumerate(months, 1):
            values.append(float(row[month]))
            index.append(f"{int(row['YEAR'])}-{number:02d}")
    return Series(name="elnino", values=np.array(values), index=index, season=12, frequency="monthly", unit="°C",
                  title="El Niño sea surface temperature",
                  source="statsmodels.datasets.elnino (monthly 1950-2010)")


BUILTIN = {"sp500": _sp500, "nasdaq": _nasdaq, "oil": _oil, "vix": _vix, "co2": _co2, "sunspots": _sunspots,
           "elnino": _elnino}


def builtin(name: str) -> Series:
    """One of the bundled series by name (``BUILTIN``'s keys)."""
    if name not in BUILTIN:
        raise SeriesError(f"unknown series {name!r}: choose one of {', '.join(BUILTIN)}")
    return BUILTIN[name]()


def model_series(model_dir, config: dict) -> Series:
    """The series a model directory was trained on: a built-in one by name, else the ``series.csv`` it keeps."""
    from pathlib import Path
    meta = config["series"]
    if meta["name"] in BUILTIN and not (Path(model_dir) / "series.csv").exists():
        return builtin(meta["name"])
    series = read_csv((Path(model_dir) / "series.csv").read_bytes(), column=meta.get("column", ""),
                      name=meta["name"])
    series.season, series.title, series.unit = meta["season"], meta.get("title") or series.title, meta.get("unit", "")
    return series


# --- users' CSV files -----------------------------------------------------------------------------------------

def _number(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "")) if text.strip() else None
    except ValueError:
        return None
    return value


def _dates(cells: list[str]):
    """The cells as dates (numpy datetime64 days), or None when they are not all dates."""
    import pandas as pd
    try:
        parsed = pd.to_datetime(pd.Series(cells), format="mixed", errors="raise")
    except (ValueError, TypeError, OverflowError):
        return None
    return parsed


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:5])
    return f"line{'s' if len(numbers) > 1 else ''} {shown}{' and more' if len(numbers) > 5 else ''}"


def infer_frequency(dates) -> str:
    """'hourly' .. 'yearly' from the median gap between the dates, '' when it fits none."""
    gaps = np.diff(dates.to_numpy().astype("datetime64[s]").astype(np.int64)) / 86400.0
    if not len(gaps):
        return ""
    median = float(np.median(gaps))
    for name, low, high in (("hourly", 0.03, 0.05), ("daily", 0.9, 1.1), ("weekly", 6.5, 7.5),
                            ("monthly", 27, 32), ("quarterly", 88, 93), ("yearly", 360, 370)):
        if low <= median <= high:
            return name
    return ""


def read_csv(data: bytes | str, column: str = "", name: str = "upload") -> Series:
    """A CSV with a header line, an optional date or position column and a numeric column -> Series.

    ``column`` names the value column; without it the file must have exactly one numeric column besides a date
    column. Refused with the reason (SeriesError): empty or binary files, more than 5 MB or 100,000 points, fewer
    than 30, text where a number belongs, missing values, dates out of order or repeated.
    """
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise SeriesError(f"the file is {len(data) / 1e6:.1f} MB; the limit is {MAX_BYTES // (1024 * 1024)} MB")
        if b"\x00" in data[:8192]:
            raise SeriesError("this is not a text file (it contains NUL bytes)")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise SeriesError(f"the file is not UTF-8 text (byte {error.start})") from None
    elif len(data.encode()) > MAX_BYTES:
        raise SeriesError(f"the text is over {MAX_BYTES // (1024 * 1024)} MB")
    try:
        rows = [(number, row) for number, row in enumerate(csv.reader(io.StringIO(data)), 1)
                if any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise SeriesError(f"not a readable CSV file: {error}") from None
    if not rows:
        raise SeriesError("the file is empty")
    header = [cell.strip() for cell in rows[0][1]]
    body = rows[1:]
    if len(body) > MAX_POINTS:
        raise SeriesError(f"{len(body):,} rows; the limit is {MAX_POINTS:,} points")
    if len(body) < MIN_POINTS:
        raise SeriesError(f"{len(body)} rows of data; a forecast needs at least {MIN_POINTS}")
    ragged = [number for number, row in body if len(row) != len(header)]
    if ragged:
        raise SeriesError(f"{_lines(ragged)}: not {len(header)} comma-separated columns like the header")
    columns = {h: [row[i].strip() for _, row in body] for i, h in enumerate(header)}
    numeric = [h for h in header if sum(_number(c) is not None for c in columns[h]) >= 0.9 * len(body)]
    if column:
        if column not in columns:
            raise SeriesError(f"no column named {column!r}; the header has {', '.join(map(repr, header))}")
        value_column = column
    else:
        choices = [h for h in numeric if h != header[0] or len(header) == 1]
        if not choices:
            raise SeriesError(f"no numeric column: the header has {', '.join(map(repr, header))}")
        if len(choices) > 1:
            raise SeriesError(f"several numeric columns ({', '.join(map(repr, choices))}): name one as the column")
        value_column = choices[0]
    values = [_number(c) for c in columns[value_column]]
    bad = [number for (number, _), v in zip(body, values) if v is None or not math.isfinite(v)]
    if bad:
        raise SeriesError(f"column {value_column!r}, {_lines(bad)}: missing or not a number")
    index = [str(i) for i in range(len(body))]
    frequency = ""
    first = header[0]
    if first != value_column and len(header) > 1:
        dates = _dates(columns[first])
        positions = [_number(c) for c in columns[first]]
        if dates is not None:
            gaps = np.diff(dates.to_numpy().astype("datetime64[s]").astype(np.int64))
            key = dates
        elif all(p is not None for p in positions):
            gaps = np.diff(np.array(positions))
            key = None
        else:
            raise SeriesError(f"column {first!r} holds neither dates nor positions (e.g. line {body[0][0]}: "
                              f"{columns[first][0]!r})")
        repeated = [body[i + 1][0] for i in np.flatnonzero(gaps == 0)]
        if repeated:
            raise SeriesError(f"{_lines(repeated)}: the same {first!r} as the line before")
        backwards = [body[i + 1][0] for i in np.flatnonzero(gaps < 0)]
        if backwards:
            raise SeriesError(f"{_lines(backwards)}: {first!r} goes back in time; sort the file oldest first")
        if key is not None:
            frequency = infer_frequency(key)
            index = [d.strftime("%Y-%m-%d") for d in key]
        else:
            index = columns[first]
    return Series(name=name, values=np.array(values, dtype=np.float64), index=index, frequency=frequency,
                  season=SEASON_BY_FREQUENCY.get(frequency, 0), title=value_column, source="uploaded CSV")


def check_values(values, season: int = 0) -> np.ndarray:
    """A list of numbers from the API -> float64 array, or SeriesError naming what is wrong."""
    if not isinstance(values, (list, tuple)):
        raise SeriesError("values must be a list of numbers")
    if len(values) > MAX_POINTS:
        raise SeriesError(f"{len(values):,} values; the limit is {MAX_POINTS:,}")
    if len(values) < MIN_POINTS:
        raise SeriesError(f"{len(values)} values; a forecast needs at least {MIN_POINTS}")
    bad = [i for i, v in enumerate(values)
           if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)]
    if bad:
        raise SeriesError(f"values[{bad[0]}] is {values[bad[0]]!r}, not a finite number"
                          + (f" ({len(bad)} such values)" if len(bad) > 1 else ""))
    return np.asarray(values, dtype=np.float64)


# --- splits, scale and windows --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Split:
    """Chronological boundaries: train = [0, train_end), val = [train_end, fit_end), test = [fit_end, n)."""
    train_end: int
    fit_end: int
    n: int


def split(n: int, test_share: float = 0.2, val_share: float = 0.15) -> Split:
    """The last ``test_share`` of the points for testing, then ``val_share`` of the rest for validation."""
    fit_end = n - max(1, int(round(n * test_share)))
    train_end = fit_end - max(1, int(round(fit_end * val_share)))
    return Split(train_end, fit_end, n)


def step_scale(values: np.ndarray) -> float:
    """The typical one-step change of ``values`` (mean absolute first difference): the unit models work in."""
    scale = float(np.mean(np.abs(np.diff(values)))) if len(values) > 1 else 0.0
    return scale if scale > 1e-12 else 1.0


def windows(values: np.ndarray, origins, context: int, horizon: int, scale: float,
            with_targets: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Model inputs for forecasts made at each origin t (the last observed index):

    inputs (N, context, 1) = (values[t - context + 1 .. t] - values[t]) / scale (points before 0 repeat the first)
    targets (N, horizon)   = (values[t + 1 .. t + horizon] - values[t]) / scale
    """
    origins = np.asarray(origins, dtype=np.int64)
    offsets = np.arange(-context + 1, 1)
    past = values[np.clip(origins[:, None] + offsets[None, :], 0, None)]
    last = values[origins][:, None]
    inputs = ((past - last) / scale)[:, :, None].astype(np.float32)
    if not with_targets:
        return inputs, None
    future = values[origins[:, None] + np.arange(1, horizon + 1)[None, :]]
    return inputs, ((future - last) / scale).astype(np.float32)


def default_context(horizon: int, season: int) -> int:
    """Two seasons when there is one (so the pattern is in view twice), else enough for the horizon."""
    context = max(2 * season, 2 * horizon, 32)
    return int(min(context, 512))


def long_enough(n: int, horizon: int, season: int = 0, test_share: float = 0.2, val_share: float = 0.15) -> bool:
    """Whether ``n`` points leave what training and the backtest need at this horizon: a whole horizon in the test
    and validation parts and 20 training windows (the same sums as ml.forecast.train.fit_origins)."""
    parts = split(n, test_share, val_share)
    context = default_context(horizon, season)
    first = min(context - 1, max(0, (parts.train_end - horizon) // 3))
    return (parts.n - parts.fit_end >= horizon and parts.fit_end - parts.train_end >= horizon
            and parts.train_end - horizon - first >= 20)


def check_length(n: int, horizon: int, season: int = 0) -> None:
    """SeriesError, with the smallest length that would do, when ``n`` points are too few for ``horizon``."""
    if long_enough(n, horizon, season):
        return
    needed = next((m for m in range(max(n, MIN_POINTS), MAX_POINTS + 1) if long_enough(m, horizon, season)), None)
    hint = f"at least {needed:,} points" if needed else "more points"
    raise SeriesError(f"{n:,} points are too few for a {horizon}-step horizon (the last 20 % is the test and must "
                      f"hold whole horizons): use {hint} or a shorter horizon")
