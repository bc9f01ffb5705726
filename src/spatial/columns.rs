//! Typed, compact property columns.
//!
//! A layer's attributes are stored column by column: numbers as plain vectors, strings either
//! in one arena (unique values such as names) or dictionary-encoded (repeated values such as
//! status, type or town code). 100,000 components cost a few megabytes, not a `serde_json::Map`
//! per feature.

use crate::catalog::FieldType;
use serde_json::Value;
use std::collections::HashMap;

/// One attribute value, borrowed from its column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PropertyValue<'a> {
    Null,
    Text(&'a str),
    Integer(i64),
    Number(f64),
    Boolean(bool),
}

impl<'a> PropertyValue<'a> {
    pub fn to_owned_value(self) -> OwnedValue {
        match self {
            PropertyValue::Null => OwnedValue::Null,
            PropertyValue::Text(s) => OwnedValue::Text(s.to_string()),
            PropertyValue::Integer(i) => OwnedValue::Integer(i),
            PropertyValue::Number(x) => OwnedValue::Number(x),
            PropertyValue::Boolean(b) => OwnedValue::Boolean(b),
        }
    }

    pub fn to_json(self) -> Value {
        match self {
            PropertyValue::Null => Value::Null,
            PropertyValue::Text(s) => Value::String(s.to_string()),
            PropertyValue::Integer(n) => Value::from(n),
            PropertyValue::Number(x) => {
                serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
            }
            PropertyValue::Boolean(b) => Value::Bool(b),
        }
    }

    pub fn as_f64(self) -> Option<f64> {
        match self {
            PropertyValue::Integer(n) => Some(n as f64),
            PropertyValue::Number(x) => Some(x),
            _ => None,
        }
    }

