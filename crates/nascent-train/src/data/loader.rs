//! Batches for training and evaluation, prepared on a background thread.
//!
//! While torch computes a step on the calling thread, a producer thread gathers the next
//! batches (normalising and augmenting each sample, and making the tensors), so both cores stay
//! busy. The order and the augmentation of epoch `e` depend only on the seed and `e`: the same
//! seed gives the same batches, whether prefetching is on or off. Samples are written straight
//! into the batch tensor's memory (no intermediate buffer); for a GPU the producer also copies
//! each batch into pinned (page-locked) host memory, so that the copy to the GPU does not block
//! ([`Loader::pin_memory`]).

use super::{Augment, Dataset, Normalization};
use nascent_core::{Rng, derive_seed};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use tch::{Device, Kind, Tensor};

/// How batches are made.
#[derive(Clone, Debug, PartialEq)]
pub struct LoaderConfig {
    /// Samples a batch.
    pub batch_size: usize,
    /// Shuffle the order every epoch.
    pub shuffle: bool,
    /// Leave out the last, smaller batch.
    pub drop_last: bool,
    /// Augmentation (images only).
    pub augment: Augment,
    /// Seed of the order and the augmentation.
    pub seed: u64,
    /// Batches prepared ahead on the producer thread; 0 makes them on the calling thread.
    pub prefetch: usize,
    /// Run the producer thread at a lower priority than the compute threads (for CPU
    /// training, where torch already keeps every core busy).
    pub low_priority: bool,
}

impl LoaderConfig {
    /// In order, every sample, no augmentation: for evaluation.
    pub fn eval(batch_size: usize) -> Self {
        LoaderConfig {
            batch_size,
            shuffle: false,
            drop_last: false,
            augment: Augment::none(),
            seed: 0,
            prefetch: 2,
            low_priority: false,
        }
    }
}

/// One batch on the CPU: images `[b, c, h, w]` (float) and labels `[b]` (int64).
#[derive(Debug)]
pub struct Batch {
    /// Normalised (and augmented) inputs.
    pub images: Tensor,
    /// Class indices.
    pub labels: Tensor,
}

/// Makes the batches of one dataset.
#[derive(Clone, Debug)]
pub struct Loader {
    data: Arc<Dataset>,
    norm: Normalization,
    cfg: LoaderConfig,
    /// Pin batches for copies to this CUDA device.
    pin: Option<Device>,
}

impl Loader {
    /// A loader over `data`, normalised with `norm`.
    pub fn new(data: Arc<Dataset>, norm: Normalization, cfg: LoaderConfig) -> Self {
        let cfg = LoaderConfig {
            batch_size: cfg.batch_size.max(1),
            ..cfg
        };
        Loader {
            data,
            norm,
            cfg,
            pin: None,
        }
    }

    /// Makes the batches in pinned host memory when `device` is a CUDA GPU (on the producer
    /// thread, off the training loop's path), so that copies to it can be asynchronous; other
    /// devices need nothing and leave the loader as it is.
    pub fn pin_memory(mut self, device: Device) -> Self {
        self.pin = device.is_cuda().then_some(device);
        self
    }

    /// The dataset.
    pub fn dataset(&self) -> &Dataset {
        &self.data
    }

    /// Batches an epoch.
    pub fn len(&self) -> usize {
        let n = self.data.len();
        if self.cfg.drop_last {
            n / self.cfg.batch_size
        } else {
            n.div_ceil(self.cfg.batch_size)
        }
    }

    /// Whether an epoch has no batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Samples an epoch.
    pub fn samples_per_epoch(&self) -> usize {
        if self.cfg.drop_last {
            self.len() * self.cfg.batch_size
        } else {
            self.data.len()
        }
    }

