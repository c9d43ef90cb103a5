//! What the user wrote, read and validated: the target file, durations, the built-in features,
//! policies and snapshots, what a scenario needs from a target, and which secrets to keep out of
//! every output. The lowest layer: it imports no other layer.

pub mod applicability;
pub mod builtin;
pub mod duration;
pub mod input;
pub mod secrets;
pub mod target;
pub mod yaml;
