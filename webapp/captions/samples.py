"""Sample photos for visitors with none at hand: scikit-image's CC0 / public-domain test images, served from the
installed package (nothing is copied into the repository)."""
import functools
import io
from pathlib import Path

SAMPLES = {
    "astronaut": ("astronaut.png", "Astronaut Eileen Collins (NASA, public domain)"),
    "coffee": ("coffee.png", "A cup of coffee (CC0)"),
    "cat": ("chelsea.png", "Chelsea the cat (CC0)"),
    "rocket": ("rocket.jpg", "A rocket on its launch pad (NASA, public domain)"),
    "motorcycle": ("motorcycle_left.png", "A motorcycle (CC0)"),
}


def _data_dir():
    import skimage

    return Path(skimage.__file__).parent / "data"


def available():
    directory = _data_dir()
    return [{"name": name, "alt": alt} for name, (filename, alt) in SAMPLES.items() if (directory / filename).exists()]


@functools.lru_cache(maxsize=len(SAMPLES))
def jpeg_bytes(name):
    """The sample as a 512-pixel JPEG, or None for an unknown name."""
    from PIL import Image

    if name not in SAMPLES:
        return None
    path = _data_dir() / SAMPLES[name][0]
    if not path.exists():
        return None
    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((512, 512))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90)
        return out.getvalue()
