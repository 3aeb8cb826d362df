"""Hypothesis strategies for malformed input, and the oracles that judge what came out.

Three kinds of input a user hands topicstrata (issue 13, "Bad input, fuzzed"):

* records to ingest: CSV (ragged rows, ``;``/tab/``|`` delimiters, byte-order marks,
  latin-1/cp1252/UTF-16 files and cp1252 bytes inside a UTF-8 file, NUL bytes, very
  large fields, numbers and lists where text is expected, duplicate and empty ids,
  rows without text, non-Latin scripts, emoji), JSON Lines (truncated, invalid lines,
  wrong types), Parquet (wrong column types, truncated or damaged bytes) and
  Salesforce tree exports (missing or malformed Account links);
* mapping files: random YAML, and random edits of a valid mapping (unknown paths,
  merge cycles, bad regexes, wrong types, huge files);
* run configs: YAML files for ``strata fit --config`` and ``--param`` overrides
  (unknown keys, wrong types, out-of-range values such as a reversed k range).

Each ``*_cases`` strategy draws a self-contained case; ``check_ingest``,
``check_mapping`` and ``check_config`` run it through the library and assert the
contract: the only exception is ``TopicStrataError``, whose message names the input
(and the line or key where there is one) and says what to do; a successful ingest
accounts for every record (rows in = ok + rejected, each rejection with a reason);
a rejected mapping changes nothing. They return an :class:`Outcome` for the
benchmark's table. ``tests/fuzz`` runs them briefly, ``bench/fuzz.py`` at length.
"""

from __future__ import annotations

import codecs
import copy
import csv
import io
import json
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from topicstrata.config import StrataConfig
from topicstrata.errors import TopicStrataError

# ------------------------------------------------------------------------ shared

#: Largest single field drawn; CI keeps it small, the benchmark raises it to 10 MB.
CI_FIELD_BYTES = 20_000
BENCH_FIELD_BYTES = 10_000_000

#: Words that say what to do; every error message must contain one.
_ADVICE = re.compile(
    r"\b(pass|re-?save|re-?export|re-?run|check|fix|quote|rename|use|write|delete|remove|"
    r"add|name|keep|expected|merge it|point|change|lower|set|drop|must|should|expects|needs|"
    r"valid|did you mean|only)\b",
    re.IGNORECASE,
)


@dataclass
class Outcome:
    """What one fuzzed input did: an error message, or the row counts of an ingest."""

    target: str
    error: str | None = None
    rows_in: int = 0
    ok: int = 0
    rejected: int = 0
    #: Records in the input that the report does not account for (must be 0).
    unaccounted: int = 0


def _assert_message(message: str, *, names: tuple[str, ...], what: str) -> None:
    assert message.strip(), f"{what}: empty error message"
    assert any(n in message for n in names), f"{what}: message names none of {names}: {message}"
    assert _ADVICE.search(message), f"{what}: message does not say what to do: {message}"
    assert "Traceback" not in message, f"{what}: message holds a traceback: {message}"


@contextmanager
def _no_stray_errors(what: str) -> Iterator[None]:
    """Fail on warnings and on exceptions printed as "Exception ignored" (unraisable)."""
    unraisable: list[str] = []
    previous = sys.unraisablehook

    def hook(args: Any) -> None:
        unraisable.append(f"{type(args.exc_value).__name__}: {args.exc_value}")

    sys.unraisablehook = hook
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
                warnings.simplefilter("ignore", category)
            warnings.simplefilter("ignore", ResourceWarning)
            yield
    finally:
        sys.unraisablehook = previous
    assert not unraisable, f"{what}: exceptions escaped as unraisable: {unraisable}"
    shown = [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught]
    assert not shown, f"{what}: warnings: {shown}"


