"""Run by tests/packaging/test_slim_libs.py in a subprocess, with or without the stand-ins preloaded.

    python slim_probe.py MODE FOLDER

prints one repr() line that the test compares between the original libraries and the stand-ins.
"""
import sys

import numpy as np


def cv2_ops(folder: str) -> list:
    """What ceusdesk does with cv2: colour, resize, blur, template match, drawing, stills, video I/O."""
    import cv2

    img = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    gray = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, (64, 48), interpolation=cv2.INTER_AREA)
    blur = cv2.GaussianBlur(gray, (5, 5), 1.2)
    scores = cv2.matchTemplate(blur, blur[20:60, 30:90].copy(), cv2.TM_CCOEFF_NORMED)
    _lo, best, _lo_at, at = cv2.minMaxLoc(scores)
    cv2.putText(img, "x", (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    out = [int(small.sum()), int(blur.sum()), round(float(best), 4), at]
    # the evidence module's morphology, polygon fill and resampling (lesion size, liver ROI)
    mask = (gray > 128).astype(np.uint8)
    out.append(int(cv2.erode(mask, np.ones((5, 5), np.uint8)).sum()))
    out.append(int(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)).sum()))
    poly = np.array([[10, 10], [100, 20], [60, 90]], np.int32) * 4
    out.append(int(cv2.fillPoly(np.zeros_like(mask), [poly], 1, shift=2).sum()))
    ys, xs = np.mgrid[0:40, 0:50].astype(np.float32)
    warped = cv2.remap(blur.astype(np.float32), xs * 1.5, ys * 1.2, cv2.INTER_LINEAR)
    out.append(round(float(warped.sum()), 1))
    for suffix in (".png", ".jpg"):
        cv2.imwrite(f"{folder}/still{suffix}", img)
        out.append(int(cv2.imread(f"{folder}/still{suffix}", cv2.IMREAD_COLOR).sum()))
    for suffix, fourcc in ((".mp4", "mp4v"), (".avi", "MJPG")):
        writer = cv2.VideoWriter(f"{folder}/clip{suffix}", cv2.VideoWriter_fourcc(*fourcc), 10, (160, 120))
        for i in range(5):
            writer.write(np.roll(img, 3 * i, axis=1))
        writer.release()
        cap, frames = cv2.VideoCapture(f"{folder}/clip{suffix}"), []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(int(frame.sum()))
        out.append((suffix, frames))
    return out


def cv2_exotic(folder: str) -> list:
    """VP8 (FFmpeg's own decoder) and AVIF (libaom) files: read where possible, refused cleanly where not."""
    import cv2

    cap, frames = cv2.VideoCapture(f"{folder}/vp8.webm"), 0
    while cap.read()[0]:
        frames += 1
    return [("vp8 frames", frames), ("avif read", cv2.imread(f"{folder}/still.avif") is not None)]


def cv2_write_exotic(folder: str) -> list:
    import cv2

    img = np.full((120, 160, 3), 90, np.uint8)
    writer = cv2.VideoWriter(f"{folder}/vp8.webm", cv2.VideoWriter_fourcc(*"VP80"), 10, (160, 120))
    opened = writer.isOpened()
    for _ in range(4):
        writer.write(img)
    writer.release()
    return [("vp8 writer", opened), ("avif written", bool(cv2.imwrite(f"{folder}/still.avif", img)))]


def cv2_blas(_folder: str) -> list:
    import cv2

    a = np.ones((200, 200), np.float32)
    return [float(cv2.gemm(a, a, 1, None, 0).sum())]


def qt_icu(_folder: str) -> list:
    """Every ICU service Qt calls: collation, case mapping, time zone names, legacy text codecs."""
    from PySide6.QtCore import QCollator, QDateTime, QLocale, QStringDecoder, QStringEncoder, QTimeZone

    out: list = []
    zone = QTimeZone(b"Europe/Berlin")
    for name in ("de_DE", "sv_SE", "ja_JP", "tr_TR", "en_US"):
        locale = QLocale(name)
        collator = QCollator(locale)
        collator.setNumericMode(True)
        words = ["Äpfel", "apfel", "Zebra", "zoo", "file10", "file2", "Öl", "ol"]
        out.append(sorted(words, key=collator.sortKey))
        out += [locale.toUpper("istanbul straße"), locale.toLower("İSTANBUL")]
        for kind in (QTimeZone.NameType.LongName, QTimeZone.NameType.ShortName):
            out.append(zone.displayName(QTimeZone.TimeType.StandardTime, kind, locale))
        when = QDateTime.fromSecsSinceEpoch(1_700_000_000, zone)
        out.append(locale.toString(when, "dddd d MMMM yyyy HH:mm t"))
    for codec in ("Shift_JIS", "GB18030", "ISO-8859-2", "windows-1252", "KOI8-R", "EUC-KR"):
        out.append((codec, QStringEncoder(codec).isValid(), QStringDecoder(codec).isValid()))
    out.append(len(QStringEncoder.availableCodecs()))
    return out


if __name__ == "__main__":
    mode, folder = sys.argv[1:3]
    print(repr(globals()[mode](folder)))
