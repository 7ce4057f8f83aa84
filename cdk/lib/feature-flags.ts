/**
 * CDK feature flags this app is built with: every flag, at its recommended value, written in
 * cdk.json's context (by `cdk flags --set --unconfigured --recommended`), so `cdk synth` warns
 * about none. They are read from that file and also passed in code (as postCliContext, which
 * context from -c cannot override), so the tests and `cdk synth` build the same template.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

function flagsOfCdkJson(): Record<string, unknown> {
  const file = path.join(__dirname, '..', '..', 'cdk.json');
  const context = (JSON.parse(fs.readFileSync(file, 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
  return Object.fromEntries(Object.entries(context).filter(([key]) => key.startsWith('@aws-cdk')));
}

export const FEATURE_FLAGS: Record<string, unknown> = {
  ...flagsOfCdkJson(),
  // Grant S3 log delivery through the log bucket's policy (scoped to the source bucket with
  // aws:SourceArn) instead of the legacy LogDeliveryWrite ACL, which needs ACLs enabled.
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
};
