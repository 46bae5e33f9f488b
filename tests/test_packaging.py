"""lls-core as an installable library.

The ranges in ``pyproject.toml`` admit the versions of ``constraints.txt`` (the book's lock),
``environment.yml`` pins the same versions, ``dev.py`` reinstalls when the lock changes, the
science modules import no book tooling, and a wheel built from the sources works outside the
checkout: it finds its shipped data, computes, and writes under the current directory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pkgutil
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import lls_core
from lls_core import resources

ROOT = Path(__file__).resolve().parent.parent
BOOK_TOOLING = ("book", "cli", "plan", "reproducibility")
"""The modules of the ``book`` extra's side: the chapter runner, the command, the planner, the appendix."""
BOOK_ONLY_MODULES = ("papermill", "jupytext", "nbformat", "ipykernel", "IPython", "jupyter_book", "myst_nb", "sphinx")
"""Top-level modules that only the book tooling may import."""


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"constraints.txt: {line!r} is not an exact pin"
        name = canonicalize_name(req.name)
        assert name not in pins, f"constraints.txt pins {req.name} twice"
        pins[name] = Version(specs[0].version)
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    return reqs


def test_every_range_admits_the_pinned_version_and_none_is_an_exact_pin():
    pins = _pins()
    reqs = _requirements()
    assert len(reqs) >= 20
    for req in reqs:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} ({req}) is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"pyproject {req} excludes the pinned {req.name}=={pins[name]}"
        assert not any(s.operator in ("==", "===") for s in req.specifier), f"pyproject {req}: a library gives ranges, not pins"
    assert pins["torch"] == Version("2.13.0")


def test_environment_yml_pins_exactly_the_constraints():
    pins = _pins()
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-c constraints.txt" in pip and "-e ." in pip
    named = {}
    for line in pip:
        if line.startswith("-"):
            continue
        req = Requirement(line)
        (spec,) = list(req.specifier)
        assert spec.operator == "==", f"environment.yml: {line!r} is not an exact pin"
        assert Version(spec.version) == pins[canonicalize_name(req.name)], (
            f"environment.yml pins {line!r}, constraints.txt {req.name}=={pins[canonicalize_name(req.name)]}")
        named[canonicalize_name(req.name)] = req
    direct = {canonicalize_name(r.name) for r in _requirements()}
    assert set(named) == direct, f"environment.yml lists {sorted(set(named) ^ direct)} differently from pyproject.toml"
    assert pip.index("torch==2.13.0") < min(pip.index(line) for line in pip if line not in ("-c constraints.txt", "torch==2.13.0"))


def test_dev_install_stamp_covers_pyproject_and_constraints(tmp_path):
    spec = importlib.util.spec_from_file_location("lls_dev", ROOT / "dev.py")
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    assert dev.install_digest(tmp_path) == dev.install_digest(ROOT)
    before = dev.install_digest(tmp_path)
    with open(tmp_path / "constraints.txt", "a") as f:
        f.write("example-package==1.0\n")
    after_lock = dev.install_digest(tmp_path)
    assert after_lock != before
    with open(tmp_path / "pyproject.toml", "a") as f:
        f.write("\n")
    assert dev.install_digest(tmp_path) != after_lock
    assert '"-c", CONSTRAINTS' in (ROOT / "dev.py").read_text()


def _science_modules() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(lls_core.__path__)]
    assert set(BOOK_TOOLING) <= set(names), "a book tooling module was renamed: update BOOK_TOOLING"
    return [f"lls_core.{n}" for n in names if n not in BOOK_TOOLING]


