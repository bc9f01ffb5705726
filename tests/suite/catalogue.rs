//! The layer catalogue: the shipped one is complete, and a broken file is refused with a
//! message that names the file and the field at fault.

use crate::common;

use common::{catalog, copy_layers, tables_dir};
use gridlink::catalog::{Access, Catalog, Role};
use std::collections::BTreeMap;

#[test]
fn the_shipped_catalogue_has_27_layers_in_the_five_groups() {
    let catalog = catalog();
    assert_eq!(catalog.layers.len(), 27);
    let mut per_group: BTreeMap<&str, usize> = BTreeMap::new();
    for layer in &catalog.layers {
        *per_group.entry(layer.group.as_str()).or_default() += 1;
    }
    assert_eq!(per_group["admin_grid"], 5);
    assert_eq!(per_group["handling_network"], 4);
    assert_eq!(per_group["emergency"], 8);
    assert_eq!(per_group["infrastructure_monitoring"], 6);
    assert_eq!(per_group["urban_management"], 4);
    for role in Role::ALL {
        assert!(
            catalog.with_role(role).is_some(),
            "no layer plays {}",
            role.as_str()
        );
    }
    let staff: Vec<Role> = catalog
        .layers
        .iter()
        .filter(|l| l.access == Access::Staff)
        .filter_map(|l| l.role)
        .collect();
    for role in [
        Role::HazardSource,
        Role::ProtectedTarget,
        Role::Pipeline,
        Role::Camera,
    ] {
        assert!(
            staff.contains(&role),
            "{} must be staff-only",
            role.as_str()
        );
    }
}

/// Breaks one layer file and returns the error message.
fn refuse(file: &str, from: &str, to: &str) -> String {
    let layers = copy_layers();
    let path = layers.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} does not contain {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    Catalog::load(layers.path(), &tables_dir())
        .expect_err("broken catalogue must be refused")
        .to_string()
}

#[test]
fn a_broken_layer_file_is_refused_naming_file_and_field() {
    let cases = [
        (
            "shelters.toml",
            "geometry = \"point\"",
            "geometry = \"dot\"",
            "geometry",
        ),
        (
            "shelters.toml",
            "group = \"emergency\"",
            "group = \"emergencies\"",
            "group",
        ),
        (
            "shelters.toml",
            "id = \"shelters\"",
            "id = \"shelter\"",
            "id",
        ),
        (
            "shelters.toml",
            "id_field = \"code\"",
            "id_field = \"number\"",
            "source.id_field",
        ),
        ("shelters.toml", "maxzoom = 18", "maxzoom = 30", "maxzoom"),
        (
            "shelters.toml",
            "type = \"integer\"",
            "type = \"int\"",
            "fields",
        ),
        (
            "shelters.toml",
            "access = \"public\"",
            "access = \"everyone\"",
            "access",
        ),
        (
            "shelters.toml",
            "path = \"shelters\"",
            "path = \"shelters\"\npostgis = \"gis.shelters\"",
            "source.postgis",
        ),
        (
            "shelters.toml",
            "role = \"shelter\"",
            "role = \"town\"",
            "role",
        ),
        (
            "shelters.toml",
            "title = \"应急避难场所\"",
            "titel = \"应急避难场所\"",
            "titel",
        ),
    ];
    for (file, from, to, field) in cases {
        let message = refuse(file, from, to);
        assert!(message.contains(file), "{to:?}: {message}");
        assert!(
            message.contains(field),
            "{to:?} should name {field:?}: {message}"
        );
    }
}

#[test]
fn a_layer_that_breaks_its_role_contract_is_refused() {
    // The shelter services read `capacity` as an integer.
    let message = refuse(
        "shelters.toml",
        "name = \"capacity\"\ntype = \"integer\"",
        "name = \"capacity\"\ntype = \"string\"",
    );
    assert!(
        message.contains("shelters.toml")
            && message.contains("capacity")
            && message.contains("shelter"),
        "{message}"
    );
}

#[test]
fn invalid_toml_is_refused_naming_the_file() {
    let message = refuse("towns.toml", "[source]", "[source");
    assert!(message.contains("towns.toml"), "{message}");
}
