import pytest

pytest.importorskip("trainer")
from trainer.contact_sheet import TILE, case_row


def test_case_row_has_nine_slot_tiles_with_image_content():
    row = case_row(3, "metastasis", panel=(160, 128))
    assert row.shape == (TILE, 9 * TILE, 3)
    tiles = [row[:, i * TILE:(i + 1) * TILE] for i in range(9)]
    assert all(t.mean() > 20 for t in tiles)
    # B-mode tile is grey, contrast tiles tinted
    assert abs(float(tiles[0][..., 0].mean()) - float(tiles[0][..., 2].mean())) < 1
    assert tiles[-1][..., 0].mean() > tiles[-1][..., 2].mean() + 3
