"""Ingestion (ceusdesk.study.open_study) reads phantom studies with standard DICOM semantics."""
import dataclasses

import pytest

from ceusdesk.phantom import synthesize_case

study_mod = pytest.importorskip("ceusdesk.study.assemble")


def test_full_study_fills_all_nine_slots(tmp_path, tiny):
    rec = synthesize_case(tmp_path, seed=31, options=tiny)
    st = study_mod.open_study(tmp_path / rec["study"])
    assert st.phase_set == "full"
    assert all(st.slots[name] is not None for name in st.protocol.slot_names), st.to_json()["slots"]
    assert st.injection_source == "dicom"
    assert st.contrast_panel == rec["contrast_panel"]


def test_early_only_study_fills_the_early_set(tmp_path, tiny):
    rec = synthesize_case(tmp_path, seed=32, options=dataclasses.replace(tiny, early_only=True))
    st = study_mod.open_study(tmp_path / rec["study"])
    assert st.phase_set == "early"
    assert all(st.slots[name] is not None for name in st.protocol.early_set)
    assert st.slots["10:00"] is None


def test_dicomdir_study_reads_like_a_folder(tmp_path, tiny):
    rec = synthesize_case(tmp_path, seed=33, options=dataclasses.replace(tiny, dicomdir=True))
    st = study_mod.open_study(tmp_path / rec["study"] / "DICOMDIR")
    assert st.phase_set == "full"
