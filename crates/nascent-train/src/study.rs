//! The libtorch backend of `nascent-study`, and the registration table of the search spaces.
//!
//! [`Torch`] implements [`nascent_study::Backend`]: it loads a study's data, trains its trials
//! ([`TrainEvaluator`]), retrains, measures and exports the best architecture. The spaces it
//! can build networks for are registered once, in the `spaces!` table below: a space's name,
//! its constructor, its network builder and its report view. Adding a search space means
//! writing the space (nascent-space), its builder ([`crate::nets`]) and one line here; the
//! study settings, the `nascent` commands and the report find it through this table.
//!
//! Zero-cost proxies live in nascent-oneshot, above this crate: whoever composes the backend
//! plugs them in with [`Torch::with_proxies`] (the `nascent` binary does).

use crate::data::{Augment, DataSpec, DataSplits};
use crate::evaluate::{ArchSetup, SpeedHook, TrainEvaluator};
use crate::model::{Builder, Model, NetSpec};
use crate::nets::{ChainBuilder, DartsBuilder, Nb201Builder};
use crate::recipe::{ArchTraining, CALIBRATION_IMAGES, JointBuilder, JointTraining};
use crate::trainer::{
    AmpDtype, EpochStats, NoObserver, Optimizer, Schedule, TimeLimit, TrainConfig, TrainObserver,
    TrainReport,
};
use nascent_core::{Budget, Evaluator, NoReporter, SearchSpace};
use nascent_report::ArchView;
use nascent_report::report::view_for_space;
use nascent_space::chain::ChainConfig;
use nascent_space::joint::{JointConfig, JointSpace};
use nascent_space::{ChainSpace, DartsSpace, Nb201Space};
use nascent_study::{
    Backend, Catalog, DataInfo, Error, FinalEpoch, FinalModel, MemberRun, OptimizerKind, Precision,
    Prepared, ProxySettings, Result, RetrainEpoch, RetrainPlan, SpaceEntry, SpaceInfo,
    SpaceSettings, SpaceTask, StudyConfig, StudyEvent, StudyObserver, TrainSettings, Trainer,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tch::Device;

/// Options of the spaces and their network builders (`nascent inspect --auxiliary`, the
/// study's `[space]` table).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetOptions {
    /// DARTS: add the auxiliary head.
    pub auxiliary: bool,
    /// The joint space's values (its defaults when `None`).
    pub joint: Option<JointConfig>,
    /// The chain space's options (its defaults when `None`).
    pub chain: Option<ChainConfig>,
}

/// How a registered space's architectures take part in training, when they carry their own
/// recipe, width or depth.
pub type Training<A> = Arc<dyn ArchTraining<A>>;

/// What a registry line makes of its options: the space, and its training when it has one.
type SpaceParts<S> = (S, Option<Training<<S as SearchSpace>::Arch>>);

/// A registered space with its network builder.
pub struct NetSpace<S: SearchSpace> {
    /// The space.
    pub space: S,
    /// Builds its networks.
    pub builder: Arc<dyn Builder<S::Arch>>,
    /// Its registration.
    pub info: SpaceInfo,
    /// Draws its architectures in the report.
    pub view: Option<Box<dyn ArchView>>,
    /// Sets each architecture's own training up (the joint space's recipe, width and depth);
    /// `None` when the study's settings say everything.
    pub training: Option<Training<S::Arch>>,
}

/// Something done with a registered space and its builder, whatever its architecture type
/// (`nascent train`, `inspect`, `export`, the study backend).
pub trait NetTask {
    /// What it gives back.
    type Output;

    /// Does it.
    fn run<S: SearchSpace + Clone + 'static>(self, net: NetSpace<S>) -> Self::Output;
}

fn no_options<B>(name: &str, options: &NetOptions, builder: B) -> Result<B> {
    if options.auxiliary {
        return Err(Error::config(
            "auxiliary",
            format!("the auxiliary head applies to the darts space only, not {name}"),
        ));
    }
    Ok(builder)
}

