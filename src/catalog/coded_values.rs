//! Names for coded field values (道路等级 `expressway` → 高速公路): checks a layer's inline
//! `values` and fills `values_from` references from the code tables, so the map's popups and
//! legends read the same words the centre's code tables use, and no code → name table lives in
//! the web page.

use super::{CatalogError, FieldType, LayerDef, read_text};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Code tables already read while loading one catalogue (several fields name the same one).
#[derive(Default)]
pub(crate) struct CodeListCache {
    lists: HashMap<String, BTreeMap<String, String>>,
}

/// Checks every field's `values` and resolves its `values_from` (`"file.toml#array"`) against
/// the tables directory.
pub(crate) fn resolve(
    file: &Path,
    def: &mut LayerDef,
    tables_dir: &Path,
    cache: &mut CodeListCache,
) -> Result<(), CatalogError> {
    for (i, field) in def.fields.iter_mut().enumerate() {
        for (code, name) in &field.values {
            if code.is_empty() || name.trim().is_empty() {
                return Err(CatalogError::field(
                    file,
                    format!("fields[{i}].values"),
                    format!("{code:?} = {name:?}: codes and names must not be empty"),
                ));
            }
        }
        if field.kind == FieldType::Integer
            && let Some(code) = field.values.keys().find(|c| c.parse::<i64>().is_err())
        {
            return Err(CatalogError::field(
                file,
                format!("fields[{i}].values"),
                format!("{code:?}: the codes of an integer field are whole numbers"),
            ));
        }
        if field.kind == FieldType::Number && !field.values.is_empty() {
            return Err(CatalogError::field(
                file,
                format!("fields[{i}].values"),
                "a number field has no codes to name",
            ));
        }
        let Some(reference) = field.values_from.clone() else {
            continue;
        };
        let at = format!("fields[{i}].values_from");
        if !field.values.is_empty() {
            return Err(CatalogError::field(
                file,
                at,
                "give either values or values_from, not both",
            ));
        }
        if !cache.lists.contains_key(&reference) {
            let list = code_list(tables_dir, &reference)
                .map_err(|message| CatalogError::field(file, &at, message))?;
            cache.lists.insert(reference.clone(), list);
        }
        field.values = cache.lists[&reference].clone();
    }
    Ok(())
}

