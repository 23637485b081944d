//! The published DARTS-V2 genotype builds to the published size on CIFAR-10 (C=36, 20 cells):
//! 3.3M parameters. DARTS' `train.py` counts parameters without the auxiliary head
//! (`utils.count_parameters_in_MB` skips names containing "auxiliary").

use nascent_space::DartsGenotype;
use nascent_train::graph::without_init;
use nascent_train::nets::darts::darts_graph;
use nascent_train::{DartsBuilder, Model, NetSpec};
use tch::{Device, nn};

#[test]
fn darts_v2_has_the_published_size() {
    let g = DartsGenotype::darts_v2();
    let vs = nn::VarStore::new(Device::Cpu);
    let graph = without_init(|| darts_graph(&g, &NetSpec::cifar(10), true, &vs.root())).unwrap();
    let with_aux = graph.param_count();
    let without_aux = graph.inference_param_count();
    eprintln!(
        "DARTS-V2 CIFAR-10 C=36 20 cells: {without_aux} parameters without the auxiliary head, {with_aux} with it; {} MACs",
        graph.macs()
    );
    // 3,349,342 is what DARTS' train.py prints for DARTS_V2 ("param size = 3.349342MB").
    assert_eq!(without_aux, 3_349_342);
    // The auxiliary head: conv1x1 576->128, BN(128), conv2x2 128->768, BN(768), linear 768->10.
    assert_eq!(
        with_aux - without_aux,
        576 * 128 + 256 + 128 * 768 * 4 + 1536 + 768 * 10 + 10
    );
    // Built without the head, the model holds exactly the inference parameters.
    let m = Model::new(
        &DartsBuilder::new(false),
        &g,
        NetSpec::cifar(10),
        Device::Cpu,
    )
    .unwrap();
    assert_eq!(m.num_params() as u64, without_aux);
}
