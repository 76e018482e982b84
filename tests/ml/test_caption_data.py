"""Image preprocessing, dataset layouts and the shipped splits (fast, mostly synthetic)."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from ml.caption import data
from ml.caption.data import (DatasetLayoutError, ImageLoadError, detect_layout, load_image, preprocess,
                             read_captions, read_split, split_file)
from ml.caption.vocab import Vocab, tokenize
from tests.support.captions import make_layout


def _photo(mode="RGB", size=(320, 240)):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(arr, "RGB").convert(mode) if mode != "RGB" else Image.fromarray(arr, "RGB")


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "LA", "1", "I;16"])
def test_any_mode_becomes_rgb_224(mode):
    img = _photo("L").convert("I;16") if mode == "I;16" else _photo(mode)
    out = load_image(img)
    assert out.mode == "RGB" and out.size == (224, 224)
    x = preprocess(img)
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32 and torch.isfinite(x).all()


def test_transparent_pixels_are_white_not_black():
    img = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    assert load_image(img).getpixel((10, 10)) == (255, 255, 255)


def test_palette_with_transparency():
    img = Image.new("P", (40, 40), 0)
    img.putpalette([0, 0, 0] * 256)
    img.info["transparency"] = 0
    assert load_image(img).getpixel((5, 5)) == (255, 255, 255)


def test_whole_image_resized_not_cropped():
    img = Image.new("RGB", (400, 100), (255, 0, 0))
    img.paste((0, 0, 255), (300, 0, 400, 100))  # right quarter blue: a centre crop would drop it
    out = load_image(img)
    assert out.getpixel((223, 50))[2] > 200 and out.getpixel((0, 50))[0] > 200


def test_huge_jpeg_is_fast_and_correct(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (10, 200, 30)).save(path, quality=90)
    out = load_image(path)
    assert out.size == (224, 224)
    assert np.abs(np.asarray(out, dtype=int) - [10, 200, 30]).max() < 8


def test_decompression_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(data, "MAX_PIXELS", 1000)
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(Image.new("RGB", (100, 100)))


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (300, 200), (255, 0, 0))
    img.paste((0, 0, 255), (150, 0, 300, 200))        # left red, right blue as stored
    exif = Image.Exif()
    exif[0x0112] = 6                                   # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif.tobytes(), quality=95)
    out = np.asarray(load_image(path), dtype=int)
    # Upright, the stored left (red) half is on top and the right (blue) half at the bottom.
    assert out[20, 112, 0] > 200 and out[20, 112, 2] < 60
    assert out[200, 112, 2] > 200 and out[200, 112, 0] < 60


def test_corrupt_jpeg_gives_clear_error(tmp_path):
    path = tmp_path / "broken.jpg"
    buf = io.BytesIO()
    _photo().save(buf, "JPEG")
    path.write_bytes(buf.getvalue()[:300])
    with pytest.raises(ImageLoadError):
        load_image(path)


@pytest.mark.parametrize("payload", [b"hello, I am a text file\n", b"", b"%PDF-1.4\n%..."])
def test_non_image_gives_clear_error(tmp_path, payload):
    path = tmp_path / "notes.jpg"
    path.write_bytes(payload)
    with pytest.raises(ImageLoadError, match="not a readable image"):
        load_image(path)
    with pytest.raises(ImageLoadError):
        load_image(payload)


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        load_image("/nonexistent/x.jpg")


def test_bytes_path_and_pil_agree(tmp_path):
    path = tmp_path / "p.png"
    _photo().save(path)
    a, b, c = preprocess(path), preprocess(path.read_bytes()), preprocess(Image.open(path))
    assert torch.equal(a, b) and torch.equal(a, c)


CAPS = {"a.jpg": ["A dog runs .", "A brown dog, running"], "b.jpg": ["Two kids play ."]}


@pytest.mark.parametrize("layout", ["kaggle", "flickr8k", "karpathy"])
def test_layouts_detected_and_read(tmp_path, layout):
    src = tmp_path / "src"
    src.mkdir()
    for n in CAPS:
        _photo().save(src / n)
    root = make_layout(tmp_path / layout, layout, src, list(CAPS), CAPS)
    fmt, captions_file, images_dir = detect_layout(root)
    assert fmt == layout and {p.name for p in images_dir.iterdir()} == set(CAPS)
    assert read_captions(captions_file) == CAPS        # format sniffed from the file itself


def test_unknown_layout(tmp_path):
    with pytest.raises(DatasetLayoutError):
        detect_layout(tmp_path)


def test_shipped_splits_are_disjoint_and_sized():
    splits = {k: read_split(split_file(k)) for k in ("train", "val", "test")}
    assert [len(splits[k]) for k in ("train", "val", "test")] == [6091, 500, 500]
    assert not set(splits["train"]) & set(splits["test"])
    assert not set(splits["train"]) & set(splits["val"]) and not set(splits["val"]) & set(splits["test"])
    # The final-refit list (train_captioner --train-split ... --keep last) is train + val, never test.
    trainval = read_split(split_file("trainval"))
    assert sorted(trainval) == sorted(splits["train"] + splits["val"]) and not set(trainval) & set(splits["test"])


def test_tokenize_and_vocab_threshold():
    assert tokenize("A dog's ball, in the PARK.") == ["a", "dogs", "ball", "in", "the", "park"]
    v = Vocab.build(["a dog", "a cat", "a dog"], min_freq=2)
    assert v.itos[4:] == ["a", "dog"]
    assert v.encode("a cat") == [v.start_id, v.stoi["a"], v.unk_id, v.end_id]
    assert v.decode(v.encode("a dog")) == ["a", "dog"]
