import pytest

from ceusdesk.phantom import PhantomOptions

TINY = PhantomOptions(panel_size=(128, 96), frames_per_clip=2)


@pytest.fixture
def tiny() -> PhantomOptions:
    """Small studies (a fraction of a second each) with every clip of the protocol."""
    return TINY
