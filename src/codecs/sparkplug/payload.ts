/**
 * Sparkplug B payloads ⇄ the JSON a service works on. The JSON form:
 *
 *   { timestamp?: number, seq?: number, uuid?: string, body?: string (base64),
 *     metrics: [ { name?: string, alias?: number, timestamp?: number,
 *                  datatype?: 'Int32' | 'Double' | … (the DataType name, from the metric or its alias),
 *                  value: … (per datatype; null when isNull or absent),
 *                  isHistorical?: true, isTransient?: true, isNull?: true,
 *                  properties?: { key: value, … },
 *                  metadata?: { isMultiPart?, contentType?, size?, seq?, fileName?, fileType?, md5?, description? } } ] }
 *
 * Values by datatype: Int8…UInt32, Float, Double → number; Int64, UInt64, DateTime (ms since 1970)
 * → number, or a decimal string beyond ±(2^53−1) (so do aliases and timestamps); Boolean; String,
 * Text, UUID → string; Bytes, File → base64 string; Int8Array…DateTimeArray → arrays of the same;
 * NaN/±Infinity → 'NaN', 'Infinity', '-Infinity';
 * DataSet → { columns: [name, …], types: ['Int32', …], rows: [[value, …], …] };
 * Template → { version?, templateRef?, isDefinition?, metrics: [metric, …], parameters?: [{ name, type, value }] };
 * properties: PropertySet → object, PropertySetList → array of objects, other values as above.
 * A metric sent by alias gets its name and datatype from the alias table of its BIRTH.
 *
 * writePayload reads the same form. `datatype` is a name (any case) or number; without one it is
 * inferred: boolean → Boolean, string → String, integer → Int64, number → Double, {columns, rows} →
 * DataSet, {metrics} → Template. 64-bit integers beyond ±(2^53−1) must be decimal strings; a
 * DateTime may be an ISO date string. Property values are typed by their JSON: an integer is Int32
 * when it fits (the well-known Quality property is Int32), else Int64; objects are PropertySets.
 * Unknown fields are refused, except the topic fields a decoded message carries (group,
 * messageType, edgeNode, device), which are dropped so a decoded message can be published again.
 */
import { exactInteger } from '../codec.js';
import { MessageFailure } from '../../pipeline/execution.js';
import {
  checkField, DataType, datatypeName, datatypeOf, decodeValue, describeValue, encodeValue, inferDatatype, longBits, uint64,
  type DatatypeName, type JsonValue, type ValueField,
} from './datatypes.js';
import type protobuf from 'protobufjs';
import { Payload } from './schema.js';

const PAYLOAD = 'MQFLOW_PAYLOAD_SPARKPLUG';
const ENCODE = 'MQFLOW_ENCODE_SPARKPLUG';
/** Templates in templates and property sets in property sets; deeper is refused, not recursed into. */
const MAX_DEPTH = 32;

/** An alias as a table key: a number, or its decimal string beyond 2^53 (so keys stay exact). */
export type AliasKey = number | string;
export interface AliasTarget { name: string; datatype: number }

export interface SparkplugMetricJson {
  name?: string; alias?: AliasKey; timestamp?: number | string; datatype?: DatatypeName | number; value: JsonValue;
  isHistorical?: true; isTransient?: true; isNull?: true; properties?: { [key: string]: JsonValue }; metadata?: { [key: string]: JsonValue };
}
export interface SparkplugJson { timestamp?: number | string; seq?: number; uuid?: string; body?: string; metrics: SparkplugMetricJson[] }

