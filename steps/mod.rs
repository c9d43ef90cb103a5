//! Cucumber step definitions. Thin by design: they drive the engine and record observations; the
//! policy judges. CRM facts (selectors, URLs, cookie names) come from the target profile.

mod back_button;
mod browser_close;
mod claims;
mod context;
mod cookies;
mod devices;
mod iwa;
pub mod reauth;
pub mod sign_in;
pub mod sign_out;
mod sign_out_reply;
mod single_sign_out;
mod tabs;
mod timeout;
mod world;

pub use context::RunContext;
pub use world::LogoutWorld;
