"""The embedded mnist-5k data set: shapes, ranges, stratification, determinism, bad input."""

import hashlib

import numpy as np
import pytest
import torch

from lls_core import data, resources


def test_mnist5k_shapes_and_ranges():
    ds = data.load("mnist-5k")
    assert ds.x_train.shape == (5000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert 0.0 <= float(ds.x_train.min()) and float(ds.x_train.max()) <= 1.0
    assert float(ds.x_train.max()) == 1.0  # real digits reach full intensity
    assert torch.bincount(ds.y_train).tolist() == [500] * 10
    assert len(set(ds.y_train[:50].tolist())) >= 8  # shuffled: a prefix mixes the classes


def test_embedded_official_test_set():
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert hashlib.md5(resources.files("mnist", f"{stem}.gz").read_bytes()).hexdigest() == data.MNIST_FILES[stem].md5_gz
    assert data.MNIST_FILES["t10k-images-idx3-ubyte"].md5_gz == "9fb629c4189551a2d022fa330f9573f3"
    assert data.MNIST_FILES["t10k-labels-idx1-ubyte"].md5_gz == "ec29112dd5afa0611ce80d1b7f02629c"
    x, y = data.official_test_set()
    assert x.shape == (10000, 28, 28) and y.shape == (10000,)
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert list(data.TEST_LABEL_COUNTS) == np.bincount(y).tolist()
    assert resources.files("mnist", "ATTRIBUTION.md").read_text().count("CC BY-SA 3.0") >= 1
    # The default data set's test split is exactly that set (all of it, same order).
    ds = data.load("mnist-5k")
    assert torch.equal(ds.y_test, torch.from_numpy(y.astype(np.int64)))
    assert torch.equal((ds.x_test[:, 0] * 255).round().to(torch.uint8), torch.from_numpy(x))


def test_embedded_test_file_checked_before_use(tmp_path, monkeypatch):
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / f"{stem}.gz").write_bytes(resources.files("mnist", f"{stem}.gz").read_bytes())
    with open(tmp_path / "t10k-labels-idx1-ubyte.gz", "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01")
    monkeypatch.setattr(resources, "files", lambda *parts: tmp_path.joinpath(*parts[1:]))  # the packaged folder
    with pytest.raises(data.ChecksumError, match="t10k-labels-idx1-ubyte.gz"):
        data.official_test_set()


def test_subsets_are_stratified_and_deterministic():
    a, b = data.load("mnist-5k", n_train=4000, n_test=1000, seed=1), data.load("mnist-5k", n_train=4000, n_test=1000, seed=1)
    assert a.checksum == b.checksum
    assert torch.bincount(a.y_train).tolist() == [400] * 10
    counts = torch.bincount(a.y_test).tolist()
    assert sum(counts) == 1000 and all(abs(c - n / 10) <= 1 for c, n in zip(counts, data.TEST_LABEL_COUNTS))
    assert data.load("mnist-5k", n_train=4000, n_test=1000, seed=2).checksum != a.checksum


