/**
 * The synthesized template, checked point by point against cdk/README.md and docs/PIPELINE.md.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { getAtt, logicalIdOf, onlyLogicalId, ref, synth } from './helpers';
import { replyClaimSeconds } from '../lib/notifier';

// One default dev stack and one prod stack serve most tests: synthesis is the slow part.
const dev = synth();
const devT = dev.template;
const prod = synth({
  stage: 'prod',
  recipients: 'create@invites.example.org,cancel@invites.example.org',
  replyFrom: 'invite-router@replies.example.org',
});
const prodT = prod.template;

const ids = {
  mailBucket: logicalIdOf(devT, 'AWS::S3::Bucket', 'MailBucket'),
  accessLogBucket: logicalIdOf(devT, 'AWS::S3::Bucket', 'AccessLogBucket'),
  mailBucketPolicy: logicalIdOf(devT, 'AWS::S3::BucketPolicy', 'MailBucketPolicy'),
  intakeQueue: logicalIdOf(devT, 'AWS::SQS::Queue', 'IntakeQueue'),
  intakeQueuePolicy: logicalIdOf(devT, 'AWS::SQS::QueuePolicy', 'IntakeQueuePolicy'),
  dlq: logicalIdOf(devT, 'AWS::SQS::Queue', 'DeadLetterQueue'),
  fn: logicalIdOf(devT, 'AWS::Lambda::Function', 'Function'),
  role: logicalIdOf(devT, 'AWS::IAM::Role', 'FunctionRole'),
  logGroup: logicalIdOf(devT, 'AWS::Logs::LogGroup', 'FunctionLogGroup'),
  table: logicalIdOf(devT, 'AWS::DynamoDB::Table', 'LedgerTable'),
  notifierFn: logicalIdOf(devT, 'AWS::Lambda::Function', 'NotifierFunction'),
  notifierRole: logicalIdOf(devT, 'AWS::IAM::Role', 'NotifierRole'),
  notifierQueue: logicalIdOf(devT, 'AWS::SQS::Queue', 'NotifierQueue'),
  notifierDlq: logicalIdOf(devT, 'AWS::SQS::Queue', 'NotifierDeadLetterQueue'),
  replyTable: logicalIdOf(devT, 'AWS::DynamoDB::Table', 'NotifierReplyTable'),
  key: logicalIdOf(devT, 'AWS::KMS::Key', 'TopicKey'),
  mailKey: logicalIdOf(devT, 'AWS::KMS::Key', 'MailKey'),
  ruleSet: onlyLogicalId(devT, 'AWS::SES::ReceiptRuleSet'),
  createTopic: logicalIdOf(devT, 'AWS::SNS::Topic', 'CreateTopic'),
  updateTopic: logicalIdOf(devT, 'AWS::SNS::Topic', 'UpdateTopic'),
  cancelTopic: logicalIdOf(devT, 'AWS::SNS::Topic', 'CancelTopic'),
  rejectedTopic: logicalIdOf(devT, 'AWS::SNS::Topic', 'RejectedTopic'),
  alarmTopic: logicalIdOf(devT, 'AWS::SNS::Topic', 'AlarmTopic'),
};

const join = (...parts: unknown[]) => ({ 'Fn::Join': ['', parts] });
/** What SES may do only for this account's intake rule (the bucket's and the mail key's policies). */
const onlyTheDevIntakeRule = {
  StringEquals: {
    'aws:SourceAccount': { Ref: 'AWS::AccountId' },
    'aws:SourceArn': join(
      'arn:',
      { Ref: 'AWS::Partition' },
      ':ses:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      ':receipt-rule-set/invite-router-dev-rules:receipt-rule/invite-router-dev-intake',
    ),
  },
};
const mailBucketName = (stage: string) =>
  join(`invite-router-${stage}-mail-`, { Ref: 'AWS::AccountId' }, '-', { Ref: 'AWS::Region' });

