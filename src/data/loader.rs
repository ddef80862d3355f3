//! The data loader: batches of a split, in a fresh seeded order each epoch.
//!
//! Burn's own loader shuffles with one random stream that advances each epoch (and forks when
//! moved to a device), so the order of epoch N depends on everything before it. Here epoch N's
//! order depends only on the seed and N: a run resumed at epoch N sees exactly the batches an
//! uninterrupted run would have seen.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::data::augment::Augmentation;
use crate::data::idx::LabelledImages;
use crate::data::outliers::OutlierExposure;
use crate::data::{ImageBatch, ImageBatcher};

/// A split's loader for Burn's training loop: [`ImageBatch`]es of `batch_size` images (the last
/// one smaller), in an order fixed by the seed and the epoch.
#[derive(Debug, Clone)]
pub(crate) struct EpochLoader {
    /// Builds each batch from its image indices.
    batcher: ImageBatcher,
    /// The images this loader covers, as indices into the split.
    range: std::ops::Range<usize>,
    /// Images per batch, at least 1.
    batch_size: usize,
    /// Shuffle each epoch with this seed; `None` keeps the split's order (validation).
    shuffle_seed: Option<u64>,
    /// Threads preparing batches ahead of the training thread; 0 prepares them on it.
    workers: usize,
    /// Where the batches' tensors are made.
    device: Device,
    /// The epoch the next `iter()` serves, shared by the copies `to_device` makes.
    next_epoch: Arc<AtomicUsize>,
}

impl EpochLoader {
    /// A loader over all of `images` in batches of `batch_size` (0 counts as 1), shuffled each
    /// epoch with `shuffle_seed` or kept in order when it is `None`, starting at epoch 1, with no
    /// worker threads and no augmentation.
    pub(crate) fn new(
        images: Arc<LabelledImages>,
        batch_size: usize,
        shuffle_seed: Option<u64>,
        device: Device,
    ) -> Self {
        let len = images.len();
        Self {
            batcher: ImageBatcher::new(images),
            range: 0..len,
            batch_size: batch_size.max(1),
            shuffle_seed,
            workers: 0,
            device,
            next_epoch: Arc::new(AtomicUsize::new(1)),
        }
    }

    /// Prepares batches on `workers` background threads. Batches still arrive in order, so
    /// results do not depend on the thread count.
    pub(crate) fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Transforms each image served, per epoch (`--augment`).
    pub(crate) fn with_augmentation(mut self, augmentation: Option<Augmentation>) -> Self {
        self.batcher = self.batcher.with_augmentation(augmentation);
        self
    }

    /// Adds pictures that are not digits to each batch served (`outlier_exposure`).
    pub(crate) fn with_outliers(mut self, outliers: Option<OutlierExposure>) -> Self {
        self.batcher = self.batcher.with_outliers(outliers);
        self
    }

    /// Makes the next `iter()` serve epoch `epoch` (1-based), for a resumed run.
    pub(crate) fn starting_at_epoch(self, epoch: usize) -> Self {
        self.next_epoch.store(epoch, Ordering::SeqCst);
        self
    }

    /// The order of the images for `epoch` (1-based): the loader's indices into the split,
    /// shuffled with a stream drawn from the seed and the epoch (the golden-ratio constant
    /// `0x9E3779B97F4A7C15` of SplitMix64 spreads the epoch over the bits), or in order without a
    /// seed.
    pub(crate) fn order(&self, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = self.range.clone().collect();
        if let Some(seed) = self.shuffle_seed {
            // Mix the epoch into the seed so neighbouring epochs get unrelated streams.
            let stream = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(stream));
        }
        order
    }
}

/// The batches of one epoch, as slices of `order`.
fn batch_bounds(len: usize, batch_size: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..len)
        .step_by(batch_size)
        .map(move |start| start..(start + batch_size).min(len))
}

