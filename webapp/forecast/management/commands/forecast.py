"""Print a trained forecaster's forecast for the end of its series (or of a CSV's).

    python manage.py forecast --model models/forecast-co2-lstm [--horizon 30] [--csv FILE --column NAME] [--json]
"""
import json

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Forecast the next steps of a series with a trained forecaster, with its interval."

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True, help="a forecaster model directory")
        parser.add_argument("--horizon", type=int, default=0, help="steps ahead (default: the model's)")
        parser.add_argument("--csv", default="", help="forecast this CSV's series instead of the model's own")
        parser.add_argument("--column", default="")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **opts):
        from pathlib import Path

        from ml.forecast.data import SeriesError, builtin, read_csv
        from ml.forecast.forecaster import Forecaster

        try:
            forecaster = Forecaster.from_dir(opts["model"])
            if opts["csv"]:
                series = read_csv(Path(opts["csv"]).read_bytes(), column=opts["column"])
            else:
                series = builtin(forecaster.config["series"]["name"])
            result = forecaster.forecast(series.values, opts["horizon"] or None)
        except (SeriesError, ValueError, FileNotFoundError) as error:
            raise CommandError(str(error))
        result = {"last": {"label": series.index[-1], "value": float(series.values[-1])}, **result}
        if opts["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(f"last value {result['last']['value']:g} at {result['last']['label']}; "
                          f"{forecaster.model.cfg.coverage:.0%} interval in brackets")
        for step, (m, lo, hi) in enumerate(zip(result["median"], result["lower"], result["upper"]), 1):
            self.stdout.write(f"  +{step:<4d} {m:12.4f}   [{lo:.4f}, {hi:.4f}]")
