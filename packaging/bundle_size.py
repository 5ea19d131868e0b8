"""Size of the bundle folder against its budget (400 MB, model included).

    python packaging/bundle_size.py dist/ceusdesk [--budget-mb 400] [--top 15]

prints the total and the largest entries, and exits 1 when the folder is over budget. MB here is
10^6 bytes (the stricter reading; ``du -sh`` shows MiB). Symbolic links are counted as links, not
followed, and a file hard-linked twice counts once: the number is what the folder costs on disk.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path

BUDGET_MB = 400
MB = 1_000_000


def _files(folder: Path) -> Iterator[os.stat_result]:
    seen: set[tuple[int, int]] = set()
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            yield st


def tree_size(folder: str | Path) -> int:
    """Bytes of the regular files (and links, as links) under ``folder``; hard links counted once."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (build the bundle with packaging/build.sh)")
    return sum(st.st_size for st in _files(folder))


def largest(folder: str | Path, top: int = 15, depth: int = 3) -> list[tuple[int, str]]:
    """The ``top`` biggest entries, files and folders grouped ``depth`` levels below ``folder``."""
    folder = Path(folder)
    sizes: dict[str, int] = {}
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            full = Path(dirpath, name)
            rel = full.relative_to(folder).parts
            key = "/".join(rel[:depth]) + ("/" if len(rel) > depth else "")
            sizes[key] = sizes.get(key, 0) + os.lstat(full).st_size
    return sorted(((size, key) for key, size in sizes.items()), reverse=True)[:top]


def within_budget(size_bytes: int, budget_mb: float = BUDGET_MB) -> bool:
    return size_bytes <= budget_mb * MB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--budget-mb", type=float, default=BUDGET_MB)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    try:
        size = tree_size(args.folder)
    except FileNotFoundError as err:
        print(f"bundle_size: {err}", file=sys.stderr)
        return 2
    for entry_size, name in largest(args.folder, args.top):
        print(f"{entry_size / MB:9.1f} MB  {name}")
    verdict = "within" if within_budget(size, args.budget_mb) else "OVER"
    print(f"{args.folder}: {size / MB:.1f} MB, {verdict} the {args.budget_mb:g} MB budget")
    return 0 if within_budget(size, args.budget_mb) else 1


if __name__ == "__main__":
    sys.exit(main())
