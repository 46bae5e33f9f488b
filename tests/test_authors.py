"""The authors' published LSTM solutions: loading, the fetch (offline), the stored derived numbers."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from lls_core import authors, cli, data, models, params, resources

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("LLS_SHARED_DIR", ROOT.parent / "shared"))
WEIGHTS = SHARED / "data" / "authors" / "LSTM_BFGS_Training_best48_weights.npy"
needs_weights = pytest.mark.skipif(not WEIGHTS.is_file(), reason=f"{WEIGHTS} not present")


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def opener_for(payload: bytes, seen: list):
    def opener(url, timeout=None):
        seen.append(url)
        return FakeResponse(payload)

    return opener


def test_url_is_pinned_to_the_publishing_commit():
    spec = authors.WEIGHT_FILES["lstm"]
    assert spec.url == ("https://raw.githubusercontent.com/jy856-jpg/path-finding/"
                        "5765fce7548ff39784169e945fc777f6cae9ecc3/LSTM_BFGS_Training_best48_weights.npy")
    assert spec.md5 == "087bb1f40bafe9e0086f22f8e18f2d69" and spec.shape == (48, 15456)


def test_fetch_refuses_a_wrong_checksum_and_writes_nothing(tmp_path):
    seen: list = []
    with pytest.raises(data.ChecksumError, match="does not match"):
        authors.fetch("lstm", tmp_path / "dest", opener=opener_for(b"not the weights", seen))
    assert seen == [authors.WEIGHT_FILES["lstm"].url]
    assert list((tmp_path / "dest").iterdir()) == []


def test_fetch_writes_a_matching_file_atomically(tmp_path, monkeypatch):
    payload = b"pretend weights"
    spec = authors.WEIGHT_FILES["lstm"]
    fake = authors.WeightFile(spec.name, "lstm", spec.url, hashlib.md5(payload).hexdigest(), spec.git_blob, spec.shape)
    monkeypatch.setitem(authors.WEIGHT_FILES, "lstm", fake)
    seen: list = []
    path = authors.fetch("lstm", tmp_path, opener=opener_for(payload, seen))
    assert path.read_bytes() == payload and sorted(p.name for p in tmp_path.iterdir()) == [spec.name]
    # Present and correct: no second download.
    authors.fetch("lstm", tmp_path, opener=opener_for(b"", seen))
    assert len(seen) == 1


def test_fetch_error_mid_download_leaves_nothing(tmp_path):
    class Broken(FakeResponse):
        def read(self, n=-1):
            raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        authors.fetch("lstm", tmp_path, opener=lambda url, timeout=None: Broken(b""))
    assert list(tmp_path.iterdir()) == []


def test_cli_fetch_reports_a_mismatch(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LLS_AUTHORS_DIR", str(tmp_path))
    monkeypatch.setattr(authors.urllib.request, "urlopen", opener_for(b"wrong", []))
    assert cli.main(["fetch", "authors-weights"]) == 2
    assert "does not match" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_load_refuses_a_foreign_file(tmp_path):
    p = tmp_path / authors.WEIGHT_FILES["lstm"].name
    np.save(p, np.zeros((48, 15456), np.float32))
    with pytest.raises(data.ChecksumError, match="087bb1f40bafe9e0086f22f8e18f2d69"):
        authors.load_weights("lstm", p)
    with pytest.raises(ValueError, match="valid: lstm"):
        authors.load_weights("fcp")


def test_stored_derived_numbers_are_complete_and_sourced():
    d = authors.read_derived()
    text = resources.files(*authors.DERIVED).read_text()
    assert "087bb1f40bafe9e0086f22f8e18f2d69" in text and "python -m lls_core.authors derive" in text
    assert "lls_core" in text and "not published" in text
    assert d["n_vectors"] == 48 and d["d"] == 15456
    assert d["train_loss_max"] < 3e-6
    assert abs(d["weight_mean"] - 9.82e-3) < 5e-5 and abs(d["weight_std"] - 0.722) < 5e-4


@needs_weights
def test_their_vectors_fit_the_default_lstm():
    W = authors.load_weights("lstm", WEIGHTS)
    assert W.shape == (48, 15456)
    ds = data.load("mnist-5k")
    m = models.build("lstm").eval()
    with torch.no_grad():
        for i in (0, 47):
            params.assign(m, W[i])
            assert float(models.loss(m, ds.x_train, ds.y_train)) < 3e-6
        # A different permutation is a different model: the same vector fails there.
        other = models.build("lstm", perm_seed=0).eval()
        params.assign(other, W[0])
        assert float(models.loss(other, ds.x_train[:500], ds.y_train[:500])) > 0.5


@needs_weights
def test_stored_derived_numbers_recompute_exactly(tmp_path):
    out = authors.write_derived(WEIGHTS, tmp_path / "derived.csv")
    assert authors.read_derived(out) == authors.read_derived()


def test_cli_fetch_mnist_downloads_into_the_folder(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(data, "mnist_arrays", lambda folder, download=False: calls.append((folder, download)) or {})
    assert cli.main(["fetch", "mnist", "--dest", str(tmp_path)]) == 0
    assert calls == [(tmp_path, True)] and str(tmp_path) in capsys.readouterr().out


def test_cli_fetch_unknown_target_is_refused(capsys):
    try:
        rc = cli.main(["fetch", "imagenet"])
    except SystemExit as stop:
        rc = stop.code
    assert rc == 2 and "authors-weights" in capsys.readouterr().err
