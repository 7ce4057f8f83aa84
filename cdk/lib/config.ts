/**
 * Everything an operator can set with `cdk ... -c key=value` (or in cdk.json), read once, typed,
 * with every missing or malformed value reported at once by name, as the Rust side does for its
 * environment (docs/DESIGN.md, "Outputs, errors, configuration").
 */
import * as path from 'node:path';
import * as logs from 'aws-cdk-lib/aws-logs';

export const STAGES = ['dev', 'stg', 'prod'] as const;
export type Stage = (typeof STAGES)[number];

export const DELEGATIONS = ['same-domain', 'listed', 'off'] as const;
export type Delegation = (typeof DELEGATIONS)[number];

/** The CloudWatch namespace both functions file their EMF metrics under (dimension Stage). */
export const METRICS_NAMESPACE = 'InviteRouter';

/** Lambda's application log levels (ApplicationLogLevel). */
export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface InviteRouterConfig {
  /** dev, stg or prod: names the stack and decides whether data survives `cdk destroy`. */
  readonly stage: Stage;
  /** Absolute path of the directory holding the Lambda's `bootstrap` (cargo-lambda's output). */
  readonly lambdaAssetDir: string;
  /** The same for the notifier Lambda (`invite-router-notifier`). */
  readonly notifierAssetDir: string;
  /** The verified SES identity replies are sent from (REPLY_FROM). */
  readonly replyFrom: string;
  /** Replies per recipient per 24 hours (REPLY_RATE_LIMIT). */
  readonly replyRateLimit: number;
  /** An existing SES configuration set replies are sent in (REPLY_CONFIGURATION_SET). */
  readonly replyConfigurationSet?: string;
  /** Also confirm accepted invitations to their organizer (NOTIFY_ON_SUCCESS). */
  readonly notifyOnSuccess: boolean;
  /** The drop-box addresses (or whole domains) SES accepts mail for. */
  readonly recipients: string[];
  /** Where SES writes raw mail in the bucket, and the only prefix the function may read. */
  readonly mailPrefix: string;
  /** Days raw mail (and its noncurrent versions) is kept before S3 deletes it. */
  readonly mailExpirationDays: number;
  /**
   * Name of an existing receipt rule set to add the rule to. SES has one active rule set per
   * region; when the account already has one, the rule must join it rather than a new set.
   */
  readonly existingReceiptRuleSetName?: string;
  /** Receives before a message moves to the dead-letter queue. */
  readonly maxReceiveCount: number;
  readonly functionTimeoutSeconds: number;
  readonly functionMemoryMb: number;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /** Caps the function's concurrency (and so the ledger's write rate); unset means unreserved. */
  readonly reservedConcurrency?: number;
  /**
   * Caps how many concurrent invocations the SQS poller starts. Unlike reserved concurrency alone,
   * the poller then stops receiving instead of being throttled, and throttled receives would count
   * toward maxReceiveCount and push good mail into the DLQ.
   */
  readonly maxConcurrency?: number;
  readonly maxEmailBytes: number;
  readonly maxCalendarBytes: number;
  /** MAX_COMPONENTS: calendars with more components are refused as too_large. */
  readonly maxComponents: number;
  /** MAX_ATTENDEES: events with more attendees are refused as too_large. */
  readonly maxAttendees: number;
  /** BATCH_CONCURRENCY: records of one batch processed at once (both functions). */
  readonly batchConcurrency: number;
  /** Days both functions' log groups keep their logs. */
  readonly logRetentionDays: logs.RetentionDays;
  /** Refuse mail without SES authentication results (REQUIRE_AUTHENTICATION). */
  readonly requireAuthentication: boolean;
  /** Who may send for an organizer through SENT-BY (DELEGATION). */
  readonly delegation: Delegation;
  /** With delegation "listed": `organizer=delegate` pairs (DELEGATES). */
  readonly delegates: string[];
  /**
   * IAM principal ARNs (roles of operators) that may publish to the event topics besides the
   * function; everyone else is denied by the topic policies.
   */
  readonly extraPublisherArns: string[];
  /**
   * Lambda's application log level for both functions (AWS_LAMBDA_LOG_LEVEL, which the Rust side
   * reads when RUST_LOG is unset).
   */
  readonly logLevel: LogLevel;
  /** RUST_LOG directives, finer than logLevel (per module); unset by default. */
  readonly rustLog?: string;
  /** X-Ray active tracing for both functions. */
  readonly tracing: boolean;
  /** Alarm when the oldest intake message is older than this. */
  readonly oldestMessageAlarmSeconds: number;
  /** Alarm when more emails than this fail authentication in 5 minutes (spoofing). */
  readonly spoofingAlarmThreshold: number;
  /** Optional address subscribed to the alarm topic. */
  readonly alarmEmail?: string;
}

