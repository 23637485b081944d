//! The intermediate representation every network of nascent is built as.
//!
//! A [`Graph`] is a list of [`Node`]s in execution order, each computing one tensor from the
//! outputs of earlier nodes, with every shape known when it is built (the batch dimension is
//! left free). One description serves three consumers, so they cannot disagree:
//!
//! - the forward pass ([`Graph::forward`]): the graph is interpreted node by node with tch
//!   (the interpretation costs one `match` per node; the tensor work is libtorch's);
//! - the measured metrics: parameters and multiply-accumulates are counted from the nodes and
//!   their propagated shapes ([`Graph::macs`], [`Graph::param_count`]);
//! - the ONNX export (`crate::export`), which writes one ONNX node (or a few) per node.
//!
//! Graphs are made with a [`GraphBuilder`], which creates the weights in a tch `VarStore`
//! (under PyTorch-style names such as `cells.3.layers.1.op.1.weight`) and checks every shape,
//! returning a message instead of panicking when a layer cannot be built.
//!
//! The graph keeps shallow copies of the weights: loading weights into the `VarStore` (which
//! copies in place) is seen by the graph, but moving the `VarStore` to another device is not;
//! build the network on the device it will run on.

use std::collections::HashMap;
use tch::{Kind, Tensor, nn};

/// The result of a graph-building step: the error is a message saying what cannot be built.
pub type BuildResult<T> = Result<T, String>;

/// A value of a graph: the output of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(pub(crate) usize);

impl Value {
    /// The index of the node that computes this value.
    pub fn index(self) -> usize {
        self.0
    }
}

/// A parameter (or buffer) of a graph, by index into [`Graph::params`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParamId(pub(crate) usize);

/// A weight or buffer of the network.
#[derive(Debug)]
pub struct Param {
    /// Its name in the `VarStore` (and in exported files).
    pub name: String,
    /// A shallow copy of the `VarStore`'s tensor.
    pub tensor: Tensor,
    /// Trainable weight (`true`) or running statistic (`false`).
    pub trainable: bool,
}

/// What a node computes. Spatial sizes are `[height, width]`.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeOp {
    /// The graph's input, `[N, C, H, W]`.
    Input,
    /// 2-D convolution (cross-correlation, zero padding).
    Conv2d {
        /// Weight `[C_out, C_in / groups, kH, kW]`.
        weight: ParamId,
        /// Optional bias `[C_out]`.
        bias: Option<ParamId>,
        /// Stride.
        stride: [i64; 2],
        /// Zero padding on each side.
        padding: [i64; 2],
        /// Dilation.
        dilation: [i64; 2],
        /// Groups (`C_in` for a depthwise convolution).
        groups: i64,
    },
    /// Batch normalisation over the channel axis.
    BatchNorm {
        /// Scale `gamma` (`None` when not affine).
        weight: Option<ParamId>,
        /// Shift `beta` (`None` when not affine).
        bias: Option<ParamId>,
        /// Running mean and variance (`None`: batch statistics are used in both modes).
        stats: Option<(ParamId, ParamId)>,
        /// Added to the variance.
        eps: f64,
        /// Update rate of the running statistics.
        momentum: f64,
    },
    /// Rectified linear unit.
    Relu,
    /// Max pooling (padding with minus infinity).
    MaxPool {
        /// Window.
        kernel: [i64; 2],
        /// Stride.
        stride: [i64; 2],
        /// Padding on each side.
        padding: [i64; 2],
    },
    /// Average pooling.
    AvgPool {
        /// Window.
        kernel: [i64; 2],
        /// Stride.
        stride: [i64; 2],
        /// Padding on each side.
        padding: [i64; 2],
        /// Round the output size up (windows may run past the border).
        ceil_mode: bool,
        /// Whether padded zeros count in the divisor.
        count_include_pad: bool,
    },
    /// Global average pooling and flattening: `[N, C, H, W] -> [N, C]`.
    GlobalAvgPool,
    /// Flattening `[N, C, H, W] -> [N, C*H*W]`.
    Flatten,
    /// Fully connected layer on `[N, F]`.
    Linear {
        /// Weight `[out, in]`.
        weight: ParamId,
        /// Bias `[out]`.
        bias: Option<ParamId>,
    },
    /// Element-wise sum of all inputs (same shapes).
    Add,
    /// Concatenation of all inputs along the channel axis.
    Concat,
    /// Zeros shaped like the input subsampled by `stride` (the `none` operation).
    Zero {
        /// Spatial stride.
        stride: i64,
    },
    /// Drops the first `top` rows and `left` columns.
    Crop {
        /// Rows dropped.
        top: i64,
        /// Columns dropped.
        left: i64,
    },
    /// Appends `bottom` rows and `right` columns of zeros.
    Pad {
        /// Rows added below.
        bottom: i64,
        /// Columns added on the right.
        right: i64,
    },
    /// Drop-path (stochastic depth) in training: each sample's tensor is zeroed with the
    /// graph's drop-path probability `p` and the survivors scaled by `1/(1-p)`. Identity in
    /// evaluation and in exports.
    DropPath,
    /// Multi-head dot-product attention over spatial positions. Inputs: queries, keys, values,
    /// each `[N, C, H, W]`; output `[N, C, H, W]`: for each head (`C / heads` channels),
    /// `softmax(q^T k / sqrt(C / heads)) v` over the `H*W` positions.
    Attention {
        /// Number of heads.
        heads: i64,
    },
}

