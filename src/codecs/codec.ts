/**
 * Payload codecs: how a message's bytes become the value a service works on, and how a value
 * becomes bytes again. A trigger's `payload:` names the decoding, a publish step's `codec:` the
 * encoding (docs/codecs.md). Codecs are pure: what a codec keeps between messages (Sparkplug's
 * alias tables) lives outside them, in ./sparkplug/session.ts.
 */

/** A codec as a trigger or publish step uses it, compiled once at load. */
export interface PayloadCodec {
  /** How `mqflow validate --explain` and logs name it, e.g. `protobuf acme.Telemetry`. */
  readonly label: string;
  /** What it was compiled from (a digest of its .proto files): a changed file makes a changed codec, and a reload. */
  readonly source?: string;
  /**
   * The value for the service: plain JSON data (objects, arrays, strings, finite numbers,
   * booleans, null) that JSONata can read. Throws MessageFailure (code MQFLOW_PAYLOAD_<CODEC>)
   * for bytes the codec cannot read.
   */
  decode(bytes: Buffer): unknown;
  /** The bytes for a value; throws MessageFailure (code MQFLOW_ENCODE_<CODEC>) for a value that does not fit. */
  encode(value: unknown): Buffer;
}

/** The largest integer a JSON number keeps exactly; 64-bit values beyond it are decimal strings. */
export const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/** A 64-bit integer as JSON keeps it exact: a number when it fits, else its decimal string. */
export function exactInteger(value: bigint): number | string {
  return value <= MAX_EXACT && value >= -MAX_EXACT ? Number(value) : value.toString();
}
