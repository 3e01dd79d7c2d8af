//! Identity schemas: JSON Schemas (draft 2020-12) that validate an identity's traits, with the
//! `gatehouse` extension keyword marking which trait is a login identifier, which is a verifiable
//! address and which a recovery address.
//!
//! ```json
//! "email": {"type": "string", "format": "email", "title": "Email",
//!           "gatehouse": {"identifier": true, "verifiable": "email", "recovery": "email"}}
//! ```
//!
//! A schema is either the traits schema itself or, as Ory Kratos writes them, an identity schema
//! whose `properties.traits` is the traits schema. Only top-level trait properties carry the
//! extension keyword.

use jsonschema::error::ValidationErrorKind;
use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The id of the built-in schema.
pub const DEFAULT_SCHEMA_ID: &str = "default";

/// The built-in default schema (DESIGN.md §2 "Default identity schema").
pub const DEFAULT_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Person",
  "type": "object",
  "properties": {
    "email": {
      "type": "string", "format": "email", "title": "Email", "minLength": 3, "maxLength": 320,
      "gatehouse": {"identifier": true, "verifiable": "email", "recovery": "email"}
    },
    "first_name": {"type": "string", "title": "First name", "maxLength": 256},
    "last_name": {"type": "string", "title": "Last name", "maxLength": 256},
    "username": {"type": "string", "title": "Username", "minLength": 1, "maxLength": 64,
                 "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
    "display_name": {"type": "string", "title": "Display name", "maxLength": 256},
    "mobile": {"type": "string", "title": "Mobile", "maxLength": 32,
               "pattern": "^\\+?[0-9][0-9 ()-]{3,30}$", "gatehouse": {"input_type": "tel"}},
    "bio": {"type": "string", "title": "Bio", "maxLength": 2000},
    "website": {"type": "string", "format": "uri", "title": "Website", "maxLength": 2048},
    "location": {"type": "string", "title": "Location", "maxLength": 256},
    "date_of_birth": {"type": "string", "format": "date", "title": "Date of birth"}
  },
  "required": ["email"],
  "additionalProperties": false
}"#;

/// Trims and lowercases an identifier, so `Ann@Example.com ` and `ann@example.com` are one.
pub fn normalize_identifier(value: &str) -> String {
    value.trim().to_lowercase()
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("unknown identity schema {0:?}")]
    Unknown(String),
    #[error("identity schema {id:?} is not valid JSON: {reason}")]
    NotJson { id: String, reason: String },
    #[error("identity schema {id:?} does not compile: {reason}")]
    Invalid { id: String, reason: String },
    #[error(
        "identity schema {id:?}: trait {field:?} has an invalid \"gatehouse\" keyword: {reason}"
    )]
    Extension {
        id: String,
        field: String,
        reason: String,
    },
    #[error(
        "identity schema {0:?} marks no trait as an identifier (\"gatehouse\": {{\"identifier\": true}})"
    )]
    NoIdentifier(String),
}

/// Why traits do not satisfy their schema: the field (`traits.email`), the rule (the JSON
/// Schema keyword, such as `format` or `required`) and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraitsError {
    pub field: String,
    pub rule: String,
    pub message: String,
}

impl fmt::Display for TraitsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (rule: {})", self.field, self.message, self.rule)
    }
}

impl std::error::Error for TraitsError {}

/// What the extension keyword marks in a set of valid traits, normalized.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraitFacts {
    /// Login identifiers, normalized (trimmed, lowercased).
    pub identifiers: Vec<String>,
    /// Addresses to verify (emails), normalized.
    pub verifiable: Vec<String>,
    /// Addresses recovery may send to, normalized.
    pub recovery: Vec<String>,
}

/// One input of a registration or settings form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraitField {
    /// The trait name: `email`, `first_name`.
    pub name: String,
    /// The label: the property's `title`, else its name.
    pub title: String,
    /// The HTML input type: `email`, `text`, `tel`, `url` or `date`.
    pub input_type: String,
    pub required: bool,
}

#[derive(Debug, Clone)]
struct FieldSpec {
    field: TraitField,
    identifier: bool,
    verifiable: bool,
    recovery: bool,
}

