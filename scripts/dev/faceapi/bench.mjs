// bench.mjs: face-api 1.7.15's JavaScript speed in Node on this machine, the
// baseline for the Go face pipeline. Run it through bench.sh, which dumps
// the photos' RGB with Go's decoder (decoding is never timed):
//
//   bash scripts/dev/faceapi/bench.sh [-n REPS] [-w WARMUP] [-b cpu,wasm] [PHOTO...]
//
// Direct use: node bench.mjs [--reps N] [--warmup W] [--backends cpu,wasm] NAME=FILE.rgb ...
//
// Per photo and backend it prints medians over REPS runs after WARMUP runs:
//   one_face_ms   detectSingleFace(416).withFaceLandmarks().withFaceDescriptor()
//                 (the brief's "detect + landmarks + descriptor for one face")
//   all_faces_ms  detectAllFaces(416).withFaceLandmarks().withFaceDescriptors()
//                 (what `starid bench --faces` times on the Go side)
//   detect_ms, landmarks_ms, descriptor_ms  the three nets alone, the last
//                 two on the best-scoring face (crop slicing included)
// Each backend runs in its own Node process so that weights and kernels of
// one never serve the other.

import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadFaceApi, readRGB } from './common.mjs';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    reps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    backends: { type: 'string', default: 'cpu,wasm' },
  },
});
if (positionals.length === 0) {
  console.error('usage: node bench.mjs [--reps N] [--warmup W] [--backends cpu,wasm] NAME=FILE.rgb ...');
  process.exit(2);
}
const reps = Number(args.reps);
const warmup = Number(args.warmup);
const backends = args.backends.split(',').filter(Boolean);

if (backends.length > 1) {
  // Fan out, one process per backend, and merge their JSON.
  const self = fileURLToPath(import.meta.url);
  const results = backends.map((b) => {
    try {
      const out = execFileSync(process.execPath, [self, '--reps', args.reps, '--warmup', args.warmup, '--backends', b, ...positionals],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
      return JSON.parse(out);
    } catch (e) {
      return { backend: b, error: String(e.message).split('\n')[0] };
    }
  });
  console.log(JSON.stringify({ results }, null, 2));
  process.exit(0);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Median wall time of fn in ms; fn must finish all tensor work it starts. */
async function time(fn) {
  for (let i = 0; i < warmup; i++) await fn();
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return Math.round(median(ts) * 10) / 10;
}

const backend = backends[0];
const { faceapi, tf } = await loadFaceApi(backend);
const { nets } = faceapi;
const opts = new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: 0.5 });

const info = { backend, tfjs: tf.version.tfjs, face_api: faceapi.version, node: process.version, cpus: os.cpus().length, reps, warmup };
if (backend === 'wasm') {
  // Node never gets the threaded build (tfjs disables it under IS_NODE), so
  // the wasm backend is single-threaded here; SIMD depends on the runtime.
  info.wasm_simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  info.wasm_multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
}

const photos = [];
for (const arg of positionals) {
  const eq = arg.lastIndexOf('=');
  const name = eq > 0 ? arg.slice(0, eq) : arg;
  const img = readRGB(tf, eq > 0 ? arg.slice(eq + 1) : arg);
  const dets = await nets.tinyFaceDetector.locateFaces(img.tensor, opts);
  const row = { image: name, width: img.width, height: img.height, faces: dets.length };

  row.detect_ms = await time(() => nets.tinyFaceDetector.locateFaces(img.tensor, opts));
  if (dets.length > 0) {
    const best = dets.reduce((a, b) => (b.score > a.score ? b : a));
    const [face] = await faceapi.extractFaceTensors(img.tensor, [best]);
    const lm = (await nets.faceLandmark68Net.detectLandmarks(face)).shiftBy(best.box.x, best.box.y);
    face.dispose();
    const rect = lm.align(null, { useDlibAlignment: true });
    row.landmarks_ms = await time(async () => {
      const [f] = await faceapi.extractFaceTensors(img.tensor, [best]);
      await nets.faceLandmark68Net.detectLandmarks(f);
      f.dispose();
    });
    row.descriptor_ms = await time(async () => {
      const [f] = await faceapi.extractFaceTensors(img.tensor, [rect]);
      await nets.faceRecognitionNet.computeFaceDescriptor(f);
      f.dispose();
    });
    row.one_face_ms = await time(() => faceapi.detectSingleFace(img.tensor, opts).withFaceLandmarks().withFaceDescriptor());
  }
  row.all_faces_ms = await time(() => faceapi.detectAllFaces(img.tensor, opts).withFaceLandmarks().withFaceDescriptors());
  img.tensor.dispose();
  photos.push(row);
  console.error(`${backend} ${name}: ${JSON.stringify(row)}`);
}

const oneFace = photos.filter((p) => p.one_face_ms !== undefined).map((p) => p.one_face_ms);
console.log(JSON.stringify({
  ...info,
  median_one_face_ms: oneFace.length ? median(oneFace) : null,
  median_all_faces_ms: median(photos.map((p) => p.all_faces_ms)),
  per_photo: photos,
}, null, 2));
