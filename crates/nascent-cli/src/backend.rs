//! The backend the `nascent` binary runs studies on: libtorch, with nascent-oneshot's
//! zero-cost proxies plugged in (`evaluator.kind = "proxy"`).

use nascent_core::Evaluator;
use nascent_oneshot::{Proxy, ProxyBatch, ProxyComputer, ProxyEvaluator};
use nascent_study::{Error, ProxySettings, Result};
use nascent_train::data::DataSplits;
use nascent_train::study::{Proxies, Torch};
use nascent_train::{Builder, NetSpec};
use std::sync::Arc;

/// The backend of every study command.
pub fn torch() -> Torch<OneshotProxies> {
    Torch::new().with_proxies(OneshotProxies)
}

/// nascent-oneshot's zero-cost proxies.
#[derive(Clone, Copy, Debug, Default)]
pub struct OneshotProxies;

impl Proxies for OneshotProxies {
    fn names(&self) -> Vec<String> {
        Proxy::ALL.iter().map(|p| p.name().to_string()).collect()
    }

    fn evaluator<A: Send + Sync + 'static>(
        &self,
        builder: Arc<dyn Builder<A>>,
        spec: NetSpec,
        data: &DataSplits,
        settings: &ProxySettings,
        seed: u64,
    ) -> Result<Box<dyn Evaluator<A>>> {
        let proxies = settings
            .proxies
            .iter()
            .map(|p| p.parse::<Proxy>())
            .collect::<nascent_core::Result<Vec<_>>>()?;
        let batch = ProxyBatch::sample(&data.train, settings.batch, seed)
            .map_err(|e| Error::backend("sampling the proxies' minibatch", e))?;
        let computer = ProxyComputer::new(builder, spec, batch, proxies, seed)
            .map_err(|e| Error::backend("setting up the zero-cost proxies", e))?;
        Ok(Box::new(ProxyEvaluator::new(computer)))
    }
}
