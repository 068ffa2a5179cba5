/** The fields every connection and trigger has besides its options: enabled and description. */
import type { FieldSpec } from './spec.js';

export function commonFields(kind: 'connection' | 'trigger'): Readonly<Record<string, FieldSpec>> {
  const enabled =
    kind === 'connection'
      ? { schema: 'A disabled connection is not opened; triggers on it do not run. Default: true.', doc: 'A disabled connection is not opened; triggers on it do not run, and publishes through it fail.' }
      : { schema: 'A disabled trigger does not subscribe. Default: true.', doc: 'A disabled trigger does not subscribe.' };
  return {
    enabled: { schema: { type: 'boolean', description: enabled.schema }, type: 'boolean', default: '`true`', doc: enabled.doc },
    description: {
      schema: { type: 'string', description: kind === 'connection' ? 'What this connection is for.' : 'What this trigger does.' },
      type: 'string',
      default: 'none',
      doc: kind === 'connection' ? 'What the connection is for.' : 'What the trigger does.',
    },
  };
}
