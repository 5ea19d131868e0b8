"""The report's facts as a document: what the PDF shows and the JSON beside it holds, de-identified on
request (no patient name, id or birth date, no absolute dates or times, and no file paths: folder names
often hold a patient's name; clips are named ``clip-01`` … instead). ``pdf`` draws it."""
from __future__ import annotations

import copy
import functools
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ceusdesk import RESEARCH_USE
from ceusdesk import __version__ as CEUSDESK_VERSION
from ceusdesk.base.errors import CeusdeskError
from ceusdesk.base.roi import Roi
from ceusdesk.inference.preprocess import PREPROCESS_VERSION
from ceusdesk.outputs.wording import not_acquired

if TYPE_CHECKING:  # a report reads files and patient fields that only a real study has
    from ceusdesk.study.records import Study

log = logging.getLogger(__name__)


class ReportLayoutFailed(CeusdeskError):
    """reportlab could not lay the report out (a flowable larger than a page); nothing was written."""

    exit_code = 7


PATIENT_FIELDS = ("name", "id", "birth_date", "sex", "study_date")


_DATE = re.compile(r"\b\d{4}-?\d{2}-?\d{2}(?:[T ]\d{2}:?\d{2}(?::?\d{2}(?:\.\d+)?)?)?\b")


_CLOCK = re.compile(r"\b\d{1,2}:\d{2}:\d{2}\b")


@dataclass
class ReportInput:
    """Everything a report shows. ``study`` is ``Study.to_json()``; ``result`` the analyze result."""

    study: dict[str, Any]
    result: dict[str, Any]
    roi: Roi
    panels: Mapping[str, np.ndarray | None] = field(default_factory=dict)  # slot → RGB uint8 panel
    rois: Mapping[str, Roi] = field(default_factory=dict)  # per-slot ROI (defaults to ``roi``)
    patient: Mapping[str, str | None] = field(default_factory=dict)  # PATIENT_FIELDS
    study_path: str | None = None
    injection_confirmed: bool = False  # an estimated injection time the user confirmed in the app


# a name every USB export has, that says nothing about the patient: kept as written (and as a word)
_KEPT_NAMES = {"DICOMDIR"}
# an absolute path left in a message after the known ones were replaced: POSIX or Windows, two parts or
# more, starting where a word could start (not the "/liver" of "lesion/liver")
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[/\\][^\s/\\:;,\"'()]+(?:[/\\][^\s/\\:;,\"'()]*)+")


def _alias_paths(doc: dict[str, Any]) -> dict[str, str]:
    """Stable aliases clip-01 … for every path the document mentions (clips first, in their order)."""
    paths: list[str] = [str(c.get("path")) for c in doc.get("clips", []) if c.get("path")]
    for s in (doc.get("slots") or {}).values():
        if s and s.get("path"):
            paths.append(str(s["path"]))
    for w in doc.get("warnings", []):
        if w.get("path"):
            paths.append(str(w["path"]))
    aliases: dict[str, str] = {}
    for p in paths:
        if p not in aliases and p not in _KEPT_NAMES:
            aliases[p] = f"clip-{len(aliases) + 1:02d}"
    return aliases


@dataclass(frozen=True)
class Scrubber:
    """Takes paths, names and absolute times out of free text (warnings, the evidence's notes).

    ``aliases`` maps the study's paths as the document gives them (relative to ``root``) to clip-NN;
    the same paths written absolutely, and the study folder itself, are replaced too (a folder is often
    named after the patient), then any absolute path still left, then ``secrets`` and dates/times.
    """

    aliases: Mapping[str, str]
    secrets: Sequence[str] = ()
    root: str | None = None

    @functools.cached_property
    def _replacements(self) -> list[tuple[re.Pattern[str], str]]:
        """Each known path (relative, absolute, the folder itself) as a whole-token pattern, longest first
        (a path may contain another); built once per report."""
        pairs: list[tuple[str, str]] = []
        roots = [r for r in {self.root, _real(self.root)} if r]
        for original, alias in self.aliases.items():
            pairs.append((original, alias))
            pairs += [(os.path.join(r, original), alias) for r in roots]
        pairs += [(r, "[study folder]") for r in roots]
        return [(re.compile(r"(?<![\w.\-])" + re.escape(original) + r"(?![\w\-]|\.\w)"), alias)
                for original, alias in sorted(pairs, key=lambda p: len(p[0]), reverse=True)]

    def __call__(self, text: str) -> str:
        for pattern, alias in self._replacements:
            text = pattern.sub(alias, text)
        text = _ABSOLUTE_PATH.sub("[path removed]", text)
        for s in self.secrets:
            if s:
                text = text.replace(s, "[removed]")
        text = _DATE.sub("[date removed]", text)
        return _CLOCK.sub("[time removed]", text)


def _real(path: str | None) -> str | None:
    try:
        return os.path.realpath(path) if path else None
    except (OSError, ValueError):
        return None