/// One node: an operation, its inputs and the shape of its output (without the batch axis).
#[derive(Clone, Debug)]
pub struct Node {
    /// What it computes.
    pub op: NodeOp,
    /// The values it reads.
    pub inputs: Vec<Value>,
    /// Output shape without the batch axis: `[C, H, W]` or `[F]`.
    pub shape: Vec<i64>,
    /// The scope it was built in (dotted), for names in exports and error messages.
    pub scope: String,
}

impl Node {
    /// Multiply-accumulates of this node for one sample: conv and linear layers (the
    /// conventional FLOPs count); 0 for every other node.
    pub fn macs(&self, graph: &Graph) -> u64 {
        match &self.op {
            NodeOp::Conv2d { weight, .. } => {
                let w = &graph.params[weight.0].tensor;
                let per_out: i64 = w.size()[1..].iter().product();
                (per_out * self.shape.iter().product::<i64>()) as u64
            }
            NodeOp::Linear { weight, .. } => graph.params[weight.0].tensor.numel() as u64,
            _ => 0,
        }
    }

    /// Multiply-accumulates of the two matrix products of an attention node for one sample
    /// (`2 * C * (H*W)^2`); 0 for every other node.
    pub fn attention_macs(&self) -> u64 {
        match self.op {
            NodeOp::Attention { .. } => {
                let c = self.shape[0];
                let hw = self.shape[1] * self.shape[2];
                (2 * c * hw * hw) as u64
            }
            _ => 0,
        }
    }
}

/// Which outputs a forward pass computes.
#[derive(Clone, Debug, Default)]
struct Schedule {
    /// Node indices in execution order.
    order: Vec<usize>,
    /// For each step, the values whose last use it is (freed after the step).
    release: Vec<Vec<usize>>,
}

impl Schedule {
    fn new(nodes: &[Node], outputs: &[Value]) -> Self {
        let mut needed = vec![false; nodes.len()];
        for o in outputs {
            needed[o.0] = true;
        }
        for i in (0..nodes.len()).rev() {
            if needed[i] {
                for v in &nodes[i].inputs {
                    needed[v.0] = true;
                }
            }
        }
        let order: Vec<usize> = (0..nodes.len()).filter(|&i| needed[i]).collect();
        let mut last = vec![usize::MAX; nodes.len()];
        for (step, &i) in order.iter().enumerate() {
            for v in &nodes[i].inputs {
                last[v.0] = step;
            }
        }
        let mut release = vec![Vec::new(); order.len()];
        for (v, &step) in last.iter().enumerate() {
            if step != usize::MAX && !outputs.iter().any(|o| o.0 == v) {
                release[step].push(v);
            }
        }
        Schedule { order, release }
    }
}

/// A network as a list of nodes with static shapes; see the [module docs](self).
#[derive(Debug)]
pub struct Graph {
    nodes: Vec<Node>,
    params: Vec<Param>,
    output: Value,
    aux: Option<Value>,
    eval: Schedule,
    train: Schedule,
    drop_path_prob: f64,
}

impl Graph {
    /// The nodes in execution order (node 0 is the input).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The weights and buffers.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The main output (logits, `[N, classes]`).
    pub fn output(&self) -> Value {
        self.output
    }

    /// The auxiliary output, computed in training only.
    pub fn aux_output(&self) -> Option<Value> {
        self.aux
    }

    /// The input shape without the batch axis, `[C, H, W]`.
    pub fn input_shape(&self) -> &[i64] {
        &self.nodes[0].shape
    }

    /// The shape of a value without the batch axis.
    pub fn shape(&self, v: Value) -> &[i64] {
        &self.nodes[v.0].shape
    }

    /// Indices of the nodes evaluation (inference) runs, in order.
    pub fn inference_nodes(&self) -> &[usize] {
        &self.eval.order
    }

    /// Multiply-accumulates of conv and linear layers for one sample, as inference executes
    /// them: the auxiliary head and layers whose result cannot reach the output are not
    /// counted (see [`Graph::macs_all_nodes`]).
    pub fn macs(&self) -> u64 {
        self.eval
            .order
            .iter()
            .map(|&i| self.nodes[i].macs(self))
            .sum()
    }

    /// Multiply-accumulates of conv and linear layers of every node, including those whose
    /// result cannot reach the output (which [`Graph::forward`] skips; PyTorch code computes
    /// them, e.g. NAS-Bench-201 convolutions feeding only `none` edges) and the auxiliary head.
    pub fn macs_all_nodes(&self) -> u64 {
        self.nodes.iter().map(|n| n.macs(self)).sum()
    }