/// One epoch of an [`EpochLoader`], batch by batch.
struct EpochIterator<'a> {
    /// The loader it serves.
    loader: &'a EpochLoader,
    /// The epoch it serves (1-based).
    epoch: usize,
    /// The epoch's image indices, in order served.
    order: Vec<usize>,
    /// How many of `order` have been served.
    position: usize,
    /// With workers: batches by number, as they come back, and the number due next.
    prefetched: Option<Prefetch>,
}

/// The batches worker threads prepare for one epoch, handed out in order.
struct Prefetch {
    /// (batch number, the batch or its panic message), as workers finish them.
    receiver: std::sync::mpsc::Receiver<(usize, Result<ImageBatch, String>)>,
    /// Batches received ahead of their turn, by number.
    waiting: std::collections::BTreeMap<usize, Result<ImageBatch, String>>,
    /// The number (from 0) of the batch to hand out next.
    next_batch: usize,
}

/// A worker preparing batches failed; the epoch cannot be served whole.
#[derive(Debug, thiserror::Error)]
#[error("a thread preparing batches failed at batch {batch}: {reason}")]
pub(crate) struct WorkerFailed {
    /// The number (from 0) of the batch that failed.
    batch: usize,
    /// The worker's panic message, or that it stopped without one.
    reason: String,
}

impl Prefetch {
    /// Starts `workers` threads; worker `w` builds batches w, w + workers, ...
    fn start(loader: &EpochLoader, epoch: usize, order: &[usize]) -> Self {
        let workers = loader.workers;
        let (sender, receiver) = std::sync::mpsc::sync_channel(2 * workers);
        let batches: Vec<std::ops::Range<usize>> =
            batch_bounds(order.len(), loader.batch_size).collect();
        for worker in 0..workers {
            let (sender, batcher, device) = (
                sender.clone(),
                loader.batcher.clone(),
                loader.device.clone(),
            );
            let mine: Vec<(usize, Vec<usize>)> = batches
                .iter()
                .enumerate()
                .skip(worker)
                .step_by(workers)
                .map(|(number, range)| (number, order[range.clone()].to_vec()))
                .collect();
            std::thread::spawn(move || {
                for (number, indices) in mine {
                    let batch = crate::process::panics::catch(|| {
                        batcher.batch_of_epoch(&indices, epoch, &device)
                    });
                    let failed = batch.is_err();
                    // The receiver is gone when the epoch was cut short: stop quietly.
                    if sender.send((number, batch)).is_err() || failed {
                        return;
                    }
                }
            });
        }
        Self {
            receiver,
            waiting: std::collections::BTreeMap::new(),
            next_batch: 0,
        }
    }

    /// The next batch in order. Called only while batches remain, so a closed channel means a
    /// worker died without sending its batch.
    fn next(&mut self) -> Result<ImageBatch, WorkerFailed> {
        let batch = self.next_batch;
        let failed = |reason: String| WorkerFailed { batch, reason };
        loop {
            if let Some(prepared) = self.waiting.remove(&batch) {
                self.next_batch += 1;
                return prepared.map_err(failed);
            }
            let Ok((number, prepared)) = self.receiver.recv() else {
                return Err(failed("it stopped without a word".to_string()));
            };
            self.waiting.insert(number, prepared);
        }
    }
}

impl Iterator for EpochIterator<'_> {
    type Item = Result<ImageBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.position >= self.order.len() {
            return None;
        }
        let end = (self.position + self.loader.batch_size).min(self.order.len());
        let batch = match &mut self.prefetched {
            Some(prefetch) => match prefetch.next() {
                Ok(batch) => batch,
                Err(error) => {
                    // Burn stops training on this error; serve nothing after it.
                    self.position = self.order.len();
                    return Some(Err(DatasetError::new(error)));
                }
            },
            None => self.loader.batcher.batch_of_epoch(
                &self.order[self.position..end],
                self.epoch,
                &self.loader.device,
            ),
        };
        self.position = end;
        Some(Ok(batch))
    }
}

