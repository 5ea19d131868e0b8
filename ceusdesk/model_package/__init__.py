"""The model package on disk: its manifest, the checks on it, the pinned hashes, and where to find one."""
