//! Batches of images as tensors, built straight from the split's bytes.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::prelude::*;

use crate::data::IMAGE_PIXELS;
use crate::data::augment::Augmentation;
use crate::data::idx::LabelledImages;
use crate::data::outliers::OutlierExposure;

/// A batch: images flattened to `[batch, 784]` in [0, 1], targets `[batch]`.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// The images, `[batch, 784]`, each pixel in [0, 1] (0 paper, 1 ink), row-major.
    pub images: Tensor<2>,
    /// The class of each image, `[batch]`, 0-9.
    pub targets: Tensor<1, Int>,
    /// Seeds the random numbers a training step draws (dropout masks): a function of the
    /// epoch and the batch's images alone, so a resumed run, and any `num_workers`, draw the
    /// same masks as one uninterrupted run on one thread.
    pub random_seed: u64,
    /// Pictures that are not digits, to be taught as such (`outlier_exposure`); `None`
    /// trains on the digits alone, as the tutorial does.
    pub outliers: Option<OutlierBatch>,
}

/// A batch's outliers (`data::outliers`) and how much their loss counts.
#[derive(Debug, Clone)]
pub struct OutlierBatch {
    /// `[outliers, 784]`, each pixel in [0, 1] as the digits' are.
    pub images: Tensor<2>,
    /// The weight of their loss against the digits' cross-entropy.
    pub weight: f32,
}

/// Builds a batch from image indices, straight from the split's bytes: one buffer for the
/// pixels, one for the labels, no per-image copies.
#[derive(Debug, Clone)]
pub(crate) struct ImageBatcher {
    /// The split the indices point into, shared with the loader's other copies.
    images: Arc<LabelledImages>,
    /// Transforms each image, per epoch (`--augment`); `None` serves them as they are.
    augmentation: Option<Augmentation>,
    /// Adds pictures that are not digits to each batch (`outlier_exposure`); `None` adds none.
    outliers: Option<OutlierExposure>,
}

impl ImageBatcher {
    /// A batcher over `images`, serving them as they are (no augmentation).
    pub(crate) fn new(images: Arc<LabelledImages>) -> Self {
        Self {
            images,
            augmentation: None,
            outliers: None,
        }
    }

    /// Serves every image transformed by `augmentation`, differently each epoch.
    pub(crate) fn with_augmentation(mut self, augmentation: Option<Augmentation>) -> Self {
        self.augmentation = augmentation;
        self
    }

    /// Adds [`OutlierExposure::count_for`] outliers to every batch.
    pub(crate) fn with_outliers(mut self, outliers: Option<OutlierExposure>) -> Self {
        self.outliers = outliers;
        self
    }

    /// The batch of images `indices` (each below the split's length) as epoch `epoch` sees
    /// them: images `[batch, 784]` in [0, 1], targets `[batch]`. Panics on an index past the
    /// split's end.
    pub(crate) fn batch_of_epoch(
        &self,
        indices: &[usize],
        epoch: usize,
        device: &Device,
    ) -> ImageBatch {
        // Indices come from the loader, which only hands out 0..len.
        let batch = self.images.select(indices.iter().copied());
        let labels = batch
            .labels()
            .iter()
            .map(|&label| i64::from(label))
            .collect();
        let images = match &self.augmentation {
            None => images_tensor(batch.pixels(), device),
            Some(augmentation) => {
                let pixels: Vec<u8> = batch
                    .pixels()
                    .chunks_exact(IMAGE_PIXELS)
                    .zip(indices)
                    .flat_map(|(image, &index)| augmentation.apply(image, epoch, index))
                    .collect();
                images_tensor(&pixels, device)
            }
        };
        let random_seed = batch_seed(indices, epoch);
        let outliers = self.outliers.as_ref().map(|outliers| {
            let made = outliers.images(
                &self.images,
                OutlierExposure::count_for(indices.len()),
                random_seed,
            );
            let made = match &self.augmentation {
                Some(augmentation) => transformed_outliers(augmentation, &made, epoch, random_seed),
                None => made,
            };
            OutlierBatch {
                images: images_tensor(&made, device),
                weight: outliers.weight,
            }
        });
        ImageBatch {
            images,
            targets: Tensor::from_data(TensorData::new(labels, [indices.len()]), device),
            random_seed,
            outliers,
        }
    }
}

impl Batcher<usize, ImageBatch> for ImageBatcher {
    /// The batch as epoch 1 sees it.
    fn batch(&self, indices: Vec<usize>, device: &Device) -> ImageBatch {
        self.batch_of_epoch(&indices, 1, device)
    }
}

