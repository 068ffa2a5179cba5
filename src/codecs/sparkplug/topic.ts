/**
 * Sparkplug B topic names (Sparkplug 3.0 §4.1): `spBv1.0/<group>/<type>/<edgeNode>[/<device>]`,
 * and host application STATE as `spBv1.0/STATE/<hostId>` (3.0) or `STATE/<hostId>` (2.x).
 */

export type SparkplugMessageType = 'NBIRTH' | 'DBIRTH' | 'NDATA' | 'DDATA' | 'NDEATH' | 'DDEATH' | 'NCMD' | 'DCMD';

export type SparkplugTopic =
  | { namespace: 'spBv1.0'; group: string; type: SparkplugMessageType; edgeNode: string; device?: string }
  /** namespace null: the Sparkplug 2.x form `STATE/<hostId>`, whose payload is the text ONLINE/OFFLINE. */
  | { namespace: 'spBv1.0' | null; type: 'STATE'; hostId: string };

const TYPES: ReadonlySet<string> = new Set(['NBIRTH', 'DBIRTH', 'NDATA', 'DDATA', 'NDEATH', 'DDEATH', 'NCMD', 'DCMD']);
const FORM = 'spBv1.0/<group>/<type>/<edge node>[/<device>]';

/** Why an id level is not usable: the spec forbids the MQTT separators and wildcards in ids. */
function idProblem(what: string, id: string): string | undefined {
  if (id === '') return `the ${what} is empty`;
  const bad = /[+#]/.exec(id);
  return bad === null ? undefined : `the ${what} contains '${bad[0]}'`;
}

function analyse(topic: string): SparkplugTopic | string {
  const levels = topic.split('/');
  if (levels[0] === 'STATE' || (levels[0] === 'spBv1.0' && levels[1] === 'STATE' && !TYPES.has(levels[2] ?? ''))) {
    const legacy = levels[0] === 'STATE';
    const hostId = levels[legacy ? 1 : 2] ?? '';
    if (levels.length !== (legacy ? 2 : 3)) return `a STATE topic is ${legacy ? 'STATE' : 'spBv1.0/STATE'}/<host id>`;
    return idProblem('host id', hostId) ?? { namespace: legacy ? null : 'spBv1.0', type: 'STATE', hostId };
  }
  if (levels[0] !== 'spBv1.0') return `it does not start with spBv1.0/ (the Sparkplug B namespace)`;
  const [, group = '', type = '', edgeNode = '', device] = levels;
  if (levels.length < 4 || levels.length > 5) return `it has ${levels.length} levels; Sparkplug B topics are ${FORM}`;
  if (!TYPES.has(type)) return `'${type}' is not a Sparkplug B message type (NBIRTH, NDATA, NDEATH, NCMD, DBIRTH, DDATA, DDEATH, DCMD or STATE)`;
  const needsDevice = type.startsWith('D');
  if (needsDevice && device === undefined) return `a ${type} topic names a device: spBv1.0/<group>/${type}/<edge node>/<device>`;
  if (!needsDevice && device !== undefined) return `an ${type} topic has no device level: spBv1.0/<group>/${type}/<edge node>`;
  const problem = idProblem('group id', group) ?? idProblem('edge node id', edgeNode) ?? (device === undefined ? undefined : idProblem('device id', device));
  if (problem !== undefined) return problem;
  const parsed = { namespace: 'spBv1.0', group, type: type as SparkplugMessageType, edgeNode } as const;
  return device === undefined ? parsed : { ...parsed, device };
}

export function parseSparkplugTopic(topic: string): SparkplugTopic | undefined {
  const result = analyse(topic);
  return typeof result === 'string' ? undefined : result;
}

/** A short reason `topic` is not a Sparkplug B topic, for error messages; undefined when it is one. */
export function sparkplugTopicProblem(topic: string): string | undefined {
  const result = analyse(topic);
  return typeof result === 'string' ? result : undefined;
}
