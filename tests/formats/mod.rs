//! Every report format on the fixtures.

mod html;
mod text;
