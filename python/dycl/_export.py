"""dycl.export: a PyTorch module -> ONNX with its control flow kept, checked against eager PyTorch.

    report = dycl.export(module, example_inputs, path, *, input_names=None, output_names=None,
                         opset=17, dynamic_axes=None, check=True, check_trace=True, backend=None,
                         atol=1e-4, rtol=1e-3)

Steps:
  1. torch.jit.script(module) (a ScriptModule is used as it is), then torch.onnx.export of the
     scripted module on the first example, in eval mode: If/Loop/sequence ops, not one traced path.
  2. The PyTorch 1.13 exporter's known quirks:
     - scripted nn.GRUCell / nn.LSTMCell / nn.RNNCell and some forms of torch.norm / Tensor.norm do
       not export: ExportError says which rewrite works;
     - `for _ in range(int(t.item()))` with a float t exports a float Loop trip count (invalid
       ONNX): a Cast to int64 is inserted (and the body's iteration input made int64);
     - the shapes it declares for values inside loops and branches are wrong when they grow:
       value_info and the declared shapes of subgraph inputs/outputs are removed (dycl infers them),
       and graph output dims that the examples contradict become symbolic;
     - List[Tensor] values become ONNX sequences (outputs come back from dycl as Python lists).
     Axes whose size differs between the example input tuples are exported as dynamic axes.
  3. The written model is run by dycl on every example and compared with eager PyTorch (floats
     within atol + rtol*|expected|, integers and booleans exactly): MismatchError if they differ.
  4. check_trace: the module is also traced (torch.jit.trace on the first example), exported and
     run by dycl on every example; where it disagrees with eager PyTorch the report (and a
     TracingWarning) says "a traced export would give wrong results on input k".

The model stays at `path` even when a check fails, for inspection. Returns an ExportReport.
"""

import inspect as _inspect
import os
import re
import tempfile
import warnings

import numpy as np

from . import errors
from . import model as _model

MAX_OPSET = 17  # DYCL_MAX_OPSET in include/dycl/dycl.h

_RNN_CELL_RE = re.compile(r"aten::(gru_cell|lstm_cell|rnn_tanh_cell|rnn_relu_cell)")
_NORM_RE = re.compile(r"(\bnorm\(\)|node 'norm'|translating norm|aten::norm|aten::linalg_vector_norm)")


class ExportReport:
    """What dycl.export did.

    path, opset, input_names, output_names, dynamic_axes -- the exported model
    fixes          -- the exporter quirks that were repaired (one line each)
    checks         -- per example k: {"input": k, "ok", "max_abs_err", "stats": RunStats, "detail"}
    traced_wrong   -- the example indices on which a traced export gives wrong results (None when
                      check_trace=False)
    trace_error    -- why tracing failed altogether, or None
    export_warnings -- the distinct warnings torch.onnx.export printed
    """

    def __init__(self, path, opset):
        self.path = path
        self.opset = opset
        self.input_names = []
        self.output_names = []
        self.dynamic_axes = {}
        self.fixes = []
        self.checks = []
        self.traced_wrong = None
        self.trace_error = None
        self.export_warnings = []

    @property
    def ok(self):
        """True when dycl matched eager PyTorch on every example."""
        return bool(self.checks) and all(c["ok"] for c in self.checks)

    def tracing_message(self):
        if self.traced_wrong is None:
            return "tracing not checked"
        if self.trace_error:
            return f"a traced export fails: {self.trace_error}"
        if self.traced_wrong:
            ks = ", ".join(str(k) for k in self.traced_wrong)
            return f"a traced export would give wrong results on input {ks}"
        n = len(self.checks)
        return f"a traced export would give the same results on th{'is' if n == 1 else 'ese'} {n} input{'s' * (n != 1)}"

    def __str__(self):
        lines = [f"exported {self.path} (opset {self.opset}): inputs {self.input_names}, outputs {self.output_names}"]
        if self.dynamic_axes:
            lines.append(f"  dynamic axes: {self.dynamic_axes}")
        for f in self.fixes:
            lines.append(f"  fixed: {f}")
        for c in self.checks:
            st = c.get("stats")
            path = (f"; {st.subnet_calls} sub-network calls, {st.branches_taken} branches, "
                    f"{st.loop_iterations} loop iterations") if st is not None else ""
            verdict = "matches eager PyTorch" if c["ok"] else f"DIFFERS from eager PyTorch ({c['detail']})"
            lines.append(f"  input {c['input']}: dycl {verdict}, max abs error {c['max_abs_err']:.3g}{path}")
        lines.append(f"  {self.tracing_message()}")
        return "\n".join(lines)

    __repr__ = __str__