impl DataLoaderIterator<ImageBatch> for EpochIterator<'_> {
    fn progress(&self) -> Progress {
        Progress::new(self.position, self.order.len(), Some("items".to_string()))
    }
}

impl DataLoader<ImageBatch> for EpochLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<ImageBatch> + 'a> {
        let epoch = self.next_epoch.fetch_add(1, Ordering::SeqCst);
        let order = self.order(epoch);
        let prefetched = (self.workers > 0).then(|| Prefetch::start(self, epoch, &order));
        Box::new(EpochIterator {
            loader: self,
            epoch,
            order,
            position: 0,
            prefetched,
        })
    }

    fn num_items(&self) -> usize {
        self.range.len()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<ImageBatch>> {
        Arc::new(Self {
            device: device.clone(),
            ..self.clone()
        })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<ImageBatch>> {
        let start = (self.range.start + start).min(self.range.end);
        let end = (self.range.start + end).clamp(start, self.range.end);
        Arc::new(Self {
            range: start..end,
            next_epoch: Arc::new(AtomicUsize::new(self.next_epoch.load(Ordering::SeqCst))),
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_PIXELS;

    fn loader(count: usize, seed: Option<u64>) -> EpochLoader {
        let images = LabelledImages::from_parts(
            vec![0; count * IMAGE_PIXELS],
            (0..count).map(|i| (i % 10) as u8).collect(),
        )
        .unwrap();
        EpochLoader::new(Arc::new(images), 4, seed, Device::flex())
    }

    #[test]
    fn each_epoch_is_a_permutation_fixed_by_seed_and_epoch() {
        let shuffled = loader(50, Some(3));
        let (one, two) = (shuffled.order(1), shuffled.order(2));
        assert_ne!(one, two, "epochs differ");
        let mut sorted = one.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(
            loader(50, Some(3)).order(2),
            two,
            "same seed and epoch, same order"
        );
        assert_eq!(loader(50, None).order(7), (0..50).collect::<Vec<_>>());
    }

    /// One epoch's targets, batch by batch, and the items the iterator says it served.
    fn epoch_labels(loader: &dyn DataLoader<ImageBatch>) -> (Vec<Vec<i64>>, usize) {
        let mut iterator = loader.iter();
        let mut batches = Vec::new();
        for batch in iterator.by_ref() {
            let targets = batch.unwrap().targets.into_data();
            batches.push(targets.try_into_vec_as::<i64>().unwrap());
        }
        (batches, iterator.progress().items_processed)
    }

    #[test]
    fn a_resumed_loader_serves_what_an_uninterrupted_one_would() {
        let uninterrupted = loader(10, Some(9));
        let epochs: Vec<_> = (0..3).map(|_| epoch_labels(&uninterrupted).0).collect();
        assert_eq!(
            epochs[0].iter().map(Vec::len).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
        // Resumed at epoch 3, with workers: the same batches in the same order.
        let resumed = loader(10, Some(9))
            .with_workers(2)
            .starting_at_epoch(3)
            .to_device(&Device::flex());
        let (third, served) = epoch_labels(&*resumed);
        assert_eq!(third, epochs[2]);
        assert_eq!(served, 10);
    }

    #[test]
    fn a_worker_that_panics_is_an_error_not_a_short_epoch() {
        // Labels for 10 images but pixels for 6: building a batch past image 5 panics.
        let images = LabelledImages::from_parts_unchecked(vec![0; 6 * IMAGE_PIXELS], vec![0; 10]);
        let loader = EpochLoader::new(Arc::new(images), 4, None, Device::flex()).with_workers(2);
        let mut iterator = loader.iter();
        assert!(iterator.next().unwrap().is_ok(), "batch 0: images 0-3");
        let err = iterator.next().unwrap().unwrap_err().to_string();
        assert!(
            err.starts_with("a thread preparing batches failed at batch 1: "),
            "{err}"
        );
        assert!(iterator.next().is_none());
    }
}