def big_texts(max_bytes: int) -> st.SearchStrategy[str]:
    """A long field: a short unit repeated to a drawn size (Hypothesis cannot draw MBs)."""
    sizes = st.sampled_from(
        sorted({n for n in (1_000, 20_000, 200_000, 1_000_000, max_bytes) if n <= max_bytes})
    )
    return st.builds(
        lambda unit, size: (unit * (size // max(1, len(unit)) + 1))[:size],
        st.text(st.characters(codec="utf-8", exclude_characters="\r"), min_size=1, max_size=8),
        sizes,
    )


_SCRIPTS = st.sampled_from(
    [
        "Доставка облачной платформы",
        "云平台迁移项目",
        "クラウド移行",
        "مشروع الترحيل",
        "ऑर्डर प्रबंधन",
        "Ελληνικά κείμενο",
        "🚀 rocket launch 🎉",
        "👩‍💻 dev tools 🧑🏽‍🚀",
        "Café déjà vu – naïve façade “quoted”",
        "a\u200bzero\u200dwidth",
        "RTL \u202eevil\u202c text",
    ]
)


def cell_texts(max_bytes: int) -> st.SearchStrategy[str]:
    """Cell values: ordinary words, scripts, emoji, blanks, numbers, lists, control bytes."""
    return st.one_of(
        st.sampled_from(["cloud migration", "invoice OCR", "fraud", "Kontakt", ""]),
        st.just(""),
        st.sampled_from([" ", "\t", "   \n  "]),
        _SCRIPTS,
        st.text(st.characters(codec="utf-8"), max_size=30),
        st.sampled_from(["12", "-3.5", "1e308", "-1e308", "1e400", "inf", "nan", "NaN"]),
        st.sampled_from(["[1, 2]", "{'a': 1}", "None", "null", "true", "$1,200", "1,5"]),
        st.sampled_from(["a\x00b", "\x00", "line\nbreak", 'say "hi"', "a,b;c|d\te"]),
        st.sampled_from(["2025-06-30", "30/06/2025", "0000-00-00", "9999-99-99", "yesterday"]),
        big_texts(min(max_bytes, CI_FIELD_BYTES)),
    )


def _plant_big(draw: st.DrawFn, max_bytes: int) -> str | None:
    """Now and then one very large field per input (up to ``max_bytes``), never more."""
    if max_bytes <= CI_FIELD_BYTES or not draw(st.booleans()):
        return None
    return draw(big_texts(max_bytes))


#: Source column names the readers know, plus others; duplicates and blanks allowed.
_COLUMNS = [
    "id",
    "Id",
    "opportunity_name",
    "details",
    "customer_needs",
    "product_name",
    "text",
    "Name",
    "Description",
    "amount",
    "term_months",
    "close_date",
    "industry",
    "notes",
    "true_l1",
    "Größe",
    "名前",
    "",
]

_IDS = st.one_of(
    st.sampled_from(["1", "2", "3", "a", "a ", "", "  ", "0", "1.0", "006A", "id-ü", "😀"]),
    st.integers(-5, 5).map(str),
)


def _rows_for(columns: list[str], max_bytes: int) -> st.SearchStrategy[list[list[str]]]:
    def row(n: int) -> st.SearchStrategy[list[str]]:
        cells: list[st.SearchStrategy[str]] = [
            _IDS if name.lower() == "id" else cell_texts(max_bytes) for name in columns
        ]
        return st.tuples(*cells).map(list) if n else st.just([])

    return st.lists(row(len(columns)), min_size=0, max_size=12)


# ------------------------------------------------------------------------ ingest cases


@dataclass
class IngestCase:
    """Files to write into an empty folder, the path to read and the IngestConfig options.

    ``records`` is the number of records the input holds when the strategy knows it
    (a well-formed file); a successful ingest must then report exactly that many rows.
    """

    kind: str
    name: str
    files: dict[str, bytes]
    config: dict[str, Any] = field(default_factory=dict)
    records: int | None = None
    read_dir: bool = False

    def __repr__(self) -> str:  # Hypothesis prints failing cases; keep them readable
        sizes = {k: len(v) for k, v in self.files.items()}
        heads = {k: v[:300] for k, v in self.files.items()}
        return (
            f"IngestCase(kind={self.kind!r}, name={self.name!r}, config={self.config!r}, "
            f"records={self.records!r}, read_dir={self.read_dir}, sizes={sizes}, heads={heads})"
        )


_ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16"]


@st.composite
def csv_cases(draw: st.DrawFn, max_field_bytes: int = CI_FIELD_BYTES) -> IngestCase:
    """A CSV file: any delimiter and quoting, an encoding (declared or not), damage."""
    columns = draw(st.lists(st.sampled_from(_COLUMNS), min_size=1, max_size=7))
    if draw(st.booleans()):  # mostly a file the reader can use: a text column, an id
        columns = ["id", "details", *[c for c in columns if c not in ("id", "details")]]
    rows = draw(_rows_for(columns, max_field_bytes))
    big = _plant_big(draw, max_field_bytes)
    if big is not None and rows:
        rows[draw(st.integers(0, len(rows) - 1))][draw(st.integers(0, len(columns) - 1))] = big
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator=terminator)
    writer.writerow(columns)
    writer.writerows(rows)
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(_ENCODINGS))
    data = text.encode(encoding, errors="replace")
    lossless = data.decode(encoding, errors="replace") == text
    declared = draw(st.sampled_from([None, None, encoding, "utf-8", "latin-1"]))
    config: dict[str, Any] = {"chunk_rows": draw(st.integers(1, 8))}
    if declared is not None:
        config["encoding"] = declared
    if draw(st.integers(0, 4)) == 0:
        config["delimiter"] = draw(st.sampled_from([",", ";", "\t", "|"]))
    damage = draw(
        st.sampled_from(
            ["none", "none", "none", "ragged", "cp1252_row", "nul", "truncate", "bom_twice"]
        )
    )
    if damage == "ragged" and rows:
        at = draw(st.integers(0, len(rows) - 1))
        lines = data.split(terminator.encode(encoding)) if encoding != "utf-16" else [data]
        if len(lines) > at + 1:
            extra = (delimiter + "extra").encode(encoding)
            lines[at + 1] = lines[at + 1] + extra
            data = terminator.encode(encoding).join(lines)
    elif damage == "cp1252_row":
        data += "99,Café “naïve” façade für Müller\n".encode("cp1252")
    elif damage == "nul":
        at = draw(st.integers(0, max(0, len(data) - 1)))
        data = data[:at] + b"\x00" + data[at:]
    elif damage == "truncate":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    elif damage == "bom_twice":
        data = codecs.BOM_UTF8 + codecs.BOM_UTF8 + data
    suffix = ".tsv" if draw(st.integers(0, 5)) == 0 else ".csv"
    # Known only for an undamaged file decoded as written, whose sniffed (or configured)
    # delimiter is the real one: the header shows it unless there is only one column.
    # A file read as UTF-16 only when declared so; others misread at worst as mojibake,
    # which keeps every delimiter and line break, or fail with an encoding error.
    records = None
    effective = config.get("delimiter")
    if (
        damage == "none"
        and lossless
        and (encoding != "utf-16" or declared == "utf-16")
        and effective in (None, delimiter)
        and len(columns) > 1
        and len(set(columns)) == len(columns)
    ):
        records = len(rows)
    return IngestCase("csv", "records" + suffix, {"records" + suffix: data}, config, records)