/** Where cargo-lambda puts the binaries, relative to a cargo target directory. */
const LAMBDA_ASSET_IN_TARGET = 'lambda/invite-router-lambda';
const NOTIFIER_ASSET_IN_TARGET = 'lambda/invite-router-notifier';

/** Only dev gets a placeholder reply address, like its placeholder recipient. */
const DEV_DEFAULT_REPLY_FROM = 'invite-router@example.com';
/** The crate's own target/, seen from cdk/, for when CARGO_TARGET_DIR is unset. */
export const DEFAULT_CARGO_TARGET_DIR = '../target';

/** Only dev gets a placeholder recipient: a stg or prod stack listening on example.com is a mistake. */
const DEV_DEFAULT_RECIPIENTS = ['create@example.com'];

/** Reads a context value; `undefined` when unset. Matches `Node.tryGetContext`. */
export type ContextReader = (key: string) => unknown;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid CDK context:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Builds the configuration from context. `baseDir` anchors a relative `lambdaAssetDir` (the cdk/
 * directory, where cdk.json lives), so the result does not depend on the caller's cwd.
 * `cargoTargetDir` (CARGO_TARGET_DIR, when set) is where cargo-lambda wrote the binary; it only
 * moves the default, an explicit `lambdaAssetDir` wins.
 */