    pub fn as_text(self) -> Option<&'a str> {
        match self {
            PropertyValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// A value accepted by [`ColumnBuilder::push`], already checked against the field type.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedValue {
    Null,
    Text(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
}

/// Strings of one column in a single buffer; `ends[i]` is where string `i` stops.
#[derive(Debug, Clone, Default)]
pub struct TextArena {
    bytes: String,
    ends: Vec<u32>,
}

impl TextArena {
    pub fn push(&mut self, s: &str) {
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len() as u32);
    }

    pub fn get(&self, i: usize) -> &str {
        let end = self.ends[i] as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..end]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

const NULL_CODE: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub enum Column {
    /// Unique-ish strings; `None` in `nulls` marks a null.
    Text {
        arena: TextArena,
        nulls: Vec<bool>,
    },
    /// Repeated strings: `codes[i]` indexes `values`, `u32::MAX` is null.
    Dictionary {
        values: Vec<Box<str>>,
        codes: Vec<u32>,
    },
    Integer {
        values: Vec<i64>,
        nulls: Vec<bool>,
    },
    /// NaN is null: NaN itself is refused at load time.
    Number(Vec<f64>),
    /// 0 false, 1 true, 2 null.
    Boolean(Vec<u8>),
}

impl Column {
    pub fn get(&self, i: usize) -> PropertyValue<'_> {
        match self {
            Column::Text { arena, nulls } => {
                if nulls[i] {
                    PropertyValue::Null
                } else {
                    PropertyValue::Text(arena.get(i))
                }
            }
            Column::Dictionary { values, codes } => match codes[i] {
                NULL_CODE => PropertyValue::Null,
                code => PropertyValue::Text(&values[code as usize]),
            },
            Column::Integer { values, nulls } => {
                if nulls[i] {
                    PropertyValue::Null
                } else {
                    PropertyValue::Integer(values[i])
                }
            }
            Column::Number(values) => {
                if values[i].is_nan() {
                    PropertyValue::Null
                } else {
                    PropertyValue::Number(values[i])
                }
            }
            Column::Boolean(values) => match values[i] {
                0 => PropertyValue::Boolean(false),
                1 => PropertyValue::Boolean(true),
                _ => PropertyValue::Null,
            },
        }
    }

    /// The features whose value equals `value` (a fast path for dictionary columns, where
    /// this compares integer codes).
    pub fn matching(&self, value: &str) -> Vec<usize> {
        match self {
            Column::Dictionary { values, codes } => match values.iter().position(|v| &**v == value)
            {
                None => Vec::new(),
                Some(code) => codes
                    .iter()
                    .enumerate()
                    .filter(|&(_, &c)| c == code as u32)
                    .map(|(i, _)| i)
                    .collect(),
            },
            Column::Text { arena, nulls } => (0..arena.len())
                .filter(|&i| !nulls[i] && arena.get(i) == value)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The distinct values of a dictionary column, for filters and legends.
    pub fn dictionary(&self) -> Option<&[Box<str>]> {
        match self {
            Column::Dictionary { values, .. } => Some(values),
            _ => None,
        }
    }
}

/// Collects one column's values while a layer loads. Strings are dictionary-encoded as they
/// arrive and fall back to an arena once they turn out to be mostly unique, so a column never
/// holds one `String` allocation per value.
#[derive(Debug, Clone)]
pub struct ColumnBuilder {
    kind: FieldType,
    text: TextBuilder,
    integers: Vec<i64>,
    integer_nulls: Vec<bool>,
    numbers: Vec<f64>,
    booleans: Vec<u8>,
}

#[derive(Debug, Clone)]
enum TextBuilder {
    Dictionary {
        lookup: HashMap<Box<str>, u32>,
        values: Vec<Box<str>>,
        codes: Vec<u32>,
    },
    Arena {
        arena: TextArena,
        nulls: Vec<bool>,
    },
}

/// A dictionary stays worthwhile while it has at most this many entries, or a quarter of the
/// values seen so far.
const DICTIONARY_FLOOR: usize = 256;

impl TextBuilder {
    fn push(&mut self, value: Option<&str>) {
        match self {
            TextBuilder::Dictionary {
                lookup,
                values,
                codes,
            } => {
                let code = match value {
                    None => NULL_CODE,
                    Some(s) => match lookup.get(s) {
                        Some(&code) => code,
                        None => {
                            let code = values.len() as u32;
                            values.push(s.into());
                            lookup.insert(s.into(), code);
                            code
                        }
                    },
                };
                codes.push(code);
                if values.len() > DICTIONARY_FLOOR.max(codes.len() / 4) {
                    *self = self.to_arena();
                }
            }
            TextBuilder::Arena { arena, nulls } => {
                arena.push(value.unwrap_or(""));
                nulls.push(value.is_none());
            }
        }
    }

    fn to_arena(&self) -> TextBuilder {
        let TextBuilder::Dictionary { values, codes, .. } = self else {
            return self.clone();
        };
        let mut arena = TextArena::default();
        let mut nulls = Vec::with_capacity(codes.len());
        for &code in codes {
            if code == NULL_CODE {
                arena.push("");
                nulls.push(true);
            } else {
                arena.push(&values[code as usize]);
                nulls.push(false);
            }
        }
        TextBuilder::Arena { arena, nulls }
    }

    fn finish(self) -> Column {
        match self {
            TextBuilder::Dictionary { values, codes, .. } => Column::Dictionary { values, codes },
            TextBuilder::Arena { arena, nulls } => Column::Text { arena, nulls },
        }
    }
}

impl ColumnBuilder {
    pub fn new(kind: FieldType) -> Self {
        ColumnBuilder {
            kind,
            text: TextBuilder::Dictionary {
                lookup: HashMap::new(),
                values: Vec::new(),
                codes: Vec::new(),
            },
            integers: Vec::new(),
            integer_nulls: Vec::new(),
            numbers: Vec::new(),
            booleans: Vec::new(),
        }
    }

    /// `value` must already match the column type (see [`super::validate::property`]).
    pub fn push(&mut self, value: OwnedValue) {
        match (self.kind, value) {
            (FieldType::String, OwnedValue::Text(s)) => self.text.push(Some(&s)),
            (FieldType::String, _) => self.text.push(None),
            (FieldType::Integer, value) => {
                let n = if let OwnedValue::Integer(n) = value {
                    Some(n)
                } else {
                    None
                };
                self.integers.push(n.unwrap_or(0));
                self.integer_nulls.push(n.is_none());
            }
            (FieldType::Number, OwnedValue::Number(x)) => self.numbers.push(x),
            (FieldType::Number, _) => self.numbers.push(f64::NAN),
            (FieldType::Boolean, OwnedValue::Boolean(b)) => self.booleans.push(u8::from(b)),
            (FieldType::Boolean, _) => self.booleans.push(2),
        }
    }

    pub fn finish(self) -> Column {
        match self.kind {
            FieldType::String => self.text.finish(),
            FieldType::Integer => Column::Integer {
                values: self.integers,
                nulls: self.integer_nulls,
            },
            FieldType::Number => Column::Number(self.numbers),
            FieldType::Boolean => Column::Boolean(self.booleans),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(kind: FieldType, values: Vec<OwnedValue>) -> Column {
        let mut b = ColumnBuilder::new(kind);
        for v in values {
            b.push(v);
        }
        b.finish()
    }

    #[test]
    fn repeated_strings_are_dictionary_encoded() {
        let values = (0..100)
            .map(|i| OwnedValue::Text(if i % 2 == 0 { "open" } else { "closed" }.into()))
            .collect();
        let col = build(FieldType::String, values);
        assert_eq!(col.dictionary().map(|d| d.len()), Some(2));
        assert_eq!(col.get(3), PropertyValue::Text("closed"));
    }

    #[test]
    fn unique_strings_go_to_the_arena_and_keep_nulls() {
        let mut values: Vec<OwnedValue> = (0..1000)
            .map(|i| OwnedValue::Text(format!("name {i}")))
            .collect();
        values[7] = OwnedValue::Null;
        let col = build(FieldType::String, values);
        assert!(col.dictionary().is_none());
        assert_eq!(col.get(6), PropertyValue::Text("name 6"));
        assert_eq!(col.get(7), PropertyValue::Null);
        assert_eq!(col.get(999), PropertyValue::Text("name 999"));
    }

    #[test]
    fn numbers_integers_and_booleans_round_trip_with_nulls() {
        let col = build(
            FieldType::Number,
            vec![OwnedValue::Number(1.5), OwnedValue::Null],
        );
        assert_eq!(col.get(0), PropertyValue::Number(1.5));
        assert_eq!(col.get(1), PropertyValue::Null);
        let col = build(
            FieldType::Integer,
            vec![OwnedValue::Null, OwnedValue::Integer(-3)],
        );
        assert_eq!(col.get(0), PropertyValue::Null);
        assert_eq!(col.get(1), PropertyValue::Integer(-3));
        let col = build(
            FieldType::Boolean,
            vec![OwnedValue::Boolean(true), OwnedValue::Null],
        );
        assert_eq!(col.get(0), PropertyValue::Boolean(true));
        assert_eq!(col.get(1), PropertyValue::Null);
    }
}
