//! The helpers the subject modules share, one file per job: running the real binary and reading
//! what it says (`process`), MNIST's files and pictures made from them (`data`), the files a run
//! leaves (`run_files`), and short trainings and their models' answers (`runs`). Each module
//! takes them all with `use crate::common::*;`.

mod data;
mod process;
mod run_files;
mod runs;

pub use data::*;
pub use process::*;
pub use run_files::*;
pub use runs::*;