/// The registration table: `name, summary, scalable, |options| (space, training), builder;`
/// (the report draws a space's architectures with [`view_for_space`], which knows the same
/// names).
macro_rules! spaces {
    ($($name:literal, $summary:literal, $scalable:expr, |$o:ident| $space:expr, $builder:expr;)*) => {
        /// The registered search spaces, in order.
        pub fn spaces() -> Vec<SpaceInfo> {
            vec![$(SpaceInfo {
                name: $name.to_string(),
                summary: $summary.to_string(),
                scalable: $scalable,
            }),*]
        }

        /// Runs `task` with the space registered as `name` and its builder (made with
        /// `options`); an error naming `space.kind` when no space has that name.
        pub fn with_net_space<T: NetTask>(
            name: &str,
            options: &NetOptions,
            task: T,
        ) -> Result<T::Output> {
            let all = spaces();
            let info = all.iter().find(|s| s.name == name).cloned().ok_or_else(|| {
                let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
                Error::config(
                    "space.kind",
                    format!("unknown space `{name}` (known: {})", names.join(", ")),
                )
            })?;
            $(
                if name == $name {
                    let $o = options;
                    let builder = Arc::new($builder?);
                    let (space, training) = $space?;
                    return Ok(task.run(NetSpace {
                        space,
                        builder,
                        info,
                        view: view_for_space($name),
                        training,
                    }));
                }
            )*
            unreachable!("every registered name has its arm")
        }
    };
}

spaces! {
    "nb201", "NAS-Bench-201 cells in the benchmark's macro network", true,
        |o| plain("nb201", o, Nb201Space::new()), no_options("nb201", o, Nb201Builder);
    "darts", "DARTS normal and reduction cells", true,
        |o| plain("darts", o, DartsSpace::default()),
        Ok::<_, Error>(DartsBuilder::new(o.auxiliary));
    "chain", "chains of layers (each sets its own width; the depth is the chain's)", false,
        |o| chain_space(o), no_options("chain", o, ChainBuilder);
    "joint", "an NB201 cell with its width, depth and training recipe (learning rate, weight decay, batch size, augmentation, label smoothing)", false,
        |o| joint_space(o), no_options("joint", o, JointBuilder);
}

/// The joint space of `options.joint` (its defaults without), proposing only configurations
/// whose retraining fits, and its training.
fn joint_space(options: &NetOptions) -> Result<SpaceParts<JointSpace>> {
    no_foreign_options("joint", options)?;
    let config = options.joint.clone().unwrap_or_default();
    let training = JointTraining::new(config.clone());
    let space = JointSpace::new(config)?.with_feasibility(training.rule());
    Ok((space, Some(Arc::new(training))))
}

/// The chain space of `options.chain` (its defaults without).
fn chain_space(options: &NetOptions) -> Result<SpaceParts<ChainSpace>> {
    no_foreign_options("chain", options)?;
    let config = options.chain.clone().unwrap_or_default();
    config.check_at("space.chain.")?;
    Ok((ChainSpace::new(config)?, None))
}

/// A space without options of its own.
fn plain<S: SearchSpace>(name: &str, options: &NetOptions, space: S) -> Result<SpaceParts<S>> {
    no_foreign_options(name, options)?;
    Ok((space, None))
}

/// Refuses the options of other spaces than `name` (`[space.joint]`, `[space.chain]`).
fn no_foreign_options(name: &str, options: &NetOptions) -> Result<()> {
    for (owner, given) in [
        ("joint", options.joint.is_some()),
        ("chain", options.chain.is_some()),
    ] {
        if given && owner != name {
            return Err(Error::config(
                format!("space.{owner}"),
                format!("applies to the {owner} space only, not {name}"),
            ));
        }
    }
    Ok(())
}

/// Computes zero-cost proxies for `evaluator.kind = "proxy"` (nascent-oneshot has them; the
/// composer plugs them in with [`Torch::with_proxies`]).
pub trait Proxies: Send + Sync + 'static {
    /// The proxies' names.
    fn names(&self) -> Vec<String>;

    /// The evaluator scoring networks built by `builder` for `spec` on a minibatch of `data`.
    fn evaluator<A: Send + Sync + 'static>(
        &self,
        builder: Arc<dyn Builder<A>>,
        spec: NetSpec,
        data: &DataSplits,
        settings: &ProxySettings,
        seed: u64,
    ) -> Result<Box<dyn Evaluator<A>>>;
}

