/**
 * Node-RED 4.1 as a peer system of the runtime benchmark (bench/runtime.js). Node-RED is not a
 * dependency of mqflow: ensureNodeRed() installs it on demand into a cache folder in the OS temp
 * dir (4.1 because Node-RED 5 needs Node >= 22.9). nodeRedSystem() writes a user dir whose flows
 * implement one benchmark system at one QoS, built as a user would in the editor:
 *   identity  – mqtt in load/in (buffer) → mqtt out load/out
 *   transform – mqtt in load/in (parsed JSON) → change (JSONata topic + payload) → mqtt out
 *   fourstep  – mqtt in → switch (JSONata filter) → change (JSONata transform) → switch
 *               (celsius > 90) → change (level hot | normal) → two changes (JSONata topics
 *               out/<device> and site/<site>/<level>) → two mqtt out: 2 outputs per input
 * All MQTT nodes share one broker config node (MQTT 3.1.1, clean session, keepalive 60).
 *
 * Ready detection: Node-RED logs "Started flows" and "Connected to broker: …", then subscribes
 * without a callback, so SUBACK is neither logged nor shown as a status. settings.js therefore
 * wraps mqtt.js' MqttClient#subscribe inside the Node-RED process (runs once per subscribe call,
 * never per message) to print "mqflow-bench: subscribed <topic> qos <granted>" when the SUBACK
 * arrives; ready() waits for that line for load/in. The same hook sets TCP no-delay on the socket.
 *
 * Not a benchmark module (run.js skips files starting with "_").
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const NODE_RED_DIR = join(tmpdir(), 'mqflow-bench-node-red-4.1');
const SPEC = 'node-red@~4.1';

function cachedVersion() {
  try {
    return JSON.parse(readFileSync(join(NODE_RED_DIR, 'node_modules', 'node-red', 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** Installs Node-RED 4.1 into the cache folder if needed; returns { redJs, version }. log(line) reports progress. */
