"""The extra layer on real photos: evaluation, training and EXIF handling on a few shared Flickr8k images.

Skipped where the shared copy is absent (set FLICKR8K_DIR, default <repo>/../shared/data/flickr8k); the same
paths run on drawn images in test_caption_evaluate.py and test_caption_train.py on every clone.
"""
import json

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from ml.caption.captioner import Captioner
from ml.caption.data import DatasetLayoutError, load_image
from ml.caption.train import CaptionConfig, train
from tests.support.captions import make_layout, sample_dataset

SHIPPED = "models/caption-flickr8k"


@pytest.fixture(scope="module")
def photos():
    try:
        return sample_dataset(12)
    except (FileNotFoundError, DatasetLayoutError):
        pytest.skip("Flickr8k not found: set FLICKR8K_DIR (default <repo>/../shared/data/flickr8k)")


def test_the_shipped_model_describes_real_photos(tmp_path, photos, capsys):
    images_dir, names, captions = photos
    root = make_layout(tmp_path / "ds", "kaggle", images_dir, names[:5], captions)
    call_command("evaluate_captioner", "--images", str(root), "--json", "--model", SHIPPED, "--no-meteor")
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["n_images"] == 5 and out["bleu1"] > 0.4 and out["unk_captions"] == 0


def test_training_on_real_photos_exports_a_working_model(tmp_path, photos):
    images_dir, names, captions = photos
    root = make_layout(tmp_path / "ds", "kaggle", images_dir, names, captions)
    (tmp_path / "train.txt").write_text("\n".join(names[:8]))
    (tmp_path / "val.txt").write_text("\n".join(names[8:]))
    cfg = CaptionConfig(data_dir=str(root), train_split=str(tmp_path / "train.txt"),
                        val_split=str(tmp_path / "val.txt"), run_dir=str(tmp_path / "run"),
                        export_dir=str(tmp_path / "export"), cache_root=str(tmp_path / "cache"), min_freq=1,
                        embed_dim=16, hidden_dim=16, attention_dim=16, proj_dim=16, batch_images=4, epochs=1,
                        warmup_steps=1, val_beam=2, scst_epochs=1)
    result = train(cfg)
    assert result["status"] == "finished"
    assert isinstance(Captioner.from_dir(result["export_dir"]).caption(images_dir / names[0])["caption"], str)


def test_exif_rotated_real_photo_matches_upright(tmp_path, photos):
    images_dir, names, _ = photos
    upright = Image.open(images_dir / names[0])
    stored = upright.transpose(Image.Transpose.ROTATE_90)   # what a phone stores, tagged orientation 6
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.png"
    stored.save(path, exif=exif.tobytes())
    got = np.asarray(load_image(path), dtype=int)
    assert np.abs(got - np.asarray(load_image(upright), dtype=int)).mean() < 3
