"""dycl for Python: export dynamic PyTorch models to ONNX and run, inspect, split and compile them with dycl.

Pure Python over libdycl.so (ctypes): no build step of its own. Needs NumPy; dycl.export also needs
PyTorch and onnx. The API is documented in docs/python.md.

    import dycl
    report = dycl.export(module, [example_1, example_2], "model.onnx")   # script + export + check
    model = dycl.load("model.onnx")
    logits, exit_taken = model.run(image)
    print(model.bench(image))            # median_us=... p10_us=... p90_us=...
    print(model.inspect())               # the host tree and the sub-networks
    model.compile("pkg", name="early_exit", build=True)

Finding libdycl.so -- the first of these that exists is loaded, on the first call that needs it
(`dycl.library_path()` tells which one):
  1. the environment variable DYCL_LIBRARY (a path; when set and the file cannot be loaded, that is
     an error, not a reason to look further);
  2. the installed layout: this package installed as PREFIX/lib/python3/dist-packages/dycl loads
     PREFIX/lib/libdycl.so (that is, <package folder>/../../../libdycl.so);
  3. the source tree: python/dycl loads build/libdycl.so of the same checkout
     (<package folder>/../../build/libdycl.so);
  4. ctypes.util.find_library("dycl") (the system's library path, ldconfig).
"""

from ._lib import library_path
from .errors import (DyclIOError, DyclRuntimeError, Error, ExportError, InternalError, InvalidInputError,
                     InvalidModelError, LibraryError, LimitError, MismatchError, NoMemoryError, TracingWarning,
                     UnsupportedError)
from ._values import BFloat16
from .model import BenchResult, Inspection, Model, Package, RunStats, SplitResult, load
from ._export import ExportReport, export

__version__ = "0.1.0"

__all__ = [
    "export", "load", "library_path", "BFloat16", "Model", "ExportReport", "BenchResult", "Inspection", "SplitResult",
    "Package", "RunStats", "Error", "InvalidModelError", "InvalidInputError", "UnsupportedError", "DyclIOError",
    "NoMemoryError", "LimitError", "DyclRuntimeError", "InternalError", "LibraryError", "ExportError",
    "MismatchError", "TracingWarning",
]