def test_science_modules_import_no_book_tooling():
    mods = _science_modules()
    assert "lls_core.data" in mods and "lls_core.resources" in mods and len(mods) >= 20
    code = (
        "import importlib, json, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted({{k.split('.')[0] for k in sys.modules}} & set({list(BOOK_ONLY_MODULES)!r}))))\n"
        f"print(json.dumps(sorted(k for k in sys.modules if k.startswith('lls_core.') and k.split('.')[1] in {BOOK_TOOLING!r})))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "agg"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    book_only, tooling = (json.loads(line) for line in out.stdout.strip().splitlines()[-2:])
    assert book_only == [], f"importing the science modules imported {book_only}"
    assert tooling == [], f"a science module imports the book tooling {tooling}"


def test_packaged_data_is_read_through_resources():
    t = resources.read_csv(resources.files("published", "yu_morozov_table1.csv"))
    assert len(t) == 4 and "arch" in t.columns
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        resources.read_csv(resources.files("published", "nope.csv"))
    with pytest.raises(ValueError, match="plain file or folder name"):
        resources.files("../data")
    assert resources.checkout() == ROOT
    assert resources.source_file("authors", "x.csv") == ROOT / "lls_core" / "datafiles" / "authors" / "x.csv"


def test_one_writable_root(tmp_path, monkeypatch):
    from lls_core import authors, data, plotting, results, store

    for var in ("LLS_ARTIFACTS", "LLS_FIGURE_DIR", "LLS_MNIST_DIR", "LLS_AUTHORS_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("LLS_ROOT", raising=False)
    assert resources.root() == ROOT
    monkeypatch.setenv("LLS_ROOT", str(tmp_path))
    assert resources.root() == tmp_path.resolve()
    assert store.default_root() == tmp_path.resolve() / "artifacts"
    assert plotting.figure_dir() == tmp_path.resolve() / "_build" / "figures"
    assert results.archive_root() == tmp_path.resolve() / "data" / "results"
    assert data.default_data_dir() == tmp_path.resolve() / ".lls-data" / "mnist"
    assert authors.default_dir() == tmp_path.resolve() / ".lls-data" / "authors"


_OUTSIDE = r"""
import json, os, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
import lls_core
from lls_core import authors, benchmark, data, models, resources, study, survey, topography
here = Path.cwd().resolve()
assert Path(lls_core.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()), lls_core.__file__
assert resources.checkout() is None and resources.root() == here
t1 = study.published("table1")
t4 = benchmark.published_table4()
s1 = topography.published_table_s1()
derived = authors.read_derived()
counts = survey.counts()
x, y = data.official_test_set()
net = models.build("fcp")
xb = torch.from_numpy(x[:64]).float().div(255).unsqueeze(1)
loss = torch.nn.functional.cross_entropy(net(xb), torch.from_numpy(y[:64]).long())
fig = __import__("lls_core.plotting", fromlist=["x"]).save_figure(
    __import__("matplotlib.pyplot", fromlist=["x"]).figure(), "outside")
print(json.dumps({"file": lls_core.__file__, "t1": len(t1), "t4": len(t4), "s1": len(s1), "derived": len(derived),
                  "n_test": int(x.shape[0]), "ones": int((y == 1).sum()), "loss": float(loss),
                  "figure": str(fig), "book": sorted(m for m in sys.modules if m.split(".")[0] in
                  ("papermill", "jupytext", "nbformat", "ipykernel", "IPython", "jupyter_book"))}))
"""


def test_built_wheel_works_outside_the_checkout(tmp_path):
    """Build the wheel from the sources, install it into a fresh environment, use it from elsewhere (offline)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "lls_core", src / "lls_core", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    out = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(tmp_path / "dist"),
                          str(src)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("lls_core-*.whl")

    # every shipped data file is in the wheel
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "lls_core" / "datafiles").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert len(shipped) >= 25
    assert shipped <= set(zipfile.ZipFile(wheel).namelist()), shipped - set(zipfile.ZipFile(wheel).namelist())

    # a fresh environment: lls-core from the wheel, its dependencies from this one (no network)
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    vpy = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = Path(subprocess.run([str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_test_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")  # appended after the env's own site
    out = subprocess.run([*pip, "--python", str(vpy), "install", "--no-deps", "--no-index", "-q", str(wheel)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLS_") and k not in ("PYTHONPATH", "PYTHONHOME")}
    env["MPLBACKEND"] = "agg"
    out = subprocess.run([str(vpy), "-c", _OUTSIDE], capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(got["file"]).resolve().is_relative_to(env_dir.resolve())
    assert (got["t1"], got["t4"], got["s1"], got["n_test"], got["ones"]) == (4, 40, 16, 10000, 1135)
    assert got["derived"] > 0 and 1.0 < got["loss"] < 5.0  # an untrained 10-class network: about ln 10
    assert Path(got["figure"]) == work.resolve() / "_build" / "figures" / "outside.png" and Path(got["figure"]).is_file()
    assert got["book"] == []
