/** Properties of the synthesised template that production relies on. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as cdk from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';

import { CONFIGS, configFor, ENVIRONMENTS, EnvName } from '../lib/config';
import { DreamreelStack, MAX_ATTEMPTS, MAX_RECEIVES } from '../lib/stack';
import { missingWorkerFiles, REQUIRED_FILES } from '../lib/worker-asset';

// A stand-in `bootstrap`: synth only hashes the folder; the real one is cargo lambda's output.
const PLACEHOLDER = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'lambda-placeholder');

type Resources = Record<string, { Type: string; Properties?: any; DeletionPolicy?: string }>;

function synth(env: EnvName): { template: Template; resources: Resources } {
  const app = new cdk.App();
  const stack = new DreamreelStack(app, `Dreamreel-${env}`, {
    config: CONFIGS[env],
    workerAssetPath: PLACEHOLDER,
    gpuImageTag: 'test',
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  const template = Template.fromStack(stack);
  return { template, resources: template.toJSON().Resources };
}

const prod = synth('prod');

function ofType(resources: Resources, type: string) {
  return Object.entries(resources).filter(([, r]) => r.Type === type);
}

function logicalId(resources: Resources, type: string, prefix: string): string {
  const found = ofType(resources, type).filter(([id]) => id.startsWith(prefix));
  assert.equal(found.length, 1, `one ${type} named ${prefix}*`);
  return found[0][0];
}

/** Every action granted to `principal` (a Role or User logical id) by inline policies. */
function actionsOf(resources: Resources, principal: string, kind: 'Roles' | 'Users'): Set<string> {
  const actions = new Set<string>();
  for (const [, policy] of ofType(resources, 'AWS::IAM::Policy')) {
    const refs: any[] = policy.Properties[kind] ?? [];
    if (!refs.some((r) => r.Ref === principal)) continue;
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      assert.equal(statement.Effect, 'Allow');
      for (const action of [statement.Action].flat()) actions.add(action);
    }
  }
  return actions;
}

/** The object paths (after the bucket ARN) an action is granted on. */
function objectPaths(resources: Resources, principal: string, kind: 'Roles' | 'Users', action: string): string[] {
  const paths: string[] = [];
  for (const [, policy] of ofType(resources, 'AWS::IAM::Policy')) {
    if (!(policy.Properties[kind] ?? []).some((r: any) => r.Ref === principal)) continue;
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      if (![statement.Action].flat().includes(action)) continue;
      for (const resource of [statement.Resource].flat()) {
        assert.ok(resource['Fn::Join'], `${action} is granted on object paths only`);
        paths.push(resource['Fn::Join'][1].at(-1));
      }
    }
  }
  return paths.sort();
}

describe('storage', () => {
  it('every bucket blocks public access, is encrypted with KMS and refuses plain HTTP', () => {
    const buckets = ofType(prod.resources, 'AWS::S3::Bucket');
    assert.ok(buckets.length >= 1);
    for (const [id, bucket] of buckets) {
      assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      }, id);
      const rule = bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0];
      assert.equal(rule.ServerSideEncryptionByDefault.SSEAlgorithm, 'aws:kms', id);
      assert.ok(rule.ServerSideEncryptionByDefault.KMSMasterKeyID, id);
    }
    prod.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('lifecycle rules end abandoned uploads and drafts', () => {
    const [, bucket] = ofType(prod.resources, 'AWS::S3::Bucket')[0];
    const rules: any[] = bucket.Properties.LifecycleConfiguration.Rules;
    assert.ok(rules.some((r) => r.AbortIncompleteMultipartUpload?.DaysAfterInitiation === 1));
    const drafts = rules.find((r) => r.Id === 'expire-drafts');
    assert.equal(drafts.Prefix, 'media/');
    assert.deepEqual(drafts.TagFilters, [{ Key: 'dreamreel:state', Value: 'draft' }]);
    assert.equal(drafts.ExpirationInDays, CONFIGS.prod.draftDays);
  });

  it('CloudFront reads media/ only, through origin access control', () => {
    prod.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: {
        Origins: [Match.objectLike({ OriginPath: '/media', OriginAccessControlId: Match.anyValue() })],
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }),
      },
    });
    const [, policy] = ofType(prod.resources, 'AWS::S3::BucketPolicy')[0];
    const allows = policy.Properties.PolicyDocument.Statement.filter((s: any) => s.Effect === 'Allow');
    assert.equal(allows.length, 1);
    assert.deepEqual(allows[0].Principal, { Service: 'cloudfront.amazonaws.com' });
    assert.equal(allows[0].Action, 's3:GetObject');
    assert.equal(allows[0].Resource['Fn::Join'][1].at(-1), '/media/*');
  });
});

