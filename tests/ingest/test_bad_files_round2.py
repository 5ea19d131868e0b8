"""Bad files, second round (issue 25): one seeded test per family a new user's exports showed.

Each ends in one clear line with a documented exit code, or in a warning and a correct result; nothing
good is lost. tests/ingest/test_fuzz.py mixes the same families into its mutants.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ceusdesk.base.protocol import SLOT_NAMES
from ceusdesk.outputs import audit
from ceusdesk.phantom import PhantomOptions, synthesize_case
from tests.tiny_package import make_tiny_package


def run_cli(*args: object, data: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ceusdesk", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "CEUSDESK_DATA_DIR": str(data)})


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    return make_tiny_package(tmp_path_factory.mktemp("pkg"), size=32)


# 1 ------------------------------------------------------------------ video / still after --assign
def test_a_video_study_assigned_by_hand_is_analyzed_and_audited(tmp_path, package):
    """Video clips carry no time: the user places them with --assign. The result stands (exit 0), the
    evidence says which slots are off the curve, and the analysis is on record."""
    rec = synthesize_case(tmp_path / "s", seed=41, options=PhantomOptions(video=True, frames_per_clip=3,
                                                                          contrast_side="left"))
    study = tmp_path / "s" / rec["study"]
    clips = sorted(p.name for p in study.iterdir())
    assert len(clips) == len(SLOT_NAMES)
    assign = [a for name, slot in zip(clips, SLOT_NAMES, strict=True) for a in ("--assign", f"{name}={slot}")]
    proc = run_cli("analyze", study, "--roi", ",".join(map(str, rec["roi"])), "--model", package,
                   "--contrast-panel", "left", "--json", *assign, data=tmp_path / "data")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)["result"]
    assert result["phase_set"] == "full"
    notes = " ".join(result["evidence"]["assumptions"])
    assert "have no time after injection" in notes and "0:30" in notes
    (entry,) = audit.read_records(tmp_path / "data")
    assert entry["model"]["uid"] == result["model"]["uid"]


# 2 ------------------------------------------------------------------ decoder bombs
PROBE = """
import json, sys, time
from pathlib import Path
from ceusdesk.ingest import FrameError, read_frame
from ceusdesk.ingest.scan import read_one
t = time.perf_counter()
clip, warns = read_one(Path(sys.argv[1]))
out = {"warnings": [w.message for w in warns], "frames": None if clip is None else clip.usable_frames,
       "decoded": [], "refused": []}
for i in range(0 if clip is None else clip.usable_frames):
    try:
        read_frame(clip, i)
        out["decoded"].append(i)
    except FrameError as err:
        out["refused"].append(str(err))