export function readConfig(
  context: ContextReader,
  baseDir: string,
  cargoTargetDir: string = DEFAULT_CARGO_TARGET_DIR,
): InviteRouterConfig {
  const problems: string[] = [];
  const field = new FieldReader(context, problems);

  const stageRaw = field.string('stage', 'dev');
  const stage = (STAGES as readonly string[]).includes(stageRaw) ? (stageRaw as Stage) : undefined;
  if (stage === undefined) {
    problems.push(`stage: must be one of ${STAGES.join(', ')}, got "${stageRaw}"`);
  }

  const recipients = field.list('recipients', stage === 'dev' ? DEV_DEFAULT_RECIPIENTS : undefined);
  for (const recipient of recipients) {
    // SES accepts an address, a domain or a subdomain here; anything else never matches mail.
    if (!/^([^@\s,]+@)?[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(recipient)) {
      problems.push(`recipients: "${recipient}" is neither an email address nor a domain`);
    }
  }

  const mailPrefix = field.string('mailPrefix', 'incoming/');
  // The prefix is used verbatim in an IAM resource ARN and an S3 filter: a leading slash or a
  // missing trailing one would silently widen or break both.
  if (!/^[A-Za-z0-9!_.'()\-][A-Za-z0-9!_.'()\-/]*\/$/.test(mailPrefix) || mailPrefix.includes('//')) {
    problems.push(`mailPrefix: must be a relative key prefix ending in "/", like "incoming/", got "${mailPrefix}"`);
  }

  // Lambda's own maximum; six times it (the queue's visibility timeout) stays under SQS's 12 hours.
  const functionTimeoutSeconds = field.integer('functionTimeoutSeconds', 30, 1, 900);
  const batchSize = field.integer('batchSize', 10, 1, 10000);
  const maxBatchingWindowSeconds = field.integer('maxBatchingWindowSeconds', 0, 0, 300);
  // Lambda rejects an SQS mapping with more than 10 records per batch and no batching window.
  if (batchSize > 10 && maxBatchingWindowSeconds === 0) {
    problems.push('maxBatchingWindowSeconds: must be at least 1 when batchSize is over 10');
  }

  const reservedConcurrency = field.optionalInteger('reservedConcurrency', 1, 1000);
  // Lambda's bounds for an SQS mapping's maximum concurrency.
  const maxConcurrency = field.optionalInteger('maxConcurrency', 2, 1000);
  if (reservedConcurrency !== undefined && maxConcurrency !== undefined && maxConcurrency > reservedConcurrency) {
    problems.push('maxConcurrency: must not exceed reservedConcurrency, or the poller is throttled anyway');
  }

  const existingReceiptRuleSetName = field.optionalString('existingReceiptRuleSetName');
  if (existingReceiptRuleSetName !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(existingReceiptRuleSetName)) {
    problems.push(`existingReceiptRuleSetName: "${existingReceiptRuleSetName}" is not a valid rule set name`);
  }

  const delegationRaw = field.string('delegation', 'same-domain');
  const delegation = (DELEGATIONS as readonly string[]).includes(delegationRaw)
    ? (delegationRaw as Delegation)
    : undefined;
  if (delegation === undefined) {
    problems.push(`delegation: must be one of ${DELEGATIONS.join(', ')}, got "${delegationRaw}"`);
  }
  const delegates = field.list('delegates', []);
  const extraPublisherArns = field.list('extraPublisherArns', []);
  for (const arn of extraPublisherArns) {
    if (!/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/.+$/.test(arn)) {
      problems.push(`extraPublisherArns: "${arn}" is not an IAM role or user ARN`);
    }
  }
  for (const pair of delegates) {
    if (!/^[^@\s=;,]+@[^@\s=;,]+=[^@\s=;,]+@[^@\s=;,]+$/.test(pair)) {
      problems.push(`delegates: "${pair}" is not organizer@domain=delegate@domain`);
    }
  }
  if (delegates.length > 0 && delegation !== 'listed') {
    problems.push('delegates: only read with delegation "listed"; set it, or drop the pairs');
  }

  const replyFrom = (field.optionalString('replyFrom') ?? (stage === 'dev' ? DEV_DEFAULT_REPLY_FROM : '')).toLowerCase();
  if (replyFrom === '') {
    problems.push('replyFrom: required outside dev (the verified SES address replies are sent from)');
  } else if (!/^[^@\s]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(replyFrom)) {
    problems.push(`replyFrom: "${replyFrom}" is not an email address`);
  }
  const replyConfigurationSet = field.optionalString('replyConfigurationSet');
  if (replyConfigurationSet !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(replyConfigurationSet)) {
    problems.push(`replyConfigurationSet: "${replyConfigurationSet}" is not a configuration set name`);
  }

  const alarmEmail = field.optionalString('alarmEmail');
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) {
    problems.push(`alarmEmail: "${alarmEmail}" is not an email address`);
  }

  const maxEmailBytes = field.integer('maxEmailBytes', 10 * 1024 * 1024, 1, 40 * 1024 * 1024);
  const batchConcurrency = field.integer('batchConcurrency', 10, 1, 100);
  const memoryNeeded = memoryForBatch(batchConcurrency, maxEmailBytes);
  const functionMemoryMb = field.integer('functionMemoryMb', memoryNeeded, 128, 10240);
  if (functionMemoryMb < memoryNeeded) {
    problems.push(
      `functionMemoryMb: ${functionMemoryMb} MB is less than a batch may need (${memoryNeeded} MB: ` +
        `${batchConcurrency} emails of up to maxEmailBytes at once); raise it, or lower batchConcurrency or maxEmailBytes`,
    );
  }

  const config = {
    stage: stage ?? 'dev',
    lambdaAssetDir: path.resolve(
      baseDir,
      field.string('lambdaAssetDir', path.join(cargoTargetDir, LAMBDA_ASSET_IN_TARGET)),
    ),
    notifierAssetDir: path.resolve(
      baseDir,
      field.string('notifierAssetDir', path.join(cargoTargetDir, NOTIFIER_ASSET_IN_TARGET)),
    ),
    replyFrom,
    replyRateLimit: field.integer('replyRateLimit', 10, 1, 1000),
    replyConfigurationSet,
    notifyOnSuccess: field.boolean('notifyOnSuccess', false),
    recipients,
    mailPrefix,
    mailExpirationDays: field.integer('mailExpirationDays', 30, 1, 3650),
    existingReceiptRuleSetName,
    maxReceiveCount: field.integer('maxReceiveCount', 5, 1, 1000),
    functionTimeoutSeconds,
    functionMemoryMb,
    batchSize,
    maxBatchingWindowSeconds,
    reservedConcurrency,
    maxConcurrency,
    maxEmailBytes,
    maxCalendarBytes: field.integer('maxCalendarBytes', 512 * 1024, 1, 40 * 1024 * 1024),
    // The Rust side's defaults and bounds (src/core/mod.rs Limits, src/service DEFAULT_BATCH_CONCURRENCY).
    maxComponents: field.integer('maxComponents', 200, 1, 1000),
    maxAttendees: field.integer('maxAttendees', 1000, 1, 100000),
    batchConcurrency,
    logRetentionDays: retentionOf(field.integer('logRetentionDays', 14, 1, 3653), problems),
    requireAuthentication: field.boolean('requireAuthentication', true),
    delegation: delegation ?? 'same-domain',
    delegates,
    extraPublisherArns,
    logLevel: logLevelOf(field.string('logLevel', 'INFO'), problems),
    rustLog: field.optionalString('rustLog'),
    tracing: field.boolean('tracing', false),
    oldestMessageAlarmSeconds: field.integer('oldestMessageAlarmSeconds', 900, 60, 1209600),
    spoofingAlarmThreshold: field.integer('spoofingAlarmThreshold', 20, 1, 100000),
    alarmEmail,
  };
  if (config.maxCalendarBytes > config.maxEmailBytes) {
    problems.push('maxCalendarBytes: must not exceed maxEmailBytes (a calendar part lives inside the email)');
  }

  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return config;
}

