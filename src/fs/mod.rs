//! Files read and written safely: a file is replaced whole or not at all, and a read never takes
//! more than its limit.

pub(crate) mod atomic_file;
pub(crate) mod bounded_read;
