#!/usr/bin/env node
// Runs recorded sub-network calls through ONNX Runtime (onnxruntime-node) and compares the outputs
// with what dycl computed.
//
// usage: node tests/split/ort_check.js --ort ORT_PREFIX JOBS.json RESULTS.json
//
// ORT_PREFIX is the npm prefix onnxruntime-node was installed into (tests/split/setup_ort.sh).
// JOBS.json is a list of {id, model, inputs: [TensorProto .pb paths, in graph-input order],
// expected: [TensorProto .pb paths, in graph-output order]}. RESULTS.json receives
// [{id, ok, msg}]. Floats compare within atol 1e-5 + rtol 1e-3 (NaN equals NaN), everything else
// exactly; dtype and shape must match. One line per failed job on stdout, then
// `ort_check: N passed, M failed`.
'use strict';

const fs = require('fs');
const path = require('path');

const RTOL = 1e-3;
const ATOL = 1e-5;

// ------------------------------------------------------------------ TensorProto decoding

const DTYPES = {
  1: ['float32', Float32Array, 4],
  2: ['uint8', Uint8Array, 1],
  3: ['int8', Int8Array, 1],
  4: ['uint16', Uint16Array, 2],
  5: ['int16', Int16Array, 2],
  6: ['int32', Int32Array, 4],
  7: ['int64', BigInt64Array, 8],
  8: ['string', null, 0],
  9: ['bool', Uint8Array, 1],
  10: ['float16', Uint16Array, 2],
  11: ['float64', Float64Array, 8],
  12: ['uint32', Uint32Array, 4],
  13: ['uint64', BigUint64Array, 8],
};

function readVarint(buf, pos) {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
    shift += 7n;
  }
  return [result, pos];
}

function toInt64(u) { return BigInt.asIntN(64, u); }

// Returns {dtype, dims, raw, floats, int32s, int64s (BigInt), uint64s (BigInt), doubles, strings}.
function parseTensorProto(buf) {
  const t = {dtype: 0, dims: [], raw: null, floats: [], int32s: [], int64s: [], uint64s: [], doubles: [], strings: [],
             external: false};
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      let v;
      [v, pos] = readVarint(buf, pos);
      if (field === 1) t.dims.push(Number(toInt64(v)));
      else if (field === 2) t.dtype = Number(v);
      else if (field === 5) t.int32s.push(Number(BigInt.asIntN(32, v)));
      else if (field === 7) t.int64s.push(toInt64(v));
      else if (field === 11) t.uint64s.push(BigInt.asUintN(64, v));
      else if (field === 14) t.external = Number(v) === 1;
    } else if (wire === 1) {
      if (field === 10) t.doubles.push(Buffer.from(buf.subarray(pos, pos + 8)).readDoubleLE(0));
      pos += 8;
    } else if (wire === 5) {
      if (field === 4) t.floats.push(Buffer.from(buf.subarray(pos, pos + 4)).readFloatLE(0));
      pos += 4;
    } else if (wire === 2) {
      let len;
      [len, pos] = readVarint(buf, pos);
      len = Number(len);
      const body = buf.subarray(pos, pos + len);
      pos += len;
      const b = Buffer.from(body);
      if (field === 9) t.raw = body;
      else if (field === 6) t.strings.push(b.toString('utf8'));
      else if (field === 4) for (let i = 0; i + 4 <= len; i += 4) t.floats.push(b.readFloatLE(i));
      else if (field === 10) for (let i = 0; i + 8 <= len; i += 8) t.doubles.push(b.readDoubleLE(i));
      else if (field === 1 || field === 5 || field === 7 || field === 11) {
        let p = 0;
        while (p < body.length) {
          let v;
          [v, p] = readVarint(body, p);
          if (field === 1) t.dims.push(Number(toInt64(v)));
          else if (field === 5) t.int32s.push(Number(BigInt.asIntN(32, v)));
          else if (field === 7) t.int64s.push(toInt64(v));
          else t.uint64s.push(BigInt.asUintN(64, v));
        }
      }
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
  return t;
}

// A decoded tensor: {type, dims, data} with data a typed array (or string[]).
function loadTensor(file) {
  const t = parseTensorProto(fs.readFileSync(file));
  if (t.external) throw new Error(`${file}: external data is not supported here`);
  const info = DTYPES[t.dtype];
  if (!info) throw new Error(`${file}: element type ${t.dtype} is not supported by onnxruntime-node`);
  const [type, Ctor, size] = info;
  const numel = t.dims.reduce((a, b) => a * b, 1);
  if (type === 'string') return {type, dims: t.dims, data: t.strings};
  let data;
  if (t.raw) {
    if (t.raw.length !== numel * size) throw new Error(`${file}: raw_data has ${t.raw.length} bytes, dims need ${numel * size}`);
    const copy = new ArrayBuffer(numel * size);
    new Uint8Array(copy).set(t.raw);
    data = new Ctor(copy);
  } else {
    data = new Ctor(numel);
    const src = t.dtype === 1 ? t.floats : t.dtype === 11 ? t.doubles : t.dtype === 7 ? t.int64s
      : (t.dtype === 12 || t.dtype === 13) ? t.uint64s : t.int32s;
    if (src.length !== numel) throw new Error(`${file}: holds ${src.length} values, dims need ${numel}`);
    for (let i = 0; i < numel; i++) {
      const v = src[i];
      if (Ctor === BigInt64Array || Ctor === BigUint64Array) data[i] = BigInt(v);
      else data[i] = Number(v);
    }
  }
  return {type, dims: t.dims, data};
}

