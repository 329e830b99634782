#!/usr/bin/env node
/**
 * Renders the edge's deployment files for one environment:
 * `node dist/bin/spin.js --env prod --outputs out/prod.json --image REF [--out DIR]`
 * writes DIR/runtime-config.toml and DIR/spinapp.json (SpinKube) and
 * DIR/hosted-args.txt (hosted Spin), default DIR: out/<env>.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { configFor } from '../lib/config';
import { hostedDeployArgs, runtimeConfigToml, spinApp, StackOutputs } from '../lib/spin';

const { values } = parseArgs({
  options: {
    env: { type: 'string' },
    outputs: { type: 'string' },
    image: { type: 'string' },
    out: { type: 'string' },
  },
});
const config = configFor(values.env);
if (!values.outputs || !values.image) {
  throw new Error('--outputs (cdk deploy --outputs-file) and --image (the Spin app OCI reference) are required');
}
// The outputs file maps stack name -> outputs.
const all = JSON.parse(fs.readFileSync(values.outputs, 'utf8'));
const outputs: StackOutputs = all[`Dreamreel-${config.name}`] ?? all;
for (const key of ['Region', 'KvTableName', 'BucketName', 'S3Endpoint'] as const) {
  if (!outputs[key]) throw new Error(`${values.outputs} lacks output ${key}`);
}
const dir = values.out ?? path.join('out', config.name);
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, 'runtime-config.toml'), runtimeConfigToml(outputs));
fs.writeFileSync(path.join(dir, 'spinapp.json'), JSON.stringify(spinApp(config, outputs, values.image), null, 2) + '\n');
fs.writeFileSync(path.join(dir, 'hosted-args.txt'), hostedDeployArgs(outputs));
console.log(`wrote runtime-config.toml, spinapp.json and hosted-args.txt in ${dir}`);