// Messages as decoded (64-bit fields as Longs) or as toObject gives them (as decimal strings); `value` names the oneof member set.
interface PbOneof { value?: string; [member: string]: unknown }
export interface PbPropertyValue extends PbOneof { type?: number; isNull?: boolean }
export interface PbPropertySet { keys?: string[]; values?: PbPropertyValue[] }
export interface PbMetaData { isMultiPart?: boolean; contentType?: string; size?: string; seq?: string; fileName?: string; fileType?: string; md5?: string; description?: string }
interface PbMetric extends PbOneof {
  name?: string; alias?: unknown; timestamp?: unknown; datatype?: number; isHistorical?: boolean; isTransient?: boolean; isNull?: boolean;
  metadata?: PbMetaData; properties?: PbPropertySet;
}
interface PbDataSet { columns?: string[]; types?: number[]; rows?: { elements?: PbOneof[] }[] }
interface PbTemplate { version?: string; metrics?: PbMetric[]; parameters?: (PbOneof & { name?: string; type?: number })[]; templateRef?: string; isDefinition?: boolean }
interface PbPayload { timestamp?: unknown; metrics?: PbMetric[]; seq?: unknown; uuid?: string; body?: Uint8Array }

export interface RawMetric {
  name?: string; alias?: bigint; timestamp?: bigint; datatype?: number;
  isHistorical: boolean; isTransient: boolean; isNull: boolean;
  metadata?: PbMetaData; properties?: PbPropertySet;
  /** The oneof member set (intValue … bytesValue, datasetValue, templateValue) and what protobufjs read. */
  value?: { field: string; raw: unknown };
}
/** A decoded payload before alias resolution; `seq` is a number (Sparkplug keeps it 0–255). */
export interface RawPayload { timestamp?: bigint; seq?: number; uuid?: string; body?: Uint8Array; metrics: RawMetric[] }

type JsonObject = { [key: string]: JsonValue };

/** A problem inside a payload, with where it is: `metrics[2] ("Motor") > metrics[0] ("rpm")`. */
class Problem extends Error {
  readonly at: string[] = [];
}

function at(error: unknown, where: string): Problem {
  const problem = error instanceof Problem ? error : new Problem(error instanceof Error ? error.message : String(error));
  problem.at.unshift(where);
  return problem;
}

function failure(code: string, lead: string, error: unknown): MessageFailure {
  const path = error instanceof Problem ? error.at : [];
  const shown = path.length > 4 ? [...path.slice(0, 2), '…', ...path.slice(-1)] : path;
  const message = error instanceof Error ? error.message : String(error);
  return new MessageFailure(`${lead}: ${shown.length > 0 ? `${shown.join(' > ')}: ` : ''}${message}`, code, undefined, { cause: error, permanent: true });
}

const tooDeep = () => new Problem(`templates or property sets are nested more than ${MAX_DEPTH} levels deep; mqflow reads at most ${MAX_DEPTH}`);
const metricLabel = (i: number, name: unknown) => `metrics[${i}]${typeof name === 'string' ? ` (${JSON.stringify(name)})` : ''}`;
const base64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const has = (message: object, key: string): boolean => Object.prototype.hasOwnProperty.call(message, key);
/** A 64-bit field (a Long as decoded, a string in a nested message made plain) as a bigint, or undefined when absent. */
const big = (message: object, key: string): bigint | undefined => (has(message, key) ? uint64((message as Record<string, unknown>)[key]) : undefined);

/**
 * The metrics of a payload are read from the decoded message itself (its 64-bit fields are Longs,
 * its optional fields own properties only when present): toObject for the whole payload cost ~10
 * times the decode (bench/codecs.js). The rarer nested messages are made plain with toObject.
 */
const PLAIN = { longs: String, oneofs: true };
const NESTED = { metadata: Payload.lookupType('MetaData'), properties: Payload.lookupType('PropertySet'), datasetValue: Payload.lookupType('DataSet'), templateValue: Payload.lookupType('Template') };
function plain<T>(type: protobuf.Type, value: unknown): T {
  return (Object.getPrototypeOf(value) === Object.prototype ? value : type.toObject(value as protobuf.Message, PLAIN)) as T;
}

