/** compile: connections. Checks broker URLs, reads TLS files, wraps credentials as secrets. */
import { dirname, resolve } from 'node:path';
import { topicNameProblem } from '../mqtt/topic-filter.js';
import { definitionHeader, quote, report, type CompileContext, type Located } from './compile-context.js';
import { durationMs } from './duration.js';
import type { Connection, MessageTemplate, QoS, TlsOptions } from './model.js';
import { formatPath, toPointer, type ValuePath } from './path.js';
import { Secret } from './secret.js';

interface MessageValue {
  topic: string;
  payload?: string;
  qos?: QoS;
  retain?: boolean;
}

export interface ConnectionValue {
  description?: string;
  enabled?: boolean;
  url: string | string[];
  clientId?: string;
  username?: string;
  password?: string;
  protocolVersion?: 4 | 5;
  cleanSession?: boolean;
  keepalive?: number;
  connectTimeout?: number | string;
  reconnectPeriod?: number | string;
  offlineQueueSize?: number;
  tls?: { ca?: string; cert?: string; key?: string; passphrase?: string; rejectUnauthorized?: boolean; servername?: string };
  will?: MessageValue;
  birth?: MessageValue;
}

const SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];
const TLS_SCHEMES = ['mqtts:', 'wss:'];

export function compileConnection(context: CompileContext, def: Located<ConnectionValue>): Connection | undefined {
  const { value, file, path } = def;
  let ok = true;
  // Each check runs on the parts that passed the schema, so one run reports every problem.
  const urls = typeof value.url === 'string' ? [value.url] : Array.isArray(value.url) ? value.url : [];
  const urlPath = (i: number): ValuePath => (typeof value.url === 'string' ? [...path, 'url'] : [...path, 'url', i]);
  const schemes = urls.map((url, i) => {
    if (def.broken(urlPath(i))) return undefined;
    const problem = brokerUrlProblem(url);
    if (problem !== undefined) {
      report(context, file, urlPath(i), 'MQFLOW_BROKER_URL', `${formatPath(urlPath(i))} ${problem} (got ${quote(file, urlPath(i), url)})`, 'for example mqtt://127.0.0.1:1883 or mqtts://broker.example.com:8883');
      ok = false;
      return undefined;
    }
    return new URL(url).protocol;
  });

  let tls: TlsOptions | undefined;
  // File contents count for the fingerprint: a rotated certificate is a changed connection.
  let tlsFiles: Record<string, string | undefined> = {};
  if (value.tls !== undefined && !def.brokenAt([...path, 'tls'])) {
    if (schemes.every((s) => s !== undefined && !TLS_SCHEMES.includes(s))) {
      report(context, file, [...path, 'tls'], 'MQFLOW_TLS_UNUSED', `${formatPath([...path, 'tls'])} is ignored: no URL of this connection uses mqtts:// or wss://`, 'use an mqtts:// or wss:// URL, or remove tls', 'warning');
    }
    const readPem = (key: 'ca' | 'cert' | 'key'): string | undefined => {
      const name = value.tls?.[key];
      if (name === undefined || def.broken([...path, 'tls', key])) return undefined;
      const absolute = resolve(dirname(file.source.absolutePath), name);
      try {
        return context.readFile(absolute);
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
        report(context, file, [...path, 'tls', key], 'MQFLOW_TLS_FILE', `${formatPath([...path, 'tls', key])}: cannot read ${quote(file, [...path, 'tls', key], name)}: ${reason}`, 'the path is relative to the flow file');
        ok = false;
        return undefined;
      }
    };
    const ca = readPem('ca');
    const cert = readPem('cert');
    const key = readPem('key');
    if ((value.tls.cert === undefined) !== (value.tls.key === undefined)) {
      const [given, missing] = value.tls.cert === undefined ? ['key', 'cert'] : ['cert', 'key'];
      report(context, file, [...path, 'tls'], 'MQFLOW_TLS_PAIR', `${formatPath([...path, 'tls'])} has ${given} but no ${missing}: a client certificate needs both`, `add ${missing}: <PEM file>, or remove ${given}`);
      ok = false;
    }
    tlsFiles = { ca, cert, key };
    tls = {
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key: new Secret(key) }),
      ...(value.tls.passphrase === undefined ? {} : { passphrase: new Secret(value.tls.passphrase) }),
      rejectUnauthorized: value.tls.rejectUnauthorized ?? true,
      ...(value.tls.servername === undefined ? {} : { servername: value.tls.servername }),
    };
  }

  const message = (key: 'will' | 'birth'): MessageTemplate | undefined => {
    const m = value[key];
    const topicAt = [...path, key, 'topic'];
    if (m === undefined || def.brokenAt([...path, key])) return undefined;
    const problem = def.broken(topicAt) ? undefined : topicNameProblem(m.topic);
    if (problem !== undefined) {
      report(context, file, topicAt, 'MQFLOW_PUBLISH_TOPIC', `${formatPath(topicAt)}: ${problem} (got ${quote(file, topicAt, m.topic)})`);
      ok = false;
    }
    return { topic: m.topic, payload: m.payload ?? '', qos: m.qos ?? 1, retain: m.retain ?? true };
  };
  for (const secret of [['password'], ['tls', 'passphrase']] as const) {
    const at = [...path, ...secret];
    const written = secret.length === 1 ? value.password : value.tls?.passphrase;
    if (written !== undefined && written !== '' && !file.interpolated.has(toPointer(at))) {
      report(context, file, at, 'MQFLOW_SECRET_IN_FILE', `${formatPath(at)} is written in the flow file, where everyone who can read the repository sees it`, `take it from the environment or a file: \${env:MQTT_PASSWORD} or \${file:secrets/mqtt-password}`, 'warning');
    }
  }

  const will = message('will');
  const birth = message('birth');
  if (!ok || def.broken(path)) return undefined;

  return {
    ...definitionHeader(def, { value, tlsFiles }),
    urls,
    ...(value.clientId === undefined ? {} : { clientId: value.clientId }),
    ...(value.username === undefined ? {} : { username: new Secret(value.username) }),
    ...(value.password === undefined ? {} : { password: new Secret(value.password) }),
    protocolVersion: value.protocolVersion ?? 4,
    cleanSession: value.cleanSession ?? true,
    keepaliveSeconds: value.keepalive ?? 60,
    connectTimeoutMs: durationMs(value.connectTimeout ?? 30_000),
    reconnectPeriodMs: durationMs(value.reconnectPeriod ?? 1_000),
    offlineQueueSize: value.offlineQueueSize ?? 1000,
    ...(tls === undefined ? {} : { tls }),
    ...(will === undefined ? {} : { will }),
    ...(birth === undefined ? {} : { birth }),
  };
}

function brokerUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a valid URL';
  }
  if (!SCHEMES.includes(parsed.protocol)) return 'must start with mqtt://, mqtts://, ws:// or wss://';
  if (parsed.hostname === '') return 'has no host';
  return undefined;
}
