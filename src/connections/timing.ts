/** keepalive, connectTimeout and reconnectPeriod: how the connection notices a dead broker and comes back. */
import type { DefinitionOption } from '../component/option.js';
import { durationMs, durationSchema } from '../util/duration.js';

export interface Timing {
  readonly keepaliveSeconds: number;
  readonly connectTimeoutMs: number;
  readonly reconnectPeriodMs: number;
}

export const timing: DefinitionOption<Timing> = {
  name: 'keepalive, connectTimeout and reconnectPeriod',
  fields: {
    keepalive: { schema: { type: 'integer', minimum: 0, maximum: 65535, description: 'Keep-alive interval in seconds (0 disables it). Default: 60.' }, type: 'integer, 0–65535', default: '`60`', doc: 'Keep-alive interval in seconds; `0` disables it.' },
    connectTimeout: { schema: durationSchema('How long to wait for CONNACK. Default: 30s.', ['10s']), type: 'duration', default: '`30s`', doc: 'How long to wait for CONNACK.' },
    reconnectPeriod: {
      schema: durationSchema('Base delay before reconnecting; it grows exponentially with jitter. Default: 1s.', ['1s']),
      type: 'duration',
      default: '`1s`',
      doc: 'Base delay before reconnecting; it grows exponentially, with jitter, up to 30 s.',
    },
  },
  example: `connections:
  far-away:
    url: mqtts://broker.example.com:8883
    connectTimeout: 10s
    reconnectPeriod: 500ms
`,
  compile(value, path, c) {
    // A value the schema refused (a malformed duration) is reported already.
    if (['keepalive', 'connectTimeout', 'reconnectPeriod'].some((key) => c.brokenBelow([...path, key]))) return undefined;
    return {
      keepaliveSeconds: (value.keepalive as number | undefined) ?? 60,
      connectTimeoutMs: durationMs((value.connectTimeout as number | string | undefined) ?? 30_000),
      reconnectPeriodMs: durationMs((value.reconnectPeriod as number | string | undefined) ?? 1_000),
    };
  },
};
