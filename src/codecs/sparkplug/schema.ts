/**
 * The Sparkplug B payload schema (package org.eclipse.tahu.protobuf), written as a protobufjs
 * descriptor from the field table of the Sparkplug 3.0 specification, chapter 6 (Payloads).
 * Field names are camelCase as protobufjs uses them; only the numbers and wire types matter.
 * The `*_value_extension` oneof members are left out: their bytes decode as unknown fields.
 * The DataType enum lives in ./datatypes.ts, which is where its names are used.
 */
import protobuf from 'protobufjs';

const opt = (id: number, type: string) => ({ id, type });
const rep = (id: number, type: string) => ({ id, type, rule: 'repeated' });

/** The six scalar members every Sparkplug `value` oneof starts with, numbered from `first`. */
function scalars(first: number) {
  return {
    intValue: opt(first, 'uint32'),
    longValue: opt(first + 1, 'uint64'),
    floatValue: opt(first + 2, 'float'),
    doubleValue: opt(first + 3, 'double'),
    booleanValue: opt(first + 4, 'bool'),
    stringValue: opt(first + 5, 'string'),
  };
}

const oneof = (members: object) => ({ value: { oneof: Object.keys(members) } });

const parameterValue = scalars(3);
const dataSetValue = scalars(1);
const propertyValue = { ...scalars(3), propertysetValue: opt(9, 'PropertySet'), propertysetsValue: opt(10, 'PropertySetList') };
const metricValue = {
  ...scalars(10),
  bytesValue: opt(16, 'bytes'),
  datasetValue: opt(17, 'DataSet'),
  templateValue: opt(18, 'Template'),
};

const payload = {
  fields: { timestamp: opt(1, 'uint64'), metrics: rep(2, 'Metric'), seq: opt(3, 'uint64'), uuid: opt(4, 'string'), body: opt(5, 'bytes') },
  nested: {
    Template: {
      fields: {
        version: opt(1, 'string'), metrics: rep(2, 'Metric'), parameters: rep(3, 'Parameter'),
        templateRef: opt(4, 'string'), isDefinition: opt(5, 'bool'),
      },
      nested: {
        Parameter: {
          oneofs: oneof(parameterValue),
          fields: { name: opt(1, 'string'), type: opt(2, 'uint32'), ...parameterValue },
        },
      },
    },
    DataSet: {
      fields: {
        numOfColumns: opt(1, 'uint64'),
        columns: rep(2, 'string'),
        // proto2 repeated scalars are not packed; protoc-built peers write them one by one.
        types: { ...rep(3, 'uint32'), options: { packed: false } },
        rows: rep(4, 'Row'),
      },
      nested: {
        DataSetValue: { oneofs: oneof(dataSetValue), fields: dataSetValue },
        Row: { fields: { elements: rep(1, 'DataSetValue') } },
      },
    },
    PropertyValue: {
      oneofs: oneof(propertyValue),
      fields: { type: opt(1, 'uint32'), isNull: opt(2, 'bool'), ...propertyValue },
    },
    PropertySet: { fields: { keys: rep(1, 'string'), values: rep(2, 'PropertyValue') } },
    PropertySetList: { fields: { propertyset: rep(1, 'PropertySet') } },
    MetaData: {
      fields: {
        isMultiPart: opt(1, 'bool'), contentType: opt(2, 'string'), size: opt(3, 'uint64'), seq: opt(4, 'uint64'),
        fileName: opt(5, 'string'), fileType: opt(6, 'string'), md5: opt(7, 'string'), description: opt(8, 'string'),
      },
    },
    Metric: {
      oneofs: oneof(metricValue),
      fields: {
        name: opt(1, 'string'), alias: opt(2, 'uint64'), timestamp: opt(3, 'uint64'), datatype: opt(4, 'uint32'),
        isHistorical: opt(5, 'bool'), isTransient: opt(6, 'bool'), isNull: opt(7, 'bool'),
        metadata: opt(8, 'MetaData'), properties: opt(9, 'PropertySet'),
        ...metricValue,
      },
    },
  },
};

const root = protobuf.Root.fromJSON({
  nested: { org: { nested: { eclipse: { nested: { tahu: { nested: { protobuf: { nested: { Payload: payload } } } } } } } } },
});

/** org.eclipse.tahu.protobuf.Payload: decode with `Payload.decode`, encode with `Payload.encode`. */
export const Payload: protobuf.Type = root.lookupType('org.eclipse.tahu.protobuf.Payload');
