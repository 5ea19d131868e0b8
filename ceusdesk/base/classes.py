"""The lesion classes: THE one list (model outputs, manifests, labels of cases, the app's choices).

The model's output ``probabilities`` [N, 3] is in this order; a package whose manifest lists other
classes is refused. The trainer, the phantom and the GUI import this tuple rather than spelling it.
"""
from __future__ import annotations

CLASSES: tuple[str, str, str] = ("benign", "hcc", "non_hcc_malignant")
MALIGNANT: tuple[str, str] = ("hcc", "non_hcc_malignant")
"""The classes summed into the malignant probability that the operating threshold applies to."""
