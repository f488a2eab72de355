"""The library's exceptions. Only the CLI turns them into exit codes."""


class VidcolorError(Exception):
    """Base of every error vidcolor reports to a user as one line (the message names the file)."""


class InputError(VidcolorError):
    """An input that cannot be read: missing, not media, corrupt or truncated, no video stream."""


class OutputError(VidcolorError):
    """An output that cannot be written: unwritable folder, output equal to input, encoder failure."""


class UsageError(VidcolorError):
    """A request that cannot be carried out as given, found before any work starts: an impossible
    output, an output file that vidcolor did not write, an unknown encoder."""


class WeightsError(VidcolorError):
    """Missing, corrupt or mismatched model weights."""


class LockedError(VidcolorError):
    """Another run holds the output folder's lock."""
