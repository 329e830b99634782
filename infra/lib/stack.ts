/** One environment of Dreamreel on AWS: storage, queue, tables, workers, CDN, edge access, alarms. */
import * as cdk from 'aws-cdk-lib';
import { Duration, RemovalPolicy, SecretValue } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

import { EnvConfig } from './config';
import { GPU_IMAGE_ROOT, LAMBDA_ROOT, workerFileEnv } from './worker-asset';

/** Prefixes whose uploads the worker must see: job specs, cameo verification recordings and captions to embed. */
export const WORKER_PREFIXES = ['jobs/', 'cameo/', 'captions/'] as const;
/** Attempts the worker makes (DREAMREEL_MAX_ATTEMPTS); receives before the DLQ exceed it. */
export const MAX_ATTEMPTS = 3;
/** Where operators upload model exports in the bucket: `models/{model}/` (docs/MODELS.md). */
export const MODEL_SOURCE_ROOT = 'models/';
/** The GPU instance's folder holding synced weights (on its encrypted root volume). */
export const GPU_MODEL_HOST_DIR = '/var/lib/dreamreel/models';
/** Where the GPU task sees that folder. */
export const GPU_MODEL_TASK_DIR = '/models';
/** Receives of one message before it moves to the dead-letter queue. */
export const MAX_RECEIVES = 5;

/** Stack inputs beyond the environment's config. */
export interface DreamreelStackProps extends cdk.StackProps {
  /** dev, staging or prod settings. */
  readonly config: EnvConfig;
  /** Folder holding the Lambda's `bootstrap`, models and ONNX Runtime (infra/scripts/package-worker.sh). */
  readonly workerAssetPath: string;
  /** Tag of the GPU worker image in the stack's ECR repository. */
  readonly gpuImageTag: string;
  /** Where alarms are mailed, if anywhere. */
  readonly alarmEmail?: string;
}