_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.sampled_from([10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(codec="utf-8"), max_size=20),
    _SCRIPTS,
)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


@st.composite
def _records(draw: st.DrawFn, max_field_bytes: int) -> list[dict[str, Any]]:
    keys = st.sampled_from(
        ["id", "Id", "text", "details", "Name", "amount", "Amount", "term_months", "close_date"]
    )
    values = st.one_of(_JSON_VALUES, _IDS, cell_texts(max_field_bytes))
    return draw(st.lists(st.dictionaries(keys, values, max_size=6), max_size=10))


@st.composite
def jsonl_cases(draw: st.DrawFn, max_field_bytes: int = CI_FIELD_BYTES) -> IngestCase:
    """JSON Lines: records with any value types, blank lines, bad and truncated lines."""
    records = draw(_records(max_field_bytes))
    big = _plant_big(draw, max_field_bytes)
    if big is not None and records:
        records[draw(st.integers(0, len(records) - 1))]["details"] = big
    lines = [json.dumps(r, ensure_ascii=draw(st.booleans())) for r in records]
    known = True
    for _ in range(draw(st.integers(0, 2))):
        blank = draw(st.sampled_from(["", "   ", "\t"]))
        lines.insert(draw(st.integers(0, len(lines))), blank)
    damage = draw(
        st.sampled_from(
            ["none", "none", "bad_line", "not_object", "truncate", "deep", "latin1", "bom"]
        )
    )
    body = "\n".join(lines) + ("\n" if draw(st.booleans()) else "")
    data = body.encode("utf-8")
    if damage == "bad_line":
        garbage = draw(st.sampled_from(["{", "{'a': 1}", "nope", '{"text": "a",}', "NaN]"]))
        lines.insert(draw(st.integers(0, len(lines))), garbage)
        data = "\n".join(lines).encode("utf-8")
        known = False
    elif damage == "not_object":
        other = draw(st.sampled_from(["[1, 2]", "42", '"text"', "null", "true"]))
        lines.insert(draw(st.integers(0, len(lines))), other)
        data = "\n".join(lines).encode("utf-8")
        known = False
    elif damage == "truncate":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
        known = False
    elif damage == "deep":
        depth = draw(st.sampled_from([50, 5_000, 200_000]))
        data += ("[" * depth + "]" * depth + "\n").encode()
        known = False
    elif damage == "latin1":
        data += '{"text": "Café façade"}\n'.encode("latin-1")
        known = False
    elif damage == "bom":
        data = codecs.BOM_UTF8 + data
    config: dict[str, Any] = {"chunk_rows": draw(st.integers(1, 8))}
    declared = draw(st.sampled_from([None, None, None, "utf-8", "latin-1", "utf-16"]))
    if declared is not None:
        config["encoding"] = declared
        if declared == "utf-16" and damage == "none":
            data = data.decode("utf-8").encode("utf-16")
        elif declared == "utf-16":
            known = False  # UTF-8 bytes read as UTF-16
    return IngestCase(
        "jsonl", "records.jsonl", {"records.jsonl": data}, config, len(records) if known else None
    )


def _arrow_column(draw: st.DrawFn, n: int, max_field_bytes: int) -> pa.Array:
    kind = draw(
        st.sampled_from(
            [
                "string",
                "large_string",
                "int",
                "float",
                "bool",
                "list",
                "struct",
                "binary",
                "bad_utf8",
                "timestamp",
                "date",
                "dictionary",
                "null",
                "decimal",
            ]
        )
    )
    texts = st.one_of(cell_texts(min(max_field_bytes, 100_000)), st.none())
    if kind in ("string", "large_string"):
        values = draw(st.lists(texts, min_size=n, max_size=n))
        return pa.array(values, type=pa.string() if kind == "string" else pa.large_string())
    if kind == "int":
        ints = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))
        return pa.array(draw(st.lists(ints, min_size=n, max_size=n)), type=pa.int64())
    if kind == "float":
        floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
        return pa.array(draw(st.lists(floats, min_size=n, max_size=n)), type=pa.float64())
    if kind == "bool":
        return pa.array(draw(st.lists(st.none() | st.booleans(), min_size=n, max_size=n)))
    if kind == "list":
        lists = st.none() | st.lists(st.integers(-5, 5), max_size=3)
        return pa.array(draw(st.lists(lists, min_size=n, max_size=n)), type=pa.list_(pa.int64()))
    if kind == "struct":
        return pa.array([{"a": i, "b": str(i)} for i in range(n)])
    if kind == "binary":
        binaries = st.lists(st.binary(max_size=12), min_size=n, max_size=n)
        return pa.array(draw(binaries), type=pa.binary())
    if kind == "bad_utf8":  # a string column whose bytes are not UTF-8
        raw = pa.array(
            draw(st.lists(st.binary(max_size=8), min_size=n, max_size=n)), type=pa.binary()
        )
        return raw.view(pa.string())
    if kind == "timestamp":
        stamps = st.none() | st.integers(-(2**62), 2**62)
        return pa.array(draw(st.lists(stamps, min_size=n, max_size=n)), type=pa.timestamp("ns"))
    if kind == "date":
        days = st.none() | st.integers(-(2**30), 2**30)
        return pa.array(draw(st.lists(days, min_size=n, max_size=n)), type=pa.date32())
    if kind == "dictionary":
        values = draw(st.lists(st.sampled_from(["a", "b", "12"]), min_size=n, max_size=n))
        return pa.array(values).dictionary_encode()
    if kind == "null":
        return pa.nulls(n)
    digits = st.none() | st.decimals(
        min_value=-(10**20), max_value=10**20, places=2, allow_nan=False, allow_infinity=False
    )
    return pa.array(draw(st.lists(digits, min_size=n, max_size=n)), type=pa.decimal128(25, 2))


