/**
 * The disk and Redis store modules, loaded only when a flow declares such a store: lmdb and
 * ioredis add ~27 MB to the process (12.6 MB and 14.7 MB measured on Node 20), which a flow
 * without them should not carry. The engine loads them before it opens a version's stores.
 */
import type * as DiskStoreModule from '../state/disk-store.js';
import type * as RedisStoreModule from '../state/redis-store.js';

let disk: typeof DiskStoreModule | undefined;
let redis: typeof RedisStoreModule | undefined;

/** Loads the modules the stores of a flow version need (once). */
export async function loadStoreDrivers(stores: Iterable<{ readonly type: string }>): Promise<void> {
  for (const { type } of stores) {
    if (type === 'disk') disk ??= await import('../state/disk-store.js');
    if (type === 'redis') redis ??= await import('../state/redis-store.js');
  }
}

export function diskDriver(): typeof DiskStoreModule {
  if (disk === undefined) throw new Error('the disk store module is not loaded (loadStoreDrivers was not called: a bug in mqflow)');
  return disk;
}

export function redisDriver(): typeof RedisStoreModule {
  if (redis === undefined) throw new Error('the redis store module is not loaded (loadStoreDrivers was not called: a bug in mqflow)');
  return redis;
}
