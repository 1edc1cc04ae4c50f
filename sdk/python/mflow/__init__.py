"""mflow's Python SDK: values in the datastore (codec) and the notebook client."""
from .codec import decode, decode_blob, encode, encode_blob
from .exceptions import (MflowCorrupt, MflowException, MflowInvalid, MflowNamespaceMismatch,
                         MflowNewerFormat, MflowNotFound)

__all__ = ["encode", "decode", "encode_blob", "decode_blob",
           "MflowException", "MflowNotFound", "MflowNamespaceMismatch", "MflowInvalid",
           "MflowCorrupt", "MflowNewerFormat"]