export function readPayload(bytes: Buffer): RawPayload {
  let pb: PbPayload;
  try {
    pb = Payload.decode(bytes) as unknown as PbPayload;
  } catch (error) {
    throw failure(PAYLOAD, 'the payload is not a Sparkplug B protobuf', error);
  }
  const raw: RawPayload = { metrics: (pb.metrics ?? []).map(rawMetric) };
  const timestamp = big(pb, 'timestamp');
  if (timestamp !== undefined) raw.timestamp = timestamp;
  const seq = big(pb, 'seq');
  if (seq !== undefined) raw.seq = Number(seq);
  if (has(pb, 'uuid')) raw.uuid = pb.uuid;
  if (has(pb, 'body')) raw.body = pb.body;
  return raw;
}

/** A metric as decoded, or as toObject made it (a template's metrics). */
function rawMetric(pb: PbMetric): RawMetric {
  const field = pb.value;
  let raw = field === undefined ? undefined : pb[field];
  if (field === 'datasetValue' || field === 'templateValue') raw = plain(NESTED[field], raw);
  return {
    name: has(pb, 'name') ? pb.name : undefined, alias: big(pb, 'alias'), timestamp: big(pb, 'timestamp'), datatype: has(pb, 'datatype') ? pb.datatype : undefined,
    isHistorical: pb.isHistorical === true, isTransient: pb.isTransient === true, isNull: pb.isNull === true,
    metadata: has(pb, 'metadata') ? plain(NESTED.metadata, pb.metadata) : undefined, properties: has(pb, 'properties') ? plain(NESTED.properties, pb.properties) : undefined,
    value: field === undefined ? undefined : { field, raw },
  };
}

interface Aliases { resolve(alias: AliasKey): AliasTarget | undefined; unknown: Set<AliasKey> }

/** The JSON form of `raw`, naming aliased metrics through `resolve` (the BIRTH's alias table). */
export function toJson(raw: RawPayload, resolve: (alias: AliasKey) => AliasTarget | undefined): { value: SparkplugJson; unknownAliases: AliasKey[] } {
  const aliases: Aliases = { resolve, unknown: new Set() };
  try {
    const out: JsonObject = {};
    if (raw.timestamp !== undefined) out.timestamp = exactInteger(raw.timestamp);
    if (raw.seq !== undefined) out.seq = raw.seq;
    if (raw.uuid !== undefined) out.uuid = raw.uuid;
    if (raw.body !== undefined) out.body = base64(raw.body);
    out.metrics = metricsJson(raw.metrics, aliases, 0);
    return { value: out as unknown as SparkplugJson, unknownAliases: [...aliases.unknown] };
  } catch (error) {
    throw failure(PAYLOAD, 'the Sparkplug B payload cannot be read', error);
  }
}

function metricsJson(metrics: RawMetric[], aliases: Aliases | undefined, depth: number): JsonValue[] {
  const out = new Array<JsonValue>(metrics.length);
  for (let i = 0; i < metrics.length; i++) {
    try {
      out[i] = metricJson(metrics[i]!, aliases, depth);
    } catch (error) {
      throw at(error, metricLabel(i, metrics[i]!.name));
    }
  }
  return out;
}

function metricJson(m: RawMetric, aliases: Aliases | undefined, depth: number): JsonObject {
  let name = m.name;
  let datatype = m.datatype || undefined; // 0 is Unknown: the alias table may know better
  const alias = m.alias === undefined ? undefined : exactInteger(m.alias);
  if (alias !== undefined && aliases !== undefined && (name === undefined || datatype === undefined)) {
    const target = aliases.resolve(alias);
    if (target !== undefined) {
      name ??= target.name;
      datatype ??= target.datatype || undefined;
    } else if (name === undefined) aliases.unknown.add(alias);
  }
  const out: JsonObject = {};
  if (name !== undefined) out.name = name;
  if (alias !== undefined) out.alias = alias;
  if (m.timestamp !== undefined) out.timestamp = exactInteger(m.timestamp);
  if (datatype !== undefined) out.datatype = datatypeName(datatype) ?? datatype;
  out.value = m.isNull || m.value === undefined ? null : valueJson(datatype, m.value.field, m.value.raw, depth);
  if (m.isHistorical) out.isHistorical = true;
  if (m.isTransient) out.isTransient = true;
  if (m.isNull) out.isNull = true;
  if (m.properties !== undefined) out.properties = propertySetJson(m.properties, depth + 1);
  if (m.metadata !== undefined) out.metadata = metadataJson(m.metadata);
  return out;
}

