/**
 * A publish step's `codec:` (docs/codecs.md): the value → the bytes sent. A value the codec cannot
 * encode fails the message with the codec's code; nothing is sent.
 */
import type { CodecName, CodecSetting } from '../component/codec.js';
import { writePayload } from '../codecs/sparkplug/payload.js';
import { readSparkplug } from '../codecs/sparkplug/session.js';
import { parseSparkplugTopic, sparkplugTopicProblem } from '../codecs/sparkplug/topic.js';
import { MessageFailure, type Effects } from '../pipeline/execution.js';
import type { StepHeader } from '../pipeline/step.js';

export const CONTENT_TYPES: Readonly<Record<CodecName, string | undefined>> = {
  json: 'application/json',
  text: undefined,
  binary: undefined,
  cbor: 'application/cbor',
  protobuf: 'application/x-protobuf',
  sparkplugB: undefined,
};

/** How `mqflow test` reads back what `setting` encoded. */
export function decoderOf(setting: CodecSetting): (payload: Buffer) => unknown {
  if (setting.codec !== undefined) return (b) => setting.codec!.decode(b);
  if (setting.name === 'sparkplugB') return readSparkplug;
  if (setting.name === 'binary') return (b) => b.toString('base64');
  if (setting.name === 'text') return (b) => b.toString('utf8');
  return (b) => JSON.parse(b.toString('utf8')) as unknown;
}

/** The message types an edge node numbers with seq (0–255, NBIRTH first). */
const NUMBERED = new Set(['NBIRTH', 'DBIRTH', 'NDATA', 'DDATA', 'DDEATH']);

export function encodeWith(setting: CodecSetting, value: unknown, topic: string, step: StepHeader, effects: Effects): Buffer | string {
  const fail = (code: string, why: string): never => {
    throw new MessageFailure(`${step.path}: not published: ${why}`, code, { path: step.path, at: step.at }, { permanent: true });
  };
  if (value === undefined) fail('MQFLOW_PUBLISH_EMPTY', 'the payload to publish evaluated to nothing');
  try {
    switch (setting.name) {
      case 'json':
        return JSON.stringify(value);
      case 'text':
        if (typeof value === 'string') return value;
        if (typeof value === 'number' || typeof value === 'boolean') return String(value);
        return fail('MQFLOW_ENCODE_TEXT', `codec text sends a string, a number or a boolean, and the payload is ${Array.isArray(value) ? 'an array' : `a ${value === null ? 'null' : typeof value}`}`);
      case 'binary':
        if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 === 1) return fail('MQFLOW_ENCODE_BINARY', 'codec binary sends the bytes of a base64 string, and the payload is not one');
        return Buffer.from(value, 'base64');
      case 'sparkplugB':
        return sparkplug(value, topic, effects, fail);
      default:
        return setting.codec!.encode(value);
    }
  } catch (error) {
    if (error instanceof MessageFailure && error.step === undefined) throw new MessageFailure(`${step.path}: not published: ${error.message}`, error.code, { path: step.path, at: step.at }, { permanent: true, cause: error });
    throw error;
  }
}

/** seq and timestamp are filled when not given: seq per edge node (NBIRTH restarts it at 0), timestamp now. */
function sparkplug(value: unknown, topicName: string, effects: Effects, fail: (code: string, why: string) => never): Buffer {
  const topic = parseSparkplugTopic(topicName);
  if (topic === undefined || topic.type === 'STATE') return fail('MQFLOW_ENCODE_SPARKPLUG', `codec sparkplugB publishes to spBv1.0/<group>/<type>/<edge node>[/<device>]; ${JSON.stringify(topicName.slice(0, 200))} is not such a topic (${sparkplugTopicProblem(topicName) ?? 'STATE is JSON: use codec json'})`);
  const given = value !== null && typeof value === 'object' ? (value as { seq?: unknown }).seq : undefined;
  const seq = given === undefined && NUMBERED.has(topic.type) ? effects.nextSequence(`sparkplug:${topic.group}/${topic.edgeNode}`, topic.type === 'NBIRTH') % 256 : undefined;
  return writePayload(value, { ...(seq === undefined ? {} : { seq }), timestamp: Date.now() });
}