describe('mail intake (SES)', () => {
  test('a receipt rule set named after the stage', () => {
    devT.hasResourceProperties('AWS::SES::ReceiptRuleSet', { RuleSetName: 'invite-router-dev-rules' });
  });

  test('the rule takes mail for the configured recipients over TLS only, scans it and stores it under the prefix', () => {
    prodT.hasResourceProperties('AWS::SES::ReceiptRule', {
      RuleSetName: ref(onlyLogicalId(prodT, 'AWS::SES::ReceiptRuleSet')),
      Rule: {
        Name: 'invite-router-prod-intake',
        Enabled: true,
        ScanEnabled: true,
        TlsPolicy: 'Require',
        Recipients: ['create@invites.example.org', 'cancel@invites.example.org'],
        Actions: [
          { S3Action: { BucketName: ref(logicalIdOf(prodT, 'AWS::S3::Bucket', 'MailBucket')), ObjectKeyPrefix: 'incoming/' } },
        ],
      },
    });
  });

  test('the rule is created after the bucket policy, since SES writes a test object at once', () => {
    devT.hasResource('AWS::SES::ReceiptRule', { DependsOn: Match.arrayWith([ids.mailBucketPolicy]) });
  });

  test('SES may write only under the prefix, for this account and this receipt rule', () => {
    devT.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref(ids.mailBucket),
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'AllowSesReceiptRuleToWriteMail',
            Effect: 'Allow',
            Principal: { Service: 'ses.amazonaws.com' },
            Action: 's3:PutObject',
            Resource: join(getAtt(ids.mailBucket), '/incoming/*'),
            Condition: onlyTheDevIntakeRule,
          },
        ]),
      },
    });
  });

  test('a custom prefix moves the S3 action, the SES grant, the notification filter and the read grant', () => {
    const t = synth({ mailPrefix: 'mail/raw/' }).template;
    t.hasResourceProperties('AWS::SES::ReceiptRule', {
      Rule: { Actions: [{ S3Action: Match.objectLike({ ObjectKeyPrefix: 'mail/raw/' }) }] },
    });
    t.hasResourceProperties('AWS::S3::Bucket', {
      NotificationConfiguration: {
        QueueConfigurations: [Match.objectLike({ Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: 'mail/raw/' }] } } })],
      },
    });
    const rendered = JSON.stringify(t.toJSON());
    assert.match(rendered, /"\/mail\/raw\/\*"/);
    assert.doesNotMatch(rendered, /incoming\//);
  });

  test('an existing (already active) rule set gets the rule instead of a new set', () => {
    const t = synth({ existingReceiptRuleSetName: 'company-inbound' }).template;
    t.resourceCountIs('AWS::SES::ReceiptRuleSet', 0);
    t.hasResourceProperties('AWS::SES::ReceiptRule', { RuleSetName: 'company-inbound' });
    assert.match(JSON.stringify(t.toJSON()), /receipt-rule-set\/company-inbound:receipt-rule\/invite-router-dev-intake/);
    t.hasOutput('ReceiptRuleSetName', { Value: 'company-inbound' });
  });
});

describe('storage (raw-mail bucket)', () => {
  test('private, encrypted, versioned, logged, with a fixed per-account name', () => {
    devT.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: mailBucketName('dev'),
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: getAtt(ids.mailKey) },
            BucketKeyEnabled: true,
          },
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: { DestinationBucketName: ref(ids.accessLogBucket), LogFilePrefix: 'mail-bucket/' },
    });
  });

  test('raw mail is encrypted with a rotating key of ours that only the intake rule of SES may encrypt with', () => {
    const key = devT.findResources('AWS::KMS::Key')[ids.mailKey];
    assert.equal(key.Properties.EnableKeyRotation, true);
    const ses = key.Properties.KeyPolicy.Statement.filter(
      (statement: { Principal?: { Service?: string } }) => statement.Principal?.Service === 'ses.amazonaws.com',
    );
    assert.deepEqual(ses, [
      {
        Sid: 'AllowSesReceiptRuleToEncryptMail',
        Effect: 'Allow',
        Principal: { Service: 'ses.amazonaws.com' },
        Action: ['kms:Encrypt', 'kms:GenerateDataKey*'],
        Resource: '*',
        Condition: onlyTheDevIntakeRule,
      },
    ]);
  });

  test('every bucket denies requests without TLS', () => {
    const policies = devT.findResources('AWS::S3::BucketPolicy');
    assert.equal(Object.keys(policies).length, 2);
    for (const policy of Object.values(policies)) {
      assert.deepEqual(
        policy.Properties.PolicyDocument.Statement.find((s: { Effect: string }) => s.Effect === 'Deny').Condition,
        { Bool: { 'aws:SecureTransport': 'false' } },
      );
    }
  });

  test('raw mail and its old versions expire after mailExpirationDays (default 30)', () => {
    const rule = (days: number) => ({
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Id: 'expire-raw-mail',
            Status: 'Enabled',
            ExpirationInDays: days,
            NoncurrentVersionExpiration: { NoncurrentDays: days },
          }),
        ]),
      },
    });
    devT.hasResourceProperties('AWS::S3::Bucket', { BucketName: mailBucketName('dev'), ...rule(30) });
    devT.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: mailBucketName('dev'),
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          { Id: 'remove-expired-delete-markers', Status: 'Enabled', ExpiredObjectDeleteMarker: true },
        ]),
      },
    });
    synth({ mailExpirationDays: '7' }).template.hasResourceProperties('AWS::S3::Bucket', rule(7));
  });

  test('new objects under the prefix notify the intake queue, after the queue lets S3 send', () => {
    devT.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              Event: 's3:ObjectCreated:*',
              Queue: getAtt(ids.intakeQueue),
              Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: 'incoming/' }] } },
            },
          ],
        },
      }),
      DependsOn: [ids.intakeQueuePolicy],
    });
  });
});

