/**
 * `mqflow tap`: attaches to a running mqflow through its admin API (GET /api/tap, Server-Sent
 * Events) and prints the messages passing its triggers: received, each step, each publish, the
 * failure, done. Sampled and bounded by the server (docs/operations.md, "Watching traffic").
 */
import { request, type IncomingMessage } from 'node:http';
import { parseArgs } from 'node:util';
import { EXIT, UsageError, type CommandIO } from './io.js';
import { parseTimeout } from './connect-once.js';

export const tapHelp = `Usage: mqflow tap [--admin HOST:PORT] [--trigger NAME] [--topic FILTER] [--service NAME]
                 [--rate N] [--count N] [--timeout DURATION] [--format text|json]

Attaches to a running mqflow (mqflow run or dev) through its admin API and prints messages as they
pass its triggers, steps and publishes, with their payloads (the first 1 KiB; resolved secrets
shown as [secret]). The server samples: at most --rate messages a second are shown, each whole;
when this command reads too slowly, events are dropped and it says how many. A token, when the
admin API needs one, is read from MQFLOW_ADMIN_TOKEN.
Exit 0 when it ends (Ctrl-C, --count messages shown, or --timeout without --count), 1 when it
cannot attach or the stream is lost, or --count messages were not shown within --timeout, 2 on a
usage error.

Options:
  --admin HOST:PORT   the admin API (default: 127.0.0.1:9464; http://… accepted)
  --trigger NAME      only messages of this trigger (or endpoint, or schedule)
  --topic FILTER      only messages whose topic matches this MQTT topic filter
  --service NAME      only messages of triggers that run this service
  --rate N            at most N messages a second (default: 10, at most 1000)
  --count N           stop after N messages are done
  --timeout DURATION  stop after this long (e.g. 30s)
  --format text|json  readable lines (default), or one JSON event per line
`;

/** An event of the stream, as the server sends it (src/host/tap.ts, TapEvent; and `dropped`). */
interface StreamEvent {
  readonly type: string;
  readonly [field: string]: unknown;
}

export async function runTap(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      admin: { type: 'string', default: '127.0.0.1:9464' },
      trigger: { type: 'string' },
      topic: { type: 'string' },
      service: { type: 'string' },
      rate: { type: 'string', default: '10' },
      count: { type: 'string' },
      timeout: { type: 'string' },
      format: { type: 'string', default: 'text' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.stdout(tapHelp);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`tap takes no arguments (got ${positionals.join(' ')})`);
  if (values.format !== 'text' && values.format !== 'json') throw new UsageError(`--format must be text or json (got ${values.format})`);
  if (!/^\d+$/.test(values.rate) || Number(values.rate) < 1 || Number(values.rate) > 1000) throw new UsageError(`--rate must be a whole number from 1 to 1000 (got ${values.rate})`);
  const count = values.count === undefined ? undefined : Number(values.count);
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new UsageError(`--count must be a whole number of at least 1 (got ${values.count})`);
  const timeoutMs = values.timeout === undefined ? undefined : parseTimeout(values.timeout);
  let base: URL;
  try {
    base = new URL(/^https?:\/\//.test(values.admin) ? values.admin : `http://${values.admin}`);
  } catch {
    throw new UsageError(`--admin must be HOST:PORT or an http:// URL (got ${values.admin})`);
  }
  if (base.protocol !== 'http:') throw new UsageError('--admin: the admin API speaks http:// only');
  const url = new URL('/api/tap', base);
  for (const name of ['trigger', 'topic', 'service'] as const) if (values[name] !== undefined) url.searchParams.set(name, values[name]);
  url.searchParams.set('rate', values.rate);
  const token = process.env.MQFLOW_ADMIN_TOKEN;
  const json = values.format === 'json';

  return new Promise<number>((resolve) => {
    let done = 0;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (code: number, message?: string): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      req.destroy();
      if (message !== undefined) io.stderr(`mqflow tap: ${message}\n`);
      resolve(code);
    };
    const onSignal = (): void => finish(EXIT.ok);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => (count === undefined ? finish(EXIT.ok) : finish(EXIT.invalid, `${done} of ${count} messages within ${values.timeout}`)), timeoutMs);
    }
    const req = request(url, { headers: { accept: 'text/event-stream', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) } }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d.length + body.length > 4096 ? '' : d));
        res.on('end', () => {
          let reason = body.trim();
          try {
            reason = (JSON.parse(body) as { error?: string }).error ?? reason;
          } catch {
            // not JSON: shown as it is
          }
          finish(EXIT.invalid, `${url.origin} answered ${res.statusCode}: ${reason}`);
        });
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while (!finished && (end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = parseBlock(block);
          if (event === undefined) continue;
          if (event.type === 'hello') {
            io.stderr(`tapping ${url.origin} (at most ${String(event.rate)} message${event.rate === 1 ? '' : 's'} a second; Ctrl-C stops)\n`);
            continue;
          }
          io.stdout(json ? `${JSON.stringify(event)}\n` : `${formatEvent(event)}\n`);
          if (event.type === 'done' && count !== undefined && ++done >= count) finish(EXIT.ok);
        }
      });
      res.on('end', () => finish(EXIT.invalid, 'the stream ended (mqflow stopped?)'));
      res.on('error', (error) => finish(EXIT.invalid, `the stream was lost: ${error.message}`));
    });
    req.on('error', (error) => finish(EXIT.invalid, `cannot reach the admin API at ${url.origin}: ${error.message}`));
    req.end();
  });
}

