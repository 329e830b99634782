/** The files the worker loads beside its binary, and where its environment points at them. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where Lambda unpacks the function's package. */
export const LAMBDA_ROOT = '/var/task';
/** Where the GPU worker image must hold the same layout (docs/DEPLOY.md). */
export const GPU_IMAGE_ROOT = '/opt/dreamreel';

/** The package layout infra/scripts/package-worker.sh writes, relative to its root. */
export const WORKER_PATHS = {
  /** all-MiniLM-L6-v2 for the semantic prompt check. */
  embeddingModel: 'models/minilm',
  /** policy.wasm, policy.json and graph folders for the frame checks. */
  framePolicy: 'models/frame-policy',
  /** ONNX Runtime under a fixed name (a copy of the wheel's versioned file). */
  onnxRuntime: 'lib/libonnxruntime.so',
} as const;

/** Files a package must hold: without them the worker runs unchecked or stops at start-up. */
export const REQUIRED_FILES = [
  'bootstrap',
  `${WORKER_PATHS.embeddingModel}/model.safetensors`,
  `${WORKER_PATHS.embeddingModel}/vocab.txt`,
  `${WORKER_PATHS.framePolicy}/policy.wasm`,
  `${WORKER_PATHS.framePolicy}/policy.json`,
  WORKER_PATHS.onnxRuntime,
] as const;

/** The entries of {@link REQUIRED_FILES} missing from `dir`. */
export function missingWorkerFiles(dir: string): string[] {
  return REQUIRED_FILES.filter((file) => !fs.statSync(path.join(dir, file), { throwIfNoEntry: false })?.isFile());
}

/** The worker's model and runtime variables for a package unpacked at `root`. */
export function workerFileEnv(root: string): Record<string, string> {
  return {
    DREAMREEL_EMBEDDING_MODEL: `${root}/${WORKER_PATHS.embeddingModel}`,
    DREAMREEL_FRAME_POLICY: `${root}/${WORKER_PATHS.framePolicy}`,
    DREAMREEL_ONNXRUNTIME: `${root}/${WORKER_PATHS.onnxRuntime}`,
  };
}
