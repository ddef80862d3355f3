//! The rules a config's values keep that no type expresses (an epoch count of at least 1, a
//! momentum in [0, 1)), each written once beside its field's path; the field's name in an error
//! comes from that path.

/// A config value that breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The field as the config's JSON names it: `model.hidden_sizes`.
    pub field: String,
    /// Its value, as the user would write it: `0`, `-0.5`, `[256, 0]`.
    pub value: String,
    /// What the value must be: "must be a positive number".
    pub rule: &'static str,
}

impl Broken {
    /// `path` is the field's path as `stringify!` writes it (`model . hidden_sizes`).
    pub(crate) fn of(path: &str, value: &impl Shown, rule: &'static str) -> Self {
        Self {
            field: path.replace(' ', ""),
            value: value.shown(),
            rule,
        }
    }
}

/// A value as it appears in a rule's message.
pub(crate) trait Shown {
    /// The value as the user would write it in the config's JSON (`null` for a missing one).
    fn shown(&self) -> String;
}

/// Implements [`Shown`] for each listed type by its `Display`.
macro_rules! shown_by_display {
    ($($type:ty),+) => {
        $(impl Shown for $type {
            fn shown(&self) -> String {
                self.to_string()
            }
        })+
    };
}
shown_by_display!(f64, usize, u64, bool);

impl Shown for Vec<usize> {
    fn shown(&self) -> String {
        format!("{self:?}")
    }
}

impl Shown for std::path::PathBuf {
    fn shown(&self) -> String {
        format!("{:?}", self.to_string_lossy())
    }
}

impl<T: Shown> Shown for Option<T> {
    fn shown(&self) -> String {
        self.as_ref()
            .map_or_else(|| "null".to_string(), Shown::shown)
    }
}

/// The first field of `$config` whose value breaks its rule, as a [`Broken`] named
/// `$prefix` + the field's path. Each rule is `path: |value| broken => "rule"`, the closure
/// taking a reference to the field's value and answering whether it breaks the rule.
macro_rules! first_broken {
    ($config:expr, $prefix:literal, { $($($field:ident).+ : $broken:expr => $rule:expr),+ $(,)? }) => {{
        let config = $config;
        None $(.or_else(|| {
            let value = &config.$($field).+;
            let broken: bool = ($broken)(value);
            broken.then(|| {
                $crate::rules::Broken::of(
                    concat!($prefix, stringify!($($field).+)),
                    value,
                    $rule,
                )
            })
        }))+
    }};
}
pub(crate) use first_broken;

#[cfg(test)]
mod tests {
    use super::*;

    struct Inner {
        widths: Vec<usize>,
    }
    struct Outer {
        rate: f64,
        inner: Inner,
        limit: Option<usize>,
    }

    fn check(outer: &Outer) -> Option<Broken> {
        first_broken!(outer, "", {
            rate: |rate: &f64| *rate <= 0.0 => "must be positive",
            inner.widths: |widths: &Vec<usize>| widths.contains(&0) => "no empty layer",
            limit: |limit: &Option<usize>| *limit == Some(0) => "at least 1",
        })
    }

    #[test]
    fn the_first_broken_rule_is_named_by_its_path_and_value() {
        let mut outer = Outer {
            rate: 0.1,
            inner: Inner { widths: vec![3] },
            limit: None,
        };
        assert_eq!(check(&outer), None);
        outer.inner.widths = vec![4, 0];
        outer.limit = Some(0);
        assert_eq!(
            check(&outer),
            Some(Broken {
                field: "inner.widths".into(),
                value: "[4, 0]".into(),
                rule: "no empty layer"
            })
        );
        outer.rate = -1.0;
        assert_eq!(
            check(&outer).map(|b| (b.field, b.value)),
            Some(("rate".into(), "-1".into()))
        );
    }
}