@st.composite
def parquet_cases(draw: st.DrawFn, max_field_bytes: int = CI_FIELD_BYTES) -> IngestCase:
    """Parquet: every column of any Arrow type; sometimes truncated or with flipped bytes."""
    n = draw(st.integers(0, 10))
    names = draw(
        st.lists(
            st.sampled_from([*_COLUMNS[:-1], "Amount", "Term"]), min_size=1, max_size=6, unique=True
        )
    )
    columns = {name: _arrow_column(draw, n, max_field_bytes) for name in names}
    sink = io.BytesIO()
    pq.write_table(
        pa.table(columns), sink, row_group_size=draw(st.sampled_from([1, 3, 1000])) or None
    )
    data = sink.getvalue()
    damage = draw(st.sampled_from(["none", "none", "none", "truncate", "flip", "not_parquet"]))
    known = damage == "none"
    if damage == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "flip":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    elif damage == "not_parquet":
        data = draw(st.binary(max_size=64))
    config = {"chunk_rows": draw(st.integers(1, 8))}
    return IngestCase(
        "parquet", "records.parquet", {"records.parquet": data}, config, n if known else None
    )


@st.composite
def salesforce_cases(draw: st.DrawFn, max_field_bytes: int = CI_FIELD_BYTES) -> IngestCase:
    """An sfdx tree export: Opportunities (and maybe Accounts) with broken Account links."""
    n_accounts = draw(st.integers(0, 4))
    accounts: list[dict[str, Any]] = []
    nested = 0
    for i in range(1, n_accounts + 1):
        account: dict[str, Any] = {
            "attributes": {"type": "Account", "referenceId": f"AccountRef{i}"},
            "Name": draw(st.one_of(cell_texts(1000), st.none(), st.integers())),
        }
        if draw(st.booleans()):
            account["Industry"] = draw(st.one_of(st.none(), _SCRIPTS, st.integers()))
        if draw(st.integers(0, 3)) == 0:
            inner = draw(st.lists(st.fixed_dictionaries({"Name": cell_texts(1000)}), max_size=3))
            account["Opportunities"] = {"records": inner}
            nested += len(inner)
        accounts.append(account)
    links = st.one_of(
        st.sampled_from([f"@AccountRef{i}" for i in range(1, 7)]),  # some point nowhere
        st.sampled_from(["", "@", "@Missing", "001000000000000AAA"]),
        st.none(),
        st.integers(),
        st.just({"nested": True}),
    )
    opportunity = st.fixed_dictionaries(
        {"Name": cell_texts(max_field_bytes)},
        optional={
            "AccountId": links,
            "Id": _IDS,
            "Description": cell_texts(max_field_bytes),
            "Amount": st.one_of(_JSON_SCALARS, cell_texts(100)),
            "CloseDate": cell_texts(100),
            "Account": st.one_of(
                st.fixed_dictionaries({"Name": cell_texts(100)}), st.none(), st.integers()
            ),
            "Owner": st.just({"attributes": {"type": "User"}, "Name": "Kim"}),
        },
    )
    opportunities = draw(st.lists(opportunity, max_size=8))
    big = _plant_big(draw, max_field_bytes)
    if big is not None and opportunities:
        opportunities[draw(st.integers(0, len(opportunities) - 1))]["Description"] = big
    tree = {
        "records": [
            {"attributes": {"type": "Opportunity", "referenceId": f"OpportunityRef{i}"}, **o}
            for i, o in enumerate(opportunities, start=1)
        ]
    }
    files = {"Opportunities.json": json.dumps(tree, indent=draw(st.sampled_from([None, 2])))}
    accounts_text = json.dumps({"records": accounts})
    damage = draw(
        st.sampled_from(
            ["none", "none", "none", "no_accounts", "bad_accounts", "bad_nested", "bad_json"]
        )
    )
    known = True
    if damage != "no_accounts":
        files["Accounts.json"] = accounts_text
    else:
        nested = 0
    if damage == "bad_accounts":
        files["Accounts.json"] = draw(st.sampled_from(["", "{", '{"records": 5}', "[1, 2]"]))
        known = False
    elif damage == "bad_nested":
        broken = {"attributes": {"referenceId": "AccountRefX"}, "Name": "X"}
        broken["Opportunities"] = {"records": draw(st.sampled_from([5, "x", [1], [None]]))}
        files["Accounts.json"] = json.dumps({"records": [*accounts, broken]})
        known = False
    elif damage == "bad_json":
        text = files["Opportunities.json"]
        files["Opportunities.json"] = text[: draw(st.integers(0, max(0, len(text) - 1)))]
        known = False
    read_dir = draw(st.booleans())
    return IngestCase(
        "salesforce",
        "Opportunities.json",
        {k: v.encode("utf-8") for k, v in files.items()},
        {"chunk_rows": draw(st.integers(1, 8))},
        len(opportunities) + nested if known else None,
        read_dir=read_dir,
    )


