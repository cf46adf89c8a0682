//! Deserialisation machinery shared by every generated type.
//!
//! Each generated struct implements [`FhirObject::visit_field`]: one `match` on the JSON
//! property name that hands the value to one of the small generic helpers below. The key
//! loop, the `resourceType` check, duplicate and unknown properties, `null`s and the
//! pairing of `field` with `_field` live here once, which keeps the generated code (and
//! the model's compile time) small.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::primitive::{ElementData, Primitive};
use crate::types::Extension;

/// How strictly JSON is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Unknown properties and `null` values are errors (what a validator needs).
    #[default]
    Strict,
    /// Unknown properties are skipped and dropped, and `null` values are treated as
    /// absent (what a tolerant reader of other systems' output wants).
    Lenient,
}

thread_local! {
    static MODE: Cell<Mode> = const { Cell::new(Mode::Strict) };
}

/// Runs `f` with `mode` in force on this thread, restoring the previous mode afterwards
/// (also if `f` panics).
pub(crate) fn with_mode<R>(mode: Mode, f: impl FnOnce() -> R) -> R {
    struct Restore(Mode);
    impl Drop for Restore {
        fn drop(&mut self) {
            MODE.with(|m| m.set(self.0));
        }
    }
    let _restore = Restore(MODE.with(|m| m.replace(mode)));
    f()
}

fn strict() -> bool {
    MODE.with(Cell::get) == Mode::Strict
}

thread_local! {
    /// Lenient reading: whether the object just read kept nothing (every property was
    /// unknown and skipped). Its parent drops it, as if it had not been sent, so an
    /// empty `{}` (which ele-1 forbids) is never written back.
    static EMPTY: Cell<bool> = const { Cell::new(false) };
}

/// Lenient reading: reads one value with `read` and drops it if it was an object that
/// kept nothing. Strict reading refuses such an object in [`read_fields`] already.
fn kept<T, E>(read: impl FnOnce() -> Result<Option<T>, E>) -> Result<Option<T>, E> {
    if strict() {
        return read();
    }
    EMPTY.with(|e| e.set(false));
    let value = read()?;
    Ok(value.filter(|_| !EMPTY.with(|e| e.replace(false))))
}

/// Marks the element path inside an error message (see [`at`]).
pub(crate) const PATH_MARK: char = '\u{1}';

/// Removes `serde_json`'s ` at line L column C` suffix (reported separately).
pub(crate) fn strip_position(text: &str) -> &str {
    match text.rfind(" at line ") {
        Some(i) if text[i..].contains(" column ") => &text[..i],
        _ => text,
    }
}

/// Splits an error message into the element path recorded so far and the message.
pub(crate) fn split_path(text: &str) -> (&str, &str) {
    text.strip_prefix(PATH_MARK)
        .and_then(|rest| rest.split_once(PATH_MARK))
        .unwrap_or(("", text))
}

/// Prefixes the element path of an error with `segment` (`.key` or `[index]`) as the
/// error travels up: the path is built only for a failing document, so reading a valid
/// one costs nothing for it, and no second parse is needed to report where it failed.
///
/// The message keeps `serde_json`'s ` at line L column C` suffix, from which
/// `serde_json::Error::custom` restores the position of the original failure (otherwise it would
/// stamp the position where the enclosing objects stopped reading).
#[cold]
fn at<E: de::Error>(segment: std::fmt::Arguments<'_>, err: &E) -> E {
    let text = err.to_string();
    let (path, message) = split_path(&text);
    E::custom(format!("{PATH_MARK}{segment}{path}{PATH_MARK}{message}"))
}

/// A generated FHIR struct: a data type, a backbone element or a resource.
pub trait FhirObject: Default + PartialEq + Sized {
    /// The FHIR name of the type, for messages (`Patient`, `Patient.contact`).
    const TYPE_NAME: &'static str;
    /// `Some(name)` for resources, whose JSON carries `"resourceType": name`.
    const RESOURCE_TYPE: Option<&'static str> = None;

    /// Reads the value of property `key` into `self`; `Ok(false)` if this type has no
    /// such property.
    fn visit_field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<bool, A::Error>;
}

/// A property name, borrowed from the input when possible.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a property name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// `Deserialize` for a generated struct.
pub fn deserialize_object<'de, T: FhirObject, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    struct V<T>(PhantomData<T>);
    impl<'de, T: FhirObject> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a FHIR {} object", T::TYPE_NAME)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
            let mut out = T::default();
            read_fields(&mut out, &mut map, false)?;
            Ok(out)
        }
    }
    d.deserialize_map(V(PhantomData))
}