describe('queue', () => {
  test('the intake queue is encrypted and redrives to the DLQ after 5 receives by default', () => {
    devT.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: getAtt(ids.dlq), maxReceiveCount: 5 },
      MessageRetentionPeriod: 7 * 24 * 3600,
    });
    devT.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    synth({ maxReceiveCount: '3' }).template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 3 }),
    });
  });

  test('the visibility timeout is six times the function timeout', () => {
    devT.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 180 });
    devT.hasResourceProperties('AWS::Lambda::Function', { Timeout: 30 });
    const t = synth({ functionTimeoutSeconds: '100' }).template;
    t.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 600 });
    t.hasResourceProperties('AWS::Lambda::Function', { Timeout: 100 });
  });

  test('only the mail bucket of this account may send to the queue, and only over TLS', () => {
    devT.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [ref(ids.intakeQueue)],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'sqs:*',
            Resource: getAtt(ids.intakeQueue),
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
          {
            Sid: 'AllowMailBucketNotifications',
            Effect: 'Allow',
            Principal: { Service: 's3.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Resource: getAtt(ids.intakeQueue),
            Condition: {
              ArnEquals: { 'aws:SourceArn': join('arn:', { Ref: 'AWS::Partition' }, ':s3:::invite-router-dev-mail-', { Ref: 'AWS::AccountId' }, '-', { Ref: 'AWS::Region' }) },
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            },
          },
        ],
      },
    });
  });
});

