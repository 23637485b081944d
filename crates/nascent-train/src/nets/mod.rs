//! Network builders (genotype -> model) for the spaces of nascent, all built as [`Graph`]s:
//! NAS-Bench-201 ([`nb201`]), the DARTS evaluation network ([`darts`]) and chain-structured
//! networks ([`chain`]).

pub mod chain;
pub mod darts;
pub mod nb201;

use crate::graph::Graph;
use crate::model::{NetOutput, Network};
use tch::Tensor;

pub use chain::ChainBuilder;
pub use darts::DartsBuilder;
pub use nb201::Nb201Builder;

/// A network that is a [`Graph`]: what every builder of nascent returns.
#[derive(Debug)]
pub struct GraphNet {
    /// The graph (nodes, shapes, weights).
    pub graph: Graph,
}

impl GraphNet {
    /// Wraps a graph.
    pub fn new(graph: Graph) -> Self {
        GraphNet { graph }
    }
}

impl Network for GraphNet {
    fn forward(&self, xs: &Tensor, train: bool) -> NetOutput {
        let (logits, aux_logits) = self.graph.forward(xs, train);
        NetOutput { logits, aux_logits }
    }

    fn set_drop_path_prob(&mut self, p: f64) {
        self.graph.set_drop_path_prob(p);
    }

    fn graph(&self) -> Option<&Graph> {
        Some(&self.graph)
    }
}
