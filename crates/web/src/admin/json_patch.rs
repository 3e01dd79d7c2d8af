//! JSON Patch (RFC 6902) over JSON Pointers (RFC 6901), for `PATCH /admin/clients/{id}` as
//! Hydra's API offers it: the patch applies to the resource as the API shows it, and the result
//! is validated like a `PUT`.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Operation {
    Add { path: String, value: Value },
    Remove { path: String },
    Replace { path: String, value: Value },
    Move { from: String, path: String },
    Copy { from: String, path: String },
    Test { path: String, value: Value },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatchError {
    #[error("{0:?} is not a JSON pointer (RFC 6901)")]
    BadPointer(String),
    #[error("path {0:?} does not exist")]
    Missing(String),
    #[error("test failed at {0:?}")]
    TestFailed(String),
    #[error("cannot move {0:?} into itself")]
    MoveIntoChild(String),
}

fn tokens(pointer: &str) -> Result<Vec<String>, PatchError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer
        .strip_prefix('/')
        .ok_or_else(|| PatchError::BadPointer(pointer.to_owned()))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn array_index(token: &str, len: usize, allow_end: bool, path: &str) -> Result<usize, PatchError> {
    if allow_end && token == "-" {
        return Ok(len);
    }
    let valid = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    let index: usize = if valid {
        token
            .parse()
            .map_err(|_| PatchError::Missing(path.to_owned()))?
    } else {
        return Err(PatchError::Missing(path.to_owned()));
    };
    let limit = if allow_end {
        len
    } else {
        len.saturating_sub(1)
    };
    if index > limit || (!allow_end && len == 0) {
        return Err(PatchError::Missing(path.to_owned()));
    }
    Ok(index)
}

/// The parent container of `path` and the last token.
fn parent<'a>(doc: &'a mut Value, path: &str) -> Result<(&'a mut Value, String), PatchError> {
    let mut tokens = tokens(path)?;
    let last = tokens
        .pop()
        .ok_or_else(|| PatchError::BadPointer(path.to_owned()))?;
    let mut node = doc;
    for token in tokens {
        node = match node {
            Value::Object(map) => map.get_mut(&token),
            Value::Array(items) => {
                let i = array_index(&token, items.len(), false, path)?;
                items.get_mut(i)
            }
            _ => None,
        }
        .ok_or_else(|| PatchError::Missing(path.to_owned()))?;
    }
    Ok((node, last))
}

fn get(doc: &Value, path: &str) -> Result<Value, PatchError> {
    let mut node = doc;
    for token in tokens(path)? {
        node = match node {
            Value::Object(map) => map.get(&token),
            Value::Array(items) => items.get(array_index(&token, items.len(), false, path)?),
            _ => None,
        }
        .ok_or_else(|| PatchError::Missing(path.to_owned()))?;
    }
    Ok(node.clone())
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (node, last) = parent(doc, path)?;
    match node {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            let i = array_index(&last, items.len(), true, path)?;
            items.insert(i, value);
            Ok(())
        }
        _ => Err(PatchError::Missing(path.to_owned())),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let (node, last) = parent(doc, path)?;
    match node {
        Value::Object(map) => map
            .remove(&last)
            .ok_or_else(|| PatchError::Missing(path.to_owned())),
        Value::Array(items) => {
            let i = array_index(&last, items.len(), false, path)?;
            Ok(items.remove(i))
        }
        _ => Err(PatchError::Missing(path.to_owned())),
    }
}

/// Applies `ops` to `doc` in order; on any error `doc` is left as it was.
pub fn apply(doc: &Value, ops: &[Operation]) -> Result<Value, PatchError> {
    let mut out = doc.clone();
    for op in ops {
        match op {
            Operation::Add { path, value } => add(&mut out, path, value.clone())?,
            Operation::Remove { path } => {
                remove(&mut out, path)?;
            }
            Operation::Replace { path, value } => {
                get(&out, path)?;
                if path.is_empty() {
                    out = value.clone();
                } else {
                    remove(&mut out, path)?;
                    add(&mut out, path, value.clone())?;
                }
            }
            Operation::Move { from, path } => {
                if path.starts_with(&format!("{from}/")) {
                    return Err(PatchError::MoveIntoChild(from.clone()));
                }
                let value = remove(&mut out, from)?;
                add(&mut out, path, value)?;
            }
            Operation::Copy { from, path } => {
                let value = get(&out, from)?;
                add(&mut out, path, value)?;
            }
            Operation::Test { path, value } => {
                if get(&out, path)? != *value {
                    return Err(PatchError::TestFailed(path.clone()));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(doc: &Value, ops: Value) -> Result<Value, PatchError> {
        let ops: Vec<Operation> = serde_json::from_value(ops).expect("valid operations");
        apply(doc, &ops)
    }

    #[test]
    fn applies_the_rfc_6902_operations() {
        let doc = json!({"a": 1, "list": ["x", "y"], "o": {"k/e~y": 2}});
        let out = patch(
            &doc,
            json!([
                {"op": "replace", "path": "/a", "value": 5},
                {"op": "add", "path": "/list/-", "value": "z"},
                {"op": "add", "path": "/list/0", "value": "w"},
                {"op": "remove", "path": "/list/1"},
                {"op": "copy", "from": "/a", "path": "/b"},
                {"op": "move", "from": "/o/k~1e~0y", "path": "/moved"},
                {"op": "test", "path": "/b", "value": 5},
            ]),
        )
        .expect("applies");
        assert_eq!(
            out,
            json!({"a": 5, "b": 5, "list": ["w", "y", "z"], "o": {}, "moved": 2})
        );
    }

    #[test]
    fn refuses_missing_paths_failed_tests_and_bad_pointers() {
        let doc = json!({"a": [1]});
        assert_eq!(
            patch(&doc, json!([{"op": "replace", "path": "/b", "value": 1}])),
            Err(PatchError::Missing("/b".into()))
        );
        assert_eq!(
            patch(&doc, json!([{"op": "remove", "path": "/a/1"}])),
            Err(PatchError::Missing("/a/1".into()))
        );
        assert_eq!(
            patch(&doc, json!([{"op": "add", "path": "/a/01", "value": 2}])),
            Err(PatchError::Missing("/a/01".into()))
        );
        assert_eq!(
            patch(&doc, json!([{"op": "test", "path": "/a", "value": []}])),
            Err(PatchError::TestFailed("/a".into()))
        );
        assert_eq!(
            patch(&doc, json!([{"op": "add", "path": "a", "value": 1}])),
            Err(PatchError::BadPointer("a".into()))
        );
        assert_eq!(
            patch(&doc, json!([{"op": "move", "from": "/a", "path": "/a/0"}])),
            Err(PatchError::MoveIntoChild("/a".into()))
        );
    }
}
