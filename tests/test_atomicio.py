import json
import math
import os
import stat

import pytest

from ceusdesk.base.atomicio import write_atomic, write_json_atomic


def test_writes_bytes_text_and_callables(tmp_path):
    assert write_atomic(tmp_path / "a" / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert (write_atomic(tmp_path / "t.txt", "日本語")).read_text(encoding="utf-8") == "日本語"
    write_atomic(tmp_path / "c.bin", lambda fh: fh.write(b"xyz"))
    assert (tmp_path / "c.bin").read_bytes() == b"xyz"


def test_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "report.pdf"
    target.write_bytes(b"old")

    def boom(fh):
        fh.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(target, boom)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf"]


def test_permissions_follow_the_umask_not_mkstemp(tmp_path):
    old = os.umask(0o022)
    try:
        mode = stat.S_IMODE(write_atomic(tmp_path / "f", b"x").stat().st_mode)
    finally:
        os.umask(old)
    assert mode == 0o644


def test_json_is_standard(tmp_path):
    write_json_atomic(tmp_path / "ok.json", {"p": 0.5, "name": "山田"})
    assert json.loads((tmp_path / "ok.json").read_text(encoding="utf-8"))["name"] == "山田"
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "bad.json", {"p": math.nan})
    assert not (tmp_path / "bad.json").exists()
