"""Find every readable clip under a folder, in a DICOMDIR, or in one file. Never writes to the source."""
from __future__ import annotations

import errno
import logging
import os
import stat
import struct
from collections.abc import Callable, Iterable
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.fileset import FileSet

from ceusdesk.base.errors import Cancelled, NothingReadable
from ceusdesk.ingest.dicom import CappedFile, NotAnImage, read_header
from ceusdesk.ingest.limits import Undecodable
from ceusdesk.ingest.media import STILL_SUFFIXES, VIDEO_SUFFIXES, MediaError, read_still, read_video
from ceusdesk.ingest.records import Clip, ScanResult, Warn

log = logging.getLogger(__name__)

DICOM_SUFFIXES = {"", ".dcm", ".dic", ".dicom", ".ima"}
# files a scanner's USB export carries beside the images: skipped without a warning
_IGNORED_NAMES = {"dicomdir", "thumbs.db", "desktop.ini", "autorun.inf", ".ds_store"}


def scan(
    path: str | os.PathLike[str],
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> ScanResult:
    """Read the headers of every clip under ``path``.

    ``path`` is a folder (every file under it, whether or not a DICOMDIR lists it), a DICOMDIR file
    (the files it references) or one file. Bad files become :class:`Warn` entries; pixel data is not
    decoded. ``progress(done, total)`` is called per file; ``cancel()`` returning True raises
    :class:`~ceusdesk.base.errors.Cancelled`.

    Raises
    ------
    NothingReadable
        ``path`` does not exist.
    """
    src = Path(path).expanduser()
    try:
        mode = src.stat().st_mode  # follows links; a link loop or a dangling link raises
    except OSError as err:
        raise NothingReadable(f"{src}: {_os_problem(err)}") from err
    warnings: list[Warn] = []
    if stat.S_ISDIR(mode):
        root = src
        files = _walk(src, warnings)
        for dicomdir in (f for f in files if f.name.upper() == "DICOMDIR" and f.is_file()):
            warnings += _check_dicomdir(dicomdir)
    elif stat.S_ISREG(mode) and _is_dicomdir(src):
        root = src.parent
        files, dir_warnings = _dicomdir_files(src)
        warnings += dir_warnings
    else:
        root = src.parent
        files = [src]
    clips: list[Clip] = []
    for i, f in enumerate(files):
        if cancel is not None and cancel():
            raise Cancelled("cancelled while reading the study")
        clip, warns = read_one(f)
        warnings += warns
        if clip is not None:
            clips.append(clip)
        if progress is not None:
            progress(i + 1, len(files))
    clips, dup_warnings = drop_duplicates(clips)
    return ScanResult(clips=clips, warnings=warnings + dup_warnings, root=root)


def _walk(folder: Path, warnings: list[Warn]) -> list[Path]:
    """Every file under ``folder`` (links to folders are not followed: no cycles); a folder that cannot
    be listed is warned about, never skipped in silence."""
    def unreadable(err: OSError) -> None:
        where = err.filename or str(folder)
        warnings.append(Warn(str(where), f"folder not read: {_os_problem(err)}; its files are left out"))

    # iterative (Python 3.11's os.walk recurses: 1,000 nested folders end in RecursionError)
    out: list[Path] = []
    stack = [str(folder)]
    while stack:
        dirpath = stack.pop()
        try:
            with os.scandir(dirpath) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            unreadable(err)
            continue
        subdirs = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                if not is_dir and entry.is_symlink() and os.path.isdir(entry.path):
                    warnings.append(Warn(entry.path, "link to a folder: not followed (it could loop); pass "
                                                     "its target to read it"))
                    continue
            except OSError as err:
                unreadable(err)
                continue
            if is_dir:
                subdirs.append(entry.path)
            elif not entry.name.startswith("."):
                out.append(Path(entry.path))
        stack.extend(reversed(subdirs))  # depth first, in name order, as os.walk gave them
    return out


def _is_dicomdir(path: Path) -> bool:
    if path.name.upper() == "DICOMDIR":
        return True
    try:
        with open(path, "rb") as fp:
            fp.seek(128)
            if fp.read(4) != b"DICM":
                return False
        with CappedFile(path) as fp:
            ds = dcmread(fp, stop_before_pixels=True, specific_tags=["SOPClassUID"])
        return str(ds.file_meta.get("MediaStorageSOPClassUID", "")) == "1.2.840.10008.1.3.10"
    except Exception:  # only a probe: read_one then says what is wrong with the file
        log.debug("%s: not a DICOMDIR", path.name, exc_info=True)
        return False


def _dicomdir_files(dicomdir: Path) -> tuple[list[Path], list[Warn]]:
    """The files a DICOMDIR references (read-only: the FileSet is never written)."""
    warns: list[Warn] = []
    try:
        with CappedFile(dicomdir) as fp:
            ds = dcmread(fp)
        problem = record_links_problem(ds)
        if problem is None:
            files = sorted({Path(instance.path) for instance in FileSet(ds)})
    except Exception as err:  # pydicom raises several types for a malformed DICOMDIR
        raise NothingReadable(f"{dicomdir}: not a readable DICOMDIR ({_one_line(err)})") from err
    listed: list[Path] = []
    for record in ds.get("DirectoryRecordSequence", []):
        ref = record.get("ReferencedFileID")
        if not ref:
            continue
        parts = [ref] if isinstance(ref, str) else list(ref)
        target = dicomdir.parent.joinpath(*(str(p) for p in parts))
        if ".." in (str(p) for p in parts):  # an index must not point outside its own tree
            warns.append(Warn(str(dicomdir), f"a record points outside the DICOMDIR's folder ({target}); "
                                             "ignored"))
        elif not target.exists():
            # FileSet silently leaves out records whose file is gone: compare with the raw records
            warns.append(Warn(str(target), "listed in the DICOMDIR but missing"))
        else:
            listed.append(target)
    if problem is not None:  # the hierarchy cannot be walked, but its records still name the files
        warns.append(Warn(str(dicomdir), f"{problem}: the {len(listed)} file(s) its records name are read"))
        files = sorted(set(listed))
    return files, warns


def record_links_problem(ds: Dataset) -> str | None:
    """Why the DICOMDIR's record links cannot be followed (pydicom's FileSet would loop forever on a
    cycle, or fail on an offset that names no record), or None."""
    records = {getattr(r, "seq_item_tell", None): r for r in ds.get("DirectoryRecordSequence", [])}
    if not records:
        return None
    seen: set[int] = set()
    pending = [int(ds.get("OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity") or 0)]
    while pending:
        offset = pending.pop()
        while offset:
            if offset in seen:
                return f"its directory records link in a loop (offset {offset})"
            record = records.get(offset)
            if record is None:
                return f"a directory record link points at offset {offset}, where no record starts"
            seen.add(offset)
            pending.append(int(record.get("OffsetOfReferencedLowerLevelDirectoryEntity") or 0))
            offset = int(record.get("OffsetOfTheNextDirectoryRecord") or 0)
    return None


def _check_dicomdir(dicomdir: Path) -> list[Warn]:
    """In folder mode the DICOMDIR is only an index (every file is read anyway): report what it lists
    that the folder lacks."""
    try:
        return _dicomdir_files(dicomdir)[1]
    except NothingReadable as err:
        return [Warn(str(dicomdir), f"DICOMDIR unreadable, ignored (the folder is read anyway): {err}")]


def _looks_like_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as fp:
            fp.seek(128)
            return fp.read(4) == b"DICM"
    except OSError:
        return False


def read_one(path: Path) -> tuple[Clip | None, list[Warn]]:
    """One file → a clip (or None) and its warnings. Never raises: whatever is wrong with the file
    (content, type, permissions, size) becomes one warning naming it."""
    if path.name.lower() in _IGNORED_NAMES:
        return None, []
    try:
        mode = path.stat().st_mode  # follows links: the kind of file a link points to is what counts
    except OSError as err:
        return None, [Warn(str(path), f"not read: {_os_problem(err)}")]
    if not stat.S_ISREG(mode):
        # FIFOs and devices (a link to /dev/zero) would block or never end: never opened
        return None, [Warn(str(path), f"skipped: not a regular file ({_file_kind(mode)})")]
    try:
        return _read_regular(path)
    except RecursionError as err:
        return None, [Warn(str(path), "corrupt file: structure nested too deeply to read "
                                      f"({type(err).__name__})")]
    except MemoryError as err:
        return None, [Warn(str(path), f"not read: the file claims more data than can be held ({err})")]
    except Exception as err:  # the one catch-all: a parser bug on a damaged file must cost only this file
        log.debug("unexpected error reading %s", path.name, exc_info=True)
        return None, [Warn(str(path), f"unreadable file: {type(err).__name__}: {_one_line(err)}")]


def _read_regular(path: Path) -> tuple[Clip | None, list[Warn]]:
    suffix = path.suffix.lower()
    try:
        if _looks_like_dicom(path):
            return read_header(path)
        if suffix in VIDEO_SUFFIXES:
            return read_video(path), []
        if suffix in STILL_SUFFIXES:
            notes: list[str] = []
            clip = read_still(path, notes)
            return clip, [Warn(str(path), n) for n in notes]
        if suffix in DICOM_SUFFIXES:
            # old exports may lack the 128-byte preamble; accept them only if they parse as images
            return read_header(path, force=True)
    except NotAnImage as err:
        return None, [Warn(str(path), f"skipped: {err}")]
    except Undecodable as err:
        return None, [Warn(str(path), f"cannot be decoded: {err}")]
    except MediaError as err:
        return None, [Warn(str(path), str(err))]
    except PermissionError as err:
        return None, [Warn(str(path), f"not read: {_os_problem(err)}")]
    except (InvalidDicomError, OSError, ValueError, KeyError, AttributeError, TypeError, EOFError,
            struct.error) as err:
        dicomish = _looks_like_dicom(path) or suffix == ".dcm"
        kind = "corrupt DICOM file" if dicomish else "not a readable DICOM file"
        if isinstance(err, struct.error | EOFError):
            kind += " (it ends early or a length in it is wrong)"
        return None, [Warn(str(path), f"{kind}: {_one_line(err)}")]
    log.debug("skipping a file that is neither DICOM, video nor image")
    return None, []


def _os_problem(err: OSError) -> str:
    """An OS error in words a user can act on (permission denied is not corruption)."""
    if isinstance(err, PermissionError):
        return "permission denied (check the file's or folder's permissions)"
    if err.errno == errno.ELOOP:
        return "symbolic link loop (the link points back to itself)"
    if isinstance(err, FileNotFoundError):
        return "no such file or folder (a dangling link?)"
    return err.strerror or _one_line(err)


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a folder")):
        if test(mode):
            return kind
    return "a special file"


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def drop_duplicates(clips: Iterable[Clip]) -> tuple[list[Clip], list[Warn]]:
    """Keep one clip per SOP Instance UID: the complete one (else the first); warn naming the other."""
    kept: dict[str, Clip] = {}
    out: list[Clip] = []
    warns: list[Warn] = []
    for clip in clips:
        uid = clip.sop_uid
        if uid is None or uid not in kept:
            if uid is not None:
                kept[uid] = clip
            out.append(clip)
            continue
        other = kept[uid]
        if other.truncated and not clip.truncated:
            out[out.index(other)] = clip
            kept[uid] = clip
            clip, other = other, clip
        warns.append(Warn(str(clip.path), f"duplicate of {other.path} (same SOP Instance UID): ignored"))
    return out, warns
