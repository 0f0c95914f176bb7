"""Importing opening balances from a CSV file (moving from another loyalty program).

The file has a header row; columns (any order, other columns are ignored):

========== ======== ===========================================================
column     required meaning
========== ======== ===========================================================
email      yes      the customer's e-mail (unique in the file, case-insensitive)
points     yes      opening balance: a whole number >= 0 (0 only enrols)
customer_id no      the store's customer id (blank: matched by e-mail)
note       no       appended to the ledger reason
========== ======== ===========================================================

The **whole file is validated first**; if any row is bad, :class:`ImportFileInvalid`
lists every problem with its line number and nothing is imported. Each row then
enrols (or finds) the member and posts one adjustment with the idempotency key
``import:<store>:<email>``, so importing the same file again changes nothing. A row
that was already imported with a different amount or note is reported as a conflict
(the ledger refuses to apply one key twice with different content) and left alone.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from loyalty_plugins.domain.orders import CustomerRef
from loyalty_plugins.domain.points import MAX_POINTS
from loyalty_plugins.errors import IdempotencyMismatch, LoyaltyError, ValidationError
from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.services.members import normalize_email

__all__ = [
    "ACTOR",
    "ImportFileInvalid",
    "ImportProblem",
    "ImportReport",
    "ImportRow",
    "import_points",
    "read_import_file",
]

#: The ``actor`` recorded on every imported adjustment.
ACTOR = "import"
REQUIRED_COLUMNS: tuple[str, ...] = ("email", "points")
OPTIONAL_COLUMNS: tuple[str, ...] = ("customer_id", "note")

_EMAIL_RE = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+")
_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
_DIGITS_RE = re.compile(r"[0-9]+")

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """Something wrong with one line of the file."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportFileInvalid(ValidationError):
    """The file has problems; nothing was imported. ``problems`` lists every one."""

    def __init__(self, path: Path, problems: list[ImportProblem]) -> None:
        count = len(problems)
        super().__init__(
            "csv",
            f"{path}: {count} problem{'s' if count != 1 else ''}, nothing imported",
        )
        self.path = path
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One valid row."""

    line: int
    email: str
    points: int
    customer_id: str | None = None
    note: str = ""


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    path: Path
    store: str
    dry_run: bool
    rows: int = 0
    total_points: int = 0
    imported: int = 0
    points_imported: int = 0
    already_imported: int = 0
    enrolled_only: int = 0
    conflicts: list[ImportProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every row is in the ledger as the file says."""
        return not self.conflicts


def _parse_row(
    line: int, values: dict[str, str], platform: str
) -> tuple[ImportRow | None, list[str]]:
    problems: list[str] = []
    raw_email = values.get("email", "").strip()
    email = normalize_email(raw_email)
    if not email:
        problems.append("email is empty")
    elif not _EMAIL_RE.fullmatch(email):
        problems.append(f"email {raw_email!r} is not an e-mail address")
    raw_points = values.get("points", "").strip()
    points = 0
    if not raw_points:
        problems.append("points is empty")
    elif not _INTEGER_RE.fullmatch(raw_points):
        problems.append(f"points {raw_points!r} is not a whole number")
    else:
        points = int(raw_points)
        if points < 0:
            problems.append(f"points {points} is negative")
        elif points > MAX_POINTS:
            problems.append(f"points {points} is more than the maximum of {MAX_POINTS}")
    customer_id: str | None = values.get("customer_id", "").strip() or None
    if customer_id is not None and platform == "woocommerce":
        if not _DIGITS_RE.fullmatch(customer_id):
            problems.append(f"customer_id {customer_id!r} is not a WooCommerce customer number")
        elif int(customer_id) == 0:
            customer_id = None  # WooCommerce's id of a guest
    if problems or email is None:
        return None, problems
    note = " ".join(values.get("note", "").split())
    return ImportRow(line, email, points, customer_id, note), []


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) of each CSV record; blank lines are skipped."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        end = 0
        try:
            for record in reader:
                start, end = end + 1, reader.line_num
                if record and any(cell.strip() for cell in record):
                    yield start, record
        except csv.Error as exc:
            raise ImportFileInvalid(
                path, [ImportProblem(reader.line_num, f"not valid CSV: {exc}")]
            ) from None


