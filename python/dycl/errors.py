"""Exceptions raised by the dycl package.

Every failure reported by libdycl becomes an instance of the `Error` subclass for its dycl_code_t,
carrying dycl's one-line message (`str(e)`, `e.message`) and the code (`e.code`, `e.code_name`):

    code                        exception
    DYCL_CODE_INVALID_MODEL     InvalidModelError
    DYCL_CODE_INVALID_INPUT     InvalidInputError
    DYCL_CODE_UNSUPPORTED       UnsupportedError
    DYCL_CODE_IO                DyclIOError
    DYCL_CODE_NO_MEMORY         NoMemoryError
    DYCL_CODE_LIMIT             LimitError
    DYCL_CODE_RUNTIME           DyclRuntimeError
    DYCL_CODE_INTERNAL          InternalError

The package adds: LibraryError (libdycl.so cannot be found or loaded), ExportError (dycl.export
cannot produce a model dycl runs) and its subclass MismatchError (the exported model and eager
PyTorch disagree). TracingWarning is the warning dycl.export gives when a traced export would
have been wrong.
"""


class Error(Exception):
    """Base class of every dycl exception."""

    code = None          # the dycl_code_t value, None for errors that do not come from libdycl
    code_name = None     # e.g. "INVALID_MODEL"

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class InvalidModelError(Error):
    code, code_name = 1, "INVALID_MODEL"


class InvalidInputError(Error):
    code, code_name = 2, "INVALID_INPUT"


class UnsupportedError(Error):
    code, code_name = 3, "UNSUPPORTED"


class DyclIOError(Error):
    code, code_name = 4, "IO"


class NoMemoryError(Error):
    code, code_name = 5, "NO_MEMORY"


class LimitError(Error):
    code, code_name = 6, "LIMIT"


class DyclRuntimeError(Error):
    code, code_name = 7, "RUNTIME"


class InternalError(Error):
    code, code_name = 8, "INTERNAL"


class LibraryError(Error):
    """libdycl.so could not be found or loaded."""


class ExportError(Error):
    """dycl.export could not produce a model that dycl runs."""


class MismatchError(ExportError):
    """The exported model gives other results than eager PyTorch (see .report)."""

    def __init__(self, message, report=None):
        super().__init__(message)
        self.report = report


class TracingWarning(UserWarning):
    """A traced export (torch.jit.trace) of the module would give wrong results."""


_BY_CODE = {c.code: c for c in (InvalidModelError, InvalidInputError, UnsupportedError, DyclIOError,
                                 NoMemoryError, LimitError, DyclRuntimeError, InternalError)}


def from_code(code, message):
    cls = _BY_CODE.get(code)
    if cls is None:
        e = InternalError(f"unknown dycl code {code}: {message}")
        return e
    return cls(message)
