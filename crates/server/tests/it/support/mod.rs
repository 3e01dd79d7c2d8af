pub mod app;
pub mod browser;

pub use app::{TestApp, json_of};
pub use browser::Browser;
