"""The app's File ▸ Export to DICOM and ▸ Send results to PACS (offered only where IT set a destination)."""
from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from PySide6.QtCore import QSettings

from .conftest import open_and_wait
from .test_window import analyze_and_wait


def _window(qtbot, tmp_path, tiny_model):
    from ceusdesk.gui.main_window import MainWindow

    win = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win.settings.model = str(tiny_model)
    qtbot.addWidget(win)
    win.show()
    return win


def _analyzed(qtbot, win, study):
    open_and_wait(qtbot, win, study[0])
    win.set_roi("0:30", tuple(study[1]))
    return analyze_and_wait(qtbot, win)


def test_export_to_dicom_writes_the_four_objects_deidentified_by_default(qtbot, window, full_study, tmp_path):
    assert not window.dicom_action.isEnabled()  # nothing to export before a result
    result = _analyzed(qtbot, window, full_study)
    assert window.dicom_action.isEnabled()
    with qtbot.waitSignal(window.dicomExported, timeout=60000) as blocker:
        window.export_dicom(tmp_path / "dicom")
    assert "DICOM results written" in blocker.args[0] and "(de-identified)" in blocker.args[0]
    objects = [pydicom.dcmread(p) for p in sorted((tmp_path / "dicom").glob("*.dcm"))]
    assert sorted(ds.Modality for ds in objects) == ["DOC", "KO", "PR", "SR"]
    assert all(ds.PatientIdentityRemoved == "YES" and ds.PatientName == "" for ds in objects)
    sr = next(ds for ds in objects if ds.Modality == "SR")
    group = sr.ContentSequence[-1].ContentSequence[0].ContentSequence
    assert any(result["model"]["uid"] in str(item.get("TextValue", "")) for item in group)


def test_no_send_without_a_destination_from_it(qtbot, tmp_path, tiny_model, monkeypatch):
    monkeypatch.delenv("CEUSDESK_SEND_TO", raising=False)
    win = _window(qtbot, tmp_path, tiny_model)
    try:
        assert win.send_action is None
        texts = [a.text() for a in win.menuBar().actions()[0].menu().actions()]
        assert not any("PACS" in t for t in texts)
    finally:
        win.runner.shutdown()


@pytest.fixture
def storage_scp():
    """A real DICOM storage SCP (pynetdicom) on loopback: what it receives, and its port."""
    from pynetdicom import AE, AllStoragePresentationContexts, evt

    received: list[pydicom.Dataset] = []

    def on_store(event):
        received.append(event.dataset)
        return 0x0000

    ae = AE(ae_title="TESTPACS")
    ae.supported_contexts = AllStoragePresentationContexts
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    yield received, server.server_address[1]
    server.shutdown()


def test_send_results_stores_them_and_failures_name_the_destination(
        qtbot, tmp_path, tiny_model, full_study, monkeypatch, storage_scp, private_data_dir):
    received, port = storage_scp
    monkeypatch.setenv("CEUSDESK_SEND_TO", f"TESTPACS@127.0.0.1:{port}")
    win = _window(qtbot, tmp_path, tiny_model)
    try:
        assert win.send_action is not None and f"TESTPACS@127.0.0.1:{port}" in win.send_action.text()
        _analyzed(qtbot, win, full_study)
        assert win.send_action.isEnabled()
        with qtbot.waitSignal(win.resultsSent, timeout=60000) as blocker:
            win.send_results()
        assert blocker.args[0] == f"stored 4 object(s) in TESTPACS@127.0.0.1:{port}"
        assert sorted(ds.Modality for ds in received) == ["DOC", "KO", "PR", "SR"]
        # a destination that does not answer: one line naming it, and the files kept in the outbox
        from ceusdesk.outputs.dicom.send import Destination

        win.destination = Destination("TESTPACS", "127.0.0.1", 9)
        with qtbot.waitSignal(win.errorShown, timeout=60000) as failed:
            win.send_results()
        assert "TESTPACS@127.0.0.1:9" in failed.args[0] and "no connection" in failed.args[0]
        outboxes = [Path(p) for p in (private_data_dir / "outbox").iterdir()]
        assert len(outboxes) == 2 and all(len(list(o.glob("*.dcm"))) == 4 for o in outboxes)
        assert str(outboxes[0].parent) in failed.args[0]
    finally:
        win.runner.shutdown()