def ingest_cases(max_field_bytes: int = CI_FIELD_BYTES) -> st.SearchStrategy[IngestCase]:
    """Any of the four formats."""
    return st.one_of(
        csv_cases(max_field_bytes),
        jsonl_cases(max_field_bytes),
        parquet_cases(max_field_bytes),
        salesforce_cases(max_field_bytes),
    )


def check_ingest(case: IngestCase, folder: Path, outcome: Outcome | None = None) -> Outcome:
    """Write ``case`` into the empty ``folder``, read it, and assert the ingest contract.

    ``outcome``, when given, is filled in as the check goes, so a caller that catches
    a failed assertion still has the counts.
    """
    from topicstrata.io import STATUSES, IngestConfig, read_records

    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    path = folder if case.read_dir else folder / case.name
    outcome = outcome or Outcome(case.kind)
    with _no_stray_errors(f"{case.kind} ingest"):
        try:
            result = read_records(path, IngestConfig(**case.config))
        except TopicStrataError as exc:
            message = str(exc)
            names = (*case.files, folder.name)
            _assert_message(message, names=names, what=f"{case.kind} error")
            outcome.error = message
            return outcome

    report = result.report
    rejected = report.rejected
    outcome.rows_in, outcome.ok, outcome.rejected = report.rows_in, report.ok, report.n_rejected
    if case.records is not None:
        outcome.unaccounted = abs(case.records - report.rows_in)
    assert report.rows_in == report.ok + report.n_rejected
    assert sum(report.counts.values()) == report.rows_in, report.counts
    assert len(rejected) == report.n_rejected, (len(rejected), report.summary())
    assert len(result.table) == report.ok
    assert set(rejected["status"]) <= set(STATUSES) - {"ok"}
    assert all(isinstance(r, str) and r.strip() for r in rejected["reason"]), rejected
    assert rejected["row"].is_unique
    assert rejected["row"].between(1, report.rows_in).all()
    assert result.table["id"].is_unique
    assert all(isinstance(t, str) and t.strip() for t in result.table["text"])
    assert outcome.unaccounted == 0, (
        f"{case.kind}: the input holds {case.records} records, the report accounts for "
        f"{report.rows_in}: {report.summary()}"
    )
    return outcome


# ------------------------------------------------------------------------ mapping cases


def valid_mapping_text() -> str:
    """A valid two-layer mapping (merges, a drop, a split, rules) as the writer writes it."""
    from topicstrata.mapping import Mapping, dumps_mapping

    mapping = Mapping.model_validate(
        {
            "version": 2,
            "layer": 2,
            "topics": [
                {"path": "-1", "label": "Outliers", "size": 40},
                {"path": "0", "label": "Chatbots", "keywords": ["bot"], "action": "split"},
                {"path": "1", "label": "Invoices", "phrases": ["accounts payable"]},
                {"path": "2", "label": "Fraud", "action": "merge", "merge_into": "1"},
                {"path": "3", "label": "Forecasting", "action": "drop"},
                {"path": "0.0", "label": "Voice", "size": 200},
                {"path": "0.1", "label": "FAQ", "action": "merge", "merge_into": "0.2"},
                {"path": "0.2", "label": "Handoff", "notes": "checked by Kim"},
            ],
            "rules": [
                {"pattern": "contact center", "path": "0.0"},
                {"pattern": r"\bRPA\b|robotic", "regex": True, "path": "1", "label": "RPA"},
            ],
        }
    )
    return dumps_mapping(mapping)


KNOWN_PATHS = ("-1", "0", "1", "2", "3", "4", "0.0", "0.1", "0.2", "0.-1")


@dataclass
class MappingCase:
    """Mapping YAML text; ``must_reject`` when the edit made it invalid for sure."""

    text: str
    edit: str
    must_reject: bool

    def __repr__(self) -> str:
        return (
            f"MappingCase(edit={self.edit!r}, must_reject={self.must_reject}, "
            f"text={self.text[:2000]!r})"
        )


_WRONG_VALUES = st.sampled_from([[1, 2], {"a": 1}, [], {}])


