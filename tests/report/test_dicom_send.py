"""``ceusdesk send``: the DICOM results stored in a real Orthanc, started in a private network namespace.

Orthanc listens on every interface unless told otherwise; inside ``unshare -rn`` there is only a loopback,
so nothing outside the test can reach it (and it reaches nothing). DCMTK's storescu stores the source
study first, as the scanner would have; then `ceusdesk send` adds the results and Orthanc's REST API,
on the same loopback, shows them in that study.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from io import BytesIO
from pathlib import Path

import pydicom
import pytest

from ceusdesk.phantom import PhantomOptions, synthesize_case
from tests.report.test_dicom_results import analyze
from tests.system_tools import Namespace, tool
from tests.tiny_package import make_tiny_package

AET, DICOM_PORT, HTTP_PORT = "ORTHANC", 4242, 8042
REST = f"""
import json, sys, urllib.request
method, path, body = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request("http://127.0.0.1:{HTTP_PORT}" + path, method=method, data=body.encode() or None)
with urllib.request.urlopen(req, timeout=10) as r:
    sys.stdout.buffer.write(r.read())
"""


class Orthanc:
    def __init__(self, tmp: Path):
        config = {"Name": "ceusdesk-test", "DicomAet": AET, "DicomPort": DICOM_PORT, "HttpPort": HTTP_PORT,
                  "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "DicomCheckCalledAet": True,
                  "StorageDirectory": str(tmp / "db"), "IndexDirectory": str(tmp / "db"), "Plugins": [],
                  "DicomAlwaysAllowStore": True}
        (tmp / "orthanc.json").write_text(json.dumps(config))
        self.ns = Namespace([tool("Orthanc"), str(tmp / "orthanc.json")], tmp / "orthanc.log")
        deadline = time.monotonic() + 60
        while self.rest("GET", "/system", check=False) is None:
            if time.monotonic() > deadline or self.ns.proc.poll() is not None:
                self.ns.stop()
                pytest.fail("Orthanc did not start: " + (tmp / "orthanc.log").read_text()[-1500:])
            time.sleep(0.3)

    def rest(self, method: str, path: str, body: object = None, *, check: bool = True, raw: bool = False):
        data = "" if body is None else json.dumps(body)
        proc = self.ns.run([sys.executable, "-c", REST, method, path, data], timeout=30, text=False)
        if proc.returncode != 0:
            if check:
                raise AssertionError(proc.stderr[-1000:].decode(errors="replace"))
            return None
        return proc.stdout if raw else json.loads(proc.stdout)

    def ceusdesk(self, *args: str, data: Path | None = None) -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONPATH=os.getcwd())
        if data is not None:
            env["CEUSDESK_DATA_DIR"] = str(data)
        return self.ns.run([sys.executable, "-m", "ceusdesk", *args], timeout=120, env=env)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    server = Orthanc(tmp_path_factory.mktemp("orthanc"))
    yield server
    server.ns.stop()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    base = tmp_path_factory.mktemp("send")
    rec = synthesize_case(base / "studies", seed=21, label="hcc", options=PhantomOptions(encoding="raw"))
    study = base / "studies" / rec["study"]
    proc = analyze(study, rec["roi"], make_tiny_package(base / "pkg"), base / "out", base / "data")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout), study, base / "out"


def test_send_stores_the_four_objects_in_the_source_study(orthanc, results):
    doc, study, out = results
    sources = sorted(study.glob("*.dcm"))
    store = orthanc.ns.run([tool("storescu"), "-aec", AET, "127.0.0.1", str(DICOM_PORT), *map(str, sources)],
                           timeout=120)
    assert store.returncode == 0, store.stderr
    study_uid = pydicom.dcmread(sources[0], stop_before_pixels=True).StudyInstanceUID
    proc = orthanc.ceusdesk("send", str(out), "--to", f"{AET}@127.0.0.1:{DICOM_PORT}",
                            data=out.parent / "data")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"stored 4 object(s) in {AET}@127.0.0.1:{DICOM_PORT}")
    query = {"Level": "Instance", "Query": {"StudyInstanceUID": study_uid}, "Expand": True}
    found = orthanc.rest("POST", "/tools/find", query)
    assert len(found) == len(sources) + 4
    by_class = {}
    for inst in found:
        tags = orthanc.rest("GET", f"/instances/{inst['ID']}/simplified-tags")
        by_class.setdefault(tags["SOPClassUID"], []).append(inst["ID"])
    assert len(by_class["1.2.840.10008.5.1.4.1.1.88.33"]) == 1  # the SR ...
    sr = pydicom.dcmread(BytesIO(
        orthanc.rest("GET", f"/instances/{by_class['1.2.840.10008.5.1.4.1.1.88.33'][0]}/file", raw=True)))
    # ... references the clips the analysis used, which Orthanc holds in the same study
    used = {pydicom.dcmread(study / doc["slots"][s]["path"], stop_before_pixels=True).SOPInstanceUID
            for s in doc["result"]["slots_used"]}
    referenced = {sop.ReferencedSOPInstanceUID for st in sr.CurrentRequestedProcedureEvidenceSequence
                  for se in st.ReferencedSeriesSequence for sop in se.ReferencedSOPSequence}
    assert referenced == used
    stored = {orthanc.rest("GET", f"/instances/{i['ID']}/simplified-tags")["SOPInstanceUID"] for i in found}
    assert used <= stored
    # on record: where to, how many, and the same hashed objects as the export's record
    from ceusdesk.outputs import audit

    data = out.parent / "data"
    (sent,) = [r for r in audit.read_records(data) if r["event"] == "send"]
    (export,) = [r for r in audit.read_records(data) if r["event"] == "dicom_export"]
    assert sent["destination"] == f"{AET}@127.0.0.1:{DICOM_PORT}"
    assert (sent["stored"], sent["failed"]) == (4, 0)
    assert sent["objects"] == export["objects"]


def test_a_wrong_called_aet_is_rejected_in_one_line_and_the_files_stay(orthanc, results):
    _doc, _study, out = results
    before = sorted(p.name for p in out.iterdir())
    proc = orthanc.ceusdesk("send", str(out), "--to", f"NOTORTHANC@127.0.0.1:{DICOM_PORT}")
    assert proc.returncode == 8
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"ceusdesk: sending to NOTORTHANC@127.0.0.1:{DICOM_PORT}: association rejected")
    assert "called ae title not recognised" in line.lower() and "files stay in place" in line
    assert sorted(p.name for p in out.iterdir()) == before


def test_no_listener_is_named_and_nothing_is_lost(orthanc, results):
    _doc, _study, out = results
    proc = orthanc.ceusdesk("send", str(out), "--to", f"{AET}@127.0.0.1:{DICOM_PORT + 1}", "--timeout", "5")
    assert proc.returncode == 8
    (line,) = proc.stderr.strip().splitlines()
    assert f"{AET}@127.0.0.1:{DICOM_PORT + 1}: no connection" in line and "refused" in line.lower()
    assert len(list(out.glob("*.dcm"))) == 4