describe('the function', () => {
  test('arm64, provided.al2023, bootstrap handler, JSON logs into its own log group', () => {
    devT.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      MemorySize: 256,
      Role: getAtt(ids.role),
      LoggingConfig: { LogFormat: 'JSON', LogGroup: ref(ids.logGroup) },
    });
    devT.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 14 });
  });

  test('its environment is wired from the constructs, with exactly the names the Rust side reads', () => {
    const fn = devT.findResources('AWS::Lambda::Function')[ids.fn];
    assert.deepEqual(fn.Properties.Environment.Variables, {
      CREATE_TOPIC_ARN: ref(ids.createTopic),
      UPDATE_TOPIC_ARN: ref(ids.updateTopic),
      CANCEL_TOPIC_ARN: ref(ids.cancelTopic),
      REJECTED_TOPIC_ARN: ref(ids.rejectedTopic),
      LEDGER_TABLE: ref(ids.table),
      QUEUE_URL: ref(ids.intakeQueue),
      MAX_EMAIL_BYTES: '10485760',
      MAX_CALENDAR_BYTES: '524288',
      MAX_COMPONENTS: '200',
      MAX_ATTENDEES: '1000',
      BATCH_CONCURRENCY: '10',
      REQUIRE_AUTHENTICATION: 'true',
      DELEGATION: 'same-domain',
      DROPBOX_ADDRESSES: 'create@example.com',
      REPLY_FROM: 'invite-router@example.com',
      NOTIFY_ON_SUCCESS: 'false',
      METRICS_NAMESPACE: 'InviteRouter',
      STAGE: 'dev',
      SSL_CERT_FILE: '/etc/pki/tls/certs/ca-bundle.crt',
    });
  });

  test('the delegation policy and its pairs come from context; the drop boxes from recipients', () => {
    synth({
      delegation: 'listed',
      delegates: 'boss@corp.example=assistant@corp.example,ceo@corp.example=pa@agency.example',
      recipients: 'create@invites.example.org,invites.example.com',
    }).template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          DELEGATION: 'listed',
          DELEGATES: 'boss@corp.example=assistant@corp.example;ceo@corp.example=pa@agency.example',
          DROPBOX_ADDRESSES: 'create@invites.example.org,invites.example.com',
        }),
      },
    });
    assert.throws(() => synth({ delegation: 'anyone' }), /delegation: must be one of same-domain, listed, off/);
    assert.throws(() => synth({ delegation: 'listed', delegates: 'boss' }), /delegates: "boss" is not/);
    assert.throws(() => synth({ delegates: 'a@x.example=b@x.example' }), /only read with delegation "listed"/);
  });

  test('limits, batch concurrency, the sender policy, the log filter and log retention come from context', () => {
    const template = synth({
      maxEmailBytes: '2000000',
      maxCalendarBytes: '500000',
      maxComponents: '50',
      maxAttendees: '300',
      batchConcurrency: '3',
      requireAuthentication: 'false',
      rustLog: 'invite_router=debug',
      logRetentionDays: '90',
    }).template;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          MAX_EMAIL_BYTES: '2000000',
          MAX_CALENDAR_BYTES: '500000',
          MAX_COMPONENTS: '50',
          MAX_ATTENDEES: '300',
          BATCH_CONCURRENCY: '3',
          REQUIRE_AUTHENTICATION: 'false',
          RUST_LOG: 'invite_router=debug',
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ REPLY_TABLE: Match.anyValue(), BATCH_CONCURRENCY: '3' }) },
    });
    const retention = Object.values(template.findResources('AWS::Logs::LogGroup')).map((g) => g.Properties.RetentionInDays);
    assert.deepEqual(retention, [90, 90]);
    assert.deepEqual(
      Object.values(devT.findResources('AWS::Logs::LogGroup')).map((g) => g.Properties.RetentionInDays),
      [14, 14],
    );
    assert.throws(() => synth({ logRetentionDays: '10' }), /logRetentionDays: CloudWatch Logs keeps logs 1, 3, 5/);
  });

  test("both functions log at Lambda's application level (INFO by default), RUST_LOG only when given", () => {
    const levels = (template: typeof devT) =>
      Object.values(template.findResources('AWS::Lambda::Function')).map((fn) => [
        fn.Properties.LoggingConfig,
        fn.Properties.Environment.Variables.RUST_LOG,
        fn.Properties.TracingConfig,
      ]);
    for (const [logging, rustLog, tracing] of levels(devT)) {
      assert.equal(logging.ApplicationLogLevel, 'INFO');
      assert.equal(logging.SystemLogLevel, 'INFO');
      assert.equal(logging.LogFormat, 'JSON');
      assert.equal(rustLog, undefined);
      assert.equal(tracing, undefined, 'no X-Ray unless asked for');
    }
    const debug = levels(synth({ logLevel: 'debug' }).template);
    assert.equal(debug.length, 2);
    for (const [logging] of debug) {
      assert.equal(logging.ApplicationLogLevel, 'DEBUG');
    }
    assert.throws(() => synth({ logLevel: 'LOUD' }), /logLevel: must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL/);
  });

  test('X-Ray active tracing from context, on both functions, with only the X-Ray grant on "*"', () => {
    const traced = synth({ tracing: 'true' }).template;
    const functions = Object.values(traced.findResources('AWS::Lambda::Function'));
    assert.equal(functions.length, 2);
    for (const fn of functions) {
      assert.deepEqual(fn.Properties.TracingConfig, { Mode: 'Active' });
    }
    for (const policy of Object.values(traced.findResources('AWS::IAM::Policy'))) {
      const wildcard = policy.Properties.PolicyDocument.Statement.filter(
        (statement: { Resource: unknown }) => statement.Resource === '*',
      );
      assert.deepEqual(
        wildcard.map((statement: { Action: unknown }) => statement.Action),
        [['xray:PutTelemetryRecords', 'xray:PutTraceSegments']],
      );
    }
  });

  test('reserved and poller concurrency are unset by default and set from context', () => {
    devT.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: Match.absent() });
    devT.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: Match.absent() });
    const t = synth({ reservedConcurrency: '4', maxConcurrency: '3' }).template;
    t.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 4 });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 3 } });
  });

  test('the SQS mapping reports batch item failures, with batch size and window from context', () => {
    devT.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: getAtt(ids.intakeQueue),
      FunctionName: ref(ids.fn),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
    synth({ batchSize: '50', maxBatchingWindowSeconds: '5' }).template.hasResourceProperties(
      'AWS::Lambda::EventSourceMapping',
      { FunctionResponseTypes: ['ReportBatchItemFailures'], BatchSize: 50, MaximumBatchingWindowInSeconds: 5 },
    );
  });

  test('the mapping is created after the role can read the queue', () => {
    const policyId = logicalIdOf(devT, 'AWS::IAM::Policy', 'FunctionRoleDefaultPolicy');
    devT.hasResource('AWS::Lambda::EventSourceMapping', { DependsOn: Match.arrayWith([policyId]) });
  });

  test('synthesis refuses an asset directory without a bootstrap binary', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'invite-router-empty-'));
    try {
      assert.throws(() => synth({ lambdaAssetDir: empty }), /no Lambda binary at .*bootstrap.*make build/s);
    } finally {
      fs.rmSync(empty, { recursive: true });
    }
  });
});

