"""What the translate page shows besides live translations: the installed models, each model's stored test
scores (BLEU by source length: the classic "attention keeps long sentences" figure) and example sentences.

Read as plain data from the registry and each model's metrics.json: the web process never imports torch."""
from webapp.registry.models import ModelVersion
from webapp.registry.services import active_versions, version_json

TEST_SPLIT = "test_2016_flickr"
# Everyday descriptions in the style of the training data, short to long (none is from a test set).
EXAMPLES = [
    "A dog runs on the beach.",
    "Two children are playing football in the park.",
    "A woman in a red coat is waiting for the bus.",
    "An old man with a white beard sits on a bench and reads a newspaper.",
    "A group of young people are standing in front of a large building while a man in a blue shirt takes a photo.",
]
# Where the shipped models go wrong (checked on them): English unlike a photo description, and a second sentence.
FAILURES = [
    "The stock market fell sharply today after the bank raised interest rates.",
    "A man is riding a bike. His dog runs behind him.",
]


def metrics(version):
    return version_json(version, "metrics.json")


def has_attention(version):
    return ((version_json(version, "config.json").get("model") or {}).get("attention") or "general") != "none"


def models():
    """[{"slot", "label", "version", "target", "attention", "test": {"bleu", "chrf", ...} or None,
    "by_length": [...]}] of the active translators, attention models first."""
    rows = []
    for version in active_versions(ModelVersion.Kind.TRANSLATOR):
        test = metrics(version).get(TEST_SPLIT) or {}
        rows.append({"slot": version.slot, "label": version.label, "version": version.version,
                     "target": version.slot.split("-")[1] if "-" in version.slot else "",
                     "attention": has_attention(version),
                     "test": {k: test[k] for k in ("bleu", "chrf", "n_sentences", "beam") if k in test} or None,
                     "by_length": test.get("by_length") or []})
    return sorted(rows, key=lambda m: (not m["attention"], m["slot"]))
