/**
 * CDK feature flags this app depends on. They are set in code (as postCliContext, which context
 * from cdk.json or -c cannot override) so the tests and `cdk synth` build the same template.
 */
export const FEATURE_FLAGS: Record<string, unknown> = {
  // Grant S3 log delivery through the log bucket's policy (scoped to the source bucket with
  // aws:SourceArn) instead of the legacy LogDeliveryWrite ACL, which needs ACLs enabled.
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
};
