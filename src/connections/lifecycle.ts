/** will and birth: the messages that tell others whether mqflow's connection is up. */
import type { DefinitionOption } from '../component/option.js';
import { objectSchema, type FieldSpec } from '../component/spec.js';
import type { QoS } from '../mqtt/message.js';
import { topicNameProblem } from '../mqtt/topic-filter.js';
import { formatPath } from '../util/path.js';

export interface MessageTemplate {
  readonly topic: string;
  readonly payload: string;
  readonly qos: QoS;
  readonly retain: boolean;
}

export const MESSAGE_FIELDS: Readonly<Record<string, FieldSpec>> = {
  topic: { schema: { type: 'string', minLength: 1, description: 'The topic (no wildcards).', examples: ['plant/mqflow/status'] }, type: 'string', default: 'required', doc: 'The topic; no wildcards.' },
  payload: { schema: { type: 'string', description: 'The payload, as text. Default: empty.', examples: ['offline'] }, type: 'string', default: 'empty', doc: 'The payload, as text.' },
  qos: { schema: { enum: [0, 1, 2], description: 'Quality of service. Default: 1.' }, type: '`0`, `1`, `2`', default: '`1`', doc: 'Quality of service.' },
  retain: { schema: { type: 'boolean', description: 'Retain the message. Default: true (status messages are usually retained).' }, type: 'boolean', default: '`true`', doc: 'Retain the message (status messages usually are).' },
};

const message = (what: string): FieldSpec['schema'] => objectSchema(what, MESSAGE_FIELDS, ['topic']);

export const lifecycle: DefinitionOption<{ will?: MessageTemplate; birth?: MessageTemplate }> = {
  name: 'will and birth',
  fields: {
    will: {
      schema: message('Last will: published by the broker if this connection is lost without a clean disconnect.'),
      type: 'message',
      default: 'none',
      doc: 'Last will: published by the broker when the connection\'s publishing client is lost without a clean disconnect.',
    },
    birth: { schema: message('Birth message: published by mqflow each time the connection is established.'), type: 'message', default: 'none', doc: 'Birth message: published by mqflow each time the connection is established.' },
  },
  example: `connections:
  with-birth:
    url: mqtt://127.0.0.1:1883
    will:
      topic: plant/mqflow/status
      payload: offline
    birth:
      topic: plant/mqflow/status
      payload: online
`,
  compile(value, path, c) {
    let ok = true;
    const compileMessage = (key: 'will' | 'birth'): MessageTemplate | undefined => {
      const m = value[key] as { topic: string; payload?: string; qos?: QoS; retain?: boolean } | undefined;
      const topicAt = [...path, key, 'topic'];
      if (m === undefined || c.broken([...path, key])) return undefined;
      const problem = c.brokenBelow(topicAt) ? undefined : topicNameProblem(m.topic);
      if (problem !== undefined) {
        c.problem(topicAt, 'MQFLOW_PUBLISH_TOPIC', `${formatPath(topicAt)}: ${problem} (got ${c.quote(topicAt, m.topic)})`);
        ok = false;
      }
      return { topic: m.topic, payload: m.payload ?? '', qos: m.qos ?? 1, retain: m.retain ?? true };
    };
    const will = compileMessage('will');
    const birth = compileMessage('birth');
    if (!ok) return undefined;
    return { ...(will === undefined ? {} : { will }), ...(birth === undefined ? {} : { birth }) };
  },
};
