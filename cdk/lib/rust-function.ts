/**
 * One of the crate's Lambda functions as both stacks deploy it: a `bootstrap` built by
 * cargo-lambda for arm64 on `provided.al2023`, its own log group (JSON logs, two weeks), and its
 * own role with no managed policy (AWSLambdaBasicExecutionRole may write to any log group in the
 * account) whose first statement lets it write to that log group only.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface RustFunctionProps {
  /** Construct ids, passed in so that each stack keeps its resources' logical ids. */
  readonly ids: { readonly logGroup: string; readonly role: string; readonly function: string };
  readonly description: string;
  readonly roleDescription: string;
  readonly assetDir: string;
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly reservedConcurrentExecutions?: number;
  readonly environment: Record<string, string>;
  readonly removalPolicy: RemovalPolicy;
  readonly logRetention: logs.RetentionDays;
  /** Lambda's application log level; the Rust side reads it as AWS_LAMBDA_LOG_LEVEL. */
  readonly logLevel: lambda.ApplicationLogLevel;
  /** X-Ray active tracing (CDK then grants xray:PutTraceSegments and PutTelemetryRecords). */
  readonly tracing: boolean;
}

/**
 * provided.al2023's CA bundle. Named, rustls-native-certs reads this one file at start; unnamed,
 * it probes OpenSSL's file and directory lists and reads every certificate file of the first
 * directory too (docs/BENCHMARKS.md, "Cold start").
 */
export const AL2023_CA_BUNDLE = '/etc/pki/tls/certs/ca-bundle.crt';

export interface RustFunction {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
}

export function rustFunction(scope: Construct, props: RustFunctionProps): RustFunction {
  const logGroup = new logs.LogGroup(scope, props.ids.logGroup, {
    retention: props.logRetention,
    removalPolicy: props.removalPolicy,
  });
  const role = new iam.Role(scope, props.ids.role, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: props.roleDescription,
  });
  const fn = new lambda.Function(scope, props.ids.function, {
    description: props.description,
    runtime: lambda.Runtime.PROVIDED_AL2023,
    architecture: lambda.Architecture.ARM_64,
    handler: 'bootstrap',
    code: lambda.Code.fromAsset(props.assetDir),
    role,
    timeout: props.timeout,
    memorySize: props.memorySize,
    reservedConcurrentExecutions: props.reservedConcurrentExecutions,
    logGroup,
    loggingFormat: lambda.LoggingFormat.JSON,
    applicationLogLevelV2: props.logLevel,
    // START/END/REPORT lines (duration, memory) stay: the dashboard and runbook read them.
    systemLogLevelV2: lambda.SystemLogLevel.INFO,
    tracing: props.tracing ? lambda.Tracing.ACTIVE : undefined,
    environment: { SSL_CERT_FILE: AL2023_CA_BUNDLE, ...props.environment },
  });
  if (props.tracing) {
    // X-Ray's write actions take no resource narrower than "*" (the service has no resource ARNs).
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'xray:PutTraceSegments and xray:PutTelemetryRecords accept only Resource "*"; they are ' +
        'granted only with -c tracing=true.',
    });
  }
  // logGroupArn is ".../log-group:NAME:*", which covers the streams Lambda creates in it.
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'WriteOwnLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  );
  return { function: fn, role, logGroup };
}
