/**
 * The scoring graph, `Gemm(Q, G, transB=1) -> TopK(k)`, encoded as ONNX protobuf bytes by hand.
 *
 * Why by hand: the graph is two nodes with dynamic shapes, so it never changes. Writing the ~10 message
 * types of onnx.proto we need is about as long as a protobufjs schema, and it keeps protobufjs a
 * devDependency and no `.onnx` file has to ship. Field numbers are those of onnx.proto3 (ONNX 1.x).
 *
 * Inputs:  `Q` float32 [nq, d], `G` float32 [n, d], `K` int64 [1].
 * Outputs: `values` float32 [nq, k] (best first), `indices` int64 [nq, k].
 */

// ---- protobuf wire format (only what ONNX needs: varints and length-delimited fields) ----

type Bytes = number[];

function varint(out: Bytes, value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** A varint field (wire type 0): int64/int32/enum. Only non-negative values are needed (TopK uses axis=1). */
function fieldInt(out: Bytes, field: number, value: number): void {
  varint(out, field * 8);
  varint(out, value);
}

/** A length-delimited field (wire type 2): string, bytes or an embedded message. */
function fieldBytes(out: Bytes, field: number, payload: Bytes | string): void {
  const body = typeof payload === 'string' ? Array.from(new TextEncoder().encode(payload)) : payload;
  varint(out, field * 8 + 2);
  varint(out, body.length);
  for (const b of body) out.push(b);
}

function message(build: (out: Bytes) => void): Bytes {
  const out: Bytes = [];
  build(out);
  return out;
}

// ---- ONNX messages ----

const ELEM_FLOAT = 1;
const ELEM_INT64 = 7;
const ATTR_INT = 2;
const ATTR_INTS = 7;

/** ValueInfoProto{name=1, type=2}; TypeProto{tensor_type=1}; Tensor{elem_type=1, shape=2}; Dim{value=1, param=2}. */
function valueInfo(name: string, elemType: number, dims: (number | string)[]): Bytes {
  const shape = message((s) => {
    for (const d of dims)
      fieldBytes(
        s,
        1,
        message((dim) => (typeof d === 'number' ? fieldInt(dim, 1, d) : fieldBytes(dim, 2, d))),
      );
  });
  const tensorType = message((t) => {
    fieldInt(t, 1, elemType);
    fieldBytes(t, 2, shape);
  });
  return message((v) => {
    fieldBytes(v, 1, name);
    fieldBytes(
      v,
      2,
      message((t) => fieldBytes(t, 1, tensorType)),
    );
  });
}

/** AttributeProto{name=1, i=3, type=20} for an INT attribute. */
function intAttr(name: string, value: number): Bytes {
  return message((a) => {
    fieldBytes(a, 1, name);
    fieldInt(a, 3, value);
    fieldInt(a, 20, ATTR_INT);
  });
}

/** AttributeProto{name=1, ints=8, type=20} for an INTS attribute (unpacked repeated varints). */
function intsAttr(name: string, values: number[]): Bytes {
  return message((a) => {
    fieldBytes(a, 1, name);
    for (const v of values) fieldInt(a, 8, v);
    fieldInt(a, 20, ATTR_INTS);
  });
}

/** NodeProto{input=1, output=2, name=3, op_type=4, attribute=5}. */
function node(opType: string, inputs: string[], outputs: string[], attrs: Bytes[]): Bytes {
  return message((n) => {
    for (const i of inputs) fieldBytes(n, 1, i);
    for (const o of outputs) fieldBytes(n, 2, o);
    fieldBytes(n, 3, opType.toLowerCase());
    fieldBytes(n, 4, opType);
    for (const a of attrs) fieldBytes(n, 5, a);
  });
}

/** ModelProto{ir_version=1, producer_name=2, graph=7, opset_import=8} around a graph, opset 17. */
function model(graph: Bytes): Uint8Array {
  const m = message((out) => {
    fieldInt(out, 1, 8);
    fieldBytes(out, 2, 'pefuse');
    fieldBytes(out, 7, graph);
    fieldBytes(
      out,
      8,
      message((o) => {
        fieldBytes(o, 1, '');
        fieldInt(o, 2, 17);
      }),
    );
  });
  return Uint8Array.from(m);
}

/**
 * GraphProto{node=1, name=2, input=11, output=12}:
 *
 *   S = Gemm(Concat(Q, P), G, transB=1)      P: one probe row of ones, appended to the queries
 *   values, indices = TopK(S, K, axis=1)      ties come out lower index first (checked by the tests)
 *   gcheck = ReduceSum(Slice(S, [R0], [R1]))   S's probe row = the row sums of G
 *   qcheck = ReduceSumSquare(Q, axes=[1])
 *
 * Why the checks: a NaN in the gallery silently corrupts ORT's TopK (unsorted, wrong rows), so inputs
 * must be proven finite. A NaN or ±Infinity anywhere in G makes the probe row's sum non-finite, and the
 * probe costs one extra GEMM row instead of another pass over a 0.25-0.6 GB gallery (a JS scan of it
 * takes as long as the scoring). `qcheck` does the same per query row.
 */
export function scoringModelBytes(): Uint8Array {
  return model(
    message((g) => {
      fieldBytes(g, 1, node('Concat', ['Q', 'P'], ['QP'], [intAttr('axis', 0)]));
      fieldBytes(g, 1, node('Gemm', ['QP', 'G'], ['S'], [intAttr('transB', 1)]));
      fieldBytes(
        g,
        1,
        node('TopK', ['S', 'K'], ['values', 'indices'], [intAttr('axis', 1), intAttr('largest', 1)]),
      );
      fieldBytes(g, 1, node('Slice', ['S', 'R0', 'R1'], ['probe'], []));
      fieldBytes(g, 1, node('ReduceSum', ['probe'], ['gcheck'], [intAttr('keepdims', 0)]));
      fieldBytes(
        g,
        1,
        node('ReduceSumSquare', ['Q'], ['qcheck'], [intsAttr('axes', [1]), intAttr('keepdims', 0)]),
      );
      fieldBytes(g, 2, 'pefuse_score');
      fieldBytes(g, 11, valueInfo('Q', ELEM_FLOAT, ['nq', 'd']));
      fieldBytes(g, 11, valueInfo('P', ELEM_FLOAT, [1, 'd']));
      fieldBytes(g, 11, valueInfo('G', ELEM_FLOAT, ['n', 'd']));
      fieldBytes(g, 11, valueInfo('K', ELEM_INT64, [1]));
      fieldBytes(g, 11, valueInfo('R0', ELEM_INT64, [1]));
      fieldBytes(g, 11, valueInfo('R1', ELEM_INT64, [1]));
      fieldBytes(g, 12, valueInfo('values', ELEM_FLOAT, ['nq1', 'k']));
      fieldBytes(g, 12, valueInfo('indices', ELEM_INT64, ['nq1', 'k']));
      fieldBytes(g, 12, valueInfo('gcheck', ELEM_FLOAT, []));
      fieldBytes(g, 12, valueInfo('qcheck', ELEM_FLOAT, ['nq']));
    }),
  );
}
