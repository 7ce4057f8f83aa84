#!/usr/bin/env node
/**
 * The CDK app: one invite-router stack for the stage named in context. `cdk synth` and
 * `cdk deploy` run this (see cdk.json); cdk/README.md lists every context value.
 */
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, InviteRouterConfig, readConfig } from '../lib/config';
import { FEATURE_FLAGS } from '../lib/feature-flags';
import { InviteRouterStack, stackNameFor } from '../lib/invite-router-stack';

// Compiled to dist/bin/app.js: two levels up is cdk/, which relative context paths are anchored to.
const cdkDir = path.resolve(__dirname, '..', '..');

const app = new App({ postCliContext: FEATURE_FLAGS });
let config: InviteRouterConfig;
try {
  // The repo's Makefile exports CARGO_TARGET_DIR (a shared cache): the binary is there, not in ../target.
  config = readConfig((key) => app.node.tryGetContext(key), cdkDir, process.env.CARGO_TARGET_DIR || undefined);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  // An operator's typo, not a bug: the list of problems is the whole message, no stack trace.
  console.error(error.message);
  process.exit(1);
}
new InviteRouterStack(app, stackNameFor(config.stage), {
  config,
  description: `invite-router (${config.stage}): calendar-invite emails to create/update/cancel SNS messages`,
});
// The same AWS Solutions checks the tests run: a new finding fails `cdk synth`, not just CI.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