@st.composite
def mapping_edits(draw: st.DrawFn) -> MappingCase:
    """One random edit of the valid mapping, at the data or the text level."""
    base = valid_mapping_text()
    data = yaml.safe_load(base)
    for entry in data["topics"]:
        entry["path"] = str(entry["path"])
    edit = draw(
        st.sampled_from(
            [
                "unknown_path",
                "cycle",
                "self_merge",
                "bad_regex",
                "wrong_type",
                "unknown_key",
                "duplicate_path",
                "bad_action",
                "deep_level",
                "huge_topics",
                "long_chain",
                "long_text",
                "bad_version",
                "text_delete_line",
                "text_insert",
                "text_indent",
                "text_truncate",
                "alias_bomb",
                "deep_nesting",
                "valid_label",
            ]
        )
    )
    must_reject = True
    topics = data["topics"]
    if edit == "unknown_path":
        topics.append({"path": draw(st.sampled_from(["9", "0.7", "1.1", "3.0.0"]))})
    elif edit == "cycle":
        topics[2].update(action="merge", merge_into="4")  # 1 -> 4
        topics.append({"path": "4", "action": "merge", "merge_into": "1"})  # 4 -> 1
        topics[3].update(action="keep")
        topics[3].pop("merge_into", None)
    elif edit == "self_merge":
        topics[2].update(action="merge", merge_into="1")
    elif edit == "bad_regex":
        pattern = draw(
            st.sampled_from(
                [
                    "(unclosed",
                    "a{2,1}",
                    "(?P<x>a)(?P<x>b)",
                    "*",
                    "[z-a]",
                    "(" * 400 + ")" * 400,
                    "(?<=a+)b",
                    "\\",
                ]
            )
        )
        data["rules"].append({"pattern": pattern, "regex": True, "path": "1"})
        must_reject = pattern != "(" * 400 + ")" * 400
    elif edit == "wrong_type":
        where = draw(st.sampled_from(["size", "keywords", "label", "action", "regex", "layer"]))
        value = draw(_WRONG_VALUES)
        if where == "regex":
            data["rules"][0]["regex"] = value
        elif where == "layer":
            data["layer"] = draw(st.sampled_from([0, -1, "two", [2]]))
        elif where == "keywords":
            topics[1]["keywords"] = draw(st.sampled_from([{"a": 1}, [[1]], [{"x": 1}]]))
        else:
            topics[1][where] = value
    elif edit == "unknown_key":
        target = draw(st.sampled_from(["top", "topic", "rule"]))
        key = draw(st.sampled_from(["lable", "merge-into", "Path", "extra"]))
        (data if target == "top" else topics[1] if target == "topic" else data["rules"][0])[key] = (
            "x"
        )
    elif edit == "duplicate_path":
        topics.append(dict(topics[2]))
    elif edit == "bad_action":
        topics[1]["action"] = draw(st.sampled_from(["merge", "merge:", "explode", "merge: 77"]))
    elif edit == "deep_level":
        topics.append({"path": "0.0.0"})
    elif edit == "huge_topics":
        n = draw(st.sampled_from([200, 2_000]))
        topics.extend({"path": f"0.{i}", "label": f"t{i}"} for i in range(3, n))
        must_reject = True  # known paths stop at 0.2
    elif edit == "long_chain":
        n = draw(st.sampled_from([50, 3_000]))
        topics.extend(
            {"path": f"0.{i}", "action": "merge", "merge_into": f"0.{i + 1}"} for i in range(3, n)
        )
        topics.append({"path": f"0.{n}"})
    elif edit == "long_text":
        topics[1]["label"] = draw(big_texts(200_000))
        topics[1]["notes"] = draw(_SCRIPTS)
        must_reject = False
    elif edit == "bad_version":
        data["version"] = draw(st.sampled_from([0, -3, "v2", None, 1.5]))
    elif edit == "valid_label":
        topics[2]["label"] = draw(st.text(st.characters(codec="utf-8"), max_size=40))
        topics[2]["notes"] = draw(st.text(st.characters(codec="utf-8"), max_size=40))
        must_reject = False
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=draw(st.booleans()))
    if edit.startswith("text_"):
        lines = base.splitlines(keepends=True)
        at = draw(st.integers(0, len(lines) - 1))
        if edit == "text_delete_line":
            del lines[at]
        elif edit == "text_insert":
            lines.insert(at, draw(st.text(st.characters(codec="utf-8"), max_size=30)) + "\n")
        elif edit == "text_indent":
            lines[at] = draw(st.sampled_from([" ", "\t", "   - "])) + lines[at]
        text = "".join(lines)
        if edit == "text_truncate":
            text = base[: draw(st.integers(0, len(base)))]
        must_reject = False  # some text edits leave a valid file
    elif edit == "alias_bomb":
        levels = draw(st.integers(3, 12))
        bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for i in range(1, levels):
            refs = ", ".join([f"*a{i - 1}"] * 10)
            bomb.append(f"a{i}: &a{i} [{refs}]")
        text = base + "\n".join(bomb) + "\n"
    elif edit == "deep_nesting":
        depth = draw(st.sampled_from([100, 5_000, 100_000]))
        text = base + "extra: " + "[" * depth + "]" * depth + "\n"
    return MappingCase(text, edit, must_reject)


def random_yaml_mappings() -> st.SearchStrategy[MappingCase]:
    """Random YAML documents and random text: not mappings at all, mostly."""
    documents = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["version", "layer", "topics", "rules", "path", "label", "x"]),
                inner,
                max_size=5,
            )
        ),
        max_leaves=20,
    ).map(lambda d: yaml.safe_dump(d, sort_keys=False))
    return st.one_of(documents, st.text(st.characters(codec="utf-8"), max_size=200)).map(
        lambda t: MappingCase(t, "random_yaml", False)
    )


def mapping_cases() -> st.SearchStrategy[MappingCase]:
    return st.one_of(mapping_edits(), random_yaml_mappings())


