//! Cucumber step definitions. Thin by design: they drive the engine and record observations; the
//! policy judges. CRM facts (selectors, URLs, cookie names) come from the target profile.

mod sign_in;
mod sign_out;
mod world;

pub use world::LogoutWorld;
