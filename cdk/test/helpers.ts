/**
 * Builds the stack the way bin/app.ts does, from context, against a throwaway asset directory
 * holding a dummy `bootstrap`: the tests never compile the Rust Lambda.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { readConfig } from '../lib/config';
import { FEATURE_FLAGS } from '../lib/feature-flags';
import { InviteRouterStack, stackNameFor } from '../lib/invite-router-stack';

let sharedAssetDir: string | undefined;

/** A directory shaped like cargo-lambda's output, made once per test process. */
export function dummyAssetDir(): string {
  if (sharedAssetDir === undefined) {
    sharedAssetDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invite-router-asset-'));
    fs.writeFileSync(path.join(sharedAssetDir, 'bootstrap'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    process.on('exit', () => fs.rmSync(sharedAssetDir!, { recursive: true, force: true }));
  }
  return sharedAssetDir;
}

export interface Synthesized {
  app: App;
  stack: InviteRouterStack;
  template: Template;
}

/**
 * The app and stack, not yet synthesized (an App synthesizes once and caches the result, so a
 * test that changes the tree or adds a validation plugin must start from here).
 * Context is given as an operator passes it with -c (strings); the asset dir defaults to the dummy.
 */
export function build(context: Record<string, unknown> = {}): Omit<Synthesized, 'template'> {
  const app = new App({ postCliContext: FEATURE_FLAGS });
  const merged: Record<string, unknown> = {
    lambdaAssetDir: dummyAssetDir(),
    notifierAssetDir: dummyAssetDir(),
    ...context,
  };
  const config = readConfig((key) => merged[key], process.cwd());
  const stack = new InviteRouterStack(app, stackNameFor(config.stage), { config });
  return { app, stack };
}

/** build(), then the synthesized template. */
export function synth(context: Record<string, unknown> = {}): Synthesized {
  const built = build(context);
  return { ...built, template: Template.fromStack(built.stack) };
}

/** The logical ID of the one resource of a type, failing when there is not exactly one. */
export function onlyLogicalId(template: Template, type: string): string {
  const ids = Object.keys(template.findResources(type));
  if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.length}: ${ids.join(', ')}`);
  return ids[0];
}

/** The logical ID of the resource of a type whose ID starts with a construct id. */
export function logicalIdOf(template: Template, type: string, constructId: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(constructId));
  if (ids.length !== 1) throw new Error(`expected one ${type} named ${constructId}*, found ${ids.join(', ')}`);
  return ids[0];
}

export const getAtt = (logicalId: string, attribute = 'Arn') => ({ 'Fn::GetAtt': [logicalId, attribute] });
export const ref = (logicalId: string) => ({ Ref: logicalId });