def check_mapping(case: MappingCase, folder: Path, outcome: Outcome | None = None) -> Outcome:
    """Read ``case`` as a mapping file next to a valid one; assert the mapping contract.

    The edited file either loads (and then dumps and loads back to the same mapping) or
    raises ``MappingError`` naming the file and, for a non-empty file, a line; a
    rejected file leaves the previously valid mapping, its file and its resolution as
    they were, and is not rewritten.
    """
    from topicstrata.errors import MappingError
    from topicstrata.mapping import apply_mapping, dumps_mapping, load_mapping, loads_mapping

    valid_file = folder / "mapping.v2.yaml"
    valid_file.write_text(valid_mapping_text(), encoding="utf-8")
    previous = load_mapping(valid_file, KNOWN_PATHS)
    snapshot = copy.deepcopy(previous.model_dump())
    paths = [*list(KNOWN_PATHS), "0.1.5", "7"]
    before = [list(a) for a in apply_mapping(paths, previous)]
    edited = folder / "mapping.v3.yaml"
    edited.write_bytes(case.text.encode("utf-8", errors="surrogatepass"))
    edited_bytes = edited.read_bytes()
    outcome = outcome or Outcome("mapping")
    with _no_stray_errors("mapping"):
        try:
            mapping = load_mapping(edited, KNOWN_PATHS)
        except MappingError as exc:
            message = str(exc)
            _assert_message(message, names=(edited.name,), what=f"mapping ({case.edit})")
            if case.text.strip() and "empty" not in message:
                assert re.search(r"line \d+", message), f"no line named: {message}"
            outcome.error = message
        except TopicStrataError as exc:
            raise AssertionError(f"not a MappingError: {type(exc).__name__}: {exc}") from exc
        else:
            assert not case.must_reject, f"the edit {case.edit!r} was accepted"
            again = loads_mapping(dumps_mapping(mapping), KNOWN_PATHS, source="round trip")
            assert again == mapping, "load(dump(m)) != m"
    assert previous.model_dump() == snapshot, "the previous mapping object changed"
    assert valid_file.read_text(encoding="utf-8") == valid_mapping_text()
    assert edited.read_bytes() == edited_bytes, "the rejected file was rewritten"
    assert [list(a) for a in apply_mapping(paths, previous)] == before
    return outcome


# ------------------------------------------------------------------------ config cases


@dataclass
class ConfigCase:
    """A ``strata fit --config`` file, or ``--param`` overrides of the default pipeline.

    ``key`` is the dotted key the strategy broke (``None``: nothing on purpose);
    ``must_reject`` when the value is certainly invalid.
    """

    via: str  # "file" or "param"
    raw: bytes = b""
    params: list[str] = field(default_factory=list)
    key: str | None = None
    must_reject: bool = False

    def __repr__(self) -> str:
        return (
            f"ConfigCase(via={self.via!r}, key={self.key!r}, must_reject={self.must_reject}, "
            f"params={self.params!r}, raw={self.raw[:2000]!r})"
        )


def _default_config() -> dict[str, Any]:
    data = StrataConfig().model_dump(mode="json")
    data["ingest"] = {"text_cols": ["details"], "chunk_rows": 1000, "delimiter": None}
    data["preprocess"] = {"mode": "fast", "batch_size": 64, "min_token_length": 2}
    return data


#: Free-form sections whose keys nobody checks at fit time, by design.
_FREE = ("tune", "embed.options", "embed.sampling.student")


def _leaves(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list) and data and isinstance(data[0], dict):
        for i, value in enumerate(data):
            yield from _leaves(value, f"{prefix}.{i}")
    else:
        yield prefix, data


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value


#: Keys whose value must be a positive size (or >= some floor): negative is invalid.
_SIZES = re.compile(
    r"(batch_size|chunk_rows|min_rows|teacher_rows|n_components|n_neighbors|branching_factor|"
    r"max_subclusters|max_fit_samples|top_n_words|min_df|max_samples|min_size|min_token_length|"
    r"stability_sample|parallel_min_rows)$"
)