/// No zero-cost proxies.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProxies;

impl Proxies for NoProxies {
    fn names(&self) -> Vec<String> {
        Vec::new()
    }

    fn evaluator<A: Send + Sync + 'static>(
        &self,
        _builder: Arc<dyn Builder<A>>,
        _spec: NetSpec,
        _data: &DataSplits,
        _settings: &ProxySettings,
        _seed: u64,
    ) -> Result<Box<dyn Evaluator<A>>> {
        Err(Error::config(
            "evaluator.kind",
            "`proxy` needs zero-cost proxies, which this backend was not given",
        ))
    }
}

/// The libtorch backend of studies.
#[derive(Clone, Debug)]
pub struct Torch<P = NoProxies> {
    device: Device,
    proxies: Arc<P>,
}

impl Default for Torch {
    fn default() -> Self {
        Self::new()
    }
}

impl Torch {
    /// On a CUDA GPU when there is one, else the CPU; without zero-cost proxies.
    pub fn new() -> Self {
        Torch {
            device: Device::cuda_if_available(),
            proxies: Arc::new(NoProxies),
        }
    }
}

impl<P: Proxies> Torch<P> {
    /// Trains on `device`.
    pub fn with_device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// Computes zero-cost proxies with `proxies`.
    pub fn with_proxies<Q: Proxies>(self, proxies: Q) -> Torch<Q> {
        Torch {
            device: self.device,
            proxies: Arc::new(proxies),
        }
    }
}

impl<P: Proxies> Backend for Torch<P> {
    fn catalog(&self) -> Catalog {
        Catalog {
            spaces: spaces(),
            proxies: self.proxies.names(),
        }
    }

    fn with_space<T: SpaceTask>(&self, space: &SpaceSettings, task: T) -> Result<T::Output> {
        struct Adapter<'t, T, P> {
            task: T,
            torch: &'t Torch<P>,
        }
        impl<T: SpaceTask, P: Proxies> NetTask for Adapter<'_, T, P> {
            type Output = T::Output;
            fn run<S: SearchSpace + Clone + 'static>(self, net: NetSpace<S>) -> T::Output {
                let trainer = TorchTrainer {
                    builder: net.builder,
                    training: net.training,
                    device: self.torch.device,
                    proxies: self.torch.proxies.clone(),
                };
                self.task.run(SpaceEntry {
                    space: net.space,
                    trainer: &trainer,
                    view: net.view,
                    info: net.info,
                })
            }
        }
        let options = NetOptions {
            joint: space.joint.clone(),
            chain: space.chain.clone(),
            ..NetOptions::default()
        };
        with_net_space(&space.kind, &options, Adapter { task, torch: self })
    }
}

/// Trains the networks of one space with libtorch.
struct TorchTrainer<A, P> {
    builder: Arc<dyn Builder<A>>,
    training: Option<Training<A>>,
    device: Device,
    proxies: Arc<P>,
}

impl<A: Send + Sync + 'static, P: Proxies> Trainer<A> for TorchTrainer<A, P> {
    fn prepare(
        &self,
        config: &StudyConfig,
        observer: &dyn StudyObserver,
    ) -> Result<Box<dyn Prepared<A>>> {
        observer.event(&StudyEvent::Loading {
            data: &config.data.name,
        });
        let (data, augment) = load_data(config)?;
        let info = DataInfo {
            origin: data.origin.display().to_string(),
            train: data.train.len(),
            val: data.val.len(),
            test: data.test.as_ref().map_or(0, |t| t.len()),
            shape: data.shape(),
            classes: data.classes(),
        };
        observer.event(&StudyEvent::DataReady(&info));
        let prepared = TorchPrepared {
            builder: self.builder.clone(),
            setup: self.training.as_ref().map(|t| t.setup(augment.clone())),
            speed_hook: self.training.as_ref().and_then(|t| t.speed_hook()),
            device: self.device,
            proxies: self.proxies.clone(),
            data: Arc::new(data),
            augment,
            info,
            config: config.clone(),
        };
        if let Some(training) = &self.training {
            prepared.prepare_training(&**training)?;
        }
        Ok(Box::new(prepared))
    }
}

