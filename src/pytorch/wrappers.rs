//! The state_dict inside what people actually save: a training checkpoint dict holding it under
//! a key (`model_state_dict`, ...), and the name prefixes PyTorch's wrappers add
//! (`nn.DataParallel` and `DistributedDataParallel`: `module.`; `torch.compile`: `_orig_mod.`).
//! Each step taken is reported, so the user sees what was read.

use std::collections::BTreeMap;

/// Keys under which training scripts keep the model's state_dict in a checkpoint dict, most
/// specific first: PyTorch's own tutorial ("Saving and loading a general checkpoint") uses
/// `model_state_dict`; `state_dict`, `model` and `net` are the other common ones.
const CHECKPOINT_KEYS: &[&str] = &["model_state_dict", "state_dict", "model", "net"];

/// Name prefixes of wrapped modules, and what adds them.
const WRAPPERS: &[(&str, &str)] = &[
    ("module.", "nn.DataParallel / DistributedDataParallel"),
    ("_orig_mod.", "torch.compile"),
];

/// The tensors of the state_dict inside `tensors` (by name), and what was done to find them,
/// one phrase per step. Names that need neither step come back unchanged.
pub(super) fn unwrap_state_dict<T>(
    tensors: BTreeMap<String, T>,
) -> (BTreeMap<String, T>, Vec<String>) {
    let mut steps = Vec::new();
    let mut tensors = tensors;
    if !has_layer_names(&tensors)
        && let Some(key) = CHECKPOINT_KEYS
            .iter()
            .find(|key| tensors.keys().any(|name| under(name, key).is_some()))
    {
        let others = tensors.len();
        tensors = tensors
            .into_iter()
            .filter_map(|(name, tensor)| under(&name, key).map(|rest| (rest.to_string(), tensor)))
            .collect();
        let left_out = others - tensors.len();
        steps.push(if left_out > 0 {
            format!(
                "the state_dict under `{key}` of a checkpoint ({left_out} other tensors left out)"
            )
        } else {
            format!("the state_dict under `{key}` of a checkpoint")
        });
    }
    // Wrappers nest (a compiled DataParallel model): strip them as long as every name has one.
    while let Some(&(prefix, by)) = WRAPPERS
        .iter()
        .find(|(prefix, _)| !tensors.is_empty() && tensors.keys().all(|n| n.starts_with(prefix)))
    {
        tensors = tensors
            .into_iter()
            .map(|(name, tensor)| (name[prefix.len()..].to_string(), tensor))
            .collect();
        steps.push(format!("names without `{prefix}` ({by})"));
    }
    (tensors, steps)
}

/// `name` without `key.` in front, when it is under `key`.
fn under<'a>(name: &'a str, key: &str) -> Option<&'a str> {
    name.strip_prefix(key)?.strip_prefix('.')
}

/// Whether some name already is a layer's (`fc1.weight`, `0.bias`), possibly wrapped: then the
/// file is a state_dict, not a checkpoint holding one.
fn has_layer_names<T>(tensors: &BTreeMap<String, T>) -> bool {
    tensors.keys().any(|name| {
        let mut name = name.as_str();
        while let Some((prefix, _)) = WRAPPERS.iter().find(|(p, _)| name.starts_with(p)) {
            name = &name[prefix.len()..];
        }
        name.split_once('.').is_some_and(|(layer, _)| {
            layer.starts_with("fc") || layer.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeMap<String, ()> {
        list.iter().map(|name| (name.to_string(), ())).collect()
    }

    fn keys(tensors: &BTreeMap<String, ()>) -> Vec<&str> {
        tensors.keys().map(String::as_str).collect()
    }

    #[test]
    fn a_plain_state_dict_is_left_alone() {
        let (tensors, steps) = unwrap_state_dict(names(&["fc1.weight", "fc1.bias"]));
        assert_eq!(keys(&tensors), ["fc1.bias", "fc1.weight"]);
        assert!(steps.is_empty());
    }

    #[test]
    fn wrapper_prefixes_are_stripped_even_when_nested() {
        let (tensors, steps) = unwrap_state_dict(names(&[
            "_orig_mod.module.0.weight",
            "_orig_mod.module.0.bias",
        ]));
        assert_eq!(keys(&tensors), ["0.bias", "0.weight"]);
        assert_eq!(
            steps,
            [
                "names without `_orig_mod.` (torch.compile)",
                "names without `module.` (nn.DataParallel / DistributedDataParallel)"
            ]
        );
    }

    #[test]
    fn a_checkpoint_gives_its_model_state_dict_and_leaves_the_optimizer_out() {
        let (tensors, steps) = unwrap_state_dict(names(&[
            "model_state_dict.module.fc1.weight",
            "model_state_dict.module.fc1.bias",
            "optimizer_state_dict.state.0.exp_avg",
        ]));
        assert_eq!(keys(&tensors), ["fc1.bias", "fc1.weight"]);
        assert_eq!(
            steps,
            [
                "the state_dict under `model_state_dict` of a checkpoint (1 other tensors left out)",
                "names without `module.` (nn.DataParallel / DistributedDataParallel)"
            ]
        );
    }

    #[test]
    fn a_model_whose_layers_are_named_model_is_not_mistaken_for_a_checkpoint() {
        let (tensors, steps) = unwrap_state_dict(names(&["fc1.weight", "model.extra"]));
        assert_eq!(keys(&tensors), ["fc1.weight", "model.extra"]);
        assert!(steps.is_empty());
    }
}
