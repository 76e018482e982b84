"""A toy parallel corpus for the translation tests: any clone can train on it in seconds.

The "foreign" language maps each English word to its own word and reverses the order, so a model must look back
across the whole source to get the first target word right: attention's job.
"""
import random

WORDS = ["a", "dog", "cat", "man", "woman", "child", "runs", "sits", "jumps", "on", "the", "grass", "beach", "street",
         "red", "blue", "small", "big", "ball", "bike"]
FOREIGN = {w: ("zu" + w[::-1] + "ek") for w in WORDS}


def toy_pairs(n: int, seed: int = 0, min_words: int = 3, max_words: int = 9) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(min_words, max_words))]
        source = " ".join(words).capitalize() + "."
        target = " ".join(FOREIGN[w] for w in reversed(words)).capitalize() + "."
        pairs.append((source, target))
    return pairs


def write_parallel(directory, n: int = 600, seed: int = 0):
    """Two line-aligned files of ``n`` toy pairs -> (source path, target path)."""
    pairs = toy_pairs(n, seed)
    source, target = directory / "toy.en", directory / "toy.xx"
    source.write_text("\n".join(s for s, _ in pairs) + "\n", encoding="utf-8")
    target.write_text("\n".join(t for _, t in pairs) + "\n", encoding="utf-8")
    return source, target


def toy_translator(directory, attention="general", epochs=6):
    """A translator trained for a few seconds on the toy language, exported like a shipped model, with the test
    figures `evaluate_translator --split ... --record` would store (here scored on toy pairs)."""
    import json

    from ml.translate.evaluate import evaluate
    from ml.translate.train import TranslateConfig, train
    from ml.translate.translator import Translator

    directory.mkdir(parents=True, exist_ok=True)
    source, target = write_parallel(directory, 600)
    export = directory / "model"
    train(TranslateConfig(train_source=str(source), train_target=str(target), run_dir=str(directory / "run"),
                          export_dir=str(export), attention=attention, epochs=epochs, src_vocab=100, tgt_vocab=100,
                          emb_dim=32, enc_hidden=32, dec_hidden=64, dropout=0.0, batch_size=32, lr=1e-2,
                          warmup_steps=5, bf16=False, threads=1, val_lines=50, ema=0.0))
    translator = Translator.from_dir(export)
    pairs = toy_pairs(60, seed=11, max_words=14)
    result = evaluate(lambda s: translator.translate(s)["translation"], [s for s, _ in pairs], [t for _, t in pairs])
    result.pop("hypotheses")
    metrics = json.loads((export / "metrics.json").read_text())
    (export / "metrics.json").write_text(json.dumps({**metrics, "test_2016_flickr": {**result, "beam": 5}}))
    return export
