//! The values an expression produces: FHIR JSON nodes (with their FHIR type when known) and
//! FHIRPath primitives.

use serde_json::Value;

/// A FHIRPath system primitive.
#[derive(Debug, Clone, PartialEq)]
pub enum Primitive {
    Boolean(bool),
    String(String),
    Integer(i64),
    Decimal(f64),
    /// ISO 8601 partial date, as written (`2020`, `2020-01`, `2020-01-31`).
    Date(String),
    /// ISO 8601 partial date-time, as written.
    DateTime(String),
    Time(String),
    Quantity(f64, String),
}

impl Primitive {
    pub fn as_f64(&self) -> f64 {
        match self {
            Primitive::Integer(n) => *n as f64,
            Primitive::Decimal(d) | Primitive::Quantity(d, _) => *d,
            _ => f64::NAN,
        }
    }

    /// The FHIRPath system type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Primitive::Boolean(_) => "Boolean",
            Primitive::String(_) => "String",
            Primitive::Integer(_) => "Integer",
            Primitive::Decimal(_) => "Decimal",
            Primitive::Date(_) => "Date",
            Primitive::DateTime(_) => "DateTime",
            Primitive::Time(_) => "Time",
            Primitive::Quantity(..) => "Quantity",
        }
    }

    /// Renders the value as FHIRPath `toString()` would.
    pub fn render(&self) -> String {
        match self {
            Primitive::Boolean(b) => b.to_string(),
            Primitive::String(s)
            | Primitive::Date(s)
            | Primitive::DateTime(s)
            | Primitive::Time(s) => s.clone(),
            Primitive::Integer(n) => n.to_string(),
            Primitive::Decimal(d) => render_decimal(*d),
            Primitive::Quantity(v, u) => {
                if is_calendar_unit(u) {
                    format!("{} {}", render_decimal(*v), u)
                } else {
                    format!("{} '{}'", render_decimal(*v), u)
                }
            }
        }
    }
}

pub(crate) fn is_calendar_unit(u: &str) -> bool {
    matches!(
        u,
        "year" | "month" | "week" | "day" | "hour" | "minute" | "second" | "millisecond"
    )
}

pub(crate) fn render_decimal(d: f64) -> String {
    if d.fract() == 0.0 && d.abs() < 1e15 {
        format!("{d:.1}").trim_end_matches(".0").to_string()
    } else {
        let s = format!("{d}");
        s
    }
}

/// One item of a collection.
#[derive(Debug, Clone)]
pub enum Item<'a> {
    /// A node of the input resource; `ty` is its FHIR type where the model knows it.
    Node {
        value: &'a Value,
        ty: Option<String>,
    },
    Prim(Primitive),
    /// What `resolve()` returns for a reference: only its type is known.
    Resolved(String),
}

/// FHIR primitive type names, whose JSON values are FHIRPath primitives.
pub const FHIR_PRIMITIVES: [&str; 20] = [
    "boolean",
    "integer",
    "string",
    "decimal",
    "uri",
    "url",
    "canonical",
    "base64Binary",
    "instant",
    "date",
    "dateTime",
    "time",
    "code",
    "oid",
    "id",
    "markdown",
    "unsignedInt",
    "positiveInt",
    "uuid",
    "xhtml",
];

impl<'a> Item<'a> {
    pub fn node(value: &'a Value, ty: Option<String>) -> Self {
        Item::Node { value, ty }
    }

    /// The FHIR type name (for nodes) or system type name (for primitives).
    pub fn type_name(&self) -> Option<String> {
        match self {
            Item::Node { value, ty } => ty.clone().or_else(|| {
                value
                    .get("resourceType")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            }),
            Item::Prim(p) => Some(p.type_name().to_string()),
            Item::Resolved(t) => Some(t.clone()),
        }
    }

    /// This item as a system primitive, if it is one.
    pub fn to_primitive(&self) -> Option<Primitive> {
        match self {
            Item::Prim(p) => Some(p.clone()),
            Item::Resolved(_) => None,
            Item::Node { value, ty } => {
                let ty = ty.as_deref().unwrap_or("");
                match value {
                    Value::Bool(b) => Some(Primitive::Boolean(*b)),
                    Value::Number(n) => {
                        let text = n.to_string();
                        if ty == "decimal" || text.contains(['.', 'e', 'E']) {
                            text.parse().ok().map(Primitive::Decimal)
                        } else {
                            text.parse().ok().map(Primitive::Integer)
                        }
                    }
                    Value::String(s) => Some(match ty {
                        "date" => Primitive::Date(s.clone()),
                        "dateTime" | "instant" => {
                            if s.contains('T') {
                                Primitive::DateTime(s.clone())
                            } else {
                                Primitive::Date(s.clone())
                            }
                        }
                        "time" => Primitive::Time(s.clone()),
                        _ => Primitive::String(s.clone()),
                    }),
                    Value::Object(_)
                        if ty == "Quantity"
                            || ty == "Age"
                            || ty == "Duration"
                            || ty == "Distance"
                            || ty == "Count"
                            || ty == "SimpleQuantity"
                            || ty == "MoneyQuantity" =>
                    {
                        let v = value.get("value")?.as_f64()?;
                        let unit = value
                            .get("code")
                            .or_else(|| value.get("unit"))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        Some(Primitive::Quantity(v, unit))
                    }
                    _ => None,
                }
            }
        }
    }

    /// Structural equality used by `=` and collection functions.
    pub fn same(&self, other: &Item<'_>) -> bool {
        match (self, other) {
            (Item::Node { value: a, .. }, Item::Node { value: b, .. })
                if a.is_object() || b.is_object() =>
            {
                a == b
            }
            _ => match (self.to_primitive(), other.to_primitive()) {
                (Some(a), Some(b)) => crate::eval::prim_equal(&a, &b) == Some(true),
                _ => false,
            },
        }
    }
}
