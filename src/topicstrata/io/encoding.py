"""Open (possibly compressed) input files and explain encoding problems."""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
from pathlib import Path
from typing import BinaryIO, Final, cast

from charset_normalizer import from_bytes

from topicstrata.errors import InputError

__all__ = [
    "COMPRESSIONS",
    "check_not_utf16",
    "encoding_error",
    "first_invalid_utf8",
    "is_utf8",
    "open_binary",
    "strip_compression",
]

#: Compression suffixes read transparently.
COMPRESSIONS: Final = (".gz", ".bz2", ".xz")

_SAMPLE_BYTES: Final = 256 * 1024

# Encodings charset-normalizer reports that are not single-byte code pages.
_MULTI_BYTE: Final = frozenset(
    {
        "utf_8",
        "utf_16",
        "utf_16_le",
        "utf_16_be",
        "utf_32",
        "utf_32_le",
        "utf_32_be",
        "gb18030",
        "gb2312",
        "gbk",
        "big5",
        "big5hkscs",
        "cp950",
        "shift_jis",
        "cp932",
        "euc_jp",
        "euc_jis_2004",
        "euc_kr",
        "cp949",
        "johab",
        "iso2022_jp",
        "iso2022_kr",
        "hz",
    }
)


def is_utf8(encoding: str | None) -> bool:
    """Whether ``encoding`` means UTF-8 (``None``, the default, does)."""
    if encoding is None:
        return True
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def _declared(declared: str | None) -> str:
    return f", although encoding={declared!r} was given" if declared is not None else ""


def strip_compression(path: Path) -> str:
    """The file's name without a compression suffix, lower-cased: ``a.csv.gz`` -> ``a.csv``."""
    name = path.name.lower()
    for suffix in COMPRESSIONS:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def open_binary(path: Path) -> BinaryIO:
    """Open ``path`` for reading bytes, decompressing ``.gz``, ``.bz2`` and ``.xz``."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return cast(BinaryIO, gzip.open(path, "rb"))
    if suffix == ".bz2":
        return cast(BinaryIO, bz2.open(path, "rb"))
    if suffix == ".xz":
        return cast(BinaryIO, lzma.open(path, "rb"))
    return path.open("rb")


def guess_encoding(path: Path, near: int | None = None) -> tuple[str | None, list[str]]:
    """Best guess and other plausible encodings of a sample of the file.

    The sample is taken around byte ``near`` when given (where decoding failed),
    since a file is often ASCII for megabytes before its first accented name.
    On short samples the detector cannot tell single-byte code pages apart (it
    may call a French CSV cp1006, an Urdu code page); when the best guess is a
    single-byte code page and cp1252 decodes the sample, the guess is cp1252,
    which is what spreadsheet exports in Western Europe and the Americas use.
    """
    with open_binary(path) as fh:
        if near is not None and near > _SAMPLE_BYTES // 2:
            fh.seek(near - _SAMPLE_BYTES // 2)
        sample = fh.read(_SAMPLE_BYTES)
    names = [m.encoding for m in from_bytes(sample)]
    if not names:
        return None, []
    best = names[0]
    if best not in _MULTI_BYTE and _decodes(sample, "cp1252"):
        return "cp1252", [n for n in ("latin_1", best) if n != "cp1252"]
    return best, names[1:4]


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        sample.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def check_not_utf16(path: Path, declared: str | None = None) -> None:
    """Fail early on UTF-16/32 files, which a UTF-8 parser would misread as garbage rows.

    ``declared`` is the encoding the caller was told (a UTF-8 spelling), named in
    the message so the user sees why it does not fit.
    """
    with open_binary(path) as fh:
        head = fh.read(4)
    for bom, name in _BOMS:
        if head.startswith(bom):
            raise InputError(
                f"{path.name}: the file is {name.upper()} (it starts with a {name} byte-order "
                f"mark){_declared(declared)}; re-save it as UTF-8, or pass encoding={name!r} "
                f"(CLI: --encoding {name}) to transcode it while reading."
            )


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


def encoding_error(path: Path, declared: str | None = None) -> InputError:
    """An :class:`InputError` saying where the file stops being UTF-8 and what it looks like.

    ``declared`` is the UTF-8 spelling the user passed as the encoding, if any: the
    message then says that the file does not match it, rather than leaving them to
    wonder why an explicit ``encoding='utf-8'`` failed.
    """
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
        suggestion = best
    return InputError(
        f"{path.name}: {where} is not valid UTF-8{_declared(declared)}; {looks}. "
        f"Re-save the file as UTF-8, or pass encoding={suggestion!r} "
        f"(CLI: --encoding {suggestion}) to transcode it while reading."
    )
