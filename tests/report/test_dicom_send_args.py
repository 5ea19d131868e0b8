"""`ceusdesk send`'s arguments: a destination or folder that cannot work is refused in one line, exit 2/3,
before any connection is tried."""
from __future__ import annotations

import pytest

from ceusdesk.cli import main
from ceusdesk.outputs.dicom.send import BadDestination, Destination, configured_destination


@pytest.mark.parametrize("text, expected", [
    ("PACS@10.0.0.5:104", ("PACS", "10.0.0.5", 104)),
    (" ORTHANC@pacs.example.org:4242 ", ("ORTHANC", "pacs.example.org", 4242)),
    ("PACS@[::1]:11112", ("PACS", "::1", 11112)),
])
def test_destinations_parse(text, expected):
    d = Destination.parse(text)
    assert (d.aet, d.host, d.port) == expected
    assert Destination.parse(str(d)) == d  # printed as given


@pytest.mark.parametrize("text", ["PACS@host", "host:104", "PACS@host:0", "PACS@host:70000",
                                  "SEVENTEEN_CHARS_X@host:104", "PA\\CS@host:104", "@host:104"])
def test_bad_destinations_are_refused(text):
    with pytest.raises(BadDestination):
        Destination.parse(text)


def test_it_configures_the_destination_by_environment(monkeypatch):
    monkeypatch.delenv("CEUSDESK_SEND_TO", raising=False)
    assert configured_destination() is None  # then the app offers no Send
    monkeypatch.setenv("CEUSDESK_SEND_TO", "PACS@10.1.2.3:104")
    assert configured_destination() == Destination("PACS", "10.1.2.3", 104)


def test_send_without_destination_or_files_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CEUSDESK_SEND_TO", raising=False)
    assert main(["send", str(tmp_path)]) == 2
    assert "pass --to AET@HOST:PORT" in capsys.readouterr().err
    (tmp_path / "note.txt").write_text("not DICOM")
    assert main(["send", str(tmp_path), "--to", "PACS@127.0.0.1:104"]) == 3
    err = capsys.readouterr().err
    assert "skipped note.txt: not a readable DICOM file" in err and "no DICOM files to send" in err
    assert main(["send", str(tmp_path / "missing"), "--to", "PACS@127.0.0.1:104"]) == 2


def test_a_result_file_cut_short_is_named_and_not_sent(tmp_path, capsys):
    """A truncated copy still parses (pydicom stops at the end of the file): what it lacks gives it away."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid

    from ceusdesk.outputs.dicom.dataset import encode
    from ceusdesk.outputs.dicom.send import result_files

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.88.59", generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.ContentSequence = [Dataset()]
    whole = encode(ds)
    (tmp_path / "KO-whole.dcm").write_bytes(whole)
    (tmp_path / "KO-cut.dcm").write_bytes(whole[:len(whole) - 60])  # the content sequence cut off
    found, skipped = result_files(tmp_path)
    assert [p.name for p, _ in found] == ["KO-whole.dcm"]
    assert skipped == ["KO-cut.dcm: incomplete, no ContentSequence (cut short?); not sent"]