    /// Multiply-accumulates of the attention products for one sample, in inference.
    pub fn attention_macs(&self) -> u64 {
        self.eval
            .order
            .iter()
            .map(|&i| self.nodes[i].attention_macs())
            .sum()
    }

    fn params_of(&self, order: &[usize]) -> Vec<ParamId> {
        let mut seen = vec![false; self.params.len()];
        let mut out = Vec::new();
        for &i in order {
            for p in node_params(&self.nodes[i].op) {
                if !seen[p.0] {
                    seen[p.0] = true;
                    out.push(p);
                }
            }
        }
        out
    }

    /// Trainable parameters of the whole graph (auxiliary head included).
    pub fn param_count(&self) -> u64 {
        self.params
            .iter()
            .filter(|p| p.trainable)
            .map(|p| p.tensor.numel() as u64)
            .sum()
    }

    /// Trainable parameters used in inference (auxiliary head excluded).
    pub fn inference_param_count(&self) -> u64 {
        self.params_of(&self.eval.order)
            .iter()
            .map(|p| &self.params[p.0])
            .filter(|p| p.trainable)
            .map(|p| p.tensor.numel() as u64)
            .sum()
    }

    /// Elements of every node output a training forward pass computes for one sample (an
    /// upper bound on the activations autograd keeps for the backward pass).
    pub fn train_activation_elems(&self) -> u64 {
        self.train
            .order
            .iter()
            .map(|&i| self.nodes[i].shape.iter().product::<i64>() as u64)
            .sum()
    }

    /// The drop-path probability used in training.
    pub fn drop_path_prob(&self) -> f64 {
        self.drop_path_prob
    }

    /// Sets the drop-path probability (clamped to `[0, 1)`).
    pub fn set_drop_path_prob(&mut self, p: f64) {
        self.drop_path_prob = if p.is_finite() {
            p.clamp(0.0, 0.999)
        } else {
            0.0
        };
    }

    /// Runs the graph on `xs` (`[N, C, H, W]`): the main output, and the auxiliary output
    /// when `train` and the graph has one. In training, batch normalisation uses the batch's
    /// statistics (and updates the running ones) and drop-path is active.
    pub fn forward(&self, xs: &Tensor, train: bool) -> (Tensor, Option<Tensor>) {
        let mut vals = self.execute(xs, train, |_, _, _| {});
        let out = vals[self.output.0].take().expect("output computed");
        let aux = if train {
            self.aux.and_then(|a| vals[a.0].take())
        } else {
            None
        };
        (out, aux)
    }

    /// Runs the graph like [`Graph::forward`] (main output only), handing the index, node and
    /// output of every node it computes, in execution order, to `observe`: for measurements
    /// of the activations (the zero-cost proxies of `nascent-oneshot` read ReLU patterns and
    /// convolution outputs this way). The tensors stay in the autograd graph.
    pub fn forward_observed(
        &self,
        xs: &Tensor,
        train: bool,
        observe: &mut dyn FnMut(usize, &Node, &Tensor),
    ) -> Tensor {
        self.execute(xs, train, observe)[self.output.0]
            .take()
            .expect("output computed")
    }

    /// Runs every node of the graph in order, including those whose result cannot reach the
    /// output (which [`Graph::forward`] skips, but PyTorch code computes: NAS-Bench-201
    /// convolutions feeding only `none` edges, the auxiliary head in training), handing each
    /// to `observe` as [`Graph::forward_observed`] does; returns the main output. For
    /// measurements that must see every layer a PyTorch forward pass runs (NASWOT's ReLU
    /// codes, MeCo's feature maps in `nascent-oneshot`).
    pub fn forward_observed_all(
        &self,
        xs: &Tensor,
        train: bool,
        observe: &mut dyn FnMut(usize, &Node, &Tensor),
    ) -> Tensor {
        let n = self.nodes.len();
        let mut last = vec![0usize; n];
        for (i, node) in self.nodes.iter().enumerate() {
            for v in &node.inputs {
                last[v.0] = i;
            }
        }
        let mut vals: Vec<Option<Tensor>> = (0..n).map(|_| None).collect();
        for i in 0..n {
            let t = if i == 0 {
                xs.shallow_clone()
            } else {
                self.eval_node(&self.nodes[i], &vals, train)
            };
            observe(i, &self.nodes[i], &t);
            vals[i] = Some(t);
            for &v in &self.nodes[i].inputs {
                if last[v.0] == i && v != self.output {
                    vals[v.0] = None;
                }
            }
        }
        vals[self.output.0].take().expect("output computed")
    }

    /// Runs the schedule of `train` or evaluation mode, handing every computed node to
    /// `observe`; values no later node reads are released as soon as possible, so what is left
    /// is the output (and the auxiliary output in training).
    fn execute(
        &self,
        xs: &Tensor,
        train: bool,
        mut observe: impl FnMut(usize, &Node, &Tensor),
    ) -> Vec<Option<Tensor>> {
        let sched = if train { &self.train } else { &self.eval };
        let mut vals: Vec<Option<Tensor>> = (0..self.nodes.len()).map(|_| None).collect();
        for (step, &i) in sched.order.iter().enumerate() {
            let t = if i == 0 {
                xs.shallow_clone()
            } else {
                self.eval_node(&self.nodes[i], &vals, train)
            };
            observe(i, &self.nodes[i], &t);
            vals[i] = Some(t);
            for &r in &sched.release[step] {
                vals[r] = None;
            }
        }
        vals
    }