/// Reads the (remaining) properties of an object into `out`.
///
/// `seen_resource_type` tells that the caller already read (and dispatched on) the
/// `resourceType` property.
pub(crate) fn read_fields<'de, T: FhirObject, A: MapAccess<'de>>(
    out: &mut T,
    map: &mut A,
    mut seen_resource_type: bool,
) -> Result<(), A::Error> {
    let mut read_any = false;
    while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
        read_any = true;
        // Only a resource's own `resourceType` names its type; in a data element (R4's
        // `ExampleScenario.instance.resourceType`) it is an element like any other.
        if key == "resourceType" && T::RESOURCE_TYPE.is_some() {
            let found = map
                .next_value::<Key<'de>>()
                .map_err(|e| at(format_args!(".{key}"), &e))?;
            match T::RESOURCE_TYPE {
                Some(expected) if found.0 == expected => seen_resource_type = true,
                Some(expected) => {
                    return Err(at(
                        format_args!(".resourceType"),
                        &de::Error::custom(format!(
                            "resourceType is {:?}, expected {expected:?}",
                            found.0
                        )),
                    ));
                }
                // `T::RESOURCE_TYPE` is `Some` here.
                None => unknown(&key, T::TYPE_NAME, map)?,
            }
            continue;
        }
        match out.visit_field(&key, map) {
            Ok(true) => {}
            Ok(false) => {
                unknown(&key, T::TYPE_NAME, map).map_err(|e| at(format_args!(".{key}"), &e))?;
            }
            Err(e) => return Err(at(format_args!(".{key}"), &e)),
        }
    }
    if let (Some(expected), false) = (T::RESOURCE_TYPE, seen_resource_type)
        && strict()
    {
        return Err(de::Error::custom(format!(
            "resourceType {expected:?} is missing"
        )));
    }
    // ele-1: an element has a value or children; FHIR JSON leaves an empty one out.
    if !read_any && T::RESOURCE_TYPE.is_none() && strict() {
        return Err(de::Error::custom(format!(
            "an empty {} object: FHIR JSON leaves out elements with nothing in them",
            T::TYPE_NAME
        )));
    }
    if !strict() {
        let empty = T::RESOURCE_TYPE.is_none() && *out == T::default();
        EMPTY.with(|e| e.set(empty));
    }
    Ok(())
}

fn unknown<'de, A: MapAccess<'de>>(
    key: &str,
    type_name: &str,
    map: &mut A,
) -> Result<(), A::Error> {
    if strict() {
        Err(de::Error::custom(format!(
            "unknown element {key:?} in {type_name}"
        )))
    } else {
        map.next_value::<IgnoredAny>().map(drop)
    }
}

fn duplicate<E: de::Error>(key: &str) -> E {
    E::custom(format!("element {key:?} appears more than once"))
}

fn null_not_allowed<E: de::Error>(key: &str) -> E {
    E::custom(format!(
        "element {key:?} is null; FHIR JSON omits absent elements instead"
    ))
}

/// Reads an optional value; a `null` is an error in strict mode and absent otherwise.
fn nullable<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    map: &mut A,
    key: &str,
) -> Result<Option<T>, A::Error> {
    match map.next_value::<Option<T>>()? {
        Some(v) => Ok(Some(v)),
        None if strict() => Err(null_not_allowed(key)),
        None => Ok(None),
    }
}

/// `"key": value` of a plain (non-primitive-element) value such as `Element.id`.
pub fn plain<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    key: &str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(duplicate(key));
    }
    *slot = kept(|| nullable(map, key))?;
    Ok(())
}

/// `"key": value` of a primitive element.
pub fn primitive<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<Primitive<T>>,
    key: &str,
) -> Result<(), A::Error> {
    let element = slot.get_or_insert_with(Primitive::default);
    if element.value.is_some() {
        return Err(duplicate(key));
    }
    element.value = nullable(map, key)?;
    if element.is_empty() {
        *slot = None;
    }
    Ok(())
}

/// `"_key": {id, extension}` of a primitive element.
pub fn primitive_element<'de, T, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<Primitive<T>>,
    key: &str,
) -> Result<(), A::Error> {
    let element = slot.get_or_insert_with(Primitive::default);
    if element.element.is_some() {
        return Err(duplicate(key));
    }
    element.element = kept(|| nullable::<ElementData, A>(map, key))?.map(Box::new);
    if element.is_empty() {
        *slot = None;
    }
    Ok(())
}

