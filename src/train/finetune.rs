//! Fine-tuning (`--finetune RUN`): what a new run takes from the run it starts from, its
//! model and, with `--finetune-mix`, some of the images it trained on; and the parents refused.

use crate::config::TrainingConfig;
use crate::data::identity::DatasetChoice;
use crate::data::idx::LabelledImages;
use crate::data::{Split, hold_out};
use crate::run::RunDir;
use crate::run::data_record::{load_checked, source_for_run};
use crate::train::{Existing, TrainError, TrainRequest};

/// Refuses a fine-tuned run whose parent is its own folder (the same folder by any path).
///
/// # Errors
/// [`TrainError::FinetuneItself`].
pub(super) fn refuse_finetuning_itself(request: &TrainRequest) -> Result<(), TrainError> {
    let Some(parent) = &request.config.finetune else {
        return Ok(());
    };
    let same = |a: &std::path::Path, b: &std::path::Path| match (a.canonicalize(), b.canonicalize())
    {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if request.existing != Existing::Resume && same(parent, request.run.root()) {
        return Err(TrainError::FinetuneItself {
            path: parent.clone(),
        });
    }
    Ok(())
}

/// The model a new fine-tuned run starts from (`finetune`): its parent's `model.bpk`, on the
/// training device; `None` for a run from random weights, and for a resumed one (its
/// checkpoint holds the weights).
///
/// # Errors
/// The parent has no model, or it cannot be loaded ([`crate::run::ArtifactError`], naming the
/// file).
pub(super) fn parent_model(
    request: &TrainRequest,
    device: &burn::prelude::Device,
    done_epochs: usize,
) -> Result<Option<crate::model::Model>, TrainError> {
    let Some(parent) = request
        .config
        .finetune
        .as_ref()
        .filter(|_| done_epochs == 0)
    else {
        return Ok(None);
    };
    // A model.bpk another process is writing (a resumed parent) is its last epoch's or the next
    // one's, depending on the moment: wait for that run to end.
    if let Some(holder) = crate::run::lock::holder_of(parent) {
        return Err(TrainError::ParentBusy {
            path: parent.clone(),
            holder,
        });
    }
    let (_, model) = RunDir::existing(parent)?.load_model(&device.clone().autodiff())?;
    Ok(Some(model))
}

/// `train` followed by `finetune_mix` images of the fine-tuned run's parent's training images
/// (those it trained on, not those it held out) per image of `train` (at most all of them),
/// drawn by the seed: read from where the parent's `data.json` says and checked against it, as
/// `eval` reads a run's data.
///
/// # Errors
/// The parent's data cannot be found, read, or is not what it trained on.
pub(super) fn with_parent_images(
    config: &TrainingConfig,
    train: LabelledImages,
) -> Result<LabelledImages, TrainError> {
    let Some(parent) = config
        .finetune
        .as_ref()
        .filter(|_| config.finetune_mix > 0.0)
    else {
        return Ok(train);
    };
    let run = RunDir::existing(parent).map_err(|_| TrainError::ParentGone {
        path: parent.clone(),
    })?;
    let parents = run.load_config()?;
    let (source, recorded) = source_for_run(&run, config.dataset, None)?;
    let dataset = (config.dataset, DatasetChoice::Run);
    let (theirs, _) = load_checked(&run, dataset, &source, recorded.as_ref(), Split::Train)?;
    // The parent's own training images: its held-out ones stay unseen, for `calibrate`.
    let theirs = theirs.limited(parents.limit_train);
    let theirs = match parents.valid_size {
        0 => theirs,
        held_out => hold_out(&theirs, held_out, parents.seed).0,
    };
    let wanted = (config.finetune_mix * train.len() as f64).round() as usize;
    let (_, mixed) = hold_out(&theirs, wanted.min(theirs.len()), config.seed);
    Ok(train.followed_by(&mixed))
}
