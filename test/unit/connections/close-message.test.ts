/**
 * The close message a connection compiles to (docs/flow-language.md, "close"): by default the
 * will's, published by the broker on MQTT 5 (isWill); a message of its own; none.
 */
import { describe, expect, it } from 'vitest';
import { buildMemory } from '../flow/helpers.js';

const connection = (lines: string): string => `connections:
  plant:
    url: mqtt://127.0.0.1:1883
${lines}`;
const WILL = '    will:\n      topic: plant/status\n      payload: offline\n';

function closeOf(lines: string): { close: unknown; text: string[] } {
  const { model, text } = buildMemory({ files: { 'flow.yaml': connection(lines) } });
  return { close: model?.connections.get('plant')?.close, text };
}

describe('close', () => {
  it('is the will\'s message by default, and with close: true', () => {
    const will = { topic: 'plant/status', payload: 'offline', qos: 1, retain: true, isWill: true };
    expect(closeOf(WILL).close).toEqual(will);
    expect(closeOf(`${WILL}    close: true\n`).close).toEqual(will);
  });

  it('is none with close: false, and none without a will', () => {
    expect(closeOf(`${WILL}    close: false\n`).close).toBeUndefined();
    expect(closeOf('    birth:\n      topic: plant/status\n      payload: online\n').close).toBeUndefined();
  });

  it('is a message of its own when given one; the will\'s (isWill) when it says the same', () => {
    expect(closeOf(`${WILL}    close:\n      topic: plant/status\n      payload: stopped\n      qos: 0\n`).close).toEqual({ topic: 'plant/status', payload: 'stopped', qos: 0, retain: true, isWill: false });
    expect(closeOf(`${WILL}    close:\n      topic: plant/status\n      payload: offline\n`).close).toMatchObject({ isWill: true });
    expect(closeOf('    close:\n      topic: plant/status\n      payload: stopped\n').close).toMatchObject({ payload: 'stopped', isWill: false });
  });

  it('true without a will is a warning, and publishes nothing', () => {
    const { close, text } = closeOf('    close: true\n');
    expect(close).toBeUndefined();
    expect(text).toEqual([expect.stringMatching(/warning: connections\.plant\.close is true but the connection has no will/)]);
  });

  it('a topic with a wildcard is an error, as for will and birth', () => {
    const { text } = closeOf(`${WILL}    close:\n      topic: plant/+/status\n`);
    expect(text.some((line) => line.includes('error: connections.plant.close.topic'))).toBe(true);
  });
});