describe('queue', () => {
  it('has a dead-letter queue past the worker attempts, both encrypted with KMS', () => {
    const dlq = logicalId(prod.resources, 'AWS::SQS::Queue', 'JobDlq');
    const queue = logicalId(prod.resources, 'AWS::SQS::Queue', 'JobQueue');
    const props = prod.resources[queue].Properties;
    assert.deepEqual(props.RedrivePolicy.deadLetterTargetArn, { 'Fn::GetAtt': [dlq, 'Arn'] });
    assert.ok(props.RedrivePolicy.maxReceiveCount > MAX_ATTEMPTS);
    assert.equal(props.RedrivePolicy.maxReceiveCount, MAX_RECEIVES);
    for (const id of [queue, dlq]) {
      assert.ok(prod.resources[id].Properties.KmsMasterKeyId, `${id} is encrypted`);
      assert.equal(prod.resources[id].Properties.MessageRetentionPeriod, 14 * 24 * 3600);
    }
  });

  it('receives ObjectCreated for jobs/, cameo/ (verification) and captions/ uploads, nothing else', () => {
    const queue = logicalId(prod.resources, 'AWS::SQS::Queue', 'JobQueue');
    const [, notifications] = ofType(prod.resources, 'Custom::S3BucketNotifications')[0];
    const configs: any[] = notifications.Properties.NotificationConfiguration.QueueConfigurations;
    const prefixes = configs.map((c) => {
      assert.equal(c.Events.length, 1);
      assert.equal(c.Events[0], 's3:ObjectCreated:*');
      assert.deepEqual(c.QueueArn, { 'Fn::GetAtt': [queue, 'Arn'] });
      const rules: any[] = c.Filter.Key.FilterRules;
      return rules.find((r) => r.Name === 'prefix').Value;
    });
    assert.deepEqual(prefixes.sort(), ['cameo/', 'captions/', 'jobs/']);
    assert.equal(notifications.Properties.NotificationConfiguration.LambdaFunctionConfigurations, undefined);
  });

  it('feeds the Lambda one message at a time, within the visibility timeout', () => {
    const queue = logicalId(prod.resources, 'AWS::SQS::Queue', 'JobQueue');
    const fn = logicalId(prod.resources, 'AWS::Lambda::Function', 'Worker');
    prod.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queue, 'Arn'] },
      FunctionName: { Ref: fn },
      BatchSize: 1,
    });
    const timeout = prod.resources[fn].Properties.Timeout;
    assert.ok(prod.resources[queue].Properties.VisibilityTimeout > timeout);
  });
});

