"""mflow's Python SDK: flows (FlowSpec, step, Parameter, current and the step decorators)
run by the C core, values in the datastore (codec) and the notebook client."""
from .client import (DataArtifact, Flow, Run, Step, Task, default_namespace, flows,
                     get_namespace, namespace)
from .codec import decode, decode_blob, encode, encode_blob
from .current import current
from .decorators import catch, compute, environment, resources, retry, step, timeout
from .exceptions import (MflowCorrupt, MflowException, MflowInvalid, MflowNamespaceMismatch,
                         MflowNewerFormat, MflowNotFound)
from .flowspec import FlowSpec, MflowError
from .parameter import Parameter

__all__ = ["FlowSpec", "step", "Parameter", "current", "resources", "retry", "catch",
           "timeout", "environment", "compute", "MflowError",
           "Flow", "Run", "Step", "Task", "DataArtifact", "namespace", "get_namespace",
           "default_namespace", "flows",
           "encode", "decode", "encode_blob", "decode_blob",
           "MflowException", "MflowNotFound", "MflowNamespaceMismatch", "MflowInvalid",
           "MflowCorrupt", "MflowNewerFormat"]
