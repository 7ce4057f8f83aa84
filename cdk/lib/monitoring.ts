/**
 * What an operator looks at: one CloudWatch dashboard over both functions' EMF metrics and their
 * queues, the spoofing alarm, and saved Logs Insights queries for "what happened to this email"
 * and "refusals by reason". docs/OPERATIONS.md says how to read them.
 *
 * The metric names, dimensions and values are the Rust side's (src/aws/metrics.rs): routes,
 * reason codes and no-reply codes are listed here once, and tests/reason_table.rs checks these
 * lists against the Rust enums so a new reason cannot miss the dashboard.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from './config';

export const ROUTES = ['create', 'update', 'cancel', 'duplicate', 'stale', 'ignored', 'invalid'] as const;
export const REASONS = [
  'no_calendar',
  'malformed_calendar',
  'missing_method',
  'unsupported_method',
  'missing_uid',
  'multiple_uids',
  'unsupported_range',
  'sender_not_organizer',
  'too_large',
  'spam',
  'virus',
  'sender_unauthenticated',
  'unknown_event',
] as const;
export const NO_REPLY_WHYS = [
  'reason_not_told',
  'no_sender',
  'unauthenticated',
  'auto_replied',
  'auto_generated',
  'bounce',
  'list_mail',
  'no_reply_address',
  'own_address',
] as const;
export const REPLY_OUTCOMES = ['sent', 'already_sent', 'rate_limited', 'undeliverable'] as const;

export interface MonitoringProps {
  readonly stage: string;
  readonly intakeFunction: lambda.IFunction;
  readonly notifierFunction: lambda.IFunction;
  readonly intakeQueue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly notifierDeadLetterQueue: sqs.IQueue;
  readonly intakeLogGroup: logs.ILogGroup;
  readonly notifierLogGroup: logs.ILogGroup;
  /** sender_unauthenticated refusals in 5 minutes above which someone is spoofing the drop box. */
  readonly spoofingAlarmThreshold: number;
}

export class Monitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly spoofingAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    const emf = (metricName: string, dimensions: Record<string, string>, label: string, statistic = 'Sum') =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { Stage: props.stage, ...dimensions },
        statistic,
        period,
        label,
      });

    this.spoofingAlarm = new cloudwatch.Alarm(this, 'SpoofingSurge', {
      alarmDescription:
        `More than ${props.spoofingAlarmThreshold} emails in 5 minutes failed SES authentication (sender_unauthenticated): ` +
        'someone is sending to the drop box in other people\'s names. They are refused and never answered; ' +
        'see docs/OPERATIONS.md, "A spoofing alarm".',
      // No label: a labelled metric makes the alarm a metric-math alarm, harder to read in the console.
      metric: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: 'Refusals',
        dimensionsMap: { Stage: props.stage, Reason: 'sender_unauthenticated' },
        statistic: 'Sum',
        period,
      }),
      threshold: props.spoofingAlarmThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const queueDepth = (queue: sqs.IQueue, name: string) => [
      queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum', label: `${name} messages` }),
    ];
    const queueAge = (queue: sqs.IQueue, name: string) => [
      queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum', label: `${name} oldest (s)` }),
    ];
    const functionHealth = (fn: lambda.IFunction, name: string) => [
      fn.metricErrors({ period, statistic: 'Sum', label: `${name} errors` }),
      fn.metricThrottles({ period, statistic: 'Sum', label: `${name} throttles` }),
    ];

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `invite-router-${props.stage}`,
      defaultInterval: Duration.hours(24),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Invites by route',
        left: ROUTES.map((route) => emf('Invites', { Route: route }, route)),
        stacked: true,
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Refusals by reason',
        left: REASONS.map((reason) => emf('Refusals', { Reason: reason }, reason)),
        stacked: true,
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Replies: requested, sent, not sent',
        left: [
          emf('RepliesRequested', {}, 'requested by the router'),
          ...REPLY_OUTCOMES.map((why) => emf('Replies', { Why: why }, `notifier: ${why}`)),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Refusals not answered, by why',
        left: NO_REPLY_WHYS.map((why) => emf('RepliesSuppressed', { Why: why }, why)),
        stacked: true,
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Processing time per SQS record (ms)',
        left: [
          emf('ProcessingTime', {}, 'p50', 'p50'),
          emf('ProcessingTime', {}, 'p99', 'p99'),
          emf('ProcessingTime', {}, 'max', 'Maximum'),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queues: depth and age',
        left: [
          ...queueDepth(props.deadLetterQueue, 'intake DLQ'),
          ...queueDepth(props.notifierDeadLetterQueue, 'notifier DLQ'),
        ],
        right: [...queueAge(props.deadLetterQueue, 'intake DLQ'), ...queueAge(props.notifierDeadLetterQueue, 'notifier DLQ')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Functions: errors and throttles',
        left: [...functionHealth(props.intakeFunction, 'intake'), ...functionHealth(props.notifierFunction, 'notifier')],
        right: [
          emf('RecordFailures', { Kind: 'transient' }, 'records left for retry'),
          emf('RecordFailures', { Kind: 'permanent' }, 'records dropped'),
        ],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Intake queue: backlog',
        left: queueDepth(props.intakeQueue, 'intake'),
        right: queueAge(props.intakeQueue, 'intake'),
        width: 12,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Spoofing', alarms: [this.spoofingAlarm], width: 12 }),
    );

    // Saved Logs Insights queries. Values to replace are written REPLACE_...; the record span is
    // under `span`, lambda_runtime's (requestId, xrayTraceId) is `spans.0`.
    const emailFields = [
      '@timestamp',
      'level',
      'fields.message',
      'span.route',
      'fields.reason',
      'fields.no_reply_because',
      'fields.published',
      'fields.error',
      'span.uid',
      'span.s3_key',
      'fields.email_message_id',
      'spans.0.requestId',
    ];
    new logs.QueryDefinition(this, 'EmailByKeyQuery', {
      queryDefinitionName: `invite-router-${props.stage}/what happened to this email (by S3 key)`,
      queryString: new logs.QueryString({
        fields: emailFields,
        filterStatements: ['span.s3_key = "REPLACE_WITH_S3_KEY"'],
        sort: '@timestamp asc',
      }),
      logGroups: [props.intakeLogGroup],
    });
    new logs.QueryDefinition(this, 'EmailByMessageIdQuery', {
      queryDefinitionName: `invite-router-${props.stage}/what happened to this email (by Message-ID)`,
      queryString: new logs.QueryString({
        fields: emailFields,
        filterStatements: ['fields.email_message_id = "<REPLACE_WITH_MESSAGE_ID>"'],
        sort: '@timestamp asc',
      }),
      logGroups: [props.intakeLogGroup],
    });
    new logs.QueryDefinition(this, 'RefusalsByReasonQuery', {
      queryDefinitionName: `invite-router-${props.stage}/refusals by reason`,
      queryString: new logs.QueryString({
        filterStatements: ['fields.message = "processed"', 'span.route = "invalid"'],
        statsStatements: ['count(*) as refusals by fields.reason, fields.no_reply_because'],
        sort: 'refusals desc',
      }),
      logGroups: [props.intakeLogGroup],
    });
    new logs.QueryDefinition(this, 'RequestQuery', {
      queryDefinitionName: `invite-router-${props.stage}/one invocation (by request id)`,
      queryString: new logs.QueryString({
        fields: emailFields,
        filterStatements: ['spans.0.requestId = "REPLACE_WITH_REQUEST_ID"'],
        sort: '@timestamp asc',
      }),
      logGroups: [props.intakeLogGroup, props.notifierLogGroup],
    });
  }
}
