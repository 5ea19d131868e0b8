"""The slot-panel cache is shared by the app's worker threads: concurrent reads under a tight budget
give every caller the right panel, and the cache stays within its budget."""
from __future__ import annotations

import threading

import numpy as np

from ceusdesk.phantom import PhantomOptions, synthesize_case
from ceusdesk.study import frames, open_study


def test_threads_reading_panels_through_a_tight_cache_each_get_the_right_panel(tmp_path, monkeypatch):
    rec = synthesize_case(tmp_path, seed=2, options=PhantomOptions(panel_size=(96, 72), frames_per_clip=2))
    study = open_study(tmp_path / rec["study"])
    slots = [sf for sf in study.slots.values() if sf is not None]
    expected = [frames.panel_image(sf) for sf in slots]
    # room for about two panels: every thread keeps evicting what another just put in
    monkeypatch.setattr(frames, "CACHE_BYTES", 2 * expected[0].nbytes + 1)
    frames.clear_cache()
    failures: list[str] = []

    def hammer(k: int) -> None:
        try:
            for i in range(60):
                j = (i * 7 + k) % len(slots)
                got = frames.panel_image(slots[j])
                if not np.array_equal(got, expected[j]):
                    failures.append(f"thread {k}: slot {j} gave another panel")
        except Exception as err:  # a race shows as any exception: report it, fail below
            failures.append(f"thread {k}: {type(err).__name__}: {err}")

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert frames._cache_bytes == sum(a.nbytes for a in frames._cache.values()) <= frames.CACHE_BYTES
