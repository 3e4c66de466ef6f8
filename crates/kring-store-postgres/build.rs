//! `sqlx::migrate!` embeds the migrations when the crate compiles; a migration added without a
//! change to the Rust code would otherwise not be in the binary.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
