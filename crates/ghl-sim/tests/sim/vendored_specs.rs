use std::path::Path;

const FILES: [&str; 4] = [
    "apps/contacts.json",
    "apps/calendars.json",
    "apps/locations.json",
    "common/common-schemas.json",
];

#[test]
fn vendored_specs_are_byte_identical_to_the_shared_copy() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = crate_dir.join("../../../shared/ghl-openapi");
    if !shared.is_dir() {
        println!(
            "skipped: {} does not exist, nothing to compare with",
            shared.display()
        );
        return;
    }
    for file in FILES {
        let vendored = std::fs::read(crate_dir.join("openapi").join(file)).unwrap();
        let original = std::fs::read(shared.join(file)).unwrap();
        assert!(
            vendored == original,
            "openapi/{file} differs from {}",
            shared.join(file).display()
        );
    }
}
