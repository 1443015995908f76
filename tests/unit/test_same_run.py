"""The config comparison of a resume (`app.same_run`) and the checkpoint checksums (`resilience.damage`)."""

from __future__ import annotations

import json

from contrastlab.app.same_run import differences
from contrastlab.objectives.trainers.resilience import COMPLETE, damage, file_digests, usable_checkpoint


def _cfg(**train):
    return {"objective": {"name": "dpo", "beta": 0.1}, "train": {"lr": 1e-4, "max_steps": 30, **train},
            "logger": {"backend": "wandb"}, "eval": {"bootstrap": 1000}, "hardware": {"num_processes": 1}}


def test_keys_that_change_the_result_differ_and_the_others_may():
    first = _cfg()
    now = _cfg(lr=1e-3)
    now["objective"]["beta"] = 0.5
    now["logger"]["backend"] = "none"
    now["eval"]["bootstrap"] = 10
    now["hardware"]["num_processes"] = 2
    assert differences(first, now) == [("objective.beta", 0.1, 0.5), ("train.lr", 1e-4, 1e-3)]


def test_max_steps_may_only_grow_and_a_new_key_differs():
    assert differences(_cfg(), _cfg(max_steps=40)) == []
    assert differences(_cfg(), _cfg(max_steps=20)) == [("train.max_steps", 30, 20)]
    assert differences(_cfg(max_steps=-1), _cfg(max_steps=30)) == [("train.max_steps", -1, 30)]
    assert differences(_cfg(), _cfg(curriculum=True)) == [("train.curriculum", "<absent>", True)]


def _checkpoint(folder, step, files):
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    (path / COMPLETE).write_text(json.dumps({"step": step, "loss_sum": 1.0, "files": file_digests(path)}))
    return path


def test_damage_names_the_file_cut_short_changed_or_missing(tmp_path):
    ok = _checkpoint(tmp_path, 2, {"model.safetensors": b"a" * 100, "sub/rng.pth": b"b" * 10})
    assert json.loads((ok / COMPLETE).read_text())["files"]["sub/rng.pth"]["size"] == 10
    assert damage(ok) is None
    (ok / "model.safetensors").write_bytes(b"a" * 40)
    assert damage(ok) == "model.safetensors has 40 bytes, 100 were written"
    (ok / "model.safetensors").write_bytes(b"c" * 100)
    assert damage(ok) == "model.safetensors does not match its checksum"
    (ok / "model.safetensors").unlink()
    assert damage(ok).startswith("model.safetensors is unreadable")
    legacy = tmp_path / "checkpoint-9"
    legacy.mkdir()
    (legacy / COMPLETE).write_text('{"step": 9, "loss_sum": 1.0}')
    assert damage(legacy) is None  # an earlier version's checkpoint, with no list of files, is trusted


def test_usable_checkpoint_moves_the_damaged_aside_and_returns_the_newest_good_one(tmp_path):
    good = _checkpoint(tmp_path, 4, {"model.safetensors": b"x" * 50})
    bad = _checkpoint(tmp_path, 8, {"model.safetensors": b"y" * 50, "optimizer.pt": b"z" * 50})
    (bad / "optimizer.pt").write_bytes(b"z")
    found, warnings = usable_checkpoint(tmp_path)
    assert found == good
    assert len(warnings) == 1 and "optimizer.pt has 1 bytes, 50 were written" in warnings[0]
    assert not bad.exists() and (tmp_path / "checkpoint-8.damaged" / "optimizer.pt").is_file()
    (good / "model.safetensors").write_bytes(b"")
    found, warnings = usable_checkpoint(tmp_path)
    assert found is None and len(warnings) == 1 and (tmp_path / "checkpoint-4.damaged").is_dir()


def test_a_full_disk_is_told_from_other_errors():
    """torch.save reports a full disk as a RuntimeError of its zip writer (this message, seen on a full disk); an
    OSError by its errno."""
    import errno

    from contrastlab.app.job import _is_write_failure

    torch_full = RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file "
                              "data/0: file write failed")  # fmt: skip
    assert _is_write_failure(torch_full)
    assert _is_write_failure(OSError(errno.ENOSPC, "No space left on device", "x"))
    assert _is_write_failure(OSError(errno.EDQUOT, "Disk quota exceeded", "x"))
    assert not _is_write_failure(OSError(errno.ENOENT, "No such file", "x"))
    assert not _is_write_failure(RuntimeError("a bug"))