/**
 * The function's memory from what benches/lambda_process.rs measured (docs/BENCHMARKS.md,
 * "Memory"): about 11 MB after init, and while an email is processed about twice its size (the
 * raw bytes and its decoded parts: a 10 MB invite peaked at 30 MB). A batch processes
 * `batchConcurrency` records at once, so the bound is init + concurrency x 2 x maxEmailBytes, in
 * 64 MB steps, at least Lambda's 128 MB. The defaults (10 x 10 MiB) give 256 MB; ten 10 MB invites
 * at once measured 76 MB against moto, which serves them one by one, while S3 may not.
 */
export function memoryForBatch(batchConcurrency: number, maxEmailBytes: number): number {
  const initMb = 11;
  const neededMb = initMb + (batchConcurrency * 2 * maxEmailBytes) / 1e6;
  return Math.max(128, Math.ceil(neededMb / 64) * 64);
}

/** The retention periods CloudWatch Logs offers. */
const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

function retentionOf(days: number, problems: string[]): logs.RetentionDays {
  if (!RETENTION_DAYS.includes(days)) {
    problems.push(`logRetentionDays: CloudWatch Logs keeps logs ${RETENTION_DAYS.join(', ')} days, got ${days}`);
    return logs.RetentionDays.TWO_WEEKS;
  }
  return days as logs.RetentionDays;
}

function logLevelOf(raw: string, problems: string[]): LogLevel {
  const level = raw.toUpperCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) {
    return level as LogLevel;
  }
  problems.push(`logLevel: must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return 'INFO';
}

/**
 * Context arrives as strings from `-c key=value` and as JSON values from cdk.json; each reader
 * accepts both and records a problem instead of throwing, so all of them are reported together.
 */
class FieldReader {
  constructor(
    private readonly context: ContextReader,
    private readonly problems: string[],
  ) {}

  optionalString(key: string): string | undefined {
    const value = this.context(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') {
      this.problems.push(`${key}: must be a string`);
      return undefined;
    }
    return value.trim();
  }

  string(key: string, fallback: string): string {
    return this.optionalString(key) ?? fallback;
  }

  list(key: string, fallback: string[] | undefined): string[] {
    const value = this.context(key);
    let items: unknown[];
    if (value === undefined || value === null || value === '') {
      if (fallback === undefined) {
        this.problems.push(`${key}: required outside dev (comma-separated addresses or domains)`);
        return [];
      }
      return fallback;
    } else if (Array.isArray(value)) {
      items = value;
    } else if (typeof value === 'string') {
      items = value.split(',');
    } else {
      this.problems.push(`${key}: must be a comma-separated string or a list`);
      return [];
    }
    const strings = items.map((item) => String(item).trim().toLowerCase()).filter((item) => item !== '');
    if (strings.length === 0) this.problems.push(`${key}: must name at least one entry`);
    return strings;
  }

  optionalInteger(key: string, min: number, max: number): number | undefined {
    const value = this.context(key);
    if (value === undefined || value === null || value === '') return undefined;
    const parsed = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : NaN;
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      this.problems.push(`${key}: must be an integer from ${min} to ${max}, got "${String(value)}"`);
      return undefined;
    }
    return parsed;
  }

  integer(key: string, fallback: number, min: number, max: number): number {
    return this.optionalInteger(key, min, max) ?? fallback;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.context(key);
    if (value === undefined || value === null || value === '') return fallback;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    this.problems.push(`${key}: must be true or false, got "${String(value)}"`);
    return fallback;
  }
}
