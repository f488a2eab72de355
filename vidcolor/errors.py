"""The library's exceptions. Only the CLI turns them into exit codes."""
import errno


class VidcolorError(Exception):
    """Base of every error vidcolor reports to a user as one line (the message names the file)."""


class InputError(VidcolorError):
    """An input that cannot be read: missing, not media, corrupt or truncated, no video stream."""


class StillImageError(InputError):
    """A file given as a video that FFmpeg reads as one picture; `format` names it ("PNG", "J2K", "GIF")."""

    def __init__(self, message: str, format: str):
        super().__init__(message)
        self.format = format


def first_line(e: BaseException, limit: int = 120, default: str | None = None) -> str:
    """An exception's message cut to its first line (at most `limit` characters), for a one-line report;
    `default` (else the exception's type name) where it has none."""
    return (str(e).splitlines() or [type(e).__name__ if default is None else default])[0][:limit]


def add_note(e: BaseException, note: str) -> None:
    """`e.add_note(note)` on Python 3.10 too, whose exceptions have no add_note (requires-python is 3.10): its
    AttributeError had replaced the exception being noted. A traceback prints the notes from 3.11 on."""
    e.__notes__ = [*getattr(e, "__notes__", ()), note]


class OutputError(VidcolorError):
    """An output that cannot be written: unwritable folder, output equal to input, encoder failure."""


class ForeignOutputError(OutputError):
    """A file at the output that vidcolor may not replace without --overwrite: one it did not write, or one
    edited or made read-only since it wrote it. For a single input the CLI exits 2, as when the plan finds it."""


class UsageError(VidcolorError):
    """A request that cannot be carried out as given, found before any work starts: an impossible
    output, an output file that vidcolor did not write, an unknown encoder."""


class WeightsError(VidcolorError):
    """Missing, corrupt or mismatched model weights."""


class LockedError(VidcolorError):
    """Another run holds the output folder's lock."""


class StorageError(VidcolorError):
    """The output's storage failed under a run: a full disk or quota, or the journal or report that could
    not be written. Unlike an OutputError, which fails one input, it stops the run in order (what it
    finished is kept and journaled): every input after it would fail the same way."""


def out_of_space(e: BaseException) -> bool:
    """Whether an OSError (or PyAV's FFmpegError, which carries the errno too) is a full disk or quota (the
    run stops: StorageError) rather than one file's problem."""
    return getattr(e, "errno", None) in (errno.ENOSPC, errno.EDQUOT)


def write_failure(e: BaseException, message: str, kept: str = "") -> VidcolorError:
    """The error for a write into the output that failed with `e` (`message` names the file and why): a
    StorageError that stops the run, saying so and what is `kept`, where the disk or quota is full; else an
    OutputError, which fails that input alone."""
    if out_of_space(e):
        return StorageError(f"{message}; the run stops{kept}")
    return OutputError(message)


FINISHED = "_vidcolor_finished"  # set on what stopped a run after an input was journaled as finished (finished_before)


def carry_finished(e: BaseException, result) -> None:
    """Hand `result` (an input journaled as finished) along with `e`, what stopped the run before it returned."""
    setattr(e, FINISHED, result)


def finished_before(e: BaseException):
    """The Result an input's run journaled as finished before `e` stopped it (None if none), taken once: the
    caller that reports it (colorize_folder, api.colorize) takes it off, so no caller above reports it again."""
    return vars(e).pop(FINISHED, None) if hasattr(e, "__dict__") else None


RAISED_BY_CALLER = "_vidcolor_raised_by_caller"  # set on an exception from a caller's callback (api._callers)


def raised_by_caller(e: BaseException) -> bool:
    """Whether `e` came from the caller's own callback (a progress function): a folder run's guard, which
    fails one input on a vidcolor defect, lets such an exception through to the caller."""
    return getattr(e, RAISED_BY_CALLER, False)