struct TorchPrepared<A, P> {
    builder: Arc<dyn Builder<A>>,
    setup: Option<ArchSetup<A>>,
    speed_hook: Option<SpeedHook<A>>,
    device: Device,
    proxies: Arc<P>,
    data: Arc<DataSplits>,
    augment: Augment,
    info: DataInfo,
    config: StudyConfig,
}

/// Training images the retraining's speed probe passes over (twice, the second timed). A pass
/// has a fixed cost besides its batches (the loader's start, the last batch's wait), which a
/// dozen batches do not amortise: over 1,536 images the second pass measured Fashion-MNIST's
/// main network in bfloat16 at 622 images/s where its full epochs then ran at 720-760, and the
/// study planned 16 epochs where about 19 fit.
pub const RETRAIN_PROBE_IMAGES: usize = 4096;

/// Training images per second of `arch` at `budget` in the second of two passes over `evaluator`'s data
/// (its fidelity otherwise the budget's).
fn measured_speed<A>(
    evaluator: &TrainEvaluator<A>,
    arch: &A,
    budget: &Budget,
) -> crate::TrainResult<f64> {
    // Two passes over the slice, the second timed: the first batches of a new network run
    // slower (the kernels' weight layouts and primitives are made then; in bfloat16 more so),
    // and a first epoch of a dozen batches under-measured the steady speed by about 12 %
    // (CIFAR-10: 607 images/s timed, about 690 trained), leaving that share of the budget
    // unused.
    let two_epochs = Budget {
        epochs: Some(2),
        data_fraction: None,
        ..budget.clone()
    };
    let (_, report) = evaluator.train(
        arch,
        &two_epochs,
        &mut NoReporter,
        &mut crate::trainer::NoObserver,
    )?;
    Ok(report
        .epochs
        .last()
        .map_or(f64::NAN, |e| e.images_per_second))
}

/// `n` indices (all of them when `n >= len`) spread evenly over `0..len`, in order.
fn spread_indices(len: usize, n: usize) -> Vec<usize> {
    let n = n.min(len);
    (0..n).map(|i| i * len / n).collect()
}

fn backend_err(what: impl Into<String>) -> impl FnOnce(crate::TrainError) -> Error {
    let what = what.into();
    move |e| Error::backend(what, e)
}

impl<A: Send + Sync + 'static, P: Proxies> TorchPrepared<A, P> {
    /// An evaluator that times training alone: epochs over `images` training images spread
    /// evenly over the split, no validation, with `recipe`. Evenly, not the first ones: an
    /// image folder lists its images class by class, and CIFAR-10's first 4,096 are all one
    /// class (the probe's network then reached a loss of 0 in its second pass), so the slice
    /// would time a degenerate task.
    fn speed_evaluator(
        &self,
        recipe: &TrainSettings,
        threads: usize,
        images: usize,
    ) -> Result<TrainEvaluator<A>> {
        let full = &self.data;
        let indices = spread_indices(full.train.len(), images);
        let slice = DataSplits {
            origin: full.origin.clone(),
            train: full.train.subset(&indices),
            val: full.train.subset(&[]),
            test: None,
            norm: full.norm.clone(),
        };
        let cfg = train_config(recipe, &self.augment, self.config.seed, threads, false);
        let mut evaluator = TrainEvaluator::new(
            Box::new(self.builder.clone()),
            Arc::new(slice),
            cfg,
            self.device,
        )
        .map_err(backend_err("measuring the training speed"))?;
        if let Some(setup) = &self.setup {
            evaluator = evaluator.with_setup(setup.clone());
        }
        Ok(evaluator)
    }

    /// Lets a space whose architectures carry their own recipe measure this machine
    /// ([`ArchTraining::prepare`]) with [`TorchPrepared::speed_evaluator`].
    fn prepare_training(&self, training: &dyn ArchTraining<A>) -> Result<()> {
        let config = &self.config;
        let threads = config
            .train
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let evaluator = self.speed_evaluator(&config.train, threads, CALIBRATION_IMAGES)?;
        let speed = |arch: &A| measured_speed(&evaluator, arch, &Budget::default());
        let reserve = config
            .retrain
            .enabled
            .then(|| config.retrain.minutes * 60.0);
        training
            .prepare(&speed, &self.data, reserve)
            .map_err(backend_err("measuring the training speed"))
    }

    fn evaluator(
        &self,
        recipe: &TrainSettings,
        threads: usize,
        test: bool,
    ) -> Result<TrainEvaluator<A>> {
        let cfg = train_config(recipe, &self.augment, self.config.seed, threads, test);
        TrainEvaluator::new(
            Box::new(self.builder.clone()),
            self.data.clone(),
            cfg,
            self.device,
        )
        .map(|e| {
            let mut e = e.with_test(test);
            if let Some(setup) = &self.setup {
                e = e.with_setup(setup.clone());
            }
            if let Some(hook) = &self.speed_hook {
                e = e.with_speed_hook(hook.clone());
            }
            e
        })
        .map_err(backend_err("setting up training"))
    }

    fn spec(&self, budget: &Budget) -> NetSpec {
        let [c, h, _] = self.info.shape;
        NetSpec {
            in_channels: c as i64,
            resolution: budget.resolution.map_or(h as i64, i64::from),
            classes: self.info.classes as i64,
            channels: budget.channels.map(i64::from),
            cells: budget.cells.map(i64::from),
        }
    }
}

