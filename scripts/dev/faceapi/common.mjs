// Shared helpers for the dev-only face-api reference scripts (golden.mjs,
// bench.mjs). Dev-only: nothing in the Go build depends on this folder.
//
// The npm packages are not vendored: golden.sh / bench.sh install the pinned
// versions of package.json into a cache folder and pass it as FACEAPI_NODE_DIR;
// createRequire resolves them from there, so node_modules never lands in the
// repository.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

/** Folder holding node_modules with face-api and tfjs (see golden.sh). */
export function depsDir() {
  if (process.env.FACEAPI_NODE_DIR) return process.env.FACEAPI_NODE_DIR;
  const cache = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  return path.join(cache, 'starid', 'faceapi-node');
}

/** Folder holding face-api's model/ (weights) and demo/ (sample photos). */
export function modelsRoot() {
  return process.env.STARID_MODELS || path.join(homedir(), '.cache', 'starid', 'face-api-1.7.15');
}

/**
 * Loads face-api's Node build that does not need tfjs-node (whose native
 * library download is unavailable here): dist/face-api.node-wasm.js. It
 * requires the pure-JS @tensorflow/tfjs (cpu backend) and
 * @tensorflow/tfjs-backend-wasm, and re-exports that tf as faceapi.tf, so
 * tensors we create are the ones face-api's `instanceof tf.Tensor` checks
 * accept. Only the weights of the named nets are loaded.
 */
export async function loadFaceApi(backend, nets = ['tinyFaceDetector', 'faceLandmark68Net', 'faceRecognitionNet']) {
  const require = createRequire(path.join(depsDir(), 'package.json'));
  // tfjs prints a "use tfjs-node" banner on first use; it is noise here.
  for (const k of ['log', 'warn']) {
    const orig = console[k];
    console[k] = (...a) => { if (!a.some((x) => String(x).includes('tfjs-node'))) orig(...a); };
  }
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  const { tf } = faceapi;
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} failed to initialise`);
  await tf.ready();
  const dir = path.join(modelsRoot(), 'model');
  for (const name of nets) await faceapi.nets[name].loadFromDisk(dir);
  return { faceapi, tf };
}

/**
 * Reads a dump written by `go run ./scripts/dev/rawrgb IN OUT`: width and
 * height as uint32 LE, then W*H*3 bytes RGB. Returns a float32 HWC tensor,
 * the same values face-api would get from decoding (it casts to float32
 * before every net anyway).
 */
export function readRGB(tf, file) {
  const buf = readFileSync(file);
  const width = buf.readUInt32LE(0);
  const height = buf.readUInt32LE(4);
  const n = width * height * 3;
  if (buf.length !== 8 + n) throw new Error(`${file}: ${buf.length} bytes, want ${8 + n} for ${width}x${height}`);
  const px = new Float32Array(n);
  for (let i = 0; i < n; i++) px[i] = buf[8 + i];
  return { width, height, tensor: tf.tensor3d(px, [height, width, 3], 'float32') };
}

/** The synthetic test image: v(x,y,c) = (x*7 + y*13 + c*29) mod 256, S x S. */
export const PATTERN = 'v(x,y,c) = ((x*7 + y*13 + c*29) mod 256) for a square S x S RGB image, values as float32';

export function pattern(tf, size) {
  const px = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) px[(y * size + x) * 3 + c] = (x * 7 + y * 13 + c * 29) % 256;
    }
  }
  return tf.tensor3d(px, [size, size, 3], 'float32');
}

// F32 marks numbers that were float32 in the net (tensor outputs): they are
// written with 9 significant digits, enough to round-trip a float32 exactly.
// Everything else (boxes, scores, landmark pixels) is double arithmetic in
// face-api and is written at full double precision.
export class F32 {
  constructor(values) { this.values = Array.from(values); }
}

// A compact, stable JSON writer: objects one key per line, number arrays on
// one line, so the committed file diffs readably.
export function fmt(v, indent = '') {
  const inner = `${indent}  `;
  if (v instanceof F32) {
    return `[${v.values.map((x) => {
      if (!Number.isFinite(x)) throw new Error(`non-finite value ${x}`);
      return String(Number(x.toPrecision(9)));
    }).join(',')}]`;
  }
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'number')) return JSON.stringify(v);
    if (v.length === 0) return '[]';
    if (v.every((x) => Array.isArray(x))) return `[${v.map((x) => fmt(x, inner)).join(',')}]`;
    return `[\n${v.map((x) => inner + fmt(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 0) return '{}';
    return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${fmt(v[k], inner)}`).join(',\n')}\n${indent}}`;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`non-finite value ${v}`);
  return JSON.stringify(v);
}

/**
 * Reads the command line of a golden script (--rgb DIR --out FILE
 * [--backend NAME]); prints usage and exits 2 when a path is missing.
 * usage is the script's own line, e.g. 'node golden.mjs --rgb DIR ...'.
 */
export function goldenArgs(backend, usage) {
  const { values: args } = parseArgs({
    options: {
      rgb: { type: 'string' },
      out: { type: 'string' },
      backend: { type: 'string', default: backend },
    },
  });
  if (!args.rgb || !args.out) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  return args;
}
