// ssd_golden.mjs: face-api 1.7.15's SSD MobileNetV1 face detector on the six
// sample photos and on the synthetic pattern, written as
// internal/faces/testdata/ssd_golden.json for the Go port's tests. Run it
// through ssd_golden.sh (installs the pinned npm packages, dumps the photos'
// RGB with the Go decoder):
//
//   bash scripts/dev/faceapi/ssd_golden.sh
//
// Direct use: node ssd_golden.mjs --rgb DIR --out FILE. README.md says what
// each field is.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { F32, fmt, goldenArgs, loadFaceApi, pattern, PATTERN, readRGB } from './common.mjs';

const args = goldenArgs('wasm', 'node ssd_golden.mjs --rgb DIR --out ssd_golden.json [--backend wasm|cpu]');

// A threshold below face-api's default 0.5 so the goldens also hold the
// weak boxes (turned heads) the Go pipeline may take, and exercise NMS.
const MIN_CONFIDENCE = 0.3;
const TOP = 12; // raw anchors kept per input
const SAMPLES = [1, 2, 3, 4, 5, 6].map((i) => `sample${i}.jpg`);

const { faceapi, tf } = await loadFaceApi(args.backend, ['ssdMobilenetv1']);
const net = faceapi.nets.ssdMobilenetv1;

// raw runs the net on a tensor and returns its TOP best anchors: index,
// score and the decoded box (ymin, xmin, ymax, xmax relative to the padded
// 512 square), plus sums over every anchor, before NMS and thresholds.
async function raw(tensor) {
  const input = await faceapi.toNetInput(tensor);
  const { boxes, scores } = net.forwardInput(input);
  const b = boxes[0].dataSync();
  const s = scores[0].dataSync();
  boxes.forEach((t) => t.dispose());
  scores.forEach((t) => t.dispose());
  const order = Array.from(s.keys()).sort((i, j) => s[j] - s[i]).slice(0, TOP);
  let scoreSum = 0;
  let boxSum = 0;
  for (const v of s) scoreSum += v;
  for (const v of b) boxSum += v;
  return {
    anchors: s.length,
    score_sum: scoreSum,
    box_sum: boxSum,
    top: order.map((i) => ({ index: i, score: new F32([s[i]]), box: new F32(b.slice(4 * i, 4 * i + 4)) })),
  };
}

async function describeImage(file) {
  const img = readRGB(tf, path.join(args.rgb, file.replace(/\.jpg$/, '.rgb')));
  const opts = new faceapi.SsdMobilenetv1Options({ minConfidence: MIN_CONFIDENCE });
  const dets = await net.locateFaces(img.tensor, opts);
  const entry = {
    file,
    width: img.width,
    height: img.height,
    detections: dets.map((d) => ({ box: [d.box.x, d.box.y, d.box.width, d.box.height], score: d.score })),
    raw: await raw(img.tensor),
  };
  img.tensor.dispose();
  return entry;
}

const images = [];
for (const file of SAMPLES) {
  const e = await describeImage(file);
  images.push(e);
  console.error(`${file} ${e.width}x${e.height}: ${e.detections.length} faces`);
}
const synth = pattern(tf, 512);
const golden = {
  face_api: faceapi.version,
  tfjs: tf.version.tfjs,
  backend: tf.getBackend(),
  min_confidence: MIN_CONFIDENCE,
  iou: 0.5,
  images,
  synthetic: { pattern: PATTERN, size: 512, ...(await raw(synth)) },
};
synth.dispose();
writeFileSync(args.out, `${fmt(golden)}\n`);
console.error(`wrote ${args.out}`);
