/**
 * will, birth and close: the messages that tell others whether mqflow's connection is up. The broker
 * publishes the will when the connection is lost; mqflow publishes the birth on every connect and
 * the close message before a clean disconnect (invariant 60), by default the will's own message.
 */
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

/** The close message; `isWill` when it is the will's message (an MQTT 5 broker then publishes it itself). */
export interface CloseMessage extends MessageTemplate {
  readonly isWill: boolean;
}

const message = (what: string): FieldSpec['schema'] => objectSchema(what, MESSAGE_FIELDS, ['topic']);

export const lifecycle: DefinitionOption<{ will?: MessageTemplate; birth?: MessageTemplate; close?: CloseMessage }> = {
  name: 'will, birth and close',
  fields: {
    will: {
      schema: message('Last will: published by the broker if this connection is lost without a clean disconnect.'),
      type: 'message',
      default: 'none',
      doc: 'Last will: published by the broker when the connection\'s publishing client is lost without a clean disconnect.',
    },
    birth: { schema: message('Birth message: published by mqflow each time the connection is established.'), type: 'message', default: 'none', doc: 'Birth message: published by mqflow each time the connection is established.' },
    close: {
      schema: {
        description: 'Close message: published by mqflow before it disconnects cleanly (SIGTERM, SIGINT, the connection disabled or removed). true: the will\'s message; false: none. Default: the will\'s message when there is a will.',
        anyOf: [{ type: 'boolean' }, message('Close message: published by mqflow before it disconnects cleanly.')],
        examples: [true, false, { topic: 'plant/mqflow/status', payload: 'stopped' }],
      },
      type: 'boolean or message',
      default: '`true` with a `will`, else none',
      doc: 'Close message: published by mqflow before a clean disconnect (SIGTERM, SIGINT, the connection disabled or removed), so a retained status topic never keeps saying `online`. `true`: the will\'s message; `false`: none (the will then tells of crashes only).',
    },
  },
  example: `connections:
  with-close:
    url: mqtt://127.0.0.1:1883
    will:
      topic: plant/mqflow/status
      payload: offline
    birth:
      topic: plant/mqflow/status
      payload: online
    close:
      topic: plant/mqflow/status
      payload: stopped
`,
  compile(value, path, c) {
    let ok = true;
    const compileMessage = (key: 'will' | 'birth' | 'close'): MessageTemplate | undefined => {
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
    let close: CloseMessage | undefined;
    if (typeof value.close === 'object' && value.close !== null) {
      const m = compileMessage('close');
      if (m !== undefined) close = { ...m, isWill: will !== undefined && sameMessage(m, will) };
    } else if (value.close !== false && will !== undefined) {
      close = { ...will, isWill: true };
    } else if (value.close === true && !c.broken([...path, 'will'])) {
      c.warn([...path, 'close'], 'MQFLOW_CLOSE_WITHOUT_WILL', `${formatPath([...path, 'close'])} is true but the connection has no will, so nothing is published on close`, 'add a will, or give close a topic and payload of its own');
    }
    if (!ok) return undefined;
    return { ...(will === undefined ? {} : { will }), ...(birth === undefined ? {} : { birth }), ...(close === undefined ? {} : { close }) };
  },
};

function sameMessage(a: MessageTemplate, b: MessageTemplate): boolean {
  return a.topic === b.topic && a.payload === b.payload && a.qos === b.qos && a.retain === b.retain;
}