struct Compiled {
    validator: jsonschema::Validator,
    /// Kratos-style schema: traits live under `properties.traits`.
    wrapped: bool,
    fields: Vec<FieldSpec>,
}

/// Compiled identity schemas by id.
pub struct SchemaRegistry {
    schemas: BTreeMap<String, Compiled>,
}

impl fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("ids", &self.schemas.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for SchemaRegistry {
    fn default() -> Self {
        Self::with_default()
    }
}

impl SchemaRegistry {
    /// A registry holding the built-in `default` schema.
    pub fn with_default() -> Self {
        let mut registry = Self {
            schemas: BTreeMap::new(),
        };
        registry
            .insert_str(DEFAULT_SCHEMA_ID, DEFAULT_SCHEMA)
            .expect("the built-in schema compiles");
        registry
    }

    /// Adds (or replaces) a schema. Form fields follow the order of `properties` as the JSON
    /// value holds it (alphabetical); use [`SchemaRegistry::insert_str`] to keep a file's order.
    #[expect(
        clippy::needless_pass_by_value,
        reason = "the registry takes ownership of the schema in its public contract"
    )]
    pub fn insert(&mut self, id: &str, schema: Value) -> Result<(), SchemaError> {
        let order = PropertyOrder::default();
        self.insert_ordered(id, &schema, &order)
    }

    /// Adds (or replaces) a schema from its JSON text, keeping the order its properties are
    /// written in for the forms.
    pub fn insert_str(&mut self, id: &str, text: &str) -> Result<(), SchemaError> {
        let not_json = |e: serde_json::Error| SchemaError::NotJson {
            id: id.to_owned(),
            reason: e.to_string(),
        };
        let schema: Value = serde_json::from_str(text).map_err(not_json)?;
        let order: PropertyOrder = serde_json::from_str(text).map_err(not_json)?;
        self.insert_ordered(id, &schema, &order)
    }

    fn insert_ordered(
        &mut self,
        id: &str,
        schema: &Value,
        order: &PropertyOrder,
    ) -> Result<(), SchemaError> {
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(schema)
            .map_err(|e| SchemaError::Invalid {
                id: id.to_owned(),
                reason: e.to_string(),
            })?;
        let wrapped = schema
            .pointer("/properties/traits")
            .is_some_and(Value::is_object);
        let (traits_schema, names) = if wrapped {
            (
                schema.pointer("/properties/traits").unwrap_or(&Value::Null),
                order.traits_keys(),
            )
        } else {
            (schema, order.keys())
        };
        let fields = fields_of(id, traits_schema, names)?;
        if !fields.iter().any(|f| f.identifier) {
            return Err(SchemaError::NoIdentifier(id.to_owned()));
        }
        self.schemas.insert(
            id.to_owned(),
            Compiled {
                validator,
                wrapped,
                fields,
            },
        );
        Ok(())
    }

    pub fn contains(&self, id: &str) -> bool {
        self.schemas.contains_key(id)
    }

    /// The ids of every schema, sorted.
    pub fn ids(&self) -> Vec<&str> {
        self.schemas.keys().map(String::as_str).collect()
    }

    /// Validates traits; on success returns what the extension keyword marks.
    pub fn validate(&self, schema_id: &str, traits: &Value) -> Result<TraitFacts, TraitsError> {
        let compiled = self.schemas.get(schema_id).ok_or_else(|| TraitsError {
            field: "schema_id".to_owned(),
            rule: "unknown_schema".to_owned(),
            message: format!("there is no identity schema {schema_id:?}"),
        })?;
        let wrapped_doc;
        let instance = if compiled.wrapped {
            wrapped_doc = serde_json::json!({ "traits": traits });
            &wrapped_doc
        } else {
            traits
        };
        if let Some(error) = compiled.validator.iter_errors(instance).next() {
            return Err(traits_error(&error, compiled.wrapped));
        }
        let mut facts = TraitFacts::default();
        for spec in &compiled.fields {
            let Some(value) = traits.get(&spec.field.name).and_then(Value::as_str) else {
                continue;
            };
            let normalized = normalize_identifier(value);
            if normalized.is_empty() {
                continue;
            }
            for (marked, list) in [
                (spec.identifier, &mut facts.identifiers),
                (spec.verifiable, &mut facts.verifiable),
                (spec.recovery, &mut facts.recovery),
            ] {
                if marked && !list.contains(&normalized) {
                    list.push(normalized.clone());
                }
            }
        }
        Ok(facts)
    }

    /// The fields a registration/settings form shows, in schema order.
    pub fn form_fields(&self, schema_id: &str) -> Result<Vec<TraitField>, SchemaError> {
        let compiled = self
            .schemas
            .get(schema_id)
            .ok_or_else(|| SchemaError::Unknown(schema_id.to_owned()))?;
        Ok(compiled.fields.iter().map(|s| s.field.clone()).collect())
    }
}

