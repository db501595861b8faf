//! Field resolution in JSON events: dotted paths, keys that themselves hold dots, arrays
//! (any element), and the EVTX-derived layout (`Event.System` / `Event.EventData`) that
//! evtx-to-JSON tools write, so Windows rules run on it as on flat JSON.

use serde_json::Value;

/// How a log source's events are laid out, which decides where a rule's field is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Layout {
    /// Fields are read by their dotted path only.
    #[default]
    Plain,
    /// Windows: a field not found by its path is also looked up under `Event.EventData`,
    /// `Event.System` and `Event.UserData.*` (EVTX as JSON), with `#text` unwrapped.
    Windows,
}

/// Collects every value at `path` in `v` (arrays contribute each element).
///
/// At each object the longest matching key wins first, so `a.b` finds the key `"a.b"`
/// before the nested `a` → `b`; both are tried, so no reading is lost.
pub fn lookup<'a>(v: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => {
            for it in items {
                lookup(it, path, out);
            }
        }
        Value::Object(map) => {
            if let Some(x) = map.get(path) {
                push_leaf(x, out);
            }
            // Split at each dot: the head may be a key and the tail a path below it.
            for (i, _) in path.match_indices('.') {
                if let Some(x) = map.get(&path[..i]) {
                    lookup(x, &path[i + 1..], out);
                }
            }
        }
        _ => {}
    }
}

/// Arrays at the end of a path match by any element; EVTX `#text` wrappers are unwrapped.
pub fn push_leaf<'a>(x: &'a Value, out: &mut Vec<&'a Value>) {
    match x {
        Value::Array(items) if !items.is_empty() => {
            for it in items {
                push_leaf(it, out);
            }
        }
        Value::Object(m) if m.contains_key("#text") => push_leaf(&m["#text"], out),
        other => out.push(other),
    }
}

/// Looks a field up according to the layout.
pub fn resolve<'a>(v: &'a Value, path: &str, layout: Layout, out: &mut Vec<&'a Value>) {
    lookup(v, path, out);
    if !out.is_empty() || layout != Layout::Windows {
        return;
    }
    let Some(ev) = v.get("Event") else { return };
    for section in ["EventData", "System"] {
        if let Some(s) = ev.get(section) {
            lookup(s, path, out);
        }
    }
    if out.is_empty() {
        // System attributes such as `Provider_Name` (Sigma's `<element>_<attribute>` naming).
        if let (Some(sys), Some((elem, attr))) = (ev.get("System"), path.split_once('_'))
            && let Some(a) = sys
                .get(elem)
                .and_then(|e| e.get("#attributes"))
                .and_then(|a| a.get(attr))
        {
            push_leaf(a, out);
        }
    }
    if out.is_empty()
        && let Some(Value::Object(ud)) = ev.get("UserData")
    {
        for inner in ud.values() {
            lookup(inner, path, out);
        }
    }
}

/// Every string value anywhere in the event (keyword searches read these).
pub fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(m) => m.values().for_each(|i| strings(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn get(v: &Value, p: &str) -> Vec<Value> {
        let mut out = Vec::new();
        resolve(v, p, Layout::Windows, &mut out);
        out.into_iter().cloned().collect()
    }

    #[test]
    fn dotted_paths_nested_and_literal() {
        let v = json!({"a": {"b": 1}, "a.b": 2, "c": {"d.e": {"f": 3}}});
        assert_eq!(get(&v, "a.b"), vec![json!(2), json!(1)]);
        assert_eq!(get(&v, "c.d.e.f"), vec![json!(3)]);
    }

    #[test]
    fn arrays_give_every_element() {
        let v = json!({"r": [{"n": "x"}, {"n": "y"}], "tags": ["p", "q"]});
        assert_eq!(get(&v, "r.n"), vec![json!("x"), json!("y")]);
        assert_eq!(get(&v, "tags"), vec![json!("p"), json!("q")]);
    }

    #[test]
    fn evtx_layout() {
        let v = json!({"Event": {"System": {"EventID": {"#text": 4688, "#attributes": {"Qualifiers": ""}},
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}}},
            "EventData": {"NewProcessName": "C:\\x.exe"}}});
        assert_eq!(get(&v, "EventID"), vec![json!(4688)]);
        assert_eq!(get(&v, "NewProcessName"), vec![json!("C:\\x.exe")]);
        assert_eq!(
            get(&v, "Provider_Name"),
            vec![json!("Microsoft-Windows-Security-Auditing")]
        );
    }
}
