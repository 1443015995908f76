"""The one exception type for mistakes of the user's.

A `UserError` ends the run with exit code 2 and its message on one line of stderr, no traceback
(see `run.py`). Its message names the file, record or option at fault and says how to fix it.
"""


class UserError(Exception):
    """A problem with the user's command, config or data (exit code 2)."""


class RefusedStart(UserError):
    """A start refused before it changed its run folder, which holds another run (a live process holds it, or it
    would resume a run started with another config): exit code 2, and no error.json there, since that run did not
    fail."""