    fn p(&self, id: ParamId) -> &Tensor {
        &self.params[id.0].tensor
    }

    fn eval_node(&self, node: &Node, vals: &[Option<Tensor>], train: bool) -> Tensor {
        let x = |k: usize| -> &Tensor {
            vals[node.inputs[k].0]
                .as_ref()
                .expect("inputs are computed before use")
        };
        match &node.op {
            NodeOp::Input => x(0).shallow_clone(),
            NodeOp::Conv2d {
                weight,
                bias,
                stride,
                padding,
                dilation,
                groups,
            } => x(0).conv2d(
                self.p(*weight),
                bias.map(|b| self.p(b)),
                stride,
                padding,
                dilation,
                *groups,
            ),
            NodeOp::BatchNorm {
                weight,
                bias,
                stats,
                eps,
                momentum,
            } => x(0).batch_norm(
                weight.map(|w| self.p(w)),
                bias.map(|b| self.p(b)),
                stats.map(|(m, _)| self.p(m)),
                stats.map(|(_, v)| self.p(v)),
                train || stats.is_none(),
                *momentum,
                *eps,
                true,
            ),
            NodeOp::Relu => x(0).relu(),
            NodeOp::MaxPool {
                kernel,
                stride,
                padding,
            } => x(0).max_pool2d(kernel, stride, padding, [1, 1], false),
            NodeOp::AvgPool {
                kernel,
                stride,
                padding,
                ceil_mode,
                count_include_pad,
            } => x(0).avg_pool2d(
                kernel,
                stride,
                padding,
                *ceil_mode,
                *count_include_pad,
                None,
            ),
            NodeOp::GlobalAvgPool => x(0).adaptive_avg_pool2d([1, 1]).flatten(1, -1),
            NodeOp::Flatten => x(0).flatten(1, -1),
            NodeOp::Linear { weight, bias } => {
                x(0).linear(self.p(*weight), bias.map(|b| self.p(b)))
            }
            NodeOp::Add => {
                let mut acc = x(0) + x(1);
                for k in 2..node.inputs.len() {
                    acc += x(k);
                }
                acc
            }
            NodeOp::Concat => {
                let xs: Vec<&Tensor> = (0..node.inputs.len()).map(x).collect();
                Tensor::cat(&xs, 1)
            }
            NodeOp::Zero { .. } => {
                let n = x(0).size()[0];
                let mut shape = vec![n];
                shape.extend_from_slice(&node.shape);
                Tensor::zeros(&shape, (x(0).kind(), x(0).device()))
            }
            NodeOp::Crop { top, left } => x(0).slice(2, *top, None, 1).slice(3, *left, None, 1),
            NodeOp::Pad { bottom, right } => x(0).constant_pad_nd([0, *right, 0, *bottom]),
            NodeOp::DropPath => {
                let p = self.drop_path_prob;
                if train && p > 0.0 {
                    let xs = x(0);
                    let keep = 1.0 - p;
                    let mask = Tensor::empty([xs.size()[0], 1, 1, 1], (Kind::Float, xs.device()))
                        .bernoulli_float_(keep)
                        .to_kind(xs.kind());
                    xs / keep * mask
                } else {
                    x(0).shallow_clone()
                }
            }
            NodeOp::Attention { heads } => {
                let (q, k, v) = (x(0), x(1), x(2));
                let n = q.size()[0];
                let (c, h, w) = (node.shape[0], node.shape[1], node.shape[2]);
                let d = c / heads;
                let split = |t: &Tensor| t.reshape([n, *heads, d, h * w]);
                let scale = 1.0 / (d as f64).sqrt();
                let attn = split(q).transpose(2, 3).matmul(&split(k)) * scale;
                let attn = attn.softmax(-1, None);
                split(v).matmul(&attn.transpose(2, 3)).reshape([n, c, h, w])
            }
        }
    }
}

/// The parameters a node reads.
pub fn node_params(op: &NodeOp) -> Vec<ParamId> {
    match op {
        NodeOp::Conv2d { weight, bias, .. } | NodeOp::Linear { weight, bias } => {
            std::iter::once(*weight).chain(*bias).collect()
        }
        NodeOp::BatchNorm {
            weight,
            bias,
            stats,
            ..
        } => weight
            .iter()
            .chain(bias.iter())
            .copied()
            .chain(stats.iter().flat_map(|(m, v)| [*m, *v]))
            .collect(),
        _ => Vec::new(),
    }
}