impl<A: Send + Sync + 'static, P: Proxies> Prepared<A> for TorchPrepared<A, P> {
    fn data(&self) -> &DataInfo {
        &self.info
    }

    fn probe(&self, arch: &A, budget: &Budget) -> std::result::Result<(), String> {
        let spec = self.spec(budget);
        crate::graph::without_init(|| Model::new(&*self.builder, arch, spec, Device::Cpu))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn train_evaluator(&self, threads: usize) -> Result<Box<dyn Evaluator<A>>> {
        let mut e = self.evaluator(&self.config.train, threads, false)?;
        // A trial too slow for the retraining epochs the study requires stops early.
        e.config_mut().min_images_per_second =
            nascent_study::min_trial_speed(&self.config, &self.info);
        Ok(Box::new(e))
    }

    fn proxy_evaluator(
        &self,
        settings: &ProxySettings,
        budget: &Budget,
    ) -> Result<Box<dyn Evaluator<A>>> {
        self.proxies.evaluator(
            self.builder.clone(),
            self.spec(budget),
            &self.data,
            settings,
            self.config.seed,
        )
    }

    fn training_speed(
        &self,
        arch: &A,
        budget: &Budget,
        recipe: &TrainSettings,
        threads: usize,
    ) -> Result<Option<f64>> {
        let evaluator = self.speed_evaluator(recipe, threads, RETRAIN_PROBE_IMAGES)?;
        measured_speed(&evaluator, arch, budget)
            .map(|ips| Some(ips).filter(|v| v.is_finite() && *v > 0.0))
            .map_err(backend_err("measuring the retraining's speed"))
    }

    fn retrain(
        &self,
        arch: &A,
        plan: &RetrainPlan,
        observer: &dyn StudyObserver,
    ) -> Result<FinalModel> {
        let members = plan.members.max(1);
        let threads = (plan.threads / members).max(1);
        let limit = plan.time_limit.map(|seconds| TimeLimit {
            seconds,
            max_epochs: plan.max_epochs,
        });
        let evaluators = (0..members)
            .map(|m| {
                let mut e = self
                    .evaluator(&plan.recipe, threads, true)?
                    .with_time_limit(limit);
                e.config_mut().seed = member_seed(self.config.seed, m);
                Ok(e)
            })
            .collect::<Result<Vec<_>>>()?;
        let budget = Budget {
            epochs: Some(plan.epochs),
            data_fraction: None,
            resolution: plan.resolution,
            cells: plan.cells,
            channels: plan.channels,
        };
        let t0 = Instant::now();
        let mut progress = Progress {
            observer,
            epochs: plan.epochs,
        };
        let train = |e: &TrainEvaluator<A>, observer: &mut dyn TrainObserver| {
            let t = Instant::now();
            e.train(arch, &budget, &mut NoReporter, observer)
                .map(|(model, report)| (model, report, t.elapsed().as_secs_f64()))
                .map_err(backend_err(format!("retraining {}", plan.arch)))
        };
        // The first member reports progress from this thread; the others train beside it.
        let runs: Vec<Result<(Model, TrainReport, f64)>> = std::thread::scope(|scope| {
            let others: Vec<_> = evaluators[1..]
                .iter()
                .map(|e| scope.spawn(|| train(e, &mut NoObserver)))
                .collect();
            let first = train(&evaluators[0], &mut progress);
            std::iter::once(first)
                .chain(others.into_iter().map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::backend(
                            format!("retraining {}", plan.arch),
                            "an ensemble member's thread panicked",
                        ))
                    })
                }))
                .collect()
        });
        let mut trained = Vec::new();
        for (m, run) in runs.into_iter().enumerate() {
            match run {
                Ok(t) => trained.push((m, t)),
                // A later member's failure leaves it out; the first one's is the retraining's.
                Err(e) if m > 0 => {
                    log::warn!("ensemble member {} failed and is left out: {e}", m + 1);
                }
                Err(e) => return Err(e),
            }
        }
        let (_, (model, report, _)) = &trained[0];
        let mut fm = FinalModel {
            schema_version: nascent_study::SCHEMA_VERSION,
            arch: plan.arch.clone(),
            trial: plan.trial,
            search_val_accuracy: None,
            epochs: report.epochs_done,
            epochs_planned: (report.epochs_done != report.epochs_planned)
                .then_some(report.epochs_planned),
            channels: plan.channels,
            cells: plan.cells,
            test_accuracy: report.test_accuracy,
            val_accuracy: report.val_accuracy,
            train_accuracy: report.train_accuracy,
            params: model.num_params() as f64,
            flops: None,
            latency_ms: None,
            seconds: t0.elapsed().as_secs_f64(),
            exports: Vec::new(),
            history: report
                .epochs
                .iter()
                .map(|e| FinalEpoch {
                    epoch: e.epoch,
                    loss: e.train_loss,
                    train_accuracy: e.train_accuracy,
                    val_accuracy: e.val_accuracy,
                })
                .collect(),
            race: Vec::new(),
            members: Vec::new(),
        };
        if members == 1 {
            measure(model, &mut fm);
            if plan.export {
                fm.exports = export(model, &plan.arch, &plan.space, &plan.out.join("model"), "")?;
            }
            return Ok(fm);
        }
        // An ensemble: its accuracies average the members' probabilities, on all the threads.
        tch::set_num_threads(plan.threads as i32);
        let models: Vec<&Model> = trained.iter().map(|(_, (m, _, _))| m).collect();
        let cfg = evaluators[0].config();
        let ensemble = |data: &crate::data::Dataset| {
            crate::trainer::ensemble_accuracy(
                &models,
                Arc::new(data.clone()),
                &self.data.norm,
                cfg.eval_batch_size,
                plan.resolution.map(i64::from),
                cfg.prefetch,
            )
        };
        fm.val_accuracy = (!self.data.val.is_empty()).then(|| ensemble(&self.data.val));
        fm.test_accuracy = self.data.test.as_ref().map(ensemble);
        fm.train_accuracy = trained
            .iter()
            .map(|(_, (_, r, _))| r.train_accuracy)
            .sum::<f64>()
            / trained.len() as f64;
        fm.params = models.iter().map(|m| m.num_params() as f64).sum();
        let (mut flops, mut latency) = (Some(0.0), Some(0.0));
        for (n, (m, (model, report, seconds))) in trained.iter().enumerate() {
            let mut one = FinalModel::default();
            measure(model, &mut one);
            flops = flops.zip(one.flops).map(|(a, b)| a + b);
            latency = latency.zip(one.latency_ms).map(|(a, b)| a + b);
            fm.members.push(MemberRun {
                seed: member_seed(self.config.seed, *m),
                epochs: report.epochs_done,
                test_accuracy: report.test_accuracy,
                val_accuracy: report.val_accuracy,
                seconds: *seconds,
            });
            if plan.export {
                let dir = plan.out.join("model").join(format!("member-{}", n + 1));
                let what = format!("member {}: ", n + 1);
                fm.exports
                    .extend(export(model, &plan.arch, &plan.space, &dir, &what)?);
            }
        }
        fm.flops = flops;
        fm.latency_ms = latency;
        fm.seconds = t0.elapsed().as_secs_f64();
        Ok(fm)
    }
}

