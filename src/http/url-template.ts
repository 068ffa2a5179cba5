/**
 * Where an HTTP request may go (docs/architecture.md, invariant 45): the scheme, host and port of a
 * URL are fixed when the flow is loaded; a message only fills path segments and query values, and
 * each value is percent-encoded, so no payload can choose the server or climb out of the path.
 */
import type { Template, TemplatePart } from '../expr/template.js';

/** The fixed origin of a URL template, and where its path starts in the source. */
export interface UrlShape {
  /** `https://api.example.com:8443` */
  readonly origin: string;
  readonly protocol: 'http:' | 'https:';
  /** The host as the Host header and metrics name it (`api.example.com:8443`). */
  readonly host: string;
  /** Offset of the path (its first `/`) in the template's source. */
  readonly pathOffset: number;
  /** Offset of the literal `?` that starts the query, or -1. */
  readonly queryOffset: number;
}

const ORIGIN = /^(https?):\/\/([^/?#{}\s]+)/i;

/**
 * The shape of a URL template, or why it is refused: the text up to the first `/` of the path must
 * be literal (`{{ }}` only after it), http or https, with no user name or password in it.
 */
export function urlShape(template: Template): UrlShape | { problem: string; hint: string } {
  const first = template.parts[0];
  const prefix = template.literal ?? (first !== undefined && !first.isExpression ? first.text : '');
  const match = ORIGIN.exec(prefix);
  if (match === null) {
    return /^\s*https?:\/\//i.test(template.source) || prefix === ''
      ? { problem: 'its scheme, host and port must be written out: a {{ }} part may fill only the path and the query', hint: 'write the host literally (or take it from ${env:NAME}), e.g. https://api.example.com/devices/{{ device }}' }
      : { problem: 'it must start with http:// or https://', hint: 'e.g. https://api.example.com/devices/{{ device }}' };
  }
  const authority = match[2]!;
  if (authority.includes('@')) return { problem: 'a user name or password does not belong in the URL, where logs would show it', hint: 'use auth: with ${env:NAME} or ${file:path}' };
  const rest = prefix.slice(match[0].length);
  if (template.literal === undefined && !rest.startsWith('/') && !rest.startsWith('?')) {
    return { problem: 'a / must follow the host before the first {{ }} part, so that no value can change the host or port', hint: `e.g. ${match[0]}/{{ … }}` };
  }
  let parsed: URL;
  try {
    parsed = new URL(`${match[1]!.toLowerCase()}://${authority}/`);
  } catch {
    return { problem: `"${authority}" is not a valid host[:port]`, hint: 'e.g. https://api.example.com:8443/path' };
  }
  if (template.source.includes('#')) return { problem: 'a URL fragment (#…) is never sent to the server', hint: 'remove the # part' };
  const queryAt = literalIndex(template.parts, '?');
  return { origin: parsed.origin, protocol: parsed.protocol as 'http:' | 'https:', host: parsed.host, pathOffset: match[0].length, queryOffset: queryAt };
}

/** The offset in the source of the first `c` in a literal part, or -1. */
function literalIndex(parts: readonly TemplatePart[], c: string): number {
  for (const part of parts) {
    if (part.isExpression) continue;
    const at = part.text.indexOf(c);
    if (at !== -1) return part.offset + at;
  }
  return -1;
}

/** A value a `{{ }}` part may not fill a path segment with. */
export class UrlValueError extends Error {}

/**
 * The template rendering each `{{ }}` value percent-encoded: a `/`, `?`, `#` or `..` in a value
 * becomes data, never structure. A value that is all dots (`.`, `..`) is refused in the path: the
 * server would read it as a step up.
 */
export function encodedUrl(template: Template, shape: UrlShape): Template {
  return template.checked((text, part) => {
    const inQuery = shape.queryOffset !== -1 && part.offset > shape.queryOffset;
    if (!inQuery && /^\.+$/.test(text)) throw new UrlValueError(`a path value may not be ${JSON.stringify(text)}`);
    return encodeURIComponent(text);
  });
}
