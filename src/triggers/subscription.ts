/** A trigger's subscription: the connection, topic filters, QoS, shared-subscription group and the service it runs. */
import type { DefinitionOption } from '../component/option.js';
import type { QoS } from '../mqtt/message.js';
import { shareGroupProblem, splitSharedSubscription, topicFilterProblem } from '../mqtt/topic-filter.js';
import { formatPath, type ValuePath } from '../util/path.js';

export interface Subscription {
  readonly connection: string;
  /** The filters as written (without the `$share/` prefix added by `share`). */
  readonly topics: readonly string[];
  /** What is sent in SUBSCRIBE: the filters, each as `$share/<group>/<filter>` when `share` is set. */
  readonly subscriptions: readonly string[];
  readonly share?: string;
  readonly qos: QoS;
  readonly service: string;
}

export const subscription: DefinitionOption<Subscription> = {
  name: 'subscription',
  fields: {
    connection: { schema: { type: 'string', minLength: 1, description: 'The connection to subscribe on.', examples: ['plant-broker'] }, type: 'string', default: 'required', doc: 'The connection to subscribe on.' },
    topic: {
      schema: {
        description: 'A topic filter, or a list of them. + matches one level, # the rest (last level only).',
        anyOf: [{ type: 'string' }, { type: 'array', minItems: 1, items: { type: 'string' } }],
        examples: ['plant/+/sensors/+/temperature', ['plant/+/alarms', 'plant/+/events/#']],
      },
      type: 'string, or list of strings',
      default: 'required',
      doc: 'A topic filter, or a list of them. `+` matches one level, `#` the rest (last level only).',
    },
    service: { schema: { type: 'string', minLength: 1, description: 'The service to run for each message.', examples: ['normalize-temperature'] }, type: 'string', default: 'required', doc: 'The service to run for each message.' },
    qos: { schema: { enum: [0, 1, 2], description: 'Subscription quality of service. Default: 1.' }, type: '`0`, `1`, `2`', default: '`1`', doc: 'Subscription quality of service.' },
    share: {
      schema: { type: 'string', minLength: 1, description: 'Shared-subscription group: subscribe as $share/<group>/<filter> so replicas split the messages.', examples: ['mqflow'] },
      type: 'string',
      default: 'none',
      doc: 'Shared-subscription group: subscribe as `$share/<group>/<filter>` so that replicas split the messages.',
    },
  },
  required: ['connection', 'topic', 'service'],
  example: `triggers:
  oven-temperature:
    connection: plant
    topic: plant/north/sensors/oven-3/temperature
    service: to-celsius
`,
  compile(value, path, c) {
    let ok = true;
    if (typeof value.connection === 'string') c.refer('connection', value.connection, [...path, 'connection']);
    if (typeof value.service === 'string') c.refer('service', value.service, [...path, 'service']);
    const share = typeof value.share === 'string' ? value.share : undefined;
    // Each check runs on the parts that passed the schema, so one run reports every problem.
    const topics = typeof value.topic === 'string' ? [value.topic] : Array.isArray(value.topic) ? (value.topic as unknown[]).filter((t): t is string => typeof t === 'string') : [];
    const topicPath = (i: number): ValuePath => (typeof value.topic === 'string' ? [...path, 'topic'] : [...path, 'topic', i]);
    const seen = new Set<string>();
    topics.forEach((topic, i) => {
      const at = topicPath(i);
      if (c.brokenBelow(at)) return;
      const problem = topicFilterProblem(topic);
      if (problem !== undefined) {
        c.problem(at, 'MQFLOW_TOPIC_FILTER', `${formatPath(at)}: ${problem} (got ${c.quote(at, topic)})`);
        ok = false;
      } else if (share !== undefined && splitSharedSubscription(topic) !== undefined) {
        c.problem(at, 'MQFLOW_TOPIC_FILTER', `${formatPath(at)} is already a shared subscription, and share is set too`, 'remove the $share/<group>/ prefix and keep share, or remove share');
        ok = false;
      }
      if (seen.has(topic)) c.warn(at, 'MQFLOW_TOPIC_DUPLICATE', `${formatPath(at)}: topic filter "${topic}" is listed twice`, 'remove one of them');
      seen.add(topic);
    });
    if (share !== undefined && !c.brokenBelow([...path, 'share'])) {
      const problem = shareGroupProblem(share);
      if (problem !== undefined) {
        c.problem([...path, 'share'], 'MQFLOW_SHARE_GROUP', `${formatPath([...path, 'share'])}: ${problem} (got ${c.quote([...path, 'share'], share)})`);
        ok = false;
      }
    }
    if (!ok) return undefined;
    return {
      connection: value.connection as string,
      topics,
      subscriptions: share === undefined ? topics : topics.map((t) => `$share/${share}/${t}`),
      ...(share === undefined ? {} : { share }),
      qos: (value.qos as QoS | undefined) ?? 1,
      service: value.service as string,
    };
  },
};
