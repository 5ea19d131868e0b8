"""ceusdesk: characterize focal liver lesions on Sonazoid CEUS. Research use only, not for diagnosis.

The core (everything here except ``ceusdesk.gui``) imports neither torch nor PySide6.
"""
__version__ = "0.1.0"

RESEARCH_USE = "Research use only - not for clinical diagnosis."