/// Reads a JSON array whose items may be `null` (the primitive-array form).
struct NullableItems<T>(Vec<Option<T>>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NullableItems<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = NullableItems<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                loop {
                    match seq.next_element::<Option<T>>() {
                        Ok(Some(item)) => items.push(item),
                        Ok(None) => return Ok(NullableItems(items)),
                        Err(e) => return Err(at(format_args!("[{}]", items.len()), &e)),
                    }
                }
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

/// Merges one side (values or element data) of a primitive array into `slot`, whichever
/// side came first. FHIR requires both arrays to have the same length.
fn merge_primitive_list<T, U, E: de::Error>(
    slot: &mut Vec<Primitive<T>>,
    items: Vec<Option<U>>,
    key: &str,
    set: impl Fn(&mut Primitive<T>, U) -> bool,
) -> Result<(), E> {
    if slot.is_empty() {
        slot.reserve(items.len());
        for item in items {
            let mut p = Primitive::default();
            if let Some(item) = item {
                set(&mut p, item);
            }
            slot.push(p);
        }
        return Ok(());
    }
    if slot.len() != items.len() {
        return Err(E::custom(format!(
            "element {key:?} has {} items but its pair has {}",
            items.len(),
            slot.len()
        )));
    }
    for (p, item) in slot.iter_mut().zip(items) {
        if let Some(item) = item
            && !set(p, item)
        {
            return Err(duplicate(key));
        }
    }
    Ok(())
}

/// `"key": [values]` of a primitive array.
pub fn primitive_list<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Vec<Primitive<T>>,
    key: &str,
) -> Result<(), A::Error> {
    let NullableItems(items) = map.next_value::<NullableItems<T>>()?;
    not_empty(&items, key)?;
    merge_primitive_list(slot, items, key, |p, v| p.value.replace(v).is_none())
}

/// In strict mode, refuses an empty array: FHIR JSON leaves an element without values
/// out rather than write `[]`.
fn not_empty<T, E: de::Error>(items: &[T], key: &str) -> Result<(), E> {
    if items.is_empty() && strict() {
        Err(E::custom(format!(
            "element {key:?} is an empty array; FHIR JSON leaves out elements without values"
        )))
    } else {
        Ok(())
    }
}

/// `"_key": [{id, extension} | null]` of a primitive array.
pub fn primitive_element_list<'de, T, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Vec<Primitive<T>>,
    key: &str,
) -> Result<(), A::Error> {
    let NullableItems(items) = map.next_value::<NullableItems<ElementData>>()?;
    not_empty(&items, key)?;
    // Lenient reading: element data that kept nothing is none at all.
    let empty = ElementData::default();
    let items: Vec<_> = items
        .into_iter()
        .map(|item| item.filter(|e| *e != empty))
        .collect();
    merge_primitive_list(slot, items, key, |p, e| {
        p.element.replace(Box::new(e)).is_none()
    })
}

/// `"key": {…}` of a complex element.
pub fn complex<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    key: &str,
) -> Result<(), A::Error> {
    plain(map, slot, key)
}

/// `"key": {…}` of a complex element that is boxed (it can contain itself).
pub fn boxed<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<Box<T>>,
    key: &str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(duplicate(key));
    }
    *slot = kept(|| nullable::<T, A>(map, key))?.map(Box::new);
    Ok(())
}

/// `"key": [{…}]` of a repeating complex element.
pub fn list<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Vec<T>,
    key: &str,
) -> Result<(), A::Error> {
    if !slot.is_empty() {
        return Err(duplicate(key));
    }
    *slot = nullable::<Items<T>, A>(map, key)?
        .map(|i| i.0)
        .unwrap_or_default();
    not_empty(slot, key)
}

/// A JSON array of objects whose errors name the index of the failing item.
struct Items<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Items<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Items<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                let mut index = 0usize;
                let lenient = !strict();
                loop {
                    if lenient {
                        EMPTY.with(|e| e.set(false));
                    }
                    match seq.next_element::<T>() {
                        // An item that kept nothing is dropped (lenient reading).
                        Ok(Some(_)) if lenient && EMPTY.with(|e| e.replace(false)) => {}
                        Ok(Some(item)) => items.push(item),
                        Ok(None) => return Ok(Items(items)),
                        Err(e) => return Err(at(format_args!("[{index}]"), &e)),
                    }
                    index += 1;
                }
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

fn two_choices<E: de::Error>(base: &str, key: &str) -> E {
    E::custom(format!(
        "{base}[x] is given more than once (again as {key:?}); it takes one type"
    ))
}

/// `"baseType": value` of a choice element whose chosen type is primitive.
pub fn choice_primitive<'de, C, T: Deserialize<'de>, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<C>,
    base: &str,
    key: &str,
    wrap: fn(Primitive<T>) -> C,
    get: fn(&mut C) -> Option<&mut Primitive<T>>,
) -> Result<(), A::Error> {
    let value = nullable::<T, A>(map, key)?;
    match slot {
        None => {
            if value.is_some() {
                *slot = Some(wrap(Primitive {
                    value,
                    element: None,
                }));
            }
            Ok(())
        }
        Some(existing) => match get(existing) {
            Some(p) if p.value.is_none() => {
                p.value = value;
                Ok(())
            }
            Some(_) => Err(duplicate(key)),
            None => Err(two_choices(base, key)),
        },
    }
}

