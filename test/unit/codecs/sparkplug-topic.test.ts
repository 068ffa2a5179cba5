import { describe, expect, it } from 'vitest';
import { parseSparkplugTopic, sparkplugTopicProblem } from '../../../src/codecs/sparkplug/topic.js';

describe('Sparkplug B topics', () => {
  it('reads every edge node message type', () => {
    for (const type of ['NBIRTH', 'NDATA', 'NDEATH', 'NCMD'] as const) {
      expect(parseSparkplugTopic(`spBv1.0/Plant 1/${type}/edge-7`)).toEqual({ namespace: 'spBv1.0', group: 'Plant 1', type, edgeNode: 'edge-7' });
      expect(sparkplugTopicProblem(`spBv1.0/Plant 1/${type}/edge-7`)).toBeUndefined();
    }
  });

  it('reads every device message type, with the device', () => {
    for (const type of ['DBIRTH', 'DDATA', 'DDEATH', 'DCMD'] as const) {
      expect(parseSparkplugTopic(`spBv1.0/g/${type}/e/pump-2`)).toEqual({ namespace: 'spBv1.0', group: 'g', type, edgeNode: 'e', device: 'pump-2' });
    }
  });

  it('reads host STATE in the 3.0 form and the 2.x form', () => {
    expect(parseSparkplugTopic('spBv1.0/STATE/scada-1')).toEqual({ namespace: 'spBv1.0', type: 'STATE', hostId: 'scada-1' });
    expect(parseSparkplugTopic('STATE/scada-1')).toEqual({ namespace: null, type: 'STATE', hostId: 'scada-1' });
  });

  it('takes a group named STATE as a group when a message type follows', () => {
    expect(parseSparkplugTopic('spBv1.0/STATE/NDATA/e')).toEqual({ namespace: 'spBv1.0', group: 'STATE', type: 'NDATA', edgeNode: 'e' });
  });

  it.each([
    ['spAv1.0/g/NDATA/e', 'it does not start with spBv1.0/ (the Sparkplug B namespace)'],
    ['', 'it does not start with spBv1.0/ (the Sparkplug B namespace)'],
    ['spBv1.0/g/NDATA', 'it has 3 levels; Sparkplug B topics are spBv1.0/<group>/<type>/<edge node>[/<device>]'],
    ['spBv1.0/g/DDATA/e/d/x', 'it has 6 levels; Sparkplug B topics are spBv1.0/<group>/<type>/<edge node>[/<device>]'],
    ['spBv1.0/g/XDATA/e', "'XDATA' is not a Sparkplug B message type (NBIRTH, NDATA, NDEATH, NCMD, DBIRTH, DDATA, DDEATH, DCMD or STATE)"],
    ['spBv1.0/g/ndata/e', "'ndata' is not a Sparkplug B message type (NBIRTH, NDATA, NDEATH, NCMD, DBIRTH, DDATA, DDEATH, DCMD or STATE)"],
    ['spBv1.0/g/DDATA/e', 'a DDATA topic names a device: spBv1.0/<group>/DDATA/<edge node>/<device>'],
    ['spBv1.0/g/NDATA/e/d', 'an NDATA topic has no device level: spBv1.0/<group>/NDATA/<edge node>'],
    ['spBv1.0//NDATA/e', 'the group id is empty'],
    ['spBv1.0/g/NDATA/', 'the edge node id is empty'],
    ['spBv1.0/g/DDATA/e/', 'the device id is empty'],
    ['spBv1.0/+/NDATA/e', "the group id contains '+'"],
    ['spBv1.0/g/DDATA/e/#', "the device id contains '#'"],
    ['spBv1.0/STATE/', 'the host id is empty'],
    ['spBv1.0/STATE/h/x', 'a STATE topic is spBv1.0/STATE/<host id>'],
    ['STATE/h/x', 'a STATE topic is STATE/<host id>'],
  ])('explains why %j is not a Sparkplug B topic', (topic, problem) => {
    expect(parseSparkplugTopic(topic)).toBeUndefined();
    expect(sparkplugTopicProblem(topic)).toBe(problem);
  });
});