/** Any oneof's value as JSON: `datatype` (when known) must match the member it is in. */
function valueJson(datatype: number | undefined, field: string, raw: unknown, depth: number): JsonValue {
  const known = datatype !== undefined && datatype > 0 && datatypeName(datatype) !== undefined ? datatype : undefined;
  if (known !== undefined) checkField(known, field);
  switch (field) {
    case 'datasetValue': return dataSetJson(raw as PbDataSet, depth);
    case 'templateValue': return templateJson(raw as PbTemplate, depth + 1);
    case 'propertysetValue': return propertySetJson(raw as PbPropertySet, depth + 1);
    case 'propertysetsValue': return ((raw as { propertyset?: PbPropertySet[] }).propertyset ?? []).map((set) => propertySetJson(set, depth + 1));
    default: return decodeValue(known, field as ValueField, raw);
  }
}

function dataSetJson(ds: PbDataSet, depth: number): JsonValue {
  const types = ds.types ?? [];
  // Rows keep the elements they carry (no padding to the column count: output stays as big as input).
  const rows = (ds.rows ?? []).map((row, r) => (row.elements ?? []).map((element, c) => {
    try {
      return element.value === undefined ? null : valueJson(types[c], element.value, element[element.value], depth);
    } catch (error) {
      throw at(error, `row ${r} column ${c}`);
    }
  }));
  return { columns: ds.columns ?? [], types: types.map((t) => datatypeName(t) ?? t), rows };
}

function templateJson(t: PbTemplate, depth: number): JsonValue {
  if (depth > MAX_DEPTH) throw tooDeep();
  const out: JsonObject = {};
  if (t.version !== undefined) out.version = t.version;
  if (t.templateRef !== undefined) out.templateRef = t.templateRef;
  if (t.isDefinition !== undefined) out.isDefinition = t.isDefinition;
  out.metrics = metricsJson((t.metrics ?? []).map(rawMetric), undefined, depth);
  if (t.parameters !== undefined) {
    out.parameters = t.parameters.map((p, i) => {
      const param: JsonObject = {};
      if (p.name !== undefined) param.name = p.name;
      if (p.type !== undefined) param.type = datatypeName(p.type) ?? p.type;
      try {
        param.value = p.value === undefined ? null : valueJson(p.type, p.value, p[p.value], depth);
      } catch (error) {
        throw at(error, `parameters[${i}]`);
      }
      return param;
    });
  }
  return out;
}

function propertySetJson(set: PbPropertySet, depth: number): JsonObject {
  if (depth > MAX_DEPTH) throw tooDeep();
  const values = set.values ?? [];
  // fromEntries defines own properties, so a key like "__proto__" stays a plain key.
  return Object.fromEntries<JsonValue>((set.keys ?? []).map((key, i) => {
    const v = values[i];
    try {
      return [key, v === undefined || v.isNull === true || v.value === undefined ? null : valueJson(v.type, v.value, v[v.value], depth)];
    } catch (error) {
      throw at(error, `property ${JSON.stringify(key)}`);
    }
  }));
}

function metadataJson(md: PbMetaData): JsonObject {
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(md) as [string, string | boolean][]) out[key] = key === 'size' || key === 'seq' ? exactInteger(uint64(v)) : v;
  return out;
}

/** The aliases a BIRTH declares, for the alias table DATA messages are read with. */
export function birthAliases(raw: RawPayload): { alias: AliasKey; name: string; datatype: number }[] {
  const out: { alias: AliasKey; name: string; datatype: number }[] = [];
  for (const m of raw.metrics) {
    if (m.alias !== undefined && m.name !== undefined) out.push({ alias: exactInteger(m.alias), name: m.name, datatype: m.datatype ?? DataType.Unknown });
  }
  return out;
}

