import json

import pytest

from ceusdesk.base.protocol import SLOT_NAMES, Protocol, default_protocol


def test_default_protocol_slots_and_branches():
    p = default_protocol()
    assert p.slot_names == SLOT_NAMES
    assert p.branches == (("B", "0:30", "1:00"), ("2:00", "3:00", "4:00"), ("5:00", "6:00", "10:00"))


@pytest.mark.parametrize(
    "t, slot",
    [(9.9, None), (10, "0:30"), (30, "0:30"), (49, "0:30"), (50, "1:00"), (90, "1:00"), (91, "2:00"),
     (149, "2:00"), (390, "6:00"), (420, None), (480, None), (540, None), (570, "10:00"), (1200, "10:00"),
     (1201, None)],
)
def test_slot_windows(t, slot):
    got = default_protocol().slot_for_time(t)
    assert (got.name if got else None) == slot


def test_phase_sets():
    p = default_protocol()
    assert p.phase_set(SLOT_NAMES) == ("full", [])
    assert p.phase_set(["B", "0:30", "1:00", "2:00", "10:00"]) == ("full", [])
    assert p.phase_set(["B", "0:30", "1:00", "2:00", "3:00"]) == ("early", ["10:00"])
    assert p.phase_set(["B", "0:30", "2:00", "10:00"]) == ("incomplete", ["1:00"])
    assert p.set_slots("early") == ("B", "0:30", "1:00", "2:00")


def test_protocol_round_trips_and_rejects_bad_branches():
    p = default_protocol()
    assert Protocol.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    d = p.to_dict()
    d["branches"] = [["B", "0:30"], ["1:00"]]
    with pytest.raises(ValueError, match="branches"):
        Protocol.from_dict(d)


def test_format_t_for_screen_and_pdf():
    from ceusdesk.base.protocol import format_t

    assert format_t(75.4) == "1:15" and format_t(-23.6) == "−0:23" and format_t(None) == "—"
    assert format_t(605.25, decimals=1, ascii_only=True) == "10:05.2"
    assert format_t(-5, decimals=1, ascii_only=True) == "-0:05.0" and format_t(None, ascii_only=True) == "-"
