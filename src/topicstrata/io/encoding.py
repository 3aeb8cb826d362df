"""Open (possibly compressed) input files and explain encoding problems."""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final

from charset_normalizer import from_bytes

from topicstrata.errors import InputError

__all__ = [
    "COMPRESSIONS",
    "encoding_error",
    "first_invalid_utf8",
    "open_binary",
    "strip_compression",
]

COMPRESSIONS: Final[dict[str, Callable[..., IO[bytes]]]] = {
    ".gz": gzip.open,
    ".bz2": bz2.open,
    ".xz": lzma.open,
}

_SAMPLE_BYTES: Final = 256 * 1024


def strip_compression(path: Path) -> str:
    """The file's name without a compression suffix, lower-cased: ``a.csv.gz`` -> ``a.csv``."""
    name = path.name.lower()
    for suffix in COMPRESSIONS:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def open_binary(path: Path) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressing ``.gz``, ``.bz2`` and ``.xz``."""
    opener = COMPRESSIONS.get(path.suffix.lower())
    if opener is not None:
        stream: IO[bytes] = opener(path, "rb")
        return stream
    return path.open("rb")


def guess_encoding(path: Path, near: int | None = None) -> tuple[str | None, list[str]]:
    """Best guess and other plausible encodings of a sample of the file.

    The sample is taken around byte ``near`` when given (where decoding failed),
    since a file is often ASCII for megabytes before its first accented name.
    """
    with open_binary(path) as fh:
        if near is not None and near > _SAMPLE_BYTES // 2:
            fh.seek(near - _SAMPLE_BYTES // 2)
        sample = fh.read(_SAMPLE_BYTES)
    matches = list(from_bytes(sample))
    names = [m.encoding for m in matches]
    return (names[0] if names else None), names[1:4]


def first_invalid_utf8(path: Path) -> tuple[int, int] | None:
    """Byte offset and 1-based line number of the first byte that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    lines = 1
    with open_binary(path) as fh:
        while block := fh.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                # The decoder may hold up to 3 bytes of an incomplete sequence from
                # the previous block; the error position is relative to this block.
                bad = max(exc.start, 0)
                return offset + bad, lines + block.count(b"\n", 0, bad)
            offset += len(block)
            lines += block.count(b"\n")
    return None


def encoding_error(path: Path) -> InputError:
    """An :class:`InputError` saying where the file stops being UTF-8 and what it looks like."""
    found = first_invalid_utf8(path)
    if found is None:
        where = "the file"
        near = None
    else:
        near, line = found
        where = f"line {line} (byte {near})"
    best, others = guess_encoding(path, near)
    if best is None:
        looks = "its encoding could not be recognised"
        suggestion = "cp1252"
    else:
        also = f" (also plausible: {', '.join(others)})" if others else ""
        looks = f"it looks like {best}{also}"
        # Spreadsheet exports are mostly cp1252, which detection ranks close to its
        # cp125x siblings on short samples; prefer it when it is a candidate.
        suggestion = "cp1252" if "cp1252" in [best, *others] else best
    return InputError(
        f"{path.name}: {where} is not valid UTF-8; {looks}. "
        f"Re-save the file as UTF-8, or pass encoding={suggestion!r} "
        f"(CLI: --encoding {suggestion}) to transcode it while reading."
    )
