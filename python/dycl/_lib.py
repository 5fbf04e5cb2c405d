"""Finding and loading libdycl.so, and the ctypes prototypes of the C API (include/dycl/dycl.h).

The lookup order is documented in dycl/__init__.py (`library_path()` tells which file was loaded).
Nothing here is public: the rest of the package calls `lib()` and `check(status)`.
"""

import ctypes
import ctypes.util
import os
import threading

from . import errors

# The package folder: python/dycl in the source tree, PREFIX/lib/python3/dist-packages/dycl when installed.
_PKG_DIR = os.path.dirname(os.path.abspath(__file__))

_lock = threading.Lock()
_state = {"lib": None, "path": None}


def candidates():
    """The places looked at, in order, as (how, path-or-name) pairs."""
    res = []
    env = os.environ.get("DYCL_LIBRARY")
    if env:
        res.append(("DYCL_LIBRARY", env))
    # Installed: PREFIX/lib/python3/dist-packages/dycl -> PREFIX/lib/libdycl.so
    res.append(("installed", os.path.normpath(os.path.join(_PKG_DIR, "..", "..", "..", "libdycl.so"))))
    # Source tree: python/dycl -> build/libdycl.so
    res.append(("source tree", os.path.normpath(os.path.join(_PKG_DIR, "..", "..", "build", "libdycl.so"))))
    found = ctypes.util.find_library("dycl")
    if found:
        res.append(("find_library", found))
    return res


# The structs below mirror include/dycl/dycl.h field by field (tests/python/test_binding.py checks
# that they still do).
class _Options(ctypes.Structure):
    _fields_ = [("allocator", ctypes.c_void_p), ("backend", ctypes.c_char_p), ("threads", ctypes.c_int),
                ("max_tensor_bytes", ctypes.c_uint64), ("max_nesting", ctypes.c_int),
                ("max_iterations", ctypes.c_int64), ("max_memory", ctypes.c_uint64),
                ("deadline_seconds", ctypes.c_double)]


class _OptionsBuffer(ctypes.Structure):
    """dycl_options_t with room behind it: a libdycl newer than this file may have more fields, which
    dycl_options_init then writes into the spare bytes instead of past the end."""
    _fields_ = [("options", _Options), ("_spare", ctypes.c_char * 256)]


class _CompileOptions(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("backend", ctypes.c_char_p), ("command_line", ctypes.c_char_p),
                ("quiet", ctypes.c_int)]


class _RunStats(ctypes.Structure):
    _fields_ = [("subnet_calls", ctypes.c_int64), ("branches_taken", ctypes.c_int64),
                ("loop_iterations", ctypes.c_int64), ("peak_tensor_bytes", ctypes.c_uint64),
                ("arena_bytes", ctypes.c_uint64), ("arena_lower_bound", ctypes.c_uint64),
                ("allocations", ctypes.c_uint64)]


class _RunStatsBuffer(ctypes.Structure):
    """dycl_run_stats_t with spare bytes behind it, as _OptionsBuffer."""
    _fields_ = [("stats", _RunStats), ("_spare", ctypes.c_char * 256)]


ALLOC_FN = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
FREE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


class _Allocator(ctypes.Structure):
    _fields_ = [("alloc", ALLOC_FN), ("free", FREE_FN), ("ctx", ctypes.c_void_p)]


Options = _Options
OptionsBuffer = _OptionsBuffer
CompileOptions = _CompileOptions
RunStatsC = _RunStats
RunStatsBuffer = _RunStatsBuffer
Allocator = _Allocator

_P = ctypes.c_void_p
_I64P = ctypes.POINTER(ctypes.c_int64)

