"""A case saved from the app with a hand-adjusted slot ROI trains on exactly what the app analyzed."""
import json

import numpy as np

from ceusdesk.base.protocol import default_protocol
from ceusdesk.inference.inputs import case_inputs
from ceusdesk.inference.preprocess import InputSpec
from ceusdesk.outputs.training_case import save_training_case
from ceusdesk.phantom import PhantomOptions, synthesize_case
from ceusdesk.study import open_study
from trainer.cache import build_case_arrays


def test_saved_slot_rois_reach_the_trainer(tmp_path):
    rec = synthesize_case(tmp_path / "src", seed=9, options=PhantomOptions(frames_per_clip=2))
    study = open_study(tmp_path / "src" / rec["study"])
    roi = tuple(rec["roi"])
    x, y, w, h = roi
    adjusted = {"3:00": (x + w // 2, y, w, h)}  # the user moved the 3:00 ROI by half its width
    spec, protocol = InputSpec(size=32), default_protocol()

    save_training_case(tmp_path / "cases", study, roi, "hcc", slot_rois=adjusted)
    (line,) = (tmp_path / "cases" / "cases.jsonl").read_text().splitlines()
    saved = json.loads(line)
    assert saved["slot_rois"] == {"3:00": list(adjusted["3:00"])}

    entry, _ = build_case_arrays(tmp_path / "cases", saved, spec, protocol)
    images, mask = entry.images, entry.mask
    app = case_inputs(study, roi, spec, protocol=protocol, rois=adjusted)
    assert np.array_equal(images, app.images) and np.array_equal(mask, app.mask)
    shared = case_inputs(study, roi, spec, protocol=protocol)
    i = protocol.slot_names.index("3:00")
    assert not np.array_equal(images[i], shared.images[i])  # the adjustment really changed the input
    others = [k for k in range(len(protocol.slot_names)) if k != i]
    assert np.array_equal(images[others], shared.images[others])
