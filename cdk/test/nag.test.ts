/**
 * cdk-nag's AWS Solutions checks over the stack: no finding may stand unacknowledged, and every
 * acknowledgement is one we decided on, with its reason written down.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { build } from './helpers';

function findings(scope: IConstruct): string[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => `${violation.ruleName} (${violation.severity}) at ${resource.constructPath}`),
  );
}

/** Every acknowledgement recorded in the tree: rule id -> [construct path, reason]. */
function acknowledgements(scope: IConstruct): Array<{ path: string; id: string; reason: string }> {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

/** Runs fn with the validation report CDK prints on failure kept out of the test output. */
function quietly<T>(fn: () => T): T {
  const write = process.stderr.write;
  const error = console.error;
  process.stderr.write = () => true;
  console.error = () => undefined;
  try {
    return fn();
  } finally {
    process.stderr.write = write;
    console.error = error;
  }
}

describe('cdk-nag AwsSolutionsChecks', () => {
  for (const context of [
    {},
    { stage: 'stg', recipients: 'create@stg.example.org', replyFrom: 'invite-router@stg.example.org', reservedConcurrency: '2' },
    {
      stage: 'prod',
      recipients: 'create@example.org',
      replyFrom: 'invite-router@example.org',
      replyConfigurationSet: 'replies',
      mailPrefix: 'raw/',
      alarmEmail: 'oncall@example.org',
      tracing: 'true',
      logLevel: 'WARN',
    },
  ]) {
    test(`no unacknowledged finding, errors or warnings (${JSON.stringify(context)})`, () => {
      const { stack } = build(context);
      assert.deepEqual(findings(stack), []);
    });
  }

  test('the acknowledgements are exactly the two we chose, each with a specific reason', () => {
    const { stack } = build();
    const acks = acknowledgements(stack);
    assert.deepEqual(
      acks.map(({ path, id }) => `${path}: ${id}`).sort(),
      [
        'InviteRouter-dev/AccessLogBucket: AwsSolutions-S1',
        `InviteRouter-dev/FunctionRole: AwsSolutions-IAM5[Resource::<${stack.resolve((stack.mailBucket.node.defaultChild as CfnBucket).logicalId)}.Arn>/incoming/*]`,
      ].sort(),
    );
    for (const { id, reason } of acks) assert.ok(reason.length >= 60, `${id} needs a real reason, got "${reason}"`);
  });

  test('registered as a validation plugin, as bin/app.ts does, synthesis succeeds', () => {
    const { app } = build();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    assert.doesNotThrow(() => app.synth());
  });

  test('the checks are live: a wildcard grant added to the function role is reported', () => {
    const { app, stack } = build();
    // bucket.grantRead is what this stack avoids: s3:GetObject* and s3:List* on every object.
    stack.mailBucket.grantRead(stack.intakeFunction);
    const reported = findings(stack);
    assert.ok(
      reported.some((finding) => /^AwsSolutions-IAM5\[Action::s3:GetObject\*\] \(error\) at InviteRouter-dev\/FunctionRole/.test(finding)),
      reported.join('\n'),
    );
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    assert.throws(() => quietly(() => app.synth()), /Validation failed/);
  });

  test("the log bucket's S1 acknowledgement does not cover the mail bucket", () => {
    const { stack } = build();
    (stack.mailBucket.node.defaultChild as CfnBucket).loggingConfiguration = undefined;
    assert.ok(findings(stack).some((finding) => finding.startsWith('AwsSolutions-S1 (error) at InviteRouter-dev/MailBucket')));
  });

  test('a wildcard action and resource added to the role are reported', () => {
    const { stack } = build();
    stack.intakeFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['sqs:*'], resources: ['*'] }));
    const reported = findings(stack).join('\n');
    assert.match(reported, /AwsSolutions-IAM5\[Action::sqs:\*\]/);
    assert.match(reported, /AwsSolutions-IAM5\[Resource::\*\]/);
  });
});
