"""Caption data for the ml tests: a drawn image-caption set, so caption training is tested on any clone."""
import pytest

from tests.support.captions import synthetic_dataset


@pytest.fixture(scope="session")
def synthetic_captions(tmp_path_factory):
    """``(root, names, captions)`` of 36 drawn images in the Flickr8k (Kaggle) layout."""
    return synthetic_dataset(tmp_path_factory.mktemp("synthetic-captions"))
