/** Per-environment settings: one stack shape, these numbers differ. */

/** The environments this app deploys. */
export const ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;
/** One of {@link ENVIRONMENTS}. */
export type EnvName = (typeof ENVIRONMENTS)[number];

/** Backends the GPU task may run (gpu-worker/src/backends); `local` needs no weights. */
export const GPU_MODELS = ['local', 'ltx'] as const;
/** One of {@link GPU_MODELS}. */
export type GpuModel = (typeof GPU_MODELS)[number];

/** What differs between dev, staging and prod. */
export interface EnvConfig {
  /** dev, staging or prod. */
  readonly name: EnvName;
  /** The edge's public base URL; the worker calls it back. */
  readonly edgeUrl: string;
  /** Keep buckets, tables and keys when the stack is deleted. */
  readonly retainData: boolean;
  /** The CPU worker Lambda's timeout in seconds (a whole render plus upload). */
  readonly workerTimeoutSeconds: number;
  /** The Lambda's memory (CPU scales with it). */
  readonly workerMemoryMb: number;
  /** Renders at once on Lambda (reserved concurrency). */
  readonly workerConcurrency: number;
  /** GPU instances: none in dev; the service scales between min and max. */
  readonly gpu: {
    readonly instanceType: string;
    readonly minInstances: number;
    readonly maxInstances: number;
    readonly desiredTasks: number;
    /** The backend; any but `local` syncs its weights from `models/{model}/` in the bucket at start (docs/MODELS.md). */
    readonly model: GpuModel;
  } | null;
  /** Days unpublished draft media is kept. */
  readonly draftDays: number;
  /** Oldest queued job, in seconds, before the queue-age alarm fires. */
  readonly queueAgeAlarmSeconds: number;
}

const BASE = {
  workerTimeoutSeconds: 300,
  workerMemoryMb: 3008,
  draftDays: 30,
  queueAgeAlarmSeconds: 600,
};

/** The three environments. */
export const CONFIGS: Record<EnvName, EnvConfig> = {
  dev: {
    ...BASE,
    name: 'dev',
    edgeUrl: 'https://dev.api.dreamreel.app',
    retainData: false,
    workerConcurrency: 2,
    gpu: null,
    draftDays: 7,
  },
  staging: {
    ...BASE,
    name: 'staging',
    edgeUrl: 'https://staging.api.dreamreel.app',
    retainData: false,
    workerConcurrency: 5,
    gpu: { instanceType: 'g5.xlarge', minInstances: 0, maxInstances: 1, desiredTasks: 0, model: 'local' },
  },
  prod: {
    ...BASE,
    name: 'prod',
    edgeUrl: 'https://api.dreamreel.app',
    retainData: true,
    workerConcurrency: 50,
    gpu: { instanceType: 'g5.xlarge', minInstances: 0, maxInstances: 8, desiredTasks: 0, model: 'local' },
    queueAgeAlarmSeconds: 300,
  },
};

/** Per-deploy overrides from CDK context. */
export interface Overrides {
  /** The edge's base URL. */
  readonly edgeUrl?: string;
  /** GPU worker tasks to run (0 until an image has been pushed). */
  readonly gpuTasks?: number;
  /** The GPU task's model backend (one of {@link GPU_MODELS}). */
  readonly gpuModel?: string;
}

/** The config named by `name` with `overrides`, or an error listing the valid names. */
export function configFor(name: string | undefined, overrides: Overrides = {}): EnvConfig {
  const env = ENVIRONMENTS.find((e) => e === name);
  if (!env) {
    throw new Error(`context "env" must be one of ${ENVIRONMENTS.join(', ')} (got ${JSON.stringify(name)}); e.g. cdk synth -c env=dev`);
  }
  let config = CONFIGS[env];
  if (overrides.edgeUrl) config = { ...config, edgeUrl: overrides.edgeUrl };
  if (overrides.gpuTasks !== undefined) {
    if (!config.gpu) throw new Error(`${env} has no GPU service; gpuTasks does not apply`);
    if (!Number.isInteger(overrides.gpuTasks) || overrides.gpuTasks < 0) throw new Error('gpuTasks must be a whole number');
    const gpu = { ...config.gpu, desiredTasks: overrides.gpuTasks, minInstances: Math.min(overrides.gpuTasks, config.gpu.maxInstances) };
    config = { ...config, gpu };
  }
  if (overrides.gpuModel !== undefined) {
    if (!config.gpu) throw new Error(`${env} has no GPU service; gpuModel does not apply`);
    const model = GPU_MODELS.find((m) => m === overrides.gpuModel);
    if (!model) throw new Error(`gpuModel must be one of ${GPU_MODELS.join(', ')} (got ${JSON.stringify(overrides.gpuModel)})`);
    config = { ...config, gpu: { ...config.gpu, model } };
  }
  return config;
}
