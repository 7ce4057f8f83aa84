/**
 * invite-router as deployable infrastructure: SES receives mail for the drop-box addresses and
 * stores it in S3; S3 notifies an SQS queue; the Rust Lambda turns each email into a message on
 * the create, update, cancel or rejected topic and records it in the DynamoDB ledger.
 * See docs/DESIGN.md for the behaviour and cdk/README.md for deploying it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, StackProps, Tags, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, type InviteRouterConfig } from './config';
import { Monitoring } from './monitoring';
import { Notifier } from './notifier';
import { rustFunction } from './rust-function';

/** The ledger's key, a contract with the Rust side (which writes "-" as the series' RECURRENCE-ID). */
export const LEDGER_PARTITION_KEY = 'uid';
export const LEDGER_SORT_KEY = 'recurrence_id';

/** The alarms that must fire on the first occurrence: one bad datapoint, no data is fine. */
const ALARM_ON_ANY = {
  threshold: 0,
  comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  evaluationPeriods: 1,
  treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
};

/**
 * The DynamoDB calls the Rust ledger adapter makes in the Lambda: point reads and conditional
 * writes. Nothing else (no queries, scans, deletes or batch calls).
 * ConditionCheckItem: a commit also asserts that records it was judged against but does not
 * write (an occurrence's series) are unchanged, as ConditionCheck items of its TransactWriteItems.
 */
export const LEDGER_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:ConditionCheckItem',
];

/** What the SQS event source mapping and the function's own deletes need on the intake queue. */
export const QUEUE_CONSUMER_ACTIONS = [
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibility',
  'sqs:GetQueueAttributes',
];

/** Publishing to a KMS-encrypted topic needs a data key from the topic's key. */
export const TOPIC_KEY_PUBLISHER_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'];

export const EVENT_TOPICS = ['create', 'update', 'cancel', 'rejected'] as const;
export type EventTopic = (typeof EVENT_TOPICS)[number];

export interface InviteRouterStackProps extends StackProps {
  readonly config: InviteRouterConfig;
}