# ------------------------------------------------------------------------------------------------
# comparing outputs

def _to_numpy(x):
    """An eager PyTorch output as what dycl returns: ndarray, list (sequence), None."""
    import torch
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, (list, tuple)):
        return [_to_numpy(v) for v in x]
    if x is None:
        return None
    if isinstance(x, bool):
        return np.array(x, dtype=np.bool_)
    if isinstance(x, int):
        return np.array(x, dtype=np.int64)
    if isinstance(x, float):
        return np.array(x, dtype=np.float32)
    raise errors.ExportError(f"cannot compare an output of type {type(x).__name__}")


def _flatten_outputs(out):
    """The module's return value as the list of graph outputs: tuples are flattened (as the exporter
    does), a list of tensors is one sequence output."""
    if isinstance(out, tuple):
        res = []
        for o in out:
            res.extend(_flatten_outputs(o))
        return res
    return [_to_numpy(out)]


def compare(expected, got, atol, rtol):
    """(ok, max_abs_err, detail) for one output."""
    if expected is None or got is None:
        ok = expected is None and got is None
        return ok, 0.0, "" if ok else f"expected {'None' if expected is None else 'a value'}, got {'None' if got is None else 'a value'}"
    if isinstance(expected, list) or isinstance(got, list):
        if not (isinstance(expected, list) and isinstance(got, list)):
            return False, float("inf"), "a sequence against a tensor"
        if len(expected) != len(got):
            return False, float("inf"), f"sequence of {len(got)} items, expected {len(expected)}"
        worst, detail, ok = 0.0, "", True
        for i, (e, g) in enumerate(zip(expected, got)):
            o, err, d = compare(e, g, atol, rtol)
            worst = max(worst, err)
            if not o and ok:
                ok, detail = False, f"item {i}: {d}"
        return ok, worst, detail
    e, g = np.asarray(expected), np.asarray(got)
    if e.shape != g.shape:
        return False, float("inf"), f"shape {list(g.shape)}, expected {list(e.shape)}"
    if e.dtype != g.dtype:
        return False, float("inf"), f"dtype {g.dtype}, expected {e.dtype}"
    if e.size == 0:
        return True, 0.0, ""
    if e.dtype.kind in "fc":
        ef, gf = e.astype(np.float64), g.astype(np.float64)
        both_nan = np.isnan(ef) & np.isnan(gf)
        diff = np.where(both_nan, 0.0, np.abs(ef - gf))
        diff = np.where(np.isnan(diff), np.inf, diff)
        err = float(diff.max())
        bad = diff > atol + rtol * np.abs(np.nan_to_num(ef, nan=0.0, posinf=0.0, neginf=0.0))
        if bad.any():
            i = int(np.argmax(bad.reshape(-1)))
            return False, err, f"element {i}: {g.reshape(-1)[i]!r}, expected {e.reshape(-1)[i]!r}"
        return True, err, ""
    if e.dtype.kind == "O":
        ok = bool(np.all(e == g))
        return ok, 0.0 if ok else float("inf"), "" if ok else "strings differ"
    neq = e != g
    if neq.any():
        i = int(np.argmax(neq.reshape(-1)))
        return False, float(np.abs(e.astype(np.float64) - g.astype(np.float64)).max()), \
            f"element {i}: {g.reshape(-1)[i]!r}, expected {e.reshape(-1)[i]!r}"
    return True, 0.0, ""


def compare_all(expected, got, names, atol, rtol):
    """(ok, max_abs_err, detail) over all outputs."""
    if len(expected) != len(got):
        return False, float("inf"), f"{len(got)} outputs, PyTorch returns {len(expected)}"
    worst, ok, detail = 0.0, True, ""
    for name, e, g in zip(names, expected, got):
        o, err, d = compare(e, g, atol, rtol)
        worst = max(worst, err)
        if not o and ok:
            ok, detail = False, f"output '{name}': {d}"
    return ok, worst, detail


# ------------------------------------------------------------------------------------------------
# examples and names

def _examples(example_inputs):
    """A list of example input tuples: a list is several examples, anything else is one."""
    if isinstance(example_inputs, list):
        if not example_inputs:
            raise ValueError("example_inputs is an empty list")
        exs = [e if isinstance(e, tuple) else (e,) for e in example_inputs]
    else:
        exs = [example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)]
    n = len(exs[0])
    if any(len(e) != n for e in exs):
        raise ValueError(f"the example input tuples have different lengths: {[len(e) for e in exs]}")
    return [tuple(_to_torch(a) for a in e) for e in exs]