const SCALAR_FIELDS: ReadonlySet<string> = new Set(['intValue', 'longValue', 'floatValue', 'doubleValue', 'booleanValue', 'stringValue']);

/** The value of the `bdSeq` metric of an NBIRTH or NDEATH; undefined when it has none that is a number. */
export function bdSeqOf(raw: RawPayload): number | undefined {
  const m = raw.metrics.find((metric) => metric.name === 'bdSeq');
  if (m?.value === undefined || m.isNull || !SCALAR_FIELDS.has(m.value.field)) return undefined;
  try {
    const value = decodeValue(m.datatype || undefined, m.value.field as ValueField, m.value.raw);
    return typeof value === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}

// ---- writing --------------------------------------------------------------------------------

type PbOut = Record<string, unknown>;

const PAYLOAD_KEYS: ReadonlySet<string> = new Set(['timestamp', 'seq', 'uuid', 'body', 'metrics']);
/** What session.ts adds to a decoded message: accepted and left out, so a decoded message can be published again. */
const ENVELOPE_KEYS: ReadonlySet<string> = new Set(['group', 'messageType', 'edgeNode', 'device']);
const METRIC_KEYS: ReadonlySet<string> = new Set(['name', 'alias', 'timestamp', 'datatype', 'value', 'isHistorical', 'isTransient', 'isNull', 'properties', 'metadata']);
const TEMPLATE_KEYS: ReadonlySet<string> = new Set(['version', 'templateRef', 'isDefinition', 'metrics', 'parameters']);
const DATASET_KEYS: ReadonlySet<string> = new Set(['columns', 'types', 'rows']);
const PARAMETER_KEYS: ReadonlySet<string> = new Set(['name', 'type', 'value']);
const METADATA_KINDS = new Map([['isMultiPart', 'boolean'], ['contentType', 'string'], ['size', 'uint64'], ['seq', 'uint64'], ['fileName', 'string'], ['fileType', 'string'], ['md5', 'string'], ['description', 'string']]);

/** The protobuf bytes of a payload in the JSON form; `defaults` fill in a missing seq and timestamp. */
export function writePayload(json: unknown, defaults: { seq?: number; timestamp?: number }): Buffer {
  try {
    const bytes = Payload.encode(payloadPb(json, defaults)).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (error) {
    throw failure(ENCODE, 'cannot encode a Sparkplug B payload', error);
  }
}

function payloadPb(json: unknown, defaults: { seq?: number; timestamp?: number }): PbOut {
  const o = asObject(json, 'a Sparkplug B payload');
  for (const key of Object.keys(o)) {
    if (!PAYLOAD_KEYS.has(key) && !ENVELOPE_KEYS.has(key)) throw new Problem(`unknown field '${key}': a Sparkplug B payload has metrics, timestamp, seq, uuid and body`);
  }
  const out: PbOut = {};
  const timestamp = o.timestamp ?? defaults.timestamp;
  const seq = o.seq ?? defaults.seq;
  if (timestamp !== undefined) out.timestamp = wire('timestamp', DataType.UInt64, timestamp);
  if (seq !== undefined) out.seq = wire('seq', DataType.UInt64, seq);
  if (o.uuid != null) out.uuid = asString(o.uuid, 'uuid');
  if (o.body != null) out.body = wire('body', DataType.Bytes, o.body);
  out.metrics = metricsPb(o.metrics ?? [], 0);
  return out;
}

function metricsPb(metrics: unknown, depth: number): PbOut[] {
  return asArray(metrics, 'metrics').map((m, i) => {
    try {
      return metricPb(m, depth);
    } catch (error) {
      throw at(error, metricLabel(i, (m as { name?: unknown } | null)?.name));
    }
  });
}

function metricPb(metric: unknown, depth: number): PbOut {
  const m = asObject(metric, 'a metric');
  checkKeys(m, METRIC_KEYS, 'a metric');
  const out: PbOut = {};
  if (m.name != null) out.name = asString(m.name, 'name');
  if (m.alias != null) out.alias = wire('alias', DataType.UInt64, m.alias);
  if (out.name === undefined && out.alias === undefined) throw new Problem('a metric needs a name or an alias');
  if (m.timestamp != null) out.timestamp = wire('timestamp', DataType.UInt64, m.timestamp);
  for (const flag of ['isHistorical', 'isTransient', 'isNull'] as const) if (m[flag] != null) out[flag] = asBoolean(m[flag], flag);
  const isNull = m.isNull === true || m.value === null;
  if (m.isNull === true && m.value != null) throw new Problem(`isNull is true but value is ${describeValue(m.value)}`);
  const datatype = m.datatype != null ? knownDatatype(m.datatype) : isNull || m.value === undefined ? undefined : inferDatatype(m.value);
  if (datatype !== undefined) out.datatype = datatype;
  if (isNull) out.isNull = true;
  else if (m.value !== undefined) Object.assign(out, valuePb(datatype!, m.value, depth));
  if (m.properties != null) out.properties = propertySetPb(m.properties, depth + 1);
  if (m.metadata != null) out.metadata = metadataPb(m.metadata);
  return out;
}

function valuePb(datatype: number, value: unknown, depth: number): PbOut {
  if (datatype === DataType.DataSet) return { datasetValue: dataSetPb(value) };
  if (datatype === DataType.Template) return { templateValue: templatePb(value, depth + 1) };
  const wired = encodeValue(datatype, value);
  return { [wired.field]: wired.value };
}

/** DataSet columns and template parameters hold only the scalar types (Int8 … UUID). */
function scalarType(given: unknown, what: string): number {
  const datatype = knownDatatype(given);
  if (datatype < DataType.Int8 || datatype > DataType.UUID) throw new Problem(`${what} cannot be ${datatypeName(datatype)}: only Int8 … UUID (no Bytes, arrays, DataSet or Template)`);
  return datatype;
}

function dataSetPb(value: unknown): PbOut {
  const d = asObject(value, 'a DataSet');
  checkKeys(d, DATASET_KEYS, 'a DataSet');
  const columns = asArray(d.columns, 'columns').map((c, i) => asString(c, `columns[${i}]`));
  const rows = asArray(d.rows ?? [], 'rows').map((r, i) => {
    const row = asArray(r, `rows[${i}]`);
    if (row.length !== columns.length) throw new Problem(`rows[${i}] has ${row.length} values for ${columns.length} columns`);
    return row;
  });
  const types = d.types != null
    ? asArray(d.types, 'types').map((t, i) => scalarType(t, `types[${i}]`))
    : columns.map((name, c) => {
      const sample = rows.find((row) => row[c] != null)?.[c];
      if (sample === undefined) throw new Problem(`column '${name}' has no value to infer its type from; give the DataSet types`);
      return scalarType(inferDatatype(sample), `column '${name}'`);
    });
  if (types.length !== columns.length) throw new Problem(`a DataSet has ${columns.length} columns but ${types.length} types`);
  return {
    numOfColumns: longBits(BigInt(columns.length)), columns, types,
    rows: rows.map((row, r) => ({ elements: row.map((v, c) => (v == null ? {} : wire(`rows[${r}][${c}]`, types[c]!, v, true))) })),
  };
}

function templatePb(value: unknown, depth: number): PbOut {
  if (depth > MAX_DEPTH) throw tooDeep();
  const t = asObject(value, 'a Template');
  checkKeys(t, TEMPLATE_KEYS, 'a Template');
  const out: PbOut = {};
  if (t.version != null) out.version = asString(t.version, 'version');
  if (t.templateRef != null) out.templateRef = asString(t.templateRef, 'templateRef');
  if (t.isDefinition != null) out.isDefinition = asBoolean(t.isDefinition, 'isDefinition');
  out.metrics = metricsPb(t.metrics ?? [], depth);
  if (t.parameters != null) out.parameters = asArray(t.parameters, 'parameters').map((p, i) => {
    try {
      const o = asObject(p, 'a template parameter');
      checkKeys(o, PARAMETER_KEYS, 'a template parameter');
      const param: PbOut = { name: asString(o.name, 'name') };
      const type = o.type != null ? scalarType(o.type, 'type') : o.value != null ? scalarType(inferDatatype(o.value), 'type') : undefined;
      if (type !== undefined) param.type = type;
      return o.value == null ? param : { ...param, ...valuePb(type!, o.value, depth) };
    } catch (error) {
      throw at(error, `parameters[${i}]`);
    }
  });
  return out;
}

function propertySetPb(value: unknown, depth: number): PbOut {
  if (depth > MAX_DEPTH) throw tooDeep();
  const o = asObject(value, 'a property set');
  const keys = Object.keys(o);
  return { keys, values: keys.map((key) => {
    try {
      return propertyValuePb(o[key], depth);
    } catch (error) {
      throw at(error, `property ${JSON.stringify(key)}`);
    }
  }) };
}

function propertyValuePb(v: unknown, depth: number): PbOut {
  if (v == null) return { type: DataType.String, isNull: true }; // JSON null has no type; String is the plainest
  if (Array.isArray(v)) return { type: DataType.PropertySetList, propertysetsValue: { propertyset: v.map((set) => propertySetPb(set, depth + 1)) } };
  if (typeof v === 'object') return { type: DataType.PropertySet, propertysetValue: propertySetPb(v, depth + 1) };
  const type = Number.isInteger(v) && Math.abs(v as number) < 2 ** 31 ? DataType.Int32 : inferDatatype(v);
  const wired = encodeValue(type, v);
  return { type, [wired.field]: wired.value };
}

function metadataPb(value: unknown): PbOut {
  const out: PbOut = {};
  for (const [key, v] of Object.entries(asObject(value, 'metadata'))) {
    const kind = METADATA_KINDS.get(key);
    if (kind === undefined) throw new Problem(`unknown metadata field '${key}': metadata has ${[...METADATA_KINDS.keys()].join(', ')}`);
    out[key] = kind === 'uint64' ? wire(`metadata.${key}`, DataType.UInt64, v) : kind === 'boolean' ? asBoolean(v, `metadata.${key}`) : asString(v, `metadata.${key}`);
  }
  return out;
}

/** encodeValue with `where` in its error; `member` gives `{ [field]: value }` rather than the value. */
function wire(where: string, datatype: number, value: unknown, member = false): unknown {
  try {
    const wired = encodeValue(datatype, value);
    return member ? { [wired.field]: wired.value } : wired.value;
  } catch (error) {
    throw at(error, where);
  }
}

function knownDatatype(given: unknown): number {
  const datatype = datatypeOf(given);
  if (datatype === undefined) throw new Problem(`unknown datatype ${describeValue(given)}: use a Sparkplug B DataType name (Int32, Double, String, DataSet, …) or number 0–34`);
  return datatype;
}

function checkKeys(o: Record<string, unknown>, allowed: ReadonlySet<string>, what: string): void {
  for (const key of Object.keys(o)) if (!allowed.has(key)) throw new Problem(`unknown field '${key}': ${what} has ${[...allowed].join(', ')}`);
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new Problem(`${what} must be an object, not ${describeValue(value)}`);
}

function asArray(value: unknown, what: string): unknown[] {
  if (Array.isArray(value)) return value;
  throw new Problem(`${what} must be an array, not ${describeValue(value)}`);
}

function asString(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  throw new Problem(`${what} must be a string, not ${describeValue(value)}`);
}

function asBoolean(value: unknown, what: string): boolean {
  if (typeof value === 'boolean') return value;
  throw new Problem(`${what} must be true or false, not ${describeValue(value)}`);
}
