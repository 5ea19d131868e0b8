"""Type-level proof (checked by mypy in tests/test_types.py, never run) that the real study and the test
double both satisfy :class:`ceusdesk.study.types.StudyLike`, so tests on the double test the real path."""
from __future__ import annotations

from ceusdesk.study.records import Study
from ceusdesk.study.types import StudyLike
from tests.inference.fake_study import FakeStudy


def real_study_is_study_like(study: Study) -> StudyLike:
    return study


def fake_study_is_study_like(study: FakeStudy) -> StudyLike:
    return study