/// Added to an outlier's place in its batch to name its own random stream of the
/// augmentation: no training image's index reaches it.
const OUTLIER_STREAMS: u64 = 1 << 40;

/// A batch's outliers (784 bytes each) transformed as the digits are (`--augment`), each by
/// its own stream, from the batch's seed and its place. Left clean beside augmented digits,
/// the outliers taught the model that a clean image is not a digit: held-out digits (never
/// augmented) were read less surely each epoch, and blurred non-digits (a scene, a smudge)
/// passed for digits (`docs/measurements.md`).
fn transformed_outliers(
    augmentation: &Augmentation,
    outliers: &[u8],
    epoch: usize,
    batch_seed: u64,
) -> Vec<u8> {
    outliers
        .chunks_exact(IMAGE_PIXELS)
        .enumerate()
        .flat_map(|(place, image)| {
            let stream = batch_seed.wrapping_add(place as u64) | OUTLIER_STREAMS;
            // On a 32-bit target the bit is lost: a stream per batch and place still.
            augmentation.apply(image, epoch, stream as usize)
        })
        .collect()
}

/// A seed from the epoch and the images of a batch (whose order the run's seed decides): each
/// is folded in with SplitMix64's finaliser (Steele, Lea & Flood, 2014), which spreads every
/// input bit over the whole result.
fn batch_seed(indices: &[usize], epoch: usize) -> u64 {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    indices
        .iter()
        .fold(mix(epoch as u64), |seed, &index| mix(seed ^ index as u64))
}

/// Builds one `[n, 784]` tensor from `n` images of bytes, scaled to [0, 1] as torchvision's
/// `ToTensor` does, in a single allocation.
pub(crate) fn images_tensor(pixels: &[u8], device: &Device) -> Tensor<2> {
    let count = pixels.len() / IMAGE_PIXELS;
    let scaled: Vec<f32> = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    Tensor::from_data(TensorData::new(scaled, [count, IMAGE_PIXELS]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batcher_builds_one_scaled_tensor_per_batch() {
        let mut pixels = vec![0u8; 3 * IMAGE_PIXELS];
        pixels[2 * IMAGE_PIXELS] = 255;
        pixels[2 * IMAGE_PIXELS + 1] = 51;
        let images = Arc::new(LabelledImages::from_parts(pixels, vec![1, 2, 3]).unwrap());
        let batch = ImageBatcher::new(images).batch(vec![2, 0], &Device::flex());
        assert_eq!(batch.images.dims(), [2, IMAGE_PIXELS]);
        assert_eq!(batch.targets.dims(), [2]);
        let values: Vec<f32> = batch.images.into_data().try_into_vec_as::<f32>().unwrap();
        assert_eq!(values[0], 1.0);
        assert!((values[1] - 0.2).abs() < 1e-6);
        assert!(values[IMAGE_PIXELS..].iter().all(|&v| v == 0.0));
        let targets: Vec<i64> = batch.targets.into_data().try_into_vec_as::<i64>().unwrap();
        assert_eq!(targets, vec![3, 1]);
    }

    #[test]
    fn with_augment_the_outliers_are_transformed_as_the_digits_are_and_the_same_each_time() {
        // Four digit-like images: a bar each, at another place.
        let mut pixels = vec![0u8; 4 * IMAGE_PIXELS];
        for (image, column) in pixels.chunks_exact_mut(IMAGE_PIXELS).zip([8, 11, 14, 17]) {
            for row in 6..22 {
                image[row * 28 + column..row * 28 + column + 3].fill(255);
            }
        }
        let images = Arc::new(LabelledImages::from_parts(pixels, vec![1, 1, 1, 1]).unwrap());
        let outliers = Some(OutlierExposure::new(7, 0.35));
        let clean = ImageBatcher::new(images.clone()).with_outliers(outliers);
        let augmented = clean.clone().with_augmentation(Some(Augmentation::new(7)));
        let outliers_of = |batcher: &ImageBatcher, epoch| -> Vec<f32> {
            let batch = batcher.batch_of_epoch(&[0, 1, 2, 3], epoch, &Device::flex());
            let outliers = batch.outliers.expect("outliers").images;
            outliers.into_data().try_into_vec_as::<f32>().unwrap()
        };
        let first = outliers_of(&augmented, 1);
        assert_ne!(first, outliers_of(&clean, 1), "left clean");
        assert_eq!(first, outliers_of(&augmented, 1), "drawn again otherwise");
        assert_ne!(
            first,
            outliers_of(&augmented, 2),
            "the same in another epoch"
        );
    }
}