/** Dreamreel's AWS resources for one environment. */
export class DreamreelStack extends cdk.Stack {
  constructor(scope: Construct, id: string, props: DreamreelStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    cdk.Tags.of(this).add('app', 'dreamreel');
    cdk.Tags.of(this).add('env', config.name);

    // One customer-managed key encrypts the bucket, tables, secrets, images and the Lambda's environment.
    const key = new kms.Key(this, 'DataKey', {
      alias: `alias/dreamreel-${config.name}`,
      description: `Dreamreel ${config.name}: data at rest`,
      enableKeyRotation: true,
      removalPolicy,
    });

    // ---- object storage: jobs/, media/, cameo/ ----
    const bucket = new s3.Bucket(this, 'Objects', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
      autoDeleteObjects: !config.retainData,
      cors: [
        {
          // Phones upload cameo recordings with presigned PUTs and play media with presigned GETs.
          allowedMethods: [s3.HttpMethods.GET, s3.HttpMethods.PUT, s3.HttpMethods.HEAD],
          allowedOrigins: ['*'],
          allowedHeaders: ['content-type', 'range'],
          maxAge: 3600,
        },
      ],
      lifecycleRules: [
        { id: 'abort-incomplete-multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        { id: 'expire-noncurrent', noncurrentVersionExpiration: Duration.days(30) },
        // Job specs matter only until the job settles (the ledger keeps the outcome).
        { id: 'expire-job-specs', prefix: 'jobs/', expiration: Duration.days(14) },
        // Verification recordings are biometric: kept only while a verdict may be disputed.
        // A verification lapses a day earlier (core::cameo::VERIFICATION_TTL_MS: 29 days),
        // so a castable likeness never outlives the recording its reference frame comes from.
        { id: 'expire-cameo-recordings', prefix: 'cameo/', expiration: Duration.days(30) },
        // The worker deletes a caption job once done; one left over is stale by then.
        { id: 'expire-caption-jobs', prefix: 'captions/', expiration: Duration.days(14) },
        // Media of drafts never published (tagged by the writer) is removed.
        {
          id: 'expire-drafts',
          prefix: 'media/',
          tagFilters: { 'dreamreel:state': 'draft' },
          expiration: Duration.days(config.draftDays),
        },
      ],
    });

    // ---- notifications: S3 -> queue (+ DLQ) ----
    // The queues get their own key: S3 must be allowed to use it for this
    // bucket only, and a bucket-scoped grant on the bucket's own key would be circular.
    const queueKey = new kms.Key(this, 'QueueKey', {
      alias: `alias/dreamreel-${config.name}-queue`,
      description: `Dreamreel ${config.name}: job queue at rest`,
      enableKeyRotation: true,
      removalPolicy,
    });
    const dlq = new sqs.Queue(this, 'JobDlq', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: queueKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const queue = new sqs.Queue(this, 'JobQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: queueKey,
      enforceSSL: true,
      // Lambda needs the visibility timeout above the function timeout.
      visibilityTimeout: Duration.seconds(config.workerTimeoutSeconds + 60),
      // A worker outage of up to two weeks loses nothing.
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: dlq, maxReceiveCount: MAX_RECEIVES },
    });
    for (const prefix of WORKER_PREFIXES) {
      bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(queue), { prefix });
    }

    // ---- DynamoDB: the edge's key-value store (Spin's aws_dynamo layout) and the job ledger ----
    const kvTable = new dynamodb.Table(this, 'EdgeKv', {
      // Spin's aws_dynamo provider: item key `PK` (S) = the key, `VAL` (B) = the value, `VER` (N) = CAS version.
      partitionKey: { name: 'PK', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: config.retainData,
      removalPolicy,
    });
    const ledger = new dynamodb.Table(this, 'JobLedger', {
      // gpu-worker/src/ledger/dynamo.rs: one item per job, key `job_id` (S).
      partitionKey: { name: 'job_id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: config.retainData,
      removalPolicy,
    });

    // ---- secrets: generated once, never in the repo ----
    const sessionKey = new secretsmanager.Secret(this, 'SessionKey', {
      description: `Dreamreel ${config.name}: the edge's session_key`,
      encryptionKey: key,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });
    const callbackKey = new secretsmanager.Secret(this, 'CallbackKey', {
      description: `Dreamreel ${config.name}: callback_key shared by the edge and the worker`,
      encryptionKey: key,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });

    // The worker's C2PA signing identity: a JSON secret {"key": PEM, "cert": PEM chain}
    // that the operator fills from their certificate authority (docs/MODELS.md); the
    // worker refuses to start without it rather than publish unsigned media.
    // It starts as a placeholder of the right shape (so the deploy's dynamic
    // references resolve) that is not PEM (so the worker will not start on it).
    const c2paSigning = new secretsmanager.Secret(this, 'C2paSigning', {
      description: `Dreamreel ${config.name}: the worker's C2PA signing key and certificate chain`,
      encryptionKey: key,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ cert: 'replace with the PEM certificate chain' }),
        generateStringKey: 'key',
      },
      removalPolicy,
    });

    // ---- the edge's identity: the Spin app signs S3 requests with static keys (spin.toml) ----
    const edgeUser = new iam.User(this, 'EdgeUser');
    const edgePolicy = new iam.Policy(this, 'EdgePolicy', {
      statements: [
        new iam.PolicyStatement({
          sid: 'KeyValue',
          actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem'],
          resources: [kvTable.tableArn],
        }),
        new iam.PolicyStatement({
          sid: 'WriteJobsAndPresignUploads',
          actions: ['s3:PutObject'],
          resources: [bucket.arnForObjects('jobs/*'), bucket.arnForObjects('cameo/*'), bucket.arnForObjects('captions/*')],
        }),
        new iam.PolicyStatement({
          sid: 'PresignMediaReads',
          actions: ['s3:GetObject'],
          resources: [bucket.arnForObjects('media/*')],
        }),
        new iam.PolicyStatement({
          sid: 'DataKey',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [key.keyArn],
        }),
      ],
    });
    edgeUser.attachInlinePolicy(edgePolicy);
    const edgeAccessKey = new iam.AccessKey(this, 'EdgeAccessKey', { user: edgeUser });
    const edgeCredentials = new secretsmanager.Secret(this, 'EdgeCredentials', {
      description: `Dreamreel ${config.name}: the edge's AWS keys (S3 and the key-value table)`,
      encryptionKey: key,
      secretObjectValue: {
        access_key_id: SecretValue.unsafePlainText(edgeAccessKey.accessKeyId),
        secret_access_key: edgeAccessKey.secretAccessKey,
      },
      removalPolicy,
    });

    // ---- the CPU worker: Lambda fed by the queue ----
    const workerLogs = new logs.LogGroup(this, 'WorkerLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy,
    });
    const workerRole = new iam.Role(this, 'WorkerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'CPU worker: reads job specs and recordings, writes media, keeps the ledger',
    });
    workerRole.attachInlinePolicy(
      new iam.Policy(this, 'WorkerLogsPolicy', {
        statements: [
          new iam.PolicyStatement({
            actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            resources: [workerLogs.logGroupArn],
          }),
        ],
      }),
    );
    const workerEnv = {
      DREAMREEL_BUCKET: bucket.bucketName,
      DREAMREEL_EDGE_URL: config.edgeUrl,
      DREAMREEL_LEDGER_TABLE: ledger.tableName,
      DREAMREEL_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      // Well under the queue's redelivery delay, so a killed worker's job is free by then.
      DREAMREEL_LEASE_MS: '30000',
    };
    const worker = new lambda.Function(this, 'Worker', {
      description: `Dreamreel ${config.name}: generation worker (CPU stages)`,
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.X86_64,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(props.workerAssetPath),
      role: workerRole,
      logGroup: workerLogs,
      timeout: Duration.seconds(config.workerTimeoutSeconds),
      memorySize: config.workerMemoryMb,
      reservedConcurrentExecutions: config.workerConcurrency,
      environment: {
        ...workerEnv,
        // The semantic check's model, the frame policy and ONNX Runtime ship in the package.
        ...workerFileEnv(LAMBDA_ROOT),
        // A CloudFormation dynamic reference: resolved at deploy, not stored in the template.
        DREAMREEL_CALLBACK_KEY: callbackKey.secretValue.unsafeUnwrap(),
        // PEM text, not paths (the worker takes either); Lambda's 4 KB
        // environment limit leaves room for a leaf and one intermediate.
        DREAMREEL_C2PA_SIGN_KEY: c2paSigning.secretValueFromJson('key').unsafeUnwrap(),
        DREAMREEL_C2PA_SIGN_CERT: c2paSigning.secretValueFromJson('cert').unsafeUnwrap(),
      },
      environmentEncryption: key,
    });
    worker.addEventSource(new SqsEventSource(queue, { batchSize: 1, reportBatchItemFailures: false }));
    const workerPolicy = workerPolicyFor(this, 'WorkerPolicy', bucket, ledger, key);
    workerRole.attachInlinePolicy(workerPolicy);

    // ---- the GPU worker: ECS on GPU instances, consuming the same queue ----
    const gpuRepo = new ecr.Repository(this, 'GpuWorkerImages', {
      imageScanOnPush: true,
      encryption: ecr.RepositoryEncryption.KMS,
      encryptionKey: key,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      removalPolicy,
      emptyOnDelete: !config.retainData,
    });
    if (config.gpu) {
      this.gpuService(config, props.gpuImageTag, gpuRepo, queue, queueKey, bucket, ledger, key, callbackKey, c2paSigning, workerEnv);
    }

    // ---- CDN: CloudFront reads media/ only, through origin access control ----
    // Built by hand rather than with S3BucketOrigin.withOriginAccessControl,
    // whose grant covers the whole bucket: CloudFront may read media/ only.
    const oac = new cloudfront.S3OriginAccessControl(this, 'MediaOac', {
      description: `Dreamreel ${config.name}: CloudFront reads media/`,
    });
    const cdn = new cloudfront.Distribution(this, 'MediaCdn', {
      comment: `Dreamreel ${config.name} media`,
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withBucketDefaults(bucket, { originPath: '/media' }),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
    });
    const cfnCdn = cdn.node.defaultChild as cloudfront.CfnDistribution;
    cfnCdn.addPropertyOverride('DistributionConfig.Origins.0.OriginAccessControlId', oac.originAccessControlId);
    cfnCdn.addPropertyOverride('DistributionConfig.Origins.0.S3OriginConfig.OriginAccessIdentity', '');
    const cloudfrontPrincipal = new iam.ServicePrincipal('cloudfront.amazonaws.com');
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CdnReadsMedia',
        principals: [cloudfrontPrincipal],
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects('media/*')],
        conditions: { StringEquals: { 'AWS:SourceArn': this.formatArn({ service: 'cloudfront', region: '', resource: 'distribution', resourceName: cdn.distributionId }) } },
      }),
    );
    // Scoped to this account's distributions, not this one: the key would
    // otherwise depend on the distribution that depends on the bucket that uses the key.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CdnDecryptsMedia',
        principals: [cloudfrontPrincipal],
        actions: ['kms:Decrypt'],
        resources: ['*'],
        conditions: { ArnLike: { 'AWS:SourceArn': this.formatArn({ service: 'cloudfront', region: '', resource: 'distribution', resourceName: '*' }) } },
      }),
    );

    // ---- alarms ----
    const topic = new sns.Topic(this, 'Alarms', { displayName: `Dreamreel ${config.name} alarms`, enforceSSL: true });
    if (props.alarmEmail) {
      new sns.Subscription(this, 'AlarmMail', { topic, protocol: sns.SubscriptionProtocol.EMAIL, endpoint: props.alarmEmail });
    }
    const alarm = (a: cloudwatch.Alarm) => {
      a.addAlarmAction(new cwActions.SnsAction(topic));
      a.addOkAction(new cwActions.SnsAction(topic));
    };
    alarm(new cloudwatch.Alarm(this, 'QueueAgeAlarm', {
      alarmDescription: 'A generation job has waited too long: workers down or saturated',
      metric: queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: config.queueAgeAlarmSeconds,
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    alarm(new cloudwatch.Alarm(this, 'DlqDepthAlarm', {
      alarmDescription: 'Events reached the dead-letter queue: inspect and redrive (docs/DEPLOY.md)',
      metric: dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    alarm(new cloudwatch.Alarm(this, 'WorkerErrorRateAlarm', {
      alarmDescription: 'Over 10% of worker invocations failed for 15 minutes',
      metric: new cloudwatch.MathExpression({
        expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
        usingMetrics: {
          errors: worker.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
          invocations: worker.metricInvocations({ period: Duration.minutes(5), statistic: 'Sum' }),
        },
        label: 'worker error %',
        period: Duration.minutes(5),
      }),
      threshold: 10,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    alarm(new cloudwatch.Alarm(this, 'WorkerThrottleAlarm', {
      alarmDescription: 'The worker is throttled at its reserved concurrency',
      metric: worker.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 0,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));

    // ---- what the Spin app's runtime config and variables need ----
    const out = (id: string, value: string, description: string) =>
      new cdk.CfnOutput(this, id, { value, description });
    out('BucketName', bucket.bucketName, 'spin variable s3_bucket');
    out('S3Endpoint', `https://s3.${this.region}.amazonaws.com`, 'spin variable s3_endpoint (path-style)');
    out('Region', this.region, 'spin variable s3_region; runtime config region');
    out('KvTableName', kvTable.tableName, 'runtime config [key_value_store.default] table');
    out('LedgerTableName', ledger.tableName, 'the worker ledger');
    out('QueueUrl', queue.queueUrl, 'S3 notifications for jobs/, cameo/ and captions/');
    out('DlqUrl', dlq.queueUrl, 'dead letters: inspect, then redrive');
    out('MediaCdnDomain', cdn.distributionDomainName, 'CloudFront in front of media/');
    out('SessionKeySecret', sessionKey.secretArn, 'spin variable session_key');
    out('CallbackKeySecret', callbackKey.secretArn, 'spin variable callback_key');
    out('C2paSigningSecret', c2paSigning.secretArn, 'worker C2PA signing key and certificate chain: {"key": PEM, "cert": PEM}');
    out('EdgeCredentialsSecret', edgeCredentials.secretArn, 'spin variables s3_access_key_id / s3_secret_access_key');
    out('GpuWorkerRepository', gpuRepo.repositoryUri, 'push the GPU worker image here');
    out('WorkerFunction', worker.functionName, 'the CPU worker');
  }

  private gpuService(
    config: EnvConfig,
    imageTag: string,
    repo: ecr.IRepository,
    queue: sqs.IQueue,
    queueKey: kms.IKey,
    bucket: s3.IBucket,
    ledger: dynamodb.ITable,
    key: kms.IKey,
    callbackKey: secretsmanager.ISecret,
    c2paSigning: secretsmanager.ISecret,
    workerEnv: Record<string, string>,
  ): void {
    const gpu = config.gpu!;
    // Public subnets without NAT: instances only reach out (no inbound rules);
    // S3 and DynamoDB traffic stays on gateway endpoints.
    const vpc = new ec2.Vpc(this, 'GpuVpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    const cluster = new ecs.Cluster(this, 'GpuCluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const instanceRole = new iam.Role(this, 'GpuInstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonEC2ContainerServiceforEC2Role')],
    });
    const securityGroup = new ec2.SecurityGroup(this, 'GpuInstances', {
      vpc,
      description: 'GPU workers: outbound only',
      allowAllOutbound: true,
    });
    const launchTemplate = new ec2.LaunchTemplate(this, 'GpuLaunchTemplate', {
      machineImage: ecs.EcsOptimizedImage.amazonLinux2(ecs.AmiHardwareType.GPU),
      instanceType: new ec2.InstanceType(gpu.instanceType),
      role: instanceRole,
      securityGroup,
      userData: ec2.UserData.forLinux(),
      requireImdsv2: true,
      associatePublicIpAddress: true,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(100, { encrypted: true }) }],
    });
    const asg = new autoscaling.AutoScalingGroup(this, 'GpuInstancesAsg', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      launchTemplate,
      minCapacity: gpu.minInstances,
      maxCapacity: gpu.maxInstances,
    });
    const capacity = new ecs.AsgCapacityProvider(this, 'GpuCapacity', {
      autoScalingGroup: asg,
      enableManagedTerminationProtection: false,
    });
    cluster.addAsgCapacityProvider(capacity);

    const taskRole = new iam.Role(this, 'GpuTaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'GPU worker: consumes the job queue, reads specs, writes media, keeps the ledger',
    });
    taskRole.attachInlinePolicy(workerPolicyFor(this, 'GpuTaskPolicy', bucket, ledger, key));
    taskRole.attachInlinePolicy(
      new iam.Policy(this, 'GpuQueuePolicy', {
        statements: [
          new iam.PolicyStatement({
            actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
            resources: [queue.queueArn],
          }),
          new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [queueKey.keyArn] }),
        ],
      }),
    );
    const task = new ecs.Ec2TaskDefinition(this, 'GpuTask', { taskRole });
    const weights = gpu.model === 'local' ? null : gpuModelWeightsFor(this, gpu.model, task, taskRole, bucket);
    const worker = task.addContainer('worker', {
      image: ecs.ContainerImage.fromEcrRepository(repo, imageTag),
      memoryReservationMiB: 12_000,
      gpuCount: 1,
      // SIGTERM lets the worker finish the clip in hand (a GPU render takes
      // well under this); a render cut off anyway loses nothing: its message
      // and its lease come back.
      stopTimeout: Duration.seconds(120),
      environment: {
        ...workerEnv,
        // The image holds the Lambda package's models/ and lib/ under GPU_IMAGE_ROOT (docs/DEPLOY.md).
        ...workerFileEnv(GPU_IMAGE_ROOT),
        DREAMREEL_QUEUE_URL: queue.queueUrl,
        DREAMREEL_MODEL: gpu.model,
        ...weights?.environment,
      },
      secrets: {
        DREAMREEL_CALLBACK_KEY: ecs.Secret.fromSecretsManager(callbackKey),
        DREAMREEL_C2PA_SIGN_KEY: ecs.Secret.fromSecretsManager(c2paSigning, 'key'),
        DREAMREEL_C2PA_SIGN_CERT: ecs.Secret.fromSecretsManager(c2paSigning, 'cert'),
      },
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: 'gpu-worker',
        logGroup: new logs.LogGroup(this, 'GpuWorkerLogs', { retention: logs.RetentionDays.ONE_MONTH }),
      }),
    });
    if (weights) worker.addMountPoints(weights.mount);
    new ecs.Ec2Service(this, 'GpuWorker', {
      cluster,
      taskDefinition: task,
      desiredCount: gpu.desiredTasks,
      // Jobs wait in the queue during a deploy, so the old task may stop first
      // (a GPU host rarely has room for two).
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
      capacityProviderStrategies: [{ capacityProvider: capacity.capacityProviderName, weight: 1 }],
      circuitBreaker: { rollback: true },
    });
  }
}

