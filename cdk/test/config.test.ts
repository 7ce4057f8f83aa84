/**
 * Context parsing: defaults, the string forms `-c key=value` produces, and every problem reported
 * at once by name.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, readConfig } from '../lib/config';

const read = (context: Record<string, unknown>) => readConfig((key) => context[key], '/repo/cdk');

function problemsOf(context: Record<string, unknown>): string[] {
  try {
    read(context);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('readConfig', () => {
  test('defaults describe a dev stack fed by cargo-lambda output next to cdk/', () => {
    assert.deepEqual(read({}), {
      stage: 'dev',
      lambdaAssetDir: path.resolve('/repo/target/lambda/invite-router-lambda'),
      notifierAssetDir: path.resolve('/repo/target/lambda/invite-router-notifier'),
      replyFrom: 'invite-router@example.com',
      replyRateLimit: 10,
      replyConfigurationSet: undefined,
      notifyOnSuccess: false,
      recipients: ['create@example.com'],
      mailPrefix: 'incoming/',
      mailExpirationDays: 30,
      existingReceiptRuleSetName: undefined,
      maxReceiveCount: 5,
      functionTimeoutSeconds: 30,
      functionMemoryMb: 256,
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      reservedConcurrency: undefined,
      maxConcurrency: undefined,
      maxEmailBytes: 10 * 1024 * 1024,
      maxCalendarBytes: 512 * 1024,
      maxComponents: 200,
      maxAttendees: 1000,
      batchConcurrency: 10,
      logRetentionDays: 14,
      requireAuthentication: true,
      delegation: 'same-domain',
      delegates: [],
      extraPublisherArns: [],
      logLevel: 'INFO',
      rustLog: undefined,
      tracing: false,
      oldestMessageAlarmSeconds: 900,
      spoofingAlarmThreshold: 20,
      alarmEmail: undefined,
    });
  });

  test('CARGO_TARGET_DIR moves the default asset directory; an explicit lambdaAssetDir still wins', () => {
    const fromEnv = readConfig(() => undefined, '/repo/cdk', '/cache/target');
    assert.equal(fromEnv.lambdaAssetDir, '/cache/target/lambda/invite-router-lambda');
    const explicit = readConfig((key) => (key === 'lambdaAssetDir' ? 'build/lambda' : undefined), '/repo/cdk', '/cache/target');
    assert.equal(explicit.lambdaAssetDir, '/repo/cdk/build/lambda');
  });

  test('string values from -c are parsed; lists are comma-separated and lower-cased', () => {
    const config = read({
      stage: 'prod',
      recipients: ' Create@Invites.Example.org, invites.example.net ',
      replyFrom: 'Invite-Router@Replies.Example.org',
      lambdaAssetDir: '/abs/lambda',
      batchSize: '25',
      maxBatchingWindowSeconds: '2',
      reservedConcurrency: '3',
      requireAuthentication: 'false',
    });
    assert.equal(config.stage, 'prod');
    assert.deepEqual(config.recipients, ['create@invites.example.org', 'invites.example.net']);
    assert.equal(config.lambdaAssetDir, '/abs/lambda');
    assert.equal(config.batchSize, 25);
    assert.equal(config.maxBatchingWindowSeconds, 2);
    assert.equal(config.reservedConcurrency, 3);
    assert.equal(config.requireAuthentication, false);
    assert.equal(config.replyFrom, 'invite-router@replies.example.org');
  });

  test('JSON values from cdk.json are accepted as they are', () => {
    const config = read({ recipients: ['a@example.org'], maxReceiveCount: 8, requireAuthentication: false });
    assert.deepEqual(config.recipients, ['a@example.org']);
    assert.equal(config.maxReceiveCount, 8);
    assert.equal(config.requireAuthentication, false);
  });

  test('stg and prod must name their recipients and reply address: no example.com placeholder outside dev', () => {
    assert.deepEqual(problemsOf({ stage: 'prod' }), [
      'recipients: required outside dev (comma-separated addresses or domains)',
      'replyFrom: required outside dev (the verified SES address replies are sent from)',
    ]);
    assert.equal(problemsOf({ stage: 'stg' }).length, 2);
    assert.deepEqual(problemsOf({ replyFrom: 'not an address', replyConfigurationSet: 'bad name!' }), [
      'replyFrom: "not an address" is not an email address',
      'replyConfigurationSet: "bad name!" is not a configuration set name',
    ]);
  });

  test('every bad value is reported at once, by name', () => {
    const problems = problemsOf({
      stage: 'qa',
      recipients: 'not an address',
      mailPrefix: '/incoming',
      maxReceiveCount: '0',
      batchSize: 'ten',
      requireAuthentication: 'yes',
      alarmEmail: 'oncall',
      replyFrom: 'nobody',
    });
    const names = problems.map((problem) => problem.split(':')[0]).sort();
    assert.deepEqual(names, [
      'alarmEmail',
      'batchSize',
      'mailPrefix',
      'maxReceiveCount',
      'recipients',
      'replyFrom',
      'requireAuthentication',
      'stage',
    ]);
  });

  test('a prefix must be relative and end in a slash, or the IAM grant and S3 filter would drift', () => {
    for (const bad of ['incoming', '/incoming/', 'in//coming/', 'in coming/']) {
      assert.match(problemsOf({ mailPrefix: bad }).join('\n'), /^mailPrefix:/, bad);
    }
    assert.equal(read({ mailPrefix: 'mail/raw/' }).mailPrefix, 'mail/raw/');
  });

  test('over 10 records per batch needs a batching window, as Lambda requires', () => {
    assert.deepEqual(problemsOf({ batchSize: '11' }), [
      'maxBatchingWindowSeconds: must be at least 1 when batchSize is over 10',
    ]);
  });

  test('the poller may not start more invocations than are reserved', () => {
    assert.deepEqual(problemsOf({ reservedConcurrency: '2', maxConcurrency: '5' }), [
      'maxConcurrency: must not exceed reservedConcurrency, or the poller is throttled anyway',
    ]);
    assert.match(problemsOf({ maxConcurrency: '1' })[0], /^maxConcurrency: must be an integer from 2/);
    assert.equal(read({ reservedConcurrency: '5', maxConcurrency: '5' }).maxConcurrency, 5);
  });

  test('the memory defaults to what a batch of the largest emails needs, and no less is accepted', () => {
    // 11 MB + 10 x 2 x 10 MiB = 221 MB -> 256 MB; 11 + 10 x 2 x 1 MiB = 32 MB -> Lambda's 128 MB floor.
    assert.equal(read({}).functionMemoryMb, 256);
    assert.equal(read({ maxEmailBytes: String(1024 * 1024) }).functionMemoryMb, 128);
    assert.equal(read({ maxEmailBytes: String(40 * 1024 * 1024) }).functionMemoryMb, 896);
    assert.equal(read({ batchConcurrency: '2' }).functionMemoryMb, 128);
    assert.equal(read({ functionMemoryMb: '1024' }).functionMemoryMb, 1024);
    assert.match(
      problemsOf({ functionMemoryMb: '128' })[0],
      /^functionMemoryMb: 128 MB is less than a batch may need \(256 MB: 10 emails/,
    );
  });

  test('a calendar limit above the email limit is refused', () => {
    assert.match(problemsOf({ maxEmailBytes: '1000', maxCalendarBytes: '2000' })[0], /^maxCalendarBytes:/);
  });

  test("a function timeout beyond Lambda's 15 minutes is refused", () => {
    assert.match(problemsOf({ functionTimeoutSeconds: '901' }).join('\n'), /^functionTimeoutSeconds: must be an integer from 1 to 900/);
    assert.equal(read({ functionTimeoutSeconds: '900' }).functionTimeoutSeconds, 900);
  });
});