/// The training seed of an ensemble's member `m` (the study's own seed for the first).
fn member_seed(seed: u64, m: usize) -> u64 {
    if m == 0 {
        seed
    } else {
        nascent_core::rng::derive_seed(seed, 0x6D65_6D62_0000 + m as u64)
    }
}

/// Sends the trainer's progress to the study's observer.
struct Progress<'o> {
    observer: &'o dyn StudyObserver,
    epochs: u32,
}

impl TrainObserver for Progress<'_> {
    fn on_start(&mut self, first_epoch: u32, epochs: u32, batches: usize) {
        self.observer.event(&StudyEvent::RetrainBatches {
            first_epoch,
            epochs,
            batches,
        });
    }
    fn on_batch(&mut self, _epoch: u32, _batch: usize, _loss: Option<f64>) {
        self.observer.event(&StudyEvent::RetrainBatch);
    }
    fn on_epoch(&mut self, stats: &EpochStats) {
        self.observer
            .event(&StudyEvent::RetrainEpoch(&RetrainEpoch {
                epoch: stats.epoch,
                epochs: self.epochs,
                train_loss: stats.train_loss,
                train_accuracy: stats.train_accuracy,
                val_accuracy: stats.val_accuracy,
                images_per_second: stats.images_per_second,
            }));
    }
}