// ------------------------------------------------------------------ comparison

function halfToFloat(h) {
  const s = (h & 0x8000) ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * Math.pow(2, -14) * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * Math.pow(2, e - 15) * (1 + f / 1024);
}

function numbers(t) {
  // float16 comes as raw bits (Uint16Array) from the files, and from ORT where Node has no Float16Array
  if (t.type === 'float16' && t.data instanceof Uint16Array) return Array.from(t.data, halfToFloat);
  return t.data;
}

function compare(got, want) {
  if (got.type !== want.type) return `element type ${got.type}, expected ${want.type}`;
  const gd = Array.from(got.dims, Number);
  if (gd.length !== want.dims.length || gd.some((d, i) => d !== want.dims[i]))
    return `shape [${gd}], expected [${want.dims}]`;
  const n = want.data.length;
  if (got.data.length !== n) return `${got.data.length} elements, expected ${n}`;
  const isFloat = want.type === 'float32' || want.type === 'float64' || want.type === 'float16';
  const g = numbers(got);
  const w = numbers(want);
  let bad = 0;
  let first = -1;
  let worst = 0;
  for (let i = 0; i < n; i++) {
    let ok;
    if (isFloat) {
      const a = Number(g[i]);
      const b = Number(w[i]);
      if (Number.isNaN(a) || Number.isNaN(b)) ok = Number.isNaN(a) && Number.isNaN(b);
      else if (!Number.isFinite(a) || !Number.isFinite(b)) ok = a === b;
      else {
        const err = Math.abs(a - b);
        ok = err <= ATOL + RTOL * Math.abs(b);
        if (!ok) worst = Math.max(worst, err);
      }
    } else if (want.type === 'bool') {
      ok = Boolean(Number(g[i])) === Boolean(Number(w[i]));
    } else {
      ok = g[i] === w[i];
    }
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (!bad) return null;
  return `${bad} of ${n} elements differ (first at ${first}: got ${g[first]}, expected ${w[first]}` +
    (isFloat ? `; max abs error ${worst.toExponential(3)})` : ')');
}

// ------------------------------------------------------------------ main

async function main() {
  const args = process.argv.slice(2);
  let ortPrefix = process.env.DYCL_ORT_PREFIX || '';
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--ort') ortPrefix = args[++i];
    else pos.push(args[i]);
  }
  if (pos.length !== 2 || !ortPrefix) {
    console.error('usage: node ort_check.js --ort ORT_PREFIX JOBS.json RESULTS.json');
    process.exit(2);
  }
  const ort = require(path.resolve(ortPrefix, 'node_modules', 'onnxruntime-node'));
  const jobs = JSON.parse(fs.readFileSync(pos[0], 'utf8'));
  const sessions = new Map();
  const results = [];
  let passed = 0;
  let failed = 0;
  for (const job of jobs) {
    let msg = null;
    try {
      let sess = sessions.get(job.model);
      if (sess === undefined) {
        try {
          sess = await ort.InferenceSession.create(job.model, {logSeverityLevel: 3, intraOpNumThreads: 1});
        } catch (e) {
          sess = {error: String(e.message || e).split('\n')[0]};
        }
        sessions.set(job.model, sess);
      }
      if (sess.error) throw new Error(`ONNX Runtime cannot load the model: ${sess.error}`);
      if (sess.inputNames.length !== job.inputs.length)
        throw new Error(`the model has ${sess.inputNames.length} inputs, ${job.inputs.length} recorded`);
      if (sess.outputNames.length !== job.expected.length)
        throw new Error(`the model has ${sess.outputNames.length} outputs, ${job.expected.length} recorded`);
      const feeds = {};
      job.inputs.forEach((file, i) => {
        const t = loadTensor(file);
        feeds[sess.inputNames[i]] = new ort.Tensor(t.type, t.data, t.dims);
      });
      const out = await sess.run(feeds);
      const problems = [];
      job.expected.forEach((file, j) => {
        const name = sess.outputNames[j];
        const got = out[name];
        const d = compare({type: got.type, dims: got.dims, data: got.data}, loadTensor(file));
        if (d) problems.push(`output ${j} '${name}': ${d}`);
      });
      if (problems.length) msg = problems.join('; ');
    } catch (e) {
      msg = String(e.message || e).split('\n')[0];
    }
    results.push({id: job.id, ok: msg === null, msg: msg || ''});
    if (msg === null) passed++;
    else {
      failed++;
      console.log(`FAIL ${job.id}: ${msg}`);
    }
  }
  fs.writeFileSync(pos[1], JSON.stringify(results, null, 1));
  console.log(`ort_check: ${passed} passed, ${failed} failed`);
  process.exit(0);
}

main().catch((e) => {
  console.error(`ort_check: ${e.stack || e}`);
  process.exit(1);
});
