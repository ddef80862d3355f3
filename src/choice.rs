//! Small enums of named choices (activation, loss, optimizer, ...) that read and write their
//! names the same way in JSON configs and on the command line.

/// Defines a small enum of named choices that writes its lowercase names and reads them in
/// any case (in JSON configs and on the command line), with an error listing the valid names.
macro_rules! named_choice {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
        pub enum $name {
            $(#[doc = concat!("`", $text, "`.")] #[serde(rename = $text)] $variant),+
        }

        // Read whatever its case (`"CNN"` in a config), as the command line reads it.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl $name {
            /// Every choice's name, in declaration order (as listed in errors and `--help`).
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The choice's name, as written in JSON and on the command line.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        // Lets clap list the names in `--help` and refuse others.
        impl clap::ValueEnum for $name {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($name::$variant),+]
            }

            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(clap::builder::PossibleValue::new(self.name()))
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $(_ if text.eq_ignore_ascii_case($text) => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown {} `{text}` (valid: {})",
                        $what,
                        Self::NAMES.join(", ")
                    )),
                }
            }
        }
    };
}
pub(crate) use named_choice;
