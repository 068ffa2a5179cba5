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
 *   http      – mqtt in load/in (parsed JSON) → change (JSONata msg.url = $env("API_URL") &
 *               "/devices/" & payload.device; move msg.payload to msg.reading) → http request
 *               (GET, URL from msg.url, a parsed JSON object, "Enable connection keep-alive" on)
 *               → change (JSONata payload {device, seq, location}) → mqtt out load/out. Used by
 *               bench/http.js; nodeRedSystem() then needs `apiUrl` and returns env { API_URL }.
 *   webhook   – http in (POST /hooks/readings/:device, parsed JSON body) → change (JSONata
 *               payload {"device": req.params.device, "seq": payload.seq}) → mqtt out load/out and
 *               → http response (status 204). Used by bench/http.js; nodeRedSystem() then needs
 *               `httpPort`, where Node-RED's HTTP server (node routes only, no editor) listens.
 *               The http response node answers when the message reaches it, without waiting for
 *               the mqtt out node's publish to be acknowledged (PUBACK).
 * All MQTT nodes share one broker config node (MQTT 3.1.1, clean session, keepalive 60).
 *
 * Ready detection: Node-RED logs "Started flows" and "Connected to broker: …", then subscribes
 * without a callback, so SUBACK is neither logged nor shown as a status. settings.js therefore
 * wraps mqtt.js' MqttClient#subscribe inside the Node-RED process (runs once per subscribe call,
 * never per message) to print "mqflow-bench: subscribed <topic> qos <granted>" when the SUBACK
 * arrives; ready() waits for that line for load/in. The settings also set TCP no-delay on the
 * broker socket (when mqtt.js opens it), as every other process of the benchmark does. The webhook
 * system subscribes nothing: ready() waits for "Started flows", the broker connection and
 * "Server now running at" (the HTTP port is open).
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

const SYSTEMS = ['identity', 'transform', 'fourstep', 'http', 'webhook'];
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
  } else if (system === 'http') {
    mqttIn('json', 'request-url');
    // The request URL from the environment and the reading; the reading is kept in msg.reading,
    // since the http request node replaces msg.payload with the response.
    change('request-url', [set('url', '$env("API_URL") & "/devices/" & payload.device'), { t: 'move', p: 'payload', pt: 'msg', to: 'reading', tot: 'msg' }], ['request']);
    // The editor's defaults except: return "a parsed JSON object", keep-alive ticked (the API
    // server keeps connections alive, as the relay's and mqflow's clients do).
    add('request', 'http request', { method: 'GET', ret: 'obj', paytoqs: 'ignore', url: '', tls: '', persist: true, proxy: '', insecureHTTPParser: false, authType: '', senderr: false, headers: [] }, [['enrich']]);
    change('enrich', [set('payload', '{"device": reading.device, "seq": reading.seq, "location": payload.location}')], ['out']);
    mqttOut('out', 'load/out');
  } else if (system === 'webhook') {
    // The editor's defaults except: method POST, the path. The body (application/json) arrives parsed.
    add('hook', 'http in', { url: '/hooks/readings/:device', method: 'post', upload: false, skipBodyParsing: false, swaggerDoc: '' }, [['reading']]);
    change('reading', [set('payload', '{"device": req.params.device, "seq": payload.seq}')], ['out', 'answer']);
    mqttOut('out', 'load/out');
    // The editor's defaults except the status: 204, no body.
    add('answer', 'http response', { statusCode: '204', headers: {} });
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

/**
 * settings.js: headless (no editor; no HTTP nodes unless `httpNodes`, then their routes on uiPort),
 * no credential encryption, telemetry and diagnostics off, plus the SUBACK and no-delay hooks.
 */
function settings({ flowFile, uiPort, mqttModule, httpNodes = false }) {
  const config = {
    flowFile, uiHost: '127.0.0.1', uiPort, httpAdminRoot: false, httpNodeRoot: httpNodes ? '/' : false, disableEditor: true,
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
// Benchmark hooks: TCP no-delay on the broker socket as mqtt.js opens it (once per connection),
// as every other process of the benchmark does; and, since Node-RED subscribes without a
// callback, each SUBACK reported on stdout (which also sets no-delay, as before).
const { MqttClient } = require(${JSON.stringify(mqttModule)});
const connect = MqttClient.prototype.connect;
MqttClient.prototype.connect = function () {
  const result = connect.apply(this, arguments);
  if (this.stream && typeof this.stream.setNoDelay === 'function') this.stream.setNoDelay(true);
  return result;
};
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
 * acknowledged the load/in subscription. The http system also takes `apiUrl` (the API's origin)
 * and returns `env` ({ API_URL }), the environment to add to the Node-RED process's. The webhook
 * system takes `httpPort` (127.0.0.1) and is ready once the flows started, the broker connection
 * is up and the HTTP server listens.
 */
export async function nodeRedSystem({ redJs, dir, system, qos, url, apiUrl, httpPort }) {
  if (!SYSTEMS.includes(system)) throw new Error(`node-red: unknown system ${system} (${SYSTEMS.join(', ')})`);
  if (system === 'http' && apiUrl === undefined) throw new Error('node-red: the http system needs apiUrl');
  if (system === 'webhook' && httpPort === undefined) throw new Error('node-red: the webhook system needs httpPort');
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
  const webhook = system === 'webhook';
  writeFileSync(settingsFile, settings({ flowFile, uiPort: webhook ? httpPort : await freePort(), mqttModule: requireNodes.resolve('mqtt'), httpNodes: webhook }));
  const connected = `Connected to broker: ${clientid}@`;
  const listening = webhook ? 'Server now running at' : 'mqflow-bench: subscribed load/in qos';
  return {
    args: [resolve(redJs), '--userDir', absDir, '--settings', settingsFile, flowFile],
    ...(system === 'http' ? { env: { API_URL: apiUrl } } : {}),
    ready: (stdout) => stdout.includes('Started flows') && stdout.includes(connected) && stdout.includes(listening),
  };
}
