"""printable(): server text made safe for a terminal."""

from __future__ import annotations

import pytest

from ftpferry.printable import printable


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain name.txt", "plain name.txt"),
        ("ünïcödé ✓ 日本", "ünïcödé ✓ 日本"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("evil\x1b[2Jname", "evil\\x1b[2Jname"),
        ("title\x1b]0;pwned\x07", "title\\x1b]0;pwned\\x07"),
        ("over\rwrite", "over\\x0dwrite"),
        ("nul\x00del\x7f", "nul\\x00del\\x7f"),
        ("c1 csi\x9b2J", "c1 csi\\x9b2J"),
    ],
)
def test_control_characters_are_shown_not_sent(text: str, shown: str) -> None:
    assert printable(text) == shown