export class InviteRouterStack extends Stack {
  readonly mailBucket: s3.Bucket;
  readonly intakeQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly topics: Record<EventTopic, sns.Topic>;
  readonly mailKey: kms.Key;
  readonly alarmTopic: sns.Topic;
  readonly ledgerTable: dynamodb.Table;
  readonly intakeFunction: lambda.Function;
  readonly notifier: Notifier;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: InviteRouterStackProps) {
    // Deleting the prod stack by mistake would orphan retained data and stop mail intake.
    super(scope, id, { terminationProtection: props.config.stage === 'prod', ...props });
    const config = props.config;
    const keepData = config.stage === 'prod';
    // In prod nothing holding data is deleted with the stack; dev and stg clean up after themselves.
    const dataRemovalPolicy = keepData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const prefix = `invite-router-${config.stage}`;

    Tags.of(this).add('project', 'invite-router');
    Tags.of(this).add('stage', config.stage);

    assertLambdaAsset(config.lambdaAssetDir);
    assertLambdaAsset(config.notifierAssetDir);

    // ---- Storage: raw mail --------------------------------------------------------------------
    const accessLogBucket = new s3.Bucket(this, 'AccessLogBucket', {
      // S3 server access logging only delivers to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
      removalPolicy: dataRemovalPolicy,
    });
    Validations.of(accessLogBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This bucket only receives the raw-mail bucket\'s server access logs; logging its own access ' +
        'would record log deliveries into itself, adding cost and no audit value.',
    });

    // The bucket's name is fixed (account, region and stage make it unique) so the queue policy can
    // name the bucket's ARN before the bucket exists: S3 checks that it may send to the queue when
    // the notification is created, and a reference to the bucket's generated name would be a cycle.
    const mailBucketName = `${prefix}-mail-${Aws.ACCOUNT_ID}-${Aws.REGION}`;
    const mailBucketArn = `arn:${Aws.PARTITION}:s3:::${mailBucketName}`;
    const ruleSetName = config.existingReceiptRuleSetName ?? `${prefix}-rules`;
    const receiptRuleName = `${prefix}-intake`;
    const receiptRuleArn = `arn:${Aws.PARTITION}:ses:${Aws.REGION}:${Aws.ACCOUNT_ID}:receipt-rule-set/${ruleSetName}:receipt-rule/${receiptRuleName}`;
    // Raw mail is personal data: encrypted with a key of ours (SSE-KMS), so reading it takes a
    // grant on the key as well as on the bucket, and CloudTrail records every decrypt.
    this.mailKey = new kms.Key(this, 'MailKey', {
      description: `invite-router ${config.stage}: encrypts the raw mail SES stores`,
      enableKeyRotation: true,
      removalPolicy: keepData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // SES writes the mail (S3 asks KMS for a data key on its behalf): only for this account's
    // intake rule, the conditions SES's documentation gives for a key it may use.
    this.mailKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowSesReceiptRuleToEncryptMail',
        principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:Encrypt'],
        resources: ['*'], // in a key policy "*" means this key
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID, 'aws:SourceArn': receiptRuleArn },
        },
      }),
    );
    this.mailBucket = new s3.Bucket(this, 'MailBucket', {
      bucketName: mailBucketName,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.mailKey,
      // One data key per bucket and period instead of a KMS call per object.
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogBucket,
      serverAccessLogsPrefix: 'mail-bucket/',
      lifecycleRules: [
        {
          // Raw mail holds personal data: keep it only as long as reprocessing may need it.
          id: 'expire-raw-mail',
          expiration: Duration.days(config.mailExpirationDays),
          noncurrentVersionExpiration: Duration.days(config.mailExpirationDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        {
          // Expiring a versioned object leaves a delete marker; once its versions are gone it is clutter.
          id: 'remove-expired-delete-markers',
          expiredObjectDeleteMarker: true,
        },
      ],
      removalPolicy: dataRemovalPolicy,
    });

    // ---- Queue --------------------------------------------------------------------------------
    // Six times the function timeout, as AWS advises for SQS event sources: room for the poller to
    // retry a throttled or failed invocation before the batch becomes visible to another one.
    const visibilityTimeout = Duration.seconds(config.functionTimeoutSeconds * 6);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS allows, and longer than the intake queue's: a moved message keeps its first
      // enqueue time, and an operator needs days to look at what failed and redrive it.
      retentionPeriod: Duration.days(14),
      removalPolicy: dataRemovalPolicy,
    });
    this.intakeQueue = new sqs.Queue(this, 'IntakeQueue', {
      // SSE-SQS, not a KMS key: S3 notifications can deliver to it without a key policy, and the
      // function needs no kms permission to receive.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout,
      // Longer than SQS's default 4 days, so a long outage delays mail rather than dropping it.
      retentionPeriod: Duration.days(7),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: config.maxReceiveCount },
    });
    const { policyDependable: intakeQueuePolicy } = this.intakeQueue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowMailBucketNotifications',
        principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.intakeQueue.queueArn],
        conditions: {
          ArnEquals: { 'aws:SourceArn': mailBucketArn },
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        },
      }),
    );
    const cfnMailBucket = this.mailBucket.node.defaultChild as s3.CfnBucket;
    // Native notification configuration instead of CDK's addEventNotification, which deploys a
    // custom-resource Lambda with wildcard IAM to do the same thing.
    cfnMailBucket.notificationConfiguration = {
      queueConfigurations: [
        {
          event: 's3:ObjectCreated:*',
          queue: this.intakeQueue.queueArn,
          filter: { s3Key: { rules: [{ name: 'prefix', value: config.mailPrefix }] } },
        },
      ],
    };
    cfnMailBucket.node.addDependency(intakeQueuePolicy!);

    // ---- Mail intake: SES ---------------------------------------------------------------------
    const ruleSet = config.existingReceiptRuleSetName
      ? ses.ReceiptRuleSet.fromReceiptRuleSetName(this, 'ReceiptRuleSet', ruleSetName)
      : new ses.ReceiptRuleSet(this, 'ReceiptRuleSet', { receiptRuleSetName: ruleSetName });
    const receiptRule = new ses.ReceiptRule(this, 'IntakeRule', {
      ruleSet,
      receiptRuleName,
      recipients: config.recipients,
      enabled: true,
      // Mail for the drop box travels encrypted or not at all: SES refuses it over plain SMTP.
      tlsPolicy: ses.TlsPolicy.REQUIRE,
      // The spam and virus verdicts the Rust side reads (X-SES-Spam-Verdict / X-SES-Virus-Verdict).
      scanEnabled: true,
      actions: [
        new ScopedS3Action({
          bucket: this.mailBucket,
          objectKeyPrefix: config.mailPrefix,
          receiptRuleArn,
        }),
      ],
    });
    // SES writes a test object when the rule is created: the bucket policy must exist first.
    receiptRule.node.addDependency(this.mailBucket.policy!);

    // ---- Topics -------------------------------------------------------------------------------
    // A customer-managed key (not aws/sns): CloudWatch alarms can only publish to an encrypted topic
    // whose key policy lets them, and the AWS-managed key's policy cannot be changed.
    const topicKey = new kms.Key(this, 'TopicKey', {
      description: `invite-router ${config.stage}: encrypts the event and alarm SNS topics`,
      enableKeyRotation: true,
      removalPolicy: keepData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // The principal and actions CloudWatch's documentation gives for alarms on an encrypted topic,
    // limited to this account's alarms (aws:SourceAccount, the confused-deputy guard CloudWatch
    // sets on its calls). The topics' own policies still decide who may publish.
    topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // in a key policy "*" means this key
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    const topicTitles: Record<EventTopic, string> = {
      create: 'new events',
      update: 'changed events',
      cancel: 'cancelled events or occurrences',
      rejected: 'refused requests, for telling the sender why',
    };
    this.topics = {} as Record<EventTopic, sns.Topic>;
    for (const name of EVENT_TOPICS) {
      this.topics[name] = new sns.Topic(this, `${capitalize(name)}Topic`, {
        displayName: `invite-router ${config.stage}: ${topicTitles[name]}`,
        masterKey: topicKey,
        enforceSSL: true,
      });
    }
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `invite-router ${config.stage}: alarms`,
      masterKey: topicKey,
      enforceSSL: true,
    });
    if (config.alarmEmail) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    }

    // ---- Ledger -------------------------------------------------------------------------------
    this.ledgerTable = new dynamodb.Table(this, 'LedgerTable', {
      partitionKey: { name: LEDGER_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: LEDGER_SORT_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // AWS-managed key: encrypted with a KMS key whose policy already admits DynamoDB's callers,
      // so the function needs no kms permission for it.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: keepData,
      removalPolicy: dataRemovalPolicy,
    });

    // ---- The function -------------------------------------------------------------------------
    // An explicit role without AWSLambdaBasicExecutionRole (see rust-function.ts): every
    // permission below is listed and scoped by hand.
    const intake = rustFunction(this, {
      ids: { logGroup: 'FunctionLogGroup', role: 'FunctionRole', function: 'Function' },
      description: 'invite-router: calendar-invite emails to create/update/cancel messages',
      roleDescription: `invite-router ${config.stage}: the intake function`,
      assetDir: config.lambdaAssetDir,
      timeout: Duration.seconds(config.functionTimeoutSeconds),
      memorySize: config.functionMemoryMb,
      reservedConcurrentExecutions: config.reservedConcurrency,
      removalPolicy: dataRemovalPolicy,
      logLevel: config.logLevel as lambda.ApplicationLogLevel,
      logRetention: config.logRetentionDays,
      tracing: config.tracing,
      environment: {
        CREATE_TOPIC_ARN: this.topics.create.topicArn,
        UPDATE_TOPIC_ARN: this.topics.update.topicArn,
        CANCEL_TOPIC_ARN: this.topics.cancel.topicArn,
        REJECTED_TOPIC_ARN: this.topics.rejected.topicArn,
        LEDGER_TABLE: this.ledgerTable.tableName,
        QUEUE_URL: this.intakeQueue.queueUrl,
        MAX_EMAIL_BYTES: String(config.maxEmailBytes),
        MAX_CALENDAR_BYTES: String(config.maxCalendarBytes),
        MAX_COMPONENTS: String(config.maxComponents),
        MAX_ATTENDEES: String(config.maxAttendees),
        BATCH_CONCURRENCY: String(config.batchConcurrency),
        REQUIRE_AUTHENTICATION: String(config.requireAuthentication),
        DELEGATION: config.delegation,
        // The drop-box addresses are never answered: a reply there would loop back to us.
        DROPBOX_ADDRESSES: config.recipients.join(','),
        ...(config.delegates.length > 0 ? { DELEGATES: config.delegates.join(';') } : {}),
        // Our own reply address is never answered either.
        REPLY_FROM: config.replyFrom,
        NOTIFY_ON_SUCCESS: String(config.notifyOnSuccess),
        // Both functions' EMF metrics: namespace InviteRouter, dimension Stage (docs/OPERATIONS.md).
        METRICS_NAMESPACE: METRICS_NAMESPACE,
        STAGE: config.stage,
        ...(config.rustLog !== undefined ? { RUST_LOG: config.rustLog } : {}),
      },
    });
    this.intakeFunction = intake.function;
    const { role, logGroup } = intake;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadRawMailUnderPrefix',
        actions: ['s3:GetObject'],
        resources: [this.mailBucket.arnForObjects(`${config.mailPrefix}*`)],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DecryptRawMailThroughS3',
        actions: ['kms:Decrypt'],
        resources: [this.mailKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Aws.REGION}.amazonaws.com` } },
      }),
    );
    // Without it S3 answers AccessDenied for a missing key, which the function must treat as
    // transient (it is also what a missing grant looks like); with it a deleted mail is NoSuchKey,
    // the one permanent S3 error. It reveals only key names of a bucket the function reads anyway.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TellMissingMailFromRefusedRead',
        actions: ['s3:ListBucket'],
        resources: [this.mailBucket.bucketArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteLedger',
        actions: LEDGER_ACTIONS,
        resources: [this.ledgerTable.tableArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PublishToEventTopics',
        actions: ['sns:Publish'],
        resources: EVENT_TOPICS.map((name) => this.topics[name].topicArn),
      }),
    );
    // Subscribers act on these messages (a cancel removes a meeting): nobody but the router (and
    // the operator roles named in extraPublisherArns, for republishing a set-aside message) may
    // publish, not even an administrator of the account, whatever their identity policy says.
    const publishers = [role.roleArn, ...config.extraPublisherArns];
    for (const name of EVENT_TOPICS) {
      this.topics[name].addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'OnlyTheRouterPublishes',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['sns:Publish'],
          resources: [this.topics[name].topicArn],
          conditions: { ArnNotEquals: { 'aws:PrincipalArn': publishers.length === 1 ? publishers[0] : publishers } },
        }),
      );
    }
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'EncryptForEventTopics',
        actions: TOPIC_KEY_PUBLISHER_ACTIONS,
        resources: [topicKey.keyArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ConsumeIntakeQueue',
        actions: QUEUE_CONSUMER_ACTIONS,
        resources: [this.intakeQueue.queueArn],
      }),
    );
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.resolve(cfnMailBucket.logicalId)}.Arn>/${config.mailPrefix}*]`,
      reason:
        'SES names each object by its message ID at delivery time, so the function can only be ' +
        `limited to the ${config.mailPrefix} prefix, not to single objects; the action is s3:GetObject alone.`,
    });

    // A plain mapping rather than SqsEventSource, which would also grant sqs:GetQueueUrl: the
    // permissions above are the whole list.
    const mapping = new lambda.EventSourceMapping(this, 'IntakeQueueMapping', {
      target: this.intakeFunction,
      eventSourceArn: this.intakeQueue.queueArn,
      batchSize: config.batchSize,
      maxBatchingWindow:
        config.maxBatchingWindowSeconds > 0 ? Duration.seconds(config.maxBatchingWindowSeconds) : undefined,
      // Transient failures are reported per record; the rest of the batch is deleted (DESIGN "Errors").
      reportBatchItemFailures: true,
      maxConcurrency: config.maxConcurrency,
    });
    // Lambda checks the role can read the queue when the mapping is created.
    mapping.node.addDependency(role);

    // ---- Replies ------------------------------------------------------------------------------
    this.notifier = new Notifier(this, 'Notifier', {
      config,
      rejectedTopic: this.topics.rejected,
      queueConsumerActions: QUEUE_CONSUMER_ACTIONS,
      removalPolicy: dataRemovalPolicy,
      keepData,
    });

    // ---- Monitoring ---------------------------------------------------------------------------
    this.monitoring = new Monitoring(this, 'Monitoring', {
      stage: config.stage,
      intakeFunction: this.intakeFunction,
      notifierFunction: this.notifier.function,
      intakeQueue: this.intakeQueue,
      deadLetterQueue: this.deadLetterQueue,
      notifierDeadLetterQueue: this.notifier.deadLetterQueue,
      intakeLogGroup: logGroup,
      notifierLogGroup: this.notifier.logGroup,
      spoofingAlarmThreshold: config.spoofingAlarmThreshold,
    });
    const alarmAction = new cloudwatchActions.SnsAction(this.alarmTopic);
    // The function logs `outbox_set_aside` (JSON, under `fields`) when SNS refuses a committed
    // message for good and the entry is moved aside in the ledger: counted here, alarmed below.
    const setAside = new logs.MetricFilter(this, 'OutboxSetAsideFilter', {
      logGroup,
      filterPattern: logs.FilterPattern.stringValue('$.fields.event', '=', 'outbox_set_aside'),
      metricNamespace: `InviteRouter/${config.stage}`,
      metricName: 'OutboxEntriesSetAside',
      metricValue: '1',
    });
    const alarms: cloudwatch.Alarm[] = [
      new cloudwatch.Alarm(this, 'DeadLetterQueueNotEmpty', {
        alarmDescription:
          'An email failed processing maxReceiveCount times and is in the dead-letter queue: inspect and redrive it.',
        metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        ...ALARM_ON_ANY,
      }),
      new cloudwatch.Alarm(this, 'FunctionErrors', {
        alarmDescription:
          'The function failed whole invocations (crash, timeout or out of memory), not single records: read its logs.',
        metric: this.intakeFunction.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        ...ALARM_ON_ANY,
      }),
      new cloudwatch.Alarm(this, 'FunctionThrottles', {
        alarmDescription:
          'Lambda throttled the function (reserved or account concurrency exhausted): intake is slowing down.',
        metric: this.intakeFunction.metricThrottles({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        ...ALARM_ON_ANY,
      }),
      new cloudwatch.Alarm(this, 'IntakeQueueBacklogOld', {
        alarmDescription: `The oldest email in the intake queue has waited over ${config.oldestMessageAlarmSeconds} s: the function is failing or falling behind.`,
        metric: this.intakeQueue.metricApproximateAgeOfOldestMessage({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: config.oldestMessageAlarmSeconds,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, 'OutboxEntrySetAside', {
        alarmDescription:
          'SNS refused a committed message for good; it is kept in the ledger under (UID, #aside:<dedupe_id>): ' +
          'read the outbox_set_aside log line, repair the message and publish it by hand.',
        metric: setAside.metric({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        ...ALARM_ON_ANY,
      }),
      ...this.notifier.alarms,
      this.monitoring.spoofingAlarm,
    ];
    for (const alarm of alarms) {
      alarm.addAlarmAction(alarmAction);
      // Recovery is news too: the on-call person learns the incident is over.
      alarm.addOkAction(alarmAction);
    }

    // ---- Outputs ------------------------------------------------------------------------------
    for (const name of EVENT_TOPICS) {
      new CfnOutput(this, `${capitalize(name)}TopicArn`, { value: this.topics[name].topicArn });
    }
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
    new CfnOutput(this, 'LedgerTableName', { value: this.ledgerTable.tableName });
    new CfnOutput(this, 'MailBucketName', { value: this.mailBucket.bucketName });
    new CfnOutput(this, 'IntakeQueueUrl', { value: this.intakeQueue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'FunctionName', { value: this.intakeFunction.functionName });
    new CfnOutput(this, 'NotifierFunctionName', { value: this.notifier.function.functionName });
    new CfnOutput(this, 'NotifierQueueUrl', { value: this.notifier.queue.queueUrl });
    new CfnOutput(this, 'NotifierDeadLetterQueueUrl', { value: this.notifier.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'ReplyTableName', { value: this.notifier.replyTable.tableName });
    new CfnOutput(this, 'ReceiptRuleSetName', {
      value: ruleSetName,
      description: 'Activate with: aws ses set-active-receipt-rule-set --rule-set-name <this>',
    });
  }
}

/**
 * SES's S3 action with a bucket policy scoped the way AWS documents it: SES may write only under
 * the prefix, only for this account and only on behalf of this receipt rule (aws:SourceArn).
 * aws-ses-actions' S3 action checks the account alone, so another rule in the account could
 * write here too.
 */
class ScopedS3Action implements ses.IReceiptRuleAction {
  constructor(
    private readonly props: { bucket: s3.Bucket; objectKeyPrefix: string; receiptRuleArn: string },
  ) {}

  bind(): ses.ReceiptRuleActionConfig {
    this.props.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowSesReceiptRuleToWriteMail',
        principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.props.bucket.arnForObjects(`${this.props.objectKeyPrefix}*`)],
        conditions: {
          StringEquals: {
            'aws:SourceAccount': Aws.ACCOUNT_ID,
            'aws:SourceArn': this.props.receiptRuleArn,
          },
        },
      }),
    );
    return {
      s3Action: { bucketName: this.props.bucket.bucketName, objectKeyPrefix: this.props.objectKeyPrefix },
    };
  }
}

/** Fails synth early with a fix, instead of deploying a function that cannot start. */
function assertLambdaAsset(dir: string): void {
  const bootstrap = path.join(dir, 'bootstrap');
  if (!fs.existsSync(bootstrap)) {
    throw new Error(
      `no Lambda binary at ${bootstrap}: run \`make build\` (cargo lambda build --release --arm64) ` +
        'or pass -c lambdaAssetDir=DIR / -c notifierAssetDir=DIR pointing at a directory with a bootstrap file',
    );
  }
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** One stack per stage, so dev, stg and prod can live side by side in one account. */
export function stackNameFor(stage: string): string {
  return `InviteRouter-${stage}`;
}
