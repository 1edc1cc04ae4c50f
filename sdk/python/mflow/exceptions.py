"""The errors of mflow's Python SDK. Each carries the message mflow (or the C client) gave,
which names the thing and says what to do."""


class MflowException(Exception):
    """Every error of the Python SDK."""


class MflowNotFound(MflowException, LookupError):
    """No such flow, run, step, task or artifact (in the current namespace)."""


class MflowNamespaceMismatch(MflowNotFound):
    """The object exists, but in another namespace: set namespace(None) or its namespace."""


class MflowInvalid(MflowException, ValueError):
    """An argument mflow cannot use: a pathspec of the wrong shape, an empty tag."""


class MflowCorrupt(MflowException, ValueError):
    """Stored data that does not match the format (sdk/DATASTORE.md): damage, never guessed."""


class MflowNewerFormat(MflowException):
    """Data of a newer format or a newer value type than this mflow knows: upgrade mflow."""
