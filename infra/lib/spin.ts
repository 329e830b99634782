/** The edge's deployment files, rendered from an environment and its stack's outputs. */
import { EnvConfig } from './config';

/** The stack outputs the edge needs (see `cdk deploy --outputs-file`). */
export interface StackOutputs {
  readonly Region: string;
  readonly KvTableName: string;
  readonly BucketName: string;
  readonly S3Endpoint: string;
}

/** Kubernetes Secret holding the rendered runtime config (runtimeConfig.loadFromSecret). */
export const RUNTIME_CONFIG_SECRET = 'dreamreel-runtime-config';
/** Kubernetes Secret holding the secret Spin variables, synced from Secrets Manager. */
export const VARIABLES_SECRET = 'dreamreel-variables';
/** Spin variables that are secrets: never in a manifest, always from {@link VARIABLES_SECRET}. */
export const SECRET_VARIABLES = ['session_key', 'callback_key', 's3_access_key_id', 's3_secret_access_key'] as const;

const quote = (s: string) => JSON.stringify(s);

/**
 * Spin runtime config: the `default` key-value store on DynamoDB (Spin's
 * `aws_dynamo` provider, strongly consistent reads because the app's
 * compare-and-swap and counters read before they write). Credentials are
 * left to the AWS SDK's environment chain; `access_key`/`secret_key` lines
 * are appended by the deploy script from Secrets Manager, never committed.
 */
export function runtimeConfigToml(outputs: StackOutputs): string {
  return [
    '# Rendered by infra (npm run spin); do not edit.',
    '[key_value_store.default]',
    'type = "aws_dynamo"',
    `region = ${quote(outputs.Region)}`,
    `table = ${quote(outputs.KvTableName)}`,
    'consistent_read = true',
    '',
  ].join('\n');
}

/**
 * Non-secret Spin variables the stack decides; the rest keep spin.toml's
 * defaults (set others, such as admin_handles, in the rendered file).
 */
export function plainVariables(outputs: StackOutputs): Record<string, string> {
  return {
    s3_endpoint: outputs.S3Endpoint,
    // Presigned links are signed for the S3 host itself, so phones use it too.
    s3_public_endpoint: outputs.S3Endpoint,
    s3_bucket: outputs.BucketName,
    s3_region: outputs.Region,
  };
}

/** The SpinKube SpinApp for an environment. */
export function spinApp(config: EnvConfig, outputs: StackOutputs, image: string): object {
  const replicas = { dev: 1, staging: 2, prod: 6 }[config.name];
  return {
    apiVersion: 'core.spinkube.dev/v1alpha1',
    kind: 'SpinApp',
    metadata: { name: 'dreamreel', namespace: `dreamreel-${config.name}`, labels: { app: 'dreamreel', env: config.name } },
    spec: {
      image,
      executor: 'containerd-shim-spin',
      replicas,
      resources: { limits: { cpu: '1', memory: '512Mi' }, requests: { cpu: '250m', memory: '256Mi' } },
      checks: {
        liveness: { httpGet: { path: '/v1/health' } },
        readiness: { httpGet: { path: '/v1/health' } },
      },
      runtimeConfig: { loadFromSecret: RUNTIME_CONFIG_SECRET },
      variables: [
        ...Object.entries(plainVariables(outputs)).map(([name, value]) => ({ name, value })),
        ...SECRET_VARIABLES.map((name) => ({ name, valueFrom: { secretKeyRef: { name: VARIABLES_SECRET, key: name } } })),
      ],
    },
  };
}

/**
 * `spin cloud deploy` / `spin aka deploy` flags for a hosted Spin platform:
 * the plain variables; secrets are added on the command line from Secrets
 * Manager (docs/DEPLOY.md). The platform provides the key-value store.
 */
export function hostedDeployArgs(outputs: StackOutputs): string {
  const lines = Object.entries(plainVariables(outputs)).map(([k, v]) => `--variable ${k}=${v}`);
  return lines.join('\n') + '\n';
}
