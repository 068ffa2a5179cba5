/**
 * Reads files within bounds (docs/architecture.md, invariant 34): only regular files (a link is
 * followed to its target, which must be one), of at most a given number of bytes. A FIFO,
 * `/dev/zero`, a folder or a huge file is refused with a FileLimitError that names the file, what
 * it is or its size, and the limit, instead of blocking or reading until memory runs out.
 *
 * The check is made on the opened descriptor (`fstat`), so a file swapped between a check and the
 * read cannot get past it; the file is opened non-blocking, so opening a FIFO with no writer
 * cannot hang; and at most limit + 1 bytes are read whatever the size said, so a file that grows
 * while it is read is still refused.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The most one file read for a flow folder may hold: a flow file, a `${file:…}`, a TLS certificate or key, a test file. */
export const MAX_FILE_BYTES = 1 * MiB;
/** The most the files read for one flow folder may hold together: its flow files and the files their `${file:…}` name. */
export const MAX_FOLDER_BYTES = 64 * MiB;

export type FileLimitKind = 'not-regular' | 'too-large' | 'folder-total';

/** A file not read because of a bound. `reason` and `hint` do not repeat the path, for messages that show it already. */
export class FileLimitError extends Error {
  readonly code = 'MQFLOW_FILE_LIMIT';

  constructor(
    readonly path: string,
    readonly kind: FileLimitKind,
    /** What the file is, or its size, and the limit: `it is a character device (…), not a regular file: …`. */
    readonly reason: string,
    /** What to change. */
    readonly hint: string,
    readonly limit: number,
  ) {
    super(`${path}: ${reason}; ${hint}`);
    this.name = 'FileLimitError';
  }
}

/** `1 MiB (1048576 bytes)`. */
export function describeLimit(bytes: number): string {
  const size = bytes % MiB === 0 ? `${bytes / MiB} MiB` : bytes % KiB === 0 ? `${bytes / KiB} KiB` : `${bytes} bytes`;
  return size.endsWith(' bytes') ? size : `${size} (${bytes} bytes)`;
}

// O_NONBLOCK: opening a FIFO for reading waits for a writer without it. O_NOCTTY: a terminal never becomes ours.
// Neither exists on Windows, which has no FIFOs of this kind.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

/**
 * The bytes of the regular file at `path` (a link is followed), at most `maxBytes` of them.
 * Throws FileLimitError when it is anything else or bigger; other errors (ENOENT, EACCES) as
 * `fs` throws them.
 */
export function readFileWithin(path: string, maxBytes: number = MAX_FILE_BYTES): Buffer {
  // A look before opening, so that a device or FIFO is not even opened (opening some devices does something).
  check(path, statSync(path), maxBytes);
  const fd = openSync(path, OPEN_FLAGS);
  try {
    // The check that counts: on what was opened, whatever the path names by now.
    const stats = fstatSync(fd);
    check(path, stats, maxBytes);
    let buffer = Buffer.allocUnsafe(Math.min(stats.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) break;
        // The file grew since fstat: read on, up to the limit and one byte more.
        const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, maxBytes + 1));
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > maxBytes) throw tooLarge(path, `it holds more than ${maxBytes} bytes (more than its size said when it was opened)`, maxBytes);
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/** The text (UTF-8) of the regular file at `path`, as readFileWithin reads it. */
export function readTextFileWithin(path: string, maxBytes: number = MAX_FILE_BYTES): string {
  return readFileWithin(path, maxBytes).toString('utf8');
}

/**
 * Counts the bytes read for one flow folder against MAX_FOLDER_BYTES. Once a read would pass the
 * limit, that read and every later one are refused, so which files are refused depends only on
 * their order and sizes.
 */
export class ReadBudget {
  #used = 0;
  #exhausted = false;

  constructor(readonly limit: number = MAX_FOLDER_BYTES) {}

  /** Bytes counted so far. */
  get used(): number {
    return this.#used;
  }

  /** True once a read was refused: every later one is. */
  get exhausted(): boolean {
    return this.#exhausted;
  }

  /** Counts `bytes` if they fit; false (and exhausted from now on) if they do not. */
  take(bytes: number): boolean {
    if (this.#exhausted || this.#used + bytes > this.limit) {
      this.#exhausted = true;
      return false;
    }
    this.#used += bytes;
    return true;
  }

  /** The error for a file refused because the total is reached. */
  refusal(path: string): FileLimitError {
    return new FileLimitError(
      path,
      'folder-total',
      `with it, the files read for the flow folder would total more than ${describeLimit(this.limit)}, the limit for one folder`,
      `keep the folder's flow files, and the files their \${file:…} name, under ${describeLimit(this.limit)} in all: move what is not a flow (data, generated files) out of the folder`,
      this.limit,
    );
  }
}

function check(path: string, stats: Stats, maxBytes: number): void {
  if (!stats.isFile()) {
    throw new FileLimitError(
      path,
      'not-regular',
      `${what(path, stats)}, not a regular file: only regular files of at most ${describeLimit(maxBytes)} are read`,
      'make it a regular file (a link must lead to one), or remove it',
      maxBytes,
    );
  }
  if (stats.size > maxBytes) throw tooLarge(path, `it is ${stats.size} bytes`, maxBytes);
}

function tooLarge(path: string, size: string, maxBytes: number): FileLimitError {
  return new FileLimitError(path, 'too-large', `${size}, over the limit of ${describeLimit(maxBytes)} for one file`, 'make it smaller, or split it into several files', maxBytes);
}

/** `it is a FIFO`, `it is a link to /dev/zero, a character device`. */
function what(path: string, stats: Stats): string {
  const kind = stats.isDirectory()
    ? 'a folder'
    : stats.isFIFO()
      ? 'a FIFO (named pipe)'
      : stats.isCharacterDevice()
        ? 'a character device'
        : stats.isBlockDevice()
          ? 'a block device'
          : stats.isSocket()
            ? 'a socket'
            : 'something other than a file';
  try {
    if (lstatSync(path).isSymbolicLink()) return `it is a link to ${realpathSync(path)}, ${kind}`;
  } catch {
    // Only the description suffers: the file was refused by what it is, not by this.
  }
  return `it is ${kind}`;
}
