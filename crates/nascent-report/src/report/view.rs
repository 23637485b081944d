//! How a report sees architectures: their diagrams and the operations they use.

use crate::cell::{CellGraph, ChainDiagram, EdgeStyle};
use nascent_core::SearchSpace;
use nascent_space::{ChainArch, DartsGenotype, Nb201Arch};

/// One drawing of an architecture.
#[derive(Clone, Debug, PartialEq)]
pub enum ArchDiagram {
    /// A cell drawn as a DAG.
    Cell(CellGraph),
    /// A chain of layers.
    Chain(ChainDiagram),
    /// A ready-made SVG element (for spaces that draw themselves). Inserted as is: it must be
    /// well-formed SVG from a trusted source, never user text.
    Svg(String),
}

impl ArchDiagram {
    /// The drawing as an SVG element.
    pub fn to_svg(&self) -> String {
        match self {
            ArchDiagram::Cell(g) => g.to_svg(),
            ArchDiagram::Chain(c) => c.to_svg(),
            ArchDiagram::Svg(s) => s.clone(),
        }
    }
}

/// What a report knows about the architectures of one search space: how to draw one, and
/// which operations it uses (for the "which operations the best architectures favour" chart).
///
/// Implemented by [`Nb201View`], [`DartsView`], [`ChainView`], [`DecisionView`] (any
/// [`SearchSpace`]) and by
/// closures `Fn(&str) -> Vec<ArchDiagram>` (operations then come from the diagrams' edges).
pub trait ArchView: Send + Sync {
    /// The diagrams of the architecture written `arch` (its canonical string); empty when it
    /// cannot be parsed or drawn.
    fn diagrams(&self, arch: &str) -> Vec<ArchDiagram>;

    /// The operations `arch` uses, one entry per use (an NB201 cell gives six). The default
    /// takes the operation of every non-wiring edge of its cell diagrams.
    fn ops(&self, arch: &str) -> Vec<String> {
        self.diagrams(arch)
            .iter()
            .flat_map(|d| match d {
                ArchDiagram::Cell(g) => g
                    .edges
                    .iter()
                    .filter(|e| e.style != EdgeStyle::Plain)
                    .map(|e| e.op.clone())
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }
}

impl<F> ArchView for F
where
    F: Fn(&str) -> Vec<ArchDiagram> + Send + Sync,
{
    fn diagrams(&self, arch: &str) -> Vec<ArchDiagram> {
        self(arch)
    }
}

/// The NAS-Bench-201 cell: one diagram per arch string, its six edge operations (`none`
/// included: that the best cells avoid it is worth seeing).
#[derive(Clone, Copy, Debug, Default)]
pub struct Nb201View;

impl ArchView for Nb201View {
    fn diagrams(&self, arch: &str) -> Vec<ArchDiagram> {
        match arch.parse::<Nb201Arch>() {
            Ok(a) => vec![ArchDiagram::Cell(CellGraph::from_nb201(&a))],
            Err(e) => {
                log::warn!("cannot draw `{arch}`: {e}");
                Vec::new()
            }
        }
    }

    fn ops(&self, arch: &str) -> Vec<String> {
        arch.parse::<Nb201Arch>()
            .map(|a| a.0.iter().map(|op| op.name().to_string()).collect())
            .unwrap_or_default()
    }
}

/// The DARTS space: two diagrams per genotype (normal and reduction cell); the operations are
/// those of the 16 edges of both cells.
#[derive(Clone, Copy, Debug, Default)]
pub struct DartsView;

impl ArchView for DartsView {
    fn diagrams(&self, arch: &str) -> Vec<ArchDiagram> {
        match arch.parse::<DartsGenotype>() {
            Ok(g) => CellGraph::from_darts(&g)
                .into_iter()
                .map(ArchDiagram::Cell)
                .collect(),
            Err(e) => {
                log::warn!("cannot draw `{arch}`: {e}");
                Vec::new()
            }
        }
    }

    fn ops(&self, arch: &str) -> Vec<String> {
        arch.parse::<DartsGenotype>()
            .map(|g| {
                g.normal
                    .edges
                    .iter()
                    .chain(&g.reduce.edges)
                    .map(|(op, _)| op.name().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The chain (macro) space: one sequence diagram per architecture; the operations are the
/// layers' operations with their kernel (`conv_3x3`, `sep_conv_5x5`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ChainView;

impl ArchView for ChainView {
    fn diagrams(&self, arch: &str) -> Vec<ArchDiagram> {
        match arch.parse::<ChainArch>() {
            Ok(a) => vec![ArchDiagram::Chain(ChainDiagram::from_chain(&a))],
            Err(e) => {
                log::warn!("cannot draw `{arch}`: {e}");
                Vec::new()
            }
        }
    }

    fn ops(&self, arch: &str) -> Vec<String> {
        arch.parse::<ChainArch>()
            .map(|a| {
                a.layers
                    .iter()
                    .map(|l| format!("{}_{}x{}", l.op.name(), l.kernel, l.kernel))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Any search space seen through its decisions: the operations are the options an
/// architecture takes at each decision, and the diagram is a chain of `decision: option`
/// entries. Suits chain (macro) spaces whose decisions are per-layer choices.
pub struct DecisionView<S: SearchSpace> {
    space: S,
}

impl<S: SearchSpace> DecisionView<S> {
    /// A view of `space`.
    pub fn new(space: S) -> Self {
        DecisionView { space }
    }

    fn choices(&self, arch: &str) -> Option<Vec<(String, String)>> {
        let a = match self.space.parse(arch) {
            Ok(a) => a,
            Err(e) => {
                log::warn!("cannot read `{arch}` in space {}: {e}", self.space.name());
                return None;
            }
        };
        let choices = self.space.to_decisions(&a);
        Some(
            self.space
                .decisions()
                .iter()
                .zip(choices)
                .map(|(d, c)| {
                    (
                        d.name.clone(),
                        d.options.get(c).cloned().unwrap_or_else(|| c.to_string()),
                    )
                })
                .collect(),
        )
    }
}

impl<S: SearchSpace> ArchView for DecisionView<S> {
    fn diagrams(&self, arch: &str) -> Vec<ArchDiagram> {
        self.choices(arch)
            .map(|c| {
                vec![ArchDiagram::Chain(ChainDiagram::new(
                    arch,
                    c.into_iter().map(|(d, o)| format!("{d}: {o}")).collect(),
                ))]
            })
            .unwrap_or_default()
    }

    fn ops(&self, arch: &str) -> Vec<String> {
        self.choices(arch)
            .map(|c| c.into_iter().map(|(_, o)| o).collect())
            .unwrap_or_default()
    }
}
