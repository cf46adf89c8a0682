//! Serialisation helpers shared by every generated type: each generated `Serialize`
//! writes its properties in definition order through these, so that `field`/`_field`
//! pairs, empty arrays and absent values are handled in one place.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::primitive::{ElementData, Primitive};

/// Writes a primitive element as `key` (its value) and `ext_key` (its id/extensions).
pub fn primitive<M: SerializeMap, T: Serialize>(
    m: &mut M,
    key: &'static str,
    ext_key: &'static str,
    slot: &Option<Primitive<T>>,
) -> Result<(), M::Error> {
    if let Some(p) = slot {
        if let Some(v) = &p.value {
            m.serialize_entry(key, v)?;
        }
        if let Some(e) = &p.element {
            m.serialize_entry(ext_key, e)?;
        }
    }
    Ok(())
}

/// Writes a choice element's primitive variant.
pub fn choice_primitive<M: SerializeMap, T: Serialize>(
    m: &mut M,
    key: &'static str,
    ext_key: &'static str,
    p: &Primitive<T>,
) -> Result<(), M::Error> {
    if let Some(v) = &p.value {
        m.serialize_entry(key, v)?;
    }
    if let Some(e) = &p.element {
        m.serialize_entry(ext_key, e)?;
    }
    Ok(())
}

struct Values<'a, T>(&'a [Primitive<T>]);

impl<T: Serialize> Serialize for Values<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for p in self.0.iter().filter(|p| !p.is_empty()) {
            seq.serialize_element(&p.value)?;
        }
        seq.end()
    }
}

struct Elements<'a, T>(&'a [Primitive<T>]);

impl<T> Serialize for Elements<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for p in self.0.iter().filter(|p| !p.is_empty()) {
            seq.serialize_element(&p.element)?;
        }
        seq.end()
    }
}

/// Writes a primitive array as `key` (values, `null` where an item has none) and, if any
/// item has an id or extensions, `ext_key` (`null` where an item has none). The value
/// array is written whenever the element is, even when every value is `null`: it is the
/// array the element data pairs with (FHIR R4 §2.6.2.3). An item with neither value nor
/// element data carries nothing and is left out of both.
pub fn primitive_list<M: SerializeMap, T: Serialize>(
    m: &mut M,
    key: &'static str,
    ext_key: &'static str,
    items: &[Primitive<T>],
) -> Result<(), M::Error> {
    if items.iter().any(|p| !p.is_empty()) {
        m.serialize_entry(key, &Values(items))?;
    }
    if items.iter().any(|p| p.element.is_some()) {
        m.serialize_entry(ext_key, &Elements(items))?;
    }
    Ok(())
}

/// Writes an optional value.
pub fn optional<M: SerializeMap, T: Serialize>(
    m: &mut M,
    key: &'static str,
    slot: &Option<T>,
) -> Result<(), M::Error> {
    match slot {
        Some(v) => m.serialize_entry(key, v),
        None => Ok(()),
    }
}

/// Writes an array, omitted when empty (FHIR JSON has no empty arrays).
pub fn list<M: SerializeMap, T: Serialize>(
    m: &mut M,
    key: &'static str,
    items: &[T],
) -> Result<(), M::Error> {
    if items.is_empty() {
        Ok(())
    } else {
        m.serialize_entry(key, items)
    }
}

impl Serialize for ElementData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        optional(&mut m, "id", &self.id)?;
        list(&mut m, "extension", &self.extension)?;
        m.end()
    }
}
