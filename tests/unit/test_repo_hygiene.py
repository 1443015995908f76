"""`make report` writes ./report/: git ignores it and `make clean` removes it (it was neither)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_report_folder_is_ignored_by_git():
    result = subprocess.run(["git", "check-ignore", "-q", "report/x.png"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"report/ is not ignored by git (rc {result.returncode}): {result.stderr}"


def test_make_clean_removes_the_report_folder():
    result = subprocess.run(["make", "-n", "clean"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    removed = [word for line in result.stdout.splitlines() if (words := shlex.split(line)) and words[0] == "rm"
               for word in words[1:] if not word.startswith("-")]  # fmt: skip
    assert any(word.rstrip("/") in ("report", "./report") for word in removed), result.stdout