describe('topics and ledger', () => {
  test('create, update, cancel, rejected and alarm topics are KMS-encrypted with a rotating key', () => {
    devT.resourceCountIs('AWS::SNS::Topic', 5);
    for (const topic of Object.values(devT.findResources('AWS::SNS::Topic'))) {
      assert.deepEqual(topic.Properties.KmsMasterKeyId, getAtt(ids.key));
    }
    devT.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('every topic policy denies publishing without TLS', () => {
    const policies = Object.values(devT.findResources('AWS::SNS::TopicPolicy'));
    const covered = policies.flatMap((policy) => {
      const deny = policy.Properties.PolicyDocument.Statement.find(
        (s: { Effect: string; Condition?: { Bool?: unknown } }) => s.Effect === 'Deny' && s.Condition?.Bool,
      );
      assert.deepEqual(deny.Condition, { Bool: { 'aws:SecureTransport': 'false' } });
      assert.equal(deny.Principal, '*');
      assert.equal(deny.Action, 'sns:Publish');
      assert.deepEqual(deny.Resource, policy.Properties.Topics[0]);
      return policy.Properties.Topics.map((t: { Ref: string }) => t.Ref);
    });
    assert.deepEqual(
      covered.sort(),
      [ids.createTopic, ids.updateTopic, ids.cancelTopic, ids.rejectedTopic, ids.alarmTopic].sort(),
    );
  });

  test("CloudWatch may use the topic key for this account's alarms, so they reach the encrypted alarm topic", () => {
    devT.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'AllowCloudWatchAlarmsToPublish',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Effect: 'Allow',
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Resource: '*',
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
  });

  test('nobody but the router role may publish to the event topics; the alarm topic is left to CloudWatch', () => {
    const policies = Object.values(devT.findResources('AWS::SNS::TopicPolicy'));
    const guarded = policies.flatMap((policy) => {
      const onlyRouter = policy.Properties.PolicyDocument.Statement.filter(
        (s: { Sid?: string }) => s.Sid === 'OnlyTheRouterPublishes',
      );
      if (onlyRouter.length === 0) {
        return [];
      }
      assert.deepEqual(onlyRouter, [
        {
          Sid: 'OnlyTheRouterPublishes',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 'sns:Publish',
          Resource: policy.Properties.Topics[0],
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': getAtt(ids.role) } },
        },
      ]);
      return policy.Properties.Topics.map((t: { Ref: string }) => t.Ref);
    });
    assert.deepEqual(guarded.sort(), [ids.createTopic, ids.updateTopic, ids.cancelTopic, ids.rejectedTopic].sort());
    // An operator role named in context may publish too (to republish a set-aside message).
    const operator = 'arn:aws:iam::123456789012:role/invite-router-operator';
    const withOperator = synth({ extraPublisherArns: operator }).template;
    const statements = Object.values(withOperator.findResources('AWS::SNS::TopicPolicy')).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement,
    );
    const conditions = statements
      .filter((s: { Sid?: string }) => s.Sid === 'OnlyTheRouterPublishes')
      .map((s: { Condition: unknown }) => s.Condition);
    assert.equal(conditions.length, 4);
    const role = getAtt(logicalIdOf(withOperator, 'AWS::IAM::Role', 'FunctionRole'));
    for (const condition of conditions) {
      assert.deepEqual(condition, { ArnNotEquals: { 'aws:PrincipalArn': [role, operator] } });
    }
    assert.throws(() => synth({ extraPublisherArns: 'someone' }), /extraPublisherArns: "someone" is not an IAM role or user ARN/);
  });

  test('the ledger: uid + recurrence_id strings, on demand, PITR, encrypted', () => {
    devT.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'uid', KeyType: 'HASH' },
        { AttributeName: 'recurrence_id', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'uid', AttributeType: 'S' },
        { AttributeName: 'recurrence_id', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });
});

describe('least privilege', () => {
  test('the function role carries no managed policy and exactly these statements', () => {
    devT.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
    const policies = devT.findResources('AWS::IAM::Policy');
    // One for the intake function, one for the notifier (checked under "the notifier").
    assert.equal(Object.keys(policies).length, 2);
    const policy = policies[logicalIdOf(devT, 'AWS::IAM::Policy', 'FunctionRoleDefaultPolicy')];
    assert.deepEqual(policy.Properties.Roles, [ref(ids.role)]);
    assert.deepEqual(policy.Properties.PolicyDocument.Statement, [
      {
        Sid: 'WriteOwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: getAtt(ids.logGroup),
      },
      {
        Sid: 'ReadRawMailUnderPrefix',
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: join(getAtt(ids.mailBucket), '/incoming/*'),
      },
      {
        Sid: 'DecryptRawMailThroughS3',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: getAtt(ids.mailKey),
        Condition: { StringEquals: { 'kms:ViaService': join('s3.', { Ref: 'AWS::Region' }, '.amazonaws.com') } },
      },
      {
        Sid: 'TellMissingMailFromRefusedRead',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: getAtt(ids.mailBucket),
      },
      {
        Sid: 'ReadWriteLedger',
        Effect: 'Allow',
        // Sorted: the @aws-cdk/aws-iam:minimizePolicies flag orders actions and resources.
        Action: ['dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Resource: getAtt(ids.table),
      },
      {
        Sid: 'PublishToEventTopics',
        Effect: 'Allow',
        Action: 'sns:Publish',
        Resource: [ids.createTopic, ids.updateTopic, ids.cancelTopic, ids.rejectedTopic].sort().map(ref),
      },
      {
        Sid: 'EncryptForEventTopics',
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: getAtt(ids.key),
      },
      {
        Sid: 'ConsumeIntakeQueue',
        Effect: 'Allow',
        Action: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'],
        Resource: getAtt(ids.intakeQueue),
      },
    ]);
  });

  test('no identity policy in the stack has a wildcard action or a bare "*" resource', () => {
    for (const t of [devT, prodT]) {
      for (const policy of Object.values(t.findResources('AWS::IAM::Policy'))) {
        for (const statement of policy.Properties.PolicyDocument.Statement) {
          for (const action of [statement.Action].flat()) assert.doesNotMatch(action, /\*/);
          for (const resource of [statement.Resource].flat()) assert.notEqual(resource, '*');
        }
      }
    }
  });
});

describe('monitoring', () => {
  const alarmTopicRef = [ref(ids.alarmTopic)];

  test('eight alarms (five for intake, two for the notifier, spoofing), each notifying the alarm topic on alarm and on recovery', () => {
    devT.resourceCountIs('AWS::CloudWatch::Alarm', 8);
    for (const alarm of Object.values(devT.findResources('AWS::CloudWatch::Alarm'))) {
      assert.deepEqual(alarm.Properties.AlarmActions, alarmTopicRef);
      assert.deepEqual(alarm.Properties.OKActions, alarmTopicRef);
    }
  });

  test('a surge of sender_unauthenticated refusals (someone spoofing the drop box) alarms over the threshold', () => {
    devT.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'InviteRouter',
      MetricName: 'Refusals',
      Dimensions: Match.arrayEquals([
        { Name: 'Reason', Value: 'sender_unauthenticated' },
        { Name: 'Stage', Value: 'dev' },
      ]),
      Statistic: 'Sum',
      Period: 300,
      Threshold: 20,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    synth({ spoofingAlarmThreshold: '5' }).template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Refusals',
      Threshold: 5,
    });
  });

  test('one dashboard: invites by route, refusals by reason, replies, p50/p99 time, both DLQs, both functions', () => {
    const dashboards = Object.values(devT.findResources('AWS::CloudWatch::Dashboard'));
    assert.equal(dashboards.length, 1);
    assert.equal(dashboards[0].Properties.DashboardName, 'invite-router-dev');
    // The body is a Fn::Join of strings and references: flatten it to read the widgets.
    const flatten = (value: unknown): string =>
      typeof value === 'string'
        ? value
        : Array.isArray(value)
          ? value.map(flatten).join('')
          : value && typeof value === 'object'
            ? Object.entries(value as Record<string, unknown>)
                .map(([key, inner]) => (key === 'Fn::Join' ? flatten((inner as unknown[])[1]) : `<${key}:${flatten(inner)}>`))
                .join('')
            : String(value);
    const body = flatten(dashboards[0].Properties.DashboardBody);
    for (const title of [
      'Invites by route',
      'Refusals by reason',
      'Replies: requested, sent, not sent',
      'Refusals not answered, by why',
      'Processing time per SQS record (ms)',
      'Dead-letter queues: depth and age',
      'Functions: errors and throttles',
    ]) {
      assert.ok(body.includes(`"title":"${title}"`), `no widget "${title}"`);
    }
    for (const route of ['create', 'update', 'cancel', 'duplicate', 'stale', 'ignored', 'invalid']) {
      assert.ok(body.includes(`"Invites","Route","${route}","Stage","dev"`), `no Invites line for ${route}`);
    }
    assert.ok(body.includes('"Refusals","Reason","sender_unauthenticated","Stage","dev"'));
    assert.ok(body.includes('"stat":"p50"') && body.includes('"stat":"p99"'));
    assert.ok(body.includes('"Replies","Stage","dev","Why","sent"'));
    assert.ok(body.includes('ApproximateAgeOfOldestMessage'));
    for (const fn of [ids.fn, ids.notifierFn]) {
      assert.ok(body.includes(`"Errors","FunctionName","<Ref:${fn}>"`), `no errors line for ${fn}`);
      assert.ok(body.includes(`"Throttles","FunctionName","<Ref:${fn}>"`), `no throttles line for ${fn}`);
    }
    for (const dlq of [ids.dlq, ids.notifierDlq]) {
      assert.ok(body.includes(`"QueueName","<Fn::GetAtt:${dlq}QueueName>"`), `no line for ${dlq}`);
    }
  });

  test('saved Logs Insights queries: an email by S3 key or Message-ID, one request, refusals by reason', () => {
    const queries = Object.values(devT.findResources('AWS::Logs::QueryDefinition')).map((q) => q.Properties);
    const byName = new Map(queries.map((q) => [q.Name, q]));
    assert.deepEqual([...byName.keys()].sort(), [
      'invite-router-dev/one invocation (by request id)',
      'invite-router-dev/refusals by reason',
      'invite-router-dev/what happened to this email (by Message-ID)',
      'invite-router-dev/what happened to this email (by S3 key)',
    ]);
    const byKey = byName.get('invite-router-dev/what happened to this email (by S3 key)');
    assert.match(byKey.QueryString, /filter span\.s3_key = "REPLACE_WITH_S3_KEY"/);
    assert.match(byKey.QueryString, /spans\.0\.requestId/);
    assert.deepEqual(byKey.LogGroupNames, [ref(ids.logGroup)]);
    const byMessageId = byName.get('invite-router-dev/what happened to this email (by Message-ID)');
    assert.match(byMessageId.QueryString, /filter fields\.email_message_id = /);
    const refusals = byName.get('invite-router-dev/refusals by reason');
    assert.match(refusals.QueryString, /stats count\(\*\) as refusals by fields\.reason/);
  });

  test('an outbox entry set aside is counted from the function log and alarms from the first one', () => {
    devT.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: ref(ids.logGroup),
      FilterPattern: '{ $.fields.event = "outbox_set_aside" }',
      MetricTransformations: [
        { MetricNamespace: 'InviteRouter/dev', MetricName: 'OutboxEntriesSetAside', MetricValue: '1' },
      ],
    });
    devT.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'InviteRouter/dev',
      MetricName: 'OutboxEntriesSetAside',
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
  });

  test('the DLQ alarm fires on any message in the dead-letter queue', () => {
    devT.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(ids.dlq, 'QueueName') }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
  });

  test('function errors and throttles alarm from the first one', () => {
    for (const metric of ['Errors', 'Throttles']) {
      devT.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: metric,
        Dimensions: [{ Name: 'FunctionName', Value: ref(ids.fn) }],
        Statistic: 'Sum',
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
      });
    }
  });

  test('the age of the oldest intake message alarms past the configured threshold', () => {
    const age = (threshold: number) => ({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(ids.intakeQueue, 'QueueName') }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: threshold,
    });
    devT.hasResourceProperties('AWS::CloudWatch::Alarm', age(900));
    synth({ oldestMessageAlarmSeconds: '300' }).template.hasResourceProperties('AWS::CloudWatch::Alarm', age(300));
  });

  test('an alarm email subscribes to the alarm topic only when given', () => {
    const emailSubscriptions = (t: typeof devT) =>
      Object.values(t.findResources('AWS::SNS::Subscription')).filter(
        (subscription) => subscription.Properties.Protocol === 'email',
      ).length;
    assert.equal(emailSubscriptions(devT), 0);
    synth({ alarmEmail: 'oncall@example.org' }).template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.org',
      TopicArn: ref(ids.alarmTopic),
    });
  });

  test('outputs name the topics, the table, the bucket, the queues and the rule set', () => {
    const outputs = devT.findOutputs('*');
    assert.deepEqual(
      Object.fromEntries(Object.entries(outputs).map(([name, output]) => [name, output.Value])),
      {
        CreateTopicArn: ref(ids.createTopic),
        UpdateTopicArn: ref(ids.updateTopic),
        CancelTopicArn: ref(ids.cancelTopic),
        RejectedTopicArn: ref(ids.rejectedTopic),
        AlarmTopicArn: ref(ids.alarmTopic),
        LedgerTableName: ref(ids.table),
        MailBucketName: ref(ids.mailBucket),
        IntakeQueueUrl: ref(ids.intakeQueue),
        DeadLetterQueueUrl: ref(ids.dlq),
        FunctionName: ref(ids.fn),
        NotifierFunctionName: ref(ids.notifierFn),
        NotifierQueueUrl: ref(ids.notifierQueue),
        NotifierDeadLetterQueueUrl: ref(ids.notifierDlq),
        ReplyTableName: ref(ids.replyTable),
        ReceiptRuleSetName: 'invite-router-dev-rules',
      },
    );
  });
});

