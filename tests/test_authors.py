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
def test_their_vectors_fit_the_default_lstm(mnist_5k):
    W = authors.load_weights("lstm", WEIGHTS)
    assert W.shape == (48, 15456)
    ds = mnist_5k
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


# --------------------------------------------------------------- place in the landscape (derive-landscape)
def test_pair_plan_is_seeded_and_disjoint():
    s = authors.LandscapeSettings(n_within=5, n_cross=7)
    within, cross = authors.pair_plan(48, 3, s)
    assert within.shape == (5, 2) and cross.shape == (7, 2)
    used = np.concatenate([within.ravel(), cross[:, 0]])
    assert len(set(used.tolist())) == used.size and used.max() < 48  # no authors' vector in two pairs
    assert cross[:, 1].tolist() == [0, 1, 2, 0, 1, 2, 0]
    again = authors.pair_plan(48, 3, s)
    assert np.array_equal(again[0], within) and np.array_equal(again[1], cross)
    other = authors.pair_plan(48, 3, authors.LandscapeSettings(n_within=5, n_cross=7, seed=1))
    assert not np.array_equal(other[0], within)
    with pytest.raises(ValueError, match="17 are needed"):
        authors.pair_plan(16, 3, s)


@pytest.mark.parametrize("bad, match", [({"book_profile": "huge"}, "valid: smoke"),
                                        ({"path_profile": "x"}, "path_profile"),
                                        ({"n_within": 0}, "n_within"),
                                        ({"kernels": ("rbf", "laplace")}, "valid: one or more")])
def test_landscape_settings_refuse_bad_values(bad, match):
    with pytest.raises(ValueError, match=match):
        authors.LandscapeSettings(**bad)


def test_stored_landscape_numbers_are_complete_and_sourced():
    st = authors.read_landscape()
    text = resources.files(*authors.LANDSCAPE).read_text()
    s = authors.LANDSCAPE_SETTINGS
    for needle in ("087bb1f40bafe9e0086f22f8e18f2d69", "python -m lls_core.authors derive-landscape", "lls_core ",
                   "torch ", "numpy ", "commit ", "not published", f"study profile {s.book_profile!r}",
                   f"settings: {s};"):
        assert needle in text, needle
    # The book's solutions kept beside the numbers are the ones the header names.
    book = authors.load_book_solutions()
    assert hashlib.sha256(book.numpy().tobytes()).hexdigest() in text
    v = st.values
    assert v["n_authors"] == 48 and v["n_book"] == book.shape[0] and v["d"] == 15456
    assert st.book_solutions.startswith(f"the best {book.shape[0]} of ")  # what the file was computed from
    assert st.kernels == s.kernels
    for k in s.kernels:
        sep = st.separation(k)
        assert 0.5 <= sep.auc <= 1 and sep.auc_ci[0] <= sep.auc <= sep.auc_ci[1] and 0 < sep.p <= 1
    bf = st.barrier_frame()
    assert len(bf) == 2 * (s.n_within + s.n_cross)
    within, cross = authors.pair_plan(48, book.shape[0], s)
    for g, plan in (("within", within), ("cross", cross)):
        for which in ("train", "test"):
            sub = bf[(bf.group == g) & (bf.landscape == which)]
            assert sub[["i", "j"]].to_numpy().tolist() == plan.tolist()
    # A path's height is its highest point, which includes its two ends.
    assert (bf["height"] >= bf["endpoint_loss"] - 1e-6).all() and (bf["length"] > 0).all()
    f = st.facts()
    assert f["verdict_rbf"] in ("supported", "not resolved")
    assert f["cross_verdict_train"] in ("supported", "contradicted", "not resolved")


def test_landscape_facts_follow_the_stored_numbers(tmp_path):
    """The verdicts come from the stored statistics: change them and the verdict changes."""
    text = resources.files(*authors.LANDSCAPE).read_text()
    lines = text.splitlines()

    def with_values(**new):
        out = [f"{k},{new[k]}" if k in new else ln for ln in lines for k in [ln.split(",", 1)[0]]]
        p = tmp_path / "x.csv"
        p.write_text("\n".join(out) + "\n")
        return authors.read_landscape(p).facts()

    sep = with_values(**{"kpca.rbf.auc": 0.99, "kpca.rbf.auc_lo": 0.95, "kpca.rbf.auc_hi": 1.0, "kpca.rbf.p": 0.001})
    assert sep["verdict_rbf"] == "supported" and sep["auc_rbf"] == 0.99
    none = with_values(**{"kpca.rbf.auc": 0.6, "kpca.rbf.auc_lo": 0.4, "kpca.rbf.auc_hi": 0.8, "kpca.rbf.p": 0.4})
    assert none["verdict_rbf"] == "not resolved"
    with pytest.raises(FileNotFoundError, match="derive-landscape"):
        authors.read_landscape(tmp_path / "absent.csv")


def test_book_solutions_are_read_from_the_file_not_from_today_s_profile(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("# book solutions: study profile 'quick', L-BFGS-GSS (LBFGSGSSConfig(iterations=7, tol=0.1)), the best 5 "
                 "of 9 runs by training loss, 300 training / 200 test images; kept in b.npy\nquantity,value\nd,3\n")
    assert authors.read_landscape(p).book_solutions == (
        "the best 5 of 9 runs by training loss, 7 L-BFGS-GSS iterations, 300 training / 200 test images")
    p.write_text("# book solutions: three runs of some kind; kept in b.npy\nquantity,value\nd,3\n")
    assert authors.read_landscape(p).book_solutions == "three runs of some kind"
    p.write_text("quantity,value\nd,3\n")
    with pytest.raises(ValueError, match="no '# book solutions:' line"):
        _ = authors.read_landscape(p).book_solutions


def test_load_book_solutions_refuses_a_wrong_shape(tmp_path):
    p = tmp_path / "b.npy"
    np.save(p, np.zeros((3, 10), np.float32))
    with pytest.raises(ValueError, match="expected"):
        authors.load_book_solutions(p)


@needs_weights
def test_stored_landscape_rows_recompute():
    """Distances, weight statistics, every kernel PCA, and the first within and first cross path on the
    training landscape, recomputed from the authors' file and the stored book solutions, equal the stored rows."""
    W = authors.load_weights("lstm", WEIGHTS)
    got = authors.derive_landscape(W, authors.load_book_solutions(), n_within=1, n_cross=1, landscapes=("train",))
    stored = authors.read_landscape().values
    assert {"barrier.within.train.0.height", "barrier.cross.train.0.height", "distance.centroid_gap",
            "kpca.rbf.auc"} <= set(got)
    for k, v in got.items():
        # Path losses are float32 sums over images: near the authors' training loss (~1e-6 nats) the
        # rounding of another machine's kernels is ~1e-8 absolute, hence the absolute floor for paths.
        rel, abs_ = (1e-5, 1e-7) if k.startswith("barrier.") else (1e-9, 1e-12)
        assert stored[k] == pytest.approx(v, rel=rel, abs=abs_, nan_ok=True), k
