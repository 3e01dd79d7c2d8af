pub mod app;

pub use app::TestApp;