    /// The batches of epoch `epoch` (0-based).
    pub fn epoch(&self, epoch: u64) -> Batches {
        let mut order: Vec<usize> = (0..self.data.len()).collect();
        if self.cfg.shuffle {
            Rng::new(derive_seed(self.cfg.seed, epoch)).shuffle(&mut order);
        }
        let producer = Producer {
            data: self.data.clone(),
            pad: self
                .norm
                .mean
                .iter()
                .zip(&self.norm.std)
                .map(|(m, s)| -m / s)
                .collect(),
            scale: self.norm.std.iter().map(|s| 1.0 / s).collect(),
            norm: self.norm.clone(),
            cfg: self.cfg.clone(),
            epoch_seed: derive_seed(self.cfg.seed ^ 0xA5A5_5A5A, epoch),
            order,
            batches: self.len(),
            next: 0,
            buf: Vec::new(),
            low_priority: self.cfg.low_priority,
            pin: self.pin,
        };
        if self.cfg.prefetch == 0 {
            return Batches {
                inner: Inner::Sync(Box::new(producer)),
            };
        }
        let (tx, rx) = sync_channel(self.cfg.prefetch);
        let handle = std::thread::Builder::new()
            .name("nascent-loader".into())
            .spawn(move || produce(producer, tx))
            .ok();
        match handle {
            Some(h) => Batches {
                inner: Inner::Thread {
                    rx: Some(rx),
                    handle: Some(h),
                },
            },
            None => {
                // No thread could be started: make the batches on the calling thread.
                log::warn!("cannot start the loader thread; loading batches synchronously");
                let mut sync = self.clone();
                sync.cfg.prefetch = 0;
                sync.epoch(epoch)
            }
        }
    }
}

struct Producer {
    data: Arc<Dataset>,
    norm: Normalization,
    pad: Vec<f32>,
    /// Normalised distance from black to white, per channel.
    scale: Vec<f32>,
    cfg: LoaderConfig,
    epoch_seed: u64,
    order: Vec<usize>,
    batches: usize,
    next: usize,
    buf: Vec<f32>,
    low_priority: bool,
    pin: Option<Device>,
}

impl Producer {
    fn make(&mut self) -> Option<Batch> {
        if self.next >= self.batches {
            return None;
        }
        let b = self.next;
        self.next += 1;
        let bs = self.cfg.batch_size;
        let idx = &self.order[b * bs..((b + 1) * bs).min(self.order.len())];
        let shape = self.data.shape();
        let [c, h, w] = shape;
        let per = c * h * w;
        let n = idx.len() as i64;
        let shape4 = [n, c as i64, h as i64, w as i64];
        // Zeros, not `empty`: the slice below must never see uninitialised memory.
        let images = Tensor::zeros(shape4, (Kind::Float, Device::Cpu));
        let len = idx.len() * per;
        let mut fallback = Vec::new();
        let xs: &mut [f32] = if len == 0 || images.numel() != len || !images.is_contiguous() {
            fallback.resize(len, 0f32);
            &mut fallback
        } else {
            // SAFETY: `images` is a fresh, initialised, contiguous float32 CPU tensor of `len`
            // elements that nothing else references until this function returns it; the slice
            // is last used before `images` is moved.
            unsafe { std::slice::from_raw_parts_mut(images.data_ptr() as *mut f32, len) }
        };
        let mut ys = Vec::with_capacity(idx.len());
        self.buf.resize(per, 0.0);
        let augment = self.data.is_image() && !self.cfg.augment.is_identity();
        for (k, &i) in idx.iter().enumerate() {
            let out = &mut xs[k * per..(k + 1) * per];
            let tmp: &mut [f32] = if augment { &mut self.buf } else { out };
            self.data.write_sample(i, tmp);
            for ch in 0..c {
                let (m, s) = (self.norm.mean[ch], 1.0 / self.norm.std[ch]);
                for v in &mut tmp[ch * h * w..(ch + 1) * h * w] {
                    *v = (*v - m) * s;
                }
            }
            if augment {
                let mut rng = Rng::new(derive_seed(self.epoch_seed, (b * bs + k) as u64));
                self.cfg
                    .augment
                    .apply(&self.buf, shape, &self.pad, &self.scale, &mut rng, out);
            }
            ys.push(self.data.labels()[i]);
        }
        let images = if fallback.is_empty() {
            images
        } else {
            Tensor::from_slice(&fallback).view(shape4)
        };
        let labels = Tensor::from_slice(&ys);
        Some(match self.pin {
            Some(d) => Batch {
                images: images.pin_memory(d),
                labels: labels.pin_memory(d),
            },
            None => Batch { images, labels },
        })
    }
}