/// Reads the top-level trait properties and their extension keyword.
fn fields_of(id: &str, traits: &Value, order: Vec<String>) -> Result<Vec<FieldSpec>, SchemaError> {
    let Some(properties) = traits.get("properties").and_then(Value::as_object) else {
        return Ok(Vec::new());
    };
    let required: Vec<&str> = traits
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut names: Vec<String> = order
        .into_iter()
        .filter(|n| properties.contains_key(n))
        .collect();
    for name in properties.keys() {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let mut fields = Vec::new();
    for name in names {
        let property = &properties[&name];
        let bad = |reason: &str| SchemaError::Extension {
            id: id.to_owned(),
            field: name.clone(),
            reason: reason.to_owned(),
        };
        let extension = property.get("gatehouse");
        let mut identifier = false;
        let mut verifiable = false;
        let mut recovery = false;
        let mut input_override = None;
        if let Some(ext) = extension {
            let ext = ext.as_object().ok_or_else(|| bad("must be an object"))?;
            for (key, value) in ext {
                match key.as_str() {
                    "identifier" => {
                        identifier = value
                            .as_bool()
                            .ok_or_else(|| bad("identifier must be true or false"))?;
                    }
                    "verifiable" | "recovery" => {
                        if value.as_str() != Some("email") {
                            return Err(bad(&format!("{key} must be \"email\"")));
                        }
                        if key == "verifiable" {
                            verifiable = true;
                        } else {
                            recovery = true;
                        }
                    }
                    "input_type" => {
                        let t = value
                            .as_str()
                            .filter(|t| ["email", "text", "tel", "url", "date"].contains(t))
                            .ok_or_else(|| {
                                bad("input_type must be email, text, tel, url or date")
                            })?;
                        input_override = Some(t.to_owned());
                    }
                    other => return Err(bad(&format!("unknown key {other:?}"))),
                }
            }
            let is_string = property.get("type").and_then(Value::as_str) == Some("string");
            if (identifier || verifiable || recovery) && !is_string {
                return Err(bad("identifiers and addresses must be of type \"string\""));
            }
        }
        let input_type = input_override.unwrap_or_else(|| {
            match property.get("format").and_then(Value::as_str) {
                Some("email" | "idn-email") => "email",
                Some("uri" | "iri") => "url",
                Some("date") => "date",
                _ => "text",
            }
            .to_owned()
        });
        let title = property
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or(&name)
            .to_owned();
        fields.push(FieldSpec {
            field: TraitField {
                required: required.contains(&name.as_str()),
                name,
                title,
                input_type,
            },
            identifier,
            verifiable,
            recovery,
        });
    }
    Ok(fields)
}

fn traits_error(error: &jsonschema::ValidationError<'_>, wrapped: bool) -> TraitsError {
    let path = error.instance_path().as_str();
    let path = if wrapped {
        path.strip_prefix("/traits").unwrap_or(path)
    } else {
        path
    };
    let mut field = String::from("traits");
    for token in path.split('/').filter(|t| !t.is_empty()) {
        field.push('.');
        field.push_str(&token.replace("~1", "/").replace("~0", "~"));
    }
    let kind = error.kind();
    let rule = kind.keyword().to_owned();
    let message = match kind {
        ValidationErrorKind::Required { property } => {
            if let Some(name) = property.as_str() {
                field.push('.');
                field.push_str(name);
            }
            "is required".to_owned()
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            if let Some(name) = unexpected.first() {
                field.push('.');
                field.push_str(name);
            }
            "is not a trait of this schema".to_owned()
        }
        ValidationErrorKind::Format { format } => match format.as_str() {
            "email" | "idn-email" => "must be a valid email address".to_owned(),
            "date" => "must be a date (YYYY-MM-DD)".to_owned(),
            "uri" | "iri" => "must be an absolute URL".to_owned(),
            other => format!("must be a valid {other}"),
        },
        ValidationErrorKind::MinLength { limit } => {
            format!("must be at least {limit} characters long")
        }
        ValidationErrorKind::MaxLength { limit } => {
            format!("must be at most {limit} characters long")
        }
        ValidationErrorKind::Pattern { .. } => {
            "contains characters that are not allowed".to_owned()
        }
        ValidationErrorKind::Type { kind } => format!("must be of type {}", type_name(kind)),
        ValidationErrorKind::Enum { options } => format!("must be one of {options}"),
        _ => error.to_string(),
    };
    TraitsError {
        field,
        rule,
        message,
    }
}

fn type_name(kind: &jsonschema::error::TypeKind) -> String {
    match kind {
        jsonschema::error::TypeKind::Single(t) => t.to_string(),
        jsonschema::error::TypeKind::Multiple(set) => set
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// The order in which a schema text writes its properties (serde_json's map is sorted).
#[derive(Debug, Default, Deserialize)]
struct PropertyOrder {
    #[serde(default)]
    properties: Option<PropertyKeys>,
}

impl PropertyOrder {
    fn keys(&self) -> Vec<String> {
        self.properties
            .as_ref()
            .map(|p| p.keys.clone())
            .unwrap_or_default()
    }

    fn traits_keys(&self) -> Vec<String> {
        self.properties
            .as_ref()
            .and_then(|p| p.traits.as_ref())
            .map(|t| t.keys())
            .unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct PropertyKeys {
    keys: Vec<String>,
    traits: Option<Box<PropertyOrder>>,
}

impl<'de> Deserialize<'de> for PropertyKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeysVisitor;
        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = PropertyKeys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of properties")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PropertyKeys, A::Error> {
                let mut out = PropertyKeys::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "traits" {
                        out.traits = Some(Box::new(map.next_value::<PropertyOrder>()?));
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                    out.keys.push(key);
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(KeysVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rejects(registry: &SchemaRegistry, traits: &Value) -> TraitsError {
        registry
            .validate(DEFAULT_SCHEMA_ID, traits)
            .expect_err("invalid traits")
    }

    #[test]
    fn default_schema_accepts_a_person_and_marks_the_email() {
        let registry = SchemaRegistry::with_default();
        let facts = registry
            .validate(
                "default",
                &json!({"email": "Ann@Example.COM", "first_name": "Ann", "username": "ann_1",
                        "website": "https://ann.example", "date_of_birth": "1990-04-01",
                        "mobile": "+44 20 7946 0000"}),
            )
            .expect("valid");
        assert_eq!(facts.identifiers, vec!["ann@example.com"]);
        assert_eq!(facts.verifiable, vec!["ann@example.com"]);
        assert_eq!(facts.recovery, vec!["ann@example.com"]);
    }

    #[test]
    fn errors_name_the_field_and_the_rule() {
        let registry = SchemaRegistry::with_default();
        let e = rejects(&registry, &json!({"first_name": "Ann"}));
        assert_eq!(
            (e.field.as_str(), e.rule.as_str()),
            ("traits.email", "required")
        );
        let e = rejects(&registry, &json!({"email": "not-an-email"}));
        assert_eq!(
            (e.field.as_str(), e.rule.as_str()),
            ("traits.email", "format")
        );
        assert_eq!(
            e.to_string(),
            "traits.email: must be a valid email address (rule: format)"
        );
        let e = rejects(
            &registry,
            &json!({"email": "a@example.com", "date_of_birth": "yesterday"}),
        );
        assert_eq!(
            (e.field.as_str(), e.rule.as_str()),
            ("traits.date_of_birth", "format")
        );
        let e = rejects(
            &registry,
            &json!({"email": "a@example.com", "shoe_size": 44}),
        );
        assert_eq!(
            (e.field.as_str(), e.rule.as_str()),
            ("traits.shoe_size", "additionalProperties")
        );
        let e = rejects(&registry, &json!({"email": 7}));
        assert_eq!(
            (e.field.as_str(), e.rule.as_str()),
            ("traits.email", "type")
        );
        let e = rejects(
            &registry,
            &json!({"email": "a@example.com", "username": "no spaces"}),
        );
        assert_eq!(
            (e.field.as_str(), e.rule.as_str()),
            ("traits.username", "pattern")
        );
        let e = rejects(&registry, &json!("just a string"));
        assert_eq!((e.field.as_str(), e.rule.as_str()), ("traits", "type"));
        let e = registry.validate("other", &json!({})).expect_err("unknown");
        assert_eq!(
            (e.field.as_str(), e.rule.as_str()),
            ("schema_id", "unknown_schema")
        );
    }

    #[test]
    fn form_fields_follow_the_schema_order_with_titles() {
        let registry = SchemaRegistry::with_default();
        let fields = registry.form_fields("default").expect("known");
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "email",
                "first_name",
                "last_name",
                "username",
                "display_name",
                "mobile",
                "bio",
                "website",
                "location",
                "date_of_birth"
            ]
        );
        assert_eq!(fields[0].title, "Email");
        assert_eq!(fields[0].input_type, "email");
        assert!(fields[0].required);
        assert_eq!(fields[1].title, "First name");
        assert!(!fields[1].required);
        assert_eq!(fields[5].input_type, "tel");
        assert_eq!(fields[7].input_type, "url");
        assert_eq!(fields[9].input_type, "date");
        assert!(matches!(
            registry.form_fields("nope"),
            Err(SchemaError::Unknown(_))
        ));
    }

    #[test]
    fn custom_schemas_add_required_traits_and_may_be_kratos_shaped() {
        let mut registry = SchemaRegistry::with_default();
        registry
            .insert_str(
                "employee",
                r#"{"type": "object", "properties": {"traits": {"type": "object",
                    "properties": {
                      "work_email": {"type": "string", "format": "email", "title": "Work email",
                                     "gatehouse": {"identifier": true, "verifiable": "email"}},
                      "employee_number": {"type": "string", "title": "Employee number", "minLength": 4}
                    },
                    "required": ["work_email", "employee_number"]}}}"#,
            )
            .expect("compiles");
        assert!(registry.contains("employee") && registry.contains("default"));
        let e = registry
            .validate("employee", &json!({"work_email": "e@corp.example"}))
            .expect_err("missing");
        assert_eq!(
            (e.field.as_str(), e.rule.as_str()),
            ("traits.employee_number", "required")
        );
        let e = registry
            .validate(
                "employee",
                &json!({"work_email": "e@corp.example", "employee_number": "1"}),
            )
            .expect_err("short");
        assert_eq!(
            (e.field.as_str(), e.rule.as_str()),
            ("traits.employee_number", "minLength")
        );
        let facts = registry
            .validate(
                "employee",
                &json!({"work_email": "E@corp.example", "employee_number": "1234"}),
            )
            .expect("valid");
        assert_eq!(facts.identifiers, vec!["e@corp.example"]);
        assert!(facts.recovery.is_empty());
        let fields = registry.form_fields("employee").expect("known");
        assert_eq!(fields[0].title, "Work email");
        assert_eq!(fields[1].name, "employee_number");
        assert!(fields[1].required);
    }

    #[test]
    fn refuses_schemas_that_do_not_compile_or_misuse_the_extension() {
        let mut registry = SchemaRegistry::with_default();
        assert!(matches!(
            registry.insert_str("x", "{not json"),
            Err(SchemaError::NotJson { .. })
        ));
        assert!(matches!(
            registry.insert("x", json!({"type": "objekt"})),
            Err(SchemaError::Invalid { .. })
        ));
        assert!(matches!(
            registry.insert(
                "x",
                json!({"type": "object", "properties": {"name": {"type": "string"}}})
            ),
            Err(SchemaError::NoIdentifier(_))
        ));
        let err = registry
            .insert(
                "x",
                json!({"type": "object", "properties": {"email": {"type": "string",
                       "gatehouse": {"identifier": true, "verifiable": "sms"}}}}),
            )
            .expect_err("sms is not supported");
        assert!(
            err.to_string().contains("verifiable must be \"email\""),
            "{err}"
        );
        assert!(!registry.contains("x"));
    }
}
