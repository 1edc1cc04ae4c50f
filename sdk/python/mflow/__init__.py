"""mflow's Python SDK: values in the datastore (codec) and the notebook client."""
from .client import (DataArtifact, Flow, Run, Step, Task, default_namespace, flows,
                     get_namespace, namespace)
from .codec import decode, decode_blob, encode, encode_blob
from .exceptions import (MflowCorrupt, MflowException, MflowInvalid, MflowNamespaceMismatch,
                         MflowNewerFormat, MflowNotFound)

__all__ = ["Flow", "Run", "Step", "Task", "DataArtifact", "namespace", "get_namespace",
           "default_namespace", "flows",
           "encode", "decode", "encode_blob", "decode_blob",
           "MflowException", "MflowNotFound", "MflowNamespaceMismatch", "MflowInvalid",
           "MflowCorrupt", "MflowNewerFormat"]
