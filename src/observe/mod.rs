//! What a scenario does and sees, in the vocabulary of a page and a session: page verbs, the
//! leftover-cookie snapshot, the HTTP-only sign-in, the browser's sign-in prompt, timeout
//! measurements and an administrator's actions. Imports [`crate::config`] and [`crate::engine`].

pub mod admin;
pub mod auth_prompt;
pub mod discover;
pub mod http_signin;
pub mod measure;
pub mod page;
pub mod revoke;
pub mod sign_in_chain;
pub mod snapshot;
pub mod timeline;
