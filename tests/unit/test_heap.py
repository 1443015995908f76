"""`contrastlab.heap.mapped_temporaries` does nothing without run.py's allocator tunables."""

from __future__ import annotations


def test_without_the_tunables_nothing_changes(monkeypatch):
    from contrastlab import heap

    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    assert not heap.keeps_freed_memory()
    with heap.mapped_temporaries():
        pass


def test_with_the_tunables_on_glibc_it_applies(monkeypatch):
    import run
    from contrastlab import heap

    monkeypatch.setenv("GLIBC_TUNABLES", run.MALLOC_TUNABLES)
    assert heap.keeps_freed_memory() == (heap._glibc() is not None)
    with heap.mapped_temporaries():  # mallopt takes the parameters and gives the tunables' behaviour back after
        pass