/// Lowers the calling thread's scheduling priority (Linux: a per-thread nice value), so that
/// on a busy CPU the producer yields to torch's compute threads: a batch takes a millisecond
/// to make and a training step far longer, so the producer only needs the scraps.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread; failure only leaves the priority as is.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

fn produce(mut p: Producer, tx: SyncSender<Batch>) {
    if p.low_priority {
        lower_priority();
    }
    while let Some(b) = p.make() {
        if tx.send(b).is_err() {
            return;
        }
    }
}

enum Inner {
    Sync(Box<Producer>),
    Thread {
        rx: Option<Receiver<Batch>>,
        handle: Option<JoinHandle<()>>,
    },
}

/// The batches of one epoch, in order.
pub struct Batches {
    inner: Inner,
}

impl Iterator for Batches {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        match &mut self.inner {
            Inner::Sync(p) => p.make(),
            Inner::Thread { rx, .. } => rx.as_ref()?.recv().ok(),
        }
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        if let Inner::Thread { rx, handle } = &mut self.inner {
            // Closing the channel first makes a producer blocked on a full channel return.
            drop(rx.take());
            if let Some(h) = handle.take() {
                let _ = h.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Samples;
    use std::path::Path;

    fn toy(n: usize) -> Arc<Dataset> {
        let px: Vec<u8> = (0..n * 16).map(|i| (i * 7 % 256) as u8).collect();
        let labels = (0..n).map(|i| (i % 3) as i64).collect();
        Arc::new(
            Dataset::new(
                Path::new("toy"),
                [1, 4, 4],
                Samples::U8(px),
                labels,
                vec!["a".into(), "b".into(), "c".into()],
            )
            .unwrap(),
        )
    }

    fn collect(l: &Loader, e: u64) -> Vec<(Vec<f32>, Vec<i64>)> {
        l.epoch(e)
            .map(|b| {
                (
                    Vec::<f32>::try_from(b.images.flatten(0, -1)).unwrap(),
                    Vec::<i64>::try_from(b.labels).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn prefetching_gives_the_same_batches_as_loading_in_line() {
        let d = toy(37);
        let norm = d.channel_stats();
        let cfg = LoaderConfig {
            batch_size: 8,
            shuffle: true,
            drop_last: false,
            augment: Augment {
                crop_padding: 1,
                hflip: true,
                cutout: 2,
                trivial: false,
            },
            seed: 5,
            prefetch: 2,
            low_priority: true,
        };
        let a = Loader::new(d.clone(), norm.clone(), cfg.clone());
        let b = Loader::new(
            d.clone(),
            norm.clone(),
            LoaderConfig {
                prefetch: 0,
                ..cfg.clone()
            },
        );
        assert_eq!(a.len(), 5);
        let ea = collect(&a, 0);
        assert_eq!(ea, collect(&b, 0));
        assert_eq!(ea.len(), 5);
        assert_eq!(ea.iter().map(|x| x.1.len()).sum::<usize>(), 37);
        assert_ne!(ea, collect(&a, 1), "epochs differ");
        // Every label appears as often as in the data.
        let mut all: Vec<i64> = ea.iter().flat_map(|x| x.1.clone()).collect();
        all.sort();
        let mut want = d.labels().to_vec();
        want.sort();
        assert_eq!(all, want);
    }

    #[test]
    fn eval_batches_are_normalised_in_order() {
        let d = toy(10);
        let norm = d.channel_stats();
        let l = Loader::new(d.clone(), norm.clone(), LoaderConfig::eval(4));
        let e = collect(&l, 0);
        assert_eq!(e.len(), 3);
        let xs: Vec<f32> = e.iter().flat_map(|x| x.0.clone()).collect();
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / xs.len() as f32;
        assert!(
            mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3,
            "{mean} {var}"
        );
        assert_eq!(e[0].1, vec![0, 1, 2, 0]);
    }

    #[test]
    fn dropping_an_epoch_early_stops_the_producer() {
        let d = toy(100);
        let l = Loader::new(d.clone(), d.channel_stats(), LoaderConfig::eval(2));
        let mut it = l.epoch(0);
        assert!(it.next().is_some());
        drop(it);
    }
}
