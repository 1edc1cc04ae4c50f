"""mflow's Python SDK: flows (FlowSpec, step, Parameter, current and the step decorators)
run by the C core, values in the datastore (codec) and the notebook client."""
from .codec import decode, decode_blob, encode, encode_blob
from .current import current
from .decorators import (catch, compute, endpoint, environment, resources, retry, step,
                         timeout)
from .exceptions import (HTTPError, MflowCorrupt, MflowException, MflowInvalid,
                         MflowNamespaceMismatch, MflowNewerFormat, MflowNotFound)
from .flowspec import FlowSpec, MflowError
from .parameter import Parameter

__all__ = ["FlowSpec", "step", "Parameter", "current", "resources", "retry", "catch",
           "timeout", "environment", "compute", "endpoint", "HTTPError", "MflowError",
           "Flow", "Run", "Step", "Task", "DataArtifact", "namespace", "get_namespace",
           "default_namespace", "flows",
           "encode", "decode", "encode_blob", "decode_blob",
           "MflowException", "MflowNotFound", "MflowNamespaceMismatch", "MflowInvalid",
           "MflowCorrupt", "MflowNewerFormat"]

# The notebook client, imported on first use: a flow's tasks never need it, and it was a third
# of the package's import time in every cold python3 (the task server's start among them).
_CLIENT = ("DataArtifact", "Flow", "Run", "Step", "Task", "default_namespace", "flows",
           "get_namespace", "namespace")


def __getattr__(name):
    if name in _CLIENT:
        from . import client
        return getattr(client, name)
    raise AttributeError("module 'mflow' has no attribute %r" % name)


def __dir__():
    return sorted(set(globals()) | set(_CLIENT))
