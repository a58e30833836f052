// golden.mjs: face-api 1.7.15's own outputs on the sample photos and on a
// synthetic pattern, written as internal/faces/testdata/golden.json for the
// Go port's tests. Run it through golden.sh (which installs the pinned npm
// packages and dumps the photos' RGB with the Go decoder):
//
//   bash scripts/dev/faceapi/golden.sh
//
// Direct use: node golden.mjs --rgb DIR --out FILE, where DIR holds
// sample1.rgb .. sample6.rgb from `go run ./scripts/dev/rawrgb`.
// The backend is tfjs 'cpu': plain JavaScript float32 arithmetic, the most
// predictable reference. README.md lists every face-api call made here and
// what it computes.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { F32, fmt, goldenArgs, loadFaceApi, pattern, PATTERN, readRGB } from './common.mjs';

const args = goldenArgs('cpu', 'node golden.mjs --rgb DIR --out golden.json [--backend cpu]');

const SIZES = [320, 416, 512, 608];
const SCORE_THRESHOLD = 0.5;
const SAMPLES = [1, 2, 3, 4, 5, 6].map((i) => `sample${i}.jpg`);

const { faceapi, tf } = await loadFaceApi(args.backend);
const nets = faceapi.nets;

/** Raw landmark fc output (1 x 136, before postProcess) for a face tensor. */
async function landmarkRaw(face) {
  const netInput = await faceapi.toNetInput(face);
  const out = nets.faceLandmark68Net.runNet(netInput);
  const raw = out.dataSync();
  out.dispose();
  return raw;
}

const boxArray = (b) => [b.x, b.y, b.width, b.height];

async function describeImage(file) {
  const img = readRGB(tf, path.join(args.rgb, file.replace(/\.jpg$/, '.rgb')));
  const entry = { file, width: img.width, height: img.height, detections: {}, faces: [] };

  for (const size of SIZES) {
    const opts = new faceapi.TinyFaceDetectorOptions({ inputSize: size, scoreThreshold: SCORE_THRESHOLD });
    const dets = await nets.tinyFaceDetector.locateFaces(img.tensor, opts);
    entry.detections[size] = dets.map((d) => ({ box: boxArray(d.box), score: d.score }));
  }

  const opts416 = new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: SCORE_THRESHOLD });
  const dets = await nets.tinyFaceDetector.locateFaces(img.tensor, opts416);
  for (const det of dets) {
    // What DetectAllFaceLandmarksTask does for a tensor input: slice the
    // clipped, floored box out of the image, run the landmark net on that
    // slice, then shift the points by the (unclipped, unfloored) box origin.
    const crop = det.box.clipAtImageBorders(img.width, img.height);
    const [face] = await faceapi.extractFaceTensors(img.tensor, [det]);
    const raw = await landmarkRaw(face);
    const unshifted = await nets.faceLandmark68Net.detectLandmarks(face);
    const landmarks = unshifted.shiftBy(det.box.x, det.box.y);
    const descriptor = await nets.faceRecognitionNet.computeFaceDescriptor(face);
    face.dispose();

    // What ComputeAllFaceDescriptorsTask does next: the dlib-style aligned
    // square from eye and mouth centres, clipped and sliced the same way.
    const alignedRect = landmarks.align(null, { useDlibAlignment: true });
    const alignedCrop = alignedRect.clipAtImageBorders(img.width, img.height);
    const [aligned] = await faceapi.extractFaceTensors(img.tensor, [alignedRect]);
    const alignedDescriptor = await nets.faceRecognitionNet.computeFaceDescriptor(aligned);
    aligned.dispose();

    entry.faces.push({
      box: boxArray(det.box),
      crop: boxArray(crop),
      landmarks: landmarks.positions.map((p) => [p.x, p.y]),
      landmarks_raw: new F32(raw),
      descriptor: new F32(descriptor),
      aligned_crop: boxArray(alignedCrop),
      aligned_descriptor: new F32(alignedDescriptor),
    });
  }

  await crossCheck(img, opts416, entry);
  img.tensor.dispose();
  return entry;
}

// The low-level calls above must reproduce face-api's one-line pipeline
// bit for bit, or the README's description of it is wrong.
async function crossCheck(img, opts, entry) {
  const full = await faceapi.detectAllFaces(img.tensor, opts).withFaceLandmarks().withFaceDescriptors();
  if (full.length !== entry.faces.length) {
    throw new Error(`${entry.file}: pipeline found ${full.length} faces, low-level ${entry.faces.length}`);
  }
  full.forEach((r, i) => {
    const f = entry.faces[i];
    const same = (a, b) => a.length === b.length && a.every((v, j) => v === b[j]);
    if (!same(boxArray(r.detection.box), f.box)) throw new Error(`${entry.file} face ${i}: box differs`);
    if (!same(r.landmarks.positions.flatMap((p) => [p.x, p.y]), f.landmarks.flat())) {
      throw new Error(`${entry.file} face ${i}: landmarks differ from withFaceLandmarks()`);
    }
    if (!same(Array.from(r.descriptor), f.aligned_descriptor.values)) {
      throw new Error(`${entry.file} face ${i}: aligned descriptor differs from withFaceDescriptors()`);
    }
  });
}

async function synthetic() {
  const rec = pattern(tf, 150);
  const descriptor = await nets.faceRecognitionNet.computeFaceDescriptor(rec);
  rec.dispose();

  const lm = pattern(tf, 112);
  const raw = await landmarkRaw(lm);
  lm.dispose();

  const det = pattern(tf, 416);
  const out = nets.tinyFaceDetector.forwardInput(await faceapi.toNetInput(det), 416);
  const detRaw = out.dataSync();
  const shape = out.shape;
  out.dispose();
  det.dispose();
  let sum = 0;
  for (const v of detRaw) sum += v;

  return {
    pattern: PATTERN,
    recognition: { size: 150, descriptor: new F32(descriptor) },
    landmarks: { size: 112, raw: new F32(raw) },
    detector: {
      size: 416,
      shape,
      layout: 'NHWC: index ((row*13 + col)*25 + anchor*5 + k), k = tx, ty, tw, th, objectness',
      raw_first: new F32(detRaw.slice(0, 25)),
      raw_sum: sum,
      raw: new F32(detRaw),
    },
  };
}

const images = [];
for (const file of SAMPLES) {
  images.push(await describeImage(file));
  const e = images[images.length - 1];
  console.error(`${file} ${e.width}x${e.height}: ${SIZES.map((s) => `${s}:${e.detections[s].length}`).join(' ')} faces`);
}
const golden = {
  face_api: faceapi.version,
  tfjs: tf.version.tfjs,
  backend: tf.getBackend(),
  score_threshold: SCORE_THRESHOLD,
  images,
  synthetic: await synthetic(),
};
writeFileSync(args.out, `${fmt(golden)}\n`);
console.error(`wrote ${args.out}`);
