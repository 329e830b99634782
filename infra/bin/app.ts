#!/usr/bin/env node
/**
 * The CDK app: one stack per environment, chosen with `-c env=dev|staging|prod`.
 *
 * Context: `env` (required), `edgeUrl` (overrides the environment's edge URL),
 * `workerAsset` (the Lambda package: `bootstrap`, models/, lib/; default
 * ../target/lambda/gpu-worker, built by infra/scripts/package-worker.sh), `gpuImageTag` (default `latest`),
 * `gpuTasks` (GPU worker tasks; 0 until its image is pushed), `gpuModel` (the GPU task's backend, default `local`), `alarmEmail`, and `account` / `region` (default: the CLI's).
 */
import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';

import { configFor } from '../lib/config';
import { DreamreelStack } from '../lib/stack';
import { missingWorkerFiles } from '../lib/worker-asset';

const app = new cdk.App();
const ctx = (name: string): string | undefined => app.node.tryGetContext(name) || undefined;

const gpuTasks = ctx('gpuTasks');
const config = configFor(ctx('env'), {
  edgeUrl: ctx('edgeUrl'),
  gpuTasks: gpuTasks === undefined ? undefined : Number(gpuTasks),
  gpuModel: ctx('gpuModel'),
});
const infraRoot = path.resolve(__dirname, '..', '..');
const workerAssetPath = path.resolve(infraRoot, ctx('workerAsset') ?? '../target/lambda/gpu-worker');
// A package without its models would deploy a worker that skips the safety checks.
const missing = missingWorkerFiles(workerAssetPath);
if (missing.length > 0) {
  throw new Error(
    `the Lambda package in ${workerAssetPath} lacks ${missing.join(', ')}: run ` +
      '`infra/scripts/package-worker.sh` first (or pass -c workerAsset=DIR)',
  );
}

new DreamreelStack(app, `Dreamreel-${config.name}`, {
  config,
  workerAssetPath,
  gpuImageTag: ctx('gpuImageTag') ?? 'latest',
  alarmEmail: ctx('alarmEmail'),
  env: {
    account: ctx('account') ?? process.env.CDK_DEFAULT_ACCOUNT,
    region: ctx('region') ?? process.env.CDK_DEFAULT_REGION,
  },
  description: `Dreamreel ${config.name}: storage, queue, tables, workers, CDN, alarms`,
  terminationProtection: config.retainData,
});
