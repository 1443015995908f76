"""The benchmark harness (`make bench`): speed targets live here, not in unit tests.

Entries:
  dpo_runner_vs_trl  a 20-step tiny DPO run through run.py against the same run written directly
                     against TRL (scripts/bench_trl_dpo.py); reported as ratios ours / TRL of process
                     wall time and of training time. Lower is better; 1.0 = no overhead.
  infonce_vs_sentence_transformers
                     training throughput (examples / s) of `objective=infonce model=minilm data=lee`
                     through run.py against sentence-transformers' own trainer with
                     MultipleNegativesRankingLoss on the same model, texts, batch (32) and length (64)
                     (scripts/bench_st_mnrl.py); reported as ours / theirs. Higher is better; target >= 1.0.
  preference_trainer_vs_trl
                     median optimizer-step time of our PreferenceTrainer with the sigmoid DPO loss against TRL's
                     DPOTrainer on the same model (SmolLM2-135M with the default LoRA), batch (4 pairs) and length
                     (96), first step dropped (scripts/bench_preference_step.py); the two runs alternate order.
                     Reported as ours / TRL. Lower is better; target <= 1.05.
  ref_cache_beta_sweep
                     wall time of a 4-job beta sweep (`run.py -m objective=dpo objective.beta=0.05,0.1,0.2,0.5
                     objective.precompute_ref=true`, one process, a fresh temporary cache_dir) with the reference
                     log-prob cache (`train.ref_cache=true`: jobs 2-4 load what job 1 computed) and without. The tiny
                     model, 64 rt_sentiment pairs, one epoch (16 steps of 4 pairs), no evaluation: the precompute is
                     one forward pass over the training set, as in any one-epoch DPO job (`--steps` is not used).
                     The two sweeps alternate order. Reported as cached / uncached. Lower is better.

  scale_out          what one run costs on each hardware config: training tokens / s (all processes) and peak memory
                     (`train/tokens_per_s`, `hardware/peak_gpu_memory_gb` or `hardware/peak_rss_gb` of metrics.json)
                     of DPO + LoRA on SmolLM2-135M-Instruct, `--steps` steps (at most 10 on the CPU). With a CUDA GPU:
                     `hardware=gpu` against `hardware=fsdp hardware.num_processes=1` (batch 8, length 256, bf16).
                     On the CPU: one process on every core against `hardware=ddp` with one process a core, at the
                     same global batch (8 pairs, length 64). Higher tokens / s is better.

  default_run_vs_trl wall time of `make run`'s experiment (`python run.py`, no overrides) to its final held-out
                     accuracy, against the same experiment written directly against TRL with TRL's defaults
                     (scripts/bench_trl_default.py: gradient checkpointing, the template's system prompt; fp32 on
                     the CPU as ours); wall ratio ours / TRL (lower is better) and both accuracies. Minutes a
                     repeat: run it alone (`--only default_run_vs_trl --repeats 1`); `--steps` is not used.
  grpo_runner_vs_trl a tiny-model GRPO run (`objective=grpo model=tiny reward=lexicon`, 4 samples of one prompt a
                     step, completions of at most 32 tokens, beta 0.04, no evaluation) through run.py against the same
                     GRPOTrainer run written directly against TRL (scripts/bench_trl_grpo.py); ratios ours / TRL of
                     the training time (step time) and of process wall time, and both runs' mean training reward
                     (the same run gives the same rewards). Lower is better; target train ratio <= 1.05.
  help_vs_bare_hydra `python run.py --help` and `python run.py --cfg job` against a bare Hydra app over the same
                     config tree and schemas (scripts/bench_bare_hydra.py), alternating; ratio ours / bare of the
                     median wall time (lower is better; target <= 1.3). `--steps` is not used.

Each entry runs `--repeats` times (median). Results print as a table and go to bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed(cmd: list[str], **env_overrides: str) -> tuple[float, str]:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "WANDB_SILENT": "true",
           **env_overrides}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, proc.stdout


def dpo_runner_vs_trl(steps: int, repeats: int) -> dict:
    ours_wall, ours_train, trl_wall, trl_train = [], [], [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            wall, _ = _timed([sys.executable, "run.py", "experiment=quick", f"train.max_steps={steps}",
                              "eval.before=false", "eval.after=false", "save_model=false",
                              f"hydra.run.dir={tmp}/run"])  # fmt: skip
            metrics = json.loads((Path(tmp) / "run" / "metrics.json").read_text())
        ours_wall.append(wall)
        ours_train.append(metrics["train/runtime_s"])
        wall, out = _timed([sys.executable, "scripts/bench_trl_dpo.py", str(steps)])
        trl_wall.append(wall)
        trl_train.append(json.loads(out.strip().splitlines()[-1])["train_s"])
    med = statistics.median
    return {
        "steps": steps,
        "repeats": repeats,
        "ours_wall_s": med(ours_wall),
        "trl_wall_s": med(trl_wall),
        "ours_train_s": med(ours_train),
        "trl_train_s": med(trl_train),
        "wall_ratio": med(ours_wall) / med(trl_wall),
        "train_ratio": med(ours_train) / med(trl_train),
    }


def infonce_vs_sentence_transformers(steps: int, repeats: int, batch: int = 32, max_length: int = 64) -> dict:
    ours, theirs = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            _timed([sys.executable, "run.py", "objective=infonce", "model=minilm", "data=lee", "logger=none",
                    f"train.max_steps={steps}", f"train.batch_size={batch}", f"train.max_length={max_length}",
                    "train.lr=5e-5", "eval.before=false", "eval.after=false", "save_model=false",
                    f"hydra.run.dir={tmp}/run"])  # fmt: skip
            metrics = json.loads((Path(tmp) / "run" / "metrics.json").read_text())
        ours.append(steps * batch / metrics["train/runtime_s"])
        _, out = _timed([sys.executable, "scripts/bench_st_mnrl.py", str(steps), str(batch), str(max_length)])
        theirs.append(json.loads(out.strip().splitlines()[-1])["examples_per_s"])
    med = statistics.median
    return {"steps": steps, "repeats": repeats, "batch": batch, "max_length": max_length,
            "ours_examples_per_s": med(ours), "st_examples_per_s": med(theirs),
            "throughput_ratio": med(ours) / med(theirs),
            "ours_samples": ours, "st_samples": theirs}  # fmt: skip


def preference_trainer_vs_trl(steps: int, repeats: int, model: str = "smollm2", batch: int = 4,
                              max_length: int = 96) -> dict:  # fmt: skip
    steps = min(steps, 8)  # a SmolLM2 step takes seconds: 8 steps (7 timed) per side per repeat
    ours, theirs = [], []
    for repeat in range(repeats):
        for side in (("ours", "trl") if repeat % 2 == 0 else ("trl", "ours")):
            _, out = _timed([sys.executable, "scripts/bench_preference_step.py", side, model, str(steps), str(batch),
                             str(max_length)])  # fmt: skip
            times = json.loads(out.strip().splitlines()[-1])["step_s"][1:]
            (ours if side == "ours" else theirs).append(statistics.median(times))
    med = statistics.median
    return {"steps": steps, "repeats": repeats, "model": model, "batch": batch, "max_length": max_length,
            "ours_step_s": med(ours), "trl_step_s": med(theirs), "step_ratio": med(ours) / med(theirs),
            "ours_samples": ours, "trl_samples": theirs}  # fmt: skip


def ref_cache_beta_sweep(steps: int, repeats: int, pairs: int = 64, batch: int = 4) -> dict:
    betas = "0.05,0.1,0.2,0.5"
    cached, uncached, hits = [], [], []
    for repeat in range(repeats):
        for use in ((True, False) if repeat % 2 == 0 else (False, True)):
            with tempfile.TemporaryDirectory() as tmp:
                wall, out = _timed([sys.executable, "run.py", "-m", "objective=dpo", f"objective.beta={betas}",
                                    "objective.precompute_ref=true", "model=tiny", "logger=none",
                                    f"data.max_train={pairs}", "train.max_steps=-1", "train.epochs=1",
                                    f"train.batch_size={batch}", "train.lr=1e-3", "eval.before=false",
                                    "eval.after=false", "save_model=false", f"cache_dir={tmp}/cache",
                                    f"train.ref_cache={str(use).lower()}",
                                    f"hydra.sweep.dir={tmp}/multirun"])  # fmt: skip
            (cached if use else uncached).append(wall)
            if use:
                hits.append(out.count("reference log-probs: cache hit"))
    if any(h != 3 for h in hits):
        sys.exit(f"bench: ref_cache_beta_sweep: expected 3 cache hits a cached sweep, got {hits}")
    med = statistics.median
    return {"steps": pairs // batch, "repeats": repeats, "jobs": 4, "pairs": pairs, "batch": batch,
            "cached_wall_s": med(cached), "uncached_wall_s": med(uncached), "sweep_ratio": med(cached) / med(uncached),
            "cached_samples": cached, "uncached_samples": uncached}  # fmt: skip


def scale_out(steps: int, repeats: int) -> dict:
    import torch

    from contrastlab.app.launch import cpu_cores

    cores = cpu_cores()
    if torch.cuda.is_available():
        device, steps, batch, length = "cuda", steps, 8, 256
        configs = {"gpu": (["hardware=gpu"], {}),
                   "fsdp x1": (["hardware=fsdp", "hardware.num_processes=1"], {})}  # fmt: skip
    else:
        device, steps, batch, length = "cpu", min(steps, 10), 8, 64
        configs = {f"cpu, {cores} threads": (["hardware=cpu", f"train.batch_size={batch}"], {"OMP_NUM_THREADS": str(cores)}),
                   f"ddp x{cores}": (["hardware=ddp", f"hardware.num_processes={cores}",
                                      f"train.batch_size={batch // cores}"], {})}  # fmt: skip
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in configs}
    for repeat in range(repeats):
        for name, (overrides, env) in (configs.items() if repeat % 2 == 0 else reversed(configs.items())):
            with tempfile.TemporaryDirectory() as tmp:
                _timed([sys.executable, "run.py", "model=smollm2", "objective=dpo", "logger=none",
                        f"train.max_steps={steps}", f"train.batch_size={batch}", f"train.max_length={length}",
                        "eval.before=false", "eval.after=false", "save_model=false", *overrides,
                        f"hydra.run.dir={tmp}/run"], **env)  # fmt: skip
                m = json.loads((Path(tmp) / "run" / "metrics.json").read_text())
            memory = m.get("hardware/peak_gpu_memory_gb", m.get("hardware/peak_rss_gb"))
            samples[name].append((m["train/tokens_per_s"], memory))
    med = statistics.median
    return {"steps": steps, "repeats": repeats, "device": device, "batch": batch, "max_length": length,
            "memory": "peak GPU memory allocated (GB)" if device == "cuda" else "peak RSS of one process (GB)",
            "configs": {name: {"tokens_per_s": med(t for t, _ in got), "peak_memory_gb": med(g for _, g in got),
                               "samples": got} for name, got in samples.items()}}  # fmt: skip



def default_run_vs_trl(steps: int, repeats: int) -> dict:
    ours_wall, ours_acc, trl_wall, trl_acc = [], [], [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            wall, _ = _timed([sys.executable, "run.py", f"hydra.run.dir={tmp}/run"], WANDB_MODE="offline")
            metrics = json.loads((Path(tmp) / "run" / "metrics.json").read_text())
        ours_wall.append(wall)
        ours_acc.append(metrics["after/pref_accuracy"])
        wall, out = _timed([sys.executable, "scripts/bench_trl_default.py"])
        trl_wall.append(wall)
        trl_acc.append(json.loads(out.strip().splitlines()[-1])["accuracy"])
    med = statistics.median
    return {"steps": int(metrics["train/steps"]), "repeats": repeats, "eval_pairs": int(metrics["data/num_eval"]),
            "ours_wall_s": med(ours_wall), "trl_wall_s": med(trl_wall), "wall_ratio": med(ours_wall) / med(trl_wall),
            "ours_accuracy": med(ours_acc), "trl_accuracy": med(trl_acc), "kind": "default_run"}  # fmt: skip


def grpo_runner_vs_trl(steps: int, repeats: int) -> dict:
    ours_wall, ours_train, trl_wall, trl_train, rewards = [], [], [], [], {}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            wall, _ = _timed([sys.executable, "run.py", "objective=grpo", "model=tiny", "reward=lexicon",
                              "logger=none", f"train.max_steps={steps}", "train.lr=1e-3", "data.max_train=200",
                              "data.max_eval=32", "eval.before=false", "eval.after=false", "eval.generate=false",
                              "save_model=false", f"hydra.run.dir={tmp}/run"])  # fmt: skip
            metrics = json.loads((Path(tmp) / "run" / "metrics.json").read_text())
            logged = [json.loads(line) for line in (Path(tmp) / "run" / "log.jsonl").read_text().splitlines()]
        ours_wall.append(wall)
        ours_train.append(metrics["train/runtime_s"])
        values = [row["train/reward"] for row in logged if "train/reward" in row]
        rewards["ours"] = sum(values) / len(values)
        wall, out = _timed([sys.executable, "scripts/bench_trl_grpo.py", str(steps)])
        trl_wall.append(wall)
        result = json.loads(out.strip().splitlines()[-1])
        trl_train.append(result["train_s"])
        rewards["trl"] = result["mean_reward"]
    med = statistics.median
    return {"steps": steps, "repeats": repeats, "ours_wall_s": med(ours_wall), "trl_wall_s": med(trl_wall),
            "ours_train_s": med(ours_train), "trl_train_s": med(trl_train),
            "wall_ratio": med(ours_wall) / med(trl_wall), "train_ratio": med(ours_train) / med(trl_train),
            "ours_mean_reward": rewards["ours"], "trl_mean_reward": rewards["trl"]}  # fmt: skip


def help_vs_bare_hydra(steps: int, repeats: int) -> dict:
    out = {"steps": 0, "repeats": max(repeats, 5), "kind": "help"}
    for flag in (["--help"], ["--cfg", "job"]):
        ours, bare = [], []
        for _ in range(max(repeats, 5)):
            ours.append(_timed([sys.executable, "run.py", *flag])[0])
            bare.append(_timed([sys.executable, "scripts/bench_bare_hydra.py", *flag])[0])
        key = flag[0].lstrip("-")
        out[f"{key}_ours_s"], out[f"{key}_bare_s"] = statistics.median(ours), statistics.median(bare)
        out[f"{key}_ratio"] = out[f"{key}_ours_s"] / out[f"{key}_bare_s"]
    return out

ENTRIES = {"dpo_runner_vs_trl": dpo_runner_vs_trl, "infonce_vs_sentence_transformers": infonce_vs_sentence_transformers,
           "preference_trainer_vs_trl": preference_trainer_vs_trl, "ref_cache_beta_sweep": ref_cache_beta_sweep,
           "scale_out": scale_out, "default_run_vs_trl": default_run_vs_trl, "grpo_runner_vs_trl": grpo_runner_vs_trl,
           "help_vs_bare_hydra": help_vs_bare_hydra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(ENTRIES), help="run one entry")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for name, fn in ENTRIES.items():
        if args.only and name != args.only:
            continue
        print(f"bench: {name} ...", flush=True)
        results[name] = fn(args.steps, args.repeats)
    out = ROOT / "bench" / "results.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    threads = os.environ.get("OMP_NUM_THREADS", "1")
    for name, r in results.items():
        print(f"\n{name} ({r['steps']} steps, median of {r['repeats']}, OMP_NUM_THREADS={threads})")
        if r.get("kind") == "default_run":
            print(f"  the default run ({r['steps']} steps, {r['eval_pairs']} held-out pairs); wall lower is better")
            print(f"  {'':14}{'run.py':>10}{'TRL direct':>12}{'ratio':>8}")
            print(f"  {'wall (s)':14}{r['ours_wall_s']:>10.1f}{r['trl_wall_s']:>12.1f}{r['wall_ratio']:>8.3f}")
            print(f"  {'accuracy':14}{r['ours_accuracy']:>10.4f}{r['trl_accuracy']:>12.4f}")
        elif r.get("kind") == "help":
            print(f"  {'':14}{'run.py':>10}{'bare Hydra':>12}{'ratio':>8}   (target <= 1.3)")
            for key in ("help", "cfg"):
                print(f"  {'--' + key + ' (s)':14}{r[key + '_ours_s']:>10.2f}{r[key + '_bare_s']:>12.2f}"
                      f"{r[key + '_ratio']:>8.3f}")
        elif "configs" in r:
            print(f"  DPO + LoRA, smollm2, {r['device']}, batch {r['batch']}, length {r['max_length']}; memory: "
                  f"{r['memory']}")
            print(f"  {'':18}{'tokens/s':>10}{'memory':>10}")
            for config, c in r["configs"].items():
                print(f"  {config:18}{c['tokens_per_s']:>10.0f}{c['peak_memory_gb']:>10.2f}")
        elif "wall_ratio" in r:
            print(f"  {'':12}{'run.py':>10}{'TRL direct':>12}{'ratio':>8}")
            print(f"  {'wall (s)':12}{r['ours_wall_s']:>10.2f}{r['trl_wall_s']:>12.2f}{r['wall_ratio']:>8.3f}")
            print(f"  {'train (s)':12}{r['ours_train_s']:>10.2f}{r['trl_train_s']:>12.2f}{r['train_ratio']:>8.3f}")
            if "ours_mean_reward" in r:
                print(f"  {'reward':12}{r['ours_mean_reward']:>10.4f}{r['trl_mean_reward']:>12.4f}   (mean over steps)")
        elif "sweep_ratio" in r:
            print(f"  {r['jobs']} jobs (betas), tiny model, {r['pairs']} pairs, one epoch; lower is better")
            print(f"  {'':16}{'cached':>10}{'uncached':>12}{'ratio':>8}")
            print(f"  {'sweep wall (s)':16}{r['cached_wall_s']:>10.2f}{r['uncached_wall_s']:>12.2f}"
                  f"{r['sweep_ratio']:>8.3f}")
        elif "step_ratio" in r:
            print(f"  {r['model']}, batch {r['batch']}, max length {r['max_length']}; lower is better, target <= 1.05")
            print(f"  {'':16}{'ours':>10}{'TRL DPO':>12}{'ratio':>8}")
            print(f"  {'step (s)':16}{r['ours_step_s']:>10.3f}{r['trl_step_s']:>12.3f}{r['step_ratio']:>8.3f}")
        else:
            print(f"  batch {r['batch']}, max length {r['max_length']}; higher is better, target ratio >= 1.0")
            print(f"  {'':16}{'run.py':>10}{'ST trainer':>12}{'ratio':>8}")
            print(f"  {'examples / s':16}{r['ours_examples_per_s']:>10.2f}{r['st_examples_per_s']:>12.2f}"
                  f"{r['throughput_ratio']:>8.3f}")
    print(f"\nwritten: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