describe('stages', () => {
  const dataTypes = ['AWS::S3::Bucket', 'AWS::DynamoDB::Table', 'AWS::Logs::LogGroup', 'AWS::KMS::Key'];

  test('the stage names the stack and its resources', () => {
    assert.equal(dev.stack.stackName, 'InviteRouter-dev');
    assert.equal(prod.stack.stackName, 'InviteRouter-prod');
    prodT.hasResourceProperties('AWS::S3::Bucket', { BucketName: mailBucketName('prod') });
    prodT.hasResourceProperties('AWS::SES::ReceiptRuleSet', { RuleSetName: 'invite-router-prod-rules' });
  });

  test('only the prod stack has termination protection', () => {
    assert.equal(prod.stack.terminationProtection, true);
    assert.equal(dev.stack.terminationProtection, false);
  });

  test('prod keeps its data when the stack or a resource goes away', () => {
    for (const type of dataTypes) {
      for (const [id, resource] of Object.entries(prodT.findResources(type))) {
        assert.equal(resource.DeletionPolicy, 'Retain', `${id} in prod`);
        assert.equal(resource.UpdateReplacePolicy, 'Retain', `${id} in prod`);
      }
    }
    prodT.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
    // Failed mail waiting for an operator is data too.
    const dlq = prodT.findResources('AWS::SQS::Queue')[logicalIdOf(prodT, 'AWS::SQS::Queue', 'DeadLetterQueue')];
    assert.equal(dlq.DeletionPolicy, 'Retain');
  });

  for (const stage of ['dev', 'stg']) {
    test(`${stage} is disposable: no retained data, no deletion protection`, () => {
      const t =
        stage === 'dev'
          ? devT
          : synth({ stage, recipients: 'create@stg.example.org', replyFrom: 'invite-router@stg.example.org' }).template;
      for (const type of dataTypes) {
        for (const [id, resource] of Object.entries(t.findResources(type))) {
          assert.equal(resource.DeletionPolicy, 'Delete', `${id} in ${stage}`);
        }
      }
      t.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    });
  }
});

