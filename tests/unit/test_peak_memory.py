"""`hardware/peak_rss_gb` is the run's own peak, not its parent's: `ru_maxrss` keeps the high-water mark of the
process before exec, so a run started by a large parent (a test worker, a sweep launcher) reported the parent's
memory (a 3.86 GB tiny-model run under `make test`, 1.16 GB alone)."""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = ("import json, resource; from contrastlab.objectives.trainers.throughput import peak_memory; "
         "print(json.dumps([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "
         "peak_memory('cpu')['hardware/peak_rss_gb']]))")  # fmt: skip


def test_a_run_started_by_a_large_parent_reports_its_own_peak():
    big = bytearray(1 << 30)  # this process: 1 GiB more, every page touched
    for i in range(0, len(big), 4096):
        big[i] = 1
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    inherited, reported = json.loads(out.stdout.strip().splitlines()[-1])
    if sys.platform.startswith("linux"):
        assert inherited > 1.0  # what ru_maxrss says: the parent's
        assert reported < 0.9, reported  # the child's own: Python, torch and transformers imported
    del big