export async function ensureNodeRed(log = () => {}) {
  let version = cachedVersion();
  if (version?.startsWith('4.1.')) {
    log(`node-red: using ${version} cached in ${NODE_RED_DIR}`);
  } else {
    mkdirSync(NODE_RED_DIR, { recursive: true });
    log(`node-red: installing ${SPEC} into ${NODE_RED_DIR} (once; takes about half a minute)`);
    const started = Date.now();
    // Under `npm run bench` the parent npm exports npm_config_* (local_prefix = this repo, …);
    // drop them so the install only sees --prefix and cannot touch the project.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
    const args = ['install', '--prefix', NODE_RED_DIR, '--no-audit', '--no-fund', '--omit=dev', SPEC];
    await new Promise((done, fail) => {
      const child = spawn(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, { cwd: NODE_RED_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      child.once('error', fail);
      child.once('exit', (code) => (code === 0 ? done() : fail(new Error(`npm ${args.join(' ')} failed (${code}):\n${output}`))));
    });
    version = cachedVersion();
    if (!version?.startsWith('4.1.')) throw new Error(`node-red: expected 4.1.x in ${NODE_RED_DIR}, found ${version}`);
    log(`node-red: installed ${version} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  return { redJs: join(NODE_RED_DIR, 'node_modules', 'node-red', 'red.js'), version };
}

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

const SYSTEMS = ['identity', 'transform', 'fourstep'];
const CELSIUS = '(payload.temp_f - 32) * 5 / 9';

/** The flows of one system: one tab, one shared broker config node. Change node rules use JSONata against msg. */
function flows(system, qos, { host, port, clientid }) {
  const q = String(qos); // the editor stores QoS as a string; "0" is truthy for the mqtt out node
  const nodes = [
    { id: 'tab', type: 'tab', label: `bench ${system} qos ${qos}` },
    {
      id: 'broker', type: 'mqtt-broker', name: 'bench broker', broker: host, port: String(port), clientid,
      autoConnect: true, usetls: false, protocolVersion: 4, keepalive: 60, cleansession: true, autoUnsubscribe: true,
    },
  ];
  // Flow nodes need x/y: Node-RED treats nodes without a position as config nodes.
  const add = (id, type, props, wires) => nodes.push({ id, type, z: 'tab', name: id, x: 150 * nodes.length, y: 100, ...props, wires: wires ?? [] });
  const mqttIn = (datatype, next) => add('in', 'mqtt in', { topic: 'load/in', qos: q, datatype, broker: 'broker', nl: false, rap: true, rh: 0, inputs: 0 }, [[next]]);
  const mqttOut = (id, topic) => add(id, 'mqtt out', { topic, qos: q, retain: 'false', broker: 'broker' });
  const set = (p, to, tot = 'jsonata') => ({ t: 'set', p, pt: 'msg', to, tot });
  const change = (id, rules, next) => add(id, 'change', { rules }, [next]);
  if (system === 'identity') {
    mqttIn('buffer', 'out');
    mqttOut('out', 'load/out');
  } else if (system === 'transform') {
    mqttIn('json', 'transform');
    change('transform', [set('topic', '"out/" & payload.deviceId'), set('payload', `{"device": payload.deviceId, "celsius": ${CELSIUS}, "ts": payload.ts, "seq": payload.seq}`)], ['out']);
    mqttOut('out', ''); // empty topic: msg.topic is used
  } else {
    mqttIn('json', 'filter');
    // (1) filter: the editor's "JSONata exp" rule passes when the expression is true
    add('filter', 'switch', { property: 'payload', propertyType: 'msg', rules: [{ t: 'jsonata_exp', v: '$exists(payload.temp_f) and $exists(payload.deviceId)', vt: 'jsonata' }], checkall: 'true', repair: false, outputs: 1 }, [['transform']]);
    // (2) transform
    change('transform', [set('payload', `{"device": payload.deviceId, "celsius": ${CELSIUS}, "ts": payload.ts, "seq": payload.seq, "site": payload.site}`)], ['choice']);
    // (3) choice: first matching rule only
    add('choice', 'switch', { property: 'payload.celsius', propertyType: 'msg', rules: [{ t: 'gt', v: '90', vt: 'num' }, { t: 'else' }], checkall: 'false', repair: false, outputs: 2 }, [['hot'], ['normal']]);
    change('hot', [set('payload.level', 'hot', 'str')], ['topic-device', 'topic-site']);
    change('normal', [set('payload.level', 'normal', 'str')], ['topic-device', 'topic-site']);
    // (4) two publishes; Node-RED clones msg for the second wire
    change('topic-device', [set('topic', '"out/" & payload.device')], ['out-device']);
    change('topic-site', [set('topic', '"site/" & payload.site & "/" & payload.level')], ['out-site']);
    mqttOut('out-device', '');
    mqttOut('out-site', '');
  }
  return nodes;
}

/** settings.js: headless (no editor, no HTTP nodes), no credential encryption, telemetry and diagnostics off, plus the SUBACK hook. */
function settings({ flowFile, uiPort, mqttModule }) {
  const config = {
    flowFile, uiHost: '127.0.0.1', uiPort, httpAdminRoot: false, httpNodeRoot: false, disableEditor: true,
    credentialSecret: false, flowFilePretty: false,
    logging: { console: { level: 'info', metrics: false, audit: false } },
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false }, modules: { allowInstall: false } },
    functionExternalModules: false,
    editorTheme: { projects: { enabled: false }, multiplayer: { enabled: false } },
  };
  return `// Written by bench/_nodered.js for one benchmark run.
// Benchmark hook: Node-RED subscribes without a callback; report each SUBACK on stdout. It also
// sets TCP no-delay on the broker socket, as every other process of the benchmark does.
const { MqttClient } = require(${JSON.stringify(mqttModule)});
const subscribe = MqttClient.prototype.subscribe;
MqttClient.prototype.subscribe = function (topic, opts, callback) {
  if (this.stream && typeof this.stream.setNoDelay === 'function') this.stream.setNoDelay(true);
  if (typeof opts === 'function' || typeof callback === 'function') return subscribe.apply(this, arguments);
  return subscribe.call(this, topic, opts, (err, granted) => {
    if (err) console.log('mqflow-bench: subscribe ' + topic + ' failed: ' + err.message);
    else for (const g of granted || []) console.log('mqflow-bench: ' + (g.qos & 0x80 ? 'rejected ' : 'subscribed ') + g.topic + ' qos ' + g.qos);
  });
};
module.exports = ${JSON.stringify(config, null, 2)};
`;
}

/**
 * Writes a Node-RED user dir into `dir` (flows.json + settings.js) for one system and QoS and
 * returns { args, ready }: args are the node CLI arguments to spawn with process.execPath;
 * ready(stdoutSoFar) is true once the flows started, the broker connection is up and the broker
 * acknowledged the load/in subscription.
 */
export async function nodeRedSystem({ redJs, dir, system, qos, url }) {
  if (!SYSTEMS.includes(system)) throw new Error(`node-red: unknown system ${system} (${SYSTEMS.join(', ')})`);
  const { hostname, port } = new URL(url);
  const clientid = `bench-nodered-${process.pid}-${system}-q${qos}-${Date.now().toString(36)}`;
  // The mqtt.js instance Node-RED's MQTT nodes load, so the hook patches the class they use.
  const requireNodes = createRequire(createRequire(resolve(redJs)).resolve('@node-red/nodes/package.json'));
  const absDir = resolve(dir);
  mkdirSync(absDir, { recursive: true });
  const flowFile = join(absDir, 'flows.json');
  const settingsFile = join(absDir, 'settings.js');
  writeFileSync(flowFile, `${JSON.stringify(flows(system, qos, { host: hostname, port: port || '1883', clientid }), null, 2)}\n`);
  // Headless mode listens on no port at all; a free uiPort keeps it safe if HTTP gets enabled.
  writeFileSync(settingsFile, settings({ flowFile, uiPort: await freePort(), mqttModule: requireNodes.resolve('mqtt') }));
  const connected = `Connected to broker: ${clientid}@`;
  return {
    args: [resolve(redJs), '--userDir', absDir, '--settings', settingsFile, flowFile],
    ready: (stdout) => stdout.includes('Started flows') && stdout.includes(connected) && stdout.includes('mqflow-bench: subscribed load/in qos'),
  };
}
