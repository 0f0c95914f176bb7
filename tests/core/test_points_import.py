"""Opening balances from CSV: whole-file validation, idempotent re-runs, conflicts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.services.points_import import (
    ImportFileInvalid,
    import_points,
    read_import_file,
)

STORE = "shop"


@pytest.fixture
def program(tmp_path: Path) -> Iterator[LoyaltyProgram]:
    with LoyaltyProgram.open(
        f"sqlite:///{tmp_path / 'loyalty.db'}", load_entrypoints=False
    ) as opened:
        yield opened


def csv_file(tmp_path: Path, text: str, name: str = "balances.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ImportFileInvalid) as caught:
        read_import_file(path, platform="woocommerce")
    return [str(p) for p in caught.value.problems]


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "email,points,customer_id\n"
        "ok@example.com,10,\n"
        "\n"  # blank lines are skipped but still counted
        "bad email,5,\n"
        "x@example.com,-3,\n"
        "y@example.com,2.5,\n"
        "OK@example.com,1,\n"
        "z@example.com,1,abc\n"
        "w@example.com,1\n",
    )
    assert problems_of(path) == [
        "line 4: email 'bad email' is not an e-mail address",
        "line 5: points -3 is negative",
        "line 6: points '2.5' is not a whole number",
        "line 7: duplicate e-mail ok@example.com (first on line 2)",
        "line 8: customer_id 'abc' is not a WooCommerce customer number",
        "line 9: expected 3 fields, found 2",
    ]


def test_missing_columns_and_empty_file(tmp_path: Path) -> None:
    assert problems_of(csv_file(tmp_path, "mail,pts\na@b.co,1\n")) == [
        "line 1: missing column 'email'",
        "line 1: missing column 'points'",
    ]
    assert problems_of(csv_file(tmp_path, "")) == ["line 1: the file is empty (no header row)"]
    assert problems_of(csv_file(tmp_path, "email,points,email\n")) == [
        "line 1: column 'email' appears twice"
    ]


def test_excel_bom_extra_columns_and_case(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffEmail,Points,Name\r\nA@Example.COM, 7 ,Ann\r\n".encode())
    (row,) = read_import_file(path, platform="woocommerce")
    assert (row.email, row.points, row.customer_id) == ("a@example.com", 7, None)


def test_import_enrols_posts_once_and_reimport_is_a_no_op(
    program: LoyaltyProgram, tmp_path: Path
) -> None:
    path = csv_file(
        tmp_path,
        "email,points,customer_id,note\n"
        "ann@example.com,120,17,  from old   shop \n"
        "bob@example.com,0,,\n"
        "cid@example.com,30,0,\n",
    )
    report = import_points(program, path, platform="woocommerce", store=STORE)
    assert (report.rows, report.imported, report.points_imported) == (3, 2, 150)
    assert report.enrolled_only == 1 and report.ok
    ann = program.find_member("woocommerce", STORE, "17")
    assert ann is not None and program.balance(ann.id).available == 120
    assert program.history(ann.id)[-1].reason == "imported from balances.csv: from old shop"
    bob = program.find_member("woocommerce", STORE, "email:bob@example.com")
    assert bob is not None and program.balance(bob.id).available == 0
    # customer_id 0 is WooCommerce's guest: known by e-mail only
    assert program.find_member("woocommerce", STORE, "email:cid@example.com") is not None

    again = import_points(program, path, platform="woocommerce", store=STORE)
    assert (again.imported, again.already_imported, again.enrolled_only) == (0, 2, 1)
    assert program.balance(ann.id).available == 120
    assert program.verify().ok


def test_changed_amount_is_a_conflict_not_a_second_posting(
    program: LoyaltyProgram, tmp_path: Path
) -> None:
    import_points(
        program, csv_file(tmp_path, "email,points\na@example.com,10\n"), platform="x", store=STORE
    )
    changed = csv_file(tmp_path, "email,points\na@example.com,99\nb@example.com,5\n")
    report = import_points(program, changed, platform="x", store=STORE)
    assert not report.ok and report.imported == 1
    (conflict,) = report.conflicts
    assert conflict.line == 2 and "already imported" in conflict.message
    member = program.find_member("x", STORE, "email:a@example.com")
    assert member is not None and program.balance(member.id).available == 10


def test_dry_run_and_invalid_file_write_nothing(program: LoyaltyProgram, tmp_path: Path) -> None:
    good = csv_file(tmp_path, "email,points\na@example.com,10\nb@example.com,5\n")
    report = import_points(program, good, platform="woocommerce", store=STORE, dry_run=True)
    assert (report.rows, report.total_points, report.imported) == (2, 15, 0)
    assert program.members() == []
    bad = csv_file(tmp_path, "email,points\nc@example.com,10\nd@example.com,x\n", "bad.csv")
    with pytest.raises(ImportFileInvalid):
        import_points(program, bad, platform="woocommerce", store=STORE)
    assert program.members() == []