/// Output side of a convolution or pooling window along one axis.
pub fn out_side(
    side: i64,
    kernel: i64,
    stride: i64,
    padding: i64,
    dilation: i64,
    ceil: bool,
) -> i64 {
    let span = dilation * (kernel - 1) + 1;
    let num = side + 2 * padding - span;
    if num < 0 {
        return 0;
    }
    let mut out = if ceil {
        (num + stride - 1) / stride + 1
    } else {
        num / stride + 1
    };
    // PyTorch: the last window must start inside the input or the left padding.
    if ceil && (out - 1) * stride >= side + padding {
        out -= 1;
    }
    out
}

thread_local! {
    static INIT: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Runs `f` with weight initialisation off on this thread: convolution and linear weights
/// built inside are left uninitialised (memory is allocated, not written). For counting
/// parameters and FLOPs of many networks quickly; never train or run such a network.
pub fn without_init<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            INIT.with(|i| i.set(self.0));
        }
    }
    let _restore = Restore(INIT.with(|i| i.replace(false)));
    f()
}

/// Options of batch normalisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BnConfig {
    /// Learnable scale and shift.
    pub affine: bool,
    /// Keep running statistics (used in evaluation); without them batch statistics are used
    /// in both modes, as in NAS-Bench-201's and some one-shot supernets.
    pub track_running_stats: bool,
    /// Added to the variance (PyTorch: 1e-5).
    pub eps: f64,
    /// Update rate of the running statistics (PyTorch: 0.1).
    pub momentum: f64,
}

impl Default for BnConfig {
    fn default() -> Self {
        BnConfig {
            affine: true,
            track_running_stats: true,
            eps: 1e-5,
            momentum: 0.1,
        }
    }
}

/// Builds a [`Graph`], creating its weights in a `VarStore` and checking every shape.
///
/// Weights are initialised as PyTorch initialises its layers: convolution and linear weights
/// (and linear biases) uniform in `±1/sqrt(fan_in)`, batch-norm scale 1 and shift 0.
pub struct GraphBuilder<'a> {
    root: nn::Path<'a>,
    scope: Vec<String>,
    /// The `VarStore` path of each scope prefix (`paths[0]` is the root).
    paths: Vec<nn::Path<'a>>,
    /// `scope` joined with dots.
    scope_str: String,
    nodes: Vec<Node>,
    params: Vec<Param>,
    relu_of: HashMap<Value, Value>,
}

impl<'a> GraphBuilder<'a> {
    /// A builder whose input is `[N, channels, height, width]`; weights go under `root`.
    pub fn new(root: &nn::Path<'a>, input: [i64; 3]) -> BuildResult<(Self, Value)> {
        if input.iter().any(|&d| d <= 0) {
            return Err(format!(
                "input shape {}x{}x{} must be positive",
                input[0], input[1], input[2]
            ));
        }
        let b = GraphBuilder {
            root: root.clone(),
            scope: Vec::new(),
            paths: vec![root.clone()],
            scope_str: String::new(),
            nodes: vec![Node {
                op: NodeOp::Input,
                inputs: Vec::new(),
                shape: input.to_vec(),
                scope: String::new(),
            }],
            params: Vec::new(),
            relu_of: HashMap::new(),
        };
        Ok((b, Value(0)))
    }

    /// Runs `f` with `name` appended to the scope (weights are named `scope.name.weight`).
    pub fn scoped<R>(&mut self, name: impl ToString, f: impl FnOnce(&mut Self) -> R) -> R {
        let name = name.to_string();
        let path = self.paths[self.paths.len() - 1].sub(&name);
        self.paths.push(path);
        let len = self.scope_str.len();
        if !self.scope.is_empty() {
            self.scope_str.push('.');
        }
        self.scope_str.push_str(&name);
        self.scope.push(name);
        let r = f(self);
        self.scope.pop();
        self.paths.pop();
        self.scope_str.truncate(len);
        r
    }

    /// The shape of a value without the batch axis.
    pub fn shape(&self, v: Value) -> &[i64] {
        &self.nodes[v.0].shape
    }

    /// Channels of a `[C, H, W]` value.
    pub fn channels(&self, v: Value) -> i64 {
        self.nodes[v.0].shape[0]
    }

    /// `[H, W]` of a `[C, H, W]` value.
    pub fn side(&self, v: Value) -> [i64; 2] {
        let s = &self.nodes[v.0].shape;
        [s[1], s[2]]
    }

    fn where_(&self) -> String {
        if self.scope.is_empty() {
            "network".to_string()
        } else {
            format!("`{}`", self.scope.join("."))
        }
    }

    fn map_shape(&self, v: Value) -> BuildResult<[i64; 3]> {
        match self.nodes[v.0].shape.as_slice() {
            &[c, h, w] => Ok([c, h, w]),
            s => Err(format!(
                "{} expects a feature map [C, H, W], got shape {s:?}",
                self.where_()
            )),
        }
    }

    fn push(&mut self, op: NodeOp, inputs: Vec<Value>, shape: Vec<i64>) -> Value {
        self.nodes.push(Node {
            op,
            inputs,
            shape,
            scope: self.scope_str.clone(),
        });
        Value(self.nodes.len() - 1)
    }