/// Reads `file.toml#array` from the tables directory: each entry's `code` → `name`.
fn code_list(tables_dir: &Path, reference: &str) -> Result<BTreeMap<String, String>, String> {
    let (name, array) = reference
        .split_once('#')
        .filter(|(f, a)| !f.is_empty() && !a.is_empty())
        .ok_or_else(|| format!("{reference:?} must be \"file.toml#array\""))?;
    if name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(format!(
            "{name:?} must be a file name in the tables directory"
        ));
    }
    let path: PathBuf = tables_dir.join(name);
    let text = read_text(&path).map_err(|e| e.to_string())?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let entries = table
        .get(array)
        .and_then(toml::Value::as_array)
        .ok_or_else(|| format!("{} has no array of tables {array:?}", path.display()))?;
    let mut list = BTreeMap::new();
    for (n, entry) in entries.iter().enumerate() {
        let text = |key: &str| entry.get(key).and_then(toml::Value::as_str);
        match (text("code"), text("name")) {
            (Some(code), Some(label)) if !code.is_empty() && !label.trim().is_empty() => {
                list.insert(code.to_string(), label.to_string());
            }
            _ => {
                return Err(format!(
                    "{} {array}[{n}] needs a string code and name",
                    path.display()
                ));
            }
        }
    }
    if list.is_empty() {
        return Err(format!("{} {array:?} is empty", path.display()));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::parse_toml;

    const LAYER: &str = r#"
id = "roads"
title = "道路"
title_en = "Roads"
group = "g"
geometry = "line"
access = "public"
minzoom = 9
maxzoom = 18

[source]
path = "roads.geojson"
id_field = "code"

[[fields]]
name = "code"
type = "string"
title = "编码"

[[fields]]
name = "class"
type = "string"
title = "等级"

[fields.values]
expressway = "高速公路"
local = "支路"

[[fields]]
name = "owner"
type = "string"
title = "权属单位类型"
values_from = "units.toml#unit_type"
"#;

    fn tables() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("units.toml"),
            "[[unit_type]]\ncode = \"lvhua\"\nname = \"绿化市容\"\nname_en = \"Landscaping\"\n\n[[unit_type]]\ncode = \"shuiwu\"\nname = \"水务\"\nname_en = \"Water\"\n",
        )
        .unwrap();
        dir
    }

    fn load(text: &str, dir: &Path) -> Result<LayerDef, CatalogError> {
        let file = Path::new("roads.toml");
        let mut def: LayerDef = parse_toml(file, text)?;
        resolve(file, &mut def, dir, &mut CodeListCache::default())?;
        Ok(def)
    }

    #[test]
    fn inline_values_and_a_code_table_both_name_codes() {
        let dir = tables();
        let def = load(LAYER, dir.path()).unwrap();
        let class = def.field("class").unwrap();
        assert_eq!(class.values["expressway"], "高速公路");
        assert_eq!(class.values["local"], "支路");
        let owner = def.field("owner").unwrap();
        assert_eq!(owner.values.len(), 2);
        assert_eq!(owner.values["lvhua"], "绿化市容");
        assert_eq!(owner.values["shuiwu"], "水务");
        assert!(def.field("code").unwrap().values.is_empty());
    }

    #[test]
    fn the_served_field_carries_the_names_but_not_the_reference() {
        let dir = tables();
        let def = load(LAYER, dir.path()).unwrap();
        let json = serde_json::to_value(def.field("owner").unwrap()).unwrap();
        assert_eq!(json["values"]["shuiwu"], "水务");
        assert!(json.get("values_from").is_none());
        let plain = serde_json::to_value(def.field("code").unwrap()).unwrap();
        assert!(
            plain.get("values").is_none(),
            "no empty table on plain fields"
        );
    }

    #[test]
    fn a_broken_reference_names_the_field() {
        let dir = tables();
        for (reference, expected) in [
            ("units.toml", "must be \"file.toml#array\""),
            ("units.toml#unit", "no array of tables \"unit\""),
            ("missing.toml#unit_type", "cannot read"),
            ("../units.toml#unit_type", "must be a file name"),
        ] {
            let text = LAYER.replace("units.toml#unit_type", reference);
            let err = load(&text, dir.path()).unwrap_err().to_string();
            assert!(err.contains("fields[2].values_from"), "{err}");
            assert!(err.contains(expected), "{reference}: {err}");
        }
    }

    #[test]
    fn values_and_values_from_together_are_refused() {
        let dir = tables();
        let text = LAYER.replace(
            "values_from = \"units.toml#unit_type\"",
            "values_from = \"units.toml#unit_type\"\nvalues = { x = \"y\" }",
        );
        let err = load(&text, dir.path()).unwrap_err().to_string();
        assert!(err.contains("not both"), "{err}");
    }

    #[test]
    fn integer_codes_must_be_numbers() {
        let dir = tables();
        let text = LAYER.replace(
            "name = \"class\"\ntype = \"string\"",
            "name = \"class\"\ntype = \"integer\"",
        );
        let err = load(&text, dir.path()).unwrap_err().to_string();
        assert!(err.contains("whole numbers"), "{err}");
        let numbered = text.replace("expressway", "1").replace("local", "2");
        let def = load(&numbered, dir.path()).unwrap();
        assert_eq!(def.field("class").unwrap().values["1"], "高速公路");
    }

    #[test]
    fn an_empty_name_is_refused() {
        let dir = tables();
        let err = load(&LAYER.replace("\"支路\"", "\" \""), dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("fields[1].values"), "{err}");
    }
}
