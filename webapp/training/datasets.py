"""Validate an uploaded dataset before anyone trains on it, and say clearly what is wrong."""
import io
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath

from django.conf import settings

from ml.lm.tokenizer import tokenize

MAX_TEXT_BYTES = 50 * 1024 * 1024
MAX_ZIP_BYTES = settings.MAX_DATASET_UPLOAD_MB * 1024 * 1024  # the request-size guard allows the same
MIN_LINES = 20
CAPTION_FILES = ("captions.txt", "Flickr8k.token.txt")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


class DatasetInvalid(ValueError):
    """The dataset cannot be used; the message says why and how to fix it."""


def inspect_text(data):
    """Bytes of a text corpus -> report dict (sizes, vocabulary, most common words)."""
    if not data:
        raise DatasetInvalid("The file is empty.")
    if len(data) > MAX_TEXT_BYTES:
        raise DatasetInvalid(f"The file is {len(data) / 1_048_576:.0f} MB; the limit is {MAX_TEXT_BYTES // 1_048_576} MB.")
    sample = data[:65536]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if b"\x00" in sample or controls > len(sample) * 0.01:
        raise DatasetInvalid("This looks like a binary file, not a text corpus: upload UTF-8 text, one sentence "
                             "or paragraph per line.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetInvalid(f"The file is not valid UTF-8 (first bad byte at offset {exc.start}). Save it as "
                             "UTF-8 and upload it again.") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < MIN_LINES:
        raise DatasetInvalid(f"The corpus has {len(lines)} non-empty lines; at least {MIN_LINES} are needed to "
                             "split it into training, validation and test parts.")
    counts = Counter(token for line in lines for token in tokenize(line, newline_eos=False))
    return {"kind": "text", "bytes": len(data), "lines": len(lines), "tokens": sum(counts.values()),
            "vocabulary": len(counts), "top_words": [w for w, _ in counts.most_common(20)],
            "split": "lines 0-90% train, 90-95% validation, 95-100% test"}


def _safe_members(archive):
    names = []
    for info in archive.infolist():
        path = PurePosixPath(info.filename)
        if path.is_absolute() or ".." in path.parts:
            raise DatasetInvalid(f"The zip contains an unsafe path ({info.filename}); refusing to unpack it.")
        if not info.is_dir():
            names.append(info.filename)
    return names


def _caption_file(names):
    for name in names:
        base = PurePosixPath(name).name
        if base in CAPTION_FILES or (base.startswith("dataset_") and base.endswith(".json")):
            return name
    return None


def _read_caption_names(text, base):
    """Image file names that a captions file mentions (Kaggle CSV, Flickr8k token file or Karpathy JSON)."""
    import csv
    import json

    if base.endswith(".json"):
        try:
            images = json.loads(text)["images"]
            return [item["filename"] for item in images], sum(len(item.get("sentences", [])) for item in images)
        except (ValueError, KeyError, TypeError):
            raise DatasetInvalid(f"{base} is not a Karpathy-style dataset JSON (no 'images' list).") from None
    if base == "captions.txt":
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or [c.strip().lower() for c in rows[0][:2]] != ["image", "caption"]:
            raise DatasetInvalid("captions.txt must be a CSV with the header 'image,caption'.")
        return [row[0] for row in rows[1:] if row], len(rows) - 1
    names = [line.split("\t", 1)[0].split("#", 1)[0] for line in text.splitlines() if "\t" in line]
    return names, len(names)


