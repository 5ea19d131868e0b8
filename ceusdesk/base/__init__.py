"""Basics every stage shares: errors, class names, the phase protocol, the ROI type, atomic writes."""