describe('tables', () => {
  it("the key-value table has the layout of Spin's aws_dynamo provider", () => {
    const kv = logicalId(prod.resources, 'AWS::DynamoDB::Table', 'EdgeKv');
    const props = prod.resources[kv].Properties;
    // Spin reads and writes items {PK: S (the key), VAL: B, VER: N}; only PK is a key attribute.
    assert.deepEqual(props.KeySchema, [{ AttributeName: 'PK', KeyType: 'HASH' }]);
    assert.deepEqual(props.AttributeDefinitions, [{ AttributeName: 'PK', AttributeType: 'S' }]);
    assert.equal(props.BillingMode, 'PAY_PER_REQUEST');
    assert.equal(props.SSESpecification.SSEEnabled, true);
    assert.equal(props.SSESpecification.SSEType, 'KMS');
  });

  it("the ledger is keyed as gpu-worker's DynamoLedger expects", () => {
    const ledger = logicalId(prod.resources, 'AWS::DynamoDB::Table', 'JobLedger');
    const props = prod.resources[ledger].Properties;
    assert.deepEqual(props.KeySchema, [{ AttributeName: 'job_id', KeyType: 'HASH' }]);
    assert.deepEqual(props.AttributeDefinitions, [{ AttributeName: 'job_id', AttributeType: 'S' }]);
    assert.equal(props.SSESpecification.SSEEnabled, true);
  });
});

describe('least privilege', () => {
  it('the CPU worker may only read specs and recordings, write media, keep the ledger, consume the queue', () => {
    const role = logicalId(prod.resources, 'AWS::IAM::Role', 'WorkerRole');
    assert.deepEqual([...actionsOf(prod.resources, role, 'Roles')].sort(), [
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:DeleteObject',
      's3:GetObject',
      's3:PutObject',
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
    ]);
    assert.deepEqual(objectPaths(prod.resources, role, 'Roles', 's3:GetObject'), ['/cameo/*', '/captions/*', '/jobs/*']);
    assert.deepEqual(objectPaths(prod.resources, role, 'Roles', 's3:PutObject'), ['/media/*']);
    assert.deepEqual(objectPaths(prod.resources, role, 'Roles', 's3:DeleteObject'), ['/captions/*']);
    assert.equal(prod.resources[role].Properties.ManagedPolicyArns, undefined);
  });

  it('the GPU task has the worker grants and the queue, nothing more', () => {
    const role = logicalId(prod.resources, 'AWS::IAM::Role', 'GpuTaskRole');
    assert.deepEqual([...actionsOf(prod.resources, role, 'Roles')].sort(), [
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      'kms:Decrypt',
      'kms:GenerateDataKey',
      's3:DeleteObject',
      's3:GetObject',
      's3:PutObject',
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:ReceiveMessage',
    ]);
    assert.deepEqual(objectPaths(prod.resources, role, 'Roles', 's3:PutObject'), ['/media/*']);
    assert.deepEqual(objectPaths(prod.resources, role, 'Roles', 's3:DeleteObject'), ['/captions/*']);
  });

  it('the edge may use its key-value table, write jobs, presign cameo uploads and media reads', () => {
    const user = logicalId(prod.resources, 'AWS::IAM::User', 'EdgeUser');
    assert.deepEqual([...actionsOf(prod.resources, user, 'Users')].sort(), [
      'dynamodb:BatchGetItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'kms:Decrypt',
      'kms:GenerateDataKey',
      's3:GetObject',
      's3:PutObject',
    ]);
    assert.deepEqual(objectPaths(prod.resources, user, 'Users', 's3:PutObject'), ['/cameo/*', '/captions/*', '/jobs/*']);
    assert.deepEqual(objectPaths(prod.resources, user, 'Users', 's3:GetObject'), ['/media/*']);
  });

  it('no policy grants a wildcard action on data', () => {
    for (const [id, policy] of ofType(prod.resources, 'AWS::IAM::Policy')) {
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        for (const action of [statement.Action].flat()) {
          assert.ok(!/^(s3|dynamodb|sqs|kms|secretsmanager):\*$/.test(action) && action !== '*', `${id}: ${action}`);
        }
      }
    }
  });
});

