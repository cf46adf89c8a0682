#!/usr/bin/env python3
"""Structural checker for the FHIR R4 (4.0.1) JSON corpus in this directory.

Every rule is derived from the vendored official definitions in ``profiles/r4``:

* ``profiles-types.json`` and ``profiles-resources.*.json`` (StructureDefinitions):
  element names, types, cardinalities, choice types, content references, the
  regular expressions of the primitive types and the required bindings;
* ``valuesets.json`` (ValueSets and CodeSystems): the codes allowed by required
  bindings that can be expanded from the specification alone.

On top of the structural checks it evaluates a selection of the invariants of the
base specification (ext-1, dom-2..5, ref-1, bdl-*, per-1, rng-2, qty-3, sqty-1,
tim-*, att-1, cpt-2, rat-1, txt-1/2, inv-1, obs-3/6/7, cmp-1/2, lst-1..3, org-1..3,
pat-1, ppc-1..5, con-1/2/4/5, ait-1/2, sev-1, age-1, drt-1), resolves local and
in-document references, and checks that each file is written in the corpus layout
(2-space pretty-printed JSON, number text kept as written, final newline).

The vendored snapshots carry a few elements that are not part of HL7 FHIR R4 (they
are absent from the differential of the definition that introduces them, e.g.
``Meta.project``) and one resource of a later release (``SubscriptionStatus``,
fhirVersion 4.3.0). The checker only accepts elements that the differential of the
introducing definition declares, and ignores definitions whose fhirVersion is not
4.0.1. Types come from the snapshot; where it is narrower than the differential
(``Bundle.entry.response.outcome``: OperationOutcome in the snapshot, Resource in the
differential) the corpus satisfies both.

Usage::

    python3 crates/model/tests/corpus/check_corpus.py [FILE.json ...]

Without arguments it checks every ``*.json`` file next to this script. It prints one
line per file and exits with status 1 if any file has an error. Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import glob
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
DEFS = os.path.join(ROOT, "profiles", "r4")
FHIR_VERSION = "4.0.1"
XHTML_NS = "http://www.w3.org/1999/xhtml"
UCUM = "http://unitsofmeasure.org"
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
SIMPLE_QUANTITY = "http://hl7.org/fhir/StructureDefinition/SimpleQuantity"


# --------------------------------------------------------------------------------------
# JSON reading that keeps the text of numbers


class JInt(str):
    """A JSON number written without fraction or exponent; the value is its text."""


class JFloat(str):
    """A JSON number written with a fraction or an exponent; the value is its text."""


class DuplicateKey(ValueError):
    pass


def _object_pairs(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise DuplicateKey(f"duplicate property {k!r}")
        obj[k] = v
    return obj


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def load_json_text(text):
    return json.loads(
        text,
        parse_int=JInt,
        parse_float=JFloat,
        parse_constant=_no_constant,
        object_pairs_hook=_object_pairs,
    )


def jtype(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, JInt):
        return "integer"
    if isinstance(v, JFloat):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def dump_canonical(v, level=0):
    """Pretty-prints with a 2-space indent, keeping property order and number text."""
    pad = "  " * (level + 1)
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {dump_canonical(x, level + 1)}" for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    if isinstance(v, list):
        if not v:
            return "[]"
        items = [pad + dump_canonical(x, level + 1) for x in v]
        return "[\n" + ",\n".join(items) + "\n" + "  " * level + "]"
    if isinstance(v, (JInt, JFloat)):
        return str.__str__(v)
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    return json.dumps(v, ensure_ascii=False)


# --------------------------------------------------------------------------------------
# Definitions


def upper_first(s):
    return s[:1].upper() + s[1:]


class Prop:
    """One JSON property name of an element (a choice element gives one per type)."""

    __slots__ = (
        "name", "el", "path", "sd", "code", "fhir_type", "many", "choice", "profiles", "targets", "binding",
        "content_ref",
    )

    def __init__(self, name, el, sd, code, fhir_type, many, choice, profiles, binding, content_ref, targets=()):
        self.name = name
        self.el = el
        self.path = el["path"]
        self.sd = sd
        self.code = code  # type code, or None for a content reference
        self.fhir_type = fhir_type  # the FHIR primitive type name when primitive, else None
        self.many = many
        self.choice = choice
        self.profiles = profiles
        self.binding = binding
        self.content_ref = content_ref
        self.targets = tuple(t.rsplit("/", 1)[-1] for t in targets)


class Definitions:
    def __init__(self, directory):
        files = [os.path.join(directory, "profiles-types.json")]
        files += sorted(glob.glob(os.path.join(directory, "profiles-resources.*.json")))
        self.sds = {}
        self.ignored = []  # (id, reason)
        for f in files:
            with open(f, encoding="utf-8") as fh:
                bundle = json.load(fh)
            for entry in bundle.get("entry", []):
                r = entry.get("resource", {})
                if r.get("resourceType") != "StructureDefinition":
                    continue
                if r.get("fhirVersion") != FHIR_VERSION:
                    self.ignored.append((r["id"], f"fhirVersion {r.get('fhirVersion')}"))
                    continue
                if r.get("derivation") == "constraint" or r.get("kind") == "logical":
                    continue
                self.sds[r["id"]] = r
        self.diff = {
            k: {el["path"]: el for el in r.get("differential", {}).get("element", [])} for k, r in self.sds.items()
        }
        self.primitives = {k for k, r in self.sds.items() if r["kind"] == "primitive-type"}
        self.resources = {
            k for k, r in self.sds.items() if r["kind"] == "resource" and not r.get("abstract")
        }
        self.regex = {}
        for k in self.primitives:
            for el in self.sds[k]["snapshot"]["element"]:
                if el["path"] == k + ".value":
                    for ext in el["type"][0].get("extension", []):
                        if ext["url"] == REGEX_EXT:
                            # The patterns are written for XML Schema/Java, where \s and \S are ASCII.
                            self.regex[k] = re.compile(ext["valueString"], re.ASCII)
        self.not_r4 = []  # snapshot elements not declared by any differential
        self._props = {}
        self._required = {}
        self._choices = {}
        self._build()

    def _official(self, el):
        """The differential element that introduces a snapshot element, or None."""
        base = el.get("base", {}).get("path", el["path"])
        root = base.split(".")[0]
        return self.diff.get(root, {}).get(base)

    def _build(self):
        for sd_id, sd in self.sds.items():
            for el in sd["snapshot"]["element"]:
                path = el["path"]
                if "." not in path:
                    continue
                parent, name = path.rsplit(".", 1)
                key = (sd_id, parent)
                props = self._props.setdefault(key, {})
                decl = self._official(el)
                if decl is None:
                    self.not_r4.append(path)
                    continue
                many = el.get("max") != "1"
                if el.get("min", 0) >= 1:
                    self._required.setdefault(key, []).append(el)
                binding = el.get("binding")
                if "contentReference" in el:
                    ref = el["contentReference"].lstrip("#")
                    props[name] = Prop(name, el, sd_id, None, None, many, False, (), binding, ref)
                    continue
                types = el.get("type", [])
                choice = name.endswith("[x]")
                if choice:
                    self._choices.setdefault(key, []).append(el)
                for t in types:
                    code = t["code"]
                    fhir_type = None
                    if code.startswith("http://hl7.org/fhirpath/System."):
                        fhir_type = "string"
                        for ext in t.get("extension", []):
                            if ext["url"] == FHIR_TYPE_EXT:
                                fhir_type = ext["valueUrl"]
                        # Resource.id is declared as System.String but is documented as an id.
                        if path == "Resource.id" or (el.get("base", {}).get("path") == "Resource.id"):
                            fhir_type = "id"
                    elif code in self.primitives:
                        fhir_type = code
                    jname = name[:-3] + upper_first(code) if choice else name
                    props[jname] = Prop(
                        jname, el, sd_id, code, fhir_type, many, choice, tuple(t.get("profile", [])), binding, None,
                        t.get("targetProfile", []),
                    )

    def props(self, sd_id, path):
        return self._props.get((sd_id, path), {})

    def required(self, sd_id, path):
        return self._required.get((sd_id, path), [])

    def choices(self, sd_id, path):
        return self._choices.get((sd_id, path), [])

    def has_children(self, sd_id, path):
        return (sd_id, path) in self._props


class Terminology:
    def __init__(self, path):
        with open(path, encoding="utf-8") as fh:
            bundle = json.load(fh)
        self.vs = {}
        self.cs = {}
        for e in bundle["entry"]:
            r = e["resource"]
            if r["resourceType"] == "ValueSet":
                self.vs[r["url"]] = r
            elif r["resourceType"] == "CodeSystem":
                self.cs[r["url"]] = r
        self._cache = {}

    def _all_codes(self, system):
        cs = self.cs.get(system)
        if cs is None or cs.get("content") != "complete":
            return None
        out = set()

        def walk(concepts):
            for c in concepts:
                out.add((system, c["code"]))
                walk(c.get("concept", []))

        walk(cs.get("concept", []))
        return out

    def expand(self, url):
        """The (system, code) pairs of a value set, or None if it cannot be expanded here."""
        url = url.split("|")[0]
        if url in self._cache:
            return self._cache[url]
        self._cache[url] = None  # guards against cycles
        vs = self.vs.get(url)
        result = None
        if vs is not None and "compose" in vs:
            result = set()
            for inc in vs["compose"].get("include", []):
                part = self._include(inc)
                if part is None:
                    result = None
                    break
                result |= part
            if result is not None:
                for exc in vs["compose"].get("exclude", []):
                    part = self._include(exc)
                    if part is None:
                        result = None
                        break
                    result -= part
        self._cache[url] = result
        return result

    def _include(self, inc):
        if "filter" in inc:
            return None
        if "valueSet" in inc:
            if "system" in inc:
                return None
            out = set()
            for u in inc["valueSet"]:
                part = self.expand(u)
                if part is None:
                    return None
                out |= part
            return out
        system = inc.get("system")
        if system is None:
            return None
        if "concept" in inc:
            return {(system, c["code"]) for c in inc["concept"]}
        return self._all_codes(system)


# --------------------------------------------------------------------------------------
# Primitive values

MIME = re.compile(
    r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+"
    r"(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(\"[^\"]*\"|[A-Za-z0-9!#$&^_.+-]+))*"
)
INT32 = (-(2**31), 2**31 - 1)
REST_REF = re.compile(r"(?:https?://\S+/)?([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?")
DATE_PART = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
XHTML_ELEMENTS = {
    "a", "abbr", "acronym", "address", "b", "big", "blockquote", "br", "caption", "cite", "code", "col",
    "colgroup", "dd", "dfn", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "li", "ol", "p", "pre", "q", "samp", "small", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "tt", "ul", "var",
}
XHTML_ATTRS = {
    "abbr", "accesskey", "align", "alt", "axis", "bgcolor", "border", "cellhalign", "cellpadding",
    "cellspacing", "cellvalign", "char", "charoff", "charset", "cite", "class", "colspan", "compact",
    "coords", "dir", "frame", "headers", "height", "href", "hreflang", "hspace", "id", "lang", "longdesc",
    "name", "nowrap", "rel", "rev", "rowspan", "rules", "scope", "shape", "span", "src", "start", "style",
    "summary", "tabindex", "title", "type", "valign", "value", "vspace", "width",
}


def parse_when(s):
    """An aware datetime for a value with a time, else None (dates are compared as text)."""
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})", s)
    if not m:
        return None
    micro = (m.group(2) or "")[:6].ljust(6, "0")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    try:
        return dt.datetime.fromisoformat(f"{m.group(1)}.{micro}{zone}")
    except ValueError:  # e.g. a leap second
        return None


def calendar_ok(s):
    m = DATE_PART.match(s)
    y, mo, d = m.group(1), m.group(2), m.group(3)
    try:
        if d:
            dt.date(int(y), int(mo), int(d))
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------
# The checker


class Context:
    """References and contained ids of one root resource (contained ones share it)."""

    def __init__(self):
        self.local_refs = []  # (path, "#id")
        self.contained = {}  # id -> path
        self.mentions = set()  # ids named by "#id" in canonical/uri/url values


class Checker:
    def __init__(self, defs, term):
        self.defs = defs
        self.term = term
        self.errors = []
        self.count = 0
        self.ctx_stack = []

    # ---- reporting
    def err(self, path, msg):
        self.errors.append(f"{path}: {msg}")

    # ---- resources
    def resource(self, obj, path, allowed=None, contained=False):
        if not isinstance(obj, dict):
            self.err(path, f"expected a resource object, found {jtype(obj)}")
            return None
        rt = obj.get("resourceType")
        if not isinstance(rt, str) or rt not in self.defs.resources:
            self.err(path, f"unknown or abstract resourceType {rt!r}")
            return None
        if allowed and rt != allowed:
            self.err(path, f"resourceType {rt} where {allowed} is required")
        rpath = f"{path}<{rt}>" if path else rt
        new_root = not contained
        if new_root:
            self.ctx_stack.append(Context())
        else:
            if "contained" in obj:
                self.err(rpath, "dom-2: a contained resource SHALL NOT contain resources")
            meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
            if "versionId" in meta or "lastUpdated" in meta:
                self.err(rpath, "dom-4: a contained resource SHALL NOT have meta.versionId or meta.lastUpdated")
            if "security" in meta:
                self.err(rpath, "dom-5: a contained resource SHALL NOT have a security label")
            if "id" not in obj:
                self.err(rpath, "a contained resource needs an id to be referenced")
            else:
                ctx = self.ctx_stack[-1]
                if obj["id"] in ctx.contained:
                    self.err(rpath, f"duplicate contained id {obj['id']!r}")
                ctx.contained[obj["id"]] = rpath
        self.node(obj, rt, rt, rpath, is_resource=True)
        self.resource_invariants(rt, obj, rpath)
        if new_root:
            ctx = self.ctx_stack.pop()
            ids = set(ctx.contained)
            for p, ref in ctx.local_refs:
                if ref != "#" and ref[1:] not in ids:
                    self.err(p, f"ref-1: local reference {ref!r} has no contained resource")
            refd = {ref[1:] for _, ref in ctx.local_refs} | ctx.mentions
            for cid, cpath in ctx.contained.items():
                if cid not in refd and "#" not in refd and "" not in refd:
                    self.err(cpath, f"dom-3: contained resource {cid!r} is not referenced from the resource")
        return rt

    # ---- complex values
    def node(self, obj, sd_id, el_path, path, is_resource=False, profiles=()):
        if not isinstance(obj, dict):
            self.err(path, f"expected an object, found {jtype(obj)}")
            return
        if not obj or (is_resource and list(obj) == ["resourceType"]):
            self.err(path, "empty object (ele-1)")
            return
        self.count += 1
        props = self.defs.props(sd_id, el_path)
        for key, v in obj.items():
            kpath = f"{path}.{key}"
            if key == "resourceType":
                if not is_resource:
                    self.err(kpath, "resourceType outside a resource")
                continue
            if key.startswith("_"):
                p = props.get(key[1:])
                if p is None:
                    self.err(kpath, f"unknown element {key!r} on {el_path}")
                elif p.fhir_type is None:
                    self.err(kpath, f"{key!r}: {p.name} is not a primitive ({p.code})")
                elif key[1:] not in obj:
                    self.primitive_ext_only(v, p, kpath)
                elif v is None:
                    self.err(kpath, "null")
                continue
            p = props.get(key)
            if p is None:
                hint = " (not an R4 element)" if f"{el_path}.{key}" in self.defs.not_r4 else ""
                self.err(kpath, f"unknown element {key!r} on {el_path}{hint}")
                continue
            self.prop_value(obj, key, v, p, kpath)
        # required elements
        for el in self.defs.required(sd_id, el_path):
            name = el["path"].rsplit(".", 1)[1]
            names = [k for k, p in props.items() if p.el is el]
            if not any(n in obj or "_" + n in obj for n in names):
                self.err(path, f"missing required element {name!r} (min {el['min']})")
        # one variant per choice
        for el in self.defs.choices(sd_id, el_path):
            names = {k for k, p in props.items() if p.el is el}
            present = {k.lstrip("_") for k in obj if k.lstrip("_") in names}
            if len(present) > 1:
                self.err(path, f"more than one type for {el['path']}: {sorted(present)}")
        self.invariants(sd_id, el_path, obj, path, profiles)

    def prop_value(self, obj, key, v, p, path):
        ext = obj.get("_" + key)
        if p.many:
            if not isinstance(v, list):
                self.err(path, f"expected an array (max {p.el['max']}), found {jtype(v)}")
                return
            if not v:
                self.err(path, "empty array")
                return
            if p.fhir_type is not None:
                if ext is not None:
                    if not isinstance(ext, list):
                        self.err(f"{path[: -len(key)]}_{key}", "expected an array matching the primitive array")
                        ext = None
                    elif len(ext) != len(v):
                        self.err(f"{path[: -len(key)]}_{key}", f"{len(ext)} items where {key} has {len(v)}")
                for i, item in enumerate(v):
                    e = ext[i] if isinstance(ext, list) and i < len(ext) else None
                    ipath = f"{path}[{i}]"
                    if item is None:
                        if e is None:
                            self.err(ipath, "null with no matching extension object")
                    else:
                        self.primitive(item, p, ipath)
                    if e is not None:
                        self.primitive_ext(e, f"{path[: -len(key)]}_{key}[{i}]")
            else:
                for i, item in enumerate(v):
                    if item is None:
                        self.err(f"{path}[{i}]", "null in an array of non-primitive values")
                    else:
                        self.typed(item, p, f"{path}[{i}]")
        else:
            if isinstance(v, list):
                self.err(path, f"array where {p.path} has max 1")
                return
            if v is None:
                self.err(path, "null")
                return
            if p.fhir_type is not None:
                self.primitive(v, p, path)
                if ext is not None:
                    self.primitive_ext(ext, f"{path[: -len(key)]}_{key}")
            else:
                self.typed(v, p, path)

    def primitive_ext_only(self, ext, p, path):
        if p.many:
            if not isinstance(ext, list) or not ext:
                self.err(path, "expected a non-empty array")
                return
            for i, e in enumerate(ext):
                if e is None:
                    self.err(f"{path}[{i}]", "null with no value")
                else:
                    self.primitive_ext(e, f"{path}[{i}]")
        else:
            self.primitive_ext(ext, path)

    def primitive_ext(self, e, path):
        if not isinstance(e, dict):
            self.err(path, f"expected an object with id/extension, found {jtype(e)}")
            return
        if not e:
            self.err(path, "empty object")
        for k, v in e.items():
            if k == "id":
                if not isinstance(v, str) or isinstance(v, (JInt, JFloat)) or not v:
                    self.err(f"{path}.id", "expected a non-empty string")
            elif k == "extension":
                if not isinstance(v, list) or not v:
                    self.err(f"{path}.extension", "expected a non-empty array")
                    continue
                for i, x in enumerate(v):
                    self.node(x, "Extension", "Extension", f"{path}.extension[{i}]")
            else:
                self.err(f"{path}.{k}", "only id and extension are allowed beside a primitive value")

    def typed(self, v, p, path):
        if p.content_ref is not None:
            self.node(v, p.sd, p.content_ref, path)
            return
        code = p.code
        if code == "Resource":
            contained = p.el.get("base", {}).get("path") == "DomainResource.contained"
            self.resource(v, path, contained=contained)
        elif code in self.defs.resources:
            self.resource(v, path, allowed=code)
        elif code in ("BackboneElement", "Element"):
            self.node(v, p.sd, p.path, path)
        elif code in self.defs.sds:
            self.node(v, code, code, path, profiles=p.profiles)
            self.binding(v, p, path, code)
            if code == "Reference" and isinstance(v, dict):
                self.reference_target(v, p, path)
        else:
            self.err(path, f"unsupported type {code}")

    def reference_target(self, v, p, path):
        allowed = set(p.targets)
        if not allowed or "Resource" in allowed:
            return
        found = []
        ref = v.get("reference")
        if isinstance(ref, str):
            m = REST_REF.fullmatch(ref)
            if m:
                found.append(("reference", m.group(1)))
        if isinstance(v.get("type"), str):
            found.append(("type", v["type"].rsplit("/", 1)[-1]))
        for what, rt in found:
            if rt not in allowed:
                self.err(path, f"{what} names a {rt}; {p.path} refers to {' | '.join(sorted(allowed))}")

    def primitive(self, v, p, path):
        t = p.fhir_type
        jt = jtype(v)
        if t == "boolean":
            if jt != "boolean":
                self.err(path, f"{t}: expected a JSON boolean, found {jt}")
            return
        if t in ("integer", "positiveInt", "unsignedInt"):
            if jt != "integer":
                self.err(path, f"{t}: expected a JSON integer, found {jt} {v!r}")
                return
            n = int(v)
            lo = {"integer": INT32[0], "positiveInt": 1, "unsignedInt": 0}[t]
            if not lo <= n <= INT32[1]:
                self.err(path, f"{t}: {v} out of range")
            if not re.fullmatch(r"-?(0|[1-9][0-9]*)", v):
                self.err(path, f"{t}: {v} has a non-canonical form")
            return
        if t == "decimal":
            if jt not in ("integer", "number"):
                self.err(path, f"decimal: expected a JSON number, found {jt}")
                return
            if not self.defs.regex["decimal"].fullmatch(v):
                self.err(path, f"decimal: {v} does not match the decimal pattern")
            return
        if jt != "string":
            self.err(path, f"{t}: expected a JSON string, found {jt}")
            return
        if v == "":
            self.err(path, f"{t}: empty string")
            return
        if t == "xhtml":
            self.xhtml(v, path)
            return
        if t in ("canonical", "uri", "url") and v.startswith("#") and self.ctx_stack:
            self.ctx_stack[-1].mentions.add(v[1:])
        rx = self.defs.regex.get(t)
        if rx is not None and not rx.fullmatch(v):
            self.err(path, f"{t}: {v!r} does not match {rx.pattern}")
            return
        if t in ("date", "dateTime", "instant") and not calendar_ok(v):
            self.err(path, f"{t}: {v!r} is not a calendar date")
        if t == "base64Binary":
            try:
                base64.b64decode("".join(v.split()), validate=True)
            except (binascii.Error, ValueError):
                self.err(path, f"base64Binary: {v[:20]!r}... does not decode")
        if p.binding and p.binding.get("strength") == "required" and t == "code":
            self.code_binding(v, p, path)

    def xhtml(self, v, path):
        try:
            root = ET.fromstring(v)
        except ET.ParseError as e:
            self.err(path, f"xhtml: not well-formed XML: {e}")
            return
        if root.tag != f"{{{XHTML_NS}}}div":
            self.err(path, f"xhtml: root must be a div in the XHTML namespace, found {root.tag}")
        if not "".join(root.itertext()).strip():
            self.err(path, "txt-2: the narrative SHALL have some non-whitespace content")
        for el in root.iter():
            ns, _, local = el.tag.partition("}")
            if ns != "{" + XHTML_NS or local not in XHTML_ELEMENTS:
                self.err(path, f"txt-1: element {el.tag} is not allowed in narrative")
            for a in el.attrib:
                if a.startswith("{") or a not in XHTML_ATTRS:
                    self.err(path, f"txt-1: attribute {a} is not allowed in narrative")
        if not v.startswith("<div") or 'xmlns="http://www.w3.org/1999/xhtml"' not in v.split(">", 1)[0]:
            self.err(path, "xhtml: the div must declare xmlns=\"http://www.w3.org/1999/xhtml\"")

    # ---- terminology
    def _vs(self, p):
        return p.binding.get("valueSet", "").split("|")[0]

    def code_binding(self, v, p, path):
        url = self._vs(p)
        if url == "http://hl7.org/fhir/ValueSet/mimetypes":
            if not MIME.fullmatch(v) and not (p.path.startswith("CapabilityStatement.") and v in ("xml", "json", "ttl")):
                self.err(path, f"{v!r} is not a MIME type (required binding mimetypes)")
            return
        codes = self.term.expand(url)
        if codes is not None and v not in {c for _, c in codes}:
            self.err(path, f"code {v!r} is not in the required value set {url}")

    def binding(self, v, p, path, code):
        if not p.binding or p.binding.get("strength") != "required" or not isinstance(v, dict):
            return
        url = self._vs(p)
        codes = self.term.expand(url)
        if codes is None:
            return
        systems = {s for s, _ in codes}
        codings = []
        if code == "Coding":
            codings = [v]
        elif code == "CodeableConcept":
            codings = [c for c in v.get("coding", []) if isinstance(c, dict)]
        else:
            return
        in_vs = False
        for c in codings:
            pair = (c.get("system"), c.get("code"))
            if pair in codes:
                in_vs = True
            elif pair[0] in systems:
                self.err(path, f"code {pair[1]!r} of {pair[0]} is not in the required value set {url}")
        if not in_vs:
            self.err(path, f"no coding from the required value set {url}")

    # ---- invariants of data types and backbone elements
    def invariants(self, sd_id, el_path, o, path, profiles):
        if sd_id == "Extension" and el_path == "Extension":
            has_value = any(k.startswith("value") or k.startswith("_value") for k in o)
            if has_value == ("extension" in o):
                self.err(path, "ext-1: an extension must have either extensions or value[x], not both")
        elif sd_id == "Reference" and el_path == "Reference":
            ref = o.get("reference")
            if isinstance(ref, str) and ref.startswith("#") and self.ctx_stack:
                self.ctx_stack[-1].local_refs.append((path, ref))
        elif sd_id in ("Quantity", "Age", "Duration", "Count", "Distance", "Money") and el_path == sd_id:
            if "code" in o and "system" not in o:
                self.err(path, "qty-3: a unit code needs a system")
            if SIMPLE_QUANTITY in profiles and "comparator" in o:
                self.err(path, "sqty-1: the comparator is not used on a SimpleQuantity")
            if sd_id == "Age":
                if ("value" in o and "code" not in o) or o.get("system", UCUM) != UCUM or (
                    "value" in o and Decimal(o["value"]) <= 0
                ):
                    self.err(path, "age-1: an Age needs a UCUM code and a positive value")
            if sd_id == "Duration" and "code" in o and (o.get("system") != UCUM or "value" not in o):
                self.err(path, "drt-1: a Duration code needs the UCUM system and a value")
        elif sd_id == "Period" and el_path == "Period":
            s, e = o.get("start"), o.get("end")
            if isinstance(s, str) and isinstance(e, str) and not self.before_or_same(s, e):
                self.err(path, f"per-1: start {s} is after end {e}")
        elif sd_id == "Range" and el_path == "Range":
            lo, hi = o.get("low", {}), o.get("high", {})
            if isinstance(lo, dict) and isinstance(hi, dict) and "value" in lo and "value" in hi:
                if Decimal(lo["value"]) > Decimal(hi["value"]):
                    self.err(path, "rng-2: low is above high")
        elif sd_id == "Ratio" and el_path == "Ratio":
            if ("numerator" in o) != ("denominator" in o) or ("numerator" not in o and "extension" not in o):
                self.err(path, "rat-1: numerator and denominator are both present or both absent")
        elif sd_id == "Attachment" and el_path == "Attachment":
            if "data" in o and "contentType" not in o:
                self.err(path, "att-1: data needs a contentType")
        elif sd_id == "ContactPoint" and el_path == "ContactPoint":
            if "value" in o and "system" not in o:
                self.err(path, "cpt-2: a value needs a system")
        elif sd_id == "Timing" and el_path == "Timing.repeat":
            pairs = [("duration", "durationUnit", "tim-1"), ("period", "periodUnit", "tim-2"),
                     ("periodMax", "period", "tim-6"), ("durationMax", "duration", "tim-7"),
                     ("countMax", "count", "tim-8")]
            for a, b, key in pairs:
                if a in o and b not in o:
                    self.err(path, f"{key}: {a} needs {b}")
            for a, key in (("duration", "tim-4"), ("period", "tim-5")):
                if a in o and jtype(o[a]) in ("integer", "number") and Decimal(o[a]) < 0:
                    self.err(path, f"{key}: {a} SHALL be non-negative")
            when = o.get("when", [])
            if "offset" in o and (not when or any(w in ("C", "CM", "CD", "CV") for w in when)):
                self.err(path, "tim-9: an offset needs a when other than C, CM, CD, CV")
            if "timeOfDay" in o and "when" in o:
                self.err(path, "tim-10: timeOfDay and when exclude each other")
        elif sd_id == "Parameters" and el_path == "Parameters.parameter":
            has_value = any(k.startswith("value") or k.startswith("_value") for k in o)
            if "part" in o:
                ok = not has_value and "resource" not in o
            else:
                ok = has_value != ("resource" in o)
            if not ok:
                self.err(path, "inv-1: a parameter has exactly one of value[x], resource, part")
        elif sd_id == "Observation" and el_path == "Observation.referenceRange":
            if not any(k in o for k in ("low", "high", "text")):
                self.err(path, "obs-3: a reference range needs low, high or text")
        elif sd_id == "Composition" and el_path == "Composition.section":
            if not any(k in o for k in ("text", "entry", "section")):
                self.err(path, "cmp-1: a section needs text, entries or sub-sections")
            if "emptyReason" in o and "entry" in o:
                self.err(path, "cmp-2: emptyReason only in an empty section")
        elif sd_id == "Patient" and el_path == "Patient.contact":
            if not any(k in o for k in ("name", "telecom", "address", "organization")):
                self.err(path, "pat-1: a contact needs details or an organization")
        elif sd_id == "Condition" and el_path == "Condition.stage":
            if "summary" not in o and "assessment" not in o:
                self.err(path, "con-1: a stage needs a summary or an assessment")
        elif sd_id == "Condition" and el_path == "Condition.evidence":
            if "code" not in o and "detail" not in o:
                self.err(path, "con-2: evidence needs a code or a detail")
        elif sd_id == "AuditEvent" and el_path == "AuditEvent.entity":
            if "name" in o and "query" in o:
                self.err(path, "sev-1: an entity has a name or a query, not both")

    def before_or_same(self, s, e):
        a, b = parse_when(s), parse_when(e)
        if a is not None and b is not None:
            return a <= b
        n = min(len(s.split("T")[0]), len(e.split("T")[0]))
        return s[:n] <= e[:n]

    # ---- invariants of resources
    def resource_invariants(self, rt, o, path):
        def codes(concept):
            if not isinstance(concept, dict):
                return set()
            return {(c.get("system"), c.get("code")) for c in concept.get("coding", []) if isinstance(c, dict)}

        if rt == "Bundle":
            self.bundle(o, path)
        elif rt == "Organization":
            if not o.get("identifier") and "name" not in o:
                self.err(path, "org-1: an organization needs a name or an identifier")
            for k, key in (("telecom", "org-3"), ("address", "org-2")):
                if any(isinstance(x, dict) and x.get("use") == "home" for x in o.get(k, [])):
                    self.err(path, f"{key}: an organization {k} can never be of use 'home'")
        elif rt == "List":
            if "emptyReason" in o and o.get("entry"):
                self.err(path, "lst-1: emptyReason only in an empty list")
            entries = [e for e in o.get("entry", []) if isinstance(e, dict)]
            if o.get("mode") != "changes" and any("deleted" in e for e in entries):
                self.err(path, "lst-2: entry.deleted only when mode is changes")
            if o.get("mode") != "working" and any("date" in e for e in entries):
                self.err(path, "lst-3: entry.date only when mode is working")
        elif rt == "Consent":
            if "policy" not in o and "policyRule" not in o:
                self.err(path, "ppc-1: a consent needs a policy or a policyRule")
            scope = {c for _, c in codes(o.get("scope"))}
            if "patient" not in o and scope & {"patient-privacy", "research", "adr", "treatment"}:
                self.err(path, "ppc-2..5: this scope needs a patient")
        elif rt == "Condition":
            clinical = {c for s, c in codes(o.get("clinicalStatus"))}
            verification = {c for s, c in codes(o.get("verificationStatus"))}
            if any(k.startswith("abatement") for k in o) and not clinical & {"inactive", "resolved", "remission"}:
                self.err(path, "con-4: an abated condition is inactive, resolved or in remission")
            if "entered-in-error" in verification and "clinicalStatus" in o:
                self.err(path, "con-5: no clinicalStatus when entered-in-error")
        elif rt == "AllergyIntolerance":
            verification = {c for s, c in codes(o.get("verificationStatus"))}
            if ("entered-in-error" in verification) == ("clinicalStatus" in o):
                self.err(path, "ait-1/ait-2: clinicalStatus is present unless entered-in-error")
        elif rt == "Observation":
            has_value = any(k.startswith("value") for k in o)
            if has_value and "dataAbsentReason" in o:
                self.err(path, "obs-6: dataAbsentReason only without a value")
            if has_value:
                own = codes(o.get("code"))
                for i, c in enumerate(o.get("component", [])):
                    if isinstance(c, dict) and codes(c.get("code")) & own:
                        self.err(f"{path}.component[{i}]", "obs-7: a component repeats the observation code")

    def bundle(self, o, path):
        btype = o.get("type")
        entries = [e for e in o.get("entry", []) if isinstance(e, dict)]
        if "total" in o and btype not in ("searchset", "history"):
            self.err(path, "bdl-1: total only in a searchset or history")
        needs_request = btype in ("batch", "transaction", "history")
        needs_response = btype in ("batch-response", "transaction-response", "history")
        seen = set()
        for i, e in enumerate(entries):
            epath = f"{path}.entry[{i}]"
            if "search" in e and btype != "searchset":
                self.err(epath, "bdl-2: entry.search only in a searchset")
            if ("request" in e) != needs_request:
                self.err(epath, f"bdl-3: entry.request is {'mandatory' if needs_request else 'prohibited'} in a {btype}")
            if ("response" in e) != needs_response:
                self.err(epath, f"bdl-4: entry.response is {'mandatory' if needs_response else 'prohibited'} in a {btype}")
            if not any(k in e for k in ("resource", "request", "response")):
                self.err(epath, "bdl-5: an entry needs a resource, a request or a response")
            full = e.get("fullUrl")
            if isinstance(full, str):
                if "/_history/" in full:
                    self.err(epath, "bdl-8: fullUrl cannot be version specific")
                res = e.get("resource") if isinstance(e.get("resource"), dict) else {}
                key = (full, (res.get("meta") or {}).get("versionId"))
                if btype != "history" and key in seen:
                    self.err(epath, "bdl-7: fullUrl must be unique")
                seen.add(key)
                res_id = res.get("id")
                if res_id and re.match(r"https?://", full) and not full.endswith(f"/{res.get('resourceType')}/{res_id}"):
                    self.err(epath, "fullUrl does not end with the resource type and id")
        if btype == "document":
            ident = o.get("identifier") or {}
            if "system" not in ident or "value" not in ident:
                self.err(path, "bdl-9: a document needs an identifier with a system and a value")
            if "timestamp" not in o:
                self.err(path, "bdl-10: a document needs a timestamp")
            if not entries or (entries[0].get("resource") or {}).get("resourceType") != "Composition":
                self.err(path, "bdl-11: a document starts with a Composition")
        if btype == "message":
            if not entries or (entries[0].get("resource") or {}).get("resourceType") != "MessageHeader":
                self.err(path, "bdl-12: a message starts with a MessageHeader")
        if btype in ("document", "message", "transaction", "collection"):
            self.bundle_references(o, entries, path)

    def bundle_references(self, o, entries, path):
        """Every reference between the entries resolves to an entry of the bundle."""
        targets = set()
        for e in entries:
            full = e.get("fullUrl")
            if isinstance(full, str):
                targets.add(full)
                m = re.match(r"(https?://.*/)?([A-Za-z]+/[A-Za-z0-9\-.]{1,64})$", full)
                if m:
                    targets.add(m.group(2))
        strict = o.get("type") in ("document", "message")
        for i, e in enumerate(entries):
            res = e.get("resource")
            if not isinstance(res, dict):
                continue
            for p, ref in references(res, f"{path}.entry[{i}].resource"):
                if ref.startswith("#") or ref in targets:
                    continue
                if o.get("type") == "transaction" and "?" in ref:
                    continue  # a conditional reference, resolved by the server
                if strict or ref.startswith("urn:"):
                    self.err(p, f"reference {ref!r} does not resolve inside the bundle")


def references(v, path):
    """(path, text) of every Reference.reference below a value, including nested resources."""
    out = []
    if isinstance(v, dict):
        ref = v.get("reference")
        if isinstance(ref, str) and not isinstance(ref, (JInt, JFloat)):
            out.append((f"{path}.reference", ref))
        for k, x in v.items():
            out.extend(references(x, f"{path}.{k}"))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out.extend(references(x, f"{path}[{i}]"))
    return out


# --------------------------------------------------------------------------------------


def check_file(path, defs, term):
    """Returns (resourceType or None, number of objects checked, errors)."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    name = os.path.basename(path)
    try:
        data = load_json_text(text)
    except (ValueError, DuplicateKey) as e:
        return None, 0, [f"{name}: not valid JSON: {e}"]
    c = Checker(defs, term)
    rt = c.resource(data, "")
    errors = list(c.errors)
    if isinstance(data, dict):
        if "id" not in data:
            errors.append(f"{rt}: the corpus gives every file's resource an id")
        if rt and not name.startswith(rt + "-"):
            errors.append(f"{name}: the file name must start with {rt}-")
        if dump_canonical(data) + "\n" != text:
            errors.append(f"{name}: not in the corpus layout (2-space indent, one property per line, final newline)")
    return rt, c.count, errors


def main(argv):
    files = argv[1:] or sorted(glob.glob(os.path.join(HERE, "*.json")))
    if not files:
        print("no corpus files found", file=sys.stderr)
        return 1
    defs = Definitions(DEFS)
    term = Terminology(os.path.join(DEFS, "valuesets.json"))
    failed = 0
    total = 0
    for f in files:
        rt, count, errors = check_file(f, defs, term)
        total += count
        name = os.path.basename(f)
        if errors:
            failed += 1
            print(f"FAIL {name}")
            for e in errors:
                print(f"     {e}")
        else:
            print(f"ok   {name} ({rt}, {count} objects)")
    ignored = ", ".join(f"{i} ({why})" for i, why in defs.ignored)
    print(
        f"\n{len(files) - failed}/{len(files)} files valid, {total} objects checked against "
        f"{len(defs.sds)} R4 definitions; ignored: {ignored or 'none'}; "
        f"{len(defs.not_r4)} snapshot elements not declared by R4 differentials rejected"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
