"""Finding and loading libmflow.so, the C core the client reads through (ctypes).

MFLOW_LIBMFLOW (a path) first, then the library this package was installed with (_config.py,
written at build time). Loaded once, RTLD_GLOBAL, so that the plugins libmflow loads find
its symbols."""
import ctypes
import os

from .exceptions import MflowException

_lib = None
_libc = None


def libmflow_path():
    p = os.environ.get("MFLOW_LIBMFLOW")
    if p:
        return p
    try:
        from . import _config
    except ImportError:
        raise MflowException("cannot find libmflow.so: this mflow package was not installed "
                             "by meson (no mflow/_config.py); set MFLOW_LIBMFLOW to the path "
                             "of libmflow.so (in a build tree: build/core/libmflow.so)")
    return _config.LIBMFLOW


def mflow_command():
    """The mflow command that goes with the library: MFLOW_BIN, the installed one, or mflow."""
    p = os.environ.get("MFLOW_BIN")
    if p:
        return p
    try:
        from . import _config
        return _config.MFLOW
    except ImportError:
        return "mflow"


def load():
    global _lib
    if _lib is None:
        path = libmflow_path()
        try:
            _lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError as e:
            raise MflowException(f"cannot load libmflow from {path}: {e} (set MFLOW_LIBMFLOW "
                                 "to the path of this mflow's libmflow.so)")
    return _lib


def libc_free(ptr):
    """free() of a buffer libmflow malloc'd."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None)
        _libc.free.argtypes = [ctypes.c_void_p]
        _libc.free.restype = None
    _libc.free(ptr)
