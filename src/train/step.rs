//! One step of training and of validation, as Burn's `SupervisedTraining` calls them.

use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};

use crate::data::ImageBatch;
use crate::model::Model;

impl TrainStep for Model {
    type Input = ImageBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: ImageBatch) -> TrainOutput<ClassificationOutput> {
        if self.uses_dropout() {
            batch.images.device().seed(batch.random_seed);
        }
        let item = match batch.outliers {
            None => self.forward_classification(batch.images, batch.targets),
            Some(outliers) => self.forward_with_outliers(
                batch.images,
                batch.targets,
                outliers.images,
                outliers.weight,
            ),
        };
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl InferenceStep for Model {
    type Input = ImageBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: ImageBatch) -> ClassificationOutput {
        self.forward_classification(batch.images, batch.targets)
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use crate::backend::Backend;
    use crate::model::Model;

    /// What `--resume` relies on: a model and optimizer reloaded from their files continue
    /// training exactly as the ones kept in memory.
    #[test]
    fn training_continues_bit_exactly_from_saved_model_and_optimizer_files() {
        let _random = crate::random_generator_lock();
        use burn::optim::GradientsParams;
        use burn::store::ModuleRecord;

        use crate::model::ModelConfig;
        use crate::model::optimizer::OptimizerConfig;

        let dir = tempfile::tempdir().unwrap();
        for backend in [Backend::Flex, Backend::Ndarray] {
            let device = backend.device().unwrap().autodiff();
            device.seed(1);
            let batches: Vec<(Tensor<2>, Tensor<1, Int>)> = (0..12u64)
                .map(|b| {
                    let pixels: Vec<f32> = (0..32 * 784u64)
                        .map(|i| ((i * 2_654_435_761 + b * 97) % 256) as f32 / 255.0)
                        .collect();
                    let labels: Vec<i64> = (0..32u64).map(|i| ((i * 7 + b) % 10) as i64).collect();
                    (
                        Tensor::from_data(TensorData::new(pixels, [32, 784]), &device),
                        Tensor::from_data(TensorData::new(labels, [32]), &device),
                    )
                })
                .collect();
            let train = |model: &mut Model,
                         optim: &mut burn::optim::ModuleOptimizer,
                         steps: std::ops::Range<usize>| {
                steps
                    .map(|step| {
                        let (images, targets) = batches[step].clone();
                        let loss = model.forward_classification(images, targets).loss;
                        let value = loss.clone().into_scalar::<f32>();
                        let grads = GradientsParams::from_grads(loss.backward(), &*model);
                        *model = optim.step(1e-3, model.clone(), grads);
                        value
                    })
                    .collect::<Vec<f32>>()
            };
            let mut model = ModelConfig::new().init(&device);
            let mut optim = OptimizerConfig::new().init();
            train(&mut model, &mut optim, 0..6);
            let (model_file, optim_file) =
                (dir.path().join("model.bpk"), dir.path().join("optim.bpk"));
            model.clone().into_record().save(&model_file).unwrap();
            optim.save(&optim_file).unwrap();
            let kept = train(&mut model, &mut optim, 6..12);

            let mut reloaded = ModelConfig::new()
                .init(&device)
                .load_record(ModuleRecord::load(&model_file).unwrap());
            let mut reloaded_optim = OptimizerConfig::new().init().load(&optim_file).unwrap();
            assert_eq!(
                train(&mut reloaded, &mut reloaded_optim, 6..12),
                kept,
                "{backend}"
            );
        }
    }
}
