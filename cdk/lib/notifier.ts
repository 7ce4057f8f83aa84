/**
 * The notifier: the second Lambda of the crate (`invite-router-notifier`), fed by a queue
 * subscribed to the rejected topic, that replies to refused senders through SES. Its reply log
 * (idempotency and the per-recipient rate limit) is a DynamoDB table with TTL.
 */
import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, type InviteRouterConfig } from './config';
import { rustFunction } from './rust-function';

/** What the Rust reply log (src/aws/reply_log.rs) calls: point reads, conditional puts inside
 * TransactWriteItems, the settle update and the release delete. Nothing else. */
/** The notifier function's timeout: it sends at most a batch of replies. */
export const NOTIFIER_TIMEOUT_SECONDS = 30;

/**
 * How long an unsettled reply claim blocks other workers (REPLY_CLAIM_SECONDS): the queue's
 * visibility timeout less the function timeout. Longer than the function timeout, or a living
 * worker could be overtaken and the reply sent twice.
 */
export function replyClaimSeconds(visibilityTimeoutSeconds: number, functionTimeoutSeconds: number): number {
  const claim = visibilityTimeoutSeconds - functionTimeoutSeconds;
  if (claim <= functionTimeoutSeconds) {
    throw new Error(
      `the notifier queue's visibility timeout (${visibilityTimeoutSeconds} s) must exceed twice the function timeout (${functionTimeoutSeconds} s) for reply claims to work`,
    );
  }
  return claim;
}

export const REPLY_LOG_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
];

/** SES v2 SendEmail with raw content is authorized as both. */
export const SEND_ACTIONS = ['ses:SendEmail', 'ses:SendRawEmail'];

export interface NotifierProps {
  readonly config: InviteRouterConfig;
  readonly rejectedTopic: sns.Topic;
  readonly queueConsumerActions: string[];
  readonly removalPolicy: RemovalPolicy;
  readonly keepData: boolean;
}

export class Notifier extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly replyTable: dynamodb.Table;
  readonly function: lambda.Function;
  readonly logGroup: logs.LogGroup;
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: NotifierProps) {
    super(scope, id);
    const { config } = props;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy,
    });
    // The reply claim's lifetime follows from the queue: a record is redelivered no sooner than
    // the visibility timeout after it was received, and its worker claimed at most the function
    // timeout after that, so a claim of (visibility - function timeout) has expired when the
    // redelivery of a dead worker's record arrives, and outlives any worker still running.
    const functionTimeout = Duration.seconds(NOTIFIER_TIMEOUT_SECONDS);
    const visibilityTimeout = Duration.seconds(NOTIFIER_TIMEOUT_SECONDS * 6);
    const claimSeconds = replyClaimSeconds(visibilityTimeout.toSeconds(), functionTimeout.toSeconds());
    this.queue = new sqs.Queue(this, 'Queue', {
      // SSE-SQS: SNS delivers to it without a key grant, and the function reads it without kms.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: config.maxReceiveCount },
    });
    // Raw delivery: the body is the rejected message itself (the Rust side reads either form).
    props.rejectedTopic.addSubscription(
      new subscriptions.SqsSubscription(this.queue, { rawMessageDelivery: true }),
    );

    this.replyTable = new dynamodb.Table(this, 'ReplyTable', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Claims and rate windows expire by themselves (a week, a day).
      timeToLiveAttribute: 'expires_at',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.keepData,
      removalPolicy: props.removalPolicy,
    });

    const notifier = rustFunction(this, {
      ids: { logGroup: 'LogGroup', role: 'Role', function: 'Function' },
      description: 'invite-router: replies to refused senders through SES',
      roleDescription: `invite-router ${config.stage}: the notifier function`,
      assetDir: config.notifierAssetDir,
      timeout: functionTimeout,
      memorySize: 128,
      removalPolicy: props.removalPolicy,
      logLevel: config.logLevel as lambda.ApplicationLogLevel,
      logRetention: config.logRetentionDays,
      tracing: config.tracing,
      environment: {
        REPLY_TABLE: this.replyTable.tableName,
        REPLY_FROM: config.replyFrom,
        REPLY_RATE_LIMIT: String(config.replyRateLimit),
        REPLY_CLAIM_SECONDS: String(claimSeconds),
        BATCH_CONCURRENCY: String(config.batchConcurrency),
        METRICS_NAMESPACE: METRICS_NAMESPACE,
        STAGE: config.stage,
        ...(config.replyConfigurationSet ? { REPLY_CONFIGURATION_SET: config.replyConfigurationSet } : {}),
        ...(config.rustLog !== undefined ? { RUST_LOG: config.rustLog } : {}),
      },
    });
    this.function = notifier.function;
    this.logGroup = notifier.logGroup;
    const role = notifier.role;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteReplyLog',
        actions: REPLY_LOG_ACTIONS,
        resources: [this.replyTable.tableArn],
      }),
    );
    // Only from REPLY_FROM: SES authorizes a send against the identity that verified the address,
    // the address itself or its domain, and against the configuration set when one is named.
    const identity = (name: string) => `arn:${Aws.PARTITION}:ses:${Aws.REGION}:${Aws.ACCOUNT_ID}:identity/${name}`;
    const replyDomain = config.replyFrom.split('@')[1];
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SendRepliesFromReplyAddress',
        actions: SEND_ACTIONS,
        resources: [
          identity(config.replyFrom),
          identity(replyDomain),
          ...(config.replyConfigurationSet
            ? [
                `arn:${Aws.PARTITION}:ses:${Aws.REGION}:${Aws.ACCOUNT_ID}:configuration-set/${config.replyConfigurationSet}`,
              ]
            : []),
        ],
        conditions: { StringEquals: { 'ses:FromAddress': config.replyFrom } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ConsumeNotifierQueue',
        actions: props.queueConsumerActions,
        resources: [this.queue.queueArn],
      }),
    );
    const mapping = new lambda.EventSourceMapping(this, 'QueueMapping', {
      target: this.function,
      eventSourceArn: this.queue.queueArn,
      batchSize: 10,
      reportBatchItemFailures: true,
    });
    mapping.node.addDependency(role);

    const alarmOnAny = {
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    };
    this.alarms = [
      new cloudwatch.Alarm(this, 'DeadLetterQueueNotEmpty', {
        alarmDescription:
          'A reply failed maxReceiveCount times and is in the notifier dead-letter queue: check SES (sandbox, identity, sending paused) and redrive it.',
        metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        ...alarmOnAny,
      }),
      new cloudwatch.Alarm(this, 'FunctionErrors', {
        alarmDescription: 'The notifier failed whole invocations (crash, timeout): read its logs.',
        metric: this.function.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        ...alarmOnAny,
      }),
    ];
  }
}
