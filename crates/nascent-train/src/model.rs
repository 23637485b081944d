//! The model interface the rest of nascent sees.

use crate::error::TrainResult;
use tch::{Device, Tensor, nn};

/// What a network returns.
#[derive(Debug)]
pub struct NetOutput {
    /// Class logits, `[batch, classes]`.
    pub logits: Tensor,
    /// Logits of an auxiliary head (DARTS), only in training mode and when the network has one.
    pub aux_logits: Option<Tensor>,
}

/// A network built from a genotype. Its weights live in the [`Model`]'s `VarStore`.
pub trait Network: std::fmt::Debug + Send {
    /// The forward pass; `train` selects training behaviour (batch statistics, drop-path,
    /// auxiliary head).
    fn forward(&self, xs: &Tensor, train: bool) -> NetOutput;

    /// Sets the drop-path probability (networks without drop-path ignore it).
    fn set_drop_path_prob(&mut self, _p: f64) {}

    /// The network's description as a [`Graph`](crate::graph::Graph) (nodes with shapes and
    /// weights), from which parameters and FLOPs are counted and ONNX is written; `None` for
    /// a network that cannot describe itself.
    fn graph(&self) -> Option<&crate::graph::Graph> {
        None
    }
}

/// The shape of the task a network is built for, and optional scaling of the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetSpec {
    /// Input channels (1 for MNIST-like data, 3 for CIFAR).
    pub in_channels: i64,
    /// Input side in pixels (inputs are square).
    pub resolution: i64,
    /// Number of classes.
    pub classes: i64,
    /// Base channel width (`C`); `None` takes the space's default (16 for NB201, 36 for DARTS).
    pub channels: Option<i64>,
    /// Cells per stage (`N`, NB201) or cells in all (DARTS); `None` takes the default.
    pub cells: Option<i64>,
}

impl NetSpec {
    /// CIFAR-like: 3x32x32, `classes` classes, default width and depth.
    pub fn cifar(classes: i64) -> Self {
        NetSpec {
            in_channels: 3,
            resolution: 32,
            classes,
            channels: None,
            cells: None,
        }
    }
}

/// Builds networks for the architectures of one space.
pub trait Builder<A>: Send + Sync {
    /// Builds `arch` for `spec`, creating its variables under `root`.
    fn build(&self, arch: &A, spec: &NetSpec, root: &nn::Path) -> TrainResult<Box<dyn Network>>;
}

impl<A, B: Builder<A> + ?Sized> Builder<A> for std::sync::Arc<B> {
    fn build(&self, arch: &A, spec: &NetSpec, root: &nn::Path) -> TrainResult<Box<dyn Network>> {
        (**self).build(arch, spec, root)
    }
}

/// A built network with its weights.
#[derive(Debug)]
pub struct Model {
    /// The weights.
    pub vs: nn::VarStore,
    /// The network.
    pub net: Box<dyn Network>,
    /// What it was built for.
    pub spec: NetSpec,
}

impl Model {
    /// Builds `arch` with `builder` on `device`.
    pub fn new<A>(
        builder: &dyn Builder<A>,
        arch: &A,
        spec: NetSpec,
        device: Device,
    ) -> TrainResult<Self> {
        let vs = nn::VarStore::new(device);
        let net = builder.build(arch, &spec, &vs.root())?;
        Ok(Model { vs, net, spec })
    }

    /// Logits of a batch.
    pub fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        self.net.forward(xs, train).logits
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// Gives every 4-D weight channels-last strides (the NHWC order in memory, the NCHW
    /// shape unchanged), the layout oneDNN's and cuDNN's fastest convolutions take; what the
    /// weights hold, their names and the optimizer's view of them do not change. Call
    /// before creating optimizer state. Convolutions then return channels-last activations
    /// whatever the input's layout.
    pub fn to_channels_last(&mut self) {
        tch::no_grad(|| {
            for (_, mut v) in self.vs.variables() {
                if v.dim() == 4 && !is_channels_last(&v) {
                    let nhwc = channels_last(&v);
                    v.set_data(&nhwc);
                }
            }
        });
    }

    /// Whether the weights are channels-last (see [`Model::to_channels_last`]): the model
    /// has 4-D weights and all of them are.
    pub fn is_channels_last(&self) -> bool {
        let vars = self.vs.trainable_variables();
        let mut four = vars.iter().filter(|v| v.dim() == 4).peekable();
        four.peek().is_some() && four.all(is_channels_last)
    }

    /// Number of trainable parameters.
    pub fn num_params(&self) -> i64 {
        self.vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum()
    }
}

/// `t` (4-D, NCHW shape) with channels-last strides: the same values and shape, stored in
/// NHWC order (what `Tensor.contiguous(memory_format=torch.channels_last)` gives). Other
/// tensors come back as they are.
pub fn channels_last(t: &Tensor) -> Tensor {
    if t.dim() == 4 {
        t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
    } else {
        t.shallow_clone()
    }
}

/// Whether a 4-D tensor has channels-last strides (the strides of dimensions of size 1, which
/// say nothing, are not compared).
pub fn is_channels_last(t: &Tensor) -> bool {
    let (size, stride) = (t.size(), t.stride());
    if size.len() != 4 {
        return false;
    }
    let (c, h, w) = (size[1], size[2], size[3]);
    let nhwc = [h * w * c, 1, w * c, c];
    (0..4).all(|d| size[d] == 1 || stride[d] == nhwc[d])
}