def read_import_file(path: Path, *, platform: str) -> list[ImportRow]:
    """Parse and validate the whole file; raises :class:`ImportFileInvalid` listing every
    problem (missing columns, bad e-mails, bad points, duplicates)."""
    problems: list[ImportProblem] = []
    rows: list[ImportRow] = []
    try:
        records = list(_records(path))
    except FileNotFoundError:
        raise ValidationError("csv", f"{path}: file not found") from None
    except OSError as exc:
        raise ValidationError("csv", f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ImportFileInvalid(
            path, [ImportProblem(1, f"not UTF-8 text (byte {exc.start})")]
        ) from None
    if not records:
        raise ImportFileInvalid(path, [ImportProblem(1, "the file is empty (no header row)")])
    header_line, header = records[0]
    columns = [name.strip().lower() for name in header]
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            problems.append(ImportProblem(header_line, f"missing column {name!r}"))
    for name in sorted({c for c in columns if c and columns.count(c) > 1}):
        problems.append(ImportProblem(header_line, f"column {name!r} appears twice"))
    if problems:
        raise ImportFileInvalid(path, problems)

    seen_emails: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for line, record in records[1:]:
        if len(record) != len(columns):
            problems.append(
                ImportProblem(line, f"expected {len(columns)} fields, found {len(record)}")
            )
            continue
        row, messages = _parse_row(line, dict(zip(columns, record, strict=True)), platform)
        problems.extend(ImportProblem(line, message) for message in messages)
        if row is None:
            continue
        if row.email in seen_emails:
            problems.append(
                ImportProblem(
                    line, f"duplicate e-mail {row.email} (first on line {seen_emails[row.email]})"
                )
            )
            continue
        seen_emails[row.email] = line
        if row.customer_id is not None:
            if row.customer_id in seen_ids:
                problems.append(
                    ImportProblem(
                        line,
                        f"duplicate customer_id {row.customer_id} "
                        f"(first on line {seen_ids[row.customer_id]})",
                    )
                )
                continue
            seen_ids[row.customer_id] = line
        rows.append(row)
    if problems:
        raise ImportFileInvalid(path, sorted(problems, key=lambda p: p.line))
    return rows


def import_points(
    program: LoyaltyProgram,
    path: Path,
    *,
    platform: str,
    store: str,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import opening balances from ``path`` for customers of ``platform``/``store``.

    Validates the whole file first (:class:`ImportFileInvalid` on any problem, nothing
    written). Then, unless ``dry_run``, each row is one enrolment plus one idempotent
    adjustment (``reason="imported from <file name>[: note]"``, ``actor="import"``).
    """
    path = Path(path)
    rows = read_import_file(path, platform=platform)
    report = ImportReport(path=path, store=store, dry_run=dry_run, rows=len(rows))
    report.total_points = sum(row.points for row in rows)
    if dry_run:
        return report
    for done, row in enumerate(rows, start=1):
        member_id = program.ensure_member(
            CustomerRef(platform, store, row.customer_id, email=row.email)
        )
        if row.points == 0:
            report.enrolled_only += 1
        else:
            reason = f"imported from {path.name}" + (f": {row.note}" if row.note else "")
            try:
                result = program.adjust(
                    member_id,
                    row.points,
                    reason=reason,
                    actor=ACTOR,
                    idempotency_key=f"import:{store}:{row.email.lower()}",
                )
            except IdempotencyMismatch:
                report.conflicts.append(
                    ImportProblem(
                        row.line,
                        f"{row.email} was already imported with a different amount or note; "
                        "left unchanged (use loyalty points adjust to correct it)",
                    )
                )
            except LoyaltyError as exc:
                report.conflicts.append(ImportProblem(row.line, f"{row.email}: {exc}"))
            else:
                if result.replayed:
                    report.already_imported += 1
                else:
                    report.imported += 1
                    report.points_imported += row.points
        if progress is not None:
            progress(done, len(rows))
    return report