def _to_torch(a):
    import torch
    if isinstance(a, torch.Tensor):
        return a
    if isinstance(a, np.ndarray):
        return torch.from_numpy(np.require(a, requirements="C"))
    if isinstance(a, (list, tuple)):
        return type(a)(_to_torch(x) for x in a)
    return a


def _forward_arg_names(module, n):
    try:
        fn = module.forward
        params = [p for p in _inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        names = [p.name for p in params if p.name != "self"][:n]
        if len(names) == n:
            return names
    except (TypeError, ValueError):
        pass
    return [f"input_{i}" for i in range(n)]


def _varying_axes(names, shapes_per_example):
    """{name: {axis: symbol}} for the axes whose size differs between examples."""
    res = {}
    for i, name in enumerate(names):
        shapes = [s[i] for s in shapes_per_example if s[i] is not None]
        if len(shapes) < 2 or any(len(s) != len(shapes[0]) for s in shapes):
            continue
        axes = {ax: f"{name}_dim{ax}" for ax in range(len(shapes[0])) if len({s[ax] for s in shapes}) > 1}
        if axes:
            res[name] = axes
    return res


def _shape_of(x):
    return tuple(x.shape) if hasattr(x, "shape") and not isinstance(x, list) else None


# ------------------------------------------------------------------------------------------------
# exporter failures

def _explain_export_failure(exc, scripted, examples, opset):
    msg = f"{type(exc).__name__}: {exc}"
    first = msg.strip().splitlines()[0][:400] if msg.strip() else type(exc).__name__
    kinds = set()
    try:
        kinds = {n.kind() for n in scripted.inlined_graph.nodes()}
    except Exception:  # noqa: BLE001 - only used for the hint
        pass
    m = _RNN_CELL_RE.search(msg)
    cell = m.group(1) if m else next((k[6:] for k in sorted(kinds) if _RNN_CELL_RE.fullmatch(k)), None)
    if cell:
        return (f"torch.onnx.export (PyTorch 1.13) cannot export a scripted recurrent cell (aten::{cell}, "
                "from nn.GRUCell / nn.LSTMCell / nn.RNNCell): write the cell out with nn.Linear layers and "
                "torch.sigmoid / torch.tanh -- for a GRU cell: r = sigmoid(x_r(x) + h_r(h)); z = sigmoid(x_z(x) + h_z(h)); "
                f"n = tanh(x_n(x) + r * h_n(h)); h = (1 - z) * n + z * h. ({first})")
    if _NORM_RE.search(msg) or ("aten::norm" in kinds and "norm" in msg):
        return ("torch.onnx.export (PyTorch 1.13) cannot export this scripted torch.norm / Tensor.norm: write "
                "torch.sqrt((x * x).sum(dim, keepdim)) for the 2-norm, or x.abs().sum(dim) for the 1-norm, or "
                f"torch.norm(x, p=2, dim=d) with an explicit dim. ({first})")
    if any(isinstance(a, list) for a in examples[0]) and ("ValidationError" in msg or "shape" in msg):
        return ("torch.onnx.export (PyTorch 1.13) cannot export a scripted module taking a List[Tensor] input: "
                f"pass the tensors as separate arguments or stacked into one tensor. ({first})")
    if "UnsupportedOperatorError" in msg or "is not supported" in msg:
        return f"torch.onnx.export cannot export an operator of this module at opset {opset}: {first}"
    return f"torch.onnx.export failed: {first}"


# ------------------------------------------------------------------------------------------------
# ONNX fix-ups

_INT64 = 7


def _subgraphs(node):
    import onnx
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            yield a.g
        elif a.type == onnx.AttributeProto.GRAPHS:
            yield from a.graphs


def _all_graphs(graph):
    yield graph
    for n in graph.node:
        for g in _subgraphs(n):
            yield from _all_graphs(g)


def _elem_types(model):
    """name -> ONNX element type of every tensor value the model declares or shape inference finds."""
    import onnx
    types = {}

    def record(vi):
        t = vi.type
        if t.HasField("tensor_type") and t.tensor_type.elem_type:
            types.setdefault(vi.name, t.tensor_type.elem_type)

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - inference is a help here, not a requirement
        inferred = model
    for m in (model, inferred):
        for g in _all_graphs(m.graph):
            for vi in list(g.input) + list(g.output) + list(g.value_info):
                record(vi)
            for init in g.initializer:
                types.setdefault(init.name, init.data_type)
            for n in g.node:
                if n.op_type == "Cast":
                    for a in n.attribute:
                        if a.name == "to":
                            types.setdefault(n.output[0], a.i)
                elif n.op_type == "Constant":
                    for a in n.attribute:
                        if a.name == "value":
                            types.setdefault(n.output[0], a.t.data_type)
    return types


def _uses(graph, name):
    for n in graph.node:
        if name in n.input:
            return True
        if any(_uses(g, name) for g in _subgraphs(n)):
            return True
    return any(o.name == name for o in graph.output)


def fix_float_trip_counts(model):
    """Inserts a Cast to int64 before every Loop whose trip count is not int64; returns what it did."""
    import onnx
    from onnx import helper
    types = _elem_types(model)
    fixed = []
    counter = [0]

    def fresh(base):
        counter[0] += 1
        return f"{base}__dycl_int64_{counter[0]}"

    def visit(graph):
        new_nodes = []
        for n in graph.node:
            for g in _subgraphs(n):
                visit(g)
            if n.op_type == "Loop" and n.input and n.input[0]:
                m_name = n.input[0]
                t = types.get(m_name)
                if t is not None and t != _INT64:
                    cast_out = fresh(m_name)
                    new_nodes.append(helper.make_node("Cast", [m_name], [cast_out], to=_INT64,
                                                      name=f"{n.name or 'Loop'}/dycl_trip_count_cast"))
                    n.input[0] = cast_out
                    body = next(a.g for a in n.attribute if a.name == "body")
                    it = body.input[0]
                    it_type = it.type.tensor_type.elem_type
                    if it_type not in (0, _INT64):
                        old = it.name
                        if _uses(body, old):
                            new = fresh(old)
                            it.name = new
                            cast = helper.make_node("Cast", [new], [old], to=it_type,
                                                    name=f"{n.name or 'Loop'}/dycl_iteration_cast")
                            body.node.insert(0, cast)
                        it.type.tensor_type.elem_type = _INT64
                    tname = onnx.TensorProto.DataType.Name(t).lower()
                    fixed.append(f"Loop '{n.name}': trip count '{m_name}' was {tname}, cast to int64 "
                                 "(write int(t.to(torch.int64).item()) to avoid this)")
            new_nodes.append(n)
        del graph.node[:]
        graph.node.extend(new_nodes)

    visit(model.graph)
    return fixed


def _clear_shape(type_proto):
    """Removes the shape of a tensor type (or of the tensors in a sequence/optional type)."""
    if type_proto.HasField("tensor_type"):
        type_proto.tensor_type.ClearField("shape")
    elif type_proto.HasField("sequence_type"):
        _clear_shape(type_proto.sequence_type.elem_type)
    elif type_proto.HasField("optional_type"):
        _clear_shape(type_proto.optional_type.elem_type)


def clear_declared_shapes(model, observed_outputs):
    """Drops shape hints the exporter gets wrong for values that change inside loops and branches.

    Removes every value_info entry, the declared shapes of the inputs and outputs of every subgraph
    (Loop/Scan bodies, If branches), and makes symbolic each graph-output dim that an example
    contradicts. observed_outputs: per example, the list of output shapes (None for non-tensors).
    Returns what it did, one line per kind of change."""
    done = []
    n_vi = 0
    n_sub = 0
    for i, g in enumerate(_all_graphs(model.graph)):
        n_vi += len(g.value_info)
        del g.value_info[:]
        if i == 0:
            continue
        for vi in list(g.input) + list(g.output):
            t = vi.type
            has = (t.HasField("tensor_type") and t.tensor_type.HasField("shape")) or t.HasField("sequence_type") \
                or t.HasField("optional_type")
            if has:
                n_sub += 1
            _clear_shape(t)
    if n_vi:
        done.append(f"removed {n_vi} value_info shape declaration(s) (dycl infers shapes)")
    if n_sub:
        done.append(f"removed the declared shapes of {n_sub} loop-body/branch input(s) and output(s)")
    changed = []
    for j, out in enumerate(model.graph.output):
        t = out.type
        if t.HasField("sequence_type"):
            if t.sequence_type.elem_type.tensor_type.HasField("shape"):
                _clear_shape(t)
            continue
        if not (t.HasField("tensor_type") and t.tensor_type.HasField("shape")):
            continue
        dims = t.tensor_type.shape.dim
        shapes = [obs[j] for obs in observed_outputs if j < len(obs) and obs[j] is not None]
        if any(len(s) != len(dims) for s in shapes):
            t.tensor_type.ClearField("shape")
            changed.append(out.name)
            continue
        for ax, d in enumerate(dims):
            sizes = {s[ax] for s in shapes}
            if d.HasField("dim_value") and (len(sizes) > 1 or (sizes and d.dim_value not in sizes)):
                d.Clear()
                d.dim_param = f"{out.name}_dim{ax}"
                changed.append(f"{out.name}[{ax}]")
    if changed:
        done.append(f"made symbolic the declared output dims that the examples contradict: {', '.join(changed)}")
    return done


# ------------------------------------------------------------------------------------------------
# running through dycl

def _run_dycl(path, examples, arg_names, backend, what):
    """[(outputs, stats)] per example, or raises ExportError naming `what`."""
    try:
        m = _model.load(path, backend=backend)
    except errors.Error as e:
        raise errors.ExportError(f"dycl cannot load the {what}: {e.message}") from e
    with m:
        unknown = [n for n in m.input_names if n not in arg_names]
        if unknown:
            raise errors.ExportError(f"the {what} has input(s) {unknown} that are not arguments of forward {arg_names}")
        res = []
        for k, ex in enumerate(examples):
            named = {n: _arg_for_dycl(a) for n, a in zip(arg_names, ex) if n in m.input_names}
            try:
                outs = m.run(**named)
            except errors.Error as e:
                res.append((e, None))
                continue
            res.append((outs, m.last_stats))
        return res, list(m.output_names)


def _arg_for_dycl(a):
    import torch
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    if isinstance(a, (list, tuple)):
        return [_arg_for_dycl(x) for x in a]
    return a


# ------------------------------------------------------------------------------------------------
# export

def export(module, example_inputs, path, *, input_names=None, output_names=None, opset=MAX_OPSET,
           dynamic_axes=None, check=True, check_trace=True, backend=None, atol=1e-4, rtol=1e-3):
    """Scripts `module`, exports it to ONNX at `path` with its control flow, checks it with dycl.

    example_inputs: one example -- a tensor or a tuple of forward's arguments (tensors or NumPy
    arrays) -- or a list of such examples. Give one example per path through the model (each exit,
    each branch, several trip counts): all are checked, and the axes whose size differs between
    them are exported as dynamic.
    input_names: names of forward's arguments in the model (default: the parameter names);
    output_names: default output_0, output_1, ...; opset: at most 17; dynamic_axes: as for
    torch.onnx.export, merged over the ones found from the examples.
    check: run the model in dycl on every example and compare with eager PyTorch (atol, rtol;
    MismatchError when they differ). check_trace: also export by tracing and report the examples
    on which the traced model is wrong (ExportReport.traced_wrong, and a TracingWarning).
    backend: the dycl backend used by the checks.

    The module runs in eval mode during the export and the checks (its mode is restored after).
    Returns an ExportReport; raises ExportError when the module cannot be exported or dycl cannot
    run the result, and MismatchError when the result is wrong."""
    import onnx
    import torch

    if not isinstance(opset, int) or not 7 <= opset <= MAX_OPSET:
        raise ValueError(f"opset must be an int from 7 to {MAX_OPSET} (dycl's highest), not {opset!r}")
    path = os.fspath(path)
    examples = _examples(example_inputs)
    n_args = len(examples[0])
    arg_names = list(input_names) if input_names is not None else _forward_arg_names(module, n_args)
    if len(arg_names) != n_args:
        raise ValueError(f"{len(arg_names)} input names for {n_args} arguments")
    report = ExportReport(path, opset)

    was_training = getattr(module, "training", False)
    if hasattr(module, "eval"):
        module.eval()
    try:
        with torch.no_grad():
            expected = []
            for k, ex in enumerate(examples):
                try:
                    expected.append(_flatten_outputs(module(*ex)))
                except Exception as e:  # noqa: BLE001 - a failing example is the caller's error
                    raise errors.ExportError(f"the module fails in eager PyTorch on input {k}: {type(e).__name__}: {e}") from e
        n_out = len(expected[0])
        if any(len(e) != n_out for e in expected):
            raise errors.ExportError("the module returns a different number of outputs on different inputs")
        out_names = list(output_names) if output_names is not None else [f"output_{j}" for j in range(n_out)]
        if len(out_names) != n_out:
            raise ValueError(f"{len(out_names)} output names for {n_out} outputs")
        report.input_names, report.output_names = arg_names, out_names

        axes = _varying_axes(arg_names, [[_shape_of(a) for a in ex] for ex in examples])
        axes.update(_varying_axes(out_names, [[_shape_of(o) for o in outs] for outs in expected]))
        for name, ax in (dynamic_axes or {}).items():
            ax = {a: f"{name}_dim{a}" for a in ax} if isinstance(ax, (list, tuple)) else dict(ax)
            axes.setdefault(name, {}).update(ax)
        report.dynamic_axes = axes

        if isinstance(module, torch.jit.ScriptModule):
            scripted = module
        else:
            try:
                scripted = torch.jit.script(module)
            except Exception as e:  # noqa: BLE001
                first = str(e).strip().splitlines()
                raise errors.ExportError(
                    "torch.jit.script failed (dycl.export needs a module that TorchScript compiles: annotate "
                    "non-tensor arguments and attributes, use typed lists): "
                    + " ".join(first[:3])[:600]) from e

        with tempfile.TemporaryDirectory(prefix="dycl-export-") as tmp:
            raw = os.path.join(tmp, "scripted.onnx")
            with warnings.catch_warnings(record=True) as wl:
                warnings.simplefilter("always")
                try:
                    with torch.no_grad():
                        torch.onnx.export(scripted, examples[0], raw, opset_version=opset, input_names=arg_names,
                                          output_names=out_names, dynamic_axes=axes or None)
                except Exception as e:  # noqa: BLE001
                    raise errors.ExportError(_explain_export_failure(e, scripted, examples, opset)) from e
            report.export_warnings = sorted({str(w.message).strip().splitlines()[0] for w in wl if str(w.message).strip()})
            m = onnx.load(raw)
            report.fixes += fix_float_trip_counts(m)
            report.fixes += clear_declared_shapes(m, [[_shape_of(o) for o in outs] for outs in expected])
            try:
                onnx.checker.check_model(m)
            except Exception as e:  # noqa: BLE001
                raise errors.ExportError(f"the exported model is not valid ONNX: {str(e).strip().splitlines()[0]}") from e
            onnx.save(m, path)

        if check:
            results, dycl_outs = _run_dycl(path, examples, arg_names, backend, "exported model")
            for k, (outs, stats) in enumerate(results):
                if isinstance(outs, errors.Error):
                    raise errors.ExportError(f"dycl fails on input {k} of the exported model: {outs.message}") from outs
                ok, err, detail = compare_all(expected[k], outs, dycl_outs, atol, rtol)
                report.checks.append({"input": k, "ok": ok, "max_abs_err": err, "stats": stats, "detail": detail})

        if check_trace:
            _check_trace(module, examples, expected, arg_names, out_names, axes, opset, backend, atol, rtol, report)
    finally:
        if hasattr(module, "train"):
            module.train(was_training)

    if check and not report.ok:
        bad = [c for c in report.checks if not c["ok"]]
        raise errors.MismatchError(
            f"the exported model {path} differs from eager PyTorch on input "
            + ", ".join(f"{c['input']} ({c['detail']})" for c in bad), report)
    if report.traced_wrong:
        warnings.warn(errors.TracingWarning(f"{report.tracing_message()} (dycl.export keeps the control flow: "
                                            f"{path} is right on all {len(examples)} inputs)"), stacklevel=2)
    return report


def _check_trace(module, examples, expected, arg_names, out_names, axes, opset, backend, atol, rtol, report):
    import torch
    report.traced_wrong = list(range(len(examples)))
    with tempfile.TemporaryDirectory(prefix="dycl-trace-") as tmp:
        tpath = os.path.join(tmp, "traced.onnx")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with torch.no_grad():
                    traced = torch.jit.trace(module, examples[0], check_trace=False)
                    torch.onnx.export(traced, examples[0], tpath, opset_version=opset, input_names=arg_names,
                                      output_names=out_names, dynamic_axes=axes or None)
        except Exception as e:  # noqa: BLE001 - a module that does not trace is reported, not fatal
            report.trace_error = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:300]
            return
        try:
            results, names = _run_dycl(tpath, examples, arg_names, backend, "traced model")
        except errors.ExportError as e:
            report.trace_error = e.message
            return
        wrong = []
        for k, (outs, _stats) in enumerate(results):
            if isinstance(outs, errors.Error) or not compare_all(expected[k], outs, names, atol, rtol)[0]:
                wrong.append(k)
        report.traced_wrong = wrong
