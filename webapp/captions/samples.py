"""Sample photos for visitors with none at hand.

They come from the captioner's world (Flickr8k: people, dogs, sport, streets, beaches), so a first try shows
what the model can do rather than confident nonsense about a rocket. The files are small JPEGs in
static/img/samples/, whose ATTRIBUTION.md gives each one's source and licence.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    name: str
    alt: str
    credit: str

    @property
    def static_path(self):
        return f"img/samples/{self.name}.jpg"


SAMPLES = (
    Sample("grace-hopper", "Portrait of an older woman in a naval officer's uniform and cap, a flag behind her",
           "Grace Hopper · James S. Davis, US Navy · public domain"),
    Sample("cameraman", "A man in a dark coat filming with a camera on a tripod, on a lawn",
           "Cameraman · Lav Varshney · CC0"),
)


def available():
    return SAMPLES
