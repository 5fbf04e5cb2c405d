#!/usr/bin/env node
// ONNX Runtime side of the benchmark (run by bench/run_bench.py, one process per job).
//
// usage: node bench/ort_bench.js --ort PREFIX --model MODEL.onnx --threads T
//          [--warmup W] [--min-iters N] [--max-iters N] [--budget S] CASE_DIR ...
//
// PREFIX is the npm prefix onnxruntime-node was installed into (tests/split/setup_ort.sh).
// Each CASE_DIR holds input_<i>.pb (TensorProto, graph-input order). One InferenceSession
// (intraOpNumThreads = T, interOpNumThreads = 1, sequential execution, all graph optimizations);
// every case is warmed up (all cases W times, round-robin, then once more just before it) and then
// run until it has min-iters runs and the budget (seconds) is spent, or max-iters runs.
// Prints one JSON line: {"cases": [[seconds, ...], ...], "maxrss_kb": N} or {"error": "..."}.
'use strict';

const fs = require('fs');
const path = require('path');

const DTYPES = {1: ['float32', Float32Array], 2: ['uint8', Uint8Array], 3: ['int8', Int8Array],
  4: ['uint16', Uint16Array], 5: ['int16', Int16Array], 6: ['int32', Int32Array],
  7: ['int64', BigInt64Array], 9: ['bool', Uint8Array], 11: ['float64', Float64Array],
  12: ['uint32', Uint32Array], 13: ['uint64', BigUint64Array]};

function varint(buf, pos) {
  let v = 0n, shift = 0n;
  for (;;) {
    const b = buf[pos++];
    v |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [v, pos];
    shift += 7n;
  }
}

// Minimal TensorProto reader for what onnx.numpy_helper.from_array writes (dims, data_type, raw_data).
function readTensor(file) {
  const buf = fs.readFileSync(file);
  let pos = 0, dtype = 0, raw = null;
  const dims = [];
  while (pos < buf.length) {
    let key;
    [key, pos] = varint(buf, pos);
    const field = Number(key >> 3n), wire = Number(key & 7n);
    if (wire === 0) {
      let v;
      [v, pos] = varint(buf, pos);
      if (field === 1) dims.push(Number(BigInt.asIntN(64, v)));
      else if (field === 2) dtype = Number(v);
    } else if (wire === 2) {
      let len;
      [len, pos] = varint(buf, pos);
      const end = pos + Number(len);
      if (field === 1) { // packed dims
        while (pos < end) { let v; [v, pos] = varint(buf, pos); dims.push(Number(BigInt.asIntN(64, v))); }
      } else if (field === 9) raw = buf.subarray(pos, end);
      pos = end;
    } else if (wire === 5) pos += 4;
    else if (wire === 1) pos += 8;
    else throw new Error(`${file}: unsupported wire type ${wire}`);
  }
  const d = DTYPES[dtype];
  if (!d) throw new Error(`${file}: unsupported data type ${dtype}`);
  const n = dims.reduce((a, b) => a * b, 1);
  const bytes = raw ? Uint8Array.from(raw) : new Uint8Array(n * d[1].BYTES_PER_ELEMENT);
  if (bytes.length !== n * d[1].BYTES_PER_ELEMENT) throw new Error(`${file}: raw_data size mismatch`);
  const data = new d[1](bytes.buffer, 0, n);
  return [d[0] === 'bool' ? 'bool' : d[0], d[0] === 'bool' ? Uint8Array.from(data) : data, dims];
}

async function main() {
  const args = process.argv.slice(2);
  const opt = {ort: 'build/ort', threads: 1, warmup: 3, minIters: 5, maxIters: 50, budget: 1.0};
  const dirs = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--ort') opt.ort = args[++i];
    else if (a === '--model') opt.model = args[++i];
    else if (a === '--threads') opt.threads = Number(args[++i]);
    else if (a === '--warmup') opt.warmup = Number(args[++i]);
    else if (a === '--min-iters') opt.minIters = Number(args[++i]);
    else if (a === '--max-iters') opt.maxIters = Number(args[++i]);
    else if (a === '--budget') opt.budget = Number(args[++i]);
    else dirs.push(a);
  }
  const ort = require(path.resolve(opt.ort, 'node_modules', 'onnxruntime-node'));
  try { ort.env.logLevel = 'error'; } catch (e) { /* older versions */ }
  let session;
  try {
    session = await ort.InferenceSession.create(opt.model, {
      intraOpNumThreads: opt.threads, interOpNumThreads: 1, executionMode: 'sequential',
      graphOptimizationLevel: 'all', logSeverityLevel: 3});
  } catch (e) {
    console.log(JSON.stringify({error: `session: ${String(e.message || e).split('\n')[0].slice(0, 300)}`}));
    return;
  }
  const feeds = dirs.map((d) => {
    const f = {};
    session.inputNames.forEach((name, i) => {
      const [type, data, dims] = readTensor(path.join(d, `input_${i}.pb`));
      f[name] = new ort.Tensor(type, data, dims);
    });
    return f;
  });
  const out = [];
  try {
    for (let w = 0; w < opt.warmup; w++) for (const f of feeds) await session.run(f);
    for (const f of feeds) {
      await session.run(f);
      const ts = [];
      const start = process.hrtime.bigint();
      for (;;) {
        const el = Number(process.hrtime.bigint() - start) / 1e9;
        if (ts.length >= opt.maxIters || (ts.length >= opt.minIters && el >= opt.budget)) break;
        const t = process.hrtime.bigint();
        await session.run(f);
        ts.push(Number(process.hrtime.bigint() - t) / 1e9);
      }
      out.push(ts);
    }
  } catch (e) {
    console.log(JSON.stringify({error: `run: ${String(e.message || e).split('\n')[0].slice(0, 300)}`}));
    return;
  }
  console.log(JSON.stringify({cases: out, maxrss_kb: process.resourceUsage().maxRSS}));
}

main().catch((e) => { console.log(JSON.stringify({error: String(e.message || e).split('\n')[0]})); });