describe('worker', () => {
  it('is configured from the stack: bucket, ledger, edge, callback key from Secrets Manager', () => {
    const fn = logicalId(prod.resources, 'AWS::Lambda::Function', 'Worker');
    const props = prod.resources[fn].Properties;
    assert.equal(props.Runtime, 'provided.al2023');
    assert.equal(props.Handler, 'bootstrap');
    const env = props.Environment.Variables;
    assert.equal(env.DREAMREEL_EDGE_URL, CONFIGS.prod.edgeUrl);
    assert.equal(env.DREAMREEL_MAX_ATTEMPTS, String(MAX_ATTEMPTS));
    assert.ok(env.DREAMREEL_BUCKET.Ref);
    assert.ok(env.DREAMREEL_LEDGER_TABLE.Ref);
    assert.match(JSON.stringify(env.DREAMREEL_CALLBACK_KEY), /resolve:secretsmanager/);
    // The worker refuses to start without its C2PA signing identity.
    assert.match(JSON.stringify(env.DREAMREEL_C2PA_SIGN_KEY), /resolve:secretsmanager.*:key::/);
    assert.match(JSON.stringify(env.DREAMREEL_C2PA_SIGN_CERT), /resolve:secretsmanager.*:cert::/);
    assert.ok(props.KmsKeyArn, 'environment encrypted with the data key');
  });

  it('finds its models and ONNX Runtime in the package, the GPU task in its image', () => {
    const fn = logicalId(prod.resources, 'AWS::Lambda::Function', 'Worker');
    const env = prod.resources[fn].Properties.Environment.Variables;
    // Unset, the worker would run without the semantic check and the frame checks.
    assert.equal(env.DREAMREEL_EMBEDDING_MODEL, '/var/task/models/minilm');
    assert.equal(env.DREAMREEL_FRAME_POLICY, '/var/task/models/frame-policy');
    assert.equal(env.DREAMREEL_ONNXRUNTIME, '/var/task/lib/libonnxruntime.so');
    const [, task] = ofType(prod.resources, 'AWS::ECS::TaskDefinition')[0];
    const vars = Object.fromEntries(
      task.Properties.ContainerDefinitions[0].Environment.map((v: any) => [v.Name, v.Value]),
    );
    assert.equal(vars.DREAMREEL_EMBEDDING_MODEL, '/opt/dreamreel/models/minilm');
    assert.equal(vars.DREAMREEL_FRAME_POLICY, '/opt/dreamreel/models/frame-policy');
    assert.equal(vars.DREAMREEL_ONNXRUNTIME, '/opt/dreamreel/lib/libonnxruntime.so');
  });

  it('synth refuses a package without its models or ONNX Runtime', () => {
    assert.deepEqual(missingWorkerFiles(PLACEHOLDER), []);
    const bare = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-asset-'));
    try {
      fs.writeFileSync(path.join(bare, 'bootstrap'), '');
      assert.deepEqual(missingWorkerFiles(bare), REQUIRED_FILES.filter((f) => f !== 'bootstrap'));
    } finally {
      fs.rmSync(bare, { recursive: true });
    }
  });

  it('alarms on queue age, dead letters and worker error rate', () => {
    const alarms = ofType(prod.resources, 'AWS::CloudWatch::Alarm').map(([, a]) => JSON.stringify(a.Properties));
    assert.ok(alarms.some((a) => a.includes('ApproximateAgeOfOldestMessage')));
    assert.ok(alarms.some((a) => a.includes('ApproximateNumberOfMessagesVisible')));
    assert.ok(alarms.some((a) => a.includes('"Errors"') && a.includes('"Invocations"')));
    for (const a of alarms) assert.match(a, /AlarmActions/);
  });
});

describe('environments', () => {
  for (const env of ENVIRONMENTS) {
    it(`${env} synthesises with its own settings`, () => {
      const { template, resources } = env === 'prod' ? prod : synth(env);
      template.resourceCountIs('AWS::ECS::Service', CONFIGS[env].gpu ? 1 : 0);
      const fn = logicalId(resources, 'AWS::Lambda::Function', 'Worker');
      assert.equal(resources[fn].Properties.ReservedConcurrentExecutions, CONFIGS[env].workerConcurrency);
      const kv = logicalId(resources, 'AWS::DynamoDB::Table', 'EdgeKv');
      assert.equal(resources[kv].DeletionPolicy, CONFIGS[env].retainData ? 'Retain' : 'Delete');
    });
  }
});