out["seconds"] = time.perf_counter() - t
# VmHWM: this process's peak resident memory (ru_maxrss would carry the parent's across exec)
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
out["max_rss_mb"] = int(hwm.split()[1]) / 1024
print(json.dumps(out))
"""
GB_LIMIT_MB = 1024


def probe(path: Path) -> dict:
    """Read ``path`` and decode each frame in a fresh process: what it said, and its peak memory (the C
    decoders' allocations too, which tracemalloc cannot see)."""
    proc = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["max_rss_mb"] < GB_LIMIT_MB and out["seconds"] < 60, out
    return out


@pytest.mark.parametrize("name, frame", [("color3d_jpeg_baseline.dcm", 2), ("US1_J2KR.dcm", 0)])
def test_a_codestream_claiming_20000_squared_is_refused_before_decoding(tmp_path, name, frame):
    from . import badfiles as bf
    from .conftest import data_file

    bomb = bf.codestream_bomb(data_file(name), tmp_path / "bomb.dcm", frame)
    out = probe(bomb)
    (refused,) = out["refused"]
    assert f"frame {frame} could not be decoded: its codestream says 20000x20000" in refused
    assert len(out["decoded"]) == out["frames"] - 1  # the other frames are kept


def test_a_deflate_bomb_is_refused_after_bounded_work(tmp_path):
    from . import badfiles as bf
    from .conftest import data_file

    bomb = bf.deflate_bomb(data_file("US1_UNCR.dcm"), tmp_path / "zip.dcm", inflated=1 << 30)
    assert bomb.stat().st_size < 3e6
    out = probe(bomb)
    assert out["frames"] is None
    assert any("inflates to more than 512 MiB" in w for w in out["warnings"]), out


def test_a_frame_time_vector_of_two_million_entries_is_ignored_cheaply(tmp_path):
    from . import badfiles as bf
    from .conftest import ClipSpec, write_clip
    from .test_bad_files import _read_bounded  # read_one under the first round's 64 MB bound

    good = write_clip(tmp_path / "good.dcm", ClipSpec(start_s=40, n_frames=4))
    bad = bf.long_frame_time_vector(good, tmp_path / "ftv.dcm", entries=2_000_000)
    clip, warns = _read_bounded(bad)
    assert clip is not None and clip.usable_frames == 4
    assert any("Frame Time Vector is" in w.message and "too long for 4 frames" in w.message for w in warns)


@pytest.mark.parametrize("value", ["nan", "inf", "-40"])
def test_a_frame_time_vector_with_non_finite_increments_says_so(tmp_path, value):
    from ceusdesk.ingest.scan import read_one

    from . import badfiles as bf
    from .conftest import ClipSpec, write_clip

    good = write_clip(tmp_path / "good.dcm", ClipSpec(start_s=40, n_frames=4))
    bad = bf.tag_edit(good, tmp_path / "bad.dcm", FrameTimeVector=["0", "33", value, "33"])
    _clip, warns = read_one(bad)
    text = " | ".join(w.message for w in warns)
    assert "negative, infinite or NaN increments" in text and "entries for" not in text


# 4 ------------------------------------------------------------------ wrong pixels, silently
def test_planar_configuration_1_on_a_jpeg_clip_decodes_as_the_clip_and_is_warned(tmp_path):
    import numpy as np

    from ceusdesk.ingest import read_frame
    from ceusdesk.ingest.scan import read_one

    from . import badfiles as bf
    from .conftest import data_file

    src = data_file("color3d_jpeg_baseline.dcm")
    bad = bf.tag_edit(src, tmp_path / "planar1.dcm", PlanarConfiguration=1)
    clip, warns = read_one(bad)
    assert any("Planar Configuration 1 is wrong for JPEG data" in w.message for w in warns)
    good, _ = read_one(src)
    for i in (0, clip.usable_frames - 1):
        assert np.array_equal(read_frame(clip, i), read_frame(good, i))  # no stripes


def test_an_uncompressed_ybr_full_422_clip_is_read_whole_and_in_colour(tmp_path):
    import numpy as np
    import pydicom
    from pydicom.pixels import convert_color_space, pixel_array

    from ceusdesk.ingest import read_frame
    from ceusdesk.ingest.scan import read_one

    from .conftest import data_file

    ds = pydicom.dcmread(data_file("color3d_jpeg_baseline.dcm"))
    rgb = np.stack([pixel_array(ds, index=i) for i in range(3)])
    ycc = convert_color_space(rgb, "RGB", "YBR_FULL")
    n, rows, cols = ycc.shape[:3]
    chroma = [ycc[..., c].reshape(n, rows, cols // 2, 2).mean(-1).round() for c in (1, 2)]
    packed = np.stack([ycc[..., 0][..., 0::2], ycc[..., 0][..., 1::2], *chroma], -1).astype(np.uint8)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.PhotometricInterpretation, ds.NumberOfFrames, ds.PlanarConfiguration = "YBR_FULL_422", 3, 0
    ds.PixelData = packed.tobytes()
    ds["PixelData"].VR = "OB"
    ds.save_as(tmp_path / "ybr422.dcm", enforce_file_format=True)
    clip, warns = read_one(tmp_path / "ybr422.dcm")
    assert clip.usable_frames == 3 and not clip.truncated, warns
    assert np.abs(read_frame(clip, 2).astype(int) - rgb[2]).mean() < 1.0  # only the chroma subsampling


# 3 ------------------------------------------------------------------ hangs and recursion
def _looping_dicomdir(tmp_path: Path) -> tuple[Path, dict]:
    """A phantom USB tree whose DICOMDIR's first root record names itself as the next record."""
    import struct

    import pydicom

    rec = synthesize_case(tmp_path / "usb", seed=43, options=PhantomOptions(dicomdir=True, frames_per_clip=2,
                                                                            encoding="raw"))
    root = tmp_path / "usb" / rec["study"]
    dicomdir = root / "DICOMDIR"
    ds = pydicom.dcmread(dicomdir)
    first = int(ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity)
    data = bytearray(dicomdir.read_bytes())
    at = data.index(b"\x04\x00\x00\x14UL\x04\x00", first) + 8  # its (0004,1400) next-record offset
    data[at:at + 4] = struct.pack("<L", first)
    dicomdir.write_bytes(bytes(data))
    return root, rec


@pytest.mark.parametrize("mode", ["dicomdir", "folder"])
def test_a_dicomdir_whose_records_loop_is_read_from_its_records_not_followed_forever(tmp_path, mode):
    root, _rec = _looping_dicomdir(tmp_path)
    target = root / "DICOMDIR" if mode == "dicomdir" else root
    proc = run_cli("inspect", target, "--json", data=tmp_path / "data", timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert doc["phase_set"] == "full"  # nothing good lost
    said = [w["message"] for w in doc["warnings"] if w["path"].endswith("DICOMDIR")]
    assert any("link in a loop" in m for m in said), doc["warnings"]


def test_1200_nested_folders_are_walked_without_recursion(tmp_path):
    from ceusdesk.ingest import scan

    rec = synthesize_case(tmp_path / "s", seed=44, options=PhantomOptions(frames_per_clip=2, encoding="raw"))
    study = tmp_path / "s" / rec["study"]
    deep = str(study)
    for _ in range(1200):  # one level at a time: pathlib's and os's makedirs recurse too
        deep += "/d"
        os.mkdir(deep)
    deep = Path(deep)
    clips = sorted(study.glob("*.dcm"))
    clips[-1].rename(deep / clips[-1].name)  # the 10:00 clip, 1,200 folders down
    try:
        result = scan(study)
        assert len(result.clips) == len(clips) and not result.warnings
        proc = run_cli("inspect", study, "--json", data=tmp_path / "data", timeout=60)
        assert proc.returncode == 0 and json.loads(proc.stdout)["phase_set"] == "full", proc.stderr[-1000:]
    finally:  # bottom-up, one level at a time (shutil.rmtree recurses as well)
        (deep / clips[-1].name).unlink()
        level = str(deep)
        while level != str(study):
            os.rmdir(level)
            level = os.path.dirname(level)


def test_an_avi_whose_later_frame_claims_25_megapixels_is_refused_before_decoding(tmp_path):
    """OpenCV decodes every frame it counts, at the size the frame's JPEG header says: the frames' own
    headers are read first, and the clip is refused in one warning naming the frame."""
    import numpy as np

    from ceusdesk.ingest.scan import read_one

    from .vfr_avi import write_vfr_avi

    small = [np.full((96, 128, 3), 60 + 10 * k, np.uint8) for k in range(3)]
    huge = np.full((5000, 5000, 3), 90, np.uint8)  # 25 megapixels, over MAX_FRAME_PIXELS
    path = write_vfr_avi(tmp_path / "clip.avi", [*small, huge], [0, 1, 2, 3])
    del huge
    out = probe(path)
    assert out["frames"] is None
    assert any("frame 3 is 5000x5000" in w and "megapixel limit" in w for w in out["warnings"]), out
    clip, _ = read_one(write_vfr_avi(tmp_path / "ok.avi", small, [0, 1, 3]))  # a good VFR AVI still reads
    assert clip is not None and clip.usable_frames == 3


def _study_with_times(tmp_path: Path, seed: int):
    from ceusdesk.study import open_study

    rec = synthesize_case(tmp_path / "s", seed=seed,
                          options=PhantomOptions(frames_per_clip=2, encoding="raw"))
    root = tmp_path / "s" / rec["study"]
    return root, open_study(root)


def _exif_still(path: Path, when) -> Path:
    import numpy as np
    from PIL import Image

    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")  # DateTimeOriginal
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(path, exif=exif)
    return path


def test_an_unidentified_jpeg_never_displaces_the_patients_dicom_clip(tmp_path):
    from datetime import timedelta

    from ceusdesk.study import open_study

    root, study = _study_with_times(tmp_path, seed=45)
    dicom_0030 = study.slots["0:30"].clip.path
    # a camera still timed exactly at the arterial target: nearer than the scanner's clip
    still = _exif_still(root / "photo.jpg", study.injection_time + timedelta(seconds=30))
    again = open_study(root)
    assert again.slots["0:30"].clip.path == dicom_0030
    # with the patient's 0:30 clip gone, the still may fill the slot, but never without a word
    dicom_0030.unlink()
    gone = open_study(root)
    assert gone.slots["0:30"] is not None and gone.slots["0:30"].clip.path == still
    said = [w.message for w in gone.warnings if w.path == str(still)]
    assert any("slot 0:30 is filled from a file without patient identity" in m for m in said), gone.warnings


def test_two_clips_with_the_same_time_are_named_when_one_is_picked(tmp_path):
    import pydicom
    from pydicom.uid import generate_uid

    from ceusdesk.study import open_study

    root, study = _study_with_times(tmp_path, seed=46)
    used = study.slots["2:00"].clip.path
    twin = pydicom.dcmread(used)
    twin.SOPInstanceUID = twin.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    twin.save_as(root / "ZZ-twin.dcm")
    again = open_study(root)
    chosen = again.slots["2:00"].clip.path
    said = [w.message for w in again.warnings if w.path == str(chosen)]
    other = "ZZ-twin.dcm" if chosen == used else used.name
    assert any("slot 2:00" in m and other in m and "as near its target" in m for m in said), again.warnings


# 5 ------------------------------------------------------------------ privacy of de-identified reports
def test_a_deidentified_report_leaks_no_folder_named_after_the_patient(tmp_path, package):
    from pypdf import PdfReader

    rec = synthesize_case(tmp_path / "YAMADA_TAROU_19610321", seed=47,
                          options=PhantomOptions(dicomdir=True, frames_per_clip=2, encoding="raw"))
    root = tmp_path / "YAMADA_TAROU_19610321" / rec["study"]
    listed = sorted(root.rglob("IM*"))
    (root / "broken.dcm").write_bytes(listed[0].read_bytes()[:3000])  # "duplicate of <absolute path>"
    listed[5].unlink()  # the 4:00 clip: "listed in the DICOMDIR but missing"
    out = tmp_path / "report.pdf"
    proc = run_cli("analyze", root, "--roi", ",".join(map(str, rec["roi"])), "--model", package,
                   "--report", out, "--deidentify", "--json", data=tmp_path / "data")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Warning" not in proc.stderr and str(tmp_path) not in proc.stderr.replace(str(out), "")  # 8
    shown = json.loads(proc.stdout)["warnings"]  # the terminal's document is not de-identified
    assert any(str(root) in w["message"] for w in shown), "the case must carry an absolute path"
    text = "\n".join(p.extract_text() for p in PdfReader(str(out)).pages)
    side = out.with_suffix(".json").read_text()
    for leak in ("YAMADA", "TAROU", "19610321", str(tmp_path)):
        assert leak not in text and leak not in side, leak
    messages = [w["message"] for w in json.loads(side)["warnings"]]
    assert "listed in the DICOMDIR but missing" in messages  # the standard name is no alias
    assert any(m.startswith("duplicate of clip-") for m in messages), messages


# 6 ------------------------------------------------------------------ outputs
def test_a_10000_character_patient_name_still_gives_a_result_report_and_audit(tmp_path, package):
    import pydicom
    from pypdf import PdfReader

    rec = synthesize_case(tmp_path / "s", seed=48, options=PhantomOptions(frames_per_clip=2, encoding="raw"))
    root = tmp_path / "s" / rec["study"]
    for path in root.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.PatientName = "A" * 10_000
        ds.save_as(path)
    out = tmp_path / "r.pdf"
    proc = run_cli("analyze", root, "--roi", ",".join(map(str, rec["roi"])), "--model", package, "--report",
                   out, data=tmp_path / "data")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    text = "\n".join(p.extract_text() for p in PdfReader(str(out)).pages)
    assert "…" in text and text.count("A") < 1000  # cut, with an ellipsis, wherever it is printed
    assert len(audit.read_records(tmp_path / "data")) == 1


def test_a_file_name_that_is_not_utf8_gives_both_report_files(tmp_path, package):
    rec = synthesize_case(tmp_path / "s", seed=49, options=PhantomOptions(frames_per_clip=2, encoding="raw"))
    root = tmp_path / "s" / rec["study"]
    first = sorted(root.glob("*.dcm"))[0]
    first.rename(root / os.fsdecode(b"US\xff\xfe-0001.dcm"))
    out = tmp_path / "r.pdf"
    proc = run_cli("analyze", root, "--roi", ",".join(map(str, rec["roi"])), "--model", package, "--report",
                   out, data=tmp_path / "data")
    assert proc.returncode == 0, proc.stderr[-2000:]
    side = json.loads(out.with_suffix(".json").read_bytes())
    assert out.stat().st_size > 0 and any("\udcff" in str(c["path"]) for c in side["clips"])


def test_control_characters_in_names_cannot_forge_lines_of_the_summary(tmp_path, package):
    rec = synthesize_case(tmp_path / "s", seed=50, options=PhantomOptions(frames_per_clip=2, encoding="raw"))
    root = tmp_path / "s" / rec["study"]
    (root / "x\nFULL SET - slots used: forged\x1b[2J.dcm").write_bytes(b"not dicom")
    manifest_path = package.parent / "forged" / "manifest.json"
    import shutil
    shutil.copytree(package.parent, manifest_path.parent)
    manifest = json.loads(manifest_path.read_text())
    manifest["name"] = "tiny\ncall       FORGED"
    manifest_path.write_text(json.dumps(manifest))
    proc = run_cli("analyze", root, "--roi", ",".join(map(str, rec["roi"])), "--model", manifest_path,
                   data=tmp_path / "data")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert "\x1b" not in proc.stdout and "\x1b" not in proc.stderr
    assert not any(line.startswith(("FULL SET - slots used: forged", "call       FORGED")) for line in lines)
    assert any("x\\nFULL SET - slots used: forged\\x1b[2J.dcm" in line for line in lines)
    assert any("tiny\\ncall       FORGED" in line for line in lines)


# 7 ------------------------------------------------------------------ model package
def _edited_manifest(package: Path, dst: Path, edit) -> Path:
    import shutil

    shutil.copytree(package.parent, dst)
    path = dst / "manifest.json"
    path.write_text(edit(path.read_text()))
    return path


@pytest.mark.parametrize("what, edit, said", [
    ("1e309", lambda t: t.replace('"agreement_with_fp32": 1.0', '"agreement_with_fp32": 1e309'),
     "field 'quantization.agreement_with_fp32' must be a finite number"),
    ("5000 digits", lambda t: t.replace('"threshold": 0.5', '"threshold": ' + "9" * 5000), "digits"),
    ("NaN", lambda t: t.replace('"threshold": 0.5', '"threshold": NaN'),
     "field 'threshold' must be a finite"),
    ("duplicate key", lambda t: t.replace('"threshold": 0.5', '"threshold": 0.5, "threshold": 0.01'),
     "'threshold' given twice"),
])
def test_a_manifest_number_or_key_json_allows_but_a_manifest_must_not_is_exit_5(tmp_path, package, what,
                                                                                 edit, said):
    from ceusdesk.phantom import PhantomOptions as Opts

    manifest = _edited_manifest(package, tmp_path / "pkg", edit)
    assert manifest.read_text() != (package.parent / "manifest.json").read_text(), what
    rec = synthesize_case(tmp_path / "s", seed=51, options=Opts(frames_per_clip=2, encoding="raw"))
    proc = run_cli("analyze", tmp_path / "s" / rec["study"], "--roi", ",".join(map(str, rec["roi"])),
                   "--model", manifest, data=tmp_path / "data")
    assert proc.returncode == 5, proc.stderr[-1000:]
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("ceusdesk: ") and said in line and str(manifest) in line


def _package_with_graph(package: Path, dst: Path, kind: str) -> Path:
    """The tiny package with its int8 file replaced by a graph with the same interface that fails at run
    time (``kind`` "fails") or answers with twice as many rows as cases ("rows")."""
    import shutil

    import onnx
    from onnx import TensorProto, helper

    from ceusdesk.model_package import manifest as mf

    shutil.copytree(package.parent, dst)
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 9, 32, 32])
    mask = helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 9])
    out = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Slice", ["mask", "starts", "ends", "axes"], ["m3"]),
             helper.make_node("Softmax", ["m3"], ["p"], axis=1)]
    inits = [helper.make_tensor("starts", TensorProto.INT64, [1], [0]),
             helper.make_tensor("ends", TensorProto.INT64, [1], [3]),
             helper.make_tensor("axes", TensorProto.INT64, [1], [1])]
    if kind == "rows":
        nodes.append(helper.make_node("Concat", ["p", "p"], ["probabilities"], axis=0))
    else:  # [N, 3] to every static check, but column 7 does not exist: ONNX Runtime fails at run time
        inits.append(helper.make_tensor("cols", TensorProto.INT64, [3], [0, 1, 7]))
        nodes.append(helper.make_node("Gather", ["p", "cols"], ["probabilities"], axis=1))
    graph = helper.make_graph(nodes, "broken", [images, mask], [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, dst / "model.int8.onnx")
    manifest = mf.read_manifest(dst / "manifest.json")
    manifest.files["int8"] = mf.FileEntry.for_file(dst, "model.int8.onnx")
    manifest.files.pop("fp32", None)
    (dst / "model.fp32.onnx").unlink(missing_ok=True)
    return mf.write_manifest(manifest, dst / "manifest.json")


@pytest.mark.parametrize("kind, said", [("fails", "the model failed at run time"),
                                        ("rows", "the model returned [")])
def test_a_model_that_fails_or_answers_for_more_cases_is_exit_5(tmp_path, package, kind, said):
    manifest = _package_with_graph(package, tmp_path / "pkg", kind)
    rec = synthesize_case(tmp_path / "s", seed=52, options=PhantomOptions(frames_per_clip=2, encoding="raw"))
    proc = run_cli("analyze", tmp_path / "s" / rec["study"], "--roi", ",".join(map(str, rec["roi"])),
                   "--model", manifest, data=tmp_path / "data")
    assert proc.returncode == 5, proc.stderr[-1500:]
    (line,) = proc.stderr.strip().splitlines()
    assert said in line and "Traceback" not in proc.stderr


# 8 ------------------------------------------------------------------ minor
def test_a_patient_id_with_a_backslash_reads_as_written(tmp_path):
    from ceusdesk.ingest.scan import read_one
    from ceusdesk.outputs.report import patient_of
    from ceusdesk.study import open_study

    from . import badfiles as bf
    from .conftest import ClipSpec, write_clip

    good = write_clip(tmp_path / "src" / "good.dcm", ClipSpec(start_s=40, n_frames=4))
    (tmp_path / "study").mkdir()
    bad = bf.tag_edit(good, tmp_path / "study" / "clip.dcm", PatientID="PH\\0042")
    clip, _ = read_one(bad)
    assert clip.patient_id == "PH\\0042"
    assert patient_of(open_study(tmp_path / "study"))["id"] == "PH\\0042"  # as the report prints it


@pytest.mark.parametrize("year", ["0001", "9999"])
def test_an_exif_year_1_or_9999_is_warned_and_gives_no_time(tmp_path, year):
    from datetime import datetime

    from ceusdesk.ingest.scan import read_one

    path = tmp_path / "photo.jpg"
    _exif_still(path, datetime(2024, 5, 14, 10, 0, 30))
    data = path.read_bytes().replace(b"2024:05:14 10:00:30", f"{year}:05:14 10:00:30".encode())
    path.write_bytes(data)
    clip, warns = read_one(path)
    assert clip is not None and clip.start is None
    said = f"EXIF DateTimeOriginal {year}:05:14 10:00:30 is outside 1900-2199"
    assert any(said in w.message for w in warns)
