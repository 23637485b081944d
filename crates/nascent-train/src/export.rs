//! Export of a built model: weights as safetensors, the genotype as text and JSON, and the
//! network as ONNX.
//!
//! tch cannot write ONNX, so the ONNX file is written here from the network's
//! [`Graph`]: every node of the inference pass becomes one ONNX node (or a few: attention is
//! reshapes, transposes, matrix products and a softmax), every weight and running statistic
//! an initializer under its `VarStore` name, the input is `input` `[batch, C, H, W]` (the
//! batch dimension is free) and the output `logits` `[batch, classes]`. The protobuf is
//! encoded by hand (a small writer of the ONNX messages used: `ModelProto`, `GraphProto`,
//! `NodeProto`, `AttributeProto`, `TensorProto`, `ValueInfoProto`), ONNX IR version 8,
//! opset 17. Batch normalisation is exported in inference form (running statistics), drop-
//! path as the identity, the auxiliary head not at all; a batch norm without running
//! statistics (some supernets) cannot be exported and is reported as an error.

use crate::error::{TrainError, TrainResult};
use crate::graph::{Graph, NodeOp, ParamId, Value};
use crate::metrics::{complexity, graph_of};
use crate::model::Model;
use nascent_core::Error;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// ONNX IR version written.
pub const ONNX_IR_VERSION: i64 = 8;
/// ONNX operator set written.
pub const ONNX_OPSET: i64 = 17;

fn io_err(path: &Path, e: std::io::Error) -> TrainError {
    TrainError::Core(Error::io(path, e))
}

fn data_err(path: &Path, reason: impl Into<String>) -> TrainError {
    TrainError::Core(Error::data(path, None, reason))
}

// ---------------------------------------------------------------------------------------
// Weights.

