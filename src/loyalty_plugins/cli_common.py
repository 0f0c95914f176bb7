"""What every ``loyalty`` command shares: consoles, options, exit codes, error handling.

Exit codes (for cron): 0 success; 1 a :class:`LoyaltyError` (bad input, refused, not
found: the message says which); 2 usage error; 3 ``ledger verify`` found problems;
4 another run holds the lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from loyalty_plugins.config import load_config
from loyalty_plugins.errors import LockBusy, LoyaltyError
from loyalty_plugins.program import LoyaltyProgram

EXIT_ERROR = 1
EXIT_VERIFY_FAILED = 3
EXIT_LOCK_BUSY = 4

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", envvar="LOYALTY_CONFIG", help="Path to loyalty.toml."),
]
DEFAULT_CONFIG = Path("loyalty.toml")


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print ``message`` as an error (markup-safe) and exit with ``code``."""
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


@contextmanager
def open_program(config: Path) -> Iterator[LoyaltyProgram]:
    """The program of ``config``; a LoyaltyError becomes exit 1, LockBusy exit 4."""
    try:
        program = LoyaltyProgram(load_config(config))
    except LoyaltyError as exc:
        fail(str(exc))
    try:
        yield program
    except LockBusy as exc:
        err.print(f"[yellow]busy:[/yellow] {escape(str(exc))}")
        raise typer.Exit(EXIT_LOCK_BUSY) from None
    except LoyaltyError as exc:
        fail(str(exc))
    finally:
        program.close()


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr when it is a terminal; silent under cron."""
    if not err.is_terminal:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