/**
 * A GPU model's weights: synced at task start from `models/{model}/` in the bucket
 * (gpu-worker/src/model_sync.rs) into a host folder, so a restarted task on the same
 * instance only fetches what changed.
 */
function gpuModelWeightsFor(
  scope: Construct,
  model: string,
  task: ecs.Ec2TaskDefinition,
  taskRole: iam.Role,
  bucket: s3.IBucket,
): { environment: Record<string, string>; mount: ecs.MountPoint } {
  const source = `${MODEL_SOURCE_ROOT}${model}/`;
  task.addVolume({ name: 'models', host: { sourcePath: GPU_MODEL_HOST_DIR } });
  taskRole.attachInlinePolicy(
    new iam.Policy(scope, 'GpuModelWeightsPolicy', {
      statements: [
        new iam.PolicyStatement({
          sid: 'ReadModelWeights',
          actions: ['s3:GetObject'],
          resources: [bucket.arnForObjects(`${MODEL_SOURCE_ROOT}*`)],
        }),
        new iam.PolicyStatement({
          sid: 'ListModelWeights',
          actions: ['s3:ListBucket'],
          resources: [bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [`${source}*`] } },
        }),
      ],
    }),
  );
  return {
    environment: {
      DREAMREEL_MODEL_DIR: `${GPU_MODEL_TASK_DIR}/${model}`,
      DREAMREEL_MODEL_SOURCE: source,
    },
    mount: { sourceVolume: 'models', containerPath: GPU_MODEL_TASK_DIR, readOnly: false },
  };
}

/** What a worker (Lambda or GPU task) may do: read specs, recordings and caption jobs, write media, delete finished caption jobs, keep the ledger. */
function workerPolicyFor(scope: Construct, id: string, bucket: s3.IBucket, ledger: dynamodb.ITable, key: kms.IKey): iam.Policy {
  return new iam.Policy(scope, id, {
    statements: [
      new iam.PolicyStatement({
        sid: 'ReadSpecsAndRecordings',
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects('jobs/*'), bucket.arnForObjects('cameo/*'), bucket.arnForObjects('captions/*')],
      }),
      new iam.PolicyStatement({
        sid: 'DeleteFinishedCaptionJobs',
        actions: ['s3:DeleteObject'],
        resources: [bucket.arnForObjects('captions/*')],
      }),
      new iam.PolicyStatement({
        sid: 'WriteMedia',
        actions: ['s3:PutObject'],
        resources: [bucket.arnForObjects('media/*')],
      }),
      new iam.PolicyStatement({
        sid: 'Ledger',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [ledger.tableArn],
      }),
      new iam.PolicyStatement({
        sid: 'DataKey',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [key.keyArn],
      }),
    ],
  });
}
