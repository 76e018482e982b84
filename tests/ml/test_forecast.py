"""ml.forecast: CSV checks, chronological windows, the network, the baselines, training and the commands, on small
series made here (a trend plus a season plus noise) so any clone runs them in seconds."""
import json

import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command

from ml.forecast import baselines, checkpoint
from ml.forecast.data import SeriesError, check_values, read_csv, split, step_scale, windows
from ml.forecast.evaluate import backtest, origins_for
from ml.forecast.forecaster import Forecaster
from ml.forecast.model import ModelConfig, RecurrentForecaster, quantile_loss
from ml.forecast.train import ForecastConfig, train


def seasonal_series(n=480, season=12, slope=0.05, noise=0.1, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10 + slope * t + 2 * np.sin(2 * np.pi * t / season) + noise * rng.standard_normal(n)


def write_csv(path, values, start="2000-01-01", freq="MS", header=("month", "sales")):
    import pandas as pd
    dates = pd.date_range(start, periods=len(values), freq=freq)
    lines = [",".join(header)] + [f"{d:%Y-%m-%d},{v:.4f}" for d, v in zip(dates, values)]
    path.write_text("\n".join(lines) + "\n")
    return path


SMALL = {"hidden": 16, "batch_size": 32, "lr": 1e-2, "epochs": 40, "patience": 40, "threads": 1,
         "time_budget_min": 1.0, "dropout": 0.0}


# --- data -----------------------------------------------------------------------------------------------------

def test_a_dated_csv_gives_its_values_frequency_and_season(tmp_path):
    values = seasonal_series(60)
    series = read_csv(write_csv(tmp_path / "s.csv", values).read_bytes())
    assert np.allclose(series.values, values, atol=1e-4)
    assert (series.frequency, series.season, series.index[0], series.title) == ("monthly", 12, "2000-01-01", "sales")


def test_a_position_column_and_a_named_column(tmp_path):
    rows = ["t,a,b"] + [f"{i},{i * 2},{i * 3}" for i in range(40)]
    path = tmp_path / "p.csv"
    path.write_text("\n".join(rows))
    with pytest.raises(SeriesError, match="several numeric columns"):
        read_csv(path.read_bytes())
    series = read_csv(path.read_bytes(), column="b")
    assert series.values[-1] == 117 and series.index[-1] == "39" and series.season == 0


@pytest.mark.parametrize("text,message", [
    ("", "empty"),
    ("name\n" + "\n".join(f"word{i}" for i in range(50)), "no numeric column"),
    ("date,v\n" + "\n".join(f"2001-01-{i:02d},{i}" for i in range(28, 0, -1)) + "\n" +
     "\n".join(f"2002-01-{i:02d},{i}" for i in range(1, 10)), "goes back in time"),
    ("date,v\n" + "\n".join(f"2001-01-{min(i, 20):02d},{i}" for i in range(1, 40)), "the same 'date'"),
    ("date,v\n" + "\n".join(f"2001-{1 + i // 28:02d}-{1 + i % 28:02d},{'NaN' if 10 <= i < 15 else i}"
                            for i in range(60)), "lines 12, 13, 14, 15, 16: missing or not a number"),
    ("v\n" + "\n".join(str(i) for i in range(10)), "at least 30"),
    ("a,b\n" + "\n".join("1,2,3" for _ in range(40)), "not 2 comma-separated columns"),
])
def test_bad_csv_files_are_refused_with_the_reason(text, message):
    with pytest.raises(SeriesError, match=message):
        read_csv(text.encode())


def test_huge_and_binary_files_are_refused():
    with pytest.raises(SeriesError, match="limit is 5 MB"):
        read_csv(b"x" * (10 * 1024 * 1024))
    with pytest.raises(SeriesError, match="not a text file"):
        read_csv(b"\x89PNG\x00\x00" * 100)
    with pytest.raises(SeriesError, match="not UTF-8"):
        read_csv(b"v\n" + b"\xff\xfe1\n" * 40)


def test_api_values_are_checked():
    assert check_values(list(range(40))).dtype == np.float64
    for bad, message in [("1,2", "list of numbers"), ([1.0] * 5, "at least 30"),
                         ([1.0] * 39 + [float("nan")], r"values\[39\]"), ([1] * 39 + ["x"], "not a finite"),
                         ([True] * 40, "not a finite")]:
        with pytest.raises(SeriesError, match=message):
            check_values(bad)


def test_splits_are_chronological_and_windows_relative_to_the_last_value():
    parts = split(100, test_share=0.2, val_share=0.25)
    assert (parts.train_end, parts.fit_end, parts.n) == (60, 80, 100)
    values = np.arange(20, dtype=float) * 2
    inputs, targets = windows(values, np.array([5, 10]), context=4, horizon=3, scale=step_scale(values))
    assert inputs.shape == (2, 4, 1) and targets.shape == (2, 3)
    assert np.allclose(inputs[0, :, 0], [-3, -2, -1, 0]) and np.allclose(targets[1], [1, 2, 3])
    early, _ = windows(values, np.array([1]), context=4, horizon=1, scale=1.0)
    assert np.allclose(early[0, :, 0], [-2, -2, -2, 0])      # before the start the first value repeats


# --- model ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_network_starts_naive_and_its_bounds_never_cross(cell):
    model = RecurrentForecaster(ModelConfig(horizon=5, context=8, cell=cell, hidden=8))
    out = model(torch.randn(3, 8, 1))
    assert out.shape == (3, 5, 3)
    assert torch.all(out[..., 1] == 0)                      # a zero head: "no change", the naive forecast
    torch.nn.init.normal_(model.head.weight)
    out = model(torch.randn(3, 8, 1))
    assert torch.all(out[..., 0] <= out[..., 1]) and torch.all(out[..., 1] <= out[..., 2])
    with pytest.raises(ValueError, match="cell must be one of"):
        ModelConfig(horizon=1, context=4, cell="transformer")


def test_the_median_part_of_the_loss_is_half_the_absolute_error():
    pred = torch.zeros(1, 2, 3)
    target = torch.tensor([[1.0, -3.0]])
    assert torch.isclose(quantile_loss(pred, target, (0.5, 0.5, 0.5)), torch.tensor(1.0))


# --- baselines ------------------------------------------------------------------------------------------------

def test_the_rules_on_series_they_get_exactly_right():
    periodic = np.tile(np.arange(7, dtype=float), 20)
    origins = np.array([50, 60, 70])
    assert np.allclose(baselines.seasonal_point(periodic, origins, 10, 7),
                       periodic[origins[:, None] + np.arange(1, 11)])
    line = np.arange(100, dtype=float) * 3 + 1
    assert np.allclose(baselines.drift_point(line, origins, 4), line[origins[:, None] + np.arange(1, 5)])
    assert np.allclose(baselines.naive_point(line, origins, 2), line[origins][:, None])


def test_backtest_scores_every_method_at_the_same_origins():
    values = seasonal_series(240)
    parts = split(len(values))
    result = backtest(values, parts, horizon=6, season=12, methods=("naive", "seasonal_naive", "drift", "arima"))
    origins = origins_for(parts, 6)
    assert result["n_origins"] == len(origins) == parts.n - parts.fit_end - 6 + 1
    for name in ("naive", "seasonal_naive", "drift", "arima"):
        row = result[name]
        assert row["mae"] > 0 and row["rmse"] >= row["mae"] and 0 <= row["coverage"] <= 1, (name, row)
    assert result["seasonal_naive"]["mae"] < result["naive"]["mae"]     # the season is most of the signal
    assert result["arima"]["mae"] < result["seasonal_naive"]["mae"]      # Fourier terms + drift get the trend too
    assert result["naive"]["direction"]["accuracy"] is None               # "no change" never calls a direction


def test_ets_runs_rolling_from_one_fit():
    values = seasonal_series(150, season=4)
    result = backtest(values, split(len(values)), horizon=4, season=4, methods=("ets",))
    assert result["ets"]["mae"] < 1.0 and result["ets"]["coverage"] > 0.5


# --- training, the model directory and the commands -----------------------------------------------------------

def test_training_beats_seasonal_naive_on_a_trending_season_and_exports_float16(tmp_path):
    csv = write_csv(tmp_path / "s.csv", seasonal_series(480))
    result = train(ForecastConfig(csv=str(csv), horizon=12, run_dir=str(tmp_path / "run"),
                                  export_dir=str(tmp_path / "model"), **SMALL))
    assert result["status"] in ("finished", "early_stopped") and result["export_dir"]
    with open(tmp_path / "model" / "weights.safetensors", "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"F16"}
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["series"]["season"] == 12 and config["split"]["n"] == 480
    assert json.loads((tmp_path / "model" / "unroll.json").read_text())["kind"] == "forecast"

    forecaster = Forecaster.from_dir(tmp_path / "model")
    values = seasonal_series(480)
    from ml.forecast.forecaster import predict
    parts = split(480)
    result = backtest(values, parts, 12, 12, lambda v, o: predict(forecaster.model, v, o, forecaster.scale),
                      methods=("seasonal_naive",))
    assert result["rnn"]["mae"] < 0.85 * result["seasonal_naive"]["mae"], result
    out = forecaster.forecast(values, horizon=5)
    assert len(out["median"]) == 5 and all(lo <= m <= hi for lo, m, hi in zip(out["lower"], out["median"],
                                                                                out["upper"]))
    with pytest.raises(ValueError, match="1 to 12 steps"):
        forecaster.forecast(values, horizon=13)


def test_a_stopped_run_resumes(tmp_path):
    csv = write_csv(tmp_path / "s.csv", seasonal_series(200))
    calls = {"n": 0}

    def stop_after_a_few():
        calls["n"] += 1
        return calls["n"] > 3

    cfg = dict(csv=str(csv), horizon=3, run_dir=str(tmp_path / "run"), **{**SMALL, "epochs": 6})
    first = train(ForecastConfig(**cfg), should_stop=stop_after_a_few)
    assert first["status"] == "cancelled" and 1 <= first["epoch"] < 6
    second = train(ForecastConfig(**cfg, resume=True))
    assert second["status"] == "finished" and second["epoch"] == 6


def test_a_series_too_short_for_the_horizon_is_refused(tmp_path):
    csv = write_csv(tmp_path / "s.csv", seasonal_series(40))
    with pytest.raises(SeriesError, match="too short for a 20-step horizon"):
        train(ForecastConfig(csv=str(csv), horizon=20, run_dir=str(tmp_path / "run"), **SMALL))


def test_a_model_directory_must_be_whole(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="weights.safetensors is missing"):
        checkpoint.load_model(tmp_path)


def test_evaluate_forecaster_on_a_csv_it_has_never_seen(tmp_path, capsys):
    csv = write_csv(tmp_path / "sales.csv", seasonal_series(300, seed=3))
    call_command("evaluate_forecaster", "--csv", str(csv), "--column", "sales", "--horizon", "6", "--budget", "20",
                 "--threads", "1", "--methods", "naive,seasonal_naive,arima", "--json")
    result = json.loads(capsys.readouterr().out)
    for name in ("rnn", "naive", "seasonal_naive", "arima"):
        assert {"mae", "rmse", "mase", "coverage"} <= set(result[name])
    assert result["n_test"] == 60 and result["season"] == 12 and result["seconds"] > 0
    assert result["rnn"]["mae"] < result["naive"]["mae"]
    with pytest.raises(CommandError, match="no column named 'units'"):
        call_command("evaluate_forecaster", "--csv", str(csv), "--column", "units", "--horizon", "6")


def test_the_forecast_command(tmp_path, capsys):
    csv = write_csv(tmp_path / "s.csv", seasonal_series(200))
    train(ForecastConfig(csv=str(csv), horizon=4, run_dir=str(tmp_path / "run"), export_dir=str(tmp_path / "m"),
                         **{**SMALL, "epochs": 3}))
    call_command("forecast", "--model", str(tmp_path / "m"), "--csv", str(csv), "--horizon", "3", "--json")
    out = json.loads(capsys.readouterr().out)
    assert len(out["median"]) == 3 and out["last"]["label"] == "2016-08-01"


def test_future_labels_follow_the_series_own_style():
    from ml.forecast.data import Series
    from ml.forecast.report import future_index

    def series(index, frequency="", kind="level"):
        return Series(name="s", values=np.zeros(len(index)), index=index, frequency=frequency, kind=kind)

    assert future_index(series(["1", "2"]), 2) == ["3", "4"]
    assert future_index(series(["2007", "2008"], "yearly"), 2) == ["2009", "2010"]
    assert future_index(series(["2010-11", "2010-12"], "monthly"), 2) == ["2011-01", "2011-02"]
    assert future_index(series(["2001-12-15", "2001-12-22", "2001-12-29"], "weekly"), 2) == ["2002-01-05",
                                                                                            "2002-01-12"]
    friday = series(["2018-12-27", "2018-12-28"], "daily", kind="price")
    assert future_index(friday, 2) == ["2018-12-31", "2019-01-01"]           # markets skip the weekend
    assert future_index(series(["2000-01-01", "2000-02-01", "2000-03-01"]), 1) == ["2000-04"]


def test_the_verdict_says_plainly_whether_a_price_forecast_beats_tomorrow_equals_today():
    from ml.forecast.data import Series
    from ml.forecast.report import verdict

    stock = Series(name="s", values=np.zeros(3), index=[], kind="price")
    coin = {"accuracy": 0.51, "always_up": 0.53, "p_value": 0.8, "n": 900}
    same = verdict({"rnn": {"mae": 10.02, "direction": coin}, "naive": {"mae": 10.0}}, stock, "lstm")
    assert "no better than \"tomorrow = today\"" in same[0] and "within chance" in same[1]
    worse = verdict({"rnn": {"mae": 11.0, "direction": coin}, "naive": {"mae": 10.0}}, stock, "lstm")
    assert "worse than" in worse[0] and "10.0% larger" in worse[0]
    seasonal = Series(name="s", values=np.zeros(3), index=[], season=12)
    text = verdict({"rnn": {"mae": 1.0}, "naive": {"mae": 3.0}, "seasonal_naive": {"mae": 2.0},
                    "arima": {"mae": 1.2}}, seasonal, "gru")
    assert "50% of the seasonal naive" in text[0] and "beats every baseline" in text[1]


def test_a_report_draws_the_network_and_the_rules_from_the_end(tmp_path):
    from ml.forecast.data import Series
    from ml.forecast.report import report

    values = seasonal_series(240)
    series = Series(name="s", values=values, index=[str(i) for i in range(240)], season=12)
    model = RecurrentForecaster(ModelConfig(horizon=6, context=24, hidden=8))
    answer = report(series, Forecaster(model, {"scale": 1.0}), 4)
    assert answer["future_index"] == ["240", "241", "242", "243"]
    assert answer["forecasts"]["rnn"]["median"] == pytest.approx([values[-1]] * 4, abs=1e-5)   # untrained: naive
    assert answer["forecasts"]["naive"]["median"] == pytest.approx([values[-1]] * 4)
    assert answer["forecasts"]["seasonal_naive"]["median"] == pytest.approx(values[-12:-8])
    assert len(answer["history"]["values"]) == 240 and answer["history"]["index"][-1] == "239"


def test_the_length_needed_for_a_horizon_is_named():
    from ml.forecast.data import check_length, long_enough

    assert long_enough(480, 12, 12) and not long_enough(40, 12, 12)
    with pytest.raises(SeriesError, match=r"too few for a 12-step horizon.*at least \d+ points"):
        check_length(40, 12, 12)


def test_on_a_random_walk_the_network_stays_the_naive_forecast(tmp_path):
    """Nothing in a random walk can be learnt: the run keeps its untrained start (epoch 0, exactly "no change")
    because no later epoch beats it on validation by the required margin."""
    rng = np.random.default_rng(3)
    values = 100 + np.cumsum(rng.standard_normal(1500))
    path = write_csv(tmp_path / "walk.csv", values, freq="D", header=("day", "close"))
    done = train(ForecastConfig(csv=str(path), horizon=1, season=0, epochs=40, patience=15, threads=1,
                                time_budget_min=0.5, run_dir=str(tmp_path / "run")))
    assert done["best_epoch"] == 0
    forecaster = Forecaster.from_dir(done["best_dir"])
    assert forecaster.forecast(values, 1)["median"] == pytest.approx([values[-1]], abs=1e-6)