/// Saves every weight and buffer of `model` (names as in the `VarStore`) as safetensors.
pub fn save_weights(model: &Model, path: &Path) -> TrainResult<()> {
    let mut named: Vec<(String, Tensor)> = model
        .vs
        .variables()
        .into_iter()
        .map(|(k, t)| (k, t.detach().to_device(Device::Cpu).contiguous()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Tensor::write_safetensors(&named, path).map_err(|e| data_err(path, e.to_string()))
}

/// Loads weights saved by [`save_weights`] into `model`. Every weight of the model must be
/// in the file with the same shape, and the file must hold nothing else; the error names
/// the file and the first weights that are missing, unexpected or of the wrong shape.
pub fn load_weights(model: &Model, path: &Path) -> TrainResult<()> {
    if !path.exists() {
        return Err(io_err(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let file: HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .map_err(|e| data_err(path, format!("not a safetensors file: {e}")))?
        .into_iter()
        .collect();
    let vars = model.vs.variables();
    let mut problems = Vec::new();
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in &names {
        match file.get(*name) {
            None => problems.push(format!("`{name}` is missing")),
            Some(t) if t.size() != vars[*name].size() => problems.push(format!(
                "`{name}` has shape {:?}, the model needs {:?}",
                t.size(),
                vars[*name].size()
            )),
            Some(_) => {}
        }
    }
    let mut extra: Vec<&String> = file.keys().filter(|k| !vars.contains_key(*k)).collect();
    extra.sort();
    for k in extra {
        problems.push(format!("`{k}` is not a weight of this model"));
    }
    if !problems.is_empty() {
        let n = problems.len();
        problems.truncate(5);
        return Err(data_err(
            path,
            format!(
                "the weights do not fit this architecture ({n} problems): {}",
                problems.join("; ")
            ),
        ));
    }
    tch::no_grad(|| -> TrainResult<()> {
        for name in names {
            let src = file[name]
                .to_device(model.device())
                .to_kind(vars[name].kind());
            vars[name]
                .shallow_clone()
                .f_copy_(&src)
                .map_err(|e| data_err(path, format!("`{name}`: {e}")))?;
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// Protobuf writing.

/// A protobuf message being written.
#[derive(Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint(((field as u64) << 3) | wire as u64);
    }

    /// An `int64`/`int32`/enum field (negative values take ten bytes, as protobuf says).
    fn int(&mut self, field: u32, v: i64) {
        self.key(field, 0);
        self.varint(v as u64);
    }

    fn float(&mut self, field: u32, v: f32) {
        self.key(field, 5);
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    fn str(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }

    fn msg(&mut self, field: u32, m: Pb) {
        self.bytes(field, &m.0);
    }
}

/// ONNX `TensorProto.DataType`.
const FLOAT: i64 = 1;
const INT64: i64 = 7;

/// ONNX `AttributeProto.AttributeType`.
enum Attr {
    Float(f32),
    Int(i64),
    Ints(Vec<i64>),
}

fn attribute(name: &str, a: &Attr) -> Pb {
    let mut m = Pb::default();
    m.str(1, name);
    match a {
        Attr::Float(f) => {
            m.float(2, *f);
            m.int(20, 1);
        }
        Attr::Int(i) => {
            m.int(3, *i);
            m.int(20, 2);
        }
        Attr::Ints(v) => {
            for i in v {
                m.int(8, *i);
            }
            m.int(20, 7);
        }
    }
    m
}

fn tensor_proto(name: &str, dims: &[i64], data_type: i64, raw: &[u8]) -> Pb {
    let mut m = Pb::default();
    for d in dims {
        m.int(1, *d);
    }
    m.int(2, data_type);
    m.str(8, name);
    m.bytes(9, raw);
    m
}

/// `ValueInfoProto` of a float tensor; `None` dims are the free batch dimension.
fn value_info(name: &str, dims: &[Option<i64>]) -> Pb {
    let mut shape = Pb::default();
    for d in dims {
        let mut dim = Pb::default();
        match d {
            Some(v) => dim.int(1, *v),
            None => dim.str(2, "batch"),
        }
        shape.msg(1, dim);
    }
    let mut tensor = Pb::default();
    tensor.int(1, FLOAT);
    tensor.msg(2, shape);
    let mut ty = Pb::default();
    ty.msg(1, tensor);
    let mut m = Pb::default();
    m.str(1, name);
    m.msg(2, ty);
    m
}

/// Collects the nodes and initializers of an ONNX graph.
struct OnnxGraph {
    nodes: Vec<Pb>,
    inits: Vec<Pb>,
    init_names: HashMap<String, ()>,
    count: usize,
}

impl OnnxGraph {
    fn node(
        &mut self,
        op: &str,
        scope: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: &[(&str, Attr)],
    ) {
        let mut m = Pb::default();
        for i in inputs {
            m.str(1, i);
        }
        for o in outputs {
            m.str(2, o);
        }
        self.count += 1;
        let name = if scope.is_empty() {
            format!("{op}_{}", self.count)
        } else {
            format!("{scope}/{op}_{}", self.count)
        };
        m.str(3, &name);
        m.str(4, op);
        for (k, a) in attrs {
            m.msg(5, attribute(k, a));
        }
        self.nodes.push(m);
    }

    fn init(&mut self, name: &str, dims: &[i64], data_type: i64, raw: Vec<u8>) {
        if self.init_names.insert(name.to_string(), ()).is_none() {
            self.inits.push(tensor_proto(name, dims, data_type, &raw));
        }
    }

    fn init_i64(&mut self, name: &str, v: &[i64]) {
        let raw: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.init(name, &[v.len() as i64], INT64, raw);
    }

    fn init_f32(&mut self, name: &str, dims: &[i64], v: &[f32]) {
        let raw: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.init(name, dims, FLOAT, raw);
    }

    fn tmp(&mut self, base: &str, what: &str) -> String {
        self.count += 1;
        format!("{base}_{what}{}", self.count)
    }
}

fn float_data(t: &Tensor) -> TrainResult<Vec<f32>> {
    let t = t
        .detach()
        .to_device(Device::Cpu)
        .to_kind(Kind::Float)
        .contiguous()
        .flatten(0, -1);
    Ok(Vec::<f32>::try_from(&t)?)
}

/// The ONNX model of `graph` (inference pass), as bytes.
pub fn onnx_bytes(graph: &Graph, doc: &str) -> TrainResult<Vec<u8>> {
    let mut og = OnnxGraph {
        nodes: Vec::new(),
        inits: Vec::new(),
        init_names: HashMap::new(),
        count: 0,
    };
    let nodes = graph.nodes();
    let params = graph.params();
    let out = graph.output();
    let mut names: HashMap<usize, String> = HashMap::new();
    let name_of = |v: Value| -> String {
        if v == out {
            "logits".to_string()
        } else if v.index() == 0 {
            "input".to_string()
        } else {
            format!("t{}", v.index())
        }
    };
    let param = |og: &mut OnnxGraph, id: ParamId| -> TrainResult<String> {
        let p = &params[id.0];
        let data = float_data(&p.tensor)?;
        og.init_f32(&p.name, &p.tensor.size(), &data);
        Ok(p.name.clone())
    };
    for &i in graph.inference_nodes() {
        let node = &nodes[i];
        let v = Value(i);
        if i == 0 {
            names.insert(0, "input".to_string());
            continue;
        }
        let ins: Vec<String> = node
            .inputs
            .iter()
            .map(|x| names[&x.index()].clone())
            .collect();
        let ins: Vec<&str> = ins.iter().map(|s| s.as_str()).collect();
        let o = name_of(v);
        let sc = node.scope.as_str();
        match &node.op {
            NodeOp::Input => {}
            NodeOp::Conv2d {
                weight,
                bias,
                stride,
                padding,
                dilation,
                groups,
            } => {
                let w = param(&mut og, *weight)?;
                let ksize = params[weight.0].tensor.size();
                let mut inputs = vec![ins[0].to_string(), w];
                if let Some(b) = bias {
                    inputs.push(param(&mut og, *b)?);
                }
                let inputs: Vec<&str> = inputs.iter().map(|s| s.as_str()).collect();
                og.node(
                    "Conv",
                    sc,
                    &inputs,
                    &[&o],
                    &[
                        ("kernel_shape", Attr::Ints(ksize[2..].to_vec())),
                        ("strides", Attr::Ints(stride.to_vec())),
                        (
                            "pads",
                            Attr::Ints(vec![padding[0], padding[1], padding[0], padding[1]]),
                        ),
                        ("dilations", Attr::Ints(dilation.to_vec())),
                        ("group", Attr::Int(*groups)),
                    ],
                );
            }
            NodeOp::BatchNorm {
                weight,
                bias,
                stats,
                eps,
                momentum,
            } => {
                let (m, var) = stats.ok_or_else(|| {
                    TrainError::Core(Error::Other(format!(
                        "batch norm `{sc}` keeps no running statistics, so it has no inference form to export"
                    )))
                })?;
                let c = node.shape[0];
                let scale = match weight {
                    Some(w) => param(&mut og, *w)?,
                    None => {
                        let n = format!("const.ones.{c}");
                        og.init_f32(&n, &[c], &vec![1.0; c as usize]);
                        n
                    }
                };
                let shift = match bias {
                    Some(b) => param(&mut og, *b)?,
                    None => {
                        let n = format!("const.zeros.{c}");
                        og.init_f32(&n, &[c], &vec![0.0; c as usize]);
                        n
                    }
                };
                let (m, var) = (param(&mut og, m)?, param(&mut og, var)?);
                og.node(
                    "BatchNormalization",
                    sc,
                    &[ins[0], &scale, &shift, &m, &var],
                    &[&o],
                    &[
                        ("epsilon", Attr::Float(*eps as f32)),
                        ("momentum", Attr::Float(1.0 - *momentum as f32)),
                    ],
                );
            }
            NodeOp::Relu => og.node("Relu", sc, &ins, &[&o], &[]),
            NodeOp::MaxPool {
                kernel,
                stride,
                padding,
            } => og.node(
                "MaxPool",
                sc,
                &ins,
                &[&o],
                &[
                    ("kernel_shape", Attr::Ints(kernel.to_vec())),
                    ("strides", Attr::Ints(stride.to_vec())),
                    (
                        "pads",
                        Attr::Ints(vec![padding[0], padding[1], padding[0], padding[1]]),
                    ),
                ],
            ),
            NodeOp::AvgPool {
                kernel,
                stride,
                padding,
                ceil_mode,
                count_include_pad,
            } => og.node(
                "AveragePool",
                sc,
                &ins,
                &[&o],
                &[
                    ("kernel_shape", Attr::Ints(kernel.to_vec())),
                    ("strides", Attr::Ints(stride.to_vec())),
                    (
                        "pads",
                        Attr::Ints(vec![padding[0], padding[1], padding[0], padding[1]]),
                    ),
                    ("ceil_mode", Attr::Int(*ceil_mode as i64)),
                    ("count_include_pad", Attr::Int(*count_include_pad as i64)),
                ],
            ),
            NodeOp::GlobalAvgPool => {
                let pooled = og.tmp(&o, "pooled");
                og.node("GlobalAveragePool", sc, &ins, &[&pooled], &[]);
                og.node("Flatten", sc, &[&pooled], &[&o], &[("axis", Attr::Int(1))]);
            }
            NodeOp::Flatten => og.node("Flatten", sc, &ins, &[&o], &[("axis", Attr::Int(1))]),
            NodeOp::Linear { weight, bias } => {
                let w = param(&mut og, *weight)?;
                let mut inputs = vec![ins[0].to_string(), w];
                if let Some(b) = bias {
                    inputs.push(param(&mut og, *b)?);
                }
                let inputs: Vec<&str> = inputs.iter().map(|s| s.as_str()).collect();
                og.node("Gemm", sc, &inputs, &[&o], &[("transB", Attr::Int(1))]);
            }
            NodeOp::Add => {
                let op = if ins.len() == 2 { "Add" } else { "Sum" };
                og.node(op, sc, &ins, &[&o], &[]);
            }
            NodeOp::Concat => og.node("Concat", sc, &ins, &[&o], &[("axis", Attr::Int(1))]),
            NodeOp::Zero { stride } => {
                let src = if *stride > 1 {
                    let s = og.tmp(&o, "strided");
                    let (st, en, ax, sp) = slice_consts(&mut og, [0, 0], *stride);
                    og.node("Slice", sc, &[ins[0], &st, &en, &ax, &sp], &[&s], &[]);
                    s
                } else {
                    ins[0].to_string()
                };
                og.init_f32("const.zero", &[], &[0.0]);
                og.node("Mul", sc, &[&src, "const.zero"], &[&o], &[]);
            }
            NodeOp::Crop { top, left } => {
                let (st, en, ax, sp) = slice_consts(&mut og, [*top, *left], 1);
                og.node("Slice", sc, &[ins[0], &st, &en, &ax, &sp], &[&o], &[]);
            }
            NodeOp::Pad { bottom, right } => {
                let n = format!("const.pads.{bottom}.{right}");
                og.init_i64(&n, &[0, 0, 0, 0, 0, 0, *bottom, *right]);
                og.node("Pad", sc, &[ins[0], &n], &[&o], &[]);
            }
            NodeOp::DropPath => {
                names.insert(i, ins[0].to_string());
                if v == out {
                    og.node("Identity", sc, &ins, &[&o], &[]);
                    names.insert(i, o);
                }
                continue;
            }
            NodeOp::Attention { heads } => {
                let (c, h, w) = (node.shape[0], node.shape[1], node.shape[2]);
                let d = c / heads;
                let split = format!("const.shape.{heads}.{d}.{}", h * w);
                og.init_i64(&split, &[0, *heads, d, h * w]);
                let back = format!("const.shape.{c}.{h}.{w}");
                og.init_i64(&back, &[0, c, h, w]);
                let scale = format!("const.scale.{d}");
                og.init_f32(&scale, &[], &[1.0 / (d as f32).sqrt()]);
                let t = |og: &mut OnnxGraph, what: &str| og.tmp(&o, what);
                let (q, k, vv) = (t(&mut og, "q"), t(&mut og, "k"), t(&mut og, "v"));
                og.node("Reshape", sc, &[ins[0], &split], &[&q], &[]);
                og.node("Reshape", sc, &[ins[1], &split], &[&k], &[]);
                og.node("Reshape", sc, &[ins[2], &split], &[&vv], &[]);
                let perm = || ("perm", Attr::Ints(vec![0, 1, 3, 2]));
                let qt = t(&mut og, "qt");
                og.node("Transpose", sc, &[&q], &[&qt], &[perm()]);
                let logits = t(&mut og, "scores");
                og.node("MatMul", sc, &[&qt, &k], &[&logits], &[]);
                let scaled = t(&mut og, "scaled");
                og.node("Mul", sc, &[&logits, &scale], &[&scaled], &[]);
                let attn = t(&mut og, "attn");
                og.node(
                    "Softmax",
                    sc,
                    &[&scaled],
                    &[&attn],
                    &[("axis", Attr::Int(-1))],
                );
                let at = t(&mut og, "attn_t");
                og.node("Transpose", sc, &[&attn], &[&at], &[perm()]);
                let mixed = t(&mut og, "mixed");
                og.node("MatMul", sc, &[&vv, &at], &[&mixed], &[]);
                og.node("Reshape", sc, &[&mixed, &back], &[&o], &[]);
            }
        }
        names.insert(i, o);
    }
    let mut g = Pb::default();
    for n in og.nodes {
        g.msg(1, n);
    }
    g.str(2, "nascent");
    for t in og.inits {
        g.msg(5, t);
    }
    let input_dims: Vec<Option<i64>> = std::iter::once(None)
        .chain(graph.input_shape().iter().map(|d| Some(*d)))
        .collect();
    g.msg(11, value_info("input", &input_dims));
    let out_dims: Vec<Option<i64>> = std::iter::once(None)
        .chain(graph.shape(out).iter().map(|d| Some(*d)))
        .collect();
    g.msg(12, value_info("logits", &out_dims));
    let mut opset = Pb::default();
    opset.str(1, "");
    opset.int(2, ONNX_OPSET);
    let mut model = Pb::default();
    model.int(1, ONNX_IR_VERSION);
    model.str(2, "nascent");
    model.str(3, env!("CARGO_PKG_VERSION"));
    model.int(5, 1);
    model.str(6, doc);
    model.msg(7, g);
    model.msg(8, opset);
    Ok(model.0)
}

/// Slice constants for `x[:, :, top::step, left::step]`.
fn slice_consts(
    og: &mut OnnxGraph,
    start: [i64; 2],
    step: i64,
) -> (String, String, String, String) {
    let st = format!("const.starts.{}.{}", start[0], start[1]);
    og.init_i64(&st, &start);
    og.init_i64("const.ends.max", &[i64::MAX, i64::MAX]);
    og.init_i64("const.axes.hw", &[2, 3]);
    let sp = format!("const.steps.{step}");
    og.init_i64(&sp, &[step, step]);
    (st, "const.ends.max".into(), "const.axes.hw".into(), sp)
}

/// Writes the ONNX model of `model` to `path`; `doc` goes into the model's doc string (the
/// genotype, say).
pub fn write_onnx(model: &Model, path: &Path, doc: &str) -> TrainResult<()> {
    let bytes = onnx_bytes(graph_of(model)?, doc)?;
    std::fs::write(path, bytes).map_err(|e| io_err(path, e))
}

// ---------------------------------------------------------------------------------------
// Everything at once.

/// The files [`export_model`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportFiles {
    /// The canonical genotype string and a newline.
    pub genotype_txt: PathBuf,
    /// Space, genotype, network shape, parameters and FLOPs.
    pub genotype_json: PathBuf,
    /// Weights and buffers.
    pub weights: PathBuf,
    /// The network.
    pub onnx: PathBuf,
}

/// Writes `genotype.txt`, `genotype.json`, `model.safetensors` and `model.onnx` for `model`
/// (an architecture of space `space`, written `arch`) into `dir`, creating it.
pub fn export_model(
    model: &Model,
    space: &str,
    arch: &str,
    dir: &Path,
) -> TrainResult<ExportFiles> {
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let files = ExportFiles {
        genotype_txt: dir.join("genotype.txt"),
        genotype_json: dir.join("genotype.json"),
        weights: dir.join("model.safetensors"),
        onnx: dir.join("model.onnx"),
    };
    let c = complexity(model)?;
    std::fs::write(&files.genotype_txt, format!("{arch}\n"))
        .map_err(|e| io_err(&files.genotype_txt, e))?;
    let s = &model.spec;
    let json = serde_json::json!({
        "space": space,
        "arch": arch,
        "input": [s.in_channels, s.resolution, s.resolution],
        "classes": s.classes,
        "channels": s.channels,
        "cells": s.cells,
        "params": c.params,
        "inference_params": c.inference_params,
        "flops": c.flops,
        "files": {
            "weights": "model.safetensors",
            "onnx": "model.onnx",
        },
        "onnx": { "input": "input", "output": "logits", "opset": ONNX_OPSET },
    });
    let text = serde_json::to_string_pretty(&json).expect("JSON of plain values");
    std::fs::write(&files.genotype_json, text + "\n")
        .map_err(|e| io_err(&files.genotype_json, e))?;
    save_weights(model, &files.weights)?;
    write_onnx(model, &files.onnx, &format!("{space}: {arch}"))?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_negative_ints_encode_as_protobuf_does() {
        let mut p = Pb::default();
        p.varint(300);
        assert_eq!(p.0, [0xAC, 0x02]);
        let mut p = Pb::default();
        p.int(3, -1);
        assert_eq!(p.0.len(), 1 + 10);
        assert_eq!(p.0[0], 3 << 3);
        let mut p = Pb::default();
        p.str(4, "Relu");
        assert_eq!(p.0, [0x22, 4, b'R', b'e', b'l', b'u']);
    }
}
