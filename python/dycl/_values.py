"""NumPy arrays <-> dycl values (dycl_value_t).

Tensors of numeric and bool dtypes are created with dycl_value_create_tensor. Values the C API
cannot create directly -- string tensors, sequences and optionals -- are written as ONNX
TensorProto / SequenceProto / OptionalProto bytes (the small protobuf encoder below) into an
in-memory file and read with dycl_value_load_file.

Outputs are copied into NumPy arrays (or lists of them, or None) and the dycl values released at once.
"""

import ctypes
import os
import tempfile

import numpy as np

from . import _lib
from . import errors

TENSOR, SEQUENCE, OPTIONAL = 0, 1, 2
KIND_NAMES = {TENSOR: "tensor", SEQUENCE: "sequence", OPTIONAL: "optional"}

STRING, BFLOAT16 = 8, 16
# dycl_dtype_t (= ONNX TensorProto.DataType) <-> NumPy
_TO_NUMPY = {
    1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
    9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64,
}
_FROM_NUMPY = {np.dtype(v): k for k, v in _TO_NUMPY.items()}


def dtype_code(np_dtype):
    """The dycl dtype code of a NumPy dtype; STRING for str/bytes/object; None when unsupported."""
    dt = np.dtype(np_dtype)
    if dt.kind in "USO":
        return STRING
    return _FROM_NUMPY.get(dt.newbyteorder("=") if dt.byteorder not in "=|" else dt)


# ------------------------------------------------------------------ protobuf encoding (proto2 wire format)

def _varint(n):
    out = bytearray()
    n &= (1 << 64) - 1  # negative int64 as two's complement, ten bytes
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field_varint(num, v):
    return _varint(num << 3) + _varint(v)


def _field_bytes(num, data):
    return _varint((num << 3) | 2) + _varint(len(data)) + data


def _as_bytes(item):
    if isinstance(item, bytes):
        return item
    if isinstance(item, np.bytes_):
        return bytes(item)
    return str(item).encode("utf-8")


def encode_tensor(arr, name=""):
    """An ONNX TensorProto holding arr (numeric, bool, string or BFloat16)."""
    if isinstance(arr, BFloat16):
        code, arr = BFLOAT16, arr.bits
    else:
        code = dtype_code(arr.dtype)
    if code is None:
        raise errors.InvalidInputError(f"NumPy dtype {arr.dtype} has no dycl equivalent")
    out = bytearray()
    for d in arr.shape:
        out += _field_varint(1, int(d))       # dims
    out += _field_varint(2, code)              # data_type
    if name:
        out += _field_bytes(8, name.encode())  # name
    if code == STRING:
        for item in arr.reshape(-1):
            out += _field_bytes(6, _as_bytes(item))  # string_data
    else:
        le = np.require(arr, dtype=arr.dtype.newbyteorder("<"), requirements="C")
        out += _field_bytes(9, le.tobytes())   # raw_data
    return bytes(out)


def encode_sequence(items, name=""):
    """An ONNX SequenceProto of tensors."""
    out = bytearray()
    if name:
        out += _field_bytes(1, name.encode())
    out += _field_varint(2, 1)  # elem_type TENSOR
    for a in items:
        out += _field_bytes(3, encode_tensor(_as_array(a)))
    return bytes(out)


def encode_optional(obj, name=""):
    """An ONNX OptionalProto: empty for None, a sequence for a list/tuple, else a tensor."""
    out = bytearray()
    if name:
        out += _field_bytes(1, name.encode())
    if obj is None:
        return bytes(out)
    if isinstance(obj, (list, tuple)):
        out += _field_varint(2, 3)  # SEQUENCE
        out += _field_bytes(5, encode_sequence(obj))
    else:
        out += _field_varint(2, 1)  # TENSOR
        out += _field_bytes(3, encode_tensor(_as_array(obj)))
    return bytes(out)


class BFloat16:
    """A tensor passed to dycl as bfloat16 (NumPy has no such dtype): BFloat16(values) rounds float
    values to bfloat16 (to nearest, ties to even; NaN stays NaN); BFloat16.from_bits(uint16 array)
    takes the bits as they are. `.bits` holds the uint16 bit patterns, `.to_float32()` the values.
    bfloat16 outputs come back from dycl as float32 arrays (exact)."""

    def __init__(self, values):
        f = np.asarray(values, dtype=np.float32)
        u = f.view(np.uint32).astype(np.uint64)
        rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
        self.bits = np.where(np.isnan(f), np.uint16(0x7FC0), rounded).astype(np.uint16)

    @classmethod
    def from_bits(cls, bits):
        obj = cls.__new__(cls)
        obj.bits = np.asarray(bits, dtype=np.uint16)
        return obj

    @property
    def shape(self):
        return self.bits.shape

    def to_float32(self):
        return (self.bits.astype(np.uint32) << 16).view(np.float32)


# ------------------------------------------------------------------ Python -> dycl

