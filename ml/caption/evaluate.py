"""COCO caption metrics (pycocoevalcap): BLEU-1..4 and CIDEr-D, plus METEOR when Java is present.

Tokenisation: the Stanford PTB tokenizer (Java) when ``java`` is on PATH; otherwise a documented
Python fallback that lowercases and drops punctuation the same way (:func:`simple_tokenize`), so
scores stay comparable. METEOR needs Java and is left out without it.
"""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Callable

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider

_PUNCT = re.compile(r"[^a-z0-9' ]+")


def java_available() -> bool:
    return shutil.which("java") is not None


def simple_tokenize(text: str) -> str:
    """PTBTokenizer stand-in: lowercase, punctuation -> space, collapse whitespace."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def _tokenize(refs: dict, hyps: dict) -> tuple[dict, dict]:
    if java_available():
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
        tok = PTBTokenizer()
        r = tok.tokenize({k: [{"caption": c} for c in v] for k, v in refs.items()})
        h = tok.tokenize({k: [{"caption": hyps[k]}] for k in refs})
        return r, h
    return ({k: [simple_tokenize(c) for c in v] for k, v in refs.items()},
            {k: [simple_tokenize(hyps[k])] for k in refs})


def score_captions(refs: dict[str, list[str]], hyps: dict[str, str], meteor: bool | None = None) -> dict:
    """``refs {id: [reference captions]}``, ``hyps {id: caption}`` -> metrics dict.

    Keys: ``bleu1..bleu4``, ``cider`` and (Java only) ``meteor``; BLEU/METEOR in 0..1, CIDEr-D as
    pycocoevalcap reports it (0.6 = "60" in papers that scale by 100).
    """
    missing = set(refs) - set(hyps)
    if missing:
        raise ValueError(f"{len(missing)} images have no hypothesis, e.g. {sorted(missing)[:3]}")
    r, h = _tokenize(refs, hyps)
    # An empty hypothesis makes Bleu's assertion fail; a single placeholder scores ~0 instead.
    h = {k: [v[0] if v and v[0].strip() else "a"] for k, v in h.items()}
    bleu, _ = Bleu(4).compute_score(r, h, verbose=0)
    cider, _ = Cider().compute_score(r, h)
    out = {f"bleu{i + 1}": float(b) for i, b in enumerate(bleu)}
    out["cider"] = float(cider)
    if meteor is None:
        meteor = java_available()
    if meteor:
        from pycocoevalcap.meteor.meteor import Meteor
        m = Meteor()
        try:
            out["meteor"] = float(m.compute_score(r, h)[0])
        finally:
            m.close() if hasattr(m, "close") else None
    return out


def evaluate_folder(captioner, images_dir, references: dict[str, list[str]], beam: int = 3,
                    batch_size: int = 16, on_progress: Callable[[dict], None] | None = None,
                    meteor: bool | None = None) -> dict:
    """Caption every image in ``references`` with ``captioner`` and score against the references.

    Returns the metrics plus ``n_images``, ``seconds_per_image`` (file -> caption wall time),
    ``distinct_words``, ``unk_captions`` and ``hypotheses`` ({name: caption}).
    """
    images_dir = Path(images_dir)
    names = sorted(references)
    hyps: dict[str, str] = {}
    t0 = time.perf_counter()
    for start in range(0, len(names), batch_size):
        chunk = names[start:start + batch_size]
        results = captioner.caption_batch([images_dir / n for n in chunk], beam=beam, attention=False)
        hyps.update({n: r["caption"] for n, r in zip(chunk, results)})
        if on_progress:
            on_progress({"stage": "evaluate", "done": len(hyps), "total": len(names)})
    seconds = time.perf_counter() - t0
    metrics = score_captions({n: references[n] for n in names}, hyps, meteor=meteor)
    words = {w for c in hyps.values() for w in c.split()}
    metrics.update({
        "n_images": len(names),
        "seconds_per_image": seconds / max(1, len(names)),
        "distinct_words": len(words),
        "unk_captions": sum("<unk>" in c for c in hyps.values()),
        "hypotheses": hyps,
    })
    return metrics
