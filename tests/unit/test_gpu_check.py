"""The GPU check (scripts/gpu_check.py) and its wheels (scripts/gpu_wheels.py), on a machine without a GPU:

- with no GPU the check says so in one line, exits 0 and writes nothing;
- a path is judged by its runs (exit code, finite loss, steps, its own check), and a time-out or a cache miss fails it;
- a carried wheel's unmet need is found (the check the builder and the GPU machine make);
- every path's overrides compose (`--plan`);
- the wheels folder builds (for this interpreter: the real one is for the GPU machine's Python 3.12), fits the
  64 MiB that may travel, installs offline into a scratch target, and trl, hydra, omegaconf and datasets import from
  it (the slow test; it needs PyPI, and reuses the folder pytest's cache keeps once it is complete).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import gpu_check
import gpu_wheels


def test_without_a_gpu_it_says_so_in_one_line_and_writes_nothing(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the check would run")
    out = tmp_path / "gpu_check.json"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--out", str(out)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().count("\n") == 0 and "no CUDA GPU" in done.stdout
    assert not out.exists() and list(tmp_path.iterdir()) == []


def _fake_runs(monkeypatch, *runs):
    """run_once returns these (exit code, metrics) in turn."""
    results = iter(runs)
    monkeypatch.setattr(gpu_check, "run_once", lambda cmd, folder, timeout, env: {
        "exit_code": (r := next(results))[0], "metrics": r[1], "wall_s": 1.0, "tail": ["boom"],
        "timeout_s": round(timeout)})  # fmt: skip


def _judge(path: str, tmp_path, n=1000):
    check = next(p for p in gpu_check.paths(tmp_path) if p.name == path)
    deadline = gpu_check.time.monotonic() + 600
    return gpu_check.check_path(check, tmp_path, deadline, per_path=90, peak=100.0, extra_path=[], n=n)


def test_a_path_passes_on_a_finite_loss_and_reports_its_mfu(monkeypatch, tmp_path):
    _fake_runs(monkeypatch, (0, {"train/loss": 0.69, "train/steps": 20, "train/tokens_per_s": 5e9}))
    row = _judge("bf16_policy", tmp_path)
    assert row["status"] == "pass" and "error_tail" not in row
    assert row["mfu"] == pytest.approx(6 * 1000 * 5e9 / 100e12)  # 6 N tokens/s over the peak


@pytest.mark.parametrize("runs, reason", [
    ([(1, {})], "exited 1"),
    ([("timeout", {})], "timeout"),
    ([(0, {"train/loss": float("nan"), "train/steps": 20})], "not a finite number"),
    ([(0, {"train/loss": 0.7, "train/steps": 3})], "expected 20"),
])  # fmt: skip
def test_a_path_fails_with_its_reason_and_error_tail(monkeypatch, tmp_path, runs, reason):
    _fake_runs(monkeypatch, *runs)
    row = _judge("bf16_policy", tmp_path)
    assert row["status"] == "fail" and reason in row["reason"] and row["error_tail"] == ["boom"]


@pytest.mark.parametrize("hits, status", [((0.0, 1.0), "pass"), ((0.0, 0.0), "fail")])
def test_the_second_ref_cache_run_must_hit_the_cache(monkeypatch, tmp_path, hits, status):
    _fake_runs(monkeypatch, *[(0, {"train/loss": 0.7, "train/steps": 10, "ref_cache/hit": h}) for h in hits])
    row = _judge("ref_cache", tmp_path)
    assert row["status"] == status and [r["ref_cache/hit"] for r in row["runs"]] == list(hits)


def test_a_path_is_not_run_without_time_left(monkeypatch, tmp_path):
    _fake_runs(monkeypatch)
    check = gpu_check.paths(tmp_path)[0]
    row = gpu_check.check_path(check, tmp_path, gpu_check.time.monotonic() + 5, 90, None, [], None)
    assert row["status"] == "not_run" and "out of time" in row["reason"]


def _wheel(folder: Path, name: str, version: str, needs: list[str]) -> Path:
    path = folder / f"{name}-{version}-py3-none-any.whl"
    head = "\n".join([f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {n}" for n in needs)])
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", f"Metadata-Version: 2.1\n{head}\n\nA description.\n")
    return path


def test_unmet_needs_of_carried_wheels_are_found(tmp_path):
    wheels = [_wheel(tmp_path, "alpha", "1.0", ["beta>=2", "gamma>=3", "delta", "old; python_version < '3.9'",
                                                  "docs; extra == 'docs'"]),
              _wheel(tmp_path, "beta", "2.1", [])]  # fmt: skip
    machine = {"gamma": "2.5", "delta": ""}  # "" = there, version unknown
    problems = gpu_wheels.unmet(wheels, machine.get, "3.12")
    assert problems == ["alpha needs gamma>=3: 2.5 is there"]
    absent = "not carried and not on the machine"
    assert gpu_wheels.unmet(wheels[:1], {}.get, "3.12") == [
        f"alpha needs beta>=2: {absent}", f"alpha needs gamma>=3: {absent}", f"alpha needs delta: {absent}"]


def test_requirements_pins_win_over_the_builders_own():
    pinned = {n: v for n, v, _ in gpu_wheels.plan()}
    assert pinned["trl"] == gpu_wheels.pins()["trl"] == "1.16.0"
    assert pinned["hydra-core"] == "1.3.8" and pinned["datasets"] == gpu_wheels.pins()["datasets"]


@pytest.mark.slow
def test_every_path_composes():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--plan"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for path in gpu_check.paths(Path()):
        assert re.search(rf"^  {path.name} +composes$", done.stdout, re.MULTILINE), done.stdout


@pytest.mark.slow
def test_the_wheels_build_fit_and_install_offline(request, tmp_path_factory):
    cache = getattr(request.config, "cache", None)
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    dest = cache.mkdir(f"gpu-wheels-{here}") if cache else tmp_path_factory.mktemp("gpu-wheels")
    built = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_wheels.py"), "--dest", str(dest),
                            "--python-version", here], cwd=ROOT, capture_output=True, text=True, timeout=420,
                           check=False)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    travelling = float(re.search(r"travelling in all ([\d.]+) MiB of 64 MiB", built.stdout).group(1))
    assert 0 < travelling < 64
    manifest = json.loads((Path(dest) / "manifest.json").read_text())
    names = {w.split("-")[0]: w.split("-")[1] for w in manifest["wheels"]}
    assert {"trl": "1.16.0", "hydra_core": "1.3.8", "omegaconf": "2.3.0"}.items() <= names.items()
    assert names["datasets"] == gpu_wheels.pins()["datasets"]
    assert "deepspeed" in names or "deepspeed" in manifest["skipped"]
    assert "assets/cache/smollm2-135m-instruct-tokenizer/tokenizer.json" in manifest["assets"]
    assert not any(name.endswith(".safetensors") for name in manifest["assets"])  # no weights travel

    dry = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--dry-run-install", "--install",
                          str(dest), "--target", str(tmp_path_factory.mktemp("site") / "site-packages")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert re.search(r"into \S+ \([\d.]+ MiB\)", dry.stdout)
    for module in ("trl", "hydra", "omegaconf", "datasets"):
        assert re.search(rf"^  {module} .*/site-packages/{module}/__init__\.py$", dry.stdout, re.MULTILINE), dry.stdout


@pytest.mark.slow
def test_the_gpu_machines_wheels_install_offline_as_for_its_python(request, tmp_path_factory):
    """The real luggage (Python 3.12, manylinux x86-64), built and installed here as for that Python."""
    cache = getattr(request.config, "cache", None)
    dest = cache.mkdir("gpu-wheels-3.12") if cache else tmp_path_factory.mktemp("gpu-wheels-312")
    built = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_wheels.py"), "--dest", str(dest)], cwd=ROOT,
                           capture_output=True, text=True, timeout=420, check=False)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    assert json.loads((Path(dest) / "manifest.json").read_text())["key"]["python_version"] == "3.12"
    assert any("cp312" in w for w in json.loads((Path(dest) / "manifest.json").read_text())["wheels"])
    target = tmp_path_factory.mktemp("site312") / "site-packages"
    dry = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--dry-run-install", "--install",
                          str(dest), "--target", str(target)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         check=False)  # fmt: skip
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert (target / "trl" / "__init__.py").is_file() and (target / "hydra" / "__init__.py").is_file()
    deepspeed_site = gpu_wheels.deepspeed_site(target)  # DeepSpeed and its needs (pydantic) beside the target
    assert list(deepspeed_site.glob("pydantic_core/_pydantic_core.cpython-312-*.so"))  # the 3.12 build