@st.composite
def config_cases(draw: st.DrawFn) -> ConfigCase:
    """One broken (or random) value in a config file or a ``--param`` override."""
    data = _default_config()
    leaves = [(k, v) for k, v in _leaves(data) if not k.startswith(_FREE)]
    kind = draw(
        st.sampled_from(
            ["unknown_key", "wrong_type", "negative", "k_reversed", "k_low", "random", "valid"]
        )
    )
    key: str | None = None
    must_reject = True
    if kind == "unknown_key":
        sections = [
            "",
            "ingest",
            "preprocess",
            "embed",
            "embed.sampling",
            "ensemble",
            "ensemble.layers.0",
            "ensemble.split",
            "evaluate",
        ]
        section = draw(st.sampled_from(sections))
        name = draw(st.sampled_from(["chunk_row", "k-range", "Backend", "layers2", "zzz"]))
        key = f"{section}.{name}" if section else name
        _set(data, key, 1)
    elif kind == "wrong_type":
        key, value = draw(st.sampled_from(leaves))
        if isinstance(value, bool):
            bad: Any = draw(st.sampled_from([[True], {"a": 1}, "maybe"]))
        elif isinstance(value, int | float):
            bad = draw(st.sampled_from([[1], {"a": 1}, "many", "1.5.2"]))
        elif isinstance(value, str):
            bad = draw(st.sampled_from([[1], {"a": 1}]))
        elif isinstance(value, list):
            bad = draw(st.sampled_from([{"a": 1}, "x", 3.5]))
        else:  # None: an optional value; a mapping never fits one
            bad = {"a": 1}
        _set(data, key, bad)
    elif kind == "negative":
        sized = [k for k, _ in leaves if _SIZES.search(k)]
        key = draw(st.sampled_from(sized))
        _set(data, key, draw(st.sampled_from([-1, -100, -(10**12)])))
    elif kind == "k_reversed":
        layer = draw(st.integers(0, len(data["ensemble"]["layers"]) - 1))
        key = f"ensemble.layers.{layer}.k_range"
        _set(data, key, draw(st.sampled_from([[25, 15], [6, 2], [3, 2]])))
    elif kind == "k_low":
        key = "ensemble.layers.0.k_range"
        _set(data, key, draw(st.sampled_from([[0, 5], [-3, 4], [1, 1], [2]])))
    elif kind == "random":
        key, _ = draw(st.sampled_from(leaves))
        _set(data, key, draw(_JSON_VALUES))
        must_reject = False
    else:
        must_reject = False
    via = draw(st.sampled_from(["file", "param"]))
    if via == "file":
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        damage = draw(st.sampled_from(["none", "none", "none", "tab", "truncate", "latin1"]))
        if damage == "tab":
            text = "\t" + text
            key, must_reject = None, True
        elif damage == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
            key, must_reject = None, False
        raw = text.encode("utf-8")
        if damage == "latin1":
            raw = "# réglages\n".encode("latin-1") + raw
            key, must_reject = None, True
        return ConfigCase("file", raw, key=key, must_reject=must_reject)
    params: list[str] = []
    if key is not None:
        value = data
        for part in key.split("."):
            value = value[int(part)] if isinstance(value, list) else value[part]
        if ".layers." in key:
            params.append(f"config.ensemble.layers={json.dumps(data['ensemble']['layers'])}")
        else:
            params.append(f"config.{key}={json.dumps(value)}")
    extra = draw(
        st.lists(
            st.sampled_from(
                [
                    "tune_trials=-1",
                    "min_npmi=abc",
                    "auto_approve=maybe",
                    "nokey",
                    "=5",
                    "config=[1]",
                    "data.x=1",
                    "tune_trials=1e400",
                    "min_npmi=nan",
                    "labels=[x]",
                ]
            ),
            max_size=2,
            unique_by=lambda item: item.partition("=")[0],  # a later --param k=v wins
        )
    )
    broken = {"min_npmi=abc", "auto_approve=maybe", "nokey", "=5", "config=[1]", "data.x=1"}
    broken.update({"tune_trials=1e400", "min_npmi=nan"})  # nan: a gate that refuses all
    if broken & set(extra):
        key, must_reject = None, True
    return ConfigCase("param", params=[*params, *extra], key=key, must_reject=must_reject)


def check_config(case: ConfigCase, folder: Path, outcome: Outcome | None = None) -> Outcome:
    """Validate ``case`` the way ``strata fit`` does; assert the config contract.

    A file goes through ``StrataConfig.from_yaml``; overrides go through the default
    pipeline's ``resolve_params`` and its config step, which validates the whole
    config before any work. An error must name the file (for a file) and the key
    that was broken; a value that is certainly invalid must not be accepted.
    """
    from topicstrata.pipeline import parse_param_overrides
    from topicstrata.pipeline.topic import build_pipeline, config_sections

    outcome = outcome or Outcome("config")
    path = folder / "strata.yaml"
    with _no_stray_errors("config"):
        try:
            if case.via == "file":
                path.write_bytes(case.raw)
                StrataConfig.from_yaml(path)
            else:
                pipeline = build_pipeline(3)
                params = pipeline.resolve_params(None, parse_param_overrides(case.params))
                config_sections(params["config"])
        except TopicStrataError as exc:
            message = str(exc)
            names = (path.name,) if case.via == "file" else ("param", "parameter", "config")
            _assert_message(message, names=names, what=f"config ({case.key})")
            if case.key is not None:
                parts = [p for p in case.key.split(".") if not p.isdigit()]
                assert any(p in message for p in parts), f"key {case.key} not named: {message}"
            outcome.error = message
            return outcome
    assert not case.must_reject, f"accepted a broken config ({case.key})"
    return outcome


# ------------------------------------------------------------------------ targets

#: Fuzz targets by name: (strategy factory taking the largest field size, oracle).
Oracle = Callable[[Any, Path, Outcome | None], Outcome]
TARGETS: dict[str, tuple[Callable[[int], st.SearchStrategy[Any]], Oracle]]
TARGETS = {
    "csv": (csv_cases, check_ingest),
    "jsonl": (jsonl_cases, check_ingest),
    "parquet": (parquet_cases, check_ingest),
    "salesforce": (salesforce_cases, check_ingest),
    "mapping": (lambda _size: mapping_cases(), check_mapping),
    "config": (lambda _size: config_cases(), check_config),
}

__all__ = [
    "BENCH_FIELD_BYTES",
    "CI_FIELD_BYTES",
    "TARGETS",
    "ConfigCase",
    "IngestCase",
    "MappingCase",
    "Outcome",
    "check_config",
    "check_ingest",
    "check_mapping",
    "config_cases",
    "csv_cases",
    "ingest_cases",
    "jsonl_cases",
    "mapping_cases",
    "parquet_cases",
    "salesforce_cases",
]
