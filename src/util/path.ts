/** Paths into a flow document: segments, their JSON Pointer form (as ajv reports them) and the dotted form users read. */

export type PathSegment = string | number;
export type ValuePath = readonly PathSegment[];

const SIMPLE_KEY = /^[A-Za-z0-9_$-]+$/;

/** `triggers.temp-in.topic[1]`; keys that are not simple names are quoted: `x["a b"]`. */
export function formatPath(path: ValuePath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (SIMPLE_KEY.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** RFC 6901 pointer, the form of ajv's `instancePath`. */
export function toPointer(path: ValuePath): string {
  return path.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** Parses an ajv `instancePath`; numeric segments become numbers only where the value there is an array. */
export function fromPointer(pointer: string, root: unknown): PathSegment[] {
  if (pointer === '') return [];
  const out: PathSegment[] = [];
  let node: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      const index = Number(key);
      out.push(index);
      node = node[index];
    } else {
      out.push(key);
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    }
  }
  return out;
}
