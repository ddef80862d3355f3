//! Batches of images as tensors, built straight from the split's bytes.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::prelude::*;

use crate::data::IMAGE_PIXELS;
use crate::data::idx::LabelledImages;

/// A batch: images flattened to `[batch, 784]` in [0, 1], targets `[batch]`.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    pub images: Tensor<2>,
    pub targets: Tensor<1, Int>,
}

/// Builds a batch from image indices, straight from the split's bytes: one buffer for the
/// pixels, one for the labels, no per-image copies.
#[derive(Debug, Clone)]
pub struct ImageBatcher {
    images: Arc<LabelledImages>,
}

impl ImageBatcher {
    pub fn new(images: Arc<LabelledImages>) -> Self {
        Self { images }
    }
}

impl Batcher<usize, ImageBatch> for ImageBatcher {
    fn batch(&self, indices: Vec<usize>, device: &Device) -> ImageBatch {
        let mut pixels = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
        let mut labels = Vec::with_capacity(indices.len());
        for &index in &indices {
            // Indices come from the loader, which only hands out 0..len.
            pixels.extend_from_slice(self.images.image(index).expect("index within the split"));
            labels.push(i64::from(self.images.labels[index]));
        }
        ImageBatch {
            images: images_tensor(&pixels, device),
            targets: Tensor::from_data(TensorData::new(labels, [indices.len()]), device),
        }
    }
}

/// Builds one `[n, 784]` tensor from `n` images of bytes, scaled to [0, 1] as torchvision's
/// `ToTensor` does, in a single allocation.
pub fn images_tensor(pixels: &[u8], device: &Device) -> Tensor<2> {
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
        let images = Arc::new(LabelledImages {
            pixels,
            labels: vec![1, 2, 3],
        });
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
}