# name: (restype, argtypes)
_PROTOS = {
    "dycl_status_code": (ctypes.c_int, [_P]),
    "dycl_status_message": (ctypes.c_char_p, [_P]),
    "dycl_status_free": (None, [_P]),
    "dycl_code_name": (ctypes.c_char_p, [ctypes.c_int]),
    "dycl_dtype_name": (ctypes.c_char_p, [ctypes.c_int]),
    "dycl_dtype_size": (ctypes.c_size_t, [ctypes.c_int]),
    "dycl_value_create_tensor": (_P, [_P, ctypes.c_int, ctypes.c_int, _I64P, _P, ctypes.POINTER(_P)]),
    "dycl_value_retain": (_P, [_P]),
    "dycl_value_release": (None, [_P]),
    "dycl_value_kind": (ctypes.c_int, [_P]),
    "dycl_value_dtype": (ctypes.c_int, [_P]),
    "dycl_value_rank": (ctypes.c_int, [_P]),
    "dycl_value_dims": (_I64P, [_P]),
    "dycl_value_numel": (ctypes.c_int64, [_P]),
    "dycl_value_data": (_P, [_P]),
    "dycl_value_seq_length": (ctypes.c_int, [_P]),
    "dycl_value_seq_item": (_P, [_P, ctypes.c_int]),
    "dycl_value_optional_get": (_P, [_P]),
    "dycl_value_load_file": (_P, [_P, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(_P)]),
    "dycl_value_save_file": (_P, [_P, ctypes.c_char_p, ctypes.c_char_p]),
    "dycl_options_init": (None, [ctypes.POINTER(_Options)]),
    "dycl_model_load": (_P, [ctypes.c_char_p, ctypes.POINTER(_Options), ctypes.POINTER(_P)]),
    "dycl_model_destroy": (None, [_P]),
    "dycl_model_num_inputs": (ctypes.c_int, [_P]),
    "dycl_model_input_name": (ctypes.c_char_p, [_P, ctypes.c_int]),
    "dycl_model_input_kind": (ctypes.c_int, [_P, ctypes.c_int]),
    "dycl_model_num_outputs": (ctypes.c_int, [_P]),
    "dycl_model_output_name": (ctypes.c_char_p, [_P, ctypes.c_int]),
    "dycl_model_output_kind": (ctypes.c_int, [_P, ctypes.c_int]),
    "dycl_model_inspect": (None, [_P, _P]),
    "dycl_model_write_dot": (_P, [_P, _P]),
    "dycl_model_split": (_P, [_P, ctypes.c_char_p]),
    "dycl_model_compile": (_P, [_P, ctypes.POINTER(_CompileOptions), ctypes.c_char_p]),
    "dycl_session_create": (_P, [_P, ctypes.POINTER(_P)]),
    "dycl_session_destroy": (None, [_P]),
    "dycl_session_run": (_P, [_P, ctypes.POINTER(_P), ctypes.c_int, ctypes.POINTER(_P), ctypes.c_int]),
    "dycl_session_stats": (None, [_P, ctypes.POINTER(_RunStats)]),
}

# libc, for open_memstream (capturing the FILE* output of dycl_model_inspect / write_dot).
_LIBC_PROTOS = {
    "malloc": (_P, [ctypes.c_size_t]),
    "open_memstream": (_P, [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_size_t)]),
    "fclose": (ctypes.c_int, [_P]),
    "free": (None, [_P]),
}


def _bind(handle, protos):
    for name, (res, args) in protos.items():
        fn = getattr(handle, name)
        fn.restype = res
        fn.argtypes = args


def _open(path):
    lib = ctypes.CDLL(path)
    missing = [n for n in _PROTOS if not hasattr(lib, n)]
    if missing:
        raise errors.LibraryError(f"'{path}' is not libdycl (missing {', '.join(missing[:3])})")
    _bind(lib, _PROTOS)
    return lib


def lib():
    """The loaded libdycl (loaded on first use)."""
    handle = _state["lib"]
    if handle is not None:
        return handle
    with _lock:
        if _state["lib"] is not None:
            return _state["lib"]
        tried = []
        for how, path in candidates():
            if how in ("installed", "source tree") and not os.path.isfile(path):
                tried.append(f"{how}: {path} (not there)")
                continue
            try:
                handle = _open(path)
            except OSError as e:
                if how == "DYCL_LIBRARY":  # an explicit choice that fails is an error, not a fallback
                    raise errors.LibraryError(f"cannot load DYCL_LIBRARY={path}: {e}") from None
                tried.append(f"{how}: {path} ({e})")
                continue
            _state["path"] = path
            _state["lib"] = handle
            return handle
        raise errors.LibraryError("libdycl.so not found; set DYCL_LIBRARY to its path. Looked at: "
                                  + "; ".join(tried) + "; ctypes.util.find_library('dycl'): not found")


def library_path():
    """The path (or name) of the libdycl that was loaded, loading it if needed."""
    lib()
    return _state["path"]


_libc_state = {"libc": None}


def libc():
    if _libc_state["libc"] is None:
        # The process's global namespace, not libc.so.6 opened on its own: where malloc/free are
        # interposed (an AddressSanitizer runtime in LD_PRELOAD), free must be the interposed one.
        handle = ctypes.CDLL(None)
        _bind(handle, _LIBC_PROTOS)
        _libc_state["libc"] = handle
    return _libc_state["libc"]


def check(status):
    """Raises the dycl.Error subclass for a non-NULL status (freeing it); returns None otherwise."""
    if not status:
        return
    L = lib()
    code = L.dycl_status_code(status)
    msg = L.dycl_status_message(status)
    msg = msg.decode("utf-8", "replace") if msg else ""
    L.dycl_status_free(status)
    raise errors.from_code(code, msg)


def capture(write):
    """Runs write(FILE*) on an in-memory stream and returns what it wrote, as text."""
    C = libc()
    buf = ctypes.c_char_p()
    size = ctypes.c_size_t()
    f = C.open_memstream(ctypes.byref(buf), ctypes.byref(size))
    if not f:
        raise errors.DyclIOError("open_memstream failed")
    result = None
    try:
        result = write(f)
    finally:
        C.fclose(f)
        text = ctypes.string_at(buf, size.value).decode("utf-8", "replace") if buf else ""
        C.free(ctypes.cast(buf, ctypes.c_void_p))
    return text, result
