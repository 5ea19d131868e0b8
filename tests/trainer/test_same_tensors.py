"""The trainer's cached tensors equal, bit for bit, what the app computes for the same phantom case."""

import json

import numpy as np

from ceusdesk.base.protocol import default_protocol
from ceusdesk.inference.engine import decide_phase_set, present_slots
from ceusdesk.inference.inputs import case_inputs
from ceusdesk.inference.preprocess import InputSpec
from ceusdesk.study import open_study
from trainer.data import load_cached_cases


def test_trainer_cache_equals_app_inputs(phantom):
    spec, protocol = InputSpec(size=48), default_protocol()
    ca = load_cached_cases(phantom, spec, workers=1)
    again = load_cached_cases(phantom, spec, workers=1)  # from the cache this time
    assert len(ca) == 3 and not ca.skipped
    records = [json.loads(line) for line in (phantom / "cases.jsonl").read_text().splitlines()]
    used = []
    for i, rec in enumerate(records):
        # what `ceusdesk analyze STUDY --roi X,Y,W,H` does: open the folder, decide the set, build inputs
        study = open_study(phantom / rec["study"])
        _, use_slots = decide_phase_set(present_slots(study), protocol)
        app = case_inputs(study, tuple(rec["roi"]), spec, protocol=protocol, use_slots=use_slots)
        assert ca.ids[i] == rec["case_id"]
        assert ca.images[i].dtype == app.images.dtype == np.float32
        assert np.array_equal(ca.images[i], app.images) and np.array_equal(ca.mask[i], app.mask)
        assert np.array_equal(again.images[i], app.images)
        used.append(int(app.mask.sum()))
    assert max(used) == 9, used  # a full case among them: the comparison covers every slot
