// The migrations are embedded by `sqlx::migrate!`, which does not tell cargo to build again
// when one is added or changed: this does.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