/** One SSE block (`event:` and `data:` lines) as an event; undefined for a comment or an unreadable one. */
function parseBlock(block: string): StreamEvent | undefined {
  let type: string | undefined;
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) type = line.slice(6).trim();
    else if (line.startsWith('data:')) data += line.slice(5).trimStart();
  }
  if (type === undefined || data === '') return undefined;
  try {
    return { ...(JSON.parse(data) as Record<string, unknown>), type };
  } catch {
    return undefined;
  }
}

interface Payload {
  readonly size: number;
  readonly text?: string;
  readonly base64?: string;
  readonly truncated: boolean;
}

const payloadText = (p: Payload): string => `${p.text !== undefined ? oneLine(p.text) : `base64:${p.base64 ?? ''}`}${p.truncated ? ` … (${p.size} bytes)` : ''}`;
const oneLine = (text: string): string => text.replace(/\r?\n/g, '\\n');
const bytes = (p: Payload): string => `${p.size} B`;

/** A readable line: local time, the message's number, what happened. */
export function formatEvent(e: StreamEvent): string {
  const time = typeof e.at === 'string' ? clock(new Date(e.at)) : clock(new Date());
  const s = (key: string): string => {
    const value = e[key];
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
  };
  const id = e.id === undefined ? '' : `#${s('id')}`;
  switch (e.type) {
    case 'received':
      return `${time} ${id} ${s('trigger')} ← ${s('topic')} qos ${s('qos')} (${bytes(e.payload as Payload)}) ${payloadText(e.payload as Payload)}`;
    case 'step':
      return `${time} ${id}   ${s('step')} ${s('kind')}${e.name === undefined ? '' : ` "${s('name')}"`} → ${s('outcome')} (${s('ms')} ms)`;
    case 'publish':
      return `${time} ${id}   publish via ${s('connection')} → ${s('topic')} qos ${s('qos')}${e.retain === true ? ' retain' : ''} (${bytes(e.payload as Payload)}) ${payloadText(e.payload as Payload)}`;
    case 'failed':
      return `${time} ${id}   failed ${s('code')}: ${oneLine(s('reason'))}${e.step === undefined ? '' : ` (${s('step')})`}, attempt ${s('attempts')}`;
    case 'done':
      return `${time} ${id}   done: ${s('outcome')} in ${s('ms')} ms${e.omitted === undefined ? '' : ` (${s('omitted')} events left out)`}`;
    case 'dropped':
      return `${time} … ${s('dropped')} events dropped: this terminal did not keep up (${s('total')} in all)`;
    default:
      return `${time} ${id} ${e.type} ${JSON.stringify(e)}`;
  }
}

function clock(d: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}
