"""The long-range probe prompts shipped with ml/lm, read as plain data (the web process never imports torch)."""
import functools
import json
from pathlib import Path

from ml.lm.detokenize import detokenize

PROBES_FILE = Path(__file__).resolve().parents[2] / "ml" / "lm" / "data" / "probes_ptb.json"


@functools.lru_cache(maxsize=1)
def examples(limit=7):
    """The first probes of the file, their prompts written as the page shows text (numbers as a placeholder)."""
    try:
        data = json.loads(PROBES_FILE.read_text())
    except (OSError, ValueError):
        return []
    probes = data.get("probes", data) if isinstance(data, dict) else data
    return [{"prompt": detokenize(p["prompt"].split()), "answer": p["answer"]} for p in probes[:limit]]
