"""Who a phantom study belongs to: identity in the DICOM headers, the salted patient key, the scanner.

A patient with two lesions has two studies (one injection per lesion) that share the patient's draws:
liver and kinetics (``params.sample_patient``), name, ID, birth date, sex, the cases.jsonl ``patient``
key that cross-validation groups by, and the scanner of their hospital. Everything here is drawn from
the patient seed, never from a case seed, so both studies agree.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np

from ceusdesk.phantom.options import PhantomOptions
from ceusdesk.phantom.params import Patient, sample_patient
from ceusdesk.phantom.scanner import PROFILES, STANDARD, ScannerProfile, draw_profile

PATIENT_SALT = "ceusdesk-phantom-2"
TWO_LESION_SHARE = 0.15  # clinical cohorts: patients with two lesions (two studies, two cases)


@dataclass(frozen=True)
class PatientRef:
    """A patient shared by several cases: its seed and the label of its first lesion."""

    seed: int
    label: str | None = None

    def draw(self, textbook: bool = False) -> Patient:
        return sample_patient(np.random.default_rng([self.seed, 6]), self.label, textbook)


@dataclass(frozen=True)
class Identity:
    key: str          # salted hash: cases.jsonl ``patient``
    name: str
    patient_id: str
    birth_date: str   # YYYYMMDD
    sex: str
    scanner: ScannerProfile


def identity(patient_seed: int, options: PhantomOptions) -> Identity:
    """The patient's header identity and scanner, drawn from ``[patient_seed, 7]``."""
    rng = np.random.default_rng([patient_seed, 7])
    key = hashlib.sha256(f"{PATIENT_SALT}:{patient_seed}".encode()).hexdigest()[:16]
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=int(rng.integers(0, 40 * 365)))
    sex = str(rng.choice(["M", "F"]))
    profile = draw_profile(rng) if options.clinical else PROFILES[STANDARD]
    if options.scanner is not None:
        profile = PROFILES[options.scanner]
    return Identity(key=key, name=f"PHANTOM^P{key[:8].upper()}", patient_id=f"PH{key[:10].upper()}",
                    birth_date=birth.strftime("%Y%m%d"), sex=sex, scanner=profile)


def group_cases(cases: int, seed: int, clinical: bool) -> list[int]:
    """For each case index, the index of the patient's first case (itself for one-lesion patients).

    Clinical cohorts give ``TWO_LESION_SHARE`` of patients a second lesion: consecutive cases share one.
    """
    rng = np.random.default_rng([seed, 8])
    owner = list(range(cases))
    i = 0
    while i < cases:
        if clinical and i + 1 < cases and rng.random() < TWO_LESION_SHARE:
            owner[i + 1] = i
            i += 2
        else:
            i += 1
    return owner