describe('overrides', () => {
  it('gpuTasks starts the GPU service once its image exists', () => {
    const config = configFor('prod', { gpuTasks: 2 });
    assert.equal(config.gpu?.desiredTasks, 2);
    assert.equal(config.gpu?.minInstances, 2);
    assert.throws(() => configFor('dev', { gpuTasks: 1 }), /no GPU service/);
    assert.throws(() => configFor('qa'), /must be one of dev, staging, prod/);
  });

  it('gpuModel=ltx syncs the export from models/ltx/ with read and prefix-limited list grants', () => {
    assert.equal(CONFIGS.prod.gpu?.model, 'local');
    assert.throws(() => configFor('dev', { gpuModel: 'ltx' }), /no GPU service/);
    assert.throws(() => configFor('prod', { gpuModel: 'wan' }), /gpuModel must be one of local, ltx/);
    const app = new cdk.App();
    const stack = new DreamreelStack(app, 'Dreamreel-ltx', {
      config: configFor('prod', { gpuModel: 'ltx', gpuTasks: 1 }),
      workerAssetPath: PLACEHOLDER,
      gpuImageTag: 'test',
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    const resources: Resources = Template.fromStack(stack).toJSON().Resources;
    const taskDef = (r: Resources) => ofType(r, 'AWS::ECS::TaskDefinition')[0][1].Properties;
    const envOf = (r: Resources) =>
      Object.fromEntries(taskDef(r).ContainerDefinitions[0].Environment.map((v: any) => [v.Name, v.Value]));
    const vars = envOf(resources);
    assert.equal(vars.DREAMREEL_MODEL, 'ltx');
    assert.equal(vars.DREAMREEL_MODEL_SOURCE, 'models/ltx/');
    assert.equal(vars.DREAMREEL_MODEL_DIR, '/models/ltx');
    // The weights live on the host, so a restarted task only fetches what changed.
    assert.deepEqual(taskDef(resources).Volumes, [{ Name: 'models', Host: { SourcePath: '/var/lib/dreamreel/models' } }]);
    assert.deepEqual(taskDef(resources).ContainerDefinitions[0].MountPoints, [
      { ContainerPath: '/models', ReadOnly: false, SourceVolume: 'models' },
    ]);
    const role = logicalId(resources, 'AWS::IAM::Role', 'GpuTaskRole');
    assert.deepEqual(objectPaths(resources, role, 'Roles', 's3:GetObject'), ['/cameo/*', '/captions/*', '/jobs/*', '/models/*']);
    const lists = ofType(resources, 'AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties.Roles ?? []).some((r: any) => r.Ref === role))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement)
      .filter((st: any) => [st.Action].flat().includes('s3:ListBucket'));
    assert.equal(lists.length, 1);
    assert.deepEqual(lists[0].Condition, { StringLike: { 's3:prefix': ['models/ltx/*'] } });
    assert.ok(lists[0].Resource['Fn::GetAtt'], 'the bucket itself, not its objects');

    // The default runs the local backend: no weights, no listing.
    const defaults = envOf(prod.resources);
    assert.equal(defaults.DREAMREEL_MODEL, 'local');
    assert.equal(defaults.DREAMREEL_MODEL_SOURCE, undefined);
    assert.equal(taskDef(prod.resources).Volumes, undefined);
    const prodRole = logicalId(prod.resources, 'AWS::IAM::Role', 'GpuTaskRole');
    assert.ok(!actionsOf(prod.resources, prodRole, 'Roles').has('s3:ListBucket'));
  });
});
