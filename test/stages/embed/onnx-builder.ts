/**
 * Tiny ONNX towers for tests, written with protobufjs and a hand-written subset of onnx.proto (field
 * numbers as in onnx.proto3). They have the same input/output signatures as the real exports, so the
 * real stage code (IO checks, batching, normalisation) runs against them:
 *
 *   text:   input_ids int64 [batch, S] → Cast → MatMul W[S, D] (+ bias) → text_embeds [batch, D]
 *   vision: pixel_values f32 [batch, 3, H, W] → GlobalAveragePool → Flatten → MatMul W[3, D] → image_embeds
 */
import { writeFileSync } from 'node:fs';
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package onnx;
message AttributeProto { string name = 1; float f = 2; int64 i = 3; bytes s = 4; repeated int64 ints = 8; int32 type = 20; }
message ValueInfoProto { string name = 1; TypeProto type = 2; }
message NodeProto { repeated string input = 1; repeated string output = 2; string name = 3; string op_type = 4; repeated AttributeProto attribute = 5; }
message TensorProto { repeated int64 dims = 1; int32 data_type = 2; repeated float float_data = 4; string name = 8; }
message TensorShapeProto { message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } } repeated Dimension dim = 1; }
message TypeProto { message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; } oneof value { Tensor tensor_type = 1; } }
message GraphProto { repeated NodeProto node = 1; string name = 2; repeated TensorProto initializer = 5; repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12; }
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message ModelProto { int64 ir_version = 1; string producer_name = 2; GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8; }
`;
const Model = protobuf.parse(PROTO).root.lookupType('onnx.ModelProto');

const FLOAT = 1;
const INT32 = 6;
const INT64 = 7;
type Dim = number | string;

function valueInfo(name: string, elemType: number, dims: Dim[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function weights(rows: number, cols: number, seed: number): number[] {
  const w: number[] = [];
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) w.push(Math.sin(seed + r * 1.7 + c * 0.9) * (1 + (c % 3)));
  return w;
}

function encode(graph: object): Uint8Array {
  return Model.encode(
    Model.fromObject({
      irVersion: 8,
      producerName: 'pefuse-test',
      opsetImport: [{ domain: '', version: 17 }],
      graph,
    }),
  ).finish();
}

export interface TextTowerOpts {
  context: number;
  dim: number;
  inputName?: string;
  outputName?: string;
  /** Declared input length (default: `context`; a string makes it symbolic). */
  declaredLength?: Dim;
  idType?: 'int64' | 'int32';
  extraInput?: string;
  /** Declared output width (default: `dim`). */
  declaredDim?: Dim;
}

export function textTower(o: TextTowerOpts): Uint8Array {
  const inName = o.inputName ?? 'input_ids';
  const outName = o.outputName ?? 'text_embeds';
  const inputs = [
    valueInfo(inName, o.idType === 'int32' ? INT32 : INT64, ['batch', o.declaredLength ?? o.context]),
  ];
  const nodes: object[] = [
    { opType: 'Cast', input: [inName], output: ['xf'], attribute: [{ name: 'to', type: 2, i: FLOAT }] },
    // Scale ids down so the sums stay well-conditioned.
    { opType: 'Mul', input: ['xf', 'scale'], output: ['xs'] },
    { opType: 'MatMul', input: ['xs', 'W'], output: ['y'] },
    { opType: 'Add', input: ['y', 'b'], output: [outName] },
  ];
  if (o.extraInput) inputs.push(valueInfo(o.extraInput, INT64, ['batch', o.context]));
  return encode({
    name: 'text',
    node: nodes,
    initializer: [
      { name: 'W', dims: [o.context, o.dim], dataType: FLOAT, floatData: weights(o.context, o.dim, 1) },
      { name: 'b', dims: [o.dim], dataType: FLOAT, floatData: weights(1, o.dim, 5) },
      { name: 'scale', dims: [], dataType: FLOAT, floatData: [1 / 1000] },
    ],
    input: inputs,
    output: [valueInfo(outName, FLOAT, ['batch', o.declaredDim ?? o.dim])],
  });
}

export interface VisionTowerOpts {
  size: number;
  dim: number;
  inputName?: string;
  outputName?: string;
  declaredSize?: Dim;
}

export function visionTower(o: VisionTowerOpts): Uint8Array {
  const inName = o.inputName ?? 'pixel_values';
  const outName = o.outputName ?? 'image_embeds';
  const s = o.declaredSize ?? o.size;
  return encode({
    name: 'vision',
    node: [
      { opType: 'GlobalAveragePool', input: [inName], output: ['p'] },
      { opType: 'Flatten', input: ['p'], output: ['f'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
      { opType: 'MatMul', input: ['f', 'W'], output: ['y'] },
      { opType: 'Add', input: ['y', 'b'], output: [outName] },
    ],
    initializer: [
      { name: 'W', dims: [3, o.dim], dataType: FLOAT, floatData: weights(3, o.dim, 2) },
      { name: 'b', dims: [o.dim], dataType: FLOAT, floatData: weights(1, o.dim, 7) },
    ],
    input: [valueInfo(inName, FLOAT, ['batch', 3, s, s])],
    output: [valueInfo(outName, FLOAT, ['batch', o.dim])],
  });
}

export function writeModel(path: string, bytes: Uint8Array): void {
  writeFileSync(path, bytes);
}
