/** The README's first command: mqflow dev runs the example flows on the embedded broker with simulated sensors. */
import { describe, expect, it } from 'vitest';
import { MqflowProcess } from '../support/runtime.js';

describe('mqflow dev', () => {
  it('runs the example flows with the embedded broker and the simulator: messages flow, poison goes to the dead letter, SIGTERM exits 0', async () => {
    const dev = new MqflowProcess(['dev', 'flows', '--port', '0', '--admin', '127.0.0.1:0', '--simulate', 'examples/sensors.yaml', '--no-pretty'], {});
    try {
      await dev.ready(['temperature-in', 'batches-in']);
      // Simulated readings go through normalize-temperature and the batch splitter.
      await dev.waitFor((l) => l.event === 'publish' && typeof l.topic === 'string' && /^plant\/(north|south)\/normalized\/[a-z0-9-]+\/temperature$/.test(l.topic));
      await dev.waitFor((l) => l.event === 'publish' && l.topic === 'plant/south/pressure/press-1');
      // The simulator's non-JSON reading fails and is dead-lettered.
      const failed = await dev.waitFor((l) => l.event === 'message-failed');
      expect(failed).toMatchObject({ trigger: 'temperature-in', topic: 'plant/north/sensors/oven-9/temperature', code: 'MQFLOW_PAYLOAD_JSON' });
      await dev.waitFor((l) => l.event === 'publish' && l.topic === 'plant/dead-letter/temperature');
      dev.kill('SIGTERM');
      expect(await dev.exited).toBe(0);
      expect(dev.lines.some((l) => l.event === 'stopped')).toBe(true);
    } finally {
      dev.kill('SIGKILL');
    }
  }, 60_000);
});