def _as_array(obj):
    if isinstance(obj, BFloat16):
        return obj
    if hasattr(obj, "detach") and hasattr(obj, "numpy"):  # a torch.Tensor
        obj = obj.detach().cpu().numpy()
    arr = np.asarray(obj)
    if arr.ndim > 8:
        raise errors.InvalidInputError(f"rank {arr.ndim} is over dycl's maximum of 8")
    return arr


def _load_bytes(data, kind, alloc):
    """dycl_value_load_file on bytes held in an in-memory file (a temporary file where memfd is missing)."""
    L = _lib.lib()
    out = ctypes.c_void_p()
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("dycl-value", os.MFD_CLOEXEC)
        try:
            os.write(fd, data) if len(data) < (1 << 30) else _write_all(fd, data)
            _lib.check(L.dycl_value_load_file(alloc, f"/proc/self/fd/{fd}".encode(), kind, ctypes.byref(out)))
        finally:
            os.close(fd)
    else:
        with tempfile.NamedTemporaryFile(suffix=".pb") as f:
            f.write(data)
            f.flush()
            _lib.check(L.dycl_value_load_file(alloc, f.name.encode(), kind, ctypes.byref(out)))
    return out.value


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _create_tensor(arr, alloc):
    if isinstance(arr, BFloat16):
        code, arr = BFLOAT16, arr.bits
    else:
        code = dtype_code(arr.dtype)
    if code is None:
        raise errors.InvalidInputError(f"NumPy dtype {arr.dtype} has no dycl equivalent")
    if code == STRING:
        return _load_bytes(encode_tensor(arr), TENSOR, alloc)
    arr = np.require(arr, dtype=arr.dtype.newbyteorder("="), requirements="C")  # keeps 0-d arrays 0-d
    dims = (ctypes.c_int64 * max(arr.ndim, 1))(*arr.shape)
    out = ctypes.c_void_p()
    data = arr.ctypes.data_as(ctypes.c_void_p) if arr.size else None
    _lib.check(_lib.lib().dycl_value_create_tensor(alloc, code, arr.ndim, dims, data, ctypes.byref(out)))
    return out.value


def to_value(obj, kind, alloc, what):
    """A new dycl value (owned pointer) for a Python object given where the model wants `kind`."""
    try:
        if kind == SEQUENCE:
            if not isinstance(obj, (list, tuple)):
                raise errors.InvalidInputError(f"{what} is a sequence: pass a list of arrays, not {type(obj).__name__}")
            return _load_bytes(encode_sequence(obj), SEQUENCE, alloc)
        if kind == OPTIONAL:
            return _load_bytes(encode_optional(obj), OPTIONAL, alloc)
        if obj is None:
            raise errors.InvalidInputError(f"{what} is a tensor, got None")
        return _create_tensor(obj if isinstance(obj, BFloat16) else _as_array(obj), alloc)
    except errors.Error as e:
        if what in e.message:
            raise
        raise type(e)(f"{what}: {e.message}") from None


# ------------------------------------------------------------------ dycl -> Python

def tensor_to_numpy(v):
    """A NumPy copy of a borrowed dycl tensor value."""
    L = _lib.lib()
    code = L.dycl_value_dtype(v)
    rank = L.dycl_value_rank(v)
    dims_p = L.dycl_value_dims(v)
    shape = tuple(dims_p[i] for i in range(rank))
    numel = L.dycl_value_numel(v)
    data = L.dycl_value_data(v)
    if code == STRING:
        ptrs = ctypes.cast(data, ctypes.POINTER(ctypes.c_char_p)) if data else None
        items = [(ptrs[i] or b"").decode("utf-8", "surrogateescape") for i in range(numel)] if numel else []
        arr = np.empty(numel, dtype=object)
        arr[:] = items
        return arr.reshape(shape)
    if code == BFLOAT16:
        raw = _raw(data, numel, np.uint16)
        return (raw.astype(np.uint32) << 16).view(np.float32).reshape(shape)
    npdt = _TO_NUMPY.get(code)
    if npdt is None:
        raise errors.UnsupportedError(f"output dtype {L.dycl_dtype_name(code).decode()} has no NumPy equivalent")
    return _raw(data, numel, npdt).reshape(shape)


def _raw(data, numel, npdt):
    dt = np.dtype(npdt)
    if numel == 0 or not data:
        return np.empty(numel, dtype=dt)
    buf = (ctypes.c_char * (numel * dt.itemsize)).from_address(data)
    return np.frombuffer(buf, dtype=dt).copy()


def from_value(v):
    """A Python copy of a borrowed dycl value: ndarray, list of them, or None (empty optional)."""
    L = _lib.lib()
    kind = L.dycl_value_kind(v)
    if kind == TENSOR:
        return tensor_to_numpy(v)
    if kind == SEQUENCE:
        return [from_value(L.dycl_value_seq_item(v, i)) for i in range(L.dycl_value_seq_length(v))]
    if kind == OPTIONAL:
        inner = L.dycl_value_optional_get(v)
        return None if not inner else from_value(inner)
    raise errors.InternalError(f"unknown value kind {kind}")


def release_all(ptrs):
    L = _lib.lib()
    for p in ptrs:
        if p:
            L.dycl_value_release(p)