def inspect_caption_zip(data):
    """Bytes of a .zip with images and a captions file -> report dict."""
    if not data:
        raise DatasetInvalid("The file is empty.")
    if len(data) > MAX_ZIP_BYTES:
        raise DatasetInvalid(f"The zip is larger than {MAX_ZIP_BYTES // 1_048_576} MB.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DatasetInvalid("This is not a valid .zip file.") from None
    with archive:
        names = _safe_members(archive)
        caption_name = _caption_file(names)
        if caption_name is None:
            raise DatasetInvalid("The zip has no captions file: include captions.txt (image,caption CSV), "
                                 "Flickr8k.token.txt or a Karpathy dataset_*.json.")
        text = archive.read(caption_name).decode("utf-8-sig", errors="replace")
        captioned, n_captions = _read_caption_names(text, PurePosixPath(caption_name).name)
        if not captioned:
            raise DatasetInvalid(f"{PurePosixPath(caption_name).name} lists no captions.")
        unique = _check_images(captioned, [PurePosixPath(n).name for n in names], "the zip")
    return {"kind": "captions", "bytes": len(data), "images": len(unique), "captions": n_captions,
            "captions_file": PurePosixPath(caption_name).name}


def _check_images(captioned, present, where):
    images = {name for name in present if PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES}
    unique = sorted(set(captioned))
    missing = [name for name in unique if name not in images]
    if missing:
        raise DatasetInvalid(f"{len(missing)} of the {len(unique)} captioned images are missing from {where} "
                             f"(e.g. {', '.join(missing[:5])}).")
    return unique


def inspect_caption_folder(folder, allowed_roots):
    """A caption dataset already on the server (e.g. a Flickr8k download) -> report dict."""
    root = Path(folder).resolve()
    if not any(root.is_relative_to(Path(allowed).resolve()) for allowed in allowed_roots):
        raise DatasetInvalid(f"Folders must be inside one of: {', '.join(str(r) for r in allowed_roots)}.")
    if not root.is_dir():
        raise DatasetInvalid(f"{root} is not a folder on the server.")
    files = [p for p in root.rglob("*") if p.is_file()]
    caption_path = _caption_file([str(p) for p in files])
    if caption_path is None:
        raise DatasetInvalid("The folder has no captions file: captions.txt, Flickr8k.token.txt or dataset_*.json.")
    caption_path = Path(caption_path)
    captioned, n_captions = _read_caption_names(caption_path.read_text(encoding="utf-8-sig", errors="replace"),
                                                caption_path.name)
    unique = _check_images(captioned, [p.name for p in files], "the folder")
    return {"kind": "captions", "folder": str(root), "images": len(unique), "captions": n_captions,
            "captions_file": caption_path.name}


def inspect_upload(kind, name, data, target=None):
    """Check an upload of ``kind`` -> its report; ``target`` is (name, bytes) of a parallel dataset's second file."""
    suffix = Path(name).suffix.lower()
    if kind == "parallel":
        return inspect_parallel(name, data, target)
    if kind == "series":
        return inspect_series(name, data)
    if target is not None:
        raise DatasetInvalid("A second file is only for parallel text (translation) datasets.")
    if kind == "text":
        if suffix not in (".txt", ""):
            raise DatasetInvalid("A text corpus must be a .txt file.")
        return inspect_text(data)
    if suffix != ".zip":
        raise DatasetInvalid("A caption dataset must be a .zip of images with a captions file.")
    return inspect_caption_zip(data)


# ---- parallel text (translation) -------------------------------------------------------------------------------
MIN_PAIRS = 50
MAX_LINE_CHARS = 1000      # a "sentence" longer than this is a broken file, not a sentence


def _decoded_lines(data, label):
    """UTF-8 lines of one side of a parallel dataset, refusing empty, binary and non-UTF-8 files clearly."""
    if not data:
        raise DatasetInvalid(f"The {label} is empty.")
    if len(data) > MAX_TEXT_BYTES:
        raise DatasetInvalid(f"The {label} is {len(data) / 1_048_576:.0f} MB; the limit is "
                             f"{MAX_TEXT_BYTES // 1_048_576} MB.")
    sample = data[:65536]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if b"\x00" in sample or controls > len(sample) * 0.01:
        raise DatasetInvalid(f"The {label} looks like a binary file: upload UTF-8 text, one sentence per line.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetInvalid(f"The {label} is not valid UTF-8 (first bad byte at offset {exc.start}). Save it as "
                             "UTF-8 and upload it again.") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():      # trailing blank lines are an editor's, not a missing sentence
        lines.pop()
    return lines


def _line_list(numbers):
    shown = ", ".join(str(n) for n in numbers[:5])
    return shown + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")


def inspect_parallel(name, data, target=None):
    """A .tsv of ``English<TAB>translation`` lines, or (with ``target``: (name, bytes)) two line-aligned files ->
    report. Misaligned line counts, a sentence on one side only, binary files and huge lines are refused."""
    if target is None:
        if Path(name).suffix.lower() not in (".tsv", ".txt"):
            raise DatasetInvalid("Parallel text is a .tsv file (English<TAB>translation on each line), or two "
                                 ".txt files: the English file and its translation file.")
        lines = _decoded_lines(data, "file")
        columns = [line.split("\t") for line in lines]
        wrong = [n for n, cols in enumerate(columns, 1) if any(line.strip() for line in cols) and len(cols) != 2]
        if wrong:
            raise DatasetInvalid(f"Every line needs exactly two tab-separated columns, English then its "
                                 f"translation; line {_line_list(wrong)} {'does' if len(wrong) == 1 else 'do'} not.")
        pairs = [(cols[0], cols[1]) if len(cols) == 2 else ("", "") for cols in columns]
        layout = "tsv"
    else:
        source_lines, target_lines = _decoded_lines(data, "English file"), _decoded_lines(target[1], "translation file")
        if len(source_lines) != len(target_lines):
            raise DatasetInvalid(f"The files are not aligned: the English file has {len(source_lines):,} lines and "
                                 f"the translation file {len(target_lines):,}. Line N of one must translate line "
                                 "N of the other.")
        pairs = list(zip(source_lines, target_lines))
        layout = "two files"
    one_sided = [n for n, (s, t) in enumerate(pairs, 1) if bool(s.strip()) != bool(t.strip())]
    if one_sided:
        raise DatasetInvalid(f"Line {_line_list(one_sided)} {'has' if len(one_sided) == 1 else 'have'} a sentence on "
                             "one side and nothing on the other: fix or delete those pairs.")
    huge = [n for n, (s, t) in enumerate(pairs, 1) if max(len(s), len(t)) > MAX_LINE_CHARS]
    if huge:
        raise DatasetInvalid(f"Line {_line_list(huge)} {'is' if len(huge) == 1 else 'are'} longer than "
                             f"{MAX_LINE_CHARS:,} characters: one sentence (or two) per line, please.")
    pairs = [(s.strip(), t.strip()) for s, t in pairs if s.strip()]
    if len(pairs) < MIN_PAIRS:
        raise DatasetInvalid(f"The dataset has {len(pairs)} sentence pairs; at least {MIN_PAIRS} are needed to hold "
                             "some out for validation.")
    return {"kind": "parallel", "layout": layout, "pairs": len(pairs),
            "source_words": sum(len(s.split()) for s, _ in pairs),
            "target_words": sum(len(t.split()) for _, t in pairs),
            "examples": [{"source": s, "target": t} for s, t in pairs[:3]],
            "split": "the last 10 % of pairs (at most 500) validate, the rest train"}


# ---- time series (forecasting) -------------------------------------------------------------------------------

def inspect_series(name, data):
    """A .csv with a date or position column and one numeric column (ml.forecast.data.read_csv's rules: no
    missing values, dates in order and not repeated, 30 to 100,000 points, at most 5 MB) -> report."""
    from ml.forecast.data import SeriesError, read_csv

    if Path(name).suffix.lower() not in (".csv", ".txt"):
        raise DatasetInvalid("A time series is a .csv file: a header line, a date (or position) column and a numeric "
                             "column.")
    try:
        series = read_csv(data, name=Path(name).stem)
    except SeriesError as exc:
        message = str(exc).replace("name one as the column", "keep only the one to forecast beside the dates")
        raise DatasetInvalid(message[0].upper() + message[1:] + ".") from None
    return {"kind": "series", "points": len(series), "column": series.title, "frequency": series.frequency or "?",
            "season": series.season, "first": series.index[0], "last": series.index[-1],
            "split": "the last 20 % tests, the 15 % before it validates, the rest trains"}