/// Loads and splits a study's dataset.
pub fn load_data(s: &StudyConfig) -> Result<(DataSplits, Augment)> {
    let spec = match (DataSpec::parse(&s.data.name), &s.data.path) {
        (DataSpec::Known(k, _), Some(p)) => DataSpec::Known(k, Some(p.clone())),
        (DataSpec::Path(p), _) => {
            if !p.exists() {
                return Err(Error::config(
                    "data.name",
                    format!(
                        "{} does not exist (a dataset name is one of fashion-mnist, mnist, cifar10)",
                        p.display()
                    ),
                ));
            }
            DataSpec::Path(p)
        }
        (known, None) => known,
    };
    let mut loaded = spec.load()?;
    if let Some(shape) = s.data.parsed_shape()? {
        let origin = loaded.origin.clone();
        for d in std::iter::once(&mut loaded.train).chain(loaded.test.as_mut()) {
            d.reshape(&origin, shape)
                .map_err(|e| Error::config("data.shape", e.to_string()))?;
        }
    }
    let augment = spec.default_augment(&loaded);
    let splits = DataSplits::split(loaded, s.data.validation_fraction, s.seed)?;
    Ok((splits, augment))
}

/// The mixed-precision dtype of a recipe's precision (`None`: float32 throughout), for
/// [`TrainConfig::mixed_precision`] and [`TrainConfig::amp_dtype`].
pub fn mixed_precision(p: Precision) -> Option<AmpDtype> {
    match p {
        Precision::Auto => Some(AmpDtype::Auto),
        Precision::Float32 => None,
        Precision::Bfloat16 => Some(AmpDtype::BFloat16),
        Precision::Float16 => Some(AmpDtype::Float16),
    }
}

/// The trainer's configuration for a study's training recipe.
pub fn train_config(
    t: &TrainSettings,
    dataset_augment: &Augment,
    seed: u64,
    threads: usize,
    test: bool,
) -> TrainConfig {
    let optimizer = match t.optimizer {
        OptimizerKind::Sgd => Optimizer::Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: t.weight_decay,
        },
        OptimizerKind::Adam | OptimizerKind::Adamw => Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: t.weight_decay,
            decoupled: t.optimizer == OptimizerKind::Adamw,
        },
    };
    let mut augment = if t.augment {
        dataset_augment.clone()
    } else {
        Augment::none()
    };
    if t.cutout > 0 {
        augment.cutout = t.cutout;
    }
    TrainConfig {
        batch_size: t.batch_size,
        eval_batch_size: t.batch_size.max(512),
        lr: t.lr,
        optimizer,
        schedule: Schedule::Cosine { min_lr: 0.0 },
        warmup_epochs: t.warmup_epochs,
        label_smoothing: t.label_smoothing,
        grad_clip: (t.grad_clip > 0.0).then_some(t.grad_clip),
        mixed_precision: mixed_precision(t.precision).is_some(),
        amp_dtype: mixed_precision(t.precision).unwrap_or(AmpDtype::Auto),
        augment,
        seed,
        threads: Some(threads),
        evaluate_test: test,
        replicas: t.replicas,
        ..TrainConfig::default()
    }
}