def deidentify_study(
    study: dict[str, Any], patient: Mapping[str, str | None] | None = None, root: str | None = None
) -> tuple[dict[str, Any], Scrubber]:
    """A copy of ``Study.to_json()`` without paths, absolute times or patient identifiers, and the
    scrubber that made it (the report runs the result's free text through it too)."""
    doc = copy.deepcopy(study)
    aliases = _alias_paths(doc)
    secrets = [str(v) for k, v in (patient or {}).items() if v and k in ("name", "id", "birth_date")]
    scrub = Scrubber(aliases, secrets, root)
    for c in doc.get("clips", []):
        if c.get("path"):
            c["path"] = aliases.get(str(c["path"]), str(c["path"]))
        c.pop("start", None)  # acquisition date and time
    for s in (doc.get("slots") or {}).values():
        if s and s.get("path"):
            s["path"] = aliases.get(str(s["path"]), str(s["path"]))
    doc["warnings"] = [
        {"path": aliases.get(str(w.get("path")), scrub(str(w.get("path")))) if w.get("path") else "",
         "message": scrub(str(w.get("message", "")))}
        for w in doc.get("warnings", [])
    ]
    injection = dict(doc.get("injection") or {})
    for key in ("time", "datetime"):
        if key in injection:
            injection[key] = None  # a time of day on a known date identifies the visit: removed
    doc["injection"] = injection
    for key in ("root", "study", "patient", "study_date", "patient_id", "patient_name"):
        doc.pop(key, None)
    return doc, scrub


def scrub_result(result: dict[str, Any], scrub: Scrubber) -> dict[str, Any]:
    """The result's free text (its warnings, the evidence's notes, readout and disagreement) scrubbed."""
    out = copy.deepcopy(result)
    out["warnings"] = [scrub(str(w)) for w in out.get("warnings") or []]
    ev = out.get("evidence")
    if isinstance(ev, dict):
        for key in ("assumptions", "readout"):
            if isinstance(ev.get(key), list):
                ev[key] = [scrub(str(t)) for t in ev[key]]
        if isinstance(ev.get("disagreement"), str):
            ev["disagreement"] = scrub(ev["disagreement"])
    return out


def report_document(inp: ReportInput, *, deidentify: bool = False) -> dict[str, Any]:
    """The JSON written beside the PDF: the analyze document plus ROI, patient block and report facts."""
    if deidentify:
        study, scrub = deidentify_study(inp.study, inp.patient, inp.study_path)
        result = scrub_result(inp.result, scrub)
    else:
        study, result = copy.deepcopy(inp.study), copy.deepcopy(inp.result)
    doc: dict[str, Any] = dict(study)
    doc["roi"] = list(inp.roi)
    doc["rois"] = {k: list(v) for k, v in inp.rois.items() if tuple(v) != tuple(inp.roi)} or None
    doc["result"] = result
    doc["patient"] = None if deidentify else {k: inp.patient.get(k) for k in PATIENT_FIELDS if inp.patient}
    doc["not_acquired"] = not_acquired(study)
    if (study.get("injection") or {}).get("source") == "estimated":
        doc["injection_confirmed"] = bool(inp.injection_confirmed)
    if not deidentify and inp.study_path:
        doc["study_path"] = str(inp.study_path)
    doc["report"] = {
        "created": None if deidentify else datetime.now(UTC).isoformat(timespec="seconds"),
        "deidentified": bool(deidentify),
        "ceusdesk_version": CEUSDESK_VERSION,
        "preprocess_version": PREPROCESS_VERSION,
        "research_use_only": RESEARCH_USE,
    }
    return doc


_CLIP_FIELDS = {"id": "patient_id", "name": "patient_name", "birth_date": "patient_birth_date",
                "sex": "patient_sex"}


def patient_of(study: Study) -> dict[str, str | None]:
    """The report's patient block, from the study's own clips only.

    A clip the study excluded (another patient's or another study's, a truncated file) never names the
    patient, and neither does a clip whose patient id differs from the study's. The first kept clip that
    has a field gives it; the study date is the first kept clip's acquisition date.
    """
    out: dict[str, str | None] = {k: None for k in PATIENT_FIELDS}
    own = getattr(study, "patient_id", None)
    for entry in getattr(study, "clips", []):
        if getattr(entry, "excluded", None):
            continue
        clip = getattr(entry, "clip", entry)
        if own is not None and getattr(clip, "patient_id", None) not in (None, own):
            continue
        for key, attr in _CLIP_FIELDS.items():
            value = getattr(clip, attr, None)
            if out[key] is None and value is not None and str(value).strip():
                out[key] = str(value).strip()
        if out["study_date"] is None and getattr(clip, "start", None) is not None:
            out["study_date"] = clip.start.date().isoformat()
    return out


def report_input_from_study(
    study: Study, result: Mapping[str, Any], roi: Roi, rois: Mapping[str, Roi] | None = None
) -> ReportInput:
    """Collect the slot panels (``ceusdesk.study.frames.panel_image``) and patient block for a report."""
    from ceusdesk.study.frames import (
        panel_image,  # the core's frame grabber; imported late so report stays light
    )

    panels: dict[str, np.ndarray | None] = {}
    for name, sf in (study.slots or {}).items():
        panels[name] = None if sf is None else panel_image(sf)
    return ReportInput(
        study=study.to_json(), result=dict(result), roi=(roi[0], roi[1], roi[2], roi[3]), panels=panels,
        rois=dict(rois or {}), patient=patient_of(study), study_path=str(getattr(study, "root", "") or ""),
    )
