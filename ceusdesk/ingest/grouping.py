"""One patient, one study: which clips belong to the exam being read, and why the others do not."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ceusdesk.base.errors import BadStudyOption
from ceusdesk.ingest.records import Clip

GroupKey = tuple[str | None, str | None]  # (patient ID, Study Instance UID)


@dataclass
class Grouping:
    key: GroupKey | None  # the chosen study; None when no clip carries identity
    excluded: dict[int, str]  # id(clip) → reason ("other patient" | "other study")


class UnknownPatient(BadStudyOption, ValueError):
    """``--patient`` names a patient with no clips here."""


def group_clips(clips: Sequence[Clip], patient: str | None = None) -> Grouping:
    """Choose the study to read: the largest (patient, study) group, or the largest of ``patient``'s.

    Clips without patient and study identity (videos, stills, anonymised files) join the chosen study:
    nothing says they belong elsewhere. A clip with one of the two matching and the other missing
    joins it too.
    """
    groups: dict[GroupKey, list[Clip]] = defaultdict(list)
    for c in clips:
        if c.patient_id is not None or c.study_uid is not None:
            groups[(c.patient_id, c.study_uid)].append(c)
    if patient is not None:
        groups = {k: v for k, v in groups.items() if k[0] == patient}
        if not groups:
            raise UnknownPatient(f"no clips of patient {patient!r} here")
    if not groups:
        return Grouping(None, {})

    def rank(item: tuple[GroupKey, list[Clip]]) -> tuple[int, float]:
        starts = [c.start.timestamp() for c in item[1] if c.start is not None]
        return (-len(item[1]), min(starts) if starts else float("inf"))

    key = min(groups.items(), key=rank)[0]
    excluded: dict[int, str] = {}
    for c in clips:
        if c.patient_id is None and c.study_uid is None:
            continue
        same_patient = c.patient_id is None or key[0] is None or c.patient_id == key[0]
        same_study = c.study_uid is None or key[1] is None or c.study_uid == key[1]
        if not same_patient:
            excluded[id(c)] = "other patient"
        elif not same_study:
            excluded[id(c)] = "other study"
    return Grouping(key, excluded)