describe('the notifier', () => {
  test('its queue is subscribed to the rejected topic with raw delivery, with a DLQ', () => {
    devT.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs',
      TopicArn: ref(ids.rejectedTopic),
      Endpoint: getAtt(ids.notifierQueue),
      RawMessageDelivery: true,
    });
    devT.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: getAtt(ids.notifierDlq), maxReceiveCount: 5 },
      SqsManagedSseEnabled: true,
    });
    // Only the rejected topic may send to it.
    devT.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [ref(ids.notifierQueue)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'sqs:SendMessage',
            Principal: { Service: 'sns.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': ref(ids.rejectedTopic) } },
          }),
        ]),
      },
    });
  });

  test('the function runs the notifier bootstrap on arm64, with partial batch responses', () => {
    devT.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Architectures: ['arm64'],
      Role: getAtt(ids.notifierRole),
      Environment: {
        Variables: {
          REPLY_TABLE: ref(ids.replyTable),
          REPLY_FROM: 'invite-router@example.com',
          REPLY_RATE_LIMIT: '10',
          REPLY_CLAIM_SECONDS: '150',
          BATCH_CONCURRENCY: '10',
          METRICS_NAMESPACE: 'InviteRouter',
          STAGE: 'dev',
          SSL_CERT_FILE: '/etc/pki/tls/certs/ca-bundle.crt',
        },
      },
    });
    devT.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: ref(ids.notifierFn),
      EventSourceArn: getAtt(ids.notifierQueue),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  test("a reply claim outlives the function and has expired when SQS redelivers", () => {
    // 180 s visibility, 30 s function: the claim lives 150 s (cdk/lib/notifier.ts).
    devT.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: getAtt(ids.notifierDlq), maxReceiveCount: 5 },
      VisibilityTimeout: 180,
    });
    devT.hasResourceProperties('AWS::Lambda::Function', { Role: getAtt(ids.notifierRole), Timeout: 30 });
    assert.equal(replyClaimSeconds(180, 30), 150);
    assert.throws(() => replyClaimSeconds(60, 30), /must exceed twice the function timeout/);
  });

  test('the reply log is a table keyed by id whose items expire', () => {
    devT.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  test('the role sends only from REPLY_FROM (its address or domain identity), never *', () => {
    const policy = Object.values(devT.findResources('AWS::IAM::Policy')).find((p) =>
      JSON.stringify(p.Properties.Roles).includes(ids.notifierRole),
    );
    assert.ok(policy, 'the notifier role has a policy');
    const statements = policy!.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>;
    const send = statements.find((s) => s.Sid === 'SendRepliesFromReplyAddress')!;
    assert.deepEqual(send.Action, ['ses:SendEmail', 'ses:SendRawEmail']);
    const resources = JSON.stringify(send.Resource);
    assert.ok(resources.includes(':identity/invite-router@example.com'), resources);
    assert.ok(resources.includes(':identity/example.com'), resources);
    assert.ok(!resources.includes('"*"'), resources);
    assert.deepEqual(send.Condition, { StringEquals: { 'ses:FromAddress': 'invite-router@example.com' } });
    const log = statements.find((s) => s.Sid === 'ReadWriteReplyLog')!;
    assert.deepEqual(log.Action, ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    assert.deepEqual(log.Resource, getAtt(ids.replyTable));
    for (const statement of statements) {
      assert.notEqual(statement.Resource, '*', JSON.stringify(statement));
    }
  });

  test('a configuration set is named in the environment and scoped in the policy', () => {
    const t = synth({ replyConfigurationSet: 'replies' }).template;
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ REPLY_CONFIGURATION_SET: 'replies' }) },
    });
    const policies = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    assert.ok(policies.includes(':configuration-set/replies'), policies);
  });

  test('the intake function knows the reply address (never answered) and NOTIFY_ON_SUCCESS', () => {
    synth({ replyFrom: 'bot@replies.example.org', notifyOnSuccess: 'true' }).template.hasResourceProperties(
      'AWS::Lambda::Function',
      {
        Environment: {
          Variables: Match.objectLike({ REPLY_FROM: 'bot@replies.example.org', NOTIFY_ON_SUCCESS: 'true' }),
        },
      },
    );
  });
});