fn measure(model: &Model, fm: &mut FinalModel) {
    match crate::metrics::complexity(model) {
        Ok(c) => fm.flops = Some(c.flops as f64),
        Err(e) => log::warn!("cannot count FLOPs: {e}"),
    }
    match crate::metrics::latency(model, 1, 5, 30) {
        Ok(l) => fm.latency_ms = Some(l.median_ms),
        Err(e) => log::warn!("cannot measure latency: {e}"),
    }
}

fn export(
    model: &Model,
    arch: &str,
    space: &str,
    dir: &Path,
    what: &str,
) -> Result<Vec<(String, PathBuf)>> {
    let files = crate::export::export_model(model, space, arch, dir).map_err(backend_err(
        format!("exporting the final model into {}", dir.display()),
    ))?;
    Ok(vec![
        (format!("{what}genotype"), files.genotype_txt),
        (format!("{what}genotype (JSON)"), files.genotype_json),
        (format!("{what}weights (safetensors)"), files.weights),
        (format!("{what}ONNX model"), files.onnx),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Name;
    impl NetTask for Name {
        type Output = String;
        fn run<S: SearchSpace + Clone + 'static>(self, net: NetSpace<S>) -> String {
            assert_eq!(net.info.name, net.space.name());
            net.space.name().to_string()
        }
    }

    /// The speed probe's slice spans the split: on a class-ordered image folder (CIFAR-10's
    /// 45,000 training images, 4,500 a class) it holds every class, the first and the last
    /// images included, each once.
    #[test]
    fn the_probe_slice_spans_the_split() {
        let idx = spread_indices(45_000, 4096);
        assert_eq!(idx.len(), 4096);
        assert_eq!(idx[0], 0);
        assert!(idx.windows(2).all(|w| w[0] < w[1]));
        let classes: std::collections::BTreeSet<usize> = idx.iter().map(|i| i / 4500).collect();
        assert_eq!(classes.len(), 10);
        assert!(*idx.last().unwrap() >= 45_000 - 11);
        assert_eq!(spread_indices(100, 4096), (0..100).collect::<Vec<_>>());
        assert!(spread_indices(0, 4096).is_empty());
    }

    /// Issue 10: a recipe's precision reaches the trainer: `auto` and the named dtypes as
    /// mixed precision, `float32` as none.
    #[test]
    fn the_recipe_precision_reaches_the_trainer() {
        let none = Augment::none();
        let cfg = |p: Precision| {
            let t = TrainSettings {
                precision: p,
                ..TrainSettings::default()
            };
            let c = train_config(&t, &none, 0, 1, false);
            (c.mixed_precision, c.amp_dtype)
        };
        assert_eq!(cfg(Precision::Auto), (true, AmpDtype::Auto));
        assert!(!cfg(Precision::Float32).0);
        assert_eq!(cfg(Precision::Bfloat16), (true, AmpDtype::BFloat16));
        assert_eq!(cfg(Precision::Float16), (true, AmpDtype::Float16));
    }

    #[test]
    fn every_registered_name_is_its_space_name() {
        for info in spaces() {
            let got = with_net_space(&info.name, &NetOptions::default(), Name).unwrap();
            assert_eq!(got, info.name);
        }
        let e = with_net_space("mobile", &NetOptions::default(), Name)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("space.kind") && e.contains("nb201, darts, chain"),
            "{e}"
        );
        let e = with_net_space(
            "nb201",
            &NetOptions {
                auxiliary: true,
                ..NetOptions::default()
            },
            Name,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("darts space only"), "{e}");
    }
}
