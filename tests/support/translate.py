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