@pytest.mark.parametrize(
    "kwargs, match",
    [({"name": "cifar"}, "valid: mnist-5k"), ({"n_train": 5001}, "5000 training"), ({"n_test": 10001}, "10000 test"),
     ({"n_train": 3}, "n_train=3")],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load(**kwargs)


# --- the IDX reader, checksums and the download (full MNIST) -------------------------------

import gzip  # noqa: E402
import http.server  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402


import os  # noqa: E402

# The real files live at ../shared/data/mnist from the project root; $LLS_MNIST_TEST_DIR overrides.
REAL = Path(os.environ.get("LLS_MNIST_TEST_DIR") or Path(__file__).resolve().parent.parent / ".." / "shared" / "data" / "mnist")
needs_real = pytest.mark.skipif(
    not (REAL / "t10k-images-idx3-ubyte.gz").is_file(), reason="../shared/data/mnist not present"
)


def _idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int32: 0x0C}[arr.dtype.type]
    header = bytes([0, 0, code, arr.ndim]) + np.array(arr.shape, dtype=">u4").tobytes()
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def _fake_mnist(folder: Path, n_train=60, n_test=30, gz=True, seed=0):
    """Write four small IDX files; return MnistFile specs carrying their real MD5 sums."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 10,
    }
    specs = {}
    for stem, arr in arrays.items():
        raw = _idx_bytes(arr)
        blob = gzip.compress(raw, mtime=0) if gz else raw
        (folder / (stem + (".gz" if gz else ""))).write_bytes(blob)
        md5 = hashlib.md5(blob).hexdigest()
        specs[stem] = data.MnistFile(stem, md5 if gz else "0" * 32, md5 if not gz else "0" * 32, len(arr))
    return arrays, specs


@needs_real
def test_real_files_checksums_and_label_counts():
    stems = ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-labels-idx1-ubyte"]
    a = data.mnist_arrays(REAL, stems=stems)
    assert a["t10k-images-idx3-ubyte"].shape == (10000, 28, 28) and a["t10k-images-idx3-ubyte"].dtype == np.uint8
    # Label counts from ../shared/SPEC.md (Data).
    assert np.bincount(a["train-labels-idx1-ubyte"]).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(a["t10k-labels-idx1-ubyte"]).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@needs_real
def test_real_raw_file_checked_against_raw_md5(tmp_path):
    raw = gzip.decompress((REAL / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(raw)
    a = data.mnist_arrays(tmp_path, stems=["t10k-labels-idx1-ubyte"])
    assert a["t10k-labels-idx1-ubyte"].shape == (10000,)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(raw[:-1] + bytes([(raw[-1] + 1) % 10]))  # one label changed
    with pytest.raises(data.ChecksumError, match="27ae3e4e09519cfbb04c329615203637"):
        data.mnist_arrays(tmp_path, stems=["t10k-labels-idx1-ubyte"])


@needs_real
def test_real_folder_without_train_images_names_the_missing_file():
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz") as e:
        data.load("mnist", data_dir=REAL)
    assert "f68b3c2dcbeaaa9fbdd348bbdeb94873" in str(e.value) and "t10k" not in str(e.value).split("Put")[0]


@pytest.mark.parametrize("gz", [True, False])
def test_generated_idx_roundtrip(tmp_path, gz):
    arrays, _ = _fake_mnist(tmp_path, gz=gz)
    for stem, arr in arrays.items():
        got = data.read_idx(tmp_path / (stem + (".gz" if gz else "")))
        assert got.dtype == arr.dtype and np.array_equal(got, arr)
    wide = np.arange(-5, 7, dtype=np.int32).reshape(3, 4)
    (tmp_path / "wide").write_bytes(_idx_bytes(wide))
    assert np.array_equal(data.read_idx(tmp_path / "wide"), wide)


def test_load_full_mnist_from_generated_files(tmp_path, monkeypatch):
    arrays, specs = _fake_mnist(tmp_path)
    for stem, spec in specs.items():
        monkeypatch.setitem(data.MNIST_FILES, stem, spec)
    ds = data.load("mnist", data_dir=tmp_path)
    assert ds.x_train.shape == (60, 1, 28, 28) and ds.x_test.shape == (30, 1, 28, 28)
    assert torch.equal(ds.x_train[0, 0], torch.from_numpy(arrays["train-images-idx3-ubyte"][0]).float() / 255)
    sub = data.load("mnist", data_dir=tmp_path, n_train=20, n_test=10, seed=3)
    assert torch.bincount(sub.y_train).tolist() == [2] * 10 and sub.checksum != ds.checksum


def test_truncated_and_corrupt_files_name_file_and_checksum(tmp_path, monkeypatch):
    _, specs = _fake_mnist(tmp_path)
    for stem, spec in specs.items():
        monkeypatch.setitem(data.MNIST_FILES, stem, spec)
    target = tmp_path / "t10k-images-idx3-ubyte.gz"
    good = target.read_bytes()
    target.write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(data.ChecksumError, match=r"t10k-images-idx3-ubyte\.gz.*" + specs["t10k-images-idx3-ubyte"].md5_gz):
        data.load("mnist", data_dir=tmp_path)
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: not a readable gzip"):
        data.read_idx(target)
    raw = tmp_path / "raw-trunc"
    raw.write_bytes(gzip.decompress(good)[:-100])
    with pytest.raises(ValueError, match="raw-trunc: IDX payload"):
        data.read_idx(raw)
    raw.write_bytes(b"\x01\x02\x03\x04hello")
    with pytest.raises(ValueError, match="raw-trunc: not an IDX file"):
        data.read_idx(raw)


def test_missing_offline_error_names_files_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        data.load("mnist", data_dir=tmp_path / "nowhere")
    msg = str(e.value)
    assert str(tmp_path / "nowhere") in msg
    assert all(s + ".gz" in msg for s in data.MNIST_FILES)


@pytest.fixture()
def http_server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving tmp_path/'srv'."""
    root = tmp_path / "srv"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()
    srv.server_close()


def test_http_download_good_file_accepted(http_server, tmp_path, monkeypatch):
    root, url = http_server
    arrays, specs = _fake_mnist(root)
    for stem, spec in specs.items():
        monkeypatch.setitem(data.MNIST_FILES, stem, spec)
    dest = tmp_path / "dest"
    dead = "http://127.0.0.1:9/"  # nothing listens on the discard port: the next mirror is tried
    a = data.mnist_arrays(dest, download=True, mirrors=[dead, url], retries=1)
    assert np.array_equal(a["t10k-images-idx3-ubyte"], arrays["t10k-images-idx3-ubyte"])
    assert sorted(p.name for p in dest.iterdir()) == sorted(s + ".gz" for s in specs)


def test_http_download_wrong_checksum_refused_nothing_left(http_server, tmp_path):
    root, url = http_server
    (root / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not the real labels")
    dest = tmp_path / "dest"
    with pytest.raises(OSError, match="wrong MD5") as e:
        data.download_file("t10k-labels-idx1-ubyte.gz", data.MNIST_FILES["t10k-labels-idx1-ubyte"].md5_gz, dest, mirrors=[url], retries=2, backoff=0)
    assert "t10k-labels-idx1-ubyte.gz" in str(e.value)
    assert list(dest.iterdir()) == []
    with pytest.raises(OSError, match="put the official files|Put the official files"):
        data.mnist_arrays(dest, download=True, mirrors=[url], retries=1, stems=["t10k-labels-idx1-ubyte"])
    assert list(dest.iterdir()) == []
