import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True, scope="session")
def _private_data_dir(tmp_path_factory):
    """Audit log and settings of every test go to a temporary folder, never the user's data folder."""
    folder = tmp_path_factory.mktemp("ceusdesk-data")
    old = os.environ.get("CEUSDESK_DATA_DIR")
    os.environ["CEUSDESK_DATA_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("CEUSDESK_DATA_DIR", None)
    else:
        os.environ["CEUSDESK_DATA_DIR"] = old
