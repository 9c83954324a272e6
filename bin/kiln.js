#!/usr/bin/env node
// The published entry runs the TypeScript sources through tsx, so `npx kiln`
// works straight after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src-main/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