    fn add_param(&mut self, name: &str, tensor: Tensor, trainable: bool) -> ParamId {
        let path = &self.paths[self.paths.len() - 1];
        let full = path.path(name);
        let t = path.add(name, tensor, trainable);
        self.params.push(Param {
            name: full,
            tensor: t,
            trainable,
        });
        ParamId(self.params.len() - 1)
    }

    fn uniform(&mut self, name: &str, dims: &[i64], bound: f64) -> ParamId {
        let dev = self.root.device();
        let mut t = Tensor::empty(dims, (Kind::Float, dev));
        if INIT.with(|i| i.get()) {
            let _ = t.uniform_(-bound, bound);
        }
        self.add_param(name, t, true)
    }

    /// A convolution with PyTorch's default initialisation; weights `weight` (and `bias`)
    /// in the current scope. Padding is on both sides.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        x: Value,
        c_out: i64,
        kernel: [i64; 2],
        stride: [i64; 2],
        padding: [i64; 2],
        dilation: [i64; 2],
        groups: i64,
        bias: bool,
    ) -> BuildResult<Value> {
        let [c, h, w] = self.map_shape(x)?;
        if groups <= 0 || c % groups != 0 || c_out % groups != 0 || c_out <= 0 {
            return Err(format!(
                "{}: convolution {c} -> {c_out} channels in {groups} groups is impossible",
                self.where_()
            ));
        }
        if kernel
            .iter()
            .chain(&stride)
            .chain(&dilation)
            .any(|&v| v <= 0)
            || padding.iter().any(|&v| v < 0)
        {
            return Err(format!(
                "{}: bad convolution kernel {kernel:?} stride {stride:?} padding {padding:?} dilation {dilation:?}",
                self.where_()
            ));
        }
        let oh = out_side(h, kernel[0], stride[0], padding[0], dilation[0], false);
        let ow = out_side(w, kernel[1], stride[1], padding[1], dilation[1], false);
        if oh <= 0 || ow <= 0 {
            return Err(format!(
                "{}: a {}x{} convolution (dilation {}) does not fit a {h}x{w} input",
                self.where_(),
                kernel[0],
                kernel[1],
                dilation[0]
            ));
        }
        let fan_in = (c / groups) * kernel[0] * kernel[1];
        let bound = 1.0 / (fan_in as f64).sqrt();
        let weight = self.uniform("weight", &[c_out, c / groups, kernel[0], kernel[1]], bound);
        let bias = bias.then(|| self.uniform("bias", &[c_out], bound));
        Ok(self.push(
            NodeOp::Conv2d {
                weight,
                bias,
                stride,
                padding,
                dilation,
                groups,
            },
            vec![x],
            vec![c_out, oh, ow],
        ))
    }

    /// A square convolution without bias, padded to keep the size at stride 1 ("same").
    pub fn conv_k(
        &mut self,
        x: Value,
        c_out: i64,
        kernel: i64,
        stride: i64,
        dilation: i64,
        groups: i64,
    ) -> BuildResult<Value> {
        let pad = dilation * (kernel - 1) / 2;
        self.conv(
            x,
            c_out,
            [kernel, kernel],
            [stride, stride],
            [pad, pad],
            [dilation, dilation],
            groups,
            false,
        )
    }

    /// Batch normalisation with weights in the current scope (`weight`, `bias`,
    /// `running_mean`, `running_var`, as PyTorch names them).
    pub fn bn(&mut self, x: Value, cfg: BnConfig) -> BuildResult<Value> {
        let [c, h, w] = self.map_shape(x)?;
        let dev = self.root.device();
        let (weight, bias) = if cfg.affine {
            (
                Some(self.add_param("weight", Tensor::ones([c], (Kind::Float, dev)), true)),
                Some(self.add_param("bias", Tensor::zeros([c], (Kind::Float, dev)), true)),
            )
        } else {
            (None, None)
        };
        let stats = cfg.track_running_stats.then(|| {
            (
                self.add_param(
                    "running_mean",
                    Tensor::zeros([c], (Kind::Float, dev)),
                    false,
                ),
                self.add_param("running_var", Tensor::ones([c], (Kind::Float, dev)), false),
            )
        });
        Ok(self.push(
            NodeOp::BatchNorm {
                weight,
                bias,
                stats,
                eps: cfg.eps,
                momentum: cfg.momentum,
            },
            vec![x],
            vec![c, h, w],
        ))
    }

    /// ReLU. The ReLU of a value is computed once however often it is asked for (PyTorch
    /// code recomputes it on every edge that reads the value; the result is the same).
    pub fn relu(&mut self, x: Value) -> Value {
        if let Some(&r) = self.relu_of.get(&x) {
            return r;
        }
        let shape = self.nodes[x.0].shape.clone();
        let r = self.push(NodeOp::Relu, vec![x], shape);
        self.relu_of.insert(x, r);
        r
    }

    fn pool_shape(&self, x: Value, k: i64, s: i64, p: i64, ceil: bool) -> BuildResult<Vec<i64>> {
        let [c, h, w] = self.map_shape(x)?;
        if k <= 0 || s <= 0 || p < 0 || 2 * p > k {
            return Err(format!(
                "{}: bad pooling window {k} stride {s} padding {p}",
                self.where_()
            ));
        }
        let (oh, ow) = (out_side(h, k, s, p, 1, ceil), out_side(w, k, s, p, 1, ceil));
        if oh <= 0 || ow <= 0 {
            return Err(format!(
                "{}: a {k}x{k} pooling window does not fit a {h}x{w} input",
                self.where_()
            ));
        }
        Ok(vec![c, oh, ow])
    }

    /// Max pooling with a square window.
    pub fn max_pool(&mut self, x: Value, k: i64, s: i64, p: i64) -> BuildResult<Value> {
        let shape = self.pool_shape(x, k, s, p, false)?;
        Ok(self.push(
            NodeOp::MaxPool {
                kernel: [k, k],
                stride: [s, s],
                padding: [p, p],
            },
            vec![x],
            shape,
        ))
    }

    /// Average pooling with a square window.
    pub fn avg_pool(
        &mut self,
        x: Value,
        k: i64,
        s: i64,
        p: i64,
        ceil_mode: bool,
        count_include_pad: bool,
    ) -> BuildResult<Value> {
        let shape = self.pool_shape(x, k, s, p, ceil_mode)?;
        Ok(self.push(
            NodeOp::AvgPool {
                kernel: [k, k],
                stride: [s, s],
                padding: [p, p],
                ceil_mode,
                count_include_pad,
            },
            vec![x],
            shape,
        ))
    }

    /// Global average pooling to `[C]`.
    pub fn global_avg_pool(&mut self, x: Value) -> BuildResult<Value> {
        let [c, _, _] = self.map_shape(x)?;
        Ok(self.push(NodeOp::GlobalAvgPool, vec![x], vec![c]))
    }

    /// Flattens `[C, H, W]` to `[C*H*W]`.
    pub fn flatten(&mut self, x: Value) -> BuildResult<Value> {
        let [c, h, w] = self.map_shape(x)?;
        Ok(self.push(NodeOp::Flatten, vec![x], vec![c * h * w]))
    }

    /// A fully connected layer with PyTorch's default initialisation.
    pub fn linear(&mut self, x: Value, out: i64) -> BuildResult<Value> {
        let f = match self.nodes[x.0].shape.as_slice() {
            &[f] => f,
            s => {
                return Err(format!(
                    "{}: a linear layer needs flat features, got shape {s:?}",
                    self.where_()
                ));
            }
        };
        if out <= 0 {
            return Err(format!("{}: {out} outputs", self.where_()));
        }
        let bound = 1.0 / (f as f64).sqrt();
        let weight = self.uniform("weight", &[out, f], bound);
        let bias = Some(self.uniform("bias", &[out], bound));
        Ok(self.push(NodeOp::Linear { weight, bias }, vec![x], vec![out]))
    }

    /// The sum of `xs` (one value is returned unchanged).
    pub fn add(&mut self, xs: &[Value]) -> BuildResult<Value> {
        let first = *xs
            .first()
            .ok_or_else(|| format!("{}: a sum of nothing", self.where_()))?;
        if xs.len() == 1 {
            return Ok(first);
        }
        let shape = self.nodes[first.0].shape.clone();
        for v in &xs[1..] {
            if self.nodes[v.0].shape != shape {
                return Err(format!(
                    "{}: cannot add shapes {:?} and {:?}",
                    self.where_(),
                    shape,
                    self.nodes[v.0].shape
                ));
            }
        }
        Ok(self.push(NodeOp::Add, xs.to_vec(), shape))
    }

    /// Concatenation along channels (one value is returned unchanged).
    pub fn concat(&mut self, xs: &[Value]) -> BuildResult<Value> {
        let first = *xs
            .first()
            .ok_or_else(|| format!("{}: a concatenation of nothing", self.where_()))?;
        if xs.len() == 1 {
            return Ok(first);
        }
        let [_, h, w] = self.map_shape(first)?;
        let mut c = 0;
        for v in xs {
            let [cv, hv, wv] = self.map_shape(*v)?;
            if (hv, wv) != (h, w) {
                return Err(format!(
                    "{}: cannot concatenate {h}x{w} and {hv}x{wv} feature maps",
                    self.where_()
                ));
            }
            c += cv;
        }
        Ok(self.push(NodeOp::Concat, xs.to_vec(), vec![c, h, w]))
    }

    /// Zeros shaped like `x` subsampled by `stride` (`x[:, :, ::s, ::s] * 0`).
    pub fn zero(&mut self, x: Value, stride: i64) -> BuildResult<Value> {
        let [c, h, w] = self.map_shape(x)?;
        if stride <= 0 {
            return Err(format!("{}: stride {stride}", self.where_()));
        }
        let shape = vec![c, (h + stride - 1) / stride, (w + stride - 1) / stride];
        Ok(self.push(NodeOp::Zero { stride }, vec![x], shape))
    }

    /// `x[:, :, top:, left:]`.
    pub fn crop(&mut self, x: Value, top: i64, left: i64) -> BuildResult<Value> {
        let [c, h, w] = self.map_shape(x)?;
        if top < 0 || left < 0 || top >= h || left >= w {
            return Err(format!(
                "{}: cannot crop {top} rows and {left} columns of a {h}x{w} map",
                self.where_()
            ));
        }
        Ok(self.push(
            NodeOp::Crop { top, left },
            vec![x],
            vec![c, h - top, w - left],
        ))
    }

    /// Appends `bottom` rows and `right` columns of zeros.
    pub fn pad(&mut self, x: Value, bottom: i64, right: i64) -> BuildResult<Value> {
        let [c, h, w] = self.map_shape(x)?;
        if bottom < 0 || right < 0 {
            return Err(format!("{}: negative padding", self.where_()));
        }
        if bottom == 0 && right == 0 {
            return Ok(x);
        }
        Ok(self.push(
            NodeOp::Pad { bottom, right },
            vec![x],
            vec![c, h + bottom, w + right],
        ))
    }

    /// Drop-path on `x` (active in training with the graph's probability).
    pub fn drop_path(&mut self, x: Value) -> Value {
        let shape = self.nodes[x.0].shape.clone();
        self.push(NodeOp::DropPath, vec![x], shape)
    }

    /// Multi-head attention of queries `q`, keys `k` and values `v` over spatial positions.
    pub fn attention(&mut self, q: Value, k: Value, v: Value, heads: i64) -> BuildResult<Value> {
        let sq = self.map_shape(q)?;
        if self.map_shape(k)? != sq || self.map_shape(v)? != sq {
            return Err(format!(
                "{}: queries, keys and values must have the same shape",
                self.where_()
            ));
        }
        if heads <= 0 || sq[0] % heads != 0 {
            return Err(format!(
                "{}: {} channels cannot be split into {heads} heads",
                self.where_(),
                sq[0]
            ));
        }
        Ok(self.push(NodeOp::Attention { heads }, vec![q, k, v], sq.to_vec()))
    }

    /// Finishes the graph with its main output (`[classes]`) and an optional auxiliary one
    /// (computed in training only).
    pub fn finish(self, output: Value, aux: Option<Value>) -> Graph {
        let eval = Schedule::new(&self.nodes, &[output]);
        let train = match aux {
            Some(a) => Schedule::new(&self.nodes, &[output, a]),
            None => eval.clone(),
        };
        Graph {
            nodes: self.nodes,
            params: self.params,
            output,
            aux,
            eval,
            train,
            drop_path_prob: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_side_matches_pytorch_formulas() {
        assert_eq!(out_side(32, 3, 1, 1, 1, false), 32);
        assert_eq!(out_side(32, 3, 2, 1, 1, false), 16);
        assert_eq!(out_side(7, 3, 2, 1, 1, false), 4);
        assert_eq!(out_side(8, 5, 3, 0, 1, false), 2);
        assert_eq!(out_side(32, 5, 1, 4, 2, false), 32);
        assert_eq!(out_side(7, 2, 2, 0, 1, true), 4);
        assert_eq!(out_side(7, 2, 2, 0, 1, false), 3);
        assert_eq!(out_side(2, 5, 1, 0, 1, false), 0);
    }

    #[test]
    fn relu_is_shared_and_shapes_propagate() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let (mut g, x) = GraphBuilder::new(&vs.root(), [3, 8, 8]).unwrap();
        let a = g.relu(x);
        assert_eq!(g.relu(x), a);
        let c = g.scoped("conv", |g| g.conv_k(a, 4, 3, 2, 1, 1)).unwrap();
        assert_eq!(g.shape(c), &[4, 4, 4]);
        let p = g.global_avg_pool(c).unwrap();
        let y = g.scoped("fc", |g| g.linear(p, 5)).unwrap();
        let graph = g.finish(y, None);
        assert_eq!(graph.param_count(), 4 * 3 * 9 + 4 * 5 + 5);
        assert_eq!(graph.macs(), 4 * 3 * 9 * 16 + 20);
        let names: Vec<&str> = graph.params().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["conv.weight", "fc.weight", "fc.bias"]);
        let (out, aux) = graph.forward(
            &Tensor::randn([2, 3, 8, 8], (Kind::Float, tch::Device::Cpu)),
            false,
        );
        assert_eq!(out.size(), [2, 5]);
        assert!(aux.is_none());
    }

    #[test]
    fn shape_errors_are_messages() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let (mut g, x) = GraphBuilder::new(&vs.root(), [3, 2, 2]).unwrap();
        let e = g.scoped("big", |g| g.conv_k(x, 4, 5, 1, 1, 1)).unwrap();
        // padded "same" conv fits; an unpadded pooling window does not.
        assert_eq!(g.shape(e), &[4, 2, 2]);
        let err = g.avg_pool(x, 5, 3, 0, false, false).unwrap_err();
        assert!(err.contains("does not fit a 2x2"), "{err}");
        let err = g.attention(e, e, e, 3).unwrap_err();
        assert!(err.contains("3 heads"), "{err}");
        assert!(GraphBuilder::new(&vs.root(), [0, 2, 2]).is_err());
    }
}