/// `"_baseType": {id, extension}` of a choice element whose chosen type is primitive.
pub fn choice_primitive_element<'de, C, T, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<C>,
    base: &str,
    key: &str,
    wrap: fn(Primitive<T>) -> C,
    get: fn(&mut C) -> Option<&mut Primitive<T>>,
) -> Result<(), A::Error> {
    let element = kept(|| nullable::<ElementData, A>(map, key))?.map(Box::new);
    match slot {
        None => {
            if element.is_some() {
                *slot = Some(wrap(Primitive {
                    value: None,
                    element,
                }));
            }
            Ok(())
        }
        Some(existing) => match get(existing) {
            Some(p) if p.element.is_none() => {
                p.element = element;
                Ok(())
            }
            Some(_) => Err(duplicate(key)),
            None => Err(two_choices(base, key)),
        },
    }
}

/// `"baseType": {…}` of a choice element whose chosen type is complex.
pub fn choice_complex<'de, C, T: Deserialize<'de>, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<C>,
    base: &str,
    key: &str,
    wrap: fn(Box<T>) -> C,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(two_choices(base, key));
    }
    *slot = kept(|| nullable::<T, A>(map, key))?.map(|v| wrap(Box::new(v)));
    Ok(())
}

impl FhirObject for ElementData {
    const TYPE_NAME: &'static str = "Element";
    fn visit_field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        match key {
            "id" => plain(map, &mut self.id, key)?,
            "extension" => list::<Extension, A>(map, &mut self.extension, key)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl<'de> Deserialize<'de> for ElementData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_object(d)
    }
}

/// Reads a whole value with the given mode (used by the public parse functions).
pub(crate) fn from_slice_with_mode<T: DeserializeOwned>(
    bytes: &[u8],
    mode: Mode,
) -> Result<T, serde_json::Error> {
    with_mode(mode, || serde_json::from_slice(bytes))
}

/// Reads the properties after `resourceType` of a resource (used by the generated
/// `Resource` dispatch).
///
/// The resource is built in its final heap place, so a large resource is never moved.
pub(crate) fn read_rest<'de, T: FhirObject, A: MapAccess<'de>>(
    map: &mut A,
) -> Result<Box<T>, A::Error> {
    let mut out = Box::<T>::default();
    read_fields(&mut *out, map, true)?;
    Ok(out)
}

/// `Deserialize` for [`crate::resources::Resource`]: dispatches on `resourceType`.
///
/// FHIR JSON nearly always starts with `resourceType`, and then the resource is read in
/// one pass. When it does not, the properties before it are kept as raw JSON text and the
/// object is read again with `resourceType` first, so the result is the same (only error
/// positions inside such a resource are reported relative to the reordered text).
pub(crate) fn deserialize_resource<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<crate::resources::Resource, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = crate::resources::Resource;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a FHIR resource (an object with a resourceType)")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let Some(Key(first)) = map.next_key::<Key<'de>>()? else {
                return Err(de::Error::custom("a resource needs a resourceType"));
            };
            if first == "resourceType" {
                let Key(resource_type) = map.next_value::<Key<'de>>()?;
                return crate::resources::read_resource(&resource_type, &mut map);
            }
            // Rare path: buffer everything as raw JSON and read it again in FHIR order.
            let mut resource_type: Option<String> = None;
            let mut rest: Vec<(String, Box<serde_json::value::RawValue>)> = Vec::new();
            let mut key = Some(first.into_owned());
            while let Some(k) = key {
                if k == "resourceType" {
                    resource_type = Some(map.next_value::<String>()?);
                } else {
                    rest.push((k, map.next_value()?));
                }
                key = map.next_key::<Key<'de>>()?.map(|Key(k)| k.into_owned());
            }
            let resource_type = resource_type
                .ok_or_else(|| de::Error::custom("a resource needs a resourceType"))?;
            let mut text = String::with_capacity(
                rest.iter()
                    .map(|(k, v)| k.len() + v.get().len() + 4)
                    .sum::<usize>()
                    + 64,
            );
            text.push_str("{\"resourceType\":");
            text.push_str(&serde_json::to_string(&resource_type).map_err(de::Error::custom)?);
            for (k, v) in &rest {
                text.push(',');
                text.push_str(&serde_json::to_string(k).map_err(de::Error::custom)?);
                text.push(':');
                text.push_str(v.get());
            }
            text.push('}');
            serde_json::from_str(&text).map_err(de::Error::custom)
        }
    }
    d.deserialize_map(V)
}
