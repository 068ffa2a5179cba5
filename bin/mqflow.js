#!/usr/bin/env node
// The CLI is compiled to dist/ by `npm run build` (run automatically by `npm ci` / `npm install`).
// Before anything loads mqtt: mqtt-packet's disabled debug calls cost CPU on every packet.
import '../dist/mqtt/quiet-debug.js';
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
