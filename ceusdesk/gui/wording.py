"""The core's messages name CLI flags; the app says where to click instead ("drag a clip onto the card",
not "--assign FILE=SLOT"). Applied to every warning and error the window shows."""
from __future__ import annotations

import re

# (CLI phrase, what to do in the app); longer phrases first where one contains another
IN_APP = (
    (r"\(--assign FILE=SLOT\)", "(drag the clip from the list onto its slot card)"),
    (r"assign (?:the clip|clips) with --assign FILE=SLOT", "drag the clip from the list onto its slot card"),
    (r"--assign FILE=SLOT", "drag the clip from the list onto its slot card"),
    (r"(?:pass|confirm it with) --injection-time HH:MM:SS",
     "type the injection time in the Phase slots bar (or confirm it there)"),
    (r"--injection-time HH:MM:SS", "the injection time box in the Phase slots bar"),
    (r"pass --contrast-panel left\|right", "answer the question above the viewer, or press Swap panels"),
    (r"--contrast-panel left\|right", "Swap panels"),
    (r"pass --model PATH/manifest\.json|pass --model with a package's manifest\.json|pass --model",
     "choose a model package in File ▸ Settings"),
    (r"--slot-roi", "the slot's own ROI"),
    # the liver ROI (the evidence's reference): set with the ROI editor's Liver ROI button
    (r"(--liver-roi [\d,-]+ lies outside the contrast panel \([^)]*\)); give X,Y,W,H in "
     r"contrast-panel pixels",
     r"\1: drag it on the contrast image, or press Reset liver ROI"),
    (r"pass --liver-roi X,Y,W,H", "set the liver ROI yourself (Liver ROI under the ROI editor)"),
    (r"--liver-roi", "the liver ROI"),
    (r"--roi", "the ROI"),
)


def in_app_words(message: str) -> str:
    """``message`` with every CLI flag replaced by what to do in the window."""
    for pattern, words in IN_APP:
        message = re.sub(pattern, words, message)
    return message
