//! Input as Laravel's `$request->input()` sees it: query, form or JSON; and its validation rules.

use super::*;

/// The query string and the body (JSON or form), the body winning; an unparseable body counts
/// as empty, as in Laravel.
pub(super) fn input(query: Option<&str>, headers: &HeaderMap, body: &Bytes) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(q) = query {
        absorb_form(&mut out, q.as_bytes());
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        absorb_form(&mut out, body);
    } else if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
        out.extend(o);
    }
    out
}

/// `a=1&data[x]=2&data[]=3` → `{"a": "1", "data": {"x": "2", "0": "3"}}`.
pub(super) fn absorb_form(out: &mut Map<String, Value>, raw: &[u8]) {
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(raw) else {
        return;
    };
    for (k, v) in pairs {
        match k.split_once('[') {
            Some((name, rest)) => {
                let sub = rest.trim_end_matches(']');
                let entry = out
                    .entry(name.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(o) = entry {
                    let key = if sub.is_empty() {
                        o.len().to_string()
                    } else {
                        sub.to_owned()
                    };
                    o.insert(key, Value::String(v));
                }
            }
            None => {
                out.insert(k, Value::String(v));
            }
        }
    }
}

/// Laravel-style rules over one input map, collecting every field's messages.
pub(super) struct Rules<'a> {
    pub(super) input: &'a Map<String, Value>,
    pub(super) errors: BTreeMap<&'static str, Vec<String>>,
}

impl<'a> Rules<'a> {
    pub(super) fn new(input: &'a Map<String, Value>) -> Self {
        Rules {
            input,
            errors: BTreeMap::new(),
        }
    }

    pub(super) fn fail(&mut self, field: &'static str, message: String) {
        self.errors.entry(field).or_default().push(message);
    }

    pub(super) fn present(&self, field: &str) -> Option<&'a Value> {
        match self.input.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(v) => Some(v),
        }
    }

    /// `required|string|max:N` (or `nullable|…` when not `required`).
    pub(super) fn string(
        &mut self,
        field: &'static str,
        required: bool,
        max: usize,
    ) -> Option<String> {
        let name = field.replace('_', " ");
        match self.present(field) {
            None if required => {
                self.fail(field, format!("The {name} field is required."));
                None
            }
            None => None,
            Some(Value::String(s)) if s.chars().count() > max => {
                self.fail(
                    field,
                    format!("The {name} field must not be greater than {max} characters."),
                );
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(_) => {
                self.fail(field, format!("The {name} field must be a string."));
                None
            }
        }
    }

    /// `required|integer` (a number or a string of digits).
    pub(super) fn integer(&mut self, field: &'static str) -> Option<u64> {
        let name = field.replace('_', " ");
        let parsed = match self.present(field) {
            None => {
                self.fail(field, format!("The {name} field is required."));
                return None;
            }
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(_) => None,
        };
        if parsed.is_none() {
            self.fail(field, format!("The {name} field must be an integer."));
        }
        parsed
    }

    /// `date|after:now`.
    pub(super) fn future_date(
        &mut self,
        field: &'static str,
        required: bool,
        now: i64,
    ) -> Option<i64> {
        let name = field.replace('_', " ");
        let text = self.string(field, required, 64)?;
        match parse_date(&text) {
            None => {
                self.fail(field, format!("The {name} field must be a valid date."));
                None
            }
            Some(t) if t <= now => {
                self.fail(field, format!("The {name} field must be a date after now."));
                None
            }
            Some(t) => Some(t),
        }
    }

    /// `nullable|array` of at most [`MAX_DATA`] bytes.
    pub(super) fn data(&mut self, field: &'static str) -> Option<Value> {
        match self.present(field)? {
            v @ (Value::Object(_) | Value::Array(_)) => {
                if serde_json::to_vec(v).map_or(usize::MAX, |b| b.len()) > MAX_DATA {
                    self.fail(
                        field,
                        format!("The {field} field must not be greater than {MAX_DATA} bytes."),
                    );
                    return None;
                }
                Some(v.clone())
            }
            _ => {
                self.fail(field, format!("The {field} field must be an array."));
                None
            }
        }
    }

    /// A domain (with or without protocol).
    pub(super) fn domain(&mut self, field: &'static str) -> Option<DomainName> {
        let raw = self.string(field, true, 255)?;
        let d = DomainName::parse(&raw);
        if d.is_none() {
            self.fail(field, format!("The {field} field must be a valid domain."));
        }
        d
    }

    pub(super) fn finish(self) -> Result<(), Refusal> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Refusal::invalid(self.errors))
        }
    }
}

/// RFC 3339 (`2028-01-01T20:55:13.000000Z`), `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD` (UTC).
pub(super) fn parse_date(s: &str) -> Option<i64> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp());
    }
    if let Ok(d) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Some(d.and_utc().timestamp());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
}
