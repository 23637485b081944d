//! Peak training memory measured from the resident set. Alone in its test binary so that no
//! other test allocates in the same process while it measures.

use nascent_space::{Nb201Arch, Nb201Op};
use nascent_train::metrics::{MemoryMethod, train_step_memory};
use nascent_train::{Model, Nb201Builder, NetSpec};
use tch::{Device, Tensor};

#[test]
fn training_memory_grows_with_the_batch_and_keeps_weights() {
    let spec = NetSpec {
        in_channels: 1,
        resolution: 28,
        classes: 10,
        channels: Some(16),
        cells: Some(1),
    };
    let arch = Nb201Arch::uniform(Nb201Op::Conv3x3);
    let m = Model::new(&Nb201Builder, &arch, spec, Device::Cpu).unwrap();
    let before: Vec<(String, Tensor)> =
        m.vs.variables()
            .into_iter()
            .map(|(k, t)| (k, t.detach().copy()))
            .collect();
    let small = train_step_memory(&m, 8).unwrap();
    let big = train_step_memory(&m, 128).unwrap();
    eprintln!("batch 8: {small:?}\nbatch 128: {big:?}");
    assert_eq!(small.model_bytes, big.model_bytes);
    assert_eq!(big.estimate_step_bytes, 16 * small.estimate_step_bytes);
    assert_eq!(big.method, MemoryMethod::ResidentSet);
    // 128 images: the stem and cell alone keep tens of maps of 16x28x28 floats each.
    assert!(big.step_bytes > 20_000_000, "{big:?}");
    assert!(big.step_bytes > 4 * small.step_bytes, "{small:?} {big:?}");
    // Measured within a factor of three of the graph's upper-bound estimate.
    assert!(big.step_bytes < big.estimate_step_bytes * 3, "{big:?}");
    let vars = m.vs.variables();
    for (name, old) in &before {
        assert!(vars[name].detach().equal(old), "{name} changed");
    }
}
