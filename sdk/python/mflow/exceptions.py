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


class HTTPError(MflowException):
    """Raised in an endpoint: `mflow serve` answers {"error": message} with this status
    (400 to 599; anything else is 500)."""

    def __init__(self, status, message=None):
        status = status if isinstance(status, int) and not isinstance(status, bool) and \
            400 <= status <= 599 else 500
        self.status = status
        self.message = "HTTP %d" % status if message is None else str(message)
        super().__init__(self.message)
